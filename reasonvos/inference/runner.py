"""The shared inference runner behind ``reasonvos infer``.

It shards videos across processes by ``RANK``/``WORLD_SIZE`` (so ``torchrun`` runs it on K GPUs
without overlap), keeps all samples of a video on one rank (a model can cache per-video work),
skips samples whose predictions are complete (resume), writes each sample into a temporary
folder and renames it into place (an interrupted run never leaves a half-written sample), and
shows a progress bar.

The folder's manifest (``.reasonvos-infer.json``) records what makes the run this run (see
:mod:`reasonvos.inference.run_identity`); a resume that differs in any of it is refused, naming
each difference. Each rank logs the sample folders it renames into place
(``.reasonvos-infer-written.<rank>.jsonl``, written before the rename), so a restart removes exactly
those and refuses a folder holding anything else. A non-empty folder without a manifest is never
filled: its files are someone else's.

Models may note facts about a sample (:meth:`VideoSegmenter.take_notes`, e.g. post-optimisation
left its masks unrefined): each rank logs them (``.reasonvos-infer-notes.<rank>.jsonl``), and the
manifest's ``sample_notes`` counts them over every log when a rank finishes. A model whose options
ask to keep its unrefined masks (``keep_raw``) gets a second prediction folder, owned and resumed
by the same rules, with the same manifest marked ``"predictions": "unrefined"``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from tqdm import tqdm

from reasonvos.benchmarks.model import Benchmark, Sample
from reasonvos.errors import InputError
from reasonvos.fileio import open_regular, read_json, write_json_atomic
from reasonvos.inference.run_identity import MANIFEST_FORMAT, differences, model_identity, options_identity
from reasonvos.inference.segmenter import VideoSegmenter
from reasonvos.masks import encode_binary_png

RUN_INFO_NAME = ".reasonvos-infer.json"
#: per-rank logs of the sample folders the runner renamed into place (``--restart`` removes only those)
WRITTEN_LOG_GLOB = ".reasonvos-infer-written.*.jsonl"
#: per-rank logs of what models noted about samples (:meth:`VideoSegmenter.take_notes`)
NOTES_LOG_GLOB = ".reasonvos-infer-notes.*.jsonl"
_END = object()


@dataclass
class RunStats:
    written: int = 0
    skipped: int = 0
    rank: int = 0
    world_size: int = 1
    #: note -> value -> samples, over the samples this run wrote (e.g. post_optimize -> refined -> 12)
    notes: dict[str, dict[str, int]] = field(default_factory=dict)


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


def _log_written(out_dir: Path, rank: int, rel: PurePosixPath) -> None:
    with open(out_dir / WRITTEN_LOG_GLOB.replace("*", str(rank)), "a", encoding="utf-8") as log:
        log.write(json.dumps(str(rel)) + "\n")


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
        _log_written(out_dir, rank, rel)  # before the rename: a folder in place is always logged
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(OSError):  # other ranks may still be using it
            tmp_root.rmdir()


#: at most this many videos are named on stderr when frame listings differ (all are in the manifest)
LISTING_LINES = 10


def frame_listing_differences(benchmark: Benchmark) -> dict[str, str]:
    """Video id -> how the official scripts' ``sorted(glob('*.jpg'))`` differs from the metadata's
    frames (:func:`reasonvos.frames.listing_difference`), for the videos where it does. The
    toolkit reads the metadata's frames; VideoLISA's and LISA's scripts list the folder, so where
    the two differ they sampled other frames and their numbers are not comparable one to one."""
    from reasonvos.frames import listing_difference

    out = {}
    for vid, video in benchmark.videos.items():
        line = listing_difference(video)
        if line is not None:
            out[vid] = line
    return out


def _say_listing_differences(found: dict[str, str]) -> None:
    import sys

    for vid, line in list(found.items())[:LISTING_LINES]:
        print(f"reasonvos: note: video {vid}: {line}; this run reads the metadata's frames", file=sys.stderr)
    if len(found) > LISTING_LINES:
        print(f"reasonvos: note: {len(found) - LISTING_LINES} more videos differ in the same way; the run "
              "manifest's frame_listing names each", file=sys.stderr)


def _manifest(benchmark: Benchmark, identity: dict, world_size: int) -> dict:
    """What this run writes to (and compares with) the folder's run manifest."""
    from reasonvos import __version__

    info = {"format": MANIFEST_FORMAT, "toolkit": {"name": "reasonvos", "version": __version__},
            "benchmark": benchmark.name, "split": benchmark.split, **identity, "world_size": world_size}
    return json.loads(json.dumps(info))  # as it will read back (tuples become lists)


