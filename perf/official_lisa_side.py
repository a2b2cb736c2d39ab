"""The OFFICIAL side of ``perf/parity_lisa.py``: runs inside the side environment (transformers
4.31.0, LISA's pin) with a dvlab-research/LISA checkout on ``sys.path``; never imports the toolkit.

- ``build``: the tokenizer as LLaVA/LISA build it (4.31 ``LlamaTokenizer``; ``<im_patch>``,
  ``<im_start>``, ``<im_end>`` added as special tokens, then ``[SEG]``), a tiny CLIP (224 px, the
  256 tokens ``model_forward`` hard-codes) and a tiny ``LISAForCausalLM`` filled with
  ``tiny_weight`` values, saved by the official class's ``save_pretrained`` (CLIP tower dropped as
  ``merge_lora_weights_and_save_hf_model.py`` does).
- ``run``: load as ``train_ds.py`` does (its tokenizer lines, ``conv_type llava_v1``,
  ``use_mm_start_end``), build each frame's input as ``utils/dataset.py:ValDataset`` and
  ``collate_fn`` do, and call ``model_forward(..., inference=True)`` per frame, as ``validate``
  does. ``first-frame-token`` passes frame 0's CLIP input with frame i's SAM input (the LLM sees
  frame 0, SAM decodes frame i). Writes ids, prompt embeddings and logits to an .npz.

Changed in the official code (nothing else): ``model.LISA.build_sam_vit_h`` builds the vendored
SAM classes with tiny widths (ViT-H does not fit two CPU cores); ``torch.Tensor.cuda`` returns the
tensor unchanged (CPU run); fp32 (LISA's 4.31 Llama has no flash attention path to replace).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from official_side_common import clip_folder, fill, tiny_sam_builder

job = json.load(sys.stdin)
official = Path(job["official"]).resolve()
sys.path.insert(0, str(official))
torch.Tensor.cuda = lambda self, *args, **kwargs: self  # CPU run (see the docstring)

import model.LISA as official_lisa  # noqa: E402
import transformers  # noqa: E402
from model.segment_anything import modeling  # noqa: E402

SAM = job["sam"]
official_lisa.build_sam_vit_h = tiny_sam_builder(modeling, SAM)


def build() -> dict:
    from model.llava.model.language_model.llava_llama import LlavaConfig
    from transformers import LlamaTokenizer

    ckpt, clip = Path(job["checkpoint"]), Path(job["clip"])
    tok = LlamaTokenizer(vocab_file=job["spm"])
    tok.add_tokens(["<im_patch>"], special_tokens=True)  # LLaVA's initialize_vision_tokenizer
    tok.add_tokens(["<im_start>", "<im_end>"], special_tokens=True)
    tok.add_tokens("[SEG]")  # train_ds.py:127
    tok.save_pretrained(str(ckpt))
    clip_folder(clip, job["clip_config"], job["seed"])
    config = LlavaConfig(**job["llm_config"], vocab_size=len(tok))
    config.update({"mm_vision_tower": str(clip), "vision_tower": str(clip), "mm_hidden_size":
                   job["clip_config"]["hidden_size"], "mm_vision_select_layer": -2, "mm_use_im_start_end": True,
                   "train_mask_decoder": True, "out_dim": SAM["prompt_embed_dim"], "sam_config": SAM})
    seg = tok("[SEG]", add_special_tokens=False).input_ids[0]
    net = official_lisa.LISAForCausalLM(config, seg_token_idx=seg)
    fill(net, job["seed"])
    state = {k: v for k, v in net.state_dict().items() if "vision_tower" not in k}
    net.save_pretrained(str(ckpt), state_dict=state)
    return {"transformers": transformers.__version__, "torch": torch.__version__, "keys": len(state)}


def run() -> dict:
    from model.llava import conversation as conversation_lib
    from model.llava.mm_utils import tokenizer_image_token
    from model.segment_anything.utils.transforms import ResizeLongestSide
    from transformers import AutoTokenizer, CLIPImageProcessor
    from utils.dataset import ValDataset
    from utils.utils import DEFAULT_IM_END_TOKEN, DEFAULT_IM_START_TOKEN, DEFAULT_IMAGE_TOKEN

    ckpt, clip = job["checkpoint"], job["clip"]
    tokenizer = AutoTokenizer.from_pretrained(ckpt, model_max_length=512, padding_side="right", use_fast=False)
    tokenizer.pad_token = tokenizer.unk_token
    tokenizer.add_tokens("[SEG]")
    seg = tokenizer("[SEG]", add_special_tokens=False).input_ids[0]
    tokenizer.add_tokens([DEFAULT_IM_START_TOKEN, DEFAULT_IM_END_TOKEN], special_tokens=True)
    net, info = official_lisa.LISAForCausalLM.from_pretrained(
        ckpt, torch_dtype=torch.float32, vision_tower=clip, seg_token_idx=seg, output_loading_info=True)
    if info["missing_keys"] or info["unexpected_keys"] or info["mismatched_keys"]:
        raise SystemExit(f"official load is partial: {info}")
    net.get_model().initialize_vision_modules(net.get_model().config)
    net.eval()
    conversation_lib.default_conversation = conversation_lib.conv_templates["llava_v1"]  # train_ds.py
    clip_processor = CLIPImageProcessor.from_pretrained(clip)
    transform = ResizeLongestSide(SAM["image_size"])
    val = ValDataset.__new__(ValDataset)  # only its preprocess (normalise, pad); no dataset folder
    val.pixel_mean, val.pixel_std = ValDataset.pixel_mean, ValDataset.pixel_std
    val.img_size = SAM["image_size"]
    captured: list[torch.Tensor] = []
    net.model.visual_model.prompt_encoder.register_forward_pre_hook(
        lambda mod, args, kwargs: captured.append(kwargs["text_embeds"].detach().clone()), with_kwargs=True)

    data = np.load(job["frames"])
    out: dict[str, np.ndarray] = {}
    for case in job["cases"]:
        frames = [data[f"{case['video']}/{i}"] for i in range(case["num_frames"])]
        conv = conversation_lib.default_conversation.copy()
        conv.messages = []
        text = case["text"].strip()  # ValDataset: refer_seg sentences are also lower-cased
        if case["sentence"]:
            conv.append_message(conv.roles[0], DEFAULT_IMAGE_TOKEN + f"\n {text} Please output segmentation mask.")
        else:
            conv.append_message(conv.roles[0], DEFAULT_IMAGE_TOKEN
                                + f"\n What is {text.lower()} in this image? Please output segmentation mask.")
        conv.append_message(conv.roles[1], "[SEG].")
        prompt = conv.get_prompt()
        prompt = prompt.replace(DEFAULT_IMAGE_TOKEN, DEFAULT_IM_START_TOKEN + DEFAULT_IMAGE_TOKEN + DEFAULT_IM_END_TOKEN)
        input_ids = tokenizer_image_token(prompt, tokenizer, return_tensors="pt").unsqueeze(0)
        clips = [clip_processor.preprocess(f, return_tensors="pt")["pixel_values"][0] for f in frames]
        logits, prompts = [], []
        for i, frame in enumerate(frames):
            image = transform.apply_image(frame)
            resize = image.shape[:2]
            image = val.preprocess(torch.from_numpy(image).permute(2, 0, 1).contiguous())
            clip_in = clips[0 if case["mode"] == "first-frame-token" else i]
            captured.clear()
            with torch.no_grad():  # as train_ds.py validate
                res = net.model_forward(
                    images=image[None].float(), images_clip=clip_in[None].float(), input_ids=input_ids,
                    labels=None, attention_masks=input_ids.ne(tokenizer.pad_token_id), offset=torch.tensor([0, 1]),
                    masks_list=[torch.zeros(1, *frame.shape[:2])], label_list=[torch.zeros(frame.shape[:2])],
                    resize_list=[resize], inference=True)
            logits.append(res["pred_masks"][0][0].float().numpy())
            prompts.append(captured[0].reshape(-1).float().numpy())
        name = case["name"]
        out[f"{name}/ids"] = input_ids[0].numpy()
        out[f"{name}/prompt_embedding"] = np.stack(prompts)
        out[f"{name}/logits"] = np.stack(logits)
    np.savez(job["out"], **out)
    return {"transformers": transformers.__version__, "torch": torch.__version__, "seg_token_idx": seg}


if __name__ == "__main__":
    print(json.dumps(build() if job["job"] == "build" else run()))
