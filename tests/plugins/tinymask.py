"""A benchmark defined outside the package, the way a third-party plugin would write one.

"TinyMask" is a made-up format that no part of reasonvos knows::

    <root>/tinymask.json                        {"format": "tinymask/1", "videos": {video: {
                                                   "size": [H, W], "frames": [...],
                                                   "objects": {obj: {"text": ..., "source": ...}}}}}
    <root>/masks/<video>/<obj>/<frame>.bits     the H x W mask, row-major, 8 pixels a byte (np.packbits)
    <root>/frames/<video>/<frame>.jpg           the video frames

One sample per object. The module holds what a plugin must provide: a :class:`Benchmark`
subclass that decodes its own ground truth, a ``load`` function and ``SPEC``. It registers
itself with ``reasonvos.benchmarks.registry.register(SPEC)`` or through the ``reasonvos.benchmarks``
entry point group (``tinymask = "plugins.tinymask"``). :func:`write` makes a copy on disk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.benchmarks.registry import BenchmarkSpec
from reasonvos.errors import MaskError, MetadataError, MissingFileError

NAME = "tinymask"
META = "tinymask.json"
FORMAT = "tinymask/1"


class TinyMaskBenchmark(Benchmark):
    """GT: one packed-bits file per object and frame."""

    name = NAME

    def mask_file(self, sample: Sample, frame: str) -> Path:
        return self.root / "masks" / sample.video_id / sample.obj_ids[0] / f"{frame}.bits"

    def gt_mask(self, sample: Sample, frame: str) -> np.ndarray:
        path = self.mask_file(sample, frame)
        if not path.is_file():
            raise MissingFileError(path, "mask file not found")
        h, w = self.gt_size(sample)
        data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
        if data.size != (h * w + 7) // 8:
            raise MaskError(path, f"{data.size} bytes, but a {h}x{w} mask packs into {(h * w + 7) // 8}")
        return np.unpackbits(data, count=h * w).reshape(h, w).astype(bool)

    def gt_files(self, sample: Sample) -> dict[str, Path]:
        return {f: self.mask_file(sample, f) for f in self.scored_frames(sample)}


def load(root: str | Path, split: str | None = None) -> TinyMaskBenchmark:
    """Load a TinyMask copy (one split, no name)."""
    root = Path(root)
    if split is not None:
        raise MetadataError(root, f"TinyMask has a single split, not {split!r}")
    meta_path = root / META
    if not meta_path.is_file():
        raise MissingFileError(meta_path, "TinyMask metadata not found")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise MetadataError(meta_path, f"not a {FORMAT} file")
    videos: dict[str, Video] = {}
    samples: list[Sample] = []
    for vid, entry in meta["videos"].items():
        h, w = entry["size"]
        videos[vid] = Video(id=vid, frames=tuple(entry["frames"]), size=(int(h), int(w)),
                            image_dir=root / "frames" / vid)
        for obj, info in entry["objects"].items():
            samples.append(Sample(video_id=vid, exp_id=obj, text=info["text"], obj_ids=(obj,),
                                  key=f"{vid}/{obj}", source=info.get("source")))
    return TinyMaskBenchmark(root, None, videos, samples, has_ground_truth=True, version=FORMAT,
                             meta_path=meta_path)


def present_splits(root: Path) -> list[str | None]:
    return [None]


SPEC = BenchmarkSpec(
    name=NAME, display_name="TinyMask", load=load,
    splits=(None,), default_split=None,
    protocols=("expression",), present_splits=present_splits,
    instruction_style="referring",
    description="a made-up format, defined outside the package to prove the extension point",
)


def write(root: Path, masks: Mapping[tuple[str, str], np.ndarray], texts: Mapping[tuple[str, str], str],
          sources: Mapping[str, str] | None = None) -> Path:
    """Write a TinyMask copy: ``masks[(video, obj)]`` is a (frames, H, W) bool array."""
    root = Path(root)
    videos: dict = {}
    for (vid, obj), stack in masks.items():
        n, h, w = stack.shape
        frames = [f"{i:05d}" for i in range(n)]
        entry = videos.setdefault(vid, {"size": [h, w], "frames": frames, "objects": {}})
        entry["objects"][obj] = {"text": texts[(vid, obj)], "source": (sources or {}).get(vid)}
        folder = root / "masks" / vid / obj
        folder.mkdir(parents=True, exist_ok=True)
        (root / "frames" / vid).mkdir(parents=True, exist_ok=True)
        for frame, mask in zip(frames, stack, strict=True):
            (folder / f"{frame}.bits").write_bytes(np.packbits(mask.astype(bool).ravel()).tobytes())
            Image.new("RGB", (w, h), (90, 120, 150)).save(root / "frames" / vid / f"{frame}.jpg")
    (root / META).write_text(json.dumps({"format": FORMAT, "videos": videos}), encoding="utf-8")
    return root
