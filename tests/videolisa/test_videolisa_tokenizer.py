"""The legacy sentencepiece tokenizer: the ids the original 4.x environment produced.

The reference below is the 4.x slow, legacy algorithm written out with sentencepiece alone:
split the text at added tokens, encode each piece of text as it is (sentencepiece adds its dummy
prefix to each), and put BOS once in front. transformers 5's default tokenizer differs (an extra
``▁`` before added tokens, docs/models.md#tokenizer-pitfall), which would move the SAM prompt position.
"""

import json
import re

import pytest

pytest.importorskip("torch")
spm = pytest.importorskip("sentencepiece")

from reasonvos.videolisa.prompts import phi3_prompt  # noqa: E402
from reasonvos.videolisa.tiny import PHI3_CHAT_TOKENS, write_tiny_tokenizer  # noqa: E402
from reasonvos.videolisa.tokenizer import (  # noqa: E402
    IMAGE_TOKEN_INDEX,
    LegacySentencePieceTokenizer,
    load_tokenizer,
    seg_token_id,
    tokenize_with_image,
)

from reasonvos.errors import InputError  # noqa: E402

LISA_PROMPT = ("A chat between a curious human and an artificial intelligence assistant. USER: "
               "<im_start><image><im_end>\n What is the cat in this image? Please output segmentation mask. "
               "ASSISTANT: [SEG].</s>")


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok")
    write_tiny_tokenizer(folder)
    return folder


def legacy_reference(text: str, sp, added: dict[str, int], bos: int) -> list[int]:
    pattern = "(" + "|".join(re.escape(t) for t in sorted(added, key=len, reverse=True)) + ")"
    ids = [bos]
    for piece in re.split(pattern, text):
        if piece in added:
            ids.append(added[piece])
        elif piece:
            ids.extend(sp.encode(piece))
    return ids


def test_ids_equal_the_legacy_slow_algorithm_for_the_videolisa_prompt(tok_dir):
    tok = load_tokenizer(tok_dir)
    sp = spm.SentencePieceProcessor(model_file=str(tok_dir / "tokenizer.model"))
    added = {t: tok.convert_tokens_to_ids(t) for t in [*PHI3_CHAT_TOKENS, "[SEG]"]}
    for query in ("the cat", "Which animal is most likely to be hungry?. Please output the segmentation masks."):
        text = phi3_prompt(query).replace("<image>", "")
        assert tok(text).input_ids == legacy_reference(text, sp, added, tok.bos_token_id)


def test_ids_equal_the_legacy_algorithm_for_the_lisa_prompt(tmp_path):
    tok = write_tiny_tokenizer(tmp_path)
    tok.add_tokens(["<im_start>", "<im_end>"], special_tokens=True)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "tokenizer.model"))
    added = {t: tok.convert_tokens_to_ids(t) for t in [*PHI3_CHAT_TOKENS, "[SEG]", "<im_start>", "<im_end>",
                                                        "</s>"]}
    text = LISA_PROMPT.replace("<image>", "")
    assert tok(text).input_ids == legacy_reference(text, sp, added, tok.bos_token_id)


def test_seg_is_one_added_token_and_the_token_before_it_is_the_comma(tok_dir):
    tok = load_tokenizer(tok_dir)
    seg = seg_token_id(tok)
    assert seg == tok.vocab_size + len(PHI3_CHAT_TOKENS)  # added after the chat tokens, never hard-coded
    assert tok("[SEG]", add_special_tokens=False).input_ids == [seg]
    ids = tok("Sure, [SEG].").input_ids
    assert tok.convert_ids_to_tokens(ids[ids.index(seg) - 1]) == ","
    assert tok.pad_token == tok.unk_token


def test_image_placeholder_becomes_one_minus_200_and_bos_is_kept_once(tok_dir):
    tok = load_tokenizer(tok_dir)
    ids = tokenize_with_image(phi3_prompt("the cat"), tok)
    assert ids.count(IMAGE_TOKEN_INDEX) == 1
    assert ids.count(tok.bos_token_id) == 1 and ids[0] == tok.bos_token_id
    before, after = phi3_prompt("the cat").split("<image>")
    cut = ids.index(IMAGE_TOKEN_INDEX)
    assert ids[:cut] == tok(before).input_ids
    assert ids[cut + 1 :] == tok(after).input_ids[1:]  # each chunk is tokenised fresh


def test_legacy_is_forced_even_when_the_config_says_otherwise(tok_dir):
    tok = LegacySentencePieceTokenizer.from_pretrained(str(tok_dir), legacy=False)
    assert tok.legacy is True


def test_a_tokenizer_without_seg_is_refused(tmp_path):
    tok = LegacySentencePieceTokenizer(vocab_file=str(write_tiny_tokenizer(tmp_path / "a").vocab_file))
    tok.save_pretrained(str(tmp_path / "b"))
    with pytest.raises(InputError, match=r"no added token '\[SEG\]'"):
        load_tokenizer(tmp_path / "b")
    with pytest.raises(InputError, match="tokenizer.model"):
        load_tokenizer(tmp_path / "missing")


def test_add_bos_token_follows_the_saved_tokenizer_config(tmp_path):
    write_tiny_tokenizer(tmp_path)
    config_path = tmp_path / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["add_bos_token"] = False
    config_path.write_text(json.dumps(config))
    tok = load_tokenizer(tmp_path)
    ids = tokenize_with_image(phi3_prompt("the cat"), tok)
    assert tok.bos_token_id not in ids
    assert ids[0] == tok.convert_tokens_to_ids("<|system|>")
