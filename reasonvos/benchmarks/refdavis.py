"""Ref-DAVIS-17 (Khoreva et al., ACCV 2018) loader, in both layouts people have on disk.

(a) ``converted``: the ReferFormer conversion (VideoLISA uses the same)::

    ref-davis/meta_expressions/{train,valid}/meta_expressions.json
    ref-davis/{train,valid}/{JPEGImages,Annotations}/<seq>/      Annotations = the unsupervised labels
    ref-davis/DAVIS/...                                          re-unzipped (the converter moves folders)

(b) ``raw``: the three original archives extracted in one folder::

    DAVIS/{JPEGImages,Annotations_unsupervised}/480p/<seq>/, DAVIS/ImageSets/2017/{train,val}.txt
    DAVIS/davis_semantics.json                                   optional (categories)
    davis_text_annotations/Davis17_annot1{,_full_video}.txt      utf-8
    davis_text_annotations/Davis17_annot2{,_full_video}.txt      latin-1

Each object has 4 expressions in a fixed order, exp_id = 4 * k + slot (:data:`ANNOTATOR_SLOTS`):
slot 0 annot1 first-frame, 1 annot1 full-video, 2 annot2 first-frame, 3 annot2 full-video; k is
the object's position when the video's object ids are sorted **as strings**, which is what the
converter does. The trap: with 10 or more objects the order is "1", "10", "2", ... so exp_ids
4..7 belong to object "10", not "2". The raw layout reproduces that order so that predictions
made on either layout share exp_ids.

Scoring is per annotator slot with the DAVIS unsupervised protocol; :meth:`gt_labels` gives the
unsupervised index PNG and :meth:`gt_mask` the pixels equal to int(obj_id). UNVERIFIED: whether
the text annotations' object ids equal the unsupervised annotation ids (the official
Hungarian-matched scoring hides it), so per-expression masks may not be the referred object.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from reasonvos.acquire.sources import published_counts
from reasonvos.benchmarks.common import (
    check_frames_on_disk,
    check_split,
    check_unlisted_folders,
    expression_text,
    find_root,
    frame_list,
    list_stems,
    read_lines,
    read_meta_json,
    videos_of,
)
from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.benchmarks.registry import BenchmarkSpec
from reasonvos.errors import MaskError, MetadataError, MissingFileError
from reasonvos.fileio import read_bytes, require_dict
from reasonvos.masks import png_size, read_index_png
from reasonvos.report import RAISE, Abandoned, Raise, Report

SPLITS = ("valid", "train")
#: split -> (folder of the converted layout, DAVIS ImageSets list name)
SPLIT_NAMES = {"valid": ("valid", "val"), "train": ("train", "train")}
#: misspelled video names in the text annotations -> DAVIS names (fixed by the converter too)
NAME_FIXES = {"clasic-car": "classic-car", "dog-scale": "dogs-scale", "motor-bike": "motorbike"}
TEXT_DIR = "davis_text_annotations"


class Slot(NamedTuple):
    """One annotator slot: which text file, which kind of expression, which annotator."""

    index: int
    kind: str
    annotator: int
    file: str
    encoding: str


ANNOTATOR_SLOTS: tuple[Slot, ...] = (
    Slot(0, "first-frame", 1, "Davis17_annot1.txt", "utf-8"),
    Slot(1, "full-video", 1, "Davis17_annot1_full_video.txt", "utf-8"),
    Slot(2, "first-frame", 2, "Davis17_annot2.txt", "latin-1"),
    Slot(3, "full-video", 2, "Davis17_annot2_full_video.txt", "latin-1"),
)


def string_sorted(obj_ids: list[str]) -> list[str]:
    """The converter's object order: a plain string sort ("1" < "10" < "2")."""
    return sorted(obj_ids)


