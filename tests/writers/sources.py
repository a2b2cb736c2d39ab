"""Write tiny copies of the four ReasonVOS source datasets in their real on-disk formats.

Each writer returns a :class:`SourceTruth`: the frame list of every video and every object's
mask on every annotated frame, as the source defines it, so tests can compare what a reader or
the builder produces against what was written (docs/formats.md#reasonvos-sources).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from reasonvos.masks import DAVIS_PALETTE

from .rle import coco_rle


@dataclass
class SourceTruth:
    kind: str
    root: Path
    frames: dict[str, list[str]] = field(default_factory=dict)  # video -> all frame stems
    # video -> object id (as ReasonVOS names it) -> frame -> bool mask, for annotated frames only
    masks: dict[str, dict[str, dict[str, np.ndarray]]] = field(default_factory=dict)


def _jpeg(path: Path, size: tuple[int, int], shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.zeros((*size, 3), np.uint8)
    arr[..., 0] = shade % 256
    arr[: size[0] // 2, :, 1] = 200
    Image.fromarray(arr).save(path, quality=90)


def _label_maps(rng: np.random.Generator, n: int, size: tuple[int, int], values: list[int]) -> list[np.ndarray]:
    """Label maps where each value paints a random rectangle; later values overwrite earlier ones.
    The first value is left out of the last frame, so every source has an absent object."""
    h, w = size
    maps = []
    for t in range(n):
        lab = np.zeros(size, np.int64)
        for k, v in enumerate(values):
            if k == 0 and t == n - 1:
                continue
            y0, x0 = int(rng.integers(0, h - 3)), int(rng.integers(0, w - 3))
            lab[y0 : y0 + int(rng.integers(2, h - y0 + 1)), x0 : x0 + int(rng.integers(2, w - x0 + 1))] = v
        maps.append(lab)
    return maps


def _rect(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """One random non-empty rectangle."""
    return _label_maps(rng, 2, size, [1])[0] == 1


def write_mose(root: Path, seed: int = 1) -> SourceTruth:
    """MOSE train layout: ``train/JPEGImages/<vid>/<NNNNN>.jpg``, ``train/Annotations/<vid>/<NNNNN>.png``
    (palette PNGs, index = object id). One video has a JPEG frame without annotation."""
    rng = np.random.default_rng(seed)
    truth = SourceTruth("mose", Path(root))
    specs = {"001ca3cb": ((18, 26), 4, [1, 2, 3]), "7f3e9a10": ((16, 20), 3, [2, 5])}
    for vid, (size, n, ids) in specs.items():
        frames = [f"{i:05d}" for i in range(n)]
        maps = _label_maps(rng, n, size, ids)
        truth.frames[vid] = frames
        truth.masks[vid] = {str(i): {} for i in ids}
        for t, (frame, lab) in enumerate(zip(frames, maps, strict=True)):
            _jpeg(truth.root / "train" / "JPEGImages" / vid / f"{frame}.jpg", size, 30 * t)
            png = truth.root / "train" / "Annotations" / vid / f"{frame}.png"
            png.parent.mkdir(parents=True, exist_ok=True)
            img = Image.fromarray(lab.astype(np.uint8), mode="P")
            img.putpalette(DAVIS_PALETTE)
            img.save(png)
            for i in ids:
                truth.masks[vid][str(i)][frame] = lab == i
    # an extra JPEG at the end of the second video with no annotation (not an annotated frame)
    extra = "00003"
    _jpeg(truth.root / "train" / "JPEGImages" / "7f3e9a10" / f"{extra}.jpg", (16, 20), 99)
    truth.frames["7f3e9a10"].append(extra)
    return truth


def write_mevis_source(root: Path, seed: int = 2) -> SourceTruth:
    """MeViS train layout: ``train/{JPEGImages, mask_dict.json, meta_expressions.json}``.
    Masks overlap, one object is ``null`` (absent) on one frame, anno_ids are global."""
    rng = np.random.default_rng(seed)
    truth = SourceTruth("mevis", Path(root))
    split = truth.root / "train"
    meta: dict = {"videos": {}}
    mask_dict: dict[str, list] = {}
    anno = 100
    specs = {"0ab4afe7fb46": ((20, 24), 3, 2), "377b1c5f365c": ((14, 22), 2, 1)}
    for vid_idx, (vid, (size, n, n_obj)) in enumerate(specs.items()):
        frames = [f"{i:05d}" for i in range(n)]
        truth.frames[vid] = frames
        truth.masks[vid] = {}
        for t, frame in enumerate(frames):
            _jpeg(split / "JPEGImages" / vid / f"{frame}.jpg", size, 50 * t)
        obj_anno: dict[int, int] = {}
        for obj in range(n_obj):
            obj_anno[obj] = anno
            rles = []
            truth.masks[vid][str(obj)] = {}
            for t, frame in enumerate(frames):
                m = _rect(rng, size)
                if obj == 0 and t == 1:
                    rles.append(None)
                    m = np.zeros(size, bool)
                else:
                    rles.append(coco_rle(m))
                truth.masks[vid][str(obj)][frame] = m
            mask_dict[str(anno)] = rles
            anno += 1
        exps = {str(i): {"exp": f"object {o} of {vid}", "obj_id": [o], "anno_id": [obj_anno[o]]}
                for i, o in enumerate(range(n_obj))}
        if n_obj > 1:  # a multi-object expression, as MeViS has
            exps[str(n_obj)] = {"exp": "all of them", "obj_id": list(range(n_obj)),
                                "anno_id": [obj_anno[o] for o in range(n_obj)]}
        meta["videos"][vid] = {"expressions": exps, "vid_id": vid_idx, "frames": frames}
    (split / "meta_expressions.json").write_text(json.dumps(meta))
    (split / "mask_dict.json").write_text(json.dumps(mask_dict))
    return truth


def write_vipseg(root: Path, layout: str = "720p", seed: int = 3) -> SourceTruth:
    """VIPSeg: ``VIPSeg_720P/{images,panomasks}`` (``layout="720p"``) or ``VIPSeg/{imgs,panomasks}``
    (``"raw"``). Panomasks are 16-bit PNGs: stuff = category id, thing = category*100 + instance."""
    rng = np.random.default_rng(seed)
    truth = SourceTruth("vipseg", Path(root))
    base, img_name = ("VIPSeg_720P", "images") if layout == "720p" else ("VIPSeg", "imgs")
    values = [23, 6101, 6102, 12500]  # stuff "23", two persons, a thing of category 125
    vid, size, n = "127_-hIVCYO4C90", (20, 30), 3
    frames = [f"{i:08d}" for i in range(1, n + 1)]
    truth.frames[vid] = frames
    truth.masks[vid] = {f"{v:09d}": {} for v in values}
    for t, (frame, lab) in enumerate(zip(frames, _label_maps(rng, n, size, values), strict=True)):
        _jpeg(truth.root / base / img_name / vid / f"{frame}.jpg", size, 70 * t)
        png = truth.root / base / "panomasks" / vid / f"{frame}.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(lab.astype(np.uint16)).save(png)
        for v in values:
            truth.masks[vid][f"{v:09d}"][frame] = lab == v
    return truth


def write_burst(root: Path, seed: int = 4) -> SourceTruth:
    """BURST: ``annotations/val/all_classes.json`` (bare RLE counts, per-sequence H and W, a subset
    of annotated frames) and TAO images under ``frames/val/<dataset>/<seq_name>/``."""
    rng = np.random.default_rng(seed)
    truth = SourceTruth("burst", Path(root))
    seqs = []
    specs = [("v_f69ebe5b731d3e87c1a3992ee39c3b7e", "YFCC100M", (22, 28)), ("bear-1", "LaSOT", (16, 16))]
    for seq_id, (name, dataset, (h, w)) in enumerate(specs):
        all_paths = [f"frame{i:04d}.jpg" for i in range(1, 12)]
        annotated = all_paths[::5]  # frame0001, frame0006, frame0011
        for t, p in enumerate(all_paths):
            _jpeg(truth.root / "frames" / "val" / dataset / name / p, (h, w), 20 * t)
        tracks = [1, 3]
        frames = [Path(p).stem for p in annotated]
        truth.frames[name] = frames
        truth.masks[name] = {str(k): {} for k in tracks}
        segs = []
        for t, frame in enumerate(frames):
            seg = {}
            for k in tracks:
                m = _rect(rng, (h, w))
                if k == 3 and t == 1:  # track 3 is not in the second annotated frame
                    m = np.zeros((h, w), bool)
                else:
                    seg[str(k)] = {"rle": coco_rle(m)["counts"], "is_gt": True, "score": 1.0}
                truth.masks[name][str(k)][frame] = m
            segs.append(seg)
        seqs.append({
            "width": w, "height": h, "id": seq_id, "seq_name": name, "dataset": dataset, "fps": 30,
            "all_image_paths": all_paths, "annotated_image_paths": annotated,
            "neg_category_ids": [], "not_exhaustive_category_ids": [],
            "track_category_ids": {str(k): 805 for k in tracks}, "segmentations": segs,
        })
    data = {"split": "val", "categories": [{"id": 805, "name": "ball", "synset": "ball.n.01"}], "sequences": seqs}
    path = truth.root / "annotations" / "val" / "all_classes.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return truth


def write_sources(root: Path) -> dict[str, SourceTruth]:
    """All four sources under ``root/{mose,mevis,vipseg,burst}``, as ``reasonvos build`` expects."""
    root = Path(root)
    return {
        "mose": write_mose(root / "mose"),
        "mevis": write_mevis_source(root / "mevis"),
        "vipseg": write_vipseg(root / "vipseg"),
        "burst": write_burst(root / "burst"),
    }


#: One instruction per line, covering every source, both kinds, a frame subset and a default exp_id.
DEFAULT_INSTRUCTIONS: list[dict] = [
    {"source": "mose", "video": "001ca3cb", "obj_id": "2", "text": "the dog", "kind": "short"},
    {"source": "mose", "video": "001ca3cb", "obj_id": "2", "text": "Which animal wants the ball?", "kind": "long"},
    {"source": "mose", "video": "7f3e9a10", "obj_id": "5", "text": "What will be eaten first?", "kind": "long",
     "exp_id": "7"},
    {"source": "mevis", "video": "0ab4afe7fb46", "obj_id": "0", "text": "the first cow", "kind": "short"},
    {"source": "mevis", "video": "0ab4afe7fb46", "obj_id": "1", "text": "The cow that turns around", "kind": "long"},
    {"source": "vipseg", "video": "127_-hIVCYO4C90", "obj_id": "000006101", "text": "person", "kind": "short"},
    {"source": "vipseg", "video": "127_-hIVCYO4C90", "obj_id": "000000023", "text": "What could be walked on?",
     "kind": "long"},
    {"source": "burst", "video": "v_f69ebe5b731d3e87c1a3992ee39c3b7e", "obj_id": "3",
     "text": "the object a goalkeeper would catch", "kind": "long", "frames": ["frame0001", "frame0006"]},
    {"source": "burst", "video": "v_f69ebe5b731d3e87c1a3992ee39c3b7e", "obj_id": "1", "text": "the ball",
     "kind": "short"},
]


def write_instructions(path: Path, lines: list[dict | str] | None = None) -> Path:
    """A JSON Lines instruction file; string entries are written verbatim (for malformed lines)."""
    lines = DEFAULT_INSTRUCTIONS if lines is None else lines
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path
