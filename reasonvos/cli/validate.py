"""``reasonvos validate NAME --root DIR``: check a local copy and print a grouped report."""

from __future__ import annotations

import argparse
from pathlib import Path

from reasonvos.benchmarks import registry


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate", help="check a local benchmark copy (structure, files, masks, counts)",
        description="Validate a benchmark copy. Errors (broken structure, missing or undecodable files, "
                    "dangling references) exit 1; warnings (counts differing from the published ones, "
                    "known quirks) do not, unless --strict.",
    )
    p.add_argument("name", choices=sorted(registry.names()), help="benchmark")
    p.add_argument("--root", type=Path, required=True, help="benchmark root")
    p.add_argument("--split", default=None, help="only this split (default: every split present)")
    p.add_argument("--deep", action="store_true", help="also decode every frame (slower)")
    p.add_argument("--workers", type=int, default=None, help="processes for decoding (default: all cores)")
    p.add_argument("--examples", type=int, default=5, help="examples shown per kind of problem")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the report as JSON")
    p.add_argument("--strict", action="store_true",
                   help="count warnings as errors (exit 1 on any problem, e.g. before publishing numbers)")
    p.set_defaults(func=run)


def is_report(path: Path) -> bool:
    """An earlier JSON report of ``validate`` (it may be replaced; any other file is refused)."""
    from reasonvos.outputs import head

    text = head(path, 65536)
    return text.lstrip().startswith(b"{") and b'"verdict": "VERDICT:' in text


def run(args: argparse.Namespace) -> int:
    from reasonvos.outputs import OutputFile, check_outputs
    from reasonvos.validation import validate

    report_out = None if args.json is None else OutputFile(args.json, "--json", "a validation report", is_report)
    check_outputs([report_out], inputs=[args.root])  # before the checks, which can take long
    report = validate(args.name, args.root, args.split, deep=args.deep, workers=args.workers, strict=args.strict)
    print(report.format(examples=args.examples))
    if args.json is not None:
        report.write_json(args.json)
    return 0 if report.ok else 1
