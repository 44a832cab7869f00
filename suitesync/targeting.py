"""`--target` and `--replace`: a plan narrowed to some cases, or made to delete and create a case
again. Pure functions over a Plan built for the whole project, so that what a targeted plan does
to a case is exactly what the full plan would do to it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import replace

from suitesync.errors import SuitesyncError
from suitesync.lockfile import LockEntry, Lockfile
from suitesync.models import TestCase
from suitesync.plan import Action, Kind, Plan

REPLACED = "--replace: the remote case is deleted, then created again"


def known_ids(desired: Sequence[TestCase], lockfile: Lockfile) -> set[str]:
    """Every id a target may name: the suites' ids and previous ids, and the lockfile's."""
    return {name for case in desired for name in (case.id, *case.previous_ids)} | set(lockfile.cases)


def check_targets(targets: Iterable[str], known: set[str]) -> None:
    """Each target (an id or a glob) must name at least one case: a typo must not plan nothing."""
    for target in targets:
        if not any(fnmatch.fnmatchcase(name, target) for name in known):
            raise SuitesyncError(
                f"--target {target!r} matches no case id of the suites or the lockfile; nothing was done",
                hint="`suitesync state list` shows the recorded ids; quote a glob so that the shell "
                "leaves it alone (--target 'billing-*')",
            )


def targeted(plan: Plan, targets: Sequence[str], desired: Sequence[TestCase]) -> Plan:
    """Only the actions and notices of the cases the targets name (by id, or the id it had)."""
    if not targets:
        return plan

    def named(*ids: str | None) -> bool:
        return any(i is not None and fnmatch.fnmatchcase(i, t) for i in ids for t in targets)

    actions = tuple(a for a in plan.actions if named(a.case_id, a.rename_from))
    notices = tuple(n for n in plan.notices if n.case_id is not None and named(n.case_id))
    in_scope = sum(1 for case in desired if named(case.id, *case.previous_ids))
    acted = sum(1 for a in actions if a.case is not None)
    return _recounted(replace(plan, actions=actions, notices=notices), max(0, in_scope - acted))


def check_replace(ids: Iterable[str], desired: Sequence[TestCase], lockfile: Lockfile) -> None:
    """A replaced case must be in the suites and recorded with its remote case."""
    by_id = {case.id: case for case in desired}
    for case_id in ids:
        case = by_id.get(case_id)
        if case is None:
            raise SuitesyncError(
                f"--replace {case_id}: no suite defines a case {case_id}; nothing was done",
                hint="give the id of a case in the suites",
            )
        entry = _entry_of(case, lockfile)
        if entry is None or entry.test_case_id is None or entry.pending:
            raise SuitesyncError(
                f"--replace {case_id}: the case has no remote test case yet; nothing was done",
                hint="apply creates it; --replace is for a case that exists",
            )


def with_replacements(
    plan: Plan, ids: Sequence[str], desired: Sequence[TestCase], lockfile: Lockfile
) -> Plan:
    """Each named case deleted and created again (`-/+`), whatever else the plan had for it.
    A case the platform no longer holds keeps its recreate: there is nothing to delete."""
    if not ids:
        return plan
    wanted = set(ids)
    by_id = {case.id: case for case in desired}
    kept: list[Action] = []
    planned: set[str] = set()
    for action in plan.actions:
        if action.case_id in wanted and action.kind is not Kind.RECREATE:
            planned.add(action.case_id)
            continue
        kept.append(action)
    replaced = [_replace(by_id[i], lockfile) for i in sorted(wanted) if not _recreated(plan, i)]
    unchanged = plan.unchanged - len([i for i in wanted if i not in planned and not _recreated(plan, i)])
    return _recounted(replace(plan, actions=tuple(kept + replaced)), unchanged)


def _recreated(plan: Plan, case_id: str) -> bool:
    return any(a.case_id == case_id and a.kind is Kind.RECREATE for a in plan.actions)


def _replace(case: TestCase, lockfile: Lockfile) -> Action:
    key = case.id if case.id in lockfile.cases else next(p for p in case.previous_ids if p in lockfile.cases)
    entry = lockfile.cases[key]
    rename_from = key if key != case.id else None
    return Action(
        Kind.REPLACE,
        case.id,
        case.agent_id,
        entry.test_case_id,
        case,
        rename_from,
        old_agent_id=entry.agent_id,
        reason=REPLACED,
    )


def _entry_of(case: TestCase, lockfile: Lockfile) -> LockEntry | None:
    for name in (case.id, *case.previous_ids):
        if name in lockfile.cases:
            return lockfile.cases[name]
    return None


def _recounted(plan: Plan, unchanged: int) -> Plan:
    counts = {kind.value: 0 for kind in Kind}
    for action in plan.actions:
        counts[action.kind.value] += 1
    counts["unchanged"] = unchanged
    return replace(plan, unchanged=unchanged, counts=counts)
