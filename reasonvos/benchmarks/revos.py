"""ReVOS (VISA, ECCV 2024) loader.

Layout (docs/formats.md#revos)::

    ReVOS/meta_expressions_{train,valid}_.json   note the trailing underscore
    ReVOS/mask_dict.json                         {str(anno_id): [RLE | null per frame]}, train and valid
    ReVOS/mask_dict_foreground.json              {vid: {"masks_rle": [...], "foreground_ratio": [...]}}
    ReVOS/JPEGImages/<vid>/<frame>.jpg           repacks (Sa2VA, UniPixel) drop JPEGImages/: <vid>/<frame>.jpg

Video keys contain slashes (``UVO/all/-fbscFfkh4M``), so frame folders nest. ``type_id`` 0/1/2
becomes ``Sample.kind`` ``referring``/``reasoning``/``no-target``. An expression lists its
objects in ``obj_id``/``anno_id`` (possibly empty: no target); its GT in frame *i* is the union of
the ``anno_id``s' RLEs at position *i* of the video's ``frames`` (not matched by name). The
official scorer adds the objects' masks in uint8 instead of OR-ing them, so overlapping objects
give values of 2 or more; :meth:`RevosBenchmark.gt_sum` keeps that sum for the R compatibility
modes, :meth:`RevosBenchmark.gt_mask` is the boolean union. Ids stay opaque strings.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from reasonvos.benchmarks.common import (
    check_split,
    expression_text,
    find_root,
    frame_list,
    object_rles,
    read_json_strict,
    read_meta_json,
    videos_of,
)
from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.benchmarks.registry import BenchmarkSpec
from reasonvos.errors import InputError, MaskError, MetadataError, MissingFileError
from reasonvos.fileio import require_dict
from reasonvos.report import RAISE, Abandoned, Raise, Report

SPLITS = ("valid", "train", "train_sub")
KINDS = {0: "referring", 1: "reasoning", 2: "no-target"}
MASK_DICT = "mask_dict.json"
FOREGROUND = "mask_dict_foreground.json"


def meta_name(split: str) -> str:
    """The expression file of a split (the release names end in ``_``)."""
    return f"meta_expressions_{split}_.json"


def _id_list(value: object, path: Path, where: str) -> list[str]:
    """``obj_id``/``anno_id``: a list (possibly empty) of ids, kept as strings."""
    if not isinstance(value, list):
        raise MetadataError(path, f"{where} must be a list of ids, found {type(value).__name__}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | str) or (isinstance(v, str) and not v):
            raise MetadataError(path, f"{where} must hold ids (ints or strings), found {v!r}")
        out.append(str(v))
    return out


class RevosBenchmark(Benchmark):
    """A ReVOS split; GT and foreground come from the two shared mask dicts, read on first use."""

    name = "revos"

    def __init__(self, *args, mask_dict_path: Path, foreground_path: Path, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mask_dict_path = mask_dict_path
        self.foreground_path = foreground_path
        self._dicts: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._frame_index = {vid: {f: i for i, f in enumerate(v.frames)} for vid, v in self.videos.items()}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()  # workers re-read the (large) mask dicts themselves
        state["_dicts"] = {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _dict(self, path: Path, what: str) -> dict:
        with self._lock:
            if str(path) not in self._dicts:
                if not path.is_file():
                    raise MissingFileError(path, f"ReVOS {what} not found")
                self._dicts[str(path)] = require_dict(read_json_strict(path, f"ReVOS {what}"), path, "top level")
            return self._dicts[str(path)]

    def mask_dict(self) -> dict:
        return self._dict(self.mask_dict_path, MASK_DICT)

    def foreground_dict(self) -> dict:
        return self._dict(self.foreground_path, FOREGROUND)

    def rles(self, video_id: str, anno_id: str) -> list:
        """One object's per-frame RLE list, checked against the video's frame count."""
        return object_rles(self.mask_dict(), self.mask_dict_path, anno_id, video_id, len(self.videos[video_id].frames))

    def gt_size(self, sample: Sample) -> tuple[int, int]:
        return self.videos[sample.video_id].frame_size()

    def _index(self, sample: Sample, frame: str) -> int:
        index = self._frame_index[sample.video_id].get(frame)
        if index is None:
            raise MetadataError(self.meta_path, f"video {sample.video_id} has no frame {frame!r}")
        return index

    def gt_sum(self, sample: Sample, frame: str) -> np.ndarray:
        """The official GT of one frame: the uint8 sum of the objects' masks (2+ where objects
        overlap; wraps past 255 as uint8 does). All zeros for an expression with no object."""
        index = self._index(sample, frame)
        size = self.gt_size(sample)
        total = np.zeros(size, dtype=np.uint8)
        for anno in sample.extra["anno_ids"]:
            rle = self.rles(sample.video_id, anno)[index]
            if rle is None:
                continue
            from reasonvos.masks import decode_rle

            try:
                total += decode_rle(rle, self.mask_dict_path, size=size)
            except MaskError as e:
                raise MaskError(self.mask_dict_path, f"anno_id {anno}, frame {frame}: {e.problem}") from e
        return total

    def gt_mask(self, sample: Sample, frame: str) -> np.ndarray:
        mask = np.zeros(self.gt_size(sample), dtype=bool)
        index = self._index(sample, frame)
        from reasonvos.masks import decode_rle

        for anno in sample.extra["anno_ids"]:
            rle = self.rles(sample.video_id, anno)[index]
            try:
                mask |= decode_rle(rle, self.mask_dict_path, size=mask.shape)
            except MaskError as e:
                raise MaskError(self.mask_dict_path, f"anno_id {anno}, frame {frame}: {e.problem}") from e
        return mask

    def gt_masks(self, sample: Sample) -> Iterator[tuple[str, np.ndarray]]:
        for frame in self.scored_frames(sample):
            yield frame, self.gt_mask(sample, frame)

    def foreground(self, video_id: str, frame: str) -> np.ndarray:
        """The video-level foreground of one frame as the official scorer reads it (uint8 0/1;
        a multi-part RLE list is summed in uint8, as the scorer sums an H x W x N decode)."""
        from reasonvos.masks import decode_rle

        entry = self.foreground_dict().get(video_id)
        n = len(self.videos[video_id].frames)
        if not isinstance(entry, dict) or not isinstance(entry.get("masks_rle"), list) or len(entry["masks_rle"]) != n:
            raise MetadataError(self.foreground_path,
                                f"video {video_id}: no 'masks_rle' list of {n} entries (one per frame)")
        index = self._frame_index[video_id][frame]
        rle = entry["masks_rle"][index]
        size = self.videos[video_id].frame_size()
        parts = rle if isinstance(rle, list) else [rle]
        out = np.zeros(size, dtype=np.uint8)
        for part in parts:
            try:
                out += decode_rle(part, self.foreground_path, size=size)
            except MaskError as e:
                raise MaskError(self.foreground_path, f"video {video_id}, frame {frame}: {e.problem}") from e
        return out


def _size(entry: dict, path: Path, where: str) -> tuple[int, int] | None:
    h, w = entry.get("height"), entry.get("width")
    if h is None and w is None:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (h, w)):
        raise MetadataError(path, f"{where} height/width must be positive integers, found {h!r}/{w!r}")
    return h, w


def _samples(vid: str, entry: dict, meta_path: Path, sink: Raise) -> list[Sample]:
    where = f"videos[{vid!r}]"
    exps = require_dict(entry.get("expressions"), meta_path, f"{where}['expressions']")
    samples = []
    for exp_id, exp in exps.items():
        ewhere = f"{where}['expressions'][{exp_id!r}]"
        with sink.guard() as g:
            exp = require_dict(exp, meta_path, ewhere)
            text = expression_text(exp, meta_path, ewhere, sink=sink)
            type_id = exp.get("type_id")
            if isinstance(type_id, bool) or type_id not in KINDS:
                raise MetadataError(meta_path, f"{ewhere}['type_id'] must be 0, 1 or 2, found {type_id!r}")
            anno_ids = _id_list(exp.get("anno_id", []), meta_path, f"{ewhere}['anno_id']")
            obj_ids = _id_list(exp.get("obj_id", []), meta_path, f"{ewhere}['obj_id']")
            if len(obj_ids) != len(anno_ids):
                raise MetadataError(meta_path, f"{ewhere} lists {len(obj_ids)} obj_id but {len(anno_ids)} anno_id")
            if len(set(anno_ids)) != len(anno_ids):
                raise MetadataError(meta_path, f"{ewhere} lists an anno_id twice: {anno_ids}")
        if g.failed or text is None:
            continue
        samples.append(Sample(
            video_id=vid, exp_id=str(exp_id), text=text, obj_ids=tuple(obj_ids), key=f"{vid}/{exp_id}",
            kind=KINDS[type_id], extra={"anno_ids": tuple(anno_ids), "type_id": type_id},
        ))
    return samples


def image_dir(root: Path, vid: str) -> Path | None:
    """The video's frame folder: ``JPEGImages/<vid>`` (official) or ``<vid>`` (repacks)."""
    for candidate in (root / "JPEGImages" / vid, root / vid):
        if candidate.is_dir():
            return candidate
    return None


