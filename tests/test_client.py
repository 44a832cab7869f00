"""The API client against the emulator over loopback: shapes, errors, retries, redirects, the key."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from suitesync.client import (
    ApiError,
    OutcomeUnknownError,
    RetryableError,
    RetryBudget,
    SigmaMindClient,
    check_base_url,
)
from suitesync.emulator import Emulator
from suitesync.errors import ConfigError
from suitesync.secret import Secret

from conftest import AGENT, CANARY_KEY

BODY = {
    "agentId": AGENT,
    "userPrompt": "You are a customer.",
    "successCriteria": "The agent helps.",
    "label": "L",
    "llmModel": "gpt-4o-mini",
    "mockData": [{"variableName": "a", "value": "b"}],
    "attempt": 2,
}


def client_for(emulator: Emulator, **options: Any) -> SigmaMindClient:
    return SigmaMindClient(emulator.url, Secret(CANARY_KEY), sleep=lambda _s: None, **options)


def test_create_list_get_update_delete(emulator: Emulator) -> None:
    with client_for(emulator) as client:
        created = client.create_case(BODY)
        assert created.agent_id == AGENT  # the response's `agent_` prefix is stripped
        assert created.payload == BODY
        assert [c.test_case_id for c in client.list_cases(AGENT)] == [created.test_case_id]
        assert client.get_case(created.test_case_id, AGENT) == created
        updated = client.update_case(created.test_case_id, {**BODY, "label": "M"})
        assert updated.payload["label"] == "M" and updated.hash != created.hash
        assert client.delete_case(created.test_case_id, AGENT) is True
        assert client.delete_case(created.test_case_id, AGENT) is False
        assert client.get_case(created.test_case_id, AGENT) is None


@pytest.mark.parametrize("page_size", [1, 3, 100])
def test_list_follows_every_page_of_the_wrapper(emulator: Emulator, page_size: int) -> None:
    emulator.faults.reconfigure({"list_shape": "paged"})
    with client_for(emulator) as client:
        ids = [client.create_case({**BODY, "label": str(i)}).test_case_id for i in range(5)]
        import suitesync.client as module

        original = module.LIST_PAGE_SIZE
        module.LIST_PAGE_SIZE = page_size
        try:
            assert [c.test_case_id for c in client.list_cases(AGENT)] == ids
        finally:
            module.LIST_PAGE_SIZE = original
    pages = [r for r in emulator.requests() if r["method"] == "GET"]
    assert len(pages) == -(-5 // page_size)  # one request per page, ceil(5 / size)


def test_api_errors_are_one_clear_line(emulator: Emulator) -> None:
    with client_for(emulator) as client, pytest.raises(ApiError) as info:
        client.create_case({**BODY, "llmModel": "gpt-6"})
    assert str(info.value).startswith("POST /v1/test-cases: HTTP 400: llmModel must be one of")
    assert info.value.status == 400


def test_a_wrong_key_is_reported_without_the_key(tmp_path: Any) -> None:
    server = Emulator(state=tmp_path / "s.db", api_key="the-right-one", agents=[AGENT])
    with server, client_for(server) as client, pytest.raises(ApiError) as info:
        client.list_cases(AGENT)
    assert "HTTP 401" in str(info.value) and CANARY_KEY not in str(info.value) + repr(info.value)


def test_idempotent_requests_are_retried_on_429_and_5xx(emulator: Emulator) -> None:
    emulator.faults.reconfigure({"error_rate": 0.3, "rate_limit_rate": 0.3, "seed": 5})
    with client_for(emulator, retries=20) as client:
        for _ in range(10):
            assert client.list_cases(AGENT) == []
    statuses = {r["status"] for r in emulator.requests()}
    assert {200, 429} <= statuses and statuses & {500, 503}


def test_retry_after_is_honoured(emulator: Emulator) -> None:
    emulator.faults.reconfigure({"rate_limit_rate": 1.0, "retry_after_s": 7})
    waits: list[float] = []
    client = SigmaMindClient(emulator.url, Secret("k"), sleep=waits.append, retries=2)
    with client, pytest.raises(RetryableError, match="HTTP 429"):
        client.list_cases(AGENT)
    assert waits == [7.0, 7.0]


def test_the_retry_budget_ends_a_run_against_a_failing_server(emulator: Emulator) -> None:
    emulator.faults.reconfigure({"error_rate": 1.0})
    budget = RetryBudget(3)
    with client_for(emulator, retries=100, budget=budget) as client:
        with pytest.raises(RetryableError):
            client.list_cases(AGENT)
        with pytest.raises(RetryableError):
            client.list_cases(AGENT)
    assert len(emulator.requests()) == 3 + 2  # 3 retries in all, then one try each with no budget left


def test_a_create_whose_answer_is_lost_is_never_resent(emulator: Emulator) -> None:
    emulator.faults.reconfigure({"drop_rate": 1.0})
    with client_for(emulator) as client, pytest.raises(OutcomeUnknownError, match="no answer"):
        client.create_case(BODY)
    assert [r["method"] for r in emulator.requests()] == ["POST"]
    emulator.faults.reconfigure({"error_rate": 1.0, "drop_rate": 0.0})
    with client_for(emulator) as client, pytest.raises(OutcomeUnknownError, match="HTTP 50"):
        client.create_case(BODY)


def test_base_url_rules() -> None:
    assert check_base_url("https://api.sigmamind.ai/") == "https://api.sigmamind.ai"
    assert check_base_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert check_base_url("http://localhost:1") == "http://localhost:1"
    for bad in ("http://api.sigmamind.ai", "http://10.0.0.5:80", "ftp://x", "api.sigmamind.ai"):
        with pytest.raises(ConfigError):
            check_base_url(bad)


def test_the_key_is_in_no_repr(emulator: Emulator) -> None:
    with client_for(emulator) as client:
        assert CANARY_KEY not in repr(client) + repr(vars(client))
    assert CANARY_KEY not in repr(Secret(CANARY_KEY)) + str(Secret(CANARY_KEY))


class _Redirector(BaseHTTPRequestHandler):
    seen_keys: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        _Redirector.seen_keys.append(self.headers.get("X-API-Key"))
        self.send_response(302)
        self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_redirects_are_not_followed() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with SigmaMindClient(url, Secret(CANARY_KEY)) as client, pytest.raises(ApiError, match="redirect"):
            client.list_cases(AGENT)
        assert len(_Redirector.seen_keys) == 1  # the redirect target was never asked
    finally:
        server.shutdown()
        server.server_close()


def test_transport_errors_on_reads_are_retried_then_reported() -> None:
    client = SigmaMindClient("http://127.0.0.1:9", Secret("k"), sleep=lambda _s: None, retries=2)
    with (
        client,
        pytest.raises(
            RetryableError,
            match=r"GET /v1/test-cases: cannot connect to 127.0.0.1: nothing accepts connections there "
            r"\(.*Connection refused\)",
        ),
    ):
        client.list_cases(AGENT)


def test_retry_after_accepts_seconds_and_http_dates_and_is_capped() -> None:
    import email.utils
    import time as clock

    import httpx

    from suitesync.client import MAX_RETRY_AFTER_S, _retry_after

    def answer(value: str) -> httpx.Headers:
        return httpx.Headers({"Retry-After": value})

    assert _retry_after(answer("3")) == 3.0
    in_ten = email.utils.formatdate(clock.time() + 10, usegmt=True)
    assert 8.0 <= (_retry_after(answer(in_ten)) or 0) <= 10.0
    assert _retry_after(answer("86400")) == MAX_RETRY_AFTER_S
    assert _retry_after(answer("-5")) == 0.0
    assert _retry_after(answer("soon")) is None
    assert _retry_after(httpx.Headers()) is None


def test_a_rate_limited_create_is_sent_again_and_made_once(emulator: Emulator) -> None:
    emulator.faults.reconfigure({"rate_limit_rate": 0.5, "retry_after_s": 0, "seed": 4})
    with client_for(emulator, retries=20) as client:
        made = [client.create_case({**BODY, "label": str(n)}) for n in range(10)]
    posts = [r["status"] for r in emulator.requests() if r["method"] == "POST"]
    assert posts.count(429) >= 3 and posts.count(201) == 10
    assert len({m.test_case_id for m in made}) == 10
    assert max(emulator.store.create_counts().values()) == 1


def test_a_create_refused_every_time_gives_up_with_the_429(emulator: Emulator) -> None:
    emulator.faults.reconfigure({"rate_limit_rate": 1.0, "retry_after_s": 0})
    with client_for(emulator, retries=2) as client, pytest.raises(RetryableError, match="HTTP 429"):
        client.create_case(BODY)
    assert [r["method"] for r in emulator.requests()] == ["POST"] * 3
    assert emulator.store.create_counts() == {}


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("line one\nline two\r\n", "line one line two"),
        ("\x1b[31mred\x1b[0m", "[31mred [0m"),
        ("::error file=a::pwned", ": :error file=a: :pwned"),
        (":::warning::x", ": : :warning: :x"),
        ("right\u202eto left\u00a0spaced\x7f", "right to left spaced"),
        ("x" * 5000, "x" * 200 + "…"),
    ],
)
def test_server_text_is_made_one_printable_capped_line(raw: str, shown: str) -> None:
    from suitesync.replies import server_line

    assert server_line(raw) == shown
