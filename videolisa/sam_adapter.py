"""SAM as LISA and VideoLISA use it: upstream ``segment-anything`` modules plus a thin adapter.

LISA/VideoLISA vendor a copy of SAM with three functional changes (docs/models.md#sam-adapter). Rather
than vendoring, this module builds the upstream ``ImageEncoderViT``/``PromptEncoder``/``MaskDecoder``
and reproduces the changes around them:

1. a text embedding is the (only) sparse prompt, the dense prompt is ``no_mask_embed``;
2. the dense positional encoding is computed in the dtype of the Gaussian matrix (upstream fails
   in bf16: ``float != BFloat16``);
3. low-resolution logits are post-processed (upsampled, cropped, resized) in float32.

Key names are upstream's, so ``{k.removeprefix("model.visual_model."): v}`` of a LISA/VideoLISA
checkpoint loads with ``strict=True``. LISA (``reasonvos.baselines.lisa``) shares this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, TwoWayTransformer
from torch import nn

#: SAM's normalisation of 0..255 RGB input (``Sam.pixel_mean`` / ``Sam.pixel_std``)
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class SamConfig:
    """Everything that decides SAM's module shapes. ``SAM_CONFIGS`` holds the released sizes."""

    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: tuple[int, ...]
    image_size: int = 1024
    patch_size: int = 16
    prompt_embed_dim: int = 256
    window_size: int = 14
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    num_multimask_outputs: int = 3
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256

    @property
    def embedding_size(self) -> int:
        """Side of the image embedding grid (64 for the released models)."""
        return self.image_size // self.patch_size


SAM_CONFIGS: dict[str, SamConfig] = {
    "vit_h": SamConfig(1280, 32, 16, (7, 15, 23, 31)),
    "vit_l": SamConfig(1024, 24, 16, (5, 11, 17, 23)),
    "vit_b": SamConfig(768, 12, 12, (2, 5, 8, 11)),
}


def tiny_sam_config(image_size: int = 64, patch_size: int = 16, embed_dim: int = 32, depth: int = 2,
                    prompt_embed_dim: int = 32) -> SamConfig:
    """A SAM small enough for CPU tests (random weights; same module tree as the real one)."""
    return SamConfig(
        encoder_embed_dim=embed_dim, encoder_depth=depth, encoder_num_heads=2,
        encoder_global_attn_indexes=(depth - 1,), image_size=image_size, patch_size=patch_size,
        prompt_embed_dim=prompt_embed_dim, window_size=2, mask_in_chans=8, decoder_depth=2,
        decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=32,
    )


def resize_longest_side(image: np.ndarray, target: int) -> np.ndarray:
    """SAM's ``ResizeLongestSide.apply_image``: PIL bilinear resize so the long side is ``target``.

    The new size is ``int(side * target / max(h, w) + 0.5)``, exactly as upstream computes it.
    """
    h, w = image.shape[:2]
    scale = target / max(h, w)
    newh, neww = int(h * scale + 0.5), int(w * scale + 0.5)
    return np.array(Image.fromarray(image).resize((neww, newh), Image.BILINEAR))


