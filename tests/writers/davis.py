"""Write a small DAVIS-layout folder of index (palette) PNGs, the format of DAVIS ``Annotations``.

Two layouts: ``flat`` (``<root>/<video>/<frame>.png``, what ``score davis --gt`` takes) and
``davis`` (a DAVIS root: ``DAVIS/{Annotations|Annotations_unsupervised}/480p/<video>/``,
``JPEGImages/480p/<video>/`` and ``ImageSets/2017/{train,val}.txt``). The label maps cover the
traps: void (255) pixels, non-contiguous object ids, an object absent in a frame, an
all-background frame. The helpers here (label maps, JPEG frames) are shared by the other writers.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from reasonvos.masks import DAVIS_PALETTE

VOID = 255


class DavisFixture(NamedTuple):
    """What was written: the root to load, and the label maps per video (one per frame)."""

    root: Path
    labels: dict[str, list[np.ndarray]]  # video -> uint8 label map per frame (0 bg, 255 void)
    frames: dict[str, list[str]]  # video -> frame names in order
    splits: dict[str, list[str]]  # split name -> videos (davis layout only; empty for flat)

    def masks(self, video: str) -> list[np.ndarray]:
        """Union of all objects per frame (what a one-sample-per-video GT mask is)."""
        return [(lab != 0) & (lab != VOID) for lab in self.labels[video]]


def object_labels(
    rng: np.random.Generator, n_frames: int, size: tuple[int, int], obj_ids: list[int],
    absent: dict[int, set[int]] | None = None, void: bool = False,
) -> list[np.ndarray]:
    """Label maps with one rectangle per object (later ids paint over earlier ones).

    ``absent[obj]`` lists frame indices where the object is not drawn; ``void`` adds a thin
    band of 255 at the bottom of every frame (DAVIS marks uncertain pixels that way).
    """
    h, w = size
    absent = absent or {}
    out = []
    for t in range(n_frames):
        lab = np.zeros(size, np.uint8)
        for obj in obj_ids:
            if t in absent.get(obj, set()):
                continue
            y0, x0 = int(rng.integers(0, h - 3)), int(rng.integers(0, w - 3))
            y1, x1 = int(rng.integers(y0 + 2, h + 1)), int(rng.integers(x0 + 2, w + 1))
            lab[y0:y1, x0:x1] = obj
        if void:
            lab[-1, :] = VOID
        out.append(lab)
    return out


def write_jpegs(folder: Path, frames: list[str], size: tuple[int, int], seed: int = 0) -> None:
    """Tiny JPEG frames (a flat grey that changes per frame); content is irrelevant to loaders."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        arr = np.full((*size, 3), (seed * 31 + 40 * i) % 255, np.uint8)
        Image.fromarray(arr).save(folder / f"{f}.jpg", quality=90)


def write_label_pngs(folder: Path, frames: list[str], labels: list[np.ndarray]) -> None:
    """Palette PNGs (DAVIS palette) whose pixel indices are the object ids, saved with Pillow
    directly (as the DAVIS tools do) so that loaders are not tested against our own writer."""
    folder.mkdir(parents=True, exist_ok=True)
    for f, lab in zip(frames, labels, strict=True):
        img = Image.fromarray(np.asarray(lab, np.uint8), mode="P")
        img.putpalette(DAVIS_PALETTE)
        img.save(folder / f"{f}.png")


def default_davis_videos(seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Three videos: one object; two objects with void and an absent object; ids 1 and 3 only,
    with an all-background frame."""
    rng = np.random.default_rng(seed)
    return {
        "bear": object_labels(rng, 3, (12, 16), [1]),
        "bike-packing": object_labels(rng, 4, (12, 16), [1, 2], absent={2: {1}}, void=True),
        "soapbox": object_labels(rng, 3, (10, 14), [1, 3], absent={1: {2}, 3: {2}}),
    }


def write_davis(
    root: Path, layout: str = "flat", annotations: str = "Annotations",
    videos: dict[str, list[np.ndarray]] | None = None, splits: dict[str, list[str]] | None = None,
    jpeg: bool = True,
) -> DavisFixture:
    """Write DAVIS-layout index PNGs.

    ``layout="flat"`` writes ``root/<video>/<frame>.png`` and returns ``root``; ``layout="davis"``
    writes ``root/DAVIS/<annotations>/480p/...`` (plus JPEGs and ImageSets) and returns
    ``root/DAVIS``. ``splits`` defaults to ``val`` = first two videos, ``train`` = the rest.
    """
    videos = default_davis_videos() if videos is None else videos
    frames = {v: [f"{i:05d}" for i in range(len(labs))] for v, labs in videos.items()}
    root = Path(root)
    if layout == "flat":
        for v, labs in videos.items():
            write_label_pngs(root / v, frames[v], labs)
        return DavisFixture(root, videos, frames, {})
    if layout != "davis":
        raise ValueError(f"layout must be 'flat' or 'davis', not {layout!r}")
    base = root / "DAVIS"
    names = list(videos)
    splits = {"val": names[:2], "train": names[2:]} if splits is None else splits
    for v, labs in videos.items():
        write_label_pngs(base / annotations / "480p" / v, frames[v], labs)
        if jpeg:
            write_jpegs(base / "JPEGImages" / "480p" / v, frames[v], labs[0].shape)
    sets = base / "ImageSets" / "2017"
    sets.mkdir(parents=True, exist_ok=True)
    for name, vids in splits.items():
        (sets / f"{name}.txt").write_text("".join(f"{v}\n" for v in vids))
    return DavisFixture(base, videos, frames, splits)
