"""Per-frame region similarity J and boundary F-measure with the official DAVIS semantics.

The numbers equal ``db_eval_iou`` / ``f_measure`` of davis2017-evaluation (docs/metrics.md#per-frame-j-and-f)
on every input, but the work is done on the bounding box of the two masks (plus one pixel, which
is all the boundary map needs), so a small object in a large frame costs little. Cropping is
exact because:

- boundary pixels only appear inside the foreground's box grown by one pixel up/left;
- a pixel just outside the box is background, which is what zero padding assumes, while the
  *image's* last row/column keep the official "never a boundary along the border" rules;
- F only asks whether a boundary pixel has another boundary pixel within the radius, and both
  lie inside the crop, so the dilation never needs pixels outside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

#: default boundary tolerance: a fraction of the image diagonal (davis2017 ``bound_th``)
BOUND_TH = 0.008


@dataclass(frozen=True)
class FrameScore:
    """J, F and the intersection/union pixel counts of one (GT, prediction) frame pair."""

    j: float
    f: float
    inter: int
    union: int


def boundary_radius(shape: tuple[int, int], bound_th: float = BOUND_TH) -> int:
    """Dilation radius in pixels: ``ceil(bound_th * diagonal)``, or ``bound_th`` itself if >= 1."""
    if bound_th >= 1:
        return int(bound_th)
    h, w = shape[:2]
    return int(np.ceil(bound_th * math.sqrt(float(h) * h + float(w) * w)))


@lru_cache(maxsize=64)
def disk(radius: int) -> np.ndarray:
    """The (2r+1)x(2r+1) uint8 footprint ``x² + y² <= r²`` (skimage.morphology.disk), cached."""
    r = int(radius)
    d = np.arange(-r, r + 1)
    fp = (d[:, None] ** 2 + d[None, :] ** 2 <= r * r).astype(np.uint8)
    fp.setflags(write=False)
    return fp


def seg2bmap(seg: np.ndarray, bottom_is_border: bool = True, right_is_border: bool = True) -> np.ndarray:
    """Boundary map of a binary mask (davis2017 ``_seg2bmap``; docs/metrics.md#boundary-map).

    A pixel is a boundary if it differs from its east, south or south-east neighbour. Pixels
    beyond the array are background, except along the *image* border (flags), where the last
    row is compared only eastward, the last column only southward, and the bottom-right pixel
    never counts. Pass ``False`` for a crop edge that lies inside the image.
    """
    s = np.asarray(seg, dtype=bool)
    h, w = s.shape
    padded = np.zeros((h + 1, w + 1), dtype=bool)
    padded[:h, :w] = s
    east = padded[:h, 1:]
    south = padded[1:, :w]
    b = (s ^ east) | (s ^ south) | (s ^ padded[1:, 1:])
    if bottom_is_border:
        b[-1, :] = s[-1, :] ^ east[-1, :]
    if right_is_border:
        b[:, -1] = s[:, -1] ^ south[:, -1]
    if bottom_is_border and right_is_border:
        b[-1, -1] = False
    return b


@lru_cache(maxsize=64)
def disk_rectangles(radius: int) -> tuple[np.ndarray, ...]:
    """Rectangles whose union is ``disk(radius)``: one per corner of the disk's staircase outline.

    Dilation by a union of footprints is the union of the dilations, and OpenCV dilates by a
    rectangle much faster than by an arbitrary footprint, so this is exact and cheaper.
    """
    r = int(radius)
    half = [math.isqrt(r * r - dy * dy) for dy in range(r + 1)]
    rects = []
    for dy in range(r + 1):
        if dy == r or half[dy + 1] < half[dy]:
            rects.append(cv2.getStructuringElement(cv2.MORPH_RECT, (2 * half[dy] + 1, 2 * dy + 1)))
    return tuple(rects)


def dilate(bmap: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation with ``disk(radius)``; pixels outside the array contribute nothing."""
    src = np.ascontiguousarray(bmap, dtype=bool).view(np.uint8)
    out = None
    for rect in disk_rectangles(radius):
        d = cv2.dilate(src, rect, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        out = d if out is None else cv2.bitwise_or(out, d, dst=out)
    return out.view(bool)


def f_from_counts(n_fg: int, n_gt: int, fg_hit: int, gt_hit: int) -> float:
    """F from boundary counts with the official empty-boundary rules (docs/metrics.md#precision-recall-and-f)."""
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = fg_hit / float(n_fg)
        recall = gt_hit / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) half-open box of the non-zero pixels, None if empty."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    if w == 0 or h == 0:
        return None
    return y, y + h, x, x + w


def _as_bool(mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype != bool:
        m = m != 0
    return np.ascontiguousarray(m)


def frame_scores(
    gt: np.ndarray,
    pred: np.ndarray | None,
    void: np.ndarray | None = None,
    bound_th: float = BOUND_TH,
) -> FrameScore:
    """J, F, I and U of one frame. ``pred=None`` means an empty prediction; ``void`` pixels are
    removed from both masks first (DAVIS unsupervised). Any non-zero value is foreground."""
    gt = _as_bool(gt)
    shape = gt.shape
    if pred is not None:
        pred = _as_bool(pred)
        if pred.shape != shape:
            raise ValueError(f"prediction shape {pred.shape} differs from ground truth {shape}")
    boxes = [b for b in (_bbox(gt), None if pred is None else _bbox(pred)) if b is not None]
    if not boxes:
        return FrameScore(1.0, 1.0, 0, 0)
    h, w = shape
    y0 = max(min(b[0] for b in boxes) - 1, 0)
    y1 = min(max(b[1] for b in boxes) + 1, h)
    x0 = max(min(b[2] for b in boxes) - 1, 0)
    x1 = min(max(b[3] for b in boxes) + 1, w)
    a = gt[y0:y1, x0:x1]
    b = np.zeros_like(a) if pred is None else pred[y0:y1, x0:x1]
    if void is not None:
        if void.shape != shape:
            raise ValueError(f"void shape {void.shape} differs from ground truth {shape}")
        keep = ~_as_bool(void)[y0:y1, x0:x1]
        a = a & keep
        b = b & keep
    inter = int(np.count_nonzero(a & b))
    union = int(np.count_nonzero(a | b))
    j = 1.0 if union == 0 else inter / union
    bottom, right = y1 == h, x1 == w
    radius = boundary_radius(shape, bound_th)
    gt_b = seg2bmap(a, bottom, right)
    fg_b = seg2bmap(b, bottom, right)
    n_gt = int(np.count_nonzero(gt_b))
    n_fg = int(np.count_nonzero(fg_b))
    if n_gt and n_fg:
        fg_hit = int(np.count_nonzero(fg_b & dilate(gt_b, radius)))
        gt_hit = int(np.count_nonzero(gt_b & dilate(fg_b, radius)))
    else:
        fg_hit = gt_hit = 0
    return FrameScore(j, f_from_counts(n_fg, n_gt, fg_hit, gt_hit), inter, union)


def area_fraction(mask: np.ndarray) -> float:
    """The fraction of a frame's pixels that a mask covers (void pixels count as not covered)."""
    return np.count_nonzero(mask) / mask.size if mask.size else 0.0


def jaccard(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None) -> float:
    """Region similarity J = |A∩B| / |A∪B| outside void, 1 when the union is empty."""
    return frame_scores(gt, pred, void).j


def boundary_f(
    gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None, bound_th: float = BOUND_TH
) -> float:
    """Boundary F-measure (official ``f_measure(pred, gt, void, bound_th)``)."""
    return frame_scores(gt, pred, void, bound_th).f
