"""The SigmaMind API as documented (../shared/sigmamind-api.md), without HTTP: Request in, Reply out.

Where versions of the docs differ, the current one is followed: `label` is accepted, responses
embed the agent with an `agent_`-prefixed id, create answers 201. Where the docs are silent
(delete, list test runs, update method), the choice is the one a client must cope with anyway
and is written down in the README.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from suitesync.emulator import simulate
from suitesync.emulator.faults import ApiBehaviour, FaultConfig
from suitesync.emulator.store import Store
from suitesync.models import API_ORDER
from suitesync.schema import llm_models

AGENT_PREFIX = "agent_"
DEFAULT_MODEL = "gpt-4o-mini"
# The fields a test case object repeats from its body: in the order of the docs' response example,
# then any other payload field in the API's order (agentId and label are shown otherwise).
_DOCUMENTED_ORDER = ("llmModel", "mockData", "userPrompt", "attempt", "successCriteria")
_BODY_FIELDS = _DOCUMENTED_ORDER + tuple(
    name for name in API_ORDER if name not in (*_DOCUMENTED_ORDER, "agentId", "label")
)
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_body(status: int, message: str, path: str) -> dict[str, Any]:
    """The one documented error shape (Spring Boot style, sigmamind-api.md §1)."""
    return {
        "error": _REASONS.get(status, "Error"),
        "message": message,
        "path": path,
        "status": status,
        "timestamp": iso(time.time()),
    }


def iso(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(moment * 1000) % 1000:03d}Z"
    )


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any = None


Handler = Callable[["SigmaMindApi", Request, re.Match[str]], Reply]
# (offset, limit) -> (how many items the whole list has, the items of that window)
Fetch = Callable[[int, int], tuple[int, list[Any]]]


class SigmaMindApi:
    """Routes /v1 requests to handlers over the Store; every rule of the docs lives here."""

    def __init__(self, store: Store, config: FaultConfig, behaviour: ApiBehaviour) -> None:
        self.store = store
        self.config = config
        self.behaviour = behaviour
        self.models = frozenset(llm_models())

    def handle(self, request: Request) -> Reply:
        for method, pattern, handler in _ROUTES:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                try:
                    return handler(self, request, match)
                except ApiError as exc:
                    return Reply(exc.status, error_body(exc.status, str(exc), request.path))
        if any(pattern.fullmatch(request.path) for _, pattern, _ in _ROUTES):
            return Reply(405, error_body(405, f"{request.method} is not supported here", request.path))
        return Reply(404, error_body(404, f"No endpoint {request.method} {request.path}", request.path))

    # --- helpers ----------------------------------------------------------------------------

    def agent_object(self, agent_id: str) -> dict[str, str]:
        agent = self.store.agent(agent_id) or {"name": "New AI Agent", "status": "Live"}
        return {"name": agent["name"], "agentId": AGENT_PREFIX + agent_id, "status": agent["status"]}

    def require_agent(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise ApiError(400, f"{where} agentId is required")
        agent_id = value.removeprefix(AGENT_PREFIX)
        if self.store.agent(agent_id) is None:
            raise ApiError(404, f"Agent {value} not found")
        return agent_id

    def case_object(self, test_case_id: str, agent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.case_objects(agent_id, [(test_case_id, body)])[0]

    def case_objects(self, agent_id: str, cases: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """One agent's (id, body) pairs as test case objects, in the field order of the current
        docs' response example. The agent is looked up once, not once a case."""
        agent = self.agent_object(agent_id)
        return [
            {
                "testCaseId": test_case_id,
                "label": body.get("label"),
                "agent": agent,
                "workspaceId": self.store.workspace,
                **{name: body.get(name) for name in _BODY_FIELDS},
            }
            for test_case_id, body in cases
        ]

    def find_case(self, test_case_id: str, agent_id: str | None) -> tuple[str, dict[str, Any]]:
        """(owning agent id, body) of a test case, checked against `agent_id` when given."""
        found = self.store.case(test_case_id)
        if found is None or (agent_id is not None and found[0] != agent_id):
            raise ApiError(404, f"Test case {test_case_id} not found")
        return found

    def check_fields(self, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        """Validate the test case fields present in a body; return them normalised."""
        clean: dict[str, Any] = {}
        for name in ("userPrompt", "successCriteria"):
            if name in body or not partial:
                value = body.get(name)
                if not isinstance(value, str) or not value.strip():
                    raise ApiError(400, f"{name} is required and must be a non-blank string")
                clean[name] = value
        if "label" in body:
            if body["label"] is not None and not isinstance(body["label"], str):
                raise ApiError(400, "label must be a string")
            clean["label"] = body["label"]
        if "llmModel" in body or not partial:
            model = body.get("llmModel", DEFAULT_MODEL)
            if model not in self.models:
                raise ApiError(400, f"llmModel must be one of: {', '.join(sorted(self.models))}")
            clean["llmModel"] = model
        if "mockData" in body or not partial:
            clean["mockData"] = _check_mock_data(body.get("mockData", []))
        if "attempt" in body or not partial:
            attempt = body.get("attempt", 1)
            if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
                raise ApiError(400, "attempt must be an integer >= 1")
            clean["attempt"] = attempt
        return clean

    def page(self, query: dict[str, str], fetch: Fetch) -> dict[str, Any]:
        """The paged wrapper of the page the query asks for; `fetch(offset, limit)` gives the
        total and that page's items, so that only the page is built."""
        page = _int_param(query, "page", 0, minimum=0)
        size = _int_param(query, "size", self.behaviour.page_size, minimum=1)
        total, items = fetch(page * size, size)
        pages = (total + size - 1) // size
        return {
            "data": items,
            "page": page,
            "size": size,
            "totalCount": total,
            "totalPages": pages,
            "hasNext": page + 1 < pages,
            "hasPrevious": page > 0,
        }

    def run_object(
        self, run: dict[str, Any], case: dict[str, Any], agent: dict[str, str], now: float
    ) -> dict[str, Any]:
        done = now >= run["completes_at"]
        passed = bool(run["passed"])
        return {
            "batchId": run["batch_id"],
            "workspaceId": self.store.workspace,
            "agent": agent,
            "testCase": case,
            "jobId": run["job_id"],
            "chatId": run["chat_id"],
            "createdDate": iso(run["created_at"]),
            "completedDate": iso(run["completes_at"]) if done else None,
            "isSuccessful": passed if done else None,
            "remarks": simulate.remarks(case, passed) if done else None,
            "conversation": simulate.conversation(case, passed) if done else [],
        }

    def batch_object(self, batch: dict[str, Any], now: float) -> dict[str, Any]:
        runs, finished, passed = self.store.run_counts(batch["batch_id"], now)
        return {
            "batchId": batch["batch_id"],
            "workspaceId": self.store.workspace,
            "agent": self.agent_object(batch["agent_id"]),
            "createdDate": iso(batch["created_at"]),
            "testCases": batch["cases"],
            "successfulAttempts": passed,
            "failedAttempts": finished - passed,
            # Planned attempts (sum of `attempt`): done when successful + failed reaches it.
            "totalAttempts": runs,
        }


def _check_mock_data(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise ApiError(400, "mockData must be a list of {variableName, value}")
    clean = []
    for entry in value:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("variableName"), str)
            or not entry["variableName"]
            or not isinstance(entry.get("value"), str)
        ):
            raise ApiError(400, "mockData entries need a non-empty string variableName and a string value")
        clean.append({"variableName": entry["variableName"], "value": entry["value"]})
    return clean


