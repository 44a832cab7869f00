"""`suitesync state list|show|rm|mv|adopt` against the emulator, with real files on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from suitesync.client import SigmaMindClient
from suitesync.emulator import Emulator
from suitesync.lockfile import read_lockfile
from suitesync.secret import Secret

from conftest import AGENT, OTHER_AGENT, remote_state, run_cli, write_project

WRITES = {"POST", "PUT", "DELETE"}


@pytest.fixture
def applied(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project of 3 cases, applied."""
    root = write_project(tmp_path / "p", 3)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    return root


def backup(root: Path) -> Path:
    return root / ".suitesync" / "suitesync.lock.backup"


def test_state_list_shows_every_entry_with_its_place_in_the_suites(applied: Path) -> None:
    lock = read_lockfile(applied / "suitesync.lock")
    text = run_cli("state", "list", cwd=applied)
    assert text.code == 0, text.err
    first = lock.cases["case-0000"]
    assert f"case-0000  {first.test_case_id}  agent {AGENT}  suites/s000.yaml:3\n" in text.out
    assert text.out.count("\n") == 3 and text.err == "3 entries\n"
    document = json.loads(run_cli("state", "list", "--format", "json", cwd=applied).out)
    assert document["version"] == 1
    assert [c["id"] for c in document["cases"]] == ["case-0000", "case-0001", "case-0002"]
    assert document["cases"][1] | {"hash": "-"} == {
        "id": "case-0001",
        "testCaseId": lock.cases["case-0001"].test_case_id,
        "agentId": AGENT,
        "location": "suites/s000.yaml:8",
        "pending": False,
        "protect": False,
        "hash": "-",
        "appliedSerial": lock.cases["case-0001"].applied_serial,
        "project": None,
    }


def test_state_show_one_entry_and_refuses_an_unknown_id(applied: Path) -> None:
    lock = read_lockfile(applied / "suitesync.lock")
    shown = run_cli("state", "show", "case-0002", cwd=applied)
    assert shown.code == 0
    assert shown.out.startswith(f"case-0002\n  testCaseId: {lock.cases['case-0002'].test_case_id}\n")
    assert f"  hash: {lock.cases['case-0002'].hash}\n" in shown.out
    missing = run_cli("state", "show", "nope", cwd=applied)
    assert missing.code == 1
    assert "error: nope is not in " in missing.err and "hint: `suitesync state list`" in missing.err


def test_state_rm_forgets_the_entry_and_the_plan_lists_the_case_as_unmanaged(
    applied: Path, emulator: Emulator
) -> None:
    before = (applied / "suitesync.lock").read_text()
    tc_id = str(read_lockfile(applied / "suitesync.lock").cases["case-0001"].test_case_id)
    (applied / "suites" / "s000.yaml").write_text(
        (applied / "suites" / "s000.yaml").read_text().split("  - id: case-0001")[0]
    )  # the case leaves the suites too: forgotten, not deleted
    emulator.clear_requests()
    result = run_cli("state", "rm", "case-0001", "case-0002", cwd=applied)
    assert result.code == 0, result.err
    assert f"removed case-0001  ({tc_id}  agent {AGENT})" in result.out
    assert "the remote case stays on the platform; the next plan lists it as unmanaged" in result.err
    assert backup(applied).read_text() == before
    lock = read_lockfile(applied / "suitesync.lock")
    assert sorted(lock.cases) == ["case-0000"]
    assert lock.serial == read_serial(before) + 1
    assert [r for r in emulator.requests() if r["method"] in WRITES] == []
    plan = run_cli("plan", "--prune", cwd=applied)
    assert "unmanaged: " + tc_id in plan.out
    assert "delete" not in plan.out.split("Not touched")[0].replace("0 to delete", "")
    assert len(remote_state(emulator)) == 3


def read_serial(text: str) -> int:
    serial: int = json.loads(text)["serial"]
    return serial


def test_state_rm_refuses_unknown_ids_and_changes_nothing(applied: Path) -> None:
    before = (applied / "suitesync.lock").read_bytes()
    result = run_cli("state", "rm", "case-0000", "ghost", "ghost-2", cwd=applied)
    assert result.code == 1
    assert "error: ghost, ghost-2 are not in " in result.err and "nothing was changed" in result.err
    assert (applied / "suitesync.lock").read_bytes() == before


