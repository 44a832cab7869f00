"""The lockfile: byte-stable rendering, atomic writes with a backup, clear errors."""

from __future__ import annotations

import json
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
