"""Ref-YouTube-VOS (URVOS, ECCV 2020) loader.

Layout (docs/formats.md#ref-youtube-vos-layout)::

    ref-youtube-vos/meta_expressions/{train,valid,test}/meta_expressions.json
    ref-youtube-vos/train/{JPEGImages,Annotations}/<vid>/<NNNNN>.{jpg,png}, train/meta.json
    ref-youtube-vos/valid/JPEGImages/<vid>/<NNNNN>.jpg

Traps handled here:
- ``meta_expressions/valid`` lists 507 videos = the 202 of the competition valid split plus the
  305 test videos. The valid split is the listed videos that have a ``valid/JPEGImages`` folder;
  the re-hosted ``meta_expressions/test`` file, when present, names the test videos (and is the
  only way to split them when the JPEGs are absent). How many were excluded is recorded.
- Frame names come from the metadata only: some videos start late or have gaps.
- Train ``obj_id`` is a string key into ``train/meta.json`` and the pixel value in the palette
  PNG (read as palette indices). Valid expressions have no ``obj_id`` and no public GT.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from reasonvos.acquire.sources import published_counts
from reasonvos.benchmarks.common import (
    check_frames_on_disk,
    check_split,
    check_unlisted_folders,
    expression_text,
    find_root,
    frame_list,
    read_meta_json,
    videos_of,
)
from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.benchmarks.registry import BenchmarkSpec
from reasonvos.errors import MaskError, MetadataError, MissingFileError
from reasonvos.fileio import require_dict
from reasonvos.masks import png_size, read_index_png
from reasonvos.report import RAISE, Abandoned, Raise, Report

SPLITS = ("train", "valid")
#: size of the competition valid split (MTTR, ReferFormer, VISA all assert it on the real data)
EXPECTED_VALID_VIDEOS = 202
#: videos the real ``meta_expressions/valid`` file lists (valid 202 + test 305)
LISTED_VALID_VIDEOS = 507
META_DRIVE_FOLDER = "1-gKWVtHYXG8FwaeTz5jhc0V8JDozx-84"  # ReferFormer's re-hosted train/meta.json


def meta_expressions_path(root: Path, split: str) -> Path:
    return root / "meta_expressions" / split / "meta_expressions.json"


class RefYTVOSBenchmark(Benchmark):
    """A Ref-YTVOS split. Train GT: ``Annotations/<vid>/<frame>.png`` == int(obj_id)."""

    name = "refytvos"

    def __init__(
        self, *args, annotation_root: Path | None = None, excluded_test_videos: tuple[str, ...] = (),
        listed_videos: int = 0, **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.annotation_root = annotation_root
        #: videos of the valid meta left out because they belong to the test split
        self.excluded_test_videos = excluded_test_videos
        self.excluded_test_count = len(excluded_test_videos)
        #: how many videos the expression file lists (valid: 507 on the real data)
        self.listed_videos = listed_videos
        self._sizes: dict[str, tuple[int, int]] = {}

    def annotation_path(self, video_id: str, frame: str) -> Path:
        if self.annotation_root is None:
            raise MetadataError(self.meta_path, f"Ref-YTVOS split {self.split!r} has no ground truth")
        return self.annotation_root / video_id / f"{frame}.png"

    def gt_files(self, sample: Sample) -> dict[str, Path] | None:
        """Train: one palette PNG per frame (value = object id); valid has no GT."""
        if self.annotation_root is None:
            return None
        return {f: self.annotation_path(sample.video_id, f) for f in self.scored_frames(sample)}

    def gt_labels(self, video_id: str, frame: str) -> np.ndarray:
        """The palette PNG as object ids (0 = background)."""
        return read_index_png(self.annotation_path(video_id, frame))

    def gt_mask(self, sample: Sample, frame: str) -> np.ndarray:
        if not self.has_ground_truth:
            return super().gt_mask(sample, frame)
        labels = self.gt_labels(sample.video_id, frame)
        size = self.gt_size(sample)
        if labels.shape != size:
            raise MaskError(self.annotation_path(sample.video_id, frame), f"size {labels.shape[0]}x{labels.shape[1]} "
                            f"differs from the video's frame size {size[0]}x{size[1]}")
        return np.isin(labels, [int(o) for o in sample.obj_ids])

    def gt_size(self, sample: Sample) -> tuple[int, int]:
        """(H, W) of the video's first JPEG (first annotation PNG when there are no JPEGs); cached."""
        video = self.videos[sample.video_id]
        if video.id not in self._sizes:
            if video.image_dir is None and self.annotation_root is not None:
                self._sizes[video.id] = png_size(self.annotation_path(video.id, video.frames[0]))
            else:
                self._sizes[video.id] = video.frame_size()
        return self._sizes[video.id]


