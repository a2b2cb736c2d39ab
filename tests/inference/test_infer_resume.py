"""Resuming ``reasonvos infer``: a folder is continued only by the identical run (same benchmark,
model, options, weights and toolkit version); anything else is refused with one line naming each
difference (old -> new), and ``--restart`` removes only what the runner wrote before starting afresh.

The weight-free cases run everywhere; the LISA/VideoLISA cases use tiny random models and skip
without torch."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from writers.reasonvos import write_reasonvos

import reasonvos
from reasonvos.cli import main
from reasonvos.errors import InputError
from reasonvos.inference import model_registry
from reasonvos.inference.model_registry import ModelSpec
from reasonvos.inference.options import option
from reasonvos.inference.runner import RUN_INFO_NAME, run_inference
from reasonvos.inference.segmenter import VideoSegmenter


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A three-video ReasonVOS copy (six samples) in the release layout."""
    return write_reasonvos(tmp_path_factory.mktemp("rv"))


@pytest.fixture(autouse=True)
def single_process(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)


def infer(model: str, root: Path, out: Path, *extra: str) -> int:
    return main(["infer", model, "--benchmark", "reasonvos", "--root", str(root), "--out", str(out), "--quiet",
                 *extra])


def pngs(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in sorted(out.rglob("*.png"))}


def refused(capsys, *expected: str) -> str:
    """The one error line, which must name every expected difference."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for text in expected:
        assert text in err, (text, err)
    return err


# -- the four cases of the issue ------------------------------------------------------------------


def test_another_flow_winsize_is_refused_and_the_old_samples_stay(root, tmp_path, capsys):
    out = tmp_path / "pred"
    assert infer("flow-oracle", root, out) == 0
    before = pngs(out)
    assert infer("flow-oracle", root, out, "--flow-winsize", "9") == 1
    refused(capsys, str(out / RUN_INFO_NAME), "--flow-winsize 15 -> 9", "--restart")
    assert pngs(out) == before
    assert json.loads((out / RUN_INFO_NAME).read_text())["options"]["flow_winsize"] == 15


def test_another_mode_of_lisa_is_refused(root, tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("segment_anything")
    out = tmp_path / "pred"
    tiny = ("--tiny-random", "0", "--dtype", "fp32", "--device", "cpu")
    assert infer("lisa", root, out, *tiny) == 0
    assert infer("lisa", root, out, *tiny, "--mode", "first-frame-token") == 1
    refused(capsys, "--mode per-frame -> first-frame-token")


def test_another_key_frame_of_lisa_xmem_is_refused(root, tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("segment_anything")
    out = tmp_path / "pred"
    tiny = ("--tiny-random", "0", "--dtype", "fp32", "--device", "cpu", "--propagation-size", "-1")
    assert infer("lisa-xmem", root, out, *tiny) == 0
    assert infer("lisa-xmem", root, out, *tiny, "--key-frame", "middle") == 1
    refused(capsys, "--key-frame first -> middle")


def test_another_checkpoint_of_videolisa_is_refused(root, tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("segment_anything")
    from reasonvos.videolisa.checkpoint import save_checkpoint, save_clip
    from reasonvos.videolisa.tiny import tiny_config, tiny_videolisa

    model, tok = tiny_videolisa(3)
    save_checkpoint(model, tiny_config(len(tok)), tok, tmp_path / "a", shards=1)
    save_clip(model, tmp_path / "clip")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    capsys.readouterr()
    out = tmp_path / "pred"
    common = ("--clip", str(tmp_path / "clip"), "--dtype", "fp32", "--device", "cpu", "--num-frames-sparse", "4",
              "--num-frames-dense", "2")
    assert infer("videolisa", root, out, "--checkpoint", str(tmp_path / "a"), *common) == 0
    assert infer("videolisa", root, out, "--checkpoint", str(tmp_path / "b"), *common) == 1
    refused(capsys, f"--checkpoint {tmp_path / 'a'} -> {tmp_path / 'b'}")


# -- weights identity and toolkit version ---------------------------------------------------------


@dataclass(frozen=True)
class WeightedOptions:
    GROUP = "weighted"

    weights: str = option("", "a weights file")
    download: bool = option(False, "allow downloading (cannot change the predictions)", resume=False)

    def weight_sources(self) -> dict[str, str]:
        return {"weights": self.weights}


class Weighted(VideoSegmenter):
    """A model whose predictions would depend on a weights file: it predicts nothing."""

    name = "weighted"

    def segment(self, video, text):
        for _ in video.frames:
            yield np.zeros(video.frame_size(), bool)


def build_weighted(options: WeightedOptions) -> Weighted:
    return Weighted()


@pytest.fixture
def weighted(monkeypatch):
    """A model registered from outside the package (through the registry's extension point)."""
    spec = ModelSpec("weighted", options=f"{__name__}:WeightedOptions", build=f"{__name__}:build_weighted",
                     help="test model with a weights file")
    monkeypatch.setitem(model_registry.MODELS, "weighted", spec)
    return spec


def test_changed_weights_under_the_same_path_are_refused(root, tmp_path, capsys, weighted):
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"\x01" * 4096)
    out = tmp_path / "pred"
    assert infer("weighted", root, out, "--weights", str(weights)) == 0
    weights.write_bytes(b"\x02" * 4096)  # same path and size, other weights
    assert infer("weighted", root, out, "--weights", str(weights)) == 1
    refused(capsys, "weights of --weights")


