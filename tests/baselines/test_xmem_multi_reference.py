"""XMem2-style multi-reference propagation (VideoLISA's post-optimisation) in our XMem, and the
guarantee that the single-reference XMem path did not move by a single bit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from reasonvos.baselines import xmem  # noqa: E402
from reasonvos.baselines.xmem import (  # noqa: E402
    EmptyReferencesError,
    MemoryBank,
    XMemConfig,
    XMemCore,
    XMemPropagator,
    softmax_affinity,
    xmem2_config,
)
from reasonvos.baselines.xmem_modules import XMemNetwork  # noqa: E402

from reasonvos.errors import InputError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "data" / "xmem_single_ref_golden.npz"
SMALL = {"key_dim": 16, "value_dim": 32, "hidden_dim": 8}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _golden_script():
    spec = importlib.util.spec_from_file_location("golden_xmem_single_ref", ROOT / "perf" / "golden_xmem_single_ref.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def net() -> XMemNetwork:
    torch.manual_seed(0)
    return XMemNetwork(**SMALL).eval()


@pytest.fixture(scope="module")
def video():
    return _golden_script().frames(12, 16, 24, seed=3)


def _box(shape, y0, y1, x0, x1) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def _prop(net, **cfg) -> XMemPropagator:
    return XMemPropagator.from_network(net, xmem2_config(size=-1, **SMALL, **cfg), "cpu")


# -- the single-reference path is unchanged -----------------------------------------------------


def test_single_reference_path_is_bit_identical_to_the_code_before_xmem2():
    """Probabilities (with consolidation and eviction) and bidirectional masks, compared exactly with
    arrays the pre-XMem2 code wrote (perf/golden_xmem_single_ref.py)."""
    golden = np.load(GOLDEN)
    now = _golden_script().compute(xmem)
    masks = np.unpackbits(golden["masks"], axis=-1, count=int(golden["mask_shape"][-1])).astype(bool)
    assert np.array_equal(now["masks"], masks)
    assert np.array_equal(now["probs"], golden["probs"])
    assert 0.05 < masks.mean() < 0.95  # not a trivially empty or full case


# -- multi-reference propagation ------------------------------------------------------------------


def test_xmem2_defaults_differ_from_xmem_only_in_mem_every():
    assert xmem2_config().mem_every == 10 and XMemConfig().mem_every == 5
    assert {k: v for k, v in xmem2_config().as_dict().items() if k != "mem_every"} == \
           {k: v for k, v in XMemConfig().as_dict().items() if k != "mem_every"}


def test_references_at_first_middle_and_last_frames_output_their_own_masks(net, video):
    refs = {0: _box((16, 24), 2, 9, 3, 12), 6: _box((16, 24), 5, 14, 8, 20), 11: _box((16, 24), 0, 6, 0, 6)}
    prop = _prop(net)
    out = prop.propagate_refs(video, refs)
    assert len(out) == 12 and all(m.shape == (16, 24) and m.dtype == bool for m in out)
    for t, mask in refs.items():  # at the working resolution the round trip is exact
        assert np.array_equal(out[t], mask)
    info = prop.last_stats.per_direction[0]
    assert info["references"] == info["preloaded"] == [0, 6, 11]
    assert info["peak_permanent"] == 3 * info["frame_elements"]
    # references are not stored again and restart the mem_every (10) count: frame 10 is not 10
    # frames after the reference at 6, so no working-memory frame at all
    assert prop.last_stats.memory_frames == 0
    with_gap = prop.propagate_refs(video, {0: refs[0]})  # 0, then frame 10 is a memory frame
    assert len(with_gap) == 12 and prop.last_stats.memory_frames == 1


def test_reference_output_goes_through_the_working_resolution_round_trip(net, video):
    """At 8 px working size the reference comes back resampled (nearest down, bilinear up), as XMem2's does."""
    prop = XMemPropagator.from_network(net, xmem2_config(size=8, **SMALL), "cpu")
    ref = _box((16, 24), 3, 10, 5, 13)
    out = prop.propagate_refs(video, {4: ref})
    assert out[4].shape == ref.shape and not np.array_equal(out[4], ref)
    assert (out[4] & ref).sum() > 0.5 * ref.sum()


def test_frames_before_the_first_reference_are_segmented_from_permanent_memory(net, video):
    prop = _prop(net)
    core_steps = []
    original = XMemCore.step

    def spy(self, image, mask=None, end=False):
        core_steps.append((self.t + 1, mask is not None, self.memory.permanent.size))
        return original(self, image, mask, end)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(XMemCore, "step", spy)
        prop.propagate_refs(video, {5: _box((16, 24), 2, 9, 3, 12)})
    assert [t for t, has_mask, _ in core_steps if has_mask] == [5]
    assert all(perm > 0 for _, _, perm in core_steps)  # preloaded before frame 0 is segmented


def test_permanent_memory_survives_consolidation_and_eviction(net):
    cfg = xmem2_config(size=-1, mem_every=1, max_mid_term_frames=4, min_mid_term_frames=2,
                       num_prototypes=2, max_long_term_elements=5, **SMALL)
    vid = _golden_script().frames(30, 16, 16, seed=4)
    prop = XMemPropagator.from_network(net, cfg, "cpu")
    core = XMemCore(net, cfg, references=True)
    refs = {0: _box((16, 16), 2, 9, 3, 12), 20: _box((16, 16), 5, 14, 4, 12)}
    with torch.inference_mode():
        for t, m in refs.items():
            image = prop._image(vid[t], t)
            core.preload(image, prop._mask(m, tuple(image.shape[-2:])))
        kept = core.memory.permanent.key.clone()
        peak_long = 0
        for t, frame in enumerate(vid):
            image = prop._image(frame, t)
            mask = prop._mask(refs[t], tuple(image.shape[-2:])) if t in refs else None
            core.step(image, mask, end=t == len(vid) - 1)
            assert core.memory.work.size < cfg.max_mid_term_frames  # 1 element per 16x16 frame
            peak_long = max(peak_long, core.memory.long.size)
    assert 0 < peak_long <= cfg.max_long_term_elements  # consolidation and eviction happened
    assert torch.equal(core.memory.permanent.key, kept)  # ... and never touched the references


