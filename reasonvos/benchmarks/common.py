"""Helpers shared by the loaders: finding a benchmark root, strict metadata reading, listings.

Everything here raises :class:`reasonvos.errors.InputError` subclasses naming the path, so each
loader reports bad input the same way.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from reasonvos.errors import InputError, MetadataError, MissingFileError
from reasonvos.fileio import open_regular, read_bytes
from reasonvos.report import RAISE, Raise


def find_root(root: str | Path, folder: str, markers: Sequence[str]) -> Path:
    """Accept either the dataset folder itself (e.g. ``mevis/``) or a parent holding it.

    ``markers`` are relative paths of which at least one must exist in the dataset folder; the
    folder itself wins when both it and ``root/folder`` qualify.
    """
    root = Path(root)
    for candidate in (root, root / folder):
        if any((candidate / m).exists() for m in markers):
            return candidate
    if not root.exists():
        raise MissingFileError(root, "benchmark root not found")
    raise MissingFileError(root, f"not a {folder}/ folder (none of {', '.join(markers)} found here or in {folder}/)")


def _no_duplicate_keys(path: Path, sink: Raise):
    """object_pairs_hook reporting duplicate keys, which ``json.load`` would silently merge (the
    last one wins, so a repeated video or anno_id would change a score without a word). With a
    collecting sink every repeat is recorded and the last value kept, as ``json.load`` does."""

    def hook(pairs: list[tuple[str, Any]]) -> dict:
        out = dict(pairs)
        if len(out) != len(pairs):  # rare: find the repeated keys only then (this runs per object)
            seen: set[str] = set()
            for k, _ in pairs:
                if k in seen:
                    sink.error(MetadataError, path, f"duplicate key {k!r} in a JSON object (json.load keeps only "
                               "the last, silently)", kind="duplicate-id")
                seen.add(k)
        return out

    return hook


def read_json_strict(path: str | Path, what: str | None = "metadata", sink: Raise = RAISE) -> Any:
    """Read a JSON file, refusing a missing file, bad UTF-8, a syntax error and duplicate keys.

    The one JSON reader of the loaders (metadata files and MeViS mask dicts alike). ``what`` names
    the file in messages; None leaves the path alone to name it.
    """
    path = Path(path)
    prefix = f"{what} is " if what else ""
    if not os.path.lexists(path):
        sink.fatal(MissingFileError, path, f"{what or 'file'} not found", kind="metadata")
    try:  # stat before open: a FIFO, folder, link loop or unreadable file is one line, never a hang
        f = open_regular(path, what or "file", MetadataError)
    except InputError as e:
        sink.fatal(type(e), e.path, e.problem, kind="metadata")
    try:
        with f:
            return json.load(f, object_pairs_hook=_no_duplicate_keys(path, sink))
    except UnicodeDecodeError as e:
        sink.fatal(MetadataError, path, f"{prefix}not valid UTF-8 ({e.reason} at byte {e.start})", kind="metadata")
    except json.JSONDecodeError as e:
        sink.fatal(MetadataError, path, f"{prefix}not valid JSON: {e.msg} at line {e.lineno} column {e.colno}",
                   kind="metadata")
    except (ValueError, RecursionError) as e:  # an int of over 4300 digits; nesting deeper than the stack
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e).split(";")[0]
        sink.fatal(MetadataError, path, f"{prefix}not readable JSON ({reason})", kind="metadata")
    except OSError as e:
        sink.fatal(MetadataError, path, f"cannot read {what or 'file'} ({e.strerror or e})", kind="metadata")
    raise AssertionError("unreachable")  # every branch above raised


def read_meta_json(path: str | Path, what: str | None = "metadata", sink: Raise = RAISE) -> dict:
    """Read a metadata JSON object (see :func:`read_json_strict`); the top level must be an object."""
    path = Path(path)
    value = read_json_strict(path, what, sink)
    if not isinstance(value, dict):
        sink.fatal(MetadataError, path, f"top level must be a JSON object, found {type(value).__name__}",
                   kind="metadata")
    return value


def videos_of(meta: dict, path: Path, sink: Raise = RAISE) -> dict:
    """The ``videos`` object of a YouTube-VOS-style expression file."""
    if "videos" not in meta:
        sink.fatal(MetadataError, path, "has no 'videos' object", kind="metadata")
    if not isinstance(meta["videos"], dict):
        sink.fatal(MetadataError, path, f"'videos' must be a JSON object, found {type(meta['videos']).__name__}",
                   kind="metadata")
    return meta["videos"]


def frame_list(entry: dict, path: Path, where: str, sink: Raise = RAISE) -> tuple[str, ...] | None:
    """A video's ``frames``: a non-empty list of unique names, kept in the metadata's order.

    None (collecting sink only) when the list cannot be used; a repeated frame is reported and
    the first occurrence kept.
    """
    if "frames" not in entry:
        sink.error(MetadataError, path, f"{where} has no 'frames'", kind="metadata")
        return None
    frames = entry["frames"]
    if not isinstance(frames, list):
        sink.error(MetadataError, path, f"{where}['frames'] must be a JSON list, found {type(frames).__name__}",
                   kind="metadata")
        return None
    if not frames:
        sink.error(MetadataError, path, f"{where} lists no frames", kind="metadata")
        return None
    if not all(isinstance(f, str | int) and not isinstance(f, bool) for f in frames):
        sink.error(MetadataError, path, f"{where}['frames'] must hold frame names (strings)", kind="metadata")
        return None
    names = tuple(str(f) for f in frames)
    counts = Counter(names)
    for name, n in counts.items():
        if n > 1:
            sink.error(MetadataError, path, f"{where}['frames'] lists frame {name!r} twice"
                       + (f" ({n} times)" if n > 2 else ""), kind="duplicate-id")
    return tuple(dict.fromkeys(names)) if len(counts) != len(names) else names


def expression_text(exp: dict, path: Path, where: str, field: str = "exp", sink: Raise = RAISE) -> str | None:
    """The expression's text; None (collecting sink only) when it is missing, not a string or blank."""
    text = exp.get(field)
    if text is not None and not isinstance(text, str):
        sink.error(MetadataError, path, f"{where} has expression text {field!r} = {text!r}, which is not a string",
                   kind="metadata")
        return None
    if not isinstance(text, str) or not text.strip():
        sink.error(MetadataError, path, f"{where} has no expression text {field!r}", kind="metadata")
        return None
    return text


