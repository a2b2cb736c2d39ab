"""How PNGs and RLEs become masks: the one place (reasonvos.masks) every loader and scorer uses."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reasonvos.errors import MaskError, MissingFileError
from reasonvos.masks import (
    DAVIS_PALETTE,
    MAX_PIXELS,
    MaskSizeError,
    decode_rle,
    encode_binary_png,
    encode_rle,
    png_size,
    read_binary_png,
    read_index_png,
    read_png_values,
    write_binary_png,
    write_index_png,
)
from reasonvos.validation import validate

LABELS = np.array([[0, 1, 2], [3, 255, 0]], np.uint8)


def test_index_pngs_are_read_as_palette_indices_not_colours(tmp_path):
    path = tmp_path / "00000.png"
    write_index_png(path, LABELS)
    with Image.open(path) as img:
        assert img.mode == "P"
        colours = np.asarray(img.convert("RGB"))
    assert (read_index_png(path) == LABELS).all()
    assert tuple(colours[0, 1]) == (128, 0, 0)  # what a colour reader would see for object 1


def test_the_davis_palette_starts_black_dark_red_dark_green(tmp_path):
    """The palette of the released DAVIS/VOC annotations: a viewer shows the same colours as there,
    including the cream of the void index 255."""
    assert DAVIS_PALETTE[:12] == [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0]
    assert DAVIS_PALETTE[3 * 255:] == [224, 224, 192] and len(DAVIS_PALETTE) == 3 * 256


def test_a_palette_index_whose_colour_is_black_still_counts(tmp_path):
    path = tmp_path / "p.png"
    img = Image.fromarray(np.array([[0, 1]], np.uint8), mode="P")
    img.putpalette([0, 0, 0] * 256)  # every index is black
    img.save(path)
    assert read_binary_png(path).tolist() == [[False, True]]
    assert read_index_png(path).tolist() == [[0, 1]]


def test_binary_pngs_are_foreground_wherever_non_zero(tmp_path):
    path = tmp_path / "m.png"
    Image.fromarray(np.array([[0, 1, 100, 255]], np.uint8), mode="L").save(path)
    assert read_binary_png(path).tolist() == [[False, True, True, True]]
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.array([[[0, 0, 0], [0, 0, 9]]], np.uint8), mode="RGB").save(rgb)
    assert read_binary_png(rgb).tolist() == [[False, True]]


def test_rgb_pngs_are_refused_as_index_masks(tmp_path):
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((2, 2, 3), np.uint8), mode="RGB").save(rgb)
    with pytest.raises(MaskError, match="rgb.png: expected an index PNG"):
        read_index_png(rgb)


def test_16_bit_pngs_keep_values_above_255(tmp_path):
    path = tmp_path / "pano.png"
    values = np.array([[0, 6100], [6101, 124]], np.uint16)
    Image.fromarray(values).save(path)  # mode I;16
    got = read_index_png(path)
    assert got.dtype == np.uint16 and (got == values).all()
    assert read_binary_png(path).tolist() == [[False, True], [True, True]]


def test_written_binary_pngs_are_single_channel_0_255(tmp_path):
    path = tmp_path / "out" / "00003.png"
    mask = np.array([[True, False], [False, True]])
    write_binary_png(path, mask)
    with Image.open(path) as img:
        assert img.mode == "L"
        assert sorted(np.unique(np.asarray(img)).tolist()) == [0, 255]
        assert (np.asarray(img) == mask * 255).all()  # Pillow, not our reader, sees the mask
    assert [p.name for p in path.parent.iterdir()] == ["00003.png"]  # no temporary file left


def test_written_index_pngs_hold_the_labels_as_palette_indices(tmp_path):
    path = tmp_path / "l.png"
    write_index_png(path, LABELS)
    with Image.open(path) as img:  # an independent reader: the indices, the DAVIS palette, W x H
        assert img.mode == "P" and img.size == (3, 2)
        assert (np.asarray(img) == LABELS).all() and img.getpalette()[:12] == DAVIS_PALETTE[:12]
    assert png_size(path) == (2, 3)  # ours is (H, W)
    with pytest.raises(ValueError):
        write_index_png(path, np.array([[256]]))


def test_undecodable_and_missing_pngs_name_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    for reader in (read_binary_png, read_index_png, png_size):
        with pytest.raises(MaskError, match="bad.png"):
            reader(bad)
    with pytest.raises(MissingFileError, match="absent.png"):
        read_binary_png(tmp_path / "absent.png")


def test_rle_is_compressed_coco_with_string_counts():
    """COCO's string form: runs 11,3,2 then each run minus the one two before (3-3=0, ..., 6-2=4),
    one character 48+x per run below 16."""
    mask = np.zeros((5, 7), bool)
    mask[1:4, 2:6] = True  # column-major runs: 11 off, then (3 on, 2 off) x 3, 3 on, 6 off
    rle = encode_rle(mask)
    assert rle == {"size": [5, 7], "counts": ";32000004"}
    assert (decode_rle(json.loads(json.dumps(rle))) == mask).all()  # survives JSON, like mask_dict.json
    assert (decode_rle({"size": [5, 7], "counts": [11, 3, 2, 3, 2, 3, 2, 3, 6]}) == mask).all()


def test_rle_is_column_major():
    mask = np.array([[True, False], [False, False]])  # runs 0 off, 1 on, 3 off
    other = np.array([[False, True], [False, False]])  # down the first column first: 2 off, 1 on, 1 off
    assert encode_rle(mask)["counts"] == "013" and encode_rle(other)["counts"] == "211"
    assert (decode_rle({"size": [2, 2], "counts": "211"}) == other).all()


def test_null_rle_is_an_empty_mask_of_the_known_size():
    assert decode_rle(None, "mask_dict.json", size=(3, 4)).shape == (3, 4)
    assert not decode_rle(None, size=(3, 4)).any()
    with pytest.raises(MaskError, match="null RLE"):
        decode_rle(None, "mask_dict.json")


def test_rle_size_mismatch_names_where_it_came_from():
    rle = encode_rle(np.ones((4, 4), bool))
    with pytest.raises(MaskError, match=r"mask_dict.json: RLE size 4x4 differs from the frame size 5x6"):
        decode_rle(rle, "mask_dict.json", size=(5, 6))


@pytest.mark.parametrize(
    "rle",
    [{"counts": "abc"}, {"size": [2], "counts": "0"}, {"size": [2, 2], "counts": "zzzzzz"}, [1, 2, 3]],
)
def test_malformed_rles_are_errors(rle):
    with pytest.raises(MaskError):
        decode_rle(rle, "mask_dict.json")


def test_uncompressed_list_counts_are_accepted():
    mask = decode_rle({"size": [2, 2], "counts": [1, 2, 1]})
    assert mask.T.ravel().tolist() == [False, True, True, False]


def test_a_png_whose_header_claims_a_bomb_size_is_a_mask_error(tmp_path):
    """Pillow refuses images over its pixel limit; that is a broken file, not a crash."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)  # 3.6 gigapixels, grayscale
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    with pytest.raises(MaskError, match="bomb.png"):
        read_binary_png(path)
    with pytest.raises(MaskError, match="bomb.png"):
        png_size(path)


