"""A hostile HTTP server for the tests: in front of the emulator, it answers chosen requests with
what a broken gateway, a confused server or an attacker might send, and passes the rest on.

Standard library only (http.server), on 127.0.0.1 and a free port; it records the raw path of
every request it received, exactly as it came on the wire.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Canned:
    """An answer: status, body, headers; `trickle` > 0 sends it one byte at a time, that many
    seconds apart (status line and headers included)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0
    declare_length: bool = True  # False: no Content-Length, the body ends when the connection does


@dataclass(frozen=True)
class Rule:
    method: str
    path: str  # a prefix of the request's path
    answer: Callable[[Canned | None], Canned]  # given the emulator's answer when `forward`
    forward: bool = False  # pass the request on first (the work is done), then answer instead


class Hostile:
    """`with Hostile(upstream) as server:` serves at `server.url`; `server.on(...)` adds a rule."""

    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self.received: list[tuple[str, str]] = []  # (method, raw path with query)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.hostile = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def on(
        self, method: str, path: str, answer: Callable[[Canned | None], Canned], *, forward: bool = False
    ) -> None:
        self.rules.append(Rule(method, path, answer, forward))

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths(self, method: str | None = None) -> list[str]:
        with self._lock:
            return [path for m, path in self.received if method is None or m == method]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.received.append((handler.command, handler.path))
        path = urlsplit(handler.path).path
        rule = next((r for r in self.rules if r.method == handler.command and path.startswith(r.path)), None)
        upstream = None
        if self.upstream is not None and (rule is None or rule.forward):
            upstream = self._forward(handler, body)
        answer = rule.answer(upstream) if rule is not None else upstream or Canned(404, b"{}")
        _send(handler, answer)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> Canned:
        parts = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        headers = {name: value for name, value in handler.headers.items() if name.lower() != "host"}
        try:
            connection.request(handler.command, handler.path, body=body or None, headers=headers)
            response = connection.getresponse()
            kept = {"Content-Type": response.getheader("Content-Type") or "application/json"}
            if response.getheader("Retry-After"):
                kept["Retry-After"] = response.getheader("Retry-After") or ""
            return Canned(response.status, response.read(), kept)
        finally:
            connection.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.hostile.handle(self)  # type: ignore[attr-defined]

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, *args: object) -> None:
        pass


def _send(handler: BaseHTTPRequestHandler, answer: Canned) -> None:
    headers = {"Content-Type": "application/json", **answer.headers}
    head = f"HTTP/1.1 {answer.status} {http.client.responses.get(answer.status, 'Unknown')}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    if answer.declare_length:
        head += f"Content-Length: {len(answer.body)}\r\n"
    head += "Connection: close\r\n\r\n"
    data = head.encode("latin-1") + answer.body
    handler.close_connection = True
    try:
        if answer.trickle <= 0:
            handler.wfile.write(data)
            return
        for index in range(len(data)):  # until the client gives up and the write fails
            handler.wfile.write(data[index : index + 1])
            handler.wfile.flush()
            time.sleep(answer.trickle)
    except (BrokenPipeError, ConnectionResetError):
        pass


def canned(status: int, body: bytes | str, **headers: str) -> Callable[[Canned | None], Canned]:
    """An answer that ignores the emulator's."""
    data = body.encode() if isinstance(body, str) else body
    return lambda _upstream: Canned(status, data, dict(headers))
