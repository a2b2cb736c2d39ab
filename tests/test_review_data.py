"""Review of the loaders, the ReasonVOS builder and the inference runner (issues #2 and #5).

Most tests pin a defect found in review and failed before its fix; the others (too few masks,
a crash midway, a stale ``.tmp``, valid RLEs still decoding) cover documented pitfalls (docs/formats.md#pitfalls) that had no test.
"""

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


# ------------------------------------------------------------------------------------ runner


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


# ----------------------------------------------------------------------------- ReasonVOS loader


def _edited(tmp_path: Path, edit) -> Path:
    root = write_reasonvos(tmp_path / "data", default_videos())
    meta_path = root / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    edit(meta["videos"]["a1b2c3_d4"])
    meta_path.write_text(json.dumps(meta))
    return root


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # a frame listed twice would be predicted (and written) twice under one name
        (lambda v: v["frames"].append(v["frames"][0]), "twice"),
        # null / objects are not frame names: str() turned them into 'None' / "{'f': 1}" silently
        (lambda v: v["frames"].__setitem__(1, None), "frame names"),
        (lambda v: v["frames"].__setitem__(1, {"f": 1}), "frame names"),
        # ids are opaque strings (ints tolerated); null or a list became 'None' / '[1]'
        (lambda v: v["expressions"][0].__setitem__("exp_id", None), "exp_id"),
        (lambda v: v["expressions"][0].__setitem__("obj_id", [0]), "obj_id"),
        (lambda v: v["expressions"][0].__setitem__("obj_id", True), "obj_id"),
    ],
)
def test_reasonvos_frames_and_ids_must_be_names(tmp_path, edit, message):
    root = _edited(tmp_path, edit)
    with pytest.raises(InputError, match=message) as err:
        rv_loader.load(root)
    assert err.value.path == root / "meta_expressions.json"


def test_an_empty_reasonvos_mask_folder_is_an_error_not_a_sample_scored_on_nothing(tmp_path):
    bench = rv_loader.load(write_reasonvos(tmp_path / "data", default_videos()))
    sample = bench.samples[0]
    for png in bench.mask_dir(sample).glob("*.png"):
        png.unlink()
    with pytest.raises(InputError, match="no PNG") as err:
        bench.scored_frames(sample)
    assert err.value.path == bench.mask_dir(sample)


def test_a_reasonvos_gt_mask_on_an_unlisted_frame_is_blamed_on_the_data_not_the_model(tmp_path):
    """GT stems must be a subset of the listed frames (docs/formats.md#reasonvos-layout): the runner only predicts listed
    frames, so such a GT frame would later be reported as a missing prediction."""
    bench = rv_loader.load(write_reasonvos(tmp_path / "data", default_videos()))
    sample = bench.samples[0]
    folder = bench.mask_dir(sample)
    (folder / "99999.png").write_bytes((folder / f"{bench.videos[sample.video_id].frames[0]}.png").read_bytes())
    with pytest.raises(InputError, match="99999") as err:
        bench.scored_frames(sample)
    assert err.value.path == folder


# ------------------------------------------------------------------------------ instruction file


@pytest.mark.parametrize("exp_id", ["a/b", "..", "."])
def test_an_instruction_exp_id_must_be_a_folder_name(tmp_path, exp_id):
    """exp_id names the prediction folder ``<source>_<video>_<obj_id>/<exp_id>/``; a built
    benchmark with ``a/b`` or ``..`` there cannot be predicted or scored in its own layout."""
    from writers.sources import write_instructions

    from reasonvos.construct.instruction_file import InstructionError, read_instructions

    line = {"source": "mose", "video": "001ca3cb", "obj_id": "2", "text": "the dog", "kind": "short",
            "exp_id": exp_id}
    path = write_instructions(tmp_path / "i.jsonl", [line])
    with pytest.raises(InstructionError, match="line 1: exp_id"):
        read_instructions(path)


# ---------------------------------------------------------------------------------------- RLE


def test_rle_counts_that_cover_fewer_pixels_than_the_size_are_refused():
    """pycocotools decodes such an RLE without complaint and leaves the rest of the mask
    undefined (not zero): an RLE whose size is wrong must be an error, not a random mask."""
    from reasonvos.masks import MaskError, decode_rle, encode_rle

    small = encode_rle(np.ones((2, 2), bool))["counts"]  # 4 pixels
    with pytest.raises(MaskError, match="mask_dict.json: .*4 pixels.*3x4"):
        decode_rle({"size": [3, 4], "counts": small}, "mask_dict.json")
    with pytest.raises(MaskError, match="5 pixels"):
        decode_rle({"size": [3, 4], "counts": [3, 2]}, "mask_dict.json")


def test_a_burst_rle_decoded_with_a_wrong_sequence_size_is_refused():
    """BURST stores no size: the sequence's height/width must account for every pixel."""
    from reasonvos.masks import MaskError, decode_burst_rle, encode_rle

    counts = encode_rle(np.eye(4, dtype=bool))["counts"]
    assert decode_burst_rle(counts, 4, 4).sum() == 4
    with pytest.raises(MaskError, match="16 pixels"):
        decode_burst_rle(counts, 4, 5, "all_classes.json")


def test_every_valid_rle_still_decodes_to_its_mask():
    """Every RLE pycocotools writes (as the MeViS and BURST releases were written) passes the
    coverage check and decodes to its mask."""
    from writers.rle import coco_rle

    from reasonvos.masks import decode_rle

    rng = np.random.default_rng(0)
    shapes = [(1, 1), (1, 7), (7, 1), (5, 6), (37, 53), (64, 48)]
    for shape in shapes:
        for fill in (0.0, 1.0, 0.02, 0.5, 0.98):
            mask = rng.random(shape) < fill
            assert (decode_rle(coco_rle(mask)) == mask).all()
    assert decode_rle({"size": [3, 4], "counts": [0, 0, 0, 12]}).all()  # zero-length runs are legal
    assert not decode_rle({"size": [3, 4], "counts": [12]}).any()


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


# ------------------------------------------------------------------------------------ Ref-YTVOS


def test_refytvos_valid_without_test_meta_must_keep_202_of_the_507_listed_videos(tmp_path, monkeypatch):
    """Without the test meta, a listed video without JPEGs is taken for a test video. On the real
    507-video file a partly extracted valid/JPEGImages then silently shrank the valid split
    (docs/formats.md#pitfalls: filter, then assert 202). The fixture stands for the real file: 5 listed, 3 valid."""
    import shutil

    from writers.refytvos import write_refytvos

    from reasonvos.benchmarks import refytvos

    monkeypatch.setattr(refytvos, "LISTED_VALID_VIDEOS", 5)
    monkeypatch.setattr(refytvos, "EXPECTED_VALID_VIDEOS", 3)
    fx = write_refytvos(tmp_path, with_test_meta=False)
    assert list(refytvos.load(fx.root).videos) == fx.valid_ids  # the complete copy loads
    shutil.rmtree(fx.root / "valid" / "JPEGImages" / fx.valid_ids[1])
    with pytest.raises(InputError, match="2 of the 5 listed videos.*3") as err:
        refytvos.load(fx.root)
    assert err.value.path == fx.root / "valid" / "JPEGImages"


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