def test_identical_weights_resume_even_when_touched_and_download_may_differ(root, tmp_path, capsys, weighted):
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"\x01" * 4096)
    out = tmp_path / "pred"
    assert infer("weighted", root, out, "--weights", str(weights)) == 0
    weights.write_bytes(b"\x01" * 4096)  # rewritten: new mtime, same content
    capsys.readouterr()
    assert infer("weighted", root, out, "--weights", str(weights), "--download") == 0
    assert "wrote 0, skipped 6" in capsys.readouterr().out


def test_a_big_weights_file_changed_in_its_first_mebibyte_is_refused(root, tmp_path, weighted):
    weights = tmp_path / "w.bin"
    weights.write_bytes(bytes(3 << 20))
    out = tmp_path / "pred"
    run_inference(reasonvos.load_model("weighted", weights=str(weights)), reasonvos.load_benchmark("reasonvos", root),
                  out, rank=0, world_size=1, quiet=True)
    with weights.open("r+b") as f:
        f.write(b"\x07")
    with pytest.raises(InputError, match="weights of --weights"):
        run_inference(reasonvos.load_model("weighted", weights=str(weights)),
                      reasonvos.load_benchmark("reasonvos", root), out, rank=0, world_size=1, quiet=True)


def test_another_toolkit_version_is_refused(root, tmp_path, capsys, monkeypatch):
    out = tmp_path / "pred"
    assert infer("empty", root, out) == 0
    monkeypatch.setattr(reasonvos, "__version__", "99.0")
    assert infer("empty", root, out) == 1
    refused(capsys, "reasonvos ", "-> 99.0")


def test_several_differences_are_named_on_one_line(root, tmp_path, capsys):
    out = tmp_path / "pred"
    assert infer("flow-oracle", root, out) == 0
    assert infer("flow-oracle", root, out, "--flow-winsize", "9", "--flow-levels", "2") == 1
    refused(capsys, "--flow-levels 3 -> 2", "--flow-winsize 15 -> 9")


def test_a_folder_from_an_earlier_reasonvos_without_options_is_refused(root, tmp_path, capsys):
    out = tmp_path / "pred"
    assert infer("flow-oracle", root, out) == 0
    legacy = {"benchmark": "reasonvos", "split": None, "model": {"name": "flow-oracle", "role": "oracle"},
              "world_size": 1}
    (out / RUN_INFO_NAME).write_text(json.dumps(legacy))
    assert infer("flow-oracle", root, out) == 1
    refused(capsys, "did not record the model's options")


