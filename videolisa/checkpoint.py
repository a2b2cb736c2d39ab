"""Load (and write) VideoLISA checkpoints in the ``ZechenBai/VideoLISA-3.8B`` layout with stock classes.

The checkpoint is a LLaVA-Phi-3 folder (``model_type "llava_phi"``, not a stock type, and no
remote code): ``config.json``, tokenizer files, and safetensors or ``pytorch_model*.bin`` shards
(with an index when sharded) holding, under official key names (docs/models.md#videolisa-checkpoint):

- ``model.embed_tokens/layers/norm.*`` + ``lm_head.*``  -> ``Phi3ForCausalLM`` (from_pretrained)
- ``model.mm_projector.*``                               -> the projector
- ``model.text_hidden_fcs.*``                            -> the prompt projection
- ``model.visual_model.*``                               -> SAM (upstream modules, strict)

CLIP is not in the checkpoint; it loads from a local ``openai/clip-vit-large-patch14-336``
folder. Every key must be used and every module filled: a partial load is refused with an
InputError listing the keys. Weights are read only with safetensors or
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from transformers import CLIPImageProcessorPil, CLIPVisionModel, Phi3Config, Phi3ForCausalLM
from transformers.utils import logging as hf_logging

from reasonvos.errors import InputError, MissingFileError
from reasonvos.fileio import atomic_dir, read_json, require_dict

from .model import VideoLisa, VideoLisaConfig, build_projector, build_text_hidden_fcs, hf_sliding_window
from .sam_adapter import SAM_CONFIGS, SamConfig, build_sam
from .tokenizer import LegacySentencePieceTokenizer, load_tokenizer, seg_token_id

LLM_PREFIXES = ("model.embed_tokens.", "model.layers.", "model.norm.", "lm_head.")
PROJECTOR_PREFIX = "model.mm_projector."
TEXT_FCS_PREFIX = "model.text_hidden_fcs."
SAM_PREFIX = "model.visual_model."
#: keys some checkpoints carry that this loader deliberately does not use
IGNORED_PREFIXES = ("model.vision_tower.",)
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)
#: config.json keys that belong to LLaVA/VideoLISA, not to Phi3Config
_NON_PHI3_KEYS = ("model_type", "auto_map", "architectures", "sam_config")
SAM_CONFIG_KEY = "sam_config"  # only in toolkit-written checkpoints with a non-ViT-H SAM

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


# -- locating files ------------------------------------------------------------------------------

def resolve_checkpoint(name: str | Path, allow_download: bool = False) -> Path:
    """A local folder, or a Hugging Face repo id looked up in the local HF cache.

    Nothing is downloaded unless ``allow_download`` (never at import or test time).
    """
    path = Path(name)
    if path.is_dir():
        return path
    if path.exists():
        raise InputError(path, "checkpoint must be a folder")
    text = str(name)
    if text.count("/") != 1 or text.startswith((".", "/")):
        raise MissingFileError(path, "checkpoint folder not found")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(text, local_files_only=not allow_download))
    except LocalEntryNotFoundError as e:
        raise MissingFileError(path, "not a local folder and not in the Hugging Face cache "
                                     "(pass --download to fetch it)") from e
    except (OSError, ValueError) as e:
        raise InputError(path, f"cannot get the checkpoint from the Hugging Face hub ({e})") from e


def weight_files(folder: Path) -> list[Path]:
    """The weight shards of a folder: from the index when there is one, else the single file."""
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = folder / index_name
        if index.is_file():
            weight_map = require_dict(require_dict(read_json(index, "weight index"), index, "the index")
                                      .get("weight_map"), index, "'weight_map'")
            files = sorted({folder / f for f in weight_map.values()})
            for f in files:
                if not f.is_file():
                    raise MissingFileError(f, f"shard listed in {index_name} is missing")
            return files
    for single in ("model.safetensors", "pytorch_model.bin"):
        if (folder / single).is_file():
            return [folder / single]
    raise MissingFileError(folder, "no model.safetensors, pytorch_model.bin or shard index in the checkpoint")


def read_weights(files: Iterable[Path], keep: Callable[[str], bool] = lambda key: True) -> dict[str, torch.Tensor]:
    """Tensors whose key passes ``keep``, read with safetensors or weights-only torch.load."""
    out: dict[str, torch.Tensor] = {}
    for f in files:
        try:
            if f.suffix == ".safetensors":
                with safe_open(str(f), framework="pt") as st:
                    for k in st.keys():  # noqa: SIM118 (safe_open is not a dict)
                        if keep(k):
                            out[k] = st.get_tensor(k)
            else:
                state = torch.load(f, map_location="cpu", mmap=True, weights_only=True)
                out.update({k: v for k, v in state.items() if keep(k)})
        except (OSError, RuntimeError, ValueError) as e:
            raise InputError(f, f"weights do not load ({e})") from e
    return out


def all_keys(files: Iterable[Path]) -> set[str]:
    keys: set[str] = set()
    for f in files:
        if f.suffix == ".safetensors":
            try:
                with safe_open(str(f), framework="pt") as st:
                    keys.update(st.keys())
            except (OSError, RuntimeError, ValueError) as e:
                raise InputError(f, f"weights do not load ({e})") from e
        else:
            keys.update(read_weights([f]).keys())
    return keys


# -- config ---------------------------------------------------------------------------------------

def read_config(folder: Path) -> tuple[dict, Phi3Config, SamConfig]:
    """The raw config.json, the Phi3Config built from it (never AutoConfig: ``llava_phi`` is no
    stock type) and the SAM config (ViT-H unless the toolkit wrote another size)."""
    path = folder / "config.json"
    raw = require_dict(read_json(path, "model config"), path, "config.json")
    missing = [k for k in ("train_mask_decoder", "out_dim", "hidden_size", "vocab_size") if k not in raw]
    if missing:
        raise InputError(path, f"not a VideoLISA config: missing {', '.join(missing)}")
    phi3 = Phi3Config.from_dict({k: v for k, v in raw.items() if k not in _NON_PHI3_KEYS})
    return raw, phi3, sam_config_from(raw, path)


def sam_config_from(raw: dict, path: Path) -> SamConfig:
    """The SAM size of a VideoLISA/LISA config.json: ViT-H (every release) unless the toolkit wrote
    another size under :data:`SAM_CONFIG_KEY`."""
    sam_raw = raw.get(SAM_CONFIG_KEY)
    if sam_raw is None:
        return SAM_CONFIGS["vit_h"]
    try:
        sam_dict = dict(require_dict(sam_raw, path, SAM_CONFIG_KEY))
        sam_dict["encoder_global_attn_indexes"] = tuple(sam_dict["encoder_global_attn_indexes"])
        return SamConfig(**sam_dict)
    except (TypeError, KeyError) as e:
        raise InputError(path, f"bad {SAM_CONFIG_KEY!r} ({e})") from e


def sam_config_entry(sam: SamConfig) -> dict:
    """:func:`sam_config_from`'s inverse, for config.json (tuples as JSON lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(sam).items()}


