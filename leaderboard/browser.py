"""The per-sample browser's data and thumbnails: every method's J&F per sample, side by side
(docs/leaderboard.md#per-sample-browser).

Rows come from the measured entries' per-sample rows: all methods scored on one benchmark split
with one protocol form a group, joined on the sample key (a sample a method did not score shows
a blank). The page's script sorts, filters and compares two chosen methods on them.

Thumbnails are made at build time, so the page stays a folder of static files that works from
``file://``: for a bounded number of samples per group (``samples``), a few frames spread over
the video (``frames``), for every method whose prediction folder was given (``--analysis``),
drawn in the toolkit's overlay style with per-frame J from :mod:`reasonvos.evaluators.metrics`.
Which samples get images is deterministic and aims at what a reader wants to look at: turn by
turn, the sample where the methods disagree most (largest max-min J&F), the worst (lowest J&F of
any method) and the best, each time skipping samples whose video and referred objects are
already shown (distinct failures: docs/leaderboard.md#error-analysis); ties go by
sample key. Samples without images still appear in the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from reasonvos.evaluators.metrics import frame_scores

from reasonvos.benchmarks.model import Benchmark
from reasonvos.errors import MetadataError
from reasonvos.fileio import write_bytes_atomic

from . import BROWSE_FRAMES as DEFAULT_FRAMES
from . import BROWSE_SAMPLES as DEFAULT_SAMPLES
from .sample_images import draw_pair, number, png_bytes, read_frames, sample_frames, sample_style, slug
from .store import Entry

THUMB_HEIGHT = 120  # thumbnails of larger frames are scaled down to this height


@dataclass
class Predictions:
    """A method's prediction folder for a benchmark it was scored on (from ``--analysis``)."""

    entry: Entry
    benchmark: Benchmark
    folder: Path


@dataclass
class BrowserGroup:
    """One benchmark split + protocol: its methods, one row per sample and the thumbnails made."""

    id: str
    title: str
    benchmark: str
    split: str | None
    protocol: str | None
    methods: list[str]
    rows: list[dict[str, Any]]  # key, video, text, kind, source, jf (one per method, None = not scored)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)  # sample key -> thumbnails (to_json)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "methods": self.methods,
                "columns": ["key", "video", "text", "kind", "source", "jf"],
                "rows": [[r["key"], r["video"], r["text"], r["kind"], r["source"], r["jf"]] for r in self.rows],
                "images": self.images}


def group_of(entry: Entry) -> tuple[str, str | None, str | None]:
    return entry.benchmark, entry.split, entry.protocol


def browser_groups(entries: Sequence[Entry]) -> list[BrowserGroup]:
    """One group per benchmark split + protocol with measured per-sample rows, methods by
    headline J&F (best first, then by name), rows in the order the first method lists them."""
    by_group: dict[tuple, list[Entry]] = {}
    for x in entries:
        if x.origin == "measured" and x.per_sample:
            by_group.setdefault(group_of(x), []).append(x)
    groups, used = [], set()
    for (bench, split, protocol), members in by_group.items():
        members = sorted(members, key=lambda x: (-(x.value("J&F") or 0.0), x.method))
        rows: dict[str, dict[str, Any]] = {}
        for m, x in enumerate(members):
            for r in x.per_sample:
                key = str(r.get("key"))
                row = rows.get(key)
                if row is None:
                    text = r.get("text")
                    row = rows[key] = {"key": key, "video": _str(r.get("video")), "text": _str(text),
                                       "kind": _str(r.get("kind")), "source": _str(r.get("source")),
                                       "jf": [None] * len(members)}
                row["jf"][m] = number(r.get("J&F"))
        gid = slug(f"{bench}-{split or 'all'}-{protocol or ''}").lower()
        while gid in used:
            gid += "-x"
        used.add(gid)
        title = " ".join(x for x in (bench, split, f"({protocol})" if protocol else None) if x)
        groups.append(BrowserGroup(gid, title, bench, split, protocol, [x.method for x in members],
                                   list(rows.values())))
    return groups


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def choose_samples(rows: Sequence[dict], columns: Sequence[int], n: int,
                   target: Callable[[str], Any]) -> list[str]:
    """Up to ``n`` sample keys, taken in turn from the largest disagreements between the methods
    in ``columns`` (only with two or more), the worst and the best; one per ``target(key)``."""
    scored = []
    for r in rows:
        values = [r["jf"][c] for c in columns if r["jf"][c] is not None]
        if values:
            scored.append((r["key"], min(values), max(values), len(values)))
    rankings = []
    if len(columns) > 1:
        rankings.append(sorted((s for s in scored if s[3] > 1), key=lambda s: (-(s[2] - s[1]), s[0])))
    rankings.append(sorted(scored, key=lambda s: (s[1], s[0])))
    rankings.append(sorted(scored, key=lambda s: (-s[2], s[0])))
    chosen: list[str] = []
    seen: set = set()
    cursors = [0] * len(rankings)
    while len(chosen) < n and any(c < len(r) for c, r in zip(cursors, rankings, strict=True)):
        for i, ranking in enumerate(rankings):
            while cursors[i] < len(ranking) and len(chosen) < n:
                key = ranking[cursors[i]][0]
                cursors[i] += 1
                t = target(key)
                if t not in seen:
                    seen.add(t)
                    chosen.append(key)
                    break
    return chosen


def make_thumbnails(group: BrowserGroup, predictions: Sequence[Predictions], out_dir: Path, folder: str,
                    samples: int = DEFAULT_SAMPLES, frames: int = DEFAULT_FRAMES) -> None:
    """Draw the thumbnails of up to ``samples`` samples of ``group`` into ``out_dir`` (whose
    path relative to the page is ``folder``) and record them in ``group.images``."""
    preds = [p for p in predictions if group_of(p.entry) == (group.benchmark, group.split, group.protocol)]
    if not preds or samples < 1:
        return
    bench = preds[0].benchmark
    columns = [group.methods.index(p.entry.method) for p in preds]
    where = preds[0].entry.provenance.path or "<results>"

    def sample_of(key: str) -> Any:
        try:
            return bench.sample(key)
        except KeyError:
            raise MetadataError(where, f"per-sample key {key!r} is not a sample of {bench.name} "
                                       f"at {bench.root}") from None

    def target(key: str) -> tuple:
        s = sample_of(key)
        return s.video_id, tuple(sorted(s.obj_ids))

    for n, key in enumerate(choose_samples(group.rows, columns, samples, target), start=1):
        sample = sample_of(key)
        names = sample_frames(list(bench.scored_frames(sample)), frames)
        if not names:
            continue
        per_method = read_frames(bench, sample, names, [p.folder for p in preds])
        style = sample_style([p for pairs in per_method for p in pairs])
        sub = f"{n:03d}_{slug(key)}"
        shown: dict[str, Any] = {}
        for m, (p, pairs) in enumerate(zip(preds, per_method, strict=True)):
            tiles, scores = [], []
            for f, pair in enumerate(pairs):
                name = f"{sub}/m{m}_{f}.png"
                write_bytes_atomic(out_dir / name, png_bytes(Image.fromarray(draw_pair(pair, style, THUMB_HEIGHT))))
                tiles.append(f"{folder}/{name}")
                scores.append(frame_scores(pair.gt, pair.pred).j)
            shown[p.entry.method] = {"tiles": tiles, "J": scores,
                                     "missing": [pair.frame for pair in pairs if pair.pred is None]}
        group.images[key] = {"frames": names, "fill": style.fill_hex, "methods": shown}
