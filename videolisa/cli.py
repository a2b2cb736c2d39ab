"""Command-line glue: the model options of ``reasonvos infer videolisa`` and ``reasonvos segment``.

Model registry contract: ``add_model_arguments(parser)`` adds the options, ``build_model(args)``
returns a ready :class:`~reasonvos.inference.segmenter.VideoSegmenter`. torch is imported only inside
``build_model`` so that ``reasonvos --help`` stays fast and works without the models extra.
"""

from __future__ import annotations

import argparse
import os

from reasonvos.errors import InputError

DEFAULT_CHECKPOINT = "ZechenBai/VideoLISA-3.8B"
DEFAULT_CLIP = "openai/clip-vit-large-patch14-336"

#: what ``reasonvos infer --help`` shows
DESCRIPTIONS: dict[str, str] = {
    "videolisa": "VideoLISA-3.8B (NeurIPS 2024): Sparse-Dense Sampling (32/4), one [SEG] token "
                 "segments every frame with SAM",
}


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("VideoLISA")
    g.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                   help="checkpoint folder, or a Hugging Face id found in the local HF cache "
                        f"(default {DEFAULT_CHECKPOINT}; SAM's weights are inside it)")
    g.add_argument("--clip", default=DEFAULT_CLIP,
                   help=f"CLIP vision tower folder or cached HF id (default {DEFAULT_CLIP})")
    g.add_argument("--download", action="store_true",
                   help="allow downloading --checkpoint/--clip from the Hugging Face hub if not cached")
    g.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16",
                   help="weights and activations (default bf16, as the model was run)")
    g.add_argument("--device", default=None,
                   help="torch device (default: cuda:LOCAL_RANK when a GPU is present, else cpu)")
    g.add_argument("--num-frames-sparse", type=int, default=32,
                   help="frames the LLM sees, one pooled token each (default 32, as trained; "
                        "the original scripts' default of 50 was never trained)")
    g.add_argument("--num-frames-dense", type=int, default=4,
                   help="of those, frames kept at full resolution (default 4)")
    g.add_argument("--sam-batch-size", type=int, default=4, help="frames per SAM encoder batch")
    g.add_argument("--no-cache", action="store_true",
                   help="re-encode each video for every expression (only to measure the cache)")
    g.add_argument("--tiny-random", type=int, default=None, metavar="SEED",
                   help="a tiny randomly initialised model instead of the checkpoint (tests, smoke runs)")


def default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return "cpu"


def build_model(args: argparse.Namespace):
    """The VideoLISA segmenter the options describe (loads weights; imports torch)."""
    from .checkpoint import DTYPES, load_videolisa
    from .segmenter import VideoLisaSegmenter
    from .tiny import tiny_videolisa

    if args.num_frames_sparse < 2 or not 1 <= args.num_frames_dense < args.num_frames_sparse:
        raise InputError(None, "need --num-frames-sparse >= 2 and 1 <= --num-frames-dense < --num-frames-sparse")
    if args.sam_batch_size < 1:
        raise InputError(None, "--sam-batch-size must be at least 1")
    device = args.device or default_device()
    if args.tiny_random is not None:
        model, tok = tiny_videolisa(args.tiny_random)
        model = model.cast(DTYPES[args.dtype], device)
        info = {"checkpoint": f"tiny-random:{args.tiny_random}"}
    else:
        model, tok = load_videolisa(args.checkpoint, args.clip, dtype=args.dtype, device=device,
                                    allow_download=args.download)
        info = {"checkpoint": str(args.checkpoint), "clip": str(args.clip)}
    return VideoLisaSegmenter(model, tok, num_frames_sparse=args.num_frames_sparse,
                              num_frames_dense=args.num_frames_dense, cache=not args.no_cache,
                              sam_batch_size=args.sam_batch_size, info=info)
