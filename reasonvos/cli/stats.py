"""``reasonvos stats``: a benchmark's composition as a table, figures and stats.json.

Thin shell over :func:`reasonvos.analysis.composition.benchmark_stats`; matplotlib is imported only when
figures are written.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from reasonvos.benchmarks import registry

    p = subparsers.add_parser(
        "stats",
        help="print a benchmark's composition; with --out also write stats.json and PNG/SVG figures",
        description="Videos and samples per source, short vs long instructions, instruction lengths, "
        "frames per video, mask area and visibility (mask statistics need ground truth).",
    )
    p.add_argument("name", choices=sorted(registry.names()), help="benchmark name")
    p.add_argument("--root", required=True, metavar="DIR", help="benchmark root folder")
    p.add_argument("--split", default=None, help="split (benchmark-specific; default: the benchmark's default)")
    p.add_argument("--out", default=None, metavar="DIR", help="write stats.json, stats.txt and figures here (a new, empty or earlier stats folder)")
    p.add_argument("--no-masks", action="store_true", help="skip mask statistics (no mask decoding)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no printed table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reasonvos.analysis.composition import benchmark_stats, format_table

    stats, written = benchmark_stats(args.name, args.root, args.split, args.out,
                                     masks=not args.no_masks, quiet=args.quiet)
    if not args.quiet:
        print(format_table(stats))
        if written:
            print(f"wrote {len(written)} files to {args.out}")
    return 0
