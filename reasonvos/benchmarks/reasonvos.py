"""ReasonVOS (VideoLISA, NeurIPS 2024) loader.

Layout (docs/formats.md#reasonvos-layout)::

    ReasonVOS/meta_expressions.json
    ReasonVOS/JPEGImages/<video>/<frame>.jpg
    ReasonVOS/Annotations/<source>_<video>_<obj_id>/<frame>.png   one mask sequence per object

The current schema has a *list* of expressions per video; the original release (Nov 2024) had a
dict and a video-level ``is_sent``: it is detected and refused with the new Drive id, because its
masks and ids do not match the current evaluation. ``obj_id`` stays an opaque string, ``exp_id``
may repeat within a video, and video names may contain ``_``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from reasonvos.acquire.sources import published_counts
from reasonvos.benchmarks.common import check_unlisted_folders, frame_list, read_meta_json
from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.benchmarks.registry import BenchmarkSpec
from reasonvos.errors import InputError, MetadataError, MissingFileError, SchemaVersionError
from reasonvos.masks import read_binary_png, read_png_values
from reasonvos.report import RAISE, Raise, Report

CURRENT_DRIVE_ID = "1QMggGR91AE-iUUub5YwzMYiFt0TeV5_8"
ORIGINAL_DRIVE_ID = "1qruU9QlUhPcHnN-UHG7iri2nhw_xo7gP"
META_NAME = "meta_expressions.json"


def find_root(root: Path) -> Path:
    """Accept either the ``ReasonVOS/`` folder itself or a folder containing it."""
    root = Path(root)
    if (root / META_NAME).is_file():
        return root
    if (root / "ReasonVOS" / META_NAME).is_file():
        return root / "ReasonVOS"
    raise MissingFileError(root / META_NAME, "ReasonVOS metadata not found (expected meta_expressions.json)")


def detect_schema(meta: dict) -> str:
    """Return ``"current"`` (list of expressions) or ``"original"`` (dict of expressions)."""
    for video in meta.get("videos", {}).values():
        if not isinstance(video, dict):
            continue
        if isinstance(video.get("expressions"), dict) or "is_sent" in video:
            return "original"
        if isinstance(video.get("expressions"), list):
            return "current"
    return "current"


def mask_folder_key(source: str, video: str, obj_id: str) -> str:
    return f"{source}_{video}_{obj_id}"


def parse_mask_folder_key(key: str, sources: Sequence[str], obj_ids: Sequence[str] = ()) -> tuple[str, str, str]:
    """Split ``<source>_<video>_<obj_id>`` using the known source prefix (video names contain ``_``)."""
    for source in sorted(sources, key=len, reverse=True):
        if key.startswith(source + "_"):
            rest = key[len(source) + 1 :]
            for obj in sorted(obj_ids, key=len, reverse=True):
                if rest.endswith("_" + obj):
                    return source, rest[: -len(obj) - 1], obj
            video, _, obj = rest.rpartition("_")
            if video:
                return source, video, obj
    raise ValueError(f"cannot parse mask folder name {key!r}")


class ReasonVOSBenchmark(Benchmark):
    name = "reasonvos"

    def __init__(self, *args, mask_dirs: dict[str, Path], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._mask_dirs = mask_dirs  # sample key -> GT mask folder
        #: every mask folder an expression names (a broken one included), for validation
        self.referenced_mask_dirs: frozenset[Path] = frozenset(mask_dirs.values())
        #: video -> its ``source`` (mevis, vipseg, burst, ...)
        self.video_sources: dict[str, str] = {}
        self._scored: dict[Path, tuple[str, ...]] = {}

    def mask_dir(self, sample: Sample) -> Path:
        return self._mask_dirs[sample.key]

    def prediction_dir(self, sample: Sample) -> PurePosixPath:
        folder = mask_folder_key(sample.source or "", sample.video_id, sample.obj_ids[0])
        return PurePosixPath(folder, sample.extra.get("pred_exp_dir", sample.exp_id))

    def scored_frames(self, sample: Sample) -> Sequence[str]:
        """The official scorer evaluates every GT PNG of the object's folder, sorted by name."""
        folder = self.mask_dir(sample)
        if folder not in self._scored:
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                raise MissingFileError(folder, "ground-truth mask folder not found") from None
            except OSError as e:  # unreadable: not the same thing as empty
                raise MissingFileError(folder, f"cannot list the ground-truth mask folder ({e.strerror or e})") from e
            stems = tuple(sorted(n[:-4] for n in names if n.endswith(".png") and not n.startswith(".")))
            if not stems:
                raise MissingFileError(folder, "ground-truth mask folder holds no PNG masks")
            unlisted = sorted(set(stems) - set(self.videos[sample.video_id].frames))
            if unlisted:
                raise MetadataError(
                    folder, f"{len(unlisted)} GT mask(s) on frames the metadata does not list for video "
                    f"{sample.video_id!r} (GT stems must be a subset of the frames): {', '.join(unlisted[:5])}",
                )
            self._scored[folder] = stems
        return self._scored[folder]

    def gt_mask(self, sample: Sample, frame: str) -> np.ndarray:
        return read_binary_png(self.mask_dir(sample) / f"{frame}.png")

    def gt_masks(self, sample: Sample) -> Iterator[tuple[str, np.ndarray]]:
        """Every scored frame's GT, decoded the fast way: the released masks are single-channel
        PNGs, read as raw values (non-zero = object); anything else goes through :meth:`gt_mask`."""
        folder = self.mask_dir(sample)
        for frame in self.scored_frames(sample):
            arr = read_png_values(folder / f"{frame}.png")
            yield frame, (arr != 0 if arr.ndim == 2 else self.gt_mask(sample, frame))

    def gt_files(self, sample: Sample) -> dict[str, Path]:
        """One binary PNG per scored frame in the object's mask folder."""
        folder = self.mask_dir(sample)
        return {frame: folder / f"{frame}.png" for frame in self.scored_frames(sample)}


