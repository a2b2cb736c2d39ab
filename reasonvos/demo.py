"""The end-to-end demo: sample benchmark -> reference baselines -> scores -> leaderboard.

It needs no download and no weights, so it is the first thing a new user runs and a smoke test
of the whole pipeline. Scoring and the leaderboard live in other parts of the toolkit; a stage is
skipped (and the report says so) only when its module is not installed at all. A module that is
present but broken raises: the demo must not hide a real failure.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from .registry import load_benchmark
from .runner import run_inference
from .sample.render import write_sample_benchmark

#: reference baselines the demo runs, in leaderboard order
DEMO_MODELS = ("flow-oracle", "static-oracle", "full-frame", "empty")
DEFAULT_OUT = Path("reasonvos-demo")
LEADERBOARD_TITLE = "reasonvos demo: reference baselines on the embedded sample benchmark (not ReasonVOS data)"


@dataclass
class DemoReport:
    """What the demo wrote and which stages ran (stage -> why it was skipped, for the others)."""

    out_dir: Path
    sample_root: Path
    predictions: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Path] = field(default_factory=dict)
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)
    leaderboard: Path | None = None
    stages_run: list[str] = field(default_factory=list)
    stages_skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def optional_module(name: str) -> ModuleType | None:
    """The module if its file exists (import errors propagate), None if it is not there at all."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # a parent package is missing
        return None
    return None if spec is None else importlib.import_module(name)


def run_demo(out_dir: str | Path = DEFAULT_OUT, workers: int | None = None, quiet: bool = True) -> DemoReport:
    """Write the sample under ``out_dir/sample``, run the baselines into ``out_dir/predictions``,
    score them into ``out_dir/results`` and build ``out_dir/leaderboard``."""
    from reasonvos.baselines.reference import REFERENCE_MODELS

    start = time.perf_counter()
    out_dir = Path(out_dir)
    sample_root = write_sample_benchmark(out_dir / "sample")
    report = DemoReport(out_dir=out_dir, sample_root=sample_root, stages_run=["sample"])
    benchmark = load_benchmark("reasonvos", sample_root)

    models = {name: REFERENCE_MODELS[name]() for name in DEMO_MODELS}
    for name, model in models.items():
        pred = out_dir / "predictions" / name
        run_inference(model, benchmark, pred, rank=0, world_size=1, quiet=quiet)
        report.predictions[name] = pred
    report.stages_run.append("inference")

    scorer = optional_module("reasonvos.evaluators.scorer")
    if scorer is None:
        report.stages_skipped["score"] = "reasonvos.evaluators.scorer is not installed"
    else:
        from reasonvos.evaluators import score

        for name, model in models.items():
            meta = {**model.describe(), "data": "reasonvos embedded sample benchmark"}
            results = score(benchmark, report.predictions[name], workers=workers, missing="error",
                            method=name, method_meta=meta, quiet=quiet)
            path = out_dir / "results" / f"{name}.json"
            results.to_json(path)
            report.results[name] = path
            report.scores[name] = {k: results.summary.get(k) for k in ("J", "F", "J&F")}
        report.stages_run.append("score")

    builder = optional_module("reasonvos.leaderboard.build")
    if builder is None:
        report.stages_skipped["leaderboard"] = "reasonvos.leaderboard.build is not installed"
    elif not report.results:
        report.stages_skipped["leaderboard"] = "no results to show (the score stage did not run)"
    else:
        built = builder.build_leaderboard(list(report.results.values()), out_dir / "leaderboard",
                                          include_reported=False, title=LEADERBOARD_TITLE)
        report.leaderboard = Path(built.page)
        report.stages_run.append("leaderboard")
    report.seconds = time.perf_counter() - start
    return report
