"""The emulator scales: no request reads a whole table, a page reads only its rows, and the
in-memory list order that makes this possible stays true to the state file.

Time is never measured here (bench/bench_emulator.py does that); what is asserted is what makes
the time flat: the query plan of every statement a request runs, and which rows a page reads.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from suitesync.emulator import ApiBehaviour, Emulator
from suitesync.emulator.order import AgentOrder

from conftest import AGENT, OTHER_AGENT

KEY = {"X-API-Key": "test-key"}
BIG_TABLES = ("test_cases", "batch_runs", "test_runs", "creates")


def new_case(client: httpx.Client, label: str, agent: str = AGENT) -> str:
    body = {"agentId": agent, "userPrompt": f"Prompt {label}.", "successCriteria": "Done.", "label": label}
    response = client.post("/v1/test-cases", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["testCaseId"])


def page_ids(client: httpx.Client, size: int, agent: str = AGENT) -> list[str]:
    """Every id of the agent's paged list, page after page, checking the wrapper on the way."""
    ids: list[str] = []
    for page in range(1000):
        body = client.get("/v1/test-cases", params={"agentId": agent, "size": size, "page": page}).json()
        assert (body["page"], body["size"], body["hasPrevious"]) == (page, size, page > 0)
        assert body["totalPages"] == (body["totalCount"] + size - 1) // size
        ids += [case["testCaseId"] for case in body["data"]]
        if not body["hasNext"]:
            assert len(ids) == body["totalCount"]
            return ids
    raise AssertionError("the list never ended")


def array_ids(client: httpx.Client, agent: str = AGENT) -> list[str]:
    return [case["testCaseId"] for case in client.get("/v1/test-cases", params={"agentId": agent}).json()]


@pytest.fixture
def paged(emulator: Emulator) -> httpx.Client:
    emulator.faults.reconfigure({"list_shape": "paged"})
    with httpx.Client(base_url=emulator.url, headers=KEY, timeout=10) as client:
        yield client


def test_no_request_reads_a_whole_table(emulator: Emulator, paged: httpx.Client) -> None:
    """Constant time whatever the table size: every statement is an index seek. A create used to
    run MAX(seq) over the whole table (SCAN), and a page used to read the agent's whole list."""
    statements: list[str] = []
    emulator.store._db.set_trace_callback(statements.append)  # the store's own connection
    case_ids = [new_case(paged, f"case {n}") for n in range(3)]
    new_case(paged, "elsewhere", OTHER_AGENT)
    paged.get("/v1/test-cases", params={"agentId": AGENT, "size": 2, "page": 1})
    paged.get(f"/v1/test-cases/{case_ids[0]}", params={"agentId": AGENT})
    paged.put(f"/v1/test-cases/{case_ids[0]}", json={"label": "renamed"})
    paged.delete(f"/v1/test-cases/{case_ids[2]}")
    batch_id = paged.post("/v1/batch-runs", json={"agentId": AGENT, "testCases": case_ids[:2]}).json()[
        "batchId"
    ]
    paged.get(f"/v1/batch-runs/{batch_id}", params={"agentId": AGENT})
    paged.get("/v1/batch-runs", params={"agentId": AGENT})
    runs = paged.get("/v1/test-runs", params={"agentId": AGENT, "batchId": batch_id, "size": 1}).json()
    paged.get(f"/v1/test-runs/{runs['data'][0]['jobId']}", params={"agentId": AGENT, "batchId": batch_id})
    emulator.faults.reconfigure({"list_shape": "array"})
    paged.get("/v1/test-cases", params={"agentId": AGENT})
    emulator.store._db.set_trace_callback(None)

    plans = query_plans(emulator, statements)
    assert any("MAX(seq)" in sql for sql in plans), "the create's statements were not seen"
    scans = {sql: plan for sql, plan in plans.items() if any(s.startswith("SCAN") for s in plan)}
    assert not scans


def query_plans(emulator: Emulator, statements: list[str]) -> dict[str, list[str]]:
    """EXPLAIN QUERY PLAN of each statement that reads or writes one of the big tables."""
    plans = {}
    with emulator.store.transaction() as db:
        for sql in statements:
            if sql.split()[0] in ("SELECT", "UPDATE", "DELETE") and any(t in sql for t in BIG_TABLES):
                plans[sql] = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
    return plans


def test_a_page_reads_only_its_own_rows(emulator: Emulator, paged: httpx.Client) -> None:
    ids = [new_case(paged, f"case {n}") for n in range(6)]
    with emulator.store.transaction() as db:  # a row no page but the last may read
        db.execute("UPDATE test_cases SET body = 'not json' WHERE test_case_id = ?", (ids[5],))
    first = paged.get("/v1/test-cases", params={"agentId": AGENT, "size": 2, "page": 0}).json()
    second = paged.get("/v1/test-cases", params={"agentId": AGENT, "size": 2, "page": 1}).json()
    assert [c["testCaseId"] for c in first["data"] + second["data"]] == ids[:4]
    assert (first["totalCount"], first["totalPages"], second["hasNext"]) == (6, 3, True)


