"""Leaderboard tables: one per benchmark split, rendered as Markdown, LaTeX (booktabs) and CSV.

A :class:`Table` is built once from entries (measured and reported side by side) and rendered by
each format, so every output agrees on rows, columns, markers and which value is best. Values are
fractions internally and shown x100 with one decimal; "best" compares the shown values, so ties
at that precision are all bold. Oracle and floor rows are reference points, never "best".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reasonvos.benchmarks import registry
from reasonvos.textsafe import csv_cell, neutral_bidi

from .reported import display_name
from .store import Entry

if TYPE_CHECKING:
    from .uncertainty import TableUncertainty

BASE_METRICS = ("J", "F", "J&F", "gIoU", "cIoU")
#: breakdown groups shown as extra J&F columns, in this order
BREAKDOWN_GROUPS = ("kind", "source", "annotator", "slot")
KIND_ORDER = ("short", "long", "first-frame", "full-video")
REPORTED_MARK = "†"
ROLE_MARKS = {"oracle": "[oracle]", "floor": "[floor]", "published": "[published predictions]"}
#: roles that compete for the best value of a column (oracles and floors are references, not entries)
RANKED_ROLES = ("model", "published")
LEGEND = (
    f"{REPORTED_MARK} italic: reported in the paper, not measured by this toolkit. "
    "[oracle] / [floor]: reference rows (upper / lower bounds), never counted as best. "
    "Bold: best value per column. Values x100."
)


@dataclass(frozen=True)
class Column:
    """One numeric column: a summary metric, or the J&F of one breakdown cell."""

    key: str
    label: str
    metric: str
    group: str | None = None
    cell: str | None = None

    def value(self, entry: Entry) -> float | None:
        if self.group is None:
            return entry.value(self.metric)
        cell = entry.breakdown(self.group).get(self.cell or "")
        if not isinstance(cell, dict):
            return None
        v = cell.get(self.metric)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and v == v else None


@dataclass
class Table:
    """A leaderboard for one benchmark split."""

    benchmark: str
    split: str | None
    columns: list[Column]
    rows: list[Entry]
    best: dict[str, set[int]] = field(default_factory=dict)  # column key -> row indices
    uncertainty: TableUncertainty | None = None  # CIs and differences from the best (leaderboard.uncertainty)

    @property
    def title(self) -> str:
        name = display_name(self.benchmark)
        return f"{name} ({self.split})" if self.split else name

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", f"{self.benchmark}-{self.split or 'all'}").strip("-").lower()

    @property
    def has_measured(self) -> bool:
        return any(r.origin == "measured" for r in self.rows)

    def cell(self, row: int, column: Column) -> float | None:
        return column.value(self.rows[row])

    def is_best(self, row: int, column: Column) -> bool:
        return row in self.best.get(column.key, set())


def fmt(value: float | None) -> str:
    """x100 with one decimal; empty where not available."""
    return "" if value is None else f"{value * 100:.1f}"


#: marks a difference from the best measured method whose 95% CI excludes 0
DIFFERS_MARK = "*"


def ci_labels(table: Table) -> list[str]:
    """Headers of the uncertainty columns of Markdown, LaTeX and the page (none without CIs)."""
    u = table.uncertainty
    return [] if u is None else [f"{u.metric} 95% CI", f"Δ {u.metric} vs best"]


def ci_texts(table: Table, row: int, dash: str = "–", missing: str = "–") -> list[str]:
    """The uncertainty cells of one row: the CI of the headline metric as "low–high" (x100) and
    the difference from the best measured method (x100, marked when its CI excludes 0)."""
    u = table.uncertainty
    if u is None:
        return []
    r = u.rows[row]
    ci = r.ci.get(u.metric)
    interval = f"{fmt(ci.low)}{dash}{fmt(ci.high)}" if ci is not None else missing
    if r.is_reference:
        versus = "best"
    elif r.versus is not None:
        versus = f"{r.versus.diff * 100:+.1f}" + (DIFFERS_MARK if r.versus.differs else "")
    else:
        versus = missing
    return [interval, versus]


def ci_sort_values(table: Table, row: int) -> list[float | None]:
    """What the page sorts the uncertainty columns by: the CI's lower end, the difference (0 for
    the best itself); None where the cell is empty."""
    u = table.uncertainty
    if u is None:
        return []
    r = u.rows[row]
    ci = r.ci.get(u.metric)
    return [ci.low if ci is not None else None,
            0.0 if r.is_reference else (r.versus.diff if r.versus is not None else None)]


def ci_legend(table: Table) -> str:
    """What the uncertainty columns mean, with this table's settings and reference method."""
    u = table.uncertainty
    if u is None:
        return ""
    ref = method_label(table.rows[u.reference]) if u.reference is not None else None
    versus = (f"Δ vs best: paired difference from the best measured method ({ref}), same samples; "
              f"{DIFFERS_MARK}: its 95% CI excludes 0. " if ref else "")
    return (f"95% CI: bootstrap over videos ({u.settings.resamples} resamples, seed {u.settings.seed}) "
            f"of the {u.metric} the protocol reports (docs/metrics.md#leaderboard-uncertainty). {versus}Rows "
            "without per-sample rows (reported in the paper, older results files) carry no CI.")


