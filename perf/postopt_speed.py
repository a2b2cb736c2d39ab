"""The cost of ``--post-optimize xmem2``: added seconds per sample as a fraction of the VideoLISA pass.

Why: post-optimisation runs XMem2 once per expression over the frames VideoLISA already decoded
(no second decode). This script runs the tiny random VideoLISA on the embedded sample benchmark
through the real runner, without and with post-optimisation (tiny random XMem, the same seed),
and prints per sample: the VideoLISA stages (decode, CLIP, SAM encoder, LLM, mask decoding), the
post-optimisation stage, and their ratio; decode calls prove the video is decoded once per video.
Runs are interleaved ``--repeat`` times and the best of each is kept (background load hits all).

Tiny models make VideoLISA itself cheap (its SAM and CLIP are tiny), while the tiny XMem keeps
XMem's full ResNet-50/18 trunks; the fraction here is therefore far above what the real 3.8B model
would show. XMem's cost grows with ``--propagation-size`` (480 in XMem2, which upsamples the
sample's small frames): ``--sizes -1 480`` measures both (480 takes minutes on 2 CPU cores).

Run: ``python perf/postopt_speed.py [--repeat 1 --videos 1 --sizes -1]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from reasonvos import load_benchmark, load_model, run_inference
from reasonvos.demo.render import write_sample_benchmark
from reasonvos.demo.scenes import sample_scenes

VIDEOLISA_STAGES = ("decode", "clip", "sam_encode", "llm", "decode_masks")
TINY = {"tiny_random": 0, "dtype": "fp32", "device": "cpu"}


def run(bench, out: Path, **options) -> dict:
    model = load_model("videolisa", **TINY, **options)
    run_inference(model, bench, out, quiet=True)
    n = len(bench.samples)
    base = sum(model.timings[s] for s in VIDEOLISA_STAGES)
    return {"videolisa": base / n, "post": model.timings.get("post_optimize", 0.0) / n,
            "decodes": model.calls["decode"], "frames": sum(len(bench.prediction_frames(s)) for s in bench.samples) / n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--videos", type=int, default=1, help="videos of the embedded sample (shortest first)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[-1],
                    help="--propagation-size values to measure (-1: the frames' own size)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    variants: dict[str, dict] = {"VideoLISA alone": {}}
    for size in args.sizes:
        label = "own size" if size == -1 else str(size)
        variants[f"+ xmem2 at {label}"] = {"post_optimize": "xmem2", "propagation_size": size}
    with tempfile.TemporaryDirectory() as tmp:
        scenes = sorted(sample_scenes(), key=lambda s: len(s.frames))[: args.videos]
        root = write_sample_benchmark(Path(tmp) / "sample", scenes)
        bench = load_benchmark("reasonvos", root)
        best: dict[str, dict] = {}
        for r in range(args.repeat):
            for name, options in variants.items():
                got = run(bench, Path(tmp) / f"{r}-{len(best)}-{name.replace(' ', '_')}", **options)
                key = "videolisa" if name == "VideoLISA alone" else "post"
                if name not in best or got[key] < best[name][key]:
                    best[name] = got
    videos = len({s.video_id for s in bench.samples})
    print(f"tiny random VideoLISA + tiny random XMem, CPU fp32, 2 threads; {len(bench.samples)} samples on "
          f"{videos} videos of the embedded sample (~{best['VideoLISA alone']['frames']:.0f} frames per sample, "
          f"{scenes[0].size[0]}x{scenes[0].size[1]}); best of {args.repeat}")
    alone = best["VideoLISA alone"]["videolisa"]
    print(f"{'variant':<22} {'VideoLISA s/sample':>19} {'post-opt s/sample':>18} {'s/frame':>8} "
          f"{'added':>9} {'decodes':>8}")
    for name, got in best.items():
        added = got["post"] / alone
        print(f"{name:<22} {got['videolisa']:>19.3f} {got['post']:>18.3f} {got['post'] / got['frames']:>8.3f} "
              f"{added:>8.0%} {got['decodes']:>8}")
    print(json.dumps({name: {k: round(v, 4) for k, v in got.items()} for name, got in best.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
