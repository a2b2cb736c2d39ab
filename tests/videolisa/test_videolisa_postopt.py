"""VideoLISA post-optimisation (``--post-optimize xmem2``) with tiny random VideoLISA and XMem on
the embedded sample: refined masks in the benchmark's layout, the unrefined ones kept on request,
the run's identity and notes, the policies for empty references and mixed frame sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("segment_anything")

from reasonvos.baselines.xmem import XMemPropagator, xmem2_config  # noqa: E402
from reasonvos.videolisa.postopt import UNREFINED_EMPTY, XMem2PostOptimizer, reference_frames  # noqa: E402
from reasonvos.videolisa.segmenter import VideoLisaSegmenter  # noqa: E402
from reasonvos.videolisa.tiny import tiny_videolisa  # noqa: E402

from reasonvos import load_benchmark  # noqa: E402
from reasonvos.cli import main  # noqa: E402
from reasonvos.demo.render import write_sample_benchmark  # noqa: E402
from reasonvos.demo.scenes import sample_scenes  # noqa: E402
from reasonvos.errors import InputError  # noqa: E402
from reasonvos.inference.runner import RUN_INFO_NAME, is_complete, read_notes  # noqa: E402
from reasonvos.masks import read_binary_png  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ["--tiny-random", "0", "--dtype", "fp32", "--device", "cpu", "--quiet"]
POST = ["--post-optimize", "xmem2", "--propagation-size", "-1"]


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    """The shortest video of the embedded sample with all its instructions."""
    scene = min(sample_scenes(), key=lambda s: len(s.frames))
    return write_sample_benchmark(tmp_path_factory.mktemp("sample"), [scene])


def infer(root, out, *extra) -> int:
    return main(["infer", "videolisa", "--benchmark", "reasonvos", "--root", str(root), "--out", str(out),
                 *TINY, *extra])


def masks_of(bench, sample, folder) -> list[np.ndarray]:
    return [read_binary_png(folder / bench.prediction_path(sample, f)) for f in bench.prediction_frames(sample)]


@pytest.fixture(scope="module")
def postopt_run(sample_root, tmp_path_factory):
    work = tmp_path_factory.mktemp("run")
    assert infer(sample_root, work / "pred", *POST, "--keep-raw", str(work / "raw")) == 0
    return work


def test_refined_and_unrefined_masks_are_written_in_the_benchmark_layout_and_score(sample_root, postopt_run,
                                                                                  tmp_path):
    bench = load_benchmark("reasonvos", sample_root)
    for folder in ("pred", "raw"):
        assert all(is_complete(bench, s, postopt_run / folder) for s in bench.samples)
    results = tmp_path / "results.json"
    assert main(["score", "reasonvos", "--root", str(sample_root), "--pred", str(postopt_run / "pred"),
                 "--workers", "1", "--method", "videolisa-xmem2", "--json", str(results), "--quiet"]) == 0
    summary = json.loads(results.read_text())["summary"]
    assert summary["missing_frames"] == 0 and summary["n_samples"] == len(bench.samples)
    # the results say what the run noted: how many samples were refined or kept unrefined, and which
    notes = read_notes(postopt_run / "pred")
    counted = summary["inference_notes"]["counts"]["post_optimize"]
    assert counted == {v: sum(n["post_optimize"] == v for n in notes.values()) for v in counted}
    for value, keys in summary["inference_notes"]["first"]["post_optimize"].items():
        assert all(notes[k]["post_optimize"] == value for k in keys)


def test_refined_masks_keep_videolisas_masks_at_the_reference_frames(sample_root, postopt_run):
    """At the working resolution (-1) a reference frame outputs its own mask; elsewhere XMem2's
    propagation replaces VideoLISA's masks; unrefined samples keep every raw mask."""
    bench = load_benchmark("reasonvos", sample_root)
    notes = read_notes(postopt_run / "pred")
    assert set(notes) == {s.key for s in bench.samples}
    changed = 0
    for s in bench.samples:
        refined, raw = masks_of(bench, s, postopt_run / "pred"), masks_of(bench, s, postopt_run / "raw")
        refs = reference_frames(len(raw), 32, [3, 10, 18, 26])
        assert notes[s.key]["references"] == refs
        if notes[s.key]["post_optimize"] == UNREFINED_EMPTY:
            assert not any(raw[t].any() for t in refs)
            assert all(np.array_equal(a, b) for a, b in zip(refined, raw, strict=True))
        else:
            assert notes[s.key]["post_optimize"] == "refined"
            assert all(np.array_equal(refined[t], raw[t]) for t in refs)
            changed += sum(not np.array_equal(a, b) for a, b in zip(refined, raw, strict=True))
    assert changed > 0  # propagation did replace masks somewhere


