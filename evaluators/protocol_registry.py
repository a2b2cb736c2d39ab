"""The protocol registry: protocol name -> class, the built-ins imported on first use.

Kept free of numpy, pandas and cv2 so that the CLI can list the names (``--protocol`` choices)
without loading the scoring stack. Which protocols a benchmark allows is the benchmark's own
declaration (``BenchmarkSpec.protocols``); this registry only knows what each name means.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from reasonvos.errors import InputError

if TYPE_CHECKING:
    from .protocols import Protocol

#: the built-in protocols: name -> "module:class"
BUILTIN: dict[str, str] = {
    "expression": "reasonvos.evaluators.expression:ExpressionProtocol",
    "davis-semi": "reasonvos.evaluators.davis_protocols:DavisSemiProtocol",
    "davis-unsup": "reasonvos.evaluators.davis_protocols:DavisUnsupProtocol",
    "refdavis": "reasonvos.evaluators.davis_protocols:RefDavisProtocol",
    "revos": "reasonvos.evaluators.revos_protocol:RevosProtocol",
}
_CLASSES: dict[str, type[Protocol]] = {}


def register(cls: type[Protocol]) -> type[Protocol]:
    """Add a protocol class (usable as a class decorator); a name already taken by another class
    is refused. A benchmark then lists the name in its ``BenchmarkSpec.protocols``."""
    from .protocols import Protocol

    if not (isinstance(cls, type) and issubclass(cls, Protocol)) or not cls.name:
        raise TypeError("register() takes a Protocol subclass with a name")
    builtin = BUILTIN.get(cls.name)
    taken = _CLASSES.get(cls.name)
    if (taken is not None and taken is not cls) or (
            taken is None and builtin is not None and builtin != f"{cls.__module__}:{cls.__qualname__}"):
        raise ValueError(f"a protocol named {cls.name!r} is already registered")
    _CLASSES[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a protocol added with :func:`register` (built-ins stay known)."""
    if name not in BUILTIN:
        _CLASSES.pop(name, None)


def names() -> tuple[str, ...]:
    """Every protocol name, the built-ins first."""
    return (*BUILTIN, *(n for n in _CLASSES if n not in BUILTIN))


def get(name: str) -> Protocol:
    """An instance of protocol ``name``; an InputError naming the known ones otherwise."""
    if name not in _CLASSES:
        if name not in BUILTIN:
            raise InputError(None, f"unknown protocol {name!r}; known: {', '.join(names())}")
        module, _, cls = BUILTIN[name].partition(":")
        _CLASSES[name] = getattr(importlib.import_module(module), cls)
    return _CLASSES[name]()
