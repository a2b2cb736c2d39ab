"""Read the results files written by ``reasonvos score --json`` into leaderboard entries.

The reader is deliberately independent of the evaluators' code: the leaderboard must be able to
show results files written by other (older or newer) toolkit versions, and must refuse anything
it cannot show faithfully. It is tolerant (optional keys may be absent, NaN means "not
available") but strict (wrong types, out-of-range values, unknown formats and raw outputs of the
official scripts are errors naming the file).

The same method scored twice on the same benchmark and split is shown once: the newest file by
its ``date`` wins, and the older files are kept as provenance of that entry.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reasonvos.evaluators.schema import (  # the results format, defined once: what `score` writes
    COUNT_KEYS,
    FORMAT_CURRENT,
    FORMAT_PREFIX,
    FRACTION_KEYS,
    ROLES,
    SAMPLE_FRACTION_KEYS,
    SIGNED_KEYS,
)

from reasonvos.benchmarks import registry
from reasonvos.errors import InputError, MetadataError, MissingFileError
from reasonvos.fileio import open_regular, read_json

#: DAVIS-CSV headers written by the official davis2017-evaluation script
DAVIS_CSV_HEADERS = ("J&F-Mean", "J-Mean", "F-Mean")


def canonical_split(benchmark: str, split: str | None) -> str | None:
    """Name a split the way the paper's tables do, so measured and reported rows line up (the
    benchmark's ``BenchmarkSpec.table_split``; a name the registry does not know is kept as is)."""
    spec = registry.find(benchmark)
    return spec.table_split(split) if spec is not None else split


@dataclass(frozen=True)
class Provenance:
    """Where a number came from: a results file (measured) or a paper table (reported)."""

    path: str | None
    date: str | None
    toolkit_version: str | None
    source: str | None = None  # e.g. "VideoLISA paper, Table 3" for reported rows


@dataclass
class Entry:
    """One method on one benchmark split: a row of a leaderboard table."""

    method: str
    benchmark: str
    split: str | None  # canonical (see :func:`canonical_split`)
    summary: dict[str, Any]
    origin: str = "measured"  # or "reported"
    role: str = "model"
    split_raw: str | None = None  # as written in the results file (what the loader expects)
    protocol: str | None = None
    missing_policy: str | None = None
    method_meta: dict[str, Any] = field(default_factory=dict)
    per_sample: list[dict[str, Any]] = field(default_factory=list)
    per_object: list[dict[str, Any]] = field(default_factory=list)
    provenance: Provenance = field(default_factory=lambda: Provenance(None, None, None))
    superseded: list[Provenance] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str | None, str | None]:
        """What makes two results the same entry: the same method, benchmark, split AND protocol
        (davis-semi and davis-unsup numbers of one method are two different rows)."""
        return (self.method, self.benchmark, self.split, self.protocol)

    def value(self, metric: str) -> float | None:
        """A summary metric as a fraction, or None where not available."""
        return _as_number(self.summary.get(metric))

    def breakdown(self, group: str) -> dict[str, dict[str, Any]]:
        bd = self.summary.get("breakdown") or {}
        return bd.get(group) or {}

    @property
    def coverage_note(self) -> str | None:
        """Set when predictions were missing and the scorer skipped them or scored them as empty:
        such numbers are not comparable with complete runs, so every output says so."""
        n = self.summary.get("missing_samples") or 0
        if self.origin != "measured" or not n:
            return None
        how = {"skip": "skipped", "empty": "scored empty"}.get(self.missing_policy or "", "missing")
        total = self.summary.get("n_samples")
        of = f" of {total + n if how == 'skipped' and total is not None else total}" if total is not None else ""
        return f"incomplete: {n}{of} samples {how}"


@dataclass
class Store:
    """Deduplicated entries plus the files that were looked at and not used, with the reason."""

    entries: list[Entry]
    ignored: list[tuple[Path, str]] = field(default_factory=list)


# ------------------------------------------------------------------------------------- helpers


def _as_number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        v = float(value)
        return None if math.isnan(v) else v
    return None


