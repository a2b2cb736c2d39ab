"""The leaderboard as one self-contained static HTML page (works from file://, no network).

CSS and JavaScript are inline, plots are embedded as base64 PNG data URIs, and every string that
comes from data (method names, instructions, paths, metadata) goes through ``html.escape``, after
its bidirectional control characters are made visible (reasonvos.textsafe). The
data embedded for scripts is JSON with ``<``, ``>``, ``&`` and the JS line separators escaped as
``\\uXXXX``, so no value can close the ``<script>`` element it sits in.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from reasonvos.textsafe import BIDI_CONTROLS, neutral_bidi

from .browser import DEFAULT_SAMPLES, BrowserGroup
from .browser_page import CSS as BROWSER_CSS
from .browser_page import browser_section
from .error_analysis import AnalysisItem
from .plots import Plot
from .store import Entry, dumps_json, entry_to_json
from .tables import (
    LEGEND,
    REPORTED_MARK,
    Table,
    ci_labels,
    ci_legend,
    ci_sort_values,
    ci_texts,
    entry_marks,
    fmt,
)

_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


@dataclass
class AnalysisSection:
    """Error analysis of one method on one benchmark, as the page shows it."""

    method: str
    benchmark: str
    split: str | None
    folder: str  # relative to the page
    items: list[AnalysisItem]
    images: dict[str, bytes] = field(default_factory=dict)  # strip name -> PNG bytes (embedded)


def e(value: Any) -> str:
    """HTML-escape any value (quotes too, so it is safe in attributes); bidirectional controls
    become visible escapes, so no name can display as another."""
    return escape(neutral_bidi("" if value is None else str(value)), quote=True)


def script_json(obj: Any) -> str:
    """JSON safe to embed inside ``<script>``: no ``</script>``, comments or line separators, and
    bidirectional controls as visible text (the script shows ``\u202e``, not an override)."""
    text = _BIDI.sub(lambda m: "\\" + neutral_bidi(m.group()), dumps_json(obj))  # JSON for "\u202e" as text
    for ch, rep in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, rep)
    return text


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;max-width:1200px;
 padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table.lb{border-collapse:collapse;font-size:.85em;margin:.5em 0}
table.lb th,table.lb td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
table.lb th:nth-child(-n+2),table.lb td:nth-child(-n+2){text-align:left}
table.lb td:first-child{white-space:normal;max-width:28em}
table.lb th{cursor:pointer;user-select:none;background:#f6f6f6;position:sticky;top:0}
table.lb th[aria-sort=ascending]::after{content:" \\25B2"}table.lb th[aria-sort=descending]::after{content:" \\25BC"}
tr.reported td{color:#666}tr.reported td:first-child{font-style:italic}
tr.role-oracle td:first-child,tr.role-floor td:first-child{color:#8a5a00}
.mark{color:#a00;font-style:normal}.legend,.note{font-size:.85em;color:#555}
.note{background:#fff8e0;padding:.4em .6em;border-left:3px solid #e0b000}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
details{margin:.4em 0}summary{cursor:pointer}dl{display:grid;grid-template-columns:max-content auto;
 gap:.15em 1em;font-size:.85em}dt{font-weight:600}dd{margin:0;word-break:break-all}
.strip img{max-width:100%;display:block;margin:.2em 0 1em}.small{font-size:.8em;color:#666}
"""

JS = """
(function(){
  function val(row, idx, numeric){
    var td = row.cells[idx]; if(!td){return null;}
    var v = td.getAttribute('data-v');
    if(numeric){ if(v === null || v === ''){return null;} var x = parseFloat(v); return isNaN(x) ? null : x; }
    return (v !== null ? v : td.textContent).toLowerCase();
  }
  function sortTable(table, idx, th){
    var numeric = th.getAttribute('data-type') === 'num';
    var cur = th.getAttribute('aria-sort');
    var dir = cur ? (cur === 'descending' ? 'ascending' : 'descending') : (numeric ? 'descending' : 'ascending');
    var heads = table.tHead.rows[0].cells;
    for(var i = 0; i < heads.length; i++){ heads[i].removeAttribute('aria-sort'); }
    th.setAttribute('aria-sort', dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function(r, i){ return {r: r, i: i, v: val(r, idx, numeric)}; });
    var sign = dir === 'ascending' ? 1 : -1;
    rows.sort(function(a, b){
      if(a.v === null && b.v === null){ return a.i - b.i; }
      if(a.v === null){ return 1; } if(b.v === null){ return -1; }
      if(a.v < b.v){ return -sign; } if(a.v > b.v){ return sign; }
      return a.i - b.i;
    });
    rows.forEach(function(x){ body.appendChild(x.r); });
  }
  var tables = document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables, function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(th, idx){
      th.addEventListener('click', function(){ sortTable(table, idx, th); });
    });
  });
  var data = JSON.parse(document.getElementById('leaderboard-data').textContent);
  document.documentElement.setAttribute('data-entries', String(data.entries.length));
})();
"""


