"""Which rows a protocol's J, F and J&F average, declared once per protocol.

Every headline of the built-in protocols has one form: the mean, over equal-weight groups
(strata) of rows, of each group's mean. With one group that is a plain mean over rows:

- ``expression``: per-sample rows, one group;
- ``davis-semi`` / ``davis-unsup``: per-object rows, one group (the DAVIS global mean);
- ``refdavis``: per-object rows, one group per annotator slot (the mean of the slot means);
- ``revos``: per-sample rows, the ``referring`` and ``reasoning`` groups (no-target rows are left
  out), the mean of the two subset means.

The bootstrap of confidence intervals and paired comparisons (:mod:`.compare`) recomputes this
statistic over resampled videos, so a CI is always around the number the protocol reports. gIoU
and cIoU are defined over per-sample rows for every protocol (:func:`.results.iou_summary`).
Plain data (no pandas), so the leaderboard can read it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the metrics whose summary value is the protocol's headline statistic over its headline rows
HEADLINE_METRICS = ("J&F", "J", "F")


@dataclass(frozen=True)
class HeadlineRows:
    """The rows J, F and J&F average, and how they are grouped."""

    #: "per_sample" or "per_object": the results table the headline averages
    table: str = "per_sample"
    #: columns naming one row across two runs of the same benchmark (to pair rows)
    key: tuple[str, ...] = ("key",)
    #: column whose groups weigh equally (None: one group, a plain mean over rows)
    stratum: str | None = None
    #: the groups counted, in order (None: every value present); rows of other groups are left out
    strata: tuple[str, ...] | None = None


#: a plain mean over per-sample rows
PER_SAMPLE = HeadlineRows()