def test_xmem2_consolidation_keeps_only_the_newest_frames():
    """XMem2's window: every working frame but the newest min_mid_term_frames is a candidate (XMem
    spares its reference frame, the first one, and keeps one frame fewer)."""
    cfg = XMemConfig(max_mid_term_frames=4, min_mid_term_frames=2, num_prototypes=1, max_long_term_elements=9)
    g = torch.Generator().manual_seed(0)
    banks = {"xmem": MemoryBank(cfg), "xmem2": MemoryBank(cfg, permanent=True)}
    keys = [torch.randn(1, 8, 1, 1, generator=g) for _ in range(4)]
    for bank in banks.values():
        if bank.permanent is not None:
            bank.add_permanent(torch.randn(1, 8, 1, 1), torch.ones(1, 1, 1, 1), torch.randn(1, 1, 16, 1, 1))
        for k in keys:
            bank.add(k, torch.ones(1, 1, 1, 1), torch.rand(1, 8, 1, 1), torch.randn(1, 1, 16, 1, 1))
    assert torch.equal(banks["xmem"].work.key, torch.cat([keys[0], keys[3]], -1).flatten(2))
    assert torch.equal(banks["xmem2"].work.key, torch.cat([keys[2], keys[3]], -1).flatten(2))
    assert banks["xmem2"].permanent.size == 1


# -- empty references, sizes ----------------------------------------------------------------------


def test_empty_references_follow_the_mask_mapper_in_ascending_order(net, video):
    """An empty reference before the first non-empty one is skipped; a later one is a
    background-only reference. Both output an empty mask on their frame."""
    empty = np.zeros((16, 24), bool)
    prop = _prop(net)
    out = prop.propagate_refs(video, {9: empty, 1: empty, 4: _box((16, 24), 2, 9, 3, 12)})
    info = prop.last_stats.per_direction[0]
    assert info["references"] == [1, 4, 9] and info["preloaded"] == [4, 9]
    assert not out[1].any() and not out[9].any()


def test_all_references_empty_is_its_own_error(net, video):
    with pytest.raises(EmptyReferencesError, match="all 2 reference masks are empty"):
        _prop(net).propagate_refs(video, {0: np.zeros((16, 24), bool), 5: np.zeros((16, 24), np.uint8)})


def test_non_zero_is_foreground_whatever_the_encoding(net, video):
    """0/255 and Ref-DAVIS's raw 0/100 masks give the same propagation."""
    ref = _box((16, 24), 2, 9, 3, 12)
    a = _prop(net).propagate_refs(video, {3: ref.astype(np.uint8) * 255})
    b = _prop(net).propagate_refs(video, {3: ref.astype(np.uint8) * 100})
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_mixed_frame_sizes_and_bad_references_are_refused(net, video):
    prop = _prop(net)
    ref = _box((16, 24), 2, 9, 3, 12)
    mixed = list(video[:3]) + [np.zeros((20, 24, 3), np.uint8)]
    with pytest.raises(InputError, match="frame 3 is 20x24 but frame 0 is 16x24"):
        prop.propagate_refs(mixed, {0: ref})
    with pytest.raises(InputError, match="reference frame 12 is outside"):
        prop.propagate_refs(video, {12: ref})
    with pytest.raises(InputError, match="reference mask of frame 2 is 8x8"):
        prop.propagate_refs(video, {2: np.ones((8, 8), bool)})
    with pytest.raises(InputError, match="at least one reference"):
        prop.propagate_refs(video, {})


def test_one_frame_video_with_its_reference(net, video):
    out = _prop(net).propagate_refs(video[:1], {0: _box((16, 24), 2, 9, 3, 12)})
    assert len(out) == 1 and np.array_equal(out[0], _box((16, 24), 2, 9, 3, 12))


# -- the original's softmax on demand -------------------------------------------------------------


def test_exact_softmax_is_the_unstable_formula_with_the_stable_one_only_where_it_fails():
    g = torch.Generator().manual_seed(0)
    sim = torch.randn(1, 40, 6, generator=g) * 3
    sim[..., 4] -= 1e4  # every exp underflows to 0: the original gives 0/0 = NaN here
    sim[..., 5] += 1e3  # overflow to inf: inf/inf = NaN
    exact = softmax_affinity(sim, 30, exact=True)
    values, indices = torch.topk(sim, 30, dim=1)
    naive = values.exp() / values.exp().sum(1, keepdim=True)
    assert torch.equal(exact.gather(1, indices)[..., :4], naive[..., :4])  # bit for bit where finite
    assert torch.isnan(naive[..., 4:]).all()
    stable = softmax_affinity(sim, 30)
    assert torch.equal(exact[..., 4:], stable[..., 4:])
    assert torch.allclose(exact, stable, atol=1e-6)  # the two formulas agree numerically
    assert XMemConfig().exact_softmax is False  # the stable one is the default


def test_exact_softmax_without_top_k_subtracts_the_maximum():
    sim = torch.tensor([[[1000.0, 0.0], [1001.0, 1.0]]])
    out = softmax_affinity(sim, None, exact=True)
    e = torch.exp(sim - sim.max(1, keepdim=True).values)
    assert torch.equal(out, e / e.sum(1, keepdim=True))