def test_state_mv_moves_an_entry_and_the_plan_sees_a_rename_done(applied: Path) -> None:
    suite = applied / "suites" / "s000.yaml"
    suite.write_text(suite.read_text().replace("id: case-0000", "id: first-case"))
    tc_id = read_lockfile(applied / "suitesync.lock").cases["case-0000"].test_case_id
    result = run_cli("state", "mv", "case-0000", "first-case", cwd=applied)
    assert result.code == 0, result.err
    assert f"moved case-0000 -> first-case  ({tc_id}  agent {AGENT})" in result.out
    assert read_lockfile(applied / "suitesync.lock").cases["first-case"].test_case_id == tc_id
    plan = run_cli("plan", "--detailed-exitcode", cwd=applied)  # the label is still the old id
    assert (
        plan.code == 2 and "~ update   first-case" in plan.out and "create" not in plan.out.split("\n\n")[1]
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("ghost", "x", "ghost is not in "),
        ("case-0000", "case-0001", "case-0001 is already recorded in "),
        ("case-0000", "Bad Id", "'Bad Id' is not a case id"),
    ],
)
def test_state_mv_refusals(applied: Path, old: str, new: str, message: str) -> None:
    before = (applied / "suitesync.lock").read_bytes()
    result = run_cli("state", "mv", old, new, cwd=applied)
    assert result.code == 1 and message in result.err, result.err
    assert (applied / "suitesync.lock").read_bytes() == before


def make_remote(emulator: Emulator, agent: str, prompt: str) -> str:
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        body = {"agentId": agent, "userPrompt": prompt, "successCriteria": "Helps.", "label": "By hand"}
        return client.create_case(body).test_case_id


def test_state_adopt_ties_a_remote_case_and_the_plan_shows_the_differences(
    applied: Path, emulator: Emulator
) -> None:
    suite = applied / "suites" / "extra.yaml"
    suite.write_text(
        "agent: main\ncases:\n  - id: extra\n    userPrompt: Wanted.\n    successCriteria: Helps.\n"
    )
    tc_id = make_remote(emulator, AGENT, "Made by hand.")
    emulator.clear_requests()
    result = run_cli("state", "adopt", "extra", tc_id, cwd=applied)
    assert result.code == 0, result.err
    assert f"adopted extra  ({tc_id}  agent {AGENT})" in result.out
    assert [r for r in emulator.requests() if r["method"] in WRITES] == []
    plan = run_cli("plan", cwd=applied)
    assert "Plan: 0 to create, 1 to update, 0 to delete; 3 unchanged." in plan.out
    assert f"~ update   extra  ({tc_id}" in plan.out
    assert (
        'label: "By hand" -> "extra"' in plan.out and 'userPrompt: "Made by hand." -> "Wanted."' in plan.out
    )
    assert run_cli("apply", "--auto-approve", cwd=applied).code == 0
    assert len(remote_state(emulator)) == 4
    assert run_cli("plan", "--detailed-exitcode", cwd=applied).code == 0


def test_state_adopt_refusals(applied: Path, emulator: Emulator) -> None:
    suite = applied / "suites" / "extra.yaml"
    suite.write_text(
        "agent: main\ncases:\n  - id: extra\n    userPrompt: Wanted.\n    successCriteria: Helps.\n"
    )
    before = (applied / "suitesync.lock").read_bytes()
    owned = str(read_lockfile(applied / "suitesync.lock").cases["case-0000"].test_case_id)
    other_agent = make_remote(emulator, OTHER_AGENT, "Elsewhere.")
    cases = [
        (("extra", owned), f"{owned} is already recorded as case-0000 in "),
        (("extra", other_agent), f"{other_agent} is not a test case of agent {AGENT}"),
        (("extra", "tc_doesnotexist"), f"tc_doesnotexist is not a test case of agent {AGENT}"),
        (("case-0001", other_agent), "case-0001 is already recorded in "),
        (("ghost", other_agent), "no suite defines a case ghost"),
    ]
    for args, message in cases:
        result = run_cli("state", "adopt", *args, cwd=applied)
        assert result.code == 1 and message in result.err, (args, result.err)
        assert "Traceback" not in result.err
        assert (applied / "suitesync.lock").read_bytes() == before


def test_state_changes_wait_for_no_apply_they_refuse_while_one_holds_the_lock(applied: Path) -> None:
    """The project lock is held by another process (as a running apply holds it): exit 4."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path\n"
            "from suitesync.projectlock import project_lock, lock_dir_for\n"
            "with project_lock(lock_dir_for(Path('suitesync.lock')), 0):\n"
            "    print('held', flush=True); sys.stdin.read()",
        ],
        cwd=applied,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = (applied / "suitesync.lock").read_bytes()
        result = run_cli("state", "rm", "case-0000", cwd=applied)
        assert result.code == 4 and "another apply holds the project lock" in result.err
        assert (applied / "suitesync.lock").read_bytes() == before
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
