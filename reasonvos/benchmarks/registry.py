"""The benchmark registry: every benchmark the toolkit knows, each declared once.

A benchmark module declares one :class:`BenchmarkSpec` (``SPEC``) beside its loader: its name,
splits, protocols, prediction and submission layouts, instruction style, sources-registry name,
and the functions that find its splits and load it. Everything else in the toolkit asks the
registry (:func:`get`, :func:`names`) or the loaded :class:`Benchmark` (``bench.spec``) instead of
testing a benchmark's name.

Extension point: a third-party package registers more benchmarks either by calling
:func:`register` with a spec, or through the ``reasonvos.benchmarks`` entry point group, whose
entries name a module or an object holding a ``SPEC`` (``mybench = "mypkg.mybench"``). Built-in
and entry-point modules are imported on first use of the registry, not at ``import reasonvos``;
:func:`reset` makes the next use read them again. ``docs/adding-a-benchmark.md`` walks through it.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from reasonvos.errors import InputError

if TYPE_CHECKING:
    from reasonvos.benchmarks.model import Benchmark, Sample
    from reasonvos.report import Report

#: the entry point group third-party benchmarks register under
ENTRY_POINT_GROUP = "reasonvos.benchmarks"

#: the built-in benchmarks, in the order tables and listings show them
BUILTIN_MODULES: tuple[str, ...] = (
    "reasonvos.benchmarks.reasonvos",
    "reasonvos.benchmarks.mevis",
    "reasonvos.benchmarks.refytvos",
    "reasonvos.benchmarks.refdavis",
    "reasonvos.benchmarks.davis",
    "reasonvos.benchmarks.revos",
)

#: instruction styles: "reasoning" (ReasonVOS: sentences or phrases, told apart by the sample's
#: kind), "referring" (referring expressions: phrases), None (no instructions: plain VOS)
INSTRUCTION_STYLES = ("reasoning", "referring", None)


@dataclass(frozen=True)
class BenchmarkSpec:
    """Everything the toolkit knows about one benchmark, in one place.

    ``splits`` lists the split names ``load`` accepts; ``default_split`` is the one used when none
    is given. ``split_aliases`` maps every accepted name (None included) of a split to the name the
    papers' tables use for it, so measured and reported rows line up on a leaderboard.
    ``protocols`` lists the scoring protocols this benchmark can be scored with, the default first.
    ``submission_prefix`` is the folder inside an evaluation server's zip (None: no server).
    ``present_splits(root)`` says which splits a local copy holds (validate checks each).
    ``load(root, split, *, sink=...)`` reports bad input into a sink (:mod:`reasonvos.report`).
    ``score_load_options`` are loader keyword arguments used when a copy is loaded only to be
    scored (e.g. skip a pass over the masks the protocols do not need). ``gt_folder_root`` says the
    root may simply be a folder of ground-truth masks, so ``score NAME --gt DIR`` reads naturally.
    """

    name: str
    display_name: str
    load: Callable[..., Benchmark]
    splits: tuple[str | None, ...]
    default_split: str | None
    protocols: tuple[str, ...]
    present_splits: Callable[[Path], list[str | None]]
    split_aliases: Mapping[str | None, str] = field(default_factory=dict)
    prediction_kind: str = "binary"  # "binary": one 0/255 PNG per sample and frame; "index": palette ids
    submission_prefix: str | None = None
    server_splits: tuple[str, ...] = ()  # splits scored only by an evaluation server (no public GT)
    instruction_style: str | None = "referring"
    #: under the "reasoning" style, the ``Sample.kind`` values whose instruction is a full sentence
    sentence_kinds: tuple[str, ...] = ("long",)
    source_name: str | None = None  # the key of this benchmark in the sources registry (download)
    description: str = ""
    score_load_options: Mapping[str, Any] = field(default_factory=dict)
    gt_folder_root: bool = False
    #: validation only: ``extra_checks(bench, report)`` adds what only this benchmark knows (published
    #: counts, version notes, files its loader does not read) to a :class:`reasonvos.report.Report`
    extra_checks: Callable[[Benchmark, Report], None] | None = None

    def __post_init__(self) -> None:
        if not self.protocols:
            raise ValueError(f"benchmark {self.name!r} declares no protocol")
        if self.instruction_style not in INSTRUCTION_STYLES:
            raise ValueError(f"benchmark {self.name!r}: instruction_style must be one of {INSTRUCTION_STYLES}")
        if self.prediction_kind not in ("binary", "index"):
            raise ValueError(f"benchmark {self.name!r}: prediction_kind must be 'binary' or 'index'")
        object.__setattr__(self, "split_aliases", MappingProxyType(dict(self.split_aliases)))
        object.__setattr__(self, "score_load_options", MappingProxyType(dict(self.score_load_options)))

    @property
    def default_protocol(self) -> str:
        return self.protocols[0]

    def table_split(self, split: str | None) -> str | None:
        """The split's name as the papers' tables give it (``None`` and ``test`` are ReasonVOS ``all``)."""
        return self.split_aliases.get(split, split)

    def is_sentence(self, sample: Sample) -> bool | None:
        """Whether a sample's instruction is a full sentence (True) or a phrase (False), as the
        benchmark defines it; None where the benchmark has no instructions to tell."""
        if self.instruction_style == "reasoning":
            return sample.kind in self.sentence_kinds
        if self.instruction_style == "referring":
            return False
        return None


_REGISTRY: dict[str, BenchmarkSpec] = {}
_LOADED = False


def register(spec: BenchmarkSpec, *, replace: bool = False) -> BenchmarkSpec:
    """Add a benchmark to the registry; a second, different spec with the same name is refused
    (``replace=True`` swaps it, e.g. a plugin that overrides a built-in on purpose)."""
    if not isinstance(spec, BenchmarkSpec):
        raise TypeError(f"register() takes a BenchmarkSpec, not {type(spec).__name__}")
    _ensure_loaded()
    if spec.name in _REGISTRY and not replace and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"a benchmark named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a registered benchmark (tests and plugins that register temporarily)."""
    _ensure_loaded()
    _REGISTRY.pop(name, None)


