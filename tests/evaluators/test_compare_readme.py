"""The README's `compare` example runs on the demo's results and reports a real gap."""

from __future__ import annotations

import re
from pathlib import Path

from reasonvos.demo.pipeline import run_demo

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_compare_example_runs_on_the_demo_results(tmp_path, monkeypatch, capsys):
    run_demo(tmp_path / "demo", workers=1)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Comparing two runs"):text.index("## The benchmarks")]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    env: dict = {"__name__": "readme"}
    exec(compile(code, "README.md", "exec"), env)
    assert capsys.readouterr().out.startswith("J&F +")
    jf = env["jf"]
    # the flow oracle follows the objects, the static one repeats frame 0: a gap whose CI excludes 0
    assert 0 < jf["ci_low"] <= jf["diff"] <= jf["ci_high"]
    assert len(env["table"]) == jf["wins"] + jf["ties"] + jf["losses"]
