"""`reasonvos build reasonvos` writes the exact ReasonVOS layout from the four sources,
deterministically and resumably, and the result loads as a ReasonVOS benchmark."""

import json
import os

import numpy as np
import pytest
from PIL import Image
from writers.sources import DEFAULT_INSTRUCTIONS, write_instructions, write_sources

import reasonvos
from reasonvos.cli import main
from reasonvos.construct.builder import MANIFEST_NAME, build_reasonvos
from reasonvos.errors import InputError
from reasonvos.outputs import MARKER


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    truth = write_sources(root)
    instructions = write_instructions(root.parent / "instructions.jsonl")
    return root, instructions, truth


def snapshot(out):
    """path -> (bytes, inode, mtime) of every file, to compare two builds or see what a run wrote."""
    snap = {}
    for dirpath, _, names in os.walk(out):
        for name in names:
            p = os.path.join(dirpath, name)
            st = os.stat(p)
            with open(p, "rb") as f:
                snap[os.path.relpath(p, out)] = (f.read(), st.st_ino, st.st_mtime_ns)
    return snap


def test_built_masks_equal_the_source_objects(sources, tmp_path):
    src, instructions, truth = sources
    result = build_reasonvos(src, instructions, tmp_path / "out", quiet=True)
    assert (result.videos, result.samples, result.mask_folders) == (5, 9, 8)
    # the validator finds no errors (its count warnings are expected: a build is a subset)
    assert result.validated_with.startswith(("VERDICT: OK", "load_benchmark checks"))
    bench = reasonvos.load_benchmark("reasonvos", tmp_path / "out")
    assert len(bench.samples) == len(DEFAULT_INSTRUCTIONS)
    for sample in bench.samples:
        source_masks = truth[sample.source].masks[sample.video_id][sample.obj_ids[0]]
        scored = list(bench.scored_frames(sample))
        assert scored and set(scored) <= set(source_masks)
        for frame in scored:
            np.testing.assert_array_equal(bench.gt_mask(sample, frame), source_masks[frame])
    # the JPEGs keep their source names and bytes
    burst = truth["burst"]
    video = "v_f69ebe5b731d3e87c1a3992ee39c3b7e"
    built = tmp_path / "out" / "JPEGImages" / video / "frame0006.jpg"
    assert built.read_bytes() == (burst.root / "frames" / "val" / "YFCC100M" / video / "frame0006.jpg").read_bytes()


def test_meta_follows_the_current_reasonvos_schema(sources, tmp_path):
    src, instructions, _ = sources
    build_reasonvos(src, instructions, tmp_path, quiet=True)
    meta = json.loads((tmp_path / "meta_expressions.json").read_text())
    v = meta["videos"]["127_-hIVCYO4C90"]
    assert v["source"] == "vipseg" and v["frames"] == ["00000001", "00000002", "00000003"]
    assert v["expressions"] == [
        {"obj_id": "000006101", "exp_id": "0", "exp_text": "person", "is_sent": False},
        {"obj_id": "000000023", "exp_id": "1", "exp_text": "What could be walked on?", "is_sent": True},
    ]
    assert meta["videos"]["7f3e9a10"]["expressions"][0]["exp_id"] == "7"
    # the frame subset of one line applies to the whole video
    assert meta["videos"]["v_f69ebe5b731d3e87c1a3992ee39c3b7e"]["frames"] == ["frame0001", "frame0006"]
    # masks are 0/255 grayscale PNGs in <source>_<video>_<obj_id>/
    mask_dir = tmp_path / "Annotations" / "vipseg_127_-hIVCYO4C90_000006101"
    assert sorted(p.name for p in mask_dir.iterdir()) == ["00000001.png", "00000002.png", "00000003.png"]
    with Image.open(mask_dir / "00000001.png") as img:
        assert img.mode == "L" and set(np.unique(np.asarray(img))) == {0, 255}
    # a MOSE frame without annotation is listed but has no GT PNG
    assert "00003" in meta["videos"]["7f3e9a10"]["frames"]
    assert not (tmp_path / "Annotations" / "mose_7f3e9a10_5" / "00003.png").exists()


def test_two_builds_are_byte_identical(sources, tmp_path):
    src, instructions, _ = sources
    build_reasonvos(src, instructions, tmp_path / "a", quiet=True)
    build_reasonvos(src, instructions, tmp_path / "b", link=True, quiet=True)
    a, b = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert {k: v[0] for k, v in a.items()} == {k: v[0] for k, v in b.items()}
    manifest = (tmp_path / "a" / MANIFEST_NAME).read_text().splitlines()
    paths = [line.split("  ", 1)[1] for line in manifest]
    # every file but the manifest itself and the toolkit's hidden output-folder marker
    assert paths == sorted(paths) and len(paths) == len(a) - 2 and MARKER in a
    assert "meta_expressions.json" in paths


