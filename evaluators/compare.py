"""Paired comparison of two results files: differences with video-resampled bootstrap CIs.

Several expressions share a video, so samples are not independent: the bootstrap resamples
VIDEOS (all expressions of a drawn video move together) and the statistic is recomputed over the
resampled samples (a mean for J, F, J&F, gIoU; total I over total U for cIoU, as in
:func:`.results.iou_summary`). The permutation p-value flips A/B per video. Both are seeded, so
the same inputs give the same numbers; everything is vectorised over resamples (numpy only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reasonvos.errors import InputError

from .headline_rows import HEADLINE_METRICS, PER_SAMPLE, HeadlineRows
from .results import Results

METRICS = ("J&F", "J", "F", "gIoU", "cIoU")
RATIO = "cIoU"


def _check_same(a: Results, b: Results, names: tuple[str, str]) -> None:
    for attr in ("benchmark", "split", "protocol"):
        va, vb = getattr(a, attr), getattr(b, attr)
        if va != vb:
            raise InputError(None, f"cannot compare {names[0]} and {names[1]}: different {attr} ({va!r} vs {vb!r})")


def align_rows(ta: pd.DataFrame, tb: pd.DataFrame, key: tuple[str, ...] = ("key",),
               names: tuple[str, str] = ("A", "B")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two tables of rows (per-sample or per-object) in one order of their ``key`` columns;
    refuses duplicate keys and different row sets, naming an example."""
    def keys_of(t: pd.DataFrame) -> pd.Series:
        return t[list(key)].astype(str).agg("@".join, axis=1) if len(t) else pd.Series([], dtype=str)

    ka, kb = keys_of(ta), keys_of(tb)
    what = "sample" if key == ("key",) else "/".join(key)
    for name, keys in zip(names, (ka, kb), strict=True):
        if keys.duplicated().any():
            raise InputError(name, f"duplicate {what} keys (e.g. {keys[keys.duplicated()].iloc[0]!r})")
    only_a, only_b = sorted(set(ka) - set(kb)), sorted(set(kb) - set(ka))
    if only_a or only_b:
        parts = [f"{len(o)} only in {n} (e.g. {o[0]!r})" for n, o in zip(names, (only_a, only_b), strict=True) if o]
        label = "samples" if key == ("key",) else f"rows ({what})"
        raise InputError(None, f"cannot compare {names[0]} and {names[1]}: different {label}: " + "; ".join(parts))
    order = sorted(ka)
    return (ta.set_index(ka.to_numpy()).loc[order].reset_index(drop=True),
            tb.set_index(kb.to_numpy()).loc[order].reset_index(drop=True))


