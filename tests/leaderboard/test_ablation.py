"""Ablation and breakdown plots: runs of one method that differ in exactly one method_meta
parameter are plotted against it (with the rows' CIs); J&F is plotted against instruction
length, object size and video length in fixed, documented bins. All plots are byte-deterministic
PNG and SVG and appear on the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reasonvos.leaderboard import ablation, bins, plots, store, tables, uncertainty
from reasonvos.leaderboard.build import build_leaderboard
from reasonvos.leaderboard.uncertainty import Settings
from writers.results import results_json, write_results

SETTINGS = Settings(resamples=200, seed=1)
TEXTS = ("red car", "the dog that runs to the left of the man", "x " * 12, "a b c d e f g h i j k l m n o p q r s t u v")


def run(method: str, meta: dict, shift: float, *, gt_area: bool = True) -> dict:
    """A results file on 8 samples in 4 videos whose summary is its rows' statistic."""
    per_sample = []
    for k in range(8):
        jf = min(1.0, 0.2 + 0.08 * k + shift)
        row = {"key": f"s{k}", "video": f"v{k // 2}", "exp_id": "0", "obj_ids": ["1"], "text": TEXTS[k % 4],
               "kind": "short", "source": "mevis", "J": jf, "F": jf, "J&F": jf, "I": 2 + k, "U": 10,
               "frames": (5, 20, 40, 200)[k % 4], "missing_frames": 0}
        if gt_area:
            row["gt_area"] = (0.0, 0.001, 0.05, 0.5)[k // 2]
        per_sample.append(row)
    obj = results_json(method, 0.5, per_sample=per_sample)
    frame = pd.DataFrame(per_sample)
    obj["summary"].update({"J": frame["J"].mean(), "F": frame["F"].mean(), "J&F": frame["J&F"].mean(),
                           "gIoU": float((frame["I"] / frame["U"]).mean()),
                           "cIoU": float(frame["I"].sum() / frame["U"].sum())})
    obj["method_meta"] = {"role": "model", **meta}
    return obj


def table_of(tmp_path: Path, runs: list[tuple[str, dict, float]]) -> tables.Table:
    entries = [store.read_results(write_results(tmp_path, f"{i}.json", run(m, meta, s)))
               for i, (m, meta, s) in enumerate(runs)]
    table = tables.build_table(entries)
    uncertainty.attach([table], SETTINGS)
    return table


SPARSE = [(f"VideoLISA T_sparse={t}", {"T_sparse": t, "T_dense": 4}, t / 400) for t in (32, 8, 64, 16)]


def test_runs_differing_in_one_parameter_form_a_series_in_axis_order(tmp_path):
    [series] = ablation.find_series([table_of(tmp_path, SPARSE)])
    assert (series.family, series.key, series.values, series.numeric) == ("VideoLISA", "T_sparse", [8, 16, 32, 64], True)
    assert [series.table.rows[i].method_meta["T_sparse"] for i in series.rows] == [8, 16, 32, 64]


def test_runs_differing_in_two_parameters_form_none(tmp_path):
    runs = [("VideoLISA a", {"T_sparse": 8, "T_dense": 4}, 0.0), ("VideoLISA b", {"T_sparse": 16, "T_dense": 8}, 0.1)]
    assert ablation.find_series([table_of(tmp_path, runs)]) == []


def test_only_the_runs_that_agree_on_every_other_parameter_join_a_series(tmp_path):
    runs = [*SPARSE[:2], ("VideoLISA odd", {"T_sparse": 16, "T_dense": 8}, 0.0)]
    [series] = ablation.find_series([table_of(tmp_path, runs)])
    assert series.key == "T_sparse" and series.values == [8, 32]


def test_family_comes_from_method_meta_or_the_method_name_and_families_never_mix(tmp_path):
    runs = [("Mine-small", {"family": "Mine", "backbone": "small"}, 0.0),
            ("Mine-large", {"family": "Mine", "backbone": "large"}, 0.1),
            ("Other (x)", {"backbone": "tiny"}, 0.0)]
    [series] = ablation.find_series([table_of(tmp_path, runs)])
    assert (series.family, series.values, series.numeric) == ("Mine", ["large", "small"], False)
    assert ablation.family(series.table.rows[-1]) == "Other"


def test_the_ablation_plot_draws_every_metric_with_ci_error_bars_and_is_deterministic(tmp_path):
    table = table_of(tmp_path, SPARSE)
    first = plots.ablation_plots([table])
    again = plots.ablation_plots([table])
    assert [p.name for p in first] == ["ablation-reasonvos-all-expression-videolisa-t-sparse"]
    assert first[0].png == again[0].png and first[0].svg == again[0].svg
    svg = first[0].svg.decode()
    assert svg.count('id="axes_') == len(uncertainty.CI_METRICS)  # J&F, J, F, gIoU, cIoU panels
    assert "T_sparse" in first[0].title


def test_without_a_series_the_page_says_why(tmp_path):
    [plot] = plots.ablation_plots([table_of(tmp_path, SPARSE[:1])])
    assert plot.skipped and "exactly one method_meta parameter" in plot.note


# ------------------------------------------------------------------------------------- bins


@pytest.mark.parametrize(("words", "label"), [(1, "1-5"), (5, "1-5"), (6, "6-10"), (20, "16-20"), (21, "21-30"),
                                              (30, "21-30"), (31, "31+"), (200, "31+")])
def test_word_bins(words, label):
    assert bins.word_bin(" ".join(["w"] * words)) == label


@pytest.mark.parametrize(("area", "label"), [(0.0, "empty"), (1e-6, "<0.5%"), (0.005, "0.5-2%"), (0.0199, "0.5-2%"),
                                             (0.08, "8-32%"), (0.32, ">=32%"), (1.0, ">=32%")])
def test_size_bins(area, label):
    assert bins.area_bin(area) == label


@pytest.mark.parametrize(("frames", "label"), [(1, "1-16"), (16, "1-16"), (17, "17-32"), (128, "65-128"), (129, "129+")])
def test_length_bins(frames, label):
    assert bins.length_bin(frames) == label


def test_rows_without_an_instruction_or_a_size_are_in_no_bin():
    assert bins.word_bin(None) is None and bins.word_bin("  ") is None
    assert bins.area_bin(None) is None and bins.area_bin(float("nan")) is None


def test_a_bin_s_value_and_ci_are_its_samples_mean_and_the_row_s_video_bootstrap():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"key": [f"s{k}" for k in range(40)], "video": [f"v{k % 9}" for k in range(40)],
                          "text": [" ".join(["w"] * int(n)) for n in rng.integers(1, 40, 40)],
                          "J&F": rng.random(40)})
    points = {p.label: p for p in bins.binned_jf(frame, bins.BINNINGS[0], SETTINGS)}
    assert list(points) == [b for b in bins.WORD_LABELS if b in set(frame["text"].map(bins.word_bin))]
    rows = frame.to_dict("records")
    videos = sorted(frame["video"].unique())
    draws = np.random.default_rng(SETTINGS.seed).integers(0, len(videos), (SETTINGS.resamples, len(videos)))
    for label, point in points.items():
        members = [r for r in rows if bins.word_bin(r["text"]) == label]
        assert point.n == len(members) and point.value == pytest.approx(np.mean([r["J&F"] for r in members]))
        boot = []
        for draw in draws:  # the row's videos are drawn; the bin's mean is over the drawn samples in it
            drawn = [r["J&F"] for k in draw for r in members if r["video"] == videos[k]]
            if drawn:
                boot.append(np.mean(drawn))
        assert (point.ci.low, point.ci.high) == pytest.approx(tuple(np.percentile(boot, [2.5, 97.5])), abs=1e-12)


