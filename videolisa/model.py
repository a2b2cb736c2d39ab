"""VideoLISA from stock parts: Phi-3 (``Phi3ForCausalLM``), CLIP (``CLIPVisionModel``) and SAM.

Only what has no library equivalent is written here (docs/models.md#videolisa-architecture): the projector, the
``text_hidden_fcs`` prompt projection, the Sparse-Dense token construction, the splice of visual
tokens into the text embeddings, and the rule that picks the hidden state before ``[SEG]``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    CLIPVisionModel,
    Phi3Config,
    Phi3ForCausalLM,
)

from .sam_adapter import SamAdapter, SamConfig, build_sam
from .tokenizer import IMAGE_TOKEN_INDEX

#: CLIP normalisation of openai/clip-vit-large-patch14-336 (used when its folder has no
#: preprocessor_config.json)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def build_projector(kind: str, in_dim: int, out_dim: int) -> nn.Module:
    """LLaVA's ``mm_projector``: ``linear`` or ``mlp{N}x_gelu`` (VideoLISA: ``mlp2x_gelu``).

    Layer indices match the checkpoints (``0`` and ``2`` for mlp2x_gelu).
    """
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    m = re.fullmatch(r"mlp(\d+)x_gelu", kind)
    if not m:
        raise ValueError(f"unknown mm_projector_type {kind!r}")
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    for _ in range(int(m.group(1)) - 1):
        layers += [nn.GELU(), nn.Linear(out_dim, out_dim)]
    return nn.Sequential(*layers)


def build_text_hidden_fcs(hidden: int, out_dim: int) -> nn.ModuleList:
    """The prompt projection: ``[Linear(h,h), ReLU, Linear(h,out), Dropout(0)]`` in a ModuleList,
    so the keys are ``text_hidden_fcs.0.0.*`` and ``text_hidden_fcs.0.2.*`` as in the checkpoint."""
    return nn.ModuleList([nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
                                        nn.Linear(hidden, out_dim), nn.Dropout(0.0))])


def seg_hidden_position(input_ids: Sequence[int], seg_token_id: int, num_visual_tokens: int) -> int:
    """Index, in the sequence after ``<image>`` is expanded, of the hidden state that becomes the
    SAM prompt: the position of ``[SEG]`` minus one (docs/models.md#the-seg-hidden-state).

    The original builds ``cat([False] * (V - 1), input_ids[1:] == SEG, [False])``; shifting by one
    selects the state whose LM-head output *predicts* ``[SEG]`` (with "Sure, [SEG]." the state
    of the token before it). Exactly one ``<image>`` and one ``[SEG]`` are required.
    """
    ids = list(input_ids)
    images = [i for i, t in enumerate(ids) if t == IMAGE_TOKEN_INDEX]
    segs = [i for i, t in enumerate(ids) if t == seg_token_id]
    if len(images) != 1:
        raise ValueError(f"the prompt must hold exactly one <image>, found {len(images)}")
    if len(segs) != 1:
        raise ValueError(f"the prompt must hold exactly one [SEG] token, found {len(segs)}")
    seg = segs[0]
    if seg < 1:
        raise ValueError("[SEG] cannot be the first token: no state precedes it")
    expanded = seg + (num_visual_tokens - 1 if images[0] < seg else 0)
    return expanded - 1


def hf_sliding_window(original: int | None) -> int | None:
    """The transformers-5 ``sliding_window`` that attends like the original's value ``original``.

    The original ran Phi-3 with flash-attention 2 under transformers 4.41, which passes
    ``window_size=(w, w)`` to flash-attn: query ``i`` sees keys ``i - w .. i``, i.e. ``w + 1`` keys
    (and only when the sequence is longer than ``w``). transformers 5 masks ``kv > q - w`` (``w``
    keys, for every backend; its own FA2 path passes ``(w - 1, w - 1)``). With ~2.4k tokens and
    ``w`` = 2047/2048 the ``[SEG]`` query would otherwise lose one key. Configs on disk keep the
    original value; only the in-memory Phi-3 config gets ``w + 1``.
    """
    return None if original is None else int(original) + 1


@dataclass
class VideoLisaConfig:
    """Shapes of every part; ``from_pretrained`` reads it from the checkpoint's config.json."""

    llm: Phi3Config
    vision: CLIPVisionConfig
    sam: SamConfig
    mm_projector_type: str = "mlp2x_gelu"
    mm_vision_select_layer: int = -2
    mm_vision_select_feature: str = "patch"
    out_dim: int = 256


def released_config(vocab_size: int = 32012, sliding_window: int | None = 2048) -> VideoLisaConfig:
    """The shapes of ``ZechenBai/VideoLISA-3.8B`` (Phi-3-mini, CLIP ViT-L/14-336, SAM ViT-H).

    For documentation and shape checks; real loading reads the checkpoint's own config.json
    (the vocabulary size and sliding window of the release are UNVERIFIED).
    """
    from .sam_adapter import SAM_CONFIGS

    llm = Phi3Config(vocab_size=vocab_size, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
                     num_attention_heads=32, num_key_value_heads=32, sliding_window=sliding_window)
    vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                              num_attention_heads=16, image_size=336, patch_size=14, projection_dim=768)
    return VideoLisaConfig(llm=llm, vision=vision, sam=SAM_CONFIGS["vit_h"])