def _table_html(table: Table) -> str:
    heads = ['<th data-type="text" scope="col">Method</th>', '<th data-type="text" scope="col">Origin</th>']
    heads += [f'<th data-type="num" scope="col">{e(c.label)}</th>' for c in table.columns]
    heads += [f'<th data-type="num" scope="col">{e(label)}</th>' for label in ci_labels(table)]
    body = []
    for i, row in enumerate(table.rows):
        classes = [row.origin] + ([f"role-{row.role}"] if row.role != "model" else [])
        name = e(row.method)
        for mark in entry_marks(row):
            name += f' <span class="mark">{e(mark)}</span>'
        if row.origin == "reported":
            name += f' <span class="mark" title="reported in the paper">{REPORTED_MARK}</span>'
        tip = "; ".join(x for x in (row.provenance.source or row.provenance.path, row.method_meta.get("note")) if x)
        cells = [f'<td data-v="{e(row.method)}" title="{e(tip)}">{name}</td>', f"<td>{e(row.origin)}</td>"]
        for c in table.columns:
            v = c.value(row)
            text = fmt(v) or "–"
            if table.is_best(i, c):
                text = f"<strong>{text}</strong>"
            cells.append(f'<td data-v="{"" if v is None else repr(v)}">{text}</td>')
        if table.uncertainty is not None:
            u = table.uncertainty.rows[i]
            tip = "; ".join(dict.fromkeys(x for x in (u.note, u.versus_note) if x))
            cells += [f'<td data-v="{"" if v is None else repr(v)}" title="{e(tip)}">{e(t)}</td>'
                      for t, v in zip(ci_texts(table, i), ci_sort_values(table, i), strict=True)]
        body.append(f'<tr class="{" ".join(classes)}">' + "".join(cells) + "</tr>")
    return (f'<table class="lb sortable" id="table-{e(table.slug)}"><thead><tr>{"".join(heads)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _plot_html(plot: Plot, links: dict[str, str]) -> str:
    if plot.skipped:
        return f'<p class="note">Plot “{e(plot.title)}” skipped: {e(plot.note)}.</p>'
    src = "data:image/png;base64," + base64.b64encode(plot.png or b"").decode("ascii")
    files = " · ".join(f'<a href="{e(href)}">{e(kind)}</a>' for kind, href in links.items())
    return (f'<figure id="plot-{e(plot.name)}"><img src="{src}" alt="{e(plot.title)}">'
            f"<figcaption>{e(plot.title)}{' — ' + files if files else ''}</figcaption></figure>")


def _dl(pairs: Sequence[tuple[str, Any]]) -> str:
    items = []
    for k, v in pairs:
        if v is None or v == "" or v == {}:
            continue
        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
        items.append(f"<dt>{e(k)}</dt><dd>{e(text)}</dd>")
    return "<dl>" + "".join(items) + "</dl>"


def _details_html(entry: Entry) -> str:
    s = entry.summary
    pairs: list[tuple[str, Any]] = [
        ("benchmark", entry.benchmark), ("split", entry.split), ("role", entry.role),
        ("protocol", entry.protocol), ("missing policy", entry.missing_policy),
        ("samples", s.get("n_samples")), ("missing samples", s.get("missing_samples")),
        ("missing frames", s.get("missing_frames")),
    ]
    pairs += [(f"meta: {k}", v) for k, v in sorted(entry.method_meta.items())]
    pairs += [("results file", entry.provenance.path), ("date", entry.provenance.date),
              ("toolkit version", entry.provenance.toolkit_version)]
    for k, p in enumerate(entry.superseded, start=1):
        pairs.append((f"superseded #{k}", f"{p.path} (date {p.date}, version {p.toolkit_version})"))
    when = f" · {e(entry.provenance.date)}" if entry.provenance.date else ""
    role = f" · {e(entry.role)}" if entry.role != "model" else ""
    head = f"{e(entry.method)} — {e(entry.benchmark)} {e(entry.split or '')}{role}{when}"
    return f"<details><summary>{head}</summary>{_dl(pairs)}</details>"


def _analysis_html(section: AnalysisSection) -> str:
    parts = [f"<h3>{e(section.method)} — {e(section.benchmark)} {e(section.split or '')}</h3>",
             '<p class="legend">Ground truth as a black-and-white contour, the prediction as a '
             "translucent fill (its colour, picked to stand out in each video, is named under each strip); "
             "frames sampled across each video. One entry per video and referred object(s): other "
             "expressions of the same target are listed under it.</p>"]
    for item in section.items:
        href = f"{section.folder}/{item.image}"
        data = section.images.get(item.image)
        img = (f'<img src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}" alt="{e(item.key)}">'
               if data is not None else "")
        missing = (f' <span class="mark">prediction missing for frames {e(", ".join(item.missing_frames))}</span>'
                   if item.missing_frames else "")
        parts.append(
            f'<div class="strip"><div><b>{e(item.rank)} #{item.position}</b> '
            f"<code>{e(item.key)}</code> J&amp;F {fmt(item.JF) or '–'} · J {fmt(item.J) or '–'} · "
            f"F {fmt(item.F) or '–'}{missing}</div><div>“{e(item.text)}”</div>"
            f'<div class="small">frames {e(", ".join(item.frames))} · <a href="{e(href)}">full strip</a></div>'
            f'<a href="{e(href)}">{img}</a>{_also_html(item)}</div>')
    return "".join(parts)


def _also_html(item: AnalysisItem) -> str:
    """The other expressions of an entry's video and objects (folded into it: distinct failures)."""
    if not item.also:
        return ""
    lines = "".join(
        f"<li>“{e(a.get('text'))}” <code>{e(a.get('key'))}</code> J&amp;F {fmt(a.get('JF')) or '–'}"
        f"{' · identical prediction' if a.get('same_prediction') else ''}</li>" for a in item.also)
    return (f'<details class="small"><summary>{len(item.also)} more expression(s) of the same target'
            f"</summary><ul>{lines}</ul></details>")


def render_page(
    title: str,
    tables: Sequence[Table],
    plots: Sequence[Plot],
    entries: Sequence[Entry],
    ignored: Sequence[tuple[Any, str]] = (),
    analyses: Sequence[AnalysisSection] = (),
    plot_links: dict[str, dict[str, str]] | None = None,
    generated_by: str = "",
    browser: Sequence[BrowserGroup] = (),
    browse_samples: int = DEFAULT_SAMPLES,
) -> str:
    """The whole page as a string (write it with an atomic write)."""
    plot_links = plot_links or {}
    measured = [x for x in entries if x.origin == "measured"]
    nav = " · ".join(f'<a href="#{e(t.slug)}">{e(t.title)}</a>' for t in tables)
    if browser:
        nav += ' · <a href="#browser">Per-sample browser</a>'
    body = [f"<h1>{e(title)}</h1>",
            f'<p class="legend">{e(LEGEND)} Click a column header to sort.</p>',
            f"<nav>{nav}</nav>"]
    if not tables:
        body.append('<p class="note">No results to show.</p>')
    for t in tables:
        body.append(f'<h2 id="{e(t.slug)}">{e(t.title)}</h2>{_table_html(t)}')
        if t.uncertainty is not None:
            body.append(f'<p class="legend">{e(ci_legend(t))}</p>')
    body.append('<h2 id="plots">Plots</h2>')
    body += [_plot_html(p, plot_links.get(p.name, {})) for p in plots]
    body.append('<h2 id="methods">Methods and provenance</h2>')
    if measured:
        body += [_details_html(x) for x in measured]
    else:
        body.append('<p class="note">No measured results; only numbers reported in the paper are shown.</p>')
    if any(x.origin == "reported" for x in entries):
        body.append(f'<p class="legend">{REPORTED_MARK} Reported rows are copied from the VideoLISA paper '
                    "(NeurIPS 2024); hover a method name for its table, and see the CSV column "
                    "<code>source</code>.</p>")
    if ignored:
        body.append("<h3>Files not used</h3><ul>" + "".join(
            f"<li><code>{e(p)}</code>: {e(why)}</li>" for p, why in ignored) + "</ul>")
    if analyses:
        body.append('<h2 id="analysis">Error analysis</h2>')
        body += [_analysis_html(a) for a in analyses]
    browser_html, browser_js = browser_section(browser, browse_samples, script_json)
    body.append(browser_html)
    data = {"title": title, "entries": [entry_to_json(x) for x in entries]}
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}{BROWSER_CSS if browser_js else ''}</style></head><body>"
        + "\n".join(body)
        + (f'<p class="small">{e(generated_by)}</p>' if generated_by else "")
        + f'<script type="application/json" id="leaderboard-data">{script_json(data)}</script>'
        + f"<script>{JS}</script>"
        + (f"<script>{browser_js}</script>" if browser_js else "")
        + "</body></html>\n"
    )
