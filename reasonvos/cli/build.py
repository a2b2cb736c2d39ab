"""``reasonvos build reasonvos``: a ReasonVOS-style benchmark from source datasets and instructions.

Thin shell over :func:`reasonvos.construct.builder.build_reasonvos`.
"""

from __future__ import annotations

import argparse

from reasonvos.benchmarks.reasonvos import SPEC as BUILT  # the one layout the builder writes


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build",
        help="build a ReasonVOS-style benchmark from MOSE/MeViS/VIPSeg/BURST and an instruction file",
        description="Write the ReasonVOS layout (meta_expressions.json, JPEGImages/, Annotations/, "
        "manifest.sha256) from source datasets and a JSON Lines instruction file. Deterministic and "
        "resumable: re-running skips finished folders. SOURCES holds mose/ ([train/]JPEGImages + "
        "Annotations), mevis/ (train|valid_u with mask_dict.json), vipseg/ (VIPSeg_720P/{images,panomasks} "
        "or VIPSeg/{imgs,panomasks}) and burst/ (annotations/<split>/all_classes.json + "
        "frames/<split>/<dataset>/<seq_name>/). Each instruction line: {\"source\": \"mose|mevis|vipseg|burst\", "
        "\"video\": ..., \"obj_id\": \"<string>\", \"text\": ..., \"kind\": \"short|long\", optional \"exp_id\", "
        "optional \"frames\": [stems]}.",
    )
    p.add_argument("name", choices=[BUILT.name], help="benchmark layout to build")
    p.add_argument("--sources", required=True, metavar="DIR", help="folder with mose/, mevis/, vipseg/, burst/")
    p.add_argument("--instructions", required=True, metavar="FILE", help="JSON Lines instruction file")
    p.add_argument("--out", required=True, metavar="DIR", help="output benchmark folder")
    p.add_argument("--link", action="store_true",
                   help="hard-link the JPEGs instead of copying (falls back to copying across devices)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reasonvos.construct.builder import build_reasonvos

    r = build_reasonvos(args.sources, args.instructions, args.out, link=args.link, quiet=args.quiet)
    if not args.quiet:
        print(f"{r.out}: {r.videos} videos, {r.samples} samples, {r.mask_folders} mask folders, "
              f"{r.frames} frames; this run wrote {r.folders_written} folders ({r.files_written} files) "
              f"and skipped {r.folders_skipped} complete ones")
        print(f"validation: {r.validated_with}")
    return 0
