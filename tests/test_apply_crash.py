"""Killing `suitesync apply` at random moments: no duplicate, no lost case, every time.

Each trial starts apply as a real process against the emulator (with latency, so requests are in
flight), kills it, then applies again and checks the platform and the lockfile.
"""

from __future__ import annotations

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
            "4",
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


def test_sigkill_at_random_moments(slow_project: Path, emulator: Emulator) -> None:
    rng = random.Random(20261122)
    outcomes = {"killed mid-way": 0, "finished first": 0}
    for _trial in range(TRIALS):
        fresh(slow_project, emulator)
        process = start_apply(slow_project, emulator.url)
        time.sleep(rng.uniform(0.25, 1.1))
        process.kill()
        out, err = process.communicate(timeout=10)
        assert_no_canary(out + err)
        outcomes["finished first" if process.returncode == 0 else "killed mid-way"] += 1
        time.sleep(0.1)  # requests the dead process sent may still be committing on the server
        converge_again(slow_project, emulator)
    assert outcomes["killed mid-way"] >= TRIALS // 2, outcomes


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_new_requests_and_saves_the_lockfile(
    slow_project: Path, emulator: Emulator, signum: int
) -> None:
    emulator.faults.reconfigure({"latency_ms": 150, "jitter_ms": 0})
    process = start_apply(slow_project, emulator.url, "--parallelism", "2")
    deadline = time.monotonic() + 20
    while sum(1 for r in emulator.requests() if r["method"] == "POST") < 4:
        assert time.monotonic() < deadline, "apply never started creating"
        time.sleep(0.02)
    signalled = time.time()
    process.send_signal(signum)
    out, err = process.communicate(timeout=10)
    assert_no_canary(out + err)
    assert time.time() - signalled < 5
    assert process.returncode == 128 + signum, err
    assert "stopping: no new request starts" in err
    late = [r for r in emulator.requests() if r["started"] > signalled + 0.05]
    assert late == [], f"requests started after the signal: {late}"
    lock = (slow_project / "suitesync.lock").read_text()
    assert '"testCaseId": "tc_' in lock  # what was done is recorded
    converge_again(slow_project, emulator)


def test_a_second_signal_exits_at_once(slow_project: Path, emulator: Emulator) -> None:
    emulator.faults.reconfigure({"latency_ms": 400, "jitter_ms": 0})
    process = start_apply(slow_project, emulator.url, "--parallelism", "2")
    deadline = time.monotonic() + 20
    while not any(r["method"] == "POST" for r in emulator.requests()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=10)
    assert time.monotonic() - started < 1.0
    assert process.returncode == 130
    time.sleep(0.5)
    converge_again(slow_project, emulator)
