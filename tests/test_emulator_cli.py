"""`suitesync emulator` as a user starts it: a separate process that prints its URL and stops on a signal."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from conftest import AGENT


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "suitesync",
            "emulator",
            "--port",
            "0",
            "--state",
            str(tmp_path / "e.db"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    return proc, url


def test_serves_until_sigterm_and_keeps_state(tmp_path: Path) -> None:
    proc, url = start(tmp_path, "--agent", AGENT, "--api-key", "k1", "--list-shape", "paged")
    try:
        created = httpx.post(
            f"{url}/v1/test-cases",
            headers={"X-API-Key": "k1"},
            json={"agentId": AGENT, "userPrompt": "p", "successCriteria": "s"},
        )
        assert created.status_code == 201
        listed = httpx.get(
            f"{url}/v1/test-cases", params={"agentId": AGENT}, headers={"X-API-Key": "k1"}
        ).json()
        assert listed["totalCount"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    proc, url = start(tmp_path)  # same state file, no --agent: the agent was stored
    try:
        again = httpx.get(
            f"{url}/v1/test-cases", params={"agentId": AGENT}, headers={"X-API-Key": "any"}
        ).json()
        assert [c["testCaseId"] for c in again] == [created.json()["testCaseId"]]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0


def test_fault_flags_reach_the_server(tmp_path: Path) -> None:
    proc, url = start(tmp_path, "--rate-limit-rate", "1", "--retry-after", "2", "--seed", "3")
    try:
        response = httpx.get(f"{url}/v1/agents", headers={"X-API-Key": "k"})
        assert (response.status_code, response.headers["Retry-After"]) == (429, "2")
        faults = httpx.get(f"{url}/_emulator/faults").json()
        assert (faults["seed"], faults["rate_limit_rate"]) == (3, 1.0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def usage_error_of(tmp_path: Path, *args: str) -> str:
    """Start the emulator with bad arguments: it must exit 64 (never 2) with a message, no traceback."""
    argv = [sys.executable, "-m", "suitesync", "emulator", "--state", str(tmp_path / "e.db"), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 64
    assert "Traceback" not in proc.stderr
    return proc.stderr


def test_refuses_a_public_host(tmp_path: Path) -> None:
    assert "0.0.0.0 is not a loopback address" in usage_error_of(tmp_path, "--host", "0.0.0.0")


def test_bad_fault_value_is_a_usage_error(tmp_path: Path) -> None:
    assert "error_rate must be between 0 and 1" in usage_error_of(tmp_path, "--error-rate", "1.5")


def test_ctrl_c_stops_it_even_when_started_with_sigint_ignored(tmp_path: Path) -> None:
    # A non-interactive shell starts background processes with SIGINT ignored (as CI runners may);
    # `trap '' INT; exec ...` hands the emulator exactly that disposition.
    command = f"trap '' INT; exec {sys.executable} -m suitesync emulator --port 0 --state {tmp_path / 'e.db'}"
    proc = subprocess.Popen(["sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().startswith("http://127.0.0.1:")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
