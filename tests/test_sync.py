"""Two-way sync: adopting instead of duplicating, lockfile merges (real git, the emulator)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from suitesync.emulator import Emulator
from suitesync.lockfile import read_lockfile

from conftest import remote_state, run_cli, write_project

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "HOME": str(root.parent)}
    return subprocess.run(["git", *args], cwd=root, env=env, text=True, capture_output=True, check=check)


def add_case(root: Path, case_id: str, text: str) -> None:
    (root / "suites" / f"{case_id}.yaml").write_text(
        f"agent: main\ncases:\n  - id: {case_id}\n    userPrompt: {text}\n    successCriteria: Helps.\n"
    )


def posts(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests() if r["method"] == "POST")


def repository(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository holding a project of 2 applied cases, committed on `main`."""
    root = write_project(tmp_path / "repo", 2)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "two cases")
    return root


def apply_on_branch(root: Path, branch: str, case_id: str) -> None:
    git(root, "checkout", "-q", "-b", branch, "main")
    add_case(root, case_id, f"You are the customer of {case_id}.")
    result = run_cli("apply", "--auto-approve", cwd=root)
    assert result.code == 0, result.err
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"add {case_id}")


def test_a_lockfile_conflict_resolved_with_ours_adopts_instead_of_duplicating(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repository(tmp_path, emulator, monkeypatch)
    apply_on_branch(root, "alice", "alice-case")
    apply_on_branch(root, "bob", "bob-case")
    merge = git(root, "merge", "--no-edit", "alice", check=False)
    assert merge.returncode != 0 and "CONFLICT" in merge.stdout + merge.stderr
    assert "suitesync.lock" in git(root, "diff", "--name-only", "--diff-filter=U").stdout
    git(root, "checkout", "--ours", "suitesync.lock")  # the story: bob keeps his lockfile
    git(root, "add", "suitesync.lock")
    git(root, "commit", "-q", "--no-edit")
    assert "alice-case" not in (root / "suitesync.lock").read_text()
    emulator.clear_requests()

    plan = run_cli("plan", cwd=root)
    assert plan.code == 0, plan.err
    assert "Plan: 0 to create, 0 to update, 0 to delete, 1 lockfile-only; 3 unchanged." in plan.out
    assert "= adopt    alice-case" in plan.out
    assert "recorded, not created again" in plan.out
    assert "Not touched" not in plan.out  # the case it adopts is not listed as unmanaged too
    apply = run_cli("apply", "--auto-approve", cwd=root)
    assert apply.code == 0, apply.err
    assert "adopted" in apply.out
    assert posts(emulator) == 0
    assert len(remote_state(emulator)) == 4  # zero duplicates
    lock = read_lockfile(root / "suitesync.lock")
    assert sorted(lock.cases) == ["alice-case", "bob-case", "case-0000", "case-0001"]
    assert {e.test_case_id: e.hash for e in lock.cases.values()} == remote_state(emulator)
    again = run_cli("plan", "--detailed-exitcode", cwd=root)
    assert again.code == 0, again.out


def test_two_equal_cases_and_one_remote_match_adopt_once_by_id(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "p", 0)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    twin = "    label: Twin\n    userPrompt: Same.\n    successCriteria: Same.\n"
    suite = f"agent: main\ncases:\n  - id: twin-b\n{twin}  - id: twin-a\n{twin}"
    (root / "suites" / "twins.yaml").write_text(suite)
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    (root / "suitesync.lock").unlink()  # the lockfile is lost; one remote copy is deleted by hand
    emulator.store.delete_case(sorted(remote_state(emulator))[0])
    plan = run_cli("plan", "--format", "json", cwd=root)
    assert plan.code == 0, plan.err
    actions = {a["id"]: a["kind"] for a in json.loads(plan.out)["actions"]}
    assert actions == {"twin-a": "adopt", "twin-b": "create"}
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    assert len(remote_state(emulator)) == 2
    assert run_cli("plan", "--detailed-exitcode", cwd=root).code == 0