class VideoLisa(nn.Module):
    """The assembled model. Inference is split in per-video and per-expression steps so a caller
    can cache what does not depend on the text (CLIP tokens, SAM embeddings)."""

    def __init__(self, language_model: Phi3ForCausalLM, vision_tower: CLIPVisionModel,
                 mm_projector: nn.Module, text_hidden_fcs: nn.ModuleList, sam: SamAdapter,
                 seg_token_id: int, select_layer: int = -2, select_feature: str = "patch",
                 clip_processor: CLIPImageProcessorPil | None = None) -> None:
        super().__init__()
        if select_feature not in ("patch", "cls_patch"):
            raise ValueError(f"unknown mm_vision_select_feature {select_feature!r}")
        self.language_model = language_model
        self.vision_tower = vision_tower
        self.mm_projector = mm_projector
        self.text_hidden_fcs = text_hidden_fcs
        self.sam = sam
        self.seg_token_id = seg_token_id
        self.select_layer = select_layer
        self.select_feature = select_feature
        size = vision_tower.config.image_size
        self.clip_processor = clip_processor or CLIPImageProcessorPil(
            size={"shortest_edge": size}, crop_size={"height": size, "width": size},
            image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD),
        )

    @classmethod
    def from_config(cls, config: VideoLisaConfig, seg_token_id: int) -> VideoLisa:
        """Random weights in the given shapes (tests, ``--tiny-random``); sdpa attention."""
        llm = copy.deepcopy(config.llm)  # config.llm keeps the original (on-disk) sliding window
        llm.sliding_window = hf_sliding_window(config.llm.sliding_window)
        llm._attn_implementation = "sdpa"
        config.vision._attn_implementation = "sdpa"
        return cls(
            Phi3ForCausalLM(llm), CLIPVisionModel(config.vision),
            build_projector(config.mm_projector_type, config.vision.hidden_size, config.llm.hidden_size),
            build_text_hidden_fcs(config.llm.hidden_size, config.out_dim), build_sam(config.sam),
            seg_token_id, config.mm_vision_select_layer, config.mm_vision_select_feature,
        ).eval()

    def cast(self, dtype: torch.dtype, device: str | torch.device | None = None) -> VideoLisa:
        """Move and cast every weight, but keep the rotary ``inv_freq`` buffers in float32.

        ``Module.to(bf16)`` would round RoPE frequencies to bf16 (phase errors of radians at
        position ~2400); HF builds them in float32 and the original's transformers computed
        them lazily in float32 after its ``model.bfloat16()``.
        """
        keep = {n: b.detach().clone() for n, b in self.named_buffers() if n.endswith("inv_freq")}
        self.to(device=device, dtype=dtype)
        for name, buf in keep.items():
            owner, _, attr = name.rpartition(".")
            module = self.get_submodule(owner)
            setattr(module, attr, buf.to(getattr(module, attr).device))
        return self

    @property
    def dtype(self) -> torch.dtype:
        return self.language_model.get_input_embeddings().weight.dtype

    @property
    def device(self) -> torch.device:
        return self.language_model.get_input_embeddings().weight.device

    # -- vision -----------------------------------------------------------------------------------

    def clip_pixels(self, frames: Sequence[np.ndarray]) -> torch.Tensor:
        """RGB uint8 frames -> (T, 3, s, s): shortest side to s (bicubic), centre crop, CLIP norm."""
        out = self.clip_processor(images=list(frames), return_tensors="pt")
        return out["pixel_values"]

    @torch.inference_mode()
    def frame_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        """(T, 3, s, s) CLIP input -> (T, L, hidden): the selected CLIP layer, CLS dropped for
        ``patch``, through the projector (L = 576 for the released model)."""
        out = self.vision_tower(pixel_values=pixels.to(self.device, self.vision_tower.dtype),
                                output_hidden_states=True)
        feats = out.hidden_states[self.select_layer]
        if self.select_feature == "patch":
            feats = feats[:, 1:]
        return self.mm_projector(feats.to(self.dtype))

    @staticmethod
    def sparse_dense_tokens(frame_tokens: torch.Tensor, dense_positions: Sequence[int]) -> torch.Tensor:
        """Sparse-Dense Sampling (docs/models.md#sparse-dense-sampling): one mean-pooled token per sparse frame (pooled *after* the
        projector) in temporal order, then the dense frames' full token grids in sorted order."""
        sparse = frame_tokens.mean(dim=1)
        dense = frame_tokens[sorted(dense_positions)].reshape(-1, frame_tokens.shape[-1])
        return torch.cat([sparse, dense], dim=0)

    # -- language ---------------------------------------------------------------------------------

    def splice(self, input_ids: Sequence[int], visual: torch.Tensor) -> torch.Tensor:
        """Text embeddings with the visual tokens in place of the single ``<image>`` id -> (1, N, h)."""
        ids = list(input_ids)
        cut = ids.index(IMAGE_TOKEN_INDEX)
        embed = self.language_model.get_input_embeddings()
        dev = embed.weight.device

        def emb(part: list[int]) -> torch.Tensor:
            return embed(torch.tensor(part, dtype=torch.long, device=dev))

        parts = [emb(ids[:cut]), visual.to(dev, embed.weight.dtype), emb(ids[cut + 1 :])]
        return torch.cat(parts, dim=0).unsqueeze(0)

    @torch.inference_mode()
    def prompt_embedding(self, input_ids: Sequence[int], visual: torch.Tensor) -> torch.Tensor:
        """One teacher-forced forward pass (no generation) -> the (out_dim,) SAM prompt: the final
        (post-norm) hidden state before ``[SEG]`` through ``text_hidden_fcs``."""
        pos = seg_hidden_position(input_ids, self.seg_token_id, visual.shape[0])
        embeds = self.splice(input_ids, visual)
        hidden = self.language_model.model(inputs_embeds=embeds, use_cache=False).last_hidden_state
        return self.text_hidden_fcs[0](hidden[0, pos])
