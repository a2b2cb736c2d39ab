"""Protocols give the official numbers: each is compared with a direct re-statement of the documented
flow (whole-video stacks, the slow reference J/F, DAVIS statistics written out)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from reasonvos.evaluators import score
from reasonvos.evaluators.davis_protocols import merge_slot
from reasonvos.evaluators.davis_statistics import db_statistics, decay_bins
from reasonvos.evaluators.results import iou_summary
from reference_metrics import ref_f, ref_j
from scipy.optimize import linear_sum_assignment
from writers.davis import object_labels, write_davis
from writers.reasonvos import write_reasonvos

from reasonvos import load_benchmark
from reasonvos.errors import InputError, PredictionError
from reasonvos.masks import write_binary_png, write_index_png

TOL = 1e-12

# ----------------------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    ("n", "ids"),
    [(10, [0, 2, 5, 7, 9]), (8, [0, 2, 4, 5, 7]), (4, [0, 1, 2, 2, 3]), (2, [0, 0, 1, 1, 1]),
     (50, [0, 12, 25, 37, 49])],
)
def test_decay_bins_share_their_boundary_frames(n, ids):
    assert decay_bins(n) == [(ids[i], ids[i + 1] + 1) for i in range(4)]


def test_decay_of_one_frame_is_zero_and_recall_is_strict():
    s = db_statistics([0.5])
    assert (s.mean, s.recall, s.decay) == (0.5, 0.0, 0.0)
    v = np.array([1.0, 0.9, 0.8, 0.6, 0.5, 0.4, 0.2, 0.1, 0.0, 0.0])
    s = db_statistics(v)
    assert s.recall == 4 / 10
    assert s.decay == pytest.approx(v[0:3].mean() - v[7:10].mean(), abs=TOL)


def test_decay_is_correct_for_long_videos_and_compat_reproduces_the_uint8_bug():
    rng = np.random.default_rng(0)
    for n in (256, 300, 700):
        v = rng.random(n)
        ids = [0, *[round((n - 1) * q / 4 + 1e-10) for q in (1, 2, 3)], n - 1]
        ids = [int(np.round(x + 1e-10)) - 1 for x in np.linspace(1, n, 5)]
        assert db_statistics(v).decay == pytest.approx(v[ids[0]:ids[1] + 1].mean() - v[ids[3]:ids[4] + 1].mean())
        with pytest.warns(RuntimeWarning, match="compat-decay"), warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)  # numpy's empty-slice warnings
            warnings.simplefilter("always", category=RuntimeWarning)
            compat = db_statistics(v, compat_decay=True).decay
        if n in (256, 300):
            assert np.isnan(compat)
        else:
            assert compat != db_statistics(v).decay


# ----------------------------------------------------------------------------- gIoU / cIoU


def test_worked_example_of_giou_ciou_and_giou_frame():
    # sample A: (I, U) per frame = (50, 100), (0, 0), (10, 50); sample B: (30, 40)
    table = pd.DataFrame([
        {"I": 60, "U": 150, "J": (0.5 + 1.0 + 0.2) / 3, "frames": 3},
        {"I": 30, "U": 40, "J": 0.75, "frames": 1},
    ])
    s = iou_summary(table)
    assert s["gIoU"] == pytest.approx((60 / 150 + 30 / 40) / 2, abs=TOL)  # 0.575, not the mean J of 0.658
    assert s["cIoU"] == pytest.approx(90 / 190, abs=TOL)
    assert s["gIoU-frame"] == pytest.approx(0.6125, abs=TOL)


def test_ciou_is_one_when_everything_is_empty():
    table = pd.DataFrame([{"I": 0, "U": 0, "J": 1.0, "frames": 2}])
    assert iou_summary(table) == {"gIoU": 1.0, "gIoU-frame": 1.0, "cIoU": 1.0}


# ----------------------------------------------------------------------------- expression


def perturb(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.roll(mask, tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
    out[rng.random(mask.shape) < 0.03] ^= True
    return out


def write_reasonvos_predictions(bench, pred, rng, value=255):
    """Perturbed GT for every sample; returns {key: [(gt, pred), ...]}."""
    pairs = {}
    for s in bench.samples:
        pairs[s.key] = []
        for frame, gt in bench.gt_masks(s):
            p = perturb(gt, rng)
            path = pred / bench.prediction_path(s, frame)
            path.parent.mkdir(parents=True, exist_ok=True)
            from PIL import Image

            Image.fromarray(p.astype(np.uint8) * value, mode="L").save(path)
            pairs[s.key].append((gt, p))
    return pairs


@pytest.fixture
def reasonvos_case(tmp_path):
    root = write_reasonvos(tmp_path / "data", jpeg=False)
    bench = load_benchmark("reasonvos", root)
    pairs = write_reasonvos_predictions(bench, tmp_path / "pred", np.random.default_rng(1))
    return bench, tmp_path / "pred", pairs


def test_expression_protocol_is_the_mean_per_sample_then_over_samples(reasonvos_case):
    bench, pred, pairs = reasonvos_case
    res = score(bench, pred, workers=1)
    rows = res.per_sample.set_index("key")
    js, fs = [], []
    for key, frames in pairs.items():
        j = np.mean([ref_j(g, p) for g, p in frames])
        f = np.mean([ref_f(g, p) for g, p in frames])
        assert rows.loc[key, "J"] == pytest.approx(j, abs=TOL)
        assert rows.loc[key, "F"] == pytest.approx(f, abs=TOL)
        assert rows.loc[key, "I"] == sum(int((g & p).sum()) for g, p in frames)
        assert rows.loc[key, "U"] == sum(int((g | p).sum()) for g, p in frames)
        js.append(j)
        fs.append(f)
    assert res.summary["J"] == pytest.approx(np.mean(js), abs=TOL)
    assert res.summary["F"] == pytest.approx(np.mean(fs), abs=TOL)
    assert res.summary["J&F"] == pytest.approx((np.mean(js) + np.mean(fs)) / 2, abs=TOL)
    assert "J-Recall" not in res.summary
    assert set(res.summary["breakdown"]["kind"]) == {"short", "long"}
    assert set(res.summary["breakdown"]["source"]) == {"mevis", "vipseg", "burst"}
    assert res.summary["n_samples"] == len(bench.samples)


def test_worker_pool_gives_the_same_numbers(reasonvos_case):
    bench, pred, _ = reasonvos_case
    one = score(bench, pred, workers=1)
    two = score(bench, pred, workers=2)
    assert one.summary == two.summary
    pd.testing.assert_frame_equal(one.per_sample, two.per_sample)


def test_zero_one_and_zero_255_predictions_score_the_same(tmp_path):
    root = write_reasonvos(tmp_path / "data", jpeg=False)
    bench = load_benchmark("reasonvos", root)
    write_reasonvos_predictions(bench, tmp_path / "p255", np.random.default_rng(2), 255)
    write_reasonvos_predictions(bench, tmp_path / "p1", np.random.default_rng(2), 1)
    assert score(bench, tmp_path / "p255", workers=1).summary == score(bench, tmp_path / "p1", workers=1).summary


# ----------------------------------------------------------------------------- DAVIS flows


def official_stats(v: np.ndarray) -> tuple[float, float, float]:
    ids = [int(np.round(x + 1e-10)) - 1 for x in np.linspace(1, len(v), 5)]
    bins = [v[ids[i]:ids[i + 1] + 1] for i in range(4)]
    return float(np.nanmean(v)), float(np.nanmean(v > 0.5)), float(np.nanmean(bins[0]) - np.nanmean(bins[3]))


def official_davis(gt: list[np.ndarray], pred: list[np.ndarray], semi: bool) -> list[dict]:
    """davis2017 flow on whole-video stacks (docs/metrics.md#davis-semi, docs/metrics.md#davis-unsup), per-object rows in official order."""
    gt = np.stack(gt).astype(np.int64)
    void = gt == 255
    gt[void] = 0
    pred = np.stack(pred).astype(np.int64)
    n_obj, n_pred = int(gt[0].max()), int(pred.max())
    gts = [gt == k for k in range(1, n_obj + 1)]
    preds = [pred == k for k in range(1, max(n_pred, n_obj) + 1)]  # zero padding
    t_range = range(1, len(gt) - 1) if semi else range(len(gt))

    def per_frame(g, p):
        vo = [None if semi else void[t] for t in t_range]
        j = np.array([ref_j(g[t], p[t], v) for t, v in zip(t_range, vo, strict=True)])
        f = np.array([ref_f(g[t], p[t], v) for t, v in zip(t_range, vo, strict=True)])
        return j, f

    if semi:
        matched = [(k, k) for k in range(n_obj)]
        scores = {(k, k): per_frame(gts[k], preds[k]) for k in range(n_obj)}
    else:
        scores = {(r, c): per_frame(gts[c], preds[r]) for r in range(len(preds)) for c in range(n_obj)}
        cost = np.array([[(scores[r, c][0].mean() + scores[r, c][1].mean()) / 2 for c in range(n_obj)]
                         for r in range(len(preds))])
        rows, cols = linear_sum_assignment(-cost)
        matched = list(zip(rows, cols, strict=True))
    out = []
    for r, c in matched:
        j, f = scores[r, c]
        out.append({"gt_id": c + 1, "J": official_stats(j), "F": official_stats(f)})
    return out


def write_pred_labels(folder, frames, labels):
    for f, lab in zip(frames, labels, strict=True):
        write_index_png(folder / f"{f}.png", lab)


def perturb_labels(lab: np.ndarray, rng, mapping: dict[int, int] | None = None) -> np.ndarray:
    out = np.where(lab == 255, 0, lab).astype(np.uint8)
    out = np.roll(out, tuple(rng.integers(-1, 2, 2)), axis=(0, 1))
    noise = rng.random(lab.shape) < 0.05
    out[noise] = rng.integers(0, max(int(out.max()), 1) + 1, int(noise.sum()))
    if mapping:
        out = np.vectorize(lambda v: mapping.get(int(v), int(v)), otypes=[np.uint8])(out)
    return out


def assert_rows_match(res, expected: dict[str, list[dict]]):
    for video, rows in expected.items():
        got = res.per_object[res.per_object["video"] == video].reset_index(drop=True)
        assert len(got) == len(rows)
        for i, row in enumerate(rows):
            assert got.loc[i, "gt_id"] == row["gt_id"]
            for m in ("J", "F"):
                mean, recall, decay = row[m]
                assert got.loc[i, m] == pytest.approx(mean, abs=TOL)
                assert got.loc[i, f"{m}-Recall"] == pytest.approx(recall, abs=TOL)
                assert got.loc[i, f"{m}-Decay"] == pytest.approx(decay, abs=TOL)


def make_davis_videos(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "one": object_labels(rng, 5, (12, 16), [1]),
        "two": object_labels(rng, 6, (12, 16), [1, 2], absent={2: {0, 3}}, void=True),
        "gap": object_labels(rng, 4, (10, 14), [1, 3], absent={1: {2}}),  # id 2 absent: empty object
    }


@pytest.mark.parametrize("protocol", ["davis-semi", "davis-unsup"])
def test_davis_protocols_match_the_official_flow(tmp_path, protocol):
    videos = make_davis_videos()
    fx = write_davis(tmp_path / "gt", videos=videos)
    bench = load_benchmark("davis", fx.root)
    rng = np.random.default_rng(5)
    expected = {}
    for vid, labs in videos.items():
        mapping = {1: 2, 2: 1} if protocol == "davis-unsup" and vid == "two" else None
        preds = [perturb_labels(lab, rng, mapping) for lab in labs]
        if protocol == "davis-semi":
            n = int(np.where(labs[0] == 255, 0, labs[0]).max())
            preds = [np.where(p > n, 0, p).astype(np.uint8) for p in preds]
        write_pred_labels(tmp_path / "pred" / vid, fx.frames[vid], preds)
        expected[vid] = official_davis(labs, preds, semi=protocol == "davis-semi")
    res = score(bench, tmp_path / "pred", protocol=protocol, workers=2)
    assert_rows_match(res, expected)
    all_rows = [r for rows in expected.values() for r in rows]
    assert res.summary["J"] == pytest.approx(np.mean([r["J"][0] for r in all_rows]), abs=TOL)
    assert res.summary["F-Decay"] == pytest.approx(np.mean([r["F"][2] for r in all_rows]), abs=TOL)
    assert res.summary["n_samples"] == len(all_rows)


def test_davis_semi_rejects_more_predicted_ids_than_gt_objects(tmp_path):
    fx = write_davis(tmp_path / "gt", videos={"v": object_labels(np.random.default_rng(0), 3, (8, 8), [1])})
    labs = [np.where(lab == 1, 2, 0).astype(np.uint8) for lab in fx.labels["v"]]
    write_pred_labels(tmp_path / "pred" / "v", fx.frames["v"], labs)
    with pytest.raises(PredictionError, match="object id"):
        score(load_benchmark("davis", fx.root), tmp_path / "pred", protocol="davis-semi", workers=1)


def test_davis_unsup_ignores_extra_proposals_and_pads_missing_ones(tmp_path):
    rng = np.random.default_rng(3)
    videos = {"v": object_labels(rng, 4, (12, 16), [1, 2])}
    fx = write_davis(tmp_path / "gt", videos=videos)
    # one prediction only carries object 2 as id 5 plus a junk id 3: object 1 gets padding
    preds = [np.where(lab == 2, 5, 0).astype(np.uint8) for lab in videos["v"]]
    for p in preds:
        p[0, 0] = 3
    write_pred_labels(tmp_path / "pred" / "v", fx.frames["v"], preds)
    res = score(load_benchmark("davis", fx.root), tmp_path / "pred", protocol="davis-unsup", workers=1)
    assert_rows_match(res, {"v": official_davis(videos["v"], preds, semi=False)})
    by_gt = res.per_object.set_index("gt_id")
    assert by_gt.loc[2, "pred_id"] == 5


def test_binary_255_mask_where_index_png_is_expected_is_an_error(tmp_path):
    fx = write_davis(tmp_path / "gt", videos={"v": object_labels(np.random.default_rng(0), 3, (8, 8), [1])})
    for f, lab in zip(fx.frames["v"], fx.labels["v"], strict=True):
        write_binary_png(tmp_path / "pred" / "v" / f"{f}.png", lab == 1)
    with pytest.raises(PredictionError, match="0/255"):
        score(load_benchmark("davis", fx.root), tmp_path / "pred", protocol="davis-unsup", workers=1)


# ----------------------------------------------------------------------------- Ref-DAVIS


def test_merge_gives_overlaps_to_the_lowest_object_index():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3] = True
    merged = merge_slot([(1, b), (0, a), (2, None)], (4, 4))
    assert merged[0, 0] == 1 and merged[1, 0] == 1 and merged[2, 0] == 2 and merged[3, 0] == 0


