"""``reasonvos import NAME --root DIR --pred FOLDER_OR_ZIP --method NAME --source URL --out RESULTS.json``.

Scores another method's published predictions into a results file that records their provenance.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import", help="score another method's published predictions (folder or zip) into a results file",
        description="Score a published prediction folder or archive (in the benchmark's layout) and write a "
        "results file whose method metadata records the source, the archive's sha256 and the import date "
        "(role 'published').",
    )
    parser.add_argument("benchmark", metavar="NAME", help="benchmark name (reasonvos, mevis, refytvos, ...)")
    parser.add_argument("--root", required=True, help="benchmark root folder (with ground truth)")
    parser.add_argument("--split", default=None, help="split (default: the benchmark's default)")
    parser.add_argument("--pred", required=True, help="prediction folder, or a zip/tar archive of one")
    parser.add_argument("--method", required=True, help="name of the method that produced the predictions")
    parser.add_argument("--source", required=True, help="where they come from: URL or citation")
    parser.add_argument("--out", required=True, help="results JSON to write")
    parser.add_argument("--protocol", default=None, help="scoring protocol (default: the benchmark's)")
    parser.add_argument("--missing", choices=("error", "empty", "skip"), default="error",
                        help="missing predictions: error (default), score as empty, or skip the sample")
    parser.add_argument("--workers", type=int, default=None, help="scoring processes (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reasonvos.baselines.published import import_predictions
    from reasonvos.benchmarks.registry import load_benchmark
    from reasonvos.evaluators.results import results_output
    from reasonvos.outputs import check_outputs

    check_outputs([results_output(args.out, "--out")], inputs=[args.root, args.pred])
    benchmark = load_benchmark(args.benchmark, args.root, args.split)
    results = import_predictions(benchmark, args.pred, args.method, args.source, args.out,
                                 protocol=args.protocol, missing=args.missing, workers=args.workers,
                                 quiet=args.quiet)
    s = results.summary
    parts = [f"{k} {100 * s[k]:.1f}" for k in ("J", "F", "J&F") if isinstance(s.get(k), float | int)]
    where = results.benchmark + (f" {results.split}" if results.split else "")
    print(f"{args.method} (published predictions, {where}): {', '.join(parts)} -> {args.out}")
    return 0
