"""A saved plan against the present: refused (exit 5) with the real reason when what it assumed changed.

The reason named is the first that holds, in this order: the plan was made for another
environment; the lockfile moved on (another apply or import ran); cases changed in the suites
(which ones); a `${env:NAME}` secret's value changed (seen against the platform's copy); test
cases changed on the platform (which agent's). All but the last two are decided with no request
sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from suitesync.errors import StalePlanError
from suitesync.lockfile import Lockfile
from suitesync.models import TestCase
from suitesync.plan import Assumptions, Kind, NoticeKind, Plan, assumptions_of, secret_change
from suitesync.planfile import read_plan_file
from suitesync.settings import Settings
from suitesync.text import joined

NEW_PLAN = "make a new plan"


def load_saved_plan(settings: Settings, path: Path, cases: list[TestCase], lockfile: Lockfile) -> Plan:
    """The plan saved at `path`, if the lockfile and the suites are as it assumed."""
    now = assumptions_of(cases, lockfile, None, settings.env_name)

    def check_lockfile(assumed: Assumptions) -> None:
        _check_lockfile(path, settings.lockfile, assumed, now)

    plan = read_plan_file(path, settings.env_value, environment=settings.env_name, check=check_lockfile)
    if plan.assumptions.suites != now.suites:
        raise StalePlanError(f"{path} is stale: {_suites_change(plan, cases, lockfile)}", hint=NEW_PLAN)
    return plan


def check_secrets(path: Path, plan: Plan, now: Assumptions, cases: Sequence[TestCase]) -> None:
    """A `${env:NAME}` secret changed since the plan when the platform's copy of a case matched
    the value then and does not now, or the reverse: nothing derived from a value is kept, so
    this is the only way to tell (a case the plan creates or updates anyway gets the value the
    variable holds when apply runs)."""
    assumed = plan.assumptions.secrets_on_platform
    flipped = {i for i, bit in now.secrets_on_platform.items() if i in assumed and assumed[i] != bit}
    if flipped:
        changed = [c for c in cases if c.id in flipped]
        unchanged = [c for c in cases if c.secrets and c.id not in flipped]
        raise StalePlanError(
            f"{path} is stale: {_changed_secrets(changed, unchanged)} changed since it was made",
            hint=NEW_PLAN,
        )


def check_remote(
    path: Path, plan: Plan, now: Mapping[str, str], describe_agent: Callable[[str], str]
) -> None:
    """The platform must still be as the plan saw it: `now` is each agent's remote hash today."""
    assumed = plan.assumptions.remote or {}
    changed = sorted(agent for agent in set(now) | set(assumed) if now.get(agent) != assumed.get(agent))
    if changed:
        agents = joined([describe_agent(agent) for agent in changed])
        raise StalePlanError(
            f"{path} is stale: the test cases of {'agent' if len(changed) == 1 else 'agents'} {agents} "
            "changed on the platform since it was made",
            hint=NEW_PLAN,
        )


def _check_lockfile(path: Path, lockfile: Path, assumed: Assumptions, now: Assumptions) -> None:
    if assumed.lineage != now.lineage:
        what = (
            f"{lockfile.name} was made since (an apply ran)"
            if assumed.lineage == "none"
            else f"{lockfile.name} is another lockfile than the one it was made against"
        )
        raise StalePlanError(f"{path} is stale: {what}", hint=NEW_PLAN)
    if assumed.serial != now.serial:
        raise StalePlanError(
            f"{path} is stale: {lockfile.name} changed since it was made "
            f"(serial {assumed.serial} -> {now.serial}: an apply or import ran since)",
            hint=NEW_PLAN,
        )


@dataclass(frozen=True)
class _Expected:
    hash: str
    protect: bool


def _expected(plan: Plan, lockfile: Lockfile) -> dict[str, _Expected]:
    """Each case as the plan saw it in the suites: from its action, else from the lockfile, whose
    entry it matched (the lockfile has not moved since: checked first)."""
    expected = {a.case_id: _Expected(a.case.hash, a.case.protect) for a in plan.actions if a.case is not None}
    left = {n.case_id for n in plan.notices if n.kind is not NoticeKind.UNMANAGED}
    left |= {a.case_id for a in plan.actions if a.kind is Kind.DELETE}
    left |= {a.rename_from for a in plan.actions if a.rename_from}
    for case_id, entry in lockfile.cases.items():
        if case_id not in expected and case_id not in left:
            expected[case_id] = _Expected(entry.hash, entry.protect)
    return expected


def _suites_change(plan: Plan, cases: Sequence[TestCase], lockfile: Lockfile) -> str:
    """What changed in the suites since the plan was made, as precisely as can be told."""
    expected = _expected(plan, lockfile)
    now = {case.id: case for case in cases}
    edited = [i for i, c in now.items() if i in expected and _Expected(c.hash, c.protect) != expected[i]]
    added = sorted(set(now) - set(expected))
    removed = sorted(set(expected) - set(now))
    lists = ((edited, "changed"), (added, "added"), (removed, "removed"))
    parts = [f"{joined(names)} {verb}" for names, verb in lists if names]
    return "the suites changed since it was made" + (f": {'; '.join(parts)}" if parts else "")


def _changed_secrets(changed: Sequence[TestCase], unchanged: Sequence[TestCase]) -> str:
    """The secrets of the changed cases, less those of cases whose secrets are all as they were."""
    kept = {env for case in unchanged for _, env in case.secrets}
    candidates = [pair for case in changed for pair in case.secrets if pair[1] not in kept]
    return secret_change(candidates or [pair for case in changed for pair in case.secrets])
