"""How masks are drawn over video frames for people to look at, in one place: the leaderboard's
error-analysis strips, its per-sample browser thumbnails and ``segment --overlay`` videos.

Why this style (not "GT green, prediction red, overlap yellow"): colour-coded fills fail on
images whose objects are themselves green, red or yellow, and the overlap colour hides which
mask is which. Here the two masks differ in *form*, so telling them apart never depends on the
image:

- **ground truth = a contour**, drawn as a double stroke: a light band on the mask's boundary
  between two dark bands. Any background contrasts with at least one of them (a region near
  black or near white cannot hide both), so the outline stays visible on every image.
- **prediction = a translucent fill** (``FILL_ALPHA``) with an opaque edge of the same colour,
  drawn under the contour.
  Its colour is chosen per sample from a fixed palette of saturated colours: the one farthest, in
  CIELAB (OpenCV's 8-bit Lab, where distance approximates perceived difference), from the
  dominant colours of the frames and of the pixels under the masks. A yellow star therefore
  gets a blue or magenta fill, never a yellow one. One colour is used for all frames of a sample
  and all methods shown with it, so strips of two methods compare like for like.
- a **legend** band under the image names both encodings with the colour actually used.

docs/leaderboard.md#overlay-style says the same for users. Everything is numpy/OpenCV, deterministic (no random k-means: dominant colours are the most
populated cells of a coarse RGB histogram) and free of torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: candidate prediction colours (RGB), saturated and far apart; the first is preferred on ties
PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 0, 255),  # magenta
    (0, 200, 255),  # sky blue
    (255, 120, 0),  # orange
    (40, 80, 255),  # blue
    (0, 255, 120),  # spring green
    (255, 255, 0),  # yellow
    (255, 0, 60),  # red
    (150, 0, 255),  # violet
)
DARK = (0, 0, 0)
LIGHT = (255, 255, 255)
#: opacity of the prediction fill
FILL_ALPHA = 0.45
#: histogram cells per RGB channel when finding dominant colours (4 -> 64 cells)
BINS = 4
#: how many of the most populated cells count as "dominant"
N_DOMINANT = 6
#: cells holding less than this share of the pixels are ignored (noise, tiny specks)
MIN_SHARE = 0.02
LEGEND_HEIGHT = 18


@dataclass(frozen=True)
class Style:
    """The drawing choices for one sample: the prediction colour and the line widths."""

    fill: tuple[int, int, int] = PALETTE[0]
    alpha: float = FILL_ALPHA

    @property
    def fill_hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.fill)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 RGB -> (N, 3) float32 Lab (OpenCV 8-bit scaling)."""
    px = np.asarray(rgb, np.uint8).reshape(-1, 1, 3)
    return cv2.cvtColor(px, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)


def dominant_colours(pixels: np.ndarray, k: int = N_DOMINANT) -> np.ndarray:
    """The mean colours (RGB, (n, 3) uint8) of the ``k`` most populated cells of a coarse RGB
    histogram of ``pixels`` (any shape ending in 3); cells under ``MIN_SHARE`` are dropped."""
    px = np.asarray(pixels, np.uint8).reshape(-1, 3)
    if not len(px):
        return np.zeros((0, 3), np.uint8)
    cell = (px // (256 // BINS)).astype(np.int64)
    index = (cell[:, 0] * BINS + cell[:, 1]) * BINS + cell[:, 2]
    counts = np.bincount(index, minlength=BINS**3)
    sums = np.stack([np.bincount(index, weights=px[:, c], minlength=BINS**3) for c in range(3)], axis=1)
    order = sorted(np.flatnonzero(counts >= max(1, MIN_SHARE * len(px))), key=lambda i: (-counts[i], i))[:k]
    return (sums[order] / counts[order, None]).round().astype(np.uint8)


def choose_style(frames: Sequence[np.ndarray], masks: Sequence[np.ndarray] = ()) -> Style:
    """The style for one sample: the palette colour farthest from the dominant colours of the
    frames, and of the pixels under ``masks`` (where the fill will actually sit)."""
    refs = [dominant_colours(np.concatenate([np.asarray(f).reshape(-1, 3) for f in frames]))] if frames else []
    under = [np.asarray(f)[np.asarray(m, bool)] for f, m in zip(frames, masks, strict=False)]
    if under and sum(len(u) for u in under):
        refs.append(dominant_colours(np.concatenate(under)))
    ref = np.concatenate(refs) if refs else np.zeros((0, 3), np.uint8)
    if not len(ref):
        return Style()
    ref_lab, pal_lab = _lab(ref), _lab(np.array(PALETTE, np.uint8))
    distance = np.linalg.norm(pal_lab[:, None, :] - ref_lab[None, :, :], axis=2).min(axis=1)
    return Style(fill=PALETTE[int(np.argmax(distance))])  # argmax: the first palette colour on ties


def _grow(mask: np.ndarray, width: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * width + 1,) * 2, np.uint8)).astype(bool)


