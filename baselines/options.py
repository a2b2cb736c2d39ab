"""Options of the baselines, declared once: ``load_model(name, ...)`` keywords and the flags of
``reasonvos infer``/``segment``. Imports no torch (``--help`` reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from reasonvos.inference.options import OptionError, label, option

from .reference import FarnebackParams

LISA_CHECKPOINT = "xinlai/LISA-7B-v1"
LISA_CLIP = "openai/clip-vit-large-patch14"
DTYPE_CHOICES = ("bf16", "fp16", "fp32")
KEY_FRAME_WORDS = ("first", "middle", "best")
#: LISA's question templates (baselines/lisa.py ``LisaSegmenter.sample_query``)
LISA_PROMPT_STYLES = ("lisa", "videolisa")


@dataclass(frozen=True)
class LisaLoadOptions:
    """What loads LISA (shared by ``lisa`` and ``lisa-xmem``)."""

    GROUP = "LISA"

    checkpoint: str = option(
        LISA_CHECKPOINT, "LISA checkpoint folder or a Hugging Face id in the local cache "
        "(default {default}; also xinlai/LISA-13B-llama2-v1, ...)")
    clip: str = option(LISA_CLIP, "CLIP vision tower folder or cached HF id (default {default}); never read "
                       "from the checkpoint's config")
    download: bool = option(
        False, "allow downloading --checkpoint/--clip from the Hugging Face hub if not cached", resume=False)
    dtype: str = option("bf16", "weights and activations (default bf16, as LISA was run)", choices=DTYPE_CHOICES)
    device: str | None = option(
        None, "torch device (default: cuda:LOCAL_RANK when a GPU is present, else cpu)")
    tiny_random: int | None = option(
        None, "tiny randomly initialised models instead of checkpoints (tests, smoke runs)", metavar="SEED")
    prompt_style: str = option(
        "lisa", "lisa: LISA's validation question ('What is {x} in this image? Please output segmentation "
        "mask.' / '{sentence} Please output segmentation mask.', answer '[SEG].'); videolisa: the question "
        "VideoLISA's evaluation script asks for the benchmark ('Please segment the {x} in this image.', "
        "answer 'Sure, [SEG].'). The VideoLISA paper does not say which its LISA rows used",
        choices=LISA_PROMPT_STYLES)

    def weight_sources(self) -> dict[str, str | None]:
        if self.tiny_random is not None:
            return {}
        return {"checkpoint": self.checkpoint, "clip": self.clip}


@dataclass(frozen=True)
class LisaOptions(LisaLoadOptions):
    mode: str = option("per-frame", "per-frame: LISA on every frame; first-frame-token: the LLM sees frame 0 "
                       "only and its [SEG] embedding is decoded on every frame (reproduces the VideoLISA "
                       "paper's LISA-7B* rows, Tab. 6/9). The default per-frame is NOT a paper protocol: the "
                       "paper does not say which mode its Tab. 1/3 LISA rows used",
                       choices=("per-frame", "first-frame-token"), group="")


def key_frame_text(value: str) -> str:
    """``first``, ``middle``, ``best`` or a frame index, as given on the command line."""
    if value.isdigit() or value in KEY_FRAME_WORDS:
        return value
    raise ValueError(f"expected first, middle, best or a frame index, got {value!r}")


@dataclass(frozen=True)
class LisaXMemOptions(LisaLoadOptions):
    propagator: str = option(
        "xmem", "xmem (as in the paper; needs --xmem-weights) or cutie (rf-cutie; needs "
        "--cutie-weights; rows are named lisa-cutie)", choices=("xmem", "cutie"), group="propagation")
    xmem_weights: str | None = option(None, "the official XMem.pth (GitHub release v1.0)", group="propagation")
    cutie_weights: str | None = option(None, "cutie-base-mega.pth (Cutie GitHub release v1.0)",
                                       group="propagation")
    key_frame: str | int = option(
        "first", "frame LISA segments: first (the paper), middle, best (most confident of "
        "--best-candidates evenly spaced frames) or an index; propagation runs both ways",
        parse=key_frame_text, group="propagation")
    best_candidates: int = option(5, "frames LISA tries for --key-frame best", group="propagation")
    empty_key_mask: str = option(
        "empty", "when LISA's key-frame mask is empty: all masks empty, or try the next frames",
        choices=("empty", "next"), group="propagation")
    propagation_size: int = option(
        480, "shorter side the propagator works at (default {default}, XMem's; -1: original)",
        group="propagation")

    def __post_init__(self) -> None:
        key = self.key_frame
        if isinstance(key, int):
            if key < 0:
                raise OptionError(f"{label('key_frame')} must be a frame index >= 0, got {key}")
            object.__setattr__(self, "key_frame", str(key))  # one spelling, as on the command line
        else:
            try:
                key_frame_text(key)
            except ValueError as e:
                raise OptionError(f"{label('key_frame')}: {e}") from None
        if self.best_candidates < 1:
            raise OptionError(f"{label('best_candidates')} must be at least 1, got {self.best_candidates}")
        if self.propagator == "cutie" and self.cutie_weights is None:
            raise OptionError("--propagator cutie needs --cutie-weights (cutie-base-mega.pth)")
        if self.propagator == "xmem" and self.xmem_weights is None and self.tiny_random is None:
            raise OptionError("lisa-xmem needs --xmem-weights (the official XMem.pth)")

    def weight_sources(self) -> dict[str, str | None]:
        own = {"cutie_weights": self.cutie_weights} if self.propagator == "cutie" else \
            {"xmem_weights": self.xmem_weights}
        return {**super().weight_sources(), **own}


_FLOW = FarnebackParams


@dataclass(frozen=True)
class FlowOracleOptions:
    """``flow-oracle``'s cv2.calcOpticalFlowFarneback settings (the others keep OpenCV's example values)."""

    GROUP = "optical flow (cv2.calcOpticalFlowFarneback)"

    flow_levels: int = option(_FLOW.levels, "pyramid levels (default {default})")
    flow_winsize: int = option(_FLOW.winsize, "averaging window in pixels (default {default})")
    flow_iterations: int = option(_FLOW.iterations, "iterations per pyramid level (default {default})")

    def __post_init__(self) -> None:
        if self.flow_levels < 0 or self.flow_winsize < 3 or self.flow_iterations < 1:
            raise OptionError(
                f"flow options: need {label('flow_levels')} >= 0, {label('flow_winsize')} >= 3, "
                f"{label('flow_iterations')} >= 1, got {self.flow_levels}, {self.flow_winsize}, "
                f"{self.flow_iterations}")

    def params(self) -> FarnebackParams:
        return FarnebackParams(levels=self.flow_levels, winsize=self.flow_winsize,
                               iterations=self.flow_iterations)
