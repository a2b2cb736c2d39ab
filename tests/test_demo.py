"""``reasonvos demo``: sample -> baselines -> scores -> leaderboard, and honest stage skipping."""

from __future__ import annotations

import importlib.util
import json

import pytest

from reasonvos import demo
from reasonvos.cli import main
from reasonvos.demo import DEMO_MODELS, optional_module, run_demo


def _present(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_demo_cli_writes_every_output(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert (out / "sample" / "ReasonVOS" / "meta_expressions.json").is_file()
    for name in DEMO_MODELS:
        assert any((out / "predictions" / name).rglob("*.png")), name
    assert "stages run: sample, inference" in printed
    if _present("reasonvos.evaluators.scorer"):
        scores = {}
        for name in DEMO_MODELS:
            data = json.loads((out / "results" / f"{name}.json").read_text())
            assert data["method"] == name and data["benchmark"] == "reasonvos"
            scores[name] = data["summary"]["J&F"]
        assert scores["flow-oracle"] > scores["static-oracle"] > scores["empty"]
        roles = {name: json.loads((out / "results" / f"{name}.json").read_text())["method_meta"]["role"]
                 for name in DEMO_MODELS}
        assert roles == {"flow-oracle": "oracle", "static-oracle": "oracle", "full-frame": "floor", "empty": "floor"}
        assert "score" in printed
    if _present("reasonvos.leaderboard.build") and _present("reasonvos.evaluators.scorer"):
        page = out / "leaderboard" / "index.html"
        assert page.is_file() and str(page) in printed
        assert "oracle" in page.read_text(encoding="utf-8")


def test_missing_stages_are_skipped_and_named(tmp_path, monkeypatch):
    real = demo.optional_module
    monkeypatch.setattr(demo, "optional_module",
                        lambda name: None if name == "reasonvos.evaluators.scorer" else real(name))
    monkeypatch.setattr(demo, "DEMO_MODELS", ("empty",))  # keep it quick: one baseline is enough here
    report = run_demo(tmp_path / "demo", quiet=True)
    assert list(report.predictions) == ["empty"]
    assert report.stages_run == ["sample", "inference"]
    assert set(report.stages_skipped) == {"score", "leaderboard"}
    assert "reasonvos.evaluators.scorer" in report.stages_skipped["score"]
    assert not (tmp_path / "demo" / "results").exists()


def test_optional_module_skips_only_absent_modules(tmp_path, monkeypatch):
    assert optional_module("reasonvos.no_such_stage") is None
    assert optional_module("no_such_package_xyz.build") is None
    (tmp_path / "broken_stage_xyz.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        optional_module("broken_stage_xyz")