def align(a: Results, b: Results, names: tuple[str, str] = ("A", "B")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both per-sample tables in one key order; refuses different runs or different sample sets."""
    _check_same(a, b, names)
    return align_rows(a.per_sample, b.per_sample, ("key",), names)


def headline_rows(protocol: str | None) -> HeadlineRows:
    """The rows protocol ``protocol``'s J, F and J&F average: per-sample rows for an unnamed
    protocol or one this installation does not know (a plugin's, absent here); the leaderboard
    shows a CI only where the statistic reproduces the file's summary value."""
    from .protocol_registry import get, names

    if not protocol or protocol not in names():
        return PER_SAMPLE
    return get(protocol).headline_rows


def strata_of(table: pd.DataFrame, rows: HeadlineRows | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(rows counted, the stratum index of each row, number of strata) of ``rows``' grouping."""
    if rows is None or rows.stratum is None:
        return np.ones(len(table), bool), np.zeros(len(table), np.int64), 1
    values = table[rows.stratum].astype(str)
    order = list(rows.strata) if rows.strata is not None else sorted(values.unique())
    codes = values.map({v: i for i, v in enumerate(order)})
    return codes.notna().to_numpy(), codes.fillna(0).to_numpy(np.int64), max(len(order), 1)


def sample_values(table: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(numerator, denominator) per sample: the statistic is sum(num) / sum(den) over samples."""
    if metric == RATIO:
        return table["I"].to_numpy(np.float64), table["U"].to_numpy(np.float64)
    if metric == "gIoU":
        inter, union = table["I"].to_numpy(np.float64), table["U"].to_numpy(np.float64)
        value = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
    else:
        value = table[metric].to_numpy(np.float64)
    return value, np.ones_like(value)


def bootstrap_counts(groups: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n_groups) how often each group is drawn; row r draws n_groups groups with
    replacement from ``np.random.default_rng(seed).integers(0, n_groups, (resamples, n_groups))``."""
    n = int(groups.max()) + 1 if groups.size else 0
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    # one bincount over (row, group) cells: the same integer counts as np.add.at, several times faster
    cells = (np.arange(resamples, dtype=np.int64)[:, None] * n + draws).ravel()
    return np.bincount(cells, minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def sign_flips(n_groups: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n_groups) of True where A and B swap for that video."""
    return np.random.default_rng(seed + 1).random((resamples, n_groups)) < 0.5


def _ratio(num, den):
    """num / den, 1 where den is 0 (an empty union counts as IoU 1, as in iou_summary)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.ones_like(num), where=den > 0)


def _group_sums(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(groups, weights=values, minlength=n)


def _cell_sums(groups: np.ndarray, codes: np.ndarray, n: int, n_strata: int, values: np.ndarray) -> np.ndarray:
    """(n_videos, n_strata) sums of ``values``."""
    return np.bincount(groups * n_strata + codes, weights=values, minlength=n * n_strata).reshape(n, n_strata)


def _statistic(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Sums (..., n_strata) -> the statistic. One stratum: num / den (1 where den is 0: an empty
    union counts as IoU 1). Several: the mean of the strata's ratios, NaN where a stratum drew no
    rows (such resamples are left out of the percentiles)."""
    if num.shape[-1] == 1:
        return _ratio(num[..., 0], den[..., 0])
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0).mean(axis=-1)


def _percentiles(boot: np.ndarray) -> tuple[float, float]:
    boot = boot[np.isfinite(boot)]
    if not boot.size:
        return float("nan"), float("nan")
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(low), float(high)


def video_groups(table: pd.DataFrame) -> np.ndarray:
    """The resampling unit of every row: its video's index in sorted video order."""
    return pd.factorize(table["video"].astype(str), sort=True)[0].astype(np.int64)


def bootstrap_ci(table: pd.DataFrame, metrics=METRICS, *, resamples: int = 10_000, seed: int = 0,
                 rows: HeadlineRows | None = None) -> dict[str, tuple[float, float, float]]:
    """Per metric: (statistic, 2.5th, 97.5th percentile) of its video-resampled bootstrap.

    The statistic is the one of :func:`sample_values` (a mean; total I over total U for cIoU) or,
    with ``rows`` grouping the table into strata, the mean of the strata's means (a protocol's
    headline, :mod:`.headline_rows`), recomputed over the rows of the drawn videos with the draws of
    :func:`bootstrap_counts` (the same seed draws the same videos as :func:`compare_tables` does).
    A metric with a missing (NaN) value, or a table with no rows, is left out."""
    keep, codes, n_strata = strata_of(table, rows)
    table, codes = table[keep], codes[keep]
    if table.empty:
        return {}
    groups = video_groups(table)
    n = int(groups.max()) + 1
    counts = bootstrap_counts(groups, resamples, seed)
    out = {}
    for metric in metrics:
        num, den = sample_values(table, metric)
        if not (np.isfinite(num).all() and np.isfinite(den).all()):
            continue
        sn, sd = (_cell_sums(groups, codes, n, n_strata, x) for x in (num, den))
        low, high = _percentiles(_statistic(counts @ sn, counts @ sd))
        out[metric] = (float(_statistic(sn.sum(0), sd.sum(0))), low, high)
    return out


def bootstrap_domains(table: pd.DataFrame, metric: str, domains: list[np.ndarray], *, resamples: int = 10_000,
                      seed: int = 0) -> list[tuple[float, float, float] | None]:
    """Per domain (a boolean mask over the rows, e.g. a bin of instruction lengths): the statistic
    over its rows and the 2.5th and 97.5th percentile of ONE video bootstrap of the whole table,
    in which each resample's domain statistic is over the drawn samples that fall in the domain
    (so the domain's size varies, as it would in a new draw of videos). Resamples that draw none of
    a domain's samples are left out of its percentiles; None for an empty domain or NaN values."""
    if table.empty:
        return [None for _ in domains]
    groups = video_groups(table)
    n = int(groups.max()) + 1
    counts = bootstrap_counts(groups, resamples, seed)
    num, den = sample_values(table, metric)
    kept = [np.asarray(m, bool) for m in domains]
    kept = [m if m.any() and np.isfinite(num[m]).all() and np.isfinite(den[m]).all() else None for m in kept]
    # per domain, its group sums of numerator, denominator and sample count: one matrix product
    sums = [_group_sums(groups, np.where(m, x, 0.0), n) for m in kept if m is not None
            for x in (num, den, m.astype(np.float64))]
    boot = counts @ np.stack(sums, axis=1) if sums else np.zeros((resamples, 0))
    out: list[tuple[float, float, float] | None] = []
    col = 0
    for m in kept:
        if m is None:
            out.append(None)
            continue
        bn, bd, bk = boot[:, col], boot[:, col + 1], boot[:, col + 2]
        sn, sd = sums[col], sums[col + 1]
        col += 3
        values = _ratio(bn[bk > 0], bd[bk > 0])
        low, high = np.percentile(values, [2.5, 97.5])
        out.append((float(_ratio(sn.sum(), sd.sum())), float(low), float(high)))
    return out


@dataclass
class MetricComparison:
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    wins: int
    ties: int
    losses: int

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("diff", "ci_low", "ci_high", "p_value", "wins", "ties", "losses")}


def compare_tables(pa: pd.DataFrame, pb: pd.DataFrame, *, resamples: int = 10_000, seed: int = 0,
                   metrics=METRICS, rows: HeadlineRows | None = None) -> dict[str, MetricComparison]:
    """Per metric: A minus B, its 95% percentile bootstrap CI over videos, the sign-flip p-value and
    win/tie/loss counts over rows (a tie is an equal per-row value). ``pa`` and ``pb`` are aligned
    row by row (:func:`align_rows`); ``rows`` groups them into strata as in :func:`bootstrap_ci`."""
    keep, codes, n_strata = strata_of(pa, rows)
    pa, pb, codes = pa[keep], pb[keep], codes[keep]
    groups = video_groups(pa)
    n = int(groups.max()) + 1 if groups.size else 0
    counts = bootstrap_counts(groups, resamples, seed)
    flips = sign_flips(n, resamples, seed)
    keep_ab, swap = (~flips).astype(np.float64), flips.astype(np.float64)
    out = {}
    for metric in metrics:
        na, da = sample_values(pa, metric)
        nb, db = sample_values(pb, metric)
        sa = [_cell_sums(groups, codes, n, n_strata, x) for x in (na, da, nb, db)]
        obs = float(_statistic(sa[0].sum(0), sa[1].sum(0)) - _statistic(sa[2].sum(0), sa[3].sum(0)))
        low, high = _percentiles(_statistic(counts @ sa[0], counts @ sa[1]) - _statistic(counts @ sa[2], counts @ sa[3]))
        perm = (_statistic(keep_ab @ sa[0] + swap @ sa[2], keep_ab @ sa[1] + swap @ sa[3])
                - _statistic(keep_ab @ sa[2] + swap @ sa[0], keep_ab @ sa[3] + swap @ sa[1]))
        p = (1 + np.count_nonzero(np.abs(perm) >= abs(obs) - 1e-12)) / (resamples + 1)
        va, vb = _ratio(na, da), _ratio(nb, db)
        out[metric] = MetricComparison(obs, low, high, float(p),
                                       int((va > vb).sum()), int((va == vb).sum()), int((va < vb).sum()))
    return out


def compare_runs(ra: Results, rb: Results, pa: pd.DataFrame, pb: pd.DataFrame, names: tuple[str, str], *,
                 resamples: int, seed: int, metrics=METRICS) -> dict[str, MetricComparison]:
    """Every metric over the rows its summary value averages: J, F and J&F over the protocol's
    headline rows (per-object rows, strata), gIoU and cIoU over the aligned per-sample rows."""
    rows = headline_rows(ra.protocol)
    head = [m for m in metrics if m in HEADLINE_METRICS]
    found: dict[str, MetricComparison] = {}
    if head:
        if rows.table == "per_object":
            ta, tb = align_rows(ra.per_object, rb.per_object, rows.key, names)
        else:
            ta, tb = pa, pb
        found.update(compare_tables(ta, tb, resamples=resamples, seed=seed, metrics=head, rows=rows))
    rest = [m for m in metrics if m not in HEADLINE_METRICS]
    if rest:
        found.update(compare_tables(pa, pb, resamples=resamples, seed=seed, metrics=rest))
    return {m: found[m] for m in metrics}


def compare(a: Results | str, b: Results | str, *, resamples: int = 10_000, seed: int = 0) -> dict:
    """Paired comparison of two results (objects or JSON paths): overall and per kind and source."""
    ra = a if isinstance(a, Results) else Results.from_json(a)
    rb = b if isinstance(b, Results) else Results.from_json(b)
    # refusals name the files; the table names the methods
    names = tuple(str(x) if not isinstance(x, Results) else (x.method or d) for x, d in ((a, "A"), (b, "B")))
    labels = tuple(r.method or n for r, n in zip((ra, rb), names, strict=True))
    pa, pb = align(ra, rb, names)
    overall = compare_runs(ra, rb, pa, pb, names, resamples=resamples, seed=seed)
    result = {"a": labels[0], "b": labels[1], "settings": {"resamples": resamples, "seed": seed, "unit": "video",
                                                         "ci": 0.95},
              "metrics": {m: c.to_dict() for m, c in overall.items()}, "breakdown": {},
              "videos": int(pa["video"].nunique()), "breakdown_videos": {}}
    for column in ("kind", "source"):
        if column not in pa or pa[column].isna().all():
            continue
        part = {}
        for value in sorted(pa[column].dropna().astype(str).unique()):
            mask = (pa[column].astype(str) == value).to_numpy()
            sub = compare_tables(pa[mask].reset_index(drop=True), pb[mask].reset_index(drop=True),
                                 resamples=resamples, seed=seed)
            part[value] = {m: c.to_dict() for m, c in sub.items()}
            result["breakdown_videos"].setdefault(column, {})[value] = int(pa.loc[mask, "video"].nunique())
        result["breakdown"][column] = part
    return result
