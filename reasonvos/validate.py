"""Check a local copy of a benchmark before anyone scores on it.

The validator reports, it does not stop at the first problem: a copy with a wrong structure, a
missing or undecodable file or a dangling reference has ERRORS (it cannot be scored as is); a
copy that is merely different from the published release (a subset, counts that match another
version, repeated ids the format allows) has WARNINGS. Problems are grouped by kind with counts
and the first examples, and the report ends with one verdict line.

The parsed view comes from the loaders (:func:`reasonvos.load_benchmark`); a loader's
InputError becomes an error of kind ``loader``. ReasonVOS, whose traps are in the raw files
(schema versions, mask folder names, GT stems vs JPEG stems), is also checked file by file.
Masks are decoded in a process pool; frames only with ``deep`` (header checks otherwise).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from reasonvos.acquire.sources import published_counts
from reasonvos.benchmarks.registry import BENCHMARKS, load_benchmark
from reasonvos.errors import InputError, MaskError, MetadataError
from reasonvos.fileio import load_json, open_regular, write_json_atomic
from reasonvos.masks import open_png

EXAMPLES = 5
# what a damaged image raises; a header claiming a huge size is a DecompressionBombError (not an OSError)
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
_POOL_MIN_TASKS = 400  # below this, a process pool costs more than it saves


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" or "warning"
    kind: str
    where: str
    message: str


@dataclass
class Report:
    """Everything found, plus the facts (counts, version) a reader needs to trust the copy."""

    benchmark: str
    root: Path
    split: str | None = None
    problems: list[Problem] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    _seen: set = field(default_factory=set, repr=False)

    def add(self, problem: Problem) -> None:
        """Record a problem once (two samples sharing an object must not report it twice)."""
        if problem not in self._seen:
            self._seen.add(problem)
            self.problems.append(problem)

    def error(self, kind: str, where: object, message: str) -> None:
        self.add(Problem("error", kind, str(where), message))

    def warn(self, kind: str, where: object, message: str) -> None:
        self.add(Problem("warning", kind, str(where), message))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def kinds(self, severity: str | None = None) -> Counter:
        return Counter(p.kind for p in self.problems if severity is None or p.severity == severity)

    def verdict(self) -> str:
        word = "OK" if self.ok else "BROKEN"
        return f"VERDICT: {word} ({len(self.errors)} errors, {len(self.warnings)} warnings)"

    def format(self, examples: int = EXAMPLES) -> str:
        lines = [f"validate {self.benchmark} at {self.root}" + (f" (split {self.split})" if self.split else "")]
        for key, value in self.facts.items():
            lines.append(f"  {key}: {value}")
        for severity, title in (("error", "ERRORS"), ("warning", "WARNINGS")):
            group = [p for p in self.problems if p.severity == severity]
            if not group:
                continue
            lines.append(f"{title} ({len(group)})")
            by_kind: dict[str, list[Problem]] = defaultdict(list)
            for p in group:
                by_kind[p.kind].append(p)
            for kind, items in sorted(by_kind.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                lines.append(f"  [{kind}] x{len(items)}")
                for p in items[:examples]:
                    lines.append(f"    {p.where}: {p.message}")
                if len(items) > examples:
                    lines.append(f"    ... and {len(items) - examples} more")
        lines.append(self.verdict())
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "benchmark": self.benchmark, "root": str(self.root), "split": self.split, "ok": self.ok,
            "verdict": self.verdict(), "facts": self.facts,
            "counts": {"errors": dict(self.kinds("error")), "warnings": dict(self.kinds("warning"))},
            "problems": [p.__dict__ for p in self.problems],
        }

    def write_json(self, path: str | Path) -> None:
        write_json_atomic(path, self.to_dict())


# ------------------------------------------------------------------------- file-level checks

Finding = tuple[str, str, str, str]  # (severity, kind, where, message)


def check_binary_mask(mask: str, frame: str | None) -> list[Finding]:
    """Decode one binary GT PNG; check its values and that its size is its frame's (header)."""
    out: list[Finding] = []
    try:
        with open_png(mask) as img:  # a FIFO, another format named .png, a huge header: refused undecoded
            mode, size = img.mode, img.size
            arr = np.asarray(img.convert("L") if mode in ("RGB", "RGBA", "LA") else img)
    except MaskError as e:
        return [("error", "undecodable-mask", mask, e.problem)]
    except _DECODE_ERRORS as e:
        return [("error", "undecodable-mask", mask, f"PNG does not decode ({e})")]
    if mode in ("RGB", "RGBA", "LA"):
        out.append(("warning", "rgb-mask", mask, f"colour PNG (mode {mode}): binary evaluators still see non-zero "
                    "luma as foreground, but ids are lost; expected single-channel 0/255"))
    values = set(np.unique(arr).tolist())
    if mode != "1" and not (values <= {0, 255} or values <= {0, 1}):
        shown = sorted(values)[:6]
        out.append(("warning", "mask-values", mask, f"values {shown} are not binary 0/255 or 0/1 "
                    "(any non-zero is foreground for the official scorer)"))
    if frame is not None and os.path.isfile(frame):
        try:
            with Image.open(frame) as f:
                fsize = f.size
        except _DECODE_ERRORS:
            fsize = None  # the frame's own problem is reported by the frame check
        if fsize is not None and fsize != size:
            out.append(("error", "mask-size", mask, f"mask is {size[1]}x{size[0]} but its frame is {fsize[1]}x{fsize[0]}"))
    return out


