"""``reasonvos score NAME --root DIR --pred DIR ...``: score a prediction folder.

Thin shell over :func:`reasonvos.evaluators.score`. ``score davis --gt DIR`` takes a folder with
one sub-folder of index PNGs per video. On bad predictions the full grouped report goes to
stderr, no results file is written, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from reasonvos.benchmarks import registry
from reasonvos.errors import InputError
from reasonvos.evaluators.protocol_registry import names as protocol_names
from reasonvos.evaluators.schema import ROLES


def _default_protocols_text() -> str:
    """"expression for reasonvos, mevis and refytvos; refdavis for refdavis; ..." from the registry."""
    by_protocol: dict[str, list[str]] = {}
    for spec in registry.all_specs():
        by_protocol.setdefault(spec.default_protocol, []).append(spec.name)

    def listed(names: list[str]) -> str:
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

    return "; ".join(f"{p} for {listed(names)}" for p, names in by_protocol.items())


def parse_meta(items: list[str]) -> dict:
    """``KEY=VALUE`` pairs; values that read as JSON numbers/booleans keep that type."""
    meta: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(None, f"--method-meta expects KEY=VALUE, got {item!r}")
        try:
            parsed = json.loads(value)
            meta[key] = parsed if isinstance(parsed, int | float | bool) else value
        except json.JSONDecodeError:
            meta[key] = value
    if "role" in meta and meta["role"] not in ROLES:
        raise InputError(None, f"--method-meta role must be one of {', '.join(ROLES)}, not {meta['role']!r}")
    return meta


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score",
        help="score a prediction folder (J, F, J&F, DAVIS statistics, gIoU/cIoU)",
        description="Check a prediction folder (missing, stray, wrong size, non-binary, undecodable files) "
        f"and score it with the benchmark's protocol. Default protocol: {_default_protocols_text()}. "
        "Values are fractions in [0, 1]; the table shows them x100.",
    )
    p.add_argument("name", choices=sorted(registry.names()), help="benchmark")
    p.add_argument("--root", metavar="DIR", help="benchmark root (for davis: same as --gt)")
    p.add_argument("--gt", metavar="DIR", help="davis: folder with one sub-folder of index PNGs per video")
    p.add_argument("--split", help="split to score (must have ground truth)")
    p.add_argument("--pred", required=True, metavar="DIR", help="prediction folder in the benchmark's layout")
    p.add_argument("--protocol", choices=protocol_names(), help="scoring protocol (default: the benchmark's)")
    p.add_argument("--workers", type=int, metavar="N", help="processes, one video at a time (default: all cores)")
    p.add_argument("--missing", choices=("error", "empty", "skip"), default="error",
                   help="missing prediction frames: error (list them, exit 1; default), empty (score as empty "
                   "masks) or skip (drop the sample, as VideoLISA's scripts do; not for the refdavis protocol, "
                   "whose slots merge every expression)")
    p.add_argument("--method", metavar="NAME", help="method name recorded in the results")
    p.add_argument("--method-meta", action="append", default=[], metavar="KEY=VALUE",
                   help="method metadata recorded in the results (repeatable), e.g. checkpoint=... T_sparse=32")
    p.add_argument("--json", metavar="FILE", help="write the results JSON here")
    p.add_argument("--csv", metavar="FILE", help="write the per-sample table as CSV here")
    p.add_argument("--compat-decay", action="store_true",
                   help="reproduce the official uint8 Decay bins (NaN or wrong Decay from 256 frames on)")
    p.add_argument("--compat-r", choices=("visa-255", "sa2va-01"),  # evaluators.revos_protocol.COMPAT_R
                   help="revos protocol: the official uint8 R of predictions saved as 0/255 (VISA, VRS-HQ, "
                        "UniPixel) or 0/1 (Sa2VA); default: an R on boolean masks, independent of the encoding")
    p.add_argument("--official-rounding", action="store_true",
                   help="revos protocol: round each expression to two decimals before averaging, as the "
                        "official scorer does (default: full precision)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reasonvos.benchmarks.registry import load_benchmark
    from reasonvos.errors import PredictionError
    from reasonvos.evaluators import score
    from reasonvos.evaluators.results import csv_output, results_output
    from reasonvos.outputs import check_outputs

    spec = registry.get(args.name)
    root = args.gt or args.root
    if root is None:
        raise InputError(None, "--root DIR is required" + (" (or --gt DIR)" if spec.gt_folder_root else ""))
    if args.gt and args.root and args.gt != args.root:
        raise InputError(None, "give --gt or --root, not both")
    meta = parse_meta(args.method_meta)
    # before scoring, so a bad path costs no run: never an input, a device or someone else's file
    check_outputs([results_output(args.json, "--json"), csv_output(args.csv, "--csv")], inputs=[root, args.pred])
    if args.compat_decay:
        print("reasonvos: warning: --compat-decay reproduces the official uint8 Decay bins: Decay is NaN or "
              "wrong for objects with 256 or more evaluated frames", file=sys.stderr)
    if (args.compat_r or args.official_rounding) and (args.protocol or spec.default_protocol) != "revos":
        raise InputError(None, "--compat-r and --official-rounding apply to the revos protocol only")
    # e.g. DAVIS protocols find their objects in the labels while scoring: no need to pre-scan every PNG
    benchmark = load_benchmark(args.name, root, args.split, **spec.score_load_options)
    try:
        results = score(benchmark, args.pred, protocol=args.protocol, workers=args.workers, missing=args.missing,
                        method=args.method, method_meta=meta, compat_decay=args.compat_decay, quiet=args.quiet,
                        compat_r=args.compat_r, official_rounding=args.official_rounding)
    except PredictionError as e:
        report = getattr(e, "report", None)
        if report is not None:
            print(report.format(), file=sys.stderr)
        raise
    extra = results.summary.get("unexpected_entries")
    if extra:
        shown = ", ".join(extra["first"][:5]) + (", ..." if extra["count"] > 5 else "")
        print(f"reasonvos: warning: {extra['count']} entries of {args.pred} belong to no sample of this "
              f"benchmark and were not scored: {shown}", file=sys.stderr)
    for video, why in results.summary.get("unscored_videos", {}).items():
        print(f"reasonvos: warning: video {video!r} was not scored: {why}", file=sys.stderr)
    if args.json:
        results.to_json(args.json)
    if args.csv:
        results.to_csv(args.csv)
    if not args.quiet:
        print(results.table())
    return 0
