"""Leaderboard plots (matplotlib, Agg, PNG and SVG), byte-for-byte deterministic.

Figures are drawn on an explicit Agg canvas (no pyplot state, no global backend switch), with
fixed metadata and SVG id salt, and with math-text parsing off so method names containing ``$``
or ``_`` are drawn literally. A plot that no data supports is returned as skipped, with the
reason, so the page can say so instead of showing an empty figure.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .ablation import Series, find_series
from .bins import BINNINGS, Binning, binned_jf
from .store import Entry
from .tables import Table, method_label
from .uncertainty import CI_METRICS, Settings, sample_frame

RC = {
    "svg.hashsalt": "reasonvos-leaderboard",
    "svg.fonttype": "path",
    "text.parse_math": False,
    "font.size": 8,
    "axes.titlesize": 9,
    "figure.dpi": 100,
}
COLORS = {"measured": "#1f77b4", "reported": "#bbbbbb", "oracle": "#2ca02c", "floor": "#d62728"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
MAX_LABEL = 48
#: boxplot's "horizontal" keyword changed in matplotlib 3.10 (``vert`` is deprecated)
_MPL = tuple(int(x) for x in matplotlib.__version__.split(".")[:2])
HORIZONTAL: dict = {"orientation": "horizontal"} if _MPL >= (3, 10) else {"vert": False}


@dataclass
class Plot:
    """A rendered plot, or a skipped one with the reason."""

    name: str
    title: str
    png: bytes | None = None
    svg: bytes | None = None
    note: str | None = None  # why it was skipped

    @property
    def skipped(self) -> bool:
        return self.png is None


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _color(e: Entry) -> str:
    if e.role in ("oracle", "floor"):
        return COLORS[e.role]
    return COLORS[e.origin]


def _render(name: str, title: str, draw: Callable[[Figure], None], size: tuple[float, float]) -> Plot:
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=size)
        FigureCanvasAgg(fig)
        draw(fig)
        fig.tight_layout()
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return Plot(name, title, png.getvalue(), svg.getvalue())


def _measured_tables(tables: Sequence[Table]) -> list[Table]:
    return [t for t in tables if t.has_measured]


def jf_bars(tables: Sequence[Table]) -> Plot:
    """J&F per method, one panel per benchmark split that has measured results."""
    name, title = "jf_bars", "J&F per method and benchmark"
    panels = [t for t in _measured_tables(tables) if any(e.value("J&F") is not None for e in t.rows)]
    if not panels:
        return Plot(name, title, note="no measured J&F results")
    heights = [max(1, sum(e.value("J&F") is not None for e in t.rows)) for t in panels]

    def draw(fig: Figure) -> None:
        axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
        for ax, t in zip(axes, panels, strict=True):
            rows = [e for e in t.rows if e.value("J&F") is not None][::-1]
            ys = range(len(rows))
            ax.barh(ys, [e.value("J&F") * 100 for e in rows], color=[_color(e) for e in rows],
                    hatch=None, edgecolor="black", linewidth=0.3)
            ax.set_yticks(list(ys), [_short(method_label(e)) for e in rows])
            ax.set_xlim(0, 100)
            ax.set_title(t.title)
            ax.set_xlabel("J&F (x100)")
            ax.grid(axis="x", linewidth=0.3)

    return _render(name, title, draw, (7.5, 1.0 + 0.22 * sum(heights) + 0.6 * len(panels)))


def distribution(tables: Sequence[Table]) -> Plot:
    """Per-sample J&F per measured method (box plots), one panel per benchmark split."""
    name, title = "per_sample", "Per-sample J&F distribution"
    panels = []
    for t in _measured_tables(tables):
        data = []
        for e in t.rows:
            vals = [float(r["J&F"]) * 100 for r in e.per_sample
                    if isinstance(r.get("J&F"), int | float) and r["J&F"] == r["J&F"]]
            if e.origin == "measured" and vals:
                data.append((e, vals))
        if data:
            panels.append((t, data))
    if not panels:
        return Plot(name, title, note="no results file carries per-sample J&F values")

    def draw(fig: Figure) -> None:
        axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
        for ax, (t, data) in zip(axes, panels, strict=True):
            data = data[::-1]  # best on top, as in the tables
            ax.boxplot([v for _, v in data], showmeans=True, **HORIZONTAL)
            ax.set_yticks(range(1, len(data) + 1), [_short(method_label(e)) for e, _ in data])
            ax.set_xlim(-2, 102)
            ax.set_xlabel("per-sample J&F (x100)")
            ax.set_title(t.title)
            ax.grid(axis="x", linewidth=0.3)

    n = sum(len(d) for _, d in panels)
    return _render(name, title, draw, (7.5, 1.0 + 0.35 * n + 0.8 * len(panels)))


def j_vs_f(tables: Sequence[Table]) -> Plot:
    """J against F for every row of the tables with measured results (reported as crosses)."""
    name, title = "j_vs_f", "J against F"
    panels = [t for t in _measured_tables(tables)
              if any(e.value("J") is not None and e.value("F") is not None for e in t.rows)]
    if not panels:
        return Plot(name, title, note="no measured results with both J and F")

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        ax.plot([0, 100], [0, 100], color="#999999", linewidth=0.5, linestyle="--")
        for k, t in enumerate(panels):
            color = PALETTE[k % len(PALETTE)]
            for origin, marker in (("measured", "o"), ("reported", "x")):
                pts = [(e.value("J") * 100, e.value("F") * 100) for e in t.rows if e.origin == origin
                       and e.value("J") is not None and e.value("F") is not None]
                if pts:
                    ax.scatter([p[0] for p in pts], [p[1] for p in pts], color=color, marker=marker,
                               s=18, label=f"{t.title}, {origin}")
            for e in t.rows:
                if e.origin == "measured" and e.value("J") is not None and e.value("F") is not None:
                    ax.annotate(_short(method_label(e)), (e.value("J") * 100, e.value("F") * 100),
                                fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_xlabel("J (x100)")
        ax.set_ylabel("F (x100)")
        ax.legend(fontsize=6, loc="lower right")
        ax.grid(linewidth=0.3)

    return _render(name, title, draw, (6.0, 5.0))


def per_source(tables: Sequence[Table]) -> Plot:
    """J&F per source dataset (grouped bars: sources x measured methods), one panel per split."""
    name, title = "per_source", "J&F per source dataset"
    panels = []
    for t in _measured_tables(tables):
        rows = [e for e in t.rows if e.origin == "measured" and e.breakdown("source")]
        sources = sorted({s for e in rows for s in e.breakdown("source")})
        if rows and sources:
            panels.append((t, rows, sources))
    if not panels:
        return Plot(name, title, note="no results file carries a per-source breakdown")

    methods = sorted({e.method for _, rows, _ in panels for e in rows})
    colour = {m: PALETTE[k % len(PALETTE)] for k, m in enumerate(methods)}  # same colour in every panel

    def draw(fig: Figure) -> None:
        axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
        for ax, (t, rows, sources) in zip(axes, panels, strict=True):
            width = 0.8 / len(rows)
            for k, e in enumerate(rows):
                cells = e.breakdown("source")
                # a source the method was not scored on has no bar (NaN), not a zero
                vals = [float("nan") if (v := (cells.get(s) or {}).get("J&F")) is None else float(v) * 100
                        for s in sources]
                xs = [i + (k - (len(rows) - 1) / 2) * width for i in range(len(sources))]
                ax.bar(xs, vals, width=width, color=colour[e.method],
                       label=_short(method_label(e)), edgecolor="black", linewidth=0.3)
            ax.set_xticks(range(len(sources)), sources)
            ax.set_ylim(0, 100)
            ax.set_ylabel("J&F (x100)")
            ax.set_title(t.title)
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
            ax.grid(axis="y", linewidth=0.3)

    return _render(name, title, draw, (7.5, 0.5 + 3.0 * len(panels)))


def _errorbar(ax, xs: list[float], ys: list[float], lows: list[float | None], highs: list[float | None],
              **style) -> None:
    """Points joined by a line, with CI error bars where a CI is known (x100 values)."""
    below = [y - lo if lo is not None else 0.0 for y, lo in zip(ys, lows, strict=True)]
    above = [hi - y if hi is not None else 0.0 for y, hi in zip(ys, highs, strict=True)]
    ax.errorbar(xs, ys, yerr=[below, above], marker="o", markersize=3, linewidth=1, capsize=2, **style)


def ablation_plot(series: Series, name: str) -> Plot:
    """Each metric of a series against its parameter, with the rows' 95% CIs as error bars."""
    t = series.table
    rows = [t.rows[i] for i in series.rows]
    metrics = [m for m in CI_METRICS if any(e.value(m) is not None for e in rows)]
    title = f"{t.title}, {series.protocol or 'default protocol'}: {series.family} against {series.key}"
    u = t.uncertainty
    xs = [float(v) for v in series.values] if series.numeric else list(range(len(series.values)))

    def draw(fig: Figure) -> None:
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, m in zip(axes, metrics, strict=True):
            pts = [(x, e.value(m), u.rows[i].ci.get(m) if u is not None else None)
                   for x, i, e in zip(xs, series.rows, rows, strict=True) if e.value(m) is not None]
            _errorbar(ax, [p[0] for p in pts], [p[1] * 100 for p in pts],
                      [p[2].low * 100 if p[2] else None for p in pts],
                      [p[2].high * 100 if p[2] else None for p in pts], color=PALETTE[0])
            if series.numeric:
                ax.set_xticks(xs, [_short(str(v)) for v in series.values])
            else:
                ax.set_xticks(xs, [_short(str(v)) for v in series.values], rotation=30, ha="right")
            ax.set_xlabel(series.key)
            ax.set_ylabel(f"{m} (x100)")
            ax.set_title(m)
            ax.grid(linewidth=0.3)
        fig.suptitle(_short(title) if len(title) > 2 * MAX_LABEL else title, fontsize=9)

    return _render(name, title, draw, (2.4 * len(metrics) + 0.6, 3.0))


