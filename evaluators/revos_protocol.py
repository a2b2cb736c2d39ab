"""The ``revos`` protocol: ReVOS scoring as VISA's ``tools/eval_revos.py`` + ``tools/metrics.py`` define it.

Per frame (every listed frame, no void): J and F on boolean masks (the DAVIS definitions, empty
union / both boundaries empty = 1), the accuracy A (fraction of equal pixels) and the robustness
R_t = max(1 - N_t / (P_t + 1e-6), 0), where N_t counts the predicted pixels outside the GT and P_t
the pixels of the video-level foreground (every object of the video). Per expression: the mean
over frames. Summaries: ``referring`` (type 0) and ``reasoning`` (type 1) are means over their
expressions, with J&F = (J + F) / 2 of those means; ``overall`` (the headline) is the unweighted
mean of the two subsets, as the official scorer computes it. No-target expressions (type 2) are
scored and listed, and summarised on their own, but kept out of ``overall`` as officially.

R is defined by the official code in uint8 arithmetic, so it depends on how masks are saved:

- default (``compat_r=None``): an encoding-independent R on boolean masks (N_t and P_t are pixel
  counts);
- ``visa-255``: the official value for predictions saved as 0/255 (VISA, VRS-HQ, UniPixel);
- ``sa2va-01``: the official value for predictions saved as 0/1 (Sa2VA).

In the compat modes the GT is the uint8 *sum* of the objects' masks, ``(1 - GT)`` wraps (an overlap
of two objects gives 255) and each product wraps modulo 256, exactly as the official code does; A
then compares the raw values too. ``official_rounding`` rounds each expression's values to
``round(100 x, 2)`` before the summaries average them, as the official scorer does (values are
stored as fractions: the rounded percentage / 100). The mode is recorded in every per-sample row
(``R_mode``) and in the summary, beside ``prediction_encodings`` (how many expressions were saved
as 0/1, 0/255..., judged from the first non-empty frame), so a reader can tell which mode matches
the files.

Missing or unreadable predictions follow ``--missing`` (the official scorer silently scores such an
expression 0; Sa2VA's silently drops it): never a silent number here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from reasonvos.benchmarks.model import Benchmark
from reasonvos.errors import InputError
from reasonvos.masks import read_png_values

from .expression import sample_row
from .headline_rows import HeadlineRows
from .metrics import area_fraction, frame_scores
from .protocols import Options, PredictionReader, Protocol, VideoOutcome, peak_rss_mb
from .results import mean

#: ``--compat-r`` values: the prediction encoding whose official uint8 R is reproduced
COMPAT_R = {"visa-255": 255, "sa2va-01": 1}
#: the subsets the official summary averages, in its order, and the one it leaves out
SUBSETS = ("referring", "reasoning")
NO_TARGET = "no-target"
METRICS = ("J", "F", "J&F", "R", "A")


def robustness(gt: np.ndarray, pred: np.ndarray, foreground: np.ndarray) -> float:
    """R of one frame. With uint8 arrays this is the official arithmetic (wrapping included);
    with bool arrays it is the count of false-positive pixels over the foreground's pixel count."""
    if gt.dtype == bool:
        neg = int(np.count_nonzero(pred & ~gt))
        pos = int(np.count_nonzero(foreground))
    else:
        neg = ((1 - gt) * pred).sum()  # uint8 products wrap; the sum accumulates in a wide int
        pos = foreground.sum()
    return max(1 - neg / (pos + 1e-6), 0.0)


def _stored_value(path: Path, mask: np.ndarray) -> int | None:
    """The value a binary prediction PNG stores for foreground (1, 255, a palette index...): the
    official R depends on it, so the summary reports which encodings were scored."""
    try:
        arr = read_png_values(path)
    except InputError:
        return None
    return int(arr[mask].flat[0]) if arr.ndim == 2 else None


def _official_round(x: float) -> float:
    return round(100 * x, 2) / 100