ORIGINAL_SCHEMA = (
    "this is the ORIGINAL ReasonVOS release (Nov 2024, Google Drive id {original}: expressions as a dict, "
    "video-level is_sent), which does not match the current evaluation; download the current release "
    "(Google Drive id {current}) with `reasonvos download reasonvos`"
)


def _is_id(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, str | int) and value != ""


def _expression(
    exp: object, meta_path: Path, ewhere: str, sink: Raise,
) -> tuple[str, str, str, bool] | None:
    """(obj_id, exp_id, text, is_sent) of one expression, or None (collecting sink) when unusable.

    Every field is checked on its own, so a collecting sink hears of each problem (a bad
    ``is_sent`` beside a missing text too); the raising sink stops at the first, in field order.
    """
    if not isinstance(exp, dict):
        sink.error(MetadataError, meta_path, f"{ewhere} must be a JSON object, found {type(exp).__name__}",
                   kind="metadata")
        return None
    ok = True
    for field_name in ("obj_id", "exp_id", "exp_text", "is_sent"):
        if field_name not in exp:
            sink.error(MetadataError, meta_path, f"{ewhere} has no {field_name!r}", kind="metadata")
            ok = False
    for field_name in ("obj_id", "exp_id"):
        if field_name in exp and not _is_id(exp[field_name]):
            sink.error(MetadataError, meta_path, f"{ewhere} has {field_name} {exp[field_name]!r}, which is not an id",
                       kind="metadata")
            ok = False
    text = exp.get("exp_text")
    if "exp_text" in exp and not isinstance(text, str):
        sink.error(MetadataError, meta_path, f"{ewhere} has 'exp_text' {text!r}, which is not a string",
                   kind="metadata")
        ok = False
    elif isinstance(text, str) and not text.strip():
        sink.error(MetadataError, meta_path, f"{ewhere} has an empty 'exp_text'", kind="metadata")
        ok = False
    is_sent = exp.get("is_sent")
    if "is_sent" in exp and not isinstance(is_sent, bool) and sink.collecting:
        # (the raising sink refuses it in load(), after the mask folder, as it always did)
        sink.error(MetadataError, meta_path, is_sent_error(ewhere, is_sent), kind="metadata")
        ok = False
    if not ok and sink.collecting:
        return None
    return str(exp["obj_id"]), str(exp["exp_id"]), text, is_sent  # type: ignore[return-value]


def is_sent_error(ewhere: str, value: object) -> str:
    # the prompt VideoLISA uses depends on it (sentence vs phrase), so it cannot be guessed
    return f"{ewhere} needs 'is_sent' true or false, found {value!r}"


