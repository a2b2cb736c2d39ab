"""Fidelity of the XMem and LISA re-implementations to the original code, divergence by divergence.

Each test pins one behaviour of the originals (hkchengrex/XMem@f3b841d, dvlab-research/LISA@3cb2d43
run with its pinned transformers 4.31.0) that the toolkit once did differently, or that matters and
is easy to lose. ``perf/parity_xmem.py`` runs the original XMem code beside ours for the whole
network and propagation; these tests need no checkout.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
F = torch.nn.functional

from reasonvos.baselines.xmem import XMemConfig, XMemCore, softmax_affinity  # noqa: E402
from reasonvos.baselines.xmem_modules import CBAM, XMemNetwork, _others  # noqa: E402

torch.set_num_threads(2)


# -- XMem ------------------------------------------------------------------------------------------


def test_other_objects_masks_are_summed_over_the_others_not_total_minus_own():
    """model/network.py encode_value: ``sum(masks[:, [j != i]])``; ``total - own`` rounds differently."""
    masks = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    expected = torch.stack([masks[:, 1] + masks[:, 2], masks[:, 0] + masks[:, 2], masks[:, 0] + masks[:, 1]], 1)
    assert torch.equal(_others(masks), expected)


def test_cbam_channel_gate_pools_the_whole_map_like_the_original():
    """model/cbam.py ChannelGate: avg_pool2d/max_pool2d with a full-size kernel (bit-exact)."""
    torch.manual_seed(0)
    cbam = CBAM(32).eval()
    x = torch.randn(2, 32, 6, 9) * 5
    gate = cbam.ChannelGate
    size = (6, 9)
    att = gate.mlp(F.avg_pool2d(x, size, stride=size)) + gate.mlp(F.max_pool2d(x, size, stride=size))
    with torch.no_grad():
        assert torch.equal(gate(x), x * torch.sigmoid(att)[:, :, None, None])


def test_top_k_softmax_stays_finite_where_the_original_underflows():
    """Intentional divergence: the original's do_softmax (model/memory_util.py) exponentiates the
    top-k similarities without subtracting their maximum, which gives 0/0 = NaN when all of them are
    below about -104 (fp32). Ours is the stable softmax: identical wherever the original is finite."""
    sim = torch.tensor([[[-500.0], [-501.0], [-900.0]]])
    aff = softmax_affinity(sim, top_k=2)
    assert torch.isfinite(aff).all()
    assert torch.allclose(aff[0, :, 0], torch.tensor([1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1)), 0.0],
                                                     dtype=torch.float32))
    values = torch.topk(sim, k=2, dim=1).values
    original = values.exp() / values.exp().sum(1, keepdim=True)  # what memory_util.do_softmax computes
    assert torch.isnan(original).all()
    mild = torch.randn(1, 40, 6, generator=torch.Generator().manual_seed(1))
    values, indices = torch.topk(mild, k=5, dim=1)
    ref = torch.zeros_like(mild).scatter_(1, indices, values.exp() / values.exp().sum(1, keepdim=True))
    assert torch.allclose(softmax_affinity(mild, 5), ref, atol=1e-7)


def test_the_reference_frame_is_memorised_with_a_zero_hidden_state_and_deep_update():
    """inference_core.py step: the mask frame creates a zero hidden state, is a memory frame, and
    (deep_update_every < 0) deep-updates the hidden state through the value encoder."""
    torch.manual_seed(0)
    net = XMemNetwork(16, 32, 8).eval()
    core = XMemCore(net, XMemConfig(key_dim=16, value_dim=32, hidden_dim=8, top_k=4))
    image = torch.randn(3, 32, 48)
    mask = (torch.rand(1, 32, 48) > 0.5).float()
    with torch.inference_mode():
        prob = core.step(image, mask)
        key, shrinkage, selection, feats = net.encode_key(image[None], True, True)
        zero = torch.zeros(1, 1, 8, 2, 3)
        _, hidden = net.encode_value(image[None], feats[0], zero, prob[1:][None], True)
    assert core.memory.work.size == 6 and core.memory_frames == 1
    assert torch.equal(core.memory.hidden, hidden) and not torch.equal(hidden, zero)
    assert torch.equal(prob.argmax(0) == 1, mask[0] > 0.5)


# -- LISA ------------------------------------------------------------------------------------------

transformers = pytest.importorskip("transformers")
pytest.importorskip("segment_anything")
pytest.importorskip("sentencepiece")

from reasonvos.baselines.lisa import (  # noqa: E402
    lisa_input_ids,
    lisa_prompt,
    lisa_query,
    load_lisa,
    save_lisa_checkpoint,
    tiny_lisa,
    write_tiny_lisa_tokenizer,
)
from reasonvos.videolisa.checkpoint import save_clip  # noqa: E402
from reasonvos.videolisa.sam_adapter import preprocess_frame, resize_longest_side  # noqa: E402

#: transformers 4.31.0 ``LlamaTokenizer.from_pretrained(use_fast=False)`` (legacy, as 4.31 saves it)
#: + LISA's ``tokenizer_image_token`` on the tiny sentencepiece model of ``write_tiny_lisa_tokenizer``
#: with LISA's added tokens (<im_patch>, <im_start>, <im_end> special; [SEG] plain), from "USER" on.
GOLDEN_431_TAIL = {
    True: "▁ US ER : <im_start> <IMG> <im_end> ▁W hat ▁is ▁the ▁cat ▁in ▁this ▁i ma ge ? ▁Please ▁ ou t pu "
          "t ▁segmentation ▁ ma s k . ▁A SS IST ANT : [SEG] ▁ . </s>",
    False: "▁ US ER : <IMG> ▁ <0x0A> ▁W hat ▁is ▁the ▁cat ▁in ▁this ▁i ma ge ? ▁Please ▁ ou t pu t "
           "▁segmentation ▁ ma s k . ▁A SS IST ANT : [SEG] ▁ . </s>",
}
GOLDEN_431_LENGTH = 124  # both prompts; the system prompt is 85 tokens (<s> included)


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return write_tiny_lisa_tokenizer(tmp_path_factory.mktemp("lisa-tok"))


@pytest.mark.parametrize("use_im_start_end", [True, False])
def test_prompt_ids_are_those_of_lisas_transformers_4_31(tok, use_im_start_end):
    """4.31's slow tokenizer strips whitespace around added tokens (tokenization_utils.py "We strip
    left and right by default"), so "<im_end>\\n What" loses its "\\n ": 2 tokens fewer, and a
    different token sequence before [SEG], than the 4.41 semantics VideoLISA needs."""
    ids = lisa_input_ids(lisa_prompt(lisa_query("the cat", False), use_im_start_end), tok)
    pieces = [tok.convert_ids_to_tokens(i) if i >= 0 else "<IMG>" for i in ids]
    assert len(pieces) == GOLDEN_431_LENGTH
    assert pieces[85:] == GOLDEN_431_TAIL[use_im_start_end].split(" ")


def test_phrases_are_stripped_and_lower_cased_sentences_keep_their_case():
    """utils/dataset.py:372 ``sent.strip().lower()`` (and refer_seg_dataset.py:169 in training);
    reasoning sentences are only stripped (utils/dataset.py:393)."""
    assert lisa_query("  The Red Car ", False) == "What is the red car in this image? Please output segmentation mask."
    assert lisa_query(" Which Car wins? ", True) == "Which Car wins? Please output segmentation mask."


def test_bf16_load_keeps_the_rotary_frequencies_in_float32(tmp_path):
    """LISA's transformers 4.31 built the RoPE cos/sin cache in float32 before ``model.bfloat16()``;
    rounding ``inv_freq`` to bf16 shifts phases by up to ~0.4 rad at position 300 (7B: 128-dim heads)."""
    model, tokenizer, config = tiny_lisa(0)
    save_lisa_checkpoint(model, config, tokenizer, tmp_path / "lisa", shards=1)
    save_clip(model, tmp_path / "clip")
    loaded, _ = load_lisa(tmp_path / "lisa", tmp_path / "clip", dtype="bf16")
    buffers = {n: b.dtype for n, b in loaded.named_buffers() if n.endswith("inv_freq")}
    assert buffers and set(buffers.values()) == {torch.float32}
    assert loaded.language_model.get_input_embeddings().weight.dtype == torch.bfloat16
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}


def test_sam_input_is_segment_anythings_resize_normalise_and_pad():
    """LISA: ResizeLongestSide(1024).apply_image (PIL bilinear via torchvision), then ValDataset.preprocess
    (normalise, zero-pad bottom/right) -- the same as upstream ``Sam.preprocess``."""
    from segment_anything.modeling import Sam
    from segment_anything.utils.transforms import ResizeLongestSide

    image = np.random.default_rng(0).integers(0, 256, (45, 70, 3), dtype=np.uint8)
    resized = ResizeLongestSide(64).apply_image(image)
    assert np.array_equal(resize_longest_side(image, 64), resized)
    fake = types.SimpleNamespace(pixel_mean=torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1),
                                 pixel_std=torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1),
                                 image_encoder=types.SimpleNamespace(img_size=64))
    expected = Sam.preprocess(fake, torch.from_numpy(resized).permute(2, 0, 1).float())
    ours, size = preprocess_frame(image, 64)
    assert size == resized.shape[:2] and torch.equal(ours, expected)


def test_mask_postprocessing_upcasts_like_lisas_vendored_sam():
    """LISA's sam.py postprocess_masks interpolates ``masks.float()`` (upstream keeps the dtype)."""
    from segment_anything.modeling import Sam

    model, _, _ = tiny_lisa(0)
    sam = model.sam
    low = torch.randn(1, 1, 16, 16).to(torch.bfloat16)
    fake = types.SimpleNamespace(image_encoder=types.SimpleNamespace(img_size=sam.img_size))
    expected = Sam.postprocess_masks(fake, low.float(), (40, 64), (30, 48))[:, 0]
    out = sam.postprocess(low, (40, 64), (30, 48))
    assert out.dtype == torch.float32 and torch.equal(out, expected)


