"""Readers for the datasets ReasonVOS reuses its masks from: MOSE, MeViS, VIPSeg and BURST.

The builder (:mod:`reasonvos.construct.builder`) needs one thing from each source: per-object binary mask
sequences on that source's own frame list, plus the path of every frame's JPEG. Each source
stores this differently (docs/formats.md#reasonvos-sources), so each gets a small reader with the same
interface (:class:`SourceReader`): ``videos()``, ``frames(video)`` (stems), ``image_path(video,
frame)``, ``objects(video)`` (ids as opaque strings) and ``masks(video, obj_id)`` (an iterator of
``(frame, bool mask)`` over the frames the source annotates). :func:`open_source` picks the reader.

Expected layouts (the folder given as ``root``; a parent folder holding it also works where noted):

- ``mose``:   ``[train/]JPEGImages/<vid>/<NNNNN>.jpg`` and ``[train/]Annotations/<vid>/<NNNNN>.png``
  (palette PNGs, pixel = object id; object ids are the palette indices as strings, e.g. ``"1"``).
  Frames without an annotation PNG (MOSE valid: first frame only) are not annotated.
- ``mevis``:  ``<split>/{JPEGImages/<vid>/<NNNNN>.jpg, mask_dict.json, meta_expressions.json}`` for
  the splits with ground truth (``train``, ``valid_u``), or one such split folder itself;
  ``meta_expressions_v2.json`` is accepted. The object id is MeViS's per-video ``obj_id``, mapped
  to its global ``anno_id`` (the ``mask_dict`` key) through the expressions.
- ``vipseg``: ``VIPSeg_720P/{images,panomasks}/<video>/<8-digit>.{jpg,png}`` (the 720p release, preferred
  when both exist) or the raw ``VIPSeg/{imgs,panomasks}/...``; panomasks are 16-bit PNGs where
  stuff = category id and thing = ``category*100 + instance``. The object id is the panoptic value
  zero-padded to 9 digits, e.g. 6101 -> ``"000006101"`` (UNVERIFIED: inferred from a third-party
  converter, docs/formats.md#vipseg).
- ``burst``:  ``annotations/<split>/all_classes.json`` (BURST ``annotations.zip``) and
  ``frames/<split>/<dataset>/<seq_name>/<image>`` (TAO images). Videos are named by ``seq_name``;
  frames are the ``annotated_image_paths`` stems; object ids are the track ids (``"1"``, ...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import numpy as np

from reasonvos.errors import InputError, MaskError, MetadataError, MissingFileError
from reasonvos.fileio import read_json, require_dict, require_list
from reasonvos.masks import decode_burst_rle, decode_rle, png_size, read_index_png

SOURCES: tuple[str, ...] = ("mose", "mevis", "vipseg", "burst")


def id_sort_key(obj_id: str) -> tuple[int, int, str]:
    """Order ids numerically when they are numbers ("2" before "10"), else by text."""
    return (0, int(obj_id), obj_id) if obj_id.isdigit() else (1, 0, obj_id)


class SourceReader(ABC):
    """One source dataset seen as videos -> frames -> objects -> binary mask sequences."""

    kind: ClassVar[str] = ""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @abstractmethod
    def videos(self) -> list[str]:
        """Video names, sorted."""

    @abstractmethod
    def frames(self, video: str) -> list[str]:
        """The video's frame stems in temporal order (the source's own names)."""

    @abstractmethod
    def image_path(self, video: str, frame: str) -> Path:
        """Path of one frame's image on disk."""

    def annotated_frames(self, video: str) -> list[str]:
        """Frames with ground truth (every object has a mask there, empty when absent).

        All four sources annotate every object on the same frames of a video, so this is per
        video; it is cheap (no mask is decoded), which lets the builder check a resumed folder.
        """
        return self.frames(video)

    @abstractmethod
    def objects(self, video: str) -> list[str]:
        """Object ids (opaque strings) that have a mask in this video."""

    @abstractmethod
    def masks(self, video: str, obj_id: str) -> Iterator[tuple[str, np.ndarray]]:
        """(frame, bool mask) for every annotated frame; absent objects give empty masks."""

    def has_video(self, video: str) -> bool:
        return video in set(self.videos())

    def _check_video(self, video: str) -> None:
        if not self.has_video(video):
            raise InputError(self.root, f"{self.kind}: unknown video {video!r}")

    def _check_object(self, video: str, obj_id: str) -> None:
        objs = self.objects(video)
        if obj_id not in objs:
            shown = ", ".join(objs[:20]) + (" ..." if len(objs) > 20 else "")
            raise InputError(self.root, f"{self.kind}: video {video!r} has no object {obj_id!r} (objects: {shown})")


