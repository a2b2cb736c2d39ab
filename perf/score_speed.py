"""Scoring speed, measured against vos-benchmark and against plain PNG decoding, in one run.

Workload (generated into a temporary folder): 20 videos x 60 frames x 480x854, 2 objects each,
predictions perturbed from the GT (shifted, with spurious blobs).

(a) DAVIS layout: ``reasonvos score davis --protocol davis-semi --workers 2`` versus the
    ``vos-benchmark`` package with 2 processes on the same folders (``pip install vos-benchmark``);
    per-object J and F must agree (both objects are visible from the first frame, where the two
    protocols coincide). Target: >= 3x faster.
(b) The same masks in the ReasonVOS layout (one 0/255 PNG per object and frame): scoring time
    versus the time to only decode every PNG involved, both with 2 workers. Target: <= 1.5x.
(c) With ``--visa DIR`` (a checkout of cilinyan/VISA): the same masks in the ReVOS layout (nested
    video keys, RLE ``mask_dict.json``, foreground dict, one 0/255 PNG per expression and frame;
    per video one referring expression per object and a two-object reasoning one):
    ``score()`` with ``compat_r="visa-255"`` versus VISA's ``tools/eval_revos.py`` run unchanged
    at its own defaults (128 worker processes; only ``termcolor`` is stubbed if absent). The
    overall J&F and R of both are printed side by side.

Run: ``python perf/score_speed.py [--videos 20 --frames 60 --workers 2 --keep DIR] [--visa DIR [--revos-only]]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from reasonvos.evaluators import score

from reasonvos import load_benchmark
from reasonvos.masks import read_index_png, write_index_png

SIZE = (480, 854)


def video_labels(seed: int, n_frames: int, size: tuple[int, int] = SIZE):
    """Yield (gt, pred) uint8 label maps: two moving ellipses; the prediction is shifted and noisy."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.ogrid[:h, :w]
    objs = [(rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w, rng.uniform(40, 110), rng.uniform(60, 160),
             rng.uniform(-2, 2), rng.uniform(-3, 3)) for _ in range(2)]
    for t in range(n_frames):
        gt = np.zeros(size, np.uint8)
        for k, (cy, cx, ry, rx, vy, vx) in enumerate(objs):
            cy2, cx2 = (cy + vy * t) % h, (cx + vx * t) % w
            gt[((yy - cy2) / ry) ** 2 + ((xx - cx2) / rx) ** 2 < 1] = k + 1
        pred = np.roll(gt, (int(rng.integers(-4, 5)), int(rng.integers(-4, 5))), axis=(0, 1))
        for _ in range(2):
            y0, x0 = int(rng.integers(0, h - 30)), int(rng.integers(0, w - 30))
            pred[y0:y0 + int(rng.integers(5, 30)), x0:x0 + int(rng.integers(5, 30))] = int(rng.integers(0, 3))
        yield gt, pred


def _write_video(args: tuple[Path, int, int]) -> None:
    root, v, n_frames = args
    name = f"vid{v:03d}"
    for t, (gt, pred) in enumerate(video_labels(v, n_frames)):
        frame = f"{t:05d}"
        write_index_png(root / "davis_gt" / name / f"{frame}.png", gt)
        write_index_png(root / "davis_pred" / name / f"{frame}.png", pred)
        for k in (1, 2):
            gdir = root / "ReasonVOS" / "Annotations" / f"mose_{name}_{k}"
            pdir = root / "rv_pred" / f"mose_{name}_{k}" / "0"
            gdir.mkdir(parents=True, exist_ok=True)
            pdir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(gdir / f"{frame}.png"), (gt == k).astype(np.uint8) * 255)
            cv2.imwrite(str(pdir / f"{frame}.png"), (pred == k).astype(np.uint8) * 255)


def generate(root: Path, n_videos: int, n_frames: int, workers: int) -> None:
    """DAVIS layout (davis_gt/, davis_pred/) and ReasonVOS layout (ReasonVOS/, rv_pred/) of the same masks."""
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_write_video, [(root, v, n_frames) for v in range(n_videos)]))
    meta = {"videos": {}}
    for v in range(n_videos):
        name = f"vid{v:03d}"
        meta["videos"][name] = {
            "source": "mose", "frames": [f"{t:05d}" for t in range(n_frames)],
            "expressions": [{"obj_id": str(k), "exp_id": "0", "exp_text": f"object {k}", "is_sent": False}
                            for k in (1, 2)],
        }
    (root / "ReasonVOS" / "meta_expressions.json").write_text(json.dumps(meta))


