"""`suitesync state list|show|rm|mv|adopt`: read and change lockfile entries by hand -> results.

Every change holds the project lock (no apply runs meanwhile), is checked before anything is
written and is written atomically with the previous version kept as the backup. Nothing here
sends a write request: `adopt` only reads the case's agent's list.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from suitesync.commands.project import (
    Events,
    check_lockfile_writable,
    connect,
    list_agent_cases,
    load_desired,
    project_tag,
)
from suitesync.errors import SuitesyncError
from suitesync.lockfile import LockEntry, Lockfile, read_lockfile, write_lockfile
from suitesync.models import TestCase
from suitesync.plan import owned_by, shape_hash
from suitesync.projectlock import lock_dir_for, project_lock
from suitesync.settings import Settings
from suitesync.text import joined

CASE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")  # suite.schema.json's `id`


# (old id, its entry before: None if new, new id, its entry after: None if removed)
Moved = tuple[str, LockEntry | None, str, LockEntry | None]


@dataclass(frozen=True, slots=True)
class StateRow:
    case_id: str
    entry: LockEntry
    location: str | None  # file:line of the case in the suites; None: no suite defines it


@dataclass(frozen=True)
class StateChange:
    """What a state command changed: the entries before (None: new) and after (None: removed)."""

    verb: str  # removed, moved, adopted
    rows: tuple[Moved, ...]
    serial: int


def state_rows(settings: Settings, ids: tuple[str, ...] = ()) -> list[StateRow]:
    """The lockfile's entries (or those named, which must exist), with where the suites define them."""
    lockfile = read_lockfile(settings.lockfile)
    _require(lockfile, ids, settings)
    where = _locations(settings)
    names = ids or tuple(sorted(lockfile.cases))
    return [StateRow(name, lockfile.cases[name], where.get(name)) for name in names]


def state_rm(settings: Settings, ids: tuple[str, ...]) -> StateChange:
    """Forget entries: their remote cases stay, and the next plan lists them as unmanaged."""
    with _changing(settings) as lockfile:
        _require(lockfile, ids, settings)
        _require_own(lockfile, ids, settings)
        rows = tuple((name, lockfile.cases.pop(name), name, None) for name in dict.fromkeys(ids))
        return _save(settings, lockfile, "removed", rows)


def state_mv(settings: Settings, old: str, new: str) -> StateChange:
    """Move an entry to another case id (a rename done by hand; `previousIds` does it in suites)."""
    with _changing(settings) as lockfile:
        _require(lockfile, (old,), settings)
        _require_own(lockfile, (old,), settings)
        _check_free_id(lockfile, new, settings)
        entry = lockfile.cases.pop(old)
        lockfile.cases[new] = entry
        return _save(settings, lockfile, "moved", ((old, entry, new, entry),))


def state_adopt(settings: Settings, case_id: str, test_case_id: str, events: Events) -> StateChange:
    """Tie an existing remote case to a case of the suites, recorded as the platform has it, so
    the next plan shows the differences from the suite as an update."""
    case = _desired_case(settings, case_id)
    with _changing(settings) as lockfile:
        _check_free_id(lockfile, case_id, settings)
        owner = lockfile.by_test_case_id().get(test_case_id)
        if owner is not None:
            raise SuitesyncError(
                f"{test_case_id} is already recorded as {owner} in {settings.lockfile}; nothing was changed",
                hint=f"`suitesync state rm {owner}` first, if {case_id} should own it instead",
            )
        with connect(settings, {case.agent_id}, events) as client:
            listed = list_agent_cases(client, case.agent_id, settings)
        found = next((rc for rc in listed if rc.test_case_id == test_case_id), None)
        if found is None:
            raise SuitesyncError(
                f"{test_case_id} is not a test case of agent {settings.describe_agent(case.agent_id)}, "
                f"the agent of {case_id} ({case.source}:{case.line}); nothing was changed",
                hint="check the testCaseId: a case of another agent cannot be adopted "
                "(change the case's agent first)",
            )
        entry = LockEntry(
            test_case_id,
            case.agent_id,
            shape_hash(found, case),
            protect=case.protect,
            project=project_tag(settings),
        )
        lockfile.cases[case_id] = entry
        return _save(settings, lockfile, "adopted", ((case_id, None, case_id, entry),))


@contextlib.contextmanager
def _changing(settings: Settings) -> Iterator[Lockfile]:
    """The project lock held, and the lockfile read under it (its folder checked writable first)."""
    with project_lock(lock_dir_for(settings.lockfile), 0.0):
        check_lockfile_writable(settings)
        yield read_lockfile(settings.lockfile)


def _save(settings: Settings, lockfile: Lockfile, verb: str, rows: tuple[Moved, ...]) -> StateChange:
    lockfile.serial += 1
    lockfile.cases = dict(sorted(lockfile.cases.items()))
    write_lockfile(lockfile, settings.lockfile, settings.state_dir)
    return StateChange(verb, rows, lockfile.serial)


def _require(lockfile: Lockfile, ids: tuple[str, ...], settings: Settings) -> None:
    missing = [name for name in ids if name not in lockfile.cases]
    if missing:
        raise SuitesyncError(
            f"{joined(missing)} {'is' if len(missing) == 1 else 'are'} not in {settings.lockfile}; "
            "nothing was changed",
            hint="`suitesync state list` shows the recorded case ids",
        )


def _require_own(lockfile: Lockfile, ids: tuple[str, ...], settings: Settings) -> None:
    project = project_tag(settings)
    foreign = [name for name in ids if not owned_by(lockfile.cases[name], project)]
    if foreign:
        raise SuitesyncError(
            f"{joined(foreign)} {'was' if len(foreign) == 1 else 'were'} recorded by another project sharing "
            f"{settings.lockfile}; nothing was changed",
            hint="change another project's entries from that project",
        )


def _check_free_id(lockfile: Lockfile, case_id: str, settings: Settings) -> None:
    if not CASE_ID.match(case_id):
        raise SuitesyncError(
            f"{case_id!r} is not a case id; nothing was changed",
            hint="a case id is lowercase letters, digits, `_`, `.` and `-`, starting with a letter or digit",
        )
    existing = lockfile.cases.get(case_id)
    if existing is not None:
        raise SuitesyncError(
            f"{case_id} is already recorded in {settings.lockfile} (remote case {existing.test_case_id}); "
            "nothing was changed",
            hint=f"`suitesync state rm {case_id}` first to forget that entry",
        )


def _desired_case(settings: Settings, case_id: str) -> TestCase:
    result = load_desired(settings)
    if not result.ok:
        from suitesync.validate import InvalidSuitesError

        raise InvalidSuitesError("the suites are invalid; nothing was changed", result)
    for case in result.cases:
        if case.id == case_id:
            return case
    raise SuitesyncError(
        f"no suite defines a case {case_id}; nothing was changed",
        hint="add the case to a suite first: adopt ties a remote case to a case of the suites",
    )


def _locations(settings: Settings) -> dict[str, str]:
    """case id (and previous ids) -> file:line, from whatever parts of the suites validate."""
    result = load_desired(settings, keep_payload=lambda _id, _hash: False)
    where: dict[str, str] = {}
    for case in result.cases:
        for name in (case.id, *case.previous_ids):
            where.setdefault(name, f"{case.source}:{case.line}")
    return where
