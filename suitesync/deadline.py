"""A total deadline for each HTTP request, however slowly the server sends its bytes.

httpx times each network read, not the request: a server sending one byte every few seconds
would hold a request for ever. Each request runs on one thread from its first to its last byte
(httpx's sync client), so the deadline is a thread-local that every read, write and connect of
the connection consults.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

DEADLINE_PASSED = "the request's deadline passed"

_deadline = threading.local()


@contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Every network operation in the block ends by `seconds` from now; a timeout at the deadline
    says DEADLINE_PASSED (same httpx class: a connect timeout still means nothing was sent)."""
    deadline = _deadline.at = time.monotonic() + seconds
    try:
        yield
    except httpx.TimeoutException as exc:
        if time.monotonic() < deadline:
            raise
        raise type(exc)(DEADLINE_PASSED) from None
    finally:
        _deadline.at = None


def deadline_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's own transport with every connection under the request deadline. httpx offers no
    hook for httpcore's (public) network backend, so it is set on the pool it made; the tests of a
    trickling server fail if a new httpx version moves it."""
    transport = httpx.HTTPTransport(limits=limits)
    pool = transport._pool
    if not isinstance(pool, httpcore.ConnectionPool):  # pragma: no cover - an httpx upgrade
        raise AssertionError(f"httpx's transport holds {type(pool).__name__}, not a ConnectionPool")
    pool._network_backend = _DeadlineBackend(pool._network_backend)
    return transport


def _time_left(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
    """The timeout for one network operation: never past the current request's deadline."""
    deadline: float | None = getattr(_deadline, "at", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error(DEADLINE_PASSED)
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the request's deadline (httpx times each
    read, so a server sending a byte every few seconds would otherwise hold a request for ever)."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Any:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
