"""Which frames the official inference scripts would read: ``sorted(glob(<folder>/*.jpg))``.

VideoLISA's and LISA's scripts list the frame folder instead of reading the metadata, so a folder
that holds more, fewer or differently ordered JPEGs than the metadata changes the 32 frames they
sample. ``listing_difference`` names the first place where the two disagree.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from reasonvos.benchmarks.model import Video
from reasonvos.frames import listing_difference, official_listing


def folder_of(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "video"
    folder.mkdir()
    for name in names:
        Image.new("RGB", (4, 3)).save(folder / name)
    return folder


def test_the_listing_is_glob_order_of_jpg_files_only(tmp_path):
    folder = folder_of(tmp_path, ["10.jpg", "9.jpg", "a.JPG", ".hidden.jpg", "b.png", "x[1].jpg"])
    video = Video(id="v", frames=("9", "10"), image_dir=folder)
    # name order (not numeric order); .JPG, hidden files and PNGs are not listed, brackets are literal
    assert official_listing(video) == ("10", "9", "x[1]")


def test_a_folder_that_matches_the_metadata_has_no_difference(tmp_path):
    folder = folder_of(tmp_path, ["00000.jpg", "00005.jpg"])
    assert listing_difference(Video(id="v", frames=("00000", "00005"), image_dir=folder)) is None
    assert listing_difference(Video(id="v", frames=("00000",), image_dir=None)) is None


def test_an_order_that_differs_from_name_order_is_named_at_its_first_position(tmp_path):
    folder = folder_of(tmp_path, ["1.jpg", "2.jpg", "10.jpg"])
    line = listing_difference(Video(id="v", frames=("1", "2", "10"), image_dir=folder))
    assert line == ("the official scripts' sorted(glob('*.jpg')) lists 3 frames where the metadata lists 3; "
                    "first difference at position 1: metadata '2', folder '10'")


def test_an_extra_jpeg_in_the_folder_is_named(tmp_path):
    folder = folder_of(tmp_path, ["00000.jpg", "00001.jpg", "00002.jpg"])
    line = listing_difference(Video(id="v", frames=("00000", "00001"), image_dir=folder))
    assert "lists 3 frames where the metadata lists 2" in line
    assert "position 2: metadata nothing, folder '00002'" in line
