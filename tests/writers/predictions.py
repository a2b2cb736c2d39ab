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
