"""`suitesync apply` throughput: creates per second at 50 ms of emulator latency, vs the ideal.

Usage: python bench/bench_apply.py [--creates 1000] [--repeat 3] [--parallelism 1,8,16,32]

The ideal is min(C / latency, 1,000 req/s) (design §8). Throughput is measured on the emulator's
own request log, from the first create's arrival to the last create's answer, so interpreter
start-up and planning are not counted; the whole-process time is shown beside it. Parallelism 1
runs a fifth of the creates (it is a 20 req/s job). The sequential baseline is a plain loop of
single requests, one `httpx.post` each, as a script without suitesync would do it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, print_table, suitesync_argv

LATENCY_S = 0.05
AGENT = "D5D0p7TUs66TTAEAx"


def project(n: int) -> Path:
    root = OUT / f"apply-{n}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "suites").mkdir(parents=True)
    (root / "suitesync.yaml").write_text(f"agents: {{main: {AGENT}}}\n")
    for start in range(0, n, 50):
        body = "".join(
            f"  - id: case-{i:05d}\n    userPrompt: You are customer {i}.\n"
            f"    successCriteria: The agent helps {i}.\n"
            for i in range(start, min(start + 50, n))
        )
        (root / "suites" / f"s{start // 50:03d}.yaml").write_text(f"agent: main\ncases:\n{body}")
    return root


def create_rate(url: str) -> float:
    log = httpx.get(f"{url}/_emulator/requests").json()["requests"]
    posts = [r for r in log if r["method"] == "POST"]
    return len(posts) / (max(r["time"] for r in posts) - min(r["started"] for r in posts))


def apply_once(root: Path, url: str, parallelism: int) -> tuple[float, float]:
    httpx.post(f"{url}/_emulator/reset")
    (root / "suitesync.lock").unlink(missing_ok=True)
    env = {**os.environ, "SIGMAMIND_BASE_URL": url, "SIGMAMIND_API_KEY": "bench"}
    started = time.perf_counter()
    subprocess.run(
        suitesync_argv("apply", "--auto-approve", "--parallelism", str(parallelism), "-C", str(root)),
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return create_rate(url), time.perf_counter() - started


def sequential_once(url: str, n: int) -> float:
    httpx.post(f"{url}/_emulator/reset")
    body = {"agentId": AGENT, "userPrompt": "p", "successCriteria": "s"}
    for _ in range(n):
        httpx.post(f"{url}/v1/test-cases", json=body, headers={"X-API-Key": "bench"}).raise_for_status()
    return create_rate(url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parallelism", default="1,8,16,32")
    args = parser.parse_args()
    state = OUT / "apply-emulator.sqlite3"
    state.unlink(missing_ok=True)
    server = subprocess.Popen(
        suitesync_argv(
            "emulator", "--port", "0", "--state", str(state), "--agent", AGENT, "--latency-ms", "50"
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    rows = []
    try:
        rates: dict[int, float] = {}
        for c in (int(p) for p in args.parallelism.split(",")):
            n = args.creates // 5 if c == 1 else args.creates
            root = project(n)
            runs = [apply_once(root, url, c) for _ in range(args.repeat)]
            rate = statistics.median(r[0] for r in runs)
            rates[c] = rate
            ideal = min(c / LATENCY_S, 1000.0)
            rows.append(
                (
                    f"apply -p {c}",
                    n,
                    f"{statistics.median(r[1] for r in runs):.2f}",
                    f"{rate:.0f}",
                    f"{ideal:.0f}",
                    f"{rate / ideal * 100:.0f}%",
                )
            )
        sequential = statistics.median(sequential_once(url, args.creates // 5) for _ in range(args.repeat))
        rows.append(
            (
                "sequential httpx.post loop",
                args.creates // 5,
                "-",
                f"{sequential:.0f}",
                f"{1 / LATENCY_S:.0f}",
                f"{sequential * LATENCY_S * 100:.0f}%",
            )
        )
    finally:
        server.terminate()
        server.wait()
    print(
        f"apply, emulator latency 50 ms; median of {args.repeat}; creates/s from the emulator's request log"
    )
    print_table(["run", "creates", "process s", "creates/s", "ideal/s", "of ideal"], rows)
    if 16 in rates:
        print(f"\ndefault parallelism (16) vs the sequential loop: {rates[16] / sequential:.1f}x faster")


if __name__ == "__main__":
    main()
