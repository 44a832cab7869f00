"""Run one suitesync command in this process and report its cost, excluding interpreter start-up.

Usage: python bench/timed.py RESULT.json suitesync-args...   (or: RESULT.json --floor PROJECT)

Writes {"work": s, "exit": code, "hwm_mb": peak RSS}: `work` is the command after every module it
uses is imported, so per-case figures are not drowned by import time at small sizes. Peak RSS is
this process's VmHWM, read from /proc (ru_maxrss of a child spawned by a large parent is inflated).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_floor(project: str) -> int:
    from suitesync.load import iter_events

    for path in sorted(Path(project).glob("suites/**/*.yaml")):
        for _event in iter_events(path.read_text()):
            pass
    return 0


def main() -> None:
    result_path, args = Path(sys.argv[1]), sys.argv[2:]
    if args[0] == "--floor":
        import suitesync.load  # noqa: F401 - imported before timing

        started = time.perf_counter()
        code = run_floor(args[1])
    else:
        import suitesync.cli
        import suitesync.commands
        import suitesync.planfile
        import suitesync.report  # noqa: F401 - everything plan/validate use, imported before timing

        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = suitesync.cli.main(args)
    work = time.perf_counter() - started
    result_path.write_text(json.dumps({"work": work, "exit": int(code), "hwm_mb": peak_mb()}))


if __name__ == "__main__":
    main()