def check_resumable(out_dir: str | Path, benchmark: Benchmark, model: str, options: Any,
                    restart: bool = False) -> None:
    """Before building a registry model (and loading its weights): refuse now what
    :func:`run_inference` would refuse later for this folder, model and options."""
    out_dir = Path(out_dir)
    raw = raw_dir(options)
    if raw is not None:
        _check_distinct(out_dir, raw)
    for folder, marker in ((out_dir, None), (raw, RAW_MARK)):
        if folder is None or not folder.is_dir():
            continue
        if restart:
            foreign = _foreign_entries(folder, _written_folders(folder, benchmark))
            if foreign:
                raise _restart_refusal(foreign)
            continue
        _check_owned(folder)
        if (folder / RUN_INFO_NAME).is_file():  # weights are fingerprinted only when there is a run to compare
            manifest = _manifest(benchmark, options_identity(model, options), 1)
            _check_same_run(folder / RUN_INFO_NAME, _marked(manifest, marker))


#: how the manifest of a ``keep_raw`` folder marks its predictions
RAW_MARK = "unrefined"


def raw_dir(options: Any) -> Path | None:
    """The folder the options ask the unrefined masks to be kept in (``keep_raw``), if any."""
    value = getattr(options, "keep_raw", None)
    return None if value is None else Path(value)


def _marked(manifest: dict, marker: str | None) -> dict:
    return manifest if marker is None else {**manifest, "predictions": marker}


def _check_distinct(out_dir: Path, raw: Path) -> None:
    a, b = out_dir.resolve(), raw.resolve()
    if a == b or a in b.parents or b in a.parents:
        raise InputError(raw, f"the folder for unrefined masks must be apart from the prediction folder {out_dir}")


def _log_notes(out_dir: Path, rank: int, sample: Sample, notes: dict) -> None:
    with open(out_dir / NOTES_LOG_GLOB.replace("*", str(rank)), "a", encoding="utf-8") as log:
        log.write(json.dumps({"sample": sample.key, **notes}, sort_keys=True) + "\n")


def read_notes(out_dir: str | Path) -> dict[str, dict]:
    """Sample key -> the notes models logged for it in ``out_dir`` (every rank; the latest wins)."""
    notes: dict[str, dict] = {}
    for log in sorted(Path(out_dir).glob(NOTES_LOG_GLOB)):
        with open_regular(log, "inference notes log") as f:  # a FIFO there is refused, never opened
            text = f.read().decode("utf-8", errors="replace")
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            if isinstance(entry, dict) and isinstance(entry.get("sample"), str):
                notes[entry.pop("sample")] = entry
    return notes


def count_notes(notes: dict[str, dict]) -> dict[str, dict[str, int]]:
    """note -> value -> samples, over string-valued notes (``post_optimize`` -> ``refined`` -> 12)."""
    counts: dict[str, dict[str, int]] = {}
    for entry in notes.values():
        for key, value in entry.items():
            if isinstance(value, str):
                counts.setdefault(key, {})
                counts[key][value] = counts[key].get(value, 0) + 1
    return {k: dict(sorted(v.items())) for k, v in sorted(counts.items())}


def _read_manifest(info_path: Path) -> dict:
    info = read_json(info_path, "inference run manifest")
    if not isinstance(info, dict):
        raise InputError(info_path, "inference run manifest is not a JSON object")
    return info


def _check_same_run(info_path: Path, new: dict) -> None:
    """Refuse to resume into a folder another run wrote: resume skips its complete samples, so the
    folder would silently mix two runs. One line names each setting that differs (old -> new)."""
    if not info_path.is_file():
        return
    old = _read_manifest(info_path)
    advice = "pass --restart (restart=True) to start afresh, or use another output folder"
    if old.get("format") != MANIFEST_FORMAT:
        before = old.get("model")
        name = before.get("name") if isinstance(before, dict) else None
        raise InputError(
            info_path,
            f"this folder holds predictions of model {name!r} written by an earlier reasonvos that did not "
            f"record the model's options and weights, so resuming cannot be shown to continue the same run; "
            f"{advice}",
        )
    diffs = differences(old, new)
    if diffs:
        raise InputError(info_path, f"resuming would mix two runs in one folder: {'; '.join(diffs)}; {advice}")


