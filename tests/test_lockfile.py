"""The lockfile: byte-stable rendering, atomic writes with a backup, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from suitesync.lockfile import LockEntry, Lockfile, LockfileError, read_lockfile, write_lockfile
from suitesync.schema import LOCKFILE, load_schema

HASH = "a" * 64


def sample() -> Lockfile:
    lock = Lockfile("0123456789abcdef0123456789abcdef", 3)
    lock.cases["b-case"] = LockEntry("tc_2", "AgentX", HASH, applied_serial=3)
    lock.cases["a-case"] = LockEntry(
        None, "AgentX", HASH, pending=True, pending_since=1790000000.25, protect=True
    )
    return lock


def test_render_is_sorted_indented_and_ends_with_a_newline() -> None:
    text = sample().render()
    assert text.endswith("}\n")
    document = json.loads(text)
    assert list(document) == ["cases", "lineage", "serial", "version"]
    assert list(document["cases"]) == ["a-case", "b-case"]
    assert '\n  "cases": {\n    "a-case": {\n      "agentId"' in text
    jsonschema.validate(document, load_schema(LOCKFILE))


def test_round_trip_is_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "suitesync.lock"
    write_lockfile(sample(), path)
    first = path.read_bytes()
    write_lockfile(read_lockfile(path), path)
    assert path.read_bytes() == first


def test_previous_version_is_kept_as_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "suitesync.lock"
    backups = tmp_path / ".suitesync"
    write_lockfile(sample(), path, backups)
    assert not (backups / "suitesync.lock.backup").exists()
    newer = sample()
    newer.serial = 4
    write_lockfile(newer, path, backups)
    assert json.loads((backups / "suitesync.lock.backup").read_text())["serial"] == 3
    assert json.loads(path.read_text())["serial"] == 4
    assert [p.name for p in tmp_path.iterdir() if "tmp" in p.name] == []


def test_missing_lockfile_is_a_new_one(tmp_path: Path) -> None:
    lock = read_lockfile(tmp_path / "none.lock")
    assert (lock.serial, lock.cases, len(lock.lineage)) == (0, {}, 32)


def test_damaged_lockfiles_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "suitesync.lock"
    path.write_text('{"version": 1,\n "serial": }')
    with pytest.raises(LockfileError, match=r"suitesync.lock:2:12: the lockfile is not valid JSON"):
        read_lockfile(path)
    path.write_text(json.dumps({"version": 1, "lineage": "x", "serial": 0, "cases": {}}))
    with pytest.raises(LockfileError, match=r"suitesync.lock:1:16: lineage: \"x\" does not match"):
        read_lockfile(path)


# --- the lockfile is trusted no more than any input (issue 12, item 6) ----------------------------

LINEAGE = "0123456789abcdef0123456789abcdef"


def _document(cases: object, **top: object) -> str:
    document = {"version": 1, "lineage": LINEAGE, "serial": 1, "cases": cases, **top}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _entry(tc_id: object = "tc_1", agent: object = "AgentX", **more: object) -> dict[str, object]:
    return {"testCaseId": tc_id, "agentId": agent, "hash": HASH, **more}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _document({"a": _entry(), "b": _entry()}),
            ":11:7: cases.b.testCaseId: tc_1 is also the testCaseId of a: one remote test case cannot "
            "belong to two cases (apply would overwrite one with the other)",
        ),
        (
            _document({"a": _entry("../batch-runs/../agents/X")}),
            ':6:7: cases.a.testCaseId: "../batch-runs/../agents/X" does not match',
        ),
        (_document({"a": _entry("tc_1/x")}), ':6:7: cases.a.testCaseId: "tc_1/x" does not match'),
        (_document({"a": _entry("tc\u001b[2J")}), ":6:7: cases.a.testCaseId: "),
        (_document({"a": _entry(agent="A/../B")}), ':4:7: cases.a.agentId: "A/../B" does not match'),
        (_document({"a": {"testCaseId": "tc_1", "agentId": "A"}}), ':3:5: cases.a: "hash" is a required'),
        (_document({"a": {"testCaseId": "tc_1", "hash": HASH}}), ':3:5: cases.a: "agentId" is a required'),
        (_document([_entry()]), ":2:3: cases: "),
        (_document({}, serial=10**30), ":4:3: serial: 1000000000000000000000000000000 is greater than"),
        (_document({"a": _entry(appliedSerial=10**30)}), ":5:7: cases.a.appliedSerial: "),
        ('{"version": 1, "serial": ' + "9" * 5000 + "}", ": the lockfile is not valid JSON (an integer of"),
        ("[" * 100_000 + "]" * 100_000, ": the lockfile is nested too deeply to be one"),
    ],
    ids=[
        "two-owners",
        "traversal",
        "slash",
        "escape",
        "agent-traversal",
        "no-hash",
        "no-agent",
        "cases-list",
        "huge-serial",
        "huge-applied-serial",
        "4300-digits",
        "deep",
    ],
)
def test_every_lockfile_problem_is_located(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "suitesync.lock"
    path.write_text(text)
    with pytest.raises(LockfileError) as caught:
        read_lockfile(path)
    assert f"{path}{expected}" in str(caught.value)
    assert caught.value.hint is not None and "restore it from git" in caught.value.hint


def test_a_lockfile_that_is_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "suitesync.lock"
    path.write_bytes(b'{\n  "lineage": "\xff"}')
    with pytest.raises(LockfileError, match=r"suitesync.lock:2:15: the lockfile is not UTF-8 \(byte 0xff\)"):
        read_lockfile(path)


def test_several_problems_are_all_listed(tmp_path: Path) -> None:
    path = tmp_path / "suitesync.lock"
    path.write_text(_document({"a": _entry("x/y"), "b": {"agentId": "A"}}, serial=-1))
    with pytest.raises(LockfileError) as caught:
        read_lockfile(path)
    lines = str(caught.value).splitlines()
    assert lines[0] == "the lockfile is invalid (4 problems):"
    assert sorted(line.split(": ", 2)[1] for line in lines[1:]) == [
        "cases.a.testCaseId",
        "cases.b",
        "cases.b",
        "serial",
    ]


def test_a_hostile_lockfile_stops_apply_prune_before_any_request(project: Path, emulator: object) -> None:
    """Once, `../batch-runs/../agents/X` plus --prune sent DELETE /v1/agents/X with the key."""
    from conftest import run_cli

    lockfile = project / "suitesync.lock"
    lockfile.write_text(_document({"gone": _entry("../batch-runs/../agents/X", "D5D0p7TUs66TTAEAx")}))
    before = lockfile.read_bytes()
    result = run_cli("apply", "--auto-approve", "--prune", cwd=project)
    assert result.code == 1
    assert result.err.startswith(f"error: {lockfile}:6:7: cases.gone.testCaseId: ")
    assert "Traceback" not in result.err
    assert emulator.requests() == []  # type: ignore[attr-defined]
    assert lockfile.read_bytes() == before


@pytest.mark.parametrize("content", [b'{"cases": \xff}', b"[" * 100_000], ids=["not-utf8", "deep"])
def test_an_unreadable_lockfile_is_one_line_for_every_command(tmp_path: Path, content: bytes) -> None:
    from conftest import copy_examples, run_cli

    root = copy_examples(tmp_path / "project")
    (root / "suitesync.lock").write_bytes(content)
    for command in (["plan", "--no-refresh"], ["run"], ["apply", "--auto-approve"]):
        result = run_cli(*command, cwd=root)
        assert result.code == 1, command
        assert result.err.startswith(f"error: {root / 'suitesync.lock'}"), (command, result.err)
        assert len(result.err.splitlines()) == 2 and result.err.splitlines()[1].startswith("hint: ")


# --- projects sharing one lockfile (issue 12, item 7) ----------------------------------------------


def _shared_projects(root: Path, cases: int = 10) -> tuple[Path, Path]:
    """Two real projects, `a` and `b`, each with its own cases, both with `lockfile: ../shared.lock`."""
    from conftest import AGENT, write_project

    projects = []
    for name in ("a", "b"):
        project = write_project(root / name, cases, per_file=cases, agent=AGENT)
        (project / "suitesync.yaml").write_text(f"agents: {{main: {AGENT}}}\nlockfile: ../shared.lock\n")
        suite = project / "suites" / "s000.yaml"
        suite.write_text(suite.read_text().replace("id: case-", f"id: {name}-case-"))
        projects.append(project)
    return projects[0], projects[1]


def _apply(project: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "suitesync", "apply", "--auto-approve", "--list-grace", "0.3", *extra],
        cwd=project,
        env={**os.environ, "SIGMAMIND_BASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _line_within(stream: object, seconds: float) -> str:
    """The next line of a child's stream; "" if none comes in time (a deadline turns a hang into
    a failure: before the fix the second apply did not wait, it sat at the gate, silent)."""
    import select

    ready, _, _ = select.select([stream], [], [], seconds)
    return stream.readline() if ready else ""  # type: ignore[attr-defined]


def test_two_projects_sharing_a_lockfile_take_turns_and_lose_nothing(
    tmp_path: Path, emulator: object
) -> None:
    """Once, each took its own lock: one project's entries were lost and the next apply made
    duplicates. The first apply is held at the emulator's gate after its third create, so the
    second surely starts while the first holds the lock (a fact, not a guess at timing)."""
    from conftest import assert_no_canary, remote_state

    a, b = _shared_projects(tmp_path)
    gate = emulator.gate  # type: ignore[attr-defined]
    gate.close_after(3, method="POST")
    first = _apply(a, emulator.url)  # type: ignore[attr-defined]
    assert gate.wait_holding(1), "the first apply never created"
    second = _apply(b, emulator.url, "--lock-timeout", "120")  # type: ignore[attr-defined]
    assert second.stderr is not None
    line = _line_within(second.stderr, 60)  # printed once it finds the lock taken, before it waits
    assert line.startswith("waiting up to 120 s for the project lock (pid "), line
    assert f"pid {first.pid} on" in line
    gate.open()
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert_no_canary(out1 + err1 + out2 + err2)
    assert (first.returncode, second.returncode) == (0, 0), err1 + err2
    lock = read_lockfile(tmp_path / "shared.lock")
    assert sorted(lock.cases) == sorted(
        [f"a-case-{n:04d}" for n in range(10)] + [f"b-case-{n:04d}" for n in range(10)]
    )
    assert {e.project for k, e in lock.cases.items()} == {"a", "b"}
    assert all(lock.cases[k].project == k[0] for k in lock.cases)
    assert len(remote_state(emulator)) == 20
    # The next apply of either project has nothing to do: no lost entry, no duplicate.
    posts_before = len([r for r in emulator.requests() if r["method"] == "POST"])  # type: ignore[attr-defined]
    for project in (a, b):
        again = _apply(project, emulator.url, "--prune")  # type: ignore[attr-defined]
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
        assert "No changes" in out or "no changes" in (out + err).lower(), out + err
    assert len([r for r in emulator.requests() if r["method"] in ("POST", "PUT", "DELETE")]) == posts_before  # type: ignore[attr-defined]
    assert max(emulator.store.create_counts().values()) == 1  # type: ignore[attr-defined]


def test_another_projects_entries_are_reported_never_pruned(tmp_path: Path, emulator: object) -> None:
    from conftest import run_cli

    a, b = _shared_projects(tmp_path, cases=2)
    os.environ["SIGMAMIND_BASE_URL"] = emulator.url  # type: ignore[attr-defined]
    try:
        assert run_cli("apply", "--auto-approve", cwd=a).code == 0
        assert run_cli("apply", "--auto-approve", cwd=b).code == 0
        plan = run_cli("plan", "--prune", cwd=a)
        assert plan.code == 0, plan.err
        assert (
            "another project's: 2 cases of the shared lockfile (b-case-0000, b-case-0001) were recorded "
            "by the project in 'b'; never updated or deleted from here"
        ) in plan.out
        assert "would be deleted" not in plan.out and "- delete" not in plan.out
        pruned = run_cli("apply", "--auto-approve", "--prune", cwd=a)
        assert pruned.code == 0, pruned.err
        assert [r for r in emulator.requests() if r["method"] == "DELETE"] == []  # type: ignore[attr-defined]
        # The same id in both projects would take over the other's remote case: refused, located.
        suite = b / "suites" / "s000.yaml"
        suite.write_text(suite.read_text().replace("b-case-0001", "a-case-0001"))
        clash = run_cli("plan", cwd=b)
        assert clash.code == 1
        assert clash.err.startswith("error: suites/s000.yaml:8:5: the id a-case-0001 is recorded in "), (
            clash.err
        )
        assert "by the project in 'a', which shares that lockfile; nothing was done" in clash.err
    finally:
        del os.environ["SIGMAMIND_BASE_URL"]
