"""The steps commands share, composed from the stages: load, read the lockfile, refresh, plan."""

from __future__ import annotations

from typing import TextIO

from suitesync.lockfile import read_lockfile
from suitesync.plan import Plan, build_plan, payload_needed, payloads_missing
from suitesync.report import write_validation_text
from suitesync.settings import Settings
from suitesync.state import agents_of, load_desired, refresh_remote, rehydrate


def make_plan(settings: Settings, *, refresh: bool, prune: bool, err: TextIO) -> Plan | None:
    """A plan of the project, or None (problems written to `err`) when the suites are invalid."""
    lock = read_lockfile(settings.lockfile)
    desired = load_desired(settings, keep_payload=payload_needed(lock))
    if not desired.ok:
        write_validation_text(desired, err, err)
        err.write("error: the suites are invalid; nothing was planned\n")
        return None
    cases, remote = desired.cases, None
    if refresh:
        from suitesync.client import connect  # httpx is imported only when the network is used

        agents = agents_of(desired, lock)
        with connect(settings, agents) as client:
            remote = refresh_remote(client, agents)
        cases = rehydrate(settings, cases, payloads_missing(cases, lock, remote))
    return build_plan(cases, lock, remote, prune=prune)
