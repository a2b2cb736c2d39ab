"""Leaderboard uncertainty: each measured row's 95% CI is a bootstrap over VIDEOS of its per-sample
statistic, and a row's difference from the best measured method is the paired bootstrap of
``reasonvos compare``, marked when its CI excludes 0. The numbers are checked against plain loops
that follow the documented draws (``numpy.random.default_rng(seed).integers(0, n_videos,
(resamples, n_videos))`` over the videos in sorted order)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from reasonvos.leaderboard import reported, store, tables, uncertainty
from reasonvos.leaderboard.build import build_leaderboard
from reasonvos.leaderboard.uncertainty import Settings
from writers.results import results_json, write_results

from reasonvos.cli import main

SETTINGS = Settings(resamples=300, seed=7)


def rows_of(method: str, videos: dict[str, list[float]], *, i: int = 3, u: int = 4) -> list[dict]:
    """Per-sample rows: J = F = J&F = the given value, I/U varying per sample."""
    out = []
    for v, values in sorted(videos.items()):
        for k, x in enumerate(values):
            out.append({"key": f"{v}-{k}", "video": v, "exp_id": str(k), "obj_ids": ["1"], "text": "the thing",
                        "kind": "short", "source": "mevis", "J": x, "F": x, "J&F": x,
                        "I": i + k, "U": u + 2 * k, "frames": 3, "missing_frames": 0, "gt_area": 0.1})
    return out


def consistent(method: str, per_sample: list[dict], **kw) -> dict:
    """A results file whose summary is what `score` derives from its per-sample rows."""
    obj = results_json(method, 0.5, per_sample=per_sample, **kw)
    jf = float(np.mean([r["J&F"] for r in per_sample]))
    inter = np.array([r["I"] for r in per_sample], float)
    union = np.array([r["U"] for r in per_sample], float)
    obj["summary"].update({"J": jf, "F": jf, "J&F": jf, "gIoU": float(np.mean(inter / union)),
                           "cIoU": float(inter.sum() / union.sum())})
    return obj


def entry(tmp_path: Path, obj: dict, name: str = "r.json") -> store.Entry:
    return store.read_results(write_results(tmp_path, name, obj))


def loop_ci(per_sample: list[dict], stat, settings: Settings) -> tuple[float, float]:
    """The documented cluster bootstrap, one resample at a time."""
    videos = sorted({r["video"] for r in per_sample})
    draws = np.random.default_rng(settings.seed).integers(0, len(videos), size=(settings.resamples, len(videos)))
    values = []
    for row in draws:
        drawn = [r for k in row for r in per_sample if r["video"] == videos[k]]
        values.append(stat(drawn))
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def mean_jf(rows: list[dict]) -> float:
    return sum(r["J&F"] for r in rows) / len(rows)


def ciou(rows: list[dict]) -> float:
    return sum(r["I"] for r in rows) / sum(r["U"] for r in rows)


VIDEOS = {"a": [0.9, 0.8, 0.85], "b": [0.3], "c": [0.6, 0.5], "d": [0.7, 0.25, 0.4, 0.3], "e": [0.95]}


def test_a_row_ci_is_the_video_bootstrap_of_its_per_sample_statistic(tmp_path):
    per_sample = rows_of("M", VIDEOS)
    u = uncertainty.row_uncertainty(entry(tmp_path, consistent("M", per_sample)), SETTINGS)
    assert u.note is None
    assert (u.ci["J&F"].low, u.ci["J&F"].high) == pytest.approx(loop_ci(per_sample, mean_jf, SETTINGS), abs=1e-12)
    # cIoU is a ratio: the drawn samples' total I over their total U, not a mean of ratios
    assert (u.ci["cIoU"].low, u.ci["cIoU"].high) == pytest.approx(loop_ci(per_sample, ciou, SETTINGS), abs=1e-12)
    assert u.ci["J&F"].value == pytest.approx(mean_jf(per_sample))
    assert u.ci["J&F"].low < u.ci["J&F"].value < u.ci["J&F"].high


def test_the_same_seed_gives_the_same_interval_and_another_seed_another(tmp_path):
    e = entry(tmp_path, consistent("M", rows_of("M", VIDEOS)))
    first = uncertainty.row_uncertainty(e, SETTINGS).ci["J&F"]
    assert uncertainty.row_uncertainty(e, SETTINGS).ci["J&F"] == first
    assert uncertainty.row_uncertainty(e, Settings(SETTINGS.resamples, seed=8)).ci["J&F"] != first


def test_no_ci_where_the_rows_do_not_reproduce_the_summary_or_there_are_no_rows(tmp_path):
    # results_json's summary J&F (0.5) is not the mean of its per-sample J&F (an edited or foreign file)
    u = uncertainty.row_uncertainty(entry(tmp_path, results_json("Subsets", 0.5), "a.json"), SETTINGS)
    assert "J&F" not in u.ci and "J&F" in u.note and "do not reproduce the summary value" in u.note
    old = entry(tmp_path, results_json("Old", 0.5, per_sample=[]), "b.json")
    assert uncertainty.row_uncertainty(old, SETTINGS).ci == {}
    assert uncertainty.row_uncertainty(old, SETTINGS).note == uncertainty.NO_ROWS


def paired_loop(a: list[dict], b: list[dict], settings: Settings) -> tuple[float, float]:
    """Bootstrap of mean(A) - mean(B) over the same drawn videos (paired by sample key)."""
    by_key = {r["key"]: r for r in b}
    pairs = [(r, by_key[r["key"]]) for r in a]
    videos = sorted({r["video"] for r in a})
    draws = np.random.default_rng(settings.seed).integers(0, len(videos), size=(settings.resamples, len(videos)))
    diffs = []
    for row in draws:
        drawn = [p for k in row for p in pairs if p[0]["video"] == videos[k]]
        diffs.append(sum(x["J&F"] - y["J&F"] for x, y in drawn) / len(drawn))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(low), float(high)


@pytest.fixture
def three(tmp_path):
    """Best: VIDEOS; Worse: 0.2 lower on every sample; Close: +-0.05 per video around Best."""
    best = rows_of("Best", VIDEOS)
    worse = rows_of("Worse", {v: [x - 0.2 for x in xs] for v, xs in VIDEOS.items()})
    close = rows_of("Close", {v: [x + (0.05 if k % 2 else -0.05) for x in xs]
                              for k, (v, xs) in enumerate(sorted(VIDEOS.items()))})
    entries = [entry(tmp_path, consistent(m, r), f"{m}.json") for m, r in
               (("Best", best), ("Worse", worse), ("Close", close))]
    table = tables.build_table(entries)
    uncertainty.attach([table], SETTINGS)
    by = {e.method: i for i, e in enumerate(table.rows)}
    return table, by, {"Best": best, "Worse": worse, "Close": close}


def test_the_difference_from_the_best_is_the_paired_bootstrap_and_is_marked_when_its_ci_excludes_0(three):
    table, by, rows = three
    u = table.uncertainty
    assert u.metric == "J&F" and table.rows[u.reference].method == "Best" and u.rows[by["Best"]].is_reference
    worse = u.rows[by["Worse"]].versus
    assert worse.reference == "Best" and worse.diff == pytest.approx(-0.2)
    assert (worse.low, worse.high) == pytest.approx(paired_loop(rows["Worse"], rows["Best"], SETTINGS), abs=1e-12)
    assert worse.differs and worse.high < 0
    close = u.rows[by["Close"]].versus
    assert (close.low, close.high) == pytest.approx(paired_loop(rows["Close"], rows["Best"], SETTINGS), abs=1e-12)
    assert close.low < 0 < close.high and not close.differs
    assert tables.ci_texts(table, by["Best"])[1] == "best"
    assert tables.ci_texts(table, by["Worse"])[1] == "-20.0*"
    assert tables.ci_texts(table, by["Close"])[1] == f"{close.diff * 100:+.1f}"  # no mark


def test_markdown_latex_and_csv_carry_the_ci_columns(three):
    table, by, rows = three
    ci = table.uncertainty.rows[by["Worse"]].ci["J&F"]
    low, high = loop_ci(rows["Worse"], mean_jf, SETTINGS)
    md = tables.to_markdown(table)
    assert "| J\\&F 95% CI | Δ J\\&F vs best |" in md
    assert f"| {low * 100:.1f}–{high * 100:.1f} | -20.0\\* |" in md
    assert "300 resamples, seed 7" in md and "95% CI excludes 0" in md
    tex = tables.to_latex(table)
    assert r"J\&F 95\% CI & $\Delta$ J\&F vs best \\" in tex
    assert f"{low * 100:.1f}--{high * 100:.1f} & -20.0* \\\\" in tex
    assert f"\\begin{{tabular}}{{ll{'r' * (len(table.columns) + 2)}}}" in tex  # two more right-aligned columns
    csv_rows = {r["method"]: r for r in csv.DictReader(io.StringIO(tables.to_csv(table)))}
    w = csv_rows["Worse"]
    assert (w["J&F CI low"], w["J&F CI high"]) == (f"{ci.low * 100:.1f}", f"{ci.high * 100:.1f}")
    assert (w["Δ J&F vs best"], w["differs from best"], w["best reference"]) == ("-20.0", "yes", "Best")
    assert csv_rows["Close"]["differs from best"] == "no" and csv_rows["Best"]["differs from best"] == "best"
    assert 0 < float(w["Δ J&F p"]) <= 1  # the sign-flip p-value of `reasonvos compare`


def test_reported_rows_and_rows_on_other_samples_carry_no_ci_or_difference(tmp_path, three):
    table, by, rows = three
    paper = [e for e in reported.load_reported() if e.benchmark == "reasonvos" and e.value("J&F") is not None]
    fewer = entry(tmp_path, consistent("Fewer", rows["Best"][:-1]), "fewer.json")  # one sample not scored
    mixed = tables.build_table([*table.rows, *paper[:2], fewer])
    uncertainty.attach([mixed], SETTINGS)
    for i, e in enumerate(mixed.rows):
        if e.origin == "reported":
            assert mixed.uncertainty.rows[i].ci == {} and mixed.uncertainty.rows[i].note == uncertainty.REPORTED
            assert tables.ci_texts(mixed, i) == ["–", "–"]
    f = next(i for i, e in enumerate(mixed.rows) if e.method == "Fewer")
    assert "J&F" in mixed.uncertainty.rows[f].ci  # its own CI, but no paired difference
    assert mixed.uncertainty.rows[f].versus is None and "other samples" in mixed.uncertainty.rows[f].versus_note
    assert any(r["method"] == "Fewer" and "other samples" in r["CI note"]
               for r in csv.DictReader(io.StringIO(tables.to_csv(mixed))))


def test_oracles_are_never_the_reference(tmp_path):
    best = rows_of("Model", VIDEOS)
    oracle = rows_of("Oracle", {v: [1.0] * len(xs) for v, xs in VIDEOS.items()})
    table = tables.build_table([entry(tmp_path, consistent("Model", best), "m.json"),
                                entry(tmp_path, consistent("Oracle", oracle, role="oracle"), "o.json")])
    uncertainty.attach([table], SETTINGS)
    assert table.rows[table.uncertainty.reference].method == "Model"
    o = next(i for i, e in enumerate(table.rows) if e.role == "oracle")
    assert table.uncertainty.rows[o].versus.diff > 0


def test_the_command_adds_ci_columns_by_default_and_no_ci_leaves_them_out(tmp_path, capsys):
    res = tmp_path / "res"
    write_results(res, "best.json", consistent("Best", rows_of("Best", VIDEOS)))
    write_results(res, "worse.json", consistent("Worse", rows_of("Worse", {v: [x - 0.2 for x in xs]
                                                                         for v, xs in VIDEOS.items()})))
    assert main(["leaderboard", str(res), "--out", str(tmp_path / "a"), "--resamples", "200", "--seed", "3",
                 "--quiet"]) == 0
    md = (tmp_path / "a" / "tables" / "reasonvos-all.md").read_text()
    assert "95% CI" in md and "200 resamples, seed 3" in md
    page = (tmp_path / "a" / "index.html").read_text()
    assert "J&amp;F 95% CI" in page and "-20.0*" in page
    assert main(["leaderboard", str(res), "--out", str(tmp_path / "b"), "--no-ci", "--quiet"]) == 0
    assert "95% CI" not in (tmp_path / "b" / "tables" / "reasonvos-all.md").read_text()
    assert "CI low" not in (tmp_path / "b" / "tables" / "leaderboard.csv").read_text()
    with pytest.raises(SystemExit) as exit_info:
        main(["leaderboard", str(res), "--out", str(tmp_path / "c"), "--resamples", "0"])
    assert exit_info.value.code == 2 and "at least 1" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_ci_build_is_reproducible(tmp_path):
    res = tmp_path / "res"
    write_results(res, "best.json", consistent("Best", rows_of("Best", VIDEOS)))
    for out in ("x", "y"):
        build_leaderboard([res], tmp_path / out, ci=SETTINGS)
    for name in ("leaderboard.csv", "reasonvos-all.md", "reasonvos-all.tex"):
        assert (tmp_path / "x" / "tables" / name).read_bytes() == (tmp_path / "y" / "tables" / name).read_bytes()


def test_tables_of_reported_numbers_only_have_no_ci_columns():
    paper = tables.build_tables(reported.load_reported())
    uncertainty.attach(paper, SETTINGS)
    assert all(t.uncertainty is None for t in paper)
    assert all("95% CI" not in tables.to_markdown(t) for t in paper)


def test_with_only_oracles_and_floors_there_is_no_best_and_rows_say_why(tmp_path):
    oracle = entry(tmp_path, consistent("Oracle", rows_of("Oracle", VIDEOS), role="oracle"), "o.json")
    floor = entry(tmp_path, consistent("Floor", rows_of("Floor", {v: [0.0] * len(x) for v, x in VIDEOS.items()}),
                                       role="floor"), "f.json")
    table = tables.build_table([oracle, floor])
    uncertainty.attach([table], SETTINGS)
    assert table.uncertainty.reference is None and all("J&F" in r.ci for r in table.uncertainty.rows)
    assert all("oracle and floor rows are references" in r.versus_note for r in table.uncertainty.rows)
    assert "Δ vs best" not in tables.ci_legend(table)


def test_settings_need_at_least_one_resample():
    with pytest.raises(ValueError, match="at least 1"):
        Settings(resamples=0)
