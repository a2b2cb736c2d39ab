"""The paper's reported numbers (VideoLISA, NeurIPS 2024) as "reported" leaderboard entries.

They ship as package data (``data/reported_results.csv``, values in %, blanks where the paper
reports nothing) and are converted to fractions so that they sit in the same tables as measured
results, always marked with ``origin = "reported"``.
"""

from __future__ import annotations

import csv
import math
from importlib import resources
from pathlib import Path

from reasonvos.benchmarks import registry
from reasonvos.errors import MetadataError, MissingFileError

from .store import Entry, Provenance, canonical_split

#: the paper's image benchmarks, which appear only in reported numbers (no loader, never
#: registered): paper spelling -> the name their rows carry. Registered benchmarks are matched by
#: their ``BenchmarkSpec.display_name`` instead.
PAPER_ONLY: dict[str, str] = {
    "ReasonSeg": "reasonseg",
    "refCOCO": "refcoco",
    "refCOCO+": "refcoco+",
    "refCOCOg": "refcocog",
}
#: CSV column -> summary key
METRIC_COLUMNS: dict[str, str] = {"J": "J", "F": "F", "JF": "J&F", "gIoU": "gIoU", "cIoU": "cIoU"}
REQUIRED_COLUMNS = ("method", "benchmark", "split", *METRIC_COLUMNS, "source")
#: caveats about single reported rows (docs/models.md#reported-results), by (method, benchmark as the
#: paper spells it), shown with the row
NOTES: dict[tuple[str, str], str] = {
    ("LISA", "ReasonVOS"): "identical to the MTTR row in the paper's Table 3 (likely a copy error); "
                           "LISA size and video protocol not stated",
}


def toolkit_name(paper_name: str) -> str:
    """The toolkit's benchmark name for a paper's name: the registered benchmark whose display
    name it is, else :data:`PAPER_ONLY`, else the name lower-cased."""
    for spec in registry.all_specs():
        if spec.display_name == paper_name:
            return spec.name
    return PAPER_ONLY.get(paper_name, paper_name.lower())


def display_name(benchmark: str) -> str:
    """How a benchmark is named in tables: its registered display name, the paper's spelling for
    a paper-only benchmark, else the name itself."""
    spec = registry.find(benchmark)
    if spec is not None:
        return spec.display_name
    return next((paper for paper, name in PAPER_ONLY.items() if name == benchmark), benchmark)


def default_path() -> Path:
    return Path(str(resources.files("reasonvos.leaderboard") / "data" / "reported_results.csv"))


def _number(path: Path, line: int, column: str, text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        v = float(text)
    except ValueError as e:
        raise MetadataError(path, f"line {line}: {column} is not a number: {text!r}") from e
    if math.isnan(v) or not 0.0 <= v <= 100.0:
        raise MetadataError(path, f"line {line}: {column} = {text} is not a percentage")
    return v / 100.0


def load_reported(path: str | Path | None = None) -> list[Entry]:
    """Read the reported-results CSV into entries with ``origin="reported"``."""
    path = Path(path) if path is not None else default_path()
    if not path.is_file():
        raise MissingFileError(path, "reported results CSV not found")
    entries: list[Entry] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise MetadataError(path, f"reported results CSV lacks columns {', '.join(missing)}")
        extra = [c for c in reader.fieldnames or [] if c not in REQUIRED_COLUMNS]
        for line, row in enumerate(reader, start=2):
            method = (row["method"] or "").strip()
            paper_bench = (row["benchmark"] or "").strip()
            if not method or not paper_bench:
                raise MetadataError(path, f"line {line}: method and benchmark must not be empty")
            summary = {
                key: _number(path, line, col, row[col] or "") for col, key in METRIC_COLUMNS.items()
            }
            summary = {k: v for k, v in summary.items() if v is not None}
            if not summary:
                raise MetadataError(path, f"line {line}: no metric is given")
            bench = toolkit_name(paper_bench)
            split = (row["split"] or "").strip() or None
            meta = {c: row[c] for c in extra if row.get(c)}
            if (method, paper_bench) in NOTES:
                meta["note"] = NOTES[(method, paper_bench)]
            entries.append(Entry(
                method=method, benchmark=bench, split=canonical_split(bench, split), split_raw=split,
                summary=summary, origin="reported", role="model", method_meta=meta,
                provenance=Provenance(None, None, None, source=(row["source"] or "").strip() or None),
            ))
    return entries
