"""Helpers both official-side scripts share (``perf/official_videolisa_side.py``,
``perf/official_lisa_side.py``); they run in the side environments, never import the toolkit."""

from __future__ import annotations

import importlib.util
from functools import partial
from pathlib import Path
from types import ModuleType

import torch

TINY_WEIGHTS = Path(__file__).resolve().parent.parent / "videolisa" / "tiny_weights.py"


def tiny_weights() -> ModuleType:
    """``reasonvos/videolisa/tiny_weights.py`` imported by path (numpy only)."""
    spec = importlib.util.spec_from_file_location("tiny_weights", TINY_WEIGHTS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fill(module: torch.nn.Module, seed: int) -> None:
    """Every float parameter and persistent buffer from ``tiny_weight`` of its checkpoint key."""
    tw = tiny_weights()
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.from_numpy(tw.tiny_weight(name, tuple(tensor.shape), seed)))


def tiny_sam_builder(modeling: ModuleType, s: dict):
    """A stand-in for the vendored ``build_sam_vit_h``: the same composition as its ``_build_sam``
    (same vendored classes, 1024 input, pixel mean/std) with the tiny sizes ``s``."""

    def build(checkpoint=None):
        grid = s["image_size"] // s["patch_size"]
        sam = modeling.Sam(
            image_encoder=modeling.ImageEncoderViT(
                depth=s["encoder_depth"], embed_dim=s["encoder_embed_dim"], img_size=s["image_size"], mlp_ratio=4,
                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=s["encoder_num_heads"],
                patch_size=s["patch_size"], qkv_bias=True, use_rel_pos=True,
                global_attn_indexes=s["encoder_global_attn_indexes"], window_size=s["window_size"],
                out_chans=s["prompt_embed_dim"]),
            prompt_encoder=modeling.PromptEncoder(
                embed_dim=s["prompt_embed_dim"], image_embedding_size=(grid, grid),
                input_image_size=(s["image_size"], s["image_size"]), mask_in_chans=s["mask_in_chans"]),
            mask_decoder=modeling.MaskDecoder(
                num_multimask_outputs=s["num_multimask_outputs"],
                transformer=modeling.TwoWayTransformer(depth=s["decoder_depth"], embedding_dim=s["prompt_embed_dim"],
                                                       mlp_dim=s["decoder_mlp_dim"], num_heads=s["decoder_num_heads"]),
                transformer_dim=s["prompt_embed_dim"], iou_head_depth=s["iou_head_depth"],
                iou_head_hidden_dim=s["iou_head_hidden_dim"]),
            pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375])
        return sam.eval()

    return build


def clip_folder(folder: Path, config: dict, seed: int) -> None:
    """A tiny CLIP vision tower and its image processor (CLIP's mean/std), as ``--clip`` expects."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    vision = CLIPVisionModel(CLIPVisionConfig(**config))
    fill(vision, seed)
    vision.save_pretrained(str(folder))
    size = config["image_size"]
    CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                       image_mean=[0.48145466, 0.4578275, 0.40821073],
                       image_std=[0.26862954, 0.26130258, 0.27577711]).save_pretrained(str(folder))


def script_module(path: Path) -> ModuleType:
    """An official script imported (its helper functions are used, not copied)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
