"""The leaderboard page in a real headless Chromium: it loads from file://, escapes data, sorts
numerically when a header is clicked, and renders (screenshot).

Chromium is driven over the DevTools protocol (tests/support/chromium.py). The test is skipped
only when Chromium itself is not installed (CI installs it with .ci/install-chromium.sh).
"""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image
from reasonvos.leaderboard.build import build_leaderboard
from support.chromium import CHROMIUM, DevTools, open_page
from writers.results import NASTY, results_json, write_results

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (run .ci/install-chromium.sh)")
INJECTION = "</script><script>document.title='pwned'</script>"


def column(cdp: DevTools, table: str, index: int) -> list:
    return cdp.js(f"Array.from(document.querySelectorAll('#{table} tbody tr'))"
                  f".map(r => r.cells[{index}].getAttribute('data-v'))")


def click_header(cdp: DevTools, table: str, label: str) -> None:
    x, y = cdp.js(
        f"(() => {{ const th = Array.from(document.querySelectorAll('#{table} th'))"
        f".find(t => t.textContent.replace(/[\\u25B2\\u25BC]/g, '').trim() === {json.dumps(label)});"
        "th.scrollIntoView({block: 'center'}); const r = th.getBoundingClientRect();"
        "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    cdp.click(x, y)


def numeric(values: list) -> list:
    return [None if v in (None, "") else float(v) for v in values]


def expected_order(values: list, descending: bool) -> list:
    present = sorted((v for v in values if v is not None), reverse=descending)
    return present + [None] * sum(v is None for v in values)


@pytest.fixture
def page(tmp_path):
    res = tmp_path / "results"
    rows = (("A", 0.50, 0.40), ("B", 0.40, 0.60), (NASTY, 0.30, 0.55), (INJECTION, 0.20, 0.10))
    for k, (name, jf, f) in enumerate(rows):
        obj = results_json(name, jf)
        obj["summary"]["F"] = f  # F ranks the methods differently from J&F
        write_results(res, f"{k}.json", obj)
    return build_leaderboard([res], tmp_path / "out", title="Page test").page


def test_page_sorts_numerically_on_header_click_escapes_data_and_renders(chromium, page, tmp_path):
    cdp = chromium
    open_page(cdp, page)
    table = "table-reasonvos-all"
    assert cdp.js("document.title") == "Page test"  # the injected </script> did not run
    assert cdp.js("document.documentElement.getAttribute('data-entries')") is not None  # embedded JSON parsed
    names = cdp.js(f"Array.from(document.querySelectorAll('#{table} tbody td:first-child')).map(td => td.textContent)")
    assert NASTY in names and INJECTION in names  # shown as text, not markup
    assert cdp.js("document.querySelectorAll('td b').length") == 0

    headers = cdp.js(f"Array.from(document.querySelectorAll('#{table} th')).map(t => t.textContent)")
    f_col = headers.index("F")
    before = numeric(column(cdp, table, f_col))
    assert before != expected_order(before, descending=True)  # the initial order is by J&F, not by F

    click_header(cdp, table, "F")
    after = numeric(column(cdp, table, f_col))
    assert after == expected_order(before, descending=True)  # numeric: 60.0 before 9.x, blanks last
    assert cdp.js(f"document.querySelectorAll('#{table} th')[{f_col}].getAttribute('aria-sort')") == "descending"

    click_header(cdp, table, "F")
    assert numeric(column(cdp, table, f_col)) == expected_order(before, descending=False)

    click_header(cdp, table, "Method")
    methods = column(cdp, table, 0)
    assert methods == sorted(methods, key=str.lower)

    shot = base64.b64decode(cdp.call("Page.captureScreenshot", format="png")["data"])
    path = tmp_path / "leaderboard.png"
    path.write_bytes(shot)
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(shot)) as img:
        assert img.width > 100 and img.height > 100
        assert len(img.convert("L").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 2  # not a blank page
