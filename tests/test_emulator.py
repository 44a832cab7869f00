"""The emulator over real loopback sockets: every endpoint, error, fault mode and restart."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from suitesync.emulator import Emulator, FaultConfig, NotLoopbackError
from suitesync.emulator.faults import FaultInjector

from conftest import AGENT, OTHER_AGENT

KEY = {"X-API-Key": "test-key"}
CASE = {
    "agentId": AGENT,
    "userPrompt": "You are an angry customer who wants to cancel their subscription.",
    "successCriteria": "The agent acknowledges the request and offers alternatives.",
    "label": "Angry Customer - Cancellation Flow",
    "llmModel": "gpt-4o-mini",
    "mockData": [
        {"variableName": "customer_name", "value": "John Doe"},
        {"variableName": "account_status", "value": "active"},
    ],
    "attempt": 5,
}
ERROR_KEYS = ["error", "message", "path", "status", "timestamp"]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def api(emulator: Emulator) -> httpx.Client:
    with httpx.Client(base_url=emulator.url, headers=KEY, timeout=10) as client:
        yield client


def create(api: httpx.Client, **changes: Any) -> dict[str, Any]:
    response = api.post("/v1/test-cases", json={**CASE, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def assert_error(response: httpx.Response, status: int, path: str, message: str = "") -> None:
    assert response.status_code == status
    body = response.json()
    assert list(body) == ERROR_KEYS
    assert body["status"] == status and body["path"] == path
    assert TIMESTAMP.match(body["timestamp"])
    assert message in body["message"]


# --- test cases ---------------------------------------------------------------------------------


def test_create_returns_the_documented_shape(api: httpx.Client) -> None:
    body = create(api)
    assert list(body) == [
        "testCaseId",
        "label",
        "agent",
        "workspaceId",
        "llmModel",
        "mockData",
        "userPrompt",
        "attempt",
        "successCriteria",
    ]
    assert re.fullmatch(r"tc_[A-Za-z0-9]{16}", body["testCaseId"])
    assert body["agent"] == {"name": "New AI Agent", "agentId": f"agent_{AGENT}", "status": "Live"}
    assert re.fullmatch(r"org_[A-Za-z0-9]{16}", body["workspaceId"])
    assert body["mockData"] == CASE["mockData"]
    assert (body["attempt"], body["label"]) == (5, CASE["label"])


def test_create_defaults_model_and_attempt(api: httpx.Client) -> None:
    minimal = {k: CASE[k] for k in ("agentId", "userPrompt", "successCriteria")}
    body = api.post("/v1/test-cases", json=minimal).json()
    assert (body["llmModel"], body["attempt"], body["mockData"], body["label"]) == (
        "gpt-4o-mini",
        1,
        [],
        None,
    )


def test_integers_beyond_64_bits_are_echoed(api: httpx.Client) -> None:
    # JSON has no integer limit and the docs give `attempt` none; orjson, which writes the
    # responses, stops at 64 bits, so the standard library writes such a response.
    assert create(api, attempt=2**70)["attempt"] == 2**70


def test_agent_prefix_is_accepted_on_requests(api: httpx.Client) -> None:
    assert create(api, agentId=f"agent_{AGENT}")["agent"]["agentId"] == f"agent_{AGENT}"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"userPrompt": None}, "userPrompt is required"),
        ({"successCriteria": "   "}, "successCriteria is required"),
        ({"llmModel": "gpt-5-nano-fast-tier"}, "llmModel must be one of"),
        ({"attempt": 0}, "attempt must be an integer >= 1"),
        ({"attempt": "3"}, "attempt must be an integer >= 1"),
        ({"mockData": {"a": "b"}}, "mockData must be a list"),
        ({"mockData": [{"variableName": "a", "value": 3}]}, "mockData entries"),
        ({"agentId": ""}, "agentId is required"),
        ({"label": 7}, "label must be a string"),
    ],
)
def test_create_rejects_invalid_bodies_with_the_documented_error(
    api: httpx.Client, changes: dict[str, Any], message: str
) -> None:
    body = {k: v for k, v in {**CASE, **changes}.items() if v is not None}
    assert_error(api.post("/v1/test-cases", json=body), 400, "/v1/test-cases", message)


def test_create_with_a_body_that_is_not_json(api: httpx.Client) -> None:
    response = api.post("/v1/test-cases", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 400, "/v1/test-cases", "not JSON")


def test_unknown_agent_is_404(api: httpx.Client) -> None:
    assert_error(
        api.post("/v1/test-cases", json={**CASE, "agentId": "NoSuchAgent123"}), 404, "/v1/test-cases"
    )


def test_api_key_is_required(emulator: Emulator) -> None:
    response = httpx.get(f"{emulator.url}/v1/test-cases", params={"agentId": AGENT})
    assert_error(response, 401, "/v1/test-cases", "X-API-Key")


def test_a_configured_key_must_match(tmp_path: Path) -> None:
    with Emulator(state=tmp_path / "s.db", api_key="right", agents=[AGENT]) as server:
        url = f"{server.url}/v1/test-cases"
        assert httpx.get(url, params={"agentId": AGENT}, headers={"X-API-Key": "wrong"}).status_code == 401
        assert httpx.get(url, params={"agentId": AGENT}, headers={"X-API-Key": "right"}).status_code == 200


def test_list_is_a_bare_array_by_default(api: httpx.Client) -> None:
    ids = [create(api, label=f"case {i}")["testCaseId"] for i in range(3)]
    create(api, agentId=OTHER_AGENT)
    listed = api.get("/v1/test-cases", params={"agentId": AGENT}).json()
    assert isinstance(listed, list)
    assert [case["testCaseId"] for case in listed] == ids


def test_list_paged_shape(emulator: Emulator, api: httpx.Client) -> None:
    emulator.faults.reconfigure({"list_shape": "paged"})
    ids = [create(api, label=f"case {i}")["testCaseId"] for i in range(5)]
    first = api.get("/v1/test-cases", params={"agentId": AGENT, "size": 2}).json()
    assert list(first) == ["data", "page", "size", "totalCount", "totalPages", "hasNext", "hasPrevious"]
    assert (first["page"], first["size"], first["totalCount"], first["totalPages"]) == (0, 2, 5, 3)
    assert (first["hasNext"], first["hasPrevious"]) == (True, False)
    last = api.get("/v1/test-cases", params={"agentId": AGENT, "size": 2, "page": 2}).json()
    assert (last["hasNext"], last["hasPrevious"]) == (False, True)
    pages = [
        api.get("/v1/test-cases", params={"agentId": AGENT, "size": 2, "page": p}).json() for p in range(3)
    ]
    assert [c["testCaseId"] for page in pages for c in page["data"]] == ids


def test_list_needs_agent_id(api: httpx.Client) -> None:
    assert_error(api.get("/v1/test-cases"), 400, "/v1/test-cases", "agentId")


def test_list_lag_hides_new_cases_for_a_while(emulator: Emulator, api: httpx.Client) -> None:
    emulator.faults.reconfigure({"list_lag_ms": 60_000})  # far longer than any pause of this machine
    create(api)
    assert api.get("/v1/test-cases", params={"agentId": AGENT}).json() == []
    emulator.faults.reconfigure({"list_lag_ms": 0})  # the lag is over: the case shows
    assert len(api.get("/v1/test-cases", params={"agentId": AGENT}).json()) == 1


def test_get_by_id_needs_the_right_agent(api: httpx.Client) -> None:
    created = create(api)
    path = f"/v1/test-cases/{created['testCaseId']}"
    assert api.get(path, params={"agentId": AGENT}).json() == created
    assert_error(api.get(path, params={"agentId": OTHER_AGENT}), 404, path)
    assert_error(api.get(path), 400, path, "agentId")
    assert_error(
        api.get("/v1/test-cases/tc_missing", params={"agentId": AGENT}), 404, "/v1/test-cases/tc_missing"
    )


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_is_partial(api: httpx.Client, method: str) -> None:
    created = create(api)
    path = f"/v1/test-cases/{created['testCaseId']}"
    response = api.request(method, path, json={"agentId": AGENT, "label": "Renamed", "attempt": 2})
    assert response.status_code == 200
    updated = response.json()
    assert (updated["label"], updated["attempt"]) == ("Renamed", 2)
    assert updated["userPrompt"] == CASE["userPrompt"] and updated["mockData"] == CASE["mockData"]
    assert api.get(path, params={"agentId": AGENT}).json() == updated


def test_update_errors(api: httpx.Client) -> None:
    path = f"/v1/test-cases/{create(api)['testCaseId']}"
    assert_error(api.put(path, json={"agentId": AGENT, "llmModel": "gpt-6"}), 400, path, "llmModel")
    assert_error(api.put(path, json={"agentId": OTHER_AGENT, "label": "x"}), 404, path)
    assert_error(api.put("/v1/test-cases/tc_missing", json={"label": "x"}), 404, "/v1/test-cases/tc_missing")


def test_delete(api: httpx.Client) -> None:
    path = f"/v1/test-cases/{create(api)['testCaseId']}"
    response = api.delete(path, params={"agentId": AGENT})
    assert (response.status_code, response.content) == (204, b"")
    assert_error(api.get(path, params={"agentId": AGENT}), 404, path)
    assert_error(api.delete(path, params={"agentId": AGENT}), 404, path)


def test_unknown_paths_and_methods(api: httpx.Client) -> None:
    assert_error(api.get("/v1/nothing-here"), 404, "/v1/nothing-here")
    assert_error(api.delete("/v1/test-cases"), 405, "/v1/test-cases")


# --- batch runs and test runs ---------------------------------------------------------------


def wait_for_batch(api: httpx.Client, batch_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """Poll until the batch is done: emulated runs end by the clock (`run_seconds`) on purpose,
    as the platform's do; the deadline only turns a hang into a failure."""
    deadline = time.monotonic() + timeout
    while True:
        batch = api.get(f"/v1/batch-runs/{batch_id}", params={"agentId": AGENT}).json()
        if batch["successfulAttempts"] + batch["failedAttempts"] == batch["totalAttempts"]:
            return batch
        assert time.monotonic() < deadline, "batch did not finish"
        time.sleep(0.05)


