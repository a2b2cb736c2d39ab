"""Models as an API: ``reasonvos.load_model`` over the lazy registry, options declared once per
model, ``segment_video`` for one video, and the overlay drawing shared with the error analysis."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import reasonvos
from reasonvos.cli import build_parser
from reasonvos.errors import InputError
from reasonvos.inference import model_registry
from reasonvos.inference.options import help_text, option_fields
from reasonvos.inference.overlay import overlay_frame
from reasonvos.inference.segment_video import segment_video

ROOT = Path(__file__).resolve().parents[2]


def test_the_model_api_imports_and_runs_a_weight_free_model_without_torch(tmp_path):
    code = (
        "import sys\n"
        "from reasonvos import load_benchmark, load_model, run_inference\n"
        "from reasonvos.cli import build_parser; build_parser()\n"
        "from reasonvos.demo.render import write_sample_benchmark\n"
        "from reasonvos.demo.scenes import sample_scenes\n"
        f"bench = load_benchmark('reasonvos', write_sample_benchmark({str(tmp_path)!r}, sample_scenes()[:1]))\n"
        f"stats = run_inference(load_model('static-oracle'), bench, {str(tmp_path / 'pred')!r}, quiet=True)\n"
        "assert stats.written == len(bench.samples) > 0\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_registered_model_declares_each_option_with_help_and_gets_its_flags():
    """The registry's option classes import without torch and every field documents itself; the
    CLI offers exactly those fields as flags."""
    infer = next(a for a in build_parser()._subparsers._group_actions if a.dest == "command").choices["infer"]
    subcommands = next(a for a in infer._subparsers._group_actions if a.dest == "model").choices
    for name in model_registry.names():
        cls = model_registry.options_class(name)
        flags = {o for a in subcommands[name]._actions for o in a.option_strings}
        for f in option_fields(cls):
            assert help_text(f).strip(), f"{name}: option {f.name} has no help"
            assert "{default}" not in help_text(f)
            assert "--" + f.name.replace("_", "-") in flags, (name, f.name)


def test_load_model_records_how_it_was_built():
    model = reasonvos.load_model("flow-oracle", flow_levels=2)
    assert model.registry_name == "flow-oracle"
    assert model.options.flow_levels == 2 and model.options.flow_winsize == 15


def test_an_unavailable_model_is_one_clear_error(monkeypatch):
    spec = model_registry.ModelSpec("ghost", options="reasonvos.baselines.not_here:Options", build="x:y")
    monkeypatch.setitem(model_registry.MODELS, "ghost", spec)
    with pytest.raises(InputError, match="ghost.*not_here"):
        reasonvos.load_model("ghost")


def test_register_refuses_a_second_model_of_the_same_name():
    spec = model_registry.ModelSpec("empty", options="reasonvos.inference.options:NoOptions", build="x:y")
    with pytest.raises(ValueError, match="already registered"):
        model_registry.register(spec)


# -- segment_video ----------------------------------------------------------------------------------


@pytest.fixture
def frames(tmp_path) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((12, 16, 3), 40 * i, np.uint8)).save(folder / f"f{i:02d}.png")
    return folder


def test_segment_video_writes_masks_named_by_frame_and_an_overlay(frames, tmp_path):
    result = segment_video("full-frame", frames, "everything", tmp_path / "out", overlay="gif")
    assert result.frames == ("f00", "f01", "f02")
    assert sorted(p.name for p in result.masks.iterdir()) == ["f00.png", "f01.png", "f02.png"]
    for p in result.masks.iterdir():  # a full-frame mask, as any PNG reader sees it: 0/255, all 255
        with Image.open(p) as img:
            assert img.mode == "L" and img.size == (16, 12) and (np.asarray(img) == 255).all()
    assert result.overlay == tmp_path / "out" / "overlay.gif"
    assert Image.open(result.overlay).n_frames == 3


def test_segment_video_refuses_oracles_and_options_with_a_built_model(frames, tmp_path):
    with pytest.raises(InputError, match="oracle"):
        segment_video("flow-oracle", frames, "x", tmp_path / "a")
    with pytest.raises(TypeError):
        segment_video(reasonvos.load_model("empty"), frames, "x", tmp_path / "b", options={"flow_winsize": 9})
    assert not (tmp_path / "a").exists()


def test_segment_video_reads_the_video_before_building_the_model(tmp_path, monkeypatch):
    """A wrong path must fail before any weights are loaded."""
    monkeypatch.setattr(model_registry, "load_model", lambda *a, **k: pytest.fail("model built"))
    with pytest.raises(InputError, match="missing.mp4"):
        segment_video("videolisa", tmp_path / "missing.mp4", "x", tmp_path / "out")


def test_the_overlay_fills_the_mask_in_a_colour_unlike_the_frame_and_adds_a_legend():
    """On a magenta frame the prediction is not drawn magenta: the fill colour is picked from a
    palette to stand out from the frame's own colours; a legend band is added under the frame."""
    from reasonvos.overlay_style import LEGEND_HEIGHT, PALETTE

    frame = np.zeros((40, 40, 3), np.uint8)
    frame[:] = PALETTE[0]  # the palette's first (preferred) colour
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    out = overlay_frame(frame, mask)
    assert out.shape == (40 + LEGEND_HEIGHT, 40, 3)
    edge = tuple(out[10, 20])  # the fill's opaque edge shows the chosen colour
    assert edge in PALETTE and edge != PALETTE[0]
    inside = out[20, 20].astype(int)
    assert np.abs(inside - frame[20, 20]).sum() > 60  # tinted visibly
    assert (out[:40][~mask] == frame[~mask]).all() and (out[0, 0] == frame[0, 0]).all()


