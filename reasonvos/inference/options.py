"""Model options declared once, as dataclasses: the Python API and the CLI flags both read them.

A model's options class is a frozen dataclass whose fields are built with :func:`option`: the
default, the help text (``{default}`` in it is replaced by the default), and where relevant the
allowed ``choices``, a ``parse`` function for command-line text, a ``metavar`` and the ``group``
its flag is listed under. The field ``flow_winsize`` is the keyword ``flow_winsize=`` of
:func:`reasonvos.load_model` and the flag ``--flow-winsize`` of ``reasonvos infer``; one rule, so
the two never drift. Range checks go in the class's ``__post_init__`` and raise
:class:`OptionError` naming the option.

This module imports neither torch nor argparse: option classes are read to build ``--help``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from reasonvos.errors import InputError


class OptionError(InputError, ValueError):
    """A model option has a value the model cannot use (out of range, not among the choices)."""

    def __init__(self, problem: str) -> None:
        super().__init__(None, problem)


def option(default: Any, help: str, *, choices: Sequence[Any] | None = None,
           parse: Callable[[str], Any] | None = None, metavar: str | None = None,
           group: str | None = None, resume: bool = True) -> Any:
    """A dataclass field declaring one model option.

    ``group`` is the heading of the option's flag in ``--help`` (default: the class's ``GROUP``;
    ``""`` lists it among the general options). ``resume=False`` marks an option that cannot
    change the predictions (e.g. whether downloading is allowed), so a resumed run may differ in it.
    """
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "parse": parse,
            "metavar": metavar, "group": group, "resume": resume}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class NoOptions:
    """The options of a model that has none."""


def flag(name: str) -> str:
    """The command-line flag of an option field: ``flow_winsize`` -> ``--flow-winsize``."""
    return "--" + name.replace("_", "-")


def label(name: str) -> str:
    """How messages name an option for both audiences: ``flow_winsize (--flow-winsize)``."""
    return f"{name} ({flag(name)})"


def option_fields(cls: type) -> tuple[dataclasses.Field, ...]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass of model options")
    return fields(cls)


def help_text(f: dataclasses.Field) -> str:
    """The field's help, with ``{default}`` replaced by its default."""
    text = f.metadata.get("help", "")
    return text.replace("{default}", str(f.default)) if "{default}" in text else text


def field_types(cls: type) -> dict[str, Any]:
    """The resolved type of each field (annotations are strings under ``from __future__``)."""
    return typing.get_type_hints(cls)


def allowed(tp: Any) -> tuple[type, ...]:
    """The Python types a value of annotation ``tp`` may have (``int | None`` -> int, NoneType)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        out: tuple[type, ...] = ()
        for arg in typing.get_args(tp):
            out += allowed(arg)
        return out
    if tp is float:
        return (float, int)
    if tp is type(None) or tp is None:
        return (type(None),)
    return (tp,) if isinstance(tp, type) else (object,)


def _type_ok(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in kinds:  # True is an int to Python, never to us
        return False
    return isinstance(value, kinds)


def make_options(cls: type, values: Mapping[str, Any], model: str) -> Any:
    """An instance of ``cls`` from keyword values, refusing unknown names and wrong types.

    Unknown names and wrong types are programming errors (TypeError); values out of range or not
    among the choices are :class:`OptionError` (an InputError: the CLI prints one line).
    """
    known = {f.name: f for f in option_fields(cls)}
    unknown = [k for k in values if k not in known]
    if unknown:
        listing = ", ".join(known) or "none"
        raise TypeError(f"model {model!r} has no option {unknown[0]!r} (its options: {listing})")
    hints = field_types(cls)
    for name, value in values.items():
        kinds = allowed(hints[name])
        if not _type_ok(value, kinds):
            want = " or ".join("None" if k is type(None) else k.__name__ for k in kinds)
            raise TypeError(f"model {model!r}: option {name!r} must be {want}, got {type(value).__name__} "
                            f"{value!r}")
        choices = known[name].metadata.get("choices")
        if choices is not None and value not in choices:
            raise OptionError(f"model {model!r}: {label(name)} must be one of "
                              f"{', '.join(map(str, choices))}, got {value!r}")
    return cls(**values)


def defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default for f in option_fields(cls) if f.default is not MISSING}


def as_json(options: Any) -> dict[str, Any]:
    """The options as a JSON-safe dict (what a run manifest records)."""
    out = {}
    for f in option_fields(type(options)):
        value = getattr(options, f.name)
        try:
            json.dumps(value)
        except TypeError:
            value = str(value)
        out[f.name] = value
    return out


def resume_relevant(cls: type) -> set[str]:
    """Option names a resumed run must share with the run that started the folder."""
    return {f.name for f in option_fields(cls) if f.metadata.get("resume", True)}


def weight_sources(options: Any) -> dict[str, str]:
    """The weight files/folders (or hub ids) the options make the model read, by option name.

    An options class declares them with a ``weight_sources()`` method (e.g. none for a tiny
    random model); classes without one read no weights.
    """
    method = getattr(options, "weight_sources", None)
    return {k: str(v) for k, v in (method() if method else {}).items() if v is not None}
