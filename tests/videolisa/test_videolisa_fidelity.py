"""Fidelity of the VideoLISA re-implementation to the original code (showlab/VideoLISA@146f2bc,
dvlab-research/LISA@3cb2d43, facebookresearch/segment-anything), pinned where a test can pin it.

Each test names the original lines it encodes. The expectations are written from a reading of the
original classes, independently of the toolkit's own builders, so a drift on either side fails.
"""

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from reasonvos.videolisa.checkpoint import load_videolisa, save_checkpoint, save_clip  # noqa: E402
from reasonvos.videolisa.model import hf_sliding_window, seg_hidden_position  # noqa: E402
from reasonvos.videolisa.prompts import phi3_prompt  # noqa: E402
from reasonvos.videolisa.sampling import dense_positions, sparse_indices  # noqa: E402
from reasonvos.videolisa.tiny import tiny_config, tiny_videolisa  # noqa: E402
from reasonvos.videolisa.tokenizer import tokenize_with_image  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny():
    return tiny_videolisa(7)


# -- (1) the checkpoint key set: tests/videolisa/test_videolisa_golden_model.py compares our loader
# and writer with the keys and shapes VideoLISAForCausalLM.save_pretrained itself wrote.


# -- (2) which hidden state becomes the SAM prompt --------------------------------------------------


def test_seg_rule_matches_the_original_boolean_mask_on_a_batch_of_one(tiny):
    """``model/VideoLISA.py:422-442``: mask over the expanded sequence = [False]*(V-1) +
    (ids[1:] == SEG) + [False]; the selected row of the final hidden states is the prompt."""
    model, tok = tiny
    ids = tokenize_with_image(phi3_prompt("the cat"), tok)
    v = 48
    ids_t = torch.tensor([ids])
    mask = torch.cat([torch.zeros(1, v - 1, dtype=torch.bool), ids_t[:, 1:] == model.seg_token_id,
                      torch.zeros(1, 1, dtype=torch.bool)], dim=1)
    assert mask.shape[1] == len(ids) - 1 + v  # one <image> id replaced by V embeddings
    assert int(mask[0].nonzero()) == seg_hidden_position(ids, model.seg_token_id, v)


# -- (3) Sparse-Dense Sampling ----------------------------------------------------------------------