def check_frame(frame: str) -> list[Finding]:
    """Fully decode one JPEG frame (``--deep``)."""
    try:
        with Image.open(frame) as img:
            img.load()
    except _DECODE_ERRORS as e:
        return [("error", "undecodable-frame", frame, f"image does not decode ({e})")]
    return []


def _run_checks(fn: Callable[..., list[Finding]], tasks: list[tuple], report: Report, workers: int | None) -> None:
    """Run file checks, in a process pool when there are enough to be worth it."""
    if len(tasks) < _POOL_MIN_TASKS or workers == 1:
        results: Iterable[list[Finding]] = (fn(*t) for t in tasks)
        for found in results:
            _add(report, found)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for found in pool.map(fn, *zip(*tasks, strict=True), chunksize=64):
            _add(report, found)


def _add(report: Report, found: list[Finding]) -> None:
    for severity, kind, where, message in found:
        report.add(Problem(severity, kind, where, message))


def _compare_counts(report: Report, observed: dict, published: dict | None, what: str) -> None:
    """Different counts are a warning: subsets are legal, but the reader must know."""
    if not published:
        return
    for key, value in observed.items():
        expected = published.get(key)
        if expected is None or isinstance(expected, dict) or expected == value:
            continue
        report.warn("counts", what, f"{value} {key}, published {expected} (a subset, or another release?)")


# ---------------------------------------------------------------------------------- ReasonVOS


def _read_json_with_duplicates(path: Path) -> tuple[object, list[str]]:
    """Read JSON, listing keys that repeat within an object (duplicate video ids would vanish)."""
    duplicates: list[str] = []

    def hook(pairs: list[tuple[str, object]]) -> dict:
        out: dict = {}
        for k, v in pairs:
            if k in out:
                duplicates.append(k)
            out[k] = v
        return out

    with open_regular(path, "ReasonVOS metadata", MetadataError) as f:  # also: huge ints, deep nesting
        try:
            return load_json(f, path, "ReasonVOS metadata", hook), duplicates
        except MetadataError as e:  # the report names the file already: "not valid JSON: ..."
            raise MetadataError(path, e.problem.removeprefix("ReasonVOS metadata is ")) from e


