"""Where VideoLISA spends its time per video, and what the per-video cache saves.

Writes synthetic JPEG videos to a temporary folder, then segments several expressions per video
twice: with the per-video cache (frames decoded, CLIP- and SAM-encoded once per video) and
without it (everything redone for every expression, as the original scripts do). Prints seconds
per video split into decode, CLIP, SAM encode, LLM and mask decoding.

    python perf/videolisa_profile.py                         # tiny random model (CPU)
    python perf/videolisa_profile.py --checkpoint DIR --clip DIR --device cuda --dtype bf16  # real model

Any option of ``reasonvos infer videolisa`` is accepted; without --checkpoint the tiny random
model (``--tiny-random 0``) is used; the default dtype here is fp32.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from reasonvos.videolisa.options import VideoLisaOptions

from reasonvos import load_model
from reasonvos.benchmarks.model import Video
from reasonvos.cli._model_options import add_option_flags, options_from_args
from reasonvos.frames import read_video_frames

STAGES = ("decode", "clip", "sam_encode", "llm", "decode_masks")


def write_videos(folder: Path, videos: int, frames: int, size: tuple[int, int], seed: int) -> list[Video]:
    rng = np.random.default_rng(seed)
    out = []
    for v in range(videos):
        d = folder / f"video{v}"
        d.mkdir()
        names = [f"{i:05d}" for i in range(frames)]
        for name in names:
            img = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
            cv2.imwrite(str(d / f"{name}.jpg"), img)
        out.append(Video(id=d.name, frames=tuple(names), image_dir=d))
    return out


def run(seg, videos: list[Video], samples_per_video: int) -> float:
    seg.timings.clear()
    seg.calls.clear()
    seg.clear_cache()
    start = time.perf_counter()
    for video in videos:
        for k in range(samples_per_video):
            query = f"Please segment the object number {k} in this image."
            for _ in seg.segment_frames(video.id, lambda v=video: read_video_frames(v), query):
                pass
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--frames", type=int, default=24, help="frames per video")
    parser.add_argument("--samples-per-video", type=int, default=4, help="expressions per video")
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    add_option_flags(parser, VideoLisaOptions)
    parser.set_defaults(dtype="fp32")
    args = parser.parse_args()
    if args.tiny_random is None and "--checkpoint" not in sys.argv:
        args.tiny_random = 0
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    seg = load_model("videolisa", **vars(options_from_args(VideoLisaOptions, args, "videolisa")))
    model_name = seg.describe().get("checkpoint")
    print(f"model {model_name}, dtype {args.dtype}, device {seg.model.device}, torch threads "
          f"{torch.get_num_threads()}, T_sparse {args.num_frames_sparse}, T_dense {args.num_frames_dense}")
    print(f"{args.videos} videos x {args.frames} frames of {args.height}x{args.width}, "
          f"{args.samples_per_video} expressions per video")
    with tempfile.TemporaryDirectory(prefix="videolisa-profile-") as tmp:
        videos = write_videos(Path(tmp), args.videos, args.frames, (args.height, args.width), 0)
        run(seg, videos[:1], 1)  # warm-up (lazy initialisation, allocator)
        results = {}
        for label, cache in (("with cache", True), ("without cache", False)):
            seg.cache = cache
            total = run(seg, videos, args.samples_per_video)
            results[label] = (total, dict(seg.timings), dict(seg.calls))
    n = args.videos
    print(f"\nseconds per video ({args.samples_per_video} expressions each)")
    print(f"{'':16}" + "".join(f"{s:>14}" for s in (*STAGES, "total")))
    for label, (total, timings, _calls) in results.items():
        print(f"{label:16}" + "".join(f"{timings.get(s, 0.0) / n:14.4f}" for s in STAGES) + f"{total / n:14.4f}")
    for label, (_total, _timings, calls) in results.items():
        print(f"calls {label:10}: " + ", ".join(f"{s} {calls.get(s, 0)}" for s in STAGES))
    with_c, without_c = results["with cache"][0], results["without cache"][0]
    print(f"\ncache speed-up: {without_c / with_c:.2f}x ({without_c / n:.3f} s -> {with_c / n:.3f} s per video)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
