"""Scoring protocols as classes, and the registry that maps their names to them.

A :class:`Protocol` declares, in one place:

- which predictions it reads (:attr:`Protocol.reads`) and which frames each prediction folder must
  hold (:meth:`Protocol.folders`);
- which ``--missing`` policies it can apply (:attr:`Protocol.missing_policies`);
- what ground truth it refuses (:meth:`Protocol.check_ground_truth`);
- how one video is scored (:meth:`Protocol.score_video`, what a scoring worker runs);
- how the tables are summarised (:meth:`Protocol.headline`, :meth:`Protocol.details`).

The built-in protocols:

- ``expression`` (MeViS, ReasonVOS, Ref-YouTube-VOS style): one binary mask sequence per
  sample, GT = union of the referred objects, every scored frame, mean per sample.
- ``davis-semi``: index PNGs, objects 1..max id of frame 0, frames 1..T-2, void = background.
- ``davis-unsup``: index PNGs, all frames, void excluded, Hungarian matching of at most 20
  predicted ids to the GT objects on mean (J+F)/2, missing proposals padded with empty masks.
- ``refdavis``: per-expression binary masks merged per annotator slot (exp_id = 4k + slot) into
  one index map (lowest object index wins), then ``davis-unsup`` per slot.

Which protocols a benchmark may be scored with, and its default, are part of the benchmark's
declaration (``bench.spec.protocols``, default first), not of this module.

The missing-prediction policy is applied by the scorer, once, for every protocol: ``skip`` never
reaches a protocol (the skipped samples are not handed over), and under ``empty`` the
:class:`PredictionReader` answers "empty mask" for the missing frames. Masks are decoded in the
worker, one frame at a time, so memory does not grow with video length.
"""

from __future__ import annotations

import importlib
import resource
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from reasonvos.benchmarks.model import Benchmark, Sample
from reasonvos.errors import InputError, MaskError, MissingFileError
from reasonvos.inference.runner import _relative_prediction_dir as relative_prediction_dir
from reasonvos.masks import MaskSizeError, read_png_values

from .checks import Problem, binary_mask, index_labels
from .headline_rows import PER_SAMPLE, HeadlineRows
from .metrics import BOUND_TH

if TYPE_CHECKING:
    import pandas as pd

#: the ``--missing`` policies: error (list the missing files, fail), empty (score them as empty
#: masks), skip (drop the samples that miss a file, as VideoLISA's scripts do)
MISSING_POLICIES = ("error", "empty", "skip")


@dataclass(frozen=True)
class Options:
    """Everything a worker needs besides the benchmark (small and picklable)."""

    pred_root: str
    missing: str = "error"  # error | empty | skip
    compat_decay: bool = False
    bound_th: float = BOUND_TH
    compat_r: str | None = None  # the official uint8 R of one prediction encoding (the revos protocol)
    official_rounding: bool = False  # per-sample values rounded as the official scorer rounds them


@dataclass
class VideoOutcome:
    video: str
    samples: list[dict] = field(default_factory=list)
    objects: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    start_rss_mb: float = 0.0  # the worker's peak RSS before its first task
    unscored: str | None = None  # why a video contributed nothing (reported, never silent)


@dataclass(frozen=True)
class Folder:
    """One prediction folder a protocol reads: the unit it belongs to (a sample key, or the video
    id for per-video protocols), its path under the prediction root, the frames it must hold and
    the frames it may hold."""

    key: str
    video: str
    rel: PurePosixPath
    required: tuple[str, ...]
    allowed: tuple[str, ...]


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def read_prediction(path: Path, problems: list[Problem], size: tuple[int, int] | None = None) -> np.ndarray | None:
    """Decode one prediction PNG; a missing or undecodable file becomes a Problem, not an exception.

    ``size`` (H, W) is compared with the PNG's header before it is decoded."""
    try:
        return read_png_values(path, size)
    except MissingFileError:
        problems.append(Problem("missing", str(path)))
    except MaskSizeError as e:
        problems.append(Problem("size", str(path), e.detail))
    except MaskError as e:
        cause = e.__cause__
        if isinstance(cause, OSError) and cause.errno is not None and not isinstance(cause, FileNotFoundError):
            # the system refused the read (e.g. permission denied): not a PNG that does not decode
            problems.append(Problem("unreadable", str(path), cause.strerror or e.problem))
        else:
            problems.append(Problem("decode", str(path), e.problem))
    return None


class PredictionReader:
    """Reads the predictions of one task, applying the scorer's missing-frame decision.

    ``empty`` maps a unit key to the frames that are missing and must be scored as empty masks
    (filled only under ``--missing empty``). Problems (wrong size, values, undecodable) are
    recorded in ``problems`` and the read answers ``False``.
    """

    def __init__(self, root: str | Path, empty: Mapping[str, tuple[str, ...]], problems: list[Problem]) -> None:
        self.root = Path(root)
        self.empty = {k: frozenset(v) for k, v in empty.items()}
        self.counts = {k: len(v) for k, v in empty.items()}
        self.problems = problems

    def missing_frames(self, key: str) -> int:
        """How many of the unit's frames are missing (and scored as empty)."""
        return self.counts.get(key, 0)

    def binary(self, bench: Benchmark, sample: Sample, frame: str, size: tuple[int, int]) -> np.ndarray | None | bool:
        """The sample's binary mask of ``frame``; None = empty (missing under ``empty``); False =
        a problem, recorded."""
        if frame in self.empty.get(sample.key, ()):
            return None
        path = self.root / bench.prediction_path(sample, frame)
        arr = read_prediction(path, self.problems, size)
        if arr is None:
            return False
        mask, problem = binary_mask(arr, path, size)
        if problem:
            self.problems.append(problem)
            return False
        return mask

    def labels(self, key: str, rel: PurePosixPath, frame: str, size: tuple[int, int], max_id: int,
               ) -> np.ndarray | bool:
        """An index prediction of ``frame`` in folder ``rel`` as a label map; all zeros for a
        missing frame under ``empty``; False = a problem, recorded."""
        if frame in self.empty.get(key, ()):
            return np.zeros(size, np.uint8)
        path = self.root / rel / f"{frame}.png"
        arr = read_prediction(path, self.problems, size)
        if arr is None:
            return False
        labels, problem = index_labels(arr, path, size, max_id)
        if problem:
            self.problems.append(problem)
            return False
        return labels


