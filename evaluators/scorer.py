"""``score(benchmark, pred_dir, ...)``: check a prediction folder and score it, one video per task.

The protocol (a class, see :mod:`.protocols`) says which prediction folders it reads and which
frames they must hold. The main process lists those folders without opening a file (missing,
stray and unreadable entries: FIFOs, link loops, folders it may not list, names that are not
UTF-8), applies the ``--missing`` policy once for every protocol (:func:`make_tasks`), then hands
each video to a process pool as a small task (video id, unit keys, frames to score as empty);
the worker decodes the masks itself, one frame at a time, so memory stays flat in the number and
length of videos. The benchmark reaches each worker once, through the pool initializer, and a
worker ends itself when the process that started it dies. Problems found while decoding (wrong
size, wrong values, undecodable PNGs) come back with the results; if there is any, the whole run
fails with one grouped report and nothing is written.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pandas as pd
from tqdm import tqdm

from reasonvos import __version__
from reasonvos.benchmarks.model import Benchmark
from reasonvos.errors import InputError, PredictionError

from .checks import CheckReport, Problem, entry_problem, list_folder, shown
from .metrics import BOUND_TH
from .protocols import (
    MISSING_POLICIES,
    Folder,
    Options,
    PredictionReader,
    Protocol,
    VideoOutcome,
    get,
    peak_rss_mb,
)
from .results import Results
from .schema import SAMPLE_COLUMNS

Task = tuple[str, list[str], dict]  # (video id, unit keys, missing frames to score as empty, per unit key)

_WORKER: dict = {}
#: how often a pool worker checks that the process that started it is still alive (seconds)
PARENT_POLL_S = 0.5


def _exit_with_parent() -> None:
    """End this worker when its parent is gone (e.g. SIGKILLed, so it never shuts the pool down):
    an orphan worker would otherwise wait for tasks forever. Orphans are re-parented, so a
    changed parent id is the sign. The parent is whoever started the worker (``score``'s process
    under fork; the fork server under forkserver, which exits when ``score``'s process does)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="reasonvos-parent-watch", daemon=True).start()


def _init_worker(benchmark: Benchmark, protocol: str, options: Options, in_pool: bool = False) -> None:
    if in_pool:
        _exit_with_parent()
    _WORKER.update(benchmark=benchmark, protocol=get(protocol), options=options, start_rss=peak_rss_mb())


def _run_task(task: Task) -> VideoOutcome | tuple[str, str | None, str]:
    """Score one video in a worker; InputErrors come back as data (they do not pickle)."""
    video, keys, empty = task
    bench, protocol, opt = _WORKER["benchmark"], _WORKER["protocol"], _WORKER["options"]
    try:
        out = protocol.score_video(bench, video, keys, PredictionReader(opt.pred_root, empty, []), opt)
        out.start_rss_mb = _WORKER["start_rss"]
        return out
    except InputError as e:
        return (type(e).__name__, None if e.path is None else str(e.path), e.problem)


def _raise_worker_error(err: tuple[str, str | None, str]) -> None:
    import reasonvos.errors as errors

    cls = getattr(errors, err[0], InputError)
    raise cls(err[1], err[2])


def list_predictions(folders: list[Folder], pred_dir: Path) -> tuple[dict[str, tuple[str, ...]], list[Problem]]:
    """The frames missing per unit key, and the listing problems of every prediction folder."""
    problems: list[Problem] = []
    missing: dict[str, tuple[str, ...]] = {}
    for folder in folders:
        listing = list_folder(pred_dir / folder.rel, folder.required, folder.allowed, problems)
        if listing.missing:
            missing[folder.key] = listing.missing
    return missing, problems


def make_tasks(folders: list[Folder], missing: dict[str, tuple[str, ...]], policy: str) -> list[Task]:
    """One task per video, in benchmark order: the missing-prediction policy, applied once for
    every protocol. ``skip`` leaves out the units with a missing file (a video whose units are
    all left out gets no task); ``empty`` hands their missing frames over, to be scored as empty
    masks; ``error`` never gets here with anything missing."""
    by_video: dict[str, Task] = {}
    for folder in folders:
        gone = missing.get(folder.key)
        if gone and policy == "skip":
            continue
        task = by_video.setdefault(folder.video, (folder.video, [], {}))
        task[1].append(folder.key)
        if gone:
            task[2][folder.key] = gone
    return list(by_video.values())


def unexpected_entries(folders: list[Folder], pred_dir: Path) -> tuple[list[str], list[Problem]]:
    """Folders and files of the prediction tree that belong to no sample (e.g. predictions of
    another split or a stale run; not scored, the caller reports them), and the entries on the
    way that cannot be read (names that are not UTF-8, folders that cannot be listed)."""
    dirs = [f.rel for f in folders]
    expected = {d.parts[:i] for d in dirs for i in range(1, len(d.parts) + 1)}
    depth = max((len(d.parts) for d in dirs), default=1)
    out: list[str] = []
    problems: list[Problem] = []

    def walk(folder: Path, prefix: tuple[str, ...]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            problems.append(Problem("unreadable", shown(str(folder)), f"cannot list the folder: {e.strerror or e}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            parts = (*prefix, entry.name)
            if parts in expected:
                if len(parts) < depth and entry.is_dir():
                    walk(Path(entry.path), parts)
                continue
            bad = entry_problem(entry)
            if bad:
                problems.append(bad)
            else:
                out.append(str(PurePosixPath(*parts)) + ("/" if entry.is_dir() else ""))

    walk(pred_dir, ())
    return out, problems


def resolve_protocol(benchmark: Benchmark, protocol: str | None) -> str:
    """The protocol to score with: the one asked for if the benchmark allows it, else the
    benchmark's default (both from its declaration, ``bench.spec.protocols``)."""
    allowed = benchmark.spec.protocols
    protocol = protocol or allowed[0]
    get(protocol)  # an unknown name is an error naming the known ones
    if protocol not in allowed:
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
                                 initargs=(benchmark, protocol, opt, True)) as pool:
            futures = [pool.submit(_run_task, t) for t in tasks]  # workers start before any tqdm thread
            for fut in tqdm(as_completed(futures), total=len(futures), desc=f"score {benchmark.name}",
                            unit="video", disable=quiet):
                fut.result()
            outcomes = [f.result() for f in futures]
    for o in outcomes:
        if isinstance(o, tuple):
            _raise_worker_error(o)
    return outcomes


def _refuse_policy(proto: Protocol, missing: str) -> None:
    """A protocol may not be able to apply every policy (refdavis cannot skip): say why."""
    if missing not in proto.missing_policies:
        raise InputError(None, f"--missing {missing} is not available for protocol {proto.name!r}: "
                         f"{proto.missing_note or 'allowed: ' + ', '.join(proto.missing_policies)}")


def _inference_notes(pred_dir: Path, scored: set[str]) -> dict | None:
    """What the model noted about the scored samples when ``reasonvos infer`` wrote ``pred_dir``
    (e.g. post-optimisation left a sample's masks unrefined), counted and with the first keys per
    note value, so that results say it too; None when the folder has no notes."""
    from reasonvos.inference.runner import count_notes, read_notes

    notes = {key: value for key, value in read_notes(pred_dir).items() if key in scored}
    if not notes:
        return None
    counts = count_notes(notes)
    first = {name: {value: sorted(k for k, n in notes.items() if n.get(name) == value)[:20] for value in values}
             for name, values in counts.items()}
    return {"counts": counts, "first": first}


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
    compat_r: str | None = None,
    official_rounding: bool = False,
) -> Results:
    """Score the predictions under ``pred_dir`` against ``benchmark``'s ground truth.

    ``protocol``: one of ``benchmark.spec.protocols`` (default: the first). ``missing``:
    ``error`` (list every missing file, raise), ``empty`` (score as empty masks) or ``skip``
    (drop the sample, or the video for per-video protocols, as VideoLISA's scripts do; refused
    by protocols that cannot drop one, e.g. refdavis); the result records the policy and the
    missing samples and frames. Raises :class:`~reasonvos.errors.PredictionError` (with
    ``.report``) on any bad prediction, and InputError for metadata ids that would lead outside
    ``pred_dir`` and for ground truth the protocol would score wrongly (a DAVIS GT frame missing).
    """
    if missing not in MISSING_POLICIES:
        raise InputError(None, f"--missing must be one of {', '.join(MISSING_POLICIES)}, not {missing!r}")
    if not benchmark.has_ground_truth:
        raise InputError(benchmark.meta_path or benchmark.root,
                         f"{benchmark.name} split {benchmark.split!r} has no public ground truth; "
                         "use `reasonvos submit` for server-scored splits")
    protocol = resolve_protocol(benchmark, protocol)
    proto = get(protocol)
    _refuse_policy(proto, missing)
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise PredictionError(pred_dir, "prediction folder not found")
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise InputError(None, f"--workers must be at least 1, not {workers}")
    proto.check_ground_truth(benchmark)
    folders = list(proto.folders(benchmark))
    gone, listing = list_predictions(folders, pred_dir)
    extra, unreadable = unexpected_entries(folders, pred_dir)
    report = CheckReport(pred_dir, [p for p in listing if p.kind != "missing" or missing == "error"] + unreadable)
    if report:
        raise report.error()
    tasks = make_tasks(folders, gone, missing)
    opt = Options(str(pred_dir), missing, compat_decay, bound_th, compat_r, official_rounding)
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
    per_sample = pd.DataFrame(samples, columns=[*SAMPLE_COLUMNS, *proto.extra_columns])
    per_object = pd.DataFrame(objects)
    summary = proto.summarise(per_sample, per_object, len(gone), sum(map(len, gone.values())))
    unscored = {o.video: o.unscored for o in outcomes if o.unscored}
    if unscored:
        summary["unscored_videos"] = unscored
    if extra:  # not part of the benchmark: not scored, but never silently
        summary["unexpected_entries"] = {"count": len(extra), "first": extra[:20]}
    notes = _inference_notes(pred_dir, {row["key"] for row in samples})
    if notes:
        summary["inference_notes"] = notes
    return Results(
        benchmark=benchmark.name, split=benchmark.split, protocol=protocol, missing_policy=missing,
        summary=summary, per_sample=per_sample, per_object=per_object, method=method,
        method_meta=dict(method_meta or {}), toolkit_version=__version__,
        date=datetime.now(UTC).replace(microsecond=0).isoformat(),
        stats={"worker_peak_rss_mb": max((o.peak_rss_mb for o in outcomes), default=0.0),
               "worker_start_rss_mb": max((o.start_rss_mb for o in outcomes), default=0.0),
               "workers": workers, "videos": len(tasks)},
    )