# ------------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("abl")
    for i, (m, meta, s) in enumerate(SPARSE):
        write_results(base / "res", f"{i}.json", run(m, meta, s))
    out = [build_leaderboard([base / "res"], base / name, include_reported=False, ci=SETTINGS) for name in ("a", "b")]
    return base, out


NEW_PLOTS = ("jf_by_words", "jf_by_size", "jf_by_length", "ablation-reasonvos-all-expression-videolisa-t-sparse")


def test_breakdown_and_ablation_plots_are_written_on_the_page_and_byte_deterministic(built):
    base, _ = built
    page = (base / "a" / "index.html").read_text()
    for name in NEW_PLOTS:
        for ext in ("png", "svg"):
            a, b = ((base / x / "plots" / f"{name}.{ext}").read_bytes() for x in ("a", "b"))
            assert a == b and len(a) > 1000
        assert f'id="plot-{name}"' in page


def test_the_size_plot_says_when_no_results_file_carries_gt_area(tmp_path):
    write_results(tmp_path / "res", "old.json", run("Old", {}, 0.0, gt_area=False))
    result = build_leaderboard([tmp_path / "res"], tmp_path / "out", include_reported=False, ci=None)
    page = (tmp_path / "out" / "index.html").read_text()
    assert "J&amp;F against object size” skipped: no results file carries the per-sample object size" in page
    assert not (tmp_path / "out" / "plots" / "jf_by_size.png").exists()
    assert (tmp_path / "out" / "plots" / "jf_by_words.png").exists()
    assert result.tables[0].uncertainty is None
