"""The shared inference runner behind ``reasonvos infer``.

It shards videos across processes by ``RANK``/``WORLD_SIZE`` (so ``torchrun`` runs it on K GPUs
without overlap), keeps all samples of a video on one rank (a model can cache per-video work),
skips samples whose predictions are complete (resume), writes each sample into a temporary
folder and renames it into place (an interrupted run never leaves a half-written sample), and
shows a progress bar.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .errors import InputError
from .fileio import write_json_atomic
from .masks import encode_binary_png
from .model import Benchmark, Sample
from .segmenter import VideoSegmenter

RUN_INFO_NAME = ".reasonvos-infer.json"


@dataclass
class RunStats:
    written: int = 0
    skipped: int = 0
    rank: int = 0
    world_size: int = 1


def shard_from_env() -> tuple[int, int]:
    """(rank, world_size) from torchrun's environment, (0, 1) when not distributed."""
    try:
        rank = int(os.environ.get("RANK", "0"))
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError as e:
        raise InputError(None, f"RANK/WORLD_SIZE must be integers ({e})") from e
    if world < 1 or not 0 <= rank < world:
        raise InputError(None, f"invalid shard RANK={rank} WORLD_SIZE={world}")
    return rank, world


def shard_samples(benchmark: Benchmark, rank: int, world_size: int) -> list[Sample]:
    """Samples of this rank: whole videos, dealt round-robin in benchmark order."""
    order = list(dict.fromkeys(s.video_id for s in benchmark.samples))
    mine = set(order[rank::world_size])
    return [s for s in benchmark.samples if s.video_id in mine]


def is_complete(benchmark: Benchmark, sample: Sample, out_dir: Path) -> bool:
    folder = out_dir / benchmark.prediction_dir(sample)
    if not folder.is_dir():
        return False
    present = {p.name for p in folder.iterdir()}
    return all(f"{frame}.png" in present for frame in benchmark.prediction_frames(sample))


def _tmp_name(rank: int, key: str) -> str:
    return f"{rank}-" + re.sub(r"[^A-Za-z0-9._-]", "_", key)


def write_sample(benchmark: Benchmark, sample: Sample, masks, out_dir: Path, rank: int = 0) -> None:
    """Write one sample's masks (one per prediction frame) atomically as a folder."""
    frames = list(benchmark.prediction_frames(sample))
    size = benchmark.videos[sample.video_id].frame_size()
    tmp_root = out_dir / ".tmp"
    tmp = tmp_root / _tmp_name(rank, sample.key)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        n = 0
        for frame, mask in zip(frames, masks, strict=False):
            mask = np.asarray(mask)
            if mask.shape != size:
                raise InputError(
                    None,
                    f"model returned a {mask.shape} mask for {sample.video_id}/{frame}, expected {size}",
                )
            (tmp / f"{frame}.png").write_bytes(encode_binary_png(mask))
            n += 1
        if n != len(frames):
            raise InputError(None, f"model returned {n} masks for {sample.key}, expected {len(frames)}")
        final = out_dir / benchmark.prediction_dir(sample)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(OSError):  # other ranks may still be using it
            tmp_root.rmdir()


def run_inference(
    model: VideoSegmenter,
    benchmark: Benchmark,
    out_dir: str | Path,
    rank: int | None = None,
    world_size: int | None = None,
    quiet: bool = False,
) -> RunStats:
    """Run ``model`` on this rank's share of ``benchmark`` and write predictions under ``out_dir``."""
    if rank is None or world_size is None:
        rank, world_size = shard_from_env()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        info = {"benchmark": benchmark.name, "split": benchmark.split, "model": model.describe(),
                "world_size": world_size}
        write_json_atomic(out_dir / RUN_INFO_NAME, info)
    stats = RunStats(rank=rank, world_size=world_size)
    todo = shard_samples(benchmark, rank, world_size)
    bar = tqdm(todo, desc=f"{model.name} [{rank}/{world_size}]", unit="sample", disable=quiet or rank != 0)
    for sample in bar:
        if is_complete(benchmark, sample, out_dir):
            stats.skipped += 1
            continue
        write_sample(benchmark, sample, model.segment_sample(benchmark, sample), out_dir, rank)
        stats.written += 1
    return stats