def _expressions(
    vid: str, entry: dict, path: Path, objects: dict | None, objects_path: Path | None, sink: Raise = RAISE,
) -> list[Sample]:
    where = f"videos[{vid!r}]"
    exps = require_dict(entry.get("expressions"), path, f"{where}['expressions']")
    samples = []
    for exp_id, exp in exps.items():
        ewhere = f"{where}['expressions'][{exp_id!r}]"
        with sink.guard() as g:
            exp = require_dict(exp, path, ewhere)
            text = expression_text(exp, path, ewhere, sink=sink)
            obj_ids: tuple[str, ...] = ()
            if objects is not None:
                if "obj_id" not in exp:
                    raise MetadataError(path, f"{ewhere} has no 'obj_id'")
                obj = str(exp["obj_id"])
                if obj not in objects:
                    raise MetadataError(objects_path, f"object {obj!r} of {ewhere} is not in videos[{vid!r}]['objects']")
                if not obj.isdigit():
                    raise MetadataError(path, f"{ewhere} has obj_id {obj!r}, which is not a palette index")
                obj_ids = (obj,)
        if g.failed or text is None:
            continue
        samples.append(Sample(video_id=vid, exp_id=str(exp_id), text=text, obj_ids=obj_ids, key=f"{vid}/{exp_id}"))
    return samples


def _load_valid(root: Path, sink: Raise) -> RefYTVOSBenchmark:
    meta_path = meta_expressions_path(root, "valid")
    listed = videos_of(read_meta_json(meta_path, "Ref-YTVOS valid expression file", sink), meta_path, sink)
    test_path = meta_expressions_path(root, "test")
    test_ids = set(videos_of(read_meta_json(test_path, "Ref-YTVOS test expression file", sink), test_path, sink)) \
        if test_path.is_file() else None
    jpeg_root = root / "valid" / "JPEGImages"
    if not jpeg_root.is_dir() and test_ids is None:
        sink.fatal(
            MissingFileError, jpeg_root, "valid JPEGs not found, and there is no "
            "meta_expressions/test/meta_expressions.json to tell the valid videos from the test videos the valid "
            "meta also lists",
        )
    videos: dict[str, Video] = {}
    samples: list[Sample] = []
    excluded: list[str] = []
    for vid, entry in listed.items():
        with sink.guard() as g:
            entry = require_dict(entry, meta_path, f"videos[{vid!r}]")
            frames = frame_list(entry, meta_path, f"videos[{vid!r}]", sink)
            if frames is None:
                continue
            folder = jpeg_root / vid
            if test_ids is not None and vid in test_ids:
                excluded.append(vid)
                continue
            if not jpeg_root.is_dir():
                image_dir = None
            elif folder.is_dir():
                check_frames_on_disk(folder, frames, ".jpg", "JPEG")
                image_dir = folder
            elif test_ids is None:
                excluded.append(vid)  # no JPEGs and no test list: counted as a test video
                continue
            else:
                raise MissingFileError(folder, f"video {vid} is in the valid meta, not in the test meta, and has no "
                                       "frames")
            video_samples = _expressions(vid, entry, meta_path, None, None, sink)
        if g.failed:
            continue
        videos[vid] = Video(id=vid, frames=frames, image_dir=image_dir)
        samples.extend(video_samples)
    if test_ids is None and len(listed) == LISTED_VALID_VIDEOS and len(videos) != EXPECTED_VALID_VIDEOS:
        # the real file, split by JPEG folders only: a missing folder would pass for a test video
        sink.error(
            MissingFileError, jpeg_root, f"{len(videos)} of the {len(listed)} listed videos have JPEG folders, but "
            f"the valid split has {EXPECTED_VALID_VIDEOS}: the extraction is incomplete (or add "
            "meta_expressions/test/meta_expressions.json to tell the splits apart)",
        )
    check_unlisted_folders(jpeg_root, listed, sink, "JPEG")
    return RefYTVOSBenchmark(
        root, "valid", videos, samples, has_ground_truth=False, version=None, meta_path=meta_path,
        excluded_test_videos=tuple(excluded), listed_videos=len(listed),
    )