def test_batch_run_progresses_to_deterministic_verdicts(api: httpx.Client) -> None:
    passing = create(api, attempt=2)
    failing = create(api, attempt=3, successCriteria="Never happens. [emulator:fail]")
    partial = create(api, attempt=4, userPrompt="Sometimes. [emulator:pass-rate=0.5]")
    ids = [passing["testCaseId"], failing["testCaseId"], partial["testCaseId"]]
    response = api.post("/v1/batch-runs", json={"agentId": AGENT, "testCases": ids})
    assert response.status_code == 201
    created = response.json()
    assert list(created) == ["batchId", "workspaceId", "agent", "createdDate"]
    assert re.fullmatch(r"batch_[A-Za-z0-9]{16}", created["batchId"])
    early = api.get(f"/v1/batch-runs/{created['batchId']}", params={"agentId": AGENT}).json()
    assert (early["successfulAttempts"], early["failedAttempts"], early["totalAttempts"]) == (0, 0, 9)
    done = wait_for_batch(api, created["batchId"])
    assert (done["successfulAttempts"], done["failedAttempts"]) == (2 + 0 + 2, 0 + 3 + 2)
    assert [case["testCaseId"] for case in done["testCases"]] == ids
    assert list(done) == [
        "batchId",
        "workspaceId",
        "agent",
        "createdDate",
        "testCases",
        "successfulAttempts",
        "failedAttempts",
        "totalAttempts",
    ]


