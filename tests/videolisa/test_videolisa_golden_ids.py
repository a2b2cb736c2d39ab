"""Golden token ids from the ORIGINAL tokenizer environment, pinned against ours.

VideoLISA ran ``AutoTokenizer.from_pretrained(version, use_fast=False)`` under transformers 4.41.x,
i.e. the slow sentencepiece ``LlamaTokenizer`` (docs/models.md#tokenizer-pitfall). The lists below
were produced by transformers 4.41.2's slow LlamaTokenizer itself (sentencepiece 0.2.x, protobuf, no
torch, in a separate venv) on the tiny tokenizer written by ``write_tiny_tokenizer``, saved with
``tokenizer_class: LlamaTokenizer`` as the Phi-3 checkpoint is, with this command::

    python3 -m venv /tmp/tf441 && /tmp/tf441/bin/pip install transformers==4.41.2 sentencepiece protobuf
    python perf/golden_tokenizer_ids.py --python /tmp/tf441/bin/python

Prompts go through LLaVA's ``<image>`` rule (text around it tokenized separately, BOS once, -200
in its place). The installed transformers 5 tokenizes the same folder differently (the pitfall).
"""


import pytest

pytest.importorskip("torch")  # reasonvos.videolisa.tiny builds the tiny model too
pytest.importorskip("sentencepiece")
pytest.importorskip("google.protobuf")  # legacy: false edits the sentencepiece model

from reasonvos.videolisa.prompts import phi3_prompt, query_for  # noqa: E402
from reasonvos.videolisa.tiny import (  # noqa: E402
    TOKENIZER_VARIANTS,
    write_tiny_tokenizer,
    write_tokenizer_variant,
)
from reasonvos.videolisa.tokenizer import load_tokenizer, seg_token_id, tokenize_with_image  # noqa: E402

#: name -> (``remove_extra_whitespaces`` of the sentencepiece model (False = Llama/Phi-3's whitespace
#: handling), ``legacy`` saved in tokenizer_config.json (None = key absent, which 4.41 reads as
#: legacy), chat tokens listed as 4.x ``additional_special_tokens``). Same as the perf script.
#: the legacy-unset variant with the same sentencepiece model
LEGACY_TWIN = {name: ("tiny" if ws else "llama_ws") + "_legacy_unset"
               for name, (ws, _, _) in TOKENIZER_VARIANTS.items()}

CASES = {
    "prompt_short": ("image", phi3_prompt(query_for("reasoning", "cat", "short"))),
    "prompt_long": ("image", phi3_prompt(query_for("reasoning", "Which animal is most likely to be hungry?",
                                                   "long"))),
    "seg_alone": ("plain", "[SEG]"),  # add_special_tokens=False, as the scripts' seg_token_idx
    "seg_answer": ("plain", "Sure, [SEG]."),
}

#: ``tokenizer("[SEG]", add_special_tokens=False).input_ids[-1]`` under 4.41.2, in every variant
GOLDEN_SEG_TOKEN_IDX = 405