def _breakdown_columns(entries: Sequence[Entry]) -> list[Column]:
    cols: list[Column] = []
    for group in BREAKDOWN_GROUPS:
        names: list[str] = []
        for e in entries:
            for name in e.breakdown(group):
                if name not in names:
                    names.append(name)
        if group == "kind":
            names.sort(key=lambda n: (KIND_ORDER.index(n) if n in KIND_ORDER else len(KIND_ORDER), n))
        else:
            names.sort()
        for name in names:
            label = f"{name} J&F" if group in ("kind", "source") else f"{group} {name} J&F"
            cols.append(Column(key=f"{group}:{name}", label=label, metric="J&F", group=group, cell=name))
    return cols


#: the metric a table is ranked by (and whose CI it shows): the first of these an entry has
PRIMARY_METRICS = ("J&F", "gIoU", "cIoU", "J")


def _primary(entry: Entry) -> float:
    for m in PRIMARY_METRICS:
        v = entry.value(m)
        if v is not None:
            return v
    return -1.0


def build_table(entries: Sequence[Entry]) -> Table:
    """One table from entries of the same benchmark split, sorted best first."""
    rows = sorted(entries, key=lambda e: (-_primary(e), e.origin != "measured", e.method))
    columns = [Column(key=m, label=m, metric=m) for m in BASE_METRICS
               if any(e.value(m) is not None for e in rows)]
    columns += [c for c in _breakdown_columns(rows) if any(c.value(e) is not None for e in rows)]
    table = Table(rows[0].benchmark, rows[0].split, columns, rows)
    for col in columns:
        shown = {i: round(v * 100, 1) for i, e in enumerate(rows)
                 if e.role in RANKED_ROLES and (v := col.value(e)) is not None}
        if shown:
            top = max(shown.values())
            table.best[col.key] = {i for i, v in shown.items() if v == top}
    return table


def build_tables(entries: Sequence[Entry]) -> list[Table]:
    """One table per (benchmark, split): tables with measured rows first, registered benchmarks
    first in the registry's order (names it does not know, e.g. a paper's image benchmarks, after),
    and the splits of a benchmark in the order they first appear (the paper's order for reported)."""
    groups: dict[tuple[str, str | None], list[Entry]] = {}
    for e in entries:
        groups.setdefault((e.benchmark, e.split), []).append(e)
    tables = [build_table(g) for g in groups.values()]
    known = registry.names()

    def order(item: tuple[int, Table]) -> tuple:
        first, t = item
        bench = known.index(t.benchmark) if t.benchmark in known else len(known)
        return (not t.has_measured, bench, t.benchmark, first)

    return [t for _, t in sorted(enumerate(tables), key=order)]