def _toolkit_entries(out_dir: Path) -> set[str]:
    """Top-level names in the prediction folder that belong to the runner's bookkeeping."""
    return {RUN_INFO_NAME, ".tmp", *(p.name for p in out_dir.glob(WRITTEN_LOG_GLOB)),
            *(p.name for p in out_dir.glob(NOTES_LOG_GLOB))}


def _check_owned(out_dir: Path) -> None:
    """Refuse a non-empty folder that holds no run manifest: its files are someone else's."""
    if (out_dir / RUN_INFO_NAME).exists():
        return
    ours = _toolkit_entries(out_dir)
    try:
        others = sorted(p.name for p in out_dir.iterdir() if p.name not in ours)
    except OSError as e:
        raise InputError(out_dir, f"cannot list the prediction folder ({e.strerror or e})") from e
    if others:
        raise InputError(
            out_dir, f"the prediction folder is not empty ({others[0]!r}{' and more' if len(others) > 1 else ''}) "
            f"and holds no {RUN_INFO_NAME}, so reasonvos infer did not write it; use an empty or new folder",
        )


def _legacy_folders(out_dir: Path, benchmark: Benchmark | None) -> set[PurePosixPath]:
    """The sample folders of a run made before the runner kept logs (its manifest has no format):
    those of ``benchmark``, when the manifest names the same benchmark and split."""
    info_path = out_dir / RUN_INFO_NAME
    if benchmark is None or not info_path.is_file():
        return set()
    old = _read_manifest(info_path)
    if old.get("format") is not None or (old.get("benchmark"), old.get("split")) != (benchmark.name, benchmark.split):
        return set()
    return {_relative_prediction_dir(benchmark, s) for s in benchmark.samples}


def _written_folders(out_dir: Path, benchmark: Benchmark | None = None) -> set[PurePosixPath]:
    """Sample folders the runner recorded (in its logs) as written in this folder."""
    folders: set[PurePosixPath] = _legacy_folders(out_dir, benchmark)
    for log in out_dir.glob(WRITTEN_LOG_GLOB):
        try:
            lines = log.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(log, f"cannot read the runner's log of written folders ({e})") from e
        for line in lines:
            try:
                rel = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill: its folder was never renamed into place
            if isinstance(rel, str):
                folders.add(PurePosixPath(rel))
    return folders


def _foreign_entries(out_dir: Path, written: set[PurePosixPath]) -> list[Path]:
    """Everything in ``out_dir`` the runner did not write: files other than PNGs in logged sample
    folders, folders that neither are nor hold one, symlinks. The bookkeeping files are ours."""
    parents = {p for rel in written for p in rel.parents if p != PurePosixPath(".")}
    ours = _toolkit_entries(out_dir)
    foreign: list[Path] = []

    def visit(folder: Path, rel: PurePosixPath | None) -> None:
        for entry in sorted(folder.iterdir()):
            child = PurePosixPath(entry.name) if rel is None else rel / entry.name
            if rel is None and entry.name in ours:
                continue
            if entry.is_symlink():
                foreign.append(entry)
            elif entry.is_dir():
                if child in written or child in parents:
                    visit(entry, child)
                else:
                    foreign.append(entry)
            elif not (rel in written and entry.suffix == ".png"):
                foreign.append(entry)

    try:
        visit(out_dir, None)
    except OSError as e:
        raise InputError(e.filename or out_dir, f"cannot list what --restart would remove ({e.strerror or e})") from e
    return foreign


def _restart_refusal(foreign: list[Path]) -> InputError:
    more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
    return InputError(foreign[0], f"--restart refused: reasonvos infer did not write this{more}; nothing "
                      "was removed (move it away, or use another output folder)")


