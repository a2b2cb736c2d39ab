"""Safe extraction of zip and tar archives into a benchmark root.

Archives come from the internet or from users, so every entry is checked before a byte is
written: no absolute paths, no ``..``, no links of any kind, no device files or fifos, and caps on
the total unpacked size and the compression ratio (per zip member, and of the whole archive).
Extraction happens in a temporary folder beside the target and is moved into place afterwards; a marker file
(``.reasonvos-complete.json``) written *last* records which archives (by name and sha256) the
target holds, so an interrupted extraction never looks finished. A refusal is an
:class:`UnsafeArchiveError` naming the archive and the entry, with nothing written outside the
target (the temporary folder is removed).
"""

from __future__ import annotations

import hashlib
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

from tqdm import tqdm

from reasonvos.errors import InputError, UnsafeArchiveError
from reasonvos.fileio import read_json, write_json_atomic

MARKER = ".reasonvos-complete.json"
_CHUNK = 1 << 20


class CorruptArchiveError(InputError):
    """The archive's bytes are damaged (bad CRC, truncated stream): only a new download helps."""


@dataclass(frozen=True)
class ExtractLimits:
    """Caps that stop compression bombs. The ratio cap only applies to members larger than
    ``ratio_min_bytes``: tiny files of zeros compress far beyond any sane ratio and are harmless."""

    max_total_bytes: int = 2 * 1024**4  # 2 TB
    max_ratio: float = 200.0
    ratio_min_bytes: int = 1 << 20
    max_members: int = 50_000_000


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, streamed (archives can be tens of GB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def archive_kind(path: str | Path) -> str:
    """``"zip"`` or ``"tar"`` (any compression), from the file's content, not its name."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "archive not found")
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, EOFError, tarfile.TarError):  # EOFError: a truncated .tar.gz
        pass
    raise InputError(path, "not a zip or tar archive (a web page saved instead of the file?)")


def safe_relpath(archive: Path, name: str) -> PurePosixPath:
    """The entry's path relative to the target, or UnsafeArchiveError if it could escape it."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise UnsafeArchiveError(archive, f"entry {name!r} has an absolute path")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeArchiveError(archive, f"entry {name!r} has a '..' component")
    if not parts:
        raise UnsafeArchiveError(archive, f"entry {name!r} has an empty path")
    if parts[-1] == MARKER:
        raise UnsafeArchiveError(archive, f"entry {name!r} would fake the completion marker")
    return PurePosixPath(*parts)


def _names_the_root(name: str) -> bool:
    """A directory entry such as ``./`` (``tar -C dir .``) names the target itself: nothing to make."""
    unified = name.replace("\\", "/")
    return not unified.startswith("/") and all(p in ("", ".") for p in unified.split("/"))


# ----------------------------------------------------------------------------------- members


@dataclass(frozen=True)
class _Member:
    rel: PurePosixPath
    is_dir: bool
    size: int
    open: object  # callable returning a binary stream, for files


def _zip_members(archive: Path, zf: zipfile.ZipFile, limits: ExtractLimits) -> list[_Member]:
    """Check every zip entry up front (the central directory lists them all)."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise UnsafeArchiveError(archive, f"has {len(infos)} entries, more than the cap {limits.max_members}")
    total = 0
    compressed = archive.stat().st_size
    out = []
    for info in infos:
        if info.is_dir() and _names_the_root(info.filename):
            continue
        rel = safe_relpath(archive, info.filename)
        mode = info.external_attr >> 16  # Unix mode when made on Unix; type bits 0 = plain entry
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            what = "a symlink" if stat.S_ISLNK(mode) else "a special file (device, fifo or socket)"
            raise UnsafeArchiveError(archive, f"entry {info.filename!r} is {what}; links are refused")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchiveError(
                archive, f"entry {info.filename!r} takes the unpacked size over the cap of {limits.max_total_bytes} bytes"
            )
        if info.file_size > limits.ratio_min_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise UnsafeArchiveError(
                archive,
                f"entry {info.filename!r} expands {info.file_size} bytes from {info.compress_size} "
                f"(ratio over the cap {limits.max_ratio:g}): a compression bomb?",
            )
        if total > limits.ratio_min_bytes and total > limits.max_ratio * max(compressed, 1):
            raise UnsafeArchiveError(  # many small members, each under the per-member floor
                archive, f"entry {info.filename!r} takes the unpacked size over {limits.max_ratio:g} times the archive size"
            )
        out.append(_Member(rel, info.is_dir(), info.file_size, lambda info=info: zf.open(info)))
    return out


def _tar_members(archive: Path, tf: tarfile.TarFile, limits: ExtractLimits) -> Iterator[_Member]:
    """Check tar entries as they stream by (a .tar.gz cannot be listed without reading it all)."""
    total = 0
    compressed = archive.stat().st_size
    for count, ti in enumerate(tf, start=1):
        if count > limits.max_members:
            raise UnsafeArchiveError(archive, f"has more entries than the cap {limits.max_members}")
        if ti.isdir() and _names_the_root(ti.name):
            continue
        rel = safe_relpath(archive, ti.name)
        if ti.issym() or ti.islnk():
            raise UnsafeArchiveError(archive, f"entry {ti.name!r} is a link (to {ti.linkname!r}); links are refused")
        if not (ti.isfile() or ti.isdir()):
            raise UnsafeArchiveError(archive, f"entry {ti.name!r} is a special file (device, fifo or socket)")
        total += ti.size
        if total > limits.max_total_bytes:
            raise UnsafeArchiveError(
                archive, f"entry {ti.name!r} takes the unpacked size over the cap of {limits.max_total_bytes} bytes"
            )
        if total > limits.ratio_min_bytes and total > limits.max_ratio * max(compressed, 1):
            raise UnsafeArchiveError(
                archive, f"entry {ti.name!r} takes the unpacked size over {limits.max_ratio:g} times the archive size"
            )
        yield _Member(rel, ti.isdir(), ti.size, lambda ti=ti: tf.extractfile(ti))


def _write_members(archive: Path, members: Iterator[_Member] | Sequence[_Member], into: Path,
                   limits: ExtractLimits, bar: tqdm) -> int:
    written = 0
    files = 0
    for m in members:
        dest = into.joinpath(*m.rel.parts)
        if m.is_dir:
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            raise UnsafeArchiveError(archive, f"entry {str(m.rel)!r} appears twice")
        src: IO[bytes] = m.open()  # type: ignore[operator]
        with src, open(dest, "xb") as out:
            got = 0
            for block in iter(lambda src=src: src.read(_CHUNK), b""):
                got += len(block)
                written += len(block)
                if got > m.size or written > limits.max_total_bytes:
                    raise UnsafeArchiveError(archive, f"entry {str(m.rel)!r} unpacks to more bytes than it declares")
                out.write(block)
                bar.update(len(block))
        files += 1
    return files


def _layout_root(tmp: Path, markers: Sequence[str], archive: Path, max_depth: int = 4) -> Path:
    """The shallowest folder holding one of ``markers``: archives differ in how many wrapper
    folders they have (``ReasonVOS/...`` or not), and this finds the part the target expects."""
    if not markers:
        return tmp
    level = [tmp]
    for _ in range(max_depth + 1):
        nxt = []
        for d in level:
            if any((d / m).exists() for m in markers):
                return d
            nxt.extend(sorted(p for p in d.iterdir() if p.is_dir()))
        level = nxt
    raise InputError(archive, f"does not hold the expected layout (none of {', '.join(markers)} found)")


def _merge(src: Path, dest: Path) -> None:
    """Move ``src`` to ``dest``, merging folders that already exist (later archives add to them)."""
    if not dest.exists():
        os.replace(src, dest)
    elif src.is_dir() and dest.is_dir():
        for child in sorted(src.iterdir()):
            _merge(child, dest / child.name)
    elif src.is_file() and dest.is_file():
        os.replace(src, dest)
    else:
        raise InputError(dest, f"cannot merge {src.name!r}: a file and a folder share this name")


# ------------------------------------------------------------------------------------ marker


def read_marker(target: str | Path) -> dict:
    path = Path(target) / MARKER
    if not path.is_file():
        return {"archives": []}
    data = read_json(path, "extraction marker")
    if not isinstance(data, dict) or not isinstance(data.get("archives"), list):
        raise InputError(path, "extraction marker has no 'archives' list")
    return data


def is_extracted(target: str | Path, archive_name: str, sha256: str) -> bool:
    """Whether ``target`` holds a *complete* extraction of this exact archive."""
    return any(
        a.get("name") == archive_name and a.get("sha256") == sha256
        for a in read_marker(target)["archives"]
        if isinstance(a, dict)
    )


def _record(target: Path, archive: Path, sha256: str, files: int) -> None:
    marker = read_marker(target)
    entries = [a for a in marker["archives"] if not (isinstance(a, dict) and a.get("name") == archive.name)]
    entries.append({
        "name": archive.name, "sha256": sha256, "size": archive.stat().st_size, "files": files,
        "extracted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    write_json_atomic(target / MARKER, {"archives": entries})


# -------------------------------------------------------------------------------------- main


def extract_archive(
    archive: str | Path,
    target: str | Path,
    *,
    layout_markers: Sequence[str] = (),
    fallback_subdir: str | None = None,
    sha256: str | None = None,
    limits: ExtractLimits | None = None,
    quiet: bool = True,
) -> Path:
    """Safely unpack ``archive`` into ``target`` (merged with what is there) and mark it complete.

    ``layout_markers`` picks which folder of the archive becomes ``target`` (see
    :func:`_layout_root`); if none is found and ``fallback_subdir`` is given, the whole archive
    goes to ``target/fallback_subdir`` (e.g. a ``JPEGImages.tar`` holding the video folders
    directly). Already extracted (same name and sha256 in the marker) -> no work.
    """
    archive, target = Path(archive), Path(target)
    limits = limits or ExtractLimits()
    if not archive.is_file():
        raise InputError(archive, "archive not found")
    sha256 = sha256 or sha256_file(archive)
    if is_extracted(target, archive.name, sha256):
        return target
    kind = archive_kind(archive)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.extract-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would become the target's mode
    try:
        with tqdm(total=None, unit="B", unit_scale=True, desc=f"extract {archive.name}", disable=quiet) as bar:
            try:
                if kind == "zip":
                    with zipfile.ZipFile(archive) as zf:
                        members = _zip_members(archive, zf, limits)
                        bar.total = sum(m.size for m in members)
                        files = _write_members(archive, members, tmp, limits, bar)
                else:
                    with tarfile.open(archive, "r:*") as tf:
                        files = _write_members(archive, _tar_members(archive, tf, limits), tmp, limits, bar)
                        # read the compressed stream to its end: only there are gzip/xz checksums checked
                        while tf.fileobj.read(_CHUNK):
                            pass
            except OSError as e:
                if e.errno is None:  # gzip/bz2 stream errors: the archive's bytes are bad
                    raise CorruptArchiveError(archive, f"archive is corrupt or truncated ({e}); download it again") from e
                # the OS refused a write (disk full, name too long, read-only): not the archive's fault
                raise InputError(target, f"cannot unpack {archive.name} here: {e.strerror}"
                                         + (f" ({Path(e.filename).name})" if e.filename else "")) from e
            except (zipfile.BadZipFile, tarfile.TarError, EOFError, ValueError, lzma.LZMAError, zlib.error) as e:
                raise CorruptArchiveError(archive, f"archive is corrupt or truncated ({e}); download it again") from e
            except RuntimeError as e:  # zipfile: encrypted entry, or a method it lacks (Deflate64)
                raise InputError(archive, f"cannot be unpacked ({e}); re-pack it as a plain zip or tar") from e
        dest = target
        try:
            root = _layout_root(tmp, layout_markers, archive)
        except InputError:
            if fallback_subdir is None:
                raise
            root, dest = tmp, target / fallback_subdir
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(root, dest)
        else:
            for child in sorted(root.iterdir()):
                _merge(child, dest / child.name)
        _record(target, archive, sha256, files)  # last: only now is the copy complete
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