def _validate_reasonvos(report: Report, root: Path, deep: bool, workers: int | None) -> None:
    from reasonvos.benchmarks import reasonvos as rv

    try:
        base = rv.find_root(root)
    except InputError as e:
        report.error("structure", e.path, e.problem)
        return
    meta_path = base / rv.META_NAME
    try:
        meta, duplicates = _read_json_with_duplicates(meta_path)
    except InputError as e:
        report.error("metadata", e.path, e.problem)
        return
    for key in duplicates:
        report.error("duplicate-id", meta_path, f"key {key!r} appears twice in one JSON object (json.load keeps "
                     "only the last, silently)")
    if not isinstance(meta, dict) or not isinstance(meta.get("videos"), dict):
        report.error("metadata", meta_path, "top level must be an object with a 'videos' object")
        return
    if rv.detect_schema(meta) == "original":
        report.facts["version"] = "original (Nov 2024)"
        report.error("schema-version", meta_path, "this is the ORIGINAL ReasonVOS release (2024-11-27, Drive id "
                     f"{rv.ORIGINAL_DRIVE_ID}: expressions as a dict, video-level is_sent); it does not match the "
                     f"current evaluation; download the current release (Drive id {rv.CURRENT_DRIVE_ID})")
        return
    report.facts["version"] = "current (Dec 2024 schema)"
    ann_root, jpeg_root = base / "Annotations", base / "JPEGImages"
    for folder in (ann_root, jpeg_root):
        if not folder.is_dir():
            report.error("structure", folder, "folder not found")
    referenced: dict[Path, tuple[str, Path]] = {}  # mask folder -> (video, JPEG folder)
    frames_of: dict[str, set[str]] = {}
    n_exp, kinds, per_source = 0, Counter(), Counter()
    frame_tasks: list[tuple] = []
    for vid, entry in meta["videos"].items():
        where = f"{meta_path}: videos[{vid!r}]"
        if not isinstance(entry, dict):
            report.error("metadata", where, "must be an object")
            continue
        source = entry.get("source")
        if not isinstance(source, str) or not source:
            report.error("metadata", where, "has no 'source'")
            continue
        per_source[source.lower()] += 1
        frames = entry.get("frames")
        if not isinstance(frames, list) or not frames:
            report.error("metadata", where, "'frames' must be a non-empty list")
            frames = []
        frames = [str(f) for f in frames]
        for f, n in Counter(frames).items():
            if n > 1:
                report.error("duplicate-id", where, f"frame {f!r} is listed {n} times")
        frames_of[vid] = set(frames)
        vdir = jpeg_root / vid
        if not vdir.is_dir():
            report.error("missing-file", vdir, f"JPEG folder of video {vid!r} not found")
        else:
            for f in frames:
                path = vdir / f"{f}.jpg"
                if not path.is_file():
                    hint = " (frames must be listed as stems, without an extension)" if "." in f else ""
                    report.error("missing-frame", path, f"frame {f!r} listed in the metadata is not on disk{hint}")
                elif deep:
                    frame_tasks.append((str(path),))
        exps = entry.get("expressions")
        if not isinstance(exps, list):
            report.error("metadata", where, "'expressions' must be a list")
            continue
        seen: Counter = Counter()
        for pos, exp in enumerate(exps):
            ewhere = f"{where}['expressions'][{pos}]"
            if not isinstance(exp, dict) or any(k not in exp for k in ("obj_id", "exp_id", "exp_text")):
                report.error("metadata", ewhere, "needs 'obj_id', 'exp_id' and 'exp_text'")
                continue
            n_exp += 1
            if not isinstance(exp["exp_text"], str) or not exp["exp_text"].strip():
                report.error("metadata", ewhere, "empty 'exp_text'")
            if "is_sent" in exp:
                kinds["long" if exp["is_sent"] else "short"] += 1
            obj, eid = str(exp["obj_id"]), str(exp["exp_id"])
            seen[(obj, eid)] += 1
            if seen[(obj, eid)] == 2:
                report.warn("repeated-exp-id", ewhere, f"exp_id {eid!r} repeats for object {obj!r} (known in the "
                            "release; samples are told apart by list position)")
            mdir = ann_root / rv.mask_folder_key(source, vid, obj)
            if not mdir.is_dir() and (ann_root / rv.mask_folder_key(source.lower(), vid, obj)).is_dir():
                mdir = ann_root / rv.mask_folder_key(source.lower(), vid, obj)
            if not mdir.is_dir():
                report.error("dangling-reference", ewhere, f"object {obj!r}: mask folder {mdir.name!r} not found")
                continue
            referenced[mdir] = (vid, vdir)
    if ann_root.is_dir():
        for d in sorted(ann_root.iterdir()):
            if d.is_dir() and d not in referenced:
                report.warn("unreferenced-mask-folder", d, "no expression refers to this mask folder")
            elif not d.is_dir():
                report.warn("stray-file", d, "not a mask folder")
    mask_tasks: list[tuple] = []
    for mdir, (vid, vdir) in sorted(referenced.items()):
        pngs = []
        for p in sorted(mdir.iterdir()):
            if p.suffix.lower() != ".png" or not p.is_file():
                report.warn("stray-file", p, "not a PNG mask (ignored by the official scorer)")
            else:
                pngs.append(p)
        if not pngs:
            report.error("missing-file", mdir, "mask folder holds no PNG masks")
        for p in pngs:
            if p.stem not in frames_of.get(vid, set()):
                report.error("mask-without-frame", p, f"GT mask stem {p.stem!r} is not a listed frame of {vid!r} "
                             "(GT stems must be a subset of the JPEG stems)")
                continue
            mask_tasks.append((str(p), str(vdir / f"{p.stem}.jpg")))
    _run_checks(check_binary_mask, mask_tasks, report, workers)
    _run_checks(check_frame, frame_tasks, report, workers)
    observed = {"videos": len(meta["videos"]), "expressions": n_exp, "objects": len(referenced),
                "short": kinds["short"], "long": kinds["long"]}
    report.facts.update(observed)
    report.facts["masks"] = len(mask_tasks)
    published = published_counts("reasonvos", "test")
    _compare_counts(report, observed, published, str(meta_path))
    if published and per_source != Counter(published.get("videos_per_source", {})):
        report.warn("counts", meta_path, f"videos per source {dict(per_source)}, published "
                    f"{published.get('videos_per_source')}")
    if not report.errors:
        try:
            load_benchmark("reasonvos", root)
        except InputError as e:
            report.error("loader", e.path, e.problem)


