"""Each source reader turns its dataset's own format into per-object binary mask sequences."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from writers.sources import write_burst, write_mevis_source, write_mose, write_vipseg

from reasonvos.construct.source_datasets import SOURCES, open_source
from reasonvos.errors import InputError, MaskError, MetadataError
from reasonvos.masks import encode_rle

WRITERS = {"mose": write_mose, "mevis": write_mevis_source, "vipseg": write_vipseg, "burst": write_burst}


def assert_reader_matches(reader, truth):
    assert reader.videos() == sorted(truth.frames)
    for video, frames in truth.frames.items():
        assert reader.frames(video) == frames
        assert set(reader.objects(video)) == set(truth.masks[video])
        for frame in frames:
            assert reader.image_path(video, frame).is_file()
        for obj, expected in truth.masks[video].items():
            got = dict(reader.masks(video, obj))
            assert list(got) == list(expected), "annotated frames, in order"
            for frame, mask in expected.items():
                assert got[frame].dtype == bool
                np.testing.assert_array_equal(got[frame], mask)


@pytest.mark.parametrize("kind", SOURCES)
def test_reader_gives_the_written_masks(tmp_path, kind):
    truth = WRITERS[kind](tmp_path / kind)
    assert_reader_matches(open_source(kind, tmp_path / kind), truth)


def test_vipseg_panomasks_are_16_bit_and_ids_above_255_survive(tmp_path):
    truth = write_vipseg(tmp_path)
    png = next((tmp_path / "VIPSeg_720P" / "panomasks" / "127_-hIVCYO4C90").glob("*.png"))
    with Image.open(png) as img:
        assert img.mode == "I;16"
        assert int(np.asarray(img).max()) > 255
    reader = open_source("vipseg", tmp_path)
    assert "000006101" in reader.objects("127_-hIVCYO4C90")
    assert "000012500" in reader.objects("127_-hIVCYO4C90")
    assert_reader_matches(reader, truth)


def test_vipseg_raw_layout_is_read_too(tmp_path):
    truth = write_vipseg(tmp_path, layout="raw")
    reader = open_source("vipseg", tmp_path)
    assert reader.layout.startswith("VIPSeg/")
    assert_reader_matches(reader, truth)


def test_vipseg_ids_must_be_nine_digit_strings(tmp_path):
    write_vipseg(tmp_path)
    with pytest.raises(InputError, match="no object '6101'"):
        list(open_source("vipseg", tmp_path).masks("127_-hIVCYO4C90", "6101"))


def test_mose_frame_without_annotation_is_not_an_annotated_frame(tmp_path):
    write_mose(tmp_path)
    reader = open_source("mose", tmp_path)
    assert reader.frames("7f3e9a10")[-1] == "00003"
    assert "00003" not in dict(reader.masks("7f3e9a10", "2"))


def test_mose_annotation_without_jpeg_is_an_error(tmp_path):
    write_mose(tmp_path)
    (tmp_path / "train" / "JPEGImages" / "001ca3cb" / "00001.jpg").unlink()
    with pytest.raises(MaskError, match="without a matching JPEG"):
        open_source("mose", tmp_path).objects("001ca3cb")


def test_mevis_object_id_maps_to_anno_id_through_the_expressions(tmp_path):
    write_mevis_source(tmp_path)
    reader = open_source("mevis", tmp_path)
    assert reader.objects("0ab4afe7fb46") == ["0", "1"]
    masks = dict(reader.masks("0ab4afe7fb46", "0"))
    assert not masks["00001"].any(), "a null RLE is an empty mask"


def test_mevis_inconsistent_anno_ids_are_refused(tmp_path):
    write_mevis_source(tmp_path)
    meta_path = tmp_path / "train" / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    meta["videos"]["0ab4afe7fb46"]["expressions"]["0"]["anno_id"] = [999]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(MetadataError, match="maps to anno_id"):
        open_source("mevis", tmp_path)


def test_mevis_mask_count_must_match_frames(tmp_path):
    write_mevis_source(tmp_path)
    path = tmp_path / "train" / "mask_dict.json"
    md = json.loads(path.read_text())
    md["100"] = md["100"][:-1]
    path.write_text(json.dumps(md))
    with pytest.raises(MetadataError, match="has 2 masks for 3 frames"):
        list(open_source("mevis", tmp_path).masks("0ab4afe7fb46", "0"))


def test_mevis_rle_with_a_malformed_size_is_named(tmp_path):
    write_mevis_source(tmp_path)
    path = tmp_path / "train" / "mask_dict.json"
    md = json.loads(path.read_text())
    for entries in md.values():
        for rle in entries:
            if rle is not None:
                rle["size"] = ["h", "w"]
    path.write_text(json.dumps(md))
    with pytest.raises(MaskError, match="mask_dict.json.*expected \\[H, W\\] positive integers"):
        list(open_source("mevis", tmp_path).masks("0ab4afe7fb46", "0"))


def test_burst_uses_annotated_frames_and_sequence_size(tmp_path):
    write_burst(tmp_path)
    reader = open_source("burst", tmp_path)
    video = "v_f69ebe5b731d3e87c1a3992ee39c3b7e"
    assert reader.frames(video) == ["frame0001", "frame0006", "frame0011"]
    assert reader.image_path(video, "frame0006") == (
        tmp_path / "frames" / "val" / "YFCC100M" / video / "frame0006.jpg"
    )
    masks = dict(reader.masks(video, "3"))
    assert masks["frame0006"].shape == (22, 28) and not masks["frame0006"].any()


def test_burst_corrupt_rle_names_the_track_and_frame(tmp_path):
    write_burst(tmp_path)
    path = tmp_path / "annotations" / "val" / "all_classes.json"
    data = json.loads(path.read_text())
    # the counts of a 100x100 mask cannot fit the sequence's 22x28 frames
    data["sequences"][0]["segmentations"][0]["1"]["rle"] = encode_rle(np.ones((100, 100), bool))["counts"]
    path.write_text(json.dumps(data))
    with pytest.raises(MaskError, match="track 1 at frame0001"):
        list(open_source("burst", tmp_path).masks("v_f69ebe5b731d3e87c1a3992ee39c3b7e", "1"))


def test_unknown_source_and_missing_folder(tmp_path):
    with pytest.raises(InputError, match="unknown source 'davis'"):
        open_source("davis", tmp_path)
    with pytest.raises(InputError, match="not found"):
        open_source("mose", tmp_path / "nope")
    with pytest.raises(InputError, match="unknown video"):
        write_mose(tmp_path / "m")
        open_source("mose", tmp_path / "m").frames("missing")


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
