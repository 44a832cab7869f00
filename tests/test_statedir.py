"""`.suitesync/` in a user's git repository: it ignores itself, and what holds platform data is private."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from conftest import copy_examples, run_cli


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return proc.stdout


def a_repository(tmp_path: Path) -> Path:
    root = copy_examples(tmp_path / "repo")
    git(root, "init", "-q")
    return root


def test_git_add_all_never_stages_the_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = a_repository(tmp_path)
    suite = root / "suites" / "support" / "cancellations.yaml"
    suite.write_text(suite.read_text().replace("customer_name: John Doe", "customer_name: ${env:PIN}"))
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "local")
    monkeypatch.setenv("PIN", "4711")
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    assert (root / ".suitesync" / "emulator.sqlite3").is_file()  # it holds the secret, as the platform does
    git(root, "add", "-A")
    staged = git(root, "diff", "--cached", "--name-only").splitlines()
    assert "suitesync.lock" in staged
    assert [path for path in staged if path.startswith(".suitesync")] == []
    assert (root / ".suitesync" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_files_holding_platform_data_are_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = a_repository(tmp_path)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "local")
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0  # the backup exists from now on
    state = root / ".suitesync"
    private = sorted(p.name for p in state.iterdir() if p.name != ".gitignore")
    assert {"emulator.sqlite3", "suitesync.lock.backup", "apply.lock"} <= set(private)
    modes = {name: stat.S_IMODE((state / name).stat().st_mode) for name in private}
    assert modes == dict.fromkeys(private, 0o600)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def test_an_existing_state_folder_gets_its_gitignore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = a_repository(tmp_path)
    (root / ".suitesync").mkdir()
    (root / ".suitesync" / "emulator.sqlite3").write_bytes(b"")  # left by an earlier version
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "local")
    assert run_cli("plan", cwd=root).code == 0
    git(root, "add", "-A")
    assert ".suitesync" not in git(root, "diff", "--cached", "--name-only")
    assert stat.S_IMODE((root / ".suitesync" / "emulator.sqlite3").stat().st_mode) == 0o600


def test_a_state_folder_the_emulator_makes_ignores_itself(tmp_path: Path) -> None:
    from suitesync.emulator import Emulator

    with Emulator(state=tmp_path / "fresh" / "state.sqlite3"):
        pass
    assert (tmp_path / "fresh" / ".gitignore").read_text().endswith("*\n")
    assert stat.S_IMODE((tmp_path / "fresh" / "state.sqlite3").stat().st_mode) == 0o600
