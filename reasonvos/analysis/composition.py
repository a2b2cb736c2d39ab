"""What a benchmark is made of: sources, instruction kinds and lengths, video lengths, mask sizes.

Works for any benchmark the toolkit loads, through the :class:`~reasonvos.benchmarks.model.Benchmark` API
only (samples, kind, source, scored_frames, gt_masks), so a built benchmark can be compared
with the official one. Mask statistics are computed once per distinct mask sequence
``(video, obj_ids)`` (ReasonVOS asks several questions about one object) and are skipped, with a
note, for splits without ground truth.
"""

from __future__ import annotations

import io
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from reasonvos.benchmarks.model import Benchmark
from reasonvos.fileio import write_bytes_atomic, write_json_atomic
from reasonvos.outputs import OutputFolder, check_outputs, owned_folder

NO_SOURCE = "-"
#: the command that owns a stats folder (its marker names it)
COMMAND = "stats"
FIGURES = ("composition", "instruction_length", "frames_per_video", "mask_area", "visibility")


@dataclass
class BenchmarkStats:
    """Everything ``reasonvos stats`` reports, JSON-ready via :meth:`to_dict`."""

    benchmark: str
    split: str | None
    root: str
    videos: int
    samples: int
    per_source: dict[str, dict[str, Any]]
    kinds: dict[str, int]
    words: list[int]
    frames_per_video: list[int]
    mask_sequences: int | None = None
    mask_area: list[float] = field(default_factory=list)  # per visible frame, fraction of the frame
    visible_fraction: list[float] = field(default_factory=list)  # per mask sequence
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        has_masks = self.mask_sequences is not None
        return {
            "benchmark": self.benchmark,
            "split": self.split,
            "root": self.root,
            "videos": self.videos,
            "samples": self.samples,
            "per_source": self.per_source,
            "kinds": self.kinds,
            "instruction_words": {**summary(self.words), "histogram": _histogram(self.words)},
            "frames_per_video": {**summary(self.frames_per_video), "histogram": _histogram(self.frames_per_video)},
            "masks": {
                "sequences": self.mask_sequences,
                "area_of_visible_frames": summary(self.mask_area),
                "visible_fraction": summary(self.visible_fraction),
            } if has_masks else None,
            "notes": self.notes,
        }


def summary(values: Iterable[float]) -> dict[str, float | int | None]:
    """count, mean, median, min and max (None when there are no values)."""
    vals = list(values)
    if not vals:
        return {"count": 0, "mean": None, "median": None, "min": None, "max": None}
    return {
        "count": len(vals),
        "mean": float(statistics.fmean(vals)),
        "median": float(statistics.median(vals)),
        "min": min(vals),
        "max": max(vals),
    }


def _histogram(values: Iterable[int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(values).items())}


def word_count(text: str) -> int:
    return len(text.split())


def compute_stats(bench: Benchmark, masks: bool = True, quiet: bool = True) -> BenchmarkStats:
    """Count the benchmark's composition and, when it has ground truth, measure its masks."""
    per_source: dict[str, dict[str, Any]] = {}
    videos_of: dict[str, set[str]] = {}
    for s in bench.samples:
        src = s.source or NO_SOURCE
        entry = per_source.setdefault(src, {"videos": 0, "samples": 0, "frames": 0, "kinds": {}})
        entry["samples"] += 1
        kind = s.kind or NO_SOURCE
        entry["kinds"][kind] = entry["kinds"].get(kind, 0) + 1
        videos_of.setdefault(src, set()).add(s.video_id)
    for src, vids in videos_of.items():
        per_source[src]["kinds"] = dict(sorted(per_source[src]["kinds"].items()))
        per_source[src]["videos"] = len(vids)
        per_source[src]["frames"] = sum(len(bench.videos[v].frames) for v in vids)
    stats = BenchmarkStats(
        benchmark=bench.name,
        split=bench.split,
        root=str(bench.root),
        videos=len(bench.videos),
        samples=len(bench.samples),
        per_source=dict(sorted(per_source.items())),
        kinds=dict(sorted(Counter(s.kind or NO_SOURCE for s in bench.samples).items())),
        words=[word_count(s.text) for s in bench.samples],
        frames_per_video=[len(v.frames) for _, v in sorted(bench.videos.items())],
    )
    if not masks:
        stats.notes.append("mask statistics not computed (masks=False)")
    elif not bench.has_ground_truth:
        stats.notes.append(f"split {bench.split!r} has no ground truth: mask statistics skipped")
    else:
        _mask_stats(bench, stats, quiet)
    return stats


def _mask_stats(bench: Benchmark, stats: BenchmarkStats, quiet: bool) -> None:
    """Area (fraction of the frame) on visible frames and visible-frame fraction per sequence."""
    firsts = {}
    for s in bench.samples:
        firsts.setdefault((s.video_id, s.obj_ids), s)
    for sample in tqdm(list(firsts.values()), desc="mask stats", unit="object", disable=quiet):
        n = visible = 0
        for _, mask in bench.gt_masks(sample):
            n += 1
            area = float(np.count_nonzero(mask)) / mask.size if mask.size else 0.0
            if area > 0:
                visible += 1
                stats.mask_area.append(area)
        stats.visible_fraction.append(visible / n if n else 0.0)
    stats.mask_sequences = len(firsts)


# -------------------------------------------------------------------------------------- output


