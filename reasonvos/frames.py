"""Reading video frames as RGB arrays: benchmark videos, frame folders and video files.

Core (no torch): models, baselines and ``reasonvos segment`` all read frames through it. Frames
are RGB (VideoLISA's original chat demo fed BGR to CLIP and SAM, docs/models.md#videolisa-known-bugs; the
eval scripts convert); flow-based baselines read 8-bit grayscale.
"""

from __future__ import annotations

import glob
import io
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from reasonvos.benchmarks.model import Video
from reasonvos.errors import InputError, MissingFileError
from reasonvos.fileio import open_regular
from reasonvos.masks import MAX_PIXELS, sniff_format

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _read_image_bytes(path: Path) -> bytes:
    """A frame file's bytes, after its header says it is an image of at most MAX_PIXELS pixels.

    The header is parsed by Pillow (which reads only the header here) so that a small file
    declaring a huge frame is refused before OpenCV would allocate it; a file that is not an
    image is refused naming what it is. One open; a FIFO or a folder is refused, never read.
    """
    with open_regular(path, "frame", InputError) as f:
        try:
            data = f.read()
        except OSError as e:
            raise InputError(path, f"frame cannot be read ({e.strerror or e})") from e
    try:
        with warnings.catch_warnings():  # Pillow warns between its two limits: refused below instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
    except Image.DecompressionBombError:
        raise InputError(path, f"frame declares more than {MAX_PIXELS} pixels (refused before decoding)") from None
    except (OSError, SyntaxError, ValueError):
        what = sniff_format(data[:64]) if data else "an empty file"
        raise InputError(path, "frame does not decode as an image" + (f" (the file is {what})" if what else "")) \
            from None
    if h * w > MAX_PIXELS:
        raise InputError(path, f"frame declares {h}x{w} pixels, more than the {MAX_PIXELS} this toolkit reads "
                         "(refused before decoding)")
    return data


def _decode(path: Path, flags: int) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(_read_image_bytes(path), np.uint8), flags)
    if img is None:
        raise InputError(path, "frame does not decode as an image")
    return img


def read_rgb(path: Path) -> np.ndarray:
    """One image file -> (H, W, 3) uint8 RGB, or an InputError naming the file."""
    return cv2.cvtColor(_decode(Path(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_gray(path: Path) -> np.ndarray:
    """One image file -> (H, W) uint8 grayscale, or an InputError naming the file."""
    return _decode(Path(path), cv2.IMREAD_GRAYSCALE)


def read_video_frames(video: Video) -> list[np.ndarray]:
    """Every frame of a benchmark video, in the metadata's order."""
    return [read_rgb(video.image_path(f)) for f in video.frames]


def official_listing(video: Video) -> tuple[str, ...] | None:
    """The frames the official inference scripts see: ``sorted(glob(<video folder>/*.jpg))``, as names
    without the extension (``None`` for a video with no frame folder).

    VideoLISA's and LISA's scripts list a folder instead of reading the metadata's ``frames``, so an
    extra JPEG, a missing one or an order that differs from name order changes which 32 frames they
    sample. Like ``glob``, this is case-sensitive and skips names starting with a dot.
    """
    if video.image_dir is None:
        return None
    files = sorted(glob.glob(os.path.join(glob.escape(str(video.image_dir)), "*.jpg")))
    return tuple(os.path.basename(f)[: -len(".jpg")] for f in files)


def listing_difference(video: Video) -> str | None:
    """One line on how :func:`official_listing` differs from the metadata's frames, naming the first
    difference; ``None`` when they agree (or the video has no frame folder)."""
    listed = official_listing(video)
    if listed is None or listed == tuple(video.frames):
        return None
    meta = tuple(video.frames)
    i = next((k for k, (a, b) in enumerate(zip(meta, listed, strict=False)) if a != b), min(len(meta), len(listed)))
    at_meta = repr(meta[i]) if i < len(meta) else "nothing"
    at_folder = repr(listed[i]) if i < len(listed) else "nothing"
    return (f"the official scripts' sorted(glob('*.jpg')) lists {len(listed)} frames where the metadata lists "
            f"{len(meta)}; first difference at position {i}: metadata {at_meta}, folder {at_folder}")


def frame_folder_video(folder: Path) -> Video:
    """A folder of images as a Video (frames sorted by name; one image type per folder)."""
    if not folder.is_dir():
        raise MissingFileError(folder, "frame folder not found")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    for p in files:
        if not p.is_file():  # a FIFO, folder or broken link named like a frame: say so, never skip it
            open_regular(p, "frame", InputError).close()
            raise InputError(p, "frame is not a regular file")
    if not files:
        raise InputError(folder, f"no image files ({', '.join(IMAGE_SUFFIXES)}) in the folder")
    suffixes = {p.suffix for p in files}
    if len(suffixes) > 1:
        raise InputError(folder, f"mixed image types {sorted(suffixes)}; keep one kind per folder")
    return Video(id=folder.name, frames=tuple(p.stem for p in files), image_dir=folder,
                 image_ext=files[0].suffix)


def read_video_file(path: Path) -> tuple[list[str], list[np.ndarray], float]:
    """Decode a video file (anything OpenCV reads) -> (frame names, RGB frames, fps)."""
    open_regular(path, "video file").close()  # a FIFO or a folder is refused here, not read
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(path, "OpenCV cannot open this video")
    h, w = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
    if h * w > MAX_PIXELS:
        cap.release()
        raise InputError(path, f"video frames are {h}x{w} pixels, more than the {MAX_PIXELS} this toolkit reads")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    frames: list[np.ndarray] = []
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise InputError(path, "the video has no decodable frames")
    return [f"{i:05d}" for i in range(len(frames))], frames, fps