def test_test_runs_list_and_get(api: httpx.Client) -> None:
    case = create(api, attempt=2, successCriteria="Impossible. [emulator:fail]")
    batch_id = api.post("/v1/batch-runs", json={"agentId": AGENT, "testCases": [case["testCaseId"]]}).json()[
        "batchId"
    ]
    running = api.get("/v1/test-runs", params={"agentId": AGENT, "batchId": batch_id}).json()
    assert [run["isSuccessful"] for run in running["data"]] == [None, None]
    wait_for_batch(api, batch_id)
    listed = api.get("/v1/test-runs", params={"agentId": AGENT, "batchId": batch_id}).json()
    assert listed["totalCount"] == 2
    job_id = listed["data"][0]["jobId"]
    assert re.fullmatch(r"job_[A-Za-z0-9]{16}", job_id)
    run = api.get(f"/v1/test-runs/{job_id}", params={"agentId": AGENT, "batchId": batch_id}).json()
    assert list(run) == [
        "batchId",
        "workspaceId",
        "agent",
        "testCase",
        "jobId",
        "chatId",
        "createdDate",
        "completedDate",
        "isSuccessful",
        "remarks",
        "conversation",
    ]
    assert run["isSuccessful"] is False
    assert run["remarks"].startswith("The agent did not meet the success criteria")
    assert re.fullmatch(r"chat_[A-Za-z0-9]{16}", run["chatId"])
    assert run["conversation"][0]["role"] == "user" and run["conversation"][1]["role"] == "assistant"
    assert run["testCase"]["testCaseId"] == case["testCaseId"]
    assert TIMESTAMP.match(run["completedDate"])
    path = f"/v1/test-runs/{job_id}"
    assert_error(api.get(path, params={"agentId": AGENT}), 400, path, "batchId")
    assert_error(
        api.get("/v1/test-runs/job_x", params={"agentId": AGENT, "batchId": batch_id}),
        404,
        "/v1/test-runs/job_x",
    )


