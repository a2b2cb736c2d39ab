"""Frames of a sample drawn for people: read a frame with its ground truth and each method's
prediction, pick the sample's overlay style, scale to the display size and draw
(:mod:`reasonvos.overlay_style`). Shared by the error analysis and the per-sample browser.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from reasonvos.benchmarks.model import Benchmark
from reasonvos.errors import MaskError, MissingFileError
from reasonvos.masks import read_binary_png
from reasonvos.overlay_style import Style, choose_style, draw

FRAME_HEIGHT = 160  # larger frames are scaled down to this height
MIN_HEIGHT = 96  # smaller frames are enlarged by a whole factor (nearest) to be legible


def number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and v == v else None


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "sample"


def sample_frames(frames: Sequence[str], k: int) -> list[str]:
    """Up to ``k`` frames spread evenly from the first to the last."""
    if not frames:
        return []
    idx = np.unique(np.linspace(0, len(frames) - 1, min(k, len(frames))).round().astype(int))
    return [frames[i] for i in idx]


def _read_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise MissingFileError(path, "video frame not found (error analysis needs the frames)")
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as e:
        raise MaskError(path, f"image does not decode ({e})") from e


@dataclass
class FramePair:
    """One frame of a sample with its ground truth and a method's prediction (None: missing)."""

    frame: str
    image: np.ndarray
    gt: np.ndarray
    pred: np.ndarray | None


def read_prediction(benchmark: Benchmark, sample: Any, frame: str, pred_dir: Path,
                    gt_shape: tuple[int, ...]) -> np.ndarray | None:
    """A method's predicted mask of one frame, None when its PNG is missing; refuses a size
    that differs from the ground truth's."""
    pred_path = pred_dir / benchmark.prediction_path(sample, frame)
    if not pred_path.is_file():
        return None
    pred = read_binary_png(pred_path)
    if pred.shape != gt_shape:
        raise MaskError(pred_path, f"prediction is {pred.shape[0]}x{pred.shape[1]}, "
                                   f"ground truth is {gt_shape[0]}x{gt_shape[1]}")
    return pred


def read_frames(benchmark: Benchmark, sample: Any, frames: Sequence[str], pred_dirs: Sequence[Path]
                ) -> list[list[FramePair]]:
    """For each prediction folder, the (frame, ground truth, prediction) of ``frames``; every
    frame image and GT mask is read once, whatever the number of folders."""
    video = benchmark.videos[sample.video_id]
    out: list[list[FramePair]] = [[] for _ in pred_dirs]
    for frame in frames:
        image = _read_image(video.image_path(frame))
        gt = benchmark.gt_mask(sample, frame)
        if image.shape[:2] != gt.shape:
            raise MaskError(video.image_path(frame), f"frame is {image.shape[0]}x{image.shape[1]}, "
                                                     f"ground truth is {gt.shape[0]}x{gt.shape[1]}")
        for i, pred_dir in enumerate(pred_dirs):
            out[i].append(FramePair(frame, image, gt, read_prediction(benchmark, sample, frame, pred_dir, gt.shape)))
    return out


def sample_style(pairs: Sequence[FramePair]) -> Style:
    """The overlay style for a sample: its fill colour chosen from these frames and masks."""
    return choose_style([p.image for p in pairs],
                        [p.gt if p.pred is None else (p.gt | p.pred) for p in pairs])


def tile_size(shape: tuple[int, ...], height: int = FRAME_HEIGHT) -> tuple[int, int]:
    """(H, W) a frame is shown at: larger ones down to ``height``, small ones up by a whole
    factor so that they stay legible and their pixels stay square."""
    h, w = shape[:2]
    if h > height:
        return height, max(1, round(w * height / h))
    if h < MIN_HEIGHT:
        k = -(-MIN_HEIGHT // h)
        return h * k, w * k
    return h, w


def draw_pair(pair: FramePair, style: Style, height: int = FRAME_HEIGHT) -> np.ndarray:
    """One frame in the overlay style, drawn after scaling to its display size (lines drawn
    before a downscale would blur away): the image bilinear, the masks nearest-neighbour."""
    h, w = tile_size(pair.gt.shape, height)

    def fit(a: np.ndarray, smooth: bool) -> np.ndarray:
        if a.shape[:2] == (h, w):
            return a
        img = Image.fromarray(a if a.dtype == np.uint8 else a.astype(np.uint8) * 255)
        kind = Image.Resampling.BILINEAR if smooth and h < a.shape[0] else Image.Resampling.NEAREST
        out = np.asarray(img.resize((w, h), kind))
        return out if a.dtype == np.uint8 else out > 127

    pred = None if pair.pred is None else fit(pair.pred, False)
    return draw(fit(pair.image, True), pred, fit(pair.gt, False), style, width=1)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


