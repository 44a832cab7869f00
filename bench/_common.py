"""Shared by the benchmarks: generate projects, run a command in a child process, print tables."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

PROMPT = (
    "You are a customer number {n} who wants to {goal}. You are polite at first but become "
    "impatient if the agent repeats itself. You mention your account number and ask for a "
    "confirmation e-mail at the end of the conversation."
)
CRITERIA = (
    "The agent identifies the customer, resolves the request to {goal} without inventing "
    "policies, confirms the outcome in one clear sentence, and offers a confirmation e-mail."
)
GOALS = ["cancel a subscription", "change a delivery address", "dispute a charge", "upgrade a plan"]


def case_yaml(n: int, invalid: bool = False) -> str:
    goal = GOALS[n % len(GOALS)]
    attempt = 0 if invalid else 1 + n % 5
    return (
        f"  - id: case-{n:06d}\n"
        f"    label: Generated case {n} - {goal}\n"
        f"    userPrompt: >-\n      {PROMPT.format(n=n, goal=goal)}\n"
        f"    successCriteria: >-\n      {CRITERIA.format(goal=goal)}\n"
        f'    mockData:\n      customer_name: Customer {n}\n      account_id: "{n:08d}"\n'
        f"    attempt: {attempt}\n"
    )


def make_project(cases: int, per_file: int, invalid_every: int = 0, name: str = "") -> Path:
    """A project with `cases` cases, `per_file` to a file; every `invalid_every`-th case invalid."""
    root = OUT / (name or f"p{cases}-{per_file}-{invalid_every}")
    marker = root / ".complete"
    if marker.exists():
        return root
    suites = root / "suites"
    suites.mkdir(parents=True, exist_ok=True)
    (root / "suitesync.yaml").write_text(
        'suites: ["suites/**/*.yaml"]\nagents: {support: D5D0p7TUs66TTAEAx}\n'
    )
    for start in range(0, cases, per_file):
        body = "".join(
            case_yaml(n, invalid=bool(invalid_every) and n % invalid_every == invalid_every - 1)
            for n in range(start, min(start + per_file, cases))
        )
        header = (
            "agent: support\ndefaults:\n  llmModel: gpt-4o-mini\n  mockData:\n    channel: chat\ncases:\n"
        )
        (suites / f"suite-{start // per_file:05d}.yaml").write_text(header + body)
    marker.touch()
    return root


def run_measured(argv: Sequence[str]) -> tuple[float, int, int]:
    """Run argv as a child with its output discarded; return (wall seconds, peak RSS KiB, exit code)."""
    quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    started = time.perf_counter()
    pid = os.posix_spawn(argv[0], list(argv), dict(os.environ), file_actions=quiet)
    _, status, usage = os.wait4(pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def interleaved(commands: dict[str, Sequence[str]], repeat: int) -> dict[str, tuple[float, int, int]]:
    """Median (seconds, peak KiB, last exit code) per command, running them round-robin.

    Round-robin keeps the ratios between commands fair when the shared machine's load drifts.
    """
    runs: dict[str, list[tuple[float, int, int]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, argv in commands.items():
            runs[name].append(run_measured(argv))
    return {
        name: (statistics.median(r[0] for r in rs), max(r[1] for r in rs), rs[-1][2])
        for name, rs in runs.items()
    }


def suitesync_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "suitesync", *args]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)) + " |")


TIMED = str(Path(__file__).resolve().parent / "timed.py")


def timed_runs(commands: dict[str, list[str]], repeat: int) -> dict[str, dict[str, float]]:
    """Per command (suitesync args, or ["--floor", project]): medians of wall time, in-process work
    time and peak RSS over `repeat` runs, the commands round-robin."""
    import json
    import tempfile

    samples: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        for _ in range(repeat):
            for name, args in commands.items():
                wall, _, code = run_measured([sys.executable, TIMED, str(result), *args])
                assert code == 0, f"{name}: the runner failed"
                sample = json.loads(result.read_text())
                samples[name].append({**sample, "wall": wall})
    return {
        name: {key: statistics.median(s[key] for s in runs) for key in ("wall", "work", "hwm_mb", "exit")}
        for name, runs in samples.items()
    }
