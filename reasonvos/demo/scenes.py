"""The scenes of the embedded sample benchmark: which shapes move where, frame by frame.

Scenes are plain data (shapes, colours, key-framed paths), so the renderer is the only place that
turns them into pixels and the instruction writer can reason about the same trajectories. The set
is chosen to exercise what real benchmarks contain: motion along paths, a panning camera over a
textured background, one shape passing in front of another (partly and completely), shapes
entering and leaving the frame, and the naming styles of the four ReasonVOS sources (MOSE/MeViS
``00000``, VIPSeg ``00000001`` with 9-digit object ids, BURST ``frame0001`` with ``_`` in video names).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: frame size (H, W) of every sample video: small, so the demo stays fast
FRAME_SIZE: tuple[int, int] = (120, 160)

#: colour name -> RGB
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (214, 39, 40),
    "green": (44, 160, 44),
    "blue": (31, 90, 220),
    "yellow": (240, 215, 30),
    "orange": (255, 127, 14),
    "purple": (148, 60, 189),
    "cyan": (23, 200, 220),
    "white": (245, 245, 245),
}

SHAPES = ("disc", "square", "triangle", "star")


@dataclass(frozen=True)
class SceneObject:
    """One shape: ``path`` holds key frames ``(t, x, y)`` of its centre, linearly interpolated
    (held constant before the first and after the last key). Centres may lie outside the frame,
    which is how shapes enter and leave. Larger ``z`` is drawn in front."""

    obj_id: str
    shape: str
    colour: str
    radius: float
    path: tuple[tuple[int, float, float], ...]
    z: int = 0
    spin: float = 0.0  # degrees per frame (polygons only)

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    def centres(self, n_frames: int) -> np.ndarray:
        """(T, 2) array of (x, y) centres, one per frame."""
        t = np.arange(n_frames, dtype=np.float64)
        keys = np.array(self.path, dtype=np.float64)
        return np.stack([np.interp(t, keys[:, 0], keys[:, 1]), np.interp(t, keys[:, 0], keys[:, 2])], axis=1)


@dataclass(frozen=True)
class Scene:
    """One video: its name and source (which decide the folder names), frames, shapes, and the
    camera pan in pixels per frame (the background slides under the shapes)."""

    video: str
    source: str
    frames: tuple[str, ...]
    objects: tuple[SceneObject, ...]
    texture_seed: int
    pan: tuple[int, int] = (0, 0)

    @property
    def size(self) -> tuple[int, int]:
        return FRAME_SIZE


def frame_names(style: str, n: int) -> tuple[str, ...]:
    """Frame stems in a source dataset's style (docs/formats.md#reasonvos-layout, frame naming)."""
    if style in ("mose", "mevis"):
        return tuple(f"{i:05d}" for i in range(n))
    if style == "vipseg":
        return tuple(f"{i + 1:08d}" for i in range(n))
    if style == "burst":  # BURST keeps every 5th frame of the TAO videos: frame0001, frame0006, ...
        return tuple(f"frame{1 + 5 * i:04d}" for i in range(n))
    raise ValueError(f"unknown frame naming style {style!r}")


def _obj(obj_id: str, shape: str, colour: str, radius: float, *path: tuple[int, float, float],
         z: int = 0, spin: float = 0.0) -> SceneObject:
    return SceneObject(obj_id, shape, colour, radius, tuple(path), z, spin)


def sample_scenes() -> tuple[Scene, ...]:
    """The sample benchmark's videos, in the order they are written."""
    return (
        Scene("3f2a9c1e", "mose", frame_names("mose", 24), (
            _obj("1", "square", "red", 14, (0, 30, 70), (23, 130, 70), spin=2.0),
            _obj("2", "disc", "blue", 12, (0, 135, 75), (23, 25, 72), z=1),
            _obj("3", "triangle", "yellow", 12, (0, 80, 25)),
        ), texture_seed=11),
        Scene("7b41d0aa", "mose", frame_names("mose", 24), (
            _obj("1", "star", "green", 13, (0, -20, 50), (23, 185, 40), spin=-4.0),
            _obj("2", "square", "purple", 16, (0, 100, 20), (23, 110, 95), spin=2.0),
        ), texture_seed=12, pan=(1, 0)),
        Scene("e04c5a97", "mose", frame_names("mose", 24), (
            _obj("1", "disc", "purple", 11, (0, -15, 60), (23, 175, 60)),
            _obj("2", "star", "white", 14, (0, 80, 95), (23, 80, 20), spin=3.0),
            _obj("3", "triangle", "green", 12, (0, 130, 100)),
        ), texture_seed=13),
        Scene("c9e2_14f7b3", "mevis", frame_names("mevis", 24), (
            _obj("0", "disc", "orange", 10, (0, 40, 60), (10, 50, -15), (23, 50, -15)),
            _obj("1", "triangle", "cyan", 14, (0, 80, 80), (23, 190, 90), spin=3.0),
            _obj("2", "star", "red", 15, (0, 120, 40), (23, 100, 60), spin=2.0),
        ), texture_seed=21),
        Scene("5d08e611", "mevis", frame_names("mevis", 24), (
            _obj("0", "square", "blue", 24, (0, 80, 60), z=1),
            _obj("1", "disc", "yellow", 10, (0, 10, 62), (23, 150, 58)),
        ), texture_seed=22),
        Scene("311_Xk2pQm9aL0s", "vipseg", frame_names("vipseg", 24), (
            _obj("000006101", "disc", "green", 13, (0, 20, 20), (23, 140, 100), z=2),
            _obj("000012102", "triangle", "red", 15, (0, 140, 25), (23, 30, 95), z=1, spin=-3.0),
            _obj("000003203", "square", "white", 9, (0, 80, 110), (12, 80, 100), (23, 80, 110)),
        ), texture_seed=31),
        Scene("48_a7Hc0tFqB2M", "vipseg", frame_names("vipseg", 28), (
            _obj("000001101", "star", "purple", 16, (0, 60, 60), (27, 100, 60), spin=1.5),
            _obj("000002102", "square", "orange", 11, (0, 175, 30), (8, 130, 30), (27, 130, 90), z=1),
        ), texture_seed=32, pan=(0, 1)),
        Scene("YFCC100M_v_3e8a51c0f2d94b7e", "burst", frame_names("burst", 24), (
            _obj("1", "disc", "red", 9, (0, 20, 30), (23, 140, 30)),
            _obj("2", "triangle", "blue", 12, (0, 140, 90), (23, 20, 90), spin=5.0),
            _obj("3", "star", "yellow", 11, (0, 80, 60)),
            _obj("5", "square", "green", 8, (0, 80, 130), (8, 80, 95), (16, 80, 95), (23, 80, 135)),
        ), texture_seed=41),
        Scene("HACS_v_bQ0j5X9d_scene_0_42-180", "burst", frame_names("burst", 30), (
            _obj("1", "disc", "cyan", 14, (0, 30, 60), (15, 130, 60), (29, 30, 60), z=1),
            _obj("2", "triangle", "orange", 13, (0, 100, 30), (29, 110, 40), spin=-2.0),
        ), texture_seed=42, pan=(1, 1)),
    )
