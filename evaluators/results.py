"""Scoring results: the per-sample table, the per-object table (DAVIS protocols) and the summary.

The summary is computed from the tables (each protocol class says how, with the helpers here),
so a results file can always be re-derived from its rows. Files are written atomically; JSON follows :mod:`.schema` (``"format":
"reasonvos-results/1"``) and never holds NaN (written as null). Values are fractions in [0, 1].
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reasonvos.errors import MetadataError
from reasonvos.fileio import read_json, write_text_atomic
from reasonvos.outputs import OutputFile, check_outputs, head
from reasonvos.textsafe import csv_cell

from .schema import FORMAT, SAMPLE_COLUMNS

__all__ = ["FORMAT", "SAMPLE_COLUMNS", "Results", "breakdown", "iou_summary", "jf", "mean", "summarise"]


def mean(values) -> float:
    """Mean as float64, NaN for no values."""
    v = np.asarray(list(values), dtype=np.float64)
    return float(np.mean(v)) if v.size else float("nan")


def jf(frame: pd.DataFrame) -> dict:
    """J, F, J&F = (J + F) / 2 and n of a table of rows."""
    j, f = mean(frame["J"]), mean(frame["F"])
    return {"J": j, "F": f, "J&F": (j + f) / 2, "n": len(frame)}


def iou_summary(per_sample: pd.DataFrame) -> dict:
    """gIoU (mean of per-sample I/U sums), gIoU-frame (frame-weighted mean J) and cIoU (total I
    over total U); an empty union counts as IoU 1, as the per-frame J does (docs/metrics.md#video-definitions)."""
    if per_sample.empty:
        return {"gIoU": float("nan"), "gIoU-frame": float("nan"), "cIoU": float("nan")}
    inter = per_sample["I"].to_numpy(np.float64)
    union = per_sample["U"].to_numpy(np.float64)
    sample_iou = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
    frames = per_sample["frames"].to_numpy(np.float64)
    total_u = union.sum()
    return {
        "gIoU": float(sample_iou.mean()),
        "gIoU-frame": float((per_sample["J"].to_numpy(np.float64) * frames).sum() / frames.sum()),
        "cIoU": float(inter.sum() / total_u) if total_u > 0 else 1.0,
    }


def breakdown(per_sample: pd.DataFrame, column: str) -> dict:
    """J, F, J&F, n per value of ``column`` (rows where it is missing are left out)."""
    if per_sample.empty or column not in per_sample:
        return {}
    present = per_sample[per_sample[column].notna()]
    return {str(value): jf(group) for value, group in present.groupby(column, sort=True)}


def summarise(protocol: str, per_sample: pd.DataFrame, per_object: pd.DataFrame,
              missing_samples: int, missing_frames: int) -> dict:
    """The summary of ``protocol`` (each protocol class says how it summarises its tables)."""
    from .protocols import get

    return get(protocol).summarise(per_sample, per_object, missing_samples, missing_frames)


def _clean(value: Any) -> Any:
    """JSON-ready: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [_clean(r) for r in frame.to_dict(orient="records")]


class _LFRecords(io.StringIO):
    r"""Takes csv.writer's records ending in "\r\n" and stores them ending in "\n".

    csv quotes a field only for the characters of its line terminator: with "\n" it leaves a
    lone "\r" (e.g. in an instruction) unquoted, and readers end the record there. Writing with
    "\r\n" quotes both; csv.writer hands over one record per ``write``.
    """

    def write(self, s: str) -> int:
        return super().write(s[:-2] + "\n" if s.endswith("\r\n") else s)


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    r"""CSV with "\n" line ends in which any field holding "\r" or "\n" is quoted, and no text cell
    reads as a spreadsheet formula or holds a bidirectional control (reasonvos.textsafe)."""
    buf = _LFRecords()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    writer.writerows([csv_cell(c) for c in row] for row in rows)
    return buf.getvalue()


_FORMAT_KEY = re.compile(rb'"format"\s*:\s*"' + re.escape(FORMAT.split("/")[0].encode()) + rb"/")


def is_results_file(path: Path) -> bool:
    """An earlier results JSON of this toolkit (its ``format`` key comes first)."""
    return _FORMAT_KEY.search(head(path, 4096)) is not None


def is_results_csv(path: Path) -> bool:
    """An earlier per-sample CSV of this toolkit (its header starts with the sample key)."""
    return head(path, 4096).startswith(f"{SAMPLE_COLUMNS[0]},".encode())


def results_output(path: str | Path | None, what: str) -> OutputFile | None:
    """The results JSON as an output: it may replace only an earlier results file."""
    return None if path is None else OutputFile(Path(path), what, "a reasonvos results file", is_results_file)


def csv_output(path: str | Path | None, what: str) -> OutputFile | None:
    """The per-sample CSV as an output: it may replace only an earlier per-sample CSV."""
    return None if path is None else OutputFile(Path(path), what, "a reasonvos per-sample CSV", is_results_csv)


def check_output_path(path: str | Path | None, what: str, inputs: Sequence[str | Path | None] = ()) -> None:
    """Refuse a results output path before a long run rather than after it (see reasonvos.outputs)."""
    check_outputs([results_output(path, what)], inputs)


@dataclass
class Results:
    """What ``score`` returns and the leaderboard reads back."""

    benchmark: str
    split: str | None
    protocol: str
    missing_policy: str
    summary: dict
    per_sample: pd.DataFrame
    per_object: pd.DataFrame = field(default_factory=pd.DataFrame)
    method: str | None = None
    method_meta: dict = field(default_factory=dict)
    toolkit_version: str = ""
    date: str = ""
    #: run statistics (not saved): e.g. the peak RSS of the scoring workers
    stats: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _clean({
            "format": FORMAT, "benchmark": self.benchmark, "split": self.split, "protocol": self.protocol,
            "missing_policy": self.missing_policy, "method": self.method, "method_meta": dict(self.method_meta),
            "toolkit_version": self.toolkit_version, "date": self.date, "summary": self.summary,
            "per_sample": _records(self.per_sample), "per_object": _records(self.per_object),
        })

    def to_json(self, path: str | Path) -> None:
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False, allow_nan=False)
        write_text_atomic(path, text + "\n")

    def to_pandas(self) -> pd.DataFrame:
        """One row per sample: the run's benchmark, split, protocol and method, then the per-sample
        columns (values are fractions in [0, 1]), so tables of several runs can be concatenated."""
        table = self.per_sample.copy()
        meta = {"benchmark": self.benchmark, "split": self.split, "protocol": self.protocol, "method": self.method}
        for i, (name, value) in enumerate(meta.items()):
            if name not in table:
                table.insert(i, name, [value] * len(table))
        return table

    def to_csv(self, path: str | Path) -> None:
        """Per-sample table (obj_ids joined by spaces); values are fractions in [0, 1]."""
        table = self.per_sample.copy()
        if "obj_ids" in table:
            table["obj_ids"] = [" ".join(map(str, ids)) for ids in table["obj_ids"]]
        cells = table.astype(object).where(table.notna(), "")
        write_text_atomic(path, csv_text([str(c) for c in table.columns], cells.values.tolist()))

    def to_davis_csv(self, path: str | Path) -> None:
        """The official DAVIS global CSV columns (``%.3f``) for DAVIS protocols."""
        s = self.summary
        cols = ["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"]
        vals = [s.get("J&F"), s.get("J"), s.get("J-Recall"), s.get("J-Decay"), s.get("F"), s.get("F-Recall"),
                s.get("F-Decay")]
        text = ",".join(cols) + "\n" + ",".join("nan" if v is None else f"{v:.3f}" for v in vals) + "\n"
        write_text_atomic(path, text)

    @classmethod
    def from_dict(cls, data: dict, path: Path | None = None) -> Results:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise MetadataError(path, f"not a reasonvos results file (expected \"format\": \"{FORMAT}\")")
        for key in ("benchmark", "protocol", "summary", "per_sample"):
            if key not in data:
                raise MetadataError(path, f"results file has no {key!r}")
        if not isinstance(data["summary"], dict) or not isinstance(data["per_sample"], list):
            raise MetadataError(path, "results file: 'summary' must be an object and 'per_sample' a list")
        return cls(
            benchmark=data["benchmark"], split=data.get("split"), protocol=data["protocol"],
            missing_policy=data.get("missing_policy", ""), summary=data["summary"],
            per_sample=pd.DataFrame(data["per_sample"], columns=None if data["per_sample"] else list(SAMPLE_COLUMNS)),
            per_object=pd.DataFrame(data.get("per_object") or []), method=data.get("method"),
            method_meta=dict(data.get("method_meta") or {}), toolkit_version=data.get("toolkit_version", ""),
            date=data.get("date", ""),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> Results:
        path = Path(path)
        return cls.from_dict(read_json(path, "results file"), path)

    def table(self) -> str:
        """A short text table (x100, one decimal) for the terminal."""
        s = self.summary
        keys = [k for k in ("J&F", "J", "F", "R", "J-Recall", "J-Decay", "F-Recall", "F-Decay", "gIoU", "gIoU-frame",
                            "cIoU") if k in s]

        def fmt(v) -> str:
            return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{100 * v:.1f}"

        title = f"{self.benchmark}{'/' + self.split if self.split else ''} [{self.protocol}]" + (
            f" {self.method}" if self.method else "")
        lines = [title, "  ".join(f"{k:>10}" for k in keys), "  ".join(f"{fmt(s[k]):>10}" for k in keys)]
        for group, entries in (s.get("breakdown") or {}).items():
            for name, v in entries.items():
                label = f"{group}={name}"
                lines.append(f"  {label:<24} J&F {fmt(v['J&F']):>5}  J {fmt(v['J']):>5}  F {fmt(v['F']):>5}"
                             f"  n={v['n']}")
        lines.append(f"samples {s.get('n_samples')}, missing samples {s.get('missing_samples')}, "
                     f"missing frames {s.get('missing_frames')} (policy {self.missing_policy})")
        return "\n".join(lines)
