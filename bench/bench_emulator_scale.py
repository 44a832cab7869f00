"""The emulator at 1k, 10k and 50k existing test cases: creates/s and list times should stay flat.

Usage: python bench/bench_emulator_scale.py [--sizes 1000,10000,50000] [--repeat 5] [--creates 400]
       [--clients 8] [--pages 20] [--rate-seconds 5]

For each size, each round starts from a fresh copy of a state file seeded with that many cases of
one agent, and a fresh `suitesync emulator --list-shape paged --page-size 100` process; the rounds
go round-robin over the sizes, so the medians are of the same run. Measured per round:
- creates/s: `--creates` POSTs from `--clients` threads, one connection each;
- a page: GET of the last page (100 cases), client-side, median of `--pages` after one warm-up
  (the first list after start reads the agent's order once: shown as "first page");
- the whole list: the same list as a bare array (the legacy shape, everything at once).
Then the rate limit: `--clients` threads send as fast as they can to an emulator limited to
50 requests a second in bursts of 10, for `--rate-seconds`; the admitted rate is shown.

To compare with another version of the emulator, run this script with PYTHONPATH pointing at
that version's source: the emulator child and the seeding both use it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_emulator import AGENT, BODY, HEADERS, start_emulator  # noqa: E402

from _common import print_table  # noqa: E402

PAGE = 100
# The body as the emulator stores it (normalised fields), for seeding the state file directly.
STORED = {k: BODY[k] for k in ("userPrompt", "successCriteria", "label", "llmModel", "mockData", "attempt")}


def seed(path: Path, cases: int) -> None:
    """A state file holding `cases` test cases of AGENT, written in one transaction."""
    from suitesync.emulator.store import Store

    store = Store(path)
    store.add_agent(AGENT)
    now = time.time() - 3600
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO test_cases VALUES (?, ?, ?, ?, ?)",
            ((f"tc_seed{n:011d}", AGENT, json.dumps(STORED), now, n + 1) for n in range(cases)),
        )
    store.close()


def create_rate(url: str, clients: int, total: int) -> float:
    per_client = total // clients
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
            client.get("/v1/agents").raise_for_status()  # connected before the clock starts
            barrier.wait()
            for _ in range(per_client):
                client.post("/v1/test-cases", json=BODY).raise_for_status()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return per_client * clients / (time.perf_counter() - started)


def timed_get(client: httpx.Client, params: dict[str, str | int]) -> float:
    started = time.perf_counter()
    client.get("/v1/test-cases", params=params).raise_for_status()
    return time.perf_counter() - started


def list_times(url: str, cases: int, pages: int) -> tuple[float, float, float]:
    """(first page s, median page s, whole bare-array list s) of the agent's list."""
    last = {"agentId": AGENT, "size": PAGE, "page": cases // PAGE - 1}
    with httpx.Client(base_url=url, headers=HEADERS, timeout=600) as client:
        first = timed_get(client, last)
        page = statistics.median(timed_get(client, last) for _ in range(pages))
        httpx.put(f"{url}/_emulator/faults", json={"list_shape": "array"}).raise_for_status()
        whole = timed_get(client, {"agentId": AGENT})
    return first, page, whole


def one_round(seeded: Path, work: Path, cases: int, args: argparse.Namespace) -> tuple[float, ...]:
    state = work / "state.sqlite3"
    shutil.copyfile(seeded, state)
    proc, url = start_emulator(state, "--list-shape", "paged", "--page-size", str(PAGE))
    try:
        first, page, whole = list_times(url, cases, args.pages)
        rate = create_rate(url, args.clients, args.creates)
    finally:
        proc.terminate()
        proc.wait()
    return rate, first, page, whole


def scale_table(args: argparse.Namespace, root: Path) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    seeded = {}
    for size in sizes:
        seeded[size] = root / f"seed-{size}.sqlite3"
        seed(seeded[size], size)
    samples: dict[int, list[tuple[float, ...]]] = {size: [] for size in sizes}
    for _ in range(args.repeat):
        for size in sizes:
            samples[size].append(one_round(seeded[size], root, size, args))
    rows = []
    for size in sizes:
        rate, first, page, whole = (statistics.median(s[i] for s in samples[size]) for i in range(4))
        rows.append(
            (
                f"{size:,}",
                f"{rate:,.0f}",
                f"{first * 1000:,.1f}",
                f"{page * 1000:.2f}",
                f"{whole * 1000:,.0f}",
                f"{whole / size * 1e6:.1f}",
            )
        )
    print(
        f"emulator at N existing cases of one agent; median of {args.repeat} rounds, sizes round-robin; "
        f"creates from {args.clients} clients; pages of {PAGE}"
    )
    headers = ["cases", "creates/s", "first page ms", "page ms", "whole list ms", "µs per listed case"]
    print_table(headers, rows)


def rate_limited(args: argparse.Namespace, root: Path) -> None:
    """The admitted rate, from the emulator's own log: (admitted - burst) / (last admitted - first
    arrival), which is the refill rate if the bucket paces exactly."""
    rps, burst = 50, 10
    argv = ("--rate-limit-rps", str(rps), "--rate-limit-burst", str(burst))
    proc, url = start_emulator(root / "limited.sqlite3", *argv)
    try:
        hammer(url, args.clients, args.rate_seconds)
        log = httpx.get(f"{url}/_emulator/requests").json()["requests"]
    finally:
        proc.terminate()
        proc.wait()
    admitted = sorted(r["started"] for r in log if r["status"] == 200)
    span = admitted[-1] - min(r["started"] for r in log)
    print(f"\nrate limit {rps}/s, burst {burst}; {args.clients} clients as fast as they can")
    print_table(
        ["seconds", "requests", "answered 429", "admitted", "(admitted - burst) / seconds"],
        [
            (
                f"{span:.2f}",
                len(log),
                len(log) - len(admitted),
                len(admitted),
                f"{(len(admitted) - burst) / span:.1f}",
            )
        ],
    )


def hammer(url: str, clients: int, seconds: float) -> None:
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
            while time.perf_counter() < deadline:
                client.get("/v1/agents")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--creates", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--rate-seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scale_table(args, Path(tmp))
        if args.rate_seconds > 0:
            rate_limited(args, Path(tmp))


if __name__ == "__main__":
    main()
