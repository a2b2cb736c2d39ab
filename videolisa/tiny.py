"""Tiny random VideoLISA (and its tokenizer) for CPU tests, ``--tiny-random`` and perf scripts.

Same module tree and code paths as the released model, a few thousand times smaller: Phi-3 with
2 layers of width 64, a CLIP vision tower on 28x28 images (patch 14, so 4 tokens per frame), and
a 2-block SAM on 64x64 input. The tokenizer is a small sentencepiece model trained on the fly with
the Phi-3 chat tokens and ``[SEG]`` added, saved in the checkpoint folder layout.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import sentencepiece as spm
import torch
from transformers import CLIPVisionConfig, Phi3Config

from .model import VideoLisa, VideoLisaConfig
from .sam_adapter import tiny_sam_config
from .tokenizer import SEG_TOKEN, LegacySentencePieceTokenizer, load_tokenizer, seg_token_id

PHI3_CHAT_TOKENS = ["<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>", "<|user|>"]

_CORPUS = [
    "You are a helpful AI assistant.",
    "Sure, it is the cat. Sure, the segmentation result is here.",
    "Please segment the dog in this image. Please segment the person in this scene.",
    "Which animal is most likely to be hungry? Please output the segmentation masks.",
    "The animal that moves the furthest, the bicycle on the left, the object a goalkeeper would catch.",
    "A chat between a curious human and an artificial intelligence assistant. USER: ASSISTANT: What is",
]


def write_tiny_tokenizer(folder: str | Path, vocab_size: int = 400,
                         remove_extra_whitespaces: bool = True) -> LegacySentencePieceTokenizer:
    """Train a small Llama-style sentencepiece model (BPE, byte fallback, dummy prefix) and save it
    with the Phi-3 chat tokens and ``[SEG]`` as added tokens; return it loaded from ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS * 20), model_writer=buf, vocab_size=vocab_size, model_type="bpe",
        normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=remove_extra_whitespaces, byte_fallback=True, character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2,
    )
    (folder / "tokenizer.model").write_bytes(buf.getvalue())
    tok = LegacySentencePieceTokenizer(vocab_file=str(folder / "tokenizer.model"))
    tok.add_tokens(PHI3_CHAT_TOKENS, special_tokens=True)
    tok.add_tokens(SEG_TOKEN)
    tok.save_pretrained(str(folder))
    return load_tokenizer(folder)


def tiny_config(vocab_size: int, sliding_window: int | None = 64) -> VideoLisaConfig:
    """Shapes of the tiny model (the vocabulary follows the tokenizer, as after resizing)."""
    llm = Phi3Config(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
        original_max_position_embeddings=1024, sliding_window=sliding_window,
        pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                              num_attention_heads=2, image_size=28, patch_size=14, projection_dim=32)
    return VideoLisaConfig(llm=llm, vision=vision, sam=tiny_sam_config(prompt_embed_dim=32), out_dim=32)


def tiny_videolisa(seed: int = 0) -> tuple[VideoLisa, LegacySentencePieceTokenizer]:
    """A random tiny VideoLISA and its tokenizer; the same ``seed`` gives the same weights."""
    with tempfile.TemporaryDirectory(prefix="reasonvos-tiny-tok-") as tmp:
        tok = write_tiny_tokenizer(tmp)
    torch.manual_seed(seed)
    model = VideoLisa.from_config(tiny_config(len(tok)), seg_token_id(tok))
    return model, tok


#: tokenizer variants the golden ids were produced for: name -> (sentencepiece removes extra
#: whitespace as the tiny default does (else as Llama/Phi-3 do), saved ``legacy`` flag (None = unset),
#: chat tokens listed as 4.x ``additional_special_tokens``)
TOKENIZER_VARIANTS: dict[str, tuple[bool, bool | None, bool]] = {
    "tiny_legacy_unset": (True, None, False),
    "tiny_legacy_false": (True, False, False),
    "llama_ws_legacy_unset": (False, None, False),
    "llama_ws_legacy_false": (False, False, False),
    "llama_ws_legacy_false_chat_special": (False, False, True),
}


def write_tokenizer_variant(folder: str | Path, remove_extra_whitespaces: bool, legacy: bool | None,
                            chat_special: bool) -> Path:
    """The tiny tokenizer saved as the Phi-3 checkpoint's is (``LlamaTokenizer``, ``legacy`` as given);
    with ``chat_special`` the chat tokens are 4.x ``additional_special_tokens`` (instead of v5's
    ``extra_special_tokens``, which 4.41 ignores). The golden-ids test and the script that produced
    them with transformers 4.41.2 both write their folders with it."""
    folder = Path(folder)
    write_tiny_tokenizer(folder, remove_extra_whitespaces=remove_extra_whitespaces)
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["tokenizer_class"] = "LlamaTokenizer"
    config.pop("legacy", None)
    if legacy is not None:
        config["legacy"] = legacy
    if chat_special:
        config["additional_special_tokens"] = config.pop("extra_special_tokens")
    path.write_text(json.dumps(config, indent=2, sort_keys=True))
    return folder
