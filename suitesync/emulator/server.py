"""HTTP glue for the emulator: a threaded stdlib server on loopback, auth, faults, the admin API.

The standard library's ThreadingHTTPServer is used on purpose: the "commit the create, then drop
the connection" fault needs the raw socket, which ASGI servers hide (they answer 500 instead),
and a thread per connection makes injected latency overlap exactly as on a real server.
"""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from suitesync.emulator.api import AGENT_PREFIX, Reply, Request, SigmaMindApi, error_body
from suitesync.emulator.faults import FaultConfig, FaultInjector
from suitesync.emulator.store import Store

ADMIN_PREFIX = "/_emulator/"
MAX_BODY_BYTES = 4 * 1024 * 1024
LOG_LIMIT = 200_000


class NotLoopbackError(ValueError):
    pass


def check_loopback(host: str) -> None:
    """The emulator serves loopback only: it has no real authentication and no TLS."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NotLoopbackError(f"{host} is not a loopback address; use 127.0.0.1, ::1 or localhost")


class Emulator:
    """A SigmaMind-compatible API server. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state: Path | None = None,
        api_key: str | None = None,
        agents: tuple[str, ...] | list[str] = (),
        faults: FaultConfig | None = None,
    ) -> None:
        check_loopback(host)
        self.api_key = api_key
        self.store = Store(state)
        for agent in agents:
            self.store.add_agent(agent.removeprefix(AGENT_PREFIX))
        config = faults or FaultConfig()
        config.check()
        self.faults = FaultInjector(config)
        self.api = SigmaMindApi(self.store, config)
        self._log: collections.deque[dict[str, Any]] = collections.deque(maxlen=LOG_LIMIT)
        self._log_lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("_Server", (_Server,), {"address_family": family})
        self._server: _Server = server_class((host, port), _Handler)
        self._server.emulator = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> Emulator:
        # A short poll interval makes stop() (and so every test using the emulator) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self.store.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.stop()

    # --- inspection (also served under /_emulator/) -----------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def record(self, method: str, path: str, query: dict[str, str], status: int, started: float) -> None:
        """Log a /v1 request: when it arrived (`started`) and when it was answered (`time`)."""
        entry = {"method": method, "path": path, "query": query, "status": status}
        entry.update(started=started, time=time.time())
        with self._log_lock:
            self._log.append(entry)

    def reset(self) -> None:
        self.store.reset()
        self.clear_requests()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    emulator: Emulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections as with the real API
    server: _Server
    timeout = 60  # an idle keep-alive connection is closed after this many seconds

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK hold every response back about 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Quiet: the request log is kept in memory and served under /_emulator/requests."""

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        raw = self._read_body()
        if raw is None:
            return
        if url.path.startswith(ADMIN_PREFIX):
            self._send(_admin(self.server.emulator, self.command, url.path, raw))
        elif url.path.startswith("/v1/"):
            self._serve_api(url.path, query, raw)
        else:
            self._send(Reply(404, error_body(404, f"No endpoint {self.command} {url.path}", url.path)))

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(Reply(413, {"error": "Payload Too Large", "status": 413}))
            return None
        return self.rfile.read(length) if length else b""

    def _serve_api(self, path: str, query: dict[str, str], raw: bytes) -> None:
        started = time.time()
        emulator = self.server.emulator
        delay = emulator.faults.delay_seconds()
        if delay:
            time.sleep(delay)
        reply = self._api_reply(emulator, path, query, raw)
        dropped = (
            reply.status == 201
            and self.command == "POST"
            and path == "/v1/test-cases"
            and emulator.faults.drop_after_create()
        )
        emulator.record(self.command, path, query, 0 if dropped else reply.status, started)
        if dropped:
            self._drop_connection()
        else:
            self._send(reply)

    def _api_reply(self, emulator: Emulator, path: str, query: dict[str, str], raw: bytes) -> Reply:
        key = self.headers.get("X-API-Key")
        if not key or (emulator.api_key is not None and key != emulator.api_key):
            return Reply(401, error_body(401, "Missing or invalid X-API-Key header", path))
        failure = emulator.faults.failure()
        if failure is not None:
            headers = (
                {"Retry-After": _seconds(emulator.faults.config.retry_after_s)} if failure != 500 else {}
            )
            return Reply(failure, error_body(failure, "Injected fault", path), headers)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return Reply(400, error_body(400, "Invalid request parameters: the body is not JSON", path))
        return emulator.api.handle(Request(self.command, path, query, body))

    def _drop_connection(self) -> None:
        """The create is committed; the client never hears about it (design §7)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)


def _seconds(value: float) -> str:
    return str(max(0, round(value)))


def _admin(emulator: Emulator, method: str, path: str, raw: bytes) -> Reply:
    """Inspection and control, outside /v1 so they can never collide with the API."""
    name = path.removeprefix(ADMIN_PREFIX).rstrip("/")
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return Reply(400, {"error": "body is not JSON"})
    if (method, name) == ("GET", "requests"):
        return Reply(200, {"requests": emulator.requests()})
    if (method, name) == ("DELETE", "requests"):
        emulator.clear_requests()
        return Reply(204)
    if (method, name) == ("GET", "creates"):
        counts = emulator.store.create_counts()
        return Reply(200, {"creates": counts, "duplicates": sum(c - 1 for c in counts.values())})
    if (method, name) == ("GET", "faults"):
        return Reply(200, emulator.faults.config.as_dict())
    if (method, name) == ("PUT", "faults"):
        try:
            emulator.faults.reconfigure(body)
        except ValueError as exc:
            return Reply(400, {"error": str(exc)})
        return Reply(200, emulator.faults.config.as_dict())
    if (method, name) == ("POST", "reset"):
        emulator.reset()
        return Reply(204)
    if (method, name) == ("POST", "agents") and isinstance(body.get("agentId"), str):
        emulator.store.add_agent(body["agentId"].removeprefix(AGENT_PREFIX), body.get("name", "New AI Agent"))
        return Reply(201, {"agentId": body["agentId"].removeprefix(AGENT_PREFIX)})
    if (method, name) == ("GET", "health"):
        return Reply(200, {"ok": True})
    return Reply(404, {"error": f"no admin endpoint {method} {path}"})