# -- README ------------------------------------------------------------------------------------------


def test_the_readme_model_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Models: `load_model` and `run_inference`"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def test_a_model_from_another_package_registers_through_the_entry_point_group(tmp_path, monkeypatch, capsys):
    """A package declaring ``[project.entry-points."reasonvos.models"] mine = "mypkg:SPEC"`` adds a
    model to load_model and to ``reasonvos infer`` without touching reasonvos."""
    (tmp_path / "mypkg.py").write_text(
        "from reasonvos.inference.model_registry import ModelSpec\n"
        "from reasonvos.baselines.reference import EmptyFloor\n"
        "class Mine(EmptyFloor):\n    name = 'mine'\n"
        "def build(options):\n    return Mine()\n"
        "SPEC = ModelSpec('mine', options='reasonvos.inference.options:NoOptions', build='mypkg:build',\n"
        "                 help='a plugin model')\n")
    dist = tmp_path / "mypkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[reasonvos.models]\nmine = mypkg:SPEC\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(model_registry, "MODELS", dict(model_registry.MODELS))
    monkeypatch.setattr(model_registry, "_PLUGINS_LOADED", False)
    assert type(reasonvos.load_model("mine")).__name__ == "Mine"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["infer", "--help"])
    assert "a plugin model" in capsys.readouterr().out


def test_segment_video_never_replaces_a_folder_of_the_users(frames, tmp_path):
    """``masks/`` is replaced whole on a rerun, so --out must be new, empty or an earlier segment's."""
    out = tmp_path / "out"
    (out / "masks").mkdir(parents=True)
    (out / "masks" / "mine.png").write_bytes(b"not the toolkit's")
    with pytest.raises(InputError, match="not a reasonvos output folder"):
        segment_video("empty", frames, "x", out)
    assert (out / "masks" / "mine.png").read_bytes() == b"not the toolkit's"
    first = segment_video("empty", frames, "x", tmp_path / "own")
    again = segment_video("full-frame", frames, "x", tmp_path / "own")  # its own earlier output: replaced
    assert first.masks == again.masks and len(list(again.masks.iterdir())) == 3
