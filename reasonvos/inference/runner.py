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
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from reasonvos.benchmarks.model import Benchmark, Sample
from reasonvos.errors import InputError
from reasonvos.fileio import read_json, write_json_atomic
from reasonvos.inference.segmenter import VideoSegmenter
from reasonvos.masks import encode_binary_png

RUN_INFO_NAME = ".reasonvos-infer.json"
_END = object()


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
    if world > 1 and "RANK" not in os.environ:
        raise InputError(None, f"WORLD_SIZE={world} but RANK is not set: every process would run as rank 0")
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


def _relative_prediction_dir(benchmark: Benchmark, sample: Sample) -> PurePosixPath:
    """The sample's folder, refused when its ids would place it outside the prediction root
    (``..``, an absolute path, an empty name): the runner deletes and replaces that folder."""
    rel = benchmark.prediction_dir(sample)
    if rel.is_absolute() or not rel.parts or any(part in ("", ".", "..") for part in rel.parts):
        raise InputError(
            benchmark.meta_path,
            f"sample {sample.key!r}: its ids give the prediction folder {str(rel)!r}, "
            "which is not a plain relative path inside the prediction root",
        )
    return rel


def _make_tmp(tmp: Path) -> None:
    """Create ``tmp`` under the shared ``.tmp``, which another rank may remove when it is empty."""
    for _ in range(100):
        try:
            tmp.mkdir(parents=True)
            return
        except FileNotFoundError:  # .tmp vanished between creating it and creating ``tmp``
            continue
    tmp.mkdir(parents=True)


def write_sample(benchmark: Benchmark, sample: Sample, masks, out_dir: Path, rank: int = 0) -> None:
    """Write one sample's masks (one per prediction frame) atomically as a folder."""
    rel = _relative_prediction_dir(benchmark, sample)
    frames = list(benchmark.prediction_frames(sample))
    size = benchmark.videos[sample.video_id].frame_size()
    tmp_root = out_dir / ".tmp"
    tmp = tmp_root / _tmp_name(rank, sample.key)
    if tmp.exists():
        shutil.rmtree(tmp)
    _make_tmp(tmp)
    try:
        n = 0
        masks = iter(masks)
        for frame, mask in zip(frames, masks, strict=False):
            mask = np.asarray(mask)
            if mask.dtype != bool:  # e.g. probabilities: thresholding is the model's decision, not ours
                raise InputError(None, f"model returned a {mask.dtype} mask for {sample.video_id}/{frame}; "
                                 "masks must be boolean")
            if mask.shape != size:
                raise InputError(
                    None,
                    f"model returned a {mask.shape} mask for {sample.video_id}/{frame}, expected {size}",
                )
            (tmp / f"{frame}.png").write_bytes(encode_binary_png(mask))
            n += 1
        if n != len(frames):
            raise InputError(None, f"model returned {n} masks for {sample.key}, expected {len(frames)}")
        if next(masks, _END) is not _END:
            raise InputError(None, f"model returned more masks than the {len(frames)} frames of {sample.key}")
        final = out_dir / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(OSError):  # other ranks may still be using it
            tmp_root.rmdir()


def _check_same_run(info_path: Path, benchmark: Benchmark, model: VideoSegmenter) -> None:
    """Refuse to resume into a folder another benchmark, split or model wrote: resume skips its
    complete samples, so the folder would silently mix two runs."""
    if not info_path.is_file():
        return
    info = read_json(info_path, "inference run info")
    if not isinstance(info, dict):
        raise InputError(info_path, "inference run info is not a JSON object")
    before = info.get("model")
    before_name = before.get("name") if isinstance(before, dict) else None
    now_name = model.describe().get("name", model.name)
    mine = (benchmark.name, benchmark.split, now_name)
    theirs = (info.get("benchmark"), info.get("split"), before_name if before_name is not None else now_name)
    if mine != theirs:
        raise InputError(
            info_path,
            f"this folder holds predictions of model {theirs[2]!r} on {theirs[0]} split {theirs[1]!r}; "
            f"resuming it with model {mine[2]!r} on {mine[0]} split {mine[1]!r} would mix two runs "
            "(use another output folder)",
        )


def run_inference(
    model: VideoSegmenter,
    benchmark: Benchmark,
    out_dir: str | Path,
    rank: int | None = None,
    world_size: int | None = None,
    quiet: bool = False,
) -> RunStats:
    """Run ``model`` on this rank's share of ``benchmark`` and write predictions under ``out_dir``."""
    if benchmark.prediction_kind != "binary":
        raise InputError(
            benchmark.root, f"{benchmark.name} expects {benchmark.prediction_kind} predictions (pixel = object id); "
            "the runner writes one binary 0/255 mask per sample",
        )
    if rank is None or world_size is None:
        rank, world_size = shard_from_env()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_same_run(out_dir / RUN_INFO_NAME, benchmark, model)
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
