"""``score`` on hostile or broken inputs: one clear error naming the file, exit status 1, never a
hang, a traceback, a file read from outside ``--pred``, or a number computed on fewer frames
than the protocol defines. Pool workers never outlive a killed ``score``."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from reasonvos.evaluators import score
from writers.davis import write_davis
from writers.predictions import perfect_reasonvos

from reasonvos import load_benchmark
from reasonvos.cli import main
from reasonvos.errors import InputError, PredictionError
from reasonvos.masks import write_binary_png, write_index_png

#: a safety net for tests that start the CLI in a subprocess (a hang must fail, not stall CI);
#: no test asserts on speed
SAFETY_TIMEOUT_S = 300


@pytest.fixture
def rv(tmp_path):
    """A ReasonVOS fixture and a complete, perfect prediction folder."""
    return perfect_reasonvos(tmp_path)


def score_cli(bench, pred, *extra: str) -> list[str]:
    return ["score", bench.name, "--root", str(bench.root), "--pred", str(pred), "--workers", "1", "--quiet",
            *extra]


def run_cli(args: list[str], drop_root_override: bool = False) -> subprocess.CompletedProcess:
    """The real CLI in a child process. ``drop_root_override``: when running as root, drop the
    capabilities that let root read any file, so file permissions apply as for a normal user."""
    preexec = None
    if drop_root_override and os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)

        def preexec() -> None:  # PR_CAPBSET_DROP of CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
            for cap in (1, 2):
                if libc.prctl(24, cap, 0, 0, 0) != 0:
                    os._exit(77)

    proc = subprocess.run([sys.executable, "-m", "reasonvos", *args], capture_output=True, text=True,
                          timeout=SAFETY_TIMEOUT_S, preexec_fn=preexec)
    if proc.returncode == 77:
        pytest.skip("running as root without CAP_SETPCAP: cannot make a file unreadable to this process")
    return proc


def assert_one_error(err: str, *names: str) -> None:
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("reasonvos: error:")
    for name in names:
        assert name in err


# ------------------------------------------------------------------------------ refdavis skip


def test_refdavis_refuses_skip_because_a_slot_merges_every_expression(tmp_path, capsys):
    from writers.refdavis import write_refdavis_converted

    bench = load_benchmark("refdavis", write_refdavis_converted(tmp_path / "data").root)
    pred = tmp_path / "pred"
    for s in bench.samples:
        for f in bench.prediction_frames(s):
            write_binary_png(pred / bench.prediction_path(s, f), bench.gt_mask(s, f))
    s = bench.samples[0]
    (pred / bench.prediction_path(s, bench.prediction_frames(s)[1])).unlink()
    with pytest.raises(InputError, match="--missing skip is not available for protocol 'refdavis'"):
        score(bench, pred, workers=1, missing="skip")
    assert main(score_cli(bench, pred, "--missing", "skip")) == 1
    assert_one_error(capsys.readouterr().err, "--missing empty")
    # what refdavis can do with a missing file: score it as an empty mask, and say so
    res = score(bench, pred, workers=1, missing="empty")
    assert res.missing_policy == "empty"
    assert (res.summary["missing_samples"], res.summary["missing_frames"]) == (1, 1)
    # the per-expression protocol on the same data can drop the sample
    res = score(bench, pred, protocol="expression", workers=1, missing="skip")
    assert res.summary["missing_samples"] == 1 and len(res.per_sample) == len(bench.samples) - 1


# -------------------------------------------------------------------------- DAVIS GT frames


def _davis_case(tmp_path, layout="flat"):
    fx = write_davis(tmp_path / "gt", layout=layout)
    bench = load_benchmark("davis", fx.root)
    pred = tmp_path / "pred"
    for vid, video in bench.videos.items():
        for f in video.frames:
            lab = bench.gt_labels(vid, f)
            write_index_png(pred / vid / f"{f}.png", np.where(lab == 255, 0, lab).astype(np.uint8))
    return fx, bench, pred


@pytest.mark.parametrize("protocol", ["davis-semi", "davis-unsup"])
@pytest.mark.parametrize("prediction_too", [True, False], ids=["gt-and-prediction-missing", "only-gt-missing"])
def test_a_missing_gt_frame_of_a_flat_davis_folder_is_an_error_naming_it(tmp_path, capsys, protocol, prediction_too):
    fx, _, pred = _davis_case(tmp_path)
    vid = max(fx.frames, key=lambda v: len(fx.frames[v]))
    hole = fx.frames[vid][1]  # a frame inside the sequence
    (fx.root / vid / f"{hole}.png").unlink()
    if prediction_too:
        (pred / vid / f"{hole}.png").unlink()
    bench = load_benchmark("davis", fx.root)
    with pytest.raises(InputError, match=f"video '{vid}': ground-truth frame.* {hole}.png missing"):
        score(bench, pred, protocol=protocol, workers=1)
    assert main(["score", "davis", "--gt", str(fx.root), "--pred", str(pred), "--protocol", protocol,
                 "--workers", "1", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert_one_error(err, f"{hole}.png")
    assert "stray" not in err


def test_a_davis_video_without_gt_for_a_jpeg_frame_is_an_error(tmp_path):
    fx, _, pred = _davis_case(tmp_path, layout="davis")
    vid = next(iter(fx.frames))
    last = fx.frames[vid][-1]
    (fx.root / "Annotations" / "480p" / vid / f"{last}.png").unlink()
    (pred / vid / f"{last}.png").unlink()
    with pytest.raises(InputError, match=f"{last}.png missing"):
        score(load_benchmark("davis", fx.root), pred, protocol="davis-unsup", workers=1)


def test_sparse_gt_with_a_uniform_step_is_not_a_hole(tmp_path):
    fx, bench, pred = _davis_case(tmp_path)
    full = score(bench, pred, protocol="davis-unsup", workers=1)
    vid = next(iter(fx.frames))
    for i, f in enumerate(fx.frames[vid]):
        if i % 2:
            (fx.root / vid / f"{f}.png").unlink()
            (pred / vid / f"{f}.png").unlink()
    res = score(load_benchmark("davis", fx.root), pred, protocol="davis-unsup", workers=1)
    frames = res.per_object.groupby("video")["frames"].first()
    assert frames[vid] == (len(fx.frames[vid]) + 1) // 2
    assert frames.drop(vid).equals(full.per_object.groupby("video")["frames"].first().drop(vid))


# --------------------------------------------------------------------- ids outside --pred


@pytest.mark.parametrize("exp_id", ["../../outside", "ABSOLUTE"])
def test_metadata_ids_that_lead_outside_the_prediction_folder_are_refused(rv, tmp_path, capsys, exp_id):
    bench, pred = rv
    meta_path = bench.root / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    video = next(iter(meta["videos"].values()))
    exp_id = str(tmp_path / "elsewhere") if exp_id == "ABSOLUTE" else exp_id
    video["expressions"][0]["exp_id"] = exp_id
    meta_path.write_text(json.dumps(meta))
    bench = load_benchmark("reasonvos", bench.root)
    sample = next(s for s in bench.samples if s.exp_id == exp_id)
    for f in bench.prediction_frames(sample):  # predictions waiting where the id points
        target = pred / bench.prediction_path(sample, f)
        write_binary_png(target, bench.gt_mask(sample, f))
    assert not (pred / bench.prediction_path(sample, bench.prediction_frames(sample)[0])).resolve().is_relative_to(
        pred.resolve())
    with pytest.raises(InputError, match="not a plain relative path inside the prediction root"):
        score(bench, pred, workers=1)
    assert main(score_cli(bench, pred)) == 1
    assert_one_error(capsys.readouterr().err, exp_id)


def test_metadata_frame_names_that_lead_outside_the_prediction_folder_are_refused(rv, capsys):
    bench, pred = rv
    meta_path = bench.root / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    next(iter(meta["videos"].values()))["frames"].append("../../../outside")
    meta_path.write_text(json.dumps(meta))
    bench = load_benchmark("reasonvos", bench.root)
    with pytest.raises(InputError, match="frame name '../../../outside' is not a plain file name"):
        score(bench, pred, workers=1)
    assert main(score_cli(bench, pred)) == 1
    assert_one_error(capsys.readouterr().err, "../../../outside")


# ---------------------------------------------------------------- what lies in --pred


def test_a_fifo_where_a_prediction_png_should_be_is_refused_without_opening_it(rv):
    bench, pred = rv
    s = bench.samples[0]
    path = pred / bench.prediction_path(s, bench.prediction_frames(s)[0])
    path.unlink()
    os.mkfifo(path)
    proc = run_cli(score_cli(bench, pred))  # before the fix this blocked forever in open()
    assert proc.returncode == 1
    assert_one_error(proc.stderr, str(path), "not a regular file")


def test_a_symlink_loop_among_the_predictions_is_named(rv, capsys):
    bench, pred = rv
    s = bench.samples[0]
    path = pred / bench.prediction_path(s, bench.prediction_frames(s)[0])
    path.unlink()
    path.symlink_to(path.name)  # points at itself
    with pytest.raises(PredictionError) as info:
        score(bench, pred, workers=1)
    assert [p.kind for p in info.value.report.problems] == ["unreadable"]
    assert main(score_cli(bench, pred)) == 1
    assert_one_error(capsys.readouterr().err, str(path), "symbolic links")


def test_a_symlink_loop_where_a_folder_should_be_is_named(rv, capsys):
    bench, pred = rv
    folder = pred / bench.prediction_dir(bench.samples[0])
    shutil.rmtree(folder)
    folder.symlink_to(folder.name)
    assert main(score_cli(bench, pred)) == 1
    assert_one_error(capsys.readouterr().err, str(folder), "symbolic links")


def test_a_dangling_symlink_is_not_called_missing(rv):
    bench, pred = rv
    s = bench.samples[0]
    path = pred / bench.prediction_path(s, bench.prediction_frames(s)[0])
    path.unlink()
    path.symlink_to(pred / "nowhere.png")
    with pytest.raises(PredictionError) as info:
        score(bench, pred, workers=1, missing="empty")  # a broken link is not a missing file
    assert [(p.kind, p.detail) for p in info.value.report.problems] == [("unreadable", "symbolic link to nothing")]


@pytest.mark.parametrize("where", ["sample-folder", "prediction-root"])
def test_a_name_that_is_not_utf8_is_named_with_its_bytes_escaped(rv, tmp_path, capsys, where):
    bench, pred = rv
    folder = pred / bench.prediction_dir(bench.samples[0]) if where == "sample-folder" else pred
    with open(os.fsencode(folder) + b"/caf\xe9.png", "wb") as f:
        f.write(b"x")
    out = tmp_path / "r.json"
    assert main([*score_cli(bench, pred), "--json", str(out)]) == 1
    assert_one_error(capsys.readouterr().err, "caf\\xe9.png", "not valid UTF-8")
    assert not out.exists()


@pytest.mark.parametrize("depth", ["sample folder", "top folder"])
def test_an_unreadable_prediction_folder_is_named(rv, depth):
    """A sample's own folder, or the folder above it in the prediction root."""
    bench, pred = rv
    relative = bench.prediction_dir(bench.samples[0])
    folder = pred / (relative if depth == "sample folder" else relative.parts[0])
    folder.chmod(0)
    try:
        proc = run_cli(score_cli(bench, pred), drop_root_override=True)
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 1
    assert_one_error(proc.stderr, str(folder), "Permission denied")


