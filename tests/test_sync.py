"""Two-way sync: adopting instead of duplicating, lockfile merges (real git, the emulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


# --- lockfile merges ------------------------------------------------------------------------------


def use_merge_driver(root: Path) -> None:
    """What the README tells a team to do once: the attribute (committed) and the driver (config)."""
    (root / ".gitattributes").write_text("suitesync.lock merge=suitesync\nsuitesync.*.lock merge=suitesync\n")
    git(root, "add", ".gitattributes")
    git(root, "commit", "-q", "-m", "lockfile merge driver")
    git(root, "config", "merge.suitesync.name", "suitesync lockfile merge")
    git(root, "config", "merge.suitesync.driver", f"{sys.executable} -m suitesync lockfile merge %O %A %B %P")


def test_the_merge_driver_merges_two_applied_branches_cleanly(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repository(tmp_path, emulator, monkeypatch)
    use_merge_driver(root)
    apply_on_branch(root, "alice", "alice-case")
    apply_on_branch(root, "bob", "bob-case")
    serials = [read_lockfile(root / "suitesync.lock").serial]
    git(root, "checkout", "-q", "alice")
    serials.append(read_lockfile(root / "suitesync.lock").serial)
    lineage = read_lockfile(root / "suitesync.lock").lineage
    git(root, "checkout", "-q", "bob")
    merge = git(root, "merge", "--no-edit", "alice", check=False)
    assert merge.returncode == 0, merge.stdout + merge.stderr
    assert "merged the lockfile suitesync.lock: 1 entry added and 0 removed" in merge.stdout + merge.stderr
    lock = read_lockfile(root / "suitesync.lock")
    assert sorted(lock.cases) == ["alice-case", "bob-case", "case-0000", "case-0001"]
    assert lock.lineage == lineage and lock.serial > max(serials)
    emulator.clear_requests()
    plan = run_cli("plan", "--detailed-exitcode", cwd=root)
    assert plan.code == 0, plan.out + plan.err
    assert "No changes. 4 cases match the platform." in plan.out
    assert len(remote_state(emulator)) == 4


def test_the_merge_driver_reports_one_id_naming_two_remote_cases(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repository(tmp_path, emulator, monkeypatch)
    use_merge_driver(root)
    for branch in ("alice", "bob"):  # both make a case `twin`, in files of their own
        git(root, "checkout", "-q", "-b", branch, "main")
        (root / "suites" / f"{branch}.yaml").write_text(
            f"agent: main\ncases:\n  - id: twin\n    userPrompt: {branch}.\n    successCriteria: Helps.\n"
        )
        assert run_cli("apply", "--auto-approve", cwd=root).code == 0
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", branch)
    ours = read_lockfile(root / "suitesync.lock").cases["twin"].test_case_id
    merge = git(root, "merge", "--no-edit", "alice", check=False)
    output = merge.stdout + merge.stderr
    assert merge.returncode != 0
    assert "could not merge the lockfile suitesync.lock: 1 conflict" in output
    assert f"  twin: ours {ours} (agent D5D0p7TUs66TTAEAx), theirs tc_" in output
    assert "Traceback" not in output
    assert "suitesync.lock" in git(root, "diff", "--name-only", "--diff-filter=U").stdout
    assert read_lockfile(root / "suitesync.lock").cases["twin"].test_case_id == ours  # still valid JSON


def test_lockfile_merge_keeps_a_rename_and_drops_what_theirs_removed(tmp_path: Path) -> None:
    """Three-way by id: a rename on one side and an update of the old entry on the other keep the
    rename; an entry removed by theirs (a prune) goes; a confirmed create beats a pending one."""
    from suitesync.lockfile import LockEntry, Lockfile, write_lockfile

    h1, h2 = "1" * 64, "2" * 64
    base = {"old": LockEntry("tc_1", "A", h1), "gone": LockEntry("tc_2", "A", h1)}
    ours = {
        "new": LockEntry("tc_1", "A", h1),
        "gone": LockEntry("tc_2", "A", h1),
        "p": LockEntry(None, "A", h1, pending=True),
    }
    theirs = {"old": LockEntry("tc_1", "A", h2), "p": LockEntry("tc_3", "A", h1)}
    paths = []
    for name, cases, serial in (("base", base, 3), ("ours", ours, 5), ("theirs", theirs, 7)):
        path = tmp_path / name
        write_lockfile(Lockfile("a" * 32, serial, cases), path)
        paths.append(str(path))
    result = run_cli("lockfile", "merge", *paths)
    assert result.code == 0, result.err
    merged = read_lockfile(tmp_path / "ours")
    assert merged.cases == {"new": LockEntry("tc_1", "A", h1), "p": LockEntry("tc_3", "A", h1)}
    assert merged.serial == 8 and merged.lineage == "a" * 32


def test_lockfile_merge_of_an_unreadable_side_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "base").write_text("")
    (tmp_path / "ours").write_text("{not json")
    (tmp_path / "theirs").write_text("")
    result = run_cli("lockfile", "merge", *(str(tmp_path / n) for n in ("base", "ours", "theirs")))
    assert result.code == 1 and "Traceback" not in result.err
    assert result.err.startswith(f"error: {tmp_path / 'ours'}:1:")
