"""Where a command may write: checks made before any work, and the output folders it owns.

The rules every command follows (``docs/guarantees.md``, "Outputs"):

- an output never replaces an input of the run or anything already inside an input folder (a
  benchmark's metadata, a prediction PNG), and is never the same path as another output;
- only a missing path or a regular file is replaced: never a device, FIFO, socket, folder or link;
- an existing file is replaced only when it is recognisably an earlier output of the same kind
  (a results file, a report, a submission zip): a file the toolkit did not write is refused;
- an output folder is new, empty, or carries :data:`MARKER`, written by the same command. Only the
  files listed in the marker are ever replaced or removed; a user's other files stay;
- every output's folder is checked writable before the work starts;
- outputs are replaced all at once, only after the work has succeeded: a failed run leaves the
  earlier output exactly as it was, never a mix of an earlier run's files and this one's.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reasonvos.fileio import OutputError, refuse_non_regular, write_json_atomic

try:
    import fcntl
except ImportError:  # not POSIX: no cross-process locking
    fcntl = None  # type: ignore[assignment]

#: the file that marks a folder as a reasonvos output and lists the files the toolkit wrote there
MARKER = ".reasonvos-output.json"
MARKER_FORMAT = "reasonvos-output/1"
#: private folders inside an owned folder while a run assembles its files
STAGING_PREFIX = ".reasonvos-staging."
HEAD_BYTES = 65536


def head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first bytes of a regular file (callers have checked it is one: no FIFO can block)."""
    with open(path, "rb") as f:
        return f.read(size)


@dataclass(frozen=True)
class OutputFile:
    """A file a command will write. ``ours`` recognises an earlier output of the same kind, which
    may be replaced; ``None`` allows replacing any regular file."""

    path: Path
    what: str
    kind: str = "an output of reasonvos"
    ours: Callable[[Path], bool] | None = None


@dataclass(frozen=True)
class OutputFolder:
    """A folder a command fills; it becomes (or already is) owned by ``command``."""

    path: Path
    what: str
    command: str


Output = OutputFile | OutputFolder


