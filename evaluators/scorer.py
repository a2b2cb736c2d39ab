"""``score(benchmark, pred_dir, ...)``: check a prediction folder and score it, one video per task.

The main process lists the prediction folders (missing and stray files), then hands each video
to a process pool as a small task (video id, sample keys, missing frames); the worker decodes the
masks itself, one frame at a time, so memory stays flat in the number and length of videos. The
benchmark reaches each worker once, through the pool initializer. Problems found while decoding
(wrong size, wrong values, undecodable PNGs) come back with the results; if there is any, the
whole run fails with one grouped report and nothing is written.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pandas as pd
from tqdm import tqdm

from reasonvos import __version__
from reasonvos.benchmarks.model import Benchmark
from reasonvos.errors import InputError, PredictionError

from .checks import CheckReport, Problem, list_folder
from .metrics import BOUND_TH
from .protocols import (
    DEFAULT_PROTOCOL,
    PROTOCOLS,
    Options,
    VideoOutcome,
    peak_rss_mb,
    score_davis_semi_video,
    score_davis_unsup_video,
    score_expression_video,
    score_refdavis_video,
)
from .results import SAMPLE_COLUMNS, Results, summarise

MISSING_POLICIES = ("error", "empty", "skip")
#: which protocols each benchmark can be scored with (index-PNG protocols need gt_labels)
ALLOWED = {
    "reasonvos": ("expression",),
    "mevis": ("expression",),
    "refytvos": ("expression",),
    "refdavis": ("refdavis", "expression"),
    "davis": ("davis-semi", "davis-unsup"),
}

Task = tuple[str, list[str], dict]  # (video id, sample keys, missing frames per sample key / video)

_WORKER: dict = {}


def _init_worker(benchmark: Benchmark, protocol: str, options: Options) -> None:
    _WORKER.update(benchmark=benchmark, protocol=protocol, options=options, start_rss=peak_rss_mb())


def _run_task(task: Task) -> VideoOutcome | tuple[str, str | None, str]:
    """Score one video in a worker; InputErrors come back as data (they do not pickle)."""
    video, keys, missing = task
    bench, protocol, opt = _WORKER["benchmark"], _WORKER["protocol"], _WORKER["options"]
    try:
        if protocol == "expression":
            out = score_expression_video(bench, video, keys, missing, opt)
        elif protocol == "refdavis":
            out = score_refdavis_video(bench, video, keys, missing, opt)
        elif protocol == "davis-semi":
            out = score_davis_semi_video(bench, video, missing.get(video, ()), opt)
        else:
            out = score_davis_unsup_video(bench, video, missing.get(video, ()), opt)
        out.start_rss_mb = _WORKER["start_rss"]
        return out
    except InputError as e:
        return (type(e).__name__, None if e.path is None else str(e.path), e.problem)


def _raise_worker_error(err: tuple[str, str | None, str]) -> None:
    import reasonvos.errors as errors

    cls = getattr(errors, err[0], InputError)
    raise cls(err[1], err[2])


def list_predictions(benchmark: Benchmark, pred_dir: Path, protocol: str) -> tuple[list[Task], list[Problem]]:
    """Tasks per video (with the frames found missing) and the listing problems."""
    problems: list[Problem] = []
    tasks: list[Task] = []
    if protocol in ("davis-semi", "davis-unsup"):
        for vid, video in benchmark.videos.items():
            frames = list(video.frames)
            required = frames[1:-1] if protocol == "davis-semi" else frames
            listing = list_folder(pred_dir / vid, required, frames, problems)
            tasks.append((vid, [], {vid: listing.missing} if listing.missing else {}))
        return tasks, problems
    by_video: dict[str, Task] = {}
    for sample in benchmark.samples:
        required = list(benchmark.scored_frames(sample))
        allowed = list(benchmark.prediction_frames(sample))
        listing = list_folder(pred_dir / benchmark.prediction_dir(sample), required, allowed, problems)
        task = by_video.setdefault(sample.video_id, (sample.video_id, [], {}))
        task[1].append(sample.key)
        if listing.missing:
            task[2][sample.key] = listing.missing
    return list(by_video.values()), problems


def unexpected_entries(benchmark: Benchmark, pred_dir: Path, protocol: str) -> list[str]:
    """Folders and files of the prediction tree that belong to no sample (e.g. predictions of
    another split or a stale run). They are not scored; the caller reports them."""
    if protocol in ("davis-semi", "davis-unsup"):
        dirs = [PurePosixPath(v) for v in benchmark.videos]
    else:
        dirs = [benchmark.prediction_dir(s) for s in benchmark.samples]
    expected = {d.parts[:i] for d in dirs for i in range(1, len(d.parts) + 1)}
    depth = max((len(d.parts) for d in dirs), default=1)
    out: list[str] = []

    def walk(folder: Path, prefix: tuple[str, ...]) -> None:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            parts = (*prefix, entry.name)
            if parts not in expected:
                out.append(str(PurePosixPath(*parts)) + ("/" if entry.is_dir() else ""))
            elif entry.is_dir() and len(parts) < depth:
                walk(Path(entry.path), parts)

    walk(pred_dir, ())
    return out


def resolve_protocol(benchmark: Benchmark, protocol: str | None) -> str:
    protocol = protocol or DEFAULT_PROTOCOL.get(benchmark.name, "expression")
    if protocol not in PROTOCOLS:
        raise InputError(None, f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    allowed = ALLOWED.get(benchmark.name)
    if allowed is not None and protocol not in allowed:
        raise InputError(None, f"{benchmark.name} cannot be scored with protocol {protocol!r} "
                         f"(allowed: {', '.join(allowed)})")
    return protocol


def _run(tasks: list[Task], benchmark: Benchmark, protocol: str, opt: Options, workers: int, quiet: bool,
         ) -> list[VideoOutcome]:
    outcomes: list = []
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(benchmark, protocol, opt)
        try:
            for task in tqdm(tasks, desc=f"score {benchmark.name}", unit="video", disable=quiet):
                outcomes.append(_run_task(task))
        finally:
            _WORKER.clear()
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), initializer=_init_worker,
                                 initargs=(benchmark, protocol, opt)) as pool:
            futures = [pool.submit(_run_task, t) for t in tasks]  # workers start before any tqdm thread
            for fut in tqdm(as_completed(futures), total=len(futures), desc=f"score {benchmark.name}",
                            unit="video", disable=quiet):
                fut.result()
            outcomes = [f.result() for f in futures]
    for o in outcomes:
        if isinstance(o, tuple):
            _raise_worker_error(o)
    return outcomes


def score(
    benchmark: Benchmark,
    pred_dir: str | Path,
    protocol: str | None = None,
    workers: int | None = None,
    missing: str = "error",
    method: str | None = None,
    method_meta: dict | None = None,
    compat_decay: bool = False,
    bound_th: float = BOUND_TH,
    quiet: bool = True,
) -> Results:
    """Score the predictions under ``pred_dir`` against ``benchmark``'s ground truth.

    ``missing``: ``error`` (list every missing file, raise), ``empty`` (score as empty masks) or
    ``skip`` (drop the sample or video, as VideoLISA's scripts do); the result records it.
    Raises :class:`~reasonvos.errors.PredictionError` (with ``.report``) on any bad prediction.
    """
    if missing not in MISSING_POLICIES:
        raise InputError(None, f"--missing must be one of {', '.join(MISSING_POLICIES)}, not {missing!r}")
    if not benchmark.has_ground_truth:
        raise InputError(benchmark.meta_path or benchmark.root,
                         f"{benchmark.name} split {benchmark.split!r} has no public ground truth; "
                         "use `reasonvos submit` for server-scored splits")
    protocol = resolve_protocol(benchmark, protocol)
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise PredictionError(pred_dir, "prediction folder not found")
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise InputError(None, f"--workers must be at least 1, not {workers}")
    tasks, listing = list_predictions(benchmark, pred_dir, protocol)
    report = CheckReport(pred_dir, [p for p in listing if p.kind != "missing" or missing == "error"])
    if report:
        raise report.error()
    opt = Options(str(pred_dir), missing, compat_decay, bound_th)
    outcomes = _run(tasks, benchmark, protocol, opt, workers, quiet)
    for o in outcomes:
        report.add(o.problems)
    if report:
        raise report.error()
    samples = [row for o in outcomes for row in o.samples]
    objects = [row for o in outcomes for row in o.objects]
    if not samples:
        reasons = "; ".join(f"{o.video}: {o.unscored}" for o in outcomes if o.unscored)
        raise InputError(benchmark.meta_path or benchmark.root,
                         "nothing to score" + (f" ({reasons})" if reasons else " (the benchmark has no samples)"))
    per_sample = pd.DataFrame(samples, columns=SAMPLE_COLUMNS)
    per_object = pd.DataFrame(objects)
    summary = summarise(protocol, per_sample, per_object, sum(o.missing_samples for o in outcomes),
                        sum(o.missing_frames for o in outcomes))
    unscored = {o.video: o.unscored for o in outcomes if o.unscored}
    if unscored:
        summary["unscored_videos"] = unscored
    extra = unexpected_entries(benchmark, pred_dir, protocol)
    if extra:  # not part of the benchmark: not scored, but never silently
        summary["unexpected_entries"] = {"count": len(extra), "first": extra[:20]}
    return Results(
        benchmark=benchmark.name, split=benchmark.split, protocol=protocol, missing_policy=missing,
        summary=summary, per_sample=per_sample, per_object=per_object, method=method,
        method_meta=dict(method_meta or {}), toolkit_version=__version__,
        date=datetime.now(UTC).replace(microsecond=0).isoformat(),
        stats={"worker_peak_rss_mb": max((o.peak_rss_mb for o in outcomes), default=0.0),
               "worker_start_rss_mb": max((o.start_rss_mb for o in outcomes), default=0.0),
               "workers": workers, "videos": len(tasks)},
    )
