"""Local stand-ins for the providers: real HTTP servers on 127.0.0.1, free ports.

Each test writes its provider as a function ``(request) -> (status, headers, body)`` that
checks the request the way the provider documents it; an ``assert`` failing inside the
server answers 500 *and* fails the test at tear-down, so a wrong request can never pass
unnoticed as "the connector retried".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest


@dataclass
class Request:
    """One request as the local server received it."""

    method: str
    path: str
    raw_query: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], bytes | dict[str, Any] | str]
App = Callable[[Request], Reply]


@dataclass
class LocalServer:
    app: App
    requests: list[Request] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    url: str = ""
    _httpd: ThreadingHTTPServer | None = None

    def start(self) -> LocalServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Request(
                    method=self.command,
                    path=parts.path,
                    raw_query=parts.query,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                server.requests.append(req)
                try:
                    status, headers, payload = server.app(req)
                except BaseException as exc:  # the provider's checks failed
                    server.errors.append(exc)
                    status, headers, payload = 500, {}, f"test server: {exc!r}"
                if isinstance(payload, dict):
                    data = json.dumps(payload, ensure_ascii=False).encode()
                    headers = {"content-type": "application/json", **headers}
                elif isinstance(payload, str):
                    data = payload.encode()
                else:
                    data = payload
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Robot rate limiters are process-wide; each test starts with empty windows."""
    from gongdan.connectors import RateLimiter

    RateLimiter.reset_all()
    yield
    RateLimiter.reset_all()


@pytest.fixture
def local_server() -> Iterator[Callable[[App], LocalServer]]:
    """Start local provider servers; fails the test if a provider check failed."""
    started: list[LocalServer] = []

    def start(app: App) -> LocalServer:
        server = LocalServer(app).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    errors = [e for s in started for e in s.errors if not getattr(e, "expected", False)]
    if errors:
        raise errors[0]
