"""Paired comparison: video-resampled bootstrap CI, sign-flip p-value, win/tie/loss, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reasonvos.evaluators.compare import METRICS, bootstrap_counts, compare, compare_tables, sign_flips
from reasonvos.evaluators.results import Results

from reasonvos.errors import InputError


def _table(seed: int, n_videos: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for v in range(n_videos):
        for e in range(1 + v % 3):
            j, f = rng.random(), rng.random()
            union = int(rng.integers(0, 50))
            rows.append({"key": f"v{v}_{e}", "video": f"v{v}", "exp_id": str(e), "obj_ids": ["1"], "text": "t",
                         "kind": "short" if e % 2 else "long", "source": "a" if v % 2 else "b",
                         "J": j, "F": f, "J&F": (j + f) / 2, "I": int(rng.integers(0, union + 1)), "U": union,
                         "frames": 3, "missing_frames": 0})
    return pd.DataFrame(rows)


def _results(table: pd.DataFrame, **kw) -> Results:
    base = {"benchmark": "reasonvos", "split": None, "protocol": "p", "missing_policy": "error", "summary": {}}
    base.update(kw)
    return Results(per_sample=table, **base)


def _stat(t: pd.DataFrame, metric: str) -> float:
    """The statistic by its definition, one sample at a time."""
    if metric == "cIoU":
        return sum(t["I"]) / sum(t["U"]) if sum(t["U"]) > 0 else 1.0
    if metric == "gIoU":
        return float(np.mean([i / u if u > 0 else 1.0 for i, u in zip(t["I"], t["U"], strict=True)]))
    return float(np.mean(list(t[metric])))


def test_matches_a_loop_reference_with_the_same_draws():
    a, b = _table(1), _table(2)
    videos = sorted(a["video"].unique())
    resamples, seed = 300, 5
    fast = compare_tables(a, b, resamples=resamples, seed=seed)
    draws = np.random.default_rng(seed).integers(0, len(videos), size=(resamples, len(videos)))
    flips = sign_flips(len(videos), resamples, seed)
    for metric in METRICS:
        boot = []
        for row in draws:
            rows = [i for d in row for i in np.flatnonzero(a["video"] == videos[d])]
            boot.append(_stat(a.iloc[rows], metric) - _stat(b.iloc[rows], metric))
        observed = _stat(a, metric) - _stat(b, metric)
        extreme = 0
        for row in flips:
            swap = a["video"].isin([videos[i] for i in np.flatnonzero(row)]).to_numpy()
            pa = pd.concat([a[~swap], b[swap]])
            pb = pd.concat([b[~swap], a[swap]])
            extreme += abs(_stat(pa, metric) - _stat(pb, metric)) >= abs(observed) - 1e-12
        got = fast[metric]
        assert got.diff == pytest.approx(observed, abs=1e-12)
        assert got.ci_low == pytest.approx(np.percentile(boot, 2.5), abs=1e-12)
        assert got.ci_high == pytest.approx(np.percentile(boot, 97.5), abs=1e-12)
        assert got.p_value == pytest.approx((1 + extreme) / (resamples + 1))
        assert got.wins + got.ties + got.losses == len(a)


def test_bootstrap_counts_are_the_seeded_draws():
    counts = bootstrap_counts(np.array([0, 0, 1, 2]), 4, seed=3)
    draws = np.random.default_rng(3).integers(0, 3, size=(4, 3))
    assert (counts == np.stack([np.bincount(r, minlength=3) for r in draws])).all()


def test_same_inputs_same_numbers_and_a_method_ties_with_itself():
    a, b = _results(_table(1)), _results(_table(2))
    assert compare(a, b, resamples=200, seed=1) == compare(a, b, resamples=200, seed=1)
    same = compare(a, a, resamples=200)["metrics"]["J&F"]
    assert (same["diff"], same["ci_low"], same["ci_high"], same["p_value"], same["wins"], same["losses"]) == (
        0.0, 0.0, 0.0, 1.0, 0, 0)


def test_breakdown_by_kind_and_source():
    got = compare(_results(_table(1)), _results(_table(2)), resamples=50)
    assert set(got["breakdown"]["kind"]) == {"short", "long"} and set(got["breakdown"]["source"]) == {"a", "b"}
    assert got["settings"] == {"resamples": 50, "seed": 0, "unit": "video", "ci": 0.95}


@pytest.mark.parametrize("field", ["benchmark", "split", "protocol"])
def test_refuses_different_runs_naming_the_difference(field):
    other = {"benchmark": "mevis", "split": "valid", "protocol": "q"}[field]
    with pytest.raises(InputError, match=f"different {field}"):
        compare(_results(_table(1)), _results(_table(2), **{field: other}))


def test_refuses_samples_present_in_only_one_file():
    a = _table(1)
    with pytest.raises(InputError, match="different samples: 1 only in A \\(e.g. 'v0_0'\\)"):
        compare(_results(a), _results(a.iloc[1:]))


def test_to_pandas_has_one_row_per_sample_with_the_run_columns():
    table = _results(_table(1), method="M").to_pandas()
    assert len(table) == len(_table(1))
    assert list(table.columns[:4]) == ["benchmark", "split", "protocol", "method"]
    assert set(table["method"]) == {"M"} and list(table["key"]) == list(_table(1)["key"])


def test_compare_is_exported_from_the_package():
    import reasonvos

    assert "compare" in reasonvos.__all__ and reasonvos.compare is compare
