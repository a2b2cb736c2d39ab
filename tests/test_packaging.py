"""The wheel installs every part of the toolkit under the reasonvos namespace."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:  # a wheel is installed by unpacking it into site-packages
        zf.extractall(target)
    # dependencies (numpy, Pillow, ...) come from this environment; the toolkit only from the wheel
    deps = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), deps])}
    code = (
        "import importlib, reasonvos\n"
        f"for p in {PARTS!r}:\n"
        "    m = importlib.import_module(p); assert str(m.__file__).startswith(%r), m.__file__\n"
        "import sys; assert 'torch' not in sys.modules, 'core import pulled torch'\n"
        "from reasonvos.cli import build_parser; build_parser()\n"
        "assert 'torch' not in sys.modules, 'CLI parser pulled torch'\n"
        "print('ok')\n"
    ) % str(target)
    py = venv / "bin" / "python"
    r = subprocess.run([str(py), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