class RefDavisBenchmark(Benchmark):
    """Ref-DAVIS-17 split: per-expression binary predictions, unsupervised index-PNG GT."""

    name = "refdavis"
    prediction_kind = "binary"
    annotator_slots = ANNOTATOR_SLOTS

    def __init__(
        self, *args, label_dirs: dict[str, Path], layout: str,
        videos_without_expressions: tuple[str, ...] = (), categories: dict | None = None, **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._label_dirs = label_dirs
        self.layout = layout  # "converted" or "raw"
        self.videos_without_expressions = videos_without_expressions
        self.categories = categories or {}  # seq -> {obj_id: category} when known
        self._sizes: dict[str, tuple[int, int]] = {}

    def label_dir(self, video_id: str) -> Path:
        """Folder of the video's unsupervised index PNGs."""
        return self._label_dirs[video_id]

    def samples_of_slot(self, slot: int) -> list[Sample]:
        """The samples of one annotator slot (0..3), in video then object order."""
        return [s for s in self.samples if s.extra["slot"] == slot]

    def gt_files(self, sample: Sample) -> dict[str, Path]:
        """One unsupervised index PNG per frame (value = object id)."""
        folder = self.label_dir(sample.video_id)
        return {f: folder / f"{f}.png" for f in self.scored_frames(sample)}

    def gt_labels(self, video_id: str, frame: str) -> np.ndarray:
        """The unsupervised annotation as uint8 ids (0 background, 255 void)."""
        return read_index_png(self.label_dir(video_id) / f"{frame}.png")

    def gt_mask(self, sample: Sample, frame: str) -> np.ndarray:
        """Pixels labelled int(obj_id) (alignment of text and label ids UNVERIFIED, see module doc)."""
        labels = self.gt_labels(sample.video_id, frame)
        size = self.gt_size(sample)
        if labels.shape != size:
            raise MaskError(self.label_dir(sample.video_id) / f"{frame}.png", f"size {labels.shape[0]}x"
                            f"{labels.shape[1]} differs from the video's frame size {size[0]}x{size[1]}")
        return np.isin(labels, [int(o) for o in sample.obj_ids])

    def gt_size(self, sample: Sample) -> tuple[int, int]:
        """(H, W) of the video's first JPEG (first label PNG when there are no JPEGs); cached."""
        video = self.videos[sample.video_id]
        if video.id not in self._sizes:
            if video.image_dir is None:
                self._sizes[video.id] = png_size(self.label_dir(video.id) / f"{video.frames[0]}.png")
            else:
                self._sizes[video.id] = video.frame_size()
        return self._sizes[video.id]


def _sample(video: str, exp_id: int, obj_id: str, text: str, categories: dict) -> Sample:
    slot = ANNOTATOR_SLOTS[exp_id % 4]
    extra = {"slot": slot.index, "object_index": exp_id // 4}
    category = categories.get(video, {}).get(obj_id) if isinstance(categories.get(video), dict) else None
    if category is not None:
        extra["category"] = category
    return Sample(
        video_id=video, exp_id=str(exp_id), text=text, obj_ids=(obj_id,), key=f"{video}/{exp_id}",
        kind=slot.kind, annotator=slot.annotator, extra=extra,
    )


def _obj_id(value: object, path: Path, where: str) -> str:
    obj = str(value)
    if isinstance(value, bool) or not obj.isdigit():
        raise MetadataError(path, f"{where} has obj_id {value!r}, which is not an object id")
    return obj


def _read_categories(davis: Path, sink: Raise = RAISE) -> dict:
    path = davis / "davis_semantics.json"
    if not (path.exists() or path.is_symlink()):  # optional; but a FIFO, folder or bad link there is an error
        return {}
    with sink.guard():
        return read_meta_json(path, "DAVIS semantics file")
    return {}  # reported by the guard (collecting sink only); the categories are optional


def _load_converted(root: Path, split: str, sink: Raise = RAISE) -> RefDavisBenchmark:
    folder, _ = SPLIT_NAMES[split]
    meta_path = root / "meta_expressions" / folder / "meta_expressions.json"
    listed = videos_of(read_meta_json(meta_path, "Ref-DAVIS expression file", sink), meta_path, sink)
    categories = _read_categories(root / "DAVIS", sink)
    videos: dict[str, Video] = {}
    samples: list[Sample] = []
    label_dirs: dict[str, Path] = {}
    empty: list[str] = []
    for vid, entry in listed.items():
        where = f"videos[{vid!r}]"
        with sink.guard() as g:
            entry = require_dict(entry, meta_path, where)
            frames = frame_list(entry, meta_path, where, sink)
            if frames is None:
                continue
            label_dir = root / folder / "Annotations" / vid
            if not label_dir.is_dir() and (root / "DAVIS" / "Annotations_unsupervised" / "480p" / vid).is_dir():
                label_dir = root / "DAVIS" / "Annotations_unsupervised" / "480p" / vid
            check_frames_on_disk(label_dir, frames, ".png", "annotation")
            image_dir = next(
                (d for d in (root / folder / "JPEGImages" / vid, root / "DAVIS" / "JPEGImages" / "480p" / vid)
                 if d.is_dir()), None,
            )
            exps = require_dict(entry.get("expressions"), meta_path, f"{where}['expressions']")
        if g.failed:
            continue
        videos[vid] = Video(id=vid, frames=frames, image_dir=image_dir)
        label_dirs[vid] = label_dir
        if not exps:
            empty.append(vid)
        for exp_id, exp in exps.items():
            ewhere = f"{where}['expressions'][{exp_id!r}]"
            with sink.guard() as g:
                exp = require_dict(exp, meta_path, ewhere)
                if not str(exp_id).isdigit():
                    raise MetadataError(meta_path, f"{ewhere}: exp_id is not a number (the slot is exp_id % 4)")
                text = expression_text(exp, meta_path, ewhere, sink=sink)
                obj = _obj_id(exp.get("obj_id"), meta_path, ewhere)
            if not g.failed and text is not None:
                samples.append(_sample(vid, int(exp_id), obj, text, categories))
    check_unlisted_folders(root / folder / "JPEGImages", listed, sink, "JPEG")
    return RefDavisBenchmark(
        root, split, videos, samples, has_ground_truth=True, version="converted", meta_path=meta_path,
        label_dirs=label_dirs, layout="converted", videos_without_expressions=tuple(empty), categories=categories,
    )


def read_text_annotations(path: Path, encoding: str) -> dict[str, dict[str, str]]:
    """One text file as {video (names fixed): {obj_id: expression}}.

    Lines are ``<video> <obj_id> "<expression>"``; the surrounding quotes are removed (the
    converter strips the first and last character unconditionally; a missing quote is kept here).
    """
    data = read_bytes(path, "Ref-DAVIS text annotation file")
    try:
        if encoding == "utf-8" and data.startswith(b"\xef\xbb\xbf"):  # a BOM from an editor: not part of a name
            data = data[3:]
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise MetadataError(path, f"not valid {encoding} ({e.reason} at byte {e.start})") from e
    out: dict[str, dict[str, str]] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3 or not parts[1].isdigit():
            raise MetadataError(path, f'line {n}: expected <video> <obj_id> "<expression>", found {line[:60]!r}')
        video = NAME_FIXES.get(parts[0], parts[0])
        expression = " ".join(parts[2:])
        if expression.startswith('"'):
            expression = expression[1:]
        if expression.endswith('"'):
            expression = expression[:-1]
        if not expression.strip():
            raise MetadataError(path, f"line {n}: empty expression")
        objects = out.setdefault(video, {})
        if parts[1] in objects:
            raise MetadataError(path, f"line {n}: video {video} object {parts[1]} appears twice")
        objects[parts[1]] = expression
    return out


def _load_raw(root: Path, split: str, sink: Raise = RAISE) -> RefDavisBenchmark:
    _, list_name = SPLIT_NAMES[split]
    davis = root / "DAVIS"
    list_path = davis / "ImageSets" / "2017" / f"{list_name}.txt"
    with sink.guard() as g:
        video_ids = read_lines(list_path, f"DAVIS {list_name} list")
    if g.failed:
        raise Abandoned("no DAVIS list")
    text_dir = root / TEXT_DIR
    texts: list[dict[str, dict[str, str]]] = []
    unread: set[int] = set()  # files that failed (already reported): their absences are not repeated
    for slot in ANNOTATOR_SLOTS:
        with sink.guard() as g:
            texts.append(read_text_annotations(text_dir / slot.file, slot.encoding))
        if g.failed:
            texts.append({})
            unread.add(slot.index)
    categories = _read_categories(davis, sink)
    videos: dict[str, Video] = {}
    samples: list[Sample] = []
    label_dirs: dict[str, Path] = {}
    empty: list[str] = []
    for vid in video_ids:
        label_dir = davis / "Annotations_unsupervised" / "480p" / vid
        image_dir = davis / "JPEGImages" / "480p" / vid
        with sink.guard() as g:
            if image_dir.is_dir():
                frames = tuple(list_stems(image_dir, ".jpg"))
                if not frames:
                    raise MissingFileError(image_dir, f"video {vid} has no JPEG frames")
                check_frames_on_disk(label_dir, frames, ".png", "annotation")
            else:
                frames = tuple(list_stems(label_dir, ".png"))
                if not frames:
                    raise MissingFileError(label_dir, f"video {vid} has no annotation frames")
        if g.failed:
            continue
        videos[vid] = Video(id=vid, frames=frames, image_dir=image_dir if image_dir.is_dir() else None)
        label_dirs[vid] = label_dir
        objects = string_sorted(list(dict.fromkeys(o for t in texts for o in t.get(vid, {}))))
        if not objects:
            empty.append(vid)
        for k, obj in enumerate(objects):
            for slot, per_file in zip(ANNOTATOR_SLOTS, texts, strict=True):
                text = per_file.get(vid, {}).get(obj)
                if text is None:
                    if slot.index not in unread:
                        sink.error(MetadataError, text_dir / slot.file, f"no expression for video {vid} object "
                                   f"{obj} (every object needs one in each of the 4 files)")
                    continue
                samples.append(_sample(vid, 4 * k + slot.index, obj, text, categories))
    return RefDavisBenchmark(
        root, split, videos, samples, has_ground_truth=True, version="raw", meta_path=list_path,
        label_dirs=label_dirs, layout="raw", videos_without_expressions=tuple(empty), categories=categories,
    )


def load(root: str | Path, split: str | None = None, layout: str | None = None, *,
         sink: Raise = RAISE) -> RefDavisBenchmark:
    """Load Ref-DAVIS-17 ``valid`` (default; DAVIS val) or ``train``.

    ``layout`` is ``"converted"`` or ``"raw"``; by default the converted meta is used when it
    exists for the split, else the original archives' files. ``sink`` receives bad input
    (:mod:`reasonvos.report`): by default the first error raises.
    """
    with sink.guard() as g:
        root = find_root(root, "ref-davis", ("meta_expressions", TEXT_DIR))
        split = check_split(split, SPLITS, "valid", root, "Ref-DAVIS-17")
        folder, _ = SPLIT_NAMES[split]
        if layout is None:
            layout = "converted" if (root / "meta_expressions" / folder / "meta_expressions.json").is_file() else "raw"
        if layout not in ("converted", "raw"):
            raise MetadataError(root, f"unknown Ref-DAVIS layout {layout!r}; use 'converted' or 'raw'")
    if g.failed:
        raise Abandoned("Ref-DAVIS not found")
    return _load_converted(root, split, sink) if layout == "converted" else _load_raw(root, split, sink)


def checks(bench: RefDavisBenchmark, report: Report) -> None:
    """Validation: video and frame counts compared with the published ones."""
    observed = {"videos": len(bench.videos), "frames": sum(len(v.frames) for v in bench.videos.values())}
    report.compare_counts(observed, published_counts("refdavis", bench.split), str(bench.meta_path))


__all__ = ["ANNOTATOR_SLOTS", "RefDavisBenchmark", "Slot", "load", "read_text_annotations"]


def present_splits(root: Path) -> list[str | None]:
    """Only the valid split is evaluated."""
    return ["valid"]


SPEC = BenchmarkSpec(
    name="refdavis", display_name="Ref-DAVIS-17", load=load,
    splits=SPLITS, default_split="valid",
    split_aliases={None: "val", "valid": "val", "val": "val"},
    protocols=("refdavis", "expression"), present_splits=present_splits,
    instruction_style="referring", source_name="refdavis", extra_checks=checks,
    description="referring expressions on DAVIS-2017 (Khoreva et al., ACCV 2018), two annotators",
)