def _subdirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def _stems(folder: Path, suffix: str) -> dict[str, Path]:
    """stem -> file for the files of one suffix in a folder (hidden files ignored)."""
    if not folder.is_dir():
        raise MissingFileError(folder, "folder not found")
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() == suffix and not p.name.startswith(".")
    }


# --------------------------------------------------------------------------- label-map sources


class _LabelMapReader(SourceReader):
    """Sources whose ground truth is one index PNG per frame with object ids as pixel values.

    Label maps of the most recently read video are cached, because the builder asks for every
    object of a video in turn and each PNG would otherwise be decoded once per object.
    """

    image_dir: Path
    label_dir: Path

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._cache: tuple[str, dict[str, np.ndarray]] | None = None
        self._objects: dict[str, list[str]] = {}

    def encode_id(self, value: int) -> str:
        return str(value)

    def decode_id(self, obj_id: str) -> int | None:
        return int(obj_id) if obj_id.isdigit() else None

    def videos(self) -> list[str]:
        return _subdirs(self.image_dir)

    def has_video(self, video: str) -> bool:
        return bool(video) and "/" not in video and not video.startswith(".") and (self.image_dir / video).is_dir()

    def frames(self, video: str) -> list[str]:
        self._check_video(video)
        frames = sorted(_stems(self.image_dir / video, ".jpg"))
        if not frames:
            raise MissingFileError(self.image_dir / video, f"{self.kind}: video {video!r} has no .jpg frames")
        return frames

    def image_path(self, video: str, frame: str) -> Path:
        return self.image_dir / video / f"{frame}.jpg"

    def annotated_frames(self, video: str) -> list[str]:
        pngs = _stems(self.label_dir / video, ".png")
        return [f for f in self.frames(video) if f in pngs]

    def _labels(self, video: str) -> dict[str, np.ndarray]:
        if self._cache is not None and self._cache[0] == video:
            return self._cache[1]
        frames = self.frames(video)
        pngs = _stems(self.label_dir / video, ".png")
        extra = sorted(set(pngs) - set(frames))
        if extra:
            raise MaskError(
                self.label_dir / video / f"{extra[0]}.png",
                f"{self.kind}: annotation without a matching JPEG frame ({len(extra)} such)",
            )
        if not pngs:
            raise MissingFileError(self.label_dir / video, f"{self.kind}: video {video!r} has no annotation PNGs")
        labels = {f: read_index_png(pngs[f]) for f in frames if f in pngs}
        self._cache = (video, labels)
        return labels

    def objects(self, video: str) -> list[str]:
        if video not in self._objects:
            values: set[int] = set()
            for arr in self._labels(video).values():
                values.update(int(v) for v in np.unique(arr))
            values.discard(0)
            self._objects[video] = sorted((self.encode_id(v) for v in values), key=id_sort_key)
        return self._objects[video]

    def masks(self, video: str, obj_id: str) -> Iterator[tuple[str, np.ndarray]]:
        self._check_object(video, obj_id)
        value = self.decode_id(obj_id)
        for frame, arr in self._labels(video).items():
            yield frame, arr == value


class MoseReader(_LabelMapReader):
    """MOSE (train split layout): palette PNGs whose indices are the object ids."""

    kind = "mose"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        base = Path(root)
        if not (base / "JPEGImages").is_dir() and (base / "train" / "JPEGImages").is_dir():
            base = base / "train"
        self.image_dir = base / "JPEGImages"
        self.label_dir = base / "Annotations"
        for d in (self.image_dir, self.label_dir):
            if not d.is_dir():
                raise MissingFileError(d, "MOSE folder not found (expected [train/]JPEGImages and [train/]Annotations)")


