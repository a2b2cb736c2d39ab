"""Atomic writes and strict JSON reading.

Outputs are written to a temporary file in the target folder and then renamed into place, so an
interrupted run never leaves a partial file where a whole one was expected.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from reasonvos.errors import InputError, MetadataError, MissingFileError


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: read once at import: os.umask can only be read by setting it, which is not thread-safe
UMASK = _read_umask()
NEW_FILE_MODE = 0o666 & ~UMASK


class OutputError(InputError):
    """An output path the toolkit refuses to write (an input, a device, someone else's file, ...)."""


def refuse_non_regular(path: Path, what: str = "the output") -> None:
    """Refuse a path that exists and is not a regular file: renaming over it would replace a device
    (as root: ``/dev/null`` becomes a plain file), a FIFO, a socket, a folder or a symbolic link
    (the link would be replaced, not the file it points to)."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return  # nothing there (a file on the way is reported when the folder is made)
    except OSError as e:
        raise OutputError(path, f"{what} cannot be examined: {e.strerror}") from e
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise OutputError(path, f"{what} names a folder; give a file name")
    if stat.S_ISLNK(mode):
        raise OutputError(path, f"{what} is a symbolic link; give the path of a regular file")
    raise OutputError(path, f"{what} is not a regular file (a device, FIFO or socket); refusing to replace it")


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    The result gets the usual permissions of a new file (0666 less the umask), not mkstemp's 0600.
    Only a missing path or a regular file is replaced (see :func:`refuse_non_regular`).
    """
    path = Path(path)
    refuse_non_regular(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, NEW_FILE_MODE)
        refuse_non_regular(path)  # again: the work may have taken long
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; move it into place only if the block succeeds.

    An existing folder at ``path`` is replaced as a whole. Several processes may replace the same
    folder at once: each assembles its own uniquely named folder, and the last one renamed in
    wins whole (never a mix, never ``ENOTEMPTY``). A replaced folder is first renamed aside into a
    unique ``.<name>.*.old`` folder and then deleted; such folders left by a killed process are
    deleted by the next replacement.
    """
    path = Path(path)
    try:  # one lstat: another writer may be renaming the folder aside between two checks
        existing = os.lstat(path).st_mode
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISDIR(existing):  # a file, or a link (never followed)
        raise OutputError(path, "the output folder exists and is not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        _rename_dir_in(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in path.parent.glob(f".{glob.escape(path.name)}.*.old"):
        shutil.rmtree(old, ignore_errors=True)  # this run's, or debris of a killed one


def _rename_dir_in(tmp: Path, path: Path) -> None:
    """Rename folder ``tmp`` to ``path``, moving aside whatever folder another process put there."""
    while True:
        try:
            os.rename(tmp, path)  # succeeds when ``path`` is absent (or an empty folder)
            return
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        try:
            os.rename(path, aside / "x")
        except FileNotFoundError:
            pass  # another writer moved it aside first: try again
        finally:
            shutil.rmtree(aside, ignore_errors=True)


# ------------------------------------------------------------------------------- reading


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _os_problem(e: OSError) -> str:
    """The reason an open or stat failed, in words (a traceback's errno is no message)."""
    if e.errno == errno.ELOOP:
        return "symbolic link loop"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.ENAMETOOLONG:
        return "path name too long"
    return f"cannot read ({e.strerror or e})"


def missing_problem(path: Path, what: str) -> str:
    """'<what> not found', or a dangling link named as such (it exists, it points nowhere)."""
    if path.is_symlink():
        try:
            return f"{what} is a dangling symbolic link (to {os.readlink(path)})"
        except OSError:
            pass
    return f"{what} not found"


def open_regular(path: str | Path, what: str = "file", error: type[InputError] = InputError) -> BinaryIO:
    """Open an existing regular file for binary reading, or raise ``error`` naming it and why.

    Never blocks: the path is stat-ed first, so a FIFO (whose ``open`` waits for a writer
    forever), a device, a socket or a folder is refused without being opened; the open itself is
    non-blocking and re-checked, in case the path was swapped in between. A missing path (or
    dangling link) is a :class:`MissingFileError`; a link loop or a permission problem is
    ``error`` with the reason in words.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise error(path, f"{what} is {_kind_of(mode)}, not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise MissingFileError(path, missing_problem(path, what)) from None
    except NotADirectoryError:
        raise MissingFileError(path, f"{what} not found (a parent of this path is a file)") from None
    except OSError as e:
        raise error(path, f"{what}: {_os_problem(e)}") from e  # the cause tells callers it was the system
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(path, f"{what} is {_kind_of(mode)}, not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | Path, what: str = "file", error: type[InputError] = MetadataError) -> bytes:
    """The whole content of a regular file, or ``error`` naming it and why (see :func:`open_regular`)."""
    path = Path(path)
    with open_regular(path, what, error) as f:
        try:
            return f.read()
        except OSError as e:
            raise error(path, f"{what}: {_os_problem(e)}") from e


def load_json(f: BinaryIO, path: Path, what: str = "JSON file",
              object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """Parse an open JSON file; every way the text can be bad is a MetadataError naming ``path``.

    Beyond syntax errors: text that is not UTF-8, an integer of more than 4,300 digits (Python
    refuses to convert it, with a ValueError), nesting deep enough to exhaust the recursion
    limit, and a read error part-way through.
    """
    try:
        return json.load(f, object_pairs_hook=object_pairs_hook)
    except UnicodeDecodeError as e:
        raise MetadataError(path, f"{what} is not valid UTF-8 ({e.reason} at byte {e.start})") from e
    except json.JSONDecodeError as e:
        raise MetadataError(path, f"{what} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    except RecursionError:
        raise MetadataError(path, f"{what} is nested too deeply to read") from None
    except ValueError as e:  # e.g. an integer over the 4,300-digit conversion limit
        raise MetadataError(path, f"{what} holds a value Python cannot read ({str(e).split(';')[0]})") from e
    except OSError as e:
        raise MetadataError(path, f"{what}: {_os_problem(e)}") from e


def read_json(path: str | Path, what: str = "JSON file",
              object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """Read a JSON file, turning every way it can be missing, unreadable or malformed into one
    InputError naming it (see :func:`open_regular` and :func:`load_json`)."""
    path = Path(path)
    with open_regular(path, what, MetadataError) as f:
        return load_json(f, path, what, object_pairs_hook)


def require_dict(value: Any, path: Path, where: str) -> dict:
    """Check a JSON value is an object, else raise a MetadataError saying where."""
    if not isinstance(value, dict):
        raise MetadataError(path, f"{where} must be a JSON object, found {type(value).__name__}")
    return value


def require_list(value: Any, path: Path, where: str) -> list:
    if not isinstance(value, list):
        raise MetadataError(path, f"{where} must be a JSON list, found {type(value).__name__}")
    return value