# ------------------------------------------------------------- checks made before decoding

READERS = (read_png_values, read_binary_png, read_index_png)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(height: int, width: int, depth: int = 8, colour: int = 0) -> bytes:
    """A few dozen bytes whose IHDR declares ``height`` x ``width`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any pixel decoder runs (the header alone must decide)."""
    import cv2

    def refuse(*args, **kwargs):
        raise AssertionError("decoded a PNG whose header should have been refused")

    monkeypatch.setattr(cv2, "imread", refuse)
    monkeypatch.setattr(cv2, "imdecode", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("depth", "colour"), [(8, 0), (16, 0), (8, 3), (8, 2)])
def test_a_small_png_declaring_20000x20000_is_refused_before_decoding(tmp_path, no_decoding, reader, depth, colour):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(20000, 20000, depth, colour))
    with pytest.raises(MaskError, match=r"bomb.png: PNG declares 20000x20000 pixels, more than the \d+ .*before"):
        reader(path)


def test_the_expected_size_is_compared_with_the_header_before_decoding(tmp_path, no_decoding):
    path = tmp_path / "00000.png"
    path.write_bytes(png_declaring(25, 32))
    with pytest.raises(MaskSizeError, match="00000.png: mask is 25x32, expected 24x32") as info:
        read_png_values(path, size=(24, 32))
    assert info.value.detail == "25x32, expected 24x32 (HxW)"  # the words of the scorers' size check
    for reader in (read_binary_png, read_index_png):
        with pytest.raises(MaskSizeError):
            reader(path, size=(24, 32))


def test_the_pixel_cap_is_above_every_real_frame():
    assert MAX_PIXELS >= 7680 * 4320  # 8K video


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("n", range(16, 26))
def test_a_png_cut_to_16_to_25_bytes_is_a_mask_error_naming_it(tmp_path, reader, n):
    path = tmp_path / "cut.png"
    path.write_bytes(encode_binary_png(np.ones((4, 4), bool))[:n])
    with pytest.raises(MaskError, match=f"cut.png: PNG does not decode \\(truncated to {n} bytes"):
        reader(path)


@pytest.mark.parametrize("reader", READERS)
def test_a_jpeg_named_png_is_refused_by_its_real_format_even_with_binary_values(tmp_path, reader):
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buf, format="JPEG")  # decodes to all zeros: 'binary'
    path = tmp_path / "00000.png"
    path.write_bytes(buf.getvalue())
    with pytest.raises(MaskError, match="00000.png: not a PNG: the file is a JPEG image"):
        reader(path)


@pytest.mark.parametrize(("data", "words"), [
    (b"GIF89a" + bytes(20), "a GIF image"), (b"BM" + bytes(40), "a BMP image"),
    (b"<!DOCTYPE html><html>", "an HTML/XML text"), (b"PK\x03\x04" + bytes(30), "a zip archive"),
    (b"", "empty file"),
])
def test_other_files_named_png_are_named_by_what_they_are(tmp_path, data, words):
    path = tmp_path / "x.png"
    path.write_bytes(data)
    with pytest.raises(MaskError, match=words):
        read_png_values(path)


