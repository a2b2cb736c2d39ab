"""The VideoLISA model on tiny random weights: Sparse-Dense tokens, the [SEG] - 1 rule, the
teacher-forced prompt embedding, and the SAM adapter's three changes to upstream SAM."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reasonvos.videolisa.model import seg_hidden_position  # noqa: E402
from reasonvos.videolisa.prompts import phi3_prompt  # noqa: E402
from reasonvos.videolisa.sam_adapter import (  # noqa: E402
    PIXEL_MEAN,
    PIXEL_STD,
    build_sam,
    preprocess_frame,
    resize_longest_side,
    tiny_sam_config,
)
from reasonvos.videolisa.sampling import dense_positions  # noqa: E402
from reasonvos.videolisa.tiny import tiny_videolisa  # noqa: E402
from reasonvos.videolisa.tokenizer import IMAGE_TOKEN_INDEX, tokenize_with_image  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny():
    return tiny_videolisa(0)


def spec_selection_mask(input_ids, seg_id, num_visual):
    """The original's construction, written out: shift by one, pad one False at the end and
    (num_visual - 1) Falses at the front."""
    shifted = [t == seg_id for t in input_ids[1:]] + [False]
    return [False] * (num_visual - 1) + shifted


@pytest.mark.parametrize("query", ["the cat", "Which animal is most likely to be hungry?"])
@pytest.mark.parametrize("num_visual", [1, 48, 2336])
def test_seg_position_is_the_one_the_original_mask_selects(tiny, query, num_visual):
    _, tok = tiny
    ids = tokenize_with_image(phi3_prompt(query), tok)
    seg = tok.convert_tokens_to_ids("[SEG]")
    mask = spec_selection_mask(ids, seg, num_visual)
    assert mask.index(True) == seg_hidden_position(ids, seg, num_visual)
    # in the expanded sequence that is the state right before [SEG]
    expanded = ids[: ids.index(IMAGE_TOKEN_INDEX)] + ["v"] * num_visual + ids[ids.index(IMAGE_TOKEN_INDEX) + 1 :]
    assert expanded[seg_hidden_position(ids, seg, num_visual) + 1] == seg


def test_the_prompt_state_is_the_token_before_seg_a_comma(tiny):
    _, tok = tiny
    ids = tokenize_with_image(phi3_prompt("the cat"), tok)
    seg = tok.convert_tokens_to_ids("[SEG]")
    assert tok.convert_ids_to_tokens(ids[ids.index(seg) - 1]) == ","


def test_seg_position_refuses_prompts_without_exactly_one_seg_and_image():
    with pytest.raises(ValueError, match="one \\[SEG\\]"):
        seg_hidden_position([1, IMAGE_TOKEN_INDEX, 5, 7, 7], 7, 10)
    with pytest.raises(ValueError, match="one <image>"):
        seg_hidden_position([1, 5, 7], 7, 10)


def test_sparse_tokens_are_means_after_the_projector_then_dense_frames_in_full(tiny):
    model, _ = tiny
    frames = [np.random.default_rng(i).integers(0, 255, (20, 30, 3), dtype=np.uint8) for i in range(32)]
    tokens = model.frame_tokens(model.clip_pixels(frames))
    per_frame = (28 // 14) ** 2
    assert tokens.shape == (32, per_frame, 64)
    # mean AFTER the projector, not projector of the mean (the MLP is non-linear)
    with torch.inference_mode():
        raw = model.vision_tower(pixel_values=model.clip_pixels(frames), output_hidden_states=True)
        feats = raw.hidden_states[-2][:, 1:]
        assert torch.allclose(tokens, model.mm_projector(feats))
        assert not torch.allclose(tokens.mean(1), model.mm_projector(feats.mean(1)), atol=1e-4)
    dense = dense_positions(32, 4)
    visual = model.sparse_dense_tokens(tokens, dense)
    assert visual.shape == (32 + 4 * per_frame, 64)
    assert torch.allclose(visual[:32], tokens.mean(1))
    for k, p in enumerate(dense):
        block = visual[32 + k * per_frame : 32 + (k + 1) * per_frame]
        assert torch.equal(block, tokens[p])


def test_clip_input_is_centre_cropped_to_the_tower_size(tiny):
    model, _ = tiny
    pixels = model.clip_pixels([np.zeros((20, 60, 3), np.uint8)])
    assert pixels.shape == (1, 3, 28, 28)


def test_prompt_embedding_is_the_final_hidden_state_before_seg_through_text_hidden_fcs(tiny):
    model, tok = tiny
    ids = tokenize_with_image(phi3_prompt("the dog"), tok)
    visual = torch.randn(48, 64)
    got = model.prompt_embedding(ids, visual)
    with torch.inference_mode():
        out = model.language_model(inputs_embeds=model.splice(ids, visual), output_hidden_states=True)
        pos = seg_hidden_position(ids, model.seg_token_id, 48)
        want = model.text_hidden_fcs[0](out.hidden_states[-1][0, pos])
        other = model.text_hidden_fcs[0](out.hidden_states[-1][0, pos + 1])
    assert got.shape == (32,)
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(got, other, atol=1e-4)


def test_splice_puts_visual_tokens_where_image_was(tiny):
    model, tok = tiny
    ids = tokenize_with_image(phi3_prompt("x"), tok)
    visual = torch.randn(5, 64)
    emb = model.splice(ids, visual)
    cut = ids.index(IMAGE_TOKEN_INDEX)
    assert emb.shape == (1, len(ids) - 1 + 5, 64)
    assert torch.equal(emb[0, cut : cut + 5], visual)
    assert torch.equal(emb[0, cut + 5], model.language_model.get_input_embeddings().weight[ids[cut + 1]])


# -- SAM adapter ------------------------------------------------------------------------------------

def test_resize_longest_side_rounds_like_upstream():
    img = np.zeros((480, 854, 3), np.uint8)
    assert resize_longest_side(img, 1024).shape == (576, 1024, 3)  # int(480 * 1024 / 854 + 0.5)
    assert resize_longest_side(np.zeros((30, 20, 3), np.uint8), 64).shape == (64, 43, 3)


def test_preprocess_normalises_then_pads_bottom_right_with_zeros():
    img = np.full((20, 30, 3), 200, np.uint8)
    x, (h, w) = preprocess_frame(img, 64)
    assert (h, w) == (43, 64) and x.shape == (3, 64, 64)
    expected = (200 - np.array(PIXEL_MEAN)) / np.array(PIXEL_STD)
    assert np.allclose(x[:, :h, :w].mean(dim=(1, 2)).numpy(), expected, atol=1e-5)
    assert x[:, h:, :].abs().max() == 0


def test_dense_pe_matches_upstream_in_fp32_and_works_in_bf16_where_upstream_fails():
    sam = build_sam(tiny_sam_config())
    assert torch.equal(sam.dense_pe(), sam.prompt_encoder.get_dense_pe())
    sam = sam.to(torch.bfloat16)
    with pytest.raises(RuntimeError):
        sam.prompt_encoder.get_dense_pe()
    assert sam.dense_pe().dtype == torch.bfloat16


def test_text_prompt_equals_upstream_empty_prompts_plus_the_text_embedding():
    sam = build_sam(tiny_sam_config())
    text = torch.randn(3, 32)
    sparse, dense = sam.prompt_embeddings(text)
    up_sparse, up_dense = sam.prompt_encoder(points=None, boxes=None, masks=None)
    assert up_sparse.shape[1] == 0
    assert torch.equal(sparse, torch.cat([up_sparse.expand(3, -1, -1), text.unsqueeze(1)], dim=1))
    assert torch.equal(dense, up_dense.expand(3, -1, -1, -1))


def test_decode_matches_upstream_decoder_and_float32_postprocessing():
    from segment_anything.modeling import Sam

    adapter = build_sam(tiny_sam_config())
    frames = [np.random.default_rng(i).integers(0, 255, (20, 30, 3), dtype=np.uint8) for i in range(3)]
    pixels = torch.stack([adapter.preprocess(f)[0] for f in frames])
    emb = adapter.encode_images(pixels, batch_size=2)
    assert torch.allclose(emb, adapter.encode_images(pixels, batch_size=3), atol=1e-5)
    prompt = torch.randn(32)
    logits = adapter.decode(emb, prompt, (20, 30), (43, 64))
    assert logits.shape == (3, 20, 30) and logits.dtype == torch.float32
    sam = Sam(adapter.image_encoder, adapter.prompt_encoder, adapter.mask_decoder)
    with torch.inference_mode():
        sparse, dense = sam.prompt_encoder(points=None, boxes=None, masks=None)
        sparse = torch.cat([sparse, prompt.view(1, 1, -1)], dim=1)
        low, _ = sam.mask_decoder(emb[1:2], sam.prompt_encoder.get_dense_pe(), sparse, dense, False)
        want = sam.postprocess_masks(low, (43, 64), (20, 30))
    assert torch.allclose(logits[1], want[0, 0], atol=1e-5)
    # bf16 runs end to end and still returns float32 logits
    bf = adapter.to(torch.bfloat16)
    out = bf.decode(bf.encode_images(pixels), prompt, (20, 30), (43, 64))
    assert out.dtype == torch.float32


def test_sam_keys_are_upstream_names():
    keys = build_sam(tiny_sam_config()).state_dict().keys()
    assert "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix" in keys
    assert "mask_decoder.iou_token.weight" in keys and "image_encoder.pos_embed" in keys
    assert not any("pixel_mean" in k for k in keys)
