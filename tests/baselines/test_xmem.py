"""XMem written here: official key names, strict weight loading, bidirectional and bounded propagation."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
F = torch.nn.functional

from reasonvos.baselines.xmem import (  # noqa: E402
    MemoryBank,
    XMemConfig,
    XMemPropagator,
    similarity,
    softmax_affinity,
)
from reasonvos.baselines.xmem_modules import (  # noqa: E402
    XMemNetwork,
    load_xmem_weights,
    parameter_count,
)

from reasonvos.errors import InputError  # noqa: E402

torch.set_num_threads(2)

SMALL = {"key_dim": 16, "value_dim": 32, "hidden_dim": 8}  # same key names, cheaper to save/run


class NotWeights:
    """An arbitrary pickled object: ``weights_only=True`` must refuse it."""


def _resnet_keys(net: torch.nn.Module, prefix: str, renames: dict[str, str]) -> set[str]:
    """Keys of a torchvision ResNet trunk (conv1, bn1, layer1..3) as the checkpoint names them."""
    keys = set()
    for k in net.state_dict():
        top = k.split(".")[0]
        if top in ("conv1", "bn1", "layer1", "layer2", "layer3"):
            keys.add(prefix + renames.get(top, top) + k[len(top):])
    return keys


def _conv(prefix: str) -> set[str]:
    return {f"{prefix}.weight", f"{prefix}.bias"}


def _res_block(prefix: str, downsample: bool) -> set[str]:
    keys = _conv(f"{prefix}.conv1") | _conv(f"{prefix}.conv2")
    return keys | (_conv(f"{prefix}.downsample") if downsample else set())


def _fusion(prefix: str) -> set[str]:
    att = f"{prefix}.attention"
    return (
        _res_block(f"{prefix}.block1", True) | _res_block(f"{prefix}.block2", False)
        | _conv(f"{att}.ChannelGate.mlp.1") | _conv(f"{att}.ChannelGate.mlp.3")
        | _conv(f"{att}.SpatialGate.spatial.conv")
    )


def official_xmem_keys() -> set[str]:
    """The key names of the official XMem.pth, from the documented architecture (docs/models.md#xmem-checkpoint-keys):
    ResNet-50 trunk with layer1 named ``res2``, ResNet-18 trunk, key projection, fusion blocks with
    CBAM, the sensory-memory GRUs and the two upsampling stages."""
    r50 = _resnet_keys(torchvision.models.resnet50(weights=None), "key_encoder.", {"layer1": "res2"})
    r18 = _resnet_keys(torchvision.models.resnet18(weights=None), "value_encoder.", {})
    r18 = {k for k in r18 if not k.startswith("value_encoder.conv1.")} | {"value_encoder.conv1.weight"}
    return (
        r50 | r18 | _fusion("value_encoder.fuser") | _conv("value_encoder.hidden_reinforce.transform")
        | _conv("key_proj.key_proj") | _conv("key_proj.d_proj") | _conv("key_proj.e_proj")
        | _fusion("decoder.fuser")
        | _conv("decoder.hidden_update.g16_conv") | _conv("decoder.hidden_update.g8_conv")
        | _conv("decoder.hidden_update.g4_conv") | _conv("decoder.hidden_update.transform")
        | _conv("decoder.up_16_8.skip_conv") | _res_block("decoder.up_16_8.out_conv", True)
        | _conv("decoder.up_8_4.skip_conv") | _res_block("decoder.up_8_4.out_conv", False)
        | _conv("decoder.pred")
    )


@pytest.fixture(scope="module")
def full_net() -> XMemNetwork:
    torch.manual_seed(0)
    return XMemNetwork()


@pytest.fixture(scope="module")
def small_net() -> XMemNetwork:
    torch.manual_seed(0)
    return XMemNetwork(**SMALL)


def test_state_dict_keys_equal_the_official_checkpoint_names(full_net):
    assert set(full_net.state_dict()) == official_xmem_keys()


def test_dimensions_and_size_match_xmem_pth(full_net):
    sd = full_net.state_dict()
    assert sd["key_proj.key_proj.weight"].shape[0] == 64
    assert sd["value_encoder.fuser.block2.conv2.weight"].shape[0] == 512
    assert sd["decoder.hidden_update.transform.weight"].shape[0] == 3 * 64
    assert sd["value_encoder.conv1.weight"].shape == (64, 5, 7, 7)
    assert round(parameter_count(full_net) / 1e6, 1) == 62.2  # docs/models.md#xmem-checkpoint-keys: 62.2 M parameters


def test_save_load_round_trip_through_the_real_loader(full_net, tmp_path):
    path = tmp_path / "XMem.pth"
    torch.save(full_net.state_dict(), path)
    loaded = load_xmem_weights(path)
    for k, v in full_net.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_dimensions_are_read_from_the_weights(small_net, tmp_path):
    torch.save(small_net.state_dict(), tmp_path / "small.pth")
    net = load_xmem_weights(tmp_path / "small.pth")
    assert (net.key_dim, net.value_dim, net.hidden_dim) == (16, 32, 8)


def test_single_object_conv1_is_zero_padded(small_net, tmp_path):
    sd = dict(small_net.state_dict())
    sd["value_encoder.conv1.weight"] = sd["value_encoder.conv1.weight"][:, :4].clone()
    torch.save(sd, tmp_path / "so.pth")
    w = load_xmem_weights(tmp_path / "so.pth").state_dict()["value_encoder.conv1.weight"]
    assert w.shape == (64, 5, 7, 7) and torch.count_nonzero(w[:, 4]) == 0


def test_missing_and_unexpected_keys_are_refused(small_net, tmp_path):
    sd = dict(small_net.state_dict())
    del sd["decoder.pred.bias"]
    sd["decoder.extra.weight"] = torch.zeros(1)
    torch.save(sd, tmp_path / "partial.pth")
    with pytest.raises(InputError) as e:
        load_xmem_weights(tmp_path / "partial.pth")
    msg = str(e.value)
    assert "partial.pth" in msg and "decoder.pred.bias" in msg and "decoder.extra.weight" in msg


def test_a_pickled_object_is_refused_by_weights_only(tmp_path):
    torch.save({"x": NotWeights()}, tmp_path / "evil.pth")
    with pytest.raises(InputError, match="evil.pth"):
        load_xmem_weights(tmp_path / "evil.pth")


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        XMemPropagator(tmp_path / "nope.pth", device="cpu")


# -- memory arithmetic -----------------------------------------------------------------------------


def test_similarity_is_the_weighted_negative_squared_distance():
    g = torch.Generator().manual_seed(0)
    mk, qk = torch.randn(1, 4, 5, generator=g), torch.randn(1, 4, 3, generator=g)
    ms, qe = torch.rand(1, 1, 5, generator=g) + 1, torch.rand(1, 4, 3, generator=g)
    sim = similarity(mk, ms, qk, qe)
    for n in range(5):
        for q in range(3):
            d = (qe[0, :, q] * (mk[0, :, n] - qk[0, :, q]) ** 2).sum()
            assert sim[0, n, q] == pytest.approx(float(-d * ms[0, 0, n] / 2), rel=1e-5)


def test_top_k_softmax_keeps_k_entries_per_query():
    sim = torch.randn(1, 50, 7, generator=torch.Generator().manual_seed(1))
    aff = softmax_affinity(sim, top_k=30)
    assert torch.allclose(aff.sum(1), torch.ones(1, 7))
    assert ((aff > 0).sum(1) == 30).all()


def test_long_term_memory_is_capped_and_consolidation_keeps_reference_frame():
    cfg = XMemConfig(max_mid_term_frames=4, min_mid_term_frames=2, num_prototypes=3,
                     max_long_term_elements=7)
    bank = MemoryBank(cfg)
    g = torch.Generator().manual_seed(2)
    first_key = None
    for _ in range(40):
        key = torch.randn(1, 8, 2, 2, generator=g)
        first_key = key.flatten(2) if first_key is None else first_key
        bank.add(key, torch.rand(1, 1, 2, 2, generator=g) + 1, torch.rand(1, 8, 2, 2, generator=g),
                 torch.randn(1, 1, 16, 2, 2, generator=g))
        bank.read(torch.randn(1, 8, 2, 2, generator=g), torch.rand(1, 8, 2, 2, generator=g))
        assert bank.work.size < cfg.max_mid_term_frames * 4
        assert bank.long.size <= cfg.max_long_term_elements
        assert torch.equal(bank.work.key[..., :4], first_key)  # the reference frame never leaves
    assert bank.long.size > 0


# -- propagation -----------------------------------------------------------------------------------


class SpyFrames:
    """A lazy frame loader that records which frames were read, in order."""

    def __init__(self, n: int, size: tuple[int, int], seed: int = 0) -> None:
        self.n, self.size, self.seed, self.reads = n, size, seed, []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.ndarray:
        self.reads.append(i)
        rng = np.random.default_rng(self.seed + i)
        return rng.integers(0, 256, (*self.size, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_propagator() -> XMemPropagator:
    cfg = XMemConfig(size=-1, max_long_term_elements=24, num_prototypes=4, **SMALL)
    return XMemPropagator(None, cfg, device="cpu", seed=0)


def _box(shape, y0, y1, x0, x1) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def test_propagation_runs_forward_then_backward_from_the_key_frame(tiny_propagator):
    frames = SpyFrames(7, (20, 28))
    key_mask = _box((20, 28), 4, 12, 5, 15)
    directions = []
    out = tiny_propagator.propagate(frames, 3, key_mask, on_direction=lambda d, o: directions.append(d))
    assert frames.reads == [3, 4, 5, 6, 3, 2, 1, 0]
    assert directions == ["forward", "backward"]
    assert len(out) == 7
    assert all(m.shape == (20, 28) and m.dtype == bool for m in out)
    assert np.array_equal(out[3], key_mask)  # the key frame's output is the given mask


def test_key_frame_at_either_end_runs_one_direction(tiny_propagator):
    frames = SpyFrames(4, (16, 16))
    tiny_propagator.propagate(frames, 0, _box((16, 16), 2, 9, 2, 9))
    assert frames.reads == [0, 1, 2, 3]
    frames = SpyFrames(4, (16, 16))
    tiny_propagator.propagate(frames, 3, _box((16, 16), 2, 9, 2, 9))
    assert frames.reads == [3, 2, 1, 0]


def test_preprocessing_resizes_the_shorter_side_and_outputs_original_size(tiny_propagator):
    prop = XMemPropagator.from_network(tiny_propagator.net, XMemConfig(size=32, **SMALL), "cpu")
    assert prop._target_size(20, 30) == (32, 48)
    assert prop._image(np.zeros((20, 30, 3), np.uint8), 0).shape == (3, 32, 48)
    out = prop.propagate(SpyFrames(3, (20, 30)), 1, _box((20, 30), 3, 10, 3, 10))
    assert [m.shape for m in out] == [(20, 30)] * 3


def test_bad_key_frame_and_mask_size_are_refused(tiny_propagator):
    with pytest.raises(InputError, match="key frame 9"):
        tiny_propagator.propagate(SpyFrames(3, (16, 16)), 9, np.zeros((16, 16), bool))
    with pytest.raises(InputError, match="key mask"):
        tiny_propagator.propagate(SpyFrames(3, (16, 16)), 0, np.zeros((8, 8), bool))


def test_memory_stays_bounded_over_500_frames():
    """The real network (ResNet trunks, small key/value widths) over 500 small frames: working memory
    stays under its cap and long-term memory is consolidated into its cap."""
    torch.manual_seed(0)
    net = XMemNetwork(key_dim=16, value_dim=32, hidden_dim=16)
    cfg = XMemConfig(size=-1, max_long_term_elements=24, num_prototypes=4, **SMALL)
    prop = XMemPropagator.from_network(net, cfg, "cpu")
    out = prop.propagate(SpyFrames(500, (32, 32)), 0, _box((32, 32), 8, 24, 8, 24))
    stats = prop.last_stats
    assert len(out) == 500
    assert stats.frame_elements == 4  # 32x32 at stride 16
    assert stats.memory_frames == 100  # the key frame + every 5th frame, none after the last
    assert stats.peak_working <= cfg.max_mid_term_frames * stats.frame_elements
    assert 0 < stats.peak_long_term <= cfg.max_long_term_elements


def test_long_term_memory_engages_with_the_real_network(tiny_propagator):
    cfg = XMemConfig(size=-1, mem_every=1, max_long_term_elements=6, num_prototypes=2, **SMALL)
    prop = XMemPropagator.from_network(tiny_propagator.net, cfg, "cpu")
    out = prop.propagate(SpyFrames(30, (16, 16)), 0, _box((16, 16), 4, 12, 4, 12))
    stats = prop.last_stats
    assert len(out) == 30 and stats.frame_elements == 1
    assert stats.peak_working <= cfg.max_mid_term_frames
    assert 0 < stats.peak_long_term <= cfg.max_long_term_elements


def test_checkpoints_without_sensory_memory_load_and_run(tmp_path):
    torch.manual_seed(0)
    net = XMemNetwork(key_dim=16, value_dim=32, hidden_dim=0)
    assert not any(k.startswith(("decoder.hidden_update.", "value_encoder.hidden_reinforce."))
                   for k in net.state_dict())
    torch.save(net.state_dict(), tmp_path / "nohidden.pth")
    prop = XMemPropagator(tmp_path / "nohidden.pth", XMemConfig(size=-1), device="cpu")
    assert prop.config.hidden_dim == 0 and prop.config.value_dim == 32  # read from the weights
    out = prop.propagate(SpyFrames(3, (16, 16)), 0, _box((16, 16), 2, 9, 2, 9))
    assert len(out) == 3
