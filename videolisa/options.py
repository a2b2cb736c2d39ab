"""VideoLISA's options, declared once: ``load_model("videolisa", ...)`` keywords and the flags of
``reasonvos infer videolisa`` / ``reasonvos segment``. Imports no torch (``--help`` reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from reasonvos.inference.options import OptionError, label, option

from .sampling import NUM_FRAMES_DENSE, NUM_FRAMES_SPARSE

DEFAULT_CHECKPOINT = "ZechenBai/VideoLISA-3.8B"
DEFAULT_CLIP = "openai/clip-vit-large-patch14-336"
DTYPE_CHOICES = ("bf16", "fp16", "fp32")
#: refinement of the masks after VideoLISA (docs/models.md#post-optimisation)
POST_OPTIMIZE_CHOICES = ("none", "xmem2")
POST_GROUP = "post-optimisation (the paper's Post-optimization rows)"


@dataclass(frozen=True)
class VideoLisaOptions:
    GROUP = "VideoLISA"

    checkpoint: str = option(
        DEFAULT_CHECKPOINT, "checkpoint folder, or a Hugging Face id found in the local HF cache "
        "(default {default}; SAM's weights are inside it)")
    clip: str = option(DEFAULT_CLIP, "CLIP vision tower folder or cached HF id (default {default})")
    download: bool = option(
        False, "allow downloading --checkpoint/--clip from the Hugging Face hub if not cached", resume=False)
    dtype: str = option("bf16", "weights and activations (default bf16, as the model was run)",
                        choices=DTYPE_CHOICES)
    device: str | None = option(
        None, "torch device (default: cuda:LOCAL_RANK when a GPU is present, else cpu)")
    num_frames_sparse: int = option(
        NUM_FRAMES_SPARSE, "frames the LLM sees, one pooled token each (default {default}, as trained; "
        "the original scripts' default of 50 was never trained)")
    num_frames_dense: int = option(NUM_FRAMES_DENSE,
                                   "of those, frames kept at full resolution (default {default})")
    sam_batch_size: int = option(4, "frames per SAM encoder batch")
    no_cache: bool = option(False, "re-encode each video for every expression (only to measure the cache)")
    tiny_random: int | None = option(
        None, "a tiny randomly initialised model instead of the checkpoint (tests, smoke runs)", metavar="SEED")
    post_optimize: str = option(
        "none", "xmem2: refine the masks by XMem2 propagation from VideoLISA's own masks at the dense "
        "frames (the paper's Post-optimization rows; needs --xmem-weights; the run is named "
        "videolisa-xmem2); none: VideoLISA's masks (default)", choices=POST_OPTIMIZE_CHOICES, group=POST_GROUP)
    xmem_weights: str | None = option(
        None, "the official XMem.pth (GitHub release v1.0; XMem2 uses it unchanged)", group=POST_GROUP)
    propagation_size: int = option(
        480, "shorter side XMem2 works at (default {default}, XMem2's; -1: original)", group=POST_GROUP)
    xmem_exact_softmax: bool = option(
        False, "XMem's original top-k softmax formula (unstable; bit-exact with the original code) instead "
        "of the stable one", group=POST_GROUP)
    keep_raw: str | None = option(
        None, "also write VideoLISA's unrefined masks to this folder, in the benchmark's layout", metavar="DIR",
        group=POST_GROUP)

    def __post_init__(self) -> None:
        if self.num_frames_sparse < 2 or not 1 <= self.num_frames_dense < self.num_frames_sparse:
            raise OptionError(
                f"need {label('num_frames_sparse')} >= 2 and 1 <= {label('num_frames_dense')} < "
                f"num_frames_sparse, got {self.num_frames_sparse} and {self.num_frames_dense}")
        if self.sam_batch_size < 1:
            raise OptionError(f"{label('sam_batch_size')} must be at least 1, got {self.sam_batch_size}")
        if self.post_optimize == "none":
            for name in ("xmem_weights", "keep_raw", "xmem_exact_softmax"):
                if name == "xmem_exact_softmax" and not self.xmem_exact_softmax:
                    continue
                if getattr(self, name) is not None:
                    raise OptionError(f"{label(name)} needs --post-optimize xmem2")
        elif self.xmem_weights is None and self.tiny_random is None:
            raise OptionError("--post-optimize xmem2 needs --xmem-weights (the official XMem.pth)")
        if self.propagation_size == 0 or self.propagation_size < -1:
            raise OptionError(f"{label('propagation_size')} must be positive or -1, got {self.propagation_size}")

    def weight_sources(self) -> dict[str, str | None]:
        """The checkpoint and CLIP tower the model reads (none for a tiny random model)."""
        xmem = {"xmem_weights": self.xmem_weights} if self.post_optimize != "none" else {}
        if self.tiny_random is not None:
            return xmem
        return {"checkpoint": self.checkpoint, "clip": self.clip, **xmem}
