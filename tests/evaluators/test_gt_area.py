"""Every protocol writes ``gt_area`` per sample: the mean, over the sample's scored frames, of the
fraction of the frame's pixels its ground truth covers (void pixels are not covered). Each case
recomputes it directly from the GT the benchmark holds; results files without it stay readable."""

from __future__ import annotations

import json

import numpy as np
import pytest
from reasonvos.evaluators import Results, score
from reasonvos.leaderboard import store
from writers.davis import object_labels, write_davis
from writers.reasonvos import write_reasonvos
from writers.results import results_json, write_results

from reasonvos import load_benchmark
from reasonvos.errors import MetadataError
from reasonvos.masks import write_binary_png, write_index_png

TOL = 1e-12


def _shifted(mask: np.ndarray) -> np.ndarray:
    return np.roll(mask, 1, axis=1)


def test_expression_rows_carry_the_mean_gt_fraction_of_their_scored_frames(tmp_path):
    bench = load_benchmark("reasonvos", write_reasonvos(tmp_path / "data", jpeg=False))
    expected = {}
    for s in bench.samples:
        fractions = []
        for frame, gt in bench.gt_masks(s):
            write_binary_png(tmp_path / "pred" / bench.prediction_path(s, frame), _shifted(gt))
            fractions.append(np.count_nonzero(gt) / gt.size)
        expected[s.key] = np.mean(fractions)
    rows = score(bench, tmp_path / "pred", workers=1).per_sample.set_index("key")
    assert {k: rows.loc[k, "gt_area"] for k in expected} == pytest.approx(expected, abs=TOL)
    assert len(set(expected.values())) > 1  # the fixture has objects of different sizes


@pytest.mark.parametrize(("protocol", "frames"), [("davis-semi", slice(1, -1)), ("davis-unsup", slice(None))])
def test_davis_object_rows_carry_their_object_s_gt_fraction(tmp_path, protocol, frames):
    rng = np.random.default_rng(2)
    videos = {"two": object_labels(rng, 6, (12, 16), [1, 2], absent={2: {3}}, void=True),
              "one": object_labels(rng, 5, (10, 14), [1])}
    fx = write_davis(tmp_path / "gt", videos=videos)
    for vid, labs in videos.items():
        for f, lab in zip(fx.frames[vid], labs, strict=True):
            write_index_png(tmp_path / "pred" / vid / f"{f}.png", np.where(lab == 255, 0, lab).astype(np.uint8))
    res = score(load_benchmark("davis", fx.root), tmp_path / "pred", protocol=protocol, workers=1)
    for row in res.per_sample.itertuples():
        gt_id = int(row.obj_ids[0])
        labs = videos[row.video][frames]  # void (255) is never an object id: not covered
        assert row.gt_area == pytest.approx(np.mean([np.mean(lab == gt_id) for lab in labs]), abs=TOL)


def test_refdavis_expression_rows_carry_their_referred_objects_fraction(tmp_path):
    from writers.refdavis import write_refdavis_converted

    fx = write_refdavis_converted(tmp_path / "data")
    bench = load_benchmark("refdavis", fx.root)
    for s in bench.samples:
        for f in bench.videos[s.video_id].frames:
            write_binary_png(tmp_path / "pred" / bench.prediction_path(s, f), bench.gt_mask(s, f))
    rows = score(bench, tmp_path / "pred", workers=1).per_sample.set_index("key")
    for s in bench.samples:
        ids = [int(o) for o in s.obj_ids]
        fractions = [np.mean(np.isin(bench.gt_labels(s.video_id, f), ids)) for f in bench.videos[s.video_id].frames]
        assert rows.loc[s.key, "gt_area"] == pytest.approx(np.mean(fractions), abs=TOL)


def test_revos_rows_carry_the_gt_fraction_and_an_empty_target_has_zero(tmp_path):
    from writers.revos import write_revos

    fx = write_revos(tmp_path / "data", jpeg=False)
    bench = load_benchmark("revos", fx.root)
    for s in bench.samples:
        for f in bench.scored_frames(s):
            write_binary_png(tmp_path / "pred" / bench.prediction_path(s, f), bench.gt_mask(s, f))
    rows = score(bench, tmp_path / "pred", workers=1).per_sample.set_index("key")
    for s in bench.samples:
        expected = np.mean([np.mean(bench.gt_mask(s, f)) for f in bench.scored_frames(s)])
        assert rows.loc[s.key, "gt_area"] == pytest.approx(expected, abs=TOL)
    assert (rows.loc[rows["kind"] == "no-target", "gt_area"] == 0).all()


def test_a_results_file_without_gt_area_is_still_read(tmp_path):
    old = results_json("Old", 0.4)
    assert all("gt_area" not in r for r in old["per_sample"])
    path = write_results(tmp_path, "old.json", old)
    assert len(Results.from_json(path).per_sample) == len(old["per_sample"])
    assert store.read_results(path).per_sample == old["per_sample"]


def test_the_leaderboard_refuses_a_gt_area_outside_0_1(tmp_path):
    bad = results_json("Bad", 0.4)
    bad["per_sample"][1]["gt_area"] = 12.5  # a percentage
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(MetadataError, match=r"per_sample\[1\]\['gt_area'\] = 12.5 is out of range"):
        store.read_results(path)
