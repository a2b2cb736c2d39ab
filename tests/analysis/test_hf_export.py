"""Export to Hugging Face datasets: one row per sample, GT as paths (ReasonVOS) or RLE (MeViS)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from writers.davis import write_davis
from writers.mevis import write_mevis
from writers.reasonvos import default_videos, write_reasonvos

from reasonvos import load_benchmark

pytest.importorskip("datasets")

from reasonvos.analysis.hf_export import to_dataset  # noqa: E402


def test_reasonvos_rows_match_the_samples(tmp_path: Path):
    bench = load_benchmark("reasonvos", write_reasonvos(tmp_path))
    ds = to_dataset(bench)
    assert len(ds) == len(bench.samples) == 6
    row = ds[[s.key for s in bench.samples].index("vipseg_127_-hIVCYO4C90_000006101_1")]
    assert row["video"] == "127_-hIVCYO4C90" and row["obj_ids"] == ["000006101"]  # ids stay strings
    assert row["kind"] == "long" and row["source"] == "vipseg"
    assert row["frames"] == ["00000001", "00000002", "00000003"]
    assert all(Path(p).is_file() for p in row["frame_paths"] + row["mask_paths"])
    assert [Path(p).stem for p in row["mask_paths"]] == row["frames"]
    assert row["mask_rles"] == []


def test_mevis_rows_carry_the_union_mask_as_rle(tmp_path: Path):
    fx = write_mevis(tmp_path, "valid_u")
    bench = load_benchmark("mevis", fx.root, "valid_u")
    ds = to_dataset(bench)
    assert len(ds) == len(bench.samples)
    for row in ds:
        expected = fx.masks[f"{row['video']}/{row['exp_id']}"]
        # decoded as a user of the dataset would, with pycocotools (not our own decoder)
        got = [coco_mask.decode({"size": r["size"], "counts": r["counts"].encode()}).astype(bool)
               for r in row["mask_rles"]]
        assert len(got) == len(expected)
        assert all(np.array_equal(g, e) for g, e in zip(got, expected, strict=True))
        assert row["mask_paths"] == []
        assert row["text"] == fx.texts[f"{row['video']}/{row['exp_id']}"]


def test_davis_rows_carry_the_index_png_of_every_frame(tmp_path: Path):
    """Plain DAVIS GT is one index PNG per frame: exported as paths, like Ref-YTVOS and Ref-DAVIS
    (an attribute probe used to miss this loader and export no GT at all)."""
    fx = write_davis(tmp_path)
    bench = load_benchmark("davis", fx.root)
    for row in to_dataset(bench):
        assert row["mask_paths"] == [str(fx.root / row["video"] / f"{f}.png") for f in fx.frames[row["video"]]]
        assert all(Path(p).is_file() for p in row["mask_paths"]) and row["mask_rles"] == []


def test_reasonvos_mask_paths_hold_the_masks_that_were_written(tmp_path: Path):
    bench = load_benchmark("reasonvos", write_reasonvos(tmp_path))
    row = to_dataset(bench)[0]
    video = default_videos()[0]  # the first sample is its object "0"
    assert row["video"] == video.name and row["obj_ids"] == ["0"] and row["frames"] == video.frames
    for path, written in zip(row["mask_paths"], video.objects["0"], strict=True):
        with Image.open(path) as img:  # read with Pillow, as a user of the dataset would
            assert np.array_equal(np.asarray(img) != 0, written)


def test_missing_datasets_package_gives_a_clear_message(tmp_path: Path, monkeypatch):
    bench = load_benchmark("reasonvos", write_reasonvos(tmp_path))
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"reasonvos\[hf\]"):
        to_dataset(bench)
