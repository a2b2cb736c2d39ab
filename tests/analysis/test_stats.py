"""`reasonvos stats` prints a benchmark's composition and writes stats.json and figures."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from writers.reasonvos import default_videos, write_reasonvos

import reasonvos
from reasonvos.analysis.composition import FIGURES, compute_stats, format_table, write_outputs
from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.cli import main


@pytest.fixture
def root(tmp_path):
    write_reasonvos(tmp_path)
    return tmp_path


def test_composition_counts_match_the_fixture(root):
    stats = compute_stats(reasonvos.load_benchmark("reasonvos", root))
    videos = default_videos()
    assert (stats.videos, stats.samples) == (3, 6)
    assert stats.per_source["mevis"] == {"videos": 1, "samples": 3, "frames": 4, "kinds": {"long": 2, "short": 1}}
    assert stats.kinds == {"long": 4, "short": 2}
    assert sorted(stats.words) == sorted(len(e.text.split()) for v in videos for e in v.expressions)
    assert sorted(stats.frames_per_video) == [3, 3, 4]


def test_mask_statistics_are_exact_and_per_object(root):
    stats = compute_stats(reasonvos.load_benchmark("reasonvos", root))
    videos = default_videos()
    # one entry per distinct (video, object): mevis objects 0 and 1, vipseg 000006101, burst 3
    assert stats.mask_sequences == 4
    expected_area = sorted(
        float(m.mean()) for v in videos for masks in v.objects.values() for m in masks if m.any()
    )
    assert sorted(stats.mask_area) == pytest.approx(expected_area)
    assert stats.visible_fraction == [1.0, 1.0, 1.0, 1.0]


def test_visibility_counts_frames_where_the_object_is_absent(tmp_path):
    videos = default_videos()
    videos[2].objects["3"][1][:] = False  # burst object hidden on one of its 3 frames
    write_reasonvos(tmp_path, videos)
    stats = compute_stats(reasonvos.load_benchmark("reasonvos", tmp_path))
    assert sorted(stats.visible_fraction) == pytest.approx([2 / 3, 1.0, 1.0, 1.0])


def test_table_and_figures_are_written(root, tmp_path):
    stats = compute_stats(reasonvos.load_benchmark("reasonvos", root))
    table = format_table(stats)
    assert "source" in table and "total" in table and "vipseg" in table
    assert "mask area" in table
    out = tmp_path / "stats"
    written = write_outputs(stats, out)
    for name in FIGURES:
        png = out / f"{name}.png"
        assert png in written
        with Image.open(png) as img:
            assert img.size[0] > 100
        assert (out / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    data = json.loads((out / "stats.json").read_text())
    assert data["samples"] == 6 and data["masks"]["sequences"] == 4
    assert data["instruction_words"]["count"] == 6
    # the same statistics give the same bytes (no dates or random ids in the files)
    write_outputs(stats, tmp_path / "again")
    for name in ("stats.json", "composition.svg", "mask_area.png"):
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_split_without_ground_truth_skips_mask_stats_with_a_note(tmp_path):
    video = Video("v", ("00000", "00001"))
    sample = Sample("v", "0", "a red car", (), key="v_0")
    bench = Benchmark(Path(tmp_path), "valid", {"v": video}, [sample], has_ground_truth=False)
    stats = compute_stats(bench)
    assert stats.mask_sequences is None and "no ground truth" in stats.notes[0]
    assert stats.per_source == {"-": {"videos": 1, "samples": 1, "frames": 2, "kinds": {"-": 1}}}
    written = write_outputs(stats, tmp_path / "out")
    assert not (tmp_path / "out" / "mask_area.png").exists()
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["masks"] is None
    assert tmp_path / "out" / "composition.png" in written


def test_cli_prints_the_table_and_writes_files(root, tmp_path, capsys):
    assert main(["stats", "reasonvos", "--root", str(root), "--out", str(tmp_path / "s"), "--quiet", "--no-masks"]) == 0
    assert (tmp_path / "s" / "composition.svg").is_file()
    assert main(["stats", "reasonvos", "--root", str(root), "--no-masks"]) == 0
    out = capsys.readouterr().out
    assert "total" in out and "mask statistics not computed" in out


def test_cli_bad_root_exits_1(tmp_path, capsys):
    assert main(["stats", "reasonvos", "--root", str(tmp_path / "missing")]) == 1
    assert "reasonvos: error:" in capsys.readouterr().err


def test_empty_masks_do_not_count_as_visible():
    video = Video("v", ("a", "b"))
    sample = Sample("v", "0", "x", ("1",), key="k", source="mose", kind="short")

    class Tiny(Benchmark):
        name = "tiny"

        def gt_mask(self, sample, frame):
            m = np.zeros((4, 4), bool)
            if frame == "a":
                m[:2, :2] = True
            return m

    stats = compute_stats(Tiny(Path("."), None, {"v": video}, [sample], has_ground_truth=True))
    assert stats.mask_area == [0.25] and stats.visible_fraction == [0.5]
