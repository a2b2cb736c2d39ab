"""``reasonvos download NAME``: fetch, verify, unpack, then validate a benchmark."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasonvos.acquire.sources import registry
from reasonvos.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "download", help="download, verify, safely extract and validate a benchmark",
        description="Download a benchmark (or use archives you already have), check sizes and sha256 "
                    "where published, extract safely into --root and validate the copy.",
    )
    p.add_argument("name", choices=sorted(registry()), help="benchmark")
    p.add_argument("--root", type=Path, default=None, help="benchmark root (default: data/NAME)")
    p.add_argument("--archive", action="append", default=[], metavar="FILE",
                   help="a file you downloaded yourself (CodaLab login, Drive quota); repeatable")
    p.add_argument("--variant", default=None, help="release to fetch (e.g. mevis: v2 from the hub, v1 from --archive)")
    p.add_argument("--accept-licence", action="store_true", help="accept the licence shown (required when not interactive)")
    p.add_argument("--with-optional", action="store_true", help="also fetch optional extras (re-hosted metadata)")
    p.add_argument("--no-validate", action="store_true", help="skip validation after extraction")
    p.add_argument("--attempts", type=int, default=5, help="attempts per HTTP file (default 5)")
    p.add_argument("--mirror", default=None, metavar="URL",
                   help="fetch every plain HTTP(S) source from this http(s)://host[:port][/prefix] instead, "
                        "keeping each file's path (default: $REASONVOS_MIRROR; Google Drive and the Hugging "
                        "Face hub are not affected: the hub reads $HF_ENDPOINT)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _ask(question: str) -> bool:
    return input(question).strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    from reasonvos.acquire.download import RetryPolicy, download_benchmark

    root = args.root or Path("data") / args.name
    try:
        result = download_benchmark(
            args.name, root, archives=args.archive, variant=args.variant, accept_licence=args.accept_licence,
            ask=_ask if sys.stdin.isatty() else None, with_optional=args.with_optional, quiet=args.quiet,
            policy=RetryPolicy(attempts=max(args.attempts, 1)), mirror=args.mirror,
        )
    except OSError as e:  # the file system refused (no space, no permission, a file where a folder goes)
        raise InputError(e.filename or root, f"cannot write the download: {e.strerror or e}") from e
    for line in result.done:
        print(f"ok   {line}")
    for line in result.notes:
        print(f"note {line}")
    print(f"{args.name} ({result.variant}) is in {root}")
    if args.no_validate:
        return 0
    from reasonvos.validation import validate

    report = validate(args.name, root)
    print(report.format())
    return 0 if report.ok else 1
