"""Safe extraction: honest archives unpack and are marked complete; hostile ones are refused
with nothing written outside the target."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from writers.archives import (
    write_tar,
    write_tar_fifo,
    write_tar_link,
    write_zip,
    write_zip_bomb,
    write_zip_symlink,
)

from reasonvos.acquire.extract import (
    MARKER,
    CorruptArchiveError,
    ExtractLimits,
    extract_archive,
    is_extracted,
    read_marker,
    sha256_file,
)
from reasonvos.errors import InputError, UnsafeArchiveError


def tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "archives").mkdir()
    return tmp_path


def test_zip_extracts_and_marker_names_the_archive(work: Path):
    archive = write_zip(work / "archives/ReasonVOS.zip",
                        {"ReasonVOS/meta_expressions.json": b"{}", "ReasonVOS/JPEGImages/v/00000.jpg": b"x"})
    target = work / "root/ReasonVOS"
    extract_archive(archive, target, layout_markers=["meta_expressions.json"])
    assert (target / "meta_expressions.json").read_bytes() == b"{}"
    assert (target / "JPEGImages/v/00000.jpg").is_file()
    [entry] = read_marker(target)["archives"]
    assert entry["name"] == "ReasonVOS.zip" and entry["sha256"] == sha256_file(archive)
    assert is_extracted(target, "ReasonVOS.zip", sha256_file(archive))
    # nothing but the target was created beside it (the temporary folder is gone)
    assert sorted(p.name for p in target.parent.iterdir()) == ["ReasonVOS"]


def test_layout_markers_accept_archives_without_the_wrapper_folder(work: Path):
    archive = write_zip(work / "archives/ReasonVOS.zip", {"meta_expressions.json": b"{}"})
    target = work / "root/ReasonVOS"
    extract_archive(archive, target, layout_markers=["meta_expressions.json"])
    assert (target / "meta_expressions.json").is_file()


def test_missing_layout_is_reported(work: Path):
    archive = write_zip(work / "archives/x.zip", {"something/else.txt": b"1"})
    with pytest.raises(InputError, match="expected layout"):
        extract_archive(archive, work / "root/t", layout_markers=["meta_expressions.json"])
    assert not (work / "root/t").exists()


def test_second_archive_merges_into_the_same_target(work: Path):
    a = write_zip(work / "archives/a.zip", {"DAVIS/JPEGImages/480p/x/00000.jpg": b"1"})
    b = write_tar(work / "archives/b.tar.gz", {"DAVIS/davis_semantics.json": b"{}"})
    target = work / "root/DAVIS"
    extract_archive(a, target, layout_markers=["JPEGImages"])
    extract_archive(b, target, layout_markers=["davis_semantics.json"])
    assert tree(target) >= {"JPEGImages/480p/x/00000.jpg", "davis_semantics.json"}
    assert [e["name"] for e in read_marker(target)["archives"]] == ["a.zip", "b.tar.gz"]


def test_already_extracted_archive_is_not_unpacked_again(work: Path):
    archive = write_zip(work / "archives/a.zip", {"f.txt": b"1"})
    target = work / "root/t"
    extract_archive(archive, target)
    (target / "f.txt").write_bytes(b"edited")
    extract_archive(archive, target)
    assert (target / "f.txt").read_bytes() == b"edited"


def assert_refused(archive: Path, work: Path, match: str, limits: ExtractLimits | None = None) -> None:
    before = tree(work)
    target = work / "root/target"
    with pytest.raises(UnsafeArchiveError, match=match) as info:
        extract_archive(archive, target, limits=limits)
    assert archive.name in str(info.value)
    # nothing at all was written: no target, no temporary folder, nothing escaped
    assert tree(work) - before <= {"root"}
    assert not target.exists()


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_path_traversal_is_refused(work: Path, kind: str):
    files = {"ok.txt": b"1", "../evil.txt": b"pwned"}
    archive = write_zip(work / "archives/t.zip", files) if kind == "zip" else write_tar(work / "archives/t.tar", files, "w")
    assert_refused(archive, work, r"'\.\./evil\.txt'.*'\.\.'")
    assert not (work / "root/evil.txt").exists() and not (work / "evil.txt").exists()


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_absolute_path_is_refused(work: Path, kind: str):
    files = {"/tmp/reasonvos-evil.txt": b"pwned"}
    if kind == "zip":
        archive = work / "archives/abs.zip"
        with zipfile.ZipFile(archive, "w") as zf:  # ZipFile.writestr keeps the leading '/'
            zf.writestr(zipfile.ZipInfo("/tmp/reasonvos-evil.txt"), b"pwned")
    else:
        archive = write_tar(work / "archives/abs.tar", files, "w")
    assert_refused(archive, work, "absolute path")


def test_windows_style_traversal_is_refused(work: Path):
    archive = write_zip(work / "archives/w.zip", {"a\\..\\..\\evil.txt": b"x"})
    assert_refused(archive, work, "'..'")


def test_zip_symlink_escaping_the_target_is_refused(work: Path):
    archive = write_zip_symlink(work / "archives/l.zip", "link", "../../../etc", extra={"a.txt": b"1"})
    assert_refused(archive, work, "symlink")


@pytest.mark.parametrize("hard", [False, True])
def test_tar_links_are_refused(work: Path, hard: bool):
    archive = write_tar_link(work / "archives/l.tar", "link", "/etc/passwd", hard=hard, extra={"a.txt": b"1"})
    assert_refused(archive, work, "is a link")


def test_tar_fifo_is_refused(work: Path):
    assert_refused(write_tar_fifo(work / "archives/f.tar", "pipe"), work, "special file")


def test_zip_compression_bomb_over_the_ratio_cap_is_refused(work: Path):
    archive = write_zip_bomb(work / "archives/bomb.zip")
    assert_refused(archive, work, "compression bomb", ExtractLimits(max_ratio=200, ratio_min_bytes=1 << 20))


def test_total_size_cap_applies_to_zip_and_tar(work: Path):
    files = {"a.bin": b"1" * 4000, "b.bin": b"2" * 4000}
    small = ExtractLimits(max_total_bytes=6000)
    assert_refused(write_zip(work / "archives/big.zip", files), work, "over the cap", small)
    assert_refused(write_tar(work / "archives/big.tar.gz", files), work, "over the cap", small)


def test_tar_gz_bomb_over_the_ratio_cap_is_refused(work: Path):
    archive = write_tar(work / "archives/bomb.tar.gz", {"zeros.bin": b"\0" * (4 << 20)})
    assert_refused(archive, work, "times the archive size", ExtractLimits(max_ratio=200, ratio_min_bytes=1 << 20))


def test_an_entry_faking_the_marker_is_refused(work: Path):
    archive = write_zip(work / "archives/m.zip", {MARKER: b'{"archives": []}'})
    assert_refused(archive, work, "marker")


def test_interrupted_extraction_leaves_no_marker(work: Path):
    """A corrupt member half-way through stops the extraction: the target never looks finished."""
    good = write_zip(work / "archives/first.zip", {"keep.txt": b"1"})
    target = work / "root/t"
    extract_archive(good, target)
    broken = work / "archives/second.zip"
    write_zip(broken, {"a.txt": b"A" * 1000, "b.txt": b"B" * 5000})
    raw = bytearray(broken.read_bytes())
    pos = raw.find(b"b.txt") + 5 + 20  # inside b.txt's compressed data
    raw[pos : pos + 8] = b"\xff" * 8
    broken.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="second.zip"):
        extract_archive(broken, target)
    assert not is_extracted(target, "second.zip", sha256_file(broken))
    assert [e["name"] for e in read_marker(target)["archives"]] == ["first.zip"]
    assert not (target / "a.txt").exists()  # the half-done copy never reached the target
    assert sorted(p.name for p in target.parent.iterdir()) == ["t"]


def test_not_an_archive_is_reported(work: Path):
    page = work / "archives/ReasonVOS.zip"
    page.write_text("<html>Google Drive - quota exceeded</html>")
    with pytest.raises(InputError, match="not a zip or tar"):
        extract_archive(page, work / "root/t")


def test_fallback_subdir_takes_an_archive_without_the_expected_wrapper(work: Path):
    """A JPEGImages.tar holding the video folders directly still lands in JPEGImages/."""
    archive = write_tar(work / "archives/JPEGImages.tar", {"0ab4afe7fb46/00000.jpg": b"j"}, "w")
    target = work / "root/train"
    extract_archive(archive, target, layout_markers=["JPEGImages"], fallback_subdir="JPEGImages")
    assert (target / "JPEGImages/0ab4afe7fb46/00000.jpg").read_bytes() == b"j"
    assert read_marker(target)["archives"][0]["name"] == "JPEGImages.tar"


def test_extracted_folders_get_normal_permissions(work: Path):
    archive = write_zip(work / "archives/flat.zip", {"meta_expressions.json": b"{}"})
    target = work / "root/ReasonVOS"
    extract_archive(archive, target, layout_markers=["meta_expressions.json"])
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask  # the usual mode, not mkdtemp's 0700


# ----------------------------------------------------------------- links already in the target


def reasonvos_like_zip(work: Path, name: str = "ReasonVOS.zip") -> Path:
    return write_zip(work / "archives" / name, {"ReasonVOS/meta_expressions.json": b"{}",
                                                "ReasonVOS/JPEGImages/v/00000.jpg": b"jpeg"})


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_inside_the_target_is_never_written_through(work: Path, dangling: bool):
    """`R/ReasonVOS/JPEGImages -> /elsewhere`: the videos must not land in /elsewhere (nor replace the link)."""
    elsewhere = work / "elsewhere"
    if not dangling:
        elsewhere.mkdir()
    target = work / "root/ReasonVOS"
    target.mkdir(parents=True)
    (target / "JPEGImages").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(InputError, match="JPEGImages: is a symbolic link .*elsewhere.*refusing to write through"):
        extract_archive(reasonvos_like_zip(work), target, layout_markers=["meta_expressions.json"])
    assert not elsewhere.exists() or tree(elsewhere) == set()
    assert (target / "JPEGImages").is_symlink()
    assert tree(target) == {"JPEGImages"}  # nothing else was installed, and no marker
    assert sorted(p.name for p in target.parent.iterdir()) == ["ReasonVOS"]


def test_a_symlinked_file_inside_the_target_is_refused_too(work: Path):
    outside = work / "outside.json"
    outside.write_bytes(b"precious")
    target = work / "root/ReasonVOS"
    target.mkdir(parents=True)
    (target / "meta_expressions.json").symlink_to(outside)
    with pytest.raises(InputError, match="meta_expressions.json: is a symbolic link"):
        extract_archive(reasonvos_like_zip(work), target, layout_markers=["meta_expressions.json"])
    assert outside.read_bytes() == b"precious" and (target / "meta_expressions.json").is_symlink()
    assert not (target / "JPEGImages").exists()


def test_the_target_itself_may_be_a_link_to_another_disk(work: Path):
    disk = work / "disk/ReasonVOS"
    disk.mkdir(parents=True)
    (work / "root").mkdir()
    (work / "root/ReasonVOS").symlink_to(disk, target_is_directory=True)
    extract_archive(reasonvos_like_zip(work), work / "root/ReasonVOS", layout_markers=["meta_expressions.json"])
    assert (disk / "JPEGImages/v/00000.jpg").read_bytes() == b"jpeg" and (disk / MARKER).is_file()
    assert sorted(p.name for p in (work / "disk").iterdir()) == ["ReasonVOS"]  # no staging left beside it


# ------------------------------------------------------------------- several archives at once


def test_a_failed_install_of_several_archives_leaves_the_target_as_it_was(work: Path):
    """The second archive clashes with the first (a file where the first has a folder) only once
    both are moved into place: the first one's moves, including a replaced file, are undone."""
    from reasonvos.acquire.extract import Installation

    target = work / "root/t"
    target.mkdir(parents=True)
    (target / "a.txt").write_bytes(b"old")
    first = write_zip(work / "archives/first.zip", {"a.txt": b"new", "x/inside.txt": b"1"})
    second = write_zip(work / "archives/second.zip", {"x": b"a file named like the first one's folder"})
    with Installation() as inst:
        inst.stage_archive(first, target)
        inst.stage_archive(second, target)
        with pytest.raises(InputError, match="x: cannot install here"):
            inst.commit()
    assert tree(target) == {"a.txt"} and (target / "a.txt").read_bytes() == b"old"
    assert read_marker(target) == {"archives": []}
    assert sorted(p.name for p in target.parent.iterdir()) == ["t"]


