"""Error analysis: a method's worst and best samples, with ground truth against prediction.

For each chosen sample a strip of a few frames sampled across the video is drawn with the ground
truth in green, the prediction in red and their overlap in yellow, so that a reader sees at a
glance whether a failure is a wrong object, a drift over time or a boundary problem. Missing
prediction PNGs are drawn as empty masks and listed on the entry, never hidden.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from reasonvos.benchmarks.model import Benchmark
from reasonvos.errors import MaskError, MetadataError, MissingFileError
from reasonvos.fileio import write_bytes_atomic, write_text_atomic
from reasonvos.inference.overlay import tint
from reasonvos.masks import read_binary_png

from .store import Entry, read_results, results_from_dict

GT_COLOR = np.array([0, 200, 0], np.float32)
PRED_COLOR = np.array([230, 0, 0], np.float32)
BOTH_COLOR = np.array([255, 230, 0], np.float32)
ALPHA = 0.55
FRAME_HEIGHT = 160  # larger frames are scaled down to this height
MIN_HEIGHT = 96  # smaller frames are enlarged by a whole factor (nearest) to be legible
GAP = 4


@dataclass
class AnalysisItem:
    """One analysed sample: its scores, its instruction and the strip drawn for it."""

    rank: str  # "worst" or "best"
    position: int  # 1 = the worst (or best) sample
    key: str
    video: str
    text: str
    J: float | None
    F: float | None
    JF: float | None
    frames: list[str]
    image: str  # strip PNG, relative to the analysis folder
    missing_frames: list[str] = field(default_factory=list)


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and v == v else None


def _as_entry(results: Entry | dict | str | Path) -> Entry:
    if isinstance(results, Entry):
        return results
    if isinstance(results, dict):
        return results_from_dict(results, Path("<results>"))
    return read_results(results)


def sample_frames(frames: Sequence[str], k: int) -> list[str]:
    """Up to ``k`` frames spread evenly from the first to the last."""
    if not frames:
        return []
    idx = np.unique(np.linspace(0, len(frames) - 1, min(k, len(frames))).round().astype(int))
    return [frames[i] for i in idx]


def overlay(image: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Blend GT-only (green), prediction-only (red) and overlap (yellow) onto an RGB frame."""
    return tint(image, [(gt & ~pred, GT_COLOR), (pred & ~gt, PRED_COLOR), (gt & pred, BOTH_COLOR)], ALPHA)


def _read_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise MissingFileError(path, "video frame not found (error analysis needs the frames)")
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as e:
        raise MaskError(path, f"image does not decode ({e})") from e


def _strip(tiles: list[np.ndarray]) -> bytes:
    scaled = []
    for t in tiles:
        img = Image.fromarray(t)
        if img.height > FRAME_HEIGHT:
            img = img.resize((max(1, round(img.width * FRAME_HEIGHT / img.height)), FRAME_HEIGHT),
                             Image.Resampling.BILINEAR)
        elif img.height < MIN_HEIGHT:
            k = -(-MIN_HEIGHT // img.height)
            img = img.resize((img.width * k, img.height * k), Image.Resampling.NEAREST)
        scaled.append(img)
    width = sum(i.width for i in scaled) + GAP * (len(scaled) - 1)
    canvas = Image.new("RGB", (width, max(i.height for i in scaled)), (255, 255, 255))
    x = 0
    for img in scaled:
        canvas.paste(img, (x, 0))
        x += img.width + GAP
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "sample"


def _choose(rows: list[dict], n: int) -> list[tuple[str, int, dict]]:
    """The n worst and the n best rows (the best drawn from those not already among the worst)."""
    scored = [r for r in rows if _number(r.get("J&F")) is not None]
    ordered = sorted(scored, key=lambda r: (_number(r["J&F"]), str(r["key"])))
    worst = ordered[:n]
    rest = ordered[len(worst):]
    best = sorted(rest, key=lambda r: (-_number(r["J&F"]), str(r["key"])))[:n]
    return [("worst", i + 1, r) for i, r in enumerate(worst)] + [("best", i + 1, r) for i, r in enumerate(best)]


def error_analysis(
    benchmark: Benchmark,
    pred_dir: str | Path,
    results: Entry | dict | str | Path,
    out_dir: str | Path,
    n: int = 5,
    frames_per_strip: int = 4,
) -> list[AnalysisItem]:
    """Draw the worst and best ``n`` samples of ``results`` and write the strips to ``out_dir``.

    ``results`` is a results file (path), its parsed JSON, or a store entry; its per-sample keys
    must be samples of ``benchmark``. Also writes ``analysis.json`` listing the entries.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")  # a negative slice would mislabel samples
    entry = _as_entry(results)
    where = entry.provenance.path or "<results>"
    pred_dir, out_dir = Path(pred_dir), Path(out_dir)
    if not pred_dir.is_dir():
        raise MissingFileError(pred_dir, "prediction folder not found")
    if not entry.per_sample:
        raise MetadataError(where, "results have no per-sample rows; error analysis needs them")
    items: list[AnalysisItem] = []
    for rank, pos, row in _choose(entry.per_sample, n):
        key = str(row["key"])
        try:
            sample = benchmark.sample(key)
        except KeyError:
            raise MetadataError(where, f"per-sample key {key!r} is not a sample of {benchmark.name} "
                                       f"at {benchmark.root}") from None
        video = benchmark.videos[sample.video_id]
        frames = sample_frames(list(benchmark.scored_frames(sample)), frames_per_strip)
        if not frames:
            raise MetadataError(benchmark.meta_path, f"sample {key!r} has no scored frames")
        tiles, missing = [], []
        for frame in frames:
            image = _read_image(video.image_path(frame))
            gt = benchmark.gt_mask(sample, frame)
            pred_path = pred_dir / benchmark.prediction_path(sample, frame)
            if pred_path.is_file():
                pred = read_binary_png(pred_path)
                if pred.shape != gt.shape:
                    raise MaskError(pred_path, f"prediction is {pred.shape[0]}x{pred.shape[1]}, "
                                               f"ground truth is {gt.shape[0]}x{gt.shape[1]}")
            else:
                missing.append(frame)
                pred = np.zeros_like(gt)
            if image.shape[:2] != gt.shape:
                raise MaskError(video.image_path(frame), f"frame is {image.shape[0]}x{image.shape[1]}, "
                                                         f"ground truth is {gt.shape[0]}x{gt.shape[1]}")
            tiles.append(overlay(image, gt, pred))
        name = f"{rank}_{pos:02d}_{_slug(key)}.png"
        write_bytes_atomic(out_dir / name, _strip(tiles))
        items.append(AnalysisItem(
            rank=rank, position=pos, key=key, video=sample.video_id,
            text=str(row.get("text") or sample.text), J=_number(row.get("J")), F=_number(row.get("F")),
            JF=_number(row.get("J&F")), frames=frames, image=name, missing_frames=missing,
        ))
    listing = {"method": entry.method, "benchmark": entry.benchmark, "split": entry.split,
               "prediction_dir": str(pred_dir), "items": [asdict(i) for i in items]}
    write_text_atomic(out_dir / "analysis.json", json.dumps(listing, indent=2, ensure_ascii=False) + "\n")
    return items
