"""The per-sample browser in a real headless Chromium, from file://: sort, filter, pick two
methods, open a sample and see every method's frames; a screenshot is saved with the test output."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image
from reasonvos.leaderboard.build import AnalysisSpec, BrowseOptions, build_leaderboard
from reasonvos.leaderboard.store import read_results
from support.chromium import CHROMIUM, open_page
from support.scored_methods import INJECTION, scored_methods

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (run .ci/install-chromium.sh)")

ROWS = "Array.from(document.querySelectorAll('#browser-table tbody tr'))"


@pytest.fixture
def board(tmp_path):
    scored = scored_methods(tmp_path)
    specs = [AnalysisSpec(scored.bench, None, folder, method=name, n=1) for name, folder in scored.preds.items()]
    build_leaderboard(list(scored.results.values()), tmp_path / "out", include_reported=False, analyses=specs,
                      title="Browser test", browse=BrowseOptions(samples=2, frames=3))
    jf = {read_results(p).method: {r["key"]: r["J&F"] for r in read_results(p).per_sample}
          for p in scored.results.values()}
    return tmp_path / "out" / "index.html", scored, jf


def headers(cdp) -> list[str]:
    return cdp.js("Array.from(document.querySelectorAll('#browser-table th')).map(t => t.textContent)")


def keys(cdp) -> list[str]:
    return cdp.js(f"{ROWS}.map(r => r.getAttribute('data-key'))")


def column(cdp, index: int) -> list:
    return cdp.js(f"{ROWS}.map(r => r.cells[{index}].getAttribute('data-v'))")


def click(cdp, selector: str) -> None:
    x, y = cdp.js(f"(() => {{ const n = document.querySelector({json.dumps(selector)});"
                  "n.scrollIntoView({block: 'center'}); const r = n.getBoundingClientRect();"
                  "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    cdp.click(x, y)


def test_sort_filter_compare_and_open_a_sample(chromium, board, tmp_path):
    page, scored, jf = board
    cdp = chromium
    open_page(cdp, page)
    assert cdp.js("document.title") == "Browser test"  # the method name's </script> did not run
    samples = [s.key for s in scored.bench.samples]
    assert sorted(keys(cdp)) == sorted(samples)
    heads = headers(cdp)
    assert heads[:4] == ["Video", "Expression", "Kind", "Source"]
    assert heads[4:6] == ["Exact J&F", f"{INJECTION} J&F"]  # the name as text
    delta = len(heads) - 1

    # sort by the difference A - B (numeric, largest first), then the other way
    click(cdp, f"#browser-table th:nth-child({delta + 1})")
    want = sorted(samples, key=lambda k: (-(jf["Exact"][k] - jf[INJECTION][k]), samples.index(k)))
    assert [float(v) for v in column(cdp, delta)] == pytest.approx([jf["Exact"][k] - jf[INJECTION][k] for k in want])
    assert keys(cdp) == want
    click(cdp, f"#browser-table th:nth-child({delta + 1})")
    assert keys(cdp) == sorted(samples, key=lambda k: (jf["Exact"][k] - jf[INJECTION][k], samples.index(k)))

    # pick the methods the other way round: the difference changes sign
    cdp.js("(() => { const a = document.getElementById('browser-a'); a.value = '1';"
           "a.dispatchEvent(new Event('change')); const b = document.getElementById('browser-b');"
           "b.value = '0'; b.dispatchEvent(new Event('change')); })()")
    assert headers(cdp)[delta] == f"\u0394 J&F {INJECTION} \u2212 Exact"
    got = dict(zip(keys(cdp), (float(v) for v in column(cdp, delta)), strict=True))
    assert got == pytest.approx({k: jf[INJECTION][k] - jf["Exact"][k] for k in samples})

    # filter: words must all occur in the video, expression, kind, source or key
    video = scored.bench.samples[0].video_id
    cdp.js(f"(() => {{ const f = document.getElementById('browser-filter'); f.value = {json.dumps(video)};"
           "f.dispatchEvent(new Event('input')); })()")
    assert sorted(keys(cdp)) == sorted(s.key for s in scored.bench.samples if s.video_id == video)
    assert cdp.js("document.getElementById('browser-count').textContent").startswith(f"{len(keys(cdp))} of {len(samples)}")
    cdp.js("(() => { const f = document.getElementById('browser-filter'); f.value = '';"
           "f.dispatchEvent(new Event('input')); const c = document.getElementById('browser-images');"
           "c.checked = true; c.dispatchEvent(new Event('change')); })()")
    with_images = keys(cdp)
    assert len(with_images) == 2

    # open a sample: each method's frames, with frame names and per-frame J, and a legend
    click(cdp, f"#browser-table tbody tr[data-key={json.dumps(with_images[0])}]")
    methods = cdp.js("Array.from(document.querySelectorAll('#browser-detail .method')).map(d => d.getAttribute('data-method'))")
    assert methods == ["Exact", INJECTION]
    figures = cdp.js("Array.from(document.querySelectorAll('#browser-detail .method')).map(d => "
                     "Array.from(d.querySelectorAll('figcaption')).map(c => c.textContent))")
    frames = cdp.js(f"JSON.parse(document.getElementById('browser-data').textContent).groups[0]"
                    f".images[{json.dumps(with_images[0])}].frames")
    assert len(frames) == 3 and figures[0] == [f"{f} \u00b7 J 100.0" for f in frames]
    assert [c.split(" \u00b7 ")[0] for c in figures[1]] == frames  # the same frames side by side
    loaded = cdp.js("(async () => { const imgs = Array.from(document.querySelectorAll('#browser-detail img'));"
                    "await Promise.all(imgs.map(i => i.decode().catch(() => null)));"
                    "return imgs.map(i => i.naturalWidth); })()")
    assert len(loaded) == 6 and all(w > 0 for w in loaded)  # the thumbnails load from file://
    legend = cdp.js("document.querySelector('#browser-detail .legend').textContent")
    assert "ground truth" in legend and "prediction" in legend

    shot = base64.b64decode(cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"])
    path = tmp_path / "browser.png"
    path.write_bytes(shot)
    print(f"browser screenshot: {path}")
    with Image.open(io.BytesIO(shot)) as img:
        assert img.width > 100 and len(img.convert("L").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 2


def test_a_sample_without_thumbnails_says_why(chromium, board):
    page, scored, _ = board
    cdp = chromium
    open_page(cdp, page)
    shown = set(cdp.js("Object.keys(JSON.parse(document.getElementById('browser-data').textContent).groups[0].images)"))
    other = next(s.key for s in scored.bench.samples if s.key not in shown)
    click(cdp, f"#browser-table tbody tr[data-key={json.dumps(other)}]")
    assert cdp.js("document.querySelectorAll('#browser-detail img').length") == 0
    assert "--browse-samples" in cdp.js("document.getElementById('browser-detail').textContent")
