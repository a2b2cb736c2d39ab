"""Run VISA's ReVOS scorer beside ``reasonvos score revos`` on generated data and print the differences.

    python perf/parity_revos.py --visa /tmp/visa

``--visa`` names a checkout of cilinyan/VISA (nothing of it is copied here). Its
``tools/eval_revos.py`` runs unchanged (``runpy``, with ``tools/`` on ``sys.path`` so that it
imports its own ``tools/metrics.py``), with three runtime shims: ``multiprocessing.Process``,
``Queue`` and ``Manager`` become in-process equivalents (its 128 workers poll ``while not
q.empty(): q.get()``, which can drop or hang on items, and a plain dict lets the raw
per-expression ``[J, F, A, R]`` be read back before its two-decimal rounding), and ``termcolor``
is stubbed when it is not installed (it only colours an error message).

The data is generated in ReVOS format into a temporary folder: nested video keys
(``UVO/all/...``), two overlapping objects in one expression, a no-target expression (type 2, empty
``obj_id``/``anno_id``), objects absent in some frames (``null`` RLE, so empty references), a
frame with an empty foreground, false positives outside the foreground, empty predictions, and
two frame sizes. The same masks are saved twice, as 0/255 and as 0/1 PNGs; each copy is scored
by the official script and by ours under the matching ``--compat-r`` (``visa-255``, ``sa2va-01``).

Compared: every per-expression J, F, A and R at full precision (ours without rounding), and every
summary value of the official ``revos_valid.json`` (referring, reason, overall: J, F, A, R, JF),
which averages the per-expression values rounded to two decimals (ours with
``official_rounding``). PASS means max |diff| <= 1e-9.
"""

from __future__ import annotations

import argparse
import json
import queue
import runpy
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

TOL = 1e-9


def _rle(mask: np.ndarray) -> dict:
    r = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


def _ellipse(size, cy, cx, ry, rx) -> np.ndarray:
    y, x = np.ogrid[: size[0], : size[1]]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1


