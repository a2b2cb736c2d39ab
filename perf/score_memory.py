"""Peak memory of a scoring worker, and that it stays flat as videos get longer.

Generates the score_speed workload (480x854, 2 objects, perturbed predictions) twice, with 60 and
with 600 frames per video, and scores both layouts (ReasonVOS expression protocol, DAVIS
davis-semi) with 2 workers. Each worker reports its peak RSS (``resource.getrusage``; a forked
worker's figure includes what it shares with the parent). Target: under 250 MB, and the same
for 60 and 600 frames (masks are decoded and scored one frame at a time).

Run: ``python perf/score_memory.py [--videos 4 --workers 2]``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from reasonvos.evaluators import score
from score_speed import SIZE, generate

from reasonvos import load_benchmark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--frames", type=int, nargs="+", default=[60, 600])
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="reasonvos-mem-"))
    try:
        peaks: dict[str, list[float]] = {"expression": [], "davis-semi": []}
        growth: dict[str, list[float]] = {"expression": [], "davis-semi": []}
        for n in args.frames:
            root = base / f"f{n}"
            t0 = time.perf_counter()
            generate(root, args.videos, n, args.workers)
            gen = time.perf_counter() - t0
            rv = score(load_benchmark("reasonvos", root / "ReasonVOS"), root / "rv_pred", workers=args.workers)
            dv = score(load_benchmark("davis", root / "davis_gt"), root / "davis_pred", protocol="davis-semi",
                       workers=args.workers)
            for name, res in (("expression", rv), ("davis-semi", dv)):
                peaks[name].append(res.stats["worker_peak_rss_mb"])
                growth[name].append(res.stats["worker_peak_rss_mb"] - res.stats["worker_start_rss_mb"])
            main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{args.videos} videos x {n} frames x {SIZE[0]}x{SIZE[1]} (generated in {gen:.0f} s): worker peak "
                  f"RSS expression {peaks['expression'][-1]:.0f} MB (+{growth['expression'][-1]:.1f} while scoring), "
                  f"davis-semi {peaks['davis-semi'][-1]:.0f} MB (+{growth['davis-semi'][-1]:.1f} while scoring) "
                  f"(main process {main_mb:.0f} MB)")
            shutil.rmtree(root, ignore_errors=True)
        for protocol, values in peaks.items():
            print(f"{protocol}: peak {max(values):.0f} MB [target < 250]; peak at {args.frames[-1]} frames minus "
                  f"peak at {args.frames[0]} frames: {values[-1] - values[0]:+.1f} MB")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
