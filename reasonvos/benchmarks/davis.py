"""Plain DAVIS-layout loader: any folder of index (palette) PNGs, for classic VOS scoring.

Accepted roots:
- a folder holding ``<video>/<frame>.png`` directly (what ``score davis --gt`` takes), or
- a DAVIS root with ``Annotations/480p/<video>/`` (or ``Annotations_unsupervised/480p``, or
  either without ``480p``), optional ``ImageSets/2017/<split>.txt`` and ``JPEGImages/480p``.
  The parent of a ``DAVIS/`` folder is accepted too.

There are no expressions: one Sample per video (``exp_id`` "", ``key`` = video id) whose
``obj_ids`` are the ids present anywhere in the video (0 = background and 255 = void excluded;
found by reading every PNG at load time, which also proves they decode). Scoring does not need
them (the DAVIS protocols define their objects from the labels: 1..max id of frame 0 for
davis-semi, every id for davis-unsup), so ``scan_objects=False`` skips that pass: ``obj_ids`` is
then empty and only the first PNG's header is read. Frames are the PNG names, sorted.
Predictions use the same layout, ``<video>/<frame>.png`` index PNGs.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from reasonvos.benchmarks.common import list_stems, read_lines
from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.benchmarks.registry import BenchmarkSpec
from reasonvos.errors import MaskError, MetadataError, MissingFileError
from reasonvos.masks import png_size, read_index_png
from reasonvos.report import RAISE, Abandoned, Raise

VOID = 255
ANNOTATION_FOLDERS = ("Annotations", "Annotations_unsupervised")


class DavisBenchmark(Benchmark):
    """One sample per video; GT labels straight from the index PNGs."""

    name = "davis"
    prediction_kind = "index"

    def __init__(self, *args, annotation_root: Path, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.annotation_root = annotation_root

    def label_path(self, video_id: str, frame: str) -> Path:
        return self.annotation_root / video_id / f"{frame}.png"

    def prediction_dir(self, sample: Sample) -> PurePosixPath:
        """DAVIS results hold one index PNG per frame directly in ``<video>/``."""
        return PurePosixPath(sample.video_id)

    def gt_files(self, sample: Sample) -> dict[str, Path]:
        """One index PNG per frame (value = object id, 255 = void)."""
        return {f: self.label_path(sample.video_id, f) for f in self.scored_frames(sample)}

    def gt_labels(self, video_id: str, frame: str) -> np.ndarray:
        return read_index_png(self.label_path(video_id, frame))

    def gt_mask(self, sample: Sample, frame: str) -> np.ndarray:
        """Union of the sample's objects (all objects of the video)."""
        return np.isin(self.gt_labels(sample.video_id, frame), [int(o) for o in sample.obj_ids])


def find_annotations(root: Path, annotations: str | None = None) -> tuple[Path, Path | None]:
    """(folder holding ``<video>/`` PNG folders, DAVIS root or None for a flat folder)."""
    names = ANNOTATION_FOLDERS if annotations is None else (annotations,)
    for base in (root, root / "DAVIS"):
        for name in names:
            for folder in (base / name / "480p", base / name):
                if folder.is_dir():
                    return folder, base
    if annotations is not None:
        raise MissingFileError(root / annotations / "480p", "DAVIS annotation folder not found")
    if not root.is_dir():
        raise MissingFileError(root, "DAVIS folder not found")
    if not any(p.is_dir() and any(p.glob("*.png")) for p in root.iterdir()):
        raise MissingFileError(
            root, "no DAVIS annotations: expected <video>/<frame>.png folders or Annotations/480p/<video>/",
        )
    return root, None


def _present_ids(labels: np.ndarray) -> list[int]:
    """Label values present in a frame; a histogram is ~10x faster than np.unique for uint8."""
    if labels.dtype == np.uint8:
        return np.flatnonzero(np.bincount(labels.ravel(), minlength=256)).tolist()
    return np.unique(labels).tolist()


