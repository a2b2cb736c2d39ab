"""Confidence intervals are around the number each protocol reports.

A protocol declares which rows its J, F and J&F average and how they are grouped
(``Protocol.headline_rows``): ReVOS reports the mean of its referring and reasoning subset means,
Ref-DAVIS the mean of its annotator-slot means over per-object rows, DAVIS the mean over objects.
The bootstrap recomputes exactly that statistic on resampled videos; these tests check the
declaration against each protocol's own ``headline`` and the intervals against a plain loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reasonvos.evaluators.compare import bootstrap_ci, compare_runs, compare_tables, headline_rows
from reasonvos.evaluators.protocol_registry import get, names
from reasonvos.evaluators.results import Results

RESAMPLES, SEED = 400, 3


def tables(seed: int = 0, shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-sample rows (ReVOS kinds, incl. no-target, unequal subset sizes) and per-object rows
    (Ref-DAVIS slots 0-3 with unequal object counts: with equal counts, as when every object has an
    expression in every slot, the mean of slot means equals the plain mean), over 9 videos."""
    rng = np.random.default_rng(seed)
    samples, objects = [], []
    for v in range(9):
        for e in range(1 + v % 4):
            kind = ("referring", "reasoning", "no-target")[(v + e) % 3] if v % 5 else "referring"
            j = float(np.clip(rng.random() + shift, 0, 1))
            f = float(np.clip(rng.random() + shift, 0, 1))
            samples.append({"key": f"v{v}_{e}", "video": f"v{v}", "kind": kind, "J": j, "F": f, "J&F": (j + f) / 2,
                            "R": 0.0, "A": 0.0, "I": 1, "U": 2, "frames": 3})
        for slot in range(4):
            for o in range(1 + (v + slot) % 3 + (slot == 0 and v % 2 == 1)):
                j = float(np.clip(rng.random() + shift, 0, 1))
                f = float(np.clip(rng.random() + shift, 0, 1))
                objects.append({"video": f"v{v}", "object": f"v{v}_{o + 1}", "slot": slot, "J": j, "F": f,
                                "J&F": (j + f) / 2, "J-Recall": 0.0, "J-Decay": 0.0, "F-Recall": 0.0,
                                "F-Decay": 0.0})
    return pd.DataFrame(samples), pd.DataFrame(objects)


def rows_table(name: str, per_sample: pd.DataFrame, per_object: pd.DataFrame) -> pd.DataFrame:
    return per_object if headline_rows(name).table == "per_object" else per_sample


@pytest.mark.parametrize("name", names())
def test_the_declared_rows_reproduce_each_protocols_own_headline(name):
    per_sample, per_object = tables()
    reported = get(name).headline(per_sample, per_object)
    rows = headline_rows(name)
    found = bootstrap_ci(rows_table(name, per_sample, per_object), ("J&F", "J", "F"), resamples=10, seed=0, rows=rows)
    for metric in ("J&F", "J", "F"):
        assert found[metric][0] == pytest.approx(reported[metric], abs=1e-12), metric


def test_revos_and_refdavis_headlines_are_means_of_group_means_not_plain_means():
    per_sample, per_object = tables()
    plain = per_sample[per_sample["kind"] != "no-target"]["J&F"].mean()
    assert get("revos").headline(per_sample, per_object)["J&F"] != pytest.approx(plain)
    assert get("refdavis").headline(per_sample, per_object)["J&F"] != pytest.approx(per_object["J&F"].mean())


def loop(rows: pd.DataFrame, stat, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """The documented draws (videos in sorted order), one resample at a time; resamples where the
    statistic is undefined (a group drew no rows) are left out."""
    videos = sorted(rows["video"].unique())
    draws = np.random.default_rng(seed).integers(0, len(videos), size=(resamples, len(videos)))
    values = []
    for row in draws:
        drawn = pd.concat([rows[rows["video"] == videos[k]] for k in row])
        value = stat(drawn)
        if np.isfinite(value):
            values.append(value)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def revos_overall(t: pd.DataFrame) -> float:
    parts = [t[t["kind"] == k]["J&F"] for k in ("referring", "reasoning")]
    return float(np.mean([p.mean() if len(p) else np.nan for p in parts]))


def slot_mean(t: pd.DataFrame) -> float:
    return float(np.mean([g["J&F"].mean() for _, g in t.groupby("slot")])) if t["slot"].nunique() == 4 else np.nan


def test_the_revos_interval_resamples_videos_of_counted_rows_and_averages_the_two_subsets():
    per_sample, _ = tables()
    counted = per_sample[per_sample["kind"] != "no-target"]  # no-target rows are not in the statistic
    value, low, high = bootstrap_ci(per_sample, ("J&F",), resamples=RESAMPLES, seed=SEED, rows=headline_rows("revos"))["J&F"]
    assert value == pytest.approx(revos_overall(counted))
    assert (low, high) == pytest.approx(loop(counted, revos_overall), abs=1e-12)


def test_the_refdavis_interval_is_over_per_object_rows_by_slot():
    _, per_object = tables()
    value, low, high = bootstrap_ci(per_object, ("J&F",), resamples=RESAMPLES, seed=SEED,
                                    rows=headline_rows("refdavis"))["J&F"]
    assert value == pytest.approx(slot_mean(per_object))
    assert (low, high) == pytest.approx(loop(per_object, slot_mean), abs=1e-12)


def test_a_paired_revos_difference_is_the_difference_of_the_reported_numbers():
    (sa, oa), (sb, ob) = tables(seed=0), tables(seed=0, shift=-0.1)
    sb = sb.assign(J=sb["J"], key=sa["key"])
    rows = headline_rows("revos")
    c = compare_tables(sa, sb, resamples=RESAMPLES, seed=SEED, metrics=("J&F",), rows=rows)["J&F"]
    assert c.diff == pytest.approx(get("revos").headline(sa, oa)["J&F"] - get("revos").headline(sb, ob)["J&F"])
    counted_a, counted_b = (t[t["kind"] != "no-target"] for t in (sa, sb))
    both = counted_a.assign(other=counted_b["J&F"].to_numpy())

    def diff(t: pd.DataFrame) -> float:
        return revos_overall(t) - revos_overall(t.assign(**{"J&F": t["other"]}))

    assert (c.ci_low, c.ci_high) == pytest.approx(loop(both, diff), abs=1e-12)


def test_compare_uses_the_protocols_rows_for_jf_and_the_samples_for_iou():
    (sa, oa), (sb, ob) = tables(seed=0), tables(seed=0, shift=-0.2)
    base = {"benchmark": "refdavis", "split": "valid", "protocol": "refdavis", "missing_policy": "error", "summary": {}}
    a, b = Results(per_sample=sa, per_object=oa, **base), Results(per_sample=sb, per_object=ob, **base)
    found = compare_runs(a, b, sa, sb, ("A", "B"), resamples=RESAMPLES, seed=SEED)
    head = get("refdavis")
    assert found["J&F"].diff == pytest.approx(head.headline(sa, oa)["J&F"] - head.headline(sb, ob)["J&F"])
    assert found["J&F"].wins + found["J&F"].ties + found["J&F"].losses == len(oa)  # per-object rows
    assert found["cIoU"].wins + found["cIoU"].ties + found["cIoU"].losses == len(sa)