def reset() -> None:
    """Forget every registration: the next use re-imports the built-ins and re-reads the entry
    points. For tests, and for a process that installed a plugin after first using the registry."""
    global _LOADED
    _REGISTRY.clear()
    _LOADED = False


def _spec_of(obj: Any, where: str) -> BenchmarkSpec:
    spec = getattr(obj, "SPEC", obj)
    if not isinstance(spec, BenchmarkSpec):
        raise TypeError(f"{where} holds no BenchmarkSpec (define SPEC = BenchmarkSpec(...))")
    return spec


def _ensure_loaded() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True  # set first: a plugin that calls register() while loading must not recurse
    for module in BUILTIN_MODULES:
        spec = _spec_of(importlib.import_module(module), module)
        _REGISTRY.setdefault(spec.name, spec)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {ep.name!r} ({ep.value})"
        spec = _spec_of(ep.load(), where)
        if _REGISTRY.get(spec.name, spec) is not spec:
            # one plugin must not break every command, nor silently replace a built-in
            warnings.warn(f"{where} declares benchmark {spec.name!r}, which is already registered; ignored",
                          stacklevel=2)
            continue
        _REGISTRY[spec.name] = spec


def names() -> tuple[str, ...]:
    """Registered benchmark names, built-ins first in their table order."""
    _ensure_loaded()
    return tuple(_REGISTRY)


def all_specs() -> tuple[BenchmarkSpec, ...]:
    _ensure_loaded()
    return tuple(_REGISTRY.values())


def get(name: str) -> BenchmarkSpec:
    """The declaration of benchmark ``name``; an InputError naming the known ones otherwise."""
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(None, f"unknown benchmark {name!r}; known: {', '.join(_REGISTRY)}") from None


def find(name: str) -> BenchmarkSpec | None:
    """The declaration of ``name``, or None for a name no benchmark has (e.g. a paper's image benchmark)."""
    _ensure_loaded()
    return _REGISTRY.get(name)


def load_benchmark(name: str, root: str | Path, split: str | None = None, **kwargs) -> Benchmark:
    """Load benchmark ``name`` from ``root`` (the folder the download step produced)."""
    return get(name).load(root, split, **kwargs)


class _RegistryView(Mapping):
    """Read-only ``name -> spec`` view for code that liked the old ``BENCHMARKS`` dict."""

    def __getitem__(self, name: str) -> BenchmarkSpec:
        _ensure_loaded()
        return _REGISTRY[name]

    def __iter__(self):
        _ensure_loaded()
        return iter(dict(_REGISTRY))

    def __len__(self) -> int:
        _ensure_loaded()
        return len(_REGISTRY)


#: every registered benchmark, by name (a live, read-only view of the registry)
BENCHMARKS: Mapping[str, BenchmarkSpec] = _RegistryView()
