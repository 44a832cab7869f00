"""The only network code: a SigmaMind API client over httpx, with auth, retries and pagination.

Requests that are safe to repeat (GET, PUT, DELETE) are retried with capped, jittered backoff,
honouring Retry-After on 429/503, within a retry budget shared by the whole run (tenacity does
the bookkeeping). A POST is never repeated here: when its outcome is unknown (timeout, dropped
connection, 5xx) the caller gets OutcomeUnknownError and must reconcile (design §6).
"""

from __future__ import annotations

import email.utils
import ipaddress
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from suitesync.errors import ConfigError, SuitesyncError
from suitesync.models import RemoteCase, remote_case, request_body

if TYPE_CHECKING:
    from suitesync.secret import Secret

MAX_RETRY_AFTER_S = 60.0
MAX_CONSECUTIVE_FAILURES = 30
LIST_PAGE_SIZE = 100
USER_AGENT = "suitesync"
_BACKOFF = wait_exponential_jitter(multiplier=0.2, max=5.0)  # 0.2 s, 0.4 s, ... capped at 5 s, plus jitter


class ApiError(SuitesyncError):
    """The API answered with an error: one line with the method, path, status and the API's message."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status


class RetryableError(SuitesyncError):
    """A failure worth trying again (429, 5xx, network): carries the server's Retry-After, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RefusedError(RetryableError):
    """Refused before any work (429): even a create may be sent again."""


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


class SigmaMindClient:
    """One shared connection pool for the whole run; safe to use from many threads."""

    def __init__(
        self,
        base_url: str,
        api_key: Secret,
        *,
        timeout: float = 30.0,
        max_connections: int = 32,
        retries: int = 8,
        budget: RetryBudget | None = None,
        sleep: Callable[[float], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.retries = retries
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
            limits=limits,
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
        return [remote_case(doc) for doc in self._list("/v1/test-cases", {"agentId": agent_id})]

    def get_case(self, test_case_id: str, agent_id: str) -> RemoteCase | None:
        response = self._retrying(
            "GET", f"/v1/test-cases/{test_case_id}", params={"agentId": agent_id}, ok404=True
        )
        return None if response is None else remote_case(response.json())

    def create_case(self, payload: dict[str, Any]) -> RemoteCase:
        """Create a test case. Anything but a clear answer raises OutcomeUnknownError: it may exist."""
        return remote_case(self._post("/v1/test-cases", request_body(payload)).json())

    def update_case(self, test_case_id: str, payload: dict[str, Any]) -> RemoteCase:
        """PUT the full desired body: the same result under full or partial update semantics."""
        response = self._retrying("PUT", f"/v1/test-cases/{test_case_id}", json=request_body(payload))
        assert response is not None
        return remote_case(response.json())

    def delete_case(self, test_case_id: str, agent_id: str) -> bool:
        """True if deleted, False if it was already gone."""
        path = f"/v1/test-cases/{test_case_id}"
        return self._retrying("DELETE", path, params={"agentId": agent_id}, ok404=True) is not None

    # --- batch runs -----------------------------------------------------------------------------

    def create_batch(self, agent_id: str, test_case_ids: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = self._post(
            "/v1/batch-runs", {"agentId": agent_id, "testCases": test_case_ids}
        ).json()
        return result

    def get_batch(self, batch_id: str, agent_id: str) -> dict[str, Any]:
        response = self._retrying("GET", f"/v1/batch-runs/{batch_id}", params={"agentId": agent_id})
        assert response is not None
        result: dict[str, Any] = response.json()
        return result

    def list_runs(self, batch_id: str, agent_id: str) -> list[dict[str, Any]]:
        return self._list("/v1/test-runs", {"agentId": agent_id, "batchId": batch_id})

    # --- plumbing -------------------------------------------------------------------------------

    def _list(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 0
        while True:
            response = self._retrying("GET", path, params={**params, "page": page, "size": LIST_PAGE_SIZE})
            assert response is not None
            body = response.json()
            if isinstance(body, list):  # legacy shape: everything at once
                return body
            items.extend(body.get("data") or [])
            if not body.get("hasNext"):
                return items
            page += 1

    def _retrying(
        self, method: str, path: str, *, ok404: bool = False, **kwargs: Any
    ) -> httpx.Response | None:
        """Send an idempotent request, retrying what is worth retrying; None for an allowed 404."""
        for attempt in self._retrier(RetryableError):
            with attempt:
                return self._send(method, path, ok404, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST, never repeated when its outcome is unknown; a 429 is repeated after Retry-After,
        because a rate-limited request was refused before any work was done."""
        for attempt in self._retrier(RefusedError):
            with attempt:
                return self._post_once(path, body)
        raise AssertionError("unreachable")  # pragma: no cover

    def _post_once(self, path: str, body: dict[str, Any]) -> httpx.Response:
        self._check_stop()
        try:
            response = self._http.post(path, json=body)
        except httpx.TransportError as exc:
            self.budget.failed()
            raise OutcomeUnknownError(f"POST {path}: no answer ({type(exc).__name__})") from None
        if response.status_code >= 500:
            self.budget.failed()
            raise OutcomeUnknownError(f"POST {path}: HTTP {response.status_code}")
        if response.status_code == 429:
            raise RefusedError(f"POST {path}: HTTP 429", _retry_after(response))
        self.budget.succeeded()
        _raise_for_status(response)
        return response

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

    def _send(self, method: str, path: str, ok404: bool, **kwargs: Any) -> httpx.Response | None:
        self._check_stop()
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            self.budget.failed()
            raise RetryableError(f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code >= 500:
            self.budget.failed()
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableError(f"{method} {path}: HTTP {response.status_code}", _retry_after(response))
        self.budget.succeeded()
        if ok404 and response.status_code == 404:
            return None
        _raise_for_status(response)
        return response

    def _should_stop(self, state: RetryCallState) -> bool:
        return state.attempt_number > self.retries or not self.budget.take()

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableError) and error.retry_after is not None:
            return error.retry_after
        return float(_BACKOFF(state))


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After as seconds or an HTTP date, capped so a confused server cannot stall a run."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError):
            return None  # neither seconds nor a date: fall back to our own backoff
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 300:
        return
    request = response.request
    if 300 <= response.status_code < 400:
        message = "unexpected redirect (not followed: it could send the API key elsewhere)"
    else:
        message = _api_message(response)
    raise ApiError(request.method, request.url.path, response.status_code, message)


def _api_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return response.reason_phrase or "error"