def _find_root(root: str | Path) -> Path:
    markers = tuple(meta_name(s) for s in SPLITS)
    try:
        return find_root(root, "ReVOS", markers)
    except MissingFileError:
        return find_root(root, "revos", markers)


def load(root: str | Path, split: str | None = None, *, sink: Raise = RAISE) -> RevosBenchmark:
    """Load a ReVOS split (default ``valid``) from ``ReVOS/`` or a folder holding it.

    ``sink`` receives bad input (:mod:`reasonvos.report`): by default the first error raises.
    """
    with sink.guard() as g:
        root = _find_root(root)
        split = check_split(split, SPLITS, "valid", root, "ReVOS")
        meta_path = root / meta_name(split)
        if not os.path.lexists(meta_path):  # something else there is named by the reader below
            raise MissingFileError(meta_path, f"ReVOS {split} expression file not found")
    if g.failed:
        raise Abandoned("ReVOS split not found")
    videos_meta = videos_of(read_meta_json(meta_path, "ReVOS expression file", sink), meta_path, sink)
    for name in (MASK_DICT, FOREGROUND):
        if not (root / name).is_file():
            sink.fatal(MissingFileError, root / name, f"ReVOS {name} not found")
    videos: dict[str, Video] = {}
    samples: list[Sample] = []
    for vid, entry in videos_meta.items():
        where = f"videos[{vid!r}]"
        with sink.guard() as g:
            entry = require_dict(entry, meta_path, where)
            frames = frame_list(entry, meta_path, where, sink)
            if frames is not None:
                size = _size(entry, meta_path, where)
                video = Video(id=vid, frames=frames, image_dir=image_dir(root, vid), size=size)
                samples.extend(_samples(vid, entry, meta_path, sink))
                videos[vid] = video
    return RevosBenchmark(root, split, videos, samples, has_ground_truth=True, meta_path=meta_path,
                          mask_dict_path=root / MASK_DICT, foreground_path=root / FOREGROUND)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_checksums(bench: RevosBenchmark, report: Report) -> None:
    """The release files present against their published sha256s; the expression files replaced on
    2024-07-13 are named as such (an older copy scores other expressions)."""
    from reasonvos.acquire.sources import get_source

    source = get_source("revos")
    old = {name: prefix for entry in source.superseded for name, prefix in entry.get("sha256_prefixes", {}).items()}
    for entry in source.variant().files:
        path = bench.root / entry.name
        if entry.archive or entry.sha256 is None or not path.is_file():
            continue
        try:
            digest = _sha256(path)
        except OSError as e:
            report.error("unreadable", path, f"cannot read ({e.strerror or e})")
            continue
        if digest == entry.sha256:
            continue
        if entry.name in old and digest.startswith(old[entry.name]):
            report.warn("superseded", path, "the expression file of the release before 2024-07-13 (sha256 "
                        f"{digest[:8]}...); the current one hashes to {entry.sha256[:8]}...")
        else:
            report.warn("checksum", path, f"sha256 {digest[:12]}... is not the published {entry.sha256[:12]}... "
                        "(a modified or partial copy)")