def test_refdavis_is_the_unsupervised_protocol_per_slot_then_the_mean(tmp_path):
    from writers.refdavis import write_refdavis_converted

    fx = write_refdavis_converted(tmp_path / "data")
    bench = load_benchmark("refdavis", fx.root)
    rng = np.random.default_rng(11)
    pred = tmp_path / "pred"
    slot_masks: dict[tuple[str, int], dict[int, list[np.ndarray]]] = {}
    for s in bench.samples:
        k, a = divmod(int(s.exp_id), 4)
        masks = [perturb(bench.gt_mask(s, f), rng) for f in bench.videos[s.video_id].frames]
        for f, m in zip(bench.videos[s.video_id].frames, masks, strict=True):
            write_binary_png(pred / bench.prediction_path(s, f), m)
        slot_masks.setdefault((s.video_id, a), {})[k] = masks
    res = score(bench, pred, workers=2)
    slot_j = []
    for a in range(4):
        rows = []
        for vid in dict.fromkeys(s.video_id for s in bench.samples):
            objs = slot_masks[(vid, a)]
            merged = [merge_slot([(k, objs[k][t]) for k in objs], objs[0][t].shape)
                      for t in range(len(bench.videos[vid].frames))]
            gt = [bench.gt_labels(vid, f) for f in bench.videos[vid].frames]
            expected = official_davis(gt, merged, semi=False)
            got = res.per_object[(res.per_object["video"] == vid) & (res.per_object["slot"] == a)]
            assert list(got["J"]) == pytest.approx([r["J"][0] for r in expected], abs=TOL)
            assert list(got["F"]) == pytest.approx([r["F"][0] for r in expected], abs=TOL)
            rows.extend(expected)
        j = np.mean([r["J"][0] for r in rows])
        assert res.summary["breakdown"]["slot"][str(a)]["J"] == pytest.approx(j, abs=TOL)
        slot_j.append(j)
    assert res.summary["J"] == pytest.approx(np.mean(slot_j), abs=TOL)
    assert set(res.summary["breakdown"]["kind"]) == {"first-frame", "full-video"}
    assert set(res.summary["breakdown"]["annotator"]) == {"1", "2"}
    assert len(res.per_sample) == len(bench.samples)


