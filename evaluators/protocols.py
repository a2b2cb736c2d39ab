"""The scoring protocols, applied to one video at a time (what a scoring worker runs).

- ``expression`` (MeViS, ReasonVOS, Ref-YouTube-VOS style): one binary mask sequence per
  sample, GT = union of the referred objects, every scored frame, mean per sample.
- ``davis-semi``: index PNGs, objects 1..max id of frame 0, frames 1..T-2, void = background.
- ``davis-unsup``: index PNGs, all frames, void excluded, Hungarian matching of at most 20
  predicted ids to the GT objects on mean (J+F)/2, missing proposals padded with empty masks.
- ``refdavis``: per-expression binary masks merged per annotator slot (exp_id = 4k + slot) into
  one index map (lowest object index wins), then ``davis-unsup`` per slot.

Each function returns a :class:`VideoOutcome` (small rows, problems found, counts); masks are
decoded here, one frame at a time, so memory does not grow with video length.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from reasonvos.benchmarks.model import Benchmark, Sample
from reasonvos.errors import InputError, MaskError, MissingFileError
from reasonvos.masks import MaskSizeError, read_png_values

from .checks import Problem, binary_mask, index_labels
from .metrics import BOUND_TH, frame_scores
from .statistics import db_statistics

PROTOCOLS = ("expression", "davis-semi", "davis-unsup", "refdavis")
DEFAULT_PROTOCOL = {
    "reasonvos": "expression",
    "mevis": "expression",
    "refytvos": "expression",
    "refdavis": "refdavis",
    "davis": "davis-semi",
}
VOID = 255
MAX_PROPOSALS = 20
N_SLOTS = 4


@dataclass(frozen=True)
class Options:
    """Everything a worker needs besides the benchmark (small and picklable)."""

    pred_root: str
    missing: str = "error"  # error | empty | skip
    compat_decay: bool = False
    bound_th: float = BOUND_TH


@dataclass
class VideoOutcome:
    video: str
    samples: list[dict] = field(default_factory=list)
    objects: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    missing_frames: int = 0
    missing_samples: int = 0
    peak_rss_mb: float = 0.0
    start_rss_mb: float = 0.0  # the worker's peak RSS before its first task
    unscored: str | None = None  # why a video contributed nothing (reported, never silent)


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def read_prediction(path: Path, problems: list[Problem], size: tuple[int, int] | None = None) -> np.ndarray | None:
    """Decode one prediction PNG; a missing or undecodable file becomes a Problem, not an exception.

    ``size`` (H, W) is compared with the PNG's header before it is decoded."""
    try:
        return read_png_values(path, size)
    except MissingFileError:
        problems.append(Problem("missing", str(path)))
    except MaskSizeError as e:
        problems.append(Problem("size", str(path), e.detail))
    except MaskError as e:
        problems.append(Problem("decode", str(path), e.problem))
    return None


def _sample_row(sample: Sample, j: list[float], f: list[float], inter: int, union: int, missing: int) -> dict:
    jm = float(np.mean(j)) if j else float("nan")
    fm = float(np.mean(f)) if f else float("nan")
    return {
        "key": sample.key, "video": sample.video_id, "exp_id": sample.exp_id, "obj_ids": list(sample.obj_ids),
        "text": sample.text, "kind": sample.kind, "source": sample.source, "annotator": sample.annotator,
        "J": jm, "F": fm, "J&F": (jm + fm) / 2, "I": inter, "U": union, "frames": len(j),
        "missing_frames": missing,
    }


# -------------------------------------------------------------------------------- expression


def _gt_masks(bench: Benchmark, sample: Sample):
    """(frame, bool GT) for every scored frame; ReasonVOS GT PNGs are decoded the fast way."""
    mask_dir = getattr(bench, "mask_dir", None)
    if mask_dir is None:
        yield from bench.gt_masks(sample)
        return
    folder = Path(mask_dir(sample))
    for frame in bench.scored_frames(sample):
        arr = read_png_values(folder / f"{frame}.png")
        yield frame, (arr != 0 if arr.ndim == 2 else bench.gt_mask(sample, frame))