def _check_foreground(bench: RevosBenchmark, report: Report) -> None:
    """Every video has a foreground entry with one RLE and one ratio per frame, at the video's size."""
    try:
        fg = bench.foreground_dict()
    except InputError as e:
        report.error("metadata", e.path, e.problem)
        return
    path = bench.foreground_path
    for vid, video in bench.videos.items():
        entry = fg.get(vid)
        n = len(video.frames)
        if not isinstance(entry, dict):
            report.error("foreground", path, f"video {vid!r} has no foreground entry (R cannot be computed)")
            continue
        for field in ("masks_rle", "foreground_ratio"):
            value = entry.get(field)
            if not isinstance(value, list) or len(value) != n:
                found = f"{len(value)} entries" if isinstance(value, list) else "none"
                report.error("foreground", path, f"video {vid!r}: {field} has {found}, the video lists {n} frames")
        rles = entry.get("masks_rle")
        if video.size is not None and isinstance(rles, list):
            for i, rle in enumerate(rles):
                parts = rle if isinstance(rle, list) else [rle]
                if any(not isinstance(p, dict) or p.get("size") != list(video.size) for p in parts):
                    report.error("mask-size", path, f"video {vid!r}, frame {i}: foreground RLE is not "
                                 f"{video.size[0]}x{video.size[1]} (the video's height x width), or not an RLE")
                    break


