"""A three-way merge of lockfiles by case id, for git's merge driver (`suitesync lockfile merge`).

Two branches that each applied a case change different entries of one JSON file, and git's line
merge either conflicts (the serial line, neighbouring entries) or, resolved by hand with --ours,
loses the other branch's entries. Entries are merged one case id at a time against the common
base; the only real conflict is one case id that now names two different remote cases.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from suitesync.lockfile import LockEntry, Lockfile


@dataclass(frozen=True, slots=True)
class MergeConflict:
    case_id: str
    ours: LockEntry
    theirs: LockEntry
    why: str


@dataclass
class MergeResult:
    lockfile: Lockfile
    conflicts: list[MergeConflict] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # case ids theirs brought in
    removed: list[str] = field(default_factory=list)  # case ids theirs removed


def merge_lockfiles(base: Lockfile, ours: Lockfile, theirs: Lockfile) -> MergeResult:
    """Ours, with what theirs changed since base; the serial above both sides; ours' lineage."""
    merged = Lockfile(ours.lineage, max(ours.serial, theirs.serial) + 1, {})
    result = MergeResult(merged)
    for case_id in sorted(set(ours.cases) | set(theirs.cases) | set(base.cases)):
        entry = _merge_entry(case_id, base.cases.get(case_id), ours, theirs, result)
        if entry is not None:
            merged.cases[case_id] = entry
    _drop_moved_owners(merged, base, result)
    return result


def _merge_entry(
    case_id: str, base: LockEntry | None, ours: Lockfile, theirs: Lockfile, result: MergeResult
) -> LockEntry | None:
    mine, other = ours.cases.get(case_id), theirs.cases.get(case_id)
    if mine == other:
        return mine
    if other == base:  # only ours changed it (or removed it)
        return mine
    if mine == base:  # only theirs changed it (or removed it)
        if other is None:
            result.removed.append(case_id)
        elif mine is None:
            result.added.append(case_id)
        return other
    if mine is None or other is None:  # removed on one side, changed on the other: keep the change
        return mine or other
    return _both_changed(case_id, mine, other, result)


def _both_changed(case_id: str, mine: LockEntry, other: LockEntry, result: MergeResult) -> LockEntry:
    """Both sides changed one entry. A confirmed create beats a pending one; the same remote case
    keeps ours (the next plan compares it with the platform anyway); two remote cases conflict."""
    if mine.test_case_id is None or other.test_case_id is None:
        return other if mine.test_case_id is None and other.test_case_id is not None else mine
    if mine.test_case_id != other.test_case_id:
        result.conflicts.append(
            MergeConflict(case_id, mine, other, "each side recorded a different remote test case")
        )
    return mine


def _drop_moved_owners(merged: Lockfile, base: Lockfile, result: MergeResult) -> None:
    """One remote case under two ids: a rename on one side while the other side changed the old
    entry. The id new since base is the rename, and keeps it; two new ids are a conflict."""
    owners: dict[str, list[str]] = {}
    for case_id, entry in merged.cases.items():
        if entry.test_case_id:
            owners.setdefault(entry.test_case_id, []).append(case_id)
    for ids in owners.values():
        if len(ids) < 2:
            continue
        old = [case_id for case_id in ids if case_id in base.cases]
        if len(ids) - len(old) == 1:
            _remove(merged, old)
        else:
            first, second = ids[0], ids[1]
            result.conflicts.append(
                MergeConflict(
                    second,
                    merged.cases[first],
                    merged.cases[second],
                    f"the same remote test case is recorded under {first} and {second}",
                )
            )


def _remove(merged: Lockfile, case_ids: Iterable[str]) -> None:
    for case_id in case_ids:
        del merged.cases[case_id]
