"""Deterministic tiny weights, a function of (seed, key name, shape) only.

The parity harnesses (``perf/parity_videolisa.py``) fill the OFFICIAL model classes with these
values in a side environment (transformers 4.41) and save them with the official saving path; the
golden tests (``tests/videolisa/test_videolisa_golden_model.py``) fill OUR model with the same
values from the same official key names, so the committed golden arrays need no committed
weights. numpy only: the side environment imports this file by path, without the toolkit.
"""

from __future__ import annotations

import zlib

import numpy as np

#: 1-D tensors whose key contains one of these are norm scales: 1 + small noise (not ~0)
_NORM_SCALE_MARKERS = ("norm", "layrnorm", "ln_")  # CLIP spells "pre_layrnorm"


def tiny_weight(key: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """float32 values for the tensor ``key``: fan-in scaled normal noise for matrices (so
    activations neither vanish nor explode through a few layers), 1 + 0.1 noise for norm scales,
    0.1 noise for biases and other vectors."""
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    noise = rng.standard_normal(shape).astype(np.float32)
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return noise / np.float32(np.sqrt(max(fan_in, 1)))
    if key.endswith("weight") and any(m in key for m in _NORM_SCALE_MARKERS):
        return np.float32(1) + np.float32(0.1) * noise
    return np.float32(0.1) * noise
