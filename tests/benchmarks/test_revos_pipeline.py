"""ReVOS through the rest of the pipeline: stats, the Hugging Face export and the leaderboard
(measured rows beside the published ones)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from reasonvos.leaderboard.build import build_leaderboard
from writers.revos import write_revos

from reasonvos import load_benchmark
from reasonvos.analysis.composition import benchmark_stats
from reasonvos.cli import main


def test_stats_count_videos_samples_and_mask_sequences(tmp_path):
    fx = write_revos(tmp_path)
    stats, _written = benchmark_stats("revos", fx.root)
    assert (stats.videos, stats.samples) == (2, 5)
    assert main(["stats", "revos", "--root", str(fx.root), "--no-masks", "--quiet"]) == 0


def test_hf_export_rows_carry_the_kind_and_rle_masks(tmp_path):
    pytest.importorskip("datasets")
    from reasonvos.analysis.hf_export import to_dataset

    fx = write_revos(tmp_path)
    rows = {r["key"]: r for r in to_dataset(load_benchmark("revos", fx.root))}
    row = rows["UVO/all/-fbscFfkh4M/1"]
    assert row["benchmark"] == "revos" and row["kind"] == "reasoning"
    assert len(row["mask_rles"]) == 3 and row["mask_paths"] == []


def test_a_scored_method_sits_beside_the_published_revos_numbers(tmp_path):
    fx = write_revos(tmp_path / "data", jpeg=False)
    bench = load_benchmark("revos", fx.root)
    pred = tmp_path / "pred"
    for s in bench.samples:
        for frame in bench.videos[s.video_id].frames:
            d = pred / s.video_id / s.exp_id
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(bench.gt_mask(s, frame).astype(np.uint8) * 255).save(d / f"{frame}.png")
    results = tmp_path / "results"
    assert main(["score", "revos", "--root", str(fx.root), "--pred", str(pred), "--workers", "1",
                 "--method", "Perfect", "--json", str(results / "perfect.json"), "--quiet"]) == 0
    board = build_leaderboard([results], tmp_path / "board")
    table = next(t for t in board.tables if t.benchmark == "revos")
    methods = [e.method for e in table.rows]
    assert "Perfect" in methods and "VISA(IT)-13B" in methods
    visa = next(e for e in table.rows if e.method == "VISA(IT)-13B")
    assert visa.value("J&F") == pytest.approx(0.509)
    assert "reprinting VISA" in visa.provenance.source


def test_a_measured_revos_row_has_a_ci_around_its_reported_overall(tmp_path):
    """Overall J&F is the mean of the referring and reasoning means; the row's CI resamples videos
    and recomputes exactly that (it used to be left out as "not a per-sample statistic")."""
    from reasonvos.leaderboard.uncertainty import Settings, row_uncertainty

    fx = write_revos(tmp_path / "data", jpeg=False)
    bench = load_benchmark("revos", fx.root)
    pred = tmp_path / "pred"
    for n, s in enumerate(bench.samples):
        for frame in bench.videos[s.video_id].frames:
            d = pred / s.video_id / s.exp_id
            d.mkdir(parents=True, exist_ok=True)
            mask = bench.gt_mask(s, frame) if n % 2 == 0 else np.zeros_like(bench.gt_mask(s, frame))
            Image.fromarray(mask.astype(np.uint8) * 255).save(d / f"{frame}.png")
    results = tmp_path / "results"
    assert main(["score", "revos", "--root", str(fx.root), "--pred", str(pred), "--workers", "1",
                 "--method", "Half", "--json", str(results / "half.json"), "--quiet"]) == 0
    board = build_leaderboard([results], tmp_path / "board", include_reported=False)
    [row] = [e for t in board.tables if t.benchmark == "revos" for e in t.rows]
    u = row_uncertainty(row, Settings(resamples=200, seed=0))
    assert u.ci["J&F"].value == pytest.approx(row.value("J&F"), abs=1e-12)
    assert u.ci["J&F"].low <= row.value("J&F") <= u.ci["J&F"].high