def test_link_hard_links_the_jpegs(sources, tmp_path):
    src, instructions, _ = sources
    build_reasonvos(src, instructions, tmp_path, link=True, quiet=True)
    built = tmp_path / "JPEGImages" / "001ca3cb" / "00000.jpg"
    assert built.stat().st_ino == (src / "mose" / "train" / "JPEGImages" / "001ca3cb" / "00000.jpg").stat().st_ino


def test_link_falls_back_to_copying_across_devices(sources, tmp_path, monkeypatch):
    import errno

    def cross_device(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    src, instructions, _ = sources
    monkeypatch.setattr(os, "link", cross_device)
    build_reasonvos(src, instructions, tmp_path, link=True, quiet=True)
    built = tmp_path / "JPEGImages" / "001ca3cb" / "00000.jpg"
    original = src / "mose" / "train" / "JPEGImages" / "001ca3cb" / "00000.jpg"
    assert built.read_bytes() == original.read_bytes() and built.stat().st_ino != original.stat().st_ino


def test_a_second_run_writes_nothing(sources, tmp_path):
    src, instructions, _ = sources
    build_reasonvos(src, instructions, tmp_path, quiet=True)
    before = snapshot(tmp_path)
    again = build_reasonvos(src, instructions, tmp_path, quiet=True)
    assert again.folders_written == 0 and again.files_written == 0
    assert snapshot(tmp_path) == before


def test_an_interrupted_build_resumes(sources, tmp_path):
    src, instructions, _ = sources
    build_reasonvos(src, instructions, tmp_path / "ref", quiet=True)
    build_reasonvos(src, instructions, tmp_path / "out", quiet=True)
    # simulate a crash: one mask folder never renamed into place, a temp folder left behind,
    # the metadata not yet written and a stale manifest from an earlier run
    import shutil

    shutil.rmtree(tmp_path / "out" / "Annotations" / "mose_001ca3cb_2")
    (tmp_path / "out" / "Annotations" / ".mose_001ca3cb_2.abc.tmp").mkdir()
    (tmp_path / "out" / "meta_expressions.json").unlink()
    (tmp_path / "out" / MANIFEST_NAME).write_text("stale\n")
    result = build_reasonvos(src, instructions, tmp_path / "out", quiet=True)
    assert result.folders_written == 1 and result.folders_skipped == 12
    ref, out = snapshot(tmp_path / "ref"), snapshot(tmp_path / "out")
    assert {k: v[0] for k, v in ref.items()} == {k: v[0] for k, v in out.items()}


def test_output_with_foreign_content_is_refused(sources, tmp_path):
    src, instructions, _ = sources
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a reasonvos output folder"):
        build_reasonvos(src, instructions, tmp_path, quiet=True)


def test_object_not_visible_in_the_chosen_frames_is_an_error(sources, tmp_path):
    src, _, _ = sources
    # MOSE object 1 of 001ca3cb is absent on the last frame only
    ins = write_instructions(tmp_path / "i.jsonl", [
        {"source": "mose", "video": "001ca3cb", "obj_id": "1", "text": "x", "kind": "short", "frames": ["00003"]},
    ])
    with pytest.raises(InputError, match="not visible in any selected frame"):
        build_reasonvos(src, ins, tmp_path / "out", quiet=True)
    assert not (tmp_path / "out" / "Annotations" / "mose_001ca3cb_1").exists()


def test_missing_source_folder_is_named(tmp_path):
    (tmp_path / "sources").mkdir()
    ins = write_instructions(tmp_path / "i.jsonl")
    with pytest.raises(InputError, match="source folder not found"):
        build_reasonvos(tmp_path / "sources", ins, tmp_path / "out", quiet=True)


def test_cli_builds_and_reports_bad_input_with_exit_1(sources, tmp_path, capsys):
    src, instructions, _ = sources
    assert main(["build", "reasonvos", "--sources", str(src), "--instructions", str(instructions),
                 "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert (tmp_path / "out" / MANIFEST_NAME).is_file()
    bad = write_instructions(tmp_path / "bad.jsonl", ['{"source": "mose"'])
    assert main(["build", "reasonvos", "--sources", str(src), "--instructions", str(bad),
                 "--out", str(tmp_path / "out2"), "--quiet"]) == 1
    assert "line 1: bad JSON" in capsys.readouterr().err


def test_a_downloaded_benchmark_is_never_built_over(sources, tmp_path):
    """--out pointing at a real ReasonVOS copy (no build marker) is refused before anything is
    written: a build would replace its meta_expressions.json."""
    src, instructions, _ = sources
    copy = tmp_path / "ReasonVOS"
    copy.mkdir()
    (copy / "meta_expressions.json").write_text('{"videos": {}}')
    with pytest.raises(InputError, match="not a reasonvos output folder"):
        build_reasonvos(src, instructions, copy, quiet=True)
    assert (copy / "meta_expressions.json").read_text() == '{"videos": {}}'
    assert sorted(p.name for p in copy.iterdir()) == ["meta_expressions.json"]
