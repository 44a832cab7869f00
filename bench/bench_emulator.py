"""Emulator throughput with no injected latency: requests per second, median of runs.

Usage: python bench/bench_emulator.py [--requests 2000] [--repeat 5] [--clients 1,8,16]

The emulator runs as its own process (as `suitesync emulator` does); client threads share one
httpx.Client per thread. Workloads: creates (POST /v1/test-cases), reads (GET one case).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, suitesync_argv  # noqa: E402

AGENT = "D5D0p7TUs66TTAEAx"
BODY = {
    "agentId": AGENT,
    "userPrompt": "You are a customer who wants to cancel a subscription.",
    "successCriteria": "The agent confirms the cancellation.",
    "label": "bench",
    "llmModel": "gpt-4o-mini",
    "mockData": [{"variableName": "customer_name", "value": "John Doe"}],
    "attempt": 1,
}
HEADERS = {"X-API-Key": "bench"}


def start_emulator(state: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    argv = suitesync_argv("emulator", "--port", "0", "--state", str(state), "--agent", AGENT, *options)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def measure(url: str, clients: int, total: int, kind: str, case_id: str) -> float:
    per_client = total // clients

    def worker() -> None:
        with httpx.Client(base_url=url, headers=HEADERS) as client:
            for _ in range(per_client):
                if kind == "create":
                    response = client.post("/v1/test-cases", json=BODY)
                else:
                    response = client.get(f"/v1/test-cases/{case_id}", params={"agentId": AGENT})
                response.raise_for_status()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return per_client * clients / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clients", default="1,8,16")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_emulator(Path(tmp) / "state.sqlite3")
        try:
            case_id = httpx.post(f"{url}/v1/test-cases", json=BODY, headers=HEADERS).json()["testCaseId"]
            rows = []
            for clients in (int(c) for c in args.clients.split(",")):
                for kind in ("create", "get"):
                    rates = [measure(url, clients, args.requests, kind, case_id) for _ in range(args.repeat)]
                    rows.append(
                        (
                            kind,
                            clients,
                            args.requests,
                            f"{statistics.median(rates):.0f}",
                            f"{min(rates):.0f}",
                            f"{max(rates):.0f}",
                        )
                    )
        finally:
            proc.terminate()
            proc.wait()
    print(f"emulator throughput, no latency; median of {args.repeat} runs; client and server share 2 cores")
    print_table(["workload", "clients", "requests", "req/s median", "min", "max"], rows)


if __name__ == "__main__":
    main()
