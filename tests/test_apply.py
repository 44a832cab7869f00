"""`suitesync apply` against the emulator: writes, safety refusals, faults, saved plans, locking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from suitesync.emulator import Emulator

from conftest import assert_converged, assert_no_canary, run_cli, write_project

WRITES = {"POST", "PUT", "DELETE", "PATCH"}


def writes(emulator: Emulator) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in emulator.requests() if r["method"] in WRITES]


def test_apply_creates_then_nothing_is_left_to_do(project: Path, emulator: Emulator) -> None:
    result = run_cli("apply", "--auto-approve", cwd=project)
    assert result.code == 0, result.err
    assert result.out.count("\n+ created   ") == 13
    assert result.out.endswith("\nApply complete: 13 created.\n")
    assert_converged(emulator, project, 13)
    plan = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert plan.code == 0, plan.out


def test_second_apply_sends_no_write_and_keeps_the_lockfile_byte_identical(
    project: Path, emulator: Emulator
) -> None:
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    before = (project / "suitesync.lock").read_bytes()
    emulator.clear_requests()
    result = run_cli("apply", "--auto-approve", cwd=project)
    assert (result.code, result.out) == (0, "No changes. 13 cases match the platform.\n")
    assert writes(emulator) == []
    assert (project / "suitesync.lock").read_bytes() == before


def test_without_a_terminal_apply_needs_auto_approve(project: Path, emulator: Emulator) -> None:
    result = run_cli("apply", cwd=project)
    assert result.code == 1
    assert "error: refusing to apply without confirmation: standard input is not a terminal" in result.err
    assert "hint: pass --auto-approve" in result.err
    assert writes(emulator) == [] and not (project / "suitesync.lock").exists()


# --- the confirmation prompt, on a pseudo-terminal ----------------------------------------------

# The child makes the pseudo-terminal its controlling terminal (as a shell does), so that Ctrl-C
# typed on it is SIGINT to the child. Done in the child itself: preexec_fn is unsafe with the
# emulator's threads running in this process.
_ON_ITS_OWN_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, '-m', 'suitesync', *sys.argv[1:]])"
)


def apply_on_a_terminal(project: Path, url: str) -> tuple[subprocess.Popen[bytes], int]:
    import pty

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", _ON_ITS_OWN_TERMINAL, "apply", "--list-grace", "0.3"],
        cwd=project,
        env={**os.environ, "SIGMAMIND_BASE_URL": url},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    return process, controller


def read_until(controller: int, text: str) -> str:
    """What the terminal shows, up to `text` (the deadline only turns a hang into a failure)."""
    import select
    import time

    seen, deadline = b"", time.monotonic() + 30
    while text.encode() not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        if select.select([controller], [], [], 0.5)[0]:
            seen += os.read(controller, 65536)
    return seen.decode()


def read_to_the_end(controller: int, process: subprocess.Popen[bytes]) -> str:
    """What the terminal shows until the process has gone (a deadline turns a hang into a failure)."""
    import select
    import time

    chunks, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline:
        if not select.select([controller], [], [], 0.5)[0]:
            continue
        try:
            data = os.read(controller, 65536)
        except OSError:  # EIO: every process holding the terminal has gone
            break
        if not data:
            break
        chunks.append(data)
    os.close(controller)
    if process.poll() is None:
        process.kill()
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize(
    ("answer", "code"), [("ctrl-c", 130), ("sigterm", 143), ("ctrl-d", 130)], ids=["ctrl-c", "sigterm", "eof"]
)
def test_ctrl_c_or_eof_at_the_prompt_cancels_at_once_and_changes_nothing(
    project: Path, emulator: Emulator, answer: str, code: int
) -> None:
    import signal

    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    suite = project / "suites" / "support" / "billing.yaml"
    suite.write_text(suite.read_text().replace("Update Payment Card", "Replace Payment Card"))
    (project / "suites" / "support" / "more.yaml").write_text(
        "agent: support\ncases:\n  - id: brand-new\n    userPrompt: p\n    successCriteria: s\n"
    )
    lockfile = (project / "suitesync.lock").read_bytes()
    emulator.clear_requests()
    process, controller = apply_on_a_terminal(project, emulator.url)
    shown = read_until(controller, "Apply these 2 changes? [y/N]: ")
    if answer == "sigterm":
        process.send_signal(signal.SIGTERM)
    else:
        os.write(controller, b"\x03" if answer == "ctrl-c" else b"\x04")
    shown += read_to_the_end(controller, process)
    assert process.wait(timeout=30) == code, shown
    assert "apply cancelled at the prompt; nothing was changed" in shown
    assert shown.count("Apply these 2 changes?") == 1  # not asked again
    assert "invalid input" not in shown and "stopping:" not in shown and "skipped" not in shown
    assert_no_canary(shown)
    assert (project / "suitesync.lock").read_bytes() == lockfile  # no intent, no new serial
    assert writes(emulator) == []


def test_answering_the_prompt_on_a_terminal(project: Path, emulator: Emulator) -> None:
    process, controller = apply_on_a_terminal(project, emulator.url)
    read_until(controller, "Apply these 13 changes? [y/N]: ")
    os.write(controller, b"maybe\n")
    read_until(controller, "Error: answer y or n\r\n\r\nApply these 13 changes? [y/N]: ")
    os.write(controller, b"y\n")
    shown = read_to_the_end(controller, process)
    assert process.wait(timeout=30) == 0, shown
    assert "Apply complete: 13 created." in shown
    assert_converged(emulator, project, 13)


def test_update_delete_and_the_delete_limit(project: Path, emulator: Emulator) -> None:
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    suite = project / "suites" / "sales" / "qualification.yaml"
    text = suite.read_text().replace("40-person clinic", "60-person clinic")
    suite.write_text(
        text[: text.index("  - id: sales-not-a-fit")] + text[text.index("  - id: sales-gatekeeper") :]
    )
    emulator.clear_requests()
    kept = run_cli("apply", "--auto-approve", cwd=project)
    assert kept.code == 0 and "would be deleted with --prune: sales-not-a-fit" in kept.out
    assert [m for m, _ in writes(emulator)] == ["PUT"]
    emulator.clear_requests()
    refused = run_cli("apply", "--auto-approve", "--prune", "--max-deletes", "0", cwd=project)
    assert refused.code == 1 and "the plan deletes 1 test case, more than --max-deletes 0" in refused.err
    assert writes(emulator) == []
    pruned = run_cli("apply", "--auto-approve", "--prune", cwd=project)
    assert pruned.code == 0 and "- deleted   sales-not-a-fit" in pruned.out
    assert [m for m, _ in writes(emulator)] == ["DELETE"]
    assert_converged(emulator, project, 12)


def test_requests_overlap_up_to_the_parallelism(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p", 24)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    emulator.faults.reconfigure({"latency_ms": 100})
    assert run_cli("apply", "--auto-approve", "--parallelism", "6", cwd=project).code == 0
    posts = [r for r in emulator.requests() if r["method"] == "POST"]
    overlap = max(sum(1 for o in posts if o["started"] <= r["started"] < o["time"]) for r in posts)
    assert overlap == 6


def test_converges_under_5xx_429_and_dropped_creates(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p", 200)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    emulator.faults.reconfigure(
        {"error_rate": 0.1, "rate_limit_rate": 0.1, "drop_rate": 0.1, "retry_after_s": 0, "seed": 11}
    )
    result = run_cli("apply", "--auto-approve", "--list-grace", "0.5", cwd=project)
    assert result.code == 0, result.out[-2000:]
    statuses = [r["status"] for r in emulator.requests()]
    assert (
        statuses.count(0) >= 5 and statuses.count(429) >= 5 and statuses.count(503) + statuses.count(500) >= 5
    )
    assert "adopted" in result.out  # dropped creates were found and adopted, not sent again
    emulator.faults.reconfigure({"error_rate": 0, "rate_limit_rate": 0, "drop_rate": 0})
    assert_converged(emulator, project, 200)
    assert emulator.store.create_counts() and max(emulator.store.create_counts().values()) == 1


def test_500_creates_converge_under_20_percent_5xx_and_10_percent_dropped_creates(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some creates meet several faults in a row: each unconfirmed one is sent again for as long as
    # the run's retry budget lasts, never a fixed number of times.
    project = write_project(tmp_path / "p", 500, per_file=50)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    emulator.faults.reconfigure({"error_rate": 0.2, "drop_rate": 0.1, "retry_after_s": 0, "seed": 2})
    result = run_cli("apply", "--auto-approve", "--list-grace", "0.3", cwd=project)
    assert result.code == 0, result.out[-2000:]
    posts = [r["status"] for r in emulator.requests() if r["method"] == "POST"]
    assert posts.count(0) >= 20 and posts.count(500) + posts.count(503) >= 50
    emulator.faults.reconfigure({"error_rate": 0, "drop_rate": 0})
    assert_converged(emulator, project, 500)
    assert max(emulator.store.create_counts().values()) == 1


def test_list_lag_below_the_grace_period_makes_no_duplicate(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p", 40)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    emulator.faults.reconfigure({"drop_rate": 0.3, "list_lag_ms": 400, "seed": 3})
    result = run_cli("apply", "--auto-approve", "--list-grace", "1.0", cwd=project)
    assert result.code == 0, result.out[-2000:]
    emulator.faults.reconfigure({"drop_rate": 0, "list_lag_ms": 0})
    assert_converged(emulator, project, 40)
    assert max(emulator.store.create_counts().values()) == 1


def test_a_server_that_keeps_failing_ends_the_run_clearly(project: Path, emulator: Emulator) -> None:
    # 503 with Retry-After 0: the retries are immediate, so the bound is a count, not a time.
    emulator.faults.reconfigure({"error_rate": 1.0, "error_status": 503, "retry_after_s": 0})
    result = run_cli("apply", "--auto-approve", cwd=project)
    assert result.code == 1
    assert result.err.startswith("error: GET /v1/test-cases: HTTP 503")
    assert "Traceback" not in result.err
    # Each agent's list call is tried 9 times (8 retries), then the run ends; nothing is written.
    assert [r["method"] for r in emulator.requests()] == ["GET"] * 18


def test_a_saved_plan_is_applied_when_nothing_changed(
    project: Path, emulator: Emulator, tmp_path: Path
) -> None:
    assert run_cli("plan", "--out", str(tmp_path / "plan.json"), cwd=project).code == 0
    result = run_cli("apply", str(tmp_path / "plan.json"), "--auto-approve", cwd=project)
    assert result.code == 0 and "Apply complete: 13 created." in result.out
    assert_converged(emulator, project, 13)


def test_a_saved_plan_refuses_the_flags_that_would_shape_it_again(
    project: Path, emulator: Emulator, tmp_path: Path
) -> None:
    assert run_cli("plan", "--out", str(tmp_path / "plan.json"), cwd=project).code == 0
    emulator.clear_requests()
    result = run_cli("apply", str(tmp_path / "plan.json"), "--prune", "--auto-approve", cwd=project)
    assert result.code == 64
    assert (
        f"Error: --prune cannot be used with a saved plan ({tmp_path / 'plan.json'}): the plan already "
        "fixed what it deletes; make it with `suitesync plan --prune --out FILE`"
    ) in result.err
    assert emulator.requests() == [] and not (project / "suitesync.lock").exists()


def test_a_stale_saved_plan_is_refused_before_any_request(
    project: Path, emulator: Emulator, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--out", str(plan_file), cwd=project).code == 0
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0  # the lockfile moves on
    emulator.clear_requests()
    result = run_cli("apply", str(plan_file), "--auto-approve", cwd=project)
    assert result.code == 5
    assert result.err == (
        f"error: {plan_file} is stale: suitesync.lock was made since (an apply ran)\nhint: make a new plan\n"
    )
    assert emulator.requests() == []
    assert run_cli("plan", "--out", str(plan_file), cwd=project).code == 0
    suite = project / "suites" / "support" / "billing.yaml"
    suite.write_text(suite.read_text().replace("Update Payment Card", "Replace Payment Card"))
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    suite.write_text(suite.read_text().replace("Replace Payment Card", "Update Payment Card"))
    result = run_cli("apply", str(plan_file), "--auto-approve", cwd=project)
    assert (result.code, result.err) == (
        5,
        f"error: {plan_file} is stale: suitesync.lock changed since it was made (serial 2 -> 3: an apply "
        "or import ran since)\nhint: make a new plan\n",
    )


def test_a_plan_made_stale_by_an_edit_is_refused(project: Path, emulator: Emulator, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--out", str(plan_file), cwd=project).code == 0
    suite = project / "suites" / "support" / "billing.yaml"
    suite.write_text(suite.read_text().replace("Update Payment Card", "Replace Payment Card"))
    emulator.clear_requests()
    result = run_cli("apply", str(plan_file), "--auto-approve", cwd=project)
    assert result.code == 5
    assert result.err.startswith(
        f"error: {plan_file} is stale: the suites changed since it was made: billing-update-card changed\n"
    )
    assert emulator.requests() == []
    (project / "suites" / "support" / "more.yaml").write_text(
        "agent: support\ncases:\n  - id: brand-new\n    userPrompt: p\n    successCriteria: s\n"
    )
    (project / "suites" / "sales" / "qualification.yaml").unlink()
    result = run_cli("apply", str(plan_file), "--auto-approve", cwd=project)
    assert result.err.startswith(
        f"error: {plan_file} is stale: the suites changed since it was made: billing-update-card changed; "
        "brand-new added; sales-gatekeeper, sales-not-a-fit, sales-pricing-objection, "
        "sales-qualified-lead, sales-spanish-speaker removed\n"
    )


def test_a_plan_made_stale_on_the_platform_is_refused_without_writes(
    project: Path, emulator: Emulator, tmp_path: Path
) -> None:
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    suite = project / "suites" / "support" / "billing.yaml"
    suite.write_text(suite.read_text().replace("Update Payment Card", "Replace Payment Card"))
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--out", str(plan_file), cwd=project).code == 0
    lock = json.loads((project / "suitesync.lock").read_text())
    from suitesync.client import SigmaMindClient
    from suitesync.secret import Secret

    with SigmaMindClient(emulator.url, Secret("k")) as client:
        client.update_case(lock["cases"]["angry-cancellation"]["testCaseId"], {"attempt": 7})
    emulator.clear_requests()
    result = run_cli("apply", str(plan_file), "--auto-approve", cwd=project)
    assert result.code == 5
    assert result.err == (
        f"error: {plan_file} is stale: the test cases of agent D5D0p7TUs66TTAEAx (alias support) changed "
        "on the platform since it was made\nhint: make a new plan\n"
    )
    assert writes(emulator) == []


def test_a_plan_is_refused_for_another_environment_than_its_own(
    project: Path, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGMAMIND_API_KEY_STAGING", "staging-key")
    for agent in ("StG5upp0rtAgent01", "StG5a1esAgent0001"):
        emulator.store.add_agent(agent)
    plan_file = tmp_path / "staging.json"
    assert run_cli("plan", "--env", "staging", "--out", str(plan_file), cwd=project).code == 0
    assert json.loads(plan_file.read_text())["assumptions"]["environment"] == "staging"
    emulator.clear_requests()
    result = run_cli("apply", str(plan_file), "--auto-approve", cwd=project)
    assert (result.code, result.err) == (
        5,
        f"error: {plan_file} was made for --env staging, not the default environment (no --env)\n"
        "hint: apply it with --env staging, or make a new plan\n",
    )
    assert emulator.requests() == [] and not (project / "suitesync.lock").exists()
    applied = run_cli("apply", str(plan_file), "--env", "staging", "--auto-approve", cwd=project)
    assert applied.code == 0 and "Apply complete: 13 created." in applied.out


def _apply_process(project: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SIGMAMIND_BASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "suitesync", "apply", "--auto-approve", "--list-grace", "0.3", *extra],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_applies_at_once_one_applies_the_other_reports_the_lock(
    project: Path, emulator: Emulator
) -> None:
    # The first apply holds the lock while its plan's list calls are held at the emulator's door;
    # the second starts only once they are, so the order is a fact, not a guess at timing.
    emulator.gate.close_after(0, method="GET")
    first = _apply_process(project, emulator.url)
    assert emulator.gate.wait_holding(1), "the first apply never listed"
    second = _apply_process(project, emulator.url)
    out2, err2 = second.communicate(timeout=60)
    emulator.gate.open()
    out1, err1 = first.communicate(timeout=60)
    assert_no_canary(out1 + err1 + out2 + err2)
    assert first.returncode == 0, err1
    assert second.returncode == 4, err2
    assert "error: another apply holds the project lock (pid" in err2 and f"pid {first.pid} on" in err2
    assert_converged(emulator, project, 13)
    assert max(emulator.store.create_counts().values()) == 1


def test_the_quickstart_flow_on_the_embedded_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `scripts/try` runs: no key, SIGMAMIND_BASE_URL=local, a copy of the examples."""
    from conftest import copy_examples

    root = copy_examples(tmp_path / "try")
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "local")
    monkeypatch.delenv("SIGMAMIND_API_KEY")
    assert run_cli("validate", cwd=root).code == 0
    assert run_cli("plan", "--detailed-exitcode", cwd=root).code == 2
    applied = run_cli("apply", "--auto-approve", cwd=root)
    assert applied.code == 0 and "Apply complete: 13 created." in applied.out
    assert run_cli("plan", "--detailed-exitcode", cwd=root).code == 0
    assert sorted(p.name for p in (root / ".suitesync").iterdir()) == [
        ".gitignore",
        "apply.lock",
        "emulator.sqlite3",
        "suitesync.lock.backup",
    ]


def test_apply_waits_for_the_lock_up_to_the_timeout(project: Path, emulator: Emulator) -> None:
    import threading

    from suitesync.projectlock import project_lock

    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with project_lock(project / ".suitesync", 0):
            held.set()
            release.wait(60)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    waiting = _apply_process(project, emulator.url, "--lock-timeout", "60")
    assert waiting.stderr is not None
    line = waiting.stderr.readline()  # printed once it finds the lock taken, before it waits
    assert line.startswith("waiting up to 60 s for the project lock (pid "), line
    assert [r for r in emulator.requests() if r["method"] == "POST"] == []
    release.set()
    thread.join()
    _out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert_converged(emulator, project, 13)
