"""The legacy sentencepiece tokenizer VideoLISA and LISA were trained with (docs/models.md#tokenizer-pitfall).

transformers 5 ignores ``use_fast=False`` and tokenizes Llama/Phi-3 sentencepiece models with a
``tokenizers`` BPE that inserts an extra ``▁`` before added tokens such as ``[SEG]``. The token
before ``[SEG]`` is the one whose hidden state becomes the SAM prompt, so that silently changes
the masks. :class:`LegacySentencePieceTokenizer` restores the 4.x slow, legacy behaviour: text
between added tokens is encoded by sentencepiece as is (dummy prefix included), BOS once in
front. LISA (``reasonvos.baselines``) loads its tokenizer through :func:`load_tokenizer` too.

The original ran ``AutoTokenizer(use_fast=False)`` under transformers 4.41, i.e. the slow
``LlamaTokenizer``, which honours the saved ``legacy`` flag (absent = legacy). Phi-3-derived tokenizer
configs on the Hub carry ``"legacy": false`` (UNVERIFIED for the release), and the scripts' switch from ``input_ids[0]`` to
``input_ids[-1]`` for ``"[SEG]"`` (``inference_reason_vos.py:122-123``) is what the non-legacy
mode needs, so VideoLISA's loader uses :class:`SlowLlamaTokenizer`, which follows the flag.
Non-legacy mode needs ``protobuf`` (to switch off sentencepiece's dummy prefix).
"""

from __future__ import annotations

from pathlib import Path

from transformers.tokenization_utils_sentencepiece import SPIECE_UNDERLINE, SentencePieceBackend

from reasonvos.errors import InputError
from reasonvos.fileio import read_json, require_dict

SEG_TOKEN = "[SEG]"
#: LLaVA's placeholder id for the visual tokens (never a real vocabulary id)
IMAGE_TOKEN_INDEX = -200
IMAGE_PLACEHOLDER = "<image>"


class LegacySentencePieceTokenizer(SentencePieceBackend):
    """Slow, legacy sentencepiece tokenization with ``[bos] + ids (+ [eos])`` framing."""

    vocab_files_names = {"vocab_file": "tokenizer.model"}
    model_input_names = ["input_ids", "attention_mask"]
    #: this class ignores the saved ``legacy`` flag; :class:`SlowLlamaTokenizer` follows it
    follows_legacy_flag = False

    def __init__(self, vocab_file: str, unk_token: str = "<unk>", bos_token: str = "<s>",
                 eos_token: str = "</s>", add_bos_token: bool = True, add_eos_token: bool = False,
                 **kwargs) -> None:
        self.add_bos_token = add_bos_token
        self.add_eos_token = add_eos_token
        legacy = kwargs.pop("legacy", None)
        # transformers 4.41's LlamaTokenizer: legacy None -> True, add_prefix_space None -> True
        legacy = True if legacy is None or not self.follows_legacy_flag else bool(legacy)
        prefix = kwargs.pop("add_prefix_space", None)
        self.add_prefix_space = True if prefix is None else bool(prefix)
        super().__init__(vocab_file=vocab_file, unk_token=unk_token, bos_token=bos_token,
                         eos_token=eos_token, legacy=legacy, **kwargs)

    def build_inputs_with_special_tokens(self, token_ids_0: list[int],
                                         token_ids_1: list[int] | None = None) -> list[int]:
        def frame(ids: list[int]) -> list[int]:
            bos = [self.bos_token_id] if self.add_bos_token else []
            eos = [self.eos_token_id] if self.add_eos_token else []
            return bos + ids + eos

        return frame(token_ids_0) + (frame(token_ids_1) if token_ids_1 is not None else [])


class SlowLlamaTokenizer(LegacySentencePieceTokenizer):
    """transformers 4.41's slow ``LlamaTokenizer`` (what ``use_fast=False`` gave the original),
    legacy or not as the saved ``tokenizer_config.json`` says.

    ``legacy: false`` (the Phi-3 tokenizer configs carry it) means: one ``▁`` in front of the
    whole text (``add_prefix_space``), none at the start of the text pieces between added tokens
    (sentencepiece's dummy prefix is switched off by the backend), and the leading ``▁`` dropped
    when a special token follows it. So with a sentencepiece model that keeps whitespace (as
    Phi-3's does) ``"[SEG]"`` alone gives ``[▁, [SEG]]``, which is why the
    VideoLISA scripts take ``input_ids[-1]`` (``inference_reason_vos.py:122-123``).

    "Special" there means 4.41's ``all_special_tokens``: the named ones (bos, eos, unk, pad, ...)
    plus the config's ``additional_special_tokens``, NOT every added token flagged special (the
    Phi-3 chat tokens are only in ``added_tokens_decoder``), so a prompt starting with
    ``<|system|>`` keeps its ``▁``. transformers 5 folds more into ``all_special_tokens``;
    :func:`load_tokenizer` sets :attr:`v4_additional_special_tokens` from the saved config
    (checked against transformers 4.41.2 in ``tests/videolisa/test_videolisa_golden_ids.py``).
    """

    follows_legacy_flag = True
    #: the saved config's ``additional_special_tokens`` (what 4.41 counted as special besides the named ones)
    v4_additional_special_tokens: tuple[str, ...] = ()

    def v4_special_tokens(self) -> set[str]:
        """transformers 4.41's ``all_special_tokens`` for this tokenizer."""
        named = {str(v) for k, v in self.special_tokens_map.items() if isinstance(v, str) and k.endswith("_token")}
        return named | set(self.v4_additional_special_tokens)

    def tokenize(self, text: str, **kwargs) -> list[str]:
        if self.legacy or not text:
            return super().tokenize(text, **kwargs)
        text = text.replace(SPIECE_UNDERLINE, " ")
        if self.add_prefix_space:
            text = SPIECE_UNDERLINE + text
        tokens = super().tokenize(text, **kwargs)
        if len(tokens) > 1 and tokens[0] == SPIECE_UNDERLINE and tokens[1] in self.v4_special_tokens():
            tokens = tokens[1:]
        return tokens


