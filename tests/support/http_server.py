"""A file server on 127.0.0.1 whose misbehaviour (cuts, errors, changed files) the download tests choose."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Behaviour:
    cut_after: int | None = None  # close the connection after this many body bytes...
    cut_times: int = 0  # ...on this many requests
    fail_status: int | None = None  # answer this status...
    fail_times: int = 0  # ...this many times (a large number = always)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"


class FileServer:
    """A tiny HTTP/1.1 file server with Range support and scripted failures."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.behaviour: dict[str, Behaviour] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                url = urlsplit(self.path)
                server.requests.append((self.command, url.path, self.headers.get("Range")))
                key = url.path
                if url.path == "/uc":  # Google Drive's download endpoint
                    key = "/drive/" + parse_qs(url.query)["id"][0]
                b = server.behaviour.get(key, Behaviour())
                if b.fail_status and b.fail_times > 0:
                    b.fail_times -= 1
                    self._reply(b.fail_status, b"error", {"Content-Type": "text/plain"}, head)
                    return
                if key not in server.files:
                    self._reply(404, b"not found", {"Content-Type": "text/plain"}, head)
                    return
                data = server.files[key]
                headers = {"Content-Type": b.content_type, "Accept-Ranges": "bytes", **b.headers}
                status, body = 200, data
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        self._reply(416, b"", {"Content-Range": f"bytes */{len(data)}"}, head)
                        return
                    status, body = 206, data[start:]
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                if b.cut_after is not None and b.cut_times > 0 and not head:
                    b.cut_times -= 1
                    self.send_response(status)
                    for k, v in {**headers, "Content-Length": str(len(body))}.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body[: b.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._reply(status, body, headers, head)

            def _reply(self, status: int, body: bytes, headers: dict[str, str], head: bool) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # clients hanging up on a cut transfer are part of the tests

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
