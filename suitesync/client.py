"""The only network code: a SigmaMind API client over httpx, with auth, retries and pagination.

Requests that are safe to repeat (GET, PUT, DELETE) are retried with capped, jittered backoff,
honouring Retry-After on 429/503, within a retry budget shared by the whole run (tenacity does
the bookkeeping). A POST is never repeated here: when its outcome is unknown (timeout, dropped
connection, 5xx, a reply that is not a usable answer) the caller gets OutcomeUnknownError and
must reconcile (design §6); only a POST that surely never reached the server (connection refused,
429) is sent again.

Nothing a server says is trusted: every request has a total deadline, every reply is read up to a
size cap and checked for the shape the docs give before anyone uses it, lists stop at a page
limit, and whatever of a reply reaches a message is made one printable, capped line.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx
import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from suitesync.deadline import DEADLINE_PASSED, deadline_transport, request_deadline
from suitesync.errors import ConfigError, SuitesyncError
from suitesync.models import RemoteCase, request_body
from suitesync.payloads import remote_case
from suitesync.replies import (
    EXCERPT_CHARS,
    ShapeError,
    as_object,
    checked_batch,
    count,
    identifier,
    kind,
    server_line,
)

if TYPE_CHECKING:
    from suitesync.secret import Secret

MAX_RETRY_AFTER_S = 60.0  # one wait the server asks for, at most
MAX_RETRY_WINDOW_S = 120.0  # from the first try of a request to the end of its last wait, at most
MAX_CONSECUTIVE_FAILURES = 30
REQUEST_DEADLINE_S = 60.0  # one request, from connecting to the last byte of its reply
READ_TIMEOUT_S = 30.0  # one network read or write
MAX_REPLY_BYTES = 64 * 1024 * 1024  # one reply, decoded; a 50k-case bare list is about 30 MB
MAX_LIST_PAGES = 10_000  # 1M test cases at LIST_PAGE_SIZE: beyond, the server is looping
LIST_PAGE_SIZE = 100
USER_AGENT = "suitesync"
_BACKOFF = wait_exponential_jitter(multiplier=0.2, max=5.0)  # 0.2 s, 0.4 s, ... capped at 5 s, plus jitter


class ApiError(SuitesyncError):
    """The API answered with an error: one line with the method, path, status and the API's message."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status


class ReplyError(SuitesyncError):
    """The API answered 2xx with something that is not what the docs describe (not JSON, another
    shape, too large): one line naming the endpoint and a printable excerpt of what came back."""

    def __init__(self, method: str, path: str, problem: str, excerpt: str | None = None) -> None:
        text = f"{method} {path}: {problem}"
        super().__init__(f"{text}: {excerpt}" if excerpt is not None else text)


