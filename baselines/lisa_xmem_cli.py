"""Command-line glue for ``reasonvos infer lisa-xmem``: LISA on a key frame, XMem (or Cutie) tracks.

Registry contract: ``add_model_arguments(parser)`` and ``build_model(args) -> VideoSegmenter``.
torch is imported only inside ``build_model``.
"""

from __future__ import annotations

import argparse

from reasonvos.errors import InputError

from .lisa_cli import add_lisa_arguments

DESCRIPTIONS = {"lisa-xmem": "LISA segments a key frame, XMem (or Cutie) propagates the mask"}


def _key_frame(value: str) -> str:
    if value.isdigit() or value in ("first", "middle", "best"):
        return value
    raise argparse.ArgumentTypeError(f"expected first, middle, best or a frame index, got {value!r}")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    add_lisa_arguments(parser)
    g = parser.add_argument_group("propagation")
    g.add_argument("--propagator", choices=["xmem", "cutie"], default="xmem",
                   help="xmem (as in the paper; needs --xmem-weights) or cutie (rf-cutie; needs "
                        "--cutie-weights; rows are named lisa-cutie)")
    g.add_argument("--xmem-weights", default=None, help="the official XMem.pth (GitHub release v1.0)")
    g.add_argument("--cutie-weights", default=None, help="cutie-base-mega.pth (Cutie GitHub release v1.0)")
    g.add_argument("--key-frame", type=_key_frame, default="first",
                   help="frame LISA segments: first (the paper), middle, best (most confident of "
                        "--best-candidates evenly spaced frames) or an index; propagation runs both ways")
    g.add_argument("--best-candidates", type=int, default=5, help="frames LISA tries for --key-frame best")
    g.add_argument("--empty-key-mask", choices=["empty", "next"], default="empty",
                   help="when LISA's key-frame mask is empty: all masks empty, or try the next frames")
    g.add_argument("--propagation-size", type=int, default=480,
                   help="shorter side the propagator works at (default 480, XMem's; -1: original)")


def build_propagator(args: argparse.Namespace, device: str):
    if args.propagator == "cutie":
        from .cutie import CutieConfig, CutiePropagator

        if args.cutie_weights is None:
            raise InputError(None, "--propagator cutie needs --cutie-weights (cutie-base-mega.pth)")
        return CutiePropagator(args.cutie_weights, CutieConfig(max_internal_size=args.propagation_size),
                               device=device)
    from .xmem import XMemConfig, XMemPropagator

    if args.tiny_random is not None and args.xmem_weights is None:
        config = XMemConfig(size=args.propagation_size, key_dim=16, value_dim=32, hidden_dim=8)
        return XMemPropagator(None, config, device=device, seed=args.tiny_random)
    if args.xmem_weights is None:
        raise InputError(None, "lisa-xmem needs --xmem-weights (the official XMem.pth)")
    return XMemPropagator(args.xmem_weights, XMemConfig(size=args.propagation_size), device=device)


def build_model(args: argparse.Namespace):
    """The LISA+XMem segmenter the options describe (loads weights; imports torch)."""
    from reasonvos.videolisa.cli import default_device

    from .lisa_cli import build_lisa
    from .lisa_xmem import LisaXMemSegmenter

    if args.best_candidates < 1:
        raise InputError(None, "--best-candidates must be at least 1")
    propagator = build_propagator(args, args.device or default_device())  # cheap checks first
    lisa = build_lisa(args, "per-frame")
    return LisaXMemSegmenter(lisa, propagator, key_frame=args.key_frame, empty_policy=args.empty_key_mask,
                             best_candidates=args.best_candidates)