def _int_param(query: dict[str, str], name: str, default: int, minimum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if value < minimum:
        raise ApiError(400, f"{name} must be >= {minimum}")
    return value


def _query_agent(api: SigmaMindApi, request: Request) -> str:
    if not request.query.get("agentId"):
        raise ApiError(400, "Required query parameter 'agentId' is not present")
    return api.require_agent(request.query["agentId"], "query parameter")


def _json_object(request: Request) -> dict[str, Any]:
    if not isinstance(request.body, dict):
        raise ApiError(400, "Invalid request parameters: the body must be a JSON object")
    return request.body


# --- test cases ---------------------------------------------------------------------------------


def create_case(api: SigmaMindApi, request: Request, _: re.Match[str]) -> Reply:
    body = _json_object(request)
    agent_id = api.require_agent(body.get("agentId"), "body")
    fields = api.check_fields(body, partial=False)
    fields.setdefault("label", None)
    test_case_id = api.store.create_case(agent_id, fields)
    return Reply(201, api.case_object(test_case_id, agent_id, fields))


def list_cases(api: SigmaMindApi, request: Request, _: re.Match[str]) -> Reply:
    agent_id = _query_agent(api, request)
    visible_before = time.time() - api.config.list_lag_ms / 1000

    def fetch(offset: int, limit: int | None) -> tuple[int, list[dict[str, Any]]]:
        total, cases = api.store.case_page(agent_id, visible_before, offset, limit)
        return total, api.case_objects(agent_id, cases)

    if api.behaviour.list_shape == "paged":
        return Reply(200, api.page(request.query, fetch))
    return Reply(200, fetch(0, None)[1])


def get_case(api: SigmaMindApi, request: Request, match: re.Match[str]) -> Reply:
    agent_id = _query_agent(api, request)
    _, body = api.find_case(match["id"], agent_id)
    return Reply(200, api.case_object(match["id"], agent_id, body))


def update_case(api: SigmaMindApi, request: Request, match: re.Match[str]) -> Reply:
    """Partial update (current docs): fields sent replace, fields omitted stay."""
    body = _json_object(request)
    agent_id = api.require_agent(body["agentId"], "body") if "agentId" in body else None
    owner, current = api.find_case(match["id"], agent_id)
    merged = {**current, **api.check_fields(body, partial=True)}
    api.store.update_case(match["id"], merged)
    return Reply(200, api.case_object(match["id"], owner, merged))


def delete_case(api: SigmaMindApi, request: Request, match: re.Match[str]) -> Reply:
    agent_id = _query_agent(api, request) if "agentId" in request.query else None
    api.find_case(match["id"], agent_id)
    api.store.delete_case(match["id"])
    return Reply(204)


# --- batch runs and test runs ---------------------------------------------------------------


def create_batch(api: SigmaMindApi, request: Request, _: re.Match[str]) -> Reply:
    body = _json_object(request)
    agent_id = api.require_agent(body.get("agentId"), "body")
    ids = body.get("testCases")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "testCases must be a non-empty list of test case ids")
    cases, runs = [], []
    # The seed and the agent's batch number make `pass-probability` verdicts reproducible.
    seed, batch_no = api.config.seed or 0, api.store.next_batch_seq(agent_id)
    instructions = str(api.store.agent_config(agent_id).get("instructions", ""))
    for index, test_case_id in enumerate(dict.fromkeys(ids)):
        case = api.case_object(test_case_id, agent_id, api.find_case(test_case_id, agent_id)[1])
        cases.append(case)
        for attempt_no in range(1, case["attempt"] + 1):
            # Staggered so that a batch visibly progresses: later attempts finish later.
            share = 0.5 + 0.5 * ((index + attempt_no) % 4) / 3
            runs.append(
                {
                    "testCaseId": test_case_id,
                    "attemptNo": attempt_no,
                    "duration": api.behaviour.run_seconds * share,
                    "passed": simulate.attempt_passes(
                        case, attempt_no, seed=seed, batch_no=batch_no, instructions=instructions
                    ),
                }
            )
    batch_id = api.store.create_batch(agent_id, cases, runs)
    batch = api.store.batch(batch_id)
    assert batch is not None
    return Reply(
        201,
        {
            "batchId": batch_id,
            "workspaceId": api.store.workspace,
            "agent": api.agent_object(agent_id),
            "createdDate": iso(batch["created_at"]),
        },
    )


