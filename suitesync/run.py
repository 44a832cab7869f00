"""Batch runs: start one per agent for the selected cases, wait for every verdict, collect results.

The API documents no status on a batch run (sigmamind-api.md §6.3), so a batch is taken as done
when its `successfulAttempts + failedAttempts` reaches the attempts it holds (the sum of
`attempt` over the full test case objects it returns), and then every test run of it
(GET /v1/test-runs?batchId=) carries a verdict. Polling backs off from 0.5 s to 5 s.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from suitesync.client import SigmaMindClient
from suitesync.errors import SuitesyncError
from suitesync.lockfile import LockEntry, Lockfile
from suitesync.models import TestCase, normalize_agent_id
from suitesync.replies import server_line
from suitesync.text import plural

FIRST_POLL_SECONDS = 0.5
MAX_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class Selected:
    case: TestCase
    test_case_id: str


@dataclass(frozen=True)
class Attempt:
    job_id: str
    passed: bool
    remarks: str
    chat_id: str = ""
    conversation: tuple[tuple[str, str], ...] = ()  # (role, content) turns


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    source: str
    agent_id: str
    test_case_id: str
    attempts: tuple[Attempt, ...]
    min_pass_rate: float
    unfinished: str | None = None  # why the case has no verdict (the run stopped first)

    @property
    def passed(self) -> int:
        return sum(1 for attempt in self.attempts if attempt.passed)

    @property
    def rate(self) -> float:
        return self.passed / len(self.attempts) if self.attempts else 0.0

    @property
    def ok(self) -> bool:
        return self.unfinished is None and bool(self.attempts) and self.rate >= self.min_pass_rate

    def failed_remarks(self) -> list[str]:
        return [a.remarks for a in self.attempts if not a.passed]


@dataclass
class RunReport:
    results: list[CaseResult]
    batches: dict[str, str]  # agent id -> batch id
    min_pass_rate: float
    seconds: float = 0.0
    started: float = field(default_factory=time.time)
    stopped: str | None = None  # why the run ended before every verdict came (timeout, signal, API)

    @property
    def failed(self) -> list[CaseResult]:
        """Cases that have their verdicts and did not reach the pass rate."""
        return [r for r in self.results if not r.ok and r.unfinished is None]

    @property
    def unfinished(self) -> list[CaseResult]:
        return [r for r in self.results if r.unfinished is not None]


def select_cases(
    desired: Sequence[TestCase],
    lock: Lockfile,
    patterns: Sequence[str],
    changed: bool,
    tags: Sequence[str] = (),
) -> list[Selected]:
    """Managed cases (in the suites and applied), narrowed by id globs, tags (a case matches any)
    and/or to the last apply's."""
    last_apply = max((e.applied_serial or 0 for e in lock.cases.values()), default=0)
    selected = []
    for case in desired:
        entry = lock.cases.get(case.id)
        if entry is None or entry.test_case_id is None or entry.pending:
            continue
        if patterns and not any(fnmatch.fnmatchcase(case.id, pattern) for pattern in patterns):
            continue
        if tags and not set(tags) & set(case.tags):
            continue
        if changed and not _changed_by(entry, last_apply):
            continue
        selected.append(Selected(case, entry.test_case_id))
    return selected


def _changed_by(entry: LockEntry, serial: int) -> bool:
    return serial > 0 and entry.applied_serial == serial