def _mask_folder(ann_root: Path, source: str, vid: str, obj_id: str) -> Path:
    """The object's GT folder; a lower-case source prefix is accepted too (seen in some copies)."""
    mdir = ann_root / mask_folder_key(source, vid, obj_id)
    lower = ann_root / mask_folder_key(source.lower(), vid, obj_id)
    return lower if not mdir.is_dir() and lower.is_dir() else mdir


def _check_mask_folder(mdir: Path, frames: Sequence[str], vid: str, sink: Raise) -> bool:
    """Validation only: the folder lists, holds PNGs, and every PNG stem is a listed frame.

    What scoring would refuse later (:meth:`ReasonVOSBenchmark.scored_frames`), said file by file.
    """
    try:
        entries = sorted(os.scandir(mdir), key=lambda e: e.name)
    except OSError as e:
        sink.error(MissingFileError, mdir, f"cannot list the mask folder ({e.strerror or e})", kind="unreadable")
        return False
    listed, ok, n_png = set(frames), True, 0
    for e in entries:
        stem, ext = os.path.splitext(e.name)
        if ext.lower() != ".png" or e.is_dir():
            continue  # a stray file: validate's scan of the GT folders warns about it
        n_png += 1
        if stem not in listed:
            sink.error(MetadataError, e.path, f"GT mask stem {stem!r} is not a listed frame of {vid!r} "
                       "(GT stems must be a subset of the JPEG stems)", kind="mask-without-frame")
            ok = False
    if not n_png:
        sink.error(MissingFileError, mdir, "mask folder holds no PNG masks", kind="missing-file")
        ok = False
    return ok


def load(root: str | Path, split: str | None = None, *, sink: Raise = RAISE) -> ReasonVOSBenchmark:
    """Load ReasonVOS (evaluation only: ``split`` may be None or ``"test"``).

    ``sink`` receives bad input (see :mod:`reasonvos.report`): by default the first error raises;
    ``validate`` passes a collecting sink and gets every problem, file by file.
    """
    if split not in (None, "test", "all"):
        sink.fatal(MetadataError, Path(root), f"ReasonVOS has a single evaluation split, not {split!r}",
                   kind="structure")
    try:
        root = find_root(Path(root))
    except InputError as e:
        sink.fatal(type(e), e.path, e.problem, kind="structure")
    meta_path = root / META_NAME
    meta = read_meta_json(meta_path, None, sink)
    videos_meta = meta.get("videos")
    if not isinstance(videos_meta, dict):
        sink.fatal(MetadataError, meta_path, f"'videos' must be a JSON object, found {type(videos_meta).__name__}",
                   kind="metadata")
    if detect_schema(meta) == "original":
        sink.fact("version", "original (Nov 2024)")
        sink.fatal(SchemaVersionError, meta_path,
                   ORIGINAL_SCHEMA.format(original=ORIGINAL_DRIVE_ID, current=CURRENT_DRIVE_ID),
                   kind="schema-version")
    sink.fact("version", "current (Dec 2024 schema)")
    ann_root, jpeg_root = root / "Annotations", root / "JPEGImages"
    videos: dict[str, Video] = {}
    samples: list[Sample] = []
    mask_dirs: dict[str, Path] = {}
    referenced: dict[Path, bool] = {}  # every mask folder an expression names -> usable
    seen: dict[tuple[str, str, str, str], int] = {}
    sources: dict[str, str] = {}
    for vid, entry in videos_meta.items():
        where = f"videos[{vid!r}]"
        if not isinstance(entry, dict):
            sink.error(MetadataError, meta_path, f"{where} must be a JSON object, found {type(entry).__name__}",
                       kind="metadata")
            continue
        source = entry.get("source")
        if not isinstance(source, str) or not source:
            sink.error(MetadataError, meta_path, f"{where} has no 'source'", kind="metadata")
            continue
        if "frames" not in entry:
            sink.error(MetadataError, meta_path, f"{where} has no 'frames' list", kind="metadata")
            continue
        frames = frame_list(entry, meta_path, where, sink)  # non-empty, names only, no repeats
        if frames is None:
            continue
        videos[vid] = Video(id=vid, frames=frames, image_dir=jpeg_root / vid)
        sources[vid] = source
        exps = entry.get("expressions")
        if not isinstance(exps, list):
            sink.error(MetadataError, meta_path, f"{where}['expressions'] must be a JSON list, found "
                       f"{type(exps).__name__}", kind="metadata")
            continue
        for pos, exp in enumerate(exps):
            ewhere = f"{where}['expressions'][{pos}]"
            fields = _expression(exp, meta_path, ewhere, sink)
            if fields is None:
                continue
            obj_id, exp_id, text, is_sent = fields
            folder = mask_folder_key(source, vid, obj_id)
            mdir = _mask_folder(ann_root, source, vid, obj_id)
            if not mdir.is_dir():
                state = "is a broken symbolic link" if mdir.is_symlink() else "not found"
                sink.error(MissingFileError, mdir, f"mask folder for {ewhere} (object {obj_id!r}) {state}",
                           kind="dangling-reference")
                continue
            if not isinstance(is_sent, bool):
                raise MetadataError(meta_path, is_sent_error(ewhere, is_sent))
            if sink.collecting and mdir not in referenced:
                referenced[mdir] = _check_mask_folder(mdir, frames, vid, sink)
            ident = (source, vid, obj_id, exp_id)
            key = f"{folder}_{exp_id}"
            extra: dict = {}
            if ident in seen:
                # exp_id repeats for this object: keep both, disambiguated by list position.
                key = f"{key}#{pos}"
                extra["pred_exp_dir"] = f"{exp_id}#{pos}"
                sink.warn("repeated-exp-id", f"{meta_path}: {ewhere}", f"exp_id {exp_id!r} repeats for object "
                          f"{obj_id!r} (known in the release; samples are told apart by list position)")
            seen[ident] = pos
            if not referenced.get(mdir, True):
                continue  # validation only: its folder's problems are reported; the GT checks skip it
            samples.append(Sample(
                video_id=vid, exp_id=exp_id, text=text, obj_ids=(obj_id,), key=key,
                kind="long" if is_sent else "short", source=source, extra=extra,
            ))
            mask_dirs[key] = mdir
    bench = ReasonVOSBenchmark(
        root, None, videos, samples, has_ground_truth=True, version="current",
        meta_path=meta_path, mask_dirs=mask_dirs,
    )
    bench.referenced_mask_dirs = frozenset(referenced) | frozenset(mask_dirs.values())
    bench.video_sources = sources
    if sink.collecting:
        check_unlisted_folders(jpeg_root, videos, sink, "JPEG")
    return bench