# -- LISA against outputs of the original LISA code --------------------------------------------------
#
# tests/baselines/golden/lisa/ was written once by ``python perf/parity_lisa.py --official <checkout>
# --python <transformers 4.31.0 env> --write-golden tests/baselines/golden`` (versions.json): the
# original ``LISAForCausalLM`` (tiny widths: Llama 2x64, CLIP 224 px, SAM at 1024 px with patch 64)
# filled with ``tiny_weight`` values and saved by its own ``save_pretrained``, then run per frame
# through ``model_forward(inference=True)`` with ValDataset's prompt and preprocessing. The config
# and tokenizer files are the ones it wrote; weights are regenerated from ``shapes.json``.
# Tolerances as measured by the harness: ids exact, prompt 1e-5, logits 1e-6, masks exact.

LISA_GOLDEN = Path(__file__).parent / "golden" / "lisa"


@pytest.fixture(scope="module")
def lisa_golden(tmp_path_factory):
    import json

    from reasonvos.videolisa.tiny_weights import materialise

    meta = json.loads((LISA_GOLDEN / "versions.json").read_text())
    tmp = tmp_path_factory.mktemp("lisa-golden")
    ckpt = materialise(LISA_GOLDEN / "checkpoint", tmp / "checkpoint", meta["seed"])
    clip = materialise(LISA_GOLDEN / "clip", tmp / "clip", meta["seed"])
    model, tokenizer = load_lisa(ckpt, clip, dtype="fp32")
    arrays = dict(np.load(LISA_GOLDEN / "golden.npz"))
    frames = [arrays[f"frames/{i}"] for i in range(sum(k.startswith("frames/") for k in arrays))]
    return meta, model, tokenizer, arrays, frames


