"""Run the official evaluators beside ``reasonvos score`` on generated data and print the differences.

    python perf/parity_official.py --davis2017 /tmp/davis2017 [--mevis /tmp/mevis] [--videolisa /tmp/videolisa]

Each ``--<tool>`` names a checkout of the public repository (nothing of it is copied here; it is
run from that path in a subprocess):

- ``--davis2017``: davisvideochallenge/davis2017-evaluation. ``evaluation_method.py`` runs
  unchanged (``runpy``) for ``--task semi-supervised`` and ``unsupervised``; the per-frame J/F
  arrays are recorded by wrapping ``DAVISEvaluation._evaluate_*``.
- ``--mevis``: henghuiding/MeViS ``tools/eval_mevis.py`` (valid_u, RLE ``mask_dict.json``).
- ``--videolisa``: showlab/VideoLISA ``evaluation/reason_vos/eval_reason_vos.py``, and for
  Ref-DAVIS-17 ``evaluation/refdavis/post_process_davis.py`` (merge per annotator slot) followed
  by its ``eval_davis.py`` per slot, against the ``refdavis`` protocol.
- ``--referformer``: wjn922/ReferFormer ``eval_davis.py`` on the same merged slot PNGs.

The two MeViS-style scripts run unchanged too, with one shim: ``multiprocessing.Process`` and
``Queue`` are replaced by in-process equivalents, because their 64 workers poll
``while not q.empty(): q.get()``, which can block forever, and because running the expressions
one after another lets the per-frame arrays be recorded (``metrics.db_eval_*`` are wrapped).
An exception inside the per-expression loop is printed and drops that expression, as a dying
worker does in the original. None of these repositories needs the ``np.bool`` shim (only the
vendored ``davis2017`` copies of VideoLISA/ReferFormer do, and they are not run here).

The data is generated into a temporary folder: moving ellipses, objects leaving and entering
the frame, empty frames, full-frame masks, DAVIS void (255) bands, several objects, sizes such
as 480x854 and odd ones, and videos of 300 and 700 frames so that the Decay bins of the
official uint8 arithmetic break (``--compat-decay`` must reproduce that). Ours is scored with
``reasonvos.evaluators.score`` (and once through the ``reasonvos score`` CLI). The table gives
the largest absolute difference per quantity; PASS means <= 1e-9 (NaN equals NaN).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from reasonvos.masks import (
    DAVIS_PALETTE,
    encode_rle,
    read_index_png,
    read_png_values,
    write_binary_png,
    write_index_png,
)

TOL = 1e-9
VOID = 255
NOTES: list[str] = []

# ============================================================================ data generation


@dataclass
class Track:
    """One object: an ellipse moving linearly (it may leave the frame), absent in some frames."""

    cy: float
    cx: float
    vy: float
    vx: float
    ry: float
    rx: float
    absent: tuple[int, int] = (0, 0)  # frames [a, b) where the object is not visible
    full: tuple[int, int] = (0, 0)  # frames [a, b) where the object covers the whole frame


def random_tracks(rng: np.random.Generator, n: int, size: tuple[int, int], frames: int) -> list[Track]:
    h, w = size
    tracks = []
    for _ in range(n):
        speed = rng.uniform(0.2, 1.5) * min(h, w) / max(frames, 30)
        ang = rng.uniform(0, 2 * math.pi)
        tracks.append(Track(
            cy=rng.uniform(0.15, 0.85) * h, cx=rng.uniform(0.15, 0.85) * w,
            vy=speed * math.sin(ang), vx=speed * math.cos(ang),
            ry=rng.uniform(0.06, 0.25) * h, rx=rng.uniform(0.06, 0.25) * w,
        ))
    return tracks


def render(tracks: list[Track], size: tuple[int, int], t: int) -> list[np.ndarray]:
    """One bool mask per track at frame t (positions bounce so objects stay near the frame)."""
    h, w = size
    out = []
    for tr in tracks:
        m = np.zeros(size, np.uint8)
        if tr.full[0] <= t < tr.full[1]:
            out.append(np.ones(size, bool))
            continue
        if not (tr.absent[0] <= t < tr.absent[1]):
            cy = (tr.cy + tr.vy * t) % (2 * h)
            cx = (tr.cx + tr.vx * t) % (2 * w)
            cy = 2 * h - cy if cy > h else cy
            cx = 2 * w - cx if cx > w else cx
            cv2.ellipse(m, (round(cx), round(cy)), (max(1, round(tr.rx)), max(1, round(tr.ry))),
                        (t * 3) % 180, 0, 360, 1, -1)
        out.append(m.astype(bool))
    return out


def perturb(rng: np.random.Generator, mask: np.ndarray, t: int, n: int, quality: float) -> np.ndarray:
    """A plausible prediction: shifted (drifting with t), dilated or eroded, with a spurious blob."""
    h, w = mask.shape
    drift = (1 - quality) * (t / max(n - 1, 1)) * 0.1 * min(h, w)
    dy, dx = int(round(drift + rng.normal(0, 1.5))), int(round(drift / 2 + rng.normal(0, 1.5)))
    m = np.roll(mask, (dy, dx), axis=(0, 1)).astype(np.uint8)
    k = int(rng.integers(1, 4))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    m = cv2.dilate(m, kernel) if rng.random() < 0.5 else cv2.erode(m, kernel)
    if rng.random() < 0.3:
        cv2.circle(m, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(2, max(3, h // 8))), 1, -1)
    return m.astype(bool)


def labels_of(masks: list[np.ndarray]) -> np.ndarray:
    """Index map: object k+1 where mask k is on; later objects occlude earlier ones."""
    lab = np.zeros(masks[0].shape, np.uint8)
    for k, m in enumerate(masks):
        lab[m] = k + 1
    return lab


def void_band(lab: np.ndarray) -> np.ndarray:
    """DAVIS-style void: a thin band along the object boundaries."""
    grad = cv2.morphologyEx(lab, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    return grad > 0


# -------------------------------------------------------------------------------- DAVIS


@dataclass
class DavisVideo:
    name: str
    size: tuple[int, int]
    frames: int
    objects: int
    void: bool = True
    extra: str = ""  # "late": object 2 absent in frame 0, object 4 appears later; "border"; "full"


DAVIS_VIDEOS = [
    DavisVideo("blobs-480p", (480, 854), 40, 3, extra="border"),
    DavisVideo("odd-333x517", (333, 517), 30, 2, extra="full"),
    DavisVideo("late-objects", (240, 427), 25, 4, extra="late"),
    DavisVideo("long-300", (120, 213), 300, 2, void=False),
    DavisVideo("long-700", (64, 97), 700, 1),
    DavisVideo("empty-gt", (101, 163), 12, 1, void=False, extra="empty"),
    DavisVideo("few-proposals", (200, 300), 20, 3, extra="few"),
]


def davis_gt(rng: np.random.Generator, v: DavisVideo) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """(GT index maps with void, per-frame object masks) of one DAVIS video."""
    tracks = random_tracks(rng, v.objects, v.size, v.frames)
    if v.extra == "late":
        tracks[1].absent = (0, 6)  # id 2 < max id of frame 0: evaluated; J = F = 1 where both empty
        tracks[3].absent = (0, 10)  # id 4 > max id of frame 0 (3): never evaluated
    if v.extra == "border":
        tracks[0].cx, tracks[0].vx, tracks[0].rx = 5.0, 4.0, 120.0  # crosses the left border
        tracks[2].absent = (15, 24)
    if v.extra == "full":
        tracks[0].full = (10, 14)
    if v.extra == "empty":
        tracks[0].absent = (0, 0)
    maps, objs = [], []
    for t in range(v.frames):
        masks = render(tracks, v.size, t)
        if v.extra == "empty" and t >= 1:
            masks = [np.zeros(v.size, bool) for _ in masks]  # object only in frame 0
        lab = labels_of(masks)
        if v.void and t % 3 != 2:
            lab[void_band(lab)] = VOID
        maps.append(lab)
        objs.append(masks)
    return maps, objs


def write_davis(rng: np.random.Generator, root: Path) -> dict:
    """DAVIS root (JPEGImages, Annotations, Annotations_unsupervised, ImageSets/2017/val.txt) and
    semi-supervised and unsupervised prediction folders."""
    semi, unsup = root / "pred-semi", root / "pred-unsup"
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("".join(v.name + "\n" for v in DAVIS_VIDEOS))
    stats = {"videos": len(DAVIS_VIDEOS), "frames": 0}
    for v in DAVIS_VIDEOS:
        maps, objs = davis_gt(rng, v)
        n0 = int(np.where(maps[0] == VOID, 0, maps[0]).max())
        jpg = np.full((*v.size, 3), 96, np.uint8)
        n_props = {"blobs-480p": 5, "odd-333x517": 1, "late-objects": 3}.get(v.name, v.objects + 1)
        perm = rng.permutation(max(n_props, v.objects))
        for t in range(v.frames):
            name = f"{t:05d}"
            for sub in ("JPEGImages/480p", "Annotations/480p", "Annotations_unsupervised/480p"):
                (root / sub / v.name).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "JPEGImages/480p" / v.name / f"{name}.jpg"), jpg)
            write_index_png(root / "Annotations/480p" / v.name / f"{name}.png", maps[t])
            write_index_png(root / "Annotations_unsupervised/480p" / v.name / f"{name}.png", maps[t])
            pm = [perturb(rng, m, t, v.frames, quality=rng.uniform(0.3, 0.95)) for m in objs[t]]
            if v.extra == "full" and t in (5, 6):
                pm[0] = np.ones(v.size, bool)  # full-frame prediction
            # semi: ids 1..n0 only; the last object is left out in odd-333x517 (zero padding)
            semi_masks = pm[:n0] if v.name != "odd-333x517" else pm[: n0 - 1]
            if v.extra == "empty" and t >= 1:
                semi_masks = [np.zeros(v.size, bool)] if t % 2 else [perturb(rng, objs[0][0], 0, 1, 0.9)]
            write_index_png(semi / v.name / f"{name}.png", labels_of(semi_masks) if semi_masks else
                            np.zeros(v.size, np.uint8))
            # unsup: proposals in a shuffled id order, some spurious, fewer than GT in odd-333x517
            props = [np.zeros(v.size, bool) for _ in range(n_props)]
            for k, m in enumerate(pm):
                if perm[k] < n_props:
                    props[perm[k]] = m
            for k in range(v.objects, n_props):
                props[perm[k]] = perturb(rng, objs[t][k % v.objects], t, v.frames, 0.2)
            if v.extra == "few":  # id 1 never used, one real proposal: padded rows tie in the matching
                props = [np.zeros(v.size, bool), pm[0]]
            write_index_png(unsup / v.name / f"{name}.png", labels_of(props))
        stats["frames"] += v.frames
    return {"root": root, "semi": semi, "unsup": unsup, **stats}


# -------------------------------------------------------------------------------- MeViS


def _save_pred(path: Path, mask: np.ndarray, style: str) -> None:
    """Binary prediction PNG in one of the encodings models write (all non-zero = foreground)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if style == "255":
        write_binary_png(path, mask)
    elif style == "01":
        Image.fromarray(mask.astype(np.uint8), "L").save(path)
    else:  # palette PNG with index 1 (DAVIS red), read as luma 38 by cv2 and index 1 by us
        write_index_png(path, mask.astype(np.uint8), DAVIS_PALETTE)