def default_protocol(benchmark: str) -> str | None:
    """The protocol a benchmark is scored with unless told otherwise (its spec's first), None for
    a name the registry does not know."""
    spec = registry.find(benchmark)
    return spec.default_protocol if spec is not None else None


def entry_marks(entry: Entry) -> list[str]:
    """Plain-text markers after a method name: its role (oracle, floor, ...), a protocol other than
    the benchmark's usual one (named in the row), and incomplete runs."""
    marks = [ROLE_MARKS[entry.role]] if entry.role in ROLE_MARKS else []
    if entry.protocol and entry.protocol != (default_protocol(entry.benchmark) or entry.protocol):
        marks.append(f"[{entry.protocol}]")
    if entry.coverage_note:
        marks.append(f"[{entry.coverage_note}]")
    return marks


def method_label(entry: Entry) -> str:
    """The method name with its plain-text markers (reported, role, coverage)."""
    label = " ".join([entry.method, *entry_marks(entry)])
    if entry.origin == "reported":
        label += f" {REPORTED_MARK}"
    return label


# ------------------------------------------------------------------------------------ Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~#{}])")
#: CommonMark ends a line (so a table row) at "\n", "\r\n" and a lone "\r"
_LINE_END = re.compile(r"\r\n?|\n")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown/HTML punctuation so a name renders literally (CommonMark);
    bidirectional controls become visible escapes first."""
    return _LINE_END.sub(" ", _MD_SPECIAL.sub(r"\\\1", neutral_bidi(text)))


def to_markdown(table: Table) -> str:
    header = ["Method", "Origin", *(c.label for c in table.columns), *ci_labels(table)]
    lines = [f"### {md_escape(table.title)}", "",
             "| " + " | ".join(md_escape(h) for h in header) + " |",
             "|" + "|".join([":---", ":---"] + ["---:"] * (len(header) - 2)) + "|"]
    for i, e in enumerate(table.rows):
        name = " ".join(md_escape(t) for t in [e.method, *entry_marks(e)])
        if e.origin == "reported":
            name = f"*{name}* {REPORTED_MARK}"
        cells = [name, e.origin]
        for c in table.columns:
            text = fmt(c.value(e)) or "–"
            cells.append(f"**{text}**" if table.is_best(i, c) else text)
        cells += [md_escape(t) for t in ci_texts(table, i)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", md_escape(" ".join(x for x in (LEGEND, ci_legend(table)) if x)), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------- LaTeX

_TEX_SPECIAL = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "†": r"\dag{}",
    "[": "{[}", "]": "{]}",  # a cell starting with "[" would be read as the optional argument of \\
}
_TEX_RE = re.compile("|".join(re.escape(k) for k in _TEX_SPECIAL))


def tex_escape(text: str) -> str:
    """Escape LaTeX's special characters in one pass (so inserted backslashes stay intact);
    bidirectional controls become visible escapes first."""
    return _TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group(0)], neutral_bidi(text).replace("\n", " "))


def to_latex(table: Table) -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}``)."""
    header = ["Method", "Origin", *(c.label for c in table.columns), *ci_labels(table)]
    spec = "ll" + "r" * (len(header) - 2)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{tex_escape(table.title)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(tex_escape(h).replace("Δ", r"$\Delta$") for h in header) + r" \\",
        r"\midrule",
    ]
    for i, e in enumerate(table.rows):
        name = " ".join(tex_escape(t) for t in [e.method, *entry_marks(e)])
        if e.origin == "reported":
            name = rf"\textit{{{name}}}\textsuperscript{{\dag}}"
        cells = [name, e.origin]
        for c in table.columns:
            text = fmt(c.value(e)) or "--"
            cells.append(rf"\textbf{{{text}}}" if table.is_best(i, c) else text)
        cells += [tex_escape(t) for t in ci_texts(table, i, dash="--", missing="--")]
        lines.append(" & ".join(cells) + r" \\")
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        r"\par\smallskip{\footnotesize " + tex_escape(" ".join(x for x in (LEGEND, ci_legend(table)) if x))
        .replace("Δ", r"$\Delta$").replace("–", "--") + "}",
        r"\end{table}",
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- CSV

