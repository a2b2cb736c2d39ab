"""Hostile and broken HTTP answers, fed to the real `reasonvos download` command (through
`--mirror`) by a raw socket server on 127.0.0.1 that sends canned bytes. Whatever the server
does, the command ends with one line on stderr, exit status 1, no traceback, nothing installed
in the root and nothing written outside it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasonvos.cli import main

HTML = b"<!DOCTYPE html><html><body>Please sign in</body></html>"


def reply(status: str, headers: dict[str, str] | list[tuple[str, str]], body: bytes = b"") -> bytes:
    items = headers.items() if isinstance(headers, dict) else headers
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in items) + "Connection: close\r\n\r\n"
    return head.encode("latin-1") + body


ANSWERS: dict[str, bytes] = {
    "nothing at all": b"",
    "garbage status line": b"HELLO THERE\r\n\r\n",
    "status 999": reply("999 Whatever", {"Content-Length": "2"}, b"ok"),
    "informational only": reply("100 Continue", {}),
    "no such file": reply("404 Not Found", {"Content-Length": "9"}, b"not found"),
    "forbidden web page": reply("403 Forbidden", {"Content-Type": "text/html", "Content-Length": str(len(HTML))}, HTML),
    "web page with 200": reply("200 OK", {"Content-Type": "text/html", "Content-Length": str(len(HTML))}, HTML),
    "empty body": reply("200 OK", {"Content-Length": "0"}),
    "length is not a number": reply("200 OK", {"Content-Length": "abc"}, b"PK\x03\x04abc"),
    "negative length": reply("200 OK", {"Content-Length": "-5"}, b"PK\x03\x04abc"),
    "two lengths that disagree": reply("200 OK", [("Content-Length", "4"), ("Content-Length", "9")], b"PK\x03\x04abcde"),
    "length far over the body": reply("200 OK", {"Content-Length": str(10**30)}, b"PK\x03\x04abc"),
    "body longer than its length": reply("200 OK", {"Content-Length": "4"}, b"PK\x03\x04" + b"x" * 5000),
    "truncated zip": reply("200 OK", {"Content-Length": "4000"}, b"PK\x03\x04" + b"\0" * 100),
    "no length, closed early": reply("200 OK", {}, b"PK\x03\x04" + b"\0" * 100),
    "bad chunk size": reply("200 OK", {"Transfer-Encoding": "chunked"}, b"zz\r\nabc\r\n0\r\n\r\n"),
    "chunks never ended": reply("200 OK", {"Transfer-Encoding": "chunked"}, b"4\r\nPK\x03\x04\r\n"),
    "gzip that is not": reply("200 OK", {"Content-Encoding": "gzip", "Content-Length": "4"}, b"\x1f\x8b\x08\x00"),
    "206 to a plain request": reply("206 Partial Content", {"Content-Range": "bytes 5-9/10", "Content-Length": "5"},
                                    b"abcde"),
    "206 with a broken range": reply("206 Partial Content", {"Content-Range": "bytes=oops", "Content-Length": "5"},
                                     b"abcde"),
    "416 to a plain request": reply("416 Range Not Satisfiable", {"Content-Range": "bytes */0", "Content-Length": "0"}),
    "redirect to a local file": reply("302 Found", {"Location": "file:///etc/passwd", "Content-Length": "0"}),
    "redirect without a location": reply("302 Found", {"Content-Length": "0"}),
    "redirect loop": reply("302 Found", {"Location": "/loop", "Content-Length": "0"}),
    "header line of 100 kB": reply("200 OK", {"X-Big": "a" * 100_000, "Content-Length": "2"}, b"ok"),
    "a thousand headers": reply("200 OK", [(f"X-H{i}", "v") for i in range(1000)] + [("Content-Length", "2")], b"ok"),
    "header without a colon": b"HTTP/1.1 200 OK\r\nnot a header\r\nContent-Length: 2\r\n\r\nok",
    "non-ASCII in headers": b"HTTP/1.1 200 OK\r\nX-Name: \xff\xfe\r\nContent-Length: 2\r\n\r\nok",
    "retry later, forever": reply("503 Service Unavailable", {"Retry-After": "99999999", "Content-Length": "0"}),
}


class CannedServer:
    """Answers every connection with the same bytes, then closes it."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(65536)
                    conn.sendall(self.answer)
                    conn.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def close(self) -> None:
        self.stopped = True
        self.sock.close()


@pytest.fixture
def canned(request) -> Iterator[CannedServer]:
    s = CannedServer(ANSWERS[request.param])
    yield s
    s.close()


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.mark.parametrize("canned", list(ANSWERS), indirect=True)
def test_a_hostile_answer_is_one_line_exit_1_and_installs_nothing(canned: CannedServer, tmp_path: Path, capsys,
                                                                   monkeypatch):
    monkeypatch.delenv("REASONVOS_MIRROR", raising=False)
    (tmp_path / "elsewhere").mkdir()
    before = files_under(tmp_path)
    root = tmp_path / "root"
    code = main(["download", "refdavis", "--root", str(root), "--mirror", canned.url, "--attempts", "1",
                 "--accept-licence", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("reasonvos: error: "), err
    assert "DAVIS-2017-Unsupervised-trainval-480p.zip" in lines[0]
    assert {p.split("/")[0] for p in files_under(tmp_path) - before} <= {"root"}  # nothing outside the root
    assert {p.name for p in root.iterdir()} <= {"downloads"}  # and nothing installed in it