def _shrink(mask: np.ndarray, width: int) -> np.ndarray:
    return cv2.erode(mask.astype(np.uint8), np.ones((2 * width + 1,) * 2, np.uint8)).astype(bool)


def contour_bands(mask: np.ndarray, width: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(dark, light) pixels of the double contour of ``mask``: a light band ``width`` pixels wide
    just inside the boundary, between dark bands of the same width outside and further inside.
    Morphology (not polyline drawing) keeps the bands exactly where the mask's pixels are."""
    m = np.asarray(mask, bool)
    inner = _shrink(m, width)
    light = m & ~inner
    dark = (_grow(m, width) & ~m) | (inner & ~_shrink(inner, width))
    return dark, light


def line_width(shape: tuple[int, ...]) -> int:
    """Contour width for a frame of this size: one pixel up to 640 pixels on the long side, then
    one more per 640 (a full-HD video gets 3), so the outline stays visible when played back."""
    return max(1, round(max(shape[:2]) / 640))


def draw(image: np.ndarray, pred: np.ndarray | None = None, gt: np.ndarray | None = None,
         style: Style | None = None, width: int | None = None) -> np.ndarray:
    """An RGB uint8 copy of ``image`` with the prediction as a translucent fill (and an edge of
    ``width`` pixels in the same colour) and the ground truth as a double contour on top. Draw at
    the size people will see: lines drawn before downscaling would blur away."""
    style = style or Style()
    width = width or line_width(np.shape(image))
    out = np.asarray(image)[..., :3].astype(np.float32)
    if pred is not None:
        m = np.asarray(pred, bool)
        out[m] = (1 - style.alpha) * out[m] + style.alpha * np.asarray(style.fill, np.float32)
        out[m & ~_shrink(m, width)] = style.fill
    out = out.round().clip(0, 255).astype(np.uint8)
    if gt is not None:
        dark, light = contour_bands(gt, width)
        out[dark] = DARK
        out[light] = LIGHT
    return out


def legend_band(width: int, style: Style, gt: bool = True, pred: bool = True,
                height: int = LEGEND_HEIGHT) -> np.ndarray:
    """A white band, ``width`` pixels wide, naming the encodings drawn with ``style``."""
    band = np.full((height, max(width, 1), 3), 255, np.uint8)
    x, mid = 4, height // 2
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.35
    box = np.zeros((11, 15), bool)
    box[1:-1, 1:-1] = True
    if gt:
        band[mid - 5:mid + 6, x:x + 15] = draw(band[mid - 5:mid + 6, x:x + 15], None, box, style, 1)
        cv2.putText(band, "ground truth", (x + 19, mid + 4), font, scale, DARK, 1, cv2.LINE_AA)
        x += 19 + cv2.getTextSize("ground truth", font, scale, 1)[0][0] + 10
    if pred:
        patch = draw(np.full((11, 15, 3), 255, np.uint8), box, None, style, 1)
        if x + 15 <= band.shape[1]:
            band[mid - 5:mid + 6, x:x + 15] = patch
        cv2.putText(band, "prediction", (x + 19, mid + 4), font, scale, DARK, 1, cv2.LINE_AA)
    return band
