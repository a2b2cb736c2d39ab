"""Safe extraction against hostile or damaged archives: escapes, links, bombs, understated sizes, unsupported and corrupt members, unicode names."""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from writers.archives import write_tar, write_tar_link, write_zip

from reasonvos.acquire.extract import MARKER, ExtractLimits, extract_archive, read_marker
from reasonvos.errors import InputError, UnsafeArchiveError


def tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def test_tar_made_with_dot_as_its_root_extracts(tmp_path: Path):
    """`tar -cf x.tar -C dir .` starts with a './' entry: it names the target itself, not an escape."""
    src = tmp_path / "src"
    (src / "JPEGImages/v").mkdir(parents=True)
    (src / "JPEGImages/v/00000.jpg").write_bytes(b"jpeg")
    archive = tmp_path / "dot.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(src, arcname=".")
    with tarfile.open(archive) as tf:
        assert tf.getnames()[0] == "."
    extract_archive(archive, tmp_path / "out")
    assert (tmp_path / "out/JPEGImages/v/00000.jpg").read_bytes() == b"jpeg"


@pytest.mark.parametrize("name", ["..\\evil.txt", "./../evil.txt", "a/./../../evil.txt", "a\\..\\..\\evil.txt",
                                  ".\\..\\evil.txt", "C:\\evil.txt", "\\\\host\\share\\evil.txt"])
def test_zip_names_that_normalise_to_an_escape_are_refused(tmp_path: Path, name: str):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", b"fine")
        zf.writestr(zipfile.ZipInfo(name), b"evil")  # ZipInfo keeps the raw name (no normalising)
    assert name in zipfile.ZipFile(archive).namelist()
    with pytest.raises(UnsafeArchiveError, match="a.zip"):
        extract_archive(archive, tmp_path / "t/out")
    assert tree(tmp_path / "t") == set() and not (tmp_path / "evil.txt").exists()


def test_tar_hardlink_to_an_outside_file_is_refused_and_nothing_is_written(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not touch")
    archive = write_tar_link(tmp_path / "h.tar", "JPEGImages/x.jpg", str(secret), hard=True,
                             extra={"JPEGImages/a.jpg": b"a"})
    with pytest.raises(UnsafeArchiveError, match="h.tar.*link"):
        extract_archive(archive, tmp_path / "t/out")
    assert tree(tmp_path / "t") == set() and secret.read_text() == "do not touch"


def _patch_zip_sizes(path: Path, declared: int) -> None:
    """Make the local and central headers claim ``declared`` uncompressed bytes (a lying zip)."""
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 22: local + 26] = declared.to_bytes(4, "little")
    data[central + 24: central + 28] = declared.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_zip_whose_headers_understate_the_size_never_writes_past_the_declared_size(tmp_path: Path):
    """Headers say 1000 bytes; the data inflates to 4 MB. The caps must count what is written."""
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("JPEGImages/big.bin", b"\0" * (4 << 20))
    _patch_zip_sizes(archive, 1000)
    assert zipfile.ZipFile(archive).getinfo("JPEGImages/big.bin").file_size == 1000
    with pytest.raises(InputError, match="liar.zip"):
        extract_archive(archive, tmp_path / "t/out", limits=ExtractLimits(max_total_bytes=1 << 20))
    assert tree(tmp_path / "t") == set()  # the temporary folder is gone too


def test_zip_bomb_split_into_many_small_members_is_refused(tmp_path: Path):
    """Each member stays under the per-member ratio floor (1 MB); the archive as a whole is a bomb."""
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(40):
            zf.writestr(f"JPEGImages/v/{i:05d}.jpg", b"\0" * (512 << 10))
    assert archive.stat().st_size < 100_000  # 20 MB of members
    with pytest.raises(UnsafeArchiveError, match="many.zip.*times the archive size"):
        extract_archive(archive, tmp_path / "t/out")
    assert tree(tmp_path / "t") == set()


def test_a_disk_side_failure_is_not_called_a_corrupt_archive(tmp_path: Path):
    """A write that the OS refuses (here: a name too long; in real life a full disk) is not the
    archive's fault; calling it corrupt would send the user (and the downloader) to fetch it again."""
    from reasonvos.acquire.extract import CorruptArchiveError

    archive = write_zip(tmp_path / "long.zip", {"JPEGImages/" + "x" * 300 + ".jpg": b"a"})
    with pytest.raises(InputError, match="File name too long") as info:
        extract_archive(archive, tmp_path / "t/out")
    assert not isinstance(info.value, CorruptArchiveError) and "corrupt" not in str(info.value)
    assert tree(tmp_path / "t") == set()


def test_missing_archive_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="nope.zip: archive not found"):
        extract_archive(tmp_path / "nope.zip", tmp_path / "out")


def test_unicode_entry_names_extract_in_zip_and_tar(tmp_path: Path):
    files = {"JPEGImages/vidéo_猫/00000.jpg": b"a", "JPEGImages/Ωmega/ß.jpg": b"b"}
    for archive in (write_zip(tmp_path / "u.zip", files), write_tar(tmp_path / "u.tar.gz", files)):
        out = tmp_path / f"out-{archive.name}"
        extract_archive(archive, out)
        assert (out / "JPEGImages/vidéo_猫/00000.jpg").read_bytes() == b"a"
        assert (out / "JPEGImages/Ωmega/ß.jpg").read_bytes() == b"b"


def _flag_zip(path: Path, *, encrypted: bool = False, method: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    if encrypted:
        data[local + 6] |= 1
        data[central + 8] |= 1
    if method is not None:
        data[local + 8] = method
        data[central + 10] = method
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("flag", [{"encrypted": True}, {"method": 9}], ids=["encrypted", "deflate64"])
def test_zip_that_python_cannot_unpack_is_an_input_error(tmp_path: Path, flag: dict):
    """Password-protected zips and Deflate64 (Windows' 'Send to zip' for big files) must not crash."""
    archive = write_zip(tmp_path / "w.zip", {"JPEGImages/a.jpg": b"hello"})
    _flag_zip(archive, **flag)
    with pytest.raises(InputError, match="w.zip"):
        extract_archive(archive, tmp_path / "t/out")
    assert tree(tmp_path / "t") == set()


def _corrupt_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for k in range(len(data) // 2, len(data) // 2 + 64):
        data[k] ^= 0x55
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("mode", ["w:gz", "w:xz"])
def test_corrupt_compressed_tar_is_an_input_error_not_garbage(tmp_path: Path, mode: str):
    """Bytes flipped inside a member: the gzip/xz checksums catch it; nothing is marked complete."""
    files = {f"JPEGImages/v/{i:05d}.jpg": os.urandom(100_000) for i in range(3)}
    archive = write_tar(tmp_path / ("c.tar." + mode[2:]), files, mode=mode)
    _corrupt_middle(archive)
    with pytest.raises(InputError, match=r"c\.tar\..*corrupt"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out" / MARKER).exists()
    assert read_marker(tmp_path / "out") == {"archives": []}
