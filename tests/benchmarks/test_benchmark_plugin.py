"""A benchmark defined outside the package works everywhere: load, validate, score, stats, HF
export and the leaderboard, registered with ``registry.register`` or through the
``reasonvos.benchmarks`` entry point group. Nothing in the package names it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from plugins import fake_distribution, tinymask
from reasonvos.evaluators import score
from reasonvos.leaderboard.build import AnalysisSpec, build_leaderboard

from reasonvos import load_benchmark
from reasonvos.analysis.composition import benchmark_stats
from reasonvos.benchmarks import registry
from reasonvos.cli import main
from reasonvos.validation import validate


def _box(frames: int, size: tuple[int, int], rows: slice, cols: slice) -> np.ndarray:
    stack = np.zeros((frames, *size), dtype=bool)
    stack[:, rows, cols] = True
    return stack


#: (video, object) -> GT: every frame holds the object, so an empty prediction scores exactly 0
MASKS = {
    ("v1", "1"): _box(3, (8, 10), slice(2, 6), slice(2, 6)),  # 16 of 80 pixels
    ("v1", "2"): _box(3, (8, 10), slice(0, 2), slice(0, 10)),  # 20 of 80
    ("v2", "7"): _box(2, (6, 6), slice(1, 5), slice(1, 3)),  # 8 of 36
}
TEXTS = {("v1", "1"): "the square", ("v1", "2"): "the bar on top", ("v2", "7"): "the small post"}
SOURCES = {"v1": "synthetic-a", "v2": "synthetic-b"}


def _top_half(stack: np.ndarray) -> np.ndarray:
    """The object's upper half of rows: IoU exactly 0.5 with the box."""
    rows = np.flatnonzero(stack[0].any(axis=1))
    out = stack.copy()
    out[:, rows[len(rows) // 2]:, :] = False
    return out


PREDICTIONS = {"Perfect": lambda m: m, "Half": _top_half, "Empty": np.zeros_like}


@pytest.fixture
def registered():
    """TinyMask registered for one test, the way a plugin calls ``register``."""
    registry.register(tinymask.SPEC)
    yield tinymask.SPEC
    registry.unregister(tinymask.NAME)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    return tinymask.write(tmp_path / "data", MASKS, TEXTS, SOURCES)


def write_predictions(bench, folder: Path, method: str) -> Path:
    """0/255 PNGs in the benchmark's prediction layout (the default ``<video>/<exp_id>/<frame>.png``)."""
    for sample in bench.samples:
        stack = PREDICTIONS[method](MASKS[(sample.video_id, sample.obj_ids[0])])
        for frame, mask in zip(bench.prediction_frames(sample), stack, strict=True):
            path = folder / bench.prediction_path(sample, frame)
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    return folder


def test_load_and_validate_use_the_plugins_own_loader(registered, copy):
    bench = load_benchmark("tinymask", copy)
    assert type(bench) is tinymask.TinyMaskBenchmark and bench.spec is registered
    assert [s.key for s in bench.samples] == ["v1/1", "v1/2", "v2/7"]
    assert np.array_equal(bench.gt_mask(bench.sample("v2/7"), "00001"), MASKS[("v2", "7")][1])
    report = validate("tinymask", copy)
    assert report.ok, report.format()
    (copy / "masks" / "v1" / "2" / "00001.bits").write_bytes(b"\x00")  # truncated: the plugin's decoder says so
    broken = validate("tinymask", copy)
    assert not broken.ok and "00001.bits" in broken.format()
    assert main(["validate", "tinymask", "--root", str(copy)]) == 1


def test_score_gives_exact_numbers_on_known_predictions(registered, copy, tmp_path):
    bench = load_benchmark("tinymask", copy)
    results = {m: score(bench, write_predictions(bench, tmp_path / m, m), workers=1).summary for m in PREDICTIONS}
    assert results["Perfect"]["J"] == results["Perfect"]["F"] == results["Perfect"]["J&F"] == 1.0
    assert results["Perfect"]["gIoU"] == results["Perfect"]["cIoU"] == 1.0
    assert results["Empty"]["J"] == results["Empty"]["F"] == results["Empty"]["J&F"] == 0.0
    assert results["Half"]["J"] == pytest.approx(0.5) and results["Half"]["cIoU"] == pytest.approx(0.5)
    assert 0.0 < results["Half"]["F"] < 1.0
    assert set(results["Perfect"]["breakdown"]["source"]) == {"synthetic-a", "synthetic-b"}


def test_stats_and_hf_export(registered, copy):
    stats, written = benchmark_stats("tinymask", copy)
    assert (stats.videos, stats.samples, stats.mask_sequences, written) == (2, 3, 3, [])
    assert sorted(stats.mask_area) == pytest.approx(sorted([16 / 80] * 3 + [20 / 80] * 3 + [8 / 36] * 2))
    assert stats.visible_fraction == [1.0, 1.0, 1.0]
    assert main(["stats", "tinymask", "--root", str(copy), "--no-masks", "--quiet"]) == 0

    pytest.importorskip("datasets")
    from reasonvos.analysis.hf_export import to_dataset

    bench = load_benchmark("tinymask", copy)
    rows = list(to_dataset(bench))
    assert [r["benchmark"] for r in rows] == ["tinymask"] * 3
    row = next(r for r in rows if r["key"] == "v2/7")
    assert row["mask_paths"] == [str(copy / "masks" / "v2" / "7" / f"{f}.bits") for f in ("00000", "00001")]
    assert row["mask_rles"] == [] and row["text"] == "the small post"


def test_cli_score_and_leaderboard(registered, copy, tmp_path):
    bench = load_benchmark("tinymask", copy)
    results = tmp_path / "results"
    for method in PREDICTIONS:
        pred = write_predictions(bench, tmp_path / "pred" / method, method)
        assert main(["score", "tinymask", "--root", str(copy), "--pred", str(pred), "--workers", "2",
                     "--method", method, "--json", str(results / f"{method}.json"), "--quiet"]) == 0
    data = json.loads((results / "Perfect.json").read_text())
    assert (data["benchmark"], data["protocol"], data["summary"]["J&F"]) == ("tinymask", "expression", 1.0)

    board = build_leaderboard([results], tmp_path / "board",
                              analyses=[AnalysisSpec("tinymask", copy, tmp_path / "pred" / "Half", method="Half")])
    table = board.tables[0]  # the only table with measured rows comes first
    assert (table.benchmark, table.split, table.title) == ("tinymask", None, "TinyMask")
    assert [(e.method, e.value("J&F")) for e in table.rows][::2] == [("Perfect", 1.0), ("Empty", 0.0)]
    assert [e.method for e in table.rows] == ["Perfect", "Half", "Empty"]
    assert all(t.benchmark != "tinymask" for t in board.tables[1:])  # the paper's numbers follow
    assert "TinyMask" in (tmp_path / "board" / "tables" / f"{table.slug}.md").read_text()


def test_an_entry_point_registers_the_plugin(copy, tmp_path, monkeypatch):
    """An installed distribution that declares ``[reasonvos.benchmarks] tinymask = plugins.tinymask``."""
    site = tmp_path / "site"
    fake_distribution(site, {"tinymask": "plugins.tinymask"})
    monkeypatch.syspath_prepend(str(site))
    registry.reset()  # the registry reads entry points once; a plugin installed later needs a reset
    try:
        assert registry.names()[-1] == "tinymask" and registry.get("tinymask") is tinymask.SPEC
        assert load_benchmark("tinymask", copy).samples[0].text == "the square"
        assert main(["validate", "tinymask", "--root", str(copy)]) == 0
    finally:
        monkeypatch.undo()
        registry.reset()
    assert "tinymask" not in registry.names()