def scan_video(folder: Path) -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, int]]:
    """(frames, object ids present, (H, W)) of one video's PNG folder; every PNG is decoded."""
    frames = tuple(list_stems(folder, ".png"))
    if not frames:
        raise MissingFileError(folder, "video folder holds no PNG frames")
    ids: set[int] = set()
    size = None
    for frame in frames:
        labels = read_index_png(folder / f"{frame}.png")
        if size is None:
            size = labels.shape
        elif labels.shape != size:
            raise MaskError(folder / f"{frame}.png", f"size {labels.shape[0]}x{labels.shape[1]} differs from the "
                            f"video's first frame ({size[0]}x{size[1]})")
        ids.update(_present_ids(labels))
    obj_ids = tuple(str(i) for i in sorted(ids - {0, VOID}))
    return frames, obj_ids, (int(size[0]), int(size[1]))


def load(root: str | Path, split: str | None = None, annotations: str | None = None,
         scan_objects: bool = True, *, sink: Raise = RAISE) -> DavisBenchmark:
    """Load every video of a DAVIS-layout folder, or those of ``ImageSets/2017/<split>.txt``.

    ``annotations`` forces ``"Annotations"`` or ``"Annotations_unsupervised"`` when both exist
    (default: ``Annotations`` first). ``scan_objects=False`` leaves ``obj_ids`` empty instead of
    decoding every PNG (scoring derives the objects itself). ``sink`` receives bad input
    (:mod:`reasonvos.report`): by default the first error raises.
    """
    root = Path(root)
    with sink.guard() as g:
        ann_root, davis_root = find_annotations(root, annotations)
        list_path = None
        if split is not None:
            if davis_root is None:
                raise MetadataError(root, f"split {split!r} needs a DAVIS root with ImageSets/2017/{split}.txt")
            list_path = davis_root / "ImageSets" / "2017" / f"{split}.txt"
            video_ids = read_lines(list_path, f"DAVIS {split} list")
        else:
            video_ids = sorted(p.name for p in ann_root.iterdir() if p.is_dir() and not p.name.startswith("."))
            if not video_ids:
                raise MissingFileError(ann_root, "no video folders")
    if g.failed:
        raise Abandoned("no DAVIS annotations")
    videos: dict[str, Video] = {}
    samples: list[Sample] = []
    for vid in video_ids:
        folder = ann_root / vid
        with sink.guard() as g:
            if not folder.is_dir():
                raise MissingFileError(folder, f"annotation folder of video {vid!r} not found")
            if scan_objects:
                frames, obj_ids, size = scan_video(folder)
            else:
                frames, obj_ids = tuple(list_stems(folder, ".png")), ()
                if not frames:
                    raise MissingFileError(folder, "video folder holds no PNG frames")
                size = png_size(folder / f"{frames[0]}.png")
        if g.failed:
            continue
        image_dir = davis_root / "JPEGImages" / "480p" / vid if davis_root is not None else None
        videos[vid] = Video(
            id=vid, frames=frames, image_dir=image_dir if image_dir and image_dir.is_dir() else None, size=size,
        )
        samples.append(Sample(video_id=vid, exp_id="", text="", obj_ids=obj_ids, key=vid))
    return DavisBenchmark(
        davis_root or ann_root, split, videos, samples, has_ground_truth=True, meta_path=list_path, annotation_root=ann_root,
    )


def present_splits(root: Path) -> list[str | None]:
    """Any DAVIS-layout folder is read whole (an ImageSets list is used only when a split is named)."""
    return [None]


SPEC = BenchmarkSpec(
    name="davis", display_name="DAVIS", load=load,
    splits=(None, "train", "val"), default_split=None,
    protocols=("davis-semi", "davis-unsup"), present_splits=present_splits,
    prediction_kind="index", instruction_style=None, source_name=None,
    # the DAVIS protocols find their objects in the labels while scoring: no pre-scan of every PNG
    score_load_options={"scan_objects": False}, gt_folder_root=True,
    description="any folder in DAVIS layout (index PNGs per video), scored as plain VOS",
)
