"""The one adapter from a model's options dataclass to command-line flags, and back.

Each field becomes ``--field-name`` (underscores to hyphens) with the field's default and help;
a ``bool`` field is a switch (``store_true``), ``int``/``float`` fields are typed, ``choices`` and
``metavar`` come from the field, a ``parse`` function becomes the argparse type. Flags are listed
under the field's ``group`` (default: the class's ``GROUP``; ``""``: the general options).
"""

from __future__ import annotations

import argparse
from typing import Any

from reasonvos.inference.options import (
    allowed,
    field_types,
    flag,
    help_text,
    make_options,
    option_fields,
)


def _argparse_type(parse):
    """argparse names a type's function in its error; keep the parse function's own message."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def add_option_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one flag per field of the options class ``cls`` to ``parser``."""
    hints = field_types(cls)
    groups: dict[str, Any] = {}
    default_group = getattr(cls, "GROUP", "")
    for f in option_fields(cls):
        meta = f.metadata
        title = meta.get("group")
        title = default_group if title is None else title
        if title and title not in groups:
            groups[title] = parser.add_argument_group(title)
        target = groups[title] if title else parser
        kwargs: dict[str, Any] = {"default": f.default, "dest": f.name,
                                  "help": help_text(f).replace("%", "%%")}
        kinds = [k for k in allowed(hints[f.name]) if k is not type(None)]
        if kinds == [bool]:
            kwargs["action"] = "store_true"
        else:
            if meta.get("parse") is not None:
                kwargs["type"] = _argparse_type(meta["parse"])
            elif kinds and kinds[0] in (int, float):
                kwargs["type"] = kinds[0]
            if meta.get("choices") is not None:
                kwargs["choices"] = list(meta["choices"])
            if meta.get("metavar"):
                kwargs["metavar"] = meta["metavar"]
        target.add_argument(flag(f.name), **kwargs)


def options_from_args(cls: type, args: argparse.Namespace, model: str) -> Any:
    """The options instance the parsed flags describe (range checks raise an InputError)."""
    return make_options(cls, {f.name: getattr(args, f.name) for f in option_fields(cls)}, model)
