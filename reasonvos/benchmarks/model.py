"""The data model every part of the toolkit shares: Benchmark, Video, Sample.

A :class:`Benchmark` is what a loader returns: its videos (frame lists exactly as the metadata
gives them, never generated), its samples (one scoring unit = one video + one expression), and
the two things the benchmark's own format decides: where its ground truth lives
(:meth:`Benchmark.gt_mask`, :meth:`Benchmark.gt_files`) and where a prediction must be written
(:meth:`Benchmark.prediction_path`). What the toolkit knows about a benchmark beyond one loaded
split (splits, protocols, layouts) is its declaration, ``bench.spec``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np

from reasonvos.errors import InputError
from reasonvos.masks import png_size

if TYPE_CHECKING:
    from reasonvos.benchmarks.registry import BenchmarkSpec


@dataclass(frozen=True)
class Video:
    """One video: its id and its frame names (stems) in the order the metadata lists them."""

    id: str
    frames: tuple[str, ...]
    image_dir: Path | None = None
    image_ext: str = ".jpg"
    size: tuple[int, int] | None = None  # (H, W) when the metadata gives it

    def image_path(self, frame: str) -> Path:
        if self.image_dir is None:
            raise InputError(None, f"video {self.id!r} has no frames on disk (metadata only)")
        return self.image_dir / f"{frame}{self.image_ext}"

    def frame_size(self) -> tuple[int, int]:
        """(H, W): the metadata's size if known, else read from the first frame's header."""
        if self.size is not None:
            return self.size
        if not self.frames:
            raise InputError(self.image_dir, f"video {self.id!r} lists no frames")
        return png_size(self.image_path(self.frames[0]))


@dataclass(frozen=True)
class Sample:
    """One scoring unit: one expression about one video, referring to one or more objects.

    ``obj_ids`` are opaque strings (never cast to int: ReasonVOS/VIPSeg ids are zero-padded).
    ``kind`` is ``short``/``long`` for ReasonVOS (``is_sent``), ``first-frame``/``full-video`` for
    Ref-DAVIS-17 (with ``annotator`` 1 or 2), ``None`` elsewhere. ``key`` is unique and stable
    within a benchmark and is what results files use to name the sample.
    """

    video_id: str
    exp_id: str
    text: str
    obj_ids: tuple[str, ...]
    key: str
    kind: str | None = None
    source: str | None = None
    annotator: int | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)


class Benchmark:
    """A loaded benchmark split. Subclasses implement the format-specific parts."""

    #: the name this benchmark is registered under (its ``BenchmarkSpec.name``)
    name: str = ""
    #: how predictions are encoded: "binary" (one 0/255 PNG per sample and frame) or "index"
    prediction_kind: str = "binary"

    def __init__(
        self,
        root: Path,
        split: str | None,
        videos: dict[str, Video],
        samples: list[Sample],
        has_ground_truth: bool,
        version: str | None = None,
        meta_path: Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.videos = videos
        self.samples = samples
        self.has_ground_truth = has_ground_truth
        self.version = version
        self.meta_path = meta_path
        keys = [s.key for s in samples]
        if len(set(keys)) != len(keys):
            raise InputError(meta_path, "sample keys are not unique")
        self._by_key = {s.key: s for s in samples}
        self._by_video: dict[str, list[Sample]] = {}
        for s in samples:
            self._by_video.setdefault(s.video_id, []).append(s)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name} split={self.split} version={self.version} "
            f"videos={len(self.videos)} samples={len(self.samples)}>"
        )

    @property
    def spec(self) -> BenchmarkSpec:
        """This benchmark's declaration (splits, protocols, layouts): ask it, never test ``name``."""
        from reasonvos.benchmarks.registry import get

        return get(self.name)

    def sample(self, key: str) -> Sample:
        return self._by_key[key]

    def samples_of(self, video_id: str) -> list[Sample]:
        return list(self._by_video.get(video_id, ()))

    # -- predictions ---------------------------------------------------------------------------

    def prediction_dir(self, sample: Sample) -> PurePosixPath:
        """Folder (relative to a prediction root) holding one sample's PNGs: ``<video>/<exp_id>``."""
        return PurePosixPath(sample.video_id, sample.exp_id)

    def prediction_path(self, sample: Sample, frame: str) -> PurePosixPath:
        """Relative path of one predicted mask in this benchmark's official layout."""
        return self.prediction_dir(sample) / f"{frame}.png"

    def prediction_frames(self, sample: Sample) -> Sequence[str]:
        """Frames a model must write for a sample: every frame the metadata lists."""
        return self.videos[sample.video_id].frames

    # -- ground truth --------------------------------------------------------------------------

    def scored_frames(self, sample: Sample) -> Sequence[str]:
        """Frames the benchmark's official scorer evaluates for this sample."""
        return self.videos[sample.video_id].frames

    def gt_mask(self, sample: Sample, frame: str) -> np.ndarray:
        """Boolean ground truth of one frame: the union of the sample's referred objects."""
        raise InputError(self.meta_path, f"{self.name} split {self.split!r} has no ground truth")

    def gt_masks(self, sample: Sample) -> Iterator[tuple[str, np.ndarray]]:
        """(frame, mask) for every scored frame; subclasses may decode faster in bulk."""
        for frame in self.scored_frames(sample):
            yield frame, self.gt_mask(sample, frame)

    def gt_files(self, sample: Sample) -> dict[str, Path] | None:
        """The ground-truth file of every scored frame (``frame -> path``, in scored order), for
        formats that store one mask file per frame; None where the GT is not one file per frame
        (e.g. RLE inside a JSON file) or the split has none. Exports and checks ask this instead of
        knowing each loader's folders; the masks themselves come from :meth:`gt_masks`."""
        return None

    def gt_labels(self, video_id: str, frame: str) -> np.ndarray:
        """Object-level ground truth of one frame as an integer label map (0 = background,
        255 = void where the format has it). Only for object-level (DAVIS-style) benchmarks."""
        raise InputError(self.meta_path, f"{self.name} has no object-level (index) ground truth")

    def gt_size(self, sample: Sample) -> tuple[int, int]:
        """(H, W) of the sample's ground truth / expected predictions."""
        return self.videos[sample.video_id].frame_size()