def check_unlisted_folders(folder: Path, listed: Iterable[str], sink: Raise, what: str) -> None:
    """Warn about sub-folders of ``folder`` (one per video) that the metadata does not list: the
    official scripts list videos from the metadata, so such a folder is never read (validation only)."""
    if not sink.collecting or not folder.is_dir():
        return
    listed = set(listed)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        sink.error(MissingFileError, folder, f"cannot list the folder ({e.strerror or e})", kind="unreadable")
        return
    for e in entries:
        if e.is_dir() and e.name not in listed and not e.name.startswith("."):
            sink.warn("unlisted-video", e.path, f"{what} folder of a video the metadata does not list (never read)")


def first_duplicate(items: Iterable[str]) -> str | None:
    seen: set[str] = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


def list_stems(folder: Path, ext: str) -> list[str]:
    """Sorted stems of the files with extension ``ext`` (e.g. ``".png"``) in ``folder``."""
    if not folder.is_dir():
        raise MissingFileError(folder, "folder not found")
    return sorted(name[: -len(ext)] for name in os.listdir(folder) if name.endswith(ext) and len(name) > len(ext))


def check_frames_on_disk(folder: Path, frames: Sequence[str], ext: str, what: str) -> None:
    """Every listed frame has a file in ``folder`` (one directory listing, no decoding)."""
    if not folder.is_dir():
        raise MissingFileError(folder, f"{what} folder not found")
    present = set(os.listdir(folder))
    missing = [f for f in frames if f"{f}{ext}" not in present]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise MissingFileError(folder, f"{len(missing)} listed frame(s) have no {ext} {what} file: {shown}")


def read_lines(path: Path, what: str) -> list[str]:
    """Non-empty stripped lines of a small text list (e.g. DAVIS ImageSets)."""
    data = read_bytes(path, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MetadataError(path, f"{what} is not valid UTF-8 ({e.reason} at byte {e.start})") from e
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    dup = first_duplicate(lines)
    if dup is not None:
        raise MetadataError(path, f"{what} lists {dup!r} twice")
    return lines


def check_split(split: str | None, allowed: Sequence[str], default: str, root: Path, name: str) -> str:
    """Resolve the default split and refuse unknown ones with the list of valid names."""
    split = default if split is None else split
    if split not in allowed:
        raise MetadataError(root, f"{name} has no split {split!r}; splits: {', '.join(allowed)}")
    return split


def object_rles(mask_dict: dict, path: Path, anno_id: str, video_id: str, n_frames: int) -> list:
    """One object's per-frame RLE list from a YouTube-VOS-style ``mask_dict`` (MeViS, ReVOS),
    checked against the video's frame count: the dict is indexed by frame position, so a list of
    another length would silently pair masks with the wrong frames."""
    entry = mask_dict.get(anno_id)
    if entry is None:
        raise MetadataError(path, f"anno_id {anno_id} (video {video_id}) is not in the mask dict")
    if not isinstance(entry, list) or len(entry) != n_frames:
        found = f"{len(entry)} entries" if isinstance(entry, list) else type(entry).__name__
        raise MetadataError(path, f"anno_id {anno_id} has {found}, but video {video_id} lists {n_frames} frames")
    return entry
