"""`suitesync plan`: the project's suites against the lockfile and the platform -> a Plan."""

from __future__ import annotations

from suitesync.commands.project import Events, connect, load_valid_cases, plan_with
from suitesync.lockfile import read_lockfile
from suitesync.options import PlanOptions
from suitesync.plan import Plan
from suitesync.settings import Settings


def plan(settings: Settings, options: PlanOptions, events: Events) -> Plan:
    """A plan of the project; without refresh, from the lockfile alone (no network)."""
    lockfile = read_lockfile(settings.lockfile)
    cases, agents = load_valid_cases(settings, lockfile, doing="planned")
    if not options.refresh:
        return plan_with(settings, lockfile, cases, None, agents, prune=options.prune)
    with connect(settings, agents, events) as client:
        return plan_with(settings, lockfile, cases, client, agents, prune=options.prune)