class RevosProtocol(Protocol):
    """Per-expression J, F, R, A; referring/reasoning subsets; overall = their unweighted mean."""

    name = "revos"
    headline_rows = HeadlineRows(stratum="kind", strata=SUBSETS)  # overall = mean of the two subset means
    reads = "sample"
    extra_columns: ClassVar[tuple[str, ...]] = ("R", "A", "type_id", "R_mode", "rounding", "pred_value")

    def check_ground_truth(self, bench: Benchmark) -> None:
        from reasonvos.benchmarks.revos import RevosBenchmark

        if not isinstance(bench, RevosBenchmark):
            raise InputError(bench.meta_path, "the revos protocol needs per-object sums and a video foreground "
                             "(the ReVOS mask dicts); use the expression protocol for this benchmark")

    def score_video(self, bench: Benchmark, video_id: str, keys: list[str], reader: PredictionReader,
                    opt: Options) -> VideoOutcome:
        if opt.compat_r is not None and opt.compat_r not in COMPAT_R:
            raise InputError(None, f"--compat-r must be one of {', '.join(COMPAT_R)}, not {opt.compat_r!r}")
        value = COMPAT_R.get(opt.compat_r or "", 0)
        out = VideoOutcome(video_id, problems=reader.problems)
        fg_cache: dict[str, np.ndarray] = {}
        for key in keys:
            sample = bench.sample(key)
            j: list[float] = []
            f: list[float] = []
            r: list[float] = []
            a: list[float] = []
            areas: list[float] = []
            inter = union = 0
            ok = True
            pred_value = None  # the foreground value of the first non-empty prediction (1 or 255)
            for frame in bench.scored_frames(sample):
                if value:
                    gt_raw = bench.gt_sum(sample, frame)
                    gt = gt_raw != 0
                else:
                    gt = bench.gt_mask(sample, frame)
                mask = reader.binary(bench, sample, frame, gt.shape)
                if mask is False:
                    ok = False
                    continue
                pred = np.zeros(gt.shape, bool) if mask is None else mask
                if pred_value is None and mask is not None and mask.any():
                    pred_value = _stored_value(Path(opt.pred_root) / bench.prediction_path(sample, frame), mask)
                if frame not in fg_cache:
                    fg_cache[frame] = bench.foreground(video_id, frame)
                fg = fg_cache[frame]
                s = frame_scores(gt, pred, None, opt.bound_th)
                j.append(s.j)
                f.append(s.f)
                areas.append(area_fraction(gt))
                inter += s.inter
                union += s.union
                if value:
                    raw = pred.astype(np.uint8) * np.uint8(value)
                    r.append(robustness(gt_raw, raw, fg))
                    a.append(float(np.mean(gt_raw == raw)))
                else:
                    r.append(robustness(gt, pred, fg != 0))
                    a.append(float(np.mean(gt == pred)))
            if not ok:
                continue
            if not j:
                raise InputError(bench.meta_path, f"sample {key!r} has no scored frames")
            row = sample_row(sample, j, f, inter, union, reader.missing_frames(key), areas)
            row["R"], row["A"] = float(np.mean(r)), float(np.mean(a))
            if opt.official_rounding:
                jm, fm = float(np.mean(j)), float(np.mean(f))
                row["J"], row["F"] = _official_round(jm), _official_round(fm)
                row["J&F"] = round(100 * (jm + fm) / 2, 2) / 100
                row["R"], row["A"] = _official_round(row["R"]), _official_round(row["A"])
            row["type_id"] = sample.extra.get("type_id")
            row["R_mode"] = opt.compat_r or "boolean"
            row["rounding"] = "official" if opt.official_rounding else "none"
            row["pred_value"] = pred_value
            out.samples.append(row)
        out.peak_rss_mb = peak_rss_mb()
        return out

    @staticmethod
    def subset(per_sample: pd.DataFrame, kind: str) -> dict[str, Any]:
        """Means of one subset; J&F is (mean J + mean F) / 2 as officially (not the mean of J&F)."""
        rows = per_sample[per_sample["kind"] == kind] if not per_sample.empty else per_sample
        out = {m: mean(rows[m]) if len(rows) else float("nan") for m in ("J", "F", "R", "A")}
        out["J&F"] = (out["J"] + out["F"]) / 2
        out["n"] = len(rows)
        return out

    def headline(self, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> dict[str, Any]:
        parts = [self.subset(per_sample, k) for k in SUBSETS]
        return {m: (parts[0][m] + parts[1][m]) / 2 for m in ("J", "F", "J&F", "R")}

    def details(self, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> dict[str, Any]:
        overall = self.headline(per_sample, per_object)
        overall["A"] = (self.subset(per_sample, SUBSETS[0])["A"] + self.subset(per_sample, SUBSETS[1])["A"]) / 2
        modes = sorted(set(per_sample["R_mode"])) if not per_sample.empty else []
        rounding = sorted(set(per_sample["rounding"])) if not per_sample.empty else []
        values = per_sample["pred_value"].dropna() if not per_sample.empty else []
        encodings = {f"0/{int(v)}": int(n) for v, n in pd.Series(values).value_counts().sort_index().items()}
        return {
            "R_mode": modes[0] if len(modes) == 1 else modes,
            "prediction_encodings": encodings,
            "rounding": rounding[0] if len(rounding) == 1 else rounding,
            "overall": overall,
            "breakdown": {"kind": {k: self.subset(per_sample, k) for k in (*SUBSETS, NO_TARGET)}},
            "notes": ["overall = unweighted mean of the referring and reasoning subsets; no-target "
                      "expressions are scored but kept out of it, as the official scorer does"],
        }
