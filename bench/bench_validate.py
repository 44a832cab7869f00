"""`suitesync validate` on generated projects: whole-process time, per-case cost vs the libyaml floor.

Usage: python bench/bench_validate.py [--sizes 1000,10000,50000] [--repeat 5]

Every figure is a median of --repeat child processes, the commands of one size run round-robin.
Per-case costs subtract each command's own fixed cost (the same command on a project with no
cases: interpreter start and imports), so they compare the work that grows with the project.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, interleaved, make_project, print_table, suitesync_argv  # noqa: E402

FLOOR = str(Path(__file__).resolve().parent / "floor.py")
PER_FILE = 50  # issue 2: N cases over N/50 files


def empty_project() -> Path:
    root = OUT / "empty"
    (root / "suites").mkdir(parents=True, exist_ok=True)
    (root / "suitesync.yaml").write_text("agents: {support: D5D0p7TUs66TTAEAx}\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    empty = empty_project()
    fixed = interleaved(
        {
            "validate": suitesync_argv("validate", "-C", str(empty)),
            "floor": [sys.executable, FLOOR, str(empty)],
        },
        args.repeat,
    )
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        valid, invalid = make_project(n, PER_FILE), make_project(n, PER_FILE, invalid_every=20)
        got = interleaved(
            {
                "valid": suitesync_argv("validate", "-C", str(valid)),
                "invalid": suitesync_argv("validate", "-C", str(invalid)),
                "floor": [sys.executable, FLOOR, str(valid)],
            },
            args.repeat,
        )
        assert got["valid"][2] == 0 and got["invalid"][2] == 1, "unexpected exit codes"
        per_case = (got["valid"][0] - fixed["validate"][0]) / n * 1e6
        floor_case = (got["floor"][0] - fixed["floor"][0]) / n * 1e6
        rows.append(
            (
                n,
                n // PER_FILE,
                f"{got['valid'][0]:.3f}",
                f"{per_case:.1f}",
                f"{floor_case:.1f}",
                f"{per_case / floor_case:.2f}x",
                f"{got['invalid'][0]:.3f}",
                f"{(got['invalid'][0] / got['valid'][0] - 1) * 100:+.1f}%",
                f"{got['valid'][1] / 1024:.0f}",
            )
        )
    print(
        f"fixed cost (empty project): validate {fixed['validate'][0] * 1000:.0f} ms, "
        f"floor {fixed['floor'][0] * 1000:.0f} ms; medians of {args.repeat}, round-robin"
    )
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
