"""suitesync against a hostile server (tests/hostile.py) in front of the emulator: replies of the
wrong shape, trickled bytes, endless pages, absurd Retry-After values, a dead API, escaped ids,
raw error text. Nothing may hang, duplicate, crash with a traceback or reach the terminal raw.

Commands that could hang on a defect run as a subprocess with a timeout: the timeout only turns a
hang into a failure. The deadline and trickle tests measure time because time is what they test.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import suitesync.client as client_module
from suitesync.apply import LockfileJournal
from suitesync.client import (
    ApiError,
    OutcomeUnknownError,
    RefusedError,
    ReplyError,
    RetryableError,
    SigmaMindClient,
)
from suitesync.emulator import Emulator
from suitesync.errors import SuitesyncError
from suitesync.lockfile import LockEntry, Lockfile, read_lockfile
from suitesync.settings import Secret

from conftest import (
    AGENT,
    CANARY_KEY,
    OTHER_AGENT,
    assert_converged,
    assert_no_canary,
    run_cli,
    write_project,
)
from hostile import Canned, Hostile, canned

CASES = 12
HANG = 120  # seconds: only turns a hang into a failure


@pytest.fixture
def hostile(emulator: Emulator) -> Any:
    with Hostile(emulator.url) as server:
        yield server


@pytest.fixture
def applied(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project of CASES cases, applied (through the emulator directly)."""
    root = write_project(tmp_path / "p", CASES, per_file=4)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    return root


