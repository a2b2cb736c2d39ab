"""Prediction folders in a benchmark's official layout (random 0/255 masks), for scoring and submission tests."""

from __future__ import annotations

import numpy as np
from PIL import Image


def write_predictions(bench, pred, value=255):
    rng = np.random.default_rng(0)
    for s in bench.samples:
        size = bench.gt_size(s)
        for frame in bench.prediction_frames(s):
            m = rng.random(size) < 0.3
            path = pred / bench.prediction_path(s, frame)
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(m.astype(np.uint8) * value, mode="L").save(path)


def perfect_reasonvos(tmp_path):
    """A ReasonVOS fixture (no JPEGs) and a complete, perfect prediction folder: every GT mask
    written back as a 0/255 grayscale PNG. Returns ``(benchmark, prediction folder)``."""
    from reasonvos import load_benchmark
    from writers.reasonvos import write_reasonvos

    bench = load_benchmark("reasonvos", write_reasonvos(tmp_path / "data", jpeg=False))
    pred = tmp_path / "pred"
    for s in bench.samples:
        for frame in bench.prediction_frames(s):
            path = pred / bench.prediction_path(s, frame)
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(bench.gt_mask(s, frame).astype(np.uint8) * 255, mode="L").save(path)
    return bench, pred