#: VIPSeg layouts, most preferred first: (folder, image folder, panomask folder)
VIPSEG_LAYOUTS: tuple[tuple[str, str, str], ...] = (
    ("VIPSeg_720P", "images", "panomasks"),
    ("VIPSeg", "imgs", "panomasks"),
    (".", "images", "panomasks"),
    (".", "imgs", "panomasks"),
)


class VipsegReader(_LabelMapReader):
    """VIPSeg: 16-bit panoptic PNGs; object id = the panoptic value as a 9-digit string."""

    kind = "vipseg"
    ID_DIGITS = 9

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        for folder, images, panomasks in VIPSEG_LAYOUTS:
            base = Path(root) / folder
            if (base / images).is_dir() and (base / panomasks).is_dir():
                self.image_dir, self.label_dir = base / images, base / panomasks
                self.layout = f"{folder}/{{{images},{panomasks}}}"
                break
        else:
            raise MissingFileError(
                root, "VIPSeg folder not found (expected VIPSeg_720P/{images,panomasks} or VIPSeg/{imgs,panomasks})"
            )

    def encode_id(self, value: int) -> str:
        # UNVERIFIED convention (docs/formats.md#vipseg): the panoptic value zero-padded to 9 digits.
        return str(value).zfill(self.ID_DIGITS)

    def decode_id(self, obj_id: str) -> int | None:
        if len(obj_id) != self.ID_DIGITS or not obj_id.isdigit():
            return None
        return int(obj_id)


# --------------------------------------------------------------------------------------- MeViS


@dataclass
class _MevisVideo:
    split_dir: Path
    meta_path: Path
    frames: list[str]
    anno_of: dict[str, str]  # obj_id -> anno_id (strings)


