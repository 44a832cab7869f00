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
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from suitesync.emulator.api import AGENT_PREFIX, Reply, Request, SigmaMindApi, error_body
from suitesync.emulator.faults import ApiBehaviour, FaultConfig, FaultDraw, FaultInjector, settings_of
from suitesync.emulator.ratelimit import retry_after
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


class Gate:
    """Holds /v1 requests at the door until it is opened: lets a test act while a request is
    surely in flight (send a signal, kill a process) without guessing at timing."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._passes: int | None = None  # None: open; else how many more requests may pass
        self._method: str | None = None
        self._holding = 0

    def close_after(self, passes: int, method: str | None = None) -> None:
        """Let `passes` more requests (of `method`, if given) through, then hold the rest."""
        with self._cond:
            self._passes, self._method = passes, method

    def open(self) -> None:
        with self._cond:
            self._passes = None
            self._cond.notify_all()

    def wait_holding(self, count: int = 1, timeout: float = 30.0) -> bool:
        """Wait until `count` requests are held; False if that did not happen within `timeout`."""
        with self._cond:
            return self._cond.wait_for(lambda: self._holding >= count, timeout)

    @property
    def holding(self) -> int:
        with self._cond:
            return self._holding

    def enter(self, method: str) -> None:
        with self._cond:
            if self._passes is None or (self._method is not None and method != self._method):
                return
            if self._passes > 0:
                self._passes -= 1
                return
            self._holding += 1
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._passes is None)
            self._holding -= 1


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
        behaviour: ApiBehaviour | None = None,
    ) -> None:
        check_loopback(host)
        self.api_key = api_key
        self.store = Store(state)
        for agent in agents:
            self.store.add_agent(agent.removeprefix(AGENT_PREFIX))
        config = faults or FaultConfig()
        config.check()
        acts = behaviour or ApiBehaviour()
        acts.check()
        self.faults = FaultInjector(config, acts)
        self.api = SigmaMindApi(self.store, config, acts)
        self.gate = Gate()
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
        self.gate.open()  # held requests must not keep the server's threads waiting
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
    request_queue_size = 128  # socketserver's 5 makes 16 new connections at once wait for SYN retries
    emulator: Emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, timed out) is normal here, not worth a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


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
        emulator.gate.enter(self.command)
        delay = emulator.faults.delay_seconds()
        if delay:
            time.sleep(delay)
        draw = emulator.faults.draw(self.command, path, query, raw)
        reply = self._api_reply(emulator, path, query, raw, draw)
        dropped = (
            reply.status == 201
            and self.command == "POST"
            and path == "/v1/test-cases"
            and draw.drops_after_create()
        )
        emulator.record(self.command, path, query, 0 if dropped else reply.status, started)
        if dropped:
            self._drop_connection()
        else:
            self._send(reply)

    def _api_reply(
        self, emulator: Emulator, path: str, query: dict[str, str], raw: bytes, draw: FaultDraw
    ) -> Reply:
        key = self.headers.get("X-API-Key")
        if not key or (emulator.api_key is not None and key != emulator.api_key):
            return Reply(401, error_body(401, "Missing or invalid X-API-Key header", path))
        wait = emulator.faults.admit()
        if wait:
            return _rate_limited(emulator.faults.config, wait, path)
        failure = draw.failure()
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
        payload = b"" if reply.body is None else encode_json(reply.body)
        self.send_response(reply.status)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)


def _rate_limited(config: FaultConfig, wait: float, path: str) -> Reply:
    limit = f"{config.rate_limit_rps:g} requests a second, bursts of {config.rate_limit_burst}"
    return Reply(
        429, error_body(429, f"Rate limit exceeded: {limit}", path), {"Retry-After": retry_after(wait)}
    )


def encode_json(body: Any) -> bytes:
    """orjson writes a long list 9x faster than the standard library (0.35 s less for 50k test
    cases); the standard library takes what orjson refuses: integers beyond 64 bits, which a
    request may send as `attempt`."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body).encode()


