"""Checks a prediction folder before and while it is scored, and reports every problem by file.

Two stages, so that no PNG is decoded twice:

- listing (here, in the main process): for each expected folder, which frames are missing and
  which entries do not belong (other names, JPEGs, another zero padding, sub-folders);
- values (in the scoring workers, on the array they decode anyway): size, binary vs index
  values, PNGs that do not decode.

Every problem becomes a :class:`Problem`; a :class:`CheckReport` groups them for the user and
turns them into one :class:`~reasonvos.errors.PredictionError`. Nothing is dropped silently.
Dot-files (``.reasonvos-infer.json``, the runner's ``.tmp``) are never stray.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reasonvos.errors import PredictionError
from reasonvos.report import ERROR, Report
from reasonvos.report import Problem as _Problem

#: problem kinds, in the order the report lists them
KINDS = {
    "missing": "missing prediction files",
    "unreadable": "entries that cannot be read (permissions, broken or looping links, FIFOs, names)",
    "stray": "stray files (not an expected frame of the folder)",
    "decode": "PNGs that do not decode",
    "size": "wrong size",
    "values": "wrong values",
    "ids": "object ids the protocol cannot score",
}


class Problem(_Problem):
    """A prediction problem (always an error): ``Problem(kind, path, detail)``; ``.path`` and
    ``.detail`` are the shared :class:`reasonvos.report.Problem`'s ``where`` and ``message``."""

    def __init__(self, kind: str, path: str, detail: str = "") -> None:
        super().__init__(ERROR, kind, str(path), detail)


class CheckReport(Report):
    """Problems found in one prediction folder, grouped by kind: the toolkit's one report type
    (:class:`reasonvos.report.Report`), built as ``CheckReport(pred_dir, problems)``."""

    def __init__(self, pred_dir: Path, problems: Iterable[Problem] = ()) -> None:
        super().__init__(root=Path(pred_dir))
        self.add(problems)

    def add(self, problems: Iterable[Problem]) -> None:  # type: ignore[override]
        """Keep every problem as given (the prediction checks never report one twice)."""
        self.problems.extend(problems)

    @property
    def pred_dir(self) -> Path:
        return self.root

    def format(self, limit: int | None = None) -> str:
        """Human-readable report: one section per kind, every file (or the first ``limit``)."""
        lines = [f"prediction folder {self.pred_dir}: {len(self.problems)} problem(s)"]
        for kind, title in KINDS.items():
            group = sorted(self.of_kind(kind), key=lambda p: p.path)
            if not group:
                continue
            lines.append(f"  {title} ({len(group)}):")
            shown = group if limit is None else group[:limit]
            lines.extend(f"    {p.line()}" for p in shown)
            if len(shown) < len(group):
                lines.append(f"    ... and {len(group) - len(shown)} more")
        return "\n".join(lines)

    def summary(self) -> str:
        parts = [f"{n} {KINDS.get(k, k)}" for k, n in self.counts().items()]
        first = self.problems[0].line() if self.problems else ""
        return f"{'; '.join(parts)} (first: {first})"

    def error(self) -> PredictionError:  # type: ignore[override]  # here: the exception, not a record
        err = PredictionError(self.pred_dir, self.summary())
        err.report = self  # type: ignore[attr-defined]  # the CLI prints the full report
        return err

    def raise_if_any(self) -> None:
        if self.problems:
            raise self.error()


# ----------------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class FolderListing:
    """What one expected prediction folder holds compared with the frames it must hold."""

    folder: Path
    missing: tuple[str, ...]  # required frames without a PNG
    exists: bool


def _stray_detail(name: str, by_number: dict[int, str]) -> str:
    stem, ext = os.path.splitext(name)
    if ext.lower() in (".jpg", ".jpeg"):
        return "JPEG file; predictions must be PNG"
    if ext.lower() != ".png":
        return f"not a PNG ({ext or 'no extension'})"
    if ext != ".png":  # predictions are matched by exact name, as the official scripts open them
        return f"extension {ext}: expected lower-case .png"
    if stem.isdigit() and int(stem) in by_number:
        return f"different zero padding: expected {by_number[int(stem)]}.png"
    return "not a frame of this folder"


