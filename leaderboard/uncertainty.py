"""Uncertainty of leaderboard rows: a bootstrap 95% CI per measured row, and the paired
difference of each row from the best measured method.

Both reuse the resampling of :mod:`reasonvos.evaluators.compare`: VIDEOS are resampled (all
samples of a drawn video move together, since expressions of one video are not independent), the
statistic is recomputed over the drawn samples (a mean; total I over total U for cIoU), and the
95% interval is the 2.5th-97.5th percentile of the resampled statistics. Every row uses the same
seed, so rows scored on the same videos see the same draws, and the same inputs give the same
numbers. pandas and the bootstrap are imported on first use, so the command line can read the
defaults here without them.

A CI is only shown when the per-sample rows reproduce the summary value: a headline that is not a
per-sample statistic (ReVOS: the mean of two subset means; Ref-DAVIS: the mean of annotator-slot
means) gets none, with the reason, rather than an interval around a different number. Reported
paper rows and results files without per-sample rows carry none either, and say so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .store import Entry

if TYPE_CHECKING:
    import pandas as pd

    from .tables import Table

#: metrics that get a CI when the per-sample rows carry them
CI_METRICS = ("J&F", "J", "F", "gIoU", "cIoU")
#: the per-sample statistic must match the summary value this closely (fractions)
TOLERANCE = 1e-6
DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 0
NO_ROWS = "no per-sample rows in the results file"
REPORTED = "reported in the paper: no per-sample rows"


@dataclass(frozen=True)
class Settings:
    """How CIs are computed: the number of bootstrap resamples and the seed of their draws."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if self.resamples < 1:
            raise ValueError(f"resamples must be at least 1, not {self.resamples}")


DEFAULT_SETTINGS = Settings()


@dataclass(frozen=True)
class Interval:
    """A statistic (fraction) and its 95% CI."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class VersusBest:
    """This row minus the reference (best measured) row, paired over their common samples."""

    reference: str
    diff: float
    low: float
    high: float
    p_value: float

    @property
    def differs(self) -> bool:
        """The 95% CI of the difference excludes 0."""
        return self.low > 0 or self.high < 0


@dataclass
class RowUncertainty:
    ci: dict[str, Interval] = field(default_factory=dict)
    note: str | None = None  # why a metric (or the whole row) has no CI
    versus: VersusBest | None = None
    versus_note: str | None = None  # why there is no difference from the best
    is_reference: bool = False


@dataclass
class TableUncertainty:
    """The CIs of a table's rows (aligned with ``Table.rows``) and their differences from the best."""

    metric: str
    rows: list[RowUncertainty]
    settings: Settings
    reference: int | None = None  # row index of the best measured method


def sample_frame(entry: Entry) -> pd.DataFrame | None:
    """The per-sample rows of a measured entry as a table, None when it has none."""
    if entry.origin != "measured" or not entry.per_sample:
        return None
    import pandas as pd

    frame = pd.DataFrame(entry.per_sample)
    return frame if "video" in frame else None


def _columns_ok(frame: pd.DataFrame, metric: str) -> bool:
    need = ("I", "U") if metric in ("gIoU", "cIoU") else (metric,)
    return all(c in frame and frame[c].notna().all() for c in need)


def row_uncertainty(entry: Entry, settings: Settings, metrics: Sequence[str] = CI_METRICS,
                    frame: pd.DataFrame | None = None) -> RowUncertainty:
    """The CIs of one entry's summary metrics (those its per-sample rows reproduce)."""
    if entry.origin != "measured":
        return RowUncertainty(note=REPORTED)
    frame = sample_frame(entry) if frame is None else frame
    if frame is None:
        return RowUncertainty(note=NO_ROWS)
    from reasonvos.evaluators.compare import bootstrap_ci

    wanted = [m for m in metrics if entry.value(m) is not None and _columns_ok(frame, m)]
    found = bootstrap_ci(frame, wanted, resamples=settings.resamples, seed=settings.seed)
    out = RowUncertainty()
    skipped = []
    for metric in metrics:
        summary = entry.value(metric)
        if summary is None:
            continue
        got = found.get(metric)
        if got is None or not math.isclose(got[0], summary, rel_tol=0, abs_tol=TOLERANCE):
            skipped.append(metric)
            continue
        out.ci[metric] = Interval(summary, got[1], got[2])
    if skipped:
        out.note = (f"no CI for {', '.join(skipped)}: the summary value is not the statistic of the "
                    "per-sample rows (e.g. a mean of subset or slot means) or they lack its values")
    return out


def headline_metric(table: Table) -> str | None:
    """The metric whose CI and difference from the best the tables show: the first of the metrics
    tables rank by (``tables.PRIMARY_METRICS``) that the table has."""
    from .tables import PRIMARY_METRICS

    present = {c.metric for c in table.columns if c.group is None}
    return next((m for m in PRIMARY_METRICS if m in present), None)


def _aligned(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Both tables in one key order, or None when their sample sets differ."""
    ka, kb = a["key"].astype(str), b["key"].astype(str)
    if ka.duplicated().any() or kb.duplicated().any() or set(ka) != set(kb):
        return None
    order = sorted(ka)
    return (a.assign(key=ka).set_index("key").loc[order].reset_index(),
            b.assign(key=kb).set_index("key").loc[order].reset_index())


def table_uncertainty(table: Table, settings: Settings) -> TableUncertainty | None:
    """CIs of every row, the best measured row (highest headline value among ranked rows with a
    CI; ties go to the first row), and every other measured row's paired difference from it."""
    from reasonvos.evaluators.compare import compare_tables

    from .tables import RANKED_ROLES, method_label

    metric = headline_metric(table)
    if metric is None:
        return None
    frames = [sample_frame(e) for e in table.rows]
    rows = [row_uncertainty(e, settings, frame=f) for e, f in zip(table.rows, frames, strict=True)]
    result = TableUncertainty(metric, rows, settings)
    ranked = [i for i, e in enumerate(table.rows) if e.role in RANKED_ROLES and metric in rows[i].ci]
    if not ranked:
        for e, r in zip(table.rows, rows, strict=True):
            if e.origin == "measured":
                r.versus_note = ("no measured model with a CI to compare with (oracle and floor rows are "
                                 "references, never the best)")
        return result
    ref = max(ranked, key=lambda i: (rows[i].ci[metric].value, -i))
    result.reference = ref
    rows[ref].is_reference = True
    ref_label = method_label(table.rows[ref])
    for i, (entry, row) in enumerate(zip(table.rows, rows, strict=True)):
        if i == ref:
            continue
        if entry.origin != "measured":
            row.versus_note = REPORTED
        elif metric not in row.ci:
            row.versus_note = row.note or NO_ROWS
        elif (pair := _aligned(frames[i], frames[ref])) is None:
            row.versus_note = f"scored on other samples than {ref_label}: no paired difference"
        else:
            c = compare_tables(*pair, resamples=settings.resamples, seed=settings.seed, metrics=(metric,))[metric]
            row.versus = VersusBest(ref_label, c.diff, c.ci_low, c.ci_high, c.p_value)
    return result


def attach(tables: Sequence[Table], settings: Settings | None) -> None:
    """Set ``table.uncertainty`` on every table with measured rows (None on tables of reported
    numbers only, and everywhere when ``settings`` is None)."""
    for t in tables:
        t.uncertainty = table_uncertainty(t, settings) if settings is not None and t.has_measured else None
