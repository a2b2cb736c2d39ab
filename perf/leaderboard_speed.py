"""Time a leaderboard build with and without CIs, in one run: the cost of the bootstrap (row CIs,
differences from the best, error bars of the breakdown and ablation plots) against the same build
with ``ci=None``.

Workload (generated into a temporary folder): METHODS runs of one method differing in T_sparse
(so one ablation series), each with SAMPLES per-sample rows over VIDEOS videos, on MeViS valid_u.

    python perf/leaderboard_speed.py [--methods 5 --samples 3000 --videos 500 --resamples 10000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from reasonvos.leaderboard.build import build_leaderboard
from reasonvos.leaderboard.uncertainty import Settings


def write_runs(folder: Path, methods: int, samples: int, videos: int) -> None:
    rng = np.random.default_rng(0)
    for m in range(methods):
        rows = []
        for k in range(samples):
            x = float(np.clip(rng.normal(0.5 + 0.02 * m, 0.2), 0, 1))
            rows.append({"key": f"s{k}", "video": f"v{k % videos}", "exp_id": "0", "obj_ids": ["1"],
                         "text": " ".join(["w"] * (1 + k % 35)), "kind": "short", "source": "mevis",
                         "annotator": None, "J": x, "F": x, "J&F": x, "I": int(rng.integers(0, 100)), "U": 100,
                         "frames": 1 + k % 200, "missing_frames": 0, "gt_area": float(rng.random() * 0.5)})
        jf = float(np.mean([r["J&F"] for r in rows]))
        summary = {"J": jf, "F": jf, "J&F": jf, "gIoU": float(np.mean([r["I"] / r["U"] for r in rows])),
                   "cIoU": sum(r["I"] for r in rows) / sum(r["U"] for r in rows), "n_samples": samples}
        obj = {"format": "reasonvos-results/1", "benchmark": "mevis", "split": "valid_u", "protocol": "expression",
               "missing_policy": "error", "method": f"Model T_sparse={8 * 2 ** m}",
               "method_meta": {"role": "model", "T_sparse": 8 * 2 ** m}, "toolkit_version": "perf",
               "date": "2026-01-01", "summary": summary, "per_sample": rows, "per_object": []}
        (folder / f"m{m}.json").write_text(json.dumps(obj))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", type=int, default=5)
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument("--videos", type=int, default=500)
    ap.add_argument("--resamples", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="reasonvos-perf-") as tmp:
        res = Path(tmp) / "results"
        res.mkdir()
        write_runs(res, args.methods, args.samples, args.videos)
        times = {}
        for label, ci in (("no CI", None), ("CI", Settings(args.resamples, 0))):
            start = time.perf_counter()
            build_leaderboard([res], Path(tmp) / label.replace(" ", "-"), include_reported=False, ci=ci)
            times[label] = time.perf_counter() - start
    print(f"leaderboard, {args.methods} methods x {args.samples} samples / {args.videos} videos: "
          f"{times['no CI']:.2f} s without CIs, {times['CI']:.2f} s with CIs ({args.resamples} resamples) "
          f"-> bootstrap cost {times['CI'] - times['no CI']:.2f} s")


if __name__ == "__main__":
    main()