def test_pages_follow_creates_deletes_and_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    paged = ApiBehaviour(list_shape="paged")
    with Emulator(state=state, agents=[AGENT, OTHER_AGENT], behaviour=paged) as emu, client_of(emu) as api:
        mine = [new_case(api, f"case {n}", AGENT if n % 3 else OTHER_AGENT) for n in range(30)]
        expected = [tc for n, tc in enumerate(mine) if n % 3]
        assert page_ids(api, 4) == expected  # loads the agent's order
        for gone in (expected[0], expected[9], expected[-1]):
            assert api.delete(f"/v1/test-cases/{gone}").status_code == 204
            expected.remove(gone)
        expected += [new_case(api, f"later {n}") for n in range(3)]
        assert page_ids(api, 4) == page_ids(api, 7) == expected
        assert page_ids(api, 5, OTHER_AGENT) == [tc for n, tc in enumerate(mine) if not n % 3]
    with Emulator(state=state, behaviour=ApiBehaviour(list_shape="paged")) as emu, client_of(emu) as api:
        assert page_ids(api, 4) == expected
        expected.append(new_case(api, "after the restart"))
        assert page_ids(api, 3) == expected
        emu.faults.reconfigure({"list_shape": "array"})
        assert array_ids(api) == expected


def client_of(emulator: Emulator) -> httpx.Client:
    return httpx.Client(base_url=emulator.url, headers=KEY, timeout=10)


def test_two_servers_on_one_state_file_see_each_others_writes(tmp_path: Path) -> None:
    """Two suitesync processes with SIGMAMIND_BASE_URL=local share .suitesync/emulator.sqlite3:
    the list order each holds in memory must follow the other's writes."""
    state = tmp_path / "shared.sqlite3"
    paged = ApiBehaviour(list_shape="paged")
    with (
        Emulator(state=state, agents=[AGENT], behaviour=paged) as first,
        Emulator(state=state, behaviour=ApiBehaviour(list_shape="paged")) as second,
        client_of(first) as one,
        client_of(second) as two,
    ):
        ids = [new_case(one, "a"), new_case(two, "b")]
        assert page_ids(one, 10) == page_ids(two, 10) == ids
        ids.append(new_case(one, "c"))
        assert two.delete(f"/v1/test-cases/{ids.pop(0)}").status_code == 204
        assert page_ids(one, 1) == page_ids(two, 1) == ids


def test_concurrent_creates_and_pages_agree(emulator: Emulator, paged: httpx.Client) -> None:
    created: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with client_of(emulator) as client:
            for i in range(10):
                case_id = new_case(client, f"{n}-{i}")
                with lock:
                    created.append(case_id)
                page_ids(client, 7)  # lists interleave with the other threads' creates

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listed = page_ids(paged, 9)
    assert sorted(listed) == sorted(created) and len(set(listed)) == 60


def test_list_lag_holds_back_pages_too(emulator: Emulator, paged: httpx.Client) -> None:
    new_case(paged, "fresh")
    emulator.faults.reconfigure({"list_lag_ms": 60_000})  # far longer than any pause of this machine
    hidden = paged.get("/v1/test-cases", params={"agentId": AGENT, "size": 5}).json()
    assert (hidden["data"], hidden["totalCount"], hidden["totalPages"], hidden["hasNext"]) == (
        [],
        0,
        0,
        False,
    )
    emulator.faults.reconfigure({"list_lag_ms": 0})
    assert paged.get("/v1/test-cases", params={"agentId": AGENT, "size": 5}).json()["totalCount"] == 1


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/test-cases", {}),
        ("/v1/batch-runs", {}),
        ("/v1/test-runs", {"batchId": "from the test"}),
        ("/v1/agents", {}),
    ],
)
def test_a_page_far_beyond_the_end_is_empty(paged: httpx.Client, path: str, params: dict[str, Any]) -> None:
    case_id = new_case(paged, "only")
    batch_id = paged.post("/v1/batch-runs", json={"agentId": AGENT, "testCases": [case_id]}).json()["batchId"]
    query = {**params, "agentId": AGENT, "page": 10**30, "size": 10**30}
    if "batchId" in query:
        query["batchId"] = batch_id
    body = paged.get(path, params=query).json()
    assert (body["data"], body["hasNext"], body["hasPrevious"], body["totalPages"]) == ([], False, True, 1)
    assert body["totalCount"] == (2 if path == "/v1/agents" else 1)


# --- the in-memory order, as a pure object ---------------------------------------------------------


def test_order_pages_by_position_and_counts_what_shows() -> None:
    order = AgentOrder([(1, 10.0), (4, 11.0), (9, 12.0), (12, 13.0)])
    assert order.window(12.5, 0, 2) == (3, [1, 4])  # created at 13.0: not shown yet
    assert order.window(12.5, 2, 2) == (3, [9])
    assert order.window(99.0, 1, None) == (4, [4, 9, 12])
    assert order.window(99.0, 10**30, 5) == (4, [])
    order.remove(4)
    order.remove(5)  # not there: nothing happens
    order.append(13, 14.0)
    assert order.window(99.0, 0, None) == (4, [1, 9, 12, 13])


def test_order_shows_a_prefix_even_when_the_clock_steps_back() -> None:
    order = AgentOrder([(1, 10.0), (2, 20.0), (3, 15.0)])  # the clock stepped back before seq 3
    # seq 3 shows no earlier than seq 2, which was made before it: lists only grow at the end.
    assert order.window(17.0, 0, None) == (1, [1])
    assert order.window(20.0, 0, None) == (3, [1, 2, 3])
