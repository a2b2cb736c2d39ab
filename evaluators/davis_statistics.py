"""DAVIS per-object statistics: Mean, Recall and Decay of a per-frame J or F vector.

Follows davis2017 ``db_statistics`` (docs/metrics.md#davis-statistics) with correct integer bin indices. The
official code casts the indices to uint8, which gives NaN or silently wrong Decay values from 256
evaluated frames on; ``compat_decay=True`` reproduces that (numpy >= 2 arithmetic) and warns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

N_BINS = 4


@dataclass(frozen=True)
class Stats:
    mean: float
    recall: float
    decay: float


def decay_bins(n: int, compat_decay: bool = False) -> list[tuple[int, int]]:
    """Half-open (start, stop) slices of the 4 overlapping quarter bins of ``n`` frames."""
    ids = (np.round(np.linspace(1, n, N_BINS + 1) + 1e-10) - 1).astype(np.int64)
    if compat_decay:
        ids = ids % 256  # float -> uint8 cast wraps
        return [(int(ids[i]), int((ids[i + 1] + 1) % 256)) for i in range(N_BINS)]  # uint8 + 1 wraps
    return [(int(ids[i]), int(ids[i + 1]) + 1) for i in range(N_BINS)]


def _nanmean(v: np.ndarray) -> float:
    if v.size == 0 or np.all(np.isnan(v)):
        return float("nan")
    return float(np.nanmean(v))


def db_statistics(values, compat_decay: bool = False) -> Stats:
    """Mean, Recall (fraction of frames > 0.5) and Decay (first quarter minus last quarter)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError("db_statistics needs a non-empty 1-D vector of per-frame values")
    mean = _nanmean(v)
    recall = _nanmean((v > 0.5).astype(np.float64))
    bins = decay_bins(v.size, compat_decay)
    first, last = v[slice(*bins[0])], v[slice(*bins[-1])]
    decay = _nanmean(first) - _nanmean(last)
    if compat_decay and v.size >= 256:
        warnings.warn(
            f"compat-decay: reproducing the official uint8 bin indices for {v.size} frames; "
            "Decay is NaN or wrong for 256 frames or more",
            RuntimeWarning,
            stacklevel=2,
        )
    return Stats(mean, recall, decay)
