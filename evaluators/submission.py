"""Server submissions: check a prediction folder is complete, then zip it in the server's layout.

The zip holds ``<prefix>/<video>/<exp_id>/<frame>.png``, with the prefix each benchmark declares
(``BenchmarkSpec.submission_prefix``; None = no server):

- Ref-YouTube-VOS: ``Annotations/<video>/<exp_id>/<frame>.png`` (ReferFormer docs; VISA's zip script).
- MeViS valid: ``<video>/<exp_id>/<frame>.png`` directly at the zip root (prefix ``""``).

Every sample and every listed frame must be present, at the video's size, and binary; the
check decodes every PNG (in a process pool, one video per task) and fails with one grouped
report. PNGs that are already 0/255 grayscale are stored as they are; other binary encodings
(0/1, one palette index, ...) are re-encoded as 0/255, since the servers' acceptance of them is
not documented. The zip is written atomically and carries :data:`ZIP_COMMENT`, by which a later
run knows it may replace it (any other file at that path is refused).
"""

from __future__ import annotations

import os
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from reasonvos.benchmarks import registry
from reasonvos.benchmarks.model import Benchmark
from reasonvos.errors import InputError
from reasonvos.fileio import atomic_path
from reasonvos.masks import encode_binary_png, read_png_values
from reasonvos.outputs import OutputFile, check_outputs

from .checks import CheckReport, Problem, binary_mask, list_folder
from .protocols import read_prediction


def server_benchmarks() -> tuple[str, ...]:
    """Registered benchmarks that have an evaluation server (a ``submission_prefix``)."""
    return tuple(s.name for s in registry.all_specs() if s.submission_prefix is not None)


#: the zip's comment: marks a submission zip this toolkit wrote (servers ignore zip comments)
ZIP_COMMENT = b"reasonvos submission"


def is_submission_zip(path: Path) -> bool:
    """A zip this toolkit wrote (its comment says so)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.comment == ZIP_COMMENT
    except (zipfile.BadZipFile, ValueError):
        return False


@dataclass
class Submission:
    path: Path
    samples: int
    files: int
    reencoded: int


def _check_video(task: tuple[str, list[tuple[str, str, tuple[int, int]]]]) -> tuple[list[Problem], list[str]]:
    """Decode every PNG of one video: (problems, paths that need re-encoding as 0/255)."""
    _video, files = task
    problems: list[Problem] = []
    reencode: list[str] = []
    for path_str, _arc, size in files:
        path = Path(path_str)
        arr = read_prediction(path, problems, size)
        if arr is None:
            continue
        mask, problem = binary_mask(arr, path, size)
        if problem:
            problems.append(problem)
        elif not (arr.ndim == 2 and arr.dtype == np.uint8 and _is_zero_255(arr) and _is_gray8_png(path)):
            reencode.append(path_str)
    return problems, reencode


def _is_gray8_png(path: Path) -> bool:
    """8-bit grayscale (colour type 0): a palette PNG also decodes to 0/255 *indices*, but a
    reader that takes colours (cv2, ``convert('L')``) sees whatever its palette maps them to."""
    with path.open("rb") as f:
        head = f.read(26)
    return len(head) == 26 and head[12:16] == b"IHDR" and head[24] == 8 and head[25] == 0


def _is_zero_255(arr: np.ndarray) -> bool:
    top = arr.max(initial=0)
    return top in (0, 255) and (top == 0 or np.count_nonzero(arr) == np.count_nonzero(arr == 255))


def submission_files(benchmark: Benchmark, pred_dir: Path, report: CheckReport,
                     ) -> dict[str, list[tuple[str, str, tuple[int, int]]]]:
    """Per video: (file, name in the zip, expected size) for every sample and listed frame."""
    prefix = benchmark.spec.submission_prefix
    problems: list[Problem] = []
    by_video: dict[str, list[tuple[str, str, tuple[int, int]]]] = {}
    for sample in benchmark.samples:
        frames = list(benchmark.prediction_frames(sample))
        rel = benchmark.prediction_dir(sample)
        list_folder(pred_dir / rel, frames, frames, problems)
        size = benchmark.gt_size(sample)
        arc_dir = PurePosixPath(prefix, sample.video_id, sample.exp_id) if prefix else PurePosixPath(
            sample.video_id, sample.exp_id)
        entries = by_video.setdefault(sample.video_id, [])
        for frame in frames:
            entries.append((str(pred_dir / rel / f"{frame}.png"), str(arc_dir / f"{frame}.png"), size))
    report.add(problems)
    return by_video


def write_submission(benchmark: Benchmark, pred_dir: str | Path, out: str | Path, workers: int | None = None,
                     quiet: bool = True) -> Submission:
    """Check ``pred_dir`` for ``benchmark`` (one with a ``submission_prefix``, e.g. Ref-YTVOS or MeViS)
    and write the server zip ``out``."""
    if benchmark.spec.submission_prefix is None:
        raise InputError(None, f"no server submission for {benchmark.name}; supported: "
                         f"{', '.join(server_benchmarks())}")
    pred_dir, out = Path(pred_dir), Path(out)
    if not pred_dir.is_dir():
        raise InputError(pred_dir, "prediction folder not found")
    if out.suffix.lower() != ".zip":
        raise InputError(out, "the submission file must end in .zip")
    check_outputs([OutputFile(out, "the submission file", "a submission zip written by reasonvos", is_submission_zip)],
                  inputs=[pred_dir, benchmark.root])
    report = CheckReport(pred_dir)
    by_video = submission_files(benchmark, pred_dir, report)
    report.raise_if_any()
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    tasks = list(by_video.items())
    reencode: set[str] = set()
    bar = tqdm(total=len(tasks), desc="check submission", unit="video", disable=quiet)
    if workers == 1 or len(tasks) <= 1:
        results = []
        for t in tasks:
            results.append(_check_video(t))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            results = []
            for r in pool.map(_check_video, tasks, chunksize=1):
                results.append(r)
                bar.update()
    bar.close()
    for problems, again in results:
        report.add(problems)
        reencode.update(again)
    report.raise_if_any()
    files = [entry for _, entries in tasks for entry in entries]
    with atomic_path(out, suffix=".zip.tmp") as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        zf.comment = ZIP_COMMENT
        for path, arc, _size in files:
            if path in reencode:
                arr = read_png_values(path)
                # the file's date and mode, not the clock's: the same folder always gives the same zip
                info = zipfile.ZipInfo.from_file(path, arc)
                zf.writestr(info, encode_binary_png(arr != 0 if arr.ndim == 2 else arr[..., :3].any(axis=2)))
            else:
                zf.write(path, arc)
    return Submission(out, len(benchmark.samples), len(files), len(reencode))
