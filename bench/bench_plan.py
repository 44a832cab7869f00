"""`suitesync plan` with nothing to change: --no-refresh (files + lockfile) and with refresh (emulator).

Usage: python bench/bench_plan.py [--sizes 1000,10000,50000] [--refresh-sizes 1000,10000] [--repeat 5]

Projects have 20 cases a file (design §8: 10k cases in 500 files). Every figure is a median of
--repeat child processes, run round-robin with the libyaml events-only floor of the same files.
`plan s` is the whole process; per-case costs are the in-process work after imports
(bench/timed.py), so they compare the work that grows with the project.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suitesync.commands.project import load_desired
from suitesync.emulator.store import Store
from suitesync.lockfile import LockEntry, Lockfile, write_lockfile
from suitesync.settings import load_settings

from _common import make_project, print_table, suitesync_argv, timed_runs

FLOOR = str(Path(__file__).resolve().parent / "floor.py")
PER_FILE = 20
AGENT = "D5D0p7TUs66TTAEAx"


def lock_project(root: Path, store: Store | None = None) -> None:
    """Write a lockfile that matches the suites (and, given a store, create the remote cases)."""
    settings = load_settings(root, environ={})
    lock = Lockfile.new()
    for n, case in enumerate(load_desired(settings).cases):
        tc_id = store.create_case(case.agent_id, case.payload) if store else f"tc_{n:016d}"
        lock.cases[case.id] = LockEntry(tc_id, case.agent_id, case.hash, protect=case.protect)
    write_lockfile(lock, settings.lockfile)


def no_refresh_rows(sizes: list[int], repeat: int) -> list[tuple[object, ...]]:
    rows = []
    base_per_case = None
    for n in sizes:
        root = make_project(n, PER_FILE, name=f"plan-{n}")
        lock_project(root)
        got = timed_runs(
            {
                "plan": ["plan", "--no-refresh", "--detailed-exitcode", "-C", str(root)],
                "floor": ["--floor", str(root)],
            },
            repeat,
        )
        assert got["plan"]["exit"] == 0, "the plan should have nothing to do"
        per_case = got["plan"]["work"] / n * 1e6
        floor_case = got["floor"]["work"] / n * 1e6
        base_per_case = base_per_case or per_case
        rows.append(
            (
                n,
                n // PER_FILE,
                f"{got['plan']['wall']:.3f}",
                f"{per_case:.1f}",
                f"{per_case / base_per_case:.2f}x",
                f"{floor_case:.1f}",
                f"{per_case / floor_case:.2f}x",
                f"{got['plan']['hwm_mb']:.0f}",
            )
        )
    return rows


def refresh_rows(sizes: list[int], repeat: int) -> list[tuple[object, ...]]:
    rows = []
    for n in sizes:
        root = make_project(n, PER_FILE, name=f"plan-refresh-{n}")
        state = root / "emulator.sqlite3"
        if not state.exists():
            store = Store(state)
            store.add_agent(AGENT)
            lock_project(root, store)
            store.close()
        server = subprocess.Popen(
            suitesync_argv("emulator", "--port", "0", "--state", str(state)),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        try:
            os.environ.update(SIGMAMIND_BASE_URL=url, SIGMAMIND_API_KEY="bench")
            got = timed_runs({"plan": ["plan", "--detailed-exitcode", "-C", str(root)]}, repeat)["plan"]
        finally:
            server.terminate()
            server.wait()
        assert got["exit"] == 0, "the refreshed plan should have nothing to do"
        rows.append((n, f"{got['wall']:.3f}", f"{got['work'] / n * 1e6:.1f}", f"{got['hwm_mb']:.0f}"))
    return rows


def edit_rows(n: int) -> list[tuple[object, ...]]:
    """Insert one case in the middle of a file; reorder a file: the plans must be 1 create / empty."""
    root = make_project(n, PER_FILE, name=f"plan-edit-{n}")
    lock_project(root)
    middle = sorted((root / "suites").glob("*.yaml"))[len(list((root / "suites").glob("*.yaml"))) // 2]
    original = middle.read_text()
    header, _, body = original.partition("cases:\n")
    cases = ["  - id:" + c for c in body.split("  - id:")[1:]]
    rows = []
    for name, text in (
        (
            "insert one case",
            header
            + "cases:\n"
            + "".join(cases[:5])
            + cases[0].replace("id: case-", "id: new-case-")
            + "".join(cases[5:]),
        ),
        ("reverse a file's cases", header + "cases:\n" + "".join(reversed(cases))),
    ):
        middle.write_text(text)
        result = subprocess.run(
            suitesync_argv("plan", "--no-refresh", "--format", "json", "-C", str(root)),
            capture_output=True,
            text=True,
            check=True,
        )
        summary = json.loads(result.stdout)["summary"]
        rows.append((name, summary["create"], summary["update"], summary["delete"], summary["unchanged"]))
        middle.write_text(original)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--refresh-sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"plan --no-refresh, nothing to change; medians of {args.repeat}, round-robin with the floor")
    print_table(
        ["cases", "files", "plan s", "µs/case", "vs 1st size", "floor µs/case", "vs floor", "peak MB"],
        no_refresh_rows(sizes, args.repeat),
    )
    print()
    print(f"plan (refresh against the emulator, one agent), nothing to change; median of {args.repeat}")
    print_table(
        ["cases", "plan s", "µs/case", "peak MB"],
        refresh_rows([int(s) for s in args.refresh_sizes.split(",")], args.repeat),
    )
    print()
    print(f"edits on a {sizes[min(1, len(sizes) - 1)]}-case project (plan --no-refresh)")
    print_table(["edit", "create", "update", "delete", "unchanged"], edit_rows(sizes[min(1, len(sizes) - 1)]))


if __name__ == "__main__":
    main()