def run_batches(
    client: SigmaMindClient,
    selected: Sequence[Selected],
    *,
    min_pass_rate: float,
    timeout: float,
    stop: threading.Event,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> RunReport:
    """One batch per agent; wait for all verdicts, or until `timeout` seconds, a stop or an API
    error: then the report says why (`stopped`), and the cases without verdicts are unfinished."""
    started = time.monotonic()
    by_agent: dict[str, list[Selected]] = {}
    for item in selected:
        by_agent.setdefault(item.case.agent_id, []).append(item)
    batches: dict[str, str] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    stopped: str | None
    try:
        for agent, items in sorted(by_agent.items()):
            batches[agent] = client.create_batch(agent, [s.test_case_id for s in items])
    except SuitesyncError as exc:
        stopped = f"a batch run could not be started: {exc}"
    else:
        runs, stopped = _wait(client, batches, started + timeout, stop, on_progress)
    results = [
        _case_result(item, agent, runs.get(agent), min_pass_rate, stopped)
        for agent, items in sorted(by_agent.items())
        for item in items
    ]
    return RunReport(results, batches, min_pass_rate, time.monotonic() - started, stopped=stopped)


def _case_result(
    item: Selected, agent: str, runs: list[dict[str, Any]] | None, min_pass_rate: float, stopped: str | None
) -> CaseResult:
    case = item.case
    rate = min_pass_rate if case.min_pass_rate is None else case.min_pass_rate  # the case's own wins
    if runs is None:  # its batch did not finish (or start)
        return CaseResult(case.id, case.source, agent, item.test_case_id, (), rate, stopped)
    attempts = tuple(_attempt(r) for r in runs if _run_case_id(r) == item.test_case_id)
    return CaseResult(case.id, case.source, agent, item.test_case_id, attempts, rate)


def _attempt(run: dict[str, Any]) -> Attempt:
    """One test run as an attempt; a conversation of another shape than documented is left out."""
    conversation = run.get("conversation")
    turns = tuple(
        (str(turn.get("role") or ""), str(turn.get("content") or ""))
        for turn in (conversation if isinstance(conversation, list) else [])
        if isinstance(turn, dict)
    )
    remarks, chat_id = str(run.get("remarks") or ""), str(run.get("chatId") or "")
    return Attempt(str(run["jobId"]), _verdict(run) is True, remarks, chat_id, turns)


def _wait(
    client: SigmaMindClient,
    batches: dict[str, str],
    deadline: float,
    stop: threading.Event,
    on_progress: Callable[[int, int], None],
) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """The test runs of each finished batch, and why waiting ended early (None: all finished)."""
    finished: dict[str, list[dict[str, Any]]] = {}
    pause = FIRST_POLL_SECONDS
    while True:
        try:
            done, total = _poll(client, batches, finished)
        except SuitesyncError as exc:
            return finished, f"the batch runs could not be followed: {exc}"
        on_progress(done, total)
        if len(finished) == len(batches):
            return finished, None
        if time.monotonic() >= deadline:
            waiting = ", ".join(batches[a] for a in batches if a not in finished)
            return finished, (
                f"the batch runs did not finish within the timeout "
                f"({done} of {plural(total, 'attempt')} done; still running: {waiting})"
            )
        if stop.wait(min(pause, max(0.0, deadline - time.monotonic()))):
            return finished, "stopped while waiting for the verdicts (the batch runs go on on the platform)"
        pause = min(pause * 2, MAX_POLL_SECONDS)


def _poll(
    client: SigmaMindClient, batches: dict[str, str], finished: dict[str, list[dict[str, Any]]]
) -> tuple[int, int]:
    """One look at every unfinished batch; adds those now finished to `finished`. (done, total) attempts."""
    done = total = 0
    for agent, batch_id in batches.items():
        if agent in finished:
            count = len(finished[agent])
            done, total = done + count, total + count
            continue
        state = client.get_batch(batch_id, agent)
        expected = _expected_attempts(state)
        completed = int(state.get("successfulAttempts") or 0) + int(state.get("failedAttempts") or 0)
        done, total = done + min(completed, expected), total + expected
        if expected and completed >= expected:
            runs = client.list_runs(batch_id, agent)
            if len(runs) >= expected and all(_verdict(r) is not None for r in runs):
                finished[agent] = runs
    return done, total


def _expected_attempts(batch: dict[str, Any]) -> int:
    """Attempts a batch holds: from its test case objects, or `totalAttempts` if that is larger."""
    from_cases = sum(int(case.get("attempt") or 1) for case in batch.get("testCases") or [])
    return max(from_cases, int(batch.get("totalAttempts") or 0))


def _verdict(run: dict[str, Any]) -> bool | None:
    """isSuccessful, or the legacy spelling isSuccesful (sigmamind-api.md §8.10): a JSON boolean,
    or null while the run goes on. Anything else (`"false"` is a string, and truthy) is an error
    naming the test run, never a pass."""
    value = run.get("isSuccessful")
    if value is None:
        value = run.get("isSuccesful")
    if value is None or isinstance(value, bool):
        return value
    raise SuitesyncError(
        f"test run {server_line(str(run.get('jobId')))}: isSuccessful is "
        f"{server_line(json.dumps(value), 40)}, not true, false or null"
    )


def _run_case_id(run: dict[str, Any]) -> str:
    case = run.get("testCase") or {}
    return str(case.get("testCaseId") or run.get("testCaseId") or "")


def agents_in(selected: Iterable[Selected]) -> set[str]:
    return {normalize_agent_id(s.case.agent_id) for s in selected}
