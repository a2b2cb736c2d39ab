"""``reasonvos score``: the results JSON/CSV format, method metadata, and the davis --gt form."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from reasonvos.evaluators import Results, score
from writers.davis import write_davis
from writers.reasonvos import write_reasonvos

from reasonvos import load_benchmark
from reasonvos.cli import main
from reasonvos.errors import InputError
from reasonvos.masks import write_binary_png, write_index_png

SUMMARY_KEYS = {"J", "F", "J&F", "gIoU", "gIoU-frame", "cIoU", "missing_samples", "missing_frames", "n_samples",
                "breakdown"}
SAMPLE_KEYS = {"key", "video", "exp_id", "obj_ids", "text", "kind", "source", "J", "F", "J&F", "I", "U", "frames",
               "missing_frames"}


@pytest.fixture
def rv(tmp_path):
    bench = load_benchmark("reasonvos", write_reasonvos(tmp_path / "data", jpeg=False))
    pred = tmp_path / "pred"
    rng = np.random.default_rng(0)
    for s in bench.samples:
        for frame in bench.prediction_frames(s):
            gt = bench.gt_mask(s, frame)
            m = gt ^ (rng.random(gt.shape) < 0.05)
            write_binary_png(pred / bench.prediction_path(s, frame), m)
    return bench, pred


def test_score_writes_the_documented_json_and_csv(rv, tmp_path, capsys):
    bench, pred = rv
    out, csv = tmp_path / "out" / "r.json", tmp_path / "out" / "r.csv"
    rc = main(["score", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--workers", "2",
               "--method", "noisy-gt", "--method-meta", "T_sparse=32", "--method-meta", "checkpoint=/w/ckpt.pt",
               "--method-meta", "role=oracle", "--json", str(out), "--csv", str(csv)])
    assert rc == 0
    table = capsys.readouterr().out
    assert "J&F" in table and "kind=short" in table
    data = json.loads(out.read_text())
    assert data["format"] == "reasonvos-results/1"
    assert {"benchmark", "split", "protocol", "missing_policy", "method", "method_meta", "toolkit_version", "date",
            "summary", "per_sample", "per_object"} <= set(data)
    assert data["benchmark"] == "reasonvos" and data["protocol"] == "expression"
    assert data["missing_policy"] == "error" and data["method"] == "noisy-gt"
    assert data["method_meta"] == {"T_sparse": 32, "checkpoint": "/w/ckpt.pt", "role": "oracle"}
    assert data["date"].endswith("+00:00")
    assert set(data["summary"]) >= SUMMARY_KEYS
    assert set(data["summary"]["breakdown"]) == {"kind", "source"}
    assert set(data["summary"]["breakdown"]["kind"]["short"]) == {"J", "F", "J&F", "n"}
    assert len(data["per_sample"]) == len(bench.samples)
    assert set(data["per_sample"][0]) >= SAMPLE_KEYS
    assert all(0 <= r["J"] <= 1 and 0 <= r["F"] <= 1 for r in data["per_sample"])
    assert data["per_object"] == []
    rows = pd.read_csv(csv)
    assert list(rows["key"]) == [r["key"] for r in data["per_sample"]]
    # the leaderboard reads it back
    back = Results.from_json(out)
    assert back.summary == data["summary"]
    assert back.per_sample["J"].tolist() == pytest.approx([r["J"] for r in data["per_sample"]])


def test_results_json_writes_nan_as_null(rv, tmp_path):
    bench, pred = rv
    res = score(bench, pred, workers=1)
    res.summary["J-Decay"] = float("nan")
    res.to_json(tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text
    assert json.loads(text)["summary"]["J-Decay"] is None


def test_from_json_refuses_a_file_that_is_not_a_results_file(tmp_path):
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"videos": {}}))
    with pytest.raises(InputError, match="not a reasonvos results file") as info:
        Results.from_json(bad)
    assert str(bad) in str(info.value)


def test_score_davis_with_gt_folder_and_both_protocols(tmp_path, capsys):
    fx = write_davis(tmp_path / "gt")
    for vid, labs in fx.labels.items():
        for f, lab in zip(fx.frames[vid], labs, strict=True):
            write_index_png(tmp_path / "pred" / vid / f"{f}.png", np.where(lab == 255, 0, lab))
    for protocol in ("davis-semi", "davis-unsup"):
        out = tmp_path / f"{protocol}.json"
        rc = main(["score", "davis", "--gt", str(fx.root), "--pred", str(tmp_path / "pred"), "--protocol", protocol,
                   "--workers", "1", "--json", str(out), "--quiet"])
        assert rc == 0
        data = json.loads(out.read_text())
        assert data["protocol"] == protocol
        s = data["summary"]
        assert s["J"] == 1.0 and s["F"] == 1.0 and s["J-Recall"] == 1.0 and s["J-Decay"] == 0.0
        assert {"video", "object", "J", "F", "J-Recall", "J-Decay", "F-Recall", "F-Decay"} <= set(data["per_object"][0])
    # the default protocol for davis is davis-semi
    rc = main(["score", "davis", "--gt", str(fx.root), "--pred", str(tmp_path / "pred"), "--workers", "1",
               "--json", str(tmp_path / "d.json"), "--quiet"])
    assert rc == 0 and json.loads((tmp_path / "d.json").read_text())["protocol"] == "davis-semi"


def test_a_video_without_objects_in_its_first_frame_is_reported_not_silently_dropped(tmp_path, capsys):
    empty_start = [np.zeros((12, 16), np.uint8) for _ in range(4)]
    empty_start[2][3:6, 4:8] = 1  # the object only appears later: davis-semi has nothing to score
    normal = [np.zeros((12, 16), np.uint8) for _ in range(4)]
    for lab in normal:
        lab[2:5, 2:6] = 1
    fx = write_davis(tmp_path / "gt", videos={"late": empty_start, "normal": normal}, jpeg=False)
    for vid in ("late", "normal"):
        for f, lab in zip(fx.frames[vid], fx.labels[vid], strict=True):
            write_index_png(tmp_path / "pred" / vid / f"{f}.png", lab)
    out = tmp_path / "r.json"
    rc = main(["score", "davis", "--gt", str(fx.root), "--pred", str(tmp_path / "pred"), "--protocol", "davis-semi",
               "--workers", "1", "--json", str(out), "--quiet"])
    assert rc == 0
    assert "video 'late' was not scored: no object in the first frame" in capsys.readouterr().err
    summary = json.loads(out.read_text())["summary"]
    assert list(summary["unscored_videos"]) == ["late"] and summary["J"] == 1.0
    # a run where no video has anything to score is an error, not an empty result
    only_late = write_davis(tmp_path / "gt2", videos={"late": empty_start}, jpeg=False)
    rc = main(["score", "davis", "--gt", str(only_late.root), "--pred", str(tmp_path / "pred"),
               "--protocol", "davis-semi", "--workers", "1", "--quiet"])
    assert rc == 1
    assert "nothing to score (late: no object in the first frame" in capsys.readouterr().err


def test_protocol_that_does_not_fit_the_benchmark_is_a_clear_error(rv, capsys):
    bench, pred = rv
    rc = main(["score", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--protocol", "davis-semi",
               "--quiet"])
    assert rc == 1
    assert "cannot be scored with protocol 'davis-semi'" in capsys.readouterr().err


def test_missing_prediction_folder_is_a_clear_error(rv, tmp_path, capsys):
    bench, _ = rv
    rc = main(["score", "reasonvos", "--root", str(bench.root), "--pred", str(tmp_path / "nope"), "--quiet"])
    assert rc == 1
    assert "prediction folder not found" in capsys.readouterr().err


def test_missing_policy_is_recorded_in_the_json(rv, tmp_path):
    bench, pred = rv
    s = bench.samples[0]
    (pred / bench.prediction_path(s, bench.prediction_frames(s)[0])).unlink()
    out = tmp_path / "r.json"
    assert main(["score", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--missing", "skip",
                 "--json", str(out), "--quiet", "--workers", "1"]) == 0
    data = json.loads(out.read_text())
    assert data["missing_policy"] == "skip"
    assert data["summary"]["missing_samples"] == 1 and data["summary"]["missing_frames"] == 1
    assert not math.isnan(data["summary"]["J"])


def test_mevis_and_refytvos_train_score_with_the_expression_protocol(tmp_path):
    from writers.mevis import write_mevis
    from writers.refytvos import write_refytvos

    for name, root, split in (("mevis", write_mevis(tmp_path / "m", jpeg=False).root, "valid_u"),
                              ("refytvos", write_refytvos(tmp_path / "y").root, "train")):
        bench = load_benchmark(name, root, split)
        pred = tmp_path / f"pred-{name}"
        for s in bench.samples:
            for frame, gt in bench.gt_masks(s):
                write_binary_png(pred / bench.prediction_path(s, frame), gt)
        res = score(bench, pred, workers=2)
        assert res.protocol == "expression" and res.split == split
        assert res.summary["J"] == res.summary["F"] == res.summary["cIoU"] == 1.0
        assert res.summary["n_samples"] == len(bench.samples)


def test_scoring_modules_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, reasonvos.evaluators, reasonvos.evaluators.submission, reasonvos.cli.score, "
            "reasonvos.cli.submit; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_compat_decay_flag_warns(tmp_path, capsys):
    fx = write_davis(tmp_path / "gt")
    for vid, labs in fx.labels.items():
        for f, lab in zip(fx.frames[vid], labs, strict=True):
            write_index_png(tmp_path / "pred" / vid / f"{f}.png", np.where(lab == 255, 0, lab))
    rc = main(["score", "davis", "--gt", str(fx.root), "--pred", str(tmp_path / "pred"), "--workers", "1",
               "--compat-decay", "--quiet"])
    assert rc == 0
    assert "compat-decay" in capsys.readouterr().err


def test_prediction_folders_of_no_sample_are_reported_not_scored(rv, tmp_path, capsys):
    bench, pred = rv
    reference = score(bench, pred, workers=1).summary["J&F"]
    first = bench.prediction_dir(bench.samples[0])
    write_binary_png(pred / first.parent / "99" / "00000.png", np.zeros((4, 4), bool))  # an exp_id of no sample
    write_binary_png(pred / "mose_other_video_1" / "0" / "00000.png", np.zeros((4, 4), bool))
    (pred / "notes.txt").write_text("stale run")
    out = tmp_path / "r.json"
    assert main(["score", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--workers", "1",
                 "--json", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "3 entries" in err and "were not scored" in err and "notes.txt" in err
    summary = json.loads(out.read_text())["summary"]
    assert summary["unexpected_entries"] == {
        "count": 3, "first": [f"{first.parent}/99/", "mose_other_video_1/", "notes.txt"]}
    assert summary["J&F"] == pytest.approx(reference)


def test_method_meta_role_must_be_one_the_leaderboard_knows(rv, tmp_path, capsys):
    """``score`` accepts exactly the roles the leaderboard reads: no file it writes is refused later."""
    from reasonvos.leaderboard.store import read_results

    from reasonvos.errors import MetadataError

    bench, pred = rv
    scored = {}
    for role in ("model", "published", "oracle", "floor", "baseline"):
        out = tmp_path / f"{role}.json"
        rc = main(["score", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--workers", "1",
                   "--method-meta", f"role={role}", "--json", str(out), "--quiet"])
        scored[role] = rc == 0
        if rc == 1:
            assert "--method-meta role must be one of" in capsys.readouterr().err
    assert scored["model"] and not scored["baseline"]
    written = json.loads((tmp_path / "model.json").read_text())
    for role, accepted in scored.items():
        path = tmp_path / "board" / f"{role}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({**written, "method_meta": {"role": role}}))
        if accepted:
            assert read_results(path).role == role
        else:
            with pytest.raises(MetadataError, match="role"):
                read_results(path)


def test_the_leaderboard_reads_a_results_file_scored_with_the_default_protocol_unmarked(rv, tmp_path):
    from reasonvos.leaderboard.store import read_results
    from reasonvos.leaderboard.tables import entry_marks

    bench, pred = rv
    out = tmp_path / "r.json"
    assert main(["score", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--workers", "1",
                 "--method-meta", "role=published", "--json", str(out), "--quiet"]) == 0
    entry = read_results(out)
    assert entry.protocol == bench.spec.protocols[0] and entry.role == "published"
    assert entry_marks(entry) == ["[published predictions]"]  # the default protocol is not named
    data = json.loads(out.read_text())
    data["protocol"] = "davis-unsup"
    out.write_text(json.dumps(data))
    assert "[davis-unsup]" in entry_marks(read_results(out))