def list_batches(api: SigmaMindApi, request: Request, _: re.Match[str]) -> Reply:
    agent_id = _query_agent(api, request)
    now = time.time()

    def fetch(offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        total, batches = api.store.batch_page(agent_id, offset, limit)
        return total, [api.batch_object(batch, now) for batch in batches]

    return Reply(200, api.page(request.query, fetch))


def _find_batch(api: SigmaMindApi, batch_id: str, agent_id: str) -> dict[str, Any]:
    batch = api.store.batch(batch_id)
    if batch is None or batch["agent_id"] != agent_id:
        raise ApiError(404, f"Batch run {batch_id} not found")
    return batch


def get_batch(api: SigmaMindApi, request: Request, match: re.Match[str]) -> Reply:
    agent_id = _query_agent(api, request)
    return Reply(200, api.batch_object(_find_batch(api, match["id"], agent_id), time.time()))


def _query_batch(api: SigmaMindApi, request: Request) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The batch the query names (checked against its agent), and its test cases by id."""
    agent_id = _query_agent(api, request)
    if not request.query.get("batchId"):
        raise ApiError(400, "Required query parameter 'batchId' is not present")
    batch = _find_batch(api, request.query["batchId"], agent_id)
    return batch, {case["testCaseId"]: case for case in batch["cases"]}


def get_run(api: SigmaMindApi, request: Request, match: re.Match[str]) -> Reply:
    batch, cases = _query_batch(api, request)
    run = api.store.run(match["id"])
    if run is None or run["batch_id"] != batch["batch_id"]:
        raise ApiError(404, f"Test run {match['id']} not found")
    agent = api.agent_object(batch["agent_id"])
    return Reply(200, api.run_object(run, cases[run["test_case_id"]], agent, time.time()))


def list_runs(api: SigmaMindApi, request: Request, _: re.Match[str]) -> Reply:
    batch, cases = _query_batch(api, request)
    agent = api.agent_object(batch["agent_id"])
    now = time.time()

    def fetch(offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        total, runs = api.store.run_page(batch["batch_id"], offset, limit)
        return total, [api.run_object(run, cases[run["test_case_id"]], agent, now) for run in runs]

    return Reply(200, api.page(request.query, fetch))


# --- agents -------------------------------------------------------------------------------------


def _agent_document(agent: dict[str, str], config: dict[str, Any]) -> dict[str, Any]:
    """The fields of the agents API that the docs show (§7.1), ids without prefix; instructions,
    settings and tools as configured through the admin API (`POST /_emulator/agents`)."""
    return {
        "agentId": agent["agent_id"],
        "agentName": agent["name"],
        "instructions": config.get("instructions", "You are a helpful support agent."),
        "welcomeMessageType": "static",
        "agentSettings": {"language": "en_US", "llmModel": DEFAULT_MODEL, **config.get("agentSettings", {})},
        "tools": config.get("tools", []),
    }


def list_agents(api: SigmaMindApi, request: Request, _: re.Match[str]) -> Reply:
    agents = api.store.agents()  # a handful, configured by hand

    def fetch(offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        page = agents[offset : offset + limit]
        return len(agents), [_agent_document(a, api.store.agent_config(a["agent_id"])) for a in page]

    return Reply(200, api.page(request.query, fetch))


def get_agent(api: SigmaMindApi, request: Request, match: re.Match[str]) -> Reply:
    agent = api.store.agent(match["id"].removeprefix(AGENT_PREFIX))
    if agent is None:
        raise ApiError(404, f"Agent {match['id']} not found")
    return Reply(200, _agent_document(agent, api.store.agent_config(agent["agent_id"])))


_ID = r"(?P<id>[A-Za-z0-9_-]+)"
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("POST", re.compile(r"/v1/test-cases"), create_case),
    ("GET", re.compile(r"/v1/test-cases"), list_cases),
    ("GET", re.compile(rf"/v1/test-cases/{_ID}"), get_case),
    ("PUT", re.compile(rf"/v1/test-cases/{_ID}"), update_case),
    ("PATCH", re.compile(rf"/v1/test-cases/{_ID}"), update_case),
    ("DELETE", re.compile(rf"/v1/test-cases/{_ID}"), delete_case),
    ("POST", re.compile(r"/v1/batch-runs"), create_batch),
    ("GET", re.compile(r"/v1/batch-runs"), list_batches),
    ("GET", re.compile(rf"/v1/batch-runs/{_ID}"), get_batch),
    ("GET", re.compile(r"/v1/test-runs"), list_runs),
    ("GET", re.compile(rf"/v1/test-runs/{_ID}"), get_run),
    ("GET", re.compile(r"/v1/agents"), list_agents),
    ("GET", re.compile(rf"/v1/agents/{_ID}"), get_agent),
]
