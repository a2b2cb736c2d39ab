"""The revos protocol: the official R in uint8 (per encoding) and on booleans, the referring /
reasoning / overall summaries with no-target kept out, official rounding, and --missing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from reasonvos.evaluators import score
from reasonvos.evaluators.revos_protocol import robustness
from writers.revos import RevosExpression, RevosVideo, write_revos

from reasonvos import load_benchmark
from reasonvos.cli import main
from reasonvos.errors import PredictionError


def _save(pred_root, vid, exp_id, frame, mask, value=255):
    d = pred_root / vid / exp_id
    d.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(mask, np.uint8) * value, mode="L").save(d / f"{frame}.png")


def _perfect(fx, pred_root, value=255, skip=()):
    for v in fx.videos:
        for e in v.expressions:
            key = f"{v.name}/{e.exp_id}"
            for t, frame in enumerate(v.frames):
                if (key, frame) not in skip:
                    _save(pred_root, v.name, e.exp_id, frame, fx.sums[key][t] > 0, value)


def test_r_of_the_worked_example_depends_on_the_encoding_only_in_the_compat_modes():
    # GT 25 px, foreground 50 px, 5 false-positive pixels
    gt = np.zeros((10, 10), np.uint8)
    gt[:5, :5] = 1
    fg = np.zeros((10, 10), np.uint8)
    fg[:5, :] = 1
    pred = gt.copy()
    pred[9, :5] = 1
    assert robustness(gt, pred, fg) == pytest.approx(0.90)  # saved as 0/1 (Sa2VA)
    assert robustness(gt, pred * 255, fg) == 0.0  # saved as 0/255 (VISA): each FP pixel counts 255
    assert robustness(gt.astype(bool), pred.astype(bool), fg.astype(bool)) == pytest.approx(0.90)


def test_overlapping_objects_wrap_in_uint8_but_not_on_booleans():
    gt = np.zeros((4, 4), np.uint8)
    gt[:2, :2] = 1
    gt[1, 1] = 2  # two objects overlap on one pixel
    fg = (gt > 0).astype(np.uint8)  # 4 px
    perfect = (gt > 0).astype(np.uint8)
    assert robustness(gt, perfect, fg) == 0.0  # 0/1: (1 - 2) wraps to 255, 255 FP for 1 pixel
    assert robustness(gt, perfect * 255, fg) == pytest.approx(1 - 1 / 4)  # 0/255: 255 * 255 wraps to 1
    assert robustness(gt > 0, perfect > 0, fg > 0) == 1.0


def test_an_empty_foreground_gives_one_for_an_empty_prediction_and_zero_otherwise():
    empty = np.zeros((3, 3), bool)
    assert robustness(empty, empty, empty) == 1.0
    one = empty.copy()
    one[0, 0] = True
    assert robustness(empty, one, empty) == 0.0


def test_perfect_predictions_and_the_summaries(tmp_path):
    fx = write_revos(tmp_path / "data", jpeg=False)
    _perfect(fx, tmp_path / "pred")
    bench = load_benchmark("revos", fx.root)
    res = score(bench, tmp_path / "pred", workers=1)
    assert res.protocol == "revos"  # the benchmark's default
    s = res.summary
    assert s["J"] == s["F"] == s["J&F"] == 1.0 and s["R"] == 1.0
    assert s["R_mode"] == "boolean" and s["rounding"] == "none"
    kinds = s["breakdown"]["kind"]
    assert kinds["referring"]["n"] == 2 and kinds["reasoning"]["n"] == 2 and kinds["no-target"]["n"] == 1
    # the overlap in "UVO/all/-fbscFfkh4M/1" wraps under the official 0/1 arithmetic: R drops below 1
    compat = score(bench, tmp_path / "pred", workers=1, compat_r="sa2va-01")
    row = compat.per_sample.set_index("key").loc["UVO/all/-fbscFfkh4M/1"]
    assert row["R"] < 1 and row["J"] == 1.0 and row["R_mode"] == "sa2va-01"


def test_overall_is_the_unweighted_mean_of_the_two_subsets_and_no_target_is_left_out(tmp_path):
    fx = write_revos(tmp_path / "data", jpeg=False)
    pred = tmp_path / "pred"
    _perfect(fx, pred)
    # spoil one referring expression and the no-target one
    for frame in ("00145", "00150", "00165"):
        _save(pred, "UVO/all/-fbscFfkh4M", "0", frame, np.zeros((12, 16), bool))
        _save(pred, "UVO/all/-fbscFfkh4M", "2", frame, np.ones((12, 16), bool))
    res = score(load_benchmark("revos", fx.root), pred, workers=1)
    kinds = res.summary["breakdown"]["kind"]
    assert kinds["no-target"]["J"] == 0.0  # scored and reported ...
    ref, rea = kinds["referring"], kinds["reasoning"]
    assert rea["J"] == 1.0
    for m in ("J", "F", "R"):  # ... but the overall ignores it, and does not weight by subset size
        assert res.summary[m] == pytest.approx((ref[m] + rea[m]) / 2)
    assert ref["J&F"] == pytest.approx((ref["J"] + ref["F"]) / 2)


def test_official_rounding_averages_values_rounded_to_two_decimals(tmp_path):
    v = RevosVideo("UVO/all/x", ["0", "1", "2"], (7, 9))
    m = np.zeros((7, 9), bool)
    m[1:6, 2:7] = True
    v.objects = {5: [m, m, m]}
    v.expressions = [RevosExpression("0", "a", [5], 0), RevosExpression("1", "b?", [5], 1)]
    fx = write_revos(tmp_path / "data", videos=[v], jpeg=False)
    pred = tmp_path / "pred"
    p = m.copy()
    p[1, 2] = False  # J = 24/25 in one of three frames: mean J = 0.98666...
    for exp_id in ("0", "1"):
        for t, frame in enumerate(v.frames):
            _save(pred, v.name, exp_id, frame, p if t == 0 else m)
    bench = load_benchmark("revos", fx.root)
    full = score(bench, pred, workers=1)
    rounded = score(bench, pred, workers=1, official_rounding=True)
    assert full.summary["J"] == pytest.approx((2 + 24 / 25) / 3)
    assert rounded.summary["J"] == pytest.approx(0.9867)
    assert rounded.summary["rounding"] == "official"


def test_a_missing_prediction_follows_missing_instead_of_scoring_zero(tmp_path):
    fx = write_revos(tmp_path / "data", jpeg=False)
    pred = tmp_path / "pred"
    _perfect(fx, pred, skip={("MeViS/train/0ab4afe7fb46/0", "00001")})
    bench = load_benchmark("revos", fx.root)
    with pytest.raises(PredictionError, match="missing"):
        score(bench, pred, workers=1)
    empty = score(bench, pred, workers=1, missing="empty")
    row = empty.per_sample.set_index("key").loc["MeViS/train/0ab4afe7fb46/0"]
    assert row["missing_frames"] == 1 and row["J"] == pytest.approx(0.5)  # one empty frame of two
    skipped = score(bench, pred, workers=1, missing="skip")
    assert "MeViS/train/0ab4afe7fb46/0" not in set(skipped.per_sample["key"])


def test_cli_records_the_r_mode_and_refuses_it_for_other_protocols(tmp_path, capsys):
    fx = write_revos(tmp_path / "data", jpeg=False)
    _perfect(fx, tmp_path / "pred", value=1)
    out = tmp_path / "r.json"
    assert main(["score", "revos", "--root", str(fx.root), "--pred", str(tmp_path / "pred"), "--workers", "1",
                 "--compat-r", "sa2va-01", "--official-rounding", "--json", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text())
    assert data["summary"]["R_mode"] == "sa2va-01" and data["summary"]["rounding"] == "official"
    # the files' encoding is reported (the no-target expression's predictions are all empty)
    assert data["summary"]["prediction_encodings"] == {"0/1": 4}
    assert {"R", "A", "type_id", "R_mode"} <= set(data["per_sample"][0])
    assert main(["score", "revos", "--root", str(fx.root), "--pred", str(tmp_path / "pred"), "--protocol",
                 "expression", "--compat-r", "visa-255", "--quiet"]) == 1
    assert "revos protocol only" in capsys.readouterr().err


def test_only_benchmarks_that_list_the_revos_protocol_can_be_scored_with_it(tmp_path):
    from writers.mevis import write_mevis

    from reasonvos.errors import InputError

    bench = load_benchmark("mevis", write_mevis(tmp_path).root)
    with pytest.raises(InputError, match="cannot be scored with protocol .revos."):
        score(bench, tmp_path, protocol="revos", workers=1)
