"""The leaderboard page in a real headless Chromium: it loads from file://, escapes data, sorts
numerically when a header is clicked, and renders (screenshot).

Chromium is driven over the DevTools protocol with the ``websocket-client`` package. The test is
skipped only when Chromium itself is not installed (CI installs it with .ci/install-chromium.sh).
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image
from reasonvos.leaderboard.build import build_leaderboard
from writers.results import NASTY, results_json, write_results

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (run .ci/install-chromium.sh)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=1280,900"]
STARTUP_WAIT_S = 60  # how long to wait for Chromium to come up before failing (not a speed test)
INJECTION = "</script><script>document.title='pwned'</script>"


class DevTools:
    """A minimal DevTools-protocol client for one page target."""

    def __init__(self, ws_url: str) -> None:
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=STARTUP_WAIT_S, suppress_origin=True)
        self.ids = itertools.count(1)

    def call(self, method: str, **params):
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JS error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def chromium(tmp_path):
    """A headless Chromium with a fresh profile, and a DevTools client on its page."""
    profile = tmp_path / "profile"
    profile.mkdir()
    log = (tmp_path / "chromium.log").open("wb")
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=log, stderr=subprocess.STDOUT)
    client = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_WAIT_S
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start: {(tmp_path / 'chromium.log').read_text()[-2000:]}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
            targets = json.load(r)
        page = next(t for t in targets if t["type"] == "page")
        client = DevTools(page["webSocketDebuggerUrl"])
        yield client
    finally:
        if client is not None:
            client.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def open_page(cdp: DevTools, page: Path) -> None:
    cdp.call("Page.enable")
    cdp.call("Page.navigate", url=page.resolve().as_uri())
    deadline = time.monotonic() + STARTUP_WAIT_S
    while cdp.js("document.readyState") != "complete":
        assert time.monotonic() < deadline, "page did not finish loading"
        time.sleep(0.05)


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
