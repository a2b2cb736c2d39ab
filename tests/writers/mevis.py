"""Write a small MeViS copy in its exact on-disk format (docs/formats.md#mevis).

``mevis/<split>/{JPEGImages/<vid>/<NNNNN>.jpg, meta_expressions.json | meta_expressions_v2.json,
mask_dict.json}``: ``obj_id``/``anno_id`` are lists (multi-object expressions), ``anno_id`` values
are ints in the meta but string keys in ``mask_dict.json``, and an object absent in a frame is a
JSON ``null``. The ``valid`` split has no ``mask_dict.json`` and its expressions carry only ``exp``.
v2 lists more expressions than v1 for the same videos (like the real 793 -> 907).
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
class MevisExpression:
    exp_id: str
    text: str
    obj_ids: list[int]
    anno_ids: list[int]
    v2_only: bool = False  # listed only in meta_expressions_v2.json


@dataclass
class MevisVideo:
    name: str
    frames: list[str]
    size: tuple[int, int]  # H, W
    # anno_id -> (obj_id, one mask per frame, None = absent: written as null)
    objects: dict[int, tuple[int, list[np.ndarray | None]]] = field(default_factory=dict)
    expressions: list[MevisExpression] = field(default_factory=list)


class MevisFixture(NamedTuple):
    """What was written: the ``mevis/`` root, and the expected GT per sample key."""

    root: Path
    masks: dict[str, list[np.ndarray]]  # f"{video}/{exp_id}" -> union mask per frame
    frames: dict[str, list[str]]
    texts: dict[str, str]  # key -> expression text
    videos: list[MevisVideo]


def _rect(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    m = np.zeros(size, bool)
    y0, x0 = int(rng.integers(0, h - 3)), int(rng.integers(0, w - 3))
    m[y0 : int(rng.integers(y0 + 2, h + 1)), x0 : int(rng.integers(x0 + 2, w + 1))] = True
    return m


def default_mevis_videos(seed: int = 0) -> list[MevisVideo]:
    """Two videos of different sizes; a two-object expression; null frames; one v2-only expression."""
    rng = np.random.default_rng(seed)
    a = MevisVideo("0ab4afe7fb46", [f"{i:05d}" for i in range(4)], (12, 16))
    a.objects = {
        101: (0, [_rect(rng, a.size) for _ in a.frames]),
        102: (1, [None, _rect(rng, a.size), None, _rect(rng, a.size)]),
    }
    a.expressions = [
        MevisExpression("0", "the bird flying away first", [0], [101]),
        MevisExpression("1", "two birds moving left", [0, 1], [101, 102]),
        MevisExpression("2", "bird landing at the end", [1], [102]),
        MevisExpression("3", "the bird that is heard chirping", [1], [102], v2_only=True),
    ]
    b = MevisVideo("377b1c5f365c", [f"{i:05d}" for i in range(3)], (10, 14))
    b.objects = {205: (0, [_rect(rng, b.size), None, _rect(rng, b.size)])}
    b.expressions = [MevisExpression("0", "turtle crawling to the right", [0], [205])]
    return [a, b]


def write_mevis(
    root: Path, split: str = "valid_u", versions: tuple[str, ...] = ("v1",),
    videos: list[MevisVideo] | None = None, jpeg: bool = True,
) -> MevisFixture:
    """Write ``root/mevis/<split>`` and return ``root/mevis`` with the expected masks.

    ``versions`` picks which expression files are written: ``("v1",)`` ->
    ``meta_expressions.json``, ``("v2",)`` -> ``meta_expressions_v2.json``, both -> both.
    ``masks`` covers the expressions of the newest version written.
    """
    videos = default_mevis_videos() if videos is None else videos
    base = Path(root) / "mevis"
    sdir = base / split
    sdir.mkdir(parents=True, exist_ok=True)
    gt = split != "valid"
    for version in versions:
        meta: dict = {"videos": {}}
        for vi, v in enumerate(videos):
            exps = {}
            for e in v.expressions:
                if e.v2_only and version == "v1":
                    continue
                exps[e.exp_id] = {"exp": e.text, "obj_id": e.obj_ids, "anno_id": e.anno_ids} if gt else {"exp": e.text}
            meta["videos"][v.name] = {"expressions": exps, "vid_id": vi, "frames": list(v.frames)}
        name = "meta_expressions.json" if version == "v1" else "meta_expressions_v2.json"
        (sdir / name).write_text(json.dumps(meta))
    if gt:
        mask_dict = {
            str(anno): [None if m is None else coco_rle(m) for m in masks]
            for v in videos
            for anno, (_obj, masks) in v.objects.items()
        }
        (sdir / "mask_dict.json").write_text(json.dumps(mask_dict))
    if jpeg:
        for v in videos:
            write_jpegs(sdir / "JPEGImages" / v.name, v.frames, v.size)
    newest = "v2" in versions
    masks: dict[str, list[np.ndarray]] = {}
    texts: dict[str, str] = {}
    for v in videos:
        for e in v.expressions:
            if e.v2_only and not newest:
                continue
            key = f"{v.name}/{e.exp_id}"
            texts[key] = e.text
            union = []
            for t in range(len(v.frames)):
                m = np.zeros(v.size, bool)
                for anno in e.anno_ids:
                    obj_mask = v.objects[anno][1][t]
                    if obj_mask is not None:
                        m |= obj_mask
                union.append(m)
            masks[key] = union
    return MevisFixture(base, masks, {v.name: list(v.frames) for v in videos}, texts, videos)
