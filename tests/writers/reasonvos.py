"""Write a small ReasonVOS copy in the current release's exact layout (docs/formats.md#reasonvos-layout)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class RVExpression:
    obj_id: str
    exp_id: str
    text: str
    is_sent: bool


@dataclass
class RVVideo:
    name: str
    source: str
    frames: list[str]
    size: tuple[int, int] = (24, 32)  # H, W
    # obj_id -> per-frame bool masks (one per frame in `frames`)
    objects: dict[str, list[np.ndarray]] = field(default_factory=dict)
    expressions: list[RVExpression] = field(default_factory=list)


def random_masks(rng: np.random.Generator, n: int, size: tuple[int, int]) -> list[np.ndarray]:
    h, w = size
    out = []
    for _ in range(n):
        y0, x0 = rng.integers(0, h - 4), rng.integers(0, w - 4)
        m = np.zeros(size, bool)
        m[y0 : y0 + rng.integers(2, h - y0), x0 : x0 + rng.integers(2, w - x0)] = True
        out.append(m)
    return out


def default_videos(seed: int = 0) -> list[RVVideo]:
    """Three videos covering the format's traps: '_' in names, zero-padded VIPSeg ids,
    a repeated exp_id, BURST-style frame names, short and long expressions."""
    rng = np.random.default_rng(seed)
    v1 = RVVideo("a1b2c3_d4", "mevis", [f"{i:05d}" for i in range(4)])
    v1.objects = {"0": random_masks(rng, 4, v1.size), "1": random_masks(rng, 4, v1.size)}
    v1.expressions = [
        RVExpression("0", "0", "the cat that jumps first", False),
        RVExpression("1", "1", "Which animal is most likely to be hungry?", True),
        RVExpression("1", "2", "The animal that moves the furthest", True),
    ]
    v2 = RVVideo("127_-hIVCYO4C90", "vipseg", [f"{i:08d}" for i in range(1, 4)], size=(20, 30))
    v2.objects = {"000006101": random_masks(rng, 3, v2.size)}
    v2.expressions = [
        RVExpression("000006101", "0", "person", False),
        RVExpression("000006101", "1", "Who could be the owner of the bicycle?", True),
    ]
    v3 = RVVideo("YFCC100M_v_f69ebe5b731d3e87c1a3992ee39c3b7e", "burst", ["frame0001", "frame0006", "frame0011"])
    v3.objects = {"3": random_masks(rng, 3, v3.size)}
    v3.expressions = [RVExpression("3", "0", "the object a goalkeeper would catch", True)]
    return [v1, v2, v3]


def write_reasonvos(root: Path, videos: list[RVVideo] | None = None, jpeg: bool = True) -> Path:
    """Write ``root/ReasonVOS`` and return that folder."""
    videos = default_videos() if videos is None else videos
    base = Path(root) / "ReasonVOS"
    meta: dict = {"videos": {}}
    for v in videos:
        meta["videos"][v.name] = {
            "source": v.source,
            "frames": list(v.frames),
            "expressions": [
                {"obj_id": e.obj_id, "exp_id": e.exp_id, "exp_text": e.text, "is_sent": e.is_sent}
                for e in v.expressions
            ],
        }
        if jpeg:
            img_dir = base / "JPEGImages" / v.name
            img_dir.mkdir(parents=True, exist_ok=True)
            for i, f in enumerate(v.frames):
                arr = np.full((*v.size, 3), (40 * i) % 255, np.uint8)
                Image.fromarray(arr).save(img_dir / f"{f}.jpg", quality=90)
        for obj, masks in v.objects.items():
            mdir = base / "Annotations" / f"{v.source}_{v.name}_{obj}"
            mdir.mkdir(parents=True, exist_ok=True)
            for f, m in zip(v.frames, masks, strict=True):
                Image.fromarray(m.astype(np.uint8) * 255, mode="L").save(mdir / f"{f}.png")
    base.mkdir(parents=True, exist_ok=True)
    (base / "meta_expressions.json").write_text(json.dumps(meta, indent=1))
    return base


def write_reasonvos_original_schema(root: Path) -> Path:
    """The Nov-2024 release's schema: expressions as a dict and a video-level is_sent."""
    base = Path(root) / "ReasonVOS"
    base.mkdir(parents=True, exist_ok=True)
    meta = {"videos": {"vid_a": {"source": "MOSE", "is_sent": True, "frames": ["00000"],
                                 "expressions": {"0": {"obj_id": 1, "exp_text": "a thing"}}}}}
    (base / "meta_expressions.json").write_text(json.dumps(meta))
    return base
