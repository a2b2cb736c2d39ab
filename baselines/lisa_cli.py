"""Command-line glue for ``reasonvos infer lisa``: LISA-v1 applied frame by frame.

Registry contract: ``add_model_arguments(parser)`` and ``build_model(args) -> VideoSegmenter``.
torch is imported only inside ``build_model`` (``reasonvos --help`` stays fast without the models).
"""

from __future__ import annotations

import argparse

DEFAULT_CHECKPOINT = "xinlai/LISA-7B-v1"
DEFAULT_CLIP = "openai/clip-vit-large-patch14"
DESCRIPTIONS = {"lisa": "LISA-v1 (7B/13B) run on every frame, or frame 0's [SEG] token for all frames"}


def add_lisa_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that load LISA (shared with ``lisa-xmem``)."""
    g = parser.add_argument_group("LISA")
    g.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                   help="LISA checkpoint folder or a Hugging Face id in the local cache "
                        f"(default {DEFAULT_CHECKPOINT}; also xinlai/LISA-13B-llama2-v1, ...)")
    g.add_argument("--clip", default=DEFAULT_CLIP,
                   help=f"CLIP vision tower folder or cached HF id (default {DEFAULT_CLIP}); never read "
                        "from the checkpoint's config")
    g.add_argument("--download", action="store_true",
                   help="allow downloading --checkpoint/--clip from the Hugging Face hub if not cached")
    g.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16",
                   help="weights and activations (default bf16, as LISA was run)")
    g.add_argument("--device", default=None,
                   help="torch device (default: cuda:LOCAL_RANK when a GPU is present, else cpu)")
    g.add_argument("--tiny-random", type=int, default=None, metavar="SEED",
                   help="tiny randomly initialised models instead of checkpoints (tests, smoke runs)")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    add_lisa_arguments(parser)
    parser.add_argument("--mode", choices=["per-frame", "first-frame-token"], default="per-frame",
                        help="per-frame: LISA on every frame; first-frame-token: the LLM sees frame 0 only "
                             "and its [SEG] embedding is decoded on every frame (the paper's LISA-7B*)")


def build_lisa(args: argparse.Namespace, mode: str = "per-frame"):
    """The LISA segmenter the options describe (loads weights; imports torch)."""
    from reasonvos.videolisa.checkpoint import DTYPES
    from reasonvos.videolisa.cli import default_device

    from .lisa import LisaSegmenter, load_lisa, tiny_lisa

    device = args.device or default_device()
    if args.tiny_random is not None:
        model, tok, _ = tiny_lisa(args.tiny_random)
        model = model.cast(DTYPES[args.dtype], device)  # keeps RoPE frequencies in float32
        info = {"checkpoint": f"tiny-random:{args.tiny_random}"}
    else:
        model, tok = load_lisa(args.checkpoint, args.clip, dtype=args.dtype, device=device,
                               allow_download=args.download)
        info = {"checkpoint": str(args.checkpoint), "clip": str(args.clip)}
    return LisaSegmenter(model, tok, mode=mode, info=info)


def build_model(args: argparse.Namespace):
    return build_lisa(args, args.mode)
