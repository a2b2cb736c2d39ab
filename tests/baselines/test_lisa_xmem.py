"""LISA+XMem: key-frame choice, the empty-mask policy, the infer command end to end, Cutie option."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("segment_anything")
pytest.importorskip("sentencepiece")

from reasonvos.baselines.lisa_xmem import (  # noqa: E402
    LisaXMemSegmenter,
    candidate_frames,
    mask_confidence,
    parse_key_frame,
)
from writers.reasonvos import write_reasonvos  # noqa: E402

from reasonvos.benchmarks.registry import load_benchmark  # noqa: E402
from reasonvos.cli import main  # noqa: E402
from reasonvos.errors import InputError  # noqa: E402
from reasonvos.inference.runner import RUN_INFO_NAME, is_complete  # noqa: E402

torch.set_num_threads(2)

SIZE = (12, 16)


class FakeLisa:
    """Stands in for LisaSegmenter: frame i's mask is given by ``found`` (confidence per frame)."""

    def __init__(self, confidence: dict[int, float]) -> None:
        self.confidence = confidence
        self.asked: list[int] = []

    def frame_logits(self, frame: np.ndarray, query: str, key=None) -> torch.Tensor:
        i = int(frame[0, 0, 0])
        self.asked.append(i)
        c = self.confidence.get(i, 0.0)
        logits = torch.full(SIZE, -5.0)
        if c > 0:
            logits[2:6, 2:6] = float(np.log(c / (1 - c)))
        return logits

    def frame_mask(self, frame: np.ndarray, query: str, key=None) -> np.ndarray:
        return (self.frame_logits(frame, query) > 0).numpy()

    def describe(self) -> dict:
        return {"name": "fake-lisa"}


class SpyPropagator:
    name = "xmem"

    def __init__(self) -> None:
        self.calls: list[tuple[int, np.ndarray]] = []

    def propagate(self, frames, key_frame, key_mask):
        self.calls.append((key_frame, key_mask))
        return [key_mask.copy() for _ in range(len(frames))]

    def describe(self) -> dict:
        return {"propagator": self.name}


def video(n: int) -> list[np.ndarray]:
    """Frame i is filled with the value i, so the fake LISA knows which frame it sees."""
    return [np.full((*SIZE, 3), i, np.uint8) for i in range(n)]


def run(key_frame, confidence, n=7, policy="empty", candidates=3):
    lisa, prop = FakeLisa(confidence), SpyPropagator()
    seg = LisaXMemSegmenter(lisa, prop, key_frame=key_frame, empty_policy=policy, best_candidates=candidates)
    masks = list(seg.segment_frames(video(n), "q", "vid"))
    return seg, lisa, prop, masks


# -- key frame -------------------------------------------------------------------------------------


def test_key_frame_first_as_in_the_paper():
    seg, lisa, prop, masks = run("first", {0: 0.9, 3: 0.99})
    assert lisa.asked == [0] and prop.calls[0][0] == 0 and len(masks) == 7
    assert seg.key_frames["vid"] == 0


def test_key_frame_middle_and_index():
    assert run("middle", {3: 0.9})[2].calls[0][0] == 3
    assert run("5", {5: 0.9})[2].calls[0][0] == 5


def test_key_frame_index_beyond_the_video_is_an_input_error():
    with pytest.raises(InputError, match="beyond video"):
        run(9, {0: 0.9})


def test_best_key_frame_is_the_most_confident_candidate():
    seg, lisa, prop, _ = run("best", {0: 0.6, 3: 0.95, 6: 0.7}, candidates=3)
    assert lisa.asked == [0, 3, 6] and prop.calls[0][0] == 3


def test_empty_key_mask_gives_empty_masks_without_tracking():
    seg, lisa, prop, masks = run("first", {4: 0.9})
    assert prop.calls == [] and seg.key_frames["vid"] is None
    assert len(masks) == 7 and not any(m.any() for m in masks)
    assert seg.describe()["empty_key_mask_policy"] == "empty"


def test_next_policy_tries_the_following_frames_then_the_preceding_ones():
    seg, lisa, prop, _ = run("middle", {1: 0.9}, policy="next")
    assert lisa.asked == [3, 4, 5, 6, 2, 1] and prop.calls[0][0] == 1