def format_table(stats: BenchmarkStats) -> str:
    """The composition as a fixed-width text table plus one line per distribution."""
    kinds = list(stats.kinds)
    header = ["source", "videos", "samples", *kinds, "frames"]
    rows = [
        [src, e["videos"], e["samples"], *(e["kinds"].get(k, 0) for k in kinds), e["frames"]]
        for src, e in stats.per_source.items()
    ]
    total_frames = sum(stats.frames_per_video)
    rows.append(["total", stats.videos, stats.samples, *(stats.kinds[k] for k in kinds), total_frames])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"{stats.benchmark} (split {stats.split or '-'}) at {stats.root}"]
    for i, row in enumerate([header, *rows]):
        cells = [str(c).ljust(w) if j == 0 else str(c).rjust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells))
        if i == 0 or i == len(rows) - 1:
            lines.append("  ".join("-" * w for w in widths))

    def dist(name: str, values: list, fmt: str) -> str:
        s = summary(values)
        if not s["count"]:
            return f"{name}: none"
        return (f"{name}: mean {s['mean']:{fmt}}, median {s['median']:{fmt}}, min {s['min']:{fmt}}, "
                f"max {s['max']:{fmt}} (n={s['count']})")

    lines.append(dist("instruction length (words)", stats.words, ".1f"))
    lines.append(dist("frames per video", stats.frames_per_video, ".1f"))
    if stats.mask_sequences is not None:
        lines.append(f"mask sequences: {stats.mask_sequences}")
        lines.append(dist("mask area (fraction of frame, visible frames)", stats.mask_area, ".3f"))
        lines.append(dist("visible fraction of frames per object", stats.visible_fraction, ".3f"))
    lines.extend(f"note: {n}" for n in stats.notes)
    return "\n".join(lines)


def _figures(stats: BenchmarkStats) -> dict[str, Any]:
    """Build the figures with matplotlib's object API (no pyplot, no global backend state)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    title = f"{stats.benchmark}" + (f" ({stats.split})" if stats.split else "")
    figs: dict[str, Any] = {}

    # fixed margins: a layout engine doubles the drawing time and the figures are simple
    fig = Figure(figsize=(9, 3.6))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.1, top=0.82, wspace=0.2)
    ax1, ax2 = fig.subplots(1, 2)
    sources = list(stats.per_source)
    x = np.arange(len(sources))
    ax1.bar(x - 0.2, [stats.per_source[s]["videos"] for s in sources], 0.4, label="videos")
    ax1.bar(x + 0.2, [stats.per_source[s]["samples"] for s in sources], 0.4, label="samples")
    ax1.set_xticks(x, sources)
    ax1.set_title("videos and samples per source")
    ax1.legend()
    bottom = np.zeros(len(sources))
    for kind in stats.kinds:
        vals = np.array([stats.per_source[s]["kinds"].get(kind, 0) for s in sources], float)
        ax2.bar(x, vals, 0.6, bottom=bottom, label=kind)
        bottom += vals
    ax2.set_xticks(x, sources)
    ax2.set_title("instruction kinds per source")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    figs["composition"] = fig

    def hist(name: str, values: list, xlabel: str, bins: Any, what: str) -> None:
        f = Figure(figsize=(5, 3.4))
        f.subplots_adjust(left=0.14, right=0.96, bottom=0.15, top=0.9)
        ax = f.subplots()
        if values:
            ax.hist(values, bins=bins, edgecolor="black", linewidth=0.5)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(what)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        figs[name] = f

    def int_bins(values: list[int]) -> Any:
        if not values:
            return 10
        lo, hi = min(values), max(values)
        step = max(1, int(np.ceil((hi - lo + 1) / 40)))
        return np.arange(lo - 0.5, hi + step + 0.5, step)

    hist("instruction_length", stats.words, "instruction length (words)", int_bins(stats.words), "samples")
    hist("frames_per_video", stats.frames_per_video, "frames per video", int_bins(stats.frames_per_video), "videos")
    if stats.mask_sequences is not None:
        hist("mask_area", stats.mask_area, "mask area (fraction of frame)", np.linspace(0, 1, 21), "visible frames")
        hist("visibility", stats.visible_fraction, "fraction of frames where the object is visible",
             np.linspace(0, 1, 11), "objects")
    return figs


def write_outputs(stats: BenchmarkStats, out: str | Path) -> list[Path]:
    """Write ``stats.json``, ``stats.txt`` and every figure as PNG and SVG into ``out``.

    ``out`` is an owned folder (:mod:`reasonvos.outputs`): new, empty or an earlier ``stats``
    output. The files replace the earlier ones together once all are written; a figure of an
    earlier run that this one does not draw is removed, and other files stay.
    """
    import matplotlib

    out = Path(out)
    with owned_folder(out, COMMAND, "the stats folder") as stage:
        write_json_atomic(stage / "stats.json", stats.to_dict())
        write_bytes_atomic(stage / "stats.txt", (format_table(stats) + "\n").encode("utf-8"))
        names = ["stats.json", "stats.txt"]
        with matplotlib.rc_context({"svg.hashsalt": "reasonvos", "svg.fonttype": "none"}):
            for name, fig in _figures(stats).items():
                for fmt, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
                    buf = io.BytesIO()
                    fig.savefig(buf, format=fmt, dpi=110, metadata=meta)
                    write_bytes_atomic(stage / f"{name}.{fmt}", buf.getvalue())
                    names.append(f"{name}.{fmt}")
    return [out / name for name in names]


def benchmark_stats(
    name: str, root: str | Path, split: str | None = None, out: str | Path | None = None,
    masks: bool = True, quiet: bool = True,
) -> tuple[BenchmarkStats, list[Path]]:
    """Load a benchmark, compute its statistics and, with ``out``, write the JSON and figures."""
    from reasonvos.benchmarks.registry import load_benchmark

    if out is not None:  # before the statistics, which decode every mask
        check_outputs([OutputFolder(Path(out), "--out", COMMAND)], inputs=[root])
    stats = compute_stats(load_benchmark(name, root, split), masks=masks, quiet=quiet)
    return stats, (write_outputs(stats, out) if out is not None else [])