# ------------------------------------------------------------------------------- the others


def _present_splits(name: str, root: Path) -> list[str | None]:
    """Which splits of a benchmark this copy holds (a copy need not hold all of them)."""
    if name == "mevis":
        bases = (root, root / "mevis")
        return [s for s in ("train", "valid_u", "valid") if any((b / s).is_dir() for b in bases)]
    if name == "refytvos":
        bases = (root, root / "ref-youtube-vos")
        return [s for s in ("train", "valid")
                if any((b / "meta_expressions" / s / "meta_expressions.json").is_file() for b in bases)]
    if name == "refdavis":
        return ["valid"]
    return [None]


def _validate_loaded(report: Report, bench, deep: bool, workers: int | None) -> dict:
    """Checks that need only the Benchmark API: frames on disk, GT decodes at the frame size."""
    split = bench.split
    tag = f"{split}" if split else bench.name
    frame_tasks: list[tuple] = []
    n_frames = 0
    for vid, video in bench.videos.items():
        for f, n in Counter(video.frames).items():
            if n > 1:
                report.error("duplicate-id", f"{bench.meta_path}: {vid}", f"frame {f!r} listed {n} times")
        n_frames += len(video.frames)
        if video.image_dir is None:
            continue
        for f in video.frames:
            path = video.image_path(f)
            if not path.is_file():
                report.error("missing-frame", path, f"frame {f!r} of video {vid!r} is not on disk")
            elif deep:
                frame_tasks.append((str(path),))
    _run_checks(check_frame, frame_tasks, report, workers)
    objects = {(s.video_id, o) for s in bench.samples for o in s.obj_ids}
    keys = Counter(s.key for s in bench.samples)
    for k, n in keys.items():
        if n > 1:
            report.error("duplicate-id", bench.meta_path, f"sample key {k!r} appears {n} times")
    observed = {"videos": len(bench.videos), "expressions": len(bench.samples), "frames": n_frames}
    if objects:
        observed["objects"] = len(objects)
    report.facts[f"{tag}"] = observed | ({"version": bench.version} if bench.version else {})
    if bench.has_ground_truth:
        _scan_annotation_dirs(report, bench)
        _check_gt(report, bench)
    return observed


def _annotation_dir(bench, vid: str) -> Path | None:
    if getattr(bench, "annotation_root", None) is not None:
        return Path(bench.annotation_root) / vid
    if hasattr(bench, "label_dir"):
        return Path(bench.label_dir(vid))
    return None


