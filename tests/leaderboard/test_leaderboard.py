"""Leaderboards: results store, reported numbers, tables, plots, page, error analysis and the CLI.

Results files are written here in the format of `reasonvos score --json` (reasonvos-results/1);
the leaderboard never recomputes a metric, so the numbers in them are chosen freely.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html import escape
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from reasonvos.leaderboard import reported, store, tables
from reasonvos.leaderboard.build import AnalysisSpec, build_leaderboard
from reasonvos.leaderboard.page import script_json
from writers.results import NASTY, results_json, write_results

from reasonvos.cli import main
from reasonvos.errors import InputError


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """One leaderboard built from several results files (built once: plots take a moment)."""
    base = tmp_path_factory.mktemp("board")
    res = base / "results"
    write_results(res, "nasty.json", results_json(NASTY, 0.50))
    write_results(res, "mine_old.json", results_json("Mine", 0.30, date="2026-01-01T00:00:00+00:00", version="0.0.9"))
    write_results(res, "mine_new.json", results_json("Mine", 0.31, date="2026-02-01T00:00:00+00:00"))
    write_results(res, "oracle.json", results_json("GT oracle", 0.99, role="oracle"))
    write_results(res, "floor.json", results_json("Empty floor", 0.01, role="floor"))
    davis = results_json("Mine", 0.60, benchmark="refdavis", split="valid", sources={})
    davis["summary"]["breakdown"] = {
        "annotator": {"1": {"J": 0.6, "F": 0.6, "J&F": 0.61, "n": 2}, "2": {"J": 0.6, "F": 0.6, "J&F": 0.59, "n": 2}},
        "slot": {"1-first-frame": {"J&F": 0.62}, "2-full-video": {"J&F": 0.58}},
    }
    write_results(res, "davis.json", davis)
    (res / "notes.json").write_text(json.dumps({"comment": "not a results file"}))
    out = base / "out"
    result = build_leaderboard([res], out)
    return result, out, res


def table_of(result, benchmark: str):
    return next(t for t in result.tables if t.benchmark == benchmark)


# -------------------------------------------------------------------------------------- store


def test_a_results_file_is_read_with_its_metadata_and_provenance(tmp_path):
    path = write_results(tmp_path, "r.json", results_json("VideoLISA", 0.45))
    entry = store.read_results(path)
    assert (entry.method, entry.benchmark, entry.split, entry.origin) == ("VideoLISA", "reasonvos", "all", "measured")
    assert entry.method_meta["T_sparse"] == 32 and entry.missing_policy == "error"
    assert entry.provenance.path == str(path) and entry.provenance.toolkit_version == "0.1.0"
    assert entry.value("J&F") == pytest.approx(0.45)


def test_the_same_method_scored_twice_is_shown_once_newest_by_date(board):
    result, out, res = board
    rows = [e for e in table_of(result, "reasonvos").rows if e.method == "Mine"]
    assert len(rows) == 1
    assert rows[0].value("J&F") == pytest.approx(0.31)  # mine_new.json, dated later
    assert [p.path for p in rows[0].superseded] == [str(res / "mine_old.json")]
    page = (out / "index.html").read_text()
    assert "mine_old.json" in page and "0.0.9" in page  # provenance of the superseded file is shown


def test_a_file_scored_without_method_is_named_after_the_file_and_says_so(tmp_path):
    path = write_results(tmp_path, "lisa_xmem.json", {**results_json("x", 0.4), "method": None, "date": ""})
    entry = store.read_results(path)
    assert entry.method == "lisa_xmem" and "file name" in entry.method_meta["note"]
    assert entry.provenance.date is None


def test_dedup_compares_dates_not_file_order():
    older = store.results_from_dict(results_json("M", 0.2, date="2026-03-01"), Path("b.json"))
    newer = store.results_from_dict(results_json("M", 0.4, date="2026-03-02T00:00:00Z"), Path("a.json"))
    (kept,) = store.deduplicate([newer, older])
    assert kept.provenance.path == "a.json" and kept.superseded[0].path == "b.json"


def test_folders_are_scanned_and_other_json_is_reported_not_silently_skipped(board):
    result, _, res = board
    assert [(p.name, why) for p, why in result.ignored] == [("notes.json", "not a results file (no 'format' or 'summary')")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"vid_obj_0": [0.5, 0.6], "vid_obj_1": [0.4, 0.3]}), "raw output of the official"),
        (json.dumps({"benchmark": "reasonvos", "summary": {"J&F": 0.5}}), "no 'format'"),
        (json.dumps({"format": "reasonvos-results/0", "summary": {}}), "not supported"),
        (json.dumps({"format": "someone-else/1", "summary": {}}), "unknown results format"),
        (json.dumps({**results_json("M", 0.5), "summary": {"J&F": 45.1}}), "not percentages"),
        (json.dumps({**results_json("M", 0.5), "method": 7}), "'method' must be a string"),
        (json.dumps({**results_json("M", 0.5), "date": "yesterday"}), "not an ISO date"),
        (json.dumps([1, 2]), "must be a JSON object"),
    ],
)
def test_older_or_broken_results_files_are_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=re.escape(message)) as info:
        store.read_results(path)
    assert info.value.path == path


def test_a_folder_without_results_files_is_an_error_not_an_empty_board(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "other.json").write_text("{}")
    with pytest.raises(InputError, match="folder holds no results files") as info:
        build_leaderboard(tmp_path / "empty", tmp_path / "out")
    assert info.value.path == tmp_path / "empty"


def test_a_davis_script_csv_is_named_as_raw_official_output(tmp_path):
    path = tmp_path / "global_results-val.csv"
    path.write_text("J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay\n0.6,0.5,0.6,0.1,0.7,0.8,0.1\n")
    with pytest.raises(InputError, match="raw output of the DAVIS evaluation script"):
        store.read_results(path)


def test_cli_reports_a_broken_results_file_on_one_line_and_exits_1(tmp_path, capsys):
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps({"a_b_1_0": [0.5, 0.5]}))
    assert main(["leaderboard", str(bad), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "raw output" in err
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------- reported


def test_reported_numbers_ship_as_package_data_with_toolkit_benchmark_names():
    entries = reported.load_reported()
    assert {e.origin for e in entries} == {"reported"}
    otsa = {(e.benchmark, e.split): e for e in entries if e.method == "VideoLISA-3.8B (One-Token-Seg-All)"}
    assert otsa[("reasonvos", "all")].value("J&F") == pytest.approx(0.451)
    assert otsa[("refdavis", "val")].value("J") == pytest.approx(0.638)
    assert otsa[("refytvos", "valid")].value("F") == pytest.approx(0.633)
    assert otsa[("mevis", "valid")].value("J&F") == pytest.approx(0.423)
    lbdt = next(e for e in entries if e.method == "LBDT" and e.benchmark == "refdavis")
    assert lbdt.value("J") is None and lbdt.value("J&F") == pytest.approx(0.543)  # blanks stay blank
    assert reported.display_name("refytvos") == "Ref-YouTube-VOS"


def test_measured_splits_line_up_with_the_paper_split_names(board):
    result, _, _ = board
    davis = table_of(result, "refdavis")  # results file says split "valid"; the paper says "val"
    assert davis.split == "val"
    assert {e.origin for e in davis.rows} == {"measured", "reported"}


# ------------------------------------------------------------------------------------- tables


def test_reported_and_measured_rows_sit_side_by_side_and_are_marked_in_every_format(board):
    result, out, _ = board
    t = table_of(result, "reasonvos")
    md = (out / "tables" / f"{t.slug}.md").read_text()
    assert "| *VideoLISA\\-3.8B (Post\\-optimization)* † | reported |" not in md  # '-' is not escaped
    assert "| *VideoLISA-3.8B (Post-optimization)* † | reported |" in md
    assert "| Mine | measured |" in md and "† italic: reported in the paper" in md
    tex = (out / "tables" / f"{t.slug}.tex").read_text()
    assert r"\textit{VideoLISA-3.8B (Post-optimization)}\textsuperscript{\dag} & reported" in tex
    assert r"\toprule" in tex and r"\bottomrule" in tex
    rows = list(csv.DictReader(io.StringIO((out / "tables" / f"{t.slug}.csv").read_text())))
    origin = {r["method"]: r["origin"] for r in rows}
    assert origin["Mine"] == "measured" and origin["SgMg"] == "reported"
    sgmg = next(r for r in rows if r["method"] == "SgMg")
    assert (sgmg["J"], sgmg["F"], sgmg["J&F"], sgmg["source"]) == ("33.7", "38.7", "36.2", "VideoLISA paper, Table 3")
    html = (out / "index.html").read_text()
    assert re.search(r'<tr class="reported">.*?SgMg <span class="mark"[^>]*>†</span>', html)


def test_breakdowns_become_columns_short_long_and_per_source(board):
    result, _, _ = board
    labels = [c.label for c in table_of(result, "reasonvos").columns]
    assert labels == ["J", "F", "J&F", "short J&F", "long J&F", "burst J&F", "mevis J&F"]


def test_ref_davis_breaks_down_per_annotator_and_slot(board):
    result, out, _ = board
    t = table_of(result, "refdavis")
    labels = [c.label for c in t.columns]
    assert labels == ["J", "F", "J&F", "annotator 1 J&F", "annotator 2 J&F", "slot 1-first-frame J&F",
                      "slot 2-full-video J&F"]
    md = (out / "tables" / f"{t.slug}.md").read_text()
    assert "| Mine | measured | 59.0 | 61.0 | 60.0 | **61.0** | **59.0** | **62.0** | **58.0** |" in md


def test_best_value_per_column_is_bold_and_oracle_and_floor_never_are(board):
    result, out, _ = board
    t = table_of(result, "reasonvos")
    jf = next(c for c in t.columns if c.key == "J&F")
    best = [t.rows[i].method for i in t.best["J&F"]]
    assert best == [NASTY]  # 50.0 beats reported 47.5; the oracle's 99.0 is not a contender
    assert t.rows[0].method == "GT oracle" and not t.is_best(0, jf)
    md = (out / "tables" / f"{t.slug}.md").read_text()
    assert "| **50.0** |" in md and "**99.0**" not in md and "GT oracle \\[oracle\\]" in md
    assert "Empty floor \\[floor\\]" in md
    tex = (out / "tables" / f"{t.slug}.tex").read_text()
    assert r"\textbf{50.0}" in tex and r"\textbf{99.0}" not in tex


def test_ties_at_the_shown_precision_are_all_bold():
    a = store.results_from_dict(results_json("A", 0.4501), Path("a.json"))
    b = store.results_from_dict(results_json("B", 0.4504), Path("b.json"))
    t = tables.build_table([a, b])
    assert t.best["J&F"] == {0, 1}


def test_special_characters_are_escaped_for_latex_and_markdown(board):
    result, out, _ = board
    t = table_of(result, "reasonvos")
    tex = (out / "tables" / f"{t.slug}.tex").read_text()
    assert r"\textless{}b\textgreater{}x\&y\textless{}/b\textgreater{} 50\%\_\{a\}" in tex
    assert NASTY not in tex
    assert tables.tex_escape("a\\b~c^d$e#f") == r"a\textbackslash{}b\textasciitilde{}c\textasciicircum{}d\$e\#f"
    md = (out / "tables" / f"{t.slug}.md").read_text()
    assert "<b>" not in md and r"\<b\>x\&y\</b\> 50%\_\{a\}" in md


def test_the_page_escapes_every_string_from_data(board):
    _, out, _ = board
    html = (out / "index.html").read_text()
    assert "<b>x&y</b>" not in html
    assert "&lt;b&gt;x&amp;y&lt;/b&gt; 50%_{a}" in html
    data = re.search(r'<script type="application/json" id="leaderboard-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in data and json.loads(data)["entries"]  # still valid JSON after escaping


def test_embedded_json_cannot_close_its_script_element():
    evil = {"method": "</script><script>alert(1)</script>", "text": "a\u2028b & <!--"}
    text = script_json(evil)
    assert "</script" not in text.lower() and "<!--" not in text and "\u2028" not in text
    assert json.loads(text) == evil


# -------------------------------------------------------------------------------------- plots


def test_plots_are_written_as_png_and_svg_and_are_deterministic(board, tmp_path):
    result, out, res = board
    names = {"jf_bars", "per_sample", "j_vs_f", "per_source"}
    for name in names:
        assert (out / "plots" / f"{name}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert b"<svg" in (out / "plots" / f"{name}.svg").read_bytes()
    again = build_leaderboard([res], tmp_path / "again")
    for name in names:
        for ext in ("png", "svg"):
            assert (out / "plots" / f"{name}.{ext}").read_bytes() == (tmp_path / "again" / "plots" / f"{name}.{ext}").read_bytes()
    assert again.page.read_text() == (out / "index.html").read_text()


def test_a_plot_without_data_is_skipped_with_a_note_on_the_page(tmp_path):
    path = write_results(tmp_path / "r", "x.json", results_json("NoDetail", 0.4, per_sample=[], sources={}))
    result = build_leaderboard([path], tmp_path / "out", include_reported=False)
    html = result.page.read_text()
    assert "Plot “Per-sample J&amp;F distribution” skipped: no results file carries per-sample J&amp;F values" in html
    assert "skipped: no results file carries a per-source breakdown" in html
    assert not (tmp_path / "out" / "plots" / "per_sample.png").exists()
    assert (tmp_path / "out" / "plots" / "jf_bars.svg").exists()
    assert [t.benchmark for t in result.tables] == ["reasonvos"]  # --no-reported: measured only


# ----------------------------------------------------------------------------- error analysis


@pytest.fixture
def predicted(tmp_path):
    """The fixture ReasonVOS copy, with predictions: sample 0 perfect, others empty, one PNG missing."""
    from writers.reasonvos import write_reasonvos

    import reasonvos
    from reasonvos.masks import write_binary_png

    write_reasonvos(tmp_path / "data")
    bench = reasonvos.load_benchmark("reasonvos", tmp_path / "data")
    pred = tmp_path / "pred"
    rows = []
    for i, s in enumerate(bench.samples):
        for f in bench.prediction_frames(s):
            gt = bench.gt_mask(s, f)
            if i == len(bench.samples) - 1 and f == bench.prediction_frames(s)[-1]:
                continue  # a missing prediction PNG
            write_binary_png(pred / bench.prediction_path(s, f), gt if i == 0 else np.zeros_like(gt))
        jf = 1.0 if i == 0 else 0.1 * i
        rows.append({"key": s.key, "video": s.video_id, "exp_id": s.exp_id, "obj_ids": list(s.obj_ids),
                     "text": s.text, "J": jf, "F": jf, "J&F": jf, "I": 1, "U": 1, "frames": 1, "missing_frames": 0})
    res = write_results(tmp_path / "r", "m.json", results_json("Model", 0.4, per_sample=rows))
    return bench, pred, res


def _tile(strip: Path, frame: np.ndarray, gt: np.ndarray, index: int) -> tuple[np.ndarray, ...]:
    """Frame ``index`` of a strip, and the frame and GT enlarged as the strip shows them (small
    frames are enlarged by a whole factor, nearest neighbour; a gap and a legend band lie below)."""
    from reasonvos.leaderboard.error_analysis import GAP

    from reasonvos.overlay_style import LEGEND_HEIGHT

    img = np.asarray(Image.open(strip).convert("RGB")).astype(int)
    h, w = frame.shape[:2]
    k = (img.shape[0] - GAP - LEGEND_HEIGHT) // h
    x = index * (w * k + GAP)
    big = frame.repeat(k, 0).repeat(k, 1)
    return img[: h * k, x : x + w * k], big, gt.repeat(k, 0).repeat(k, 1)


def _grown(mask: np.ndarray) -> np.ndarray:
    """The mask grown by one pixel in all eight directions."""
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def test_error_analysis_draws_ground_truth_as_a_contour_and_the_prediction_as_a_fill(predicted, tmp_path):
    from reasonvos.leaderboard.error_analysis import error_analysis

    bench, pred, res = predicted
    items = error_analysis(bench, pred, res, tmp_path / "ana", n=2)
    assert [(i.rank, i.position) for i in items] == [("worst", 1), ("worst", 2), ("best", 1), ("best", 2)]
    worst, best = items[0], items[2]
    assert worst.key == bench.samples[1].key and pytest.approx(0.1) == worst.JF
    assert best.key == bench.samples[0].key and best.text == bench.samples[0].text
    assert len(best.frames) == min(4, len(bench.scored_frames(bench.samples[0])))

    def tiles(item):
        sample = bench.sample(item.key)
        for i, name in enumerate(item.frames):
            path = bench.videos[sample.video_id].image_path(name)
            frame = np.asarray(Image.open(path).convert("RGB")).astype(int)
            yield _tile(tmp_path / "ana" / item.image, frame, bench.gt_mask(sample, name), i)

    for tile, frame, gt in tiles(worst):  # empty prediction: only the GT's contour is drawn
        changed = np.abs(tile - frame).sum(axis=2) > 0
        edge = _grown(gt & _grown(~gt))  # within one pixel of the GT's boundary pixels
        assert changed.any() and not (changed & ~edge).any()
        assert {tuple(p) for p in tile[changed]} <= {(0, 0, 0), (255, 255, 255)}  # a dark and a light stroke

    fill = np.array([int(best.fill[i:i + 2], 16) for i in (1, 3, 5)])
    tinted = 0
    for tile, frame, gt in tiles(best):  # perfect prediction: inside the contour, tinted towards the fill
        inside = gt & ~_grown(gt & _grown(~gt))
        tinted += inside.sum()
        assert (np.abs(tile[inside] - fill).sum(axis=1) < np.abs(frame[inside] - fill).sum(axis=1)).all()
        assert (tile[~_grown(gt)] == frame[~_grown(gt)]).all()  # nothing drawn away from the object
    assert tinted > 0
    listing = json.loads((tmp_path / "ana" / "analysis.json").read_text())
    assert [i["key"] for i in listing["items"]] == [i.key for i in items]


def test_error_analysis_shows_one_entry_per_video_and_objects(predicted, tmp_path):
    """Two expressions of one object with the same (empty) prediction are one failure, not two."""
    from reasonvos.leaderboard.error_analysis import error_analysis

    bench, pred, res = predicted
    items = error_analysis(bench, pred, res, tmp_path / "ana", n=5)
    groups = [(i.video, tuple(sorted(bench.sample(i.key).obj_ids))) for i in items]
    assert len(groups) == len(set(groups))  # no group twice, not even across worst and best
    same = [(bench.sample(k).video_id, bench.sample(k).obj_ids) for k in (bench.samples[1].key, bench.samples[2].key)]
    assert same[0] == same[1]  # the fixture's two expressions of one object
    first = items[0]
    assert first.key == bench.samples[1].key
    assert first.also == [{"key": bench.samples[2].key, "text": bench.samples[2].text, "JF": pytest.approx(0.2),
                           "same_prediction": True}]
    assert len(items) == len({(s.video_id, s.obj_ids) for s in bench.samples})  # every distinct target once


def test_error_analysis_lists_missing_prediction_frames(predicted, tmp_path):
    from reasonvos.leaderboard.error_analysis import error_analysis

    bench, pred, res = predicted
    items = error_analysis(bench, pred, res, tmp_path / "ana", n=3)
    last = next(i for i in items if i.key == bench.samples[-1].key)
    assert last.missing_frames == [bench.scored_frames(bench.samples[-1])[-1]]


def test_error_analysis_refuses_results_of_another_benchmark(predicted, tmp_path):
    from reasonvos.leaderboard.error_analysis import error_analysis

    bench, pred, _ = predicted
    other = results_json("Model", 0.4)  # its keys (s0, s1, ...) are not ReasonVOS samples
    with pytest.raises(InputError, match="'s0' is not a sample of reasonvos"):
        error_analysis(bench, pred, other, tmp_path / "ana")


def test_cli_writes_tables_plots_page_and_linked_analysis(predicted, tmp_path, capsys):
    bench, pred, res = predicted
    out = tmp_path / "board"
    code = main(["leaderboard", str(res), "--out", str(out), "--title", "My <board>",
                 "--analysis", f"reasonvos:{bench.root}:{pred}", "--analysis-n", "1"])
    assert code == 0, capsys.readouterr().err
    assert {p.suffix for p in (out / "tables").iterdir()} == {".md", ".tex", ".csv"}
    assert {p.suffix for p in (out / "plots").iterdir()} == {".png", ".svg"}
    html = (out / "index.html").read_text()
    assert "<title>My &lt;board&gt;</title>" in html
    folder = out / "analysis" / "reasonvos-all-model"
    strips = sorted(p.name for p in folder.glob("*.png"))
    assert len(strips) == 2 and all(f'href="analysis/reasonvos-all-model/{s}"' in html for s in strips)
    for sample in bench.samples[:2]:  # the worst (J&F 0.1) and the best (1.0) sample, with their instruction
        assert f"“{escape(sample.text)}”" in html


def test_analysis_needs_a_method_name_when_several_were_scored(predicted, tmp_path):
    bench, pred, res = predicted
    other = write_results(tmp_path / "r2", "o.json", {**json.loads(res.read_text()), "method": "Other"})
    with pytest.raises(InputError, match="several methods"):
        build_leaderboard([res, other], tmp_path / "out", analyses=[AnalysisSpec("reasonvos", bench.root, pred)])
    result = build_leaderboard([res, other], tmp_path / "out",
                               analyses=[AnalysisSpec(bench, None, pred, method="Other", n=1)])
    assert (tmp_path / "out" / "analysis" / "reasonvos-all-other" / "analysis.json").is_file()
    assert result.page.is_file()


def test_a_run_with_skipped_samples_is_marked_incomplete_everywhere(tmp_path):
    """Numbers from `--missing skip` are inflated: no output may show them like a complete run."""
    from reasonvos.leaderboard.build import build_leaderboard

    def results(method: str, missing: int, policy: str) -> Path:
        path = tmp_path / f"{method}.json"
        path.write_text(json.dumps({
            "format": "reasonvos-results/1", "benchmark": "reasonvos", "split": None, "protocol": "expression",
            "missing_policy": policy, "method": method, "method_meta": {"role": "model"},
            "toolkit_version": "0.1.0", "date": "2026-11-23T00:00:00+00:00",
            "summary": {"J": 0.5, "F": 0.6, "J&F": 0.55, "missing_samples": missing, "missing_frames": 3 * missing,
                        "n_samples": 10 - missing if policy == "skip" else 10, "breakdown": {}},
            "per_sample": [], "per_object": []}))
        return path

    out = tmp_path / "board"
    build_leaderboard([results("complete", 0, "error"), results("partial", 4, "skip")], out,
                      include_reported=False)
    md = next((out / "tables").glob("*.md")).read_text()
    tex = next((out / "tables").glob("*.tex")).read_text()
    rows = {r["method"]: r for r in csv.DictReader(next((out / "tables").glob("*.csv")).open())}
    assert r"\[incomplete: 4 of 10 samples skipped\]" in md
    assert "incomplete: 4 of 10 samples skipped" in tex
    assert rows["partial"]["coverage"] == "incomplete: 4 of 10 samples skipped" and rows["complete"]["coverage"] == ""
    assert "incomplete: 4 of 10 samples skipped" in (out / "index.html").read_text()


def test_one_method_scored_with_two_protocols_keeps_both_rows(tmp_path):
    """davis-semi and davis-unsup numbers are different results, not an older and a newer copy."""
    from reasonvos.leaderboard.store import load_store

    for protocol, jf, date in (("davis-semi", 0.8, "2026-11-23T00:00:00+00:00"),
                               ("davis-unsup", 0.6, "2026-11-24T00:00:00+00:00")):
        (tmp_path / f"{protocol}.json").write_text(json.dumps({
            "format": "reasonvos-results/1", "benchmark": "davis", "split": "val", "protocol": protocol,
            "missing_policy": "error", "method": "XMem", "method_meta": {}, "toolkit_version": "0.1.0",
            "date": date, "summary": {"J": jf, "F": jf, "J&F": jf, "missing_samples": 0, "missing_frames": 0,
                                      "n_samples": 3, "breakdown": {}},
            "per_sample": [], "per_object": []}))
    entries = load_store([tmp_path]).entries
    assert sorted((e.protocol, e.value("J&F")) for e in entries) == [("davis-semi", 0.8), ("davis-unsup", 0.6)]
    assert sorted(tables.method_label(e) for e in entries) == ["XMem", "XMem [davis-unsup]"]


def test_a_measured_post_optimisation_run_sits_beside_the_papers_post_optimization_row(tmp_path):
    """Named as the paper names it, a measured run is its own row next to the reported one; the
    plain VideoLISA rows stay separate rows."""
    write_results(tmp_path / "r", "post.json", results_json("VideoLISA-3.8B (Post-optimization)", 0.47))
    board = build_leaderboard([tmp_path / "r"], tmp_path / "board")
    [table] = [t for t in board.tables if t.benchmark == "reasonvos"]
    post = [(e.origin, e.value("J&F")) for e in table.rows if e.method == "VideoLISA-3.8B (Post-optimization)"]
    assert sorted(post) == [("measured", pytest.approx(0.47)), ("reported", pytest.approx(0.475))]
    assert any(e.method == "VideoLISA-3.8B (One-Token-Seg-All)" and e.origin == "reported" for e in table.rows)
