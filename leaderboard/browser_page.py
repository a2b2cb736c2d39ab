"""The per-sample browser's part of the leaderboard page: markup, style and script.

The table and the sample view are built by the script from JSON embedded with ``script_json``
(so no value can close its ``<script>``); every data-derived string reaches the document through
``textContent`` or an attribute set by the DOM API, never through ``innerHTML``. Thumbnails are
files next to the page (``browser/...``), referenced by relative paths, so the folder works from
``file://`` with no server and no network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .browser import BrowserGroup

#: rows drawn before "show all" (a benchmark split can have thousands of samples)
PAGE_ROWS = 200

CSS = """
#browser .controls{display:flex;flex-wrap:wrap;gap:.5em 1.2em;align-items:center;font-size:.9em;margin:.5em 0}
#browser .controls input[type=search]{min-width:18em}
#browser-table{border-collapse:collapse;font-size:.8em;width:100%}
#browser-table th,#browser-table td{padding:.2em .5em;border-bottom:1px solid #eee;text-align:right}
#browser-table th{cursor:pointer;user-select:none;background:#f6f6f6;position:sticky;top:0}
#browser-table th[aria-sort=ascending]::after{content:" \\25B2"}
#browser-table th[aria-sort=descending]::after{content:" \\25BC"}
#browser-table td.t,#browser-table th.t{text-align:left}#browser-table td.x{max-width:30em;white-space:normal}
#browser-table tbody tr{cursor:pointer}#browser-table tbody tr:hover{background:#f3f7ff}
#browser-table tbody tr.sel{background:#dde8ff}#browser-table .img::before{content:"\\25A3 ";color:#557}
#browser-table td.pos{color:#060}#browser-table td.neg{color:#a00}
#browser-detail{margin:1em 0;padding:.5em;border:1px solid #ddd;min-height:2em}
#browser-detail .method{margin:.6em 0}#browser-detail .tiles{display:flex;flex-wrap:wrap;gap:6px}
#browser-detail figure{margin:0;font-size:.75em;color:#444}#browser-detail figure img{display:block;border:0}
.swatch{display:inline-block;width:1.6em;height:.9em;vertical-align:middle;margin:0 .3em 0 .8em}
.swatch.gt{border:1px solid #000;outline:1px solid #fff;outline-offset:-3px;box-shadow:inset 0 0 0 3px #000}
"""

JS = """
(function(){
  var holder = document.getElementById('browser-data');
  if(!holder){ return; }
  var data = JSON.parse(holder.textContent);
  var PAGE = %(page)d;
  var $ = function(id){ return document.getElementById(id); };
  var st = {g: 0, a: 0, b: 1, filter: '', images: false, col: null, dir: 1, limit: PAGE, sel: null};
  function make(tag, text, cls){
    var n = document.createElement(tag);
    if(text !== undefined && text !== null){ n.textContent = String(text); }
    if(cls){ n.className = cls; }
    return n;
  }
  function pct(v){ return v === null || v === undefined ? '\\u2013' : (v * 100).toFixed(1); }
  function group(){ return data.groups[st.g]; }
  function options(select, names, chosen){
    while(select.firstChild){ select.removeChild(select.firstChild); }
    names.forEach(function(name, i){ var o = make('option', name); o.value = String(i); select.appendChild(o); });
    select.value = String(chosen);
  }
  function delta(r){
    var a = r[5][st.a], b = r[5][st.b];
    return (a === null || b === null || st.a === st.b) ? null : a - b;
  }
  // column ids: 0 video, 1 expression, 2 kind, 3 source, 4.. methods, then the difference
  function columns(){
    var g = group(), cols = [['Video', 't', 1], ['Expression', 't x', 2], ['Kind', 't', 3], ['Source', 't', 4]];
    g.methods.forEach(function(m, i){ cols.push([m + ' J&F', 'n', 'm' + i]); });
    var label = g.methods.length > 1 ? '\\u0394 J&F ' + g.methods[st.a] + ' \\u2212 ' + g.methods[st.b] : '\\u0394 J&F';
    cols.push([label, 'n', 'd']);
    return cols;
  }
  function cell(r, id){
    if(id === 'd'){ return delta(r); }
    if(typeof id === 'string'){ return r[5][+id.slice(1)]; }
    return r[id];
  }
  function matches(r){
    if(st.images && !group().images[r[0]]){ return false; }
    if(!st.filter){ return true; }
    var hay = [r[0], r[1], r[2], r[3], r[4]].join(' ').toLowerCase();
    return st.filter.toLowerCase().split(/\\s+/).every(function(t){ return hay.indexOf(t) >= 0; });
  }
  function sorted(rows, cols){
    if(st.col === null){ return rows; }
    var id = cols[st.col][2], numeric = cols[st.col][1] === 'n';
    var keyed = rows.map(function(r, i){ var v = cell(r, id); return {r: r, i: i, v: v === null || v === undefined || v === '' ? null : (numeric ? v : String(v).toLowerCase())}; });
    keyed.sort(function(x, y){
      if(x.v === null || y.v === null){ return x.v === y.v ? x.i - y.i : (x.v === null ? 1 : -1); }
      if(x.v < y.v){ return -st.dir; } if(x.v > y.v){ return st.dir; } return x.i - y.i;
    });
    return keyed.map(function(x){ return x.r; });
  }
  function render(){
    var g = group(), cols = columns(), table = $('browser-table');
    var head = table.tHead.rows[0];
    while(head.firstChild){ head.removeChild(head.firstChild); }
    cols.forEach(function(c, i){
      var th = make('th', c[0], c[1].indexOf('t') === 0 ? 't' : '');
      th.scope = 'col';
      th.setAttribute('data-type', c[1] === 'n' ? 'num' : 'text');
      if(st.col === i){ th.setAttribute('aria-sort', st.dir > 0 ? 'ascending' : 'descending'); }
      th.addEventListener('click', function(){
        if(st.col === i){ st.dir = -st.dir; } else { st.col = i; st.dir = c[1] === 'n' ? -1 : 1; }
        render();
      });
      head.appendChild(th);
    });
    var rows = sorted(g.rows.filter(matches), cols);
    var body = table.tBodies[0];
    while(body.firstChild){ body.removeChild(body.firstChild); }
    rows.slice(0, st.limit).forEach(function(r){
      var tr = document.createElement('tr');
      tr.setAttribute('data-key', r[0]);
      tr.tabIndex = 0;
      if(r[0] === st.sel){ tr.className = 'sel'; }
      cols.forEach(function(c){
        var v = cell(r, c[2]), td;
        if(c[1] === 'n'){
          td = make('td', pct(v));
          td.setAttribute('data-v', v === null || v === undefined ? '' : String(v));
          if(c[2] === 'd' && v !== null){ td.className = v > 0 ? 'pos' : (v < 0 ? 'neg' : ''); }
        } else {
          td = make('td', v === null ? '' : v, c[1]);
          if(c[2] === 1 && g.images[r[0]]){ td.className += ' img'; td.title = 'thumbnails available'; }
        }
        tr.appendChild(td);
      });
      tr.addEventListener('click', function(){ show(r[0]); });
      tr.addEventListener('keydown', function(ev){ if(ev.key === 'Enter'){ show(r[0]); } });
      body.appendChild(tr);
    });
    $('browser-count').textContent = rows.length + ' of ' + g.rows.length + ' samples' +
      (rows.length > st.limit ? ' (showing the first ' + st.limit + ')' : '');
    $('browser-more').hidden = rows.length <= st.limit;
  }
  function show(key){
    st.sel = key;
    var g = group(), row = null;
    g.rows.forEach(function(r){ if(r[0] === key){ row = r; } });
    var box = $('browser-detail');
    while(box.firstChild){ box.removeChild(box.firstChild); }
    Array.prototype.forEach.call(document.querySelectorAll('#browser-table tbody tr'), function(tr){
      tr.className = tr.getAttribute('data-key') === key ? 'sel' : '';
    });
    if(!row){ return; }
    box.appendChild(make('h3', row[1] + (row[2] ? ' \\u2014 \\u201c' + row[2] + '\\u201d' : '')));
    box.appendChild(make('div', key, 'small'));
    var shot = g.images[key];
    if(!shot){
      box.appendChild(make('p', 'No thumbnails for this sample: they are made at build time for the ' +
        data.samples + ' samples per benchmark where the methods with prediction folders (--analysis) ' +
        'disagree most, do worst and do best (--browse-samples sets how many).', 'note'));
      return;
    }
    var legend = make('p', null, 'legend');
    legend.appendChild(make('span', null, 'swatch gt'));
    legend.appendChild(document.createTextNode('ground truth (contour)'));
    var sw = make('span', null, 'swatch');
    if(/^#[0-9a-f]{6}$/.test(shot.fill)){ sw.style.background = shot.fill; sw.style.opacity = '0.7'; }
    legend.appendChild(sw);
    legend.appendChild(document.createTextNode('prediction (fill; colour picked to stand out in this video)'));
    box.appendChild(legend);
    g.methods.forEach(function(m, i){
      var div = make('div', null, 'method');
      div.setAttribute('data-method', m);
      div.appendChild(make('b', m + ' \\u00b7 J&F ' + pct(row[5][i])));
      var got = shot.methods[m];
      if(!got){
        div.appendChild(make('div', 'no prediction folder given for this method (pass --analysis)', 'small'));
        box.appendChild(div);
        return;
      }
      var tiles = make('div', null, 'tiles');
      got.tiles.forEach(function(src, f){
        var fig = make('figure');
        var img = make('img');
        img.src = src;
        img.alt = m + ', frame ' + shot.frames[f];
        fig.appendChild(img);
        var missing = got.missing.indexOf(shot.frames[f]) >= 0 ? ' (prediction missing)' : '';
        fig.appendChild(make('figcaption', shot.frames[f] + ' \\u00b7 J ' + pct(got.J[f]) + missing));
        tiles.appendChild(fig);
      });
      div.appendChild(tiles);
      box.appendChild(div);
    });
    box.scrollIntoView({block: 'nearest'});
  }
  function pickGroup(i){
    st.g = i; st.a = 0; st.b = group().methods.length > 1 ? 1 : 0; st.col = null; st.sel = null; st.limit = PAGE;
    options($('browser-a'), group().methods, st.a);
    options($('browser-b'), group().methods, st.b);
    var box = $('browser-detail');
    while(box.firstChild){ box.removeChild(box.firstChild); }
    box.appendChild(make('p', 'Click a sample to see its frames for every method.', 'small'));
    render();
  }
  options($('browser-group'), data.groups.map(function(g){ return g.title; }), 0);
  $('browser-group').parentNode.hidden = data.groups.length < 2;
  $('browser-group').addEventListener('change', function(ev){ pickGroup(+ev.target.value); });
  $('browser-a').addEventListener('change', function(ev){ st.a = +ev.target.value; render(); });
  $('browser-b').addEventListener('change', function(ev){ st.b = +ev.target.value; render(); });
  $('browser-filter').addEventListener('input', function(ev){ st.filter = ev.target.value.trim(); st.limit = PAGE; render(); });
  $('browser-images').addEventListener('change', function(ev){ st.images = ev.target.checked; render(); });
  $('browser-more').addEventListener('click', function(){ st.limit = Infinity; render(); });
  pickGroup(0);
})();
"""

SKELETON = """<h2 id="browser">Per-sample browser</h2>
<p class="legend">Every sample of every benchmark with per-sample results, one J&amp;F column per method.
Click a header to sort, type to filter (video, expression, kind, source or key), pick two methods
to compare (&Delta; = A &minus; B), and click a sample to see its frames for each method
(&#9635; marks samples with thumbnails).</p>
<div class="controls">
<label>Benchmark <select id="browser-group"></select></label>
<label>A <select id="browser-a"></select></label>
<label>B <select id="browser-b"></select></label>
<label>Filter <input type="search" id="browser-filter" placeholder="words in video, expression, kind, source"></label>
<label><input type="checkbox" id="browser-images"> only samples with thumbnails</label>
<span id="browser-count" class="small"></span>
</div>
<div id="browser-detail"></div>
<table id="browser-table"><thead><tr></tr></thead><tbody></tbody></table>
<p><button type="button" id="browser-more" hidden>Show all</button></p>
"""


def browser_data(groups: Sequence[BrowserGroup], samples: int) -> dict[str, Any]:
    """What the script reads: the groups and the thumbnail budget (to explain missing images)."""
    return {"samples": samples, "groups": [g.to_json() for g in groups]}


def browser_section(groups: Sequence[BrowserGroup], samples: int, script_json: Any) -> tuple[str, str]:
    """(HTML, script) of the browser; both empty when no results file carries per-sample rows."""
    if not groups:
        return "", ""
    data = f'<script type="application/json" id="browser-data">{script_json(browser_data(groups, samples))}</script>'
    return SKELETON + data, JS % {"page": PAGE_ROWS}