def write_mevis(rng: np.random.Generator, base: Path) -> dict:
    """``mevis/valid_u/{meta_expressions.json, mask_dict.json}`` and a prediction folder."""
    split = base / "mevis" / "valid_u"
    split.mkdir(parents=True)
    pred = base / "pred-mevis"
    specs = [("a1b2c3d4e5f6", (480, 854), 36, 3), ("0f9e8d7c6b5a", (257, 361), 24, 2),
             ("77aa88bb99cc", (96, 160), 150, 2)]
    meta: dict = {"videos": {}}
    mask_dict: dict = {}
    anno = 1000
    n_exp = 0
    for vi, (vid, size, n, n_obj) in enumerate(specs):
        tracks = random_tracks(rng, n_obj, size, n)
        tracks[0].absent = (n // 3, n // 2)
        if vi == 1:
            tracks[1].full = (4, 9)  # full-frame GT frames
        frames = [f"{t:05d}" for t in range(n)]
        per_obj = [[] for _ in range(n_obj)]
        for t in range(n):
            for k, m in enumerate(render(tracks, size, t)):
                per_obj[k].append(m)
        ids = []
        for k in range(n_obj):
            anno += 1
            ids.append(anno)
            mask_dict[str(anno)] = [encode_rle(m) if m.any() else None for m in per_obj[k]]
        exps = {str(k): {"exp": f"object {k}", "obj_id": [k], "anno_id": [ids[k]]} for k in range(n_obj)}
        exps[str(n_obj)] = {"exp": "all of them", "obj_id": list(range(n_obj)), "anno_id": list(ids)}
        if vi == 1:  # an object that is never visible: null in every frame, so the GT is empty
            anno += 1
            mask_dict[str(anno)] = [None] * n
            per_obj.append([np.zeros(size, bool)] * n)
            exps[str(n_obj + 1)] = {"exp": "the one that never shows up", "obj_id": [n_obj], "anno_id": [anno]}
        meta["videos"][vid] = {"expressions": exps, "frames": frames}
        for e, exp in exps.items():
            gt = [np.any([per_obj[int(o)][t] for o in exp["obj_id"]], axis=0) for t in range(n)]
            style = ("255", "01", "pal")[(n_exp + vi) % 3]
            n_exp += 1
            q = rng.uniform(0.2, 0.95)
            for t, name in enumerate(frames):
                p = perturb(rng, gt[t], t, n, q)
                if t % 11 == 7:
                    p = np.zeros(size, bool)
                if vi == 0 and e == "1" and t in (3, 4):
                    p = np.ones(size, bool)
                _save_pred(pred / vid / e / f"{name}.png", p, style)
    (split / "meta_expressions.json").write_text(json.dumps(meta))
    (split / "mask_dict.json").write_text(json.dumps(mask_dict))
    return {"root": base / "mevis", "split": split, "pred": pred, "videos": len(specs),
            "frames": sum(s[2] for s in specs), "expressions": n_exp}


# ----------------------------------------------------------------------------- ReasonVOS


def write_reasonvos(rng: np.random.Generator, base: Path) -> dict:
    """``ReasonVOS/{meta_expressions.json, Annotations/<src>_<vid>_<obj>/}`` and predictions."""
    root = base / "ReasonVOS"
    pred = base / "pred-reasonvos"
    specs = [("MeViS", "vid_a_01", (480, 854), 30, 2, 1), ("MOSE", "b9f3_x", (345, 613), 40, 2, 3),
             ("VIPSeg", "long_clip", (90, 160), 260, 1, 1), ("BURST", "c0ffee", (211, 377), 20, 2, 1),
             ("MOSE", "exact_radius_600x800", (600, 800), 6, 1, 1)]  # 0.008 * diagonal = 8 exactly
    meta: dict = {"videos": {}}
    n_exp = 0
    for vi, (src, vid, size, n, n_obj, every) in enumerate(specs):
        tracks = random_tracks(rng, n_obj, size, n)
        tracks[0].absent = (n // 4, n // 3)
        if vi == 3:
            tracks[1].full = (2, 6)
        frames = [f"{t:05d}" for t in range(n)]
        exps = []
        for k in range(n_obj):
            obj = str(k + 1)
            folder = root / "Annotations" / f"{src}_{vid}_{obj}"
            folder.mkdir(parents=True)
            gts = []
            for t, name in enumerate(frames):
                m = render(tracks, size, t)[k]
                gts.append(m)
                if t % every == 0:  # sparse GT: only the annotated frames are scored
                    write_binary_png(folder / f"{name}.png", m)
            for e in range(2 if k == 0 else 1):
                exps.append({"obj_id": int(obj), "exp_id": e, "exp_text": f"the thing {k} doing {e}",
                             "is_sent": bool(e)})
                q = rng.uniform(0.2, 0.95)
                style = ("255", "01", "pal")[n_exp % 3]
                n_exp += 1
                for t, name in enumerate(frames):
                    p = perturb(rng, gts[t], t, n, q)
                    if t % 9 == 4:
                        p = np.zeros(size, bool)
                    if vi == 0 and t in (2, 3):
                        p = np.ones(size, bool)
                    _save_pred(pred / f"{src}_{vid}_{obj}" / str(e) / f"{name}.png", p, style)
        meta["videos"][vid] = {"source": src, "frames": frames, "expressions": exps}
    root.mkdir(parents=True, exist_ok=True)
    (root / "meta_expressions.json").write_text(json.dumps(meta))
    return {"root": root, "pred": pred, "videos": len(specs), "frames": sum(s[3] for s in specs),
            "expressions": n_exp}


# ------------------------------------------------------------------------------ Ref-DAVIS


def write_refdavis(rng: np.random.Generator, base: Path) -> dict:
    """Converted Ref-DAVIS layout (``ref-davis/{meta_expressions/valid, valid/Annotations, DAVIS}``)
    and per-expression binary predictions (4 expressions per object, exp_id = 4k + slot).

    VideoLISA's inference writes ``mask * 100``; its post-processing divides by 100, drops values
    below 0.5 and takes the argmax over [0.1 background, objects]. Each video here uses one value
    (100 or 255), as a real run does; ``mixed`` mixes them (see the report)."""
    root = base / "ref-davis"
    pred = base / "pred-refdavis"
    specs = [("blackswan", (480, 854), 20, 2, 100), ("odd-301x529", (301, 529), 16, 3, 255),
             ("long-refdavis", (96, 128), 60, 2, 100)]
    meta: dict = {"videos": {}}
    (root / "DAVIS" / "ImageSets" / "2017").mkdir(parents=True)
    (root / "DAVIS" / "ImageSets" / "2017" / "val.txt").write_text("".join(s[0] + "\n" for s in specs))
    for vid, size, n, n_obj, value in specs:
        tracks = random_tracks(rng, n_obj, size, n)
        tracks[-1].absent = (n // 2, n // 2 + 3)
        frames = [f"{t:05d}" for t in range(n)]
        masks = [render(tracks, size, t) for t in range(n)]
        for sub in ("valid/Annotations", "DAVIS/Annotations_unsupervised/480p", "DAVIS/JPEGImages/480p"):
            (root / sub / vid).mkdir(parents=True)
        for t, name in enumerate(frames):
            lab = labels_of(masks[t])
            if t % 4 == 1:
                lab[void_band(lab)] = VOID
            write_index_png(root / "valid/Annotations" / vid / f"{name}.png", lab)
            write_index_png(root / "DAVIS/Annotations_unsupervised/480p" / vid / f"{name}.png", lab)
            cv2.imwrite(str(root / "DAVIS/JPEGImages/480p" / vid / f"{name}.jpg"), np.zeros((*size, 3), np.uint8))
        exps = {}
        for k in range(n_obj):
            for a in range(4):
                e = str(4 * k + a)
                exps[e] = {"exp": f"object {k + 1} as annotator slot {a} says", "obj_id": str(k + 1)}
                q = rng.uniform(0.3, 0.95)
                folder = pred / vid / e
                folder.mkdir(parents=True)
                for t, name in enumerate(frames):
                    src = masks[t][(k + (a == 3)) % n_obj]  # slot 3 sometimes refers to the wrong object
                    m = perturb(rng, src, t, n, q).astype(np.uint8) * value
                    cv2.imwrite(str(folder / f"{name}.png"), m)
        meta["videos"][vid] = {"expressions": exps, "frames": frames}
    (root / "meta_expressions" / "valid").mkdir(parents=True)
    (root / "meta_expressions" / "valid" / "meta_expressions.json").write_text(json.dumps(meta))
    return {"root": root, "pred": pred, "videos": len(specs), "frames": sum(s[2] for s in specs),
            "expressions": sum(4 * s[3] for s in specs)}


def merged_pixels(table: Table, group: str, bench, data: dict, processed: Path) -> None:
    """Our per-slot merge (merge_slot) against the index PNGs post_process_davis.py wrote."""
    from reasonvos.evaluators.checks import binary_mask
    from reasonvos.evaluators.protocols import merge_slot, refdavis_slot

    differing = total = 0
    for vid, video in bench.videos.items():
        samples = [s for s in bench.samples if s.video_id == vid]
        size = bench.gt_size(samples[0])
        for t, frame in enumerate(video.frames):
            for a in range(4):
                masks = []
                for s in samples:
                    k, slot = refdavis_slot(s)
                    if slot == a:
                        path = data["pred"] / bench.prediction_path(s, frame)
                        masks.append((k, binary_mask(read_png_values(path), path, size)[0]))
                ours = merge_slot(masks, size)
                theirs = read_index_png(processed / f"anno_{a}" / vid / f"{t:05d}.png")
                differing += int(np.count_nonzero(ours != theirs))
                total += ours.size
    table.add(group, f"merged index PNGs: differing pixels of {total}", [differing], [0])


def compare_refdavis(table: Table, group: str, data: dict, processed: Path, official: dict[int, dict],
                     workers: int, check_merge: bool) -> None:
    from reasonvos.evaluators import score

    from reasonvos import load_benchmark

    bench = load_benchmark("refdavis", data["root"], "valid")
    res = score(bench, data["pred"], protocol="refdavis", workers=workers)
    if check_merge:
        merged_pixels(table, group, bench, data, processed)
    objs = res.per_object
    slot_means: dict[str, list[float]] = {m: [] for m in ("J", "F", "J-Recall", "J-Decay", "F-Recall", "F-Decay")}
    for a in range(4):
        mine = objs[objs["slot"] == a].set_index("object")
        theirs = official[a]
        names = list(theirs["per_object"])
        for m in ("J", "F", "J-Recall", "F-Recall", "J-Decay", "F-Decay"):
            table.add(group, f"slot {a} per-object {m}", [mine.loc[n, m] if n in mine.index else float("inf")
                                                          for n in names],
                      [_nan(theirs["per_object"][n][m]) for n in names])
        for m in ("J&F", "J", "F"):
            table.add(group, f"slot {a} global {m}", [res.summary["breakdown"]["slot"][str(a)][m]],
                      [theirs["global"][m]])
        for m in slot_means:
            slot_means[m].append(theirs["global"][m])
    for m in ("J", "F", "J-Recall", "J-Decay", "F-Recall", "F-Decay"):
        table.add(group, f"mean of the 4 slots {m}", [res.summary[m]], [float(np.mean(slot_means[m]))])
    jm, fm = float(np.mean(slot_means["J"])), float(np.mean(slot_means["F"]))
    table.add(group, "mean of the 4 slots J&F", [res.summary["J&F"]], [(jm + fm) / 2])


# ------------------------------------------------------------ unusual prediction encodings

#: prediction encodings outside the usual 8-bit L/P ones: name -> writer(path, bool mask)
ENCODINGS = {
    "L 0/255 (reference)": lambda p, m: write_binary_png(p, m),
    "16-bit 0/255": lambda p, m: cv2.imwrite(str(p), m.astype(np.uint16) * 255),
    "16-bit 0/65535": lambda p, m: cv2.imwrite(str(p), m.astype(np.uint16) * 65535),
    "RGB red (255,0,0)": lambda p, m: Image.fromarray(np.stack([m * 255, m * 0, m * 0], -1).astype(np.uint8)).save(p),
    "RGB near-black (0,0,1)": lambda p, m: Image.fromarray(np.stack([m * 0, m * 0, m * 1], -1).astype(np.uint8)).save(p),
    "palette, index 1 = (0,0,1)": lambda p, m: write_index_png(p, m.astype(np.uint8), [0, 0, 0, 0, 0, 1] + [0] * 762),
}


def write_encodings(rng: np.random.Generator, base: Path) -> dict:
    """A small ReasonVOS set whose expressions differ only in how the prediction PNGs are encoded."""
    root, pred = base / "ReasonVOS-enc" / "ReasonVOS", base / "pred-enc"
    size, n = (72, 96), 8
    tracks = random_tracks(rng, 1, size, n)
    frames = [f"{t:05d}" for t in range(n)]
    folder = root / "Annotations" / "MOSE_enc_1"
    folder.mkdir(parents=True)
    gts = [render(tracks, size, t)[0] for t in range(n)]
    for name, m in zip(frames, gts, strict=True):
        write_binary_png(folder / f"{name}.png", m)
    exps = []
    for e, (label, writer) in enumerate(ENCODINGS.items()):
        exps.append({"obj_id": 1, "exp_id": e, "exp_text": label, "is_sent": False})
        (pred / "MOSE_enc_1" / str(e)).mkdir(parents=True)
        for t, name in enumerate(frames):
            writer(pred / "MOSE_enc_1" / str(e) / f"{name}.png", perturb(rng, gts[t], t, n, 0.8))
    meta = {"videos": {"enc": {"source": "MOSE", "frames": frames, "expressions": exps}}}
    (root / "meta_expressions.json").write_text(json.dumps(meta))
    return {"root": root, "pred": pred}


def compare_encodings(table: Table, bench, pred: Path, official: dict, workers: int) -> None:
    from reasonvos.evaluators import score

    per = score(bench, pred, protocol="expression", workers=workers).per_sample.set_index("key")
    group = "VideoLISA eval_reason_vos.py / prediction encodings"
    for sample in bench.samples:
        theirs = official["per_sample"].get(f"MOSE_enc_1_{sample.exp_id}", [float("nan")] * 2)
        label = sample.text
        design = None if label.startswith("L ") or label.startswith("RGB red") else (
            "docs/official-evaluators.md#how-masks-are-read: non-zero = foreground; cv2 GRAYSCALE maps this encoding to 0")
        table.add(group, f"{label}: J, F", [per.loc[sample.key, "J"], per.loc[sample.key, "F"]], theirs,
                  by_design=design)


# ================================================================= official runs (subprocess side)


class _InlineQueue:
    """queue.Queue that remembers the last item taken (the expression being scored)."""

    current = None

    def __init__(self) -> None:
        import queue

        self._q = queue.Queue()

    def put(self, item) -> None:
        self._q.put(item)

    def get(self):
        item = self._q.get_nowait()
        _InlineQueue.current = tuple(item)
        return item

    def empty(self) -> bool:
        return self._q.empty()

    def qsize(self) -> int:
        return self._q.qsize()


class _InlineProcess:
    """Runs a worker target in this process at start(); an exception ends that worker only,
    like a crashing worker process of the original scripts."""

    def __init__(self, target, args=()) -> None:
        self.target, self.args = target, args

    def start(self) -> None:
        try:
            self.target(*self.args)
        except Exception as e:  # noqa: BLE001 -- the original loses the expression and goes on
            print(f"[worker died] {type(e).__name__}: {e}", file=sys.stderr)

    def join(self) -> None:
        pass


def _official_mevis_style(script: Path, argv: list[str], out: Path) -> None:
    """Run a MeViS-style evaluation script unchanged, in-process, recording per-frame J and F."""
    import multiprocessing
    import runpy

    sys.path.insert(0, str(script.parent))
    import metrics  # the script's own metrics.py (tools/ or reason_vos/)

    frames: dict[str, dict[str, list[float]]] = {}

    def recorder(name, fn):
        def wrapped(*a, **k):
            res = fn(*a, **k)
            key = "|".join(str(x) for x in _InlineQueue.current)
            frames.setdefault(key, {})[name] = [float(x) for x in np.asarray(res).ravel()]
            return res
        return wrapped

    metrics.db_eval_iou = recorder("J", metrics.db_eval_iou)
    metrics.db_eval_boundary = recorder("F", metrics.db_eval_boundary)
    multiprocessing.Queue = _InlineQueue
    multiprocessing.Process = _InlineProcess
    sys.argv = [str(script), *argv]
    g = runpy.run_path(str(script), run_name="__main__")
    j, f = np.mean(g["j"]), np.mean(g["f"])
    save = argv[argv.index("--save_name") + 1]
    per_exp = json.loads(Path(save).read_text())
    out.write_text(json.dumps({"global": {"J": float(j), "F": float(f), "J&F": float((j + f) / 2)},
                               "per_sample": per_exp, "frames": frames}))


def _official_davis(checkout: Path, task: str, root: Path, pred: Path, out: Path,
                    script_name: str = "evaluation_method.py") -> None:
    """Run davis2017-evaluation's ``evaluation_method.py`` (or VideoLISA's copy ``eval_davis.py``
    beside its vendored ``davis2017/``) unchanged, recording per-frame J/F."""
    import runpy

    sys.path.insert(0, str(checkout))
    from davis2017.evaluation import DAVISEvaluation
    from davis2017.results import Results

    current: list[str] = []
    frames: dict[str, dict] = {}
    read_masks = Results.read_masks

    def read_masks_rec(self, sequence, masks_id):
        current[:] = [sequence]
        return read_masks(self, sequence, masks_id)

    def record(fn):
        def wrapped(*a, **k):
            jr, fr = fn(*a, **k)
            frames[current[0]] = {"J": np.asarray(jr).tolist(), "F": np.asarray(fr).tolist()}
            return jr, fr
        return staticmethod(wrapped)

    Results.read_masks = read_masks_rec
    DAVISEvaluation._evaluate_semisupervised = record(DAVISEvaluation._evaluate_semisupervised)
    DAVISEvaluation._evaluate_unsupervised = record(DAVISEvaluation._evaluate_unsupervised)
    script = checkout / script_name
    sys.argv = [str(script), "--davis_path", str(root), "--set", "val", "--task", task, "--results_path", str(pred)]
    g = runpy.run_path(str(script), run_name="__main__")
    jm, fm = g["J"], g["F"]
    names = list(jm["M_per_object"])
    per_object = {n: {"J": jm["M"][i], "J-Recall": jm["R"][i], "J-Decay": jm["D"][i],
                      "F": fm["M"][i], "F-Recall": fm["R"][i], "F-Decay": fm["D"][i]}
                  for i, n in enumerate(names)}
    cols = ["J&F", "J", "J-Recall", "J-Decay", "F", "F-Recall", "F-Decay"]
    glob = dict(zip(cols, (float(x) for x in np.asarray(g["g_res"]).ravel()), strict=True))
    out.write_text(json.dumps({"global": glob, "per_object": _nan_safe(per_object), "frames": frames},
                              default=float).replace("NaN", "null"))


def _nan_safe(d: dict) -> dict:
    return {k: {m: (None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v))
                for m, v in row.items()} for k, row in d.items()}


def official_main(argv: list[str]) -> None:
    kind, out = argv[0], Path(argv[-1])
    if kind == "davis":
        _official_davis(Path(argv[1]), argv[2], Path(argv[3]), Path(argv[4]), out, *argv[5:-1])
    elif kind == "script":  # run a script unchanged (VideoLISA's Ref-DAVIS post-processing)
        import runpy

        script = Path(argv[1])
        sys.path.insert(0, str(script.parent))
        sys.argv = [str(script), *argv[2:-1]]
        runpy.run_path(str(script), run_name="__main__")
        out.write_text("{}")
    else:
        _official_mevis_style(Path(argv[1]), argv[2:-1], out)


def run_official(args: list[str], out: Path, log: Path) -> tuple[dict, float]:
    """Run one official evaluator in a fresh interpreter (its ``metrics`` module names collide)."""
    t0 = time.perf_counter()
    with log.open("w") as f:
        proc = subprocess.run([sys.executable, __file__, "_official", *args, str(out)], stdout=f,
                              stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0 or not out.is_file():
        sys.exit(f"official run failed ({' '.join(args[:2])}); log: {log}\n{log.read_text()[-3000:]}")
    return json.loads(out.read_text()), time.perf_counter() - t0


# ====================================================================== comparison and report


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int, float, str]] = []

    def add(self, group: str, what: str, ours, theirs, by_design: str | None = None,
            design_mask=None) -> None:
        a = np.asarray(ours, dtype=np.float64).ravel()
        b = np.asarray(theirs, dtype=np.float64).ravel()
        if a.shape != b.shape:
            self.rows.append((group, what, max(a.size, b.size), float("inf"), f"FAIL (count {a.size} vs {b.size})"))
            return
        both_nan = np.isnan(a) & np.isnan(b)
        diff = np.where(both_nan, 0.0, np.abs(a - b))
        diff = np.where(np.isnan(diff), np.inf, diff)
        worst = float(diff.max(initial=0.0))
        if worst <= TOL:
            status = "PASS"
        elif by_design is not None:
            dm = np.ones(a.shape, bool) if design_mask is None else np.asarray(design_mask, bool).ravel()
            rest = float(diff[~dm].max(initial=0.0))
            status = f"differs by design ({by_design})" if rest <= TOL else f"FAIL ({rest:.3g} outside design)"
        else:
            status = "FAIL"
        self.rows.append((group, what, int(a.size), worst, status))

    def render(self) -> str:
        lines = ["| evaluator / protocol | quantity | n | max abs diff | result |", "|---|---|---:|---:|---|"]
        for g, w, n, d, s in self.rows:
            lines.append(f"| {g} | {w} | {n} | {d:.3g} | {s} |")
        return "\n".join(lines)

    @property
    def failed(self) -> bool:
        return any(r[4].startswith("FAIL") for r in self.rows)


def _nan(v):
    return float("nan") if v is None else float(v)


def compare_davis(table: Table, task: str, protocol: str, data: dict, official: dict, workers: int) -> None:
    from reasonvos.evaluators import score
    from reasonvos.evaluators.metrics import frame_scores

    from reasonvos import load_benchmark

    gt_dir = data["root"] / ("Annotations/480p" if task == "semi-supervised" else "Annotations_unsupervised/480p")
    pred = data["semi" if task == "semi-supervised" else "unsup"]
    bench = load_benchmark("davis", gt_dir)
    group = f"davis2017 {task} / {protocol}"
    with warnings.catch_warnings():  # compat-decay warns for every long object; forked workers inherit this
        warnings.simplefilter("ignore", RuntimeWarning)
        res = {c: score(bench, pred, protocol=protocol, workers=workers, compat_decay=c) for c in (False, True)}
    objs = {c: r.per_object.set_index("object") for c, r in res.items()}
    names = list(official["per_object"])
    if sorted(names) != sorted(objs[False].index):
        table.add(group, "object names", [len(objs[False])], [len(names)])
    # per frame: the official arrays against frame_scores on the same (GT, prediction) pairs
    oj, of, tj, tf = [], [], [], []
    for seq, arr in official["frames"].items():
        n_frames = len(bench.videos[seq].frames)
        frames = bench.videos[seq].frames[1:-1] if task == "semi-supervised" else bench.videos[seq].frames
        rows = objs[False][objs[False]["video"] == seq]
        for ii in range(len(arr["J"])):
            row = rows.loc[f"{seq}_{ii + 1}"]
            gid, pid = int(row["gt_id"]), row["pred_id"]
            pid = 0 if pid is None or (isinstance(pid, float) and math.isnan(pid)) else int(pid)
            for frame in frames:
                lab = read_index_png(bench.label_path(seq, frame))
                void = (lab == VOID) if task == "unsupervised" else None
                lab = np.where(lab == VOID, 0, lab)
                p = read_index_png(pred / seq / f"{frame}.png")
                s = frame_scores(lab == gid, (p == pid) if pid else None, void)
                oj.append(s.j)
                of.append(s.f)
            tj.extend(arr["J"][ii])
            tf.extend(arr["F"][ii])
        assert n_frames > 0
    table.add(group, "per-frame J (matched pairs)", oj, tj)
    table.add(group, "per-frame F (matched pairs)", of, tf)
    frames_of = np.array([int(objs[False].loc[n, "frames"]) for n in names])
    long = frames_of >= 256
    for m in ("J", "F", "J-Recall", "F-Recall"):
        table.add(group, f"per-object {m}", [objs[False].loc[n, m] for n in names],
                  [_nan(official["per_object"][n][m]) for n in names])
    for m in ("J-Decay", "F-Decay"):
        theirs = [_nan(official["per_object"][n][m]) for n in names]
        table.add(group, f"per-object {m}", [objs[False].loc[n, m] for n in names], theirs,
                  by_design="uint8 Decay bins, N >= 256", design_mask=long)
        table.add(group, f"per-object {m} --compat-decay", [objs[True].loc[n, m] for n in names], theirs)
    for n in (n for n, is_long in zip(names, long, strict=True) if is_long):
        for m in ("J-Decay", "F-Decay"):
            NOTES.append(f"{group}: {n} ({frames_of[names.index(n)]} evaluated frames) {m}: official "
                         f"{_nan(official['per_object'][n][m]):.6f}, ours {objs[False].loc[n, m]:.6f}, "
                         f"ours --compat-decay {objs[True].loc[n, m]:.6f}")
    for m in ("J&F", "J", "J-Recall", "F", "F-Recall"):
        table.add(group, f"global {m}", [res[False].summary[m]], [official["global"][m]])
    for m in ("J-Decay", "F-Decay"):
        table.add(group, f"global {m}", [res[False].summary[m]], [_nan(official["global"][m])],
                  by_design="uint8 Decay bins, N >= 256", design_mask=[bool(long.any())])
        table.add(group, f"global {m} --compat-decay", [res[True].summary[m]], [_nan(official["global"][m])])


def compare_expression(table: Table, group: str, bench, pred: Path, official: dict, key_of, frame_key_of,
                       workers: int) -> dict:
    from reasonvos.evaluators import score
    from reasonvos.evaluators.checks import binary_mask
    from reasonvos.evaluators.metrics import frame_scores

    res = score(bench, pred, protocol="expression", workers=workers)
    per = res.per_sample.set_index("key")
    ours_j, ours_f, th_j, th_f, fj, ff, tfj, tff = [], [], [], [], [], [], [], []
    for sample in bench.samples:
        theirs = official["per_sample"].get(key_of(sample))
        if theirs is None:
            table.add(group, f"expression {sample.key} present", [1], [0])
            continue
        ours_j.append(per.loc[sample.key, "J"])
        ours_f.append(per.loc[sample.key, "F"])
        th_j.append(theirs[0])
        th_f.append(theirs[1])
        rec = official["frames"][frame_key_of(sample)]
        for frame, gt in bench.gt_masks(sample):
            path = pred / bench.prediction_path(sample, frame)
            mask, _ = binary_mask(read_png_values(path), path, gt.shape)
            s = frame_scores(gt, mask)
            fj.append(s.j)
            ff.append(s.f)
        tfj.extend(rec["J"])
        tff.extend(rec["F"])
    table.add(group, "per-frame J", fj, tfj)
    table.add(group, "per-frame F", ff, tff)
    table.add(group, "per-expression J", ours_j, th_j)
    table.add(group, "per-expression F", ours_f, th_f)
    table.add(group, "expressions scored", [len(res.per_sample)], [len(official["per_sample"])])
    for m in ("J&F", "J", "F"):
        table.add(group, f"global {m}", [res.summary[m]], [official["global"][m]])
    return res.summary


def cli_check(table: Table, group: str, cli_args: list[str], api_summary: dict, tmp: Path) -> None:
    """The same numbers through ``reasonvos score`` (the CLI is a thin shell over the API)."""
    out = tmp / "cli.json"
    subprocess.run([sys.executable, "-m", "reasonvos", "score", *cli_args, "--json", str(out), "--quiet"], check=True)
    summary = json.loads(out.read_text())["summary"]
    keys = [k for k in ("J&F", "J", "F", "J-Recall", "J-Decay", "F-Recall", "F-Decay") if k in summary]
    table.add(group, "CLI --json summary = API (" + ", ".join(keys) + ")",
              [_nan(summary[k]) for k in keys], [api_summary[k] for k in keys])


# ==================================================================================== main


def git_commit(checkout: Path) -> str:
    head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    return head.stdout.strip() if head.returncode == 0 else "unknown (not a git work tree)"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_official":
        official_main(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--davis2017", type=Path, required=True, help="davis2017-evaluation checkout")
    ap.add_argument("--mevis", type=Path, help="henghuiding/MeViS checkout")
    ap.add_argument("--videolisa", type=Path, help="showlab/VideoLISA checkout")
    ap.add_argument("--referformer", type=Path,
                    help="wjn922/ReferFormer checkout: its eval_davis.py (own davis2017 copy) on the Ref-DAVIS "
                    "index PNGs merged by VideoLISA's post-processing (needs --videolisa; ReferFormer merges "
                    "inside its model inference, which cannot run here)")
    ap.add_argument("--commit", action="append", default=[], metavar="NAME=SHA",
                    help="commit to report for a checkout that is not a git work tree (e.g. from git archive)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = ap.parse_args()
    given = dict(c.split("=", 1) for c in args.commit)
    if args.referformer and not args.videolisa:
        ap.error("--referformer needs --videolisa (its Ref-DAVIS post-processing writes the merged PNGs)")
    for name in ("davis2017", "mevis", "videolisa", "referformer"):
        path = getattr(args, name)
        if path is not None and not path.is_dir():
            ap.error(f"--{name}: {path} is not a folder")
    rng = np.random.default_rng(args.seed)
    table = Table()
    with tempfile.TemporaryDirectory(prefix="parity-") as tmpdir:
        tmp = args.keep or Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        timings: dict[str, float] = {}
        # ---------------------------------------------------------------- DAVIS
        t0 = time.perf_counter()
        davis = write_davis(rng, tmp / "DAVIS")
        print(f"generated DAVIS: {davis['videos']} videos, {davis['frames']} frames "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
        for task, protocol in (("semi-supervised", "davis-semi"), ("unsupervised", "davis-unsup")):
            pred = davis["semi" if task == "semi-supervised" else "unsup"]
            off, dt = run_official(["davis", str(args.davis2017), task, str(davis["root"]), str(pred)],
                                   tmp / f"official-{task}.json", tmp / f"official-{task}.log")
            timings[f"davis2017 {task}"] = dt
            for f in pred.glob("*.csv"):  # the official script writes its CSVs into the results folder
                f.unlink()
            compare_davis(table, task, protocol, davis, off, args.workers)
            print(f"davis2017 {task}: done (official {dt:.1f} s)", flush=True)
        from reasonvos.evaluators import score

        from reasonvos import load_benchmark

        gt = davis["root"] / "Annotations/480p"
        api = score(load_benchmark("davis", gt), davis["semi"], protocol="davis-semi", workers=args.workers).summary
        cli_check(table, "reasonvos score davis (CLI)",
                  ["davis", "--gt", str(gt), "--pred", str(davis["semi"]), "--protocol", "davis-semi",
                   "--workers", str(args.workers)], api, tmp)
        # ---------------------------------------------------------------- MeViS
        if args.mevis:
            mv = write_mevis(rng, tmp)
            print(f"generated MeViS valid_u: {mv['videos']} videos, {mv['frames']} frames, "
                  f"{mv['expressions']} expressions", flush=True)
            script = args.mevis / "tools" / "eval_mevis.py"
            off, dt = run_official(
                ["mevis", str(script), "--mevis_exp_path", str(mv["split"] / "meta_expressions.json"),
                 "--mevis_mask_path", str(mv["split"] / "mask_dict.json"), "--mevis_pred_path", str(mv["pred"]),
                 "--save_name", str(tmp / "mevis_official.json")],
                tmp / "official-mevis.json", tmp / "official-mevis.log")
            timings["MeViS eval_mevis.py"] = dt
            bench = load_benchmark("mevis", mv["root"], "valid_u")
            compare_expression(table, "MeViS tools/eval_mevis.py / expression", bench, mv["pred"], off,
                               lambda s: f"{s.video_id}_{s.exp_id}", lambda s: f"{s.video_id}|{s.exp_id}",
                               args.workers)
            print(f"MeViS: done (official {dt:.1f} s)", flush=True)
        # ---------------------------------------------------------------- ReasonVOS
        if args.videolisa:
            rv = write_reasonvos(rng, tmp)
            print(f"generated ReasonVOS: {rv['videos']} videos, {rv['frames']} frames, "
                  f"{rv['expressions']} expressions", flush=True)
            script = args.videolisa / "evaluation" / "reason_vos" / "eval_reason_vos.py"
            off, dt = run_official(
                ["reasonvos", str(script), "--meta_exp_path", str(rv["root"] / "meta_expressions.json"),
                 "--mask_path", str(rv["root"] / "Annotations"), "--pred_path", str(rv["pred"]),
                 "--save_name", str(tmp / "reasonvos_official.json")],
                tmp / "official-reasonvos.json", tmp / "official-reasonvos.log")
            timings["VideoLISA eval_reason_vos.py"] = dt
            bench = load_benchmark("reasonvos", rv["root"])
            folder = lambda s: str(bench.prediction_dir(s).parent)  # noqa: E731
            summary = compare_expression(table, "VideoLISA eval_reason_vos.py / expression", bench, rv["pred"], off,
                                         lambda s: f"{folder(s)}_{s.exp_id}", lambda s: f"{folder(s)}|{s.exp_id}",
                                         args.workers)
            cli_check(table, "reasonvos score reasonvos (CLI)",
                      ["reasonvos", "--root", str(rv["root"]), "--pred", str(rv["pred"]),
                       "--workers", str(args.workers)], summary, tmp)
            print(f"ReasonVOS: done (official {dt:.1f} s)", flush=True)
            enc = write_encodings(rng, tmp)
            off, _ = run_official(
                ["reasonvos", str(script), "--meta_exp_path", str(enc["root"] / "meta_expressions.json"),
                 "--mask_path", str(enc["root"] / "Annotations"), "--pred_path", str(enc["pred"]),
                 "--save_name", str(tmp / "encodings_official.json")],
                tmp / "official-encodings.json", tmp / "official-encodings.log")
            compare_encodings(table, load_benchmark("reasonvos", enc["root"]), enc["pred"], off, args.workers)
            # ------------------------------------------------------------ Ref-DAVIS (VideoLISA copy)
            rd = write_refdavis(rng, tmp)
            print(f"generated Ref-DAVIS: {rd['videos']} videos, {rd['frames']} frames, "
                  f"{rd['expressions']} expressions", flush=True)
            refdavis_dir = args.videolisa / "evaluation" / "refdavis"
            t0 = time.perf_counter()
            run_official(["script", str(refdavis_dir / "post_process_davis.py"), "--src_dir", str(rd["pred"]),
                          "--davis_path", str(rd["root"])], tmp / "official-postprocess.json",
                         tmp / "official-postprocess.log")
            processed = Path(str(rd["pred"]) + "_processed")
            timings["VideoLISA post_process_davis.py"] = time.perf_counter() - t0
            evaluators = [("VideoLISA refdavis (post_process_davis.py + eval_davis.py)", refdavis_dir)]
            if args.referformer:
                evaluators.append(("ReferFormer eval_davis.py (on the same merged PNGs)", args.referformer))
            for label, checkout in evaluators:
                t0 = time.perf_counter()
                per_slot = {}
                for a in range(4):
                    tag = f"{checkout.name}-{a}"
                    per_slot[a], _ = run_official(
                        ["davis", str(checkout), "unsupervised", str(rd["root"] / "DAVIS"),
                         str(processed / f"anno_{a}"), "eval_davis.py"],
                        tmp / f"official-refdavis-{tag}.json", tmp / f"official-refdavis-{tag}.log")
                    for f in (processed / f"anno_{a}").glob("*.csv"):  # or the next run reuses them
                        f.unlink()
                timings[label + " (4 runs)"] = time.perf_counter() - t0
                compare_refdavis(table, f"{label} / refdavis", rd, processed, per_slot, args.workers,
                                 check_merge=checkout == refdavis_dir)
            print("Ref-DAVIS: done", flush=True)
    print()
    print("Official checkouts:")
    for name in ("davis2017", "mevis", "videolisa", "referformer"):
        path = getattr(args, name)
        if path is not None:
            print(f"- {name}: {path} @ {given.get(name) or git_commit(path)}")
    print("Official run times: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    print(f"numpy {np.__version__}, opencv {cv2.__version__}, python {sys.version.split()[0]}, "
          f"cpus {os.cpu_count()}")
    print()
    print(table.render())
    print()
    for note in NOTES:
        print("-", note)
    print()
    print("RESULT:", "FAIL" if table.failed else "PASS", f"(tolerance {TOL:g}; NaN equals NaN)")
    return 1 if table.failed else 0


if __name__ == "__main__":
    sys.exit(main())
