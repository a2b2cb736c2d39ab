"""Write a small Ref-DAVIS-17 copy in both on-disk layouts (docs/formats.md#ref-davis-17).

``write_refdavis_raw``: the three original archives extracted in one folder::

    DAVIS/{JPEGImages/480p, Annotations_unsupervised/480p}/<seq>/<NNNNN>.{jpg,png}
    DAVIS/ImageSets/2017/{train,val}.txt, DAVIS/davis_semantics.json
    davis_text_annotations/Davis17_annot1{,_full_video}.txt   (utf-8)
    davis_text_annotations/Davis17_annot2{,_full_video}.txt   (latin-1, with an "é")

Text lines are ``<video> <obj_id> "<expression>"`` and three video names are misspelled as in
the real files (clasic-car, dog-scale, motor-bike). ``write_refdavis_converted`` adds the
ReferFormer-converted tree (``meta_expressions/{train,valid}``, ``{train,valid}/{JPEGImages,
Annotations}/<seq>``, ``{train,valid}/meta.json``) under ``ref-davis/``. ``salsa`` has 10
objects, so the converter's string sort ("1","10","2",...) is visible in the exp_ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .davis import object_labels, write_jpegs, write_label_pngs

TEXT_FILES = (  # slot order: exp_id = 4 * k + slot
    ("Davis17_annot1.txt", "utf-8", "first-frame", 1),
    ("Davis17_annot1_full_video.txt", "utf-8", "full-video", 1),
    ("Davis17_annot2.txt", "latin-1", "first-frame", 2),
    ("Davis17_annot2_full_video.txt", "latin-1", "full-video", 2),
)
#: real name -> the misspelling used in the text annotation files
MISSPELLED = {"classic-car": "clasic-car", "dogs-scale": "dog-scale", "motorbike": "motor-bike"}


@dataclass
class RDVideo:
    name: str
    split: str  # "val" or "train"
    labels: list[np.ndarray]  # unsupervised label map per frame (0 bg, 255 void)
    texts: dict[str, tuple[str, str, str, str]]  # obj_id -> one text per slot
    categories: dict[str, str]


class RefDavisFixture(NamedTuple):
    """What was written, and the expected samples (keys ``f"{video}/{exp_id}"``)."""

    root: Path
    masks: dict[str, list[np.ndarray]]  # key -> labels == int(obj_id), per frame
    texts: dict[str, str]
    kinds: dict[str, tuple[str, int]]  # key -> (kind, annotator)
    obj_ids: dict[str, str]  # key -> obj_id
    labels: dict[str, list[np.ndarray]]
    frames: dict[str, list[str]]
    splits: dict[str, list[str]]  # "val"/"train" -> videos


def default_refdavis_videos(seed: int = 0) -> list[RDVideo]:
    rng = np.random.default_rng(seed)
    size = (12, 16)

    def texts(obj: str, what: str) -> tuple[str, str, str, str]:
        return (f"a {what} {obj} in the first frame", f"a {what} {obj} moving through the video",
                f"le {what} {obj} à gauche", f"the {what} {obj} that is always visible")

    salsa_ids = list(range(1, 11))
    return [
        RDVideo("blackswan", "val", object_labels(rng, 3, size, [1]),
                {"1": ("a black swan", "black swan swimming in the pond",
                       "un cygne noir élégant", "the swan moving to the right")}, {"1": "swan"}),
        RDVideo("dogs-scale", "val", object_labels(rng, 3, size, [1, 2], absent={2: {0}}, void=True),
                {o: texts(o, "dog") for o in ("1", "2")}, {"1": "dog", "2": "dog"}),
        RDVideo("salsa", "val", object_labels(rng, 2, size, salsa_ids),
                {str(o): texts(str(o), "dancer") for o in salsa_ids}, {str(o): "person" for o in salsa_ids}),
        RDVideo("classic-car", "train", object_labels(rng, 2, size, [1]),
                {"1": texts("1", "car")}, {"1": "car"}),
        RDVideo("motorbike", "train", object_labels(rng, 2, size, [1, 2]),
                {o: texts(o, "rider") for o in ("1", "2")}, {"1": "person", "2": "motorbike"}),
    ]


def expected_expressions(v: RDVideo) -> list[tuple[str, str, str, str, int]]:
    """(exp_id, obj_id, text, kind, annotator) in the converter's order: objects sorted as strings."""
    out = []
    for k, obj in enumerate(sorted(v.texts)):
        for slot, (_name, _enc, kind, annotator) in enumerate(TEXT_FILES):
            out.append((str(4 * k + slot), obj, v.texts[obj][slot], kind, annotator))
    return out


