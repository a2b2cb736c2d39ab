"""The results file format, defined once: what ``score --json`` writes and the leaderboard reads.

A results file is one JSON object::

    {"format": "reasonvos-results/1", "benchmark", "split", "protocol", "missing_policy",
     "method", "method_meta": {"role": ..., ...}, "toolkit_version", "date",
     "summary": {...}, "per_sample": [{...}, ...], "per_object": [{...}, ...]}

- ``format`` names the schema and its major version; a reader refuses other majors instead of
  guessing what changed.
- Metric values are fractions in [0, 1] (``FRACTION_KEYS``), except the DAVIS decays, which are
  differences of fractions and may be negative (``SIGNED_KEYS``). NaN is written as ``null``.
- ``COUNT_KEYS`` are non-negative integers of the summary.
- ``method_meta["role"]`` says how a leaderboard shows the entry (``ROLES``).
- ``per_sample`` rows carry ``SAMPLE_COLUMNS``; DAVIS protocols add per-object rows with
  ``DAVIS_STATS`` besides J, F and J&F. ``gt_area`` (``SAMPLE_FRACTION_KEYS``) is the mean, over
  the sample's scored frames, of the fraction of the frame's pixels that its ground truth covers;
  files written before it existed lack it and stay readable.

This module holds only plain constants (no pandas, no numpy), so the leaderboard can import it
without the scoring stack.
"""

from __future__ import annotations

#: the schema family and the version this toolkit writes and reads (major version 1)
FORMAT_PREFIX = "reasonvos-results/"
FORMAT = FORMAT_CURRENT = "reasonvos-results/1"

#: metrics that are fractions in [0, 1]
FRACTION_KEYS = ("J", "F", "J&F", "J-Recall", "F-Recall", "gIoU", "gIoU-frame", "cIoU")
#: metrics that may be negative (a decay is first-quarter minus last-quarter mean)
SIGNED_KEYS = ("J-Decay", "F-Decay")
#: summary counts (non-negative integers)
COUNT_KEYS = ("missing_samples", "missing_frames", "n_samples")
#: how a leaderboard labels an entry; published = predictions released by other authors, scored here
ROLES = ("model", "published", "oracle", "floor")

#: the fields of every per-sample row, in table order
SAMPLE_COLUMNS = ("key", "video", "exp_id", "obj_ids", "text", "kind", "source", "annotator",
                  "J", "F", "J&F", "I", "U", "frames", "missing_frames", "gt_area")
#: per-sample fields besides the metrics that are fractions in [0, 1]
SAMPLE_FRACTION_KEYS = ("gt_area",)
#: the DAVIS statistics of a per-object row and of a DAVIS-protocol summary
DAVIS_STATS = ("J-Recall", "J-Decay", "F-Recall", "F-Decay")
