"""``reasonvos segment --model videolisa --video PATH --text "..." --out DIR [--overlay [mp4|gif]]``.

Segments one video (a video file OpenCV can decode, or a folder of frames) from a text
instruction with any model of ``reasonvos infer``'s registry that needs no ground truth.
Writes ``DIR/masks/<frame>.png`` (0/255) and, with ``--overlay``, ``DIR/overlay.mp4`` or
``DIR/overlay.gif`` for people to look at (kept out of the mask folder, which stays a clean
prediction folder). The model's options depend on ``--model``, so this command parses its own
arguments once the model is known.
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from reasonvos.errors import InputError
from reasonvos.fileio import atomic_dir, atomic_path
from reasonvos.masks import encode_binary_png

OVERLAY_COLOUR = np.array([255, 40, 40], dtype=np.float32)


def register(subparsers) -> None:
    # Everything after "segment" is collected raw and parsed in run(), once --model is known.
    parser = subparsers.add_parser(
        "segment", help="segment one video (file or frame folder) from a text instruction",
        prefix_chars="\x00", add_help=False)
    parser.add_argument("argv", nargs="*")
    parser.set_defaults(func=run)


def build_parser(model: str) -> argparse.ArgumentParser:
    """The full parser for ``model`` (its own options included)."""
    from reasonvos.cli.infer import MODELS, load_model_module

    parser = argparse.ArgumentParser(
        prog="reasonvos segment",
        description="Segment one video from a text instruction; write 0/255 mask PNGs named by frame "
                    "and optionally an overlay video.")
    parser.add_argument("--model", default="videolisa", choices=sorted(MODELS),
                        help="model from the infer registry (default videolisa)")
    parser.add_argument("--video", required=True, help="video file (mp4, avi, ...) or a folder of frames")
    parser.add_argument("--text", required=True, help="the instruction, used as the query as given")
    parser.add_argument("--out", required=True, help="output folder: masks/ and overlay.*")
    parser.add_argument("--overlay", nargs="?", const="mp4", choices=["mp4", "gif"], default=None,
                        help="also write an overlay video (mp4 by default, or gif)")
    parser.add_argument("--fps", type=float, default=None,
                        help="overlay frame rate (default: the video's, or 10 for frame folders)")
    parser.set_defaults(model=model)
    if model in MODELS:
        module, error = load_model_module(model)
        if module is None:
            raise InputError(None, f"model {model!r} is not available: {MODELS[model]} cannot be imported ({error})")
        module.add_model_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model", default="videolisa")
    known, _ = pre.parse_known_args(args.argv)
    parser = build_parser(known.model)
    opts = parser.parse_args(args.argv)
    return segment_video(opts)


def segment_video(opts: argparse.Namespace) -> int:
    from reasonvos.cli.infer import MODELS
    from reasonvos.frames import frame_folder_video, read_rgb, read_video_file

    module = importlib.import_module(MODELS[opts.model])
    source = Path(opts.video)
    out = Path(opts.out)
    with tempfile.TemporaryDirectory(prefix="reasonvos-segment-") as tmp:
        if source.is_dir():
            video = frame_folder_video(source)
            fps = opts.fps or 10.0
        else:
            names, frames, video_fps = read_video_file(source)
            video = _frames_as_video(source, names, frames, Path(tmp))
            fps = opts.fps or video_fps or 10.0
        model = module.build_model(opts)
        if getattr(model, "role", "model") == "oracle":
            raise InputError(None, f"model {opts.model!r} is an oracle: it needs ground truth, not just a video")
        masks = _check_masks(model.segment(video, opts.text), video)
        with atomic_dir(out / "masks") as mask_dir:
            for frame, mask in zip(video.frames, masks, strict=True):
                (mask_dir / f"{frame}.png").write_bytes(encode_binary_png(mask))
        if opts.overlay:
            frames = (read_rgb(video.image_path(f)) for f in video.frames)
            mask_files = (out / "masks" / f"{f}.png" for f in video.frames)
            write_overlay(out / f"overlay.{opts.overlay}", frames, mask_files, fps)
    print(f"{opts.model}: {len(video.frames)} masks -> {out / 'masks'}"
          + (f", overlay -> {out / f'overlay.{opts.overlay}'}" if opts.overlay else ""))
    return 0


def _frames_as_video(source: Path, names: Sequence[str], frames: Sequence[np.ndarray], folder: Path):
    """Decoded frames as a Video any model can read: lossless PNGs in a temporary folder."""
    from PIL import Image

    from reasonvos.benchmarks.model import Video

    for name, frame in zip(names, frames, strict=True):
        Image.fromarray(frame).save(folder / f"{name}.png")
    return Video(id=source.stem, frames=tuple(names), image_dir=folder, image_ext=".png",
                 size=frames[0].shape[:2])


def _check_masks(masks: Iterable[np.ndarray], video) -> Iterable[np.ndarray]:
    n = 0
    for frame, mask in zip(video.frames, masks, strict=False):
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise InputError(None, f"model returned a {mask.shape} mask for frame {frame}")
        n += 1
        yield mask
    if n != len(video.frames):
        raise InputError(None, f"model returned {n} masks for {len(video.frames)} frames")


def overlay_frame(frame: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The frame with the mask tinted red and its outline drawn, for eyeballing results."""
    import cv2

    out = frame.astype(np.float32)
    m = mask.astype(bool)
    out[m] = (1 - alpha) * out[m] + alpha * OVERLAY_COLOUR
    out = out.clip(0, 255).astype(np.uint8)
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
    return out


def write_overlay(path: Path, frames: Iterable[np.ndarray], mask_files: Iterable[Path], fps: float) -> None:
    """Write an MP4 (OpenCV, mp4v) or GIF (Pillow) of the overlays, atomically."""
    import cv2
    from PIL import Image

    from reasonvos.masks import read_binary_png

    pairs = ((f, read_binary_png(m)) for f, m in zip(frames, mask_files, strict=True))
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
