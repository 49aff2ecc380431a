"""Test helpers for the model store: a local HTTP mirror of a model folder and
isolated per-user folders. ``tests/conftest.py`` turns them into fixtures.

The server answers on 127.0.0.1 only, honours ``Range: bytes=N-`` (206 with
``Content-Range``) unless told not to, logs every request, and can misbehave
per file: serve altered bytes, drop the connection half-way through the first
request, or answer 404 / an HTML page.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

_RANGE = re.compile(r"bytes=(\d+)-$")


@dataclass
class ModelServer:
    """A running mirror: ``url`` to point the downloader at, knobs to make it fail."""

    root: Path
    url: str = ""
    #: (path, Range header or None) of every GET, in order.
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    #: Paths served with one byte altered (same size).
    corrupt: set[str] = field(default_factory=set)
    #: Paths whose first request is cut off after half the body.
    drop_first: set[str] = field(default_factory=set)
    #: Paths answered with 404.
    missing: set[str] = field(default_factory=set)
    #: Paths answered with an HTML page (status 200).
    html: set[str] = field(default_factory=set)
    #: When False, Range headers are ignored (200 with the whole file).
    ranges: bool = True

    def ranged_requests(self, path: str) -> list[str]:
        """The Range headers sent for ``path``."""
        return [r for p, r in self.requests if p == path and r]

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


def _handler(server: ModelServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = unquote(self.path.lstrip("/"))
            header = self.headers.get("Range")
            server.requests.append((path, header))
            file = server.root / path
            if path in server.missing or ".." in path or not file.is_file():
                self._send(404, b"not found")
                return
            if path in server.html:
                self._send(200, b"<!DOCTYPE html><html><body>Sign in</body></html>")
                return
            body = file.read_bytes()
            if path in server.corrupt:
                middle = len(body) // 2
                body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
            start = 0
            match = _RANGE.match(header or "")
            if server.ranges and match:
                start = int(match.group(1))
                if start >= len(body):
                    self._send(416, b"", {"Content-Range": f"bytes */{len(body)}"})
                    return
            part = body[start:]
            headers = {}
            if start:
                headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            if path in server.drop_first and server.count(path) == 1:
                self.send_response(206 if start else 200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                self.wfile.write(part[: len(part) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self._send(206 if start else 200, part, headers)

        def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serve(root: Path):
    """Serve ``root`` on 127.0.0.1 (a free port) for the duration of the block."""
    state = ModelServer(root=Path(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def isolate_user_dirs(monkeypatch, tmp_path: Path) -> tuple[Path, Path]:
    """Point openau's per-user config file and data folder into ``tmp_path``.

    Also unsets ``OPENAU_MODELS`` and ``OPENAU_MODELS_URL`` so that each test
    states the sources it wants. Returns ``(config_file, user_models_dir)``.
    """
    from openau.models import store

    config = tmp_path / "user-config" / "config.json"
    data = tmp_path / "user-data"
    monkeypatch.setattr(store, "user_config_file", lambda: config)
    monkeypatch.setattr(store, "user_models_dir", lambda: data)
    monkeypatch.delenv("OPENAU_MODELS", raising=False)
    monkeypatch.delenv("OPENAU_MODELS_URL", raising=False)
    return config, data
