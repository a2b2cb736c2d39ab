"""Cost of the per-sample browser's thumbnails: the demo's leaderboard (2 prediction folders given
with --analysis) built with no thumbnails against the default budget, and the folder sizes.

    python perf/leaderboard_browser.py [--repeat 3] [--samples 24] [--frames 4]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from reasonvos.leaderboard.build import AnalysisSpec, BrowseOptions, build_leaderboard

from reasonvos.demo.pipeline import ANALYSED_MODEL, COMPARED_MODEL, SAMPLE_LAYOUT, run_demo


def size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--samples", type=int, default=24)
    ap.add_argument("--frames", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="reasonvos-perf-") as tmp:
        work = Path(tmp)
        report = run_demo(work / "demo", workers=1, quiet=True)
        bench = SAMPLE_LAYOUT.load(work / "demo" / "sample")
        specs = [AnalysisSpec(bench, None, report.predictions[m], method=m, n=4) for m in (ANALYSED_MODEL, COMPARED_MODEL)]
        print(f"{len(bench.samples)} samples, frames {bench.gt_size(bench.samples[0])} (H, W), 2 prediction folders")
        best: dict[int, float] = {}
        for _ in range(args.repeat):  # interleaved, so background load hits both alike
            for n in (0, args.samples):
                out = work / f"board-{n}"
                shutil.rmtree(out, ignore_errors=True)
                start = time.perf_counter()
                build_leaderboard(list(report.results.values()), out, include_reported=False, analyses=specs,
                                  browse=BrowseOptions(n, args.frames))
                best[n] = min(best.get(n, float("inf")), time.perf_counter() - start)
        files, nbytes = size(work / f"board-{args.samples}" / "browser")
        page = (work / f"board-{args.samples}" / "index.html").stat().st_size
        print(f"build without thumbnails: {best[0]:.2f} s; with {args.samples} samples x {args.frames} frames: "
              f"{best[args.samples]:.2f} s (+{best[args.samples] - best[0]:.2f} s, "
              f"{(best[args.samples] - best[0]) / max(files, 1) * 1000:.1f} ms per thumbnail)")
        print(f"browser/: {files} thumbnails, {nbytes / 1e6:.1f} MB; index.html {page / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
