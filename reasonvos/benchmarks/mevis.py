"""MeViS (ICCV 2023; v2 TPAMI 2025) loader.

Layout (docs/formats.md#mevis-layout)::

    mevis/<split>/meta_expressions.json        v1 name   (v2 on Hugging Face: meta_expressions_v2.json)
    mevis/<split>/mask_dict.json               train and valid_u only: {str(anno_id): [RLE | null per frame]}
    mevis/<split>/JPEGImages/<vid>/<NNNNN>.jpg

Splits: ``train``, ``valid_u`` (public GT, the default) and ``valid`` (server-scored, no GT).
An expression may refer to several objects (``obj_id``/``anno_id`` lists): its GT is the union
of their masks, and ``null`` means the object is absent in that frame. ``anno_id`` is an int in
the meta but a string key in ``mask_dict.json``. The mask dict is large (411 MB for train), so
it is parsed once per Benchmark on first use and never at load time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from reasonvos.acquire.sources import published_counts
from reasonvos.benchmarks.common import (
    check_split,
    check_unlisted_folders,
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
from reasonvos.masks import decode_rle, rle_size
from reasonvos.report import RAISE, Abandoned, Raise, Report

SPLITS = ("train", "valid_u", "valid")
GT_SPLITS = ("train", "valid_u")
META_FILES = {"v1": "meta_expressions.json", "v2": "meta_expressions_v2.json"}


def _id_list(value: object, path: Path, where: str) -> list[str]:
    """``obj_id``/``anno_id`` as a list of strings (accepting a single int or str too)."""
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int | str) or (isinstance(v, str) and not v):
            raise MetadataError(path, f"{where} must be an id or a list of ids, found {v!r}")
        out.append(str(v))
    return out


def choose_meta(split_dir: Path, version: str | None) -> tuple[Path, str, str | None]:
    """(meta path, "v1"/"v2", note). Without ``version`` the file present is read; with both
    present v1 is read (the version papers quote) and the note says so."""
    if version is not None:
        if version not in META_FILES:
            raise MetadataError(split_dir, f"unknown MeViS version {version!r}; use 'v1' or 'v2'")
        path = split_dir / META_FILES[version]
        if not path.is_file():
            raise MissingFileError(path, f"MeViS {version} expression file not found")
        return path, version, None
    v1, v2 = (split_dir / META_FILES[v] for v in ("v1", "v2"))
    if v1.is_file():
        note = "both v1 and v2 expression files present; read v1 (pass version='v2' for v2)" if v2.is_file() else None
        return v1, "v1", note
    if v2.is_file():
        return v2, "v2", None
    raise MissingFileError(v1, f"MeViS expression file not found (neither {v1.name} nor {v2.name})")


class MevisBenchmark(Benchmark):
    """MeViS split; GT comes from ``mask_dict.json``, decoded one frame at a time."""

    name = "mevis"

    def __init__(self, *args, mask_dict_path: Path | None, version_note: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mask_dict_path = mask_dict_path
        self.version_note = version_note
        self._mask_dict: dict | None = None
        self._mask_dict_error: InputError | None = None
        self._lock = threading.Lock()
        self._sizes: dict[str, tuple[int, int]] = {}
        self._frame_index = {vid: {f: i for i, f in enumerate(v.frames)} for vid, v in self.videos.items()}
        self._video_annos: dict[str, dict[str, None]] = {vid: {} for vid in self.videos}
        for s in self.samples:
            self._video_annos[s.video_id].update(dict.fromkeys(s.extra["anno_ids"]))

    def __getstate__(self) -> dict:
        # Workers re-read the mask dict themselves rather than receive a pickled 411 MB dict.
        state = self.__dict__.copy()
        state["_mask_dict"] = None
        state["_mask_dict_error"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def mask_dict(self) -> dict:
        """The parsed ``mask_dict.json`` (read once, on first use)."""
        if self.mask_dict_path is None:
            raise MetadataError(self.meta_path, f"MeViS split {self.split!r} has no ground truth")
        with self._lock:
            if self._mask_dict_error is not None:
                raise self._mask_dict_error  # a 411 MB file that failed once is not parsed again per sample
            if self._mask_dict is None:
                path = self.mask_dict_path
                try:
                    # a repeated anno_id would silently keep the last RLE list: refused, naming the key
                    value = read_json_strict(path, "MeViS mask_dict.json")
                except MetadataError as e:
                    if "not valid JSON" in e.problem:
                        e = MetadataError(path, f"{e.problem}; check its sha256")
                    self._mask_dict_error = e
                    raise e from None
                except InputError as e:
                    self._mask_dict_error = e
                    raise
                self._mask_dict = require_dict(value, path, "top level")
            return self._mask_dict

    def rles(self, video_id: str, anno_id: str) -> list:
        """One object's per-frame RLE list, checked against the video's frame count."""
        return object_rles(self.mask_dict(), self.mask_dict_path, anno_id, video_id, len(self.videos[video_id].frames))

    def video_size(self, video_id: str) -> tuple[int, int]:
        """(H, W) from the first non-null RLE of any of the video's objects, else its first JPEG."""
        if video_id not in self._sizes:
            size = None
            if self.mask_dict_path is not None:
                for anno in self._video_annos[video_id]:
                    rle = next((r for r in self.rles(video_id, anno) if r is not None), None)
                    if rle is not None:
                        try:
                            size = rle_size(rle, self.mask_dict_path)
                        except MaskError as e:
                            raise MaskError(self.mask_dict_path, f"anno_id {anno}: {e.problem}") from e
                        break
            self._sizes[video_id] = size or self.videos[video_id].frame_size()
        return self._sizes[video_id]

    def gt_size(self, sample: Sample) -> tuple[int, int]:
        return self.video_size(sample.video_id)

    def gt_mask(self, sample: Sample, frame: str) -> np.ndarray:
        if not self.has_ground_truth:
            return super().gt_mask(sample, frame)
        index = self._frame_index[sample.video_id].get(frame)
        if index is None:
            raise MetadataError(self.meta_path, f"video {sample.video_id} has no frame {frame!r}")
        size = self.gt_size(sample)
        mask = np.zeros(size, dtype=bool)
        for anno in sample.extra["anno_ids"]:
            rle = self.rles(sample.video_id, anno)[index]
            try:
                mask |= decode_rle(rle, self.mask_dict_path, size=size)
            except MaskError as e:
                raise MaskError(self.mask_dict_path, f"anno_id {anno}, frame {frame}: {e.problem}") from e
        return mask

    def gt_masks(self, sample: Sample) -> Iterator[tuple[str, np.ndarray]]:
        for frame in self.scored_frames(sample):
            yield frame, self.gt_mask(sample, frame)


