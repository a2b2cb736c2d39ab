"""Weight-free reference baselines: bounds that any real model's numbers can be read against.

- ``flow-oracle`` (role "oracle"): reads the ground truth of the first frame where the object is
  visible and carries it through the video with OpenCV dense optical flow (Farneback), warping
  the previous mask backwards with ``cv2.remap``. It ignores the text: an upper reference for what
  "just track the first mask" achieves, never a model result.
- ``static-oracle`` (role "oracle"): the same first ground-truth mask, repeated unchanged.
- ``empty`` and ``full-frame`` (role "floor"): all-empty or all-foreground masks, the trivial lower
  bounds of J&F.

All run on CPU anywhere (numpy + OpenCV only) and write predictions through the shared runner.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from reasonvos.errors import InputError, MaskError
from reasonvos.frames import read_gray
from reasonvos.inference.segmenter import VideoSegmenter

if TYPE_CHECKING:
    from reasonvos.benchmarks.model import Benchmark, Sample, Video


class _ConstantFloor(VideoSegmenter):
    """The same mask value on every pixel of every frame: a trivial lower bound."""

    role = "floor"
    fill: bool = False

    def segment(self, video: Video, text: str) -> Iterator[np.ndarray]:
        size = video.frame_size()
        for _ in video.frames:
            yield np.full(size, self.fill, bool)


class EmptyFloor(_ConstantFloor):
    """Predicts nothing anywhere: the J&F floor (scores only frames where the object is absent)."""

    name = "empty"
    fill = False


class FullFrameFloor(_ConstantFloor):
    """Predicts the whole frame: the floor for methods that over-segment."""

    name = "full-frame"
    fill = True


class _FirstMaskOracle(VideoSegmenter):
    """Oracles that start from the ground truth: they need the benchmark, not just the video."""

    role = "oracle"

    def segment(self, video: Video, text: str) -> Iterator[np.ndarray]:
        raise InputError(None, f"{self.name} is an oracle: it needs the ground truth (use segment_sample)")

    @staticmethod
    def anchor(benchmark: Benchmark, sample: Sample) -> tuple[int, np.ndarray]:
        """(index in the prediction frames, mask) of the first frame whose ground truth is non-empty.

        A sample whose object never appears anchors on the first frame with an empty mask.
        """
        if not benchmark.has_ground_truth:
            raise InputError(benchmark.meta_path, f"{benchmark.name} split {benchmark.split!r} has no ground "
                             "truth; oracle baselines cannot run on it")
        frames = list(benchmark.prediction_frames(sample))
        scored = set(benchmark.scored_frames(sample))
        size = benchmark.gt_size(sample)
        for i, frame in enumerate(frames):
            if frame in scored:
                mask = benchmark.gt_mask(sample, frame)
                if mask.shape != size:
                    raise MaskError(None, f"ground truth of {sample.key} frame {frame} is {mask.shape}, "
                                    f"expected {size}")
                if mask.any():
                    return i, mask
        return 0, np.zeros(size, bool)


class StaticFirstFrame(_FirstMaskOracle):
    """The first visible ground-truth mask, repeated: how far 'nothing moves' gets."""

    name = "static-oracle"

    def segment_sample(self, benchmark: Benchmark, sample: Sample) -> Iterator[np.ndarray]:
        start, mask = self.anchor(benchmark, sample)
        empty = np.zeros_like(mask)
        for i in range(len(benchmark.prediction_frames(sample))):
            yield mask if i >= start else empty


@dataclass(frozen=True)
class FarnebackParams:
    """cv2.calcOpticalFlowFarneback settings (OpenCV's documented example values by default)."""

    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2


class FlowOracle(_FirstMaskOracle):
    """First visible ground-truth mask carried frame to frame by dense optical flow.

    For frame t the flow is computed from frame t to frame t-1 (where did each pixel of t come
    from?), and the mask of t-1 is sampled there (backward warping: no holes, no collisions).
    The warped mask is re-binarised at 0.5 each step. Flows are cached for the current video, so
    several expressions of one video cost one flow pass.
    """

    name = "flow-oracle"

    def __init__(self, params: FarnebackParams | None = None) -> None:
        self.params = params or FarnebackParams()
        self._cache_key: tuple[str, tuple[str, ...]] | None = None
        self._flows: list[np.ndarray | None] = []

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "flow": "cv2.calcOpticalFlowFarneback", **self.params.__dict__}

    def _backward_flows(self, video: Video, frames: list[str]) -> list[np.ndarray | None]:
        key = (video.id, tuple(frames))
        if self._cache_key != key:
            p = self.params
            gray = [read_gray(video.image_path(f)) for f in frames]
            flows: list[np.ndarray | None] = [None]
            for t in range(1, len(gray)):
                if gray[t].shape != gray[t - 1].shape:
                    raise InputError(video.image_path(frames[t]), f"frame size {gray[t].shape} differs from "
                                     f"the previous frame's {gray[t - 1].shape}")
                flows.append(cv2.calcOpticalFlowFarneback(
                    gray[t], gray[t - 1], None, p.pyr_scale, p.levels, p.winsize, p.iterations,
                    p.poly_n, p.poly_sigma, 0))
            self._cache_key, self._flows = key, flows
        return self._flows

    def segment_sample(self, benchmark: Benchmark, sample: Sample) -> Iterator[np.ndarray]:
        start, mask = self.anchor(benchmark, sample)
        video = benchmark.videos[sample.video_id]
        frames = list(benchmark.prediction_frames(sample))
        empty = np.zeros_like(mask)
        for _ in range(start):
            yield empty
        yield mask
        if start + 1 >= len(frames):
            return
        flows = self._backward_flows(video, frames)
        h, w = mask.shape
        if flows[start + 1].shape[:2] != (h, w):
            raise InputError(video.image_path(frames[start]), f"frame size {flows[start + 1].shape[:2]} differs "
                             f"from the ground truth's {(h, w)}")
        grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        current = mask.astype(np.float32)
        for t in range(start + 1, len(frames)):
            flow = flows[t]
            current = cv2.remap(current, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            binary = current >= 0.5
            current = binary.astype(np.float32)
            yield binary


#: model name -> class, for the CLI glue and the demo
REFERENCE_MODELS: dict[str, type[VideoSegmenter]] = {
    "flow-oracle": FlowOracle,
    "static-oracle": StaticFirstFrame,
    "empty": EmptyFloor,
    "full-frame": FullFrameFloor,
}


# -- construction from declared options (the model registry calls these) ------------------------


def build_flow_oracle(options) -> FlowOracle:
    """``flow-oracle`` from its :class:`~reasonvos.baselines.options.FlowOracleOptions`."""
    return FlowOracle(options.params())


def build_static_oracle(options) -> StaticFirstFrame:
    return StaticFirstFrame()


def build_empty(options) -> EmptyFloor:
    return EmptyFloor()


def build_full_frame(options) -> FullFrameFloor:
    return FullFrameFloor()
