"""The end-to-end demo: sample benchmark -> reference baselines -> scores -> leaderboard.

It needs no download and no weights, so it is the first thing a new user runs and a smoke test
of the whole pipeline: every stage runs, and a failure in any of them is an error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from reasonvos.benchmarks.reasonvos import SPEC as SAMPLE_LAYOUT  # the sample is in the ReasonVOS layout
from reasonvos.demo.render import write_sample_benchmark
from reasonvos.inference.runner import run_inference

#: reference baselines the demo runs, in leaderboard order
DEMO_MODELS = ("flow-oracle", "static-oracle", "full-frame", "empty")
#: the models whose worst and best samples the page shows; the per-sample browser draws both
ANALYSED_MODEL = "flow-oracle"
COMPARED_MODEL = "static-oracle"
DEFAULT_OUT = Path("reasonvos-demo")
LEADERBOARD_TITLE = "reasonvos demo: reference baselines on the embedded sample benchmark (not ReasonVOS data)"


@dataclass
class DemoReport:
    """What the demo wrote and which stages ran."""

    out_dir: Path
    sample_root: Path
    predictions: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Path] = field(default_factory=dict)
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)
    leaderboard: Path | None = None
    stages_run: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: the paired comparison of the two oracles (reasonvos compare's table)
    comparison: str = ""


def run_demo(out_dir: str | Path = DEFAULT_OUT, workers: int | None = None, quiet: bool = True) -> DemoReport:
    """Write the sample under ``out_dir/sample``, run the baselines into ``out_dir/predictions``,
    score them into ``out_dir/results`` and build ``out_dir/leaderboard``."""
    from reasonvos.baselines.reference import REFERENCE_MODELS

    start = time.perf_counter()
    out_dir = Path(out_dir)
    sample_root = write_sample_benchmark(out_dir / "sample")
    report = DemoReport(out_dir=out_dir, sample_root=sample_root, stages_run=["sample"])
    benchmark = SAMPLE_LAYOUT.load(sample_root)

    models = {name: REFERENCE_MODELS[name]() for name in DEMO_MODELS}
    for name, model in models.items():
        pred = out_dir / "predictions" / name
        run_inference(model, benchmark, pred, rank=0, world_size=1, quiet=quiet)
        report.predictions[name] = pred
    report.stages_run.append("inference")

    from reasonvos.evaluators import score
    from reasonvos.leaderboard.build import AnalysisSpec, build_leaderboard

    for name, model in models.items():
        meta = {**model.describe(), "data": "reasonvos embedded sample benchmark"}
        results = score(benchmark, report.predictions[name], workers=workers, missing="error",
                        method=name, method_meta=meta, quiet=quiet)
        path = out_dir / "results" / f"{name}.json"
        results.to_json(path)
        report.results[name] = path
        report.scores[name] = {k: results.summary.get(k) for k in ("J", "F", "J&F")}
    report.stages_run.append("score")

    # worst and best samples of the two oracles as frame strips, and their frames side by side in
    # the page's per-sample browser
    analyses = [AnalysisSpec(benchmark, None, report.predictions[m], method=m, n=4)
                for m in (ANALYSED_MODEL, COMPARED_MODEL)]
    built = build_leaderboard(list(report.results.values()), out_dir / "leaderboard",
                              include_reported=False, title=LEADERBOARD_TITLE, analyses=analyses)
    report.leaderboard = Path(built.page)
    report.stages_run += ["leaderboard", "error analysis"]

    from reasonvos.cli.compare import format_comparison
    from reasonvos.evaluators.compare import compare

    report.comparison = format_comparison(compare(report.results["flow-oracle"], report.results["static-oracle"],
                                                  resamples=2_000))
    report.seconds = time.perf_counter() - start
    return report
