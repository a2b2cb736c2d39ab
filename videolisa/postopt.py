"""Post-optimisation: VideoLISA's masks refined by multi-reference XMem2 propagation.

The paper's "Post-optimization" rows (docs/models.md#post-optimisation) come from the authors'
``xmem2_example`` workflow: for each expression, XMem2 propagates VideoLISA's own masks at the
dense frames (the sparse frames at the dense positions, e.g. positions [3, 10, 18, 26] of 32) as
permanent-memory references through the whole video, and the propagated masks replace VideoLISA's.
Here that runs in the same process, on the frames already decoded for VideoLISA.

Recorded policies (deviations from the official workflow, where it has none or fails):

- all references empty: XMem2 raises and the official shard dies; here VideoLISA's unrefined masks
  are kept and the sample is flagged (``unrefined: all references empty``);
- videos shorter than the dense count: references collapse to the distinct frames (T = 1..3 gives
  every frame);
- a video whose frames differ in size is refused (XMem2's sensory memory has one shape);
- foreground is any non-zero pixel; a frame that is entirely foreground stays so (the official
  ``recover.py`` takes its only colour for background and empties it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .sampling import sparse_indices

#: the flag of a sample whose masks were left unrefined
UNREFINED_EMPTY = "unrefined: all references empty"


def reference_frames(num_frames: int, num_sparse: int, dense_positions: Sequence[int]) -> list[int]:
    """The frames whose VideoLISA masks become references: ``sparse[p]`` for each dense position
    ``p``, duplicates collapsed, ascending (the official ``prepare_files.py`` picks the same)."""
    sparse = sparse_indices(num_frames, num_sparse)
    return sorted({sparse[p] for p in dense_positions})


@dataclass
class Refined:
    """The masks a sample ends with, and why they are not refined when they are not."""

    masks: list[np.ndarray]
    references: list[int]
    flag: str | None = None


class XMem2PostOptimizer:
    """Refines one expression's masks with a multi-reference XMem propagator (XMem2 settings)."""

    name = "xmem2"

    def __init__(self, propagator, num_sparse: int, dense_positions: Sequence[int]) -> None:
        self.propagator = propagator
        self.num_sparse = num_sparse
        self.dense_positions = list(dense_positions)

    def describe(self) -> dict:
        desc = self.propagator.describe()
        return {"post_optimize": self.name, "xmem_weights": desc.get("weights"), "xmem_config": desc.get("config"),
                "empty_references_policy": "keep unrefined masks, flag the sample"}

    def refine(self, frames: Sequence[np.ndarray], raw: Sequence[np.ndarray]) -> Refined:
        """Propagated masks for every frame from ``raw``'s masks at the reference frames."""
        refs = reference_frames(len(frames), self.num_sparse, self.dense_positions)
        if not any(raw[t].any() for t in refs):
            return Refined(list(raw), refs, UNREFINED_EMPTY)
        return Refined(self.propagator.propagate_refs(frames, {t: raw[t] for t in refs}), refs)
