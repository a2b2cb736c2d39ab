"""Error analysis: a method's worst and best samples, with ground truth against prediction.

For each chosen sample a strip of a few frames sampled across the video is drawn in the toolkit's
overlay style (:mod:`reasonvos.overlay_style`: ground truth as a dark-and-light contour, the
prediction as a translucent fill in a colour picked to stand out from the frames, and a legend
band), so that a reader sees at a glance whether a failure is a wrong object, a drift over time
or a boundary problem. Missing prediction PNGs are drawn as empty masks and listed on the entry,
never hidden.

Distinct failures: several expressions often refer to the same object(s) of one video, and a
model that ignores the wording predicts the same masks for all of them. Listing each would fill
"the worst 5" with one failure. So entries are **one per (video, referred objects)**: the worst
(or best) expression of each group stands for it, and the group's other expressions are listed on
the entry (``also``) with their J&F and whether their prediction is identical (every predicted
frame decodes to the same mask). The best list never repeats a group of the worst list (docs/leaderboard.md#error-analysis).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from reasonvos.benchmarks.model import Benchmark
from reasonvos.errors import MetadataError, MissingFileError
from reasonvos.fileio import write_bytes_atomic, write_text_atomic
from reasonvos.masks import read_binary_png
from reasonvos.overlay_style import LEGEND_HEIGHT, Style, legend_band

from .sample_images import draw_pair, number, png_bytes, read_frames, sample_frames, sample_style, slug
from .store import Entry, read_results, results_from_dict

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
    fill: str = ""  # the prediction colour of the strip (#rrggbb), for the page's legend
    also: list[dict] = field(default_factory=list)  # other expressions of the same video + objects


def _as_entry(results: Entry | dict | str | Path) -> Entry:
    if isinstance(results, Entry):
        return results
    if isinstance(results, dict):
        return results_from_dict(results, Path("<results>"))
    return read_results(results)


def _strip(tiles: list[np.ndarray], style: Style) -> bytes:
    width = sum(t.shape[1] for t in tiles) + GAP * (len(tiles) - 1)
    height = max(t.shape[0] for t in tiles)
    canvas = Image.new("RGB", (width, height + GAP + LEGEND_HEIGHT), (255, 255, 255))
    x = 0
    for t in tiles:
        canvas.paste(Image.fromarray(t), (x, 0))
        x += t.shape[1] + GAP
    canvas.paste(Image.fromarray(legend_band(width, style)), (0, height + GAP))
    return png_bytes(canvas)


def distinct(rows: Sequence[dict], key: Any) -> list[tuple[dict, list[dict]]]:
    """``rows`` (already ordered) grouped by ``key(row)``: the first row of each group, in order,
    with the group's other rows."""
    groups: dict[Any, tuple[dict, list[dict]]] = {}
    for r in rows:
        k = key(r)
        if k in groups:
            groups[k][1].append(r)
        else:
            groups[k] = (r, [])
    return list(groups.values())


def _choose(rows: list[dict], n: int, key: Any) -> list[tuple[str, int, dict, list[dict]]]:
    """The n worst and the n best distinct groups (the best drawn from groups not among the worst)."""
    scored = [r for r in rows if number(r.get("J&F")) is not None]
    worst = distinct(sorted(scored, key=lambda r: (number(r["J&F"]), str(r["key"]))), key)[:n]
    taken = {key(r) for r, _ in worst}
    rest = [r for r in scored if key(r) not in taken]
    best = distinct(sorted(rest, key=lambda r: (-number(r["J&F"]), str(r["key"]))), key)[:n]
    return ([("worst", i + 1, r, o) for i, (r, o) in enumerate(worst)]
            + [("best", i + 1, r, o) for i, (r, o) in enumerate(best)])


def prediction_digest(benchmark: Benchmark, sample: Any, pred_dir: Path) -> str:
    """A digest of the decoded predicted masks of every scored frame (missing PNG: its own mark)."""
    h = hashlib.sha256()
    for frame in benchmark.scored_frames(sample):
        path = pred_dir / benchmark.prediction_path(sample, frame)
        if path.is_file():
            m = read_binary_png(path)
            h.update(repr(m.shape).encode() + np.packbits(m).tobytes())
        else:
            h.update(b"missing")
    return h.hexdigest()


def error_analysis(
    benchmark: Benchmark,
    pred_dir: str | Path,
    results: Entry | dict | str | Path,
    out_dir: str | Path,
    n: int = 5,
    frames_per_strip: int = 4,
) -> list[AnalysisItem]:
    """Draw the worst and best ``n`` distinct samples of ``results`` and write the strips to
    ``out_dir`` (one entry per video and referred objects: see the module docstring).

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

    def sample_of(key: str) -> Any:
        try:
            return benchmark.sample(key)
        except KeyError:
            raise MetadataError(where, f"per-sample key {key!r} is not a sample of {benchmark.name} "
                                       f"at {benchmark.root}") from None

    def group(row: dict) -> tuple[str, tuple[str, ...]]:
        sample = sample_of(str(row["key"]))
        return sample.video_id, tuple(sorted(sample.obj_ids))

    items: list[AnalysisItem] = []
    for rank, pos, row, others in _choose(entry.per_sample, n, group):
        key = str(row["key"])
        sample = sample_of(key)
        frames = sample_frames(list(benchmark.scored_frames(sample)), frames_per_strip)
        if not frames:
            raise MetadataError(benchmark.meta_path, f"sample {key!r} has no scored frames")
        pairs = read_frames(benchmark, sample, frames, [pred_dir])[0]
        style = sample_style(pairs)
        tiles = [draw_pair(p, style) for p in pairs]
        name = f"{rank}_{pos:02d}_{slug(key)}.png"
        write_bytes_atomic(out_dir / name, _strip(tiles, style))
        also = []
        if others:
            mine = prediction_digest(benchmark, sample, pred_dir)
            for o in others:
                other = sample_of(str(o["key"]))
                also.append({"key": str(o["key"]), "text": str(o.get("text") or other.text),
                             "JF": number(o.get("J&F")),
                             "same_prediction": prediction_digest(benchmark, other, pred_dir) == mine})
        items.append(AnalysisItem(
            rank=rank, position=pos, key=key, video=sample.video_id,
            text=str(row.get("text") or sample.text), J=number(row.get("J")), F=number(row.get("F")),
            JF=number(row.get("J&F")), frames=frames, image=name,
            missing_frames=[p.frame for p in pairs if p.pred is None], fill=style.fill_hex, also=also,
        ))
    listing = {"method": entry.method, "benchmark": entry.benchmark, "split": entry.split,
               "prediction_dir": str(pred_dir), "items": [asdict(i) for i in items]}
    write_text_atomic(out_dir / "analysis.json", json.dumps(listing, indent=2, ensure_ascii=False) + "\n")
    return items