class RetryableError(SuitesyncError):
    """A failure worth trying again (429, 5xx, network): carries the server's Retry-After, if any."""

    def __init__(
        self, message: str, retry_after: float | None = None, *, got: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after
        self.got = got  # what this try got, in a few words, for the give-up message


class RefusedError(RetryableError):
    """Refused before any work (429, or no connection at all): even a create may be sent again."""


class OutcomeUnknownError(SuitesyncError):
    """A create may or may not have happened: the caller must look before trying again."""


class StopRequestedError(SuitesyncError):
    """The run was asked to stop (a signal): no new request starts."""


class RetryBudget:
    """What a whole run may spend on retries, across threads.

    Two limits end a run against a server that keeps failing: the number of retries (`retries`,
    which apply sizes by its work), and `MAX_CONSECUTIVE_FAILURES` failed requests in a row with
    no success between them, which a flaky server never reaches (at 20% failures the chance is
    0.2**30, about 1e-21) and a dead one reaches in seconds.
    """

    def __init__(self, retries: int) -> None:
        self.left = retries
        self.consecutive_failures = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """One retry, if the budget allows it."""
        with self._lock:
            if self.left <= 0 or self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                return False
            self.left -= 1
            return True

    def failed(self) -> None:
        with self._lock:
            self.consecutive_failures += 1

    def succeeded(self) -> None:
        with self._lock:
            self.consecutive_failures = 0

    @property
    def spent(self) -> bool:
        return self.left <= 0 or self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES

    def describe(self) -> str:
        if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            return f"{self.consecutive_failures} requests failed in a row"
        return "the run's retry budget is spent"


def check_base_url(url: str) -> str:
    """https anywhere, http only to loopback: the key must never cross a network in clear text."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"SIGMAMIND_BASE_URL {url!r} is not an http(s) URL", hint="e.g. https://api.sigmamind.ai"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"SIGMAMIND_BASE_URL {url!r} uses http to a non-loopback host", hint="use https, or `local`"
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_key(key: str, source: str) -> None:
    """A header value is visible ASCII: anything else would fail inside httpx with a message that
    shows the offending character and its position, that is, part of the key. Say only where."""
    if not key or not all(33 <= ord(char) <= 126 for char in key):
        raise ConfigError(
            f"the API key holds characters an HTTP header cannot carry (from {source})",
            hint="copy the key again from the SigmaMind dashboard (API Keys): a space, a line break "
            "or a non-ASCII character came with it",
        )


def path_segment(value: str, what: str) -> str:
    """An id as one percent-encoded path segment: `/`, `?`, `#` and `%` are escaped, and `.` and
    `..` (which a URL resolves as "here" and "up") are refused, so an id never names another path."""
    if value in ("", ".", ".."):
        raise SuitesyncError(f"{what} {value!r} cannot be used in a URL")
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer, read within the deadline and the size cap (an httpx.Response stays here)."""

    method: str
    path: str
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes | bytearray  # as read: copying a large reply would double its memory

    def json(self) -> Any:
        """The body as JSON; ReplyError (naming the endpoint) when it is not JSON."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            pass
        try:  # orjson refuses what JSON allows beyond 64-bit integers
            return json.loads(self.body)
        except (ValueError, RecursionError):
            raise ReplyError(self.method, self.path, "the reply is not JSON", self.excerpt()) from None

    def excerpt(self) -> str:
        """The start of the body as one printable line, with its size when it is cut."""
        shown = self.body[: EXCERPT_CHARS * 4]
        line = server_line(shown.decode("utf-8", errors="replace"))
        if len(shown) < len(self.body) and not line.endswith("…"):
            line += "…"
        if line.endswith("…"):
            line += f" ({len(self.body):,} bytes)"
        return line or "(empty)"

    def shape_error(self, problem: str) -> ReplyError:
        return ReplyError(self.method, self.path, problem, self.excerpt())


class SigmaMindClient:
    """One shared connection pool for the whole run; safe to use from many threads."""

    def __init__(
        self,
        base_url: str,
        api_key: Secret,
        *,
        key_source: str = "SIGMAMIND_API_KEY",
        timeout: float = READ_TIMEOUT_S,
        deadline: float = REQUEST_DEADLINE_S,
        max_connections: int = 32,
        retries: int = 8,
        budget: RetryBudget | None = None,
        sleep: Callable[[float], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        check_api_key(api_key.reveal(), key_source)
        self.retries = retries
        self.deadline = deadline
        self.budget = budget or RetryBudget(200)
        self.stop = stop or threading.Event()
        # Waiting between retries ends early when the run is stopped.
        self._sleep: Callable[[float], None] = sleep or self._pause
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        # follow_redirects=False: a redirect could carry the key to another origin.
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"X-API-Key": api_key.reveal(), "User-Agent": USER_AGENT},
            timeout=timeout,
            transport=deadline_transport(limits),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"SigmaMindClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SigmaMindClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- test cases ---------------------------------------------------------------------------

    def list_cases(self, agent_id: str) -> list[RemoteCase]:
        """Every test case of an agent, whether the API answers a bare array or pages of `data`."""
        path = "/v1/test-cases"
        return [_case(doc, "GET", path) for doc in self._list(path, {"agentId": agent_id})]

    def get_case(self, test_case_id: str, agent_id: str) -> RemoteCase | None:
        path = f"/v1/test-cases/{path_segment(test_case_id, 'testCaseId')}"
        reply = self._retrying("GET", path, params={"agentId": agent_id}, ok404=True)
        return None if reply is None else _reply_case(reply)

    def create_case(self, payload: dict[str, Any]) -> RemoteCase:
        """Create a test case. Anything but a clear answer raises OutcomeUnknownError: it may exist."""
        reply = self._post("/v1/test-cases", request_body(payload))
        try:
            return _reply_case(reply)
        except ReplyError as exc:  # a 2xx the docs do not describe: it may well have been made
            raise OutcomeUnknownError(str(exc)) from None

    def update_case(self, test_case_id: str, payload: dict[str, Any]) -> RemoteCase:
        """PUT the full desired body: the same result under full or partial update semantics."""
        path = f"/v1/test-cases/{path_segment(test_case_id, 'testCaseId')}"
        reply = self._retrying("PUT", path, json=request_body(payload))
        assert reply is not None
        return _reply_case(reply)

    def delete_case(self, test_case_id: str, agent_id: str) -> bool:
        """True if deleted, False if it was already gone."""
        path = f"/v1/test-cases/{path_segment(test_case_id, 'testCaseId')}"
        return self._retrying("DELETE", path, params={"agentId": agent_id}, ok404=True) is not None

    def get_agent(self, agent_id: str) -> dict[str, Any]:
        """GET /v1/agents/{agentId}: the agent's configuration (sigmamind-api.md §7.2)."""
        response = self._retrying("GET", f"/v1/agents/{agent_id}")
        assert response is not None
        result: dict[str, Any] = response.json()
        return result

    # --- batch runs -----------------------------------------------------------------------------

    def create_batch(self, agent_id: str, test_case_ids: list[str]) -> str:
        """Start a batch run; its batchId."""
        reply = self._post("/v1/batch-runs", {"agentId": agent_id, "testCases": test_case_ids})
        try:
            return identifier(as_object(reply.json(), "the reply").get("batchId"), "batchId")
        except ShapeError as exc:
            raise reply.shape_error(str(exc)) from None

    def get_batch(self, batch_id: str, agent_id: str) -> dict[str, Any]:
        """A batch run, its counts checked: non-negative integers or null; `testCases` objects."""
        path = f"/v1/batch-runs/{path_segment(batch_id, 'batchId')}"
        reply = self._retrying("GET", path, params={"agentId": agent_id})
        assert reply is not None
        try:
            return checked_batch(reply.json())
        except ShapeError as exc:
            raise reply.shape_error(str(exc)) from None

    def list_runs(self, batch_id: str, agent_id: str) -> list[dict[str, Any]]:
        """The test runs of a batch, each an object with a jobId."""
        path = "/v1/test-runs"
        runs = self._list(path, {"agentId": agent_id, "batchId": batch_id})
        for run in runs:
            try:
                identifier(run.get("jobId"), "jobId")
            except ShapeError as exc:
                raise ReplyError("GET", path, f"a test run of batch {server_line(batch_id)}: {exc}") from None
        return runs

    # --- plumbing -------------------------------------------------------------------------------

    def _list(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """Every item of a list endpoint: the legacy bare array, or the pages of the `{"data": [...]}`
        wrapper up to the page count the server gives (at most MAX_LIST_PAGES)."""
        items: list[dict[str, Any]] = []
        page = 0
        while True:
            reply = self._retrying("GET", path, params={**params, "page": page, "size": LIST_PAGE_SIZE})
            assert reply is not None
            body = reply.json()
            if isinstance(body, list):  # legacy shape: everything at once
                return _objects(body, reply)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise reply.shape_error('expected a list, or the paged wrapper {"data": [...]}')
            items.extend(_objects(body["data"], reply))
            if not _has_next(body, reply):
                return items
            page += 1
            if page >= _page_limit(body):
                raise ReplyError(
                    "GET", path, f"the server still says hasNext after {page:,} pages (stopped there)"
                )

    def _retrying(self, method: str, path: str, *, ok404: bool = False, **kwargs: Any) -> Reply | None:
        """Send an idempotent request, retrying what is worth retrying; None for an allowed 404.
        When it gives up, the message says after how many tries and how long."""
        started, got = time.monotonic(), Counter[str]()
        try:
            for attempt in self._retrier(RetryableError):
                with attempt:
                    try:
                        return self._send(method, path, ok404, **kwargs)
                    except RetryableError as exc:
                        got[exc.got] += 1
                        raise
        except RetryableError as exc:
            tries = got.total()
            if tries < 2:
                raise
            took = f"gave up after {tries} tries in {time.monotonic() - started:.0f} s; {_tally(got)}"
            raise type(exc)(f"{exc} ({took})", exc.retry_after, got=exc.got, hint=exc.hint) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, path: str, body: dict[str, Any]) -> Reply:
        """POST, never repeated when its outcome is unknown; a 429 or a refused connection is
        repeated after Retry-After or backoff: such a request was refused before any work."""
        for attempt in self._retrier(RefusedError):
            with attempt:
                return self._post_once(path, body)
        raise AssertionError("unreachable")  # pragma: no cover

    def _post_once(self, path: str, body: dict[str, Any]) -> Reply:
        self._check_stop()
        try:
            reply = self._exchange("POST", path, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection was made, so nothing was sent: known not created.
            self.budget.failed()
            raise RefusedError(f"POST {path}: {self._transport_problem(exc)}") from None
        except httpx.TransportError as exc:
            self.budget.failed()
            raise OutcomeUnknownError(f"POST {path}: {self._transport_problem(exc)}") from None
        except ReplyError as exc:  # too large: whatever it said, it may have made the case
            raise OutcomeUnknownError(str(exc)) from None
        if reply.status >= 500:
            self.budget.failed()
            raise OutcomeUnknownError(f"POST {path}: HTTP {reply.status}")
        if reply.status == 429:
            raise RefusedError(f"POST {path}: HTTP 429", _retry_after(reply.headers))
        self.budget.succeeded()
        _raise_for_status(reply)
        return reply

    def _exchange(self, method: str, path: str, **kwargs: Any) -> Reply:
        """One request and its whole reply, within the deadline and the size cap."""
        with request_deadline(self.deadline), self._http.stream(method, path, **kwargs) as response:
            body = _read_capped(response, method, path)
            return Reply(method, path, response.status_code, response.reason_phrase, response.headers, body)

    def _retrier(self, retry_on: type[RetryableError]) -> Retrying:
        """Attempts of one request: on `retry_on`, wait (backoff or Retry-After) within the budget."""
        return Retrying(
            retry=retry_if_exception_type(retry_on),
            stop=self._should_stop,
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )

    def _pause(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise StopRequestedError("stopped before sending the request")

    def _send(self, method: str, path: str, ok404: bool, **kwargs: Any) -> Reply | None:
        self._check_stop()
        try:
            reply = self._exchange(method, path, **kwargs)
        except httpx.TransportError as exc:
            self.budget.failed()
            problem = self._transport_problem(exc)
            raise RetryableError(
                f"{method} {path}: {problem}", got=problem.split(":")[0], hint=self._network_hint()
            ) from None
        if reply.status >= 500:
            self.budget.failed()
        if reply.status == 429 or reply.status >= 500:
            status = f"HTTP {reply.status}"
            raise RetryableError(f"{method} {path}: {status}", _retry_after(reply.headers), got=status)
        self.budget.succeeded()
        if ok404 and reply.status == 404:
            return None
        _raise_for_status(reply)
        return reply

    def _transport_problem(self, error: httpx.TransportError) -> str:
        return _transport_problem(error, self.deadline, httpx.URL(self.base_url).host)

    def _network_hint(self) -> str:
        return (
            f"check that {self.base_url} is the API's address (SIGMAMIND_BASE_URL) and that it can "
            "be reached from here: network, proxy, firewall"
        )

    def _should_stop(self, state: RetryCallState) -> bool:
        """Give up after `retries` retries, when the run's budget is spent, or when the next wait
        would end more than MAX_RETRY_WINDOW_S after the first try (tries and waits together;
        `idle_for` alone counts the waits when a test replaces the clock's sleep)."""
        if state.attempt_number > self.retries:
            return True
        spent = max(state.seconds_since_start or 0.0, state.idle_for)
        return spent + self._wait(state) > MAX_RETRY_WINDOW_S or not self.budget.take()

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableError) and error.retry_after is not None:
            return error.retry_after
        return float(_BACKOFF(state))


def _reply_case(reply: Reply) -> RemoteCase:
    return _case(reply.json(), reply.method, reply.path, reply)


def _case(document: object, method: str, path: str, reply: Reply | None = None) -> RemoteCase:
    try:
        return remote_case(document)
    except ShapeError as exc:
        if reply is not None:
            raise reply.shape_error(f"not a test case: {exc}") from None
        raise ReplyError(method, path, f"not a test case: {exc}") from None


def _objects(items: list[Any], reply: Reply) -> list[dict[str, Any]]:
    for item in items:
        if not isinstance(item, dict):
            raise reply.shape_error(f"a list item is {kind(item)}, not an object")
    return items


def _has_next(body: dict[str, Any], reply: Reply) -> bool:
    value = body.get("hasNext")
    if value is None or isinstance(value, bool):
        return bool(value)
    raise reply.shape_error(f"hasNext is {kind(value)}, not true or false")


def _page_limit(body: dict[str, Any]) -> int:
    """Pages the server says the list has (totalPages, or totalCount over the page size), within
    MAX_LIST_PAGES; read again on every page, as the list may grow while it is read."""
    pages, total, size = count(body.get("totalPages")), count(body.get("totalCount")), count(body.get("size"))
    if pages is not None:
        return min(pages, MAX_LIST_PAGES)
    if total is not None and size:
        return min(math.ceil(total / size), MAX_LIST_PAGES)
    return MAX_LIST_PAGES


def _read_capped(response: httpx.Response, method: str, path: str) -> bytearray:
    """The reply's body, refused (without reading on) beyond MAX_REPLY_BYTES."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_REPLY_BYTES:
        raise _too_large(method, path)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_REPLY_BYTES:
            raise _too_large(method, path)
    return body


def _too_large(method: str, path: str) -> ReplyError:
    return ReplyError(method, path, f"the reply is larger than {MAX_REPLY_BYTES // 2**20} MiB (not read)")


def _transport_problem(error: httpx.TransportError, deadline: float, host: str) -> str:
    """What went wrong on the wire, in words, with httpx's class name for whoever debugs."""
    name = type(error).__name__
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect to {host}: {_connect_cause(str(error))} ({server_line(str(error)) or name})"
    if isinstance(error, httpx.TimeoutException):
        if str(error) == DEADLINE_PASSED:
            return f"no complete answer within the {deadline:g} s deadline of a request ({name})"
        return f"no answer in time ({name})"
    return f"no answer ({name})"


_CONNECT_CAUSES = (
    ("refused", "nothing accepts connections there"),
    ("name or service not known", "the host name does not resolve"),
    ("nodename nor servname", "the host name does not resolve"),
    ("temporary failure in name resolution", "the host name does not resolve"),
    ("certificate", "its TLS certificate was not accepted"),
    ("ssl", "the TLS handshake failed"),
    ("unreachable", "the network cannot reach it"),
)


def _connect_cause(text: str) -> str:
    """The likely cause of a failed connection, in words; the raw error follows it in brackets."""
    lowered = text.lower()
    return next((words for clue, words in _CONNECT_CAUSES if clue in lowered), "the connection failed")


def _tally(got: Counter[str]) -> str:
    """`all got HTTP 503` or `5 got HTTP 503, 4 got HTTP 429`: what the tries of one request got."""
    if len(got) == 1:
        return f"all got {next(iter(got))}"
    return ", ".join(f"{times} got {what}" for what, times in got.most_common())


def _retry_after(headers: httpx.Headers) -> float | None:
    """Retry-After as seconds or an HTTP date, capped so a confused server cannot stall a run;
    None (our own backoff) for what is neither, NaN included."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None  # neither seconds nor a date: fall back to our own backoff
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _raise_for_status(reply: Reply) -> None:
    if reply.status < 300:
        return
    if 300 <= reply.status < 400:
        message = "unexpected redirect (not followed: it could send the API key elsewhere)"
    else:
        message = _api_message(reply)
    raise ApiError(reply.method, reply.path, reply.status, message)


def _api_message(reply: Reply) -> str:
    """The documented error body's `message`, else its reason phrase; made printable and capped."""
    try:
        body = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return server_line(str(body["message"]))
    return server_line(reply.reason) or "error"
