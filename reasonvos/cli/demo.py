"""``reasonvos demo [--out DIR] [--workers N] [--quiet]``: the whole pipeline on the embedded sample."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the reference baselines on the embedded sample benchmark, score them, build a leaderboard",
        description="Writes a small procedurally rendered benchmark (ReasonVOS layout), runs the weight-free "
        "reference baselines on it, scores them and writes the leaderboard. No download, no weights.",
    )
    parser.add_argument("--out", default="reasonvos-demo",
                        help="output folder: new, empty or an earlier demo's (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=None, help="scoring processes (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{100 * value:5.1f}"


def run(args: argparse.Namespace) -> int:
    from reasonvos.demo.pipeline import run_demo
    from reasonvos.errors import InputError
    from reasonvos.outputs import claim_folder

    if args.workers is not None and args.workers < 1:
        raise InputError(None, f"--workers must be at least 1, not {args.workers}")
    claim_folder(args.out, "demo")  # new, empty or an earlier demo's: never a folder of the user's
    report = run_demo(args.out, workers=args.workers, quiet=args.quiet)
    print(f"sample benchmark:  {report.sample_root}")
    for name, path in report.predictions.items():
        print(f"predictions {name + ':':15s}{path}")
    if report.scores:
        print(f"\n{'method':16s}{'role':8s}{'J':>7s}{'F':>7s}{'J&F':>7s}   (x100)")
        from reasonvos.baselines.reference import REFERENCE_MODELS

        for name, s in report.scores.items():
            role = REFERENCE_MODELS[name].role
            print(f"{name:16s}{role:8s}{_pct(s['J']):>7s}{_pct(s['F']):>7s}{_pct(s['J&F']):>7s}")
        print("(oracles read the first ground-truth mask; floors are trivial lower bounds)\n")
    for name, path in report.results.items():
        print(f"results {name + ':':19s}{path}")
    if report.leaderboard is not None:
        print(f"leaderboard:       {report.leaderboard}")
    if report.comparison:
        print(f"\n{report.comparison}\n")
    print(f"stages run: {', '.join(report.stages_run)}")
    print(f"done in {report.seconds:.1f} s -> {report.out_dir}")
    return 0