def _checked_frames(bench: Benchmark, video_id: str, frames: tuple[str, ...]) -> tuple[str, ...]:
    """Frame names become file names under the prediction root: one plain name each."""
    for frame in frames:
        if not frame or "/" in frame or "\0" in frame:
            raise InputError(bench.meta_path or bench.root,
                             f"video {video_id!r}: frame name {frame!r} is not a plain file name, so its "
                             "prediction would lie outside the prediction folder")
    return frames


class Protocol(ABC):
    """A scoring protocol: subclasses set the class attributes and implement the scoring."""

    #: the name ``--protocol`` takes
    name: ClassVar[str] = ""
    #: which predictions it reads: "sample" = one binary PNG per sample and frame at the
    #: benchmark's ``prediction_path``; "video" = one index PNG per video and frame at ``<video>/``
    reads: ClassVar[str] = "sample"
    #: the ``--missing`` policies it can apply
    missing_policies: ClassVar[tuple[str, ...]] = MISSING_POLICIES
    #: why a policy outside ``missing_policies`` is refused (shown to the user)
    missing_note: ClassVar[str] = ""
    #: per-sample columns this protocol adds after ``schema.SAMPLE_COLUMNS``
    extra_columns: ClassVar[tuple[str, ...]] = ()
    #: the rows :meth:`headline`'s J, F and J&F average (confidence intervals resample them)
    headline_rows: ClassVar[HeadlineRows] = PER_SAMPLE

    # -- what it reads --------------------------------------------------------------------------

    def check_ground_truth(self, bench: Benchmark) -> None:  # noqa: B027 (a hook: most protocols accept any GT)
        """Raise an InputError for ground truth this protocol would score wrongly (default: none)."""

    def required_frames(self, bench: Benchmark, frames: tuple[str, ...], sample: Sample | None) -> tuple[str, ...]:
        """Frames a prediction folder must hold (the scored ones)."""
        return tuple(bench.scored_frames(sample)) if sample is not None else frames

    def folders(self, bench: Benchmark) -> Iterator[Folder]:
        """Every prediction folder this protocol reads, in benchmark order. Ids that would place a
        folder or file outside the prediction root are refused, as ``infer`` refuses them."""
        checked: dict[str, tuple[str, ...]] = {}
        if self.reads == "video":
            for vid, video in bench.videos.items():
                frames = _checked_frames(bench, vid, tuple(video.frames))
                for owner in bench.samples_of(vid):  # the video's folder is its samples' folder
                    relative_prediction_dir(bench, owner)
                yield Folder(vid, vid, PurePosixPath(vid), self.required_frames(bench, frames, None), frames)
            return
        for sample in bench.samples:
            vid = sample.video_id
            if vid not in checked:
                checked[vid] = _checked_frames(bench, vid, tuple(bench.videos[vid].frames))
            allowed = tuple(bench.prediction_frames(sample))
            if allowed != checked[vid]:
                _checked_frames(bench, vid, allowed)
            yield Folder(sample.key, vid, relative_prediction_dir(bench, sample),
                         self.required_frames(bench, checked[vid], sample), allowed)

    # -- scoring --------------------------------------------------------------------------------

    @abstractmethod
    def score_video(self, bench: Benchmark, video_id: str, keys: list[str], reader: PredictionReader,
                    opt: Options) -> VideoOutcome:
        """Scores of the units ``keys`` of one video (all of them, for per-video protocols)."""

    # -- summary --------------------------------------------------------------------------------

    @abstractmethod
    def headline(self, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> dict[str, Any]:
        """The protocol's own summary numbers (J, F, J&F and any statistics)."""

    @abstractmethod
    def details(self, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> dict[str, Any]:
        """Notes and the breakdown, after the common numbers."""

    def summarise(self, per_sample: pd.DataFrame, per_object: pd.DataFrame, missing_samples: int,
                  missing_frames: int) -> dict[str, Any]:
        """The summary: the protocol's numbers, gIoU/cIoU, the missing counts, then the details."""
        from .results import iou_summary

        summary = self.headline(per_sample, per_object)
        summary.update(iou_summary(per_sample))
        summary.update({"missing_samples": int(missing_samples), "missing_frames": int(missing_frames),
                        "n_samples": len(per_sample)})
        summary.update(self.details(per_sample, per_object))
        return summary


# ------------------------------------------------------------------------------------ registry

from .protocol_registry import BUILTIN, get, names, register, unregister  # noqa: E402, F401  (re-exported)

_MOVED = {  # old import paths of the per-protocol code (kept for one release)
    "merge_slot": "davis_protocols", "refdavis_slot": "davis_protocols", "UnsupAccumulator": "davis_protocols",
    "VOID": "davis_protocols", "MAX_PROPOSALS": "davis_protocols", "N_SLOTS": "davis_protocols",
}


def __getattr__(attr: str) -> Any:
    if attr in _MOVED:
        return getattr(importlib.import_module(f"{__package__}.{_MOVED[attr]}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
