"""Write a small ReVOS copy in its exact on-disk format (docs/formats.md#revos).

``ReVOS/{meta_expressions_<split>_.json, mask_dict.json, mask_dict_foreground.json,
JPEGImages/<vid>/<frame>.jpg}``: video keys with slashes (nested folders), ``obj_id``/``anno_id``
int lists (possibly empty), ``type_id`` 0/1/2, ``anno_id`` as string keys of the mask dict with one
RLE or ``null`` per entry of ``frames`` (by position), and a foreground RLE per frame that is the
OR of every object of the video. ``repack=True`` drops ``JPEGImages/`` as the Sa2VA/UniPixel
repacks do. The default videos have overlapping objects, a no-target expression, frame names that
are not contiguous, and two sizes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .davis import write_jpegs
from .rle import coco_rle


@dataclass
class RevosExpression:
    exp_id: str
    text: str
    anno_ids: list[int]
    type_id: int


@dataclass
class RevosVideo:
    name: str
    frames: list[str]
    size: tuple[int, int]  # H, W
    objects: dict[int, list[np.ndarray | None]] = field(default_factory=dict)  # anno_id -> mask per frame
    expressions: list[RevosExpression] = field(default_factory=list)


class RevosFixture(NamedTuple):
    root: Path
    videos: list[RevosVideo]
    sums: dict[str, list[np.ndarray]]  # key -> uint8 sum of the objects per frame (the official GT)
    foreground: dict[str, list[np.ndarray]]  # video -> uint8 0/1 per frame


def _rect(size: tuple[int, int], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros(size, bool)
    m[y0:y1, x0:x1] = True
    return m


def default_revos_videos() -> list[RevosVideo]:
    """A nested UVO key with two overlapping objects; a MeViS-like key with a null frame."""
    a = RevosVideo("UVO/all/-fbscFfkh4M", ["00145", "00150", "00165"], (12, 16))
    a.objects = {
        3003019: [_rect(a.size, 1, 7, 2, 9), _rect(a.size, 2, 8, 3, 10), _rect(a.size, 0, 5, 0, 6)],
        3003020: [_rect(a.size, 4, 11, 6, 14), _rect(a.size, 5, 12, 7, 15), None],
    }
    a.expressions = [
        RevosExpression("0", "the person who is wearing a white shirt and blue jeans.", [3003019], 0),
        RevosExpression("1", "Who is most likely to be carrying the bag?", [3003019, 3003020], 1),
        RevosExpression("2", "the dog flying a kite", [], 2),
    ]
    b = RevosVideo("MeViS/train/0ab4afe7fb46", ["00000", "00001"], (10, 14))
    b.objects = {77: [None, _rect(b.size, 2, 6, 3, 9)]}
    b.expressions = [RevosExpression("0", "the bird that lands last", [77], 0),
                     RevosExpression("1", "Which animal will reach the ground?", [77], 1)]
    return [a, b]


def write_revos(root: Path, split: str = "valid", videos: list[RevosVideo] | None = None, *,
                repack: bool = False, jpeg: bool = True, obj_id_lists: bool = True) -> RevosFixture:
    """Write ``root/ReVOS`` and return it with the expected official GT sums and foregrounds."""
    videos = default_revos_videos() if videos is None else videos
    base = Path(root) / "ReVOS"
    base.mkdir(parents=True, exist_ok=True)
    meta: dict = {"videos": {}}
    mask_dict: dict = {}
    fg_dict: dict = {}
    sums: dict[str, list[np.ndarray]] = {}
    fgs: dict[str, list[np.ndarray]] = {}
    for vi, v in enumerate(videos):
        exps = {}
        for e in v.expressions:
            obj_ids = list(range(len(e.anno_ids))) if obj_id_lists else []
            exps[e.exp_id] = {"exp": e.text, "obj_id": obj_ids, "anno_id": list(e.anno_ids), "type_id": e.type_id}
            sums[f"{v.name}/{e.exp_id}"] = [
                sum((np.asarray(v.objects[a][t], np.uint8) for a in e.anno_ids if v.objects[a][t] is not None),
                    np.zeros(v.size, np.uint8)).astype(np.uint8)
                for t in range(len(v.frames))
            ]
        meta["videos"][v.name] = {"expressions": exps, "vid_id": vi, "height": v.size[0], "width": v.size[1],
                                  "frames": list(v.frames)}
        for anno, masks in v.objects.items():
            mask_dict[str(anno)] = [None if m is None else coco_rle(m) for m in masks]
        fg = []
        for t in range(len(v.frames)):
            m = np.zeros(v.size, bool)
            for masks in v.objects.values():
                if masks[t] is not None:
                    m |= masks[t]
            fg.append(m.astype(np.uint8))
        fgs[v.name] = fg
        fg_dict[v.name] = {"masks_rle": [coco_rle(m) for m in fg], "foreground_ratio": [float(m.mean()) for m in fg]}
        if jpeg:
            write_jpegs((base / v.name) if repack else (base / "JPEGImages" / v.name), v.frames, v.size)
    (base / f"meta_expressions_{split}_.json").write_text(json.dumps(meta))
    (base / "mask_dict.json").write_text(json.dumps(mask_dict))
    (base / "mask_dict_foreground.json").write_text(json.dumps(fg_dict))
    return RevosFixture(base, videos, sums, fgs)
