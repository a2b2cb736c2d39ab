"""Safe extraction of zip and tar archives into a benchmark root.

Archives come from the internet or from users, so every entry is checked before a byte is
written: no absolute paths, no ``..``, no links of any kind, no device files or fifos, and caps on
the total unpacked size and the compression ratio (per zip member, and of the whole archive).
Extraction happens in a staging folder beside the target; :class:`Installation` moves one or
several staged archives into place together (never through a symlink already in the target),
undoing its moves if one fails. A marker file (``.reasonvos-complete.json``) written *last*
records which archives (by name and sha256) the target holds, so an interrupted extraction never
looks finished. A refusal is an :class:`UnsafeArchiveError` naming the archive and the entry, with
nothing written outside the target (the staging folder is removed).
"""

from __future__ import annotations

import contextlib
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
from reasonvos.fileio import read_json, write_bytes_atomic, write_json_atomic

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
    """``"zip"`` or ``"tar"`` (any compression), from the file's content, not its name.

    Anything else is refused with what it looks like instead: a truncated or damaged archive
    (a zip's directory lives at its very end, so a cut zip is not recognised as one at all) is a
    :class:`CorruptArchiveError`; a web page, or unknown bytes, an :class:`InputError`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "archive not found")
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, tarfile.TarError, EOFError, ValueError, lzma.LZMAError, zlib.error):
        pass
    with open(path, "rb") as f:
        head = f.read(1024)
    problem, corrupt = not_an_archive(head)
    raise (CorruptArchiveError if corrupt else InputError)(path, problem)


_COMPRESSED = ((b"\x1f\x8b", "gzip-compressed"), (b"BZh", "bzip2-compressed"), (b"\xfd7zXZ\x00", "xz-compressed"))
_HTML = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<?xml", b"<script")


def not_an_archive(head: bytes) -> tuple[str, bool]:
    """Why a file whose first bytes are ``head`` is no usable archive, and whether it is a damaged
    one (only a new download helps) rather than something else entirely (a web page, say)."""
    if not head:
        return "is empty (0 bytes), not a zip or tar archive", False
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return ("is a truncated or corrupt zip archive (the directory at its end is missing or damaged); "
                "download it again"), True
    for magic, what in _COMPRESSED:
        if head.startswith(magic):
            return f"is a truncated or corrupt {what} archive; download it again", True
    if head[257:262] == b"ustar":
        return "is a truncated or corrupt tar archive; download it again", True
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(_HTML) or b"<html" in text:
        return "is not a zip or tar archive but a web page (HTML) saved instead of the file", False
    return f"is not a zip or tar archive (it starts with the bytes {head[:8].hex(' ')})", False


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


# ------------------------------------------------------------------------------ installation


@dataclass
class _StagedArchive:
    archive: Path
    target: Path
    sha256: str
    files: int
    root: Path  # the part of the staging folder whose content goes to ``dest``
    dest: Path  # ``target``, or ``target/fallback_subdir``
    tmp: Path  # the staging folder


@dataclass
class _StagedFile:
    src: Path
    dest: Path
    tmp: Path


def _link_problem(path: Path) -> str:
    try:
        to = os.readlink(path)
    except OSError:
        to = "?"
    return (f"is a symbolic link (to {to}) inside the folder being installed into; refusing to write through "
            "it. Remove the link (the install folder itself may be a link)")


def _kind(path: Path) -> str:
    return "folder" if path.is_dir() else "file"


def _check_destination(src: Path, dest: Path, *, may_be_link: bool = False) -> None:
    """Refuse before anything moves: a symlink where we would write (the files would land wherever
    it points), or a file where the new copy has a folder (or the reverse)."""
    if dest.is_symlink() and not may_be_link:
        raise InputError(dest, _link_problem(dest))
    if dest.is_symlink() and not dest.exists():
        raise InputError(dest, "is a symbolic link to something that does not exist; cannot install into it")
    if not dest.exists():
        return
    if src.is_dir() != dest.is_dir():
        raise InputError(dest, f"cannot install here: it is a {_kind(dest)} and the new copy has a {_kind(src)} "
                               "of this name")
    if src.is_dir():
        for child in sorted(src.iterdir()):
            _check_destination(child, dest / child.name)


def _staging_parent(folder: Path) -> Path:
    """Where to stage what goes into ``folder``: beside it on the same file system (so moving into
    place is a rename), following ``folder`` if it is itself a link to another disk."""
    return Path(os.path.realpath(folder)).parent if folder.exists() else folder.parent


class Installation:
    """Archives and files staged beside their destinations, then moved into place together.

    Nothing is written where it belongs until :meth:`commit`, which checks every destination
    first (no symlink is ever written through; no file/folder clash) and moves the staged
    copies into place; if any move fails, the moves already made are undone, so a failed
    multi-archive install leaves the folders as they were. Completion markers are written last.
    Used as a context manager, anything not committed is discarded on exit.
    """

    def __init__(self) -> None:
        self._archives: list[_StagedArchive] = []
        self._files: list[_StagedFile] = []
        self._temps: list[Path] = []
        self._made: list[Path] = []  # folders created while staging, removed again if not committed
        self._committed = False

    def __enter__(self) -> Installation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def _mkdirs(self, folder: Path, made: list[Path]) -> None:
        missing = []
        p = folder
        while not os.path.lexists(p):
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            d.mkdir()
            made.append(d)

    def _tempdir(self, beside: Path, name: str) -> Path:
        parent = _staging_parent(beside)
        self._mkdirs(parent, self._made)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.extract-", dir=parent))
        self._temps.append(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would become the target's mode
        return tmp

    def stage_archive(self, archive: str | Path, target: str | Path, *, layout_markers: Sequence[str] = (),
                      fallback_subdir: str | None = None, sha256: str | None = None,
                      limits: ExtractLimits | None = None, quiet: bool = True) -> bool:
        """Unpack ``archive`` into a staging folder for ``target``; False if already extracted there."""
        archive, target = Path(archive), Path(target)
        limits = limits or ExtractLimits()
        if not archive.is_file():
            raise InputError(archive, "archive not found")
        sha256 = sha256 or sha256_file(archive)
        if is_extracted(target, archive.name, sha256):
            return False
        kind = archive_kind(archive)
        tmp = self._tempdir(target, target.name)
        files = _unpack(archive, kind, tmp, target, limits, quiet)
        dest = target
        try:
            root = _layout_root(tmp, layout_markers, archive)
        except InputError:
            if fallback_subdir is None:
                raise
            root, dest = tmp, target / fallback_subdir
        _check_destination(root, dest, may_be_link=dest == target)
        self._archives.append(_StagedArchive(archive, target, sha256, files, root, dest, tmp))
        return True

    def stage_file(self, src: str | Path, dest: str | Path) -> bool:
        """Stage a plain file for ``dest`` (hard link, else copy); False if ``dest`` already holds it."""
        src, dest = Path(src), Path(dest)
        if dest.is_symlink():
            raise InputError(dest, _link_problem(dest))
        if dest.is_file() and dest.stat().st_size == src.stat().st_size and (
            os.path.samefile(src, dest) or sha256_file(src) == sha256_file(dest)
        ):
            return False
        self._mkdirs(dest.parent, self._made)
        tmp = self._tempdir(dest, dest.name)
        staged = tmp / dest.name
        try:
            os.link(src, staged)
        except OSError:
            shutil.copyfile(src, staged)
        _check_destination(staged, dest)
        self._files.append(_StagedFile(staged, dest, tmp))
        return True

    def staged_path(self, path: str | Path) -> Path | None:
        """Where the staged copy of what will be at ``path`` lies now (None if nothing staged goes there)."""
        path = Path(path)
        for f in reversed(self._files):
            if f.dest == path:
                return f.src
        for a in reversed(self._archives):
            try:
                rel = path.relative_to(a.dest)
            except ValueError:
                continue
            candidate = a.root / rel
            if candidate.is_file():
                return candidate
        return None

    def commit(self) -> None:
        """Move everything staged into place, all of it or (on any failure) none of it."""
        for a in self._archives:
            _check_destination(a.root, a.dest, may_be_link=a.dest == a.target)
        for f in self._files:
            _check_destination(f.src, f.dest)
        journal: list[tuple] = []
        try:
            for item in [*self._archives, *self._files]:
                src = item.root if isinstance(item, _StagedArchive) else item.src
                # replaced files wait beside the staging folder (same file system) until the end
                backups = Path(tempfile.mkdtemp(prefix=".replaced-", dir=item.tmp.parent))
                self._temps.append(backups)
                made: list[Path] = []
                self._mkdirs(item.dest.parent, made)
                journal.extend(("made", d) for d in made)
                _move(src, item.dest, journal, backups,
                      may_be_link=isinstance(item, _StagedArchive) and item.dest == item.target)
            for a in self._archives:  # last: only now are the copies complete
                marker = a.target / MARKER
                journal.append(("marker", marker, marker.read_bytes() if marker.is_file() else None))
                _record(a.target, a.archive, a.sha256, a.files)
        except BaseException:
            _undo(journal)
            raise
        self._committed = True

    def discard(self) -> None:
        """Remove the staging folders (and folders made only for them, if nothing was committed)."""
        for tmp in self._temps:
            shutil.rmtree(tmp, ignore_errors=True)
        self._temps.clear()
        if not self._committed:
            for d in reversed(self._made):
                with contextlib.suppress(OSError):
                    d.rmdir()
        self._made.clear()
        self._archives.clear()
        self._files.clear()


def _move(src: Path, dest: Path, journal: list[tuple], backups: Path, *, may_be_link: bool = False) -> None:
    """Move ``src`` to ``dest``, merging into folders that exist, noting each step in ``journal``."""
    if not os.path.lexists(dest):
        os.replace(src, dest)
        journal.append(("created", dest))
        return
    if dest.is_symlink() and not may_be_link:
        raise InputError(dest, _link_problem(dest))
    if src.is_dir() and dest.is_dir():
        for child in sorted(src.iterdir()):
            _move(child, dest / child.name, journal, backups)
    elif not src.is_dir() and not dest.is_dir():
        backup = backups / str(len(journal))
        os.replace(dest, backup)
        journal.append(("replaced", dest, backup))
        os.replace(src, dest)
    else:
        raise InputError(dest, f"cannot install here: it is a {_kind(dest)} and the new copy has a {_kind(src)} "
                               "of this name")


def _undo(journal: list[tuple]) -> None:
    """Reverse the steps of a failed commit, newest first (best effort: each step on its own)."""
    for step in reversed(journal):
        try:
            if step[0] == "created":
                path = step[1]
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            elif step[0] == "replaced":
                os.replace(step[2], step[1])
            elif step[0] == "marker":
                if step[2] is None:
                    step[1].unlink(missing_ok=True)
                else:
                    write_bytes_atomic(step[1], step[2])
            elif step[0] == "made":
                step[1].rmdir()
        except OSError:
            pass


def _unpack(archive: Path, kind: str, into: Path, target: Path, limits: ExtractLimits, quiet: bool) -> int:
    """Write every member of ``archive`` under ``into`` (checked as it goes); return the file count."""
    with tqdm(total=None, unit="B", unit_scale=True, desc=f"extract {archive.name}", disable=quiet) as bar:
        try:
            if kind == "zip":
                with zipfile.ZipFile(archive) as zf:
                    members = _zip_members(archive, zf, limits)
                    bar.total = sum(m.size for m in members)
                    return _write_members(archive, members, into, limits, bar)
            with tarfile.open(archive, "r:*") as tf:
                files = _write_members(archive, _tar_members(archive, tf, limits), into, limits, bar)
                # read the compressed stream to its end: only there are gzip/xz checksums checked
                while tf.fileobj.read(_CHUNK):
                    pass
                return files
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
    directly). Already extracted (same name and sha256 in the marker) -> no work. ``target``
    may itself be a symlink (a benchmark kept on another disk); a symlink *inside* it where
    the archive has an entry is refused, never written through.
    """
    with Installation() as inst:
        if inst.stage_archive(archive, target, layout_markers=layout_markers, fallback_subdir=fallback_subdir,
                              sha256=sha256, limits=limits, quiet=quiet):
            inst.commit()
    return Path(target)