def checks(bench: ReasonVOSBenchmark, report: Report) -> None:
    """Validation: the folders the loader does not read (mask folders no expression names, stray
    files), the split into short and long expressions, and the published counts per source."""
    for folder in ("Annotations", "JPEGImages"):
        if not (bench.root / folder).is_dir():
            report.error("structure", bench.root / folder, "folder not found")
    ann_root = bench.root / "Annotations"
    referenced = bench.referenced_mask_dirs
    if ann_root.is_dir():
        for d in sorted(ann_root.iterdir()):
            if d.is_dir() and d not in referenced:
                report.warn("unreferenced-mask-folder", d, "no expression refers to this mask folder")
            elif not d.is_dir():
                report.warn("stray-file", d, "not a mask folder")
    kinds = Counter(s.kind for s in bench.samples)
    per_source = Counter(source.lower() for source in bench.video_sources.values())
    observed = {"videos": len(bench.videos), "expressions": len(bench.samples),
                "objects": len({(s.video_id, s.obj_ids) for s in bench.samples}),
                "short": kinds["short"], "long": kinds["long"]}
    report.facts.update(observed)
    published = published_counts("reasonvos", "test")
    report.compare_counts(observed, published, str(bench.meta_path))
    if published and per_source != Counter(published.get("videos_per_source", {})):
        report.warn("counts", bench.meta_path, f"videos per source {dict(per_source)}, published "
                    f"{published.get('videos_per_source')}")


def present_splits(root: Path) -> list[str | None]:
    """ReasonVOS has one evaluation split."""
    return [None]


SPEC = BenchmarkSpec(
    name="reasonvos", display_name="ReasonVOS", load=load,
    splits=(None, "test", "all"), default_split=None,
    split_aliases={None: "all", "test": "all", "all": "all"},
    protocols=("expression",), present_splits=present_splits,
    instruction_style="reasoning", source_name="reasonvos", extra_checks=checks,
    description="reasoning video object segmentation (VideoLISA, NeurIPS 2024): 91 videos, 458 samples",
)
