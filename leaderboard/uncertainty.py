"""Uncertainty of leaderboard rows: a bootstrap 95% CI per measured row, and the paired
difference of each row from the best measured method.

Both reuse the resampling of :mod:`reasonvos.evaluators.compare`: VIDEOS are resampled (all
samples of a drawn video move together, since expressions of one video are not independent), the
statistic is recomputed over the drawn samples (a mean; total I over total U for cIoU), and the
95% interval is the 2.5th-97.5th percentile of the resampled statistics. Every row uses the same
seed, so rows scored on the same videos see the same draws, and the same inputs give the same
numbers. pandas and the bootstrap are imported on first use, so the command line can read the
defaults here without them.

J, F and J&F are resampled over the rows the protocol's headline averages, grouped as it groups
them (``Protocol.headline_rows``): per-object rows for the DAVIS protocols, the mean of the
annotator-slot means for Ref-DAVIS, the mean of the referring and reasoning subset means for ReVOS.
gIoU and cIoU are per-sample statistics for every protocol. A CI is only shown when the resampled
statistic reproduces the summary value, so an interval is never around a different number (a
results file whose rows and summary disagree gets none, with the reason). Reported paper rows and
results files without per-sample rows carry none either, and say so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reasonvos.evaluators.headline_rows import HEADLINE_METRICS, PER_SAMPLE, HeadlineRows

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


def metric_rows(entry: Entry, metric: str, per_sample: pd.DataFrame | None) -> tuple[pd.DataFrame | None, HeadlineRows]:
    """The rows ``metric``'s summary value averages, and their grouping: the protocol's headline
    rows for J, F and J&F, the per-sample rows otherwise."""
    from reasonvos.evaluators.compare import headline_rows

    rows = headline_rows(entry.protocol) if metric in HEADLINE_METRICS else PER_SAMPLE
    if rows.table != "per_object":
        return per_sample, rows
    if per_sample is None or not entry.per_object:
        return None, rows
    import pandas as pd

    frame = pd.DataFrame(entry.per_object)
    return (frame if "video" in frame else None), rows


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

    found: dict[str, tuple[float, float, float]] = {}
    for metric in metrics:
        rows_frame, rows = metric_rows(entry, metric, frame)
        if entry.value(metric) is not None and rows_frame is not None and _columns_ok(rows_frame, metric):
            found.update(bootstrap_ci(rows_frame, [metric], resamples=settings.resamples, seed=settings.seed,
                                      rows=rows))
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
        out.note = (f"no CI for {', '.join(skipped)}: the rows of the results file do not reproduce the "
                    "summary value, or lack its values")
    return out


def headline_metric(table: Table) -> str | None:
    """The metric whose CI and difference from the best the tables show: the first of the metrics
    tables rank by (``tables.PRIMARY_METRICS``) that the table has."""
    from .tables import PRIMARY_METRICS

    present = {c.metric for c in table.columns if c.group is None}
    return next((m for m in PRIMARY_METRICS if m in present), None)


def _paired_rows(entry: Entry, ref: Entry, frame: pd.DataFrame, ref_frame: pd.DataFrame, metric: str,
                 ) -> tuple[pd.DataFrame | None, pd.DataFrame | None, tuple[str, ...]]:
    """Both entries' rows for ``metric`` and the columns that pair them."""
    a, rows = metric_rows(entry, metric, frame)
    b, _ = metric_rows(ref, metric, ref_frame)
    return a, b, rows.key


def _aligned(a: pd.DataFrame | None, b: pd.DataFrame | None, key: tuple[str, ...] = ("key",),
             ) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Both tables in one order of their ``key`` columns, or None when their row sets differ."""
    from reasonvos.evaluators.compare import align_rows

    from reasonvos.errors import InputError

    if a is None or b is None or not all(c in a and c in b for c in key):
        return None
    try:
        return align_rows(a, b, key)
    except InputError:
        return None


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
        elif (pair := _aligned(*_paired_rows(entry, table.rows[ref], frames[i], frames[ref], metric))) is None:
            row.versus_note = f"scored on other samples than {ref_label}: no paired difference"
        else:
            rows_spec = metric_rows(entry, metric, frames[i])[1]
            c = compare_tables(*pair, resamples=settings.resamples, seed=settings.seed, metrics=(metric,),
                               rows=rows_spec)[metric]
            row.versus = VersusBest(ref_label, c.diff, c.ci_low, c.ci_high, c.p_value)
    return result


def attach(tables: Sequence[Table], settings: Settings | None) -> None:
    """Set ``table.uncertainty`` on every table with measured rows (None on tables of reported
    numbers only, and everywhere when ``settings`` is None)."""
    for t in tables:
        t.uncertainty = table_uncertainty(t, settings) if settings is not None and t.has_measured else None