def score_expression_video(bench: Benchmark, video_id: str, keys: list[str], missing: dict[str, tuple[str, ...]],
                           opt: Options) -> VideoOutcome:
    """Per-sample J, F, I, U of every sample of one video."""
    out = VideoOutcome(video_id)
    root = Path(opt.pred_root)
    for key in keys:
        sample = bench.sample(key)
        gone = set(missing.get(key, ()))
        if gone:
            out.missing_samples += 1
            out.missing_frames += len(gone)
            if opt.missing == "skip":
                continue
        j: list[float] = []
        f: list[float] = []
        inter = union = 0
        ok = True
        for frame, gt in _gt_masks(bench, sample):
            if frame in gone and opt.missing == "empty":
                mask = None
            else:
                path = root / bench.prediction_path(sample, frame)
                arr = read_prediction(path, out.problems, gt.shape)
                if arr is None:
                    ok = False
                    continue
                mask, problem = binary_mask(arr, path, gt.shape)
                if problem:
                    out.problems.append(problem)
                    ok = False
                    continue
            s = frame_scores(gt, mask, None, opt.bound_th)
            j.append(s.j)
            f.append(s.f)
            inter += s.inter
            union += s.union
        if ok:
            if not j:
                raise InputError(bench.meta_path, f"sample {key!r} has no scored frames")
            out.samples.append(_sample_row(sample, j, f, inter, union, len(gone)))
    out.peak_rss_mb = peak_rss_mb()
    return out


# ------------------------------------------------------------------------------- DAVIS common


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


def _object_sample_row(row: dict, gt_id: int, missing: int) -> dict:
    """DAVIS protocols: each GT object is one sample for gIoU/cIoU and the per-sample table."""
    return {
        "key": row["object"] if "slot" not in row else f"{row['object']}@{row['slot']}",
        "video": row["video"], "exp_id": None, "obj_ids": [str(gt_id)], "text": None, "kind": None,
        "source": None, "annotator": None, "J": row["J"], "F": row["F"], "J&F": row["J&F"],
        "I": row["I"], "U": row["U"], "frames": row["frames"], "missing_frames": missing,
    }


def _pred_labels(root: Path, video_id: str, frame: str, size: tuple[int, int], max_id: int,
                 gone: set[str], opt: Options, out: VideoOutcome) -> np.ndarray | None | bool:
    """Predicted label map of one frame; an all-zero map for a missing frame under ``empty``;
    False when the file has a problem (already recorded)."""
    if frame in gone and opt.missing == "empty":
        return np.zeros(size, np.uint8)
    path = root / video_id / f"{frame}.png"
    arr = read_prediction(path, out.problems, size)
    if arr is None:
        return False
    labels, problem = index_labels(arr, path, size, max_id)
    if problem:
        out.problems.append(problem)
        return False
    return labels


# ------------------------------------------------------------------------------ davis-semi


def score_davis_semi_video(bench: Benchmark, video_id: str, missing: tuple[str, ...], opt: Options) -> VideoOutcome:
    out = VideoOutcome(video_id)
    frames = tuple(bench.videos[video_id].frames)
    if len(frames) < 3:
        raise InputError(bench.root / video_id, f"video {video_id!r} has {len(frames)} frames; davis-semi scores "
                         "frames 1..T-2, so it needs at least 3")
    n_obj = _n_objects(bench, video_id, frames)
    gone = set(missing)
    if gone:
        out.missing_samples, out.missing_frames = 1, len(gone)
        if opt.missing == "skip":
            return out
    if n_obj == 0:
        # DAVIS scores objects 1..max id of frame 0: there are none to score in this video
        out.unscored = "no object in the first frame (davis-semi scores objects 1..max id of frame 0)"
        return out
    evaluated = frames[1:-1]
    j = np.zeros((n_obj, len(evaluated)))
    f = np.zeros((n_obj, len(evaluated)))
    inter = np.zeros(n_obj, np.int64)
    union = np.zeros(n_obj, np.int64)
    ok = True
    root = Path(opt.pred_root)
    for t, frame in enumerate(evaluated):
        lab, _void = _labels_and_void(bench, video_id, frame)  # semi: void is plain background
        pred = _pred_labels(root, video_id, frame, lab.shape, n_obj, gone, opt, out)
        if pred is False:
            ok = False
            continue
        for k in range(n_obj):
            s = frame_scores(lab == k + 1, pred == k + 1, None, opt.bound_th)
            j[k, t], f[k, t] = s.j, s.f
            inter[k] += s.inter
            union[k] += s.union
    if ok:
        for k in range(n_obj):
            row = _object_row(video_id, k + 1, j[k], f[k], int(inter[k]), int(union[k]), opt,
                              gt_id=k + 1, pred_id=k + 1)
            out.objects.append(row)
            out.samples.append(_object_sample_row(row, k + 1, len(gone)))
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
        self.pairs: dict[int, tuple[np.ndarray, ...]] = {}  # pred id -> (J, F, I, U) with NaN = absent
        self.max_id = 0

    def add_frame(self, t: int, gts: list[np.ndarray], void: np.ndarray | None, pred: np.ndarray,
                  ids: list[int], bound_th: float) -> None:
        for k, gt in enumerate(gts):
            s = frame_scores(gt, None, void, bound_th)
            self.pad_j[k, t], self.pad_f[k, t], self.pad_u[k, t] = s.j, s.f, s.union
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
            out.samples.append(_object_sample_row(row, gid, missing))


