"""A slow, obviously correct J and F written line by line from docs/metrics.md#per-frame-j-and-f.

Plain loops over pixels, no cropping, no cv2: the fast implementation in
``reasonvos.evaluators.metrics`` must agree with this on every frame.
"""

from __future__ import annotations

import math

import numpy as np


def ref_radius(h: int, w: int, bound_th: float = 0.008) -> int:
    if bound_th >= 1:
        return int(bound_th)
    return math.ceil(bound_th * math.sqrt(h * h + w * w))


def ref_boundary(s: np.ndarray) -> np.ndarray:
    """docs/metrics.md#boundary-map: compare each pixel with its east, south and south-east neighbours (0 outside);
    the last row only eastward, the last column only southward, bottom-right never."""
    h, w = s.shape

    def at(y: int, x: int) -> bool:
        return bool(s[y, x]) if y < h and x < w else False

    b = np.zeros((h, w), dtype=bool)
    for y in range(h):
        for x in range(w):
            v = bool(s[y, x])
            if y == h - 1 and x == w - 1:
                b[y, x] = False
            elif y == h - 1:
                b[y, x] = v != at(y, x + 1)
            elif x == w - 1:
                b[y, x] = v != at(y + 1, x)
            else:
                b[y, x] = v != at(y, x + 1) or v != at(y + 1, x) or v != at(y + 1, x + 1)
    return b


def ref_covered(bmap: np.ndarray, r: int) -> np.ndarray:
    """docs/metrics.md#dilation: p is covered iff some boundary pixel q has |p - q|² <= r²."""
    h, w = bmap.shape
    pts = list(zip(*np.nonzero(bmap), strict=True))
    out = np.zeros((h, w), dtype=bool)
    for y in range(h):
        for x in range(w):
            out[y, x] = any((y - qy) ** 2 + (x - qx) ** 2 <= r * r for qy, qx in pts)
    return out


def ref_j(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None) -> float:
    """docs/metrics.md#region-similarity-j: I/U outside void, 1 when U == 0."""
    h, w = gt.shape
    inter = union = 0
    for y in range(h):
        for x in range(w):
            if void is not None and void[y, x]:
                continue
            a, b = bool(gt[y, x]), bool(pred[y, x])
            inter += a and b
            union += a or b
    return 1.0 if union == 0 else inter / union


def ref_f(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None, bound_th: float = 0.008) -> float:
    """docs/metrics.md#precision-recall-and-f: precision/recall of boundary pixels within the radius, official edge cases."""
    keep = np.ones(gt.shape, bool) if void is None else ~void.astype(bool)
    a = gt.astype(bool) & keep
    b = pred.astype(bool) & keep
    r = ref_radius(*gt.shape, bound_th=bound_th)
    ab, bb = ref_boundary(a), ref_boundary(b)
    n_gt, n_fg = int(ab.sum()), int(bb.sum())
    if n_fg == 0 and n_gt > 0:
        p, rc = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        p, rc = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        p, rc = 1.0, 1.0
    else:
        p = int((bb & ref_covered(ab, r)).sum()) / n_fg
        rc = int((ab & ref_covered(bb, r)).sum()) / n_gt
    return 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)