def test_the_manifest_names_the_variant_and_counts_the_notes(postopt_run):
    manifest = json.loads((postopt_run / "pred" / RUN_INFO_NAME).read_text())
    assert manifest["options"]["post_optimize"] == "xmem2"
    assert manifest["model"]["name"] == "videolisa-xmem2"
    assert manifest["model"]["xmem_config"]["mem_every"] == 10
    counts = manifest["sample_notes"]["post_optimize"]
    assert sum(counts.values()) == len(read_notes(postopt_run / "pred"))
    raw_manifest = json.loads((postopt_run / "raw" / RUN_INFO_NAME).read_text())
    assert raw_manifest["predictions"] == "unrefined"


def test_resuming_a_plain_run_with_post_optimisation_is_refused(sample_root, postopt_run, capsys):
    assert infer(sample_root, postopt_run / "pred") == 1
    assert "--post-optimize xmem2 -> none" in capsys.readouterr().err
    assert infer(sample_root, postopt_run / "pred", *POST, "--keep-raw", str(postopt_run / "raw")) == 0  # resumes


@pytest.mark.parametrize("flags, message", [
    (["--xmem-weights", "XMem.pth"], "--xmem-weights) needs --post-optimize xmem2"),
    (["--keep-raw", "raw"], "--keep-raw) needs --post-optimize xmem2"),
])
def test_post_optimisation_flags_without_post_optimisation_are_refused(sample_root, tmp_path, capsys, flags, message):
    assert infer(sample_root, tmp_path / "pred", *flags) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "pred").exists()


def test_keep_raw_inside_the_prediction_folder_is_refused(sample_root, tmp_path, capsys):
    assert infer(sample_root, tmp_path / "pred", *POST, "--keep-raw", str(tmp_path / "pred" / "raw")) == 1
    assert "must be apart from the prediction folder" in capsys.readouterr().err


def test_restart_clears_both_folders_and_the_notes(sample_root, tmp_path):
    pred, raw = tmp_path / "pred", tmp_path / "raw"
    args = [*POST, "--keep-raw", str(raw)]
    assert infer(sample_root, pred, *args) == 0
    before = read_notes(pred)
    assert infer(sample_root, pred, *args, "--restart") == 0
    assert read_notes(pred) == before  # logged once more after the restart, not appended to the old log
    assert len(list(pred.glob(".reasonvos-infer-notes.*.jsonl"))) == 1
    assert len((pred / ".reasonvos-infer-notes.0.jsonl").read_text().splitlines()) == len(before)


def test_segment_refuses_keep_raw(tmp_path, capsys):
    video = tmp_path / "frames"
    video.mkdir()
    from PIL import Image

    for i in range(3):
        Image.fromarray(frames(1)[0]).save(video / f"{i:05d}.jpg")
    assert main(["segment", "--model", "videolisa", "--video", str(video), "--text", "the cat", "--out",
                 str(tmp_path / "out"), *TINY[:-1], *POST, "--keep-raw", str(tmp_path / "raw")]) == 1
    assert "--keep-raw applies to reasonvos infer" in capsys.readouterr().err


# -- the segmenter and the post-optimiser, directly --------------------------------------------------


@pytest.fixture(scope="module")
def tiny_xmem2():
    return XMemPropagator(None, xmem2_config(size=-1, key_dim=16, value_dim=32, hidden_dim=8), device="cpu", seed=0)


def frames(n: int, sizes=None) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    sizes = sizes or [(24, 32)] * n
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for size in sizes]


def test_all_empty_references_keep_the_unrefined_masks_and_flag_them(tiny_xmem2):
    post = XMem2PostOptimizer(tiny_xmem2, 32, [3, 10, 18, 26])
    raw = [np.zeros((24, 32), bool) for _ in range(8)]
    raw[1][:5, :5] = True  # not a reference frame (references: 0, 2, 4, 6)
    result = post.refine(frames(8), raw)
    assert result.flag == UNREFINED_EMPTY and result.references == [0, 2, 4, 6]
    assert all(np.array_equal(a, b) for a, b in zip(result.masks, raw, strict=True))


def test_a_video_of_mixed_frame_sizes_is_refused_naming_it(tiny_xmem2):
    model, tok = tiny_videolisa(0)
    seg = VideoLisaSegmenter(model, tok, post_optimizer=XMem2PostOptimizer(tiny_xmem2, 32, [3, 10, 18, 26]))
    video = frames(3, [(24, 32), (24, 32), (32, 24)])
    with pytest.raises(InputError, match="video 'v': frame 2 is 32x24 but frame 0 is 24x32"):
        list(seg.segment_frames("v", lambda: video, "the cat"))


def test_the_video_is_decoded_once_and_post_optimisation_reuses_its_frames(tiny_xmem2):
    model, tok = tiny_videolisa(0)
    seg = VideoLisaSegmenter(model, tok, post_optimizer=XMem2PostOptimizer(tiny_xmem2, 32, [3, 10, 18, 26]))
    video = frames(6)
    for text in ("the cat", "the dog"):
        assert len(list(seg.segment_frames("v", lambda: video, text))) == 6
    assert seg.calls["decode"] == 1 and seg.calls["post_optimize"] == 2
