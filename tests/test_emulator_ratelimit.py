"""The emulator's token-bucket rate limit: the bucket as a pure object on a clock the test turns,
and over HTTP only with assertions that hold however long each request takes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from suitesync.emulator import Emulator, FaultConfig
from suitesync.emulator.ratelimit import TokenBucket, retry_after

from conftest import AGENT

KEY = {"X-API-Key": "test-key"}


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_admits_a_burst_then_says_when_the_next_token_comes() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == 0.5  # one token every 1/2 s
    clock.now += 0.25
    assert bucket.take() == 0.25
    clock.now += 0.25
    assert bucket.take() == 0.0
    assert bucket.take() == 0.5


def test_a_refused_request_takes_nothing() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=4.0, burst=1, clock=clock)
    assert bucket.take() == 0.0
    assert [bucket.take() for _ in range(5)] == [0.25] * 5  # refusals do not push the wait back
    clock.now += 0.25
    assert bucket.take() == 0.0


def test_the_bucket_refills_at_its_rate_up_to_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10.0, burst=4, clock=clock)
    for _ in range(4):
        bucket.take()
    clock.now += 0.25  # 2.5 tokens
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.05]
    clock.now += 3600  # an hour of quiet saves up `burst` tokens, no more
    assert [bucket.take() == 0.0 for _ in range(5)] == [True] * 4 + [False]


def test_a_bucket_needs_a_rate_and_a_burst() -> None:
    for rate, burst in ((0.0, 1), (-1.0, 1), (1.0, 0)):
        with pytest.raises(ValueError, match="rate > 0 and burst >= 1"):
            TokenBucket(rate, burst)


@pytest.mark.parametrize(
    ("wait", "header"), [(0.001, "1"), (0.5, "1"), (1.0, "1"), (1.25, "2"), (999.95, "1000")]
)
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: str) -> None:
    assert retry_after(wait) == header


# --- over HTTP ----------------------------------------------------------------------------------


def send_at_once(url: str, count: int) -> list[httpx.Response]:
    """`count` creates from as many threads released together, each with its own connection."""
    barrier = threading.Barrier(count)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        body = {"agentId": AGENT, "userPrompt": f"Customer {n}.", "successCriteria": "Helped."}
        with httpx.Client(base_url=url, headers=KEY, timeout=30) as client:
            barrier.wait()
            response = client.post("/v1/test-cases", json=body)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def creates_made(url: str) -> int:
    """Read through the admin API, which no rate limit applies to."""
    return sum(httpx.get(f"{url}/_emulator/creates").json()["creates"].values())


def test_burst_3_of_10_requests_at_once_pass_and_7_wait(tmp_path: Path) -> None:
    # At 0.001 requests a second the 4th token comes 1,000 s after the start: whatever this
    # machine's pace, exactly the burst passes.
    faults = FaultConfig(rate_limit_rps=0.001, rate_limit_burst=3)
    with Emulator(state=tmp_path / "s.db", agents=[AGENT], faults=faults) as emu:
        responses = send_at_once(emu.url, 10)
        refused = [r for r in responses if r.status_code == 429]
        assert sorted(r.status_code for r in responses) == [201] * 3 + [429] * 7
        assert all(1 <= int(r.headers["Retry-After"]) <= 1000 for r in refused)
        assert {r.json()["message"] for r in refused} == {
            "Rate limit exceeded: 0.001 requests a second, bursts of 3"
        }
        assert creates_made(emu.url) == 3  # a refused create made nothing
        assert [r["status"] for r in emu.requests()].count(429) == 7


def test_the_rate_limit_is_switched_at_runtime(emulator: Emulator) -> None:
    faults = f"{emulator.url}/_emulator/faults"
    assert httpx.put(faults, json={"rate_limit_rps": 0.001, "rate_limit_burst": 2}).status_code == 200
    assert sorted(r.status_code for r in send_at_once(emulator.url, 4)) == [201, 201, 429, 429]
    # A new burst starts a new, full bucket.
    assert httpx.put(faults, json={"rate_limit_burst": 3}).json()["rate_limit_burst"] == 3
    assert sorted(r.status_code for r in send_at_once(emulator.url, 4)) == [201, 201, 201, 429]
    assert httpx.put(faults, json={"rate_limit_rps": 0}).status_code == 200  # 0: no limit
    assert {r.status_code for r in send_at_once(emulator.url, 6)} == {201}
    for bad in ({"rate_limit_burst": 0}, {"rate_limit_burst": 2.5}, {"rate_limit_rps": -1}):
        assert httpx.put(faults, json=bad).status_code == 400
    assert (httpx.get(faults).json()["rate_limit_rps"], httpx.get(faults).json()["rate_limit_burst"]) == (
        0,
        3,
    )


def test_the_rate_limit_flags_reach_the_server(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "suitesync", "emulator", "--port", "0", "--state", str(tmp_path / "e.db")]
    argv += ["--agent", AGENT, "--rate-limit-rps", "0.001", "--rate-limit-burst", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        statuses = sorted(r.status_code for r in send_at_once(url, 3))
        assert statuses == [201, 201, 429]
        faults = httpx.get(f"{url}/_emulator/faults").json()
        assert (faults["rate_limit_rps"], faults["rate_limit_burst"]) == (0.001, 2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--rate-limit-burst", "0", "rate_limit_burst must be at least 1"),
        ("--rate-limit-rps", "-5", "rate_limit_rps must be a finite number >= 0"),
        ("--rate-limit-rps", "nan", "rate_limit_rps must be a finite number >= 0"),
    ],
)
def test_bad_rate_limits_are_usage_errors(tmp_path: Path, flag: str, value: str, message: str) -> None:
    argv = [sys.executable, "-m", "suitesync", "emulator", "--state", str(tmp_path / "e.db"), flag, value]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert (proc.returncode, "Traceback" in proc.stderr) == (64, False)
    assert message in proc.stderr
