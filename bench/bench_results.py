"""Results at scale: a run of 500 cases x 3 attempts writes its document; `report` renders 20 such
documents as HTML (target < 2 s) and the HTML of one stays under 5 MB.

The runs are real: `suitesync run` against the emulator (every 5th case passes each attempt with
probability 0.6, seeded, so that verdicts flip from run to run as real ones do). `report` is
timed as a whole process, the median of --repeat runs.

Usage: python bench/bench_results.py [--cases 500] [--runs 20] [--repeat 5]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CRITERIA, GOALS, OUT, PROMPT, print_table, suitesync_argv

AGENT = "D5D0p7TUs66TTAEAx"


def make_project(root: Path, cases: int) -> None:
    shutil.rmtree(root, ignore_errors=True)
    (root / "suites").mkdir(parents=True)
    (root / "suitesync.yaml").write_text(f"agents: {{support: {AGENT}}}\n")
    for start in range(0, cases, 50):
        lines = ["agent: support", "defaults:", "  attempt: 3", "cases:"]
        for n in range(start, min(start + 50, cases)):
            goal = GOALS[n % len(GOALS)]
            marker = " [emulator:pass-probability=0.6]" if n % 5 == 0 else ""
            lines += [
                f"  - id: case-{n:04d}",
                f"    userPrompt: {PROMPT.format(n=n, goal=goal)}{marker}",
                f"    successCriteria: {CRITERIA.format(goal=goal)}",
                f"    tags: [{'smoke' if n % 10 == 0 else 'full'}]",
            ]
        (root / "suites" / f"suite-{start // 50:03d}.yaml").write_text("\n".join(lines) + "\n")


def run_cli(root: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(suitesync_argv(*args), cwd=root, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 3):
        raise SystemExit(f"suitesync {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return time.perf_counter() - started


def timed_report(root: Path, documents: list[Path], out: Path, repeat: int) -> tuple[float, float]:
    """Medians of (wall seconds, CPU seconds) of the report as a whole process. CPU time is shown
    too: on a 2-core machine shared with other jobs, wall time also measures the neighbours."""
    argv = suitesync_argv("report", *map(str, documents), "--format", "html", "-o", str(out))
    walls, cpus = [], []
    for _ in range(repeat):
        quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
        started = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=quiet)
        _, status, usage = os.wait4(pid, 0)
        walls.append(time.perf_counter() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
        assert os.waitstatus_to_exitcode(status) == 0, "report failed"
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from suitesync.emulator import Emulator, FaultConfig

    root = OUT / "results-project"
    make_project(root, args.cases)
    with Emulator(state=None, agents=[AGENT], faults=FaultConfig(run_seconds=0.2, seed=1)) as emulator:
        os.environ["SIGMAMIND_BASE_URL"] = emulator.url
        os.environ.setdefault("SIGMAMIND_API_KEY", "bench")
        run_cli(root, "apply", "--auto-approve")
        run_times = [run_cli(root, "run", "--results", "last.json") for _ in range(args.runs)]
    history = sorted((root / ".suitesync" / "results").glob("*.json"))
    one, twenty = root / "one.html", root / "twenty.html"
    one_s, one_cpu = timed_report(root, history[-1:], one, args.repeat)
    many_s, many_cpu = timed_report(root, history, twenty, args.repeat)

    mb = 1024 * 1024
    print(f"{args.cases} cases x 3 attempts, {len(history)} runs; report: median of {args.repeat} processes")
    print_table(
        ["figure", "target", "measured"],
        [
            ("`run` wall time (0.2 s test runs), median", "-", f"{statistics.median(run_times):.2f} s"),
            ("results document size", "-", f"{(root / 'last.json').stat().st_size / mb:.2f} MB"),
            ("`report --format html`, 1 document", "-", f"{one_s:.2f} s ({one_cpu:.2f} s CPU)"),
            (
                f"`report --format html`, {len(history)} documents",
                "< 2 s",
                f"{many_s:.2f} s ({many_cpu:.2f} s CPU)",
            ),
            ("HTML of 1 document", "< 5 MB", f"{one.stat().st_size / mb:.2f} MB"),
            (f"HTML of {len(history)} documents (with history)", "-", f"{twenty.stat().st_size / mb:.2f} MB"),
        ],
    )


if __name__ == "__main__":
    main()
