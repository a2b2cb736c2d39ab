"""``reasonvos submit NAME --root DIR --split S --pred DIR --out FILE.zip`` (NAME: a benchmark with a server).

Thin shell over :func:`reasonvos.evaluators.submission.write_submission`: checks the prediction
folder is complete for the server-scored split, then writes the zip in the server's layout.
"""

from __future__ import annotations

import argparse
import sys

from reasonvos.benchmarks import registry


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "submit",
        help="check a prediction folder and zip it for the Ref-YouTube-VOS or MeViS server",
        description="Every sample and listed frame must be present, at the video's size, and binary. "
        "Ref-YouTube-VOS zips hold Annotations/<video>/<exp_id>/<frame>.png; MeViS valid zips hold "
        "<video>/<exp_id>/<frame>.png at the root. On any problem the full report goes to stderr and no "
        "zip is written.",
    )
    servers = [s for s in registry.all_specs() if s.submission_prefix is not None]
    p.add_argument("name", choices=[s.name for s in servers], help="benchmark")
    p.add_argument("--root", required=True, metavar="DIR", help="benchmark root")
    p.add_argument("--split", required=True, help="server-scored split ("
                   + "; ".join(f"{s.name}: {', '.join(s.server_splits)}" for s in servers) + ")")
    p.add_argument("--pred", required=True, metavar="DIR", help="prediction folder")
    p.add_argument("--out", required=True, metavar="FILE.zip", help="zip to write")
    p.add_argument("--workers", type=int, metavar="N", help="processes for the PNG checks (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reasonvos.benchmarks.registry import load_benchmark
    from reasonvos.errors import PredictionError
    from reasonvos.evaluators.submission import write_submission

    benchmark = load_benchmark(args.name, args.root, args.split)
    try:
        sub = write_submission(benchmark, args.pred, args.out, workers=args.workers, quiet=args.quiet)
    except PredictionError as e:
        report = getattr(e, "report", None)
        if report is not None:
            print(report.format(), file=sys.stderr)
        raise
    if not args.quiet:
        note = f", {sub.reencoded} re-encoded as 0/255" if sub.reencoded else ""
        print(f"{sub.path}: {sub.samples} samples, {sub.files} masks{note}")
    return 0
