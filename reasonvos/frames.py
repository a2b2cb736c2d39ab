"""Reading video frames as RGB arrays: benchmark videos, frame folders and video files.

Core (no torch): models, baselines and ``reasonvos segment`` all read frames through it. Frames
are RGB (VideoLISA's original chat demo fed BGR to CLIP and SAM, docs/models.md#videolisa-known-bugs; the
eval scripts convert); flow-based baselines read 8-bit grayscale.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reasonvos.benchmarks.model import Video
from reasonvos.errors import InputError, MissingFileError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def read_rgb(path: Path) -> np.ndarray:
    """One image file -> (H, W, 3) uint8 RGB, or an InputError naming the file."""
    if not path.is_file():
        raise MissingFileError(path, "frame not found")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(path, "frame does not decode as an image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_gray(path: Path) -> np.ndarray:
    """One image file -> (H, W) uint8 grayscale, or an InputError naming the file."""
    if not path.is_file():
        raise MissingFileError(path, "frame not found")
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(path, "frame does not decode as an image")
    return img


def read_video_frames(video: Video) -> list[np.ndarray]:
    """Every frame of a benchmark video, in the metadata's order."""
    return [read_rgb(video.image_path(f)) for f in video.frames]


def frame_folder_video(folder: Path) -> Video:
    """A folder of images as a Video (frames sorted by name; one image type per folder)."""
    if not folder.is_dir():
        raise MissingFileError(folder, "frame folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(folder, f"no image files ({', '.join(IMAGE_SUFFIXES)}) in the folder")
    suffixes = {p.suffix for p in files}
    if len(suffixes) > 1:
        raise InputError(folder, f"mixed image types {sorted(suffixes)}; keep one kind per folder")
    return Video(id=folder.name, frames=tuple(p.stem for p in files), image_dir=folder,
                 image_ext=files[0].suffix)


def read_video_file(path: Path) -> tuple[list[str], list[np.ndarray], float]:
    """Decode a video file (anything OpenCV reads) -> (frame names, RGB frames, fps)."""
    if not path.is_file():
        raise MissingFileError(path, "video file not found")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(path, "OpenCV cannot open this video")
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
