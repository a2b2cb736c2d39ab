"""The shared inference runner: what a model yields is checked (count, dtype), ids cannot escape the prediction root, shards and crashes never leave partial samples, resumes never mix runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from writers.reasonvos import default_videos, write_reasonvos

from reasonvos.benchmarks import reasonvos as rv_loader
from reasonvos.errors import InputError
from reasonvos.inference.runner import run_inference, write_sample
from reasonvos.inference.segmenter import VideoSegmenter


class FixedCount(VideoSegmenter):
    """A model that yields ``extra`` masks more (or fewer, when negative) than the video has frames."""

    name = "fixed-count"

    def __init__(self, extra: int) -> None:
        self.extra = extra

    def segment(self, video, text) -> Iterator[np.ndarray]:
        h, w = video.frame_size()
        for _ in range(len(video.frames) + self.extra):
            yield np.ones((h, w), bool)


@pytest.fixture
def bench(tmp_path):
    return rv_loader.load(write_reasonvos(tmp_path / "data", default_videos()))


def test_a_model_yielding_more_masks_than_frames_is_refused(bench, tmp_path):
    """Extra masks mean the model and the frame list disagree; the run must not keep a prefix."""
    with pytest.raises(InputError, match="more masks"):
        run_inference(FixedCount(+1), bench, tmp_path / "pred", rank=0, world_size=1, quiet=True)
    assert not any(p.suffix == ".png" for p in (tmp_path / "pred").rglob("*"))


def test_a_model_yielding_too_few_masks_leaves_no_sample_folder(bench, tmp_path):
    with pytest.raises(InputError, match="expected"):
        run_inference(FixedCount(-1), bench, tmp_path / "pred", rank=0, world_size=1, quiet=True)
    assert not any(p.suffix == ".png" for p in (tmp_path / "pred").rglob("*"))


def _bench_with_exp_id(tmp_path: Path, exp_id: str):
    root = write_reasonvos(tmp_path / "data", default_videos())
    meta_path = root / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    first = next(iter(meta["videos"].values()))
    first["expressions"][0]["exp_id"] = exp_id
    meta_path.write_text(json.dumps(meta))
    return rv_loader.load(root)


@pytest.mark.parametrize("exp_id", ["..", "../../victim", "<absolute victim>"])
def test_ids_that_escape_the_prediction_root_are_refused_before_anything_is_deleted(tmp_path, exp_id):
    """An id like ``..`` made the runner ``rmtree`` a folder outside the prediction root."""
    out = tmp_path / "pred" / "inner"
    victim = tmp_path / "pred" / "victim"
    for folder in (out, victim):
        folder.mkdir(parents=True)
        (folder / "keep.txt").write_text("precious")
    exp_id = str(victim) if exp_id.startswith("<") else exp_id
    bench = _bench_with_exp_id(tmp_path, exp_id)
    with pytest.raises(InputError, match="prediction folder"):
        run_inference(FixedCount(0), bench, out, rank=0, world_size=1, quiet=True)
    assert (victim / "keep.txt").read_text() == "precious"
    assert (out / "keep.txt").read_text() == "precious"


def test_another_rank_removing_the_shared_tmp_folder_does_not_crash_this_rank(bench, tmp_path, monkeypatch):
    """Ranks share ``<out>/.tmp`` and each removes it when empty; a removal landing between this
    rank's creation of ``.tmp`` and of its own sub-folder must not crash the run."""
    out = tmp_path / "pred"
    out.mkdir()
    real_mkdir = os.mkdir
    raced = []

    def racing_mkdir(path, mode=0o777, **kw):
        p = Path(path)
        if p.parent.name == ".tmp" and p.parent.is_dir() and not raced:
            raced.append(p)
            os.rmdir(p.parent)  # the other rank finished its sample and removed the empty .tmp
        return real_mkdir(path, mode, **kw)

    monkeypatch.setattr(os, "mkdir", racing_mkdir)
    sample = bench.samples[0]
    video = bench.videos[sample.video_id]
    masks = [np.zeros(video.frame_size(), bool) for _ in video.frames]
    write_sample(bench, sample, masks, out, rank=1)
    assert raced
    assert (out / bench.prediction_dir(sample)).is_dir()


class Named(FixedCount):
    def __init__(self, name: str) -> None:
        super().__init__(0)
        self.name = name


def test_resuming_into_a_folder_written_by_another_model_is_refused(bench, tmp_path):
    """Resume skips complete samples; with a different model it would silently mix two models'
    predictions in one folder (and relabel them with the new model's run info)."""
    out = tmp_path / "pred"
    run_inference(Named("model-a"), bench, out, rank=0, world_size=1, quiet=True)
    with pytest.raises(InputError, match="model-a"):
        run_inference(Named("model-b"), bench, out, rank=0, world_size=1, quiet=True)
    assert json.loads((out / ".reasonvos-infer.json").read_text())["model"]["name"] == "model-a"
    stats = run_inference(Named("model-a"), bench, out, rank=0, world_size=1, quiet=True)
    assert stats.skipped == len(bench.samples)


