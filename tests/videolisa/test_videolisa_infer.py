"""VideoLISA through the shared runner and the CLI on tiny random weights: a complete
prediction folder in the benchmark's layout, per-video caching, sharding across processes
(torchrun), scoring of the result, and ``reasonvos segment`` on a video file and a frame folder."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from PIL import Image  # noqa: E402
from reasonvos.videolisa.prompts import query_for  # noqa: E402
from reasonvos.videolisa.segmenter import VideoLisaSegmenter  # noqa: E402
from reasonvos.videolisa.tiny import tiny_videolisa  # noqa: E402
from writers.reasonvos import write_reasonvos  # noqa: E402

from reasonvos import load_benchmark  # noqa: E402
from reasonvos.cli import main  # noqa: E402
from reasonvos.frames import read_video_frames  # noqa: E402
from reasonvos.inference.runner import run_inference  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return load_benchmark("reasonvos", write_reasonvos(tmp_path_factory.mktemp("rv")))


@pytest.fixture(scope="module")
def tiny():
    return tiny_videolisa(0)


def segmenter(tiny, **kw):
    model, tok = tiny
    return VideoLisaSegmenter(model, tok, **kw)


def folder_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.png"))}


def test_runner_writes_every_frame_of_every_sample_as_0_255_pngs(bench, tiny, tmp_path):
    seg = segmenter(tiny)
    stats = run_inference(seg, bench, tmp_path / "pred", quiet=True)
    assert stats.written == len(bench.samples) == 6
    for s in bench.samples:
        for frame in bench.prediction_frames(s):
            img = Image.open(tmp_path / "pred" / bench.prediction_path(s, frame))
            assert img.mode == "L" and img.size[::-1] == bench.gt_size(s)
            assert set(np.unique(np.asarray(img))) <= {0, 255}
    info = json.loads((tmp_path / "pred" / ".reasonvos-infer.json").read_text())
    assert info["model"]["name"] == "videolisa" and info["model"]["num_frames_sparse"] == 32
    assert run_inference(seg, bench, tmp_path / "pred", quiet=True).skipped == 6  # resume


def test_sam_and_clip_run_once_per_video_and_the_llm_once_per_sample(bench, tiny, tmp_path):
    cached = segmenter(tiny)
    run_inference(cached, bench, tmp_path / "a", quiet=True)
    assert cached.calls["decode"] == cached.calls["sam_encode"] == cached.calls["clip"] == len(bench.videos)
    assert cached.calls["llm"] == len(bench.samples)
    assert cached.calls["decode_masks"] == sum(len(bench.prediction_frames(s)) for s in bench.samples)
    uncached = segmenter(tiny, cache=False)
    run_inference(uncached, bench, tmp_path / "b", quiet=True)
    assert uncached.calls["sam_encode"] == len(bench.samples)
    assert folder_digest(tmp_path / "a") == folder_digest(tmp_path / "b")  # the cache changes no mask


def test_samples_use_their_benchmark_template_and_segment_uses_the_raw_text(bench, tiny):
    seg = segmenter(tiny)
    sample = next(s for s in bench.samples if s.kind == "long")
    video = bench.videos[sample.video_id]
    via_sample = list(seg.segment_sample(bench, sample))
    query = query_for("reasoning", sample.text, "long")
    direct = list(seg.segment_frames(video.id, lambda: read_video_frames(video), query))
    raw = list(seg.segment(video, sample.text))
    assert all(np.array_equal(a, b) for a, b in zip(via_sample, direct, strict=True))
    assert len(raw) == len(video.frames)


def test_infer_cli_then_score_accepts_the_folder(bench, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["infer", "videolisa", "--benchmark", "reasonvos", "--root", str(bench.root), "--out", str(out),
            "--tiny-random", "0", "--dtype", "fp32", "--quiet"]
    assert main(args) == 0
    assert "wrote 6" in capsys.readouterr().out
    assert main(["score", "reasonvos", "--root", str(bench.root), "--pred", str(out), "--workers", "1",
                 "--json", str(tmp_path / "r.json")]) == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["summary"]["missing_frames"] == 0 and len(results["per_sample"]) == 6


def test_two_torchrun_processes_write_the_same_folder_as_one(bench, tiny, tmp_path):
    # one thread here as in each torchrun worker, so the arithmetic is identical
    run_inference(segmenter(tiny), bench, tmp_path / "one", quiet=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=0",
           "-m", "reasonvos", "infer", "videolisa", "--benchmark", "reasonvos", "--root", str(bench.root),
           "--out", str(tmp_path / "two"), "--tiny-random", "0", "--dtype", "fp32", "--device", "cpu", "--quiet"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[shard 1/2]" in done.stdout and "[shard 2/2]" in done.stdout
    assert folder_digest(tmp_path / "two") == folder_digest(tmp_path / "one")
    assert len(folder_digest(tmp_path / "one")) == sum(len(bench.prediction_frames(s)) for s in bench.samples)


def write_clip(folder: Path, n: int = 5) -> Path:
    import cv2

    folder.mkdir(parents=True)
    path = folder / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (40, 30))
    for i in range(n):
        img = np.full((30, 40, 3), 40 * i, np.uint8)
        cv2.imwrite(str(folder / f"{i:04d}.png"), img)
        writer.write(img)
    writer.release()
    return path


def test_segment_command_writes_masks_named_by_frame_and_an_overlay(tmp_path, capsys):
    clip = write_clip(tmp_path / "in")
    base = ["--text", "the brightest square", "--tiny-random", "0", "--dtype", "fp32"]
    assert main(["segment", "--model", "videolisa", "--video", str(clip), "--out", str(tmp_path / "a"),
                 "--overlay", "gif", *base]) == 0
    masks = sorted((tmp_path / "a" / "masks").iterdir())
    assert [p.name for p in masks] == [f"{i:05d}.png" for i in range(5)]
    assert all(Image.open(p).mode == "L" and Image.open(p).size == (40, 30) for p in masks)
    gif = Image.open(tmp_path / "a" / "overlay.gif")
    assert gif.n_frames == 5
    # a frame folder keeps its frame names; the mp4 overlay lies beside, not inside, masks/
    frames_dir = tmp_path / "in"
    (frames_dir / "clip.avi").unlink()
    assert main(["segment", "--video", str(frames_dir), "--out", str(tmp_path / "b"), "--overlay", *base]) == 0
    assert sorted(p.name for p in (tmp_path / "b" / "masks").iterdir()) == [f"{i:04d}.png" for i in range(5)]
    assert (tmp_path / "b" / "overlay.mp4").stat().st_size > 0
    assert main(["segment", "--video", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "c"), *base]) == 1
    assert "missing.mp4: video file not found" in capsys.readouterr().err


def test_frames_of_different_sizes_get_masks_of_their_own_size(tiny):
    seg = segmenter(tiny, num_frames_sparse=8, num_frames_dense=2)
    frames = [np.zeros((20, 30, 3), np.uint8), np.zeros((36, 24, 3), np.uint8), np.zeros((10, 10, 3), np.uint8)]
    masks = list(seg.segment_frames("mixed", lambda: frames, "the cat"))
    assert [m.shape for m in masks] == [(20, 30), (36, 24), (10, 10)]
    assert all(m.dtype == bool for m in masks)


def test_an_unreadable_frame_is_named(tmp_path, tiny, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "00000.jpg").write_bytes(b"not a jpeg")
    assert main(["segment", "--video", str(folder), "--text", "x", "--out", str(tmp_path / "o"),
                 "--tiny-random", "0", "--dtype", "fp32"]) == 1
    assert "00000.jpg: frame does not decode as an image" in capsys.readouterr().err
    assert not (tmp_path / "o" / "masks").exists()


def test_bad_frame_counts_and_missing_checkpoints_are_one_line_errors(bench, tmp_path, capsys, monkeypatch):
    common = ["infer", "videolisa", "--benchmark", "reasonvos", "--root", str(bench.root), "--out", str(tmp_path)]
    assert main([*common, "--tiny-random", "0", "--num-frames-dense", "32"]) == 1
    assert "--num-frames-dense" in capsys.readouterr().err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main([*common, "--checkpoint", str(tmp_path / "nowhere")]) == 1
    assert "checkpoint folder not found" in capsys.readouterr().err