def score_davis_unsup_video(bench: Benchmark, video_id: str, missing: tuple[str, ...], opt: Options) -> VideoOutcome:
    out = VideoOutcome(video_id)
    frames = tuple(bench.videos[video_id].frames)
    n_obj = _n_objects(bench, video_id, frames)
    gone = set(missing)
    if gone:
        out.missing_samples, out.missing_frames = 1, len(gone)
        if opt.missing == "skip":
            return out
    acc = UnsupAccumulator(n_obj, len(frames))
    ok = True
    root = Path(opt.pred_root)
    for t, frame in enumerate(frames):
        lab, void = _labels_and_void(bench, video_id, frame)
        pred = _pred_labels(root, video_id, frame, lab.shape, MAX_PROPOSALS, gone, opt, out)
        if pred is False:
            ok = False
            continue
        gts = [lab == k + 1 for k in range(n_obj)]
        acc.add_frame(t, gts, void, pred, _present_ids(pred), opt.bound_th)
    if ok:
        _unsup_rows(acc, video_id, opt, len(gone), None, out, with_samples=True)
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


def score_refdavis_video(bench: Benchmark, video_id: str, keys: list[str], missing: dict[str, tuple[str, ...]],
                         opt: Options) -> VideoOutcome:
    out = VideoOutcome(video_id)
    frames = tuple(bench.videos[video_id].frames)
    n_obj = _n_objects(bench, video_id, frames)
    samples = [bench.sample(k) for k in keys]
    slots: dict[int, list[tuple[int, Sample]]] = {}
    for s in samples:
        k, a = refdavis_slot(s)
        if k + 1 > MAX_PROPOSALS:
            raise InputError(bench.meta_path, f"{s.key}: object index {k} gives more than {MAX_PROPOSALS} proposals")
        slots.setdefault(a, []).append((k, s))
    skipped = set()
    for s in samples:
        gone = missing.get(s.key, ())
        if gone:
            out.missing_samples += 1
            out.missing_frames += len(gone)
            if opt.missing == "skip":
                skipped.add(s.key)
    accs = {a: UnsupAccumulator(n_obj, len(frames)) for a in sorted(slots)}
    per_sample = {s.key: ([], [], 0, 0) for s in samples if s.key not in skipped}
    root = Path(opt.pred_root)
    ok = True
    for t, frame in enumerate(frames):
        lab, void = _labels_and_void(bench, video_id, frame)
        gts = [lab == k + 1 for k in range(n_obj)]
        for a, members in slots.items():
            masks: list[tuple[int, np.ndarray | None]] = []
            for k, s in members:
                if s.key in skipped or (frame in missing.get(s.key, ()) and opt.missing == "empty"):
                    mask = None
                else:
                    path = root / bench.prediction_path(s, frame)
                    arr = read_prediction(path, out.problems, lab.shape)
                    mask, problem = (None, None) if arr is None else binary_mask(arr, path, lab.shape)
                    if arr is None or problem:
                        if problem:
                            out.problems.append(problem)
                        ok = False
                        continue
                masks.append((k, mask))
                if s.key in per_sample:
                    _add_expression_frame(per_sample, s, lab, void, mask, opt)
            merged = merge_slot(masks, lab.shape)
            accs[a].add_frame(t, gts, void, merged, _present_ids(merged), opt.bound_th)
    if ok:
        for a, acc in accs.items():
            _unsup_rows(acc, video_id, opt, 0, a, out, with_samples=False)
        for s in samples:
            if s.key in per_sample:
                j, f, i, u = per_sample[s.key]
                out.samples.append(_sample_row(s, j, f, i, u, len(missing.get(s.key, ()))))
    out.peak_rss_mb = peak_rss_mb()
    return out


def _add_expression_frame(acc: dict, sample: Sample, lab: np.ndarray, void: np.ndarray | None,
                          mask: np.ndarray | None, opt: Options) -> None:
    """Toolkit-only per-expression scores: the binary mask against the referred GT object(s)."""
    ids = [int(o) for o in sample.obj_ids if str(o).isdigit()]
    gt = np.isin(lab, ids) if ids else np.zeros(lab.shape, bool)
    s = frame_scores(gt, mask, void, opt.bound_th)
    j, f, i, u = acc[sample.key]
    j.append(s.j)
    f.append(s.f)
    acc[sample.key] = (j, f, i + s.inter, u + s.union)