def test_key_frame_helpers():
    assert parse_key_frame("first") == "first" and parse_key_frame("12") == 12
    with pytest.raises(ValueError):
        parse_key_frame("last")
    assert candidate_frames(10, 4) == [0, 3, 6, 9] and candidate_frames(3, 5) == [0, 1, 2]
    assert mask_confidence(torch.full((2, 2), -1.0)) == 0.0
    assert mask_confidence(torch.tensor([[0.0, 2.0], [-1.0, 2.0]])) == pytest.approx(float(torch.sigmoid(torch.tensor(2.0))))


def test_rows_made_with_cutie_are_named_lisa_cutie():
    prop = SpyPropagator()
    prop.name = "cutie"
    assert LisaXMemSegmenter(FakeLisa({}), prop).name == "lisa-cutie"


# -- end to end through `reasonvos infer` -----------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("rv")
    write_reasonvos(root)
    return root / "ReasonVOS"


def test_infer_lisa_xmem_tiny_random_writes_a_folder_the_scorer_accepts(fixture_root, tmp_path):
    out = tmp_path / "pred"
    rc = main(["infer", "lisa-xmem", "--benchmark", "reasonvos", "--root", str(fixture_root), "--out", str(out),
               "--tiny-random", "0", "--dtype", "fp32", "--device", "cpu", "--propagation-size", "-1",
               "--key-frame", "middle", "--quiet"])
    assert rc == 0
    bench = load_benchmark("reasonvos", fixture_root)
    assert all(is_complete(bench, s, out) for s in bench.samples)
    info = json.loads((out / RUN_INFO_NAME).read_text())["model"]
    assert info["name"] == "lisa-xmem" and info["key_frame"] == "middle" and info["propagator"] == "xmem"
    assert info["empty_key_mask_policy"] == "empty"
    evaluators = pytest.importorskip("reasonvos.evaluators")
    results = evaluators.score(bench, out, missing="error")
    assert len(results.per_sample) == len(bench.samples)
    assert 0.0 <= results.summary["J&F"] <= 1.0


def test_infer_lisa_tiny_random_per_frame(fixture_root, tmp_path):
    out = tmp_path / "pred"
    rc = main(["infer", "lisa", "--benchmark", "reasonvos", "--root", str(fixture_root), "--out", str(out),
               "--tiny-random", "0", "--dtype", "fp32", "--device", "cpu", "--mode", "first-frame-token",
               "--quiet"])
    assert rc == 0
    bench = load_benchmark("reasonvos", fixture_root)
    assert all(is_complete(bench, s, out) for s in bench.samples)
    assert json.loads((out / RUN_INFO_NAME).read_text())["model"]["mode"] == "first-frame-token"


def test_missing_weights_are_clear_one_line_errors(fixture_root, tmp_path, capsys):
    common = ["infer", "lisa-xmem", "--benchmark", "reasonvos", "--root", str(fixture_root),
              "--out", str(tmp_path / "p"), "--device", "cpu"]
    assert main(common) == 1
    assert "--xmem-weights" in capsys.readouterr().err
    assert main([*common, "--xmem-weights", str(tmp_path / "XMem.pth")]) == 1
    assert "XMem.pth: XMem weights file not found" in capsys.readouterr().err
    assert main([*common, "--propagator", "cutie"]) == 1
    assert "--cutie-weights" in capsys.readouterr().err


# -- Cutie (optional propagator) --------------------------------------------------------------------


def test_cutie_propagator_loads_strictly_and_propagates_both_ways(tmp_path):
    pytest.importorskip("omegaconf")
    pytest.importorskip("cutie.model.cutie")
    from reasonvos.baselines.cutie import (
        CutieConfig,
        CutiePropagator,
        build_cutie_network,
        cutie_config,
        load_cutie_weights,
    )

    config = CutieConfig(max_internal_size=-1, top_k=4)
    torch.manual_seed(0)
    state = build_cutie_network(cutie_config(config)).state_dict()
    torch.save(state, tmp_path / "cutie.pth")
    prop = CutiePropagator(tmp_path / "cutie.pth", config, device="cpu")
    frames = [np.random.default_rng(i).integers(0, 256, (32, 48, 3), dtype=np.uint8) for i in range(3)]
    key = np.zeros((32, 48), bool)
    key[4:20, 6:30] = True
    out = prop.propagate(frames, 1, key)
    assert [m.shape for m in out] == [(32, 48)] * 3 and np.array_equal(out[1], key)

    del state["pixel_encoder.conv1.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(InputError, match=r"missing keys: pixel_encoder\.conv1\.weight"):
        load_cutie_weights(prop.net, tmp_path / "partial.pth")
