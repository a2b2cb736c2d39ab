"""Checkpoint loading: a folder in the ZechenBai/VideoLISA-3.8B layout (llava_phi config.json,
legacy rope keys, tokenizer files, safetensors or .bin shards with an index), written by the test
in the official key layout and read back through the real loader; partial loads are refused."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reasonvos.videolisa.checkpoint import (  # noqa: E402
    load_videolisa,
    official_state_dict,
    resolve_checkpoint,
    save_checkpoint,
    save_clip,
)
from reasonvos.videolisa.prompts import phi3_prompt  # noqa: E402
from reasonvos.videolisa.tiny import tiny_config, tiny_videolisa  # noqa: E402
from reasonvos.videolisa.tokenizer import tokenize_with_image  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from reasonvos.errors import InputError, MissingFileError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    model, tok = tiny_videolisa(3)
    save_checkpoint(model, tiny_config(len(tok)), tok, root / "videolisa", shards=2)
    save_clip(model, root / "clip")
    return model, tok, root


def outputs(model, tok):
    """Prompt embedding and mask logits of a fixed input: equal outputs = equal weights in use."""
    frames = [np.random.default_rng(i).integers(0, 255, (20, 30, 3), dtype=np.uint8) for i in range(32)]
    tokens = model.frame_tokens(model.clip_pixels(frames))
    visual = model.sparse_dense_tokens(tokens, [3, 10, 18, 26])
    prompt = model.prompt_embedding(tokenize_with_image(phi3_prompt("the cat"), tok), visual)
    x, size = model.sam.preprocess(frames[0])
    logits = model.sam.decode(model.sam.encode_images(x[None]), prompt, (20, 30), size)
    return prompt, logits


def test_layout_is_the_official_one(written):
    model, _, root = written
    folder = root / "videolisa"
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llava_phi" and config["train_mask_decoder"] is True
    assert "rope_theta" in config and "rope_parameters" not in config
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    keys = set(index["weight_map"])
    assert {"model.embed_tokens.weight", "lm_head.weight", "model.layers.0.self_attn.qkv_proj.weight",
            "model.layers.0.mlp.gate_up_proj.weight", "model.mm_projector.0.weight", "model.mm_projector.2.bias",
            "model.text_hidden_fcs.0.0.weight", "model.text_hidden_fcs.0.2.weight",
            "model.visual_model.image_encoder.pos_embed",
            "model.visual_model.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix",
            "model.visual_model.mask_decoder.iou_token.weight"} <= keys
    assert not any("vision_tower" in k for k in keys)  # CLIP is not in the release
    assert len(set(index["weight_map"].values())) == 2


def test_loads_through_stock_classes_and_reproduces_the_model(written):
    model, tok, root = written
    loaded, ltok = load_videolisa(root / "videolisa", root / "clip", dtype="fp32")
    assert type(loaded.language_model).__name__ == "Phi3ForCausalLM"
    assert loaded.language_model.config._attn_implementation == "sdpa"
    assert loaded.language_model.config.sliding_window == model.language_model.config.sliding_window
    assert ltok.convert_tokens_to_ids("[SEG]") == loaded.seg_token_id == model.seg_token_id
    for a, b in zip(outputs(model, tok), outputs(loaded, ltok), strict=True):
        assert torch.equal(a, b)


def test_bf16_load_runs(written):
    _, _, root = written
    loaded, tok = load_videolisa(root / "videolisa", root / "clip", dtype="bf16")
    assert loaded.dtype == torch.bfloat16 and loaded.sam.dtype == torch.bfloat16
    rotary = loaded.language_model.model.rotary_emb
    assert rotary.inv_freq.dtype == torch.float32  # RoPE frequencies are never rounded to bf16
    assert torch.equal(rotary.inv_freq, written[0].language_model.model.rotary_emb.inv_freq)
    prompt, logits = outputs(loaded, tok)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()


def test_pytorch_bin_single_file_loads(tmp_path, written):
    model, tok, root = written
    save_checkpoint(model, tiny_config(len(tok)), tok, tmp_path / "bin", fmt="bin")
    assert (tmp_path / "bin" / "pytorch_model.bin").is_file()
    loaded, ltok = load_videolisa(tmp_path / "bin", root / "clip", dtype="fp32")
    assert torch.equal(outputs(model, tok)[1], outputs(loaded, ltok)[1])


def rewrite_without(folder, key):
    for shard in folder.glob("model-*.safetensors"):
        state = load_file(str(shard))
        if key in state:
            del state[key]
            save_file(state, str(shard), metadata={"format": "pt"})
            return
    raise AssertionError(key)


@pytest.mark.parametrize("key", ["model.visual_model.mask_decoder.iou_token.weight",
                                 "model.layers.1.mlp.down_proj.weight", "model.text_hidden_fcs.0.2.bias"])
def test_a_missing_key_is_refused_and_named(tmp_path, written, key):
    model, tok, root = written
    folder = save_checkpoint(model, tiny_config(len(tok)), tok, tmp_path / "partial", shards=2)
    rewrite_without(folder, key)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    del index["weight_map"][key]
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match="refusing a partial load.*missing keys") as err:
        load_videolisa(folder, root / "clip", dtype="fp32")
    assert key in str(err.value)


def test_an_unexpected_key_is_refused(tmp_path, written):
    model, tok, root = written
    folder = save_checkpoint(model, tiny_config(len(tok)), tok, tmp_path / "extra")
    state = load_file(str(folder / "model.safetensors"))
    state["model.visual_model.mask_decoder.extra_head.weight"] = torch.zeros(2)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(InputError, match="unexpected keys: model.visual_model.mask_decoder.extra_head.weight"):
        load_videolisa(folder, root / "clip", dtype="fp32")


def test_a_non_videolisa_config_and_missing_weights_are_refused(tmp_path, written):
    model, tok, root = written
    folder = save_checkpoint(model, tiny_config(len(tok)), tok, tmp_path / "cfg")
    config = json.loads((folder / "config.json").read_text())
    del config["out_dim"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="missing out_dim"):
        load_videolisa(folder, root / "clip", dtype="fp32")
    config["out_dim"] = 32
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").unlink()
    with pytest.raises(MissingFileError, match="no model.safetensors"):
        load_videolisa(folder, root / "clip", dtype="fp32")


def test_official_state_dict_has_no_clip_and_no_rotary_buffers(written):
    model, _, _ = written
    keys = official_state_dict(model).keys()
    assert not any("vision_tower" in k or "inv_freq" in k for k in keys)


def test_hub_ids_resolve_from_the_local_cache_only(tmp_path, monkeypatch, written):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(MissingFileError, match="not in the Hugging Face cache"):
        resolve_checkpoint("ZechenBai/VideoLISA-3.8B")
    # a cache entry in huggingface_hub's layout: refs/main -> snapshots/<commit>/
    repo = tmp_path / "hub" / "models--ZechenBai--VideoLISA-3.8B"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    assert resolve_checkpoint("ZechenBai/VideoLISA-3.8B") == repo / "snapshots" / commit
    with pytest.raises(MissingFileError, match="checkpoint folder not found"):
        resolve_checkpoint(tmp_path / "no" / "such" / "dir")


def test_released_shapes_match_the_documented_key_layout():
    from reasonvos.videolisa.model import VideoLisa, released_config

    with torch.device("meta"):  # shapes only, no memory
        model = VideoLisa.from_config(released_config(), seg_token_id=32011)
    shapes = {k: tuple(v.shape) for k, v in official_state_dict(model).items()}
    assert shapes["model.layers.31.self_attn.qkv_proj.weight"] == (9216, 3072)
    assert shapes["model.layers.0.mlp.gate_up_proj.weight"] == (16384, 3072)
    assert shapes["model.layers.0.mlp.down_proj.weight"] == (3072, 8192)
    assert shapes["model.mm_projector.0.weight"] == (3072, 1024)
    assert shapes["model.mm_projector.2.weight"] == (3072, 3072)
    assert shapes["model.text_hidden_fcs.0.2.weight"] == (256, 3072)
    assert shapes["model.visual_model.image_encoder.pos_embed"] == (1, 64, 64, 1280)
    assert not any(k.startswith("model.layers.32.") or "image_encoder.blocks.32." in k for k in shapes)
    assert model.vision_tower.embeddings.num_patches == 576  # CLIP ViT-L/14-336: tokens per dense frame