def generate(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write ReVOS/ (meta, both mask dicts) and the prediction masks (as bool arrays, saved later)."""
    rng = np.random.default_rng(seed)
    base = root / "ReVOS"
    base.mkdir(parents=True)
    meta: dict = {"videos": {}}
    masks: dict = {}
    fg_dict: dict = {}
    preds: dict = {}
    anno = 1000
    videos = [("UVO/all/-fbscFfkh4M", (48, 64), 7), ("MeViS/train/0ab4afe7fb46", (37, 53), 5),
              ("MOSE/9a8b7c6d", (40, 40), 6)]
    for vi, (vid, size, n) in enumerate(videos):
        frames = [f"{5 * i + 145:05d}" for i in range(n)]
        objs = {}
        for _k in range(3):
            anno += 1
            seq = []
            cy, cx = rng.uniform(8, size[0] - 8), rng.uniform(8, size[1] - 8)
            for t in range(n):
                if rng.random() < 0.2:
                    seq.append(None)  # absent in this frame: an empty reference
                    continue
                seq.append(_ellipse(size, cy + 2 * t, cx - t, rng.uniform(4, 12), rng.uniform(4, 14)))
            objs[anno] = seq
        ids = list(objs)
        if vid.startswith("MOSE"):  # one frame where no object is present: empty foreground
            for seq in objs.values():
                seq[0] = None
        for a, seq in objs.items():
            masks[str(a)] = [None if m is None else _rle(m) for m in seq]
        fg = []
        for t in range(n):
            m = np.zeros(size, bool)
            for seq in objs.values():
                if seq[t] is not None:
                    m |= seq[t]
            fg.append(m)
        fg_dict[vid] = {"masks_rle": [_rle(m) for m in fg], "foreground_ratio": [float(m.mean()) for m in fg]}
        exps = {
            "0": {"exp": "the first object", "obj_id": [0], "anno_id": [ids[0]], "type_id": 0},
            "1": {"exp": "Which two things overlap?", "obj_id": [0, 1], "anno_id": [ids[0], ids[1]], "type_id": 1},
            "2": {"exp": "the unicorn", "obj_id": [], "anno_id": [], "type_id": 2},
            "3": {"exp": "all three", "obj_id": [0, 1, 2], "anno_id": ids, "type_id": 0},
            "4": {"exp": "What would move next?", "obj_id": [0], "anno_id": [ids[2]], "type_id": 1},
        }
        meta["videos"][vid] = {"expressions": exps, "vid_id": vi, "height": size[0], "width": size[1],
                               "frames": frames}
        for exp_id, e in exps.items():
            seqs = []
            for t in range(n):
                gt = np.zeros(size, bool)
                for a in e["anno_id"]:
                    if objs[a][t] is not None:
                        gt |= objs[a][t]
                p = np.roll(gt, int(rng.integers(-3, 4)), axis=int(rng.integers(0, 2)))
                if rng.random() < 0.4:  # false positives, partly outside the foreground
                    p |= _ellipse(size, rng.uniform(0, size[0]), rng.uniform(0, size[1]), 3, 5)
                if rng.random() < 0.15:
                    p[:] = False
                seqs.append(p)
            preds[(vid, exp_id)] = (frames, seqs)
    (base / "meta_expressions_valid_.json").write_text(json.dumps(meta))
    (base / "mask_dict.json").write_text(json.dumps(masks))
    (base / "mask_dict_foreground.json").write_text(json.dumps(fg_dict))
    for value in (1, 255):
        out = root / f"pred{value}" / "Annotations"
        for (vid, exp_id), (frames, seqs) in preds.items():
            d = out / vid / exp_id
            d.mkdir(parents=True)
            for f, m in zip(frames, seqs, strict=True):
                Image.fromarray(m.astype(np.uint8) * value, mode="L").save(d / f"{f}.png")
    return base, root


class _Process:
    """multiprocessing.Process run in this process at start()."""

    def __init__(self, target, args=()):
        self.target, self.args = target, args

    def start(self):
        self.target(*self.args)

    def join(self):
        pass


class _Manager:
    made: list[dict] = []

    def dict(self, *args):
        d = dict(*args)
        _Manager.made.append(d)
        return d


def run_official(visa: Path, base: Path, pred: Path) -> tuple[dict, dict]:
    """(raw per-expression {"vid_exp": [J, F, A, R]}, the official revos_valid.json)."""
    import multiprocessing as mp

    tools = visa / "tools"
    saved = (mp.Process, mp.Queue, mp.Manager, list(sys.argv), list(sys.path))
    _Manager.made = []
    mp.Process, mp.Queue, mp.Manager = _Process, queue.Queue, _Manager
    if "termcolor" not in sys.modules:
        try:
            import termcolor  # noqa: F401
        except ImportError:
            sys.modules["termcolor"] = types.SimpleNamespace(colored=lambda s, *a, **k: s)
    sys.argv = ["eval_revos.py", str(pred), "--visa_exp_path", str(base / "meta_expressions_valid_.json"),
                "--visa_mask_path", str(base / "mask_dict.json"),
                "--visa_foreground_mask_path", str(base / "mask_dict_foreground.json")]
    sys.path.insert(0, str(tools))
    try:
        runpy.run_path(str(tools / "eval_revos.py"), run_name="__main__")
    finally:
        mp.Process, mp.Queue, mp.Manager, sys.argv, sys.path[:] = saved[0], saved[1], saved[2], saved[3], saved[4]
    raw = _Manager.made[-1]  # output_dict is the last Manager dict created
    summary = json.loads((pred / ".." / "revos_valid.json").read_text())
    return raw, summary


def run_ours(base: Path, pred: Path, compat: str | None, rounding: bool):
    from reasonvos.evaluators import score

    from reasonvos.benchmarks.registry import load_benchmark

    bench = load_benchmark("revos", base)
    return score(bench, pred, protocol="revos", workers=1, compat_r=compat, official_rounding=rounding)


def compare(official_raw: dict, official_summary: dict, ours_raw, ours_rounded) -> dict[str, float]:
    diffs: dict[str, float] = {}
    rows = {f"{r.video}_{r.exp_id}": r for r in ours_raw.per_sample.itertuples(index=False)}
    if set(rows) != set(official_raw):
        raise SystemExit(f"expression sets differ: {sorted(set(rows) ^ set(official_raw))}")
    for key, (j, f, a, r) in official_raw.items():
        row = rows[key]._asdict()
        for name, theirs in (("J", j), ("F", f), ("A", a), ("R", r)):
            d = abs(float(theirs) - row[name])
            diffs[f"per-expression {name}"] = max(diffs.get(f"per-expression {name}", 0.0), d)
    s = ours_rounded.summary
    ours_sets = {"referring": s["breakdown"]["kind"]["referring"], "reason": s["breakdown"]["kind"]["reasoning"],
                 "overall": s["overall"]}
    for subset, values in official_summary.items():
        for name, theirs in values.items():
            mine = ours_sets[subset]["J&F" if name == "JF" else name] * 100
            diffs[f"summary {subset} {name}"] = abs(float(theirs) - mine)
    return diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--visa", type=Path, required=True, help="a checkout of cilinyan/VISA")
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        base, root = generate(Path(tmp))
        n = sum(len(v["expressions"]) for v in json.loads((base / "meta_expressions_valid_.json").read_text())["videos"].values())
        print(f"{n} expressions in 3 videos (nested keys, overlaps, no-target, empty references)")
        for value, compat in ((255, "visa-255"), (1, "sa2va-01")):
            pred = root / f"pred{value}" / "Annotations"
            official_raw, official_summary = run_official(args.visa, base, pred)
            ours_raw = run_ours(base, pred, compat, False)
            ours_rounded = run_ours(base, pred, compat, True)
            diffs = compare(official_raw, official_summary, ours_raw, ours_rounded)
            print(f"\n0/{value} predictions, --compat-r {compat}   (overall R official {official_summary['overall']['R']:.4f})")
            for name, d in diffs.items():
                good = d <= TOL
                ok &= good
                print(f"  {name:28s} max |diff| {d:.3e}  {'PASS' if good else 'FAIL'}")
        boolean = run_ours(base, root / "pred255" / "Annotations", None, False).summary["R"]
        print(f"\nours, default R on boolean masks (any encoding): overall R {100 * boolean:.4f}")
    print("\nALL PASS" if ok else "\nSOME FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
