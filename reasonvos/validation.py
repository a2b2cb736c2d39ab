"""Check a local copy of a benchmark before anyone scores on it.

The validator reports, it does not stop at the first problem: a copy with a wrong structure, a
missing or undecodable file or a dangling reference has ERRORS (it cannot be scored as is); a
copy that is merely different from the published release (a subset, counts that match another
version, repeated ids the format allows, files nothing reads) has WARNINGS; ``strict`` counts
warnings as errors. Problems are grouped by kind with counts and the first examples, and the
report (:class:`reasonvos.report.Report`) ends with one verdict line.

There is one parser per format: each split is read by the benchmark's own loader, with a
collecting sink instead of the raising one ``load_benchmark`` uses, so validation and loading
cannot disagree about a file. On the loaded benchmark, checks that need only the Benchmark API
run for every benchmark:

- each video's JPEG folder against its metadata ``frames``: a listed frame missing (or a broken
  link), a JPEG the metadata does not list, another order than the sorted file names. The
  official inference scripts list a video's frames with ``sorted(glob(<video>/*.jpg))``, not
  with the metadata, so any difference changes what they read;
- every GT mask file (:meth:`Benchmark.gt_files`), read through :mod:`reasonvos.masks` with the
  scorer's decode rules: it decodes, its header size is its frame's (or, when its JPEG is
  missing, the video's), binary masks hold binary values, index masks are not colour PNGs; and
  holes in a mask sequence (a listed frame without GT where the sequence's usual spacing says
  one should be: a warning, since sparse GT is legal); GT stored inside a file (RLE) is decoded
  sample by sample instead;
- then the benchmark's own ``extra_checks`` (published counts, version notes, its other files).

Mask files are checked in a process pool; frames are decoded only with ``deep`` (headers otherwise).
"""

from __future__ import annotations

import inspect
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from reasonvos.benchmarks import registry
from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.benchmarks.registry import BenchmarkSpec
from reasonvos.errors import InputError, MaskError, MetadataError, MissingFileError
from reasonvos.masks import png_size, read_png_values
from reasonvos.report import EXAMPLES, Abandoned, Collect, Problem, Report

__all__ = ["EXAMPLES", "Problem", "Report", "check_frame", "check_mask_file", "validate"]

# what a damaged image raises; a header claiming a huge size is a DecompressionBombError (not an OSError)
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
_POOL_MIN_TASKS = 400  # below this, a process pool costs more than it saves

Finding = tuple[str, str, str, str]  # (severity, kind, where, message)
Size = tuple[int, int]


# ------------------------------------------------------------------------- file-level checks


def _hw(size: Size) -> str:
    return f"{size[0]}x{size[1]}"


def _missing(path: str, what: str) -> Finding:
    """A file that is not there, told apart from a symbolic link whose target is gone."""
    if os.path.islink(path):
        return ("error", "broken-link", path, f"{what} is a broken symbolic link (to {os.readlink(path)!r}, "
                "which does not exist)")
    return ("error", "missing-file", path, f"{what} not found")


def check_mask_file(mask: str, frame: str | None, video_size: Size | None, binary: bool,
                    video: str = "") -> tuple[list[Finding], Size | None]:
    """Check one GT mask file: (findings, its size or None when unreadable).

    The header is read first and compared with the frame's size (the video's when its JPEG is
    missing), so a mask of the wrong (or an absurd) size is reported without being decoded. Then
    the values are read with :func:`reasonvos.masks.read_png_values`, the scorer's reader.
    """
    if not os.path.lexists(mask) or (os.path.islink(mask) and not os.path.exists(mask)):
        return [_missing(mask, "GT mask")], None
    frame_size = None
    if frame is not None and os.path.isfile(frame):
        try:
            frame_size = png_size(frame)
        except InputError:
            frame_size = None  # the frame's own problem is reported by the frame check
    try:
        size = png_size(mask)
    except InputError as e:
        return [("error", "undecodable-mask", mask, e.problem)], None
    if frame_size is not None and size != frame_size:
        return [("error", "mask-size", mask, f"mask is {_hw(size)} but its frame is {_hw(frame_size)}")], size
    if frame_size is None and video_size is not None and size != video_size:
        own = "its own JPEG is missing" if frame is not None else "the video has no JPEGs"
        return [("error", "mask-size", mask, f"mask is {_hw(size)} but the other frames of video {video!r} are "
                 f"{_hw(video_size)} ({own})")], size
    try:
        arr = read_png_values(mask)
    except InputError as e:
        return [("error", "undecodable-mask", mask, e.problem)], None
    except _DECODE_ERRORS as e:
        return [("error", "undecodable-mask", mask, f"PNG does not decode ({e})")], None
    out: list[Finding] = []
    if arr.ndim == 3:
        if binary:
            out.append(("warning", "rgb-mask", mask, f"colour PNG ({arr.shape[2]} channels): binary evaluators still "
                        "see non-zero luma as foreground, but ids are lost; expected single-channel 0/255"))
        else:
            out.append(("error", "rgb-mask", mask, "colour PNG where palette ids are expected: re-saved with cv2 or "
                        "an editor? object ids cannot be recovered"))
    elif binary:
        values = set(np.unique(arr).tolist())
        if not (values <= {0, 255} or values <= {0, 1}):
            out.append(("warning", "mask-values", mask, f"values {sorted(values)[:6]} are not binary 0/255 or 0/1 "
                        "(any non-zero is foreground for the official scorer)"))
    return out, size