def test_a_damaged_header_checksum_is_refused(tmp_path):
    data = bytearray(encode_binary_png(np.ones((4, 4), bool)))
    data[18] ^= 1
    path = tmp_path / "x.png"
    path.write_bytes(bytes(data))
    with pytest.raises(MaskError, match="IHDR checksum"):
        read_png_values(path)


@pytest.mark.parametrize("reader", [*READERS, png_size])
def test_a_fifo_named_png_is_refused_without_waiting_for_a_writer(tmp_path, reader):
    fifo = tmp_path / "00000.png"
    os.mkfifo(fifo)
    with pytest.raises(MaskError, match="00000.png: .*FIFO"):
        reader(fifo)


def test_folders_and_link_loops_named_png_are_mask_errors_and_dangling_links_say_so(tmp_path):
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "loop.png").symlink_to("loop.png")
    (tmp_path / "dangling.png").symlink_to("gone.png")
    with pytest.raises(MaskError, match="dir.png: mask file is a folder"):
        read_png_values(tmp_path / "dir.png")
    with pytest.raises(MaskError, match="loop.png: mask file: symbolic link loop"):
        read_binary_png(tmp_path / "loop.png")
    with pytest.raises(MissingFileError, match="dangling.png: mask file is a dangling symbolic link"):
        read_index_png(tmp_path / "dangling.png")


def test_a_png_file_far_larger_than_its_declared_size_is_not_read(tmp_path, no_decoding):
    path = tmp_path / "padded.png"
    path.write_bytes(png_declaring(4, 4) + bytes(20 << 20))  # 20 MB after a 4x4 image
    with pytest.raises(MaskError, match="far larger than a 4x4 image"):
        read_png_values(path)


def test_values_decode_as_before_for_8_bit_16_bit_and_palette_pngs(tmp_path):
    mask = np.zeros((5, 7), bool)
    mask[1:3, 2:6] = True
    write_binary_png(tmp_path / "b.png", mask)
    write_index_png(tmp_path / "i.png", mask.astype(np.uint8) * 3)
    Image.fromarray(mask.astype(np.uint16) * 65535).save(tmp_path / "w.png")
    assert (read_png_values(tmp_path / "b.png", size=(5, 7)) == mask * 255).all()
    assert (read_png_values(tmp_path / "i.png") == mask * 3).all()
    sixteen = read_png_values(tmp_path / "w.png")
    assert sixteen.dtype == np.uint16 and (sixteen == mask * 65535).all()


# ------------------------------------------------------------------------ RLE sizes and runs


@pytest.mark.parametrize(("size", "words"), [
    ([-5, 7], "not positive"), ([0, 7], "not positive"), ([10**9, 10**9], "pixels"), ([20000, 20000], "pixels"),
    ([2.5, 3], "two integers"), (["2", "3"], "two integers"), ([True, 3], "two integers"), ([2, 3, 4], "two integers"),
])
def test_rle_sizes_that_are_huge_negative_or_not_integers_are_refused_before_allocation(size, words):
    with pytest.raises(MaskError, match=f"mask_dict.json: .*{words}"):
        decode_rle({"size": size, "counts": "0"}, "mask_dict.json")


def test_a_null_rle_of_a_huge_frame_is_refused_rather_than_allocated():
    with pytest.raises(MaskError, match="pixels"):
        decode_rle(None, "mask_dict.json", size=(10**6, 10**6))


@pytest.mark.parametrize(("counts", "words"), [
    ("o" * 100_000, "absurd length"),  # one endless run: adding it up would never finish
    ("é", "not ASCII"), (5, "string or a list"), ([3, -1, 2], "negative run"), ([2, "x"], "other than integers"),
    ([10**40], "cover"),
])
def test_rle_counts_are_checked_before_decoding(counts, words):
    with pytest.raises(MaskError, match=words):
        decode_rle({"size": [2, 2], "counts": counts}, "mask_dict.json")


def _png_claiming_a_huge_size(path: Path) -> None:
    """A PNG whose header says 60000x60000: Pillow refuses it as a decompression bomb."""
    import struct
    import zlib

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", 60000, 60000)  # IHDR width, height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("which", ["mask", "frame"])
def test_png_or_jpeg_with_a_bomb_sized_header_is_an_error_not_a_crash(tmp_path: Path, which: str):
    from writers.reasonvos import write_reasonvos

    base = write_reasonvos(tmp_path)
    target = base / ("Annotations/mevis_a1b2c3_d4_0/00001.png" if which == "mask" else "JPEGImages/a1b2c3_d4/00001.jpg")
    assert target.is_file()
    _png_claiming_a_huge_size(target)
    report = validate("reasonvos", base, deep=True)
    assert not report.ok
    assert any(p.where == str(target) and p.kind.startswith("undecodable") for p in report.errors), report.format()