def test_lisa_writer_gives_the_keys_and_shapes_the_original_save_pretrained_wrote(lisa_golden):
    import json

    from reasonvos.videolisa.checkpoint import IGNORED_SUFFIXES, official_state_dict

    _, model, *_ = lisa_golden
    shapes = json.loads((LISA_GOLDEN / "checkpoint" / "shapes.json").read_text())
    # transformers 4.31 saved Llama's rotary ``inv_freq`` buffers; they are recomputed, not loaded
    ignored = {k for k in shapes if k.endswith(IGNORED_SUFFIXES)}
    assert ignored == {f"model.layers.{i}.self_attn.rotary_emb.inv_freq" for i in range(model.language_model.config.num_hidden_layers)}
    shapes = {k: v for k, v in shapes.items() if k not in ignored}
    assert {k: list(v.shape) for k, v in official_state_dict(model).items()} == shapes


def test_lisa_ids_prompts_logits_and_masks_match_the_original_in_both_video_modes(lisa_golden):
    from reasonvos.baselines.lisa import LisaSegmenter

    from reasonvos.benchmarks import registry

    meta, model, tokenizer, arrays, frames = lisa_golden
    assert {c["mode"] for c in meta["cases"].values()} == {"per-frame", "first-frame-token"}
    for name, case in meta["cases"].items():
        spec = registry.get(case["benchmark"])
        sample = types.SimpleNamespace(text=case["text"], kind=case["kind"])
        sentence = bool(spec.is_sentence(sample))
        assert sentence == case["sentence"], name  # the benchmark picks the original's template
        query = lisa_query(case["text"], sentence)
        ids = lisa_input_ids(lisa_prompt(query, model.use_im_start_end), tokenizer)
        assert ids == arrays[f"{name}/ids"].tolist(), name
        seg = LisaSegmenter(model, tokenizer, mode=case["mode"])
        prompt = model.image_prompt(frames[0], query, tokenizer)
        for i, frame in enumerate(frames):
            if case["mode"] == "per-frame":
                prompt = model.image_prompt(frame, query, tokenizer)
            np.testing.assert_allclose(prompt.numpy(), arrays[f"{name}/prompt_embedding"][i], rtol=0, atol=1e-5)
            emb, size = model.sam_embedding(frame)
            logits = model.sam.decode(emb, prompt, frame.shape[:2], size)[0]
            np.testing.assert_allclose(logits.numpy(), arrays[f"{name}/logits"][i], rtol=0, atol=1e-6)
        masks = np.stack(list(seg.segment_frames(frames, query, "golden")))
        np.testing.assert_array_equal(masks, arrays[f"{name}/logits"] > 0)
