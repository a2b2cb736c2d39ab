"""The one report type: validation and prediction checks share Problem and Report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from evaluators.checks import CheckReport, Problem, index_labels
from reasonvos import report as report_module
from reasonvos.report import Report


def test_prediction_problems_and_reports_are_the_shared_types():
    problem = Problem("missing", "/p/v/0/00001.png")
    assert isinstance(problem, report_module.Problem) and problem.severity == "error"
    assert (problem.path, problem.detail, problem.where) == ("/p/v/0/00001.png", "", "/p/v/0/00001.png")
    checks = CheckReport(Path("/p"), [problem])
    assert isinstance(checks, Report) and not checks.ok
    assert checks.to_dict()["counts"]["errors"] == {"missing": 1}
    assert checks.error().report is checks  # what the CLI prints in full


def test_strict_fails_on_warnings_and_says_so():
    report = Report("bench", Path("/data"), strict=True)
    report.warn("counts", "/data/meta.json", "3 videos, published 91")
    assert not report.ok
    assert report.verdict() == "VERDICT: BROKEN (0 errors, 1 warnings; strict: warnings fail too)"
    assert json.loads(report.to_json())["ok"] is False


def test_a_davis_void_value_in_a_prediction_is_not_called_a_binary_mask():
    labels = np.array([[0, 1], [2, 255]], np.uint8)  # DAVIS GT copied as a prediction: ids and void
    _, problem = index_labels(labels, Path("p.png"), (2, 2), max_id=10)
    assert "void" in problem.detail and "binary" not in problem.detail
    _, problem = index_labels(np.array([[0, 255]], np.uint8), Path("p.png"), (1, 2), max_id=10)
    assert "0/255 binary mask" in problem.detail  # a real binary mask is still named as one
