"""Which loader reads which benchmark. Loaders are imported on first use."""

from __future__ import annotations

import importlib
from pathlib import Path

from reasonvos.benchmarks.model import Benchmark
from reasonvos.errors import InputError

#: benchmark name -> module under reasonvos.benchmarks with a ``load(root, split=None, **kw)``
BENCHMARKS: dict[str, str] = {
    "reasonvos": "reasonvos",
    "mevis": "mevis",
    "refytvos": "refytvos",
    "refdavis": "refdavis",
    "davis": "davis",
}


def load_benchmark(name: str, root: str | Path, split: str | None = None, **kwargs) -> Benchmark:
    """Load benchmark ``name`` from ``root`` (the folder the download step produced)."""
    if name not in BENCHMARKS:
        raise InputError(None, f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    module = importlib.import_module(f"reasonvos.benchmarks.{BENCHMARKS[name]}")
    return module.load(root, split, **kwargs)
