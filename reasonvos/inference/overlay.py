"""Masks drawn over frames, for people to look at: ``segment --overlay`` videos and the
leaderboard's error-analysis strips share one blending rule.

Each mask tints its pixels towards a colour: ``(1 - alpha) * pixel + alpha * colour`` in float32,
rounded to the nearest integer (halves to even, numpy's rule) and clipped to 0..255. Layers are
applied in order, so later layers blend over earlier ones where masks overlap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from reasonvos.errors import InputError
from reasonvos.fileio import atomic_path

#: ``segment``'s prediction colour (RGB)
PREDICTION_COLOUR = (255, 40, 40)
OUTLINE_COLOUR = (255, 255, 255)


def tint(image: np.ndarray, layers: Sequence[tuple[np.ndarray, Sequence[float]]], alpha: float,
         outline: np.ndarray | None = None) -> np.ndarray:
    """An RGB uint8 copy of ``image`` with each ``(mask, colour)`` layer blended in, and the outer
    contours of ``outline`` (a mask) drawn one pixel wide in white."""
    out = image.astype(np.float32)
    for mask, colour in layers:
        m = np.asarray(mask, dtype=bool)
        out[m] = (1 - alpha) * out[m] + alpha * np.asarray(colour, np.float32)
    out = out.round().clip(0, 255).astype(np.uint8)
    if outline is not None:
        import cv2

        contours, _ = cv2.findContours(np.asarray(outline, bool).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, OUTLINE_COLOUR, 1)
    return out


def overlay_frame(frame: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The frame with the mask tinted red and its outline drawn (``segment --overlay``)."""
    return tint(frame, [(mask, PREDICTION_COLOUR)], alpha, outline=mask)


def write_overlay(path: Path, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], fps: float) -> None:
    """Write an MP4 (OpenCV, mp4v) or GIF (Pillow) of the overlays, atomically."""
    import cv2
    from PIL import Image

    pairs = zip(frames, masks, strict=True)
    with atomic_path(path, suffix=path.suffix) as tmp:
        if path.suffix == ".gif":
            images = [Image.fromarray(overlay_frame(f, m)) for f, m in pairs]
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=max(1, int(round(1000 / fps))), loop=0)
            return
        writer = None
        try:
            for f, m in pairs:
                img = overlay_frame(f, m)
                if writer is None:
                    h, w = img.shape[:2]
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                    if not writer.isOpened():
                        raise InputError(path, "OpenCV cannot write an mp4 here (try --overlay gif)")
                    size = (h, w)
                if img.shape[:2] != size:
                    img = cv2.resize(img, (size[1], size[0]))
                writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        finally:
            if writer is not None:
                writer.release()