# ------------------------------------------------------------------------ what a bad file is


def test_a_truncated_zip_is_called_truncated_not_a_web_page(work: Path):
    whole = write_zip(work / "archives/whole.zip", {f"JPEGImages/v/{i:05d}.jpg": os.urandom(5000) for i in range(4)})
    cut = work / "archives/ReasonVOS.zip"
    cut.write_bytes(whole.read_bytes()[:12_000])
    with pytest.raises(CorruptArchiveError, match="ReasonVOS.zip: is a truncated or corrupt zip archive") as info:
        extract_archive(cut, work / "root/t")
    assert "web page" not in str(info.value)


def test_a_truncated_tar_gz_is_called_truncated(work: Path):
    whole = write_tar(work / "archives/whole.tar.gz", {"JPEGImages/v/00000.jpg": os.urandom(5000)})
    cut = work / "archives/JPEGImages.tar.gz"
    cut.write_bytes(whole.read_bytes()[:8])
    with pytest.raises(CorruptArchiveError, match="truncated or corrupt gzip-compressed archive"):
        extract_archive(cut, work / "root/t")


def test_a_web_page_is_still_called_a_web_page(work: Path):
    page = work / "archives/ReasonVOS.zip"
    page.write_text("\n  <!DOCTYPE html><html><body>Sign in</body></html>")
    with pytest.raises(InputError, match="not a zip or tar archive but a web page"):
        extract_archive(page, work / "root/t")