def _resolve(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(os.sep)


def _check_writable(path: Path, what: str, folder: bool) -> None:
    """The nearest existing folder at or above where ``path`` goes must take a new file."""
    start = path if folder else path.parent
    base = _nearest_existing(start)
    if not base.is_dir():
        raise OutputError(path, f"{what}: {base} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".reasonvos-probe.", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(path, f"{what}: cannot write in {base} ({e.strerror or e})") from None


def read_marker(folder: Path) -> dict | None:
    """The marker of an owned folder, or None when there is none. A damaged marker is refused
    rather than trusted: it decides which files may be removed."""
    marker = folder / MARKER
    if not os.path.lexists(marker):
        return None
    refuse_non_regular(marker, "the output marker")
    try:
        data = json.loads(head(marker, 16 << 20))
    except (OSError, ValueError) as e:
        raise OutputError(marker, f"damaged output marker ({e}); remove the folder's outputs by hand") from None
    files = data.get("files") if isinstance(data, dict) else None
    if (not isinstance(data, dict) or data.get("format") != MARKER_FORMAT or not isinstance(data.get("command"), str)
            or not isinstance(files, list) or not all(isinstance(f, str) and _safe_relative(f) for f in files)):
        raise OutputError(marker, "damaged output marker; remove the folder's outputs by hand")
    return data


def _safe_relative(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name and p.parts != ()


def _check_folder(out: OutputFolder) -> None:
    path = out.path
    if os.path.lexists(path) and not path.is_dir():
        raise OutputError(path, f"{out.what} must be a folder; this is a file")
    if path.is_dir():
        marker = read_marker(path)
        if marker is not None:
            if marker["command"] != out.command:
                raise OutputError(path, f"{out.what} holds the output of `reasonvos {marker['command']}`, "
                                        f"not of `reasonvos {out.command}`; give another folder")
        else:
            try:
                entries = [e for e in os.listdir(path) if not e.startswith(STAGING_PREFIX)]
            except OSError as e:
                raise OutputError(path, f"{out.what} cannot be read ({e.strerror})") from None
            if entries:
                raise OutputError(path, f"{out.what} is not empty and is not a reasonvos output folder (it has no "
                                        f"{MARKER}); give a new or empty folder so no file of yours is replaced")
    _check_writable(path, out.what, folder=True)


def _check_file(out: OutputFile) -> None:
    path = out.path
    refuse_non_regular(path, out.what)
    if path.is_file() and out.ours is not None:
        try:
            ours = out.ours(path)
        except OSError as e:
            raise OutputError(path, f"{out.what} exists and cannot be read ({e.strerror})") from None
        if not ours:
            raise OutputError(path, f"{out.what} exists and is not {out.kind}; refusing to replace a file "
                                    "reasonvos did not write (remove it or choose another name)")
    _check_writable(path, out.what, folder=False)


def check_outputs(outputs: Iterable[Output | None], inputs: Iterable[str | Path | None] = ()) -> None:
    """Refuse, before any work, every output that breaks a rule of this module (one line each).

    ``inputs`` are the files and folders the run reads (benchmark root, prediction folder, results
    files): no output may be one of them or replace anything inside one (unless it is recognisably
    an earlier output of the same kind), and no output folder may hold one. A new file inside an
    input folder (a report beside the data) is allowed.
    """
    outs = [o for o in outputs if o is not None]
    ins = [(Path(i), _resolve(Path(i))) for i in inputs if i is not None and os.path.lexists(i)]
    resolved = [_resolve(o.path) for o in outs]
    for n, (out, real) in enumerate(zip(outs, resolved, strict=True)):
        for other, other_real in zip(outs[:n], resolved[:n], strict=True):
            if real == other_real or (isinstance(other, OutputFolder) and _within(real, other_real)) or (
                    isinstance(out, OutputFolder) and _within(other_real, real)):
                raise OutputError(out.path, f"{out.what} and {other.what} name the same place; give two")
        for given, given_real in ins:
            if real == given_real or (os.path.lexists(out.path) and _samefile(out.path, given)):
                raise OutputError(out.path, f"{out.what} is an input of this run; refusing to write over it")
            if given_real.is_dir() and _within(real, given_real) and os.path.lexists(out.path) and not _ours(out):
                raise OutputError(out.path, f"{out.what} is part of {given}, an input of this run; "
                                            "refusing to write over it")
            if isinstance(out, OutputFolder) and _within(given_real, real):
                raise OutputError(out.path, f"{out.what} holds {given}, an input of this run; give another folder")
        if isinstance(out, OutputFolder):
            _check_folder(out)
        else:
            _check_file(out)


def _ours(out: Output) -> bool:
    """An existing output recognisably written by the toolkit (then not a file of the input)."""
    try:
        if isinstance(out, OutputFolder):
            marker = read_marker(out.path) if out.path.is_dir() else None
            return marker is not None and marker["command"] == out.command
        return out.ours is not None and stat.S_ISREG(os.lstat(out.path).st_mode) and out.ours(out.path)
    except (OSError, OutputError):
        return False


def _samefile(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# ---------------------------------------------------------------------------- owned folders


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Exclusive lock on ``folder`` against other reasonvos processes committing into it."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sweep_staging(folder: Path) -> None:
    """Remove staging folders whose process is gone (a live one holds a lock on its folder)."""
    if fcntl is None:
        return
    for entry in folder.glob(STAGING_PREFIX + "*"):
        try:
            fd = os.open(entry, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its process is alive
        else:
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            os.close(fd)


def _write_marker(folder: Path, command: str, files: Iterable[str]) -> None:
    from reasonvos import __version__

    write_json_atomic(folder / MARKER, {"format": MARKER_FORMAT, "command": command, "toolkit_version": __version__,
                                        "files": sorted(set(files))})


def _real_folder_chain(folder: Path, rel: str) -> bool:
    """Every folder between ``folder`` and ``folder/rel`` is a real folder or absent (no link
    leads a write or a removal out of the owned folder)."""
    current = folder
    for part in PurePosixPath(rel).parts[:-1]:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return True
        if not stat.S_ISDIR(mode):
            return False
    return True


def _remove_owned(folder: Path, rel: str) -> None:
    """Remove a file the toolkit wrote earlier, then its folders if they are left empty."""
    target = folder / rel
    if not _real_folder_chain(folder, rel):
        return
    try:
        if not stat.S_ISREG(os.lstat(target).st_mode):
            return  # replaced by the user with something else: theirs now
        os.unlink(target)
    except OSError:
        return
    parent = target.parent
    while parent != folder and folder in parent.parents:
        try:
            os.rmdir(parent)
        except OSError:
            break
        parent = parent.parent


def claim_folder(path: str | Path, command: str) -> Path:
    """Make ``path`` an owned folder of ``command`` (new, empty or already its own) and return it."""
    path = Path(path)
    check_outputs([OutputFolder(path, "the output folder", command)])
    path.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        marker = read_marker(path)
        if marker is None:
            _write_marker(path, command, [])
    return path


@contextmanager
def owned_folder(path: str | Path, command: str, what: str = "the output folder") -> Iterator[Path]:
    """Yield a private staging folder; on success its files replace the command's earlier files.

    The folder is new, empty or owned by ``command`` (checked again here). Nothing in it changes
    until the block has succeeded; then, under a lock, every staged file is renamed into place,
    the command's earlier files that this run did not write are removed, and the marker lists
    exactly this run's files. A file of the user's at a path this run wants is refused before
    anything moves. If the block fails, nothing in the folder changes (a folder this run created
    is removed again).
    """
    path = Path(path)
    check_outputs([OutputFolder(path, what, command)])
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        _sweep_staging(path)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=path))
        staging_fd = os.open(staging, os.O_RDONLY)
        if fcntl is not None:
            fcntl.flock(staging_fd, fcntl.LOCK_EX)
    try:
        yield staging
        _commit(staging, path, command)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        os.close(staging_fd)
        if created:
            with suppress(OSError):
                path.rmdir()  # only when nothing was committed


def _commit(staging: Path, folder: Path, command: str) -> None:
    new = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    with _locked(folder):
        marker = read_marker(folder)
        if marker is None and [e for e in os.listdir(folder) if not e.startswith(STAGING_PREFIX)]:
            raise OutputError(folder, "another program filled this folder meanwhile; nothing was written")
        old = set(marker["files"]) if marker else set()
        if marker is not None and marker["command"] != command:
            raise OutputError(folder, f"now holds the output of `reasonvos {marker['command']}`; nothing was written")
        for rel in new:  # every refusal before anything moves
            target = folder / rel
            if not _real_folder_chain(folder, rel):
                raise OutputError(target, "a folder on the way is a file or a link; nothing was written")
            if os.path.lexists(target):
                refuse_non_regular(target, "an output")
                if rel not in old:
                    raise OutputError(target, "exists and was not written by reasonvos; move it away and run "
                                              "again (nothing was written)")
        _write_marker(folder, command, old | set(new))  # a kill from here on leaves only known files
        backup = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
        moved: list[tuple[Path, Path | None]] = []
        try:
            for n, rel in enumerate(new):
                target = folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                saved = None
                if os.path.lexists(target):
                    saved = backup / str(n)
                    os.replace(target, saved)
                moved.append((target, saved))
                os.replace(staging / rel, target)
        except BaseException:
            for target, saved in reversed(moved):  # put the earlier files back: all or nothing
                try:
                    if saved is not None:
                        os.replace(saved, target)
                    elif os.path.lexists(target):
                        os.unlink(target)
                except OSError:
                    pass
            _write_marker(folder, command, old)
            raise
        finally:
            shutil.rmtree(backup, ignore_errors=True)
        for rel in sorted(old - set(new)):
            _remove_owned(folder, rel)
        _write_marker(folder, command, new)


def owned_files(folder: Path) -> list[Path]:
    """The files the marker of ``folder`` lists (what the last successful run wrote)."""
    marker = read_marker(folder)
    return [folder / rel for rel in marker["files"]] if marker else []
