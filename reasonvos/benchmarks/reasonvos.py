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

from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from reasonvos.benchmarks.common import frame_list
from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.benchmarks.registry import BenchmarkSpec
from reasonvos.errors import MetadataError, MissingFileError, SchemaVersionError
from reasonvos.fileio import read_json, require_dict, require_list
from reasonvos.masks import read_binary_png, read_png_values

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
            if not folder.is_dir():
                raise MissingFileError(folder, "ground-truth mask folder not found")
            stems = tuple(sorted(p.stem for p in folder.glob("*.png")))
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


def load(root: str | Path, split: str | None = None) -> ReasonVOSBenchmark:
    """Load ReasonVOS (evaluation only: ``split`` may be None or ``"test"``)."""
    if split not in (None, "test", "all"):
        raise MetadataError(Path(root), f"ReasonVOS has a single evaluation split, not {split!r}")
    root = find_root(Path(root))
    meta_path = root / META_NAME
    meta = require_dict(read_json(meta_path, "ReasonVOS metadata"), meta_path, "top level")
    videos_meta = require_dict(meta.get("videos"), meta_path, "'videos'")
    if detect_schema(meta) == "original":
        raise SchemaVersionError(
            meta_path,
            "this is the original ReasonVOS release (Nov 2024: expressions as a dict, video-level is_sent), "
            "which does not match the current evaluation; download the current release "
            f"(Google Drive id {CURRENT_DRIVE_ID}) with `reasonvos download reasonvos`",
        )
    ann_root = root / "Annotations"
    videos: dict[str, Video] = {}
    samples: list[Sample] = []
    mask_dirs: dict[str, Path] = {}
    seen: dict[tuple[str, str, str, str], int] = {}
    for vid, entry in videos_meta.items():
        where = f"videos[{vid!r}]"
        entry = require_dict(entry, meta_path, where)
        source = entry.get("source")
        if not isinstance(source, str) or not source:
            raise MetadataError(meta_path, f"{where} has no 'source'")
        if "frames" not in entry:
            raise MetadataError(meta_path, f"{where} has no 'frames' list")
        frames = frame_list(entry, meta_path, where)  # non-empty, names only, no repeats
        videos[vid] = Video(id=vid, frames=frames, image_dir=root / "JPEGImages" / vid)
        exps = require_list(entry.get("expressions"), meta_path, f"{where}['expressions']")
        for pos, exp in enumerate(exps):
            ewhere = f"{where}['expressions'][{pos}]"
            exp = require_dict(exp, meta_path, ewhere)
            for field_name in ("obj_id", "exp_id", "exp_text", "is_sent"):
                if field_name not in exp:
                    raise MetadataError(meta_path, f"{ewhere} has no {field_name!r}")
            for field_name in ("obj_id", "exp_id"):
                value = exp[field_name]
                if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
                    raise MetadataError(meta_path, f"{ewhere} has {field_name} {value!r}, which is not an id")
            obj_id, exp_id, text = str(exp["obj_id"]), str(exp["exp_id"]), exp["exp_text"]
            if not isinstance(text, str) or not text.strip():
                raise MetadataError(meta_path, f"{ewhere} has an empty 'exp_text'")
            folder = mask_folder_key(source, vid, obj_id)
            mdir = ann_root / folder
            if not mdir.is_dir() and (ann_root / mask_folder_key(source.lower(), vid, obj_id)).is_dir():
                mdir = ann_root / mask_folder_key(source.lower(), vid, obj_id)
            if not mdir.is_dir():
                raise MissingFileError(mdir, f"mask folder for {ewhere} (object {obj_id!r}) not found")
            ident = (source, vid, obj_id, exp_id)
            key = f"{folder}_{exp_id}"
            extra: dict = {}
            if ident in seen:
                # exp_id repeats for this object: keep both, disambiguated by list position.
                key = f"{key}#{pos}"
                extra["pred_exp_dir"] = f"{exp_id}#{pos}"
            seen[ident] = pos
            is_sent = exp.get("is_sent")
            if not isinstance(is_sent, bool):
                # the prompt VideoLISA uses depends on it (sentence vs phrase), so it cannot be guessed
                raise MetadataError(meta_path, f"{ewhere} needs 'is_sent' true or false, found {is_sent!r}")
            kind = "long" if is_sent else "short"
            sample = Sample(
                video_id=vid, exp_id=exp_id, text=text, obj_ids=(obj_id,), key=key,
                kind=kind, source=source, extra=extra,
            )
            samples.append(sample)
            mask_dirs[key] = mdir
    return ReasonVOSBenchmark(
        root, None, videos, samples, has_ground_truth=True, version="current",
        meta_path=meta_path, mask_dirs=mask_dirs,
    )


def present_splits(root: Path) -> list[str | None]:
    """ReasonVOS has one evaluation split."""
    return [None]


SPEC = BenchmarkSpec(
    name="reasonvos", display_name="ReasonVOS", load=load,
    splits=(None, "test", "all"), default_split=None,
    split_aliases={None: "all", "test": "all", "all": "all"},
    protocols=("expression",), present_splits=present_splits,
    instruction_style="reasoning", source_name="reasonvos",
    description="reasoning video object segmentation (VideoLISA, NeurIPS 2024): 91 videos, 458 samples",
)
