"""The pipeline is one import away (issue: `from reasonvos import load_benchmark, validate, score,
load_model, run_inference, Benchmark, Sample, Video` on a core install), and the README's Python
API example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_pipeline_imports_from_the_top_level_without_torch():
    code = (
        "import sys\n"
        "from reasonvos import load_benchmark, validate, score, load_model, run_inference, "
        "Benchmark, Sample, Video, register\n"
        "import reasonvos.validation, reasonvos.evaluators.scorer\n"
        "assert validate is reasonvos.validation.validate\n"
        "assert score is reasonvos.evaluators.scorer.score\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_unknown_top_level_name_is_an_attribute_error():
    import reasonvos

    with pytest.raises(AttributeError, match="no attribute 'scorer_of_doom'"):
        reasonvos.scorer_of_doom  # noqa: B018


def test_the_readme_python_api_example_runs_and_scores_the_oracle(tmp_path, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API"):text.index("### Models: `load_model` and `run_inference`")]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    code = blocks[-1]
    monkeypatch.chdir(tmp_path)
    env: dict = {"__name__": "readme"}
    exec(compile(code, "README.md", "exec"), env)
    out = capsys.readouterr().out
    assert "VERDICT: OK" in out
    # the static oracle repeats the first GT mask: it is perfect on frame 0 only, so its score is
    # strictly between the empty floor (0) and 1 on the moving objects of the sample
    jf = env["results"].summary["J&F"]
    assert 0.0 < jf < 1.0
    assert (env["work"] / "static-oracle.json").is_file()