def _frames(v: RDVideo) -> list[str]:
    return [f"{i:05d}" for i in range(len(v.labels))]


def _write_raw(base: Path, videos: list[RDVideo]) -> None:
    davis = base / "DAVIS"
    for v in videos:
        write_jpegs(davis / "JPEGImages" / "480p" / v.name, _frames(v), v.labels[0].shape)
        write_label_pngs(davis / "Annotations_unsupervised" / "480p" / v.name, _frames(v), v.labels)
    sets = davis / "ImageSets" / "2017"
    sets.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        (sets / f"{split}.txt").write_text("".join(f"{v.name}\n" for v in videos if v.split == split))
    (davis / "davis_semantics.json").write_text(json.dumps({v.name: v.categories for v in videos}))
    tdir = base / "davis_text_annotations"
    tdir.mkdir(parents=True, exist_ok=True)
    for slot, (name, encoding, _kind, _ann) in enumerate(TEXT_FILES):
        lines = []
        for v in videos:
            for obj in sorted(v.texts, key=int):  # the files list objects numerically
                lines.append(f'{MISSPELLED.get(v.name, v.name)} {obj} "{v.texts[obj][slot]}"\n')
        (tdir / name).write_bytes("".join(lines).encode(encoding))


def _fixture(root: Path, videos: list[RDVideo]) -> RefDavisFixture:
    masks, texts, kinds, obj_ids = {}, {}, {}, {}
    for v in videos:
        for exp_id, obj, text, kind, annotator in expected_expressions(v):
            key = f"{v.name}/{exp_id}"
            masks[key] = [lab == int(obj) for lab in v.labels]
            texts[key], kinds[key], obj_ids[key] = text, (kind, annotator), obj
    splits = {s: [v.name for v in videos if v.split == s] for s in ("val", "train")}
    return RefDavisFixture(root, masks, texts, kinds, obj_ids, {v.name: v.labels for v in videos},
                           {v.name: _frames(v) for v in videos}, splits)


def write_refdavis_raw(root: Path, videos: list[RDVideo] | None = None) -> RefDavisFixture:
    """Extract-the-three-archives layout under ``root`` (returned as the fixture root)."""
    videos = default_refdavis_videos() if videos is None else videos
    root = Path(root)
    _write_raw(root, videos)
    return _fixture(root, videos)


def write_refdavis_converted(root: Path, videos: list[RDVideo] | None = None) -> RefDavisFixture:
    """ReferFormer-converted layout under ``root/ref-davis`` (returned), with DAVIS/ re-unzipped."""
    videos = default_refdavis_videos() if videos is None else videos
    base = Path(root) / "ref-davis"
    _write_raw(base, videos)
    for split, folder in (("train", "train"), ("val", "valid")):
        meta_exp: dict = {"videos": {}}
        meta: dict = {"videos": {}}
        for v in videos:
            if v.split != split:
                continue
            exps = {eid: {"exp": text, "obj_id": obj} for eid, obj, text, _k, _a in expected_expressions(v)}
            meta_exp["videos"][v.name] = {"expressions": exps, "frames": _frames(v)}
            meta["videos"][v.name] = {"objects": {o: {"category": c} for o, c in v.categories.items()}}
            write_jpegs(base / folder / "JPEGImages" / v.name, _frames(v), v.labels[0].shape)
            write_label_pngs(base / folder / "Annotations" / v.name, _frames(v), v.labels)
        path = base / "meta_expressions" / folder / "meta_expressions.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(meta_exp))
        (base / folder / "meta.json").write_text(json.dumps(meta))
    return _fixture(base, videos)
