"""The wheel installs every part of the toolkit under the reasonvos namespace."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARTS = ["reasonvos", "reasonvos.evaluators", "reasonvos.videolisa", "reasonvos.baselines", "reasonvos.leaderboard"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True, capture_output=True,
    )
    (whl,) = out.glob("reasonvos-*.whl")
    return whl


def test_wheel_holds_every_part_and_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for part in PARTS:
        assert f"{part.replace('.', '/')}/__init__.py" in names, part
    # every source module of the tree is in the wheel
    for folder, prefix in [("reasonvos", "reasonvos"), ("evaluators", "reasonvos/evaluators"),
                           ("videolisa", "reasonvos/videolisa"), ("baselines", "reasonvos/baselines"),
                           ("leaderboard", "reasonvos/leaderboard")]:
        for py in (ROOT / folder).rglob("*.py"):
            rel = py.relative_to(ROOT / folder).as_posix()
            assert f"{prefix}/{rel}" in names, f"{py} missing from the wheel"
    for folder, prefix in [("reasonvos/data", "reasonvos/data"), ("leaderboard/data", "reasonvos/leaderboard/data")]:
        for f in (ROOT / folder).glob("*") if (ROOT / folder).is_dir() else []:
            assert f"{prefix}/{f.name}" in names, f"{f} (package data) missing from the wheel"


def test_wheel_imports_every_part_in_a_fresh_environment(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # the toolkit comes only from the wheel; its dependencies (numpy, Pillow, ...) from this environment,
    # which is on PYTHONPATH *after* the fresh site-packages (no network needed, no editable finder)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    code = (
        "import importlib, reasonvos\n"
        f"for p in {PARTS!r}:\n"
        "    m = importlib.import_module(p); assert str(m.__file__).startswith(%r), m.__file__\n"
        "import sys; assert 'torch' not in sys.modules, 'core import pulled torch'\n"
        "from reasonvos.cli import build_parser; build_parser()\n"
        "assert 'torch' not in sys.modules, 'CLI parser pulled torch'\n"
        "from importlib.resources import files\n"
        "assert files('reasonvos.leaderboard').joinpath('data/reported_results.csv').is_file()\n"
        "assert files('reasonvos').joinpath('data/sources.json').is_file()\n"
        "print('ok')\n"
    ) % site
    r = subprocess.run([str(py), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
    cli = subprocess.run([str(venv / "bin" / "reasonvos"), "--help"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert cli.returncode == 0 and "score" in cli.stdout