def check_frame(frame: str) -> list[Finding]:
    """Fully decode one JPEG frame (``deep``)."""
    try:
        with Image.open(frame) as img:
            img.load()
    except _DECODE_ERRORS as e:
        return [("error", "undecodable-frame", frame, f"image does not decode ({e})")]
    return []


def _map(fn: Callable, tasks: list[tuple], workers: int | None) -> Iterator:
    """Run file checks, in a process pool when there are enough to be worth it."""
    if len(tasks) < _POOL_MIN_TASKS or workers == 1:
        yield from (fn(*t) for t in tasks)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(fn, *zip(*tasks, strict=True), chunksize=64)


def _add(report: Report, found: Iterable[Finding]) -> None:
    for severity, kind, where, message in found:
        report.add(Problem(severity, kind, where, message))


# ------------------------------------------------------------------------------------ frames


def _listing(report: Report, folder: Path, what: str) -> set[str] | None:
    """Names in ``folder``, or None (reported) when it is missing or cannot be listed."""
    try:
        return set(os.listdir(folder))
    except FileNotFoundError:
        report.add(Problem(*_missing(str(folder), what)))
    except NotADirectoryError:
        report.error("structure", folder, f"{what} is a file, not a folder")
    except OSError as e:
        report.error("unreadable", folder, f"cannot list {what} ({e.strerror or e})")
    return None


def _check_frames(report: Report, bench: Benchmark, deep: bool, workers: int | None) -> None:
    """Each video's JPEG folder holds exactly its listed frames, in the order a sorted listing gives."""
    frame_tasks: list[tuple] = []
    for vid, video in bench.videos.items():
        folder = video.image_dir
        if folder is None:
            continue
        names = _listing(report, folder, f"JPEG folder of video {vid!r}")
        if names is None:
            continue
        ext = video.image_ext
        listed = [f"{f}{ext}" for f in video.frames]
        for f, name in zip(video.frames, listed, strict=True):
            path = folder / name
            if name in names and path.is_file():
                if deep:
                    frame_tasks.append((str(path),))
            elif os.path.islink(path):
                report.add(Problem(*_missing(str(path), f"frame {f!r} of video {vid!r}")))
            else:
                hint = " (frames must be listed as stems, without an extension)" if "." in f else ""
                report.error("missing-frame", path, f"frame {f!r} of video {vid!r} is not on disk{hint}")
        known = set(listed)
        for name in sorted(n for n in names if n.endswith(ext) and not n.startswith(".") and n not in known):
            report.warn("unlisted-frame", folder / name, f"not one of video {vid!r}'s metadata frames, but the "
                        f"official inference scripts read every *{ext} of the folder")
        order = sorted(listed)
        if listed != order:
            i = next(i for i, (a, b) in enumerate(zip(listed, order, strict=True)) if a != b)
            report.warn("frame-order", folder, f"the metadata lists {listed[i]!r} at position {i}, where the sorted "
                        f"file names (what the official scripts read) have {order[i]!r}")
    for found in _map(check_frame, frame_tasks, workers):
        _add(report, found)


# -------------------------------------------------------------------------------- ground truth