def _check_metric(path: Path, where: str, name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MetadataError(path, f"{where}[{name!r}] must be a number, found {type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v):
        return
    if math.isinf(v):
        raise MetadataError(path, f"{where}[{name!r}] = {v} is not a finite number")
    lo = -1.0 if name in SIGNED_KEYS else 0.0
    if not lo - 1e-9 <= v <= 1.0 + 1e-9:
        hint = " (values are fractions in [0, 1], not percentages)" if v > 1 else ""
        raise MetadataError(path, f"{where}[{name!r}] = {v} is out of range{hint}")


def _check_metrics(path: Path, where: str, block: dict) -> None:
    for name in (*FRACTION_KEYS, *SIGNED_KEYS):
        if name in block:
            _check_metric(path, where, name, block[name])


def _check_summary(path: Path, summary: dict) -> None:
    _check_metrics(path, "summary", summary)
    if not any(_as_number(summary.get(k)) is not None for k in ("J", "F", "J&F", "gIoU", "cIoU")):
        raise MetadataError(path, "summary has none of J, F, J&F, gIoU, cIoU")
    for name in COUNT_KEYS:
        v = summary.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise MetadataError(path, f"summary[{name!r}] must be a non-negative integer, found {v!r}")
    breakdown = summary.get("breakdown")
    if breakdown is None:
        return
    if not isinstance(breakdown, dict):
        raise MetadataError(path, f"summary['breakdown'] must be a JSON object, found {type(breakdown).__name__}")
    for group, cells in breakdown.items():
        if not isinstance(cells, dict):
            raise MetadataError(path, f"summary['breakdown'][{group!r}] must be a JSON object")
        for name, cell in cells.items():
            where = f"summary['breakdown'][{group!r}][{name!r}]"
            if not isinstance(cell, dict):
                raise MetadataError(path, f"{where} must be a JSON object")
            _check_metrics(path, where, cell)


def _looks_like_official_scores(obj: Any) -> bool:
    """VideoLISA/ReasonVOS official script output: ``{"<source>_<video>_<obj>_<exp>": [J, F]}``."""
    if not isinstance(obj, dict) or not obj:
        return False
    return all(
        isinstance(v, list | tuple) and len(v) in (2, 4) and all(isinstance(x, int | float) for x in v)
        for v in obj.values()
    )


def _raw_output_error(path: Path, what: str) -> InputError:
    return MetadataError(
        path,
        f"this is a raw output of {what}, not a reasonvos results file (no 'format'); "
        "re-score the predictions with `reasonvos score NAME --root DIR --pred DIR --method NAME "
        "--json FILE` to get a results file with the metadata a leaderboard needs",
    )


def _check_csv(path: Path) -> None:
    """A CSV given as results is refused, naming what it looks like."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError) as e:
        raise MetadataError(path, f"cannot read this file ({e})") from e
    if any(h.strip() in DAVIS_CSV_HEADERS for h in header):
        raise _raw_output_error(path, "the DAVIS evaluation script (global_results CSV)")
    raise MetadataError(path, "not a reasonvos results file (expected the JSON written by `reasonvos score --json`)")


def _optional_str(path: Path, obj: dict, name: str) -> str | None:
    v = obj.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise MetadataError(path, f"{name!r} must be a string, found {type(v).__name__}")
    return v


def parse_date(value: str | None, path: Path | None = None) -> datetime | None:
    """ISO date/time as an aware datetime (naive times are taken as UTC)."""
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise MetadataError(path, f"'date' is not an ISO date: {value!r}") from e
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------- reading


def read_results(path: str | Path) -> Entry:
    """Read one results file, or raise an InputError naming it and what is wrong."""
    path = Path(path)
    open_regular(path, "results file", MetadataError).close()  # missing, a FIFO, a folder, a link loop: said so
    if path.suffix.lower() == ".csv":
        _check_csv(path)
    obj = read_json(path, "results file")
    return results_from_dict(obj, path)


def results_from_dict(obj: Any, path: Path) -> Entry:
    """Validate a parsed results JSON and turn it into an :class:`Entry`."""
    if not isinstance(obj, dict):
        raise MetadataError(path, f"a results file must be a JSON object, found {type(obj).__name__}")
    fmt = obj.get("format")
    if fmt is None:
        if _looks_like_official_scores(obj):
            raise _raw_output_error(path, "the official ReasonVOS/VideoLISA evaluation script ({key: [J, F]})")
        if "summary" in obj:
            raise MetadataError(
                path, f"results file has no 'format' (an older reasonvos version?); this version reads "
                f"{FORMAT_CURRENT}: re-score with `reasonvos score ... --json FILE`")
        raise MetadataError(path, "not a reasonvos results file: no 'format' and no 'summary'")
    if not isinstance(fmt, str) or not fmt.startswith(FORMAT_PREFIX):
        raise MetadataError(path, f"unknown results format {fmt!r} (this version reads {FORMAT_CURRENT})")
    if fmt != FORMAT_CURRENT:
        raise MetadataError(
            path, f"results format {fmt!r} is not supported by this version (it reads {FORMAT_CURRENT}); "
            "re-score with this version of `reasonvos score`")
    summary = obj.get("summary")
    if not isinstance(summary, dict):
        raise MetadataError(path, "results file has no 'summary' object")
    _check_summary(path, summary)
    method = obj.get("method")
    meta_note = None
    if method is None or (isinstance(method, str) and not method.strip()):
        # scored without --method: name it after the file, and say so on the page
        method, meta_note = path.stem, "method name taken from the file name (scored without --method)"
    if not isinstance(method, str):
        raise MetadataError(path, f"'method' must be a string, found {type(method).__name__}")
    benchmark = obj.get("benchmark")
    if not isinstance(benchmark, str) or not benchmark:
        raise MetadataError(path, "results file has no 'benchmark'")
    split_raw = _optional_str(path, obj, "split")
    date = _optional_str(path, obj, "date") or None
    parse_date(date, path)
    meta = obj.get("method_meta")
    meta = {} if meta is None else meta
    if not isinstance(meta, dict):
        raise MetadataError(path, f"'method_meta' must be a JSON object, found {type(meta).__name__}")
    if meta_note is not None:
        meta = {**meta, "note": meta_note}
    role = meta.get("role", "model")
    if role not in ROLES:
        raise MetadataError(path, f"method_meta['role'] must be one of {', '.join(ROLES)}, found {role!r}")
    per_sample = obj.get("per_sample")
    per_sample = [] if per_sample is None else per_sample
    if not isinstance(per_sample, list) or not all(isinstance(r, dict) for r in per_sample):
        raise MetadataError(path, "'per_sample' must be a list of JSON objects")
    for i, row in enumerate(per_sample):
        if "key" not in row:
            raise MetadataError(path, f"per_sample[{i}] has no 'key'")
        _check_metrics(path, f"per_sample[{i}]", row)
        for name in SAMPLE_FRACTION_KEYS:
            _check_metric(path, f"per_sample[{i}]", name, row.get(name))
    per_object = obj.get("per_object")
    per_object = [] if per_object is None else per_object
    if not isinstance(per_object, list):
        raise MetadataError(path, "'per_object' must be a list")
    return Entry(
        method=method.strip(),
        benchmark=benchmark,
        split=canonical_split(benchmark, split_raw),
        split_raw=split_raw,
        summary=summary,
        origin="measured",
        role=role,
        protocol=_optional_str(path, obj, "protocol"),
        missing_policy=_optional_str(path, obj, "missing_policy"),
        method_meta=meta,
        per_sample=per_sample,
        per_object=per_object,
        provenance=Provenance(str(path), date, _optional_str(path, obj, "toolkit_version")),
    )


def _is_results_candidate(path: Path) -> tuple[bool, str]:
    """Whether a JSON file found in a folder is meant as a results file (and if not, why)."""
    obj = read_json(path, "JSON file")
    if isinstance(obj, dict) and ("format" in obj or "summary" in obj or _looks_like_official_scores(obj)):
        return True, ""
    return False, "not a results file (no 'format' or 'summary')"


def collect_paths(inputs: Iterable[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders (every ``*.json`` under a folder) into results file paths.

    Files given explicitly are always read (and fail loudly); JSON files found in folders that are
    plainly something else (no 'format'/'summary') are returned as ignored, with the reason.
    """
    paths: list[Path] = []
    ignored: list[tuple[Path, str]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.json") if q.is_file() and not q.name.startswith("."))
            before = len(paths)
            for q in found:
                ok, why = _is_results_candidate(q)
                if ok:
                    paths.append(q)
                else:
                    ignored.append((q, why))
            if len(paths) == before:
                raise MissingFileError(p, "folder holds no results files (*.json written by `reasonvos score --json`)")
        elif p.is_file():
            paths.append(p)
        else:
            if p.is_symlink() or p.exists():  # there is something, and it is not a file: say what
                open_regular(p, "results file", MetadataError).close()
            raise MissingFileError(p, "results file or folder not found")
    return paths, ignored


def _sort_key(entry: Entry) -> tuple:
    d = parse_date(entry.provenance.date)
    return (d is not None, d or datetime.min.replace(tzinfo=UTC), entry.provenance.path or "")


def deduplicate(entries: Sequence[Entry]) -> list[Entry]:
    """Keep the newest entry per (method, benchmark, split, protocol); older ones become its provenance."""
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.key, []).append(e)
    out: list[Entry] = []
    for group in groups.values():
        ordered = sorted(group, key=_sort_key, reverse=True)
        newest = ordered[0]
        newest.superseded = [e.provenance for e in ordered[1:]] + newest.superseded
        out.append(newest)
    return out


def load_store(inputs: Iterable[str | Path]) -> Store:
    """Read every results file under ``inputs`` (files or folders) and deduplicate them."""
    paths, ignored = collect_paths(inputs)
    seen: set[Path] = set()
    entries = []
    for p in paths:
        rp = p.resolve()
        if rp in seen:
            continue
        seen.add(rp)
        entries.append(read_results(p))
    return Store(deduplicate(entries), ignored)


def entry_to_json(entry: Entry) -> dict[str, Any]:
    """A compact, JSON-ready view of an entry (summary and metadata, not per-sample rows)."""
    return {
        "method": entry.method, "benchmark": entry.benchmark, "split": entry.split,
        "origin": entry.origin, "role": entry.role, "protocol": entry.protocol,
        "missing_policy": entry.missing_policy, "method_meta": entry.method_meta,
        "summary": {k: v for k, v in entry.summary.items() if k != "breakdown"},
        "provenance": entry.provenance.__dict__,
        "superseded": [p.__dict__ for p in entry.superseded],
    }


def dumps_json(obj: Any) -> str:
    """JSON with NaN and infinities written as null (browsers' JSON.parse refuses them; Python's
    json reads them from a results file without complaint)."""
    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x
    return json.dumps(clean(obj), ensure_ascii=False, sort_keys=True, default=str, allow_nan=False)