def test_restart_clears_a_folder_from_an_earlier_reasonvos_of_the_same_benchmark(root, tmp_path, capsys):
    """Before the runner kept logs of what it wrote, its sample folders are known from the manifest's
    benchmark and split."""
    out = tmp_path / "pred"
    assert infer("flow-oracle", root, out) == 0
    for log in out.glob(".reasonvos-infer-written.*"):
        log.unlink()
    legacy = {"benchmark": "reasonvos", "split": None, "model": {"name": "flow-oracle", "role": "oracle"},
              "world_size": 1}
    (out / RUN_INFO_NAME).write_text(json.dumps(legacy))
    capsys.readouterr()
    assert infer("flow-oracle", root, out, "--restart") == 0
    assert "wrote 6, skipped 0" in capsys.readouterr().out


# -- folders the runner did not write -------------------------------------------------------------


def test_a_non_empty_folder_without_a_manifest_is_not_filled(root, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert infer("empty", root, out) == 1
    refused(capsys, "notes.txt", "holds no")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


# -- --restart ------------------------------------------------------------------------------------


def test_restart_starts_afresh_with_the_new_settings(root, tmp_path, capsys):
    out = tmp_path / "pred"
    assert infer("flow-oracle", root, out) == 0
    assert infer("flow-oracle", root, out, "--flow-winsize", "9") == 1
    capsys.readouterr()
    assert infer("flow-oracle", root, out, "--flow-winsize", "9", "--restart") == 0
    assert "wrote 6, skipped 0" in capsys.readouterr().out
    assert json.loads((out / RUN_INFO_NAME).read_text())["options"]["flow_winsize"] == 9
    assert infer("flow-oracle", root, out, "--flow-winsize", "9") == 0  # and resumes from there


def test_restart_removes_sample_folders_of_another_benchmark_layout_too(root, tmp_path):
    """What was written is read from the runner's logs, not guessed from the new benchmark."""
    out = tmp_path / "pred"
    assert infer("empty", root, out) == 0
    other = write_reasonvos(tmp_path / "other")
    meta = json.loads((other / "meta_expressions.json").read_text())
    first = next(iter(meta["videos"]))
    meta["videos"] = {first: meta["videos"][first]}
    (other / "meta_expressions.json").write_text(json.dumps(meta))
    assert infer("empty", other, out, "--restart") == 0
    bench = reasonvos.load_benchmark("reasonvos", other)
    assert set(pngs(out)) == {str(bench.prediction_path(s, f)) for s in bench.samples
                              for f in bench.prediction_frames(s)}


@pytest.mark.parametrize("where", ["top", "inside a sample folder", "a symlink"])
def test_restart_refuses_a_folder_holding_files_it_did_not_write(root, tmp_path, capsys, where):
    out = tmp_path / "pred"
    assert infer("empty", root, out) == 0
    sample_dir = next(p.parent for p in out.rglob("*.png"))
    stranger = {"top": out / "paper.pdf", "inside a sample folder": sample_dir / "notes.txt",
                "a symlink": out / "link"}[where]
    if where == "a symlink":
        stranger.symlink_to(tmp_path)
    else:
        stranger.write_text("precious")
    before = pngs(out)
    assert infer("flow-oracle", root, out, "--restart") == 1
    refused(capsys, str(stranger), "did not write")
    assert pngs(out) == before and stranger.is_symlink() or stranger.read_text() == "precious"
    assert (out / RUN_INFO_NAME).is_file()


def test_restart_is_refused_for_sharded_runs(root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert infer("empty", root, tmp_path / "pred", "--restart") == 1
    refused(capsys, "single process")


def test_restart_of_an_empty_or_missing_folder_just_runs(root, tmp_path):
    assert infer("empty", root, tmp_path / "new", "--restart") == 0
    assert len(pngs(tmp_path / "new")) > 0