def _scan_annotation_dirs(report: Report, bench) -> None:
    """Index-PNG folders: stray non-PNG files (warning) and colour PNGs whose ids are lost (error)."""
    for vid in bench.videos:
        folder = _annotation_dir(bench, vid)
        if folder is None or not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() != ".png" or not p.is_file():
                report.warn("stray-file", p, "not a PNG annotation (ignored by the official scorers)")
                continue
            try:
                with Image.open(p) as img:
                    mode = img.mode
            except _DECODE_ERRORS:
                continue  # reported by the GT decode
            if mode in ("RGB", "RGBA"):
                report.error("rgb-mask", p, f"colour PNG (mode {mode}) where palette ids are expected: re-saved "
                             "with cv2 or an editor? object ids cannot be recovered")


def _check_gt(report: Report, bench) -> None:
    """Every GT mask decodes at its frame's size (each referred object set once)."""
    done: set[tuple] = set()
    for s in bench.samples:
        ident = (s.video_id, s.obj_ids)
        if ident in done:
            continue
        done.add(ident)
        video = bench.videos[s.video_id]
        try:
            size = bench.gt_size(s)
        except InputError as e:
            report.error("missing-file", e.path, e.problem)
            continue
        try:
            for frame, mask in bench.gt_masks(s):
                if mask.shape != tuple(size):
                    report.error("mask-size", f"{video.id}/{frame}", f"GT is {mask.shape[0]}x{mask.shape[1]}, "
                                 f"frame is {size[0]}x{size[1]}")
        except InputError as e:
            kind = "missing-file" if type(e).__name__ == "MissingFileError" else "mask"
            report.error(kind, e.path, e.problem)


def _validate_other(report: Report, name: str, root: Path, split: str | None, deep: bool,
                    workers: int | None) -> None:
    splits = [split] if split else _present_splits(name, root)
    if not splits:
        report.error("structure", root, f"no split of {name} found here")
        return
    for sp in splits:
        try:
            bench = load_benchmark(name, root, sp)
        except InputError as e:
            report.error("loader", e.path, f"{e.problem}" + (f" (split {sp})" if sp else ""))
            continue
        observed = _validate_loaded(report, bench, deep, workers)
        _benchmark_specific(report, name, bench, observed)


def _benchmark_specific(report: Report, name: str, bench, observed: dict) -> None:
    where = str(bench.meta_path)
    if name == "mevis":
        version = bench.version or "v1"
        note = getattr(bench, "version_note", None)
        if note:
            report.warn("version", where, note)
        published = published_counts("mevis", bench.split, version)
        _compare_counts(report, {k: observed[k] for k in ("videos", "expressions")}, published, where)
        other = "v1" if version == "v2" else "v2"
        alt = published_counts("mevis", bench.split, other)
        if alt and observed["expressions"] == alt.get("expressions") != (published or {}).get("expressions"):
            report.warn("version", where, f"{observed['expressions']} expressions is the MeViS {other} count for "
                        f"{bench.split}, but the file read is {version}: label results with the right version")
    elif name == "refytvos":
        listed = getattr(bench, "listed_videos", None)
        excluded = getattr(bench, "excluded_test_count", 0)
        if bench.split == "valid":
            report.facts["valid meta"] = f"lists {listed} videos; {excluded} test videos excluded"
        published = published_counts("refytvos", bench.split)
        _compare_counts(report, {k: observed[k] for k in ("videos", "expressions")}, published, where)
    elif name == "refdavis":
        published = published_counts("refdavis", bench.split)
        _compare_counts(report, {k: observed[k] for k in ("videos", "frames")}, published, where)


# -------------------------------------------------------------------------------------- API


def validate(name: str, root: str | Path, split: str | None = None, *, deep: bool = False,
             workers: int | None = None) -> Report:
    """Validate the copy of benchmark ``name`` at ``root``; never raises for bad data."""
    if name not in BENCHMARKS:
        raise InputError(None, f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    root = Path(root)
    report = Report(name, root, split)
    if not root.exists():
        report.error("structure", root, "benchmark root not found")
        return report
    if not root.is_dir():
        report.error("structure", root, "is a file, not a folder: pass the benchmark root (an archive must be "
                     "unpacked first, e.g. with `reasonvos download NAME --archive FILE`)")
        return report
    if name == "reasonvos":
        if split not in (None, "test", "all"):
            report.error("structure", root, f"ReasonVOS has a single evaluation split, not {split!r}")
            return report
        _validate_reasonvos(report, root, deep, workers)
    else:
        _validate_other(report, name, root, split, deep, workers)
    return report