def load_tokenizer(path: str | Path, seg_token: str | None = SEG_TOKEN,
                   follow_legacy_flag: bool = False) -> LegacySentencePieceTokenizer:
    """Load the checkpoint's tokenizer (``tokenizer.model`` + configs) with 4.x slow semantics.

    By default legacy semantics are forced; ``follow_legacy_flag`` reproduces transformers 4.41
    exactly, honouring the saved ``legacy`` flag (VideoLISA's loader uses it). ``pad = unk`` as
    in the original. When ``seg_token`` is given it must already be ONE added token of the saved
    tokenizer (the original inference scripts never add it).
    """
    path = Path(path)
    if not (path / "tokenizer.model").is_file():
        raise InputError(path, "no tokenizer.model (the sentencepiece model) in the checkpoint folder")
    cls = SlowLlamaTokenizer if follow_legacy_flag else LegacySentencePieceTokenizer
    try:
        tok = cls.from_pretrained(str(path))
    except ImportError as e:  # legacy: false needs protobuf to edit the sentencepiece model
        raise InputError(path, f"tokenizer_config.json sets legacy: false, which needs the protobuf "
                               f"package ({e})") from e
    except (OSError, ValueError, RuntimeError) as e:
        raise InputError(path, f"tokenizer does not load ({e})") from e
    tok.pad_token = tok.unk_token
    if isinstance(tok, SlowLlamaTokenizer):
        tok.v4_additional_special_tokens = _saved_additional_special_tokens(path)
    if seg_token is not None:
        seg_token_id(tok, path)
    return tok


def _saved_additional_special_tokens(path: Path) -> tuple[str, ...]:
    """``additional_special_tokens`` of the saved ``tokenizer_config.json`` (strings or AddedToken dicts)."""
    config_path = path / "tokenizer_config.json"
    if not config_path.is_file():
        return ()
    config = require_dict(read_json(config_path, "tokenizer config"), config_path, "the top level")
    extra = config.get("additional_special_tokens") or []
    if not isinstance(extra, list):
        raise InputError(config_path, "additional_special_tokens is not a list")
    names = [t.get("content") if isinstance(t, dict) else t for t in extra]
    if not all(isinstance(n, str) for n in names):
        raise InputError(config_path, f"additional_special_tokens has entries that are not tokens: {extra}")
    return tuple(names)


def seg_token_id(tok: LegacySentencePieceTokenizer, path: str | Path | None = None) -> int:
    """Id of ``[SEG]``, checked to be one added token (never hard-coded: expected 32011)."""
    if SEG_TOKEN not in tok.get_added_vocab():
        raise InputError(path, f"the tokenizer has no added token {SEG_TOKEN!r}")
    ids = tok(SEG_TOKEN, add_special_tokens=False).input_ids
    tid = tok.convert_tokens_to_ids(SEG_TOKEN)
    # the original takes input_ids[-1]: a non-legacy tokenizer puts one "▁" in front
    if not ids or ids[-1] != tid or any(tok.convert_ids_to_tokens(i) != SPIECE_UNDERLINE for i in ids[:-1]):
        raise InputError(path, f"{SEG_TOKEN!r} does not tokenize to one token (got ids {ids})")
    return int(tid)


def tokenize_with_image(prompt: str, tok: LegacySentencePieceTokenizer) -> list[int]:
    """LLaVA's ``tokenizer_image_token``: tokenize the text around ``<image>`` separately (each
    chunk as a fresh string, so it gets its own dummy prefix), keep BOS once at the start, and put
    :data:`IMAGE_TOKEN_INDEX` where each ``<image>`` was."""
    chunks = [tok(c).input_ids for c in prompt.split(IMAGE_PLACEHOLDER)]
    bos = tok.bos_token_id
    keep_bos = bool(chunks and chunks[0] and chunks[0][0] == bos)
    ids: list[int] = [bos] if keep_bos else []
    for i, chunk in enumerate(chunks):
        if i:
            ids.append(IMAGE_TOKEN_INDEX)
        ids.extend(chunk[1:] if keep_bos and chunk and chunk[0] == bos else chunk)
    return ids
