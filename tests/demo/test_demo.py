"""``reasonvos demo``: sample -> reference baselines -> scores -> leaderboard with error analysis."""

from __future__ import annotations

import json

from reasonvos.cli import main
from reasonvos.demo.pipeline import ANALYSED_MODEL, COMPARED_MODEL, DEMO_MODELS


def test_demo_cli_writes_every_output(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert (out / "sample" / "ReasonVOS" / "meta_expressions.json").is_file()
    for name in DEMO_MODELS:
        assert any((out / "predictions" / name).rglob("*.png")), name
    assert "stages run: sample, inference, score, leaderboard, error analysis" in printed

    scores = {}
    for name in DEMO_MODELS:
        data = json.loads((out / "results" / f"{name}.json").read_text())
        assert data["method"] == name and data["benchmark"] == "reasonvos"
        assert data["missing_policy"] == "error" and data["summary"]["missing_samples"] == 0
        scores[name] = data["summary"]["J&F"]
    assert scores["flow-oracle"] > scores["static-oracle"] > scores["empty"]
    roles = {name: json.loads((out / "results" / f"{name}.json").read_text())["method_meta"]["role"]
             for name in DEMO_MODELS}
    assert roles == {"flow-oracle": "oracle", "static-oracle": "oracle", "full-frame": "floor", "empty": "floor"}

    page = out / "leaderboard" / "index.html"
    assert page.is_file() and str(page) in printed
    html = page.read_text(encoding="utf-8")
    assert "oracle" in html
    for model in (ANALYSED_MODEL, COMPARED_MODEL):
        [folder] = (out / "leaderboard" / "analysis").glob(f"*-{model}")
        assert len(list(folder.glob("*.png"))) == 8, "4 worst and 4 best samples of each analysed model"
    assert ANALYSED_MODEL in html and "analysis/" in html
    thumbnails = {p.name.split("_")[0] for p in (out / "leaderboard" / "browser").rglob("m*_*.png")}
    assert thumbnails == {"m0", "m1"} and 'id="browser-table"' in html  # both oracles, side by side