def generate_revos(root: Path, n_videos: int, n_frames: int) -> None:
    """ReVOS layout (ReVOS/, revos_pred/Annotations/) of the masks in davis_gt/ and davis_pred/."""
    from pycocotools import mask as coco_mask

    def rle(m: np.ndarray) -> dict:
        r = coco_mask.encode(np.asfortranarray(m.astype(np.uint8)))
        return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}

    base = root / "ReVOS"
    base.mkdir(parents=True, exist_ok=True)
    meta: dict = {"videos": {}}
    masks: dict = {}
    fg: dict = {}
    for v in range(n_videos):
        name = f"vid{v:03d}"
        key = f"PERF/all/{name}"  # nested, as ReVOS keys are
        frames = [f"{t:05d}" for t in range(n_frames)]
        annos = {k: 1000 * v + k for k in (1, 2)}
        exps = {"0": {"exp": "object 1", "obj_id": [0], "anno_id": [annos[1]], "type_id": 0},
                "1": {"exp": "object 2", "obj_id": [0], "anno_id": [annos[2]], "type_id": 0},
                "2": {"exp": "Which two things move?", "obj_id": [0, 1], "anno_id": [annos[1], annos[2]],
                      "type_id": 1}}
        meta["videos"][key] = {"expressions": exps, "vid_id": v, "height": SIZE[0], "width": SIZE[1],
                               "frames": frames}
        for k in (1, 2):
            masks[str(annos[k])] = []
        fg[key] = {"masks_rle": [], "foreground_ratio": []}
        for frame in frames:
            gt = read_index_png(root / "davis_gt" / name / f"{frame}.png")
            pred = read_index_png(root / "davis_pred" / name / f"{frame}.png")
            for k in (1, 2):
                masks[str(annos[k])].append(rle(gt == k) if (gt == k).any() else None)
            fg[key]["masks_rle"].append(rle(gt > 0))
            fg[key]["foreground_ratio"].append(float((gt > 0).mean()))
            for exp_id, sel in (("0", (1,)), ("1", (2,)), ("2", (1, 2))):
                d = root / "revos_pred" / "Annotations" / key / exp_id
                d.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(d / f"{frame}.png"), np.isin(pred, sel).astype(np.uint8) * 255)
    (base / "meta_expressions_valid_.json").write_text(json.dumps(meta))
    (base / "mask_dict.json").write_text(json.dumps(masks))
    (base / "mask_dict_foreground.json").write_text(json.dumps(fg))


_VISA_RUNNER = """
import runpy, sys, types
try:
    import termcolor  # noqa: F401
except ImportError:
    sys.modules["termcolor"] = types.SimpleNamespace(colored=lambda s, *a, **k: s)
sys.path.insert(0, sys.argv[1])
sys.argv = ["eval_revos.py"] + sys.argv[2:]
runpy.run_path(sys.path[0] + "/eval_revos.py", run_name="__main__")
"""


def run_visa(visa: Path, root: Path) -> tuple[float, dict]:
    """VISA's eval_revos.py at its defaults (128 processes); its time and revos_valid.json."""
    base = root / "ReVOS"
    cmd = [sys.executable, "-c", _VISA_RUNNER, str(visa / "tools"), str(root / "revos_pred" / "Annotations"),
           "--visa_exp_path", str(base / "meta_expressions_valid_.json"),
           "--visa_mask_path", str(base / "mask_dict.json"),
           "--visa_foreground_mask_path", str(base / "mask_dict_foreground.json")]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    return elapsed, json.loads((root / "revos_pred" / "revos_valid.json").read_text())


def _decode_video(folders: list[str]) -> int:
    n = 0
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".png"):
                cv2.imread(os.path.join(folder, name), cv2.IMREAD_UNCHANGED)
                n += 1
    return n


def decode_all(root: Path, workers: int) -> tuple[float, int]:
    """Time to decode every GT and prediction PNG of the ReasonVOS layout, one video per task."""
    by_video: dict[str, list[str]] = {}
    for d in sorted((root / "ReasonVOS" / "Annotations").iterdir()):
        video = d.name.rsplit("_", 1)[0]
        by_video.setdefault(video, []).extend([str(d), str(root / "rv_pred" / d.name / "0")])
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        n = sum(pool.map(_decode_video, by_video.values()))
    return time.perf_counter() - start, n


