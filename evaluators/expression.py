"""The ``expression`` protocol (MeViS, ReasonVOS, Ref-YouTube-VOS style scoring).

One binary mask sequence per sample (expression); the GT is the union of the referred objects;
every scored frame counts (no first/last skip, no void); per sample J = mean_t J_t and F likewise;
the summary is the mean over samples, with breakdowns by kind, source and annotator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reasonvos.benchmarks.model import Benchmark, Sample
from reasonvos.errors import InputError

from .metrics import area_fraction, frame_scores
from .protocols import Options, PredictionReader, Protocol, VideoOutcome, peak_rss_mb
from .results import breakdown, jf


def sample_row(sample: Sample, j: list[float], f: list[float], inter: int, union: int, missing: int,
               areas: list[float]) -> dict:
    """A per-sample row (see ``schema.SAMPLE_COLUMNS``); ``areas`` are the per-frame GT fractions."""
    jm = float(np.mean(j)) if j else float("nan")
    fm = float(np.mean(f)) if f else float("nan")
    return {
        "key": sample.key, "video": sample.video_id, "exp_id": sample.exp_id, "obj_ids": list(sample.obj_ids),
        "text": sample.text, "kind": sample.kind, "source": sample.source, "annotator": sample.annotator,
        "J": jm, "F": fm, "J&F": (jm + fm) / 2, "I": inter, "U": union, "frames": len(j),
        "missing_frames": missing, "gt_area": float(np.mean(areas)) if areas else float("nan"),
    }


def _gt_masks(bench: Benchmark, sample: Sample):
    """(frame, bool GT) for every scored frame, decoded the way the benchmark knows is fastest."""
    return bench.gt_masks(sample)


class ExpressionProtocol(Protocol):
    """Per-sample J, F, I, U over every scored frame; the mean over samples."""

    name = "expression"
    reads = "sample"

    def score_video(self, bench: Benchmark, video_id: str, keys: list[str], reader: PredictionReader,
                    opt: Options) -> VideoOutcome:
        out = VideoOutcome(video_id, problems=reader.problems)
        for key in keys:
            sample = bench.sample(key)
            j: list[float] = []
            f: list[float] = []
            areas: list[float] = []
            inter = union = 0
            ok = True
            for frame, gt in _gt_masks(bench, sample):
                mask = reader.binary(bench, sample, frame, gt.shape)
                if mask is False:
                    ok = False
                    continue
                s = frame_scores(gt, mask, None, opt.bound_th)
                j.append(s.j)
                f.append(s.f)
                areas.append(area_fraction(gt))
                inter += s.inter
                union += s.union
            if ok:
                if not j:
                    raise InputError(bench.meta_path, f"sample {key!r} has no scored frames")
                out.samples.append(sample_row(sample, j, f, inter, union, reader.missing_frames(key), areas))
        out.peak_rss_mb = peak_rss_mb()
        return out

    def headline(self, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> dict[str, Any]:
        return {k: v for k, v in jf(per_sample).items() if k != "n"}

    def details(self, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> dict[str, Any]:
        return {"breakdown": {c: b for c in ("kind", "source", "annotator") if (b := breakdown(per_sample, c))}}
