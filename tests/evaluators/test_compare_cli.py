"""``reasonvos compare``: prints the paired table, writes --json, refuses mismatched files with one line."""

from __future__ import annotations

import json

from writers.results import results_json, write_results

from reasonvos.cli import main


def _rows(values: list[float]) -> list[dict]:
    return [{"key": f"s{i}", "video": f"v{i // 2}", "exp_id": str(i), "obj_ids": ["1"], "text": "t",
             "kind": "short" if i % 2 else "long", "source": "mevis", "J": v, "F": v, "J&F": v,
             "I": int(10 * v), "U": 10, "frames": 3, "missing_frames": 0} for i, v in enumerate(values)]


def test_compare_prints_and_writes_fractions(tmp_path, capsys):
    a = write_results(tmp_path, "a.json", results_json("A", 0.5, per_sample=_rows([0.5, 0.5, 0.2, 0.9])))
    b = write_results(tmp_path, "b.json", results_json("B", 0.6, per_sample=_rows([0.6, 0.5, 0.4, 0.8])))
    out = tmp_path / "cmp.json"
    assert main(["compare", str(a), str(b), "--resamples", "200", "--json", str(out)]) == 0
    assert "J&F" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    jf = doc["metrics"]["J&F"]
    assert abs(jf["diff"] - 0.05) < 1e-12  # B minus A: (0.1 + 0 + 0.2 - 0.1) / 4
    assert (jf["wins"], jf["ties"], jf["losses"]) == (2, 1, 1)
    assert doc["settings"] == {"resamples": 200, "seed": 0, "unit": "video", "ci": 0.95}
    # a second run replaces its own earlier output and gives the same numbers
    assert main(["compare", str(a), str(b), "--resamples", "200", "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == doc


def test_compare_refuses_other_split_and_missing_samples(tmp_path, capsys):
    a = write_results(tmp_path, "a.json", results_json("A", 0.5, per_sample=_rows([0.5, 0.5, 0.2, 0.9])))
    b = write_results(tmp_path, "b.json", results_json("B", 0.6, per_sample=_rows([0.6, 0.5, 0.4])))
    assert main(["compare", str(a), str(b)]) == 1
    assert "different samples: 1 only in" in capsys.readouterr().err
    c = write_results(tmp_path, "c.json", results_json("C", 0.6, split="valid", per_sample=_rows([0.6] * 4)))
    assert main(["compare", str(a), str(c)]) == 1
    assert "different split" in capsys.readouterr().err


def test_compare_will_not_overwrite_a_file_it_did_not_write(tmp_path, capsys):
    a = write_results(tmp_path, "a.json", results_json("A", 0.5, per_sample=_rows([0.5, 0.5])))
    b = write_results(tmp_path, "b.json", results_json("B", 0.6, per_sample=_rows([0.6, 0.5])))
    notes = tmp_path / "notes.json"
    notes.write_text("mine")
    assert main(["compare", str(a), str(b), "--json", str(notes)]) == 1
    assert notes.read_text() == "mine"


def test_compare_counts_the_videos_behind_each_row_and_says_when_they_are_too_few_for_a_p_value(tmp_path, capsys):
    """Two videos can give a CI that excludes 0, but a sign-flip p-value no lower than 0.5: the
    table shows the number of videos and says so."""
    a = write_results(tmp_path, "a.json", results_json("A", 0.5, per_sample=_rows([0.5, 0.5, 0.2, 0.9])))
    b = write_results(tmp_path, "b.json", results_json("B", 0.6, per_sample=_rows([0.6, 0.6, 0.4, 1.0])))
    out = tmp_path / "cmp.json"
    assert main(["compare", str(a), str(b), "--resamples", "200", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["videos"] == 2 and doc["breakdown_videos"]["kind"] == {"long": 2, "short": 2}
    assert doc["metrics"]["J&F"]["p_value"] > 0.4  # 2 videos: 2 of 4 sign patterns are as extreme: about 0.5
    assert "2 videos give 0.500" in printed