# Produced by transformers 4.41.2's slow LlamaTokenizer (AutoTokenizer.from_pretrained(folder,
# use_fast=False), pad = unk) on the tiny tokenizer written by write_tiny_tokenizer, via
# `python perf/golden_tokenizer_ids.py --python /tmp/tf441/bin/python`. Do not edit by hand.
GOLDEN_4_41_2: dict[str, dict[str, list[int]]] = {
    "tiny_legacy_unset": {
        "prompt_short": [
            1, 402, 361, 13, 397, 273, 261, 269, 261, 309, 343, 294, 369, 283, 389, 322, 376, 403, 361, 13,
            404, 361, 13, -200, 361, 13, 383, 267, 286, 280, 263, 316, 311, 319, 361, 347, 265, 362, 376,
            403, 361, 13, 401, 361, 13, 290, 269, 378, 405, 361, 376, 403
        ],
        "prompt_long": [
            1, 402, 361, 13, 397, 273, 261, 269, 261, 309, 343, 294, 369, 283, 389, 322, 376, 403, 361, 13,
            404, 361, 13, -200, 361, 13, 390, 367, 281, 367, 321, 277, 312, 300, 361, 296, 386, 292, 387,
            260, 370, 308, 310, 368, 339, 387, 392, 376, 289, 361, 273, 363, 345, 363, 263, 323, 361, 268,
            365, 341, 376, 403, 361, 13, 401, 361, 13, 290, 269, 378, 405, 361, 376, 403
        ],
        "seg_alone": [405],
        "seg_answer": [318, 378, 405, 361, 376],
    },
    "tiny_legacy_false": {
        "prompt_short": [
            1, 402, 13, 397, 273, 261, 269, 261, 309, 343, 294, 369, 283, 389, 322, 376, 403, 13, 404, 13,
            -200, 361, 13, 383, 267, 286, 280, 263, 316, 311, 319, 361, 347, 265, 362, 376, 403, 13, 401,
            13, 290, 269, 378, 405, 376, 403
        ],
        "prompt_long": [
            1, 402, 13, 397, 273, 261, 269, 261, 309, 343, 294, 369, 283, 389, 322, 376, 403, 13, 404, 13,
            -200, 361, 13, 390, 367, 281, 367, 321, 277, 312, 300, 361, 296, 386, 292, 387, 260, 370, 308,
            310, 368, 339, 387, 392, 376, 289, 361, 273, 363, 345, 363, 263, 323, 361, 268, 365, 341, 376,
            403, 13, 401, 13, 290, 269, 378, 405, 376, 403
        ],
        "seg_alone": [405],
        "seg_answer": [318, 378, 405, 376],
    },
    "llama_ws_legacy_unset": {
        "prompt_short": [
            1, 402, 361, 13, 397, 273, 261, 269, 261, 309, 343, 294, 369, 283, 389, 322, 376, 403, 361, 13,
            404, 361, 13, -200, 361, 13, 383, 267, 286, 280, 263, 316, 311, 319, 361, 347, 265, 362, 376,
            403, 361, 13, 401, 361, 13, 290, 269, 378, 361, 405, 361, 376, 403
        ],
        "prompt_long": [
            1, 402, 361, 13, 397, 273, 261, 269, 261, 309, 343, 294, 369, 283, 389, 322, 376, 403, 361, 13,
            404, 361, 13, -200, 361, 13, 390, 367, 281, 367, 321, 277, 312, 300, 361, 296, 386, 292, 387,
            260, 370, 308, 310, 368, 339, 387, 392, 376, 289, 361, 273, 363, 345, 363, 263, 323, 361, 268,
            365, 341, 376, 403, 361, 13, 401, 361, 13, 290, 269, 378, 361, 405, 361, 376, 403
        ],
        "seg_alone": [405],
        "seg_answer": [318, 378, 361, 405, 361, 376],
    },
    "llama_ws_legacy_false": {
        "prompt_short": [
            1, 361, 402, 13, 397, 273, 261, 269, 261, 309, 343, 294, 369, 283, 389, 322, 376, 403, 13, 404,
            13, -200, 361, 13, 383, 267, 286, 280, 263, 316, 311, 319, 361, 347, 265, 362, 376, 403, 13,
            401, 13, 290, 269, 378, 361, 405, 376, 403
        ],
        "prompt_long": [
            1, 361, 402, 13, 397, 273, 261, 269, 261, 309, 343, 294, 369, 283, 389, 322, 376, 403, 13, 404,
            13, -200, 361, 13, 390, 367, 281, 367, 321, 277, 312, 300, 361, 296, 386, 292, 387, 260, 370,
            308, 310, 368, 339, 387, 392, 376, 289, 361, 273, 363, 345, 363, 263, 323, 361, 268, 365, 341,
            376, 403, 13, 401, 13, 290, 269, 378, 361, 405, 376, 403
        ],
        "seg_alone": [361, 405],
        "seg_answer": [318, 378, 361, 405, 376],
    },
    "llama_ws_legacy_false_chat_special": {
        "prompt_short": [
            1, 402, 13, 397, 273, 261, 269, 261, 309, 343, 294, 369, 283, 389, 322, 376, 403, 13, 404, 13,
            -200, 361, 13, 383, 267, 286, 280, 263, 316, 311, 319, 361, 347, 265, 362, 376, 403, 13, 401,
            13, 290, 269, 378, 361, 405, 376, 403
        ],
        "prompt_long": [
            1, 402, 13, 397, 273, 261, 269, 261, 309, 343, 294, 369, 283, 389, 322, 376, 403, 13, 404, 13,
            -200, 361, 13, 390, 367, 281, 367, 321, 277, 312, 300, 361, 296, 386, 292, 387, 260, 370, 308,
            310, 368, 339, 387, 392, 376, 289, 361, 273, 363, 345, 363, 263, 323, 361, 268, 365, 341, 376,
            403, 13, 401, 13, 290, 269, 378, 361, 405, 376, 403
        ],
        "seg_alone": [361, 405],
        "seg_answer": [318, 378, 361, 405, 376],
    },
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    return {name: write_tokenizer_variant(root / name, *variant) for name, variant in TOKENIZER_VARIANTS.items()}


def ids_of(tok):
    """Every case through ``tok`` (``tokenize_with_image`` for the prompts)."""
    return {case: (tokenize_with_image(text, tok) if how == "image"
                   else tok(text, add_special_tokens=False).input_ids)
            for case, (how, text) in CASES.items()}


def test_write_tiny_tokenizer_writes_the_same_bytes_every_time(tmp_path):
    """The golden ids are only meaningful if the tiny sentencepiece model is reproducible."""
    for variant in ("a", "b"):
        write_tiny_tokenizer(tmp_path / variant)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert "tokenizer.model" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.parametrize("variant", list(TOKENIZER_VARIANTS))
def test_the_videolisa_loader_gives_exactly_the_4_41_2_ids(folders, variant):
    tok = load_tokenizer(folders[variant], follow_legacy_flag=True)
    assert tok.legacy is (TOKENIZER_VARIANTS[variant][1] is not False)
    assert ids_of(tok) == GOLDEN_4_41_2[variant]
    assert seg_token_id(tok) == GOLDEN_SEG_TOKEN_IDX


@pytest.mark.parametrize("variant", list(TOKENIZER_VARIANTS))
def test_the_default_loader_gives_the_legacy_4_41_2_ids_whatever_the_saved_flag(folders, variant):
    """LISA's loader forces legacy semantics: the ids 4.41.2 gives with ``legacy`` unset."""
    tok = load_tokenizer(folders[variant])
    assert ids_of(tok) == GOLDEN_4_41_2[LEGACY_TWIN[variant]]
    assert seg_token_id(tok) == GOLDEN_SEG_TOKEN_IDX


def test_the_token_before_seg_in_the_original_prompt(folders):
    """The hidden state before ``[SEG]`` is the SAM prompt (docs/models.md#the-seg-hidden-state): in 4.41.2 it is ``,`` when the
    sentencepiece model drops extra spaces, and the space piece ``▁`` with Llama's whitespace."""
    tok = load_tokenizer(folders["tiny_legacy_unset"])
    before = {}
    for variant, cases in GOLDEN_4_41_2.items():
        for case in ("prompt_short", "prompt_long"):
            ids = cases[case]
            before[variant, case] = tok.convert_ids_to_tokens(ids[ids.index(GOLDEN_SEG_TOKEN_IDX) - 1])
    assert before == {(v, c): ("," if v.startswith("tiny") else "▁") for v, c in before}


def test_transformers_5_auto_tokenizer_gives_different_ids_on_the_same_folder(folders):
    """The pitfall: transformers 5's AutoTokenizer ignores ``use_fast=False`` and the ``legacy`` flag,
    and puts a ``▁`` before ``[SEG]``, so the token before ``[SEG]`` is no longer ``,``."""
    from transformers import AutoTokenizer

    folder = folders["tiny_legacy_unset"]
    golden = GOLDEN_4_41_2["tiny_legacy_unset"]
    ours = load_tokenizer(folder)
    for use_fast in (True, False):
        v5 = AutoTokenizer.from_pretrained(str(folder), use_fast=use_fast)
        got = ids_of(v5)
        assert got["seg_answer"] == [318, 378, 361, 405, 376]  # 4.41.2: [318, 378, 405, 361, 376]
        assert got["seg_alone"] == golden["seg_alone"]
        for case in ("prompt_short", "prompt_long"):
            assert got[case] != golden[case]
            seg = got[case].index(GOLDEN_SEG_TOKEN_IDX)
            assert ours.convert_ids_to_tokens(got[case][seg - 2 : seg]) == [",", "▁"]


@pytest.mark.parametrize("variant", list(TOKENIZER_VARIANTS))
def test_transformers_5_never_reproduces_the_original_prompt_ids(folders, variant):
    from transformers import AutoTokenizer

    got = ids_of(AutoTokenizer.from_pretrained(str(folders[variant]), use_fast=False))
    for case in ("prompt_short", "prompt_long"):
        assert got[case] != GOLDEN_4_41_2[variant][case]
