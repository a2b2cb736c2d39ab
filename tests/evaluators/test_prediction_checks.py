"""Bad prediction folders are reported file by file, grouped, and nothing is scored or written;
missing frames follow the --missing policy and the results record it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from reasonvos.evaluators import score
from writers.davis import object_labels, write_davis
from writers.predictions import perfect_reasonvos

from reasonvos import load_benchmark
from reasonvos.errors import PredictionError
from reasonvos.masks import write_binary_png, write_index_png


@pytest.fixture
def case(tmp_path):
    """A ReasonVOS fixture and a complete, perfect prediction folder."""
    return perfect_reasonvos(tmp_path)


def first(bench, pred, i=0, frame=0):
    s = bench.samples[i]
    f = bench.prediction_frames(s)[frame]
    return s, f, pred / bench.prediction_path(s, f)


def problems_of(bench, pred, **kw):
    with pytest.raises(PredictionError) as info:
        score(bench, pred, workers=1, **kw)
    return info.value.report


def test_a_complete_perfect_prediction_scores_one(case):
    bench, pred = case
    res = score(bench, pred, workers=1)
    assert res.summary["J"] == res.summary["F"] == res.summary["gIoU"] == res.summary["cIoU"] == 1.0
    assert res.summary["missing_frames"] == res.summary["missing_samples"] == 0


def test_dot_files_written_by_the_runner_are_not_stray(case):
    bench, pred = case
    (pred / ".reasonvos-infer.json").write_text("{}")
    _, _, path = first(bench, pred)
    (path.parent / ".DS_Store").write_bytes(b"x")
    (pred / ".tmp").mkdir()
    assert score(bench, pred, workers=1).summary["J"] == 1.0


def test_missing_files_are_listed_and_nothing_is_scored(case):
    bench, pred = case
    _, _, path = first(bench, pred)
    path.unlink()
    s2 = bench.samples[3]
    folder = pred / bench.prediction_dir(s2)
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    report = problems_of(bench, pred)
    lines = report.format()
    assert str(path) in lines
    assert str(folder) in lines and "folder missing" in lines
    assert report.counts() == {"missing": 2}


def test_missing_policy_empty_scores_missing_frames_as_empty_masks(case):
    bench, pred = case
    s, f, path = first(bench, pred)
    path.unlink()
    res = score(bench, pred, workers=1, missing="empty")
    row = res.per_sample.set_index("key").loc[s.key]
    assert row["missing_frames"] == 1
    assert row["J"] < 1.0  # the GT of that frame is not empty
    assert res.summary["missing_frames"] == 1 and res.summary["missing_samples"] == 1
    assert res.missing_policy == "empty"


def test_missing_policy_skip_drops_the_sample(case):
    bench, pred = case
    s, _, path = first(bench, pred)
    path.unlink()
    res = score(bench, pred, workers=1, missing="skip")
    assert s.key not in set(res.per_sample["key"])
    assert res.summary["n_samples"] == len(bench.samples) - 1
    assert res.summary["missing_samples"] == 1 and res.summary["J"] == 1.0


def test_stray_files_are_reported_with_the_reason(case):
    bench, pred = case
    _, f, path = first(bench, pred)
    folder = path.parent
    (folder / "notes.txt").write_text("x")
    Image.new("RGB", (4, 4)).save(folder / f"{f}.jpg")
    (folder / f"{int(f)}.png").write_bytes(path.read_bytes())  # 00000 written as 0
    (folder / "mask_a.png").write_bytes(path.read_bytes())
    report = problems_of(bench, pred)
    text = report.format()
    assert report.counts() == {"stray": 4}
    assert "JPEG" in text and "zero padding" in text and "not a PNG" in text and "not a frame" in text


def test_wrong_size_non_binary_and_undecodable_pngs_are_grouped(case):
    bench, pred = case
    _, _, p_size = first(bench, pred, 0, 0)
    write_binary_png(p_size, np.zeros((3, 3), bool))
    _, _, p_vals = first(bench, pred, 0, 1)
    Image.fromarray(np.array([[0, 128], [255, 0]], np.uint8)).resize((32, 24)).save(p_vals)
    _, _, p_pal = first(bench, pred, 1, 0)
    labels = np.zeros((24, 32), np.uint8)
    labels[:5], labels[10:] = 1, 2
    write_index_png(p_pal, labels)
    _, _, p_bad = first(bench, pred, 1, 1)
    p_bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    report = problems_of(bench, pred)
    assert report.counts() == {"size": 1, "values": 2, "decode": 1}
    text = report.format()
    for p in (p_size, p_vals, p_pal, p_bad):
        assert str(p) in text


def test_single_index_palette_and_0_1_pngs_are_binary(case):
    bench, pred = case
    s, f, path = first(bench, pred)
    write_index_png(path, bench.gt_mask(s, f).astype(np.uint8) * 3)
    s, f, path = first(bench, pred, 1, 0)
    Image.fromarray(bench.gt_mask(s, f).astype(np.uint8), mode="L").save(path)
    assert score(bench, pred, workers=1).summary["J"] == 1.0


def test_error_report_is_not_written_as_results(case, tmp_path):
    from reasonvos.cli import main

    bench, pred = case
    _, _, path = first(bench, pred)
    path.unlink()
    out = tmp_path / "r.json"
    rc = main(["score", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--json", str(out),
               "--workers", "1", "--quiet"])
    assert rc == 1 and not out.exists()


def test_davis_prediction_with_colour_png_is_an_error(tmp_path):
    fx = write_davis(tmp_path / "gt", videos={"v": object_labels(np.random.default_rng(0), 3, (8, 8), [1])})
    for f in fx.frames["v"]:
        (tmp_path / "pred" / "v").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (128, 0, 0)).save(tmp_path / "pred" / "v" / f"{f}.png")
    report = problems_of(load_benchmark("davis", fx.root), tmp_path / "pred", protocol="davis-semi")
    assert report.counts() == {"values": 1}  # semi reads frames 1..T-2 only: one frame here
    assert "colour PNG" in report.format()
