"""Sparse-Dense Sampling: which frames the LLM sees (docs/models.md#sparse-dense-sampling).

The released model was trained and evaluated with ``T_sparse = 32`` and ``T_dense = 4``. The
original scripts default to 50 sparse frames, a setting the model never saw; this toolkit's
defaults are the trained ones. Functions return plain lists of ints so they are easy to test.
"""

from __future__ import annotations

import numpy as np

#: the released model's settings (paper §5.1, every run_*.sh); never the scripts' 50
NUM_FRAMES_SPARSE = 32
NUM_FRAMES_DENSE = 4


def uniform_sample(n: int, k: int) -> list[int]:
    """Split ``range(n)`` into ``k`` near-equal bins (integer ``linspace`` edges) and take each
    bin's integer midpoint ``(start + end) // 2`` with ``end`` inclusive."""
    edges = np.linspace(0, n, k + 1).astype(int)
    return [int((edges[i] + edges[i + 1] - 1) // 2) for i in range(k)]


def sparse_indices(num_frames: int, num_sparse: int = NUM_FRAMES_SPARSE) -> list[int]:
    """Frame indices of the sparse frames (sorted; duplicated when the video is short).

    Longer videos: the midpoints of ``num_sparse`` uniform bins. Videos of at most ``num_sparse``
    frames: every frame ``num_sparse // N`` times plus ``uniform_sample(N, num_sparse % N)``.
    """
    if num_frames < 1:
        raise ValueError("a video needs at least one frame")
    if num_sparse < 1:
        raise ValueError("num_sparse must be at least 1")
    if num_frames > num_sparse:
        return uniform_sample(num_frames, num_sparse)
    repeated = [i for i in range(num_frames) for _ in range(num_sparse // num_frames)]
    return sorted(repeated + uniform_sample(num_frames, num_sparse % num_frames))


def dense_positions(num_sparse: int = NUM_FRAMES_SPARSE, num_dense: int = NUM_FRAMES_DENSE) -> list[int]:
    """Positions *inside the sparse list* kept at full resolution: midpoints of ``num_dense``
    bins over ``0 .. num_sparse - 1`` ([3, 10, 18, 26] for 32/4; position 31 is never dense)."""
    if num_dense < 1 or num_dense >= num_sparse:
        raise ValueError(f"num_dense must be between 1 and num_sparse - 1, got {num_dense} for {num_sparse}")
    edges = np.linspace(0, num_sparse - 1, num_dense + 1).astype(int)
    pos = [int((edges[i] + edges[i + 1] - 1) // 2) for i in range(num_dense)]
    if pos[0] < 0 or len(set(pos)) != len(pos):
        raise ValueError(f"{num_dense} dense frames do not fit in {num_sparse} sparse frames")
    return pos


def sample_frames(num_frames: int, num_sparse: int = NUM_FRAMES_SPARSE,
                  num_dense: int = NUM_FRAMES_DENSE) -> tuple[list[int], list[int]]:
    """(sparse frame indices, dense positions within them) for a video of ``num_frames``."""
    return sparse_indices(num_frames, num_sparse), dense_positions(num_sparse, num_dense)


def num_visual_tokens(tokens_per_frame: int, num_sparse: int = NUM_FRAMES_SPARSE,
                      num_dense: int = NUM_FRAMES_DENSE) -> int:
    """Visual tokens replacing ``<image>``: one pooled token per sparse frame plus the dense
    frames at full resolution (32 + 4 x 576 = 2336 for the released model)."""
    return num_sparse + num_dense * tokens_per_frame
