"""Fixed bins of the breakdown plots: instruction length, object size and video length.

The edges are constants (not quantiles of the data), so one bin means the same thing on every
leaderboard and for every method, and adding a method never moves another's points:

- instruction length: words of the instruction (``len(text.split())``, whitespace-separated):
  1-5, 6-10, 11-15, 16-20, 21-30, 31+; samples without an instruction (DAVIS objects) are left out;
- object size: the per-sample ``gt_area`` (mean fraction of the frame the GT covers over the
  scored frames): "empty" (exactly 0), then (0, 0.5%), [0.5%, 2%), [2%, 8%), [8%, 32%), [32%, 100%];
- video length: the sample's scored frames (``frames``): 1-16, 17-32, 33-64, 65-128, 129+.

The J&F of a bin is the mean per-sample J&F of its samples, with a 95% CI from the row's own
video bootstrap (the same draws as its table CI): in each resample the bin's mean is over the drawn
samples that fall in the bin (:func:`reasonvos.evaluators.compare.bootstrap_domains`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from reasonvos.evaluators.compare import bootstrap_domains

from .uncertainty import Interval, Settings


def _counted(edges: tuple[int, ...]) -> tuple[str, ...]:
    """Labels of integer bins starting at each edge: "1-5", ..., "31+"."""
    return tuple(f"{lo}-{hi - 1}" if hi - 1 > lo else str(lo) for lo, hi in zip(edges, edges[1:], strict=False)
                 ) + (f"{edges[-1]}+",)


def _bin_int(edges: tuple[int, ...], labels: tuple[str, ...]) -> Callable[[int], str | None]:
    def which(n: int) -> str | None:
        if n < edges[0]:
            return None
        return labels[sum(n >= e for e in edges) - 1]
    return which


WORD_EDGES = (1, 6, 11, 16, 21, 31)
WORD_LABELS = _counted(WORD_EDGES)
LENGTH_EDGES = (1, 17, 33, 65, 129)
LENGTH_LABELS = _counted(LENGTH_EDGES)
AREA_EDGES = (0.005, 0.02, 0.08, 0.32)
AREA_LABELS = ("empty", "<0.5%", "0.5-2%", "2-8%", "8-32%", ">=32%")


def word_bin(text: Any) -> str | None:
    """The instruction-length bin of an instruction, None when there is none."""
    if not isinstance(text, str) or not text.split():
        return None
    return _bin_int(WORD_EDGES, WORD_LABELS)(len(text.split()))


def length_bin(frames: Any) -> str | None:
    """The video-length bin of a sample's number of scored frames."""
    if not isinstance(frames, int | float) or isinstance(frames, bool) or frames != frames:
        return None
    return _bin_int(LENGTH_EDGES, LENGTH_LABELS)(int(frames))


def area_bin(area: Any) -> str | None:
    """The object-size bin of a ``gt_area`` (None when the row has none)."""
    if not isinstance(area, int | float) or isinstance(area, bool) or math.isnan(area):
        return None
    if area <= 0:
        return AREA_LABELS[0]
    return AREA_LABELS[1 + sum(area >= e for e in AREA_EDGES)]


@dataclass(frozen=True)
class Binning:
    """One breakdown: the per-sample column it reads, how a value is binned, and the bin order."""

    name: str
    title: str
    axis: str
    column: str
    bin: Callable[[Any], str | None]
    labels: tuple[str, ...]
    absent: str  # what the plot says when no results file carries the column


BINNINGS = (
    Binning("jf_by_words", "J&F against instruction length", "instruction length (words)", "text", word_bin,
            WORD_LABELS, "no results file carries instructions (per-sample 'text')"),
    Binning("jf_by_size", "J&F against object size", "mean GT area (fraction of the frame)", "gt_area", area_bin,
            AREA_LABELS, "no results file carries the per-sample object size 'gt_area' "
            "(files scored before it was added: re-score to get it)"),
    Binning("jf_by_length", "J&F against video length", "scored frames per sample", "frames", length_bin,
            LENGTH_LABELS, "no results file carries the per-sample number of scored frames"),
)


@dataclass(frozen=True)
class BinPoint:
    label: str
    n: int
    value: float
    ci: Interval | None


def binned_jf(frame: pd.DataFrame, binning: Binning, settings: Settings | None) -> list[BinPoint]:
    """Mean J&F (and its CI when ``settings`` is given) of every non-empty bin, in bin order."""
    if binning.column not in frame or "J&F" not in frame:
        return []
    labels = frame[binning.column].map(binning.bin)
    values = pd.to_numeric(frame["J&F"], errors="coerce")
    masks = {b: (labels == b).to_numpy() for b in binning.labels}
    masks = {b: m for b, m in masks.items() if m.any() and not values[m].isna().any()}
    cis: list = [None] * len(masks)
    if settings is not None and masks:
        cis = bootstrap_domains(frame, "J&F", list(masks.values()), resamples=settings.resamples, seed=settings.seed)
    return [BinPoint(b, int(m.sum()), float(values[m].mean()), Interval(*ci) if ci is not None else None)
            for (b, m), ci in zip(masks.items(), cis, strict=True)]
