"""Start-up cost: `suitesync --help` and `suitesync schema` as whole processes (design §8: <= 100 ms).

Usage: python bench/bench_startup.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, run_measured, suitesync_argv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "suitesync --help": suitesync_argv("--help"),
        "suitesync schema": suitesync_argv("schema"),
    }
    rows = []
    for name, argv in commands.items():
        times = [run_measured(argv)[0] for _ in range(args.repeat)]
        rows.append((name, f"{statistics.median(times) * 1000:.0f}", f"{min(times) * 1000:.0f}"))
    print(f"whole-process wall time, median of {args.repeat}")
    print_table(["command", "median ms", "min ms"], rows)


if __name__ == "__main__":
    main()
