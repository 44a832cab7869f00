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
    with pytest.raises(LockfileError, match="invalid at lineage"):
        read_lockfile(path)