def suitesync(
    project: Path, url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`suitesync ARGS` as a process against `url`; a hang fails the test instead of stalling it."""
    result = subprocess.run(
        [sys.executable, "-m", "suitesync", *args],
        cwd=project,
        env={**os.environ, "SIGMAMIND_BASE_URL": url, **(env or {})},
        capture_output=True,
        text=True,
        timeout=HANG,
        check=False,
    )
    assert_no_canary(result.stdout + result.stderr)
    assert "Traceback" not in result.stderr
    return result


def apply(project: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return suitesync(project, url, "apply", "--auto-approve", "--list-grace", "0.3", *extra)


def posts(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests() if r["method"] == "POST")


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def client(url: str, **options: Any) -> SigmaMindClient:
    return SigmaMindClient(url, Secret(CANARY_KEY), sleep=lambda _s: None, **options)


def bounded(call: Callable[[], Any], seconds: float = 60) -> Any:
    """Call in a thread; fail (instead of hanging the suite) if it has not returned in `seconds`."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# --- 1. strict reply shapes ------------------------------------------------------------------

WRONG_LISTS = {
    "another wrapper": '{"items": [{"testCaseId": "tc_1"}]}',
    "an empty object": "{}",
    "a gateway's error object": '{"error": "Bad Gateway", "status": 502}',
    "data that is not a list": '{"data": {"testCaseId": "tc_1"}}',
    "a list of strings": '["tc_1", "tc_2"]',
    "not JSON": "<html><body>502 Bad Gateway</body></html>",
}


@pytest.mark.parametrize("body", WRONG_LISTS.values(), ids=WRONG_LISTS.keys())
def test_a_list_reply_of_another_shape_stops_plan_and_apply_before_any_write(
    applied: Path, emulator: Emulator, hostile: Hostile, body: str
) -> None:
    hostile.on("GET", "/v1/test-cases", canned(200, body))
    lockfile = (applied / "suitesync.lock").read_bytes()
    before = posts(emulator)
    plan = suitesync(applied, hostile.url, "plan")
    assert plan.returncode == 1, plan.stdout
    [line] = error_lines(plan.stderr)
    assert line.startswith("error: GET /v1/test-cases: ")
    assert body[:20] in line  # an excerpt of what came back
    result = apply(applied, hostile.url)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [line]
    assert posts(emulator) == before and not hostile.paths("PUT") + hostile.paths("DELETE")
    assert (applied / "suitesync.lock").read_bytes() == lockfile


BAD_CREATES = {"an empty object": "{}", "a list": "[]", "not JSON": "Created", "no id": '{"label": "x"}'}


@pytest.mark.parametrize("body", BAD_CREATES.values(), ids=BAD_CREATES.keys())
def test_a_create_answered_without_a_usable_case_is_reconciled_never_duplicated(
    tmp_path: Path, emulator: Emulator, hostile: Hostile, body: str
) -> None:
    project = write_project(tmp_path / "p", CASES, per_file=4)
    hostile.on("POST", "/v1/test-cases", lambda made: Canned(201, body.encode()), forward=True)
    result = apply(project, hostile.url)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert f"Apply complete: {CASES} adopted." in result.stdout
    assert_converged(emulator, project, CASES)
    assert max(emulator.store.create_counts().values()) == 1


def test_a_create_answered_after_a_list_call_that_missed_it_is_not_sent_again(
    tmp_path: Path, emulator: Emulator, hostile: Hostile
) -> None:
    """A create answered unusably after a list call that started while it was in flight (and so
    missed it) is adopted, not sent again: the list grace counts from when the outcome became
    unknown, not from when the create was sent. The order is forced: the create of one case (Y)
    is held at the emulator's door; the other (X) is made and answered only once Y is held, so
    X's list call starts after Y was sent; that list call, having read the cases without Y, opens
    the door, so Y's reply arrives while it is still in flight and Y's reconciling reuses it.
    With a grace of 0, any time a request takes exceeds it (as load does to a grace of seconds)."""
    project = write_project(tmp_path / "p", 2)
    emulator.gate.close_after(1, method="POST")
    answered: list[str] = []

    def create_reply(_made: Canned | None) -> Canned:
        answered.append("create")
        if len(answered) == 1:  # X: made; its reply waits until Y is surely sent
            assert emulator.gate.wait_holding(1), "the second create never came"
        return Canned(201, b"Created")

    def list_reply(upstream: Canned | None) -> Canned:
        assert upstream is not None
        if emulator.gate.holding:  # X's list call, read without Y: now let Y be made and answered
            emulator.gate.open()
        return upstream

    hostile.on("POST", "/v1/test-cases", create_reply, forward=True)
    hostile.on("GET", "/v1/test-cases", list_reply, forward=True)
    result = suitesync(
        project, hostile.url, "apply", "--auto-approve", "--list-grace", "0", "--parallelism", "2"
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "Apply complete: 2 adopted." in result.stdout
    assert posts(emulator) == 2, "a create was sent again"
    assert max(emulator.store.create_counts().values()) == 1
    assert_converged(emulator, project, 2)


def test_a_create_reply_that_is_never_confirmed_leaves_the_intent_pending(
    tmp_path: Path, emulator: Emulator, hostile: Hostile
) -> None:
    """The 201 is useless and the list never shows the case (it was not made): the create cannot be
    confirmed, the intents stay pending, and the run ends (exit 1) instead of hanging."""
    project = write_project(tmp_path / "p", 3)
    hostile.on("POST", "/v1/test-cases", canned(201, "{}"))  # not forwarded: nothing is made
    result = apply(project, hostile.url, "--parallelism", "1")
    assert result.returncode == 1
    assert "could not be confirmed" in result.stdout + result.stderr
    lock = read_lockfile(project / "suitesync.lock")
    assert lock.cases and all(entry.pending for entry in lock.cases.values())


def test_an_update_reply_that_is_not_json_fails_that_update_and_the_run_ends(
    applied: Path, emulator: Emulator, hostile: Hostile
) -> None:
    suite = applied / "suites" / "s000.yaml"
    suite.write_text(suite.read_text().replace("You are customer number 1.", "You are customer one."))
    (applied / "suites" / "new.yaml").write_text(
        "agent: main\ncases:\n  - id: brand-new\n    userPrompt: Hi.\n    successCriteria: Helps.\n"
    )
    hostile.on("PUT", "/v1/test-cases/", canned(200, "<html>\n::error::oops\x1b[31m</html>"), forward=True)
    result = apply(applied, hostile.url)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if "PUT /v1/test-cases/" in line]
    assert len(failed) == 1 and "the reply is not JSON: <html> : :error: :oops [31m</html>" in failed[0]
    lock = read_lockfile(applied / "suitesync.lock")
    assert lock.cases["brand-new"].test_case_id is not None  # the lockfile was saved


# --- 2. a writer that fails ends the run ----------------------------------------------------


def test_a_lockfile_that_cannot_be_written_mid_run_stops_the_run(tmp_path: Path, emulator: Emulator) -> None:
    """Real failure: the cases move to another agent (replace: delete, a durable intent, create),
    and while the second delete is held at the emulator's gate the lockfile's path becomes a
    directory (as root, a read-only folder would not stop the write). The held delete goes on;
    the writer fails on its intent, and the run stops: no create after it."""
    project = write_project(tmp_path / "p", 5)
    assert apply(project, emulator.url).returncode == 0
    (project / "suitesync.yaml").write_text(f"agents: {{main: {OTHER_AGENT}}}\n")
    emulator.clear_requests()
    emulator.gate.close_after(1, method="DELETE")
    process = start(project, emulator.url, "apply", "--auto-approve", "--parallelism", "1")
    lockfile = project / "suitesync.lock"
    try:
        assert emulator.gate.wait_holding(1)
        wait_until(lambda: confirmed_on(read_lockfile(lockfile).cases["case-0000"], OTHER_AGENT))
        lockfile.rename(project / "before.lock")
        (lockfile / "in-the-way").mkdir(parents=True)
        emulator.gate.open()
        _out, err = process.communicate(timeout=HANG)
    finally:
        process.kill()
    assert process.returncode == 1
    assert f"error: cannot write the lockfile {lockfile}" in err and "Traceback" not in err
    writes = [r["method"] for r in emulator.requests() if r["method"] != "GET"]
    assert writes == ["DELETE", "POST", "DELETE"]
    # What is on disk settles the rest: nothing lost, nothing made twice.
    lockfile.joinpath("in-the-way").rmdir()
    lockfile.rmdir()
    (project / "before.lock").rename(lockfile)
    again = apply(project, emulator.url)
    assert again.returncode == 0, again.stdout[-1500:] + again.stderr
    assert_converged(emulator, project, 5)


def confirmed_on(entry: LockEntry, agent: str) -> bool:
    """The create on `agent` is confirmed on disk: the writer has nothing left to write."""
    return entry.agent_id == agent and entry.test_case_id is not None and not entry.pending


def start(project: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "suitesync", *args],
        cwd=project,
        env={**os.environ, "SIGMAMIND_BASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Until the process under test has written what `condition` looks for (the deadline only
    turns a hang into a failure)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except (OSError, KeyError, SuitesyncError):
            pass
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def test_a_writer_that_dies_of_a_bug_ends_the_wait_with_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No real failure of the writer other than an OSError is left (the lockfile is validated
    before use), so a bug is simulated: the writer raises something unforeseen."""

    def broken(*_args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("suitesync.apply.write_lockfile", broken)
    stop = threading.Event()
    journal = LockfileJournal(Lockfile("0" * 32, 1, {}), tmp_path / "suitesync.lock", None, stop=stop)
    entry = LockEntry(None, AGENT, "h" * 64, pending=True)
    with pytest.raises(
        SuitesyncError, match="internal error: the lockfile writer failed: RuntimeError: a bug"
    ):
        bounded(lambda: journal.update({"a": entry}, durable=True))
    assert stop.is_set()  # the run stops starting requests


def test_any_exception_in_a_worker_fails_that_action_and_the_run_finishes(
    applied: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = applied / "suites" / "s000.yaml"
    suite.write_text(suite.read_text().replace("You are customer number", "You are client number"))

    def broken(*_args: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(SigmaMindClient, "update_case", broken)
    result = in_main_thread(lambda: run_cli("apply", "--auto-approve", cwd=applied))
    assert result.code == 1
    assert result.out.count("internal error: KeyError: 'surprise'") == 4
    assert "Apply complete" not in result.out


def in_main_thread(call: Callable[[], Any], seconds: int = 60) -> Any:
    """apply handles signals, so it runs in the main thread; SIGALRM turns a hang into a failure."""

    def hung(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        return call()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- 3. bounded waits ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_trickling_server_fails_the_request_at_its_deadline(where: str) -> None:
    """Time is what this tests: a byte every 0.1 s never trips httpx's read timeout."""
    with Hostile() as server:
        body = b"[" + b" " * 200 + b"]"
        trickle = Canned(200, body, {"X-Pad": "x" * 200} if where == "headers" else {}, trickle=0.1)
        server.on("GET", "/v1/test-cases", lambda _u: trickle)
        started = time.monotonic()
        with client(server.url, deadline=1.0, retries=0) as api, pytest.raises(RetryableError) as info:
            bounded(lambda: api.list_cases(AGENT))
    # Trickled to the end, the reply would take over 25 s; the bound is generous so that a loaded
    # machine cannot fail it, and still far below that.
    assert time.monotonic() - started < 10
    assert "no complete answer within the 1 s deadline of a request" in str(info.value)


def test_a_server_that_always_says_has_next_is_stopped_at_its_page_count() -> None:
    with Hostile() as server:
        page = '{"data": [], "page": 0, "size": 100, "totalCount": 250, "totalPages": 3, "hasNext": true}'
        server.on("GET", "/v1/test-cases", canned(200, page))
        with client(server.url) as api, pytest.raises(ReplyError) as info:
            bounded(lambda: api.list_cases(AGENT))
        assert (
            str(info.value)
            == "GET /v1/test-cases: the server still says hasNext after 3 pages (stopped there)"
        )
        assert len(server.paths("GET")) == 3


def test_without_a_page_count_the_hard_cap_stops_the_paging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_LIST_PAGES", 7)
    with Hostile() as server:
        server.on("GET", "/v1/test-runs", canned(200, '{"data": [], "hasNext": true}'))
        with client(server.url) as api, pytest.raises(ReplyError, match="hasNext after 7 pages"):
            bounded(lambda: api.list_runs("batch_1", AGENT))
        assert len(server.paths("GET")) == 7


@pytest.mark.parametrize(
    ("value", "longest"),
    [("inf", 60.0), ("1e9", 60.0), ("-5", 0.0), ("soon", 5.5), ("nan", 5.5), ("Wed, 99 Foo 0000", 5.5)],
)
def test_retry_after_is_capped_and_a_request_stops_waiting_after_its_window(
    value: str, longest: float
) -> None:
    waits: list[float] = []
    with Hostile() as server:
        server.on("GET", "/v1/test-cases", canned(429, "{}", **{"Retry-After": value}))
        api = SigmaMindClient(server.url, Secret("k"), sleep=waits.append, retries=50)
        with api, pytest.raises(RetryableError, match="HTTP 429"):
            bounded(lambda: api.list_cases(AGENT))
    assert waits and max(waits) <= longest
    assert sum(waits) <= client_module.MAX_RETRY_WINDOW_S


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_is_known_not_to_have_created_anything() -> None:
    with client(f"http://127.0.0.1:{_closed_port()}", retries=2) as api, pytest.raises(RefusedError) as info:
        api.create_case({"agentId": AGENT, "userPrompt": "u", "successCriteria": "s"})
    assert not isinstance(info.value, OutcomeUnknownError)
    assert "POST /v1/test-cases: cannot connect" in str(info.value)


def test_an_api_that_dies_mid_apply_ends_the_run_within_a_minute_with_one_message(
    tmp_path: Path, emulator: Emulator
) -> None:
    project = write_project(tmp_path / "p", 30)
    emulator.gate.close_after(5, method="POST")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "suitesync",
            "apply",
            "--auto-approve",
            "--parallelism",
            "4",
            "--list-grace",
            "0.3",
        ],
        cwd=project,
        env={**os.environ, "SIGMAMIND_BASE_URL": emulator.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.gate.wait_holding(4)
        emulator.stop()  # lets the held creates through, then refuses every connection
        died = time.monotonic()
        out, err = process.communicate(timeout=HANG)
        took = time.monotonic() - died
    finally:
        process.kill()
    assert process.returncode == 1
    assert took < 60, f"gave up after {took:.0f} s"
    fatal = [line for line in out.splitlines() if "the API kept failing" in line]
    assert len(fatal) == 1 and "cannot connect" in fatal[0], out[-1500:] + err


# --- 5. the API key ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["sk-Zq9caf\u00e9", "sk-Zq9 space", "sk-Zq9\nnewline", "\u202esk-Zq9"])
def test_a_key_a_header_cannot_carry_is_refused_without_showing_it(
    applied: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("SIGMAMIND_API_KEY", key)
    result = run_cli("plan", cwd=applied)
    assert result.code == 1
    assert result.err.splitlines()[0] == (
        "error: the API key holds characters an HTTP header cannot carry (from SIGMAMIND_API_KEY)"
    )
    assert "position" not in result.err and "codec" not in result.err and "Traceback" not in result.err
    assert "Zq9" not in result.err


# --- 6. ids are path segments -----------------------------------------------------------------


def test_ids_are_percent_encoded_path_segments() -> None:
    with Hostile() as server:
        server.on("DELETE", "/", canned(204, ""))
        server.on("GET", "/", canned(404, "{}"))
        with client(server.url) as api:
            api.delete_case("../batch-runs/../agents/X", AGENT)
            with pytest.raises(ApiError):
                api.get_batch("../../agents/X?y#z", AGENT)
            for dots in (".", ".."):
                with pytest.raises(SuitesyncError, match="cannot be used in a URL"):
                    api.delete_case(dots, AGENT)
        assert server.paths() == [
            f"/v1/test-cases/..%2Fbatch-runs%2F..%2Fagents%2FX?agentId={AGENT}",
            f"/v1/batch-runs/..%2F..%2Fagents%2FX%3Fy%23z?agentId={AGENT}",
        ]


# --- 8. batch-run and import replies ------------------------------------------------------------

BAD_BATCHES = {
    "a create that is not JSON": (
        "POST",
        "/v1/batch-runs",
        "Accepted",
        "POST /v1/batch-runs: the reply is not JSON",
    ),
    "a create without batchId": (
        "POST",
        "/v1/batch-runs",
        '{"id": "b1"}',
        "POST /v1/batch-runs: batchId is null",
    ),
    "a batch that is not JSON": ("GET", "/v1/batch-runs/", "{", "the reply is not JSON"),
    "counts that are text": (
        "GET",
        "/v1/batch-runs/",
        '{"successfulAttempts": "2"}',
        "successfulAttempts is",
    ),
    "runs of another shape": ("GET", "/v1/test-runs", '{"runs": []}', "GET /v1/test-runs: expected a list"),
}


@pytest.mark.parametrize(("method", "path", "body", "message"), BAD_BATCHES.values(), ids=BAD_BATCHES.keys())
def test_batch_run_replies_of_another_shape_end_the_run_with_one_line(
    applied: Path, hostile: Hostile, method: str, path: str, body: str, message: str
) -> None:
    status = 201 if method == "POST" else 200
    if path == "/v1/test-runs":  # reached only once the batch is done: let the emulator's batch through
        hostile.on("GET", "/v1/batch-runs/", lambda _u: Canned(200, _done_batch()), forward=True)
    hostile.on(method, path, canned(status, body), forward=method == "POST")
    result = suitesync(applied, hostile.url, "run", "--case", "case-000[01]")
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert message in line, result.stderr


def _done_batch() -> bytes:
    return json.dumps({"batchId": "b", "testCases": [{"attempt": 1}], "successfulAttempts": 1}).encode()


def test_an_import_reply_that_is_not_json_is_one_line(applied: Path, hostile: Hostile) -> None:
    hostile.on("GET", "/v1/test-cases", canned(200, "\x00\x01binary"))
    result = suitesync(applied, hostile.url, "import", "--agent", "main", "--dry-run")
    assert result.returncode == 1
    assert error_lines(result.stderr) == ["error: GET /v1/test-cases: the reply is not JSON: binary"]


# --- 9. only a JSON boolean is a verdict -----------------------------------------------------------


def test_a_verdict_that_is_a_string_is_an_error_naming_the_test_run(applied: Path, hostile: Hostile) -> None:
    def stringly(upstream: Canned | None) -> Canned:
        assert upstream is not None
        page = json.loads(upstream.body)
        for run in page["data"]:
            if run.get("isSuccessful") is not None:
                run["isSuccessful"] = "false"
        return Canned(upstream.status, json.dumps(page).encode())

    hostile.on("GET", "/v1/test-runs", stringly, forward=True)
    result = suitesync(applied, hostile.url, "run", "--case", "case-0000")
    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert 'isSuccessful is "false", not true, false or null' in line and "test run job_" in line


# --- 10. server text is printable, one line, capped; replies are capped ----------------------------


def test_api_error_text_is_one_printable_capped_line(tmp_path: Path, hostile: Hostile) -> None:
    project = write_project(tmp_path / "p", 1)
    message = "bad\n::error::pwned\x1b[31m red \r\u202e" + "x" * 1_000_000
    hostile.on("POST", "/v1/test-cases", canned(400, json.dumps({"message": message})))
    result = apply(project, hostile.url)
    assert result.returncode == 1
    [failed] = [line for line in result.stdout.splitlines() if "HTTP 400" in line]
    assert "HTTP 400: bad : :error: :pwned [31m red x" in failed
    assert len(failed) < 400 and failed.endswith("…")
    assert not any(line.startswith("::") for line in (result.stdout + result.stderr).splitlines())
    assert "\x1b" not in result.stdout + result.stderr and "\u202e" not in result.stdout


@pytest.mark.parametrize("declared", [True, False])
def test_a_reply_over_the_cap_is_refused_without_reading_it_all(
    monkeypatch: pytest.MonkeyPatch, declared: bool
) -> None:
    monkeypatch.setattr(client_module, "MAX_REPLY_BYTES", 1 << 20)
    with Hostile() as server:
        body = b"[" + b"{}, " * (1 << 19) + b"{}]"  # 2 MiB
        # Without a Content-Length to trust, the cap applies as the bytes arrive.
        answer = Canned(200, body, declare_length=declared)
        server.on("GET", "/v1/test-cases", lambda _u: answer)
        with client(server.url) as api, pytest.raises(ReplyError) as info:
            api.list_cases(AGENT)
    assert str(info.value) == "GET /v1/test-cases: the reply is larger than 1 MiB (not read)"
