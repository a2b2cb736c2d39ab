"""Helpers shared by the loaders: finding a benchmark root, strict metadata reading, listings.

Everything here raises :class:`reasonvos.errors.InputError` subclasses naming the path, so each
loader reports bad input the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from reasonvos.errors import MetadataError, MissingFileError
from reasonvos.fileio import read_bytes, read_json, require_dict, require_list


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


def _no_duplicate_keys(path: Path):
    """object_pairs_hook refusing duplicate keys, which ``json.load`` would silently merge."""

    def hook(pairs: list[tuple[str, Any]]) -> dict:
        out: dict = {}
        for k, v in pairs:
            if k in out:
                raise MetadataError(path, f"duplicate key {k!r} in a JSON object")
            out[k] = v
        return out

    return hook


def read_meta_json(path: str | Path, what: str = "metadata") -> dict:
    """Read a metadata JSON object, refusing syntax errors and duplicate keys (duplicate ids).

    Meant for expression/metadata files; the big ``mask_dict.json`` files use plain ``json``.
    """
    path = Path(path)
    value = read_json(path, what, object_pairs_hook=_no_duplicate_keys(path))
    return require_dict(value, path, "top level")


def videos_of(meta: dict, path: Path) -> dict:
    """The ``videos`` object of a YouTube-VOS-style expression file."""
    if "videos" not in meta:
        raise MetadataError(path, "has no 'videos' object")
    return require_dict(meta["videos"], path, "'videos'")


def frame_list(entry: dict, path: Path, where: str) -> tuple[str, ...]:
    """A video's ``frames``: a non-empty list of unique names, kept in the metadata's order."""
    if "frames" not in entry:
        raise MetadataError(path, f"{where} has no 'frames'")
    frames = require_list(entry["frames"], path, f"{where}['frames']")
    if not frames:
        raise MetadataError(path, f"{where} lists no frames")
    if not all(isinstance(f, str | int) and not isinstance(f, bool) for f in frames):
        raise MetadataError(path, f"{where}['frames'] must hold frame names (strings)")
    names = tuple(str(f) for f in frames)
    dup = first_duplicate(names)
    if dup is not None:
        raise MetadataError(path, f"{where}['frames'] lists frame {dup!r} twice")
    return names


def expression_text(exp: dict, path: Path, where: str, field: str = "exp") -> str:
    text = exp.get(field)
    if not isinstance(text, str) or not text.strip():
        raise MetadataError(path, f"{where} has no expression text {field!r}")
    return text


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