CSV_LEAD = ["benchmark", "split", "method", "origin", "role"]
CSV_TAIL = ["best", "coverage", "source", "date", "toolkit_version"]


def csv_ci_labels(table: Table) -> list[str]:
    """The uncertainty columns of the CSV: low/high per metric with a CI in some row, then the
    difference of the headline metric from the best measured method."""
    u = table.uncertainty
    if u is None:
        return []
    metrics = [c.metric for c in table.columns if c.group is None and any(c.metric in r.ci for r in u.rows)]
    m = u.metric
    return ([x for k in metrics for x in (f"{k} CI low", f"{k} CI high")]
            + [f"Δ {m} vs best", f"Δ {m} CI low", f"Δ {m} CI high", f"Δ {m} p", "best reference",
               "differs from best", "CI note"])


def _csv_ci_cells(table: Table, row: int) -> dict[str, str]:
    u = table.uncertainty
    if u is None:
        return {}
    r, m = u.rows[row], u.metric
    cells = {}
    for k, ci in r.ci.items():
        cells[f"{k} CI low"], cells[f"{k} CI high"] = fmt(ci.low), fmt(ci.high)
    if r.is_reference:
        cells["differs from best"] = "best"
    elif r.versus is not None:
        v = r.versus
        cells.update({f"Δ {m} vs best": f"{v.diff * 100:.1f}", f"Δ {m} CI low": f"{v.low * 100:.1f}",
                      f"Δ {m} CI high": f"{v.high * 100:.1f}", f"Δ {m} p": f"{v.p_value:.4g}",
                      "differs from best": "yes" if v.differs else "no"})
    if u.reference is not None:
        cells["best reference"] = table.rows[u.reference].method
    cells["CI note"] = "; ".join(dict.fromkeys(x for x in (r.note, r.versus_note) if x))
    return cells


def csv_rows(table: Table) -> list[dict[str, str]]:
    rows = []
    for i, e in enumerate(table.rows):
        row = {"benchmark": e.benchmark, "split": e.split or "", "method": e.method,
               "origin": e.origin, "role": e.role}
        row.update({c.label: fmt(c.value(e)) for c in table.columns})
        row.update(_csv_ci_cells(table, i))
        row["best"] = ";".join(c.label for c in table.columns if table.is_best(i, c))
        row["coverage"] = e.coverage_note or ""
        prov = e.provenance
        row["source"] = prov.source or prov.path or ""
        row["date"] = prov.date or ""
        row["toolkit_version"] = prov.toolkit_version or ""
        rows.append(row)
    return rows


class _LFRecords(io.StringIO):
    r"""Takes csv.writer's records ending in "\r\n" and stores them ending in "\n".

    csv quotes a field only for the characters of its line terminator: with "\n" it leaves a
    lone "\r" (e.g. in a method name) unquoted, and readers end the record there. Writing with
    "\r\n" quotes both; csv.writer hands over one record per ``write``.
    """

    def write(self, s: str) -> int:
        return super().write(s[:-2] + "\n" if s.endswith("\r\n") else s)


def to_csv(tables: Table | Sequence[Table]) -> str:
    """CSV of one table, or of several (the union of their columns). Text cells never read as
    spreadsheet formulas (reasonvos.textsafe.csv_cell); numbers stay numbers."""
    tables = [tables] if isinstance(tables, Table) else list(tables)
    labels: list[str] = []
    for t in tables:
        labels += [c.label for c in t.columns if c.label not in labels]
    for t in tables:
        labels += [x for x in csv_ci_labels(t) if x not in labels]
    fields = CSV_LEAD + labels + CSV_TAIL
    buf = _LFRecords()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([csv_cell(f) for f in fields])
    for t in tables:
        writer.writerows([csv_cell(row.get(f, "")) for f in fields] for row in csv_rows(t))
    return buf.getvalue()