def _load_train(root: Path, sink: Raise) -> RefYTVOSBenchmark:
    meta_path = meta_expressions_path(root, "train")
    listed = videos_of(read_meta_json(meta_path, "Ref-YTVOS train expression file", sink), meta_path, sink)
    objects_path = root / "train" / "meta.json"
    if not objects_path.is_file():
        sink.fatal(
            MissingFileError, objects_path, "train/meta.json not found (removed from the official download; "
            f"ReferFormer re-hosts it in Google Drive folder {META_DRIVE_FOLDER})",
        )
    objects_meta = videos_of(read_meta_json(objects_path, "YouTube-VOS meta.json", sink), objects_path, sink)
    ann_root = root / "train" / "Annotations"
    videos: dict[str, Video] = {}
    samples: list[Sample] = []
    for vid, entry in listed.items():
        where = f"videos[{vid!r}]"
        with sink.guard() as g:
            entry = require_dict(entry, meta_path, where)
            frames = frame_list(entry, meta_path, where, sink)
            if frames is None:
                continue
            if vid not in objects_meta:
                raise MetadataError(objects_path, f"video {vid} of the train expressions is not in meta.json")
            vobj = require_dict(objects_meta[vid], objects_path, where)
            objects = require_dict(vobj.get("objects"), objects_path, f"{where}['objects']")
            check_frames_on_disk(ann_root / vid, frames, ".png", "annotation")
            image_dir = root / "train" / "JPEGImages" / vid
            video_samples = _expressions(vid, entry, meta_path, objects, objects_path, sink)
        if g.failed:
            continue
        videos[vid] = Video(id=vid, frames=frames, image_dir=image_dir if image_dir.is_dir() else None)
        samples.extend(video_samples)
    check_unlisted_folders(root / "train" / "JPEGImages", listed, sink, "JPEG")
    return RefYTVOSBenchmark(
        root, "train", videos, samples, has_ground_truth=True, version=None, meta_path=meta_path,
        annotation_root=ann_root, listed_videos=len(listed),
    )


def load(root: str | Path, split: str | None = None, *, sink: Raise = RAISE) -> RefYTVOSBenchmark:
    """Load Ref-YTVOS ``valid`` (default; 202 videos on the real data, no GT) or ``train``.

    ``sink`` receives bad input (:mod:`reasonvos.report`): by default the first error raises.
    """
    with sink.guard() as g:
        root = find_root(root, "ref-youtube-vos", ("meta_expressions", "valid", "train"))
        split = check_split(split, SPLITS, "valid", root, "Ref-YouTube-VOS")
    if g.failed:
        raise Abandoned("Ref-YTVOS split not found")
    return _load_valid(root, sink) if split == "valid" else _load_train(root, sink)


def checks(bench: RefYTVOSBenchmark, report: Report) -> None:
    """Validation: how the valid meta was split (507 listed = 202 valid + 305 test on the real
    data), and counts compared with the published ones."""
    if bench.split == "valid":
        report.facts["valid meta"] = (f"lists {bench.listed_videos} videos; {bench.excluded_test_count} test videos "
                                      "excluded")
    observed = {"videos": len(bench.videos), "expressions": len(bench.samples)}
    report.compare_counts(observed, published_counts("refytvos", bench.split), str(bench.meta_path))


def present_splits(root: Path) -> list[str | None]:
    """The splits whose ``meta_expressions/<split>/meta_expressions.json`` this copy holds.

    Anything at that path counts (a FIFO, a folder, a dangling link), so that the loader names what
    is wrong with it instead of the split looking absent."""
    bases = (Path(root), Path(root) / "ref-youtube-vos")
    return [s for s in SPLITS
            if any(os.path.lexists(b / "meta_expressions" / s / "meta_expressions.json") for b in bases)]


SPEC = BenchmarkSpec(
    name="refytvos", display_name="Ref-YouTube-VOS", load=load,
    splits=SPLITS, default_split="valid",
    protocols=("expression",), present_splits=present_splits,
    submission_prefix="Annotations", server_splits=("valid",),
    instruction_style="referring", source_name="refytvos", extra_checks=checks,
    description="referring video object segmentation on YouTube-VOS (URVOS, ECCV 2020)",
)