def test_an_unreadable_prediction_png_is_named(rv):
    bench, pred = rv
    s = bench.samples[0]
    path = pred / bench.prediction_path(s, bench.prediction_frames(s)[0])
    path.chmod(0)
    proc = run_cli(score_cli(bench, pred), drop_root_override=True)
    assert proc.returncode == 1
    assert_one_error(proc.stderr, str(path), "Permission denied")


# ---------------------------------------------------------------------- the worker pool


def _children(pid: int) -> set[int]:
    """Live (non-zombie) processes whose parent is ``pid``, from /proc."""
    out = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_pool_workers_exit_when_score_is_killed(tmp_path):
    videos = {f"v{i}": [np.zeros((120, 160), np.uint8) for _ in range(30)] for i in range(6)}
    for labs in videos.values():
        for t, lab in enumerate(labs):
            lab[10 + t: 60 + t, 20:90] = 1
    fx = write_davis(tmp_path / "gt", videos=videos)
    for vid, labs in videos.items():
        for f, lab in zip(fx.frames[vid], labs, strict=True):
            write_index_png(tmp_path / "pred" / vid / f"{f}.png", np.roll(lab, 2, axis=1))
    proc = subprocess.Popen([sys.executable, "-m", "reasonvos", "score", "davis", "--gt", str(fx.root),
                             "--pred", str(tmp_path / "pred"), "--workers", "2", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        for _ in range(6000):  # wait for the pool (a generous cap, polled every 10 ms)
            workers = _children(proc.pid)
            if len(workers) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGSTOP)  # freeze it: it must not shut its pool down itself
        assert proc.poll() is None and len(workers) >= 2
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        for _ in range(600):  # they notice within a poll period; a generous cap, not a speed test
            if not any(_alive(w) for w in workers):
                break
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for w in workers:  # never leave our own orphans behind, even when the test fails
            if _alive(w):
                os.kill(w, signal.SIGKILL)