class MevisReader(SourceReader):
    """MeViS train / valid_u: RLE masks in ``mask_dict.json`` keyed by anno_id."""

    kind = "mevis"
    GT_SPLITS: ClassVar[tuple[str, ...]] = ("train", "valid_u")
    META_NAMES: ClassVar[tuple[str, ...]] = ("meta_expressions.json", "meta_expressions_v2.json")

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        root = Path(root)
        if self._meta_file(root) is not None:
            split_dirs = [root]
        else:
            split_dirs = [root / s for s in self.GT_SPLITS if self._meta_file(root / s) is not None]
        if not split_dirs:
            raise MissingFileError(
                root, "MeViS folder not found (expected train/ or valid_u/ with meta_expressions.json and mask_dict.json)"
            )
        self._videos: dict[str, _MevisVideo] = {}
        self._mask_dicts: dict[Path, dict] = {}
        for split_dir in split_dirs:
            if not (split_dir / "mask_dict.json").is_file():
                raise MissingFileError(split_dir / "mask_dict.json", "MeViS split has no ground truth (mask_dict.json)")
            self._read_meta(split_dir)

    @classmethod
    def _meta_file(cls, folder: Path) -> Path | None:
        for name in cls.META_NAMES:
            if (folder / name).is_file():
                return folder / name
        return None

    def _read_meta(self, split_dir: Path) -> None:
        path = self._meta_file(split_dir)
        assert path is not None
        meta = require_dict(read_json(path, "MeViS metadata"), path, "top level")
        for vid, entry in require_dict(meta.get("videos"), path, "'videos'").items():
            where = f"videos[{vid!r}]"
            entry = require_dict(entry, path, where)
            frames = [str(f) for f in require_list(entry.get("frames"), path, f"{where}['frames']")]
            anno_of: dict[str, str] = {}
            exps = require_dict(entry.get("expressions", {}), path, f"{where}['expressions']")
            for exp_id, exp in exps.items():
                ewhere = f"{where}['expressions'][{exp_id!r}]"
                exp = require_dict(exp, path, ewhere)
                objs, annos = exp.get("obj_id"), exp.get("anno_id")
                objs = objs if isinstance(objs, list) else [objs]
                annos = annos if isinstance(annos, list) else [annos]
                if len(objs) != len(annos):
                    raise MetadataError(path, f"{ewhere}: obj_id and anno_id lists differ in length")
                for obj, anno in zip(objs, annos, strict=True):
                    if obj is None or anno is None or str(obj) == "-1":
                        raise MetadataError(path, f"{ewhere}: no object ids (a split without ground truth?)")
                    obj, anno = str(obj), str(anno)
                    if anno_of.setdefault(obj, anno) != anno:
                        raise MetadataError(
                            path, f"{ewhere}: obj_id {obj} maps to anno_id {anno} here but {anno_of[obj]} elsewhere"
                        )
            if vid in self._videos:
                raise MetadataError(path, f"video {vid!r} is also in {self._videos[vid].meta_path}")
            self._videos[vid] = _MevisVideo(split_dir, path, frames, anno_of)

    def _video(self, video: str) -> _MevisVideo:
        self._check_video(video)
        return self._videos[video]

    def videos(self) -> list[str]:
        return sorted(self._videos)

    def has_video(self, video: str) -> bool:
        return video in self._videos

    def frames(self, video: str) -> list[str]:
        return list(self._video(video).frames)

    def image_path(self, video: str, frame: str) -> Path:
        return self._video(video).split_dir / "JPEGImages" / video / f"{frame}.jpg"

    def objects(self, video: str) -> list[str]:
        return sorted(self._video(video).anno_of, key=id_sort_key)

    def _mask_dict(self, split_dir: Path) -> dict:
        if split_dir not in self._mask_dicts:
            path = split_dir / "mask_dict.json"
            self._mask_dicts[split_dir] = require_dict(read_json(path, "MeViS mask_dict"), path, "top level")
        return self._mask_dicts[split_dir]

    def _entries(self, v: _MevisVideo, anno: str) -> list:
        path = v.split_dir / "mask_dict.json"
        entries = self._mask_dict(v.split_dir).get(anno)
        if entries is None:
            raise MetadataError(path, f"anno_id {anno} not found")
        entries = require_list(entries, path, f"[{anno!r}]")
        if len(entries) != len(v.frames):
            raise MetadataError(path, f"anno_id {anno} has {len(entries)} masks for {len(v.frames)} frames")
        return entries

    def _size(self, video: str, v: _MevisVideo) -> tuple[int, int]:
        """Frame size for ``null`` entries: any RLE of the video, else the first JPEG."""
        for anno in v.anno_of.values():
            for rle in self._entries(v, anno):
                if isinstance(rle, dict) and isinstance(rle.get("size"), list) and len(rle["size"]) == 2:
                    h, w = rle["size"]
                    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (h, w)):
                        raise MaskError(v.split_dir / "mask_dict.json", f"RLE of {video!r} (anno_id {anno}) has size "
                                        f"{rle['size']!r}; expected [H, W] positive integers")
                    return h, w
        return png_size(self.image_path(video, v.frames[0]))

    def masks(self, video: str, obj_id: str) -> Iterator[tuple[str, np.ndarray]]:
        v = self._video(video)
        self._check_object(video, obj_id)
        anno = v.anno_of[obj_id]
        path = v.split_dir / "mask_dict.json"
        entries = self._entries(v, anno)
        size = self._size(video, v)
        for frame, rle in zip(v.frames, entries, strict=True):
            try:
                yield frame, decode_rle(rle, path, size)
            except MaskError as e:
                raise MaskError(path, f"anno_id {anno}, frame {frame}: {e.problem}") from e


# --------------------------------------------------------------------------------------- BURST


@dataclass
class _BurstSequence:
    json_path: Path
    image_dir: Path
    height: int
    width: int
    image_names: dict[str, str]  # stem -> annotated image path (relative to image_dir)
    segmentations: list[dict[str, Any]]
    tracks: list[str]


