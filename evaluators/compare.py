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

from .results import Results

METRICS = ("J&F", "J", "F", "gIoU", "cIoU")
RATIO = "cIoU"


def _check_same(a: Results, b: Results, names: tuple[str, str]) -> None:
    for attr in ("benchmark", "split", "protocol"):
        va, vb = getattr(a, attr), getattr(b, attr)
        if va != vb:
            raise InputError(None, f"cannot compare {names[0]} and {names[1]}: different {attr} ({va!r} vs {vb!r})")


def align(a: Results, b: Results, names: tuple[str, str] = ("A", "B")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both per-sample tables in one key order; refuses different runs or different sample sets."""
    _check_same(a, b, names)
    ka, kb = a.per_sample["key"].astype(str), b.per_sample["key"].astype(str)
    for name, keys in zip(names, (ka, kb), strict=True):
        if keys.duplicated().any():
            raise InputError(name, f"duplicate sample keys (e.g. {keys[keys.duplicated()].iloc[0]!r})")
    only_a, only_b = sorted(set(ka) - set(kb)), sorted(set(kb) - set(ka))
    if only_a or only_b:
        parts = [f"{len(o)} only in {n} (e.g. {o[0]!r})" for n, o in zip(names, (only_a, only_b), strict=True) if o]
        raise InputError(None, f"cannot compare {names[0]} and {names[1]}: different samples: " + "; ".join(parts))
    order = sorted(ka)
    pa = a.per_sample.assign(key=ka).set_index("key").loc[order].reset_index()
    pb = b.per_sample.assign(key=kb).set_index("key").loc[order].reset_index()
    return pa, pb


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


def video_groups(table: pd.DataFrame) -> np.ndarray:
    """The resampling unit of every row: its video's index in sorted video order."""
    return pd.factorize(table["video"].astype(str), sort=True)[0].astype(np.int64)


def bootstrap_ci(table: pd.DataFrame, metrics=METRICS, *, resamples: int = 10_000, seed: int = 0,
                 ) -> dict[str, tuple[float, float, float]]:
    """Per metric: (statistic, 2.5th, 97.5th percentile) of its video-resampled bootstrap.

    The statistic is the one of :func:`sample_values` (a mean; total I over total U for cIoU),
    recomputed over the samples of the drawn videos, with the draws of :func:`bootstrap_counts`
    (the same seed draws the same videos as :func:`compare_tables` does). A metric with a
    missing (NaN) per-sample value, or a table with no rows, is left out."""
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
        sn, sd = _group_sums(groups, num, n), _group_sums(groups, den, n)
        boot = _ratio(counts @ sn, counts @ sd)
        low, high = np.percentile(boot, [2.5, 97.5])
        out[metric] = (float(_ratio(sn.sum(), sd.sum())), float(low), float(high))
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
                   metrics=METRICS) -> dict[str, MetricComparison]:
    """Per metric: A minus B, its 95% percentile bootstrap CI over videos, the sign-flip p-value and
    win/tie/loss counts over samples (a tie is an equal per-sample value)."""
    groups = video_groups(pa)
    n = int(groups.max()) + 1 if groups.size else 0
    counts = bootstrap_counts(groups, resamples, seed)
    flips = sign_flips(n, resamples, seed)
    out = {}
    for metric in metrics:
        na, da = sample_values(pa, metric)
        nb, db = sample_values(pb, metric)
        sa = [_group_sums(groups, x, n) for x in (na, da, nb, db)]
        obs = float(_ratio(sa[0].sum(), sa[1].sum()) - _ratio(sa[2].sum(), sa[3].sum()))
        boot = _ratio(counts @ sa[0], counts @ sa[1]) - _ratio(counts @ sa[2], counts @ sa[3])
        low, high = np.percentile(boot, [2.5, 97.5])
        keep = (~flips).astype(np.float64)
        swap = flips.astype(np.float64)
        perm = (_ratio(keep @ sa[0] + swap @ sa[2], keep @ sa[1] + swap @ sa[3])
                - _ratio(keep @ sa[2] + swap @ sa[0], keep @ sa[3] + swap @ sa[1]))
        p = (1 + np.count_nonzero(np.abs(perm) >= abs(obs) - 1e-12)) / (resamples + 1)
        va, vb = _ratio(na, da), _ratio(nb, db)
        out[metric] = MetricComparison(float(obs), float(low), float(high), float(p),
                                       int((va > vb).sum()), int((va == vb).sum()), int((va < vb).sum()))
    return out


def compare(a: Results | str, b: Results | str, *, resamples: int = 10_000, seed: int = 0) -> dict:
    """Paired comparison of two results (objects or JSON paths): overall and per kind and source."""
    ra = a if isinstance(a, Results) else Results.from_json(a)
    rb = b if isinstance(b, Results) else Results.from_json(b)
    # refusals name the files; the table names the methods
    names = tuple(str(x) if not isinstance(x, Results) else (x.method or d) for x, d in ((a, "A"), (b, "B")))
    labels = tuple(r.method or n for r, n in zip((ra, rb), names, strict=True))
    pa, pb = align(ra, rb, names)
    overall = compare_tables(pa, pb, resamples=resamples, seed=seed)
    result = {"a": labels[0], "b": labels[1], "settings": {"resamples": resamples, "seed": seed, "unit": "video",
                                                         "ci": 0.95},
              "metrics": {m: c.to_dict() for m, c in overall.items()}, "breakdown": {}}
    for column in ("kind", "source"):
        if column not in pa or pa[column].isna().all():
            continue
        part = {}
        for value in sorted(pa[column].dropna().astype(str).unique()):
            mask = (pa[column].astype(str) == value).to_numpy()
            sub = compare_tables(pa[mask].reset_index(drop=True), pb[mask].reset_index(drop=True),
                                 resamples=resamples, seed=seed)
            part[value] = {m: c.to_dict() for m, c in sub.items()}
        result["breakdown"][column] = part
    return result
