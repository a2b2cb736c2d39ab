"""Reading a user's JSON files and video frames: one InputError naming the file, never a hang.

``reasonvos.fileio.read_json`` serves metadata, mask dicts, results files, run records and
model configs; ``reasonvos.frames`` reads the frames models see. Both stat a path before they
open it, so a FIFO is refused instead of waited on.
"""

from __future__ import annotations

import errno
import io
import json
import os
import struct

import numpy as np
import pytest
from PIL import Image

from reasonvos.errors import InputError, MetadataError, MissingFileError
from reasonvos.fileio import read_json
from reasonvos.frames import frame_folder_video, read_gray, read_rgb

# ------------------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(("text", "words"), [
    ('{"x": ' + "9" * 5000 + "}", "holds a value Python cannot read (Exceeds the limit (4300 digits)"),
    ("[" * 100_000 + "]" * 100_000, "is nested too deeply to read"),
    ('{"videos": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001, "is nested too deeply to read"),
])
def test_huge_integers_and_deep_nesting_are_one_metadata_error(tmp_path, text, words):
    path = tmp_path / "meta.json"
    path.write_text(text)
    with pytest.raises(MetadataError) as info:
        read_json(path, "metadata")
    assert str(info.value).startswith(f"{path}: metadata {words}")


def test_text_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "meta.json"
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(MetadataError, match="meta.json: metadata is not valid UTF-8"):
        read_json(path, "metadata")


@pytest.mark.parametrize(("make", "error", "words"), [
    (os.mkfifo, MetadataError, "is a FIFO \\(named pipe\\), not a regular file"),
    (os.mkdir, MetadataError, "is a folder, not a regular file"),
    (lambda p: os.symlink(p.name, p), MetadataError, "symbolic link loop"),
    (lambda p: os.symlink("gone.json", p), MissingFileError, "is a dangling symbolic link \\(to gone.json\\)"),
    (lambda p: None, MissingFileError, "not found"),
])
def test_what_is_at_the_path_is_said_in_words_and_a_fifo_is_never_opened(tmp_path, make, error, words):
    path = tmp_path / "meta.json"
    make(path)
    with pytest.raises(error, match=f"meta.json: results file:? {words}"):
        read_json(path, "results file")


def test_an_unreadable_file_is_a_metadata_error(tmp_path, monkeypatch):
    """(Simulated: the tests may run as root, who can read anything.)"""
    path = tmp_path / "meta.json"
    path.write_text("{}")
    real_open = os.open

    def denied(p, *args, **kwargs):
        if str(p) == str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(p))
        return real_open(p, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(MetadataError, match="meta.json: metadata: permission denied"):
        read_json(path, "metadata")


def test_valid_json_reads_as_before(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"videos": {"a": [1, 2.5, None, "é"]}}))
    assert read_json(path) == {"videos": {"a": [1, 2.5, None, "é"]}}


# ------------------------------------------------------------------------------------ frames


def jpeg_declaring(height: int, width: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("reader", [read_rgb, read_gray])
@pytest.mark.parametrize("size", [(9000, 9000), (20000, 20000)])
def test_a_frame_declaring_more_pixels_than_the_cap_is_refused_before_decoding(tmp_path, monkeypatch, reader, size):
    import cv2

    def refuse(*args, **kwargs):
        raise AssertionError("decoded a frame whose header should have been refused")

    monkeypatch.setattr(cv2, "imread", refuse)
    monkeypatch.setattr(cv2, "imdecode", refuse)
    path = tmp_path / "00000.jpg"
    path.write_bytes(jpeg_declaring(*size))
    with pytest.raises(InputError, match=r"00000.jpg: frame declares .*pixels.*refused before decoding"):
        reader(path)


@pytest.mark.parametrize(("data", "words"), [
    (b"<!DOCTYPE html><html>", "the file is an HTML/XML text"), (b"", "the file is an empty file"),
    (b"PK\x03\x04" + bytes(40), "the file is a zip archive"),
])
def test_a_frame_that_is_not_an_image_is_named_by_what_it_is(tmp_path, data, words):
    path = tmp_path / "00000.jpg"
    path.write_bytes(data)
    with pytest.raises(InputError, match=f"00000.jpg: frame does not decode as an image \\({words}\\)"):
        read_rgb(path)


def test_a_fifo_frame_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "00000.jpg"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="00000.jpg: frame is a FIFO"):
        read_rgb(fifo)


@pytest.mark.parametrize("kind", ["fifo", "folder", "dangling"])
def test_a_frame_folder_entry_that_is_not_a_file_is_an_error_not_a_skipped_frame(tmp_path, kind):
    for i in (0, 2):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / f"{i:05d}.jpg")
    odd = tmp_path / "00001.jpg"
    {"fifo": os.mkfifo, "folder": os.mkdir, "dangling": lambda p: os.symlink("gone.jpg", p)}[kind](odd)
    with pytest.raises(InputError, match="00001.jpg: frame"):
        frame_folder_video(tmp_path)


def test_frames_decode_as_before(tmp_path):
    arr = np.zeros((6, 9, 3), np.uint8)
    arr[..., 0] = 200
    Image.fromarray(arr).save(tmp_path / "f.png")
    assert (read_rgb(tmp_path / "f.png") == arr).all()
    assert read_gray(tmp_path / "f.png").shape == (6, 9)
