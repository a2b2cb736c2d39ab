"""``reasonvos leaderboard``: tables, plots and a web page from results files.

Thin shell over :func:`reasonvos.leaderboard.build.build_leaderboard`; the heavy imports
(matplotlib, pandas) happen only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from reasonvos.leaderboard.uncertainty import DEFAULT_RESAMPLES, DEFAULT_SEED  # light: pandas loads on use


def parse_analysis(text: str) -> tuple[str, str, str, str | None]:
    """``BENCHMARK:ROOT:PRED[:METHOD]`` (paths must not contain ':')."""
    parts = text.split(":", 3)
    if len(parts) < 3 or not all(parts[:3]):
        raise argparse.ArgumentTypeError(f"expected BENCHMARK:ROOT:PRED[:METHOD], got {text!r}")
    return parts[0], parts[1], parts[2], (parts[3] or None) if len(parts) == 4 else None


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum`` (``--analysis-n 0`` would draw
    nothing, a negative count miscounts; ``--browse-samples 0`` is the table without thumbnails)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "leaderboard",
        help="write leaderboard tables, plots and a self-contained web page from results files",
        description="Write Markdown/LaTeX/CSV tables, PNG/SVG plots and index.html from results files "
        "written by `reasonvos score --json`, next to the numbers reported in the VideoLISA paper.",
    )
    p.add_argument("results", nargs="+", metavar="RESULTS",
                   help="results JSON files, or folders (every *.json results file inside)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder: new, empty or an earlier leaderboard's (it holds .reasonvos-output.json); "
                   "only the files the leaderboard wrote there are replaced, yours are kept")
    p.add_argument("--no-reported", action="store_true", help="leave out the paper's reported numbers")
    p.add_argument("--title", default=None, help="page and Markdown title")
    p.add_argument("--analysis", action="append", default=[], type=parse_analysis,
                   metavar="BENCHMARK:ROOT:PRED[:METHOD]",
                   help="error analysis (worst/best samples) of the predictions in PRED; repeatable")
    p.add_argument("--analysis-n", type=positive_int, default=5, metavar="N", help="worst and best N samples (default 5)")
    from reasonvos.leaderboard import BROWSE_FRAMES, BROWSE_SAMPLES

    p.add_argument("--browse-samples", type=non_negative_int, default=BROWSE_SAMPLES, metavar="N",
                   help="per-sample browser: draw thumbnails for N samples per benchmark (default "
                   "%(default)s; 0: the table only), chosen where the methods given with --analysis "
                   "disagree most, do worst and do best")
    p.add_argument("--browse-frames", type=positive_int, default=BROWSE_FRAMES, metavar="K",
                   help="per-sample browser: frames per thumbnail row, spread over the video (default %(default)s)")
    p.add_argument("--ci", action=argparse.BooleanOptionalAction, default=True,
                   help="bootstrap 95%% CIs of measured rows, their difference from the best measured method "
                   "and error bars on the breakdown and ablation plots (default: on; --no-ci leaves them out)")
    p.add_argument("--resamples", type=positive_int, default=DEFAULT_RESAMPLES, metavar="N",
                   help=f"bootstrap resamples of videos (default {DEFAULT_RESAMPLES})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="S",
                   help=f"seed of the bootstrap draws (default {DEFAULT_SEED}); the same seed gives the same CIs")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reasonvos.leaderboard.build import DEFAULT_TITLE, AnalysisSpec, BrowseOptions, build_leaderboard
    from reasonvos.leaderboard.uncertainty import Settings

    specs = [AnalysisSpec(bench, root, pred, method, n=args.analysis_n)
             for bench, root, pred, method in args.analysis]
    browse = BrowseOptions(args.browse_samples, args.browse_frames)
    result = build_leaderboard(args.results, args.out, include_reported=not args.no_reported,
                               analyses=specs, title=args.title or DEFAULT_TITLE, browse=browse,
                               ci=Settings(args.resamples, args.seed) if args.ci else None)
    for path, why in result.ignored:
        print(f"reasonvos: note: ignored {path}: {why}", file=sys.stderr)
    if not args.quiet:
        measured = sum(x.origin == "measured" for x in result.entries)
        print(f"{len(result.tables)} tables, {measured} measured entries, "
              f"{len(result.entries) - measured} reported; page: {result.page}")
    return 0