def _kind(e: InputError) -> str:
    if isinstance(e, MissingFileError):
        return "missing-file"
    if isinstance(e, MaskError):
        return "mask"
    return "metadata" if isinstance(e, MetadataError) else "loader"


def _binary_gt(bench: Benchmark) -> bool:
    """GT files of a benchmark without object-level labels (no ``gt_labels``) are binary masks;
    the others are index (palette) PNGs whose values are object ids."""
    return type(bench).gt_labels is Benchmark.gt_labels


def _video_size(video: Video) -> Size | None:
    """(H, W) from the first listed frame whose header reads, else the metadata's size."""
    if video.image_dir is not None:
        for f in video.frames:
            path = video.image_dir / f"{f}{video.image_ext}"
            if path.is_file():
                try:
                    return png_size(path)
                except InputError:
                    continue
    return video.size


def _holes(frames: tuple[str, ...], present: Iterable[str]) -> list[tuple[str, str, str]]:
    """Listed frames without GT inside a mask sequence: (frame, GT before, GT after).

    The sequence's usual spacing is the most common gap between consecutive GT frames (1 for
    dense GT, 5 for every-5th-frame GT); a gap that is a multiple of it and larger is a hole.
    """
    index = {f: i for i, f in enumerate(frames)}
    pos = sorted(index[f] for f in present if f in index)
    gaps = [b - a for a, b in zip(pos, pos[1:], strict=False)]
    if not gaps:
        return []
    step = min(g for g, n in Counter(gaps).items() if n == max(Counter(gaps).values()))
    out = []
    for a, b in zip(pos, pos[1:], strict=False):
        if b - a > step and (b - a) % step == 0:
            out.extend((frames[i], frames[a], frames[b]) for i in range(a + step, b, step))
    return out


def _check_gt(report: Report, bench: Benchmark, workers: int | None) -> int:
    """Every GT mask decodes at its frame's size; sequences have no holes; RLE GT decodes.
    Returns how many mask files were checked."""
    binary = _binary_gt(bench)
    tasks: dict[str, tuple] = {}  # PNG files: checked file by file, in a pool
    others: dict[str, tuple[Sample, str]] = {}  # files in a format of the benchmark's own: its decoder
    folders: dict[Path, set[str]] = defaultdict(set)  # GT folder -> suffixes of its GT files
    rle: list[Sample] = []
    sizes: dict[str, Size | None] = {}
    for s in bench.samples:
        video = bench.videos[s.video_id]
        try:
            files = bench.gt_files(s)
        except InputError as e:
            report.error(_kind(e), e.path, e.problem)
            continue
        if files is None:
            rle.append(s)
            continue
        if not files:
            continue
        for path in files.values():
            folders[Path(path).parent].add(Path(path).suffix.lower())
        first = Path(next(iter(files.values())))
        for frame, before, after in _holes(video.frames, files):
            report.warn("gt-hole", first.parent / f"{frame}{first.suffix}", f"no GT mask for listed frame "
                        f"{frame!r}, but frames {before!r} and {after!r} around it have one (a lost file? the "
                        "scorer skips frames without GT; sparse GT is legal)")
        if video.id not in sizes:
            sizes[video.id] = _video_size(video)
        for frame, path in files.items():
            key = str(path)
            if key in tasks or key in others:
                continue
            if Path(path).suffix.lower() != ".png":
                others[key] = (s, frame)
                continue
            image = None if video.image_dir is None else str(video.image_dir / f"{frame}{video.image_ext}")
            tasks[key] = (key, image, sizes[video.id], binary, video.id)
    _scan_gt_folders(report, folders)
    read: dict[str, list[tuple[str, Size]]] = defaultdict(list)
    ordered = list(tasks.values())
    for task, (found, size) in zip(ordered, _map(check_mask_file, ordered, workers), strict=True):
        _add(report, found)
        if size is not None and task[2] is None:
            read[task[4]].append((task[0], size))
    for vid, masks in read.items():  # no frame to compare with: the video's own masks must agree
        usual, _ = Counter(size for _, size in masks).most_common(1)[0]
        for path, size in masks:
            if size != usual:
                report.error("mask-size", path, f"mask is {_hw(size)} but the other masks of video {vid!r} are "
                             f"{_hw(usual)} (no frame to compare with)")
    for path, (s, frame) in others.items():
        _check_decoded(report, bench, s, frame, path)
    _check_rle(report, bench, rle)
    return len(tasks) + len(others)


