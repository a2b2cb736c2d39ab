"""Build small zip and tar archives, honest and malicious, for the download and extraction tests."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    """A normal deflated zip with the given entries."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def write_tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return path


def write_zip_symlink(path: Path, name: str, link_to: str, extra: dict[str, bytes] | None = None) -> Path:
    """A zip holding a symlink entry (Unix mode bits in external_attr), as `zip -y` makes."""
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in (extra or {}).items():
            zf.writestr(n, data)
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, link_to)
    return path


def write_tar_link(path: Path, name: str, link_to: str, hard: bool = False,
                   extra: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w") as tf:
        for n, data in (extra or {}).items():
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
        ti.linkname = link_to
        tf.addfile(ti)
    return path


def write_tar_fifo(path: Path, name: str) -> Path:
    with tarfile.open(path, "w") as tf:
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.FIFOTYPE
        tf.addfile(ti)
    return path


def write_zip_bomb(path: Path, name: str = "bomb.bin", size: int = 8 << 20) -> Path:
    """A member of zeros that deflates about 1000:1."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, b"\0" * size)
    return path
