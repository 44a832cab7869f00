"""`suitesync plan`: the project's suites against the lockfile and the platform -> a Plan."""

from __future__ import annotations

import functools

from suitesync.commands.project import Events, connect, load_valid_cases, plan_with
from suitesync.lockfile import read_lockfile
from suitesync.options import PlanOptions
from suitesync.plan import Plan
from suitesync.settings import Settings


def plan(settings: Settings, options: PlanOptions, events: Events) -> Plan:
    """A plan of the project; without refresh, from the lockfile alone (no network)."""
    lockfile = read_lockfile(settings.lockfile)
    cases, agents = load_valid_cases(settings, lockfile, doing="planned")
    scoped = functools.partial(
        plan_with, prune=options.prune, targets=options.targets, replace=options.replace
    )
    if not options.refresh:
        return scoped(settings, lockfile, cases, None, agents)
    with connect(settings, agents, events) as client:
        return scoped(settings, lockfile, cases, client, agents)
