"""Killing `suitesync apply` at random moments: no duplicate, no lost case, every time.

Each trial starts apply as a real process against the emulator (with latency, so requests are in
flight), kills it, then applies again and checks the platform and the lockfile.

The moment of each kill is drawn from a seeded generator as a count of creates the emulator has
received, so every trial is mid-way by construction; where inside a request's life the kill
lands still varies from run to run, which is the point: the assertions hold for any of them.
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


def first_line(process: subprocess.Popen[str]) -> str:
    """The next line the process writes to standard error that is not blank."""
    assert process.stderr is not None
    return next(line for line in process.stderr if line.strip())


def wait_for_posts(emulator: Emulator, count: int) -> None:
    """Until the emulator has received `count` creates (the deadline only turns a hang into a failure)."""
    deadline = time.monotonic() + 30
    while sum(1 for r in emulator.requests() if r["method"] == "POST") < count:
        assert time.monotonic() < deadline, f"apply never sent {count} creates"
        time.sleep(0.005)


def test_sigkill_at_random_moments(slow_project: Path, emulator: Emulator) -> None:
    rng = random.Random(20261122)
    for _trial in range(TRIALS):
        fresh(slow_project, emulator)
        # Kill once the intents are on disk (0 creates answered) or after the n-th create was answered.
        answered = rng.randrange(0, CASES - 4)
        process = start_apply(slow_project, emulator.url)
        if answered == 0:
            deadline = time.monotonic() + 30
            while not (slow_project / "suitesync.lock").exists():
                assert time.monotonic() < deadline, "apply never wrote its intents"
                time.sleep(0.005)
        else:
            wait_for_posts(emulator, answered)
        process.kill()
        out, err = process.communicate(timeout=10)
        assert_no_canary(out + err)
        assert process.returncode == -signal.SIGKILL, "the apply finished before it was killed"
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