def ablation_plots(tables: Sequence[Table]) -> list[Plot]:
    """One plot per ablation series (leaderboard.ablation); one skipped plot when there is none."""
    found = find_series(tables)
    if not found:
        return [Plot("ablation", "Ablations", note="no measured runs of one method differ in exactly one "
                     "method_meta parameter")]
    plots, used = [], set()
    for s in found:
        name = s.name
        k = 2
        while name in used:
            name, k = f"{s.name}-{k}", k + 1
        used.add(name)
        plots.append(ablation_plot(s, name))
    return plots


def breakdown_plot(tables: Sequence[Table], binning: Binning, settings: Settings | None) -> Plot:
    """Mean J&F per bin (leaderboard.bins) for every measured method, one panel per benchmark
    split, with 95% CIs (video-resampled bootstrap) when ``settings`` is given."""
    panels = []
    for t in _measured_tables(tables):
        lines = []
        for e in t.rows:
            frame = sample_frame(e)
            points = binned_jf(frame, binning, settings) if frame is not None else []
            if points:
                lines.append((e, points))
        if lines:
            used = {p.label for _, pts in lines for p in pts}
            panels.append((t, lines, [b for b in binning.labels if b in used]))
    if not panels:
        return Plot(binning.name, binning.title, note=binning.absent)
    methods = sorted({e.method for _, lines, _ in panels for e, _ in lines})
    colour = {m: PALETTE[k % len(PALETTE)] for k, m in enumerate(methods)}

    def draw(fig: Figure) -> None:
        axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
        for ax, (t, lines, bins) in zip(axes, panels, strict=True):
            where = {b: k for k, b in enumerate(bins)}
            for k, (e, points) in enumerate(lines):
                shift = (k - (len(lines) - 1) / 2) * 0.06  # keep overlapping error bars apart
                _errorbar(ax, [where[p.label] + shift for p in points], [p.value * 100 for p in points],
                          [p.ci.low * 100 if p.ci else None for p in points],
                          [p.ci.high * 100 if p.ci else None for p in points],
                          color=colour[e.method], label=_short(method_label(e)))
            ns = {b: sorted({p.n for _, pts in lines for p in pts if p.label == b}) for b in bins}
            ax.set_xticks(range(len(bins)), [f"{b}\nn={n[0]}" + (f"-{n[-1]}" if len(n) > 1 else "")
                                             for b, n in ns.items()])
            ax.set_ylim(0, 100)
            ax.set_xlabel(binning.axis)
            ax.set_ylabel("J&F (x100)")
            ax.set_title(t.title)
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
            ax.grid(linewidth=0.3)

    return _render(binning.name, binning.title, draw, (7.5, 0.5 + 3.0 * len(panels)))


def all_plots(tables: Sequence[Table], ci: Settings | None = None) -> list[Plot]:
    """Every leaderboard plot, in page order; ``ci`` sets the bootstrap of the breakdown plots'
    error bars (None: no error bars)."""
    return [jf_bars(tables), distribution(tables), j_vs_f(tables), per_source(tables),
            *(breakdown_plot(tables, b, ci) for b in BINNINGS), *ablation_plots(tables)]
