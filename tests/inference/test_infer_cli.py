"""``reasonvos infer``: complete prediction folders, resume, sharding by RANK/WORLD_SIZE, and
model modules that cannot be imported."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

import reasonvos
from reasonvos.cli import main
from reasonvos.demo.render import write_sample_benchmark
from reasonvos.demo.scenes import sample_scenes
from reasonvos.inference import model_registry
from reasonvos.inference.model_registry import ModelSpec
from reasonvos.inference.runner import RUN_INFO_NAME


def few_scenes():
    """Three videos (MOSE, VIPSeg and BURST naming) keep these tests quick."""
    keep = {"3f2a9c1e", "311_Xk2pQm9aL0s", "YFCC100M_v_3e8a51c0f2d94b7e"}
    return [s for s in sample_scenes() if s.video in keep]


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory) -> Path:
    return write_sample_benchmark(tmp_path_factory.mktemp("sample"), few_scenes())


@pytest.fixture(autouse=True)
def single_process(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)


def infer_cmd(model: str, root: Path, out: Path, *extra: str) -> list[str]:
    return ["infer", model, "--benchmark", "reasonvos", "--root", str(root), "--out", str(out), "--quiet", *extra]


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.png"))}


def test_infer_writes_a_complete_prediction_folder(sample_root, tmp_path, capsys):
    out = tmp_path / "pred"
    assert main(infer_cmd("flow-oracle", sample_root, out)) == 0
    bench = reasonvos.load_benchmark("reasonvos", sample_root)
    expected = {str(bench.prediction_path(s, f)) for s in bench.samples for f in bench.prediction_frames(s)}
    assert set(digests(out)) == expected
    assert (out / RUN_INFO_NAME).is_file()
    assert not (out / ".tmp").exists()
    printed = capsys.readouterr().out
    assert "ORACLE" in printed and f"wrote {len(bench.samples)}, skipped 0" in printed


def test_rerun_resumes_and_skips_everything(sample_root, tmp_path, capsys):
    out = tmp_path / "pred"
    assert main(infer_cmd("static-oracle", sample_root, out)) == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    capsys.readouterr()
    assert main(infer_cmd("static-oracle", sample_root, out)) == 0
    assert "wrote 0," in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == before


def test_two_shards_together_equal_one_run(sample_root, tmp_path, monkeypatch):
    assert main(infer_cmd("flow-oracle", sample_root, tmp_path / "one")) == 0
    monkeypatch.setenv("WORLD_SIZE", "2")
    shard_files = []
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        before = set(digests(tmp_path / "two")) if (tmp_path / "two").exists() else set()
        assert main(infer_cmd("flow-oracle", sample_root, tmp_path / "two")) == 0
        shard_files.append(set(digests(tmp_path / "two")) - before)
    assert shard_files[0] and shard_files[1]
    assert digests(tmp_path / "two") == digests(tmp_path / "one")


def test_model_options_reach_the_model(sample_root, tmp_path):
    out = tmp_path / "pred"
    assert main(infer_cmd("flow-oracle", sample_root, out, "--flow-winsize", "9")) == 0
    import json

    info = json.loads((out / RUN_INFO_NAME).read_text())
    assert info["model"]["winsize"] == 9 and info["model"]["role"] == "oracle"


def test_unimportable_model_is_listed_and_fails_clearly(sample_root, tmp_path, monkeypatch, capsys):
    ghost = ModelSpec("ghost", options="reasonvos.baselines.no_such_module_here:Options",
                      build="reasonvos.baselines.no_such_module_here:build")
    monkeypatch.setitem(model_registry.MODELS, "ghost", ghost)
    with pytest.raises(SystemExit):
        main(["infer", "--help"])
    help_text = capsys.readouterr().out
    assert "ghost" in help_text and "unavailable" in help_text
    code = main(infer_cmd("ghost", sample_root, tmp_path / "pred", "--some-model-option", "1"))
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert "ghost" in err and "no_such_module_here" in err
    assert main(infer_cmd("empty", sample_root, tmp_path / "p2")) == 0  # the others still work


def test_bad_benchmark_root_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(infer_cmd("empty", tmp_path / "nowhere", tmp_path / "pred")) == 1
    err = capsys.readouterr().err
    assert "nowhere" in err and len(err.strip().splitlines()) == 1


def test_python_dash_m_reasonvos_infer(sample_root, tmp_path):
    run = subprocess.run([sys.executable, "-m", "reasonvos", *infer_cmd("empty", sample_root, tmp_path / "p")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "empty (floor)" in run.stdout
