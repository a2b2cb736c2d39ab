"""LISA (Lai et al., CVPR 2024) from stock parts, as a frame-by-frame video baseline.

LISA-v1 checkpoints (``xinlai/LISA-7B-v1``, ``xinlai/LISA-13B-llama2-v1``, ...) are vendored LLaVA
code; here they load into stock ``LlamaForCausalLM`` + ``CLIPVisionModel`` plus the pieces VideoLISA
already has (docs/models.md#loading-lisa-with-stock-classes): the linear projector, ``text_hidden_fcs``, the splice of
the 256 CLIP tokens at ``<image>``, the "[SEG] - 1" hidden-state rule and the shared SAM adapter
(``reasonvos.videolisa.sam_adapter``). Inference is teacher-forced (one pass, no generation) with
the original validation prompt (docs/models.md#lisa-prompt).

Video modes (docs/models.md#lisa-on-video): ``per-frame`` runs LISA on every frame independently; ``first-frame-token``
runs the LLM on frame 0 only and decodes its ``[SEG]`` embedding against every frame ("LISA-7B*").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from reasonvos.baselines.options import LISA_PROMPT_STYLES
from reasonvos.videolisa.checkpoint import (
    DTYPES,
    SAM_CONFIG_KEY,
    load_llava_parts,
    official_state_dict,
    resolve_checkpoint,
    sam_config_entry,
    sam_config_from,
)
from reasonvos.videolisa.model import VideoLisa, build_projector, build_text_hidden_fcs
from reasonvos.videolisa.prompts import ANSWER as VIDEOLISA_ANSWER
from reasonvos.videolisa.prompts import query_for
from reasonvos.videolisa.sam_adapter import SAM_CONFIGS, SamConfig, build_sam, tiny_sam_config
from reasonvos.videolisa.tokenizer import (
    IMAGE_PLACEHOLDER,
    SEG_TOKEN,
    LegacySentencePieceTokenizer,
    load_tokenizer,
    seg_token_id,
    tokenize_with_image,
)
from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM

from reasonvos.errors import InputError
from reasonvos.fileio import atomic_dir, read_json, require_dict
from reasonvos.frames import read_rgb
from reasonvos.inference.segmenter import VideoSegmenter

if TYPE_CHECKING:
    from reasonvos.benchmarks.model import Benchmark, Sample, Video

DEFAULT_CHECKPOINT = "xinlai/LISA-7B-v1"
DEFAULT_CLIP = "openai/clip-vit-large-patch14"
MODES = ("per-frame", "first-frame-token")
#: ``lisa``: LISA's validation template (docs/models.md#lisa-prompt); ``videolisa``: the query
#: VideoLISA's evaluation scripts build for the benchmark, answered "Sure, [SEG]."
PROMPT_STYLES = LISA_PROMPT_STYLES

# -- prompt (llava_v1 conversation, SeparatorStyle.TWO; docs/models.md#lisa-prompt) ------------------------------------

SYSTEM = ("A chat between a curious human and an artificial intelligence assistant. The assistant "
          "gives helpful, detailed, and polite answers to the human's questions.")
IM_START, IM_END = "<im_start>", "<im_end>"
ANSWER = f"{SEG_TOKEN}."
_NON_LLAMA_KEYS = ("model_type", "architectures", "auto_map", SAM_CONFIG_KEY)


def lisa_query(text: str, sentence: bool) -> str:
    """LISA's validation question: phrases get "What is X in this image?", sentences are kept.

    As LISA's data pipeline does, the text is stripped and a phrase is lower-cased (ValDataset:
    ``sent.strip().lower()``, ``utils/dataset.py:372``; training: ``class_name=text.lower()``,
    ``utils/refer_seg_dataset.py:169``), while a sentence keeps its case (``utils/dataset.py:393``,
    ``LONG_QUESTION_LIST`` formats ``{sent}`` as is).
    """
    text = text.strip()
    if sentence:
        return f"{text} Please output segmentation mask."
    return f"What is {text.lower()} in this image? Please output segmentation mask."


def lisa_prompt(query: str, use_im_start_end: bool = True, answer: str = ANSWER) -> str:
    """The full teacher-forced prompt: system, USER turn with the image, ASSISTANT "[SEG]."."""
    image = f"{IM_START}{IMAGE_PLACEHOLDER}{IM_END}" if use_im_start_end else IMAGE_PLACEHOLDER
    return f"{SYSTEM} USER: {image}\n {query} ASSISTANT: {answer}</s>"


def lisa_input_ids(prompt: str, tokenizer: LegacySentencePieceTokenizer) -> list[int]:
    r"""Token ids of a LISA prompt as LISA's pinned transformers 4.31 produced them.

    4.31's slow tokenizer strips the whitespace on both sides of every added token that is not
    an ``AddedToken`` object (``tokenization_utils.py`` ``tokenize``: "We strip left and right by
    default"); only ``<s>``/``</s>``/``<unk>`` are ``AddedToken`` objects in the saved config. So in
    ``<im_end>\n What is ...`` the ``"\n "`` vanishes, which the shared legacy tokenizer (4.41
    semantics, right for VideoLISA) keeps as two extra tokens (``▁``, ``<0x0A>``) before the
    question. Golden ids from 4.31 are in ``tests/baselines/test_baselines_fidelity.py``.
    """
    keep = {tokenizer.bos_token, tokenizer.eos_token, tokenizer.unk_token}
    added = sorted((t for t in tokenizer.get_added_vocab() if t not in keep), key=len, reverse=True)
    if added:
        prompt = re.sub(r"\s*(" + "|".join(map(re.escape, added)) + r")\s*", r"\1", prompt)
    return tokenize_with_image(prompt, tokenizer)


def is_sentence(text: str, declared: bool | None = None) -> bool:
    """Whether LISA gets the sentence or the phrase template. ``declared`` is the benchmark's own
    answer (``bench.spec.is_sentence(sample)``: ReasonVOS long expressions are sentences, referring
    expressions are phrases); without one (free text, or a benchmark without instructions) the
    text counts as a sentence when it ends like one."""
    if declared is not None:
        return declared
    return text.rstrip().endswith(("?", ".", "!"))


# -- model ----------------------------------------------------------------------------------------


@dataclass
class LisaConfig:
    llm: LlamaConfig
    vision: CLIPVisionConfig
    sam: SamConfig
    out_dim: int = 256
    select_layer: int = -2
    use_im_start_end: bool = True


class LisaModel(VideoLisa):
    """VideoLISA's generic parts (CLIP tokens, splice, [SEG] rule, SAM) around a Llama LLM.

    LISA-v1 differs only in its parts: Llama instead of Phi-3, a single ``Linear`` projector, CLIP
    ViT-L/14 at 224 px (256 patch tokens, layer -2) and one image instead of sampled frames.
    """

    use_im_start_end: bool = True

    @classmethod
    def from_lisa_config(cls, config: LisaConfig, seg_token_id: int) -> LisaModel:
        """Random weights in the given shapes (tests, ``--tiny-random``); sdpa attention."""
        config.llm._attn_implementation = "sdpa"
        config.vision._attn_implementation = "sdpa"
        model = cls(
            LlamaForCausalLM(config.llm), CLIPVisionModel(config.vision),
            build_projector("linear", config.vision.hidden_size, config.llm.hidden_size),
            build_text_hidden_fcs(config.llm.hidden_size, config.out_dim), build_sam(config.sam),
            seg_token_id, config.select_layer, "patch",
        )
        model.use_im_start_end = config.use_im_start_end
        return model.eval()

    @torch.inference_mode()
    def image_prompt(self, frame: np.ndarray, query: str, tokenizer: LegacySentencePieceTokenizer
                     ) -> torch.Tensor:
        """The (out_dim,) SAM prompt for one RGB frame and one question (one LLM pass)."""
        return self.tokens_prompt(self.frame_tokens(self.clip_pixels([frame]))[0], query, tokenizer)

    @torch.inference_mode()
    def tokens_prompt(self, tokens: torch.Tensor, query: str, tokenizer: LegacySentencePieceTokenizer,
                      answer: str = ANSWER) -> torch.Tensor:
        """The SAM prompt from a frame's projected CLIP tokens (L, hidden), a question and the
        teacher-forced answer."""
        ids = lisa_input_ids(lisa_prompt(query, self.use_im_start_end, answer), tokenizer)
        return self.prompt_embedding(ids, tokens)

    @torch.inference_mode()
    def sam_embedding(self, frame: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
        """(1, C, s, s) SAM image embedding of one frame and its resized (h', w')."""
        pixels, size = self.sam.preprocess(frame)
        return self.sam.encode_images(pixels[None], 1), size


# -- checkpoints ----------------------------------------------------------------------------------


def read_lisa_config(folder: Path) -> tuple[dict, LlamaConfig, SamConfig]:
    """config.json -> (raw, LlamaConfig, SAM config). Never AutoConfig: ``model_type "llava"``
    resolves to transformers' LlavaConfig, the wrong class (docs/models.md#loading-lisa-with-stock-classes)."""
    path = folder / "config.json"
    raw = require_dict(read_json(path, "model config"), path, "config.json")
    missing = [k for k in ("out_dim", "hidden_size", "vocab_size", "num_hidden_layers") if k not in raw]
    if missing:
        raise InputError(path, f"not a LISA config: missing {', '.join(missing)}")
    llama = LlamaConfig.from_dict({k: v for k, v in raw.items() if k not in _NON_LLAMA_KEYS})
    return raw, llama, sam_config_from(raw, path)


def load_lisa(checkpoint: str | Path, clip: str | Path, dtype: str = "bf16", device: str = "cpu",
              allow_download: bool = False) -> tuple[LisaModel, LegacySentencePieceTokenizer]:
    """Load a LISA-v1 folder (pickle ``.bin`` shards or safetensors) and its legacy tokenizer.

    Every checkpoint key must be used (``model.vision_tower.*`` excepted: CLIP comes from ``clip``)
    and every module filled; anything else is refused with the keys listed.
    """
    if dtype not in DTYPES:
        raise InputError(None, f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    torch_dtype = DTYPES[dtype]
    folder = resolve_checkpoint(checkpoint, allow_download)
    raw, llama, sam_config = read_lisa_config(folder)
    tok = load_tokenizer(folder)
    seg_id = seg_token_id(tok, folder)
    use_im = bool(raw.get("mm_use_im_start_end", True))
    if use_im:
        for t in (IM_START, IM_END):
            if t not in tok.get_added_vocab():
                raise InputError(folder, f"mm_use_im_start_end is set but the tokenizer has no {t!r}")
    if len(tok) > llama.vocab_size:
        raise InputError(folder / "config.json",
                         f"vocab_size {llama.vocab_size} is smaller than the tokenizer ({len(tok)} tokens)")
    parts = load_llava_parts(folder, raw, LlamaForCausalLM, llama, "Llama", clip, torch_dtype, sam_config,
                             allow_download)
    model = LisaModel(parts.llm, parts.vision, parts.projector, parts.text_fcs, parts.sam, seg_id,
                      select_layer=int(raw.get("mm_vision_select_layer", -2)), select_feature="patch",
                      clip_processor=parts.processor)
    model.use_im_start_end = use_im
    # ``cast`` keeps the rotary ``inv_freq`` in float32: LISA's transformers 4.31 built its cos/sin
    # cache in float32 at construction, so ``model.bfloat16()`` never rounded the frequencies;
    # ``Module.to(bf16)`` would (phase errors up to ~0.4 rad at position ~300)
    return model.cast(torch_dtype, device).eval(), tok


def lisa_official_config(model: LisaModel, config: LisaConfig) -> dict:
    """config.json in LISA-v1's format (``model_type "llava"``, legacy ``rope_theta``)."""
    raw = config.llm.to_dict()
    rope = raw.pop("rope_parameters", None) or {}
    raw["rope_theta"] = rope.get("rope_theta", 10000.0)
    raw["rope_scaling"] = None
    raw.update({
        "model_type": "llava", "architectures": ["LISAForCausalLM"], "mm_hidden_size": config.vision.hidden_size,
        "mm_vision_select_layer": config.select_layer, "mm_use_im_start_end": config.use_im_start_end,
        "vision_tower": DEFAULT_CLIP, "mm_vision_tower": DEFAULT_CLIP, "use_cache": False,
        "train_mask_decoder": True, "out_dim": config.out_dim,
    })
    if config.sam != SAM_CONFIGS["vit_h"]:
        raw[SAM_CONFIG_KEY] = sam_config_entry(config.sam)
    return raw


def save_lisa_checkpoint(model: LisaModel, config: LisaConfig, tokenizer: LegacySentencePieceTokenizer,
                         out: str | Path, shards: int = 2) -> Path:
    """Write a folder in the release layout: pickle ``pytorch_model-*.bin`` shards with an index,
    config.json and the tokenizer (atomically). For tests and conversions."""
    state = official_state_dict(model)
    keys = list(state)
    per = -(-len(keys) // shards)
    out = Path(out)
    with atomic_dir(out) as tmp:
        weight_map: dict[str, str] = {}
        for i in range(shards):
            chunk = {k: state[k] for k in keys[i * per : (i + 1) * per]}
            name = f"pytorch_model-{i + 1:05d}-of-{shards:05d}.bin"
            torch.save(chunk, tmp / name)
            weight_map.update(dict.fromkeys(chunk, name))
        index = {"metadata": {}, "weight_map": weight_map}
        (tmp / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2))
        (tmp / "config.json").write_text(json.dumps(lisa_official_config(model, config), indent=2))
        tokenizer.save_pretrained(str(tmp))
    return out


# -- tiny random LISA (tests, --tiny-random) -------------------------------------------------------


def tiny_lisa_config(vocab_size: int) -> LisaConfig:
    """A Llama of width 64 and 2 layers, CLIP on 28x28 images (4 tokens), a 2-block SAM on 64x64."""
    llm = LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                      rms_norm_eps=1e-6, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                              num_attention_heads=2, image_size=28, patch_size=14, projection_dim=32)
    return LisaConfig(llm=llm, vision=vision, sam=tiny_sam_config(prompt_embed_dim=32), out_dim=32)


def write_tiny_lisa_tokenizer(folder: str | Path) -> LegacySentencePieceTokenizer:
    """The tiny sentencepiece tokenizer of the VideoLISA tests plus LISA's added image tokens."""
    from reasonvos.videolisa.tiny import write_tiny_tokenizer

    folder = Path(folder)
    tok = write_tiny_tokenizer(folder)
    tok.add_tokens(["<im_patch>", IM_START, IM_END], special_tokens=True)
    tok.save_pretrained(str(folder))
    return load_tokenizer(folder)


def tiny_lisa(seed: int = 0) -> tuple[LisaModel, LegacySentencePieceTokenizer, LisaConfig]:
    """A random tiny LISA, its tokenizer and config; the same ``seed`` gives the same weights."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="reasonvos-tiny-lisa-") as tmp:
        tok = write_tiny_lisa_tokenizer(tmp)
    torch.manual_seed(seed)
    config = tiny_lisa_config(len(tok))
    return LisaModel.from_lisa_config(config, seg_token_id(tok)), tok, config


# -- the video segmenter --------------------------------------------------------------------------


class VideoFrames:
    """A benchmark video's frames read lazily as RGB arrays (indexable, with a length)."""

    def __init__(self, video: Video) -> None:
        self.video = video

    def __len__(self) -> int:
        return len(self.video.frames)

    def __getitem__(self, index: int) -> np.ndarray:
        return read_rgb(self.video.image_path(self.video.frames[index]))


class LisaSegmenter(VideoSegmenter):
    """LISA applied to a video frame by frame (``per-frame``) or with frame 0's token for all.

    What does not depend on the text (a frame's CLIP tokens and SAM embedding) is cached for the
    current video, so a video's other expressions reuse it (the runner keeps a video's samples
    together); the cache is dropped when the video changes.
    """

    name = "lisa"
    role = "model"

    def __init__(self, model: LisaModel, tokenizer: LegacySentencePieceTokenizer, mode: str = "per-frame",
                 cache: bool = True, info: dict[str, Any] | None = None, prompt_style: str = "lisa") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown LISA mode {mode!r}; choose from {', '.join(MODES)}")
        if prompt_style not in PROMPT_STYLES:
            raise ValueError(f"unknown LISA prompt style {prompt_style!r}; choose from {', '.join(PROMPT_STYLES)}")
        self.prompt_style = prompt_style
        #: the teacher-forced answer ("[SEG]." in LISA's template, "Sure, [SEG]." in VideoLISA's)
        self.answer = ANSWER if prompt_style == "lisa" else VIDEOLISA_ANSWER
        self.model = model
        self.tokenizer = tokenizer
        self.mode = mode
        self.cache = cache
        self.info = dict(info or {})
        self._cache_video: str | None = None
        self._cache: dict[int, tuple[torch.Tensor | None, torch.Tensor, tuple[int, int]]] = {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "mode": self.mode, "prompt_style": self.prompt_style,
                "dtype": str(self.model.dtype).removeprefix("torch."), **self.info}

    def encode(self, frame: np.ndarray, key: tuple[str, int] | None = None, need_tokens: bool = True
               ) -> tuple[torch.Tensor | None, torch.Tensor, tuple[int, int]]:
        """(CLIP tokens, SAM embedding, SAM input size) of a frame; cached under (video, index).

        ``need_tokens=False`` skips CLIP when only the SAM embedding is wanted (tokens: None).
        """
        if self.cache and key is not None:
            if key[0] != self._cache_video:
                self._cache_video, self._cache = key[0], {}
            hit = self._cache.get(key[1])
            if hit is not None and (hit[0] is not None or not need_tokens):
                return hit
        tokens = self.model.frame_tokens(self.model.clip_pixels([frame]))[0] if need_tokens else None
        emb, size = self.model.sam_embedding(frame)
        if self.cache and key is not None:
            self._cache[key[1]] = (tokens, emb, size)
        return tokens, emb, size

    def frame_logits(self, frame: np.ndarray, query: str, key: tuple[str, int] | None = None) -> torch.Tensor:
        """LISA's float32 mask logits (H, W) for one frame and one question."""
        tokens, emb, size = self.encode(frame, key)
        prompt = self.model.tokens_prompt(tokens, query, self.tokenizer, self.answer)
        return self.model.sam.decode(emb, prompt, frame.shape[:2], size)[0]

    def frame_mask(self, frame: np.ndarray, query: str, key: tuple[str, int] | None = None) -> np.ndarray:
        return (self.frame_logits(frame, query, key) > 0).cpu().numpy()

    def segment_frames(self, frames: Sequence[np.ndarray] | VideoFrames, query: str,
                       video_key: str | None = None) -> Iterator[np.ndarray]:
        """Masks of every frame; ``video_key`` names the video for the cache (None: no caching)."""
        def key(i: int) -> tuple[str, int] | None:
            return None if video_key is None else (video_key, i)

        if self.mode == "per-frame":
            for i in range(len(frames)):
                yield self.frame_mask(frames[i], query, key(i))
            return
        prompt = None
        for i in range(len(frames)):
            frame = frames[i]
            tokens, emb, size = self.encode(frame, key(i), need_tokens=prompt is None)
            if prompt is None:  # the LLM sees frame 0 only
                prompt = self.model.tokens_prompt(tokens, query, self.tokenizer, self.answer)
            yield (self.model.sam.decode(emb, prompt, frame.shape[:2], size)[0] > 0).cpu().numpy()

    def text_query(self, text: str) -> str:
        """The question for free text (no benchmark): LISA's sentence/phrase template, or
        VideoLISA's referring template "Please segment the {x} in this image."."""
        if self.prompt_style == "videolisa":
            return query_for("referring", text)
        return lisa_query(text, is_sentence(text))

    def sample_query(self, benchmark: Benchmark, sample: Sample) -> str:
        """The question for a benchmark sample in the chosen prompt style (the ``videolisa`` style
        asks exactly what VideoLISA's script for the benchmark asks)."""
        spec = benchmark.spec
        if self.prompt_style == "videolisa":
            kind = None
            if spec.instruction_style == "reasoning":
                kind = "long" if spec.is_sentence(sample) else "short"
            return query_for(spec.instruction_style, sample.text, kind)
        return lisa_query(sample.text, is_sentence(sample.text, spec.is_sentence(sample)))

    def segment(self, video: Video, text: str) -> Iterator[np.ndarray]:
        return self.segment_frames(VideoFrames(video), self.text_query(text), video.id)

    def segment_sample(self, benchmark: Benchmark, sample: Sample) -> Iterator[np.ndarray]:
        query = self.sample_query(benchmark, sample)
        return self.segment_frames(VideoFrames(benchmark.videos[sample.video_id]), query, sample.video_id)
