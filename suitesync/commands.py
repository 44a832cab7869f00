"""The steps commands share, composed from the stages: load, read the lockfile, refresh, plan, apply."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from suitesync.errors import ExitCode, SuitesyncError
from suitesync.lockfile import Lockfile, read_lockfile
from suitesync.models import TestCase
from suitesync.plan import Kind, Plan, assumptions_of, build_plan, payload_needed, payloads_missing
from suitesync.report import write_validation_text
from suitesync.settings import Settings
from suitesync.state import agents_of, load_desired, refresh_remote, rehydrate

if TYPE_CHECKING:
    from suitesync.apply import Outcome
    from suitesync.client import SigmaMindClient


class StalePlanError(SuitesyncError):
    exit_code = ExitCode.STALE_PLAN


@dataclass(frozen=True)
class ApplyOptions:
    planfile: Path | None = None
    prune: bool = False
    parallelism: int = 16
    max_deletes: int = 10
    lock_timeout: float = 0.0
    list_grace: float = 10.0


def load_valid_cases(
    settings: Settings, lock: Lockfile, err: TextIO
) -> tuple[list[TestCase], set[str]] | None:
    """The desired cases and the agents to look at, or None (problems written) if the suites are invalid."""
    desired = load_desired(settings, keep_payload=payload_needed(lock))
    if not desired.ok:
        write_validation_text(desired, err, err)
        err.write("error: the suites are invalid; nothing was planned\n")
        return None
    return desired.cases, agents_of(desired, lock)


def plan_with(
    settings: Settings,
    lock: Lockfile,
    cases: list[TestCase],
    client: SigmaMindClient | None,
    agents: set[str],
    *,
    prune: bool,
) -> Plan:
    """The plan of these cases; with a client, against the platform's current state."""
    remote = None
    if client is not None:
        remote = refresh_remote(client, agents)
        cases = rehydrate(settings, cases, payloads_missing(cases, lock, remote))
    return build_plan(cases, lock, remote, prune=prune)


def make_plan(settings: Settings, *, refresh: bool, prune: bool, err: TextIO) -> Plan | None:
    """A plan of the project, or None (problems written to `err`) when the suites are invalid."""
    lock = read_lockfile(settings.lockfile)
    loaded = load_valid_cases(settings, lock, err)
    if loaded is None:
        return None
    cases, agents = loaded
    if not refresh:
        return plan_with(settings, lock, cases, None, agents, prune=prune)
    from suitesync.client import connect  # httpx is imported only when the network is used

    with connect(settings, agents) as client:
        return plan_with(settings, lock, cases, client, agents, prune=prune)


# --- apply ----------------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    plan: Plan
    outcomes: list[Outcome]
    fatal: str | None = None


def apply_project(
    settings: Settings,
    options: ApplyOptions,
    *,
    out: TextIO,
    err: TextIO,
    show_plan: Callable[[Plan], None],
    confirm: Callable[[Plan], bool],
    on_outcome: Callable[[Outcome], None],
    stop: threading.Event,
) -> ApplyReport | None:
    """Plan (or load a saved plan), confirm, and apply, holding the project lock throughout.

    Returns None when the suites are invalid. Raises StalePlanError, ProjectLockedError, or
    SuitesyncError for refusals; those happen before any write request is sent.
    """
    from suitesync.client import RetryBudget, connect
    from suitesync.projectlock import project_lock

    with project_lock(settings.state_dir, options.lock_timeout):
        lock = read_lockfile(settings.lockfile)
        loaded = load_valid_cases(settings, lock, err)
        if loaded is None:
            return None
        cases, agents = loaded
        saved = _load_saved_plan(options.planfile, cases, lock) if options.planfile else None
        with connect(settings, agents, stop=stop) as client:
            plan = saved or plan_with(settings, lock, cases, client, agents, prune=options.prune)
            if saved is not None and saved.refreshed:
                _check_remote(saved, client, agents)
            show_plan(plan)
            if not plan.has_changes:
                return ApplyReport(plan, [])
            _check_deletes(plan, options.max_deletes)
            if not confirm(plan):
                raise SuitesyncError("apply cancelled; nothing was changed")
            # The retry budget grows with the work: a flaky API should not end a large apply.
            client.budget = RetryBudget(100 + 2 * len(plan.actions))
            return _execute(settings, options, plan, lock, client, on_outcome, stop)


def _load_saved_plan(path: Path, cases: list[TestCase], lock: Lockfile) -> Plan:
    """A saved plan, refused if the lockfile or the suites changed since (no request needed)."""
    from suitesync.planfile import read_plan_file

    plan = read_plan_file(path)
    assumed, now = plan.assumptions, assumptions_of(cases, lock, None)
    if (assumed.lineage, assumed.serial) != (now.lineage, now.serial):
        raise StalePlanError(
            f"{path} is stale: the lockfile changed since it was made "
            f"(serial {assumed.serial} -> {now.serial})",
            hint="make a new plan",
        )
    if assumed.suites != now.suites:
        raise StalePlanError(f"{path} is stale: the suites changed since it was made", hint="make a new plan")
    return plan


def _check_remote(plan: Plan, client: SigmaMindClient, agents: set[str]) -> None:
    """The platform must still be as the saved plan saw it (read only: list calls)."""
    lock_view = Lockfile(plan.assumptions.lineage, plan.assumptions.serial)
    now = assumptions_of([], lock_view, refresh_remote(client, agents)).remote or {}
    assumed = dict(plan.assumptions.remote or {})
    if any(now.get(agent) != assumed.get(agent) for agent in set(now) | set(assumed)):
        raise StalePlanError(
            "the saved plan is stale: test cases changed on the platform since it was made",
            hint="make a new plan",
        )


def _check_deletes(plan: Plan, limit: int) -> None:
    deletes = sum(1 for a in plan.actions if a.kind in (Kind.DELETE, Kind.REPLACE))
    if deletes > limit:
        raise SuitesyncError(
            f"the plan deletes {deletes} test cases, more than --max-deletes {limit}; nothing was changed",
            hint=f"check the plan, then pass --max-deletes {deletes} to allow it",
        )


def _execute(
    settings: Settings,
    options: ApplyOptions,
    plan: Plan,
    lock: Lockfile,
    client: SigmaMindClient,
    on_outcome: Callable[[Outcome], None],
    stop: threading.Event,
) -> ApplyReport:
    from suitesync.apply import Applier, LockState

    state = LockState(lock, settings.lockfile, settings.state_dir)
    applier = Applier(
        client,
        state,
        parallelism=options.parallelism,
        list_grace=options.list_grace,
        stop=stop,
        on_outcome=on_outcome,
    )
    try:
        outcomes = applier.run(plan)
    finally:
        state.close()
    return ApplyReport(plan, outcomes, applier.fatal)
