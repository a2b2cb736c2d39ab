"""Leaderboard files survive hostile names and failures: CSV and Markdown with carriage returns, strict JSON on the page, all-or-nothing rebuilds, well-formed SVG, clear errors for bad options."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from reasonvos.evaluators import Results
from reasonvos.leaderboard import tables
from reasonvos.leaderboard.build import AnalysisSpec, build_leaderboard
from reasonvos.leaderboard.store import read_results
from writers.results import results_json, write_results

from reasonvos.cli import main
from reasonvos.errors import InputError

CR_TEXT = "the dog\ron the left"  # a lone carriage return: no comma, quote or newline forces quoting


def _strict_json(text: str):
    """json.loads as a browser's JSON.parse reads it: NaN and Infinity are syntax errors."""
    def refuse(name: str):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_per_sample_csv_quotes_instructions_with_carriage_returns(tmp_path):
    data = results_json("M", 0.5)
    data["per_sample"][1]["text"] = CR_TEXT
    results = Results.from_dict(data)
    results.to_csv(tmp_path / "r.csv")
    rows = _read_csv(tmp_path / "r.csv")
    header, body = rows[0], rows[1:]
    assert len(body) == len(data["per_sample"])  # one record per sample, none split in two
    assert all(len(r) == len(header) for r in body)
    assert body[1][header.index("text")] == CR_TEXT
    assert (tmp_path / "r.csv").read_bytes().count(b"\n") == len(data["per_sample"]) + 1  # header + rows


def test_leaderboard_csv_round_trips_a_method_name_with_a_carriage_return(tmp_path):
    entry = read_results(write_results(tmp_path, "m.json", results_json("Mine\rv2", 0.5)))
    table = tables.build_table([entry])
    path = tmp_path / "t.csv"
    path.write_text(tables.to_csv(table), encoding="utf-8", newline="")
    rows = _read_csv(path)
    assert len(rows) == 2 and rows[1][rows[0].index("method")] == "Mine\rv2"


def test_markdown_keeps_a_name_with_a_carriage_return_on_one_table_row(tmp_path):
    entry = read_results(write_results(tmp_path, "m.json", results_json("Mine\rv2\r\nx", 0.5)))
    text = tables.to_markdown(tables.build_table([entry]))
    assert "\r" not in text  # CommonMark ends a line (and so a table row) at a lone \r too
    assert any(line.startswith("| Mine v2 x |") for line in text.split("\n"))


def test_the_page_data_is_strict_json_even_with_infinite_metadata(tmp_path):
    data = results_json("M", 0.5, per_sample=[], sources={})
    data["method_meta"]["lr_max"] = float("inf")  # Python's json writes and reads Infinity
    data["summary"]["extra_metric"] = float("-inf")
    path = write_results(tmp_path / "r", "m.json", data)
    result = build_leaderboard([path], tmp_path / "out", include_reported=False)
    html = result.page.read_text()
    embedded = re.search(r'<script type="application/json" id="leaderboard-data">(.*?)</script>', html, re.S)
    parsed = _strict_json(embedded.group(1))
    assert parsed["entries"][0]["method_meta"]["lr_max"] is None


def test_a_failed_rebuild_leaves_the_previous_leaderboard_untouched(tmp_path):
    out = tmp_path / "out"
    first = write_results(tmp_path / "r1", "a.json", results_json("First", 0.4, per_sample=[], sources={}))
    build_leaderboard([first], out, include_reported=False)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    second = write_results(tmp_path / "r2", "b.json", results_json("Second", 0.6, per_sample=[], sources={}))
    with pytest.raises(InputError, match="no results of benchmark 'mevis'"):
        build_leaderboard([second], out, include_reported=False,
                          analyses=[AnalysisSpec("mevis", tmp_path / "nowhere", tmp_path / "pred")])
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # not new tables beside the old page
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.is_dir()]  # no temporary folders left


def test_leaderboard_out_that_is_a_file_is_an_input_error(tmp_path, capsys):
    path = write_results(tmp_path / "r", "m.json", results_json("M", 0.5, per_sample=[], sources={}))
    (tmp_path / "board").write_text("not a folder")
    assert main(["leaderboard", str(path), "--out", str(tmp_path / "board"), "--no-reported", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "board") in err and "Traceback" not in err


@pytest.mark.parametrize("n", ["0", "-1"])
def test_analysis_n_below_one_is_a_usage_error(tmp_path, capsys, n):
    path = write_results(tmp_path / "r", "m.json", results_json("M", 0.5))
    with pytest.raises(SystemExit) as info:  # -1 used to draw all but the best sample, labelled "worst"
        main(["leaderboard", str(path), "--out", str(tmp_path / "out"), "--analysis-n", n,
              "--analysis", f"reasonvos:{tmp_path}:{tmp_path}"])
    assert info.value.code == 2 and "--analysis-n" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_error_analysis_refuses_n_below_one(tmp_path):
    from reasonvos.leaderboard.error_analysis import error_analysis

    with pytest.raises(ValueError, match="n must be at least 1"):
        error_analysis(object(), tmp_path, results_json("M", 0.5), tmp_path / "ana", n=-1)


def test_an_upper_case_png_extension_is_named_as_such_not_as_zero_padding(tmp_path):
    from reasonvos.evaluators.checks import list_folder

    (tmp_path / "00000.PNG").write_bytes(b"")
    problems = []
    listing = list_folder(tmp_path, ["00000"], ["00000"], problems)
    assert listing.missing == ("00000",)
    stray = next(p for p in problems if p.kind == "stray")
    assert stray.path.endswith("00000.PNG") and "zero padding" not in stray.detail
    assert ".PNG" in stray.detail and "lower-case" in stray.detail


def test_svg_plots_are_well_formed_xml_whatever_the_method_name(tmp_path):
    import xml.etree.ElementTree as ET

    name = "--><script>alert(1)</script> & \"q\" <!-- $x_y$"
    path = write_results(tmp_path / "r", "m.json", results_json(name, 0.5))
    build_leaderboard([path], tmp_path / "out", include_reported=False)
    svgs = sorted((tmp_path / "out" / "plots").glob("*.svg"))
    assert svgs
    for svg in svgs:  # matplotlib draws text as paths and keeps it only in escaped comments
        root = ET.fromstring(svg.read_bytes())
        assert not [el for el in root.iter() if el.tag.endswith("script")]