def _seconds(value: float) -> str:
    return str(max(0, round(value)))


def _admin(emulator: Emulator, method: str, path: str, raw: bytes) -> Reply:
    """Inspection and control, outside /v1 so they can never collide with the API."""
    name = path.removeprefix(ADMIN_PREFIX).rstrip("/")
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return Reply(400, {"error": "body is not JSON"})
    handler = _ADMIN_ROUTES.get((method, name))
    if handler is None or not isinstance(body, dict):
        return Reply(404, {"error": f"no admin endpoint {method} {path}"})
    return handler(emulator, body)


def _requests(emulator: Emulator, _body: dict[str, Any]) -> Reply:
    return Reply(200, {"requests": emulator.requests()})


def _clear_requests(emulator: Emulator, _body: dict[str, Any]) -> Reply:
    emulator.clear_requests()
    return Reply(204)


def _creates(emulator: Emulator, _body: dict[str, Any]) -> Reply:
    counts = emulator.store.create_counts()
    return Reply(200, {"creates": counts, "duplicates": sum(c - 1 for c in counts.values())})


def _faults(emulator: Emulator, _body: dict[str, Any]) -> Reply:
    return Reply(200, settings_of(emulator.faults))


def _set_faults(emulator: Emulator, body: dict[str, Any]) -> Reply:
    try:
        emulator.faults.reconfigure(body)
    except ValueError as exc:
        return Reply(400, {"error": str(exc)})
    return Reply(200, settings_of(emulator.faults))


def _reset(emulator: Emulator, _body: dict[str, Any]) -> Reply:
    emulator.reset()
    return Reply(204)


def _add_agent(emulator: Emulator, body: dict[str, Any]) -> Reply:
    if not isinstance(body.get("agentId"), str):
        return Reply(400, {"error": "agentId (a string) is required"})
    agent_id = body["agentId"].removeprefix(AGENT_PREFIX)
    emulator.store.add_agent(agent_id, str(body.get("name", "New AI Agent")))
    keys = ("instructions", "agentSettings", "tools")
    config: dict[str, Any] = {key: body[key] for key in keys if key in body}
    if config:  # what GET /v1/agents/{id} shows, so a test can change an agent's configuration
        emulator.store.set_agent_config(agent_id, config)
    return Reply(201, {"agentId": agent_id})


def _close_gate(emulator: Emulator, body: dict[str, Any]) -> Reply:
    passes, only = body.get("passes", 0), body.get("method")
    if not isinstance(passes, int) or isinstance(passes, bool) or passes < 0:
        return Reply(400, {"error": "passes must be a whole number >= 0"})
    emulator.gate.close_after(passes, only if isinstance(only, str) else None)
    return Reply(200, {"holding": emulator.gate.holding})


def _gate(emulator: Emulator, _body: dict[str, Any]) -> Reply:
    return Reply(200, {"holding": emulator.gate.holding})


def _open_gate(emulator: Emulator, _body: dict[str, Any]) -> Reply:
    emulator.gate.open()
    return Reply(204)


def _health(_emulator: Emulator, _body: dict[str, Any]) -> Reply:
    return Reply(200, {"ok": True})


_ADMIN_ROUTES: dict[tuple[str, str], Callable[[Emulator, dict[str, Any]], Reply]] = {
    ("GET", "requests"): _requests,
    ("DELETE", "requests"): _clear_requests,
    ("GET", "creates"): _creates,
    ("GET", "faults"): _faults,
    ("PUT", "faults"): _set_faults,
    ("POST", "reset"): _reset,
    ("POST", "agents"): _add_agent,
    ("GET", "gate"): _gate,
    ("PUT", "gate"): _close_gate,
    ("DELETE", "gate"): _open_gate,
    ("GET", "health"): _health,
}
