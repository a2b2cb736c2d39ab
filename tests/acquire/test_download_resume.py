"""Resumed downloads never splice two versions of a file: servers that ignore or misanswer ranges, change files, cut bodies, redirect in loops or serve web pages."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from writers.archives import write_zip

from reasonvos.acquire.download import RetryPolicy, http_download
from reasonvos.errors import DownloadError

FAST = RetryPolicy(attempts=3, base_delay=0.0, timeout=5.0)


class ChangingServer:
    """Serves one path whose content can change; ETag per content; Range and If-Range honoured
    unless told otherwise; the first ``cut_times`` replies stop after ``cut_after`` bytes.

    Misbehaviours seen in the wild, each off by default: ``if_range=False`` answers a Range with
    206 even when If-Range no longer matches; ``star_total`` sends ``Content-Range: .../*``;
    ``partial_to_get=N`` answers a plain GET with 206 and only the first N bytes;
    ``no_length`` sends no Content-Length and ends the body by closing the connection."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.etags = True
        self.honour_range = True
        self.cut_after = 0
        self.cut_times = 0
        self.content_type = "application/octet-stream"
        self.if_range = True
        self.star_total = False
        self.partial_to_get: int | None = None
        self.no_length = False
        self.requests: list[dict[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                rng, if_range = self.headers.get("Range"), self.headers.get("If-Range")
                server.requests.append({"path": self.path, "range": rng, "if_range": if_range})
                if self.path in server.redirects:
                    self._send(302, b"", {"Location": server.redirects[self.path]})
                    return
                if self.path not in server.files:
                    self._send(404, b"not found", {})
                    return
                data = server.files[self.path]
                etag = f'"{hash(data) & 0xFFFFFFFF:08x}"'
                headers = {"Content-Type": server.content_type, "Accept-Ranges": "bytes"}
                if server.etags:
                    headers["ETag"] = etag
                status, body = 200, data
                use_range = rng and server.honour_range and (if_range in (None, etag) or not server.if_range)
                total = "*" if server.star_total else str(len(data))
                if use_range:
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                        return
                    status, body = 206, data[start:]
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{total}"
                elif server.partial_to_get is not None:
                    status, body = 206, data[: server.partial_to_get]
                    headers["Content-Range"] = f"bytes 0-{server.partial_to_get - 1}/{total}"
                if server.cut_times > 0 or server.no_length:
                    cut = server.cut_after if server.cut_times > 0 else len(body)
                    server.cut_times = max(server.cut_times - 1, 0)
                    self.send_response(status)
                    length = {"Connection": "close"} if server.no_length else {"Content-Length": str(len(body))}
                    for k, v in {**headers, **length}.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(status, body, headers)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def srv() -> Iterator[ChangingServer]:
    s = ChangingServer()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _interrupted(srv: ChangingServer, dest: Path, first: bytes, cut: int) -> None:
    """Leave ``dest.part`` holding the first ``cut`` bytes of ``first``, as a killed run would."""
    srv.files["/f.zip"] = first
    srv.cut_after, srv.cut_times = cut, 1
    with pytest.raises(DownloadError, match="cut short|interrupted"):
        http_download([srv.url + "/f.zip"], dest, policy=RetryPolicy(attempts=1), quiet=True)
    assert dest.with_name(dest.name + ".part").stat().st_size == cut


def test_resume_against_a_server_that_ignores_range_gives_the_whole_file(srv: ChangingServer, tmp_path: Path):
    data = os.urandom(50_000)
    dest = tmp_path / "f.zip"
    _interrupted(srv, dest, data, 20_000)
    srv.honour_range = False  # answers 200 with the full body
    http_download([srv.url + "/f.zip"], dest, policy=FAST, quiet=True)
    assert dest.read_bytes() == data
    assert srv.requests[-1]["range"] == "bytes=20000-"


def test_resume_after_the_server_file_changed_does_not_splice_two_versions(srv: ChangingServer, tmp_path: Path):
    """Same length, new content: If-Range with the first reply's ETag makes the server send it all."""
    old, new = b"A" * 50_000, b"B" * 50_000
    dest = tmp_path / "f.zip"
    _interrupted(srv, dest, old, 20_000)
    srv.files["/f.zip"] = new
    http_download([srv.url + "/f.zip"], dest, policy=FAST, quiet=True)  # no size or sha256 published (Ref-DAVIS)
    assert dest.read_bytes() == new
    assert srv.requests[-1]["if_range"] is not None


def test_resume_after_the_server_file_changed_length_starts_over(srv: ChangingServer, tmp_path: Path):
    """No ETag at all, but the Content-Range total differs from the first reply's length."""
    srv.etags = False
    old, new = b"A" * 50_000, b"B" * 60_000
    dest = tmp_path / "f.zip"
    _interrupted(srv, dest, old, 20_000)
    srv.files["/f.zip"] = new
    http_download([srv.url + "/f.zip"], dest, policy=FAST, quiet=True)
    assert dest.read_bytes() == new


def test_part_longer_than_the_changed_server_file_is_restarted_after_416(srv: ChangingServer, tmp_path: Path):
    srv.etags = False
    dest = tmp_path / "f.zip"
    _interrupted(srv, dest, b"A" * 50_000, 40_000)
    srv.files["/f.zip"] = new = b"C" * 30_000
    http_download([srv.url + "/f.zip"], dest, policy=FAST, quiet=True)
    assert dest.read_bytes() == new
    assert [r["range"] for r in srv.requests[-2:]] == ["bytes=40000-", None]


def test_content_length_shorter_than_the_published_size_is_never_accepted(srv: ChangingServer, tmp_path: Path):
    data = os.urandom(40_000)
    srv.files["/f.zip"] = data[:30_000]  # a proxy announcing (and sending) a short body
    with pytest.raises(DownloadError, match="30000 bytes, expected 40000"):
        http_download([srv.url + "/f.zip"], tmp_path / "f.zip", size=40_000, policy=FAST, quiet=True)
    assert not (tmp_path / "f.zip").exists()


def test_web_page_behind_the_first_url_falls_back_to_the_second(srv: ChangingServer, tmp_path: Path):
    """A dead academic link often answers 200 with an HTML page; the alternate URL must still be tried."""
    good = write_zip(tmp_path / "good.zip", {"a.txt": b"a"}).read_bytes()
    srv.files["/old/t.zip"] = b"<html>This page has moved</html>"
    srv.files["/new/t.zip"] = good
    dest = tmp_path / "dl/t.zip"
    http_download([srv.url + "/old/t.zip", srv.url + "/new/t.zip"], dest, policy=FAST, quiet=True,
                  expect_archive=True)
    assert dest.read_bytes() == good
    assert (tmp_path / "dl/t.zip.corrupt").read_bytes().startswith(b"<html>")


def test_wrong_checksum_at_every_url_names_each(srv: ChangingServer, tmp_path: Path):
    srv.files["/a/f.bin"] = b"x" * 10
    srv.files["/b/f.bin"] = b"y" * 10
    with pytest.raises(DownloadError) as info:
        http_download([srv.url + "/a/f.bin", srv.url + "/b/f.bin"], tmp_path / "f.bin", sha256="0" * 64,
                      policy=FAST, quiet=True)
    assert "/a/f.bin" in str(info.value) and "/b/f.bin" in str(info.value)
    assert not (tmp_path / "f.bin").exists()


def test_redirect_loop_is_a_download_error_and_the_next_url_is_tried(srv: ChangingServer, tmp_path: Path):
    """requests' TooManyRedirects is neither a connection error nor a timeout: it must not crash."""
    srv.redirects["/loop/t.bin"] = "/loop/t.bin"
    srv.files["/ok/t.bin"] = b"data"
    http_download([srv.url + "/loop/t.bin", srv.url + "/ok/t.bin"], tmp_path / "t.bin", policy=FAST, quiet=True)
    assert (tmp_path / "t.bin").read_bytes() == b"data"
    with pytest.raises(DownloadError, match="loop/t.bin.*redirect"):
        http_download([srv.url + "/loop/t.bin"], tmp_path / "u.bin", policy=FAST, quiet=True)


def test_a_206_whose_etag_differs_from_the_first_reply_is_not_appended(srv: ChangingServer, tmp_path: Path):
    """The server ignores If-Range and sends the tail of its *new* version: same length, new ETag."""
    old, new = b"A" * 50_000, b"B" * 50_000
    dest = tmp_path / "f.zip"
    _interrupted(srv, dest, old, 20_000)
    srv.files["/f.zip"], srv.if_range = new, False
    http_download([srv.url + "/f.zip"], dest, policy=FAST, quiet=True)
    assert dest.read_bytes() == new
    assert [r["range"] for r in srv.requests[-2:]] == ["bytes=20000-", None]  # the tail was refused


def test_a_206_answer_to_a_plain_get_is_not_taken_as_the_whole_file(srv: ChangingServer, tmp_path: Path):
    srv.files["/f.zip"] = os.urandom(50_000)
    srv.partial_to_get = 10_000
    with pytest.raises(DownloadError, match=r"f\.zip.*HTTP 206 .*sent part of the file \(Content-Range bytes 0-9999/50000\)"):
        http_download([srv.url + "/f.zip"], tmp_path / "f.zip", policy=FAST, quiet=True)
    assert not (tmp_path / "f.zip").exists()


def test_a_206_that_covers_the_whole_file_is_the_whole_file(srv: ChangingServer, tmp_path: Path):
    srv.files["/f.zip"] = data = os.urandom(50_000)
    srv.partial_to_get = 50_000
    http_download([srv.url + "/f.zip"], tmp_path / "f.zip", policy=FAST, quiet=True)
    assert (tmp_path / "f.zip").read_bytes() == data


def test_a_body_without_length_cut_short_is_not_accepted_when_nothing_can_check_it(srv: ChangingServer, tmp_path: Path):
    """No Content-Length and no chunked framing: a closed connection looks like the end of the file."""
    srv.files["/f.json"] = b"x" * 50_000
    srv.no_length, srv.cut_after, srv.cut_times = True, 20_000, 1
    with pytest.raises(DownloadError, match="f.json.*sent no length .*no size or sha256 is published"):
        http_download([srv.url + "/f.json"], tmp_path / "f.json", policy=FAST, quiet=True)
    assert not (tmp_path / "f.json").exists() and not (tmp_path / "f.json.part").exists()


def test_a_body_without_length_is_accepted_when_its_checksum_or_format_proves_it_whole(srv: ChangingServer,
                                                                                      tmp_path: Path):
    srv.no_length = True
    srv.files["/f.json"] = data = b"x" * 50_000
    http_download([srv.url + "/f.json"], tmp_path / "f.json", sha256=hashlib.sha256(data).hexdigest(),
                  policy=FAST, quiet=True)
    assert (tmp_path / "f.json").read_bytes() == data
    srv.files["/t.zip"] = whole = write_zip(tmp_path / "src.zip", {"a.txt": os.urandom(30_000)}).read_bytes()
    http_download([srv.url + "/t.zip"], tmp_path / "t.zip", expect_archive=True, policy=FAST, quiet=True)
    assert (tmp_path / "t.zip").read_bytes() == whole  # a zip's directory sits at its very end
    srv.cut_after, srv.cut_times = 20_000, 1
    with pytest.raises(DownloadError, match="sent no length.*what arrived is a truncated or corrupt zip archive"):
        http_download([srv.url + "/t.zip"], tmp_path / "u.zip", expect_archive=True, policy=FAST, quiet=True)


def test_a_content_range_total_of_star_without_validators_restarts_from_zero(srv: ChangingServer, tmp_path: Path):
    """No ETag, no Last-Modified, and a 206 that does not say the file's length: nothing shows the
    file is unchanged, so the partial bytes are dropped instead of being spliced to a new tail."""
    srv.etags = False
    old, new = b"A" * 50_000, b"B" * 60_000
    dest = tmp_path / "f.zip"
    _interrupted(srv, dest, old, 20_000)
    srv.files["/f.zip"], srv.star_total = new, True
    http_download([srv.url + "/f.zip"], dest, policy=FAST, quiet=True)
    assert dest.read_bytes() == new


def test_resume_without_validators_works_when_the_length_matches(srv: ChangingServer, tmp_path: Path):
    srv.etags = False
    data = os.urandom(50_000)
    dest = tmp_path / "f.zip"
    _interrupted(srv, dest, data, 20_000)
    http_download([srv.url + "/f.zip"], dest, sha256=hashlib.sha256(data).hexdigest(), policy=FAST, quiet=True)
    assert dest.read_bytes() == data and srv.requests[-1]["range"] == "bytes=20000-"


def test_a_part_file_that_is_a_symlink_is_replaced_not_written_through(srv: ChangingServer, tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"precious")
    srv.files["/f.bin"] = data = b"x" * 1000
    dest = tmp_path / "dl/f.bin"
    dest.parent.mkdir()
    dest.with_name("f.bin.part").symlink_to(outside)
    dest.with_name("f.bin.part.url").write_text(json.dumps({"url": srv.url + "/f.bin", "total": 1000}))
    http_download([srv.url + "/f.bin"], dest, policy=FAST, quiet=True)
    assert dest.read_bytes() == data and outside.read_bytes() == b"precious"


def _crc_broken_zip(path: Path) -> bytes:
    """A zip whose directory is fine (it passes as an archive) but whose stored data is damaged."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("DAVIS/JPEGImages/480p/v/00000.jpg", b"J" * 5000)
    data = bytearray(path.read_bytes())
    data[100:110] = b"X" * 10  # inside the stored member: the CRC no longer matches
    return bytes(data)


def test_corrupt_self_recorded_download_is_moved_aside_so_the_next_run_fetches_it_again(
        srv: ChangingServer, tmp_path: Path, monkeypatch):
    """No checksum is published for the DAVIS zips: a download that turns out corrupt when unpacked
    must not stay recorded as verified, or every later run re-uses the same broken file."""
    import requests

    from reasonvos.acquire.download import download_benchmark

    name = "DAVIS-2017-Unsupervised-trainval-480p.zip"
    srv.files[f"/csergi/share/davis/{name}"] = _crc_broken_zip(tmp_path / "bad.zip")
    original = requests.adapters.HTTPAdapter.send

    def send(self, request, **kwargs):  # the ETH host, and only it, is served locally
        host = "https://data.vision.ee.ethz.ch"
        if request.url.startswith(host):
            request.url = srv.url + request.url[len(host):]
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    root = tmp_path / "root"
    for _ in range(2):
        with pytest.raises(DownloadError, match=f"{name}.*corrupt.*{name}.corrupt"):
            download_benchmark("refdavis", root, accept_licence=True, quiet=True, policy=FAST, out=lambda s: None)
        assert not (root / "downloads" / name).exists() and (root / "downloads" / f"{name}.corrupt").is_file()
    assert [r["path"] for r in srv.requests].count(f"/csergi/share/davis/{name}") == 2
