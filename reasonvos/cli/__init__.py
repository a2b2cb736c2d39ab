"""The ``reasonvos`` command: a thin shell over the Python API.

Each subcommand is one module in this package, discovered automatically: it defines
``register(subparsers)``, which adds its parser and sets ``func`` to ``(args) -> int``. Modules
whose names start with ``_`` are helpers, not commands. ``argparse`` lives only here.

Exit status: 0 success, 1 bad input (one line naming the file and the problem), 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from reasonvos import __version__
from reasonvos.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reasonvos",
        description="Download, validate, build, score and run language-instructed video segmentation benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"reasonvos {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        importlib.import_module(f"{__name__}.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as e:
        print(f"reasonvos: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("reasonvos: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
