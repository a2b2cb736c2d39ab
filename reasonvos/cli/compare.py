"""``reasonvos compare A.json B.json [C.json ...]``: is the gap between two methods real?

Thin shell over :func:`reasonvos.evaluators.compare.compare`: each further file is compared with
the first (B minus A, C minus A, ...). The table shows values x100; ``--json`` keeps fractions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

FORMAT = "reasonvos-compare/1"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="paired comparison of results files: differences with 95%% CIs, p-values, win/tie/loss",
        description="Compare results files of one benchmark, split and protocol sample by sample. Each file "
        "after the first is compared with the first: the difference of J&F, J, F, gIoU and cIoU, its 95%% "
        "percentile CI from a paired bootstrap over videos (the expressions of a video move together), a "
        "paired sign-flip permutation p-value (per video) and win/tie/loss counts over samples, overall and "
        "by kind and source. Seeded: the same files and seed give the same numbers.",
    )
    p.add_argument("files", nargs="+", metavar="RESULTS.json", help="results files (score --json); at least two")
    p.add_argument("--resamples", type=int, default=10_000, help="bootstrap and permutation resamples (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--json", metavar="FILE", help="write the comparison(s) as JSON (fractions in [0, 1])")
    p.set_defaults(func=run)


def _is_compare_file(path: Path) -> bool:
    from reasonvos.outputs import head

    return f'"format": "{FORMAT}"'.encode() in head(path, 4096)


def format_comparison(result: dict) -> str:
    """A terminal table: B minus A per metric, x100."""
    head = f"{result['a']}  minus  {result['b']}  ({result['settings']['resamples']} resamples over videos, " \
           f"seed {result['settings']['seed']})"
    lines = [head, f"{'':<24}{'diff':>7} {'95% CI':>16} {'p':>7}  {'win/tie/loss':>14}  {'videos':>6}"]
    counts = result.get("breakdown_videos") or {}

    def row(label: str, c: dict, videos: int | None) -> str:
        ci = f"[{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}]"
        wtl = f"{c['wins']}/{c['ties']}/{c['losses']}"
        return (f"{label:<24}{100 * c['diff']:>+7.1f} {ci:>16} {c['p_value']:>7.4f}  {wtl:>14}  "
                f"{'' if videos is None else videos:>6}")

    for metric, c in result["metrics"].items():
        lines.append(row(metric, c, result.get("videos")))
    few = None
    for column, parts in result["breakdown"].items():
        for value, metrics in parts.items():
            n = counts.get(column, {}).get(value)
            few = n if n is not None and n < 8 and (few is None or n < few) else few
            lines.append(row(f"  {column}={value} J&F", metrics["J&F"], n))
    if few is not None:
        lines.append(f"(the sign-flip p-value cannot go below about 2/2^n over n videos: {few} videos give "
                     f"{min(1.0, 2 / 2 ** few):.3f}; read such rows by their CI and counts)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from reasonvos.errors import InputError
    from reasonvos.evaluators.compare import compare
    from reasonvos.fileio import write_text_atomic
    from reasonvos.outputs import OutputFile, check_outputs

    if len(args.files) < 2:
        raise InputError(None, "compare needs at least two results files")
    if args.resamples < 1:
        raise InputError(None, f"--resamples must be at least 1, not {args.resamples}")
    out = None if args.json is None else OutputFile(Path(args.json), "the --json file", "a reasonvos comparison",
                                                     _is_compare_file)
    check_outputs([out], args.files)
    first = args.files[0]
    results = []
    for other in args.files[1:]:
        # "B minus A": the first file is the reference
        r = compare(other, first, resamples=args.resamples, seed=args.seed)
        results.append(r)
        print(format_comparison(r))
    if out is not None:
        doc = {"format": FORMAT, **results[0]} if len(results) == 1 else {
            "format": FORMAT, "settings": results[0]["settings"], "comparisons": results}
        write_text_atomic(out.path, json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
        print(f"wrote {out.path}")
    return 0
