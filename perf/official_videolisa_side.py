"""The OFFICIAL side of ``perf/parity_videolisa.py``: runs inside the side environment
(transformers 4.41.2) with a showlab/VideoLISA checkout on ``sys.path``; never imports the toolkit.

Two jobs, chosen by the JSON on stdin:

- ``build``: write the tiny tokenizer (4.41 ``LlamaTokenizer``, Phi-3 chat tokens with Phi-3's
  ``rstrip`` flags, ``[SEG]`` added as the training script does), a tiny CLIP folder, and a tiny
  ``VideoLISAForCausalLM`` filled with :func:`tiny_weight` values and saved by the official
  class's ``save_pretrained`` with the merge script's ``vision_tower`` filter.
- ``run``: load them as ``evaluation/*/inference_*.py`` do and, per case, run the script's steps
  (its frame sampling, SAM preprocessing, conversation template, ``tokenizer_image_token``,
  ``model.evaluate``); write ids, the SAM prompt embedding and the mask logits to an .npz.

What is changed in the official code, and why (nothing else):

- ``model.VideoLISA.build_sam_vit_h`` builds the vendored SAM modules with tiny widths (the same
  composition as ``segment_anything/build_sam.py:_build_sam``, including its 1024 input, which the
  script's ``preprocess`` pads to; patch 64 so the grid is 16x16): ViT-H does not fit two CPU cores.
- ``torch.Tensor.cuda`` returns the tensor unchanged: the scripts and ``evaluate`` call ``.cuda()``
  and this runs on CPU; attention is ``eager`` (flash-attn needs CUDA), fp32.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from official_side_common import clip_folder, fill, script_module, tiny_sam_builder

job = json.load(sys.stdin)
official = Path(job["official"]).resolve()
sys.path.insert(0, str(official))
torch.Tensor.cuda = lambda self, *args, **kwargs: self  # CPU run (see the docstring)

import model.VideoLISA as official_videolisa  # noqa: E402
import transformers  # noqa: E402
from model.segment_anything import modeling  # noqa: E402

SAM = job["sam"]  # the tiny SAM's sizes (also written to config.json for the toolkit's loader)
official_videolisa.build_sam_vit_h = tiny_sam_builder(modeling, SAM)

#: Phi-3-mini's added chat tokens and their ``rstrip`` flags (its tokenizer_config.json)
PHI3_ADDED = [("<|endoftext|>", False), ("<|assistant|>", True), ("<|system|>", True), ("<|end|>", True),
              ("<|user|>", True)]


def build() -> dict:
    from model.llava.model.language_model.llava_phi3 import LlavaPhiConfig
    from transformers import AddedToken, LlamaTokenizer

    ckpt, clip = Path(job["checkpoint"]), Path(job["clip"])
    tok = LlamaTokenizer(vocab_file=job["spm"], legacy=job["legacy"], add_bos_token=job["add_bos"])
    tok.add_tokens([AddedToken(t, rstrip=r, lstrip=False, normalized=False, special=True) for t, r in PHI3_ADDED],
                   special_tokens=True)
    tok.add_tokens("[SEG]")  # train_joint.py: tokenizer.add_tokens("[SEG]")
    tok.save_pretrained(str(ckpt))

    v = job["clip_config"]
    clip_folder(clip, v, job["seed"])

    config = LlavaPhiConfig(**job["llm_config"], vocab_size=len(tok))
    config.update({"mm_vision_tower": str(clip), "vision_tower": str(clip), "mm_projector_type": "mlp2x_gelu",
                   "mm_hidden_size": v["hidden_size"], "mm_vision_select_layer": -2,
                   "mm_vision_select_feature": "patch", "mm_patch_merge_type": "flat", "mm_use_im_start_end": False, "train_mask_decoder": True,
                   "out_dim": SAM["prompt_embed_dim"], "sam_config": SAM})
    seg = tok("[SEG]", add_special_tokens=False).input_ids[-1]
    net = official_videolisa.VideoLISAForCausalLM(config, seg_token_idx=seg)
    fill(net, job["seed"])
    # merge_lora_weights_and_save_hf_model.py: drop the CLIP tower, save with the class's own path
    state = {k: v for k, v in net.state_dict().items() if "vision_tower" not in k}
    net.save_pretrained(str(ckpt), state_dict=state)
    return {"transformers": transformers.__version__, "torch": torch.__version__, "seg_token_idx": seg,
            "keys": len(state)}


def run() -> dict:
    from model.llava import conversation as conversation_lib
    from model.llava.mm_utils import tokenizer_image_token
    from model.segment_anything.utils.transforms import ResizeLongestSide
    from transformers import AutoTokenizer, CLIPImageProcessor

    script = script_module(official / "evaluation/reason_vos/inference_reason_vos.py")
    ckpt, clip = job["checkpoint"], job["clip"]
    tokenizer = AutoTokenizer.from_pretrained(ckpt, model_max_length=4096, padding_side="right", use_fast=False)
    tokenizer.pad_token = tokenizer.unk_token
    seg = tokenizer("[SEG]", add_special_tokens=False).input_ids[-1]
    net, info = official_videolisa.VideoLISAForCausalLM.from_pretrained(
        ckpt, low_cpu_mem_usage=True, vision_tower=clip, seg_token_idx=seg, attn_implementation="eager",
        torch_dtype=torch.float32, output_loading_info=True)
    if info["missing_keys"] or info["unexpected_keys"] or info["mismatched_keys"]:
        raise SystemExit(f"official load is partial: {info}")
    net.get_model().initialize_vision_modules(net.get_model().config)
    net.eval()
    clip_processor = CLIPImageProcessor.from_pretrained(clip)
    transform = ResizeLongestSide(SAM["image_size"])
    captured: list[torch.Tensor] = []
    net.model.visual_model.prompt_encoder.register_forward_pre_hook(
        lambda mod, args, kwargs: captured.append(kwargs["text_embeds"].detach().clone()), with_kwargs=True)

    data = np.load(job["frames"])
    out: dict[str, np.ndarray] = {}
    for case in job["cases"]:
        frames = [data[f"{case['video']}/{i}"] for i in range(case["num_frames"])]
        sparse = script.get_sparse_indices(len(frames), case["num_frames_sparse"])
        dense = script.get_dense_indices(case["num_frames_sparse"], case["num_frames_dense"])
        conv = conversation_lib.conv_templates["phi3_instruct"].copy()
        conv.messages = []
        conv.append_message(conv.roles[0], "<image>" + "\n" + case["official_query"])
        conv.append_message(conv.roles[1], "Sure, [SEG].")
        prompt = conv.get_prompt()
        clips = [clip_processor.preprocess(frames[i], return_tensors="pt")["pixel_values"][0].unsqueeze(0).float()
                 for i in sparse]
        sams, resize_list, original_size_list = [], None, None
        for image_np in frames:
            original_size_list = [image_np.shape[:2]]
            image = transform.apply_image(image_np)
            resize_list = [image.shape[:2]]
            sams.append(script.preprocess(torch.from_numpy(image).permute(2, 0, 1).contiguous(),
                                          img_size=SAM["image_size"]).unsqueeze(0).float())
        input_ids = tokenizer_image_token(prompt, tokenizer, return_tensors="pt").unsqueeze(0)
        captured.clear()
        _, masks = net.evaluate(torch.stack(clips, dim=1), torch.stack(sams, dim=1), input_ids, resize_list,
                                original_size_list, dense_indices=[dense],
                                num_frames_sparse=case["num_frames_sparse"], num_frames_dense=case["num_frames_dense"])
        name = case["name"]
        out[f"{name}/ids"] = input_ids[0].numpy()
        out[f"{name}/prompt_embedding"] = captured[0].reshape(-1).float().numpy()
        out[f"{name}/logits"] = masks[0].float().numpy()
        out[f"{name}/prompt"] = np.array(prompt)
    np.savez(job["out"], **out)
    return {"transformers": transformers.__version__, "torch": torch.__version__, "seg_token_idx": seg,
            "cases": len(job["cases"])}


if __name__ == "__main__":
    result = build() if job["job"] == "build" else run()
    print(json.dumps(result))
