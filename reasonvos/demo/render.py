"""Render the sample scenes into a ReasonVOS-layout benchmark, identical bytes on every run.

Everything that decides a byte is fixed: the background textures come from seeded numpy
generators, shapes are filled with OpenCV's integer polygon/circle rasteriser (no anti-aliasing,
so the ground truth is exactly the pixels the shape covers), JPEGs are written by Pillow with
fixed quality and chroma subsampling, PNGs by :func:`reasonvos.masks.encode_binary_png`, and the
metadata JSON with sorted keys. A shape's ground truth is its *visible* pixels: where a shape in
front covers it, its mask is cut away.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from reasonvos.demo.expressions import scene_expressions
from reasonvos.demo.scenes import COLOURS, Scene, SceneObject, sample_scenes
from reasonvos.fileio import atomic_dir
from reasonvos.masks import encode_binary_png

#: Pillow JPEG settings (fixed so the bytes never change): quality 90, 4:4:4, baseline
JPEG_OPTIONS = {"format": "JPEG", "quality": 90, "subsampling": 0, "optimize": False, "progressive": False}
#: sub-pixel bits for cv2 rasterisation (coordinates in 1/16 pixel)
_SHIFT = 4


@dataclass(frozen=True)
class RenderedScene:
    """Pixels and per-object masks of one scene.

    ``labels[t]`` is 0 for background and ``k + 1`` where object ``k`` (in ``scene.objects``
    order) is visible; ``full[t, k]`` is object ``k``'s in-frame footprint ignoring occlusion;
    ``centres[k]`` its (x, y) path.
    """

    scene: Scene
    images: np.ndarray  # (T, H, W, 3) uint8 RGB
    labels: np.ndarray  # (T, H, W) uint8
    full: np.ndarray  # (T, K, H, W) bool
    centres: np.ndarray  # (K, T, 2) float64

    def visible(self, k: int) -> np.ndarray:
        """(T, H, W) bool: object ``k``'s ground truth (visible pixels)."""
        return self.labels == k + 1


def background_texture(seed: int, height: int, width: int) -> np.ndarray:
    """A muted, seeded texture (blotches + stripes + grain) for the optical flow to track."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(height // 8 + 2, width // 8 + 2, 3), dtype=np.uint8)
    blotches = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    angle = rng.uniform(0, np.pi)
    stripes = 12.0 * np.sin((np.cos(angle) * xx + np.sin(angle) * yy) / 3.5)
    grain = rng.normal(0.0, 6.0, size=(height, width, 3))
    tint = rng.uniform(35, 60, size=3)
    tex = tint + 0.25 * (blotches - 128.0) + stripes[..., None] + grain
    return np.clip(np.rint(tex), 0, 255).astype(np.uint8)


def _polygon(obj: SceneObject, x: float, y: float, t: int) -> np.ndarray:
    """Vertices of a polygonal shape at centre (x, y) and frame t, in 1/16 pixel units."""
    r = obj.radius
    rot = np.deg2rad(obj.spin * t)
    if obj.shape == "square":
        angles = rot + np.deg2rad(45.0 + 90.0 * np.arange(4))
        radii = np.full(4, r * np.sqrt(2.0))
    elif obj.shape == "triangle":
        angles = rot + np.deg2rad(-90.0 + 120.0 * np.arange(3))
        radii = np.full(3, r * 1.3)
    elif obj.shape == "star":
        angles = rot + np.deg2rad(-90.0 + 36.0 * np.arange(10))
        radii = np.where(np.arange(10) % 2 == 0, r * 1.25, r * 0.5)
    else:
        raise ValueError(f"not a polygon shape: {obj.shape!r}")
    pts = np.stack([x + radii * np.cos(angles), y + radii * np.sin(angles)], axis=1)
    return np.rint(pts * (1 << _SHIFT)).astype(np.int32)


def shape_mask(obj: SceneObject, x: float, y: float, t: int, size: tuple[int, int]) -> np.ndarray:
    """The pixels object ``obj`` covers at frame ``t`` (clipped to the frame)."""
    canvas = np.zeros(size, np.uint8)
    if obj.shape == "disc":
        centre = (int(np.rint(x * (1 << _SHIFT))), int(np.rint(y * (1 << _SHIFT))))
        radius = int(np.rint(obj.radius * (1 << _SHIFT)))
        cv2.circle(canvas, centre, radius, 1, thickness=-1, lineType=cv2.LINE_8, shift=_SHIFT)
    else:
        cv2.fillPoly(canvas, [_polygon(obj, x, y, t)], 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return canvas.astype(bool)


def _paint(obj: SceneObject, centre: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Colours of a shape's pixels: its colour shaded by a pattern fixed to the shape, so the
    shape's inside has texture that moves with it (as real objects do; flat fills defeat flow)."""
    ys, xs = np.nonzero(mask)
    lx, ly = xs - centre[0], ys - centre[1]
    shade = 0.72 + 0.28 * (0.5 + 0.5 * np.sin(lx / 2.2) * np.sin(ly / 2.2))
    colour = np.array(COLOURS[obj.colour], np.float64)
    return np.clip(np.rint(shade[:, None] * colour), 0, 255).astype(np.uint8)