def test_the_runner_refuses_a_benchmark_that_expects_index_predictions(tmp_path):
    """The runner writes one 0/255 mask per sample; DAVIS predictions are index PNGs (pixel =
    object id), which 255s would turn into void / a bogus object 255."""
    from writers.davis import write_davis

    import reasonvos

    bench = reasonvos.load_benchmark("davis", write_davis(tmp_path / "davis").root)
    with pytest.raises(InputError, match="index"):
        run_inference(FixedCount(0), bench, tmp_path / "pred", rank=0, world_size=1, quiet=True)
    assert not (tmp_path / "pred").exists()


def test_world_size_without_rank_is_refused(monkeypatch):
    """Every process would think it is rank 0: all would run every video and share tmp names."""
    from reasonvos.inference.runner import shard_from_env

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(InputError, match="RANK"):
        shard_from_env()
    monkeypatch.setenv("RANK", "1")
    assert shard_from_env() == (1, 2)
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("RANK")
    assert shard_from_env() == (0, 1)


class CrashesOnSecondSample(FixedCount):
    """Yields one good mask of its second sample, then fails (a CUDA OOM, a bug...)."""

    def __init__(self) -> None:
        super().__init__(0)
        self.calls = 0

    def segment(self, video, text) -> Iterator[np.ndarray]:
        self.calls += 1
        for i, mask in enumerate(super().segment(video, text)):
            if self.calls == 2 and i == 1:
                raise RuntimeError("model crashed")
            yield mask


def test_a_model_crash_midway_keeps_finished_samples_and_leaves_no_partial_one(bench, tmp_path):
    out = tmp_path / "pred"
    with pytest.raises(RuntimeError, match="crashed"):
        run_inference(CrashesOnSecondSample(), bench, out, rank=0, world_size=1, quiet=True)
    first, second = bench.samples[:2]
    assert (out / bench.prediction_dir(first)).is_dir()
    assert not (out / bench.prediction_dir(second)).exists()
    assert not (out / ".tmp").exists()
    stats = run_inference(FixedCount(0), bench, out, rank=0, world_size=1, quiet=True)
    assert (stats.skipped, stats.written) == (1, len(bench.samples) - 1)


def test_a_stale_tmp_folder_of_a_killed_run_is_replaced_on_resume(bench, tmp_path):
    out = tmp_path / "pred"
    sample = bench.samples[0]
    stale = out / ".tmp" / f"0-{sample.key}"
    stale.mkdir(parents=True)
    (stale / "half-written.png").write_bytes(b"\x89PNG")
    stats = run_inference(FixedCount(0), bench, out, rank=0, world_size=1, quiet=True)
    assert stats.written == len(bench.samples)
    assert sorted(p.name for p in (out / bench.prediction_dir(sample)).iterdir()) == [
        f"{f}.png" for f in bench.prediction_frames(sample)
    ]
    assert not (out / ".tmp").exists()


class Probabilities(VideoSegmenter):
    """A model that forgets to threshold: float masks."""

    name = "probabilities"

    def segment(self, video, text) -> Iterator[np.ndarray]:
        h, w = video.frame_size()
        for _ in video.frames:
            yield np.full((h, w), 0.2)


def test_a_model_yielding_non_boolean_masks_is_refused(bench, tmp_path):
    """0.2 everywhere would otherwise be written as a full-frame mask."""
    with pytest.raises(InputError, match="float64 mask .* masks must be boolean"):
        run_inference(Probabilities(), bench, tmp_path / "pred", rank=0, world_size=1, quiet=True)
    assert not any(p.suffix == ".png" for p in (tmp_path / "pred").rglob("*"))


def test_videos_whose_folder_the_official_scripts_would_list_differently_are_named_and_recorded(bench, tmp_path,
                                                                                                capsys):
    """The official VideoLISA/LISA scripts read ``sorted(glob(<video>/*.jpg))``, not the metadata.
    A stray JPEG in one video's folder changes the frames they sample: the run says so once per
    video and records it in the manifest; the metadata's frames are still what this run reads."""
    from PIL import Image

    video = next(iter(bench.videos.values()))
    first = video.image_path(video.frames[0])
    Image.open(first).save(first.parent / "zzz_stray.jpg")
    out = tmp_path / "pred"
    run_inference(FixedCount(0), bench, out, rank=0, world_size=1, quiet=False)
    manifest = json.loads((out / ".reasonvos-infer.json").read_text())
    assert list(manifest["frame_listing"]) == [video.id]
    assert "'zzz_stray'" in manifest["frame_listing"][video.id]
    err = capsys.readouterr().err
    assert err.count("reasonvos: note: video") == 1 and video.id in err and "zzz_stray" in err
    # the other videos agree with their folders; resuming with the folder fixed is the same run
    (first.parent / "zzz_stray.jpg").unlink()
    run_inference(FixedCount(0), bench, out, rank=0, world_size=1, quiet=True)
    assert json.loads((out / ".reasonvos-infer.json").read_text())["frame_listing"] == {}
