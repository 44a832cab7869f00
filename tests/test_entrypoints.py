"""The installed console script and `python -m suitesync`, as separate processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import EXAMPLES


def test_python_dash_m_runs_validate() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "suitesync", "validate", "-C", str(EXAMPLES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("ok: ")


def test_console_script_help_lists_exit_codes() -> None:
    exe = Path(sys.executable).parent / "suitesync"  # installed beside the interpreter
    assert exe.is_file(), "the package must be installed with its console script"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    for line in ("0    success", "2    plan --detailed-exitcode", "64   usage error", "130  interrupted"):
        assert line in proc.stdout


def test_help_imports_only_click() -> None:
    code = (
        "import sys; from suitesync.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'pydantic', 'httpx', 'jsonschema', 'jsonschema_rs', 'deepdiff', 'ruamel', 'yaml'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_the_wheel_ships_the_schemas(tmp_path: Path) -> None:
    """A plain `pip install` (not editable) must carry schemas/ inside the package."""
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",  # the build backend from the lock, not the newest release
            str(root),
            "-w",
            str(tmp_path / "dist"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("suitesync-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        f"import sys; sys.path.insert(0, {str(target)!r}); import suitesync, json\n"
        f"assert suitesync.__file__.startswith({str(target)!r}), suitesync.__file__\n"
        "from suitesync.schema import load_schema, LOCKFILE, PLAN, SUITE\n"
        "print(sorted(load_schema(n)['title'] for n in (SUITE, LOCKFILE, PLAN)))\n"
        "from suitesync.cli import main\n"
        f"print('validate exit', main(['validate', '-C', {str(root / 'examples')!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    titles = "['suitesync lockfile', 'suitesync plan', 'suitesync suite file']"
    assert proc.stdout.splitlines() == [titles, "validate exit 0"], proc.stderr
    assert proc.stderr.startswith("ok: 3 files, 13 cases")
