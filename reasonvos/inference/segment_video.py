"""Segment one video (a video file OpenCV decodes, or a folder of frames) from a text instruction.

Writes ``OUT/masks/<frame>.png`` (0/255, named after the frame files, or ``00000``... for a
video file) and optionally ``OUT/overlay.mp4``/``.gif`` beside it, so the mask folder stays a clean
prediction folder. The video is read before the model is built, so a wrong path fails before
any weights are loaded. Oracles need ground truth and are refused.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reasonvos.benchmarks.model import Video
from reasonvos.errors import InputError
from reasonvos.fileio import atomic_dir
from reasonvos.inference.segmenter import VideoSegmenter
from reasonvos.masks import encode_binary_png
from reasonvos.outputs import OutputFolder, check_outputs, claim_folder

OVERLAY_FORMATS = ("mp4", "gif")
#: overlay frame rate of a frame folder (which has none of its own)
FOLDER_FPS = 10.0


@dataclass(frozen=True)
class SegmentResult:
    """What :func:`segment_video` wrote."""

    masks: Path  # the folder of 0/255 PNGs
    frames: tuple[str, ...]
    overlay: Path | None = None


def segment_video(model: VideoSegmenter | str, video: str | Path, text: str, out: str | Path, *,
                  overlay: str | None = None, fps: float | None = None,
                  options: dict[str, Any] | None = None) -> SegmentResult:
    """Segment ``video`` with ``model`` and write the masks (and an overlay) under ``out``.

    ``model`` is a built model or a registry name, built with ``options`` once the video has been
    read. ``overlay`` is ``"mp4"``, ``"gif"`` or None; ``fps`` defaults to the video's own rate
    (10 for a frame folder).
    """
    from reasonvos.frames import frame_folder_video, read_rgb, read_video_file
    from reasonvos.inference.model_registry import load_model
    from reasonvos.inference.overlay import write_overlay
    from reasonvos.masks import read_binary_png

    if (options or {}).get("keep_raw") is not None:  # a second prediction folder is an infer notion
        raise InputError(None, "--keep-raw applies to reasonvos infer; segment writes the refined masks only")
    if overlay is not None and overlay not in OVERLAY_FORMATS:
        raise InputError(None, f"overlay must be one of {', '.join(OVERLAY_FORMATS)}, got {overlay!r}")
    source, out = Path(video), Path(out)
    # new, empty or an earlier segment's (``masks/`` below is replaced whole, so never a folder of the
    # user's): checked now, before any weights load; claimed only once there is something to write
    check_outputs([OutputFolder(out, "the output folder", "segment")])
    with tempfile.TemporaryDirectory(prefix="reasonvos-segment-") as tmp:
        if source.is_dir():
            clip = frame_folder_video(source)
            rate = fps or FOLDER_FPS
        else:
            names, frames, video_fps = read_video_file(source)
            clip = _frames_as_video(source, names, frames, Path(tmp))
            rate = fps or video_fps or FOLDER_FPS
        if isinstance(model, str):
            model = load_model(model, **(options or {}))
        elif options:
            raise TypeError("options go with a model name, not with a built model")
        if getattr(model, "role", "model") == "oracle":
            raise InputError(None, f"model {model.name!r} is an oracle: it needs ground truth, not just a video")
        masks = _checked(model.segment(clip, text), clip)
        claim_folder(out, "segment")
        with atomic_dir(out / "masks") as mask_dir:
            for frame, mask in zip(clip.frames, masks, strict=True):
                (mask_dir / f"{frame}.png").write_bytes(encode_binary_png(mask))
        written = None
        if overlay:
            written = out / f"overlay.{overlay}"
            images = (read_rgb(clip.image_path(f)) for f in clip.frames)
            mask_images = (read_binary_png(out / "masks" / f"{f}.png") for f in clip.frames)
            write_overlay(written, images, mask_images, rate)
    return SegmentResult(masks=out / "masks", frames=tuple(clip.frames), overlay=written)


def _frames_as_video(source: Path, names: Sequence[str], frames: Sequence[np.ndarray], folder: Path) -> Video:
    """Decoded frames as a Video any model can read: lossless PNGs in a temporary folder."""
    from PIL import Image

    for name, frame in zip(names, frames, strict=True):
        Image.fromarray(frame).save(folder / f"{name}.png")
    return Video(id=source.stem, frames=tuple(names), image_dir=folder, image_ext=".png",
                 size=frames[0].shape[:2])


def _checked(masks: Iterable[np.ndarray], video: Video) -> Iterator[np.ndarray]:
    """The model's masks, refused when one is not 2-D or when there are fewer than frames."""
    n = 0
    for frame, mask in zip(video.frames, masks, strict=False):
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise InputError(None, f"model returned a {mask.shape} mask for frame {frame}")
        n += 1
        yield mask
    if n != len(video.frames):
        raise InputError(None, f"model returned {n} masks for {len(video.frames)} frames")