# ------------------------------------------------------------------- protocols are classes


def test_a_protocol_added_from_outside_is_scored_with_the_common_missing_policy(reasonvos_case):
    """A protocol is a class: a subclass registered by a user changes how results are summarised,
    a benchmark's declaration allows it, and the scorer applies ``--missing`` to it unchanged."""
    from dataclasses import replace

    from reasonvos.evaluators import protocol_registry
    from reasonvos.evaluators.expression import ExpressionProtocol
    from reasonvos.evaluators.results import jf

    from reasonvos.benchmarks import registry

    @protocol_registry.register
    class WorstHalf(ExpressionProtocol):
        """J, F and J&F over the half of the samples with the lowest J&F."""

        name = "expression-worst-half"

        def headline(self, per_sample, per_object):
            worst = per_sample.nsmallest(max(1, len(per_sample) // 2), "J&F")
            return {k: v for k, v in jf(worst).items() if k != "n"}

    bench, pred, pairs = reasonvos_case
    spec = bench.spec
    registry.register(replace(spec, protocols=(*spec.protocols, WorstHalf.name)), replace=True)
    try:
        assert WorstHalf.name in protocol_registry.names()
        res = score(bench, pred, protocol=WorstHalf.name, workers=1)
        worst = res.per_sample.nsmallest(len(bench.samples) // 2, "J&F")
        assert res.summary["J&F"] == pytest.approx(worst["J&F"].mean(), abs=TOL)
        assert res.protocol == WorstHalf.name and res.summary["n_samples"] == len(bench.samples)
        # the policy is the scorer's: the new protocol skips a sample with a missing file unaided
        s = bench.samples[0]
        (pred / bench.prediction_path(s, bench.prediction_frames(s)[0])).unlink()
        skipped = score(bench, pred, protocol=WorstHalf.name, workers=1, missing="skip")
        assert s.key not in set(skipped.per_sample["key"])
        assert (skipped.summary["missing_samples"], skipped.summary["missing_frames"]) == (1, 1)
    finally:
        registry.register(spec, replace=True)
        protocol_registry.unregister(WorstHalf.name)
    with pytest.raises(InputError, match="unknown protocol 'expression-worst-half'"):  # unregistered again
        score(bench, pred, protocol=WorstHalf.name, workers=1)


def test_a_benchmark_is_scored_with_the_protocols_its_declaration_lists(reasonvos_case):
    bench, pred, _ = reasonvos_case
    assert score(bench, pred, workers=1).protocol == bench.spec.protocols[0]
    with pytest.raises(InputError, match="cannot be scored with protocol 'davis-semi'"):
        score(bench, pred, protocol="davis-semi", workers=1)
    with pytest.raises(InputError, match="unknown protocol 'nope'; known: expression, davis-semi"):
        score(bench, pred, protocol="nope", workers=1)