def test_batch_runs_list_is_paged_newest_first(api: httpx.Client) -> None:
    case_id = create(api)["testCaseId"]
    batch_ids = [
        api.post("/v1/batch-runs", json={"agentId": AGENT, "testCases": [case_id]}).json()["batchId"]
        for _ in range(3)
    ]
    listed = api.get("/v1/batch-runs", params={"agentId": AGENT, "size": 2}).json()
    assert [b["batchId"] for b in listed["data"]] == batch_ids[::-1][:2]
    assert (listed["totalCount"], listed["hasNext"]) == (3, True)


def test_batch_run_errors(api: httpx.Client) -> None:
    other = create(api, agentId=OTHER_AGENT)["testCaseId"]
    assert_error(api.post("/v1/batch-runs", json={"agentId": AGENT, "testCases": []}), 400, "/v1/batch-runs")
    assert_error(
        api.post("/v1/batch-runs", json={"agentId": AGENT, "testCases": [other]}), 404, "/v1/batch-runs"
    )
    assert_error(api.get("/v1/batch-runs/batch_x", params={"agentId": AGENT}), 404, "/v1/batch-runs/batch_x")


# --- agents -------------------------------------------------------------------------------------


def test_agents_list_and_get(api: httpx.Client) -> None:
    listed = api.get("/v1/agents").json()
    assert [a["agentId"] for a in listed["data"]] == sorted([AGENT, OTHER_AGENT])
    assert listed["totalCount"] == 2
    assert api.get(f"/v1/agents/{AGENT}").json()["agentId"] == AGENT
    assert api.get(f"/v1/agents/agent_{AGENT}").json()["agentId"] == AGENT
    assert_error(api.get("/v1/agents/Nobody"), 404, "/v1/agents/Nobody")


# --- faults ---------------------------------------------------------------------------------------


