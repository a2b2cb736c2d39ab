"""What a model must provide to be run on a benchmark."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from reasonvos.benchmarks.model import Benchmark, Sample, Video


class VideoSegmenter(ABC):
    """Segments the object an instruction refers to in every frame of a video.

    ``segment`` yields one boolean (H, W) mask per frame of ``video.frames``, in order, at the
    frame's original size. Models that need more than the text (oracles that read the first
    frame's ground truth) override :meth:`segment_sample`.
    """

    #: short name used in results and leaderboards
    name: str = "model"
    #: "model", "oracle" (uses ground truth) or "floor" (trivial lower bound)
    role: str = "model"
    #: set by :func:`reasonvos.load_model`: the registry name and the options dataclass it was
    #: built with (a resumed run compares them); None for a model constructed directly
    registry_name: str | None = None
    options: Any = None

    @abstractmethod
    def segment(self, video: Video, text: str) -> Iterator[np.ndarray]: ...

    def segment_sample(self, benchmark: Benchmark, sample: Sample) -> Iterator[np.ndarray]:
        return self.segment(benchmark.videos[sample.video_id], sample.text)

    def describe(self) -> dict[str, Any]:
        """Settings worth recording with the predictions (checkpoint, frame counts, ...)."""
        return {"name": self.name, "role": self.role}

    def take_notes(self) -> dict[str, Any]:
        """Facts about the sample just segmented that the run must record (the runner logs them
        once the sample is written), e.g. ``{"post_optimize": "unrefined: all references empty"}``.
        Returns them and forgets them; most models have none."""
        return {}