def render_scene(scene: Scene) -> RenderedScene:
    """Draw every frame: the panned background, then the shapes back to front."""
    h, w = scene.size
    n = len(scene.frames)
    px, py = scene.pan
    texture = background_texture(scene.texture_seed, h + abs(py) * n + 1, w + abs(px) * n + 1)
    centres = np.stack([o.centres(n) for o in scene.objects])
    order = sorted(range(len(scene.objects)), key=lambda k: scene.objects[k].z)
    images = np.empty((n, h, w, 3), np.uint8)
    labels = np.zeros((n, h, w), np.uint8)
    full = np.zeros((n, len(scene.objects), h, w), bool)
    for t in range(n):
        ox = px * t if px >= 0 else abs(px) * (n - t)
        oy = py * t if py >= 0 else abs(py) * (n - t)
        frame = texture[oy : oy + h, ox : ox + w].copy()
        for k in order:
            obj = scene.objects[k]
            m = shape_mask(obj, centres[k, t, 0], centres[k, t, 1], t, (h, w))
            full[t, k] = m
            labels[t][m] = k + 1
            frame[m] = _paint(obj, centres[k, t], m)
        images[t] = frame
    return RenderedScene(scene, images, labels, full, centres)


def encode_jpeg(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, **JPEG_OPTIONS)
    return buf.getvalue()


def _write_scene(base: Path, scene: Scene, rendered: RenderedScene) -> dict:
    img_dir = base / "JPEGImages" / scene.video
    img_dir.mkdir(parents=True)
    for frame, image in zip(scene.frames, rendered.images, strict=True):
        (img_dir / f"{frame}.jpg").write_bytes(encode_jpeg(image))
    for k, obj in enumerate(scene.objects):
        mask_dir = base / "Annotations" / f"{scene.source}_{scene.video}_{obj.obj_id}"
        mask_dir.mkdir(parents=True)
        for frame, mask in zip(scene.frames, rendered.visible(k), strict=True):
            (mask_dir / f"{frame}.png").write_bytes(encode_binary_png(mask))
    exps = scene_expressions(scene, rendered)
    return {
        "source": scene.source,
        "frames": list(scene.frames),
        "expressions": [
            {"obj_id": e.obj_id, "exp_id": e.exp_id, "exp_text": e.text, "is_sent": e.is_sent} for e in exps
        ],
    }


def write_sample_benchmark(out_dir: str | Path, scenes: Sequence[Scene] | None = None) -> Path:
    """Write the sample benchmark to ``out_dir/ReasonVOS`` (replacing it) and return that folder.

    ``scenes`` picks a subset (tests use a few videos to stay quick); default: all of them.
    The folder is assembled beside its final place and renamed in, so an interrupted run never
    leaves a half-written sample where a whole one is expected.
    """
    scenes = sample_scenes() if scenes is None else tuple(scenes)
    target = Path(out_dir) / "ReasonVOS"
    with atomic_dir(target) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; the sample is ordinary data
        videos = {scene.video: _write_scene(tmp, scene, render_scene(scene)) for scene in scenes}
        meta = json.dumps({"videos": videos}, indent=1, sort_keys=True, ensure_ascii=True) + "\n"
        (tmp / "meta_expressions.json").write_text(meta, encoding="utf-8")
    return target