def _samples(vid: str, entry: dict, meta_path: Path, split: str, has_gt: bool, sink: Raise) -> list[Sample]:
    """The samples of one video's expressions (a collecting sink skips the broken ones)."""
    where = f"videos[{vid!r}]"
    exps = require_dict(entry.get("expressions"), meta_path, f"{where}['expressions']")
    samples = []
    for exp_id, exp in exps.items():
        ewhere = f"{where}['expressions'][{exp_id!r}]"
        with sink.guard() as g:
            exp = require_dict(exp, meta_path, ewhere)
            text = expression_text(exp, meta_path, ewhere, sink=sink)
            if has_gt:
                if "anno_id" not in exp:
                    raise MetadataError(meta_path, f"{ewhere} has no 'anno_id' ({split} has ground truth)")
                anno_ids = _id_list(exp["anno_id"], meta_path, f"{ewhere}['anno_id']")
                if len(set(anno_ids)) != len(anno_ids):
                    raise MetadataError(meta_path, f"{ewhere} lists an anno_id twice: {anno_ids}")
                obj_ids = _id_list(exp.get("obj_id", []), meta_path, f"{ewhere}['obj_id']")
            else:
                anno_ids = []
                obj_ids = [o for o in _id_list(exp.get("obj_id", []), meta_path, ewhere) if o != "-1"]
        if g.failed or text is None:
            continue
        samples.append(Sample(
            video_id=vid, exp_id=str(exp_id), text=text, obj_ids=tuple(obj_ids),
            key=f"{vid}/{exp_id}", extra={"anno_ids": tuple(anno_ids)},
        ))
    return samples


