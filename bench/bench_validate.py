"""`suitesync validate` on generated projects: whole-process time, per-case cost vs the libyaml floor.

Usage: python bench/bench_validate.py [--sizes 1000,10000,50000] [--repeat 5]

Every figure is a median of --repeat child processes, the commands of one size run round-robin.
`validate s` is the whole process; per-case costs and the cost of reporting errors are the
in-process work after imports (bench/timed.py), so they compare the work that grows with the
project rather than interpreter start-up.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import make_project, print_table, timed_runs

PER_FILE = 50  # issue 2: N cases over N/50 files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        valid, invalid = make_project(n, PER_FILE), make_project(n, PER_FILE, invalid_every=20)
        got = timed_runs(
            {
                "valid": ["validate", "-C", str(valid)],
                "invalid": ["validate", "-C", str(invalid)],
                "floor": ["--floor", str(valid)],
            },
            args.repeat,
        )
        assert got["valid"]["exit"] == 0 and got["invalid"]["exit"] == 1, "unexpected exit codes"
        per_case = got["valid"]["work"] / n * 1e6
        floor_case = got["floor"]["work"] / n * 1e6
        errors_add = got["invalid"]["work"] / got["valid"]["work"] - 1
        rows.append(
            (
                n,
                n // PER_FILE,
                f"{got['valid']['wall']:.3f}",
                f"{per_case:.1f}",
                f"{floor_case:.1f}",
                f"{per_case / floor_case:.2f}x",
                f"{got['invalid']['wall']:.3f}",
                f"{errors_add * 100:+.1f}%",
                f"{got['valid']['hwm_mb']:.0f}",
            )
        )
    print(f"validate; medians of {args.repeat}, round-robin; µs/case and 'errors add' are in-process work")
    print_table(
        [
            "cases",
            "files",
            "validate s",
            "µs/case",
            "floor µs/case",
            "vs floor",
            "5% invalid s",
            "errors add",
            "peak MB",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