def shown(path: str) -> str:
    """A path as it can be printed and written to JSON: bytes of a non-UTF-8 name escaped."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def entry_problem(entry: os.DirEntry) -> Problem | None:
    """Why an entry of a prediction folder cannot be read, judged without opening it (a FIFO
    would block the reader forever): a name that is not UTF-8, a link that loops or leads
    nowhere, anything that is neither a regular file nor a folder. None when it is fine."""
    try:
        entry.name.encode("utf-8")
    except UnicodeEncodeError:
        return Problem("unreadable", shown(entry.path), "name is not valid UTF-8")
    try:
        if entry.is_dir() or entry.is_file():
            return None
    except OSError as e:
        return Problem("unreadable", shown(entry.path), e.strerror or str(e))
    if entry.is_symlink():
        return Problem("unreadable", entry.path, "symbolic link to nothing")
    return Problem("unreadable", entry.path, "not a regular file (a FIFO, socket or device)")


def list_folder(
    folder: Path, required: Sequence[str], allowed: Iterable[str], problems: list[Problem]
) -> FolderListing:
    """Compare one folder's PNG names with the frames it must/may hold; add problems found."""
    allowed_set = set(allowed) | set(required)
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        if required:
            problems.append(Problem("missing", str(folder), f"folder missing ({len(required)} frames)"))
        return FolderListing(folder, tuple(required), False)
    except NotADirectoryError:
        problems.append(Problem("stray", str(folder), "a file where a prediction folder is expected"))
        return FolderListing(folder, tuple(required), False)
    except OSError as e:  # permission denied, a link loop: the folder exists but cannot be listed
        problems.append(Problem("unreadable", shown(str(folder)), f"cannot list the folder: {e.strerror or e}"))
        return FolderListing(folder, (), True)
    present: set[str] = set()
    by_number = {int(f): f for f in allowed_set if f.isdigit()}
    for e in entries:
        if e.name.startswith("."):
            continue
        stem, ext = os.path.splitext(e.name)
        bad = entry_problem(e)
        if bad:
            problems.append(bad)
            if ext == ".png" and stem in allowed_set:
                present.add(stem)  # reported as unreadable, not also as missing
            continue
        if e.is_dir():
            problems.append(Problem("stray", e.path, "unexpected sub-folder"))
        elif ext == ".png" and stem in allowed_set:
            present.add(stem)
        else:
            problems.append(Problem("stray", e.path, _stray_detail(e.name, by_number)))
    missing = tuple(f for f in required if f not in present)
    problems.extend(Problem("missing", str(folder / f"{f}.png")) for f in missing)
    return FolderListing(folder, missing, True)


# ------------------------------------------------------------------------------------ values


def check_size(arr: np.ndarray, path: Path, size: tuple[int, int]) -> Problem | None:
    if arr.shape[:2] != tuple(size):
        return Problem("size", str(path), f"{arr.shape[0]}x{arr.shape[1]}, expected {size[0]}x{size[1]} (HxW)")
    return None


def binary_mask(arr: np.ndarray, path: Path, size: tuple[int, int]) -> tuple[np.ndarray | None, Problem | None]:
    """A binary prediction as a bool mask, or the problem with it.

    Allowed: 0 and at most one other value (0/1, 0/255, a palette PNG with one index, an RGB
    PNG with one colour on black). Several non-zero values (e.g. a multi-object index PNG)
    cannot be a binary mask.
    """
    problem = check_size(arr, path, size)
    if problem:
        return None, problem
    if arr.ndim == 3:
        colours = arr[..., :3] if arr.shape[2] >= 3 else arr[..., :1]
        fg = colours.any(axis=2)
        if fg.any():
            first = colours[fg][0]
            if np.count_nonzero((colours == first).all(axis=2)) != np.count_nonzero(fg):
                return None, Problem("values", str(path), "several colours; a binary mask has one")
        return fg, None
    fg = arr != 0
    top = arr.max(initial=0)
    if top and np.count_nonzero(arr == top) != np.count_nonzero(fg):
        values = np.unique(arr)
        shown = ", ".join(str(v) for v in values[:6]) + (" ..." if values.size > 6 else "")
        return None, Problem("values", str(path), f"values {shown}: not binary (0 and one other value)")
    return fg, None


def index_labels(
    arr: np.ndarray, path: Path, size: tuple[int, int], max_id: int
) -> tuple[np.ndarray | None, Problem | None]:
    """An index (object id) prediction as a label map, or the problem with it."""
    problem = check_size(arr, path, size)
    if problem:
        return None, problem
    if arr.ndim != 2:
        return None, Problem("values", str(path), "colour PNG; an index (palette) PNG with object ids is expected")
    top = int(arr.max(initial=0))
    if top == 255:
        if not np.isin(arr, (0, 255)).all():  # ids and 255: the void label of DAVIS ground truth
            return None, Problem("values", str(path), "value 255 (the void label of DAVIS ground truth) is not "
                                 "an object id; a prediction holds 0 and object ids only")
        return None, Problem(
            "values", str(path), "value 255: a 0/255 binary mask where an index PNG with object ids is expected"
        )
    if top > max_id:
        return None, Problem("ids", str(path), f"object id {top} > {max_id}, the most this protocol scores")
    return arr, None