def clear_previous_run(out_dir: str | Path, benchmark: Benchmark | None = None) -> int:
    """Remove what earlier runs wrote in ``out_dir`` (their manifest, logs, temporary folder and the
    sample folders their logs list); return how many sample folders went. A folder from a
    reasonvos that kept no logs is cleared when its manifest names ``benchmark`` and its split.

    Refused, before anything is removed, when the folder holds anything else: a file the runner
    did not write (also inside a sample folder), a symlink, or a sample folder no log lists.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return 0
    written = _written_folders(out_dir, benchmark)
    foreign = _foreign_entries(out_dir, written)
    if foreign:
        raise _restart_refusal(foreign)
    removed = 0
    for rel in sorted(written, key=lambda r: len(r.parts), reverse=True):
        folder = out_dir / rel
        if folder.is_dir():
            for png in folder.glob("*.png"):
                png.unlink()
            with contextlib.suppress(OSError):  # also the parent of another sample folder
                folder.rmdir()
            removed += 1
    for parent in sorted({p for rel in written for p in rel.parents if p != PurePosixPath(".")},
                         key=lambda r: len(r.parts), reverse=True):
        with contextlib.suppress(OSError):  # a parent that is itself a logged sample folder: gone already
            (out_dir / parent).rmdir()
    if (out_dir / ".tmp").is_dir():
        shutil.rmtree(out_dir / ".tmp")
    for log in [*out_dir.glob(WRITTEN_LOG_GLOB), *out_dir.glob(NOTES_LOG_GLOB)]:
        log.unlink()
    (out_dir / RUN_INFO_NAME).unlink(missing_ok=True)  # last: an interrupted restart can be repeated
    return removed


def run_inference(
    model: VideoSegmenter,
    benchmark: Benchmark,
    out_dir: str | Path,
    rank: int | None = None,
    world_size: int | None = None,
    quiet: bool = False,
    restart: bool = False,
) -> RunStats:
    """Run ``model`` on this rank's share of ``benchmark`` and write predictions under ``out_dir``.

    A folder an earlier run wrote is resumed (complete samples are skipped) only when the run is
    the same: benchmark, split, model, options, weights identity and toolkit version (see
    :mod:`reasonvos.inference.run_identity`); otherwise an InputError names what differs.
    ``restart=True`` first removes what earlier runs wrote there (see :func:`clear_previous_run`); it needs a
    single process, since other ranks could not tell when the removal is over.
    """
    if benchmark.prediction_kind != "binary":
        raise InputError(
            benchmark.root, f"{benchmark.name} expects {benchmark.prediction_kind} predictions (pixel = object id); "
            "the runner writes one binary 0/255 mask per sample",
        )
    if rank is None or world_size is None:
        rank, world_size = shard_from_env()
    out_dir = Path(out_dir)
    if restart and world_size > 1:
        raise InputError(out_dir, "--restart needs a single process (RANK/WORLD_SIZE unset): run it once "
                         "without torchrun, or start the shards on a new folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "the prediction folder is not a folder")
    manifest = _manifest(benchmark, model_identity(model), world_size)
    if rank == 0:  # a fact about the data, not part of the run's identity (resume does not compare it)
        manifest["frame_listing"] = frame_listing_differences(benchmark)
        if not quiet:
            _say_listing_differences(manifest["frame_listing"])
    raw = raw_dir(getattr(model, "options", None))
    folders = [(out_dir, None)]
    if raw is not None:
        _check_distinct(out_dir, raw)
        folders.append((raw, RAW_MARK))
    for folder, marker in folders:
        if folder.exists() and not folder.is_dir():
            raise InputError(folder, "the prediction folder is not a folder")
        if restart:
            clear_previous_run(folder, benchmark)
        folder.mkdir(parents=True, exist_ok=True)
        _check_owned(folder)
        info_path = folder / RUN_INFO_NAME
        _check_same_run(info_path, _marked(manifest, marker))
        if rank == 0 or not info_path.exists():  # every rank's manifest is the same; the first one writes it
            write_json_atomic(info_path, _marked(manifest, marker))
    if raw is not None:
        model.raw_writer = lambda b, s, masks: write_sample(b, s, masks, raw, rank)
    stats = RunStats(rank=rank, world_size=world_size)
    todo = shard_samples(benchmark, rank, world_size)
    bar = tqdm(todo, desc=f"{model.name} [{rank}/{world_size}]", unit="sample", disable=quiet or rank != 0)
    for sample in bar:
        if is_complete(benchmark, sample, out_dir):
            stats.skipped += 1
            continue
        write_sample(benchmark, sample, model.segment_sample(benchmark, sample), out_dir, rank)
        stats.written += 1
        take_notes = getattr(model, "take_notes", None)  # duck-typed models may lack it
        notes = take_notes() if take_notes is not None else {}
        if notes:
            _log_notes(out_dir, rank, sample, notes)
            for key, value in count_notes({sample.key: notes}).items():
                for v, n in value.items():
                    stats.notes.setdefault(key, {})
                    stats.notes[key][v] = stats.notes[key].get(v, 0) + n
    if any(out_dir.glob(NOTES_LOG_GLOB)):  # counted over every rank's log, resumed runs included
        info_path = out_dir / RUN_INFO_NAME  # as written (rank 0's carries the frame listing), plus the counts
        info = _read_manifest(info_path) if info_path.is_file() else manifest
        write_json_atomic(info_path, {**info, "sample_notes": count_notes(read_notes(out_dir))})
    return stats

