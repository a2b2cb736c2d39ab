"""The object-level DAVIS protocols: ``davis-semi``, ``davis-unsup`` and ``refdavis``.

- ``davis-semi``: index PNGs, objects 1..max id of frame 0, frames 1..T-2, void = background.
- ``davis-unsup``: index PNGs, all frames, void excluded, Hungarian matching of at most 20
  predicted ids to the GT objects on mean (J+F)/2, missing proposals padded with empty masks.
- ``refdavis``: per-expression binary masks merged per annotator slot (exp_id = 4k + slot) into
  one index map (lowest object index wins), then ``davis-unsup`` per slot; the summary is the
  mean over the four slots of each slot's DAVIS means.

DAVIS ground truth is dense: every frame of a video has its index PNG, and the statistics (mean,
recall, decay over the quarters of the video) depend on every frame. The DAVIS layout takes a
video's frames from its GT PNGs, so a missing GT PNG would silently drop that frame: a video
whose GT misses a frame in the middle of its numbered sequence (or, where the JPEG folder is
known, any JPEG frame) is refused before scoring, naming the frame. An error, not a warning: the
number would otherwise change with exit status 0, and the fix (restore the PNG) is the user's.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath
from typing import Any

import cv2
import numpy as np
import pandas as pd

from reasonvos.benchmarks.model import Benchmark, Sample
from reasonvos.errors import InputError

from .davis_statistics import db_statistics
from .expression import sample_row
from .headline_rows import HeadlineRows
from .metrics import area_fraction, frame_scores
from .protocols import Options, PredictionReader, Protocol, VideoOutcome, peak_rss_mb
from .results import breakdown, jf, mean
from .schema import DAVIS_STATS

VOID = 255
MAX_PROPOSALS = 20
N_SLOTS = 4
#: Ref-DAVIS-17 annotator slots: exp_id % 4 -> (expression kind, annotator)
SLOT_KIND = {0: ("first-frame", 1), 1: ("full-video", 1), 2: ("first-frame", 2), 3: ("full-video", 2)}


# ---------------------------------------------------------------------------- ground truth


def gt_holes(bench: Benchmark, video_id: str) -> list[str]:
    """Frames of a video that have no GT PNG although the video has them: frames of its JPEG
    folder without a GT PNG, and gaps inside a numbered GT sequence (``00000, 00001, 00003``).
    A uniform step (``00000, 00005, 00010``, sparse annotations) is not a gap."""
    video = bench.videos[video_id]
    frames = tuple(video.frames)
    present = set(frames)
    holes: set[str] = set()
    if video.image_dir is not None:
        try:
            names = os.listdir(video.image_dir)
        except OSError:
            names = []
        holes.update(n[: -len(video.image_ext)] for n in names
                     if n.endswith(video.image_ext) and not n.startswith(".") and n[: -len(video.image_ext)] not in present)
    if len(frames) > 2 and all(f.isdigit() for f in frames):
        nums = [int(f) for f in frames]
        diffs = [b - a for a, b in zip(nums, nums[1:], strict=False)]
        step = min(diffs)
        if step > 0 and any(d != step for d in diffs):
            width = len(frames[0])
            have = set(nums)
            holes.update(f"{n:0{width}d}" for n in range(nums[0], nums[-1] + 1, step) if n not in have)
    return sorted(holes)


def check_dense_ground_truth(bench: Benchmark) -> None:
    """Refuse GT with holes: a missing GT frame would silently drop that frame from the scores."""
    found = {vid: holes for vid in bench.videos if (holes := gt_holes(bench, vid))}
    if not found:
        return
    vid, holes = next(iter(found.items()))
    shown = ", ".join(f"{h}.png" for h in holes[:5]) + (", ..." if len(holes) > 5 else "")
    more = f" ({sum(map(len, found.values()))} missing GT frames in {len(found)} videos)" if len(found) > 1 else ""
    raise InputError(bench.root, f"video {vid!r}: ground-truth frame(s) {shown} missing{more}; DAVIS protocols "
                     "score every frame of a video, so it would be scored on fewer frames")


def _labels_and_void(bench: Benchmark, video_id: str, frame: str) -> tuple[np.ndarray, np.ndarray | None]:
    """GT label map with void set to 0, and the void mask (None when the frame has none)."""
    lab = np.asarray(bench.gt_labels(video_id, frame))
    void = lab == VOID
    if void.any():
        return np.where(void, 0, lab), void
    return lab, None


def _n_objects(bench: Benchmark, video_id: str, frames: tuple[str, ...]) -> int:
    """GT objects are ids 1..max of the first frame after void removal (davis2017 davis.py)."""
    lab, _ = _labels_and_void(bench, video_id, frames[0])
    return int(lab.max(initial=0))


def _present_ids(labels: np.ndarray) -> list[int]:
    if labels.dtype == np.uint8:
        hist = cv2.calcHist([labels], [0], None, [256], [0, 256]).ravel()
        return [int(i) for i in np.flatnonzero(hist) if i]
    return [int(i) for i in np.unique(labels) if i]


def _object_row(video: str, name: int, j: np.ndarray, f: np.ndarray, inter: int, union: int,
                opt: Options, **extra) -> dict:
    js, fs = db_statistics(j, opt.compat_decay), db_statistics(f, opt.compat_decay)
    return {
        "video": video, "object": f"{video}_{name}", **extra,
        "J": js.mean, "J-Recall": js.recall, "J-Decay": js.decay,
        "F": fs.mean, "F-Recall": fs.recall, "F-Decay": fs.decay, "J&F": (js.mean + fs.mean) / 2,
        "I": inter, "U": union, "frames": int(j.size),
    }


def _object_sample_row(row: dict, gt_id: int, missing: int, gt_area: float) -> dict:
    """DAVIS protocols: each GT object is one sample for gIoU/cIoU and the per-sample table;
    ``gt_area`` is the mean fraction of the frame its GT object covers over the scored frames."""
    return {
        "key": row["object"] if "slot" not in row else f"{row['object']}@{row['slot']}",
        "video": row["video"], "exp_id": None, "obj_ids": [str(gt_id)], "text": None, "kind": None,
        "source": None, "annotator": None, "J": row["J"], "F": row["F"], "J&F": row["J&F"],
        "I": row["I"], "U": row["U"], "frames": row["frames"], "missing_frames": missing, "gt_area": gt_area,
    }


class _DavisProtocol(Protocol):
    """Per-video protocols on index PNGs: one folder ``<video>/`` of index PNGs per video (the unit
    key of a video is its id)."""

    reads = "video"
    headline_rows = HeadlineRows(table="per_object", key=("object",))

    def check_ground_truth(self, bench: Benchmark) -> None:
        check_dense_ground_truth(bench)

    def headline(self, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> dict[str, Any]:
        summary = {k: v for k, v in jf(per_object).items() if k != "n"}
        summary.update({k: mean(per_object[k]) if not per_object.empty else float("nan") for k in DAVIS_STATS})
        return summary

    def details(self, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> dict[str, Any]:
        return {"breakdown": {c: b for c in ("kind", "source", "annotator") if (b := breakdown(per_sample, c))}}


# ------------------------------------------------------------------------------ davis-semi


class DavisSemiProtocol(_DavisProtocol):
    """Objects 1..max id of frame 0, scored on frames 1..T-2 (first and last excluded)."""

    name = "davis-semi"

    def required_frames(self, bench: Benchmark, frames: tuple[str, ...], sample: Sample | None) -> tuple[str, ...]:
        return frames[1:-1]

    def score_video(self, bench: Benchmark, video_id: str, keys: list[str], reader: PredictionReader,
                    opt: Options) -> VideoOutcome:
        out = VideoOutcome(video_id, problems=reader.problems)
        frames = tuple(bench.videos[video_id].frames)
        if len(frames) < 3:
            raise InputError(bench.root / video_id, f"video {video_id!r} has {len(frames)} frames; davis-semi "
                             "scores frames 1..T-2, so it needs at least 3")
        n_obj = _n_objects(bench, video_id, frames)
        if n_obj == 0:
            # DAVIS scores objects 1..max id of frame 0: there are none to score in this video
            out.unscored = "no object in the first frame (davis-semi scores objects 1..max id of frame 0)"
            return out
        evaluated = frames[1:-1]
        j = np.zeros((n_obj, len(evaluated)))
        f = np.zeros((n_obj, len(evaluated)))
        inter = np.zeros(n_obj, np.int64)
        union = np.zeros(n_obj, np.int64)
        area = np.zeros((n_obj, len(evaluated)))
        ok = True
        rel = PurePosixPath(video_id)
        for t, frame in enumerate(evaluated):
            lab, _void = _labels_and_void(bench, video_id, frame)  # semi: void is plain background
            pred = reader.labels(video_id, rel, frame, lab.shape, n_obj)
            if pred is False:
                ok = False
                continue
            for k in range(n_obj):
                gt = lab == k + 1
                area[k, t] = area_fraction(gt)
                s = frame_scores(gt, pred == k + 1, None, opt.bound_th)
                j[k, t], f[k, t] = s.j, s.f
                inter[k] += s.inter
                union[k] += s.union
        if ok:
            missing = reader.missing_frames(video_id)
            for k in range(n_obj):
                row = _object_row(video_id, k + 1, j[k], f[k], int(inter[k]), int(union[k]), opt,
                                  gt_id=k + 1, pred_id=k + 1)
                out.objects.append(row)
                out.samples.append(_object_sample_row(row, k + 1, missing, float(area[k].mean())))
        out.peak_rss_mb = peak_rss_mb()
        return out


# ----------------------------------------------------------------------------- davis-unsup


class UnsupAccumulator:
    """Per-frame J/F/I/U of every (predicted id, GT object) pair of one video, then matching.

    A predicted id absent from a frame is an empty mask there, whose scores depend only on the
    GT, so they are computed once per GT object and frame ("pad" scores) instead of per id.
    """

    def __init__(self, n_obj: int, n_frames: int) -> None:
        self.n_obj, self.n_frames = n_obj, n_frames
        shape = (n_obj, n_frames)
        self.pad_j, self.pad_f = np.zeros(shape), np.zeros(shape)
        self.pad_u = np.zeros(shape, np.int64)
        self.area = np.zeros(shape)  # fraction of the frame each GT object covers
        self.pairs: dict[int, tuple[np.ndarray, ...]] = {}  # pred id -> (J, F, I, U) with NaN = absent
        self.max_id = 0

    def add_frame(self, t: int, gts: list[np.ndarray], void: np.ndarray | None, pred: np.ndarray,
                  ids: list[int], bound_th: float) -> None:
        for k, gt in enumerate(gts):
            s = frame_scores(gt, None, void, bound_th)
            self.pad_j[k, t], self.pad_f[k, t], self.pad_u[k, t] = s.j, s.f, s.union
            self.area[k, t] = area_fraction(gt)
        for pid in ids:
            self.max_id = max(self.max_id, pid)
            if pid not in self.pairs:
                shape = (self.n_obj, self.n_frames)
                self.pairs[pid] = (np.full(shape, np.nan), np.full(shape, np.nan),
                                   np.zeros(shape, np.int64), np.full(shape, -1, np.int64))
            pj, pf, pi, pu = self.pairs[pid]
            pm = pred == pid
            for k, gt in enumerate(gts):
                s = frame_scores(gt, pm, void, bound_th)
                pj[k, t], pf[k, t], pi[k, t], pu[k, t] = s.j, s.f, s.inter, s.union

    def _scores(self, pid: int) -> tuple[np.ndarray, ...]:
        if pid not in self.pairs:
            return self.pad_j, self.pad_f, np.zeros_like(self.pad_u), self.pad_u
        pj, pf, pi, pu = self.pairs[pid]
        absent = np.isnan(pj)
        return (np.where(absent, self.pad_j, pj), np.where(absent, self.pad_f, pf), pi,
                np.where(pu < 0, self.pad_u, pu))

    def match(self) -> list[tuple[int, int, tuple[np.ndarray, ...]]]:
        """Hungarian matching on mean (J+F)/2: [(pred id or 0 for padding, gt id, (J, F, I, U))]
        in the order of the matched predictions (davis2017 names objects that way)."""
        n_rows = max(self.max_id, self.n_obj)
        if self.n_obj == 0:
            return []
        scores = [self._scores(p) for p in range(1, n_rows + 1)]
        cost = np.array([[(s[0][k].mean() + s[1][k].mean()) / 2 for k in range(self.n_obj)] for s in scores])
        # imported here: scipy.optimize takes ~0.25 s to import and only the unsup protocols need it
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(-cost)
        out = []
        for r, c in zip(rows, cols, strict=True):
            pid = int(r) + 1
            s = scores[r]
            out.append((pid if pid <= self.max_id else 0, int(c) + 1, tuple(a[c] for a in s)))
        return out


def _unsup_rows(acc: UnsupAccumulator, video_id: str, opt: Options, missing: int, slot: int | None,
                out: VideoOutcome, with_samples: bool) -> None:
    extra = {} if slot is None else {"slot": slot}
    for name, (pid, gid, (j, f, i, u)) in enumerate(acc.match(), start=1):
        row = _object_row(video_id, name, j, f, int(i.sum()), int(u.sum()), opt,
                          gt_id=gid, pred_id=pid or None, **extra)
        out.objects.append(row)
        if with_samples:
            out.samples.append(_object_sample_row(row, gid, missing, float(acc.area[gid - 1].mean())))


class DavisUnsupProtocol(_DavisProtocol):
    """Every frame, void excluded; at most 20 proposals matched to the GT objects."""

    name = "davis-unsup"

    def score_video(self, bench: Benchmark, video_id: str, keys: list[str], reader: PredictionReader,
                    opt: Options) -> VideoOutcome:
        out = VideoOutcome(video_id, problems=reader.problems)
        frames = tuple(bench.videos[video_id].frames)
        n_obj = _n_objects(bench, video_id, frames)
        acc = UnsupAccumulator(n_obj, len(frames))
        ok = True
        rel = PurePosixPath(video_id)
        for t, frame in enumerate(frames):
            lab, void = _labels_and_void(bench, video_id, frame)
            pred = reader.labels(video_id, rel, frame, lab.shape, MAX_PROPOSALS)
            if pred is False:
                ok = False
                continue
            gts = [lab == k + 1 for k in range(n_obj)]
            acc.add_frame(t, gts, void, pred, _present_ids(pred), opt.bound_th)
        if ok:
            _unsup_rows(acc, video_id, opt, reader.missing_frames(video_id), None, out, with_samples=True)
        out.peak_rss_mb = peak_rss_mb()
        return out


# -------------------------------------------------------------------------------- refdavis


def refdavis_slot(sample: Sample) -> tuple[int, int]:
    """(object index k, annotator slot a) from ``exp_id = 4k + a``."""
    try:
        e = int(sample.exp_id)
    except ValueError as err:
        raise InputError(None, f"Ref-DAVIS exp_id {sample.exp_id!r} of {sample.key!r} is not an integer") from err
    return e // N_SLOTS, e % N_SLOTS


def merge_slot(masks: list[tuple[int, np.ndarray | None]], size: tuple[int, int]) -> np.ndarray:
    """Merge binary object masks into one label map: label k+1 where object k is on; where
    several are on the lowest index wins (argmax over [0.1 background, masks >= 0.5])."""
    labels = np.zeros(size, np.uint8)
    for k, m in sorted(masks, key=lambda km: km[0], reverse=True):
        if m is not None:
            labels[m] = k + 1
    return labels


def _add_expression_frame(acc: dict, sample: Sample, lab: np.ndarray, void: np.ndarray | None,
                          mask: np.ndarray | None, opt: Options) -> None:
    """Toolkit-only per-expression scores: the binary mask against the referred GT object(s)."""
    ids = [int(o) for o in sample.obj_ids if str(o).isdigit()]
    gt = np.isin(lab, ids) if ids else np.zeros(lab.shape, bool)
    s = frame_scores(gt, mask, void, opt.bound_th)
    j, f, i, u, areas = acc[sample.key]
    j.append(s.j)
    f.append(s.f)
    areas.append(area_fraction(gt))
    acc[sample.key] = (j, f, i + s.inter, u + s.union, areas)


class RefDavisProtocol(Protocol):
    """Ref-DAVIS-17: per-expression binary PNGs, merged per annotator slot, ``davis-unsup`` per slot.

    ``--missing skip`` is refused: a slot is scored as one merged index map per frame, which holds
    every object's expression, so one expression cannot be left out of it (leaving its object
    unlabelled is exactly ``--missing empty``), and dropping the GT object instead would change the
    matching of the others. The official flow (davis2017-evaluation on the merged maps) stops on
    a missing file; it has no skip either.
    """

    name = "refdavis"
    reads = "sample"
    headline_rows = HeadlineRows(table="per_object", key=("object", "slot"), stratum="slot")
    missing_policies = ("error", "empty")
    missing_note = ("each annotator slot is scored as one merged index map of all its expressions, so a missing "
                    "expression cannot be left out of it; use --missing empty to score missing frames as empty masks")

    # no GT-hole check: Ref-DAVIS frames come from the metadata, and a listed frame without its GT
    # PNG is an error when it is read, so no frame can drop out silently

    def score_video(self, bench: Benchmark, video_id: str, keys: list[str], reader: PredictionReader,
                    opt: Options) -> VideoOutcome:
        out = VideoOutcome(video_id, problems=reader.problems)
        frames = tuple(bench.videos[video_id].frames)
        n_obj = _n_objects(bench, video_id, frames)
        samples = [bench.sample(k) for k in keys]
        slots: dict[int, list[tuple[int, Sample]]] = {}
        for s in samples:
            k, a = refdavis_slot(s)
            if k + 1 > MAX_PROPOSALS:
                raise InputError(bench.meta_path, f"{s.key}: object index {k} gives more than {MAX_PROPOSALS} proposals")
            slots.setdefault(a, []).append((k, s))
        accs = {a: UnsupAccumulator(n_obj, len(frames)) for a in sorted(slots)}
        per_sample = {s.key: ([], [], 0, 0, []) for s in samples}
        ok = True
        for t, frame in enumerate(frames):
            lab, void = _labels_and_void(bench, video_id, frame)
            gts = [lab == k + 1 for k in range(n_obj)]
            for a, members in slots.items():
                masks: list[tuple[int, np.ndarray | None]] = []
                for k, s in members:
                    mask = reader.binary(bench, s, frame, lab.shape)
                    if mask is False:
                        ok = False
                        continue
                    masks.append((k, mask))
                    _add_expression_frame(per_sample, s, lab, void, mask, opt)
                merged = merge_slot(masks, lab.shape)
                accs[a].add_frame(t, gts, void, merged, _present_ids(merged), opt.bound_th)
        if ok:
            for a, acc in accs.items():
                _unsup_rows(acc, video_id, opt, 0, a, out, with_samples=False)
            for s in samples:
                j, f, i, u, areas = per_sample[s.key]
                out.samples.append(sample_row(s, j, f, i, u, reader.missing_frames(s.key), areas))
        out.peak_rss_mb = peak_rss_mb()
        return out

    @staticmethod
    def _per_slot(per_object: pd.DataFrame) -> dict[int, dict]:
        slots = {int(a): g for a, g in per_object.groupby("slot")} if not per_object.empty else {}
        return {a: {**jf(g), **{k: mean(g[k]) for k in DAVIS_STATS}} for a, g in sorted(slots.items())}

    def headline(self, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> dict[str, Any]:
        """The mean over the annotator slots of each slot's DAVIS means."""
        per_slot = self._per_slot(per_object)
        summary: dict[str, Any] = {}
        for k in ("J", "F", *DAVIS_STATS):
            summary[k] = mean(s[k] for s in per_slot.values())
        summary["J&F"] = (summary["J"] + summary["F"]) / 2
        return {k: summary[k] for k in ("J", "F", "J&F", *DAVIS_STATS)}

    def details(self, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> dict[str, Any]:
        return {"iou_note": "gIoU/cIoU per expression against its referred object: toolkit-only numbers",
                "breakdown": _slot_breakdown(self._per_slot(per_object))}


def _slot_breakdown(per_slot: dict[int, dict]) -> dict:
    def combine(slots: list[int]) -> dict:
        chosen = [per_slot[a] for a in slots if a in per_slot]
        j, f = mean(s["J"] for s in chosen), mean(s["F"] for s in chosen)
        return {"J": j, "F": f, "J&F": (j + f) / 2, "n": sum(s["n"] for s in chosen)}

    out: dict[str, dict] = {"slot": {str(a): {k: s[k] for k in ("J", "F", "J&F", "n")} for a, s in per_slot.items()}}
    kinds: dict[str, list[int]] = {}
    annotators: dict[str, list[int]] = {}
    for a, (kind, annotator) in SLOT_KIND.items():
        if a in per_slot:
            kinds.setdefault(kind, []).append(a)
            annotators.setdefault(str(annotator), []).append(a)
    out["kind"] = {k: combine(v) for k, v in kinds.items()}
    out["annotator"] = {k: combine(v) for k, v in annotators.items()}
    return out