def original_uniform_sample(total: int, k: int) -> list[int]:
    """``inference_reason_vos.py:77-84`` re-stated: bins from an integer linspace, midpoint of each."""
    edges = [int(x) for x in np.linspace(0, total, k + 1)]
    return [(a + b - 1) // 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]


@pytest.mark.parametrize("n", [1, 2, 5, 31, 32, 33, 64, 100, 181, 1000])
def test_sparse_and_dense_indices_equal_the_script_functions(n):
    if n > 32:
        want = sorted(original_uniform_sample(n, 32))
    else:
        want = sorted(list(range(n)) * (32 // n) + original_uniform_sample(n, 32 % n))
    assert sparse_indices(n, 32) == want
    edges = [int(x) for x in np.linspace(0, 31, 5)]
    assert dense_positions(32, 4) == [(a + b - 1) // 2 for a, b in zip(edges[:-1], edges[1:], strict=True)] == [3, 10, 18, 26]


def test_video_tokens_follow_extract_video_feats(tiny):
    """``llava_arch.py:144-167``: gather the dense frames in the given order, flatten them, mean
    over all patch tokens of every sparse frame, concatenate [sparse, dense]."""
    model, _ = tiny
    tokens = torch.randn(32, 4, 64)
    idx = torch.tensor([[3, 10, 18, 26]])
    b = tokens[None]
    dense = b.gather(1, idx[..., None, None].expand(1, 4, 4, 64)).reshape(1, 16, 64)
    want = torch.cat([b.mean(dim=2), dense], dim=1)[0]
    assert torch.equal(model.sparse_dense_tokens(tokens, [3, 10, 18, 26]), want)


# -- attention window: flash-attn 2 under transformers 4.41 -----------------------------------------


def original_fa2_mask(length: int, window: int | None) -> torch.Tensor:
    """Keys a query sees in the original: causal, and when ``length > window`` flash-attn's
    ``window_size=(window, window)`` keeps keys ``i - window .. i`` (``window + 1`` of them)."""
    q = torch.arange(length)[:, None]
    k = torch.arange(length)[None, :]
    keep = k <= q
    if window is not None and length > window:
        keep &= k >= q - window
    return keep


def test_the_llm_attends_like_the_originals_flash_attention_window(tiny):
    model, tok = tiny
    window = tiny_config(len(tok)).llm.sliding_window  # the value a config.json on disk holds
    assert model.language_model.config.sliding_window == hf_sliding_window(window) == window + 1
    ids = tokenize_with_image(phi3_prompt("the cat"), tok)
    visual = torch.randn(48, 64, generator=torch.Generator().manual_seed(0))
    embeds = model.splice(ids, visual)
    length = embeds.shape[1]
    pos = seg_hidden_position(ids, model.seg_token_id, 48)
    assert pos > window + 1  # the window binds at the prompt position

    def prompt_with(mask: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            hidden = model.language_model.model(inputs_embeds=embeds, attention_mask=mask[None, None]).last_hidden_state
            return model.text_hidden_fcs[0](hidden[0, pos])

    got = model.prompt_embedding(ids, visual)
    assert torch.allclose(got, prompt_with(original_fa2_mask(length, window)), atol=1e-5)
    # transformers 5's own semantics (window keys, not window + 1) give a different prompt
    assert not torch.allclose(got, prompt_with(original_fa2_mask(length, window - 1)), atol=1e-4)


# -- (5) pre- and post-processing -------------------------------------------------------------------


def test_clip_preprocessing_is_shortest_side_bicubic_centre_crop_and_clip_norm(tiny):
    """``CLIPImageProcessor`` of openai/clip-vit-large-patch14-336 (``inference_reason_vos.py:263``):
    PIL bicubic resize of the shortest side, centre crop, x/255, CLIP mean/std."""
    model, _ = tiny
    frame = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    s = 28
    h, w = frame.shape[:2]
    nh, nw = s, int(s * w / h)
    resized = np.asarray(Image.fromarray(frame).resize((nw, nh), Image.BICUBIC), dtype=np.float32)
    top, left = (nh - s) // 2, (nw - s) // 2
    crop = resized[top : top + s, left : left + s] / 255.0
    mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
    want = torch.from_numpy(((crop - mean) / std).transpose(2, 0, 1).copy())
    got = model.clip_pixels([frame])[0]
    assert torch.allclose(got, want, atol=1e-5)


def test_sam_postprocess_is_float32_upsample_crop_resize_and_threshold_zero(tiny):
    """``segment_anything/modeling/sam.py:137-172`` (vendored, ``masks.float()``) then
    ``pred_mask > 0`` (``inference_reason_vos.py:318-319``)."""
    model, _ = tiny
    sam = model.sam
    low = torch.randn(1, 1, 16, 16).to(torch.bfloat16)
    up = torch.nn.functional.interpolate(low.float(), (sam.img_size, sam.img_size), mode="bilinear",
                                         align_corners=False)[..., :48, :64]
    want = torch.nn.functional.interpolate(up, (30, 40), mode="bilinear", align_corners=False)[:, 0]
    got = sam.postprocess(low, (48, 64), (30, 40))
    assert got.dtype == torch.float32 and torch.equal(got, want)


# -- (4) the tokenizer: transformers 4.41's slow LlamaTokenizer, legacy flag as saved ---------------


def saved_tokenizer(folder, legacy):
    """The tiny sentencepiece model with Llama's normalisation (whitespace kept, so a trailing
    space is its own ``▁`` piece), saved with the given ``legacy`` flag."""
    import json

    from reasonvos.videolisa.tiny import write_tiny_tokenizer

    write_tiny_tokenizer(folder, remove_extra_whitespaces=False)
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["legacy"] = legacy
    path.write_text(json.dumps(config))
    return folder


def non_legacy_reference(text, folder, tok):
    """4.41 ``LlamaTokenizer(legacy=False)`` written out with sentencepiece: one ``▁`` before the
    whole text, no dummy prefix on the pieces between added tokens, ``unk``-prefix trick for
    pieces that start with a space, leading ``▁`` dropped before a special token."""
    import re

    pytest.importorskip("google.protobuf")
    spm = pytest.importorskip("sentencepiece")
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString((folder / "tokenizer.model").read_bytes())
    proto.normalizer_spec.add_dummy_prefix = False
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(proto.SerializeToString())
    added = {t: tok.convert_tokens_to_ids(t) for t in tok.get_added_vocab()}
    pattern = "(" + "|".join(re.escape(t) for t in sorted(added, key=len, reverse=True)) + ")"
    pieces = []
    for piece in re.split(pattern, "▁" + text.replace("▁", " ")):
        if piece in added:
            pieces.append(piece)
        elif piece.startswith(("▁", " ")):
            unk = len(sp.encode("<unk>", out_type=str))
            pieces += sp.encode("<unk>" + piece, out_type=str)[unk:]
        elif piece:
            pieces += sp.encode(piece, out_type=str)
    # 4.41's all_special_tokens: named tokens + additional_special_tokens, not the chat tokens
    # (tests/videolisa/test_videolisa_golden_ids.py pins this against transformers 4.41.2 itself)
    if len(pieces) > 1 and pieces[0] == "▁" and pieces[1] in tok.v4_special_tokens():
        pieces = pieces[1:]
    return [tok.bos_token_id] + tok.convert_tokens_to_ids(pieces)


def test_a_non_legacy_config_is_tokenized_as_transformers_4_41_did(tmp_path):
    from reasonvos.videolisa.tokenizer import load_tokenizer

    folder = saved_tokenizer(tmp_path, legacy=False)
    tok = load_tokenizer(folder, follow_legacy_flag=True)
    assert tok.legacy is False
    for text in (phi3_prompt("the cat").split("<image>")[1], "<|system|>\nYou are a helpful AI assistant.<|end|>"):
        assert tok(text).input_ids == non_legacy_reference(text, folder, tok)


def test_seg_alone_gets_a_leading_space_piece_which_is_why_the_scripts_take_the_last_id(tmp_path):
    """``inference_reason_vos.py:122-123`` replaced ``input_ids[0]`` by ``input_ids[-1]``: with a
    non-legacy tokenizer ``"[SEG]"`` is ``[▁, [SEG]]``; the loader accepts it like the scripts."""
    from reasonvos.videolisa.tokenizer import load_tokenizer, seg_token_id

    tok = load_tokenizer(saved_tokenizer(tmp_path, legacy=False), follow_legacy_flag=True)
    seg = tok.convert_tokens_to_ids("[SEG]")
    assert tok.convert_ids_to_tokens(tok("[SEG]", add_special_tokens=False).input_ids) == ["▁", "[SEG]"]
    assert seg_token_id(tok) == seg


def test_with_llama_whitespace_the_state_before_seg_is_the_space_piece_in_both_modes(tmp_path):
    """The SAM prompt is the state before ``[SEG]``; with a sentencepiece model that keeps
    whitespace (as Llama/Phi-3's does) the space of ``"Sure, [SEG]"`` is that token, not ``,``."""
    from reasonvos.videolisa.tokenizer import load_tokenizer

    for legacy in (True, False):
        tok = load_tokenizer(saved_tokenizer(tmp_path / str(legacy), legacy=legacy), follow_legacy_flag=True)
        ids = tokenize_with_image(phi3_prompt("the cat"), tok)
        seg = ids.index(tok.convert_tokens_to_ids("[SEG]"))
        assert tok.convert_ids_to_tokens(ids[seg - 2 : seg]) == [",", "▁"]


def test_the_videolisa_loader_follows_the_saved_legacy_flag(tmp_path, tiny):
    import json
    import shutil

    model, tok = tiny
    save_checkpoint(model, tiny_config(len(tok)), tok, tmp_path / "ckpt")
    save_clip(model, tmp_path / "clip")
    legacy_ids = tokenize_with_image(phi3_prompt("the cat"), load_videolisa(tmp_path / "ckpt", tmp_path / "clip",
                                                                             dtype="fp32")[1])
    path = tmp_path / "ckpt" / "tokenizer_config.json"
    config = json.loads(path.read_text())
    assert config.get("legacy", True) is True  # the tiny release keeps legacy semantics
    config["legacy"] = False
    path.write_text(json.dumps(config))
    pytest.importorskip("google.protobuf")
    _, ltok = load_videolisa(tmp_path / "ckpt", tmp_path / "clip", dtype="fp32")
    assert ltok.legacy is False
    assert tokenize_with_image(phi3_prompt("the cat"), ltok) != legacy_ids
    shutil.rmtree(tmp_path / "ckpt")


# -- CLIP comes from the openai folder (not in the checkpoint) ----------------------------------------


def tiny_openai_clip_folder(folder):
    """A full ``CLIPModel`` folder, as openai/clip-vit-large-patch14-336 is (``vision_model.*``
    and ``text_model.*`` keys, a ``clip`` config); the original loads its vision half with
    ``CLIPVisionModel.from_pretrained`` (``clip_encoder.py:29-30``)."""
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(
        text_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                         vocab_size=100, bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                           image_size=28, patch_size=14), projection_dim=8)
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    model.save_pretrained(str(folder))
    return model


def test_an_openai_layout_clip_folder_loads_its_vision_half_exactly(tmp_path):
    from reasonvos.videolisa.checkpoint import load_clip

    full = tiny_openai_clip_folder(tmp_path / "clip")
    assert any(k.startswith("vision_model.") for k in load_file(tmp_path / "clip" / "model.safetensors"))
    tower, _ = load_clip(tmp_path / "clip", torch.float32)
    x = torch.randn(2, 3, 28, 28)
    with torch.inference_mode():
        got = tower(pixel_values=x, output_hidden_states=True).hidden_states[-2]
        want = full.vision_model(pixel_values=x, output_hidden_states=True).hidden_states[-2]
    assert torch.allclose(got, want, atol=1e-6)


def test_a_clip_folder_missing_a_weight_is_refused_not_random_filled(tmp_path):
    from reasonvos.videolisa.checkpoint import load_clip

    from reasonvos.errors import InputError

    tiny_openai_clip_folder(tmp_path / "clip")
    path = tmp_path / "clip" / "model.safetensors"
    state = load_file(path)
    del state["vision_model.encoder.layers.1.mlp.fc1.weight"]
    save_file(state, str(path), metadata={"format": "pt"})
    with pytest.raises(InputError, match="incomplete.*layers.1.mlp.fc1.weight"):
        load_clip(tmp_path / "clip", torch.float32)
