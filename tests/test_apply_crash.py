"""Killing `suitesync apply` at random moments: no duplicate, no lost case, every time.

Each trial starts apply as a real process against the emulator (with latency), kills it, then
applies again and checks the platform and the lockfile.

The moment of each kill is a function of the requests, never of timing: a seeded generator draws
how many creates pass the emulator's gate; the next create of each of the 4 workers is held there,
and the process is killed once all 4 are held (its intents are on disk, the creates that passed
were answered, and what the lockfile writer was doing still varies). The held creates are then
let through, so the server makes cases for a client that is gone, and the next apply starts only
once the emulator has answered all of them: what it must settle is fixed before it lists.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suitesync.emulator import Emulator

from conftest import assert_converged, assert_no_canary, run_cli, write_project

CASES = 30
TRIALS = 30
WORKERS = 4  # apply's --parallelism below
HANG = 120  # seconds: only turns a hang into a failure


def start_apply(project: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SIGMAMIND_BASE_URL": url}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "suitesync",
            "apply",
            "--auto-approve",
            "--parallelism",
            str(WORKERS),
            "--list-grace",
            "0.5",
            *extra,
        ],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def fresh(project: Path, emulator: Emulator) -> None:
    emulator.reset()
    (project / "suitesync.lock").unlink(missing_ok=True)
    shutil.rmtree(project / ".suitesync", ignore_errors=True)


def converge_again(project: Path, emulator: Emulator) -> None:
    result = run_cli("apply", "--auto-approve", "--list-grace", "0.5", cwd=project)
    assert result.code == 0, result.out[-1500:] + result.err
    assert_converged(emulator, project, CASES)
    assert max(emulator.store.create_counts().values()) == 1, "a case was created twice"


@pytest.fixture
def slow_project(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    emulator.faults.reconfigure({"latency_ms": 30, "jitter_ms": 30, "seed": 1})
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    return write_project(tmp_path / "p", CASES, per_file=7)


def first_line(process: subprocess.Popen[str]) -> str:
    """The next line the process writes to standard error that is not blank."""
    assert process.stderr is not None
    return next(line for line in process.stderr if line.strip())


def posts(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests() if r["method"] == "POST")


def wait_for_posts(emulator: Emulator, count: int) -> None:
    """Until the emulator has answered `count` creates: an event, waited for; the deadline only
    turns a hang into a failure."""
    deadline = time.monotonic() + HANG
    while posts(emulator) < count:
        assert time.monotonic() < deadline, f"the emulator never answered {count} creates"
        time.sleep(0.01)


def kill_with_creates_held(project: Path, emulator: Emulator, passed: int) -> None:
    """Start apply, let `passed` creates through, kill it once each worker holds one more at the
    gate, then let those through too and wait until the emulator has answered them all."""
    emulator.gate.close_after(passed, method="POST")
    process = start_apply(project, emulator.url)
    held = emulator.gate.wait_holding(WORKERS, timeout=HANG)
    process.kill()
    out, err = process.communicate(timeout=HANG)
    assert_no_canary(out + err)
    assert held, f"apply never sent {passed + WORKERS} creates (exit {process.returncode}): {err[-1500:]}"
    assert process.returncode == -signal.SIGKILL, "the apply finished before it was killed"
    emulator.gate.open()
    wait_for_posts(emulator, passed + WORKERS)


def test_sigkill_at_random_moments(slow_project: Path, emulator: Emulator) -> None:
    rng = random.Random(20261122)
    for _trial in range(TRIALS):
        fresh(slow_project, emulator)
        kill_with_creates_held(slow_project, emulator, passed=rng.randrange(0, CASES - WORKERS))
        assert posts(emulator) == sum(emulator.store.create_counts().values())
        converge_again(slow_project, emulator)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_new_requests_and_saves_the_lockfile(
    slow_project: Path, emulator: Emulator, signum: int
) -> None:
    # One worker; its fifth create is held at the emulator's door while the signal arrives and the
    # process says it is stopping. Released then, it is answered and recorded, and no request
    # follows: exactly five creates reach the server.
    emulator.gate.close_after(4, method="POST")
    process = start_apply(slow_project, emulator.url, "--parallelism", "1")
    assert emulator.gate.wait_holding(1), "apply never started creating"
    process.send_signal(signum)
    assert first_line(process).startswith("stopping: no new request starts")
    emulator.gate.open()
    out, err = process.communicate(timeout=30)
    assert_no_canary(out + err)
    assert process.returncode == 128 + signum, err
    # One summary line for the 25 creates never started, not one line each.
    summary = "\nApply incomplete: 5 created, 25 skipped (not started: apply again to finish them).\n"
    assert summary in out and "skipped" not in out.replace(summary, "")
    assert [r["method"] for r in emulator.requests()].count("POST") == 5
    lock = json.loads((slow_project / "suitesync.lock").read_text())
    created = [entry for entry in lock["cases"].values() if entry["testCaseId"]]
    assert len(created) == 5  # what was done is recorded, the fifth create included
    converge_again(slow_project, emulator)


def test_a_second_signal_exits_at_once(slow_project: Path, emulator: Emulator) -> None:
    # The creates in flight are held and never answered: after the first signal, apply would wait
    # out its 3 s grace for them, save the lockfile and print its summary. The second signal,
    # sent as soon as the first is acknowledged, ends it at once: no summary is printed. (The one
    # assumption about time: sending a signal takes less than those 3 s.)
    emulator.gate.close_after(0, method="POST")
    process = start_apply(slow_project, emulator.url, "--parallelism", "2")
    assert emulator.gate.wait_holding(2), "apply never started creating"
    process.send_signal(signal.SIGINT)
    assert first_line(process).startswith("stopping: no new request starts")
    process.send_signal(signal.SIGINT)
    out, _err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Apply incomplete" not in out
    emulator.gate.open()
    converge_again(slow_project, emulator)