class BurstReader(SourceReader):
    """BURST: per-sequence bare RLE counts with the sequence's own height and width."""

    kind = "burst"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        ann_root = Path(root) / "annotations"
        if not ann_root.is_dir():
            raise MissingFileError(ann_root, "BURST annotations folder not found (expected annotations/<split>/all_classes.json)")
        self._seqs: dict[str, _BurstSequence] = {}
        files = [ann_root / s / "all_classes.json" for s in _subdirs(ann_root)]
        files = [f for f in files if f.is_file()]
        if not files:
            raise MissingFileError(ann_root, "no BURST annotation file (annotations/<split>/all_classes.json)")
        for f in files:
            self._read(f)

    def _read(self, path: Path) -> None:
        data = require_dict(read_json(path, "BURST annotations"), path, "top level")
        split = data.get("split") or path.parent.name
        for i, seq in enumerate(require_list(data.get("sequences"), path, "'sequences'")):
            where = f"sequences[{i}]"
            seq = require_dict(seq, path, where)
            try:
                name, dataset = str(seq["seq_name"]), str(seq["dataset"])
                height, width = int(seq["height"]), int(seq["width"])
            except (KeyError, TypeError, ValueError) as e:
                raise MetadataError(path, f"{where}: missing or bad seq_name/dataset/height/width ({e})") from e
            paths = [str(p) for p in require_list(seq.get("annotated_image_paths"), path, f"{where}['annotated_image_paths']")]
            segs = require_list(seq.get("segmentations"), path, f"{where}['segmentations']")
            if len(segs) != len(paths):
                raise MetadataError(
                    path, f"{where} ({name}): {len(segs)} segmentations for {len(paths)} annotated images"
                )
            names: dict[str, str] = {}
            for p in paths:
                stem = PurePosixPath(p).stem
                if stem in names:
                    raise MetadataError(path, f"{where} ({name}): annotated image {stem!r} listed twice")
                names[stem] = p
            tracks: set[str] = {str(k) for k in require_dict(seq.get("track_category_ids", {}), path, where)}
            for t, seg in enumerate(segs):
                tracks.update(str(k) for k in require_dict(seg, path, f"{where}['segmentations'][{t}]"))
            if name in self._seqs:
                raise MetadataError(path, f"{where}: seq_name {name!r} appears twice (also in {self._seqs[name].json_path})")
            image_dir = Path(self.root) / "frames" / split / dataset / name
            self._seqs[name] = _BurstSequence(
                path, image_dir, height, width, names, segs, sorted(tracks, key=id_sort_key)
            )

    def _seq(self, video: str) -> _BurstSequence:
        self._check_video(video)
        return self._seqs[video]

    def videos(self) -> list[str]:
        return sorted(self._seqs)

    def has_video(self, video: str) -> bool:
        return video in self._seqs

    def frames(self, video: str) -> list[str]:
        return list(self._seq(video).image_names)

    def image_path(self, video: str, frame: str) -> Path:
        seq = self._seq(video)
        if frame not in seq.image_names:
            raise InputError(seq.json_path, f"burst: sequence {video!r} has no annotated frame {frame!r}")
        return seq.image_dir / seq.image_names[frame]

    def objects(self, video: str) -> list[str]:
        return list(self._seq(video).tracks)

    def masks(self, video: str, obj_id: str) -> Iterator[tuple[str, np.ndarray]]:
        seq = self._seq(video)
        self._check_object(video, obj_id)
        for frame, seg in zip(seq.image_names, seq.segmentations, strict=True):
            entry = seg.get(obj_id)
            if entry is None:
                yield frame, np.zeros((seq.height, seq.width), dtype=bool)
                continue
            rle = entry.get("rle") if isinstance(entry, dict) else None
            if not isinstance(rle, str):
                raise MetadataError(seq.json_path, f"{video}: track {obj_id} at {frame} has no 'rle' counts string")
            try:
                yield frame, decode_burst_rle(rle, seq.height, seq.width, seq.json_path)
            except MaskError as e:
                raise MaskError(seq.json_path, f"{video}: track {obj_id} at {frame}: {e.problem}") from e


# ------------------------------------------------------------------------------------ dispatch

READERS: dict[str, type[SourceReader]] = {
    "mose": MoseReader,
    "mevis": MevisReader,
    "vipseg": VipsegReader,
    "burst": BurstReader,
}


def open_source(kind: str, root: str | Path) -> SourceReader:
    """Open the source dataset ``kind`` (one of :data:`SOURCES`) stored under ``root``."""
    if kind not in READERS:
        raise InputError(root, f"unknown source {kind!r}; known: {', '.join(SOURCES)}")
    if not Path(root).is_dir():
        raise MissingFileError(root, f"{kind} source folder not found")
    return READERS[kind](Path(root))
