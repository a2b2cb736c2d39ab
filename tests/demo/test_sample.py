"""The embedded sample benchmark: identical bytes every run, the real ReasonVOS layout, and
instructions that are true of what is rendered."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

import reasonvos
from reasonvos.demo.render import render_scene, write_sample_benchmark
from reasonvos.demo.scenes import sample_scenes
from reasonvos.masks import png_size


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory) -> Path:
    return write_sample_benchmark(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def bench(sample_root):
    return reasonvos.load_benchmark("reasonvos", sample_root)


@pytest.fixture(scope="module")
def meta(sample_root) -> dict:
    return json.loads((sample_root / "meta_expressions.json").read_text())


def test_two_runs_write_identical_bytes(tmp_path, sample_root):
    again = write_sample_benchmark(tmp_path)
    first, second = tree_digest(sample_root), tree_digest(again)
    assert len(first) > 500
    assert first == second


def test_rewriting_replaces_the_folder_in_place(tmp_path):
    root = write_sample_benchmark(tmp_path)
    (root / "stray.txt").write_text("left over")
    assert write_sample_benchmark(tmp_path) == root
    assert not (root / "stray.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ReasonVOS"]


def test_layout_is_the_current_reasonvos_schema(sample_root, meta):
    assert set(meta) == {"videos"}
    for video, entry in meta["videos"].items():
        assert set(entry) == {"source", "frames", "expressions"}
        assert isinstance(entry["expressions"], list)
        for exp in entry["expressions"]:
            assert set(exp) == {"obj_id", "exp_id", "exp_text", "is_sent"}
            folder = sample_root / "Annotations" / f"{entry['source']}_{video}_{exp['obj_id']}"
            assert sorted(p.stem for p in folder.glob("*.png")) == sorted(entry["frames"])
        for frame in entry["frames"]:
            assert (sample_root / "JPEGImages" / video / f"{frame}.jpg").is_file()


def test_counts_and_loading(bench):
    assert len(bench.videos) >= 8
    assert all(len(v.frames) >= 24 for v in bench.videos.values())
    assert len(bench.samples) >= 40
    for video in bench.videos.values():
        assert png_size(video.image_path(video.frames[0])) == (120, 160)


def test_sources_and_naming_styles(bench, meta):
    sources = {e["source"] for e in meta["videos"].values()}
    assert sources == {"mose", "mevis", "vipseg", "burst"}
    frames = [f for v in bench.videos.values() for f in v.frames]
    assert any(re.fullmatch(r"\d{5}", f) for f in frames)
    assert any(re.fullmatch(r"\d{8}", f) for f in frames)
    assert any(re.fullmatch(r"frame\d{4}", f) for f in frames)
    assert any("_" in v for v in bench.videos)
    obj_ids = {o for s in bench.samples for o in s.obj_ids}
    assert any(len(o) == 9 and o.startswith("0") for o in obj_ids)


def test_exp_id_repeats_within_a_video_for_different_objects(bench):
    for video in bench.videos:
        by_exp: dict[str, set[str]] = {}
        for s in bench.samples_of(video):
            by_exp.setdefault(s.exp_id, set()).update(s.obj_ids)
        assert any(len(objs) > 1 for objs in by_exp.values()), video


def test_short_and_long_instructions(bench):
    kinds = {s.kind for s in bench.samples}
    assert kinds == {"short", "long"}
    for video in bench.videos:
        assert {s.kind for s in bench.samples_of(video)} == {"short", "long"}, video
    longs = [s.text for s in bench.samples if s.kind == "long"]
    assert all(t.endswith("?") for t in longs)
    assert "Which object is the first to leave the scene?" in longs


def _gt_areas(bench, sample) -> list[int]:
    return [int(m.sum()) for _, m in bench.gt_masks(sample)]


def test_objects_enter_and_leave_the_frame(bench):
    areas = {s.key: _gt_areas(bench, s) for s in bench.samples if s.exp_id == "0"}
    enters = [k for k, a in areas.items() if a[0] == 0 and max(a) > 0]
    leaves = [k for k, a in areas.items() if a[-1] == 0 and a[0] > 0]
    assert enters and leaves


def test_occlusion_cuts_the_ground_truth():
    """A shape behind another keeps only its visible pixels; one even vanishes completely."""
    partly, fully = False, False
    for scene in sample_scenes():
        r = render_scene(scene)
        for k in range(len(scene.objects)):
            footprint = r.full[:, k].sum(axis=(1, 2))
            visible = r.visible(k).sum(axis=(1, 2))
            assert (visible <= footprint).all()
            hidden = (footprint > 0) & (visible < footprint)
            partly |= bool(hidden.any())
            fully |= bool(((footprint > 0) & (visible == 0)).any())
    assert partly and fully


def test_ground_truth_on_disk_is_the_visible_pixels(bench):
    scene = next(s for s in sample_scenes() if s.video == "5d08e611")
    r = render_scene(scene)
    k = 1  # the yellow disc that passes behind the blue square
    sample = next(s for s in bench.samples_of(scene.video) if s.obj_ids == (scene.objects[k].obj_id,))
    from PIL import Image

    for t, frame in enumerate(scene.frames):
        with Image.open(bench.mask_dir(sample) / f"{frame}.png") as img:  # the file, not our reader
            assert np.array_equal(np.asarray(img) == 255, r.visible(k)[t])
        assert np.array_equal(bench.gt_mask(sample, frame), r.visible(k)[t])


def test_instructions_are_true_of_the_scene(bench):
    checked = set()
    for scene in sample_scenes():
        r = render_scene(scene)
        objs = {o.obj_id: (k, o) for k, o in enumerate(scene.objects)}
        for s in bench.samples_of(scene.video):
            k, obj = objs[s.obj_ids[0]]
            footprint = r.full.sum(axis=(2, 3))  # (T, K)
            if s.exp_id == "0":
                assert s.text == f"the {obj.colour} {obj.shape}" and s.kind == "short"
                checked.add("name")
            elif s.text == "Which object is the first to leave the scene?":
                last_in = [max(np.flatnonzero(footprint[:, j])) for j in range(len(scene.objects))]
                assert all(last_in[k] < last_in[j] for j in range(len(scene.objects)) if j != k)
                checked.add("leave")
            elif s.text == "the shape that never moves":
                gt = [m for _, m in bench.gt_masks(s)]
                assert all(np.array_equal(gt[0], m) for m in gt) and gt[0].any()
                checked.add("still")
            elif s.text == "Which shape disappears completely behind another one for a while?":
                areas = _gt_areas(bench, s)
                assert any(a == 0 and footprint[t, k] > 0 for t, a in enumerate(areas))
                checked.add("hidden")
            elif s.text == "Which object only comes into view after the video has started?":
                assert footprint[0, k] == 0 and footprint[:, k].max() > 0
                checked.add("enters")
            elif s.text.startswith("Which shape covers the "):
                named = s.text.removeprefix("Which shape covers the ").removesuffix(" at some point?")
                j = next(i for i, o in enumerate(scene.objects) if o.name == named)
                assert (r.full[:, j] & r.visible(k)).any()
                assert not (r.full[:, k] & r.visible(j)).any()
                checked.add("covers")
            elif s.text == "the largest shape":
                areas = footprint.max(axis=0)
                assert all(areas[k] > areas[j] for j in range(len(scene.objects)) if j != k)
                checked.add("largest")
    assert checked == {"name", "leave", "still", "hidden", "enters", "largest", "covers"}


def test_masks_are_binary_0_255(bench):
    sample = bench.samples[0]
    folder = bench.mask_dir(sample)
    from PIL import Image

    with Image.open(next(folder.glob("*.png"))) as img:
        assert img.mode == "L"
        assert set(np.unique(np.asarray(img))) <= {0, 255}
