"""The release artefacts: the sdist and the wheel build (`python -m build`, the wheel made from the
sdist), pass `twine check`, and the wheel installed into a fresh venv works in a new project:
init, validate, plan and apply against the embedded emulator."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

from conftest import ROOT, assert_no_canary


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert_no_canary(proc.stdout + proc.stderr)
    return proc


def test_build_check_install_and_use_the_wheel(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # No isolation: the build backend is the locked one (as .ci/run installs the package).
    built = run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)], tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel, sdist = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert [p.name for p in wheel] == ["suitesync-0.1.0-py3-none-any.whl"]
    assert [p.name for p in sdist] == ["suitesync-0.1.0.tar.gz"]
    names = zipfile.ZipFile(wheel[0]).namelist()
    for packaged in [
        "suitesync/schemas/suite.schema.json",
        "suitesync/schemas/apply.schema.json",
        "suitesync/templates/example.yaml",
        "suitesync/templates/github-workflow.yml",
    ]:
        assert packaged in names

    twine = run(
        [str(Path(sys.executable).parent / "twine"), "check", "--strict", *map(str, dist.iterdir())], tmp_path
    )
    assert twine.returncode == 0, twine.stdout + twine.stderr

    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    installed = run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel[0])], tmp_path)
    assert installed.returncode == 0, installed.stderr

    project = tmp_path / "project"
    project.mkdir()
    env = {**os.environ, "SIGMAMIND_BASE_URL": "local", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    suitesync = str(bin_dir / "suitesync")
    steps = [
        ([suitesync, "init", "--agent", "AgentX01"], 0),
        ([suitesync, "validate"], 0),
        ([suitesync, "plan", "--detailed-exitcode"], 2),
        ([suitesync, "apply", "--auto-approve"], 0),
        ([suitesync, "plan", "--detailed-exitcode"], 0),
    ]
    outputs = []
    for argv, code in steps:
        proc = run(argv, project, env)
        assert proc.returncode == code, f"{argv[1:]}: {proc.stdout}{proc.stderr}"
        outputs.append(proc.stdout)
    assert "Apply complete: 2 created." in outputs[3]
    assert outputs[4] == "No changes. 2 cases match the platform.\n"
    # It ran from the venv, not from this checkout.
    where = run([str(bin_dir / "python"), "-c", "import suitesync; print(suitesync.__file__)"], tmp_path)
    assert where.stdout.startswith(str(tmp_path / "venv"))
