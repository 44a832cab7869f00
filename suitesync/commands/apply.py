"""`suitesync apply`: plan (or load a saved plan), confirm, apply -> an ApplyReport."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

from suitesync.apply import Applier, LockfileJournal, Outcome
from suitesync.client import RetryBudget, SigmaMindClient
from suitesync.commands.project import (
    Events,
    check_lockfile_writable,
    connect,
    load_valid_cases,
    plan_with,
    project_tag,
    refresh_remote,
)
from suitesync.errors import Cancelled, SuitesyncError
from suitesync.lockfile import Lockfile, read_lockfile
from suitesync.options import ApplyOptions
from suitesync.plan import Kind, Plan, assumptions_of
from suitesync.projectlock import lock_dir_for, project_lock
from suitesync.savedplan import check_remote, check_secrets, load_saved_plan
from suitesync.settings import Settings
from suitesync.text import plural


@dataclass
class ApplyReport:
    plan: Plan
    outcomes: list[Outcome]
    fatal: str | None = None

    @property
    def failed(self) -> bool:
        return self.fatal is not None or any(not outcome.ok for outcome in self.outcomes)


def apply(settings: Settings, options: ApplyOptions, events: Events, stop: threading.Event) -> ApplyReport:
    """Plan (or load a saved plan), confirm, and apply, holding the project lock throughout.

    Refusals (invalid suites, a stale plan, the lock, too many deletes, no confirmation) raise
    SuitesyncError or a subclass before any write request is sent.
    """
    waiting = functools.partial(events.waiting_for_lock, options.lock_timeout)
    with project_lock(lock_dir_for(settings.lockfile), options.lock_timeout, waiting):
        lockfile = read_lockfile(settings.lockfile)
        check_lockfile_writable(settings)
        cases, agents = load_valid_cases(settings, lockfile, doing="applied")
        saved = load_saved_plan(settings, options.planfile, cases, lockfile) if options.planfile else None
        with connect(settings, agents, events, stop=stop) as client:
            plan = saved or plan_with(
                settings,
                lockfile,
                cases,
                client,
                agents,
                prune=options.prune,
                targets=options.targets,
                replace=options.replace,
            )
            if saved is not None and saved.refreshed and options.planfile is not None:
                now = assumptions_of(cases, lockfile, refresh_remote(client, agents, settings))
                check_secrets(options.planfile, saved, now, cases)
                check_remote(options.planfile, saved, now.remote or {}, settings.describe_agent)
            events.plan_ready(plan)
            if not plan.has_changes:
                return ApplyReport(plan, [])
            _check_may_apply(plan, options, events, stop)
            # The retry budget grows with the work: a flaky API should not end a large apply.
            client.budget = RetryBudget(100 + 2 * len(plan.actions))
            return _execute(settings, options, plan, lockfile, client, events, stop)


def _check_may_apply(plan: Plan, options: ApplyOptions, events: Events, stop: threading.Event) -> None:
    """The refusals that come after the plan is shown, and the confirmation."""
    _check_deletes(plan, options.max_deletes)
    _check_not_stopped(stop)
    if not events.confirm(plan):
        raise SuitesyncError("apply cancelled; nothing was changed")
    _check_not_stopped(stop)  # intents are written only for an apply that goes ahead


def _check_not_stopped(stop: threading.Event) -> None:
    if stop.is_set():
        raise Cancelled("apply stopped before it changed anything")


def _check_deletes(plan: Plan, limit: int) -> None:
    deletes = sum(1 for a in plan.actions if a.kind in (Kind.DELETE, Kind.REPLACE))
    if deletes > limit:
        raise SuitesyncError(
            f"the plan deletes {plural(deletes, 'test case')}, more than --max-deletes {limit}; "
            "nothing was changed",
            hint=f"check the plan, then pass --max-deletes {deletes} to allow it",
        )


def _execute(
    settings: Settings,
    options: ApplyOptions,
    plan: Plan,
    lockfile: Lockfile,
    client: SigmaMindClient,
    events: Events,
    stop: threading.Event,
) -> ApplyReport:
    journal = LockfileJournal(lockfile, settings.lockfile, settings.state_dir, project_tag(settings), stop)
    applier = Applier(
        client,
        journal,
        parallelism=options.parallelism,
        list_grace=options.list_grace,
        stop=stop,
        on_outcome=events.outcome,
    )
    try:
        outcomes = applier.run(plan)
    finally:
        journal.close()
    return ApplyReport(plan, outcomes, applier.fatal)
