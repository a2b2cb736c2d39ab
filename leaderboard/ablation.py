"""Ablation series: runs of one method that differ in exactly one ``method_meta`` parameter.

Measured entries are grouped by benchmark split (their table), protocol, role and method family.
The family is ``method_meta["family"]`` when the results file sets it (``score --method-meta
family=VideoLISA``), otherwise the method name up to its first space or "(" (so "VideoLISA
T_sparse=8" and "VideoLISA (T_sparse=16)" are both "VideoLISA"). ``role``, ``family`` and
``note`` are not parameters. Within a group, for each parameter key, the entries that agree on
every OTHER key (absent counts as a value) and all set that key form a series when they are at
least two, with distinct values of it: e.g. T_sparse=8/16/32/64 at a fixed T_dense. Two runs that
differ in two keys form no series. Numeric values (all ints/floats) give a numeric axis, sorted;
anything else a categorical one, sorted by its text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .store import Entry
from .tables import Table

#: method_meta keys that are not run parameters
NOT_PARAMETERS = ("role", "family", "note")


@dataclass
class Series:
    """One ablation: the entries of a table that differ only in ``key``, in axis order."""

    table: Table
    protocol: str | None
    family: str
    key: str
    rows: list[int]  # indices into table.rows, in axis order
    values: list[Any]

    @property
    def numeric(self) -> bool:
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in self.values)

    @property
    def name(self) -> str:
        text = f"ablation-{self.table.slug}-{self.protocol or ''}-{self.family}-{self.key}"
        return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:120]


def family(entry: Entry) -> str:
    """The method family an entry belongs to (see the module docstring)."""
    explicit = entry.method_meta.get("family")
    if isinstance(explicit, str) and explicit.strip():
        return explicit.strip()
    return re.split(r"[\s(]", entry.method.strip(), maxsplit=1)[0] or entry.method


def parameters(entry: Entry) -> dict[str, Any]:
    return {k: v for k, v in entry.method_meta.items() if k not in NOT_PARAMETERS}


def _frozen(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _order(values: list[Any]) -> list[int]:
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return sorted(range(len(values)), key=(lambda i: values[i]) if numeric else (lambda i: _frozen(values[i])))


def table_series(table: Table) -> list[Series]:
    """Every ablation series among the measured rows of one table."""
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(table.rows):
        if e.origin == "measured":
            groups.setdefault((e.protocol or "", e.role, family(e)), []).append(i)
    found = []
    for (protocol, _role, fam), members in groups.items():
        if len(members) < 2:
            continue
        params = {i: parameters(table.rows[i]) for i in members}
        keys = sorted({k for p in params.values() for k in p})
        for key in keys:
            by_rest: dict[str, list[int]] = {}
            for i in members:
                if key in params[i]:
                    rest = {k: v for k, v in params[i].items() if k != key}
                    by_rest.setdefault(_frozen(rest), []).append(i)
            for rest in sorted(by_rest):
                rows = by_rest[rest]
                values = [params[i][key] for i in rows]
                if len(rows) < 2 or len({_frozen(v) for v in values}) != len(values):
                    continue
                order = _order(values)
                found.append(Series(table, protocol or None, fam, key, [rows[k] for k in order],
                                    [values[k] for k in order]))
    return found


def find_series(tables: Sequence[Table]) -> list[Series]:
    """Ablation series of every table, in table order."""
    return [s for t in tables for s in table_series(t)]