# -- loading ---------------------------------------------------------------------------------------

@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report and progress bar; this loader reports keys itself."""
    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _load_part(module: nn.Module, state: dict[str, torch.Tensor], prefix: str,
               missing: list[str], unexpected: list[str], assign: bool = False,
               path: Path | None = None) -> None:
    """Load the ``prefix``-ed tensors into ``module``; collect (not raise) missing/unexpected keys."""
    part = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    try:
        result = module.load_state_dict(part, strict=False, assign=assign)
    except RuntimeError as e:  # shape mismatch
        raise InputError(path, f"weights under {prefix!r} do not fit the model: {e}") from e
    missing.extend(prefix + k for k in result.missing_keys)
    unexpected.extend(prefix + k for k in result.unexpected_keys)


def _refuse(folder: Path, missing: list[str], unexpected: list[str]) -> None:
    if not missing and not unexpected:
        return

    def show(keys: list[str]) -> str:
        keys = sorted(keys)
        more = f" (+{len(keys) - 10} more)" if len(keys) > 10 else ""
        return ", ".join(keys[:10]) + more

    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys: {show(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys: {show(unexpected)}")
    raise InputError(folder, "refusing a partial load; " + "; ".join(parts))


def load_clip(clip: str | Path, dtype: torch.dtype,
              allow_download: bool = False) -> tuple[CLIPVisionModel, CLIPImageProcessorPil | None]:
    """CLIP vision tower from a local folder (or the HF cache), with its PIL image processor when
    the folder has a ``preprocessor_config.json`` (else VideoLISA's defaults are used)."""
    folder = resolve_checkpoint(clip, allow_download)
    try:
        with _quiet_transformers():
            model, info = CLIPVisionModel.from_pretrained(str(folder), dtype=dtype, attn_implementation="sdpa",
                                                          output_loading_info=True)
    except (OSError, ValueError) as e:
        raise InputError(folder, f"CLIP vision tower does not load ({e})") from e
    # from_pretrained would silently random-initialise what the folder lacks (text weights of a
    # full CLIPModel folder are merely unexpected, which is fine)
    missing = sorted(info.get("missing_keys", []))
    mismatched = info.get("mismatched_keys", [])
    if missing or mismatched:
        raise InputError(folder, f"CLIP vision tower is incomplete: missing {missing[:10]}, "
                                 f"wrong shape {sorted(map(str, mismatched))[:10]}")
    processor = None
    if (folder / "preprocessor_config.json").is_file():
        processor = CLIPImageProcessorPil.from_pretrained(str(folder))
    return model.eval(), processor


@dataclass
class LlavaParts:
    """The modules of a LLaVA-style segmentation checkpoint, loaded and checked."""

    llm: nn.Module
    vision: CLIPVisionModel
    processor: object
    projector: nn.Module
    text_fcs: nn.Module
    sam: nn.Module


def load_llava_parts(folder: Path, raw: dict, llm_class: type, llm_config, llm_name: str, clip: str | Path,
                     torch_dtype: torch.dtype, sam_config: SamConfig, allow_download: bool) -> LlavaParts:
    """Load what VideoLISA and LISA checkpoints share: the language model (stock ``llm_class``),
    CLIP, ``mm_projector``, ``text_hidden_fcs`` and SAM, refusing any missing, unexpected or
    wrong-shape weight (a partial load would run and silently give wrong masks)."""
    files = weight_files(folder)
    keys = all_keys(files)
    known = (*LLM_PREFIXES, PROJECTOR_PREFIX, TEXT_FCS_PREFIX, SAM_PREFIX)
    missing: list[str] = []
    unexpected = [k for k in keys if not k.startswith(known) and not k.startswith(IGNORED_PREFIXES)
                  and not k.endswith(IGNORED_SUFFIXES)]
    try:
        with _quiet_transformers():  # its load report lists every non-LLM key as "unexpected"
            llm, info = llm_class.from_pretrained(
                str(folder), config=llm_config, dtype=torch_dtype, attn_implementation="sdpa",
                output_loading_info=True)
    except (OSError, ValueError, RuntimeError) as e:
        raise InputError(folder, f"the {llm_name} language model does not load ({e})") from e
    missing += list(info.get("missing_keys", []))
    mismatched = info.get("mismatched_keys", [])
    if mismatched:
        raise InputError(folder, f"weights of the wrong shape: {sorted(map(str, mismatched))[:10]}")

    vision, processor = load_clip(clip, torch_dtype, allow_download)
    mm_hidden = int(raw.get("mm_hidden_size", vision.config.hidden_size))
    if vision.config.hidden_size != mm_hidden:
        raise InputError(Path(str(clip)), f"CLIP width {vision.config.hidden_size} != the checkpoint's "
                                          f"mm_hidden_size {mm_hidden}")

    parts = read_weights(files, keep=lambda k: k.startswith((PROJECTOR_PREFIX, TEXT_FCS_PREFIX, SAM_PREFIX)))
    projector = build_projector(raw.get("mm_projector_type", "linear"), mm_hidden, llm_config.hidden_size)
    text_fcs = build_text_hidden_fcs(llm_config.hidden_size, int(raw["out_dim"]))
    with torch.device("meta"):  # SAM ViT-H is 0.6B parameters: do not initialise what is overwritten
        sam = build_sam(sam_config)
    _load_part(projector, parts, PROJECTOR_PREFIX, missing, unexpected, path=folder)
    _load_part(text_fcs, parts, TEXT_FCS_PREFIX, missing, unexpected, path=folder)
    _load_part(sam, parts, SAM_PREFIX, missing, unexpected, assign=True, path=folder)
    _refuse(folder, missing, unexpected)
    return LlavaParts(llm, vision, processor, projector, text_fcs, sam)


def load_videolisa(checkpoint: str | Path, clip: str | Path, dtype: str = "bf16", device: str = "cpu",
                   allow_download: bool = False) -> tuple[VideoLisa, LegacySentencePieceTokenizer]:
    """Load the model and its legacy tokenizer; refuse any missing or unexpected weight."""
    if dtype not in DTYPES:
        raise InputError(None, f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    torch_dtype = DTYPES[dtype]
    folder = resolve_checkpoint(checkpoint, allow_download)
    raw, phi3, sam_config = read_config(folder)
    tok = load_tokenizer(folder, follow_legacy_flag=True)  # 4.41 semantics, flag as saved
    seg_id = seg_token_id(tok, folder)
    if len(tok) > phi3.vocab_size:
        raise InputError(folder / "config.json",
                         f"vocab_size {phi3.vocab_size} is smaller than the tokenizer ({len(tok)} tokens)")
    phi3.sliding_window = hf_sliding_window(phi3.sliding_window)  # flash-attn 2 semantics of 4.41
    parts = load_llava_parts(folder, raw, Phi3ForCausalLM, phi3, "Phi-3", clip, torch_dtype, sam_config,
                             allow_download)

    model = VideoLisa(
        parts.llm, parts.vision, parts.projector, parts.text_fcs, parts.sam, seg_id,
        select_layer=int(raw.get("mm_vision_select_layer", -2)),
        select_feature=str(raw.get("mm_vision_select_feature", "patch")),
        clip_processor=parts.processor,
    )
    return model.cast(torch_dtype, device).eval(), tok


# -- writing (tests, conversions) -----------------------------------------------------------------

def official_state_dict(model: VideoLisa) -> dict[str, torch.Tensor]:
    """The model's weights under the official key names (CLIP excluded, as in the release)."""
    out = {k: v for k, v in model.language_model.state_dict().items() if not k.endswith(IGNORED_SUFFIXES)}
    for prefix, module in ((PROJECTOR_PREFIX, model.mm_projector), (TEXT_FCS_PREFIX, model.text_hidden_fcs),
                           (SAM_PREFIX, model.sam)):
        out.update({prefix + k: v for k, v in module.state_dict().items()})
    return {k: v.detach().contiguous() for k, v in out.items()}


def official_config(model: VideoLisa, config: VideoLisaConfig) -> dict:
    """config.json in the LLaVA-Phi-3 format: Phi-3 fields with legacy ``rope_theta``, plus the
    ``mm_*`` and VideoLISA keys."""
    raw = config.llm.to_dict()
    rope = raw.pop("rope_parameters", None) or {}
    raw["rope_theta"] = rope.get("rope_theta", 10000.0)
    raw["rope_scaling"] = None
    raw.update({
        "model_type": "llava_phi", "architectures": ["VideoLISAForCausalLM"],
        "mm_projector_type": config.mm_projector_type, "mm_hidden_size": config.vision.hidden_size,
        "mm_vision_select_layer": config.mm_vision_select_layer,
        "mm_vision_select_feature": config.mm_vision_select_feature,
        "mm_vision_tower": "openai/clip-vit-large-patch14-336", "vision_tower": "openai/clip-vit-large-patch14-336",
        "mm_use_im_start_end": False, "use_cache": False, "train_mask_decoder": True, "out_dim": config.out_dim,
    })
    if config.sam != SAM_CONFIGS["vit_h"]:
        raw[SAM_CONFIG_KEY] = sam_config_entry(config.sam)
    return raw


def save_checkpoint(model: VideoLisa, config: VideoLisaConfig, tokenizer: LegacySentencePieceTokenizer,
                    out: str | Path, shards: int = 1, fmt: str = "safetensors") -> Path:
    """Write a checkpoint folder in the release layout (atomically), ``shards`` weight files with
    an index when more than one; ``fmt`` is ``safetensors`` or ``bin``."""
    state = official_state_dict(model)
    keys = list(state)
    per = -(-len(keys) // shards)
    out = Path(out)
    with atomic_dir(out) as tmp:
        weight_map: dict[str, str] = {}
        ext = "safetensors" if fmt == "safetensors" else "bin"
        stem = "model" if fmt == "safetensors" else "pytorch_model"
        for i in range(shards):
            chunk = {k: state[k] for k in keys[i * per : (i + 1) * per]}
            name = f"{stem}.{ext}" if shards == 1 else f"{stem}-{i + 1:05d}-of-{shards:05d}.{ext}"
            if fmt == "safetensors":
                save_file(chunk, str(tmp / name), metadata={"format": "pt"})
            else:
                torch.save(chunk, tmp / name)
            weight_map.update(dict.fromkeys(chunk, name))
        if shards > 1:
            index = {"metadata": {}, "weight_map": weight_map}
            (tmp / f"{stem}.{ext}.index.json").write_text(json.dumps(index, indent=2))
        (tmp / "config.json").write_text(json.dumps(official_config(model, config), indent=2))
        tokenizer.save_pretrained(str(tmp))
    return out


def save_clip(model: VideoLisa, out: str | Path) -> Path:
    """Write the vision tower as a CLIP folder (what ``--clip`` expects)."""
    out = Path(out)
    with atomic_dir(out) as tmp:
        model.vision_tower.save_pretrained(str(tmp))
    return out