def run_vos_benchmark(gt: Path, pred: Path, workers: int) -> tuple[float, dict] | None:
    try:
        from vos_benchmark.benchmark import benchmark
    except ImportError:
        return None
    start = time.perf_counter()
    _, _, _, objects = benchmark([str(gt)], [str(pred)], num_processes=workers, verbose=False)
    elapsed = time.perf_counter() - start
    (pred / "results.csv").unlink(missing_ok=True)  # it writes into the prediction folder
    return elapsed, objects[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="timings are the best of this many runs")
    ap.add_argument("--keep", type=Path, help="generate here and keep it (default: a temporary folder)")
    ap.add_argument("--visa", type=Path, help="a checkout of cilinyan/VISA: add the ReVOS row (c)")
    ap.add_argument("--revos-only", action="store_true", help="with --visa: run only (c)")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="reasonvos-perf-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        if not (root / "ReasonVOS" / "meta_expressions.json").is_file():
            generate(root, args.videos, args.frames, args.workers)
        print(f"workload: {args.videos} videos x {args.frames} frames x {SIZE[0]}x{SIZE[1]}, 2 objects "
              f"(generated in {time.perf_counter() - t0:.1f} s) under {root}")
        w = args.workers
        if args.visa is not None:
            revos_row(root, args, w)
            if args.revos_only:
                return

        # (a) DAVIS layout ------------------------------------------------------------------
        cmd = [sys.executable, "-m", "reasonvos", "score", "davis", "--gt", str(root / "davis_gt"), "--pred",
               str(root / "davis_pred"), "--protocol", "davis-semi", "--workers", str(w), "--quiet",
               "--json", str(root / "davis.json")]
        bench = load_benchmark("davis", root / "davis_gt")
        cli_times, api_times, vb_times = [], [], []
        vb = None
        for _ in range(args.repeat):  # interleaved, so background load hits all alike
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            cli_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            res = score(bench, root / "davis_pred", protocol="davis-semi", workers=w)
            api_times.append(time.perf_counter() - t0)
            vb = run_vos_benchmark(root / "davis_gt", root / "davis_pred", w)
            if vb is not None:
                vb_times.append(vb[0])
        cli_time, api_time = min(cli_times), min(api_times)
        print(f"(a) reasonvos score davis --protocol davis-semi --workers {w}: {cli_time:.2f} s (CLI, incl. "
              f"start-up and loading), {api_time:.2f} s (score() alone); J&F {100 * res.summary['J&F']:.2f}")
        if vb is None:
            print("    vos-benchmark not installed (pip install vos-benchmark): no comparison")
        else:
            vb_time, objects = min(vb_times), vb[1]
            diffs = []
            for row in res.per_object.itertuples():
                iou, bf = objects[row.video]
                k = int(row.gt_id)
                diffs += [abs(100 * row.J - iou[k]), abs(100 * row.F - bf[k])]
            print(f"    vos-benchmark, {w} processes: {vb_time:.2f} s -> speed-up {vb_time / cli_time:.1f}x (CLI), "
                  f"{vb_time / api_time:.1f}x (score()) [target >= 3x]")
            print(f"    per-object J/F agreement over {len(res.per_object)} objects: max |diff| = "
                  f"{max(diffs):.2e} (x100 units)")

        # (b) ReasonVOS layout --------------------------------------------------------------
        rv = load_benchmark("reasonvos", root / "ReasonVOS")
        rv_times, dec_times = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            res_rv = score(rv, root / "rv_pred", workers=w)
            rv_times.append(time.perf_counter() - t0)
            dec_time, n_png = decode_all(root, w)
            dec_times.append(dec_time)
        rv_time, dec_time = min(rv_times), min(dec_times)
        print(f"(b) ReasonVOS layout, {len(rv.samples)} samples: score() {rv_time:.2f} s; decoding the "
              f"{n_png} PNGs alone {dec_time:.2f} s -> ratio {rv_time / dec_time:.2f} [target <= 1.5]; "
              f"J&F {100 * res_rv.summary['J&F']:.2f}")
        print(f"    worker peak RSS {res_rv.stats['worker_peak_rss_mb']:.0f} MB")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def revos_row(root: Path, args: argparse.Namespace, w: int) -> None:
    """(c) ReVOS layout: score() in the official 0/255 R mode versus VISA's scorer at its defaults."""
    if not (root / "ReVOS" / "meta_expressions_valid_.json").is_file():
        generate_revos(root, args.videos, args.frames)
    bench = load_benchmark("revos", root / "ReVOS")
    ours, theirs = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = score(bench, root / "revos_pred" / "Annotations", workers=w, compat_r="visa-255")
        ours.append(time.perf_counter() - t0)
        elapsed, official = run_visa(args.visa, root)
        theirs.append(elapsed)
    s, o = res.summary, official["overall"]
    print(f"(c) ReVOS layout, {len(bench.samples)} expressions: score(compat_r='visa-255', workers={w}) "
          f"{min(ours):.2f} s; VISA eval_revos.py (128 processes) {min(theirs):.2f} s -> speed-up "
          f"{min(theirs) / min(ours):.1f}x")
    print(f"    overall J&F {100 * s['J&F']:.4f} vs {o['JF']:.4f} (official, from 2-decimal values); "
          f"R {100 * s['R']:.4f} vs {o['R']:.4f}")


if __name__ == "__main__":
    main()