def test_latency(emulator: Emulator, api: httpx.Client) -> None:
    emulator.faults.reconfigure({"latency_ms": 150})
    started = time.perf_counter()
    api.get("/v1/agents")
    assert time.perf_counter() - started >= 0.15


def test_server_errors_do_nothing(emulator: Emulator, api: httpx.Client) -> None:
    emulator.faults.reconfigure({"error_rate": 1.0, "seed": 1})
    statuses = {api.post("/v1/test-cases", json=CASE).status_code for _ in range(20)}
    assert statuses == {500, 503}
    emulator.faults.reconfigure({"error_rate": 0.0})
    assert api.get("/v1/test-cases", params={"agentId": AGENT}).json() == []


def test_rate_limit_sends_retry_after(emulator: Emulator, api: httpx.Client) -> None:
    emulator.faults.reconfigure({"rate_limit_rate": 1.0, "retry_after_s": 3})
    response = api.get("/v1/agents")
    assert_error(response, 429, "/v1/agents", "Injected")
    assert response.headers["Retry-After"] == "3"


def test_drop_after_create_commits_but_never_answers(emulator: Emulator, api: httpx.Client) -> None:
    emulator.faults.reconfigure({"drop_rate": 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/v1/test-cases", json=CASE)
    emulator.faults.reconfigure({"drop_rate": 0.0})
    listed = api.get("/v1/test-cases", params={"agentId": AGENT}).json()
    assert len(listed) == 1 and listed[0]["userPrompt"] == CASE["userPrompt"]
    assert emulator.requests()[0]["status"] == 0  # logged as dropped


def test_faults_are_a_function_of_the_request_and_the_seed() -> None:
    def draws(seed: int, order: list[int]) -> dict[tuple[int, int], int | None]:
        injector = FaultInjector(FaultConfig(error_rate=0.3, rate_limit_rate=0.3, seed=seed))
        fates = {}
        for n in order:  # each of 50 requests, sent 4 times, in the given order
            draw = injector.draw("POST", "/v1/test-cases", {}, b'{"n": %d}' % (n % 50))
            fates[(n % 50, draw.occurrence)] = draw.failure()
        return fates

    forwards = [n for _ in range(4) for n in range(50)]
    backwards = [n for n in reversed(range(50)) for _ in range(4)]
    # Whatever order the requests arrive in (threads), the n-th sending of a request meets the same fate.
    assert draws(7, forwards) == draws(7, backwards)
    assert draws(7, forwards) != draws(8, forwards)
    assert {429, 500, 503, None} <= set(draws(7, forwards).values())


def test_faults_can_be_switched_at_runtime_over_http(emulator: Emulator, api: httpx.Client) -> None:
    response = httpx.put(f"{emulator.url}/_emulator/faults", json={"rate_limit_rate": 1.0})
    assert response.json()["rate_limit_rate"] == 1.0
    assert api.get("/v1/agents").status_code == 429
    assert httpx.put(f"{emulator.url}/_emulator/faults", json={"rate_limit_rate": 0.0}).status_code == 200
    assert api.get("/v1/agents").status_code == 200
    assert httpx.put(f"{emulator.url}/_emulator/faults", json={"nope": 1}).status_code == 400
    assert httpx.put(f"{emulator.url}/_emulator/faults", json={"error_rate": 2}).status_code == 400


def test_a_rejected_fault_update_changes_nothing(emulator: Emulator, api: httpx.Client) -> None:
    faults = f"{emulator.url}/_emulator/faults"
    before = httpx.get(faults).json()
    for bad in (
        b'{"latency_ms": 5, "error_rate": 2}',  # all or nothing: the good half is not kept
        b'{"latency_ms": -1}',  # a negative sleep would fail every request
        b'{"jitter_ms": NaN}',  # the standard library's JSON reader takes NaN and Infinity
        b'{"retry_after_s": Infinity}',
        b'{"page_size": true}',
    ):
        response = httpx.put(faults, content=bad)
        assert response.status_code == 400 and response.json()["error"], bad
    assert httpx.get(faults).json() == before
    assert api.get("/v1/agents").status_code == 200


# --- admin, state, concurrency ------------------------------------------------------------------


def test_admin_request_log_creates_and_reset(emulator: Emulator, api: httpx.Client) -> None:
    create(api)
    create(api)
    api.get("/v1/test-cases", params={"agentId": AGENT})
    log = httpx.get(f"{emulator.url}/_emulator/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/v1/test-cases", 201),
        ("POST", "/v1/test-cases", 201),
        ("GET", "/v1/test-cases", 200),
    ]
    assert log[2]["query"] == {"agentId": AGENT} and log[0]["time"] <= log[2]["time"]
    creates = httpx.get(f"{emulator.url}/_emulator/creates").json()
    assert (list(creates["creates"].values()), creates["duplicates"]) == ([2], 1)
    assert httpx.post(f"{emulator.url}/_emulator/reset").status_code == 204
    assert api.get("/v1/test-cases", params={"agentId": AGENT}).json() == []
    assert httpx.get(f"{emulator.url}/_emulator/requests").json()["requests"] == [
        {**r, "time": r["time"]} for r in emulator.requests()
    ]
    assert (
        httpx.post(f"{emulator.url}/_emulator/agents", json={"agentId": "agent_NewAgent0001"}).status_code
        == 201
    )
    assert api.get("/v1/agents/NewAgent0001").status_code == 200


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    with Emulator(state=state, agents=[AGENT]) as first, httpx.Client(base_url=first.url, headers=KEY) as api:
        created = create(api)
    with Emulator(state=state) as second, httpx.Client(base_url=second.url, headers=KEY) as api:
        listed = api.get("/v1/test-cases", params={"agentId": AGENT}).json()
    assert listed == [created]


def test_concurrent_creates_are_all_kept(emulator: Emulator) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with httpx.Client(base_url=emulator.url, headers=KEY) as client:
            for i in range(10):
                body = client.post("/v1/test-cases", json={**CASE, "label": f"{n}-{i}"}).json()
                with lock:
                    ids.append(body["testCaseId"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listed = httpx.get(f"{emulator.url}/v1/test-cases", params={"agentId": AGENT}, headers=KEY).json()
    assert sorted(ids) == sorted(c["testCaseId"] for c in listed) and len(set(ids)) == 80


def test_refuses_non_loopback_hosts(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.com"):
        with pytest.raises(NotLoopbackError):
            Emulator(host=host, state=tmp_path / "s.db")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_client_that_goes_away_mid_request_leaves_nothing_on_stderr(
    emulator: Emulator, method: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # The request is held at the gate while the client resets the connection; released, the
    # server answers into the dead socket (ConnectionReset / BrokenPipe): a normal event for a
    # server, which must not print a traceback. Joining the handler thread makes "it is done" a fact.
    import socket
    import struct

    emulator.gate.close_after(0, method=method)
    before = set(threading.enumerate())
    host, port = emulator.url.removeprefix("http://").split(":")
    client = socket.create_connection((host, int(port)))
    body = b'{"agentId": "%s", "userPrompt": "p", "successCriteria": "s"}' % AGENT.encode()
    if method == "GET":
        path, body = f"/v1/test-cases?agentId={AGENT}", b""
    else:
        path = "/v1/test-cases"
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: k\r\nContent-Length: {len(body)}\r\n\r\n"
    client.sendall(head.encode() + body)
    assert emulator.gate.wait_holding(1)
    handlers = set(threading.enumerate()) - before
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    client.close()
    emulator.gate.open()
    for handler in handlers:
        handler.join(timeout=30)
        assert not handler.is_alive()
    assert [r["path"] for r in emulator.requests()] == [
        "/v1/test-cases"
    ]  # it was served, then failed to answer
    assert capfd.readouterr().err == ""