def load(root: str | Path, split: str | None = None, version: str | None = None, *,
         sink: Raise = RAISE) -> MevisBenchmark:
    """Load a MeViS split (default ``valid_u``) from ``mevis/`` or a folder holding it.

    ``version`` picks the expression file ("v1" ``meta_expressions.json``, "v2"
    ``meta_expressions_v2.json``); without it the one present is read, v1 when both are.
    ``sink`` receives bad input (:mod:`reasonvos.report`): by default the first error raises.
    """
    with sink.guard() as g:
        root = find_root(root, "mevis", SPLITS)
        split = check_split(split, SPLITS, "valid_u", root, "MeViS")
        split_dir = root / split
        if not split_dir.is_dir():
            raise MissingFileError(split_dir, f"MeViS split folder {split!r} not found")
        meta_path, version_used, note = choose_meta(split_dir, version)
        has_gt = split in GT_SPLITS
        mask_dict_path = split_dir / "mask_dict.json" if has_gt else None
    if g.failed:
        raise Abandoned("MeViS split not found")
    videos_meta = videos_of(read_meta_json(meta_path, "MeViS expression file", sink), meta_path, sink)
    if mask_dict_path is not None and not mask_dict_path.is_file():
        sink.fatal(MissingFileError, mask_dict_path, f"MeViS {split} mask_dict.json not found")
    videos: dict[str, Video] = {}
    samples: list[Sample] = []
    for vid, entry in videos_meta.items():
        where = f"videos[{vid!r}]"
        with sink.guard() as g:
            entry = require_dict(entry, meta_path, where)
            frames = frame_list(entry, meta_path, where, sink)
            if frames is not None:
                image_dir = split_dir / "JPEGImages" / vid
                video = Video(id=vid, frames=frames, image_dir=image_dir if image_dir.is_dir() else None)
                samples.extend(_samples(vid, entry, meta_path, split, has_gt, sink))
                videos[vid] = video
    check_unlisted_folders(split_dir / "JPEGImages", videos_meta, sink, "JPEG")
    return MevisBenchmark(
        root, split, videos, samples, has_ground_truth=has_gt, version=version_used, meta_path=meta_path,
        mask_dict_path=mask_dict_path, version_note=note,
    )


def checks(bench: MevisBenchmark, report: Report) -> None:
    """Validation: the version read, and counts compared with the published ones of that version
    (a v2 file with the v1 count, or the reverse, is a mislabelled copy)."""
    where = str(bench.meta_path)
    version = bench.version or "v1"
    if bench.version_note:
        report.warn("version", where, bench.version_note)
    observed = {"videos": len(bench.videos), "expressions": len(bench.samples)}
    published = published_counts("mevis", bench.split, version)
    report.compare_counts(observed, published, where)
    other = "v1" if version == "v2" else "v2"
    alt = published_counts("mevis", bench.split, other)
    if alt and observed["expressions"] == alt.get("expressions") != (published or {}).get("expressions"):
        report.warn("version", where, f"{observed['expressions']} expressions is the MeViS {other} count for "
                    f"{bench.split}, but the file read is {version}: label results with the right version")


def present_splits(root: Path) -> list[str | None]:
    """The splits whose folder this copy holds (a copy need not hold all three)."""
    bases = (Path(root), Path(root) / "mevis")
    return [s for s in SPLITS if any((b / s).is_dir() for b in bases)]


SPEC = BenchmarkSpec(
    name="mevis", display_name="MeViS", load=load,
    splits=SPLITS, default_split="valid_u",
    protocols=("expression",), present_splits=present_splits,
    submission_prefix="", server_splits=("valid",),
    instruction_style="referring", source_name="mevis", extra_checks=checks,
    description="motion expressions video segmentation (ICCV 2023)",
)
