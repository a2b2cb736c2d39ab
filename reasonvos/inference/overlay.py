"""``segment --overlay`` videos: each frame with its predicted mask drawn in the toolkit's one
overlay style (:mod:`reasonvos.overlay_style`: the prediction as a translucent fill in a colour
chosen to stand out from the video's own colours) and a legend band underneath.

The colour is chosen once, from the first frame and its mask, so it does not flicker from frame
to frame; frames are streamed, never all held in memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from reasonvos.errors import InputError
from reasonvos.fileio import atomic_path
from reasonvos.overlay_style import Style, choose_style, draw, legend_band


def overlay_frame(frame: np.ndarray, mask: np.ndarray, style: Style | None = None) -> np.ndarray:
    """The frame with the mask drawn as a prediction, and a legend band below it."""
    style = style or choose_style([frame], [mask])
    image = draw(frame, pred=mask, style=style)
    return np.concatenate([image, legend_band(image.shape[1], style, gt=False)], axis=0)


def write_overlay(path: Path, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], fps: float) -> None:
    """Write an MP4 (OpenCV, mp4v) or GIF (Pillow) of the overlays, atomically."""
    import cv2
    from PIL import Image

    pairs = iter(zip(frames, masks, strict=True))
    first = next(pairs, None)
    if first is None:
        raise InputError(path, "no frames to draw an overlay of")
    style = choose_style([first[0]], [first[1]])
    pairs = itertools.chain([first], pairs)
    with atomic_path(path, suffix=path.suffix) as tmp:
        if path.suffix == ".gif":
            images = [Image.fromarray(overlay_frame(f, m, style)) for f, m in pairs]
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=max(1, int(round(1000 / fps))), loop=0)
            return
        writer = None
        try:
            for f, m in pairs:
                img = overlay_frame(f, m, style)
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
