"""Importing published predictions: folders and zips (with wrapper folders) are scored into a
results file that records provenance; unsafe archives are refused and nothing is written."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from reasonvos.baselines.published import find_prediction_root, import_predictions
from reasonvos.baselines.reference import StaticFirstFrame

import reasonvos
from reasonvos.cli import main
from reasonvos.demo.render import write_sample_benchmark
from reasonvos.demo.scenes import sample_scenes
from reasonvos.errors import InputError, PredictionError
from reasonvos.inference.runner import run_inference

SOURCE = "https://example.org/method-x (Doe et al., 2025)"


def few_scenes():
    """Three videos (MOSE, VIPSeg and BURST naming) keep these tests quick."""
    keep = {"3f2a9c1e", "311_Xk2pQm9aL0s", "YFCC100M_v_3e8a51c0f2d94b7e"}
    return [s for s in sample_scenes() if s.video in keep]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The sample benchmark and one method's predictions on it."""
    base = tmp_path_factory.mktemp("import")
    root = write_sample_benchmark(base / "sample", few_scenes())
    bench = reasonvos.load_benchmark("reasonvos", root)
    pred = base / "pred"
    run_inference(StaticFirstFrame(), bench, pred, rank=0, world_size=1, quiet=True)
    return bench, root, pred


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*.png")):
            zf.write(p, prefix + str(p.relative_to(folder)))
    return archive


def test_import_a_folder_records_provenance(setup, tmp_path):
    bench, _, pred = setup
    out = tmp_path / "results.json"
    results = import_predictions(bench, pred, "Method X", SOURCE, out, workers=1)
    data = json.loads(out.read_text())
    assert data["method"] == "Method X"
    meta = data["method_meta"]
    assert meta["role"] == "published" and meta["source"] == SOURCE
    assert meta["archive_sha256"] is None and meta["imported"].startswith("20")
    assert data["summary"]["J&F"] == pytest.approx(results.summary["J&F"])
    assert 0.1 < data["summary"]["J&F"] < 0.9
    assert data["summary"]["n_samples"] == len(bench.samples)


def test_import_a_zip_with_wrapper_folders_matches_the_folder(setup, tmp_path):
    bench, _, pred = setup
    archive = zip_folder(pred, tmp_path / "method-x.zip", prefix="release/Annotations/")
    folder_res = import_predictions(bench, pred, "X", SOURCE, tmp_path / "a.json", workers=1)
    zip_res = import_predictions(bench, archive, "X", SOURCE, tmp_path / "b.json", workers=1)
    assert zip_res.summary["J&F"] == pytest.approx(folder_res.summary["J&F"], abs=1e-12)
    meta = json.loads((tmp_path / "b.json").read_text())["method_meta"]
    assert meta["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert meta["predictions"] == "method-x.zip"
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["a.json", "b.json", "method-x.zip"]  # the unpacked copy is gone


def test_unsafe_archive_is_refused_and_nothing_is_written(setup, tmp_path):
    bench, _, pred = setup
    archive = zip_folder(pred, tmp_path / "evil.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("../escaped.png", b"not a png")
    out = tmp_path / "out" / "results.json"
    with pytest.raises(InputError, match="evil.zip"):
        import_predictions(bench, archive, "X", SOURCE, out, workers=1)
    assert not out.exists()
    assert not (tmp_path / "escaped.png").exists() and not (tmp_path / "out" / "escaped.png").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_folder_without_the_layout_names_it(setup, tmp_path):
    bench, root, _ = setup
    with pytest.raises(PredictionError, match="prediction layout"):
        find_prediction_root(root, bench)


def test_import_cli(setup, tmp_path, capsys):
    _, root, pred = setup
    out = tmp_path / "r.json"
    argv = ["import", "reasonvos", "--root", str(root), "--pred", str(pred), "--method", "Method X",
            "--source", SOURCE, "--out", str(out), "--workers", "1", "--quiet"]
    assert main(argv) == 0
    assert "Method X" in capsys.readouterr().out and out.is_file()
    argv[argv.index(str(pred))] = str(tmp_path / "missing.zip")
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "missing.zip" in err and len(err.splitlines()) == 1


def test_imported_results_join_the_leaderboard_marked_as_published(setup, tmp_path):
    bench, _, pred = setup
    out = tmp_path / "results.json"
    import_predictions(bench, pred, "Method X", SOURCE, out, workers=1)
    assert main(["leaderboard", str(out), "--out", str(tmp_path / "board"), "--no-reported", "--quiet"]) == 0
    table = next((tmp_path / "board" / "tables").glob("reasonvos*.md")).read_text()
    assert "Method X" in table and r"\[published predictions\]" in table
    csv = next((tmp_path / "board" / "tables").glob("reasonvos*.csv")).read_text()
    assert "Method X,measured,published" in csv
