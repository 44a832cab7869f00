"""`--target` and `--replace` on plan and apply, against the emulator; --replace under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suitesync.emulator import Emulator
from suitesync.lockfile import read_lockfile

from conftest import assert_no_canary, remote_state, run_cli, write_project


@pytest.fixture
def applied(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_project(tmp_path / "p", 3)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    return root


def edit_prompts(root: Path, *numbers: int) -> None:
    suite = root / "suites" / "s000.yaml"
    text = suite.read_text()
    for n in numbers:
        text = text.replace(f"You are customer number {n}.", f"You are customer number {n}, edited.")
    suite.write_text(text)


def methods(emulator: Emulator) -> list[str]:
    return [r["method"] for r in emulator.requests() if r["method"] in ("POST", "PUT", "DELETE")]


def test_target_limits_plan_and_apply_to_the_cases_named(applied: Path, emulator: Emulator) -> None:
    edit_prompts(applied, 0, 1, 2)
    plan = run_cli("plan", "--target", "case-0001", cwd=applied)
    assert plan.code == 0, plan.err
    assert plan.out.startswith("Plan: 0 to create, 1 to update, 0 to delete; 0 unchanged.\n")
    assert "~ update   case-0001" in plan.out and "case-0000" not in plan.out
    both = run_cli("plan", "--target", "case-0001", "--target", "case-000[2-9]", cwd=applied)
    assert "Plan: 0 to create, 2 to update" in both.out and "case-0000" not in both.out
    emulator.clear_requests()
    apply = run_cli("apply", "--auto-approve", "--target", "case-0001", cwd=applied)
    assert apply.code == 0, apply.err
    assert methods(emulator) == ["PUT"]
    rest = run_cli("plan", cwd=applied)
    assert "Plan: 0 to create, 2 to update, 0 to delete; 1 unchanged." in rest.out
    assert "case-0001" not in rest.out


def test_a_target_that_matches_nothing_is_an_error(applied: Path, emulator: Emulator) -> None:
    emulator.clear_requests()
    targets = ("--target", "case-0000", "--target", "billing-*")
    for result in (
        run_cli("plan", *targets, cwd=applied),
        run_cli("apply", "--auto-approve", *targets, cwd=applied),
    ):
        assert result.code == 1
        assert (
            "error: --target 'billing-*' matches no case id of the suites or the lockfile; nothing was done"
            in result.err
        )
    assert methods(emulator) == []


def test_target_with_a_saved_plan_is_a_usage_error(applied: Path, tmp_path: Path) -> None:
    assert run_cli("plan", "--out", str(tmp_path / "plan.json"), cwd=applied).code == 0
    result = run_cli("apply", str(tmp_path / "plan.json"), "--target", "case-0000", cwd=applied)
    assert result.code == 64
    assert "--target cannot be used with a saved plan" in result.err
    assert "make it with `suitesync plan --target ID --out FILE`" in result.err


def test_replace_deletes_and_creates_the_case_again(applied: Path, emulator: Emulator) -> None:
    old = read_lockfile(applied / "suitesync.lock").cases["case-0001"].test_case_id
    plan = run_cli("plan", "--replace", "case-0001", cwd=applied)
    assert plan.out.startswith("Plan: 1 to create, 0 to update, 1 to delete; 2 unchanged.\n")
    assert f"-/+ replace  case-0001  ({old}" in plan.out
    assert "--replace: the remote case is deleted, then created again" in plan.out
    emulator.clear_requests()
    apply = run_cli("apply", "--auto-approve", "--replace", "case-0001", cwd=applied)
    assert apply.code == 0, apply.err
    assert methods(emulator) == ["DELETE", "POST"]
    new = read_lockfile(applied / "suitesync.lock").cases["case-0001"].test_case_id
    assert new != old and old not in remote_state(emulator) and len(remote_state(emulator)) == 3
    assert run_cli("plan", "--detailed-exitcode", cwd=applied).code == 0


@pytest.mark.parametrize(
    ("case_id", "message"),
    [("ghost", "--replace ghost: no suite defines a case ghost"), ("new-one", "has no remote test case yet")],
)
def test_replace_refusals(applied: Path, emulator: Emulator, case_id: str, message: str) -> None:
    (applied / "suites" / "new.yaml").write_text(
        "agent: main\ncases:\n  - id: new-one\n    userPrompt: New.\n    successCriteria: Helps.\n"
    )
    emulator.clear_requests()
    result = run_cli("apply", "--auto-approve", "--replace", case_id, cwd=applied)
    assert result.code == 1 and message in result.err, result.err
    assert methods(emulator) == []


def start_replace(root: Path, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "suitesync",
            "apply",
            "--auto-approve",
            "--list-grace",
            "0.5",
            "--replace",
            "case-0001",
        ],
        cwd=root,
        env={**os.environ, "SIGMAMIND_BASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: object, what: str) -> None:
    """Until `condition()` holds (the deadline only turns a hang into a failure)."""
    deadline = time.monotonic() + 30
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


@pytest.mark.parametrize("held", ["DELETE", "POST"])
def test_replace_killed_between_its_requests_loses_nothing_and_duplicates_nothing(
    applied: Path, emulator: Emulator, held: str
) -> None:
    """SIGKILL while the delete (or the create after it) is held at the emulator's door; then the
    held request goes through (the platform did it, the dead process never heard), and the next
    apply converges: one remote case per case, every one recorded, the old one gone."""
    old = read_lockfile(applied / "suitesync.lock").cases["case-0001"].test_case_id
    emulator.gate.close_after(0, method=held)
    process = start_replace(applied, emulator.url)
    assert emulator.gate.wait_holding(1), f"apply never sent its {held}"
    process.kill()
    out, err = process.communicate(timeout=10)
    assert_no_canary(out + err)
    assert process.returncode == -signal.SIGKILL
    emulator.gate.open()
    wait_until(lambda: len(remote_state(emulator)) == (2 if held == "DELETE" else 3), "the held request")
    again = run_cli("apply", "--auto-approve", "--list-grace", "0.5", cwd=applied)
    assert again.code == 0, again.out + again.err
    remote = remote_state(emulator)
    lock = read_lockfile(applied / "suitesync.lock")
    assert len(remote) == 3 and old not in remote
    assert {e.test_case_id: e.hash for e in lock.cases.values()} == remote
    assert not any(e.pending for e in lock.cases.values())
    assert run_cli("plan", "--detailed-exitcode", cwd=applied).code == 0
