"""Instructions for the sample videos, derived from what the rendered scene actually shows.

Every text is a *fact check* over the rendered trajectories and masks (who leaves first, who is
hidden behind whom, who never moves, ...): a fact is only stated when exactly one shape satisfies
it, with a margin, so each instruction is true of the video and refers to one object. Short
(``is_sent`` false) texts are phrases such as "the red square"; long (``is_sent`` true) texts
are reasoning-style questions. ``exp_id`` counts per object, so the same ``exp_id`` repeats for
different objects of a video, as in the real benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from reasonvos.demo.render import RenderedScene
    from reasonvos.demo.scenes import Scene

#: a shape's centre must move at least this far (pixels) to count as moving in a direction
_MOVE = 20.0
#: fraction of the in-frame footprint that must stay visible not to count as "hidden"
_HIDDEN = 0.5
#: expressions kept per object (its name first, then facts in FACTS order): keeps the demo quick
MAX_PER_OBJECT = 4


@dataclass(frozen=True)
class Expression:
    obj_id: str
    exp_id: str
    text: str
    is_sent: bool


@dataclass(frozen=True)
class SceneFacts:
    """Per-object measurements the texts are derived from."""

    in_frame: np.ndarray  # (K, T) pixels of the footprint inside the frame (no occlusion)
    visible: np.ndarray  # (K, T) visible pixels (the ground truth)
    covered_by: np.ndarray  # (K, K) pixels of object a covered by object b, summed over frames
    travel: np.ndarray  # (K,) path length of the centre
    shift: np.ndarray  # (K, 2) net (dx, dy) of the centre
    still: np.ndarray  # (K,) bool: the centre never moves (and does not spin)
    panning: bool

    @property
    def n_frames(self) -> int:
        return self.in_frame.shape[1]


def measure(scene: Scene, r: RenderedScene) -> SceneFacts:
    k = len(scene.objects)
    in_frame = r.full.sum(axis=(2, 3)).T
    visible = np.stack([r.visible(i).sum(axis=(1, 2)) for i in range(k)])
    covered = np.zeros((k, k), np.int64)
    for a in range(k):
        for b in range(k):
            if a != b:
                covered[a, b] = int((r.full[:, a] & (r.labels == b + 1)).sum())
    steps = np.diff(r.centres, axis=1)
    travel = np.hypot(steps[..., 0], steps[..., 1]).sum(axis=1)
    shift = r.centres[:, -1] - r.centres[:, 0]
    still = np.array([travel[i] == 0 and scene.objects[i].spin == 0 for i in range(k)])
    return SceneFacts(in_frame, visible, covered, travel, shift, still, scene.pan != (0, 0))


def _unique(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) == 1 else None


def _leader(values: np.ndarray, margin: float, lowest: bool = False) -> int | None:
    """The index whose value beats every other by ``margin`` (NaN = not a candidate)."""
    v = -values if lowest else values
    ok = np.flatnonzero(~np.isnan(v))
    if len(ok) < 2:
        return None
    order = ok[np.argsort(v[ok])[::-1]]
    return int(order[0]) if v[order[0]] - v[order[1]] >= margin else None


def _first_last(in_frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    present = in_frame > 0
    t = np.arange(present.shape[1])
    first = np.where(present.any(1), np.where(present, t, 10**6).min(1), -1)
    last = np.where(present.any(1), np.where(present, t, -1).max(1), -1)
    return first, last


# Each fact: (scene, facts) -> list of (object index, text, is_sent)
Fact = Callable[["Scene", SceneFacts], list[tuple[int, str, bool]]]


def fact_leaves(scene: Scene, f: SceneFacts) -> list[tuple[int, str, bool]]:
    first, last = _first_last(f.in_frame)
    leaves = (last >= 0) & (last < f.n_frames - 1)
    out = []
    if leaves.sum() >= 2:
        k = _leader(np.where(leaves, last, np.nan).astype(float), 2, lowest=True)
        if k is not None:
            out.append((k, "Which object is the first to leave the scene?", True))
    k = _unique(leaves)
    if k is not None:
        out.append((k, "Which shape moves out of view before the video ends?", True))
    return out


def fact_enters(scene: Scene, f: SceneFacts) -> list[tuple[int, str, bool]]:
    first, _ = _first_last(f.in_frame)
    k = _unique(first > 0)
    if k is None:
        return []
    return [(k, "Which object only comes into view after the video has started?", True)]


def fact_hidden(scene: Scene, f: SceneFacts) -> list[tuple[int, str, bool]]:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(f.in_frame > 0, f.visible / np.maximum(f.in_frame, 1), np.inf)
    hidden = ratio.min(axis=1) < _HIDDEN
    k = _unique(hidden)
    if k is None:
        return []
    out = []
    if (ratio[k] == 0).any():
        out.append((k, "Which shape disappears completely behind another one for a while?", True))
    elif all(f.covered_by[j].sum() == 0 for j in range(len(scene.objects)) if j != k):
        # "partly hidden" must not also fit a shape that is only grazed
        out.append((k, "Which object gets partly hidden behind another shape at some point?", True))
    occluder = _leader(f.covered_by[k].astype(float), 1)
    if occluder is not None and f.covered_by[k].sum() == f.covered_by[k, occluder]:
        out.append((occluder, f"Which shape covers the {scene.objects[k].name} at some point?", True))
    return out


def fact_still(scene: Scene, f: SceneFacts) -> list[tuple[int, str, bool]]:
    if f.panning:  # with a moving camera "stays in place" would be ambiguous
        return []
    k = _unique(f.still)
    if k is None:
        return []
    return [(k, "Which object stays in exactly the same place throughout the video?", True),
            (k, "the shape that never moves", False)]


def fact_travel(scene: Scene, f: SceneFacts) -> list[tuple[int, str, bool]]:
    k = _leader(f.travel, 0.3 * float(np.sort(f.travel)[-1]))
    if k is None or f.travel[k] < _MOVE:
        return []
    return [(k, "Which object travels the longest distance during the video?", True)]


def fact_direction(scene: Scene, f: SceneFacts) -> list[tuple[int, str, bool]]:
    out = []
    for axis, sign, word in ((0, -1, "left"), (0, 1, "right"), (1, -1, "top"), (1, 1, "bottom")):
        k = _unique(sign * f.shift[:, axis] >= _MOVE)
        if k is not None:
            name = scene.objects[k].shape
            if sum(o.shape == name for o in scene.objects) == 1:
                out.append((k, f"the {name} heading towards the {word}", False))
    first: dict[int, tuple[int, str, bool]] = {}
    for item in out:  # one direction per object is enough
        first.setdefault(item[0], item)
    return list(first.values())


def fact_size(scene: Scene, f: SceneFacts) -> list[tuple[int, str, bool]]:
    # the largest footprint seen while in frame: a shape's area when it is fully inside
    area = f.in_frame.max(axis=1).astype(float)
    k = _leader(area, 0.3 * float(area.max()))
    return [] if k is None else [(k, "the largest shape", False)]


_KNOWLEDGE = {
    "disc": "Which shape could roll away like a wheel?",
    "triangle": "Which shape has exactly three corners?",
    "star": "Which shape looks like the ones printed on a sheriff's badge?",
    "square": "Which shape has four equal sides and four right angles?",
}


def fact_knowledge(scene: Scene, f: SceneFacts) -> list[tuple[int, str, bool]]:
    shapes = [o.shape for o in scene.objects]
    return [(k, _KNOWLEDGE[s], True) for k, s in enumerate(shapes) if shapes.count(s) == 1]


FACTS: tuple[Fact, ...] = (
    fact_leaves, fact_enters, fact_hidden, fact_still, fact_travel, fact_direction, fact_size, fact_knowledge,
)


def scene_expressions(scene: Scene, rendered: RenderedScene) -> list[Expression]:
    """All expressions of one video, grouped by object; ``exp_id`` counts per object."""
    names = [o.name for o in scene.objects]
    if len(set(names)) != len(names):
        raise ValueError(f"scene {scene.video}: colour + shape must be unique per video")
    facts = measure(scene, rendered)
    per_obj: dict[int, list[tuple[str, bool]]] = {k: [(f"the {n}", False)] for k, n in enumerate(names)}
    for fact in FACTS:
        for k, text, is_sent in fact(scene, facts):
            if (text, is_sent) not in per_obj[k]:
                per_obj[k].append((text, is_sent))
    out = []
    for k, obj in enumerate(scene.objects):
        for i, (text, is_sent) in enumerate(per_obj[k][:MAX_PER_OBJECT]):
            out.append(Expression(obj.obj_id, str(i), text, is_sent))
    return out
