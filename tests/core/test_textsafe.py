"""Strings from data cannot run as spreadsheet formulas or reorder what a reader sees."""

from __future__ import annotations

import csv
import io
import json
import re

import pandas as pd
import pytest
from reasonvos.evaluators import Results
from reasonvos.leaderboard.build import build_leaderboard
from writers.results import results_json, write_results

from reasonvos.textsafe import BIDI_CONTROLS, csv_cell, neutral_bidi

FORMULAS = ["=HYPERLINK(\"http://x\",\"click\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_a_cell_that_a_spreadsheet_would_run_gets_a_leading_quote(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-0.12", "+3", "-1e-05", "12.5", "", "dog", -0.12, 3, None])
def test_numbers_and_plain_text_stay_as_they_are(value):
    assert csv_cell(value) == value


def test_every_bidirectional_control_becomes_a_visible_escape():
    assert neutral_bidi("abc\u202edcba") == "abc\\u202edcba"
    assert not set(neutral_bidi("".join(BIDI_CONTROLS) + "x")) & set(BIDI_CONTROLS)
    assert neutral_bidi("naïve 日本 عربى") == "naïve 日本 عربى"  # other text is left alone


def test_the_results_csv_quotes_formulas_from_the_metadata_and_keeps_numbers(tmp_path):
    rows = pd.DataFrame([{"key": "v/0", "video": "v", "exp_id": "0", "obj_ids": ["1"], "text": "=1+2",
                          "kind": "short", "source": "@src", "J": 0.5, "F": -0.25, "J&F": 0.125}])
    Results("reasonvos", None, "expression", "error", {}, rows).to_csv(tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(newline="", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert row["text"] == "'=1+2" and row["source"] == "'@src"
    assert row["F"] == "-0.25" and row["J"] == "0.5"


def test_leaderboard_tables_and_page_neither_run_nor_reorder_method_names(tmp_path):
    names = ["=cmd|' /C calc'!A0", "safe\u202eelif.exe"]
    paths = [write_results(tmp_path / "r", f"{n}.json", results_json(name, 0.5 + n / 10, per_sample=[], sources={}))
             for n, name in enumerate(names)]
    out = tmp_path / "board"
    build_leaderboard(paths, out, include_reported=False)
    written = {p: p.read_text(encoding="utf-8") for p in (out / "tables").iterdir()}
    written[out / "index.html"] = (out / "index.html").read_text(encoding="utf-8")
    for path, text in written.items():
        assert not set(text) & set(BIDI_CONTROLS), path
        assert "u202eelif" in text, path  # the character is shown as an escape, not hidden
    table = next(p for p in written if p.name == "leaderboard.csv")
    methods = [r["method"] for r in csv.DictReader(io.StringIO(written[table]))]
    assert "'=cmd|' /C calc'!A0" in methods
    embedded = re.search(r'id="leaderboard-data">(.*?)</script>', written[out / "index.html"], re.S).group(1)
    shown = json.dumps(json.loads(embedded), ensure_ascii=False)
    assert "\u202e" not in shown and "\\\\u202eelif" in shown
