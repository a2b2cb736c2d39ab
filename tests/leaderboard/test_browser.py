"""The per-sample browser's data and thumbnails (the page itself: test_browser_page.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from reasonvos.leaderboard.browser import browser_groups, choose_samples
from reasonvos.leaderboard.build import AnalysisSpec, BrowseOptions, build_leaderboard
from reasonvos.leaderboard.store import read_results
from support.scored_methods import INJECTION, scored_methods

from reasonvos.cli import main


@pytest.fixture
def scored(tmp_path):
    return scored_methods(tmp_path)


def build(scored, out, samples=2, frames=4):
    specs = [AnalysisSpec(scored.bench, None, folder, method=name, n=1) for name, folder in scored.preds.items()]
    return build_leaderboard(list(scored.results.values()), out, include_reported=False, analyses=specs,
                             browse=BrowseOptions(samples, frames))


def test_rows_join_every_method_on_the_sample_key(scored):
    entries = [read_results(p) for p in scored.results.values()]
    [group] = browser_groups(entries)
    assert group.methods == ["Exact", INJECTION]  # best headline J&F first
    assert [r["key"] for r in group.rows] == [s.key for s in scored.bench.samples]
    for m, entry in zip(group.methods, sorted(entries, key=lambda x: -x.value("J&F")), strict=True):
        by_key = {r["key"]: r["J&F"] for r in entry.per_sample}
        assert [r["jf"][group.methods.index(m)] for r in group.rows] == [by_key[r["key"]] for r in group.rows]
    row = group.rows[0]
    sample = scored.bench.samples[0]
    assert (row["video"], row["text"], row["kind"], row["source"]) == (sample.video_id, sample.text, sample.kind,
                                                                       sample.source)


def test_a_method_missing_a_sample_shows_a_blank_there(scored):
    exact, other = (read_results(p) for p in scored.results.values())
    other.per_sample = other.per_sample[1:]
    [group] = browser_groups([exact, other])
    assert group.rows[0]["jf"] == [1.0, None] and len(group.rows) == len(scored.bench.samples)


def test_samples_for_images_alternate_disagreement_worst_and_best_one_per_target():
    rows = [{"key": k, "jf": jf} for k, jf in (("a", [1.0, 0.0]), ("b", [0.5, 0.45]), ("c", [0.2, 0.3]),
                                                  ("d", [0.9, 0.95]), ("e", [1.0, 0.1]))]
    same = {"a": "x", "e": "x"}  # a and e refer to the same target: only one of them is drawn
    target = lambda key: same.get(key, key)  # noqa: E731
    assert choose_samples(rows, [0, 1], 3, target) == ["a", "c", "d"]  # disagreement, worst, best
    assert choose_samples(rows, [0, 1], 10, target) == ["a", "c", "d", "b"]
    assert choose_samples(rows, [1], 2, target) == ["a", "d"]  # one method: worst and best


def test_thumbnails_show_every_method_on_the_same_frames_with_per_frame_j(scored, tmp_path):
    result = build(scored, tmp_path / "out", samples=2)
    html = result.page.read_text(encoding="utf-8")
    data = json.loads(html.split('<script type="application/json" id="browser-data">')[1].split("</script>")[0])
    [group] = data["groups"]
    assert len(group["rows"]) == len(scored.bench.samples)  # every sample is in the table
    assert len(group["images"]) == 2  # ... and two of them have thumbnails
    entries = {read_results(p).method: read_results(p) for p in scored.results.values()}
    for key, shot in group["images"].items():
        sample = scored.bench.sample(key)
        assert shot["frames"] == list(scored.bench.scored_frames(sample))  # the fixture videos have <= 4 frames
        assert set(shot["methods"]) == {"Exact", INJECTION}
        for method, got in shot["methods"].items():
            assert len(got["tiles"]) == len(shot["frames"]) and got["missing"] == []
            for src in got["tiles"]:
                with Image.open(result.out_dir / src) as img:
                    assert img.height >= 96  # small frames are enlarged to be legible
            row = next(r for r in entries[method].per_sample if r["key"] == key)
            assert np.mean(got["J"]) == pytest.approx(row["J"])  # per-frame J agrees with the scorer's J
        assert shot["methods"]["Exact"]["J"] == [1.0] * len(shot["frames"])
    # the first sample drawn is the largest disagreement: a sample of the third video (nothing predicted)
    first = next(iter(group["images"]))
    assert scored.bench.sample(first).video_id == list(scored.bench.videos)[2]


def test_no_thumbnails_without_prediction_folders_but_the_table_is_there(scored, tmp_path):
    result = build_leaderboard(list(scored.results.values()), tmp_path / "out", include_reported=False)
    html = result.page.read_text(encoding="utf-8")
    assert 'id="browser-table"' in html and not (tmp_path / "out" / "browser").exists()
    assert INJECTION not in html  # the method name only appears escaped


def test_the_cli_bounds_the_thumbnails(scored, tmp_path, capsys):
    args = ["leaderboard", *map(str, scored.results.values()), "--out", str(tmp_path / "out"), "--no-reported",
            "--analysis", f"reasonvos:{scored.bench.root}:{scored.preds['Exact']}:Exact",
            "--browse-samples", "1", "--browse-frames", "2"]
    assert main(args) == 0, capsys.readouterr().err
    tiles = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out" / "browser").rglob("*.png"))
    assert len(tiles) == 2 and all(t.endswith(("_0.png", "_1.png")) for t in tiles)


@pytest.mark.parametrize("option", ["--browse-frames", "--browse-samples"])
def test_browse_options_below_their_minimum_are_usage_errors(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as info:
        main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "out"), option, "-1"])
    assert info.value.code == 2 and option in capsys.readouterr().err