def preprocess_frame(image: np.ndarray, image_size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """RGB uint8 (H, W, 3) -> normalised, zero-padded (3, S, S) float32 and the resized (h', w').

    Padding is at the bottom and right, after normalisation (so padded pixels are 0, as in SAM).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    resized = resize_longest_side(image, image_size)
    x = torch.from_numpy(resized).permute(2, 0, 1).float()
    mean = torch.tensor(PIXEL_MEAN).view(3, 1, 1)
    std = torch.tensor(PIXEL_STD).view(3, 1, 1)
    x = (x - mean) / std
    h, w = x.shape[1:]
    x = F.pad(x, (0, image_size - w, 0, image_size - h))
    return x, (h, w)


class SamAdapter(nn.Module):
    """Upstream SAM modules driven by a text embedding, with LISA's dtype behaviour.

    Attribute names match the checkpoints' ``visual_model.*`` sub-keys, so a state dict with that
    prefix stripped loads with ``strict=True``.
    """

    def __init__(self, image_encoder: ImageEncoderViT, prompt_encoder: PromptEncoder,
                 mask_decoder: MaskDecoder) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder

    @property
    def img_size(self) -> int:
        return self.image_encoder.img_size

    @property
    def dtype(self) -> torch.dtype:
        return self.mask_decoder.iou_token.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.mask_decoder.iou_token.weight.device

    # -- images ----------------------------------------------------------------------------------

    def preprocess(self, image: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
        """One RGB frame -> (3, S, S) float32 input and its resized size (see preprocess_frame)."""
        return preprocess_frame(image, self.img_size)

    @torch.inference_mode()
    def encode_images(self, pixels: torch.Tensor, batch_size: int = 4) -> torch.Tensor:
        """(N, 3, S, S) preprocessed frames -> (N, C, s, s) image embeddings, ``batch_size`` at a time.

        Batching changes nothing numerically per frame (the encoder has no cross-sample ops); it
        only bounds peak memory.
        """
        if pixels.ndim != 4:
            raise ValueError(f"expected (N, 3, S, S) pixels, got {tuple(pixels.shape)}")
        outs = []
        for start in range(0, pixels.shape[0], max(1, batch_size)):
            chunk = pixels[start : start + batch_size].to(self.device, self.dtype)
            outs.append(self.image_encoder(chunk))
        return torch.cat(outs, dim=0)

    # -- prompts ---------------------------------------------------------------------------------

    def dense_pe(self) -> torch.Tensor:
        """(1, C, s, s) positional encoding, computed in the Gaussian matrix's dtype (change 2)."""
        pe_layer = self.prompt_encoder.pe_layer
        gauss = pe_layer.positional_encoding_gaussian_matrix
        h, w = self.prompt_encoder.image_embedding_size
        grid = torch.ones((h, w), device=gauss.device, dtype=gauss.dtype)
        y = (grid.cumsum(dim=0) - 0.5) / h
        x = (grid.cumsum(dim=1) - 0.5) / w
        coords = 2 * torch.stack([x, y], dim=-1) - 1
        coords = 2 * math.pi * (coords @ gauss)
        pe = torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)
        return pe.permute(2, 0, 1).unsqueeze(0)

    def prompt_embeddings(self, text_embeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C) text embeddings -> sparse (N, 1, C) and dense (N, C, s, s) prompts (change 1)."""
        if text_embeds.ndim == 1:
            text_embeds = text_embeds.unsqueeze(0)
        n = text_embeds.shape[0]
        pe = self.prompt_encoder
        sparse = text_embeds.to(self.dtype).unsqueeze(1)
        h, w = pe.image_embedding_size
        dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(n, -1, h, w)
        return sparse, dense

    # -- masks -----------------------------------------------------------------------------------

    def postprocess(self, low_res: torch.Tensor, input_size: Sequence[int],
                    original_size: Sequence[int]) -> torch.Tensor:
        """Low-res logits (N, 1, s', s') -> (N, H, W) float32 logits at the original size (change 3)."""
        x = F.interpolate(low_res.float(), (self.img_size, self.img_size), mode="bilinear", align_corners=False)
        x = x[..., : input_size[0], : input_size[1]]
        x = F.interpolate(x, tuple(original_size), mode="bilinear", align_corners=False)
        return x[:, 0]

    @torch.inference_mode()
    def decode(self, embeddings: torch.Tensor, prompt_embedding: torch.Tensor,
               original_size: Sequence[int], input_size: Sequence[int]) -> torch.Tensor:
        """Decode one prompt against each of N image embeddings -> (N, H, W) float32 logits.

        Frames are decoded one at a time, as in the original (the decoder's batch dimension is
        the number of prompts per image); ``multimask_output=False``, IoU prediction ignored.
        """
        if embeddings.ndim == 3:
            embeddings = embeddings.unsqueeze(0)
        sparse, dense = self.prompt_embeddings(prompt_embedding.reshape(1, -1))
        pe = self.dense_pe().to(self.dtype)
        outs = []
        for i in range(embeddings.shape[0]):
            low, _ = self.mask_decoder(
                image_embeddings=embeddings[i : i + 1].to(self.device, self.dtype),
                image_pe=pe, sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                multimask_output=False,
            )
            outs.append(self.postprocess(low, input_size, original_size))
        return torch.cat(outs, dim=0)


def build_sam(config: SamConfig | str) -> SamAdapter:
    """Build SAM (random weights) for a config or one of ``"vit_h"``, ``"vit_l"``, ``"vit_b"``."""
    if isinstance(config, str):
        if config not in SAM_CONFIGS:
            raise ValueError(f"unknown SAM size {config!r}; known: {', '.join(SAM_CONFIGS)}")
        config = SAM_CONFIGS[config]
    c = config
    s = c.embedding_size
    image_encoder = ImageEncoderViT(
        depth=c.encoder_depth, embed_dim=c.encoder_embed_dim, img_size=c.image_size, mlp_ratio=4,
        norm_layer=partial(nn.LayerNorm, eps=1e-6), num_heads=c.encoder_num_heads,
        patch_size=c.patch_size, qkv_bias=True, use_rel_pos=True,
        global_attn_indexes=tuple(c.encoder_global_attn_indexes), window_size=c.window_size,
        out_chans=c.prompt_embed_dim,
    )
    prompt_encoder = PromptEncoder(
        embed_dim=c.prompt_embed_dim, image_embedding_size=(s, s),
        input_image_size=(c.image_size, c.image_size), mask_in_chans=c.mask_in_chans,
    )
    mask_decoder = MaskDecoder(
        num_multimask_outputs=c.num_multimask_outputs,
        transformer=TwoWayTransformer(depth=c.decoder_depth, embedding_dim=c.prompt_embed_dim,
                                      mlp_dim=c.decoder_mlp_dim, num_heads=c.decoder_num_heads),
        transformer_dim=c.prompt_embed_dim, iou_head_depth=c.iou_head_depth,
        iou_head_hidden_dim=c.iou_head_hidden_dim,
    )
    return SamAdapter(image_encoder, prompt_encoder, mask_decoder).eval()