def _check_mask_dict(bench: RevosBenchmark, report: Report) -> None:
    """Every referred ``anno_id`` is in the mask dict with one entry per frame, each null or an RLE
    of the video's height x width (checked on the RLE headers, without decoding)."""
    try:
        masks = bench.mask_dict()
    except InputError as e:
        report.error("metadata", e.path, e.problem)
        return
    seen: set[str] = set()
    for s in bench.samples:
        video = bench.videos[s.video_id]
        for anno in s.extra["anno_ids"]:
            if anno in seen:
                continue
            seen.add(anno)
            try:
                entries = bench.rles(s.video_id, anno)
            except InputError as e:
                report.error("dangling-reference" if anno not in masks else "mask-dict", e.path, e.problem)
                continue
            if video.size is None:
                continue
            for frame, rle in zip(video.frames, entries, strict=True):
                if rle is not None and (not isinstance(rle, dict) or rle.get("size") != list(video.size)):
                    found = rle.get("size") if isinstance(rle, dict) else type(rle).__name__
                    report.error("mask-size", bench.mask_dict_path, f"anno_id {anno}, frame {frame}: RLE size "
                                 f"{found}, the video is {video.size[0]}x{video.size[1]}")
                    break


def checks(bench: RevosBenchmark, report: Report) -> None:
    """Validation beyond the loader and the generic frame/GT checks: checksums, the foreground
    dict, frames missing under both layouts, unsorted ``frames`` and the known TAO misalignment."""
    _check_checksums(bench, report)
    _check_mask_dict(bench, report)
    _check_foreground(bench, report)
    tao = 0
    for vid, video in bench.videos.items():
        if video.image_dir is None:
            report.error("missing-frame", bench.root / "JPEGImages" / vid,
                         f"video {vid!r} has no frame folder (neither JPEGImages/{vid} nor {vid})")
        if list(video.frames) != sorted(video.frames):
            report.warn("frame-order", bench.meta_path, f"video {vid!r}: 'frames' is not sorted; the official "
                        "scorer indexes mask_dict in this order, while the VISA/Sa2VA loaders sort it")
        if vid.split("/", 1)[0].upper() == "TAO":
            tao += 1
    if tao:
        report.warn("known-issue", bench.meta_path, f"{tao} TAO videos: their masks are known to be misaligned "
                    "with the frames (mask i fits frame 30*i; VISA issue #9, open)")


def present_splits(root: Path) -> list[str | None]:
    """The splits whose expression file this copy holds (anything at its path counts, so that
    the loader names what is wrong with a FIFO or a folder there)."""
    try:
        base = _find_root(root)
    except InputError:
        return []
    return [s for s in SPLITS if os.path.lexists(base / meta_name(s))]


SPEC = BenchmarkSpec(
    name="revos", display_name="ReVOS", load=load,
    splits=SPLITS, default_split="valid",
    protocols=("revos", "expression"), present_splits=present_splits,
    instruction_style="reasoning", sentence_kinds=("reasoning",),
    source_name="revos", extra_checks=checks,
    description="reasoning video object segmentation with referring, reasoning and no-target expressions (ECCV 2024)",
)