def _check_decoded(report: Report, bench: Benchmark, sample: Sample, frame: str, where: str) -> None:
    """A GT file in a format only the benchmark reads: it decodes with its reader, at the video's size."""
    try:
        size = bench.gt_size(sample)
        mask = bench.gt_mask(sample, frame)
    except InputError as e:
        report.error(_kind(e), e.path, e.problem)
        return
    if mask.shape != tuple(size):
        report.error("mask-size", where, f"GT is {_hw(mask.shape)}, frame is {_hw(size)}")


def _scan_gt_folders(report: Report, folders: dict[Path, set[str]]) -> None:
    """Files in GT folders that are not GT masks (another extension): the official scorers ignore them."""
    for folder, suffixes in sorted(folders.items()):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            report.error("unreadable", folder, f"cannot list the GT folder ({e.strerror or e})")
            continue
        for e in entries:
            if os.path.splitext(e.name)[1].lower() not in suffixes or e.is_dir():
                what = "a PNG mask" if suffixes == {".png"} else "a GT mask"
                report.warn("stray-file", e.path, f"not {what} (ignored by the official scorers)")


def _check_rle(report: Report, bench: Benchmark, samples: list[Sample]) -> None:
    """GT stored inside a file (RLE): each referred object set decodes at the video's size."""
    done: set[tuple] = set()
    for s in samples:
        ident = (s.video_id, s.obj_ids)
        if ident in done:
            continue
        done.add(ident)
        try:
            size = bench.gt_size(s)
            for frame, mask in bench.gt_masks(s):
                if mask.shape != tuple(size):
                    report.error("mask-size", f"{s.video_id}/{frame}", f"GT is {_hw(mask.shape)}, "
                                 f"frame is {_hw(size)}")
        except InputError as e:
            report.error(_kind(e), e.path, e.problem)


# -------------------------------------------------------------------------------------- API


def _load(spec: BenchmarkSpec, root: Path, split: str | None, sink: Collect) -> Benchmark:
    """Load with the collecting sink; a plugin whose ``load`` takes no sink stops at its first error."""
    try:
        params = inspect.signature(spec.load).parameters.values()
    except (TypeError, ValueError):
        params = ()
    if any(p.name == "sink" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return spec.load(root, split, sink=sink)
    return spec.load(root, split)


def _validate_split(report: Report, spec: BenchmarkSpec, root: Path, split: str | None, deep: bool,
                    workers: int | None) -> None:
    suffix = f" (split {split})" if split else ""
    try:
        bench = _load(spec, root, split, report.sink("loader", suffix))
    except Abandoned:
        return  # what stopped it is in the report
    except InputError as e:
        report.error("loader", e.path, e.problem + suffix)
        return
    observed = {"videos": len(bench.videos), "expressions": len(bench.samples),
                "frames": sum(len(v.frames) for v in bench.videos.values())}
    objects = {(s.video_id, o) for s in bench.samples for o in s.obj_ids}
    if objects:
        observed["objects"] = len(objects)
    if split is None:
        facts = report.facts
        facts.update(observed)
    else:
        facts = report.facts[split] = observed | ({"version": bench.version} if bench.version else {})
    _check_frames(report, bench, deep, workers)
    if bench.has_ground_truth:
        n_masks = _check_gt(report, bench, workers)
        if n_masks:
            facts["masks"] = n_masks
    if spec.extra_checks is not None:
        spec.extra_checks(bench, report)


def validate(name: str, root: str | Path, split: str | None = None, *, deep: bool = False,
             workers: int | None = None, strict: bool = False) -> Report:
    """Validate the copy of benchmark ``name`` at ``root``; never raises for bad data.

    Without ``split`` every split the copy holds is checked. ``strict`` counts warnings as errors.
    """
    spec = registry.get(name)
    root = Path(root)
    report = Report(name, root, split, strict=strict)
    if not root.exists():
        report.error("structure", root, "benchmark root not found")
        return report
    if not root.is_dir():
        report.error("structure", root, "is a file, not a folder: pass the benchmark root (an archive must be "
                     "unpacked first, e.g. with `reasonvos download NAME --archive FILE`)")
        return report
    splits = [split] if split else spec.present_splits(root)
    if not splits:
        report.error("structure", root, f"no split of {name} found here")
        return report
    for sp in splits:
        _validate_split(report, spec, root, sp, deep, workers)
    return report
