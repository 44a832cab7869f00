"""Gather the three inputs of a plan: the desired cases (files), the lockfile, the remote state."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from suitesync.errors import SuitesyncError
from suitesync.load import expand_paths, find_suite_files, load_files
from suitesync.lockfile import Lockfile
from suitesync.models import KeepPayload, RemoteCase, TestCase
from suitesync.settings import CONFIG_NAME, Settings
from suitesync.validate import ValidationResult, validate_files

if TYPE_CHECKING:
    from suitesync.client import SigmaMindClient


@contextlib.contextmanager
def bulk_work() -> Iterator[None]:
    """Pause the cyclic GC while tens of thousands of small objects are built.

    The pipeline makes no reference cycles, so reference counting frees everything; without
    this, each collection walks every live object and per-case cost grows with project size
    (../shared/perf-notes.md, trap 10).
    """
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def suite_files(settings: Settings, paths: Iterable[Path] = ()) -> list[Path]:
    """The files named on the command line (directories searched), else the project's suites."""
    named = expand_paths(paths)
    return named or find_suite_files(settings.root, settings.suites, exclude=[settings.root / CONFIG_NAME])


def load_desired(
    settings: Settings, *, keep_cases: bool = True, keep_payload: KeepPayload | None = None
) -> ValidationResult:
    """Every suite of the project, validated (see validate_files for the keep options)."""
    with bulk_work():
        files = load_files(suite_files(settings), Path.cwd())
        return validate_files(
            files,
            settings.agents,
            keep_cases=keep_cases,
            keep_payload=keep_payload,
            env_value=settings.env_value,
        )


def rehydrate(settings: Settings, cases: list[TestCase], ids: set[str]) -> list[TestCase]:
    """Read again the files of the cases in `ids`, whose payloads were dropped, keeping them now."""
    if not ids:
        return cases
    sources = sorted({Path.cwd() / case.source for case in cases if case.id in ids})
    again = validate_files(load_files(sources, Path.cwd()), settings.agents, env_value=settings.env_value)
    fresh = {case.id: case for case in again.cases if case.id in ids}
    return [fresh.get(case.id, case) for case in cases]


def agents_of(result: ValidationResult, lock: Lockfile, project: str | None = None) -> set[str]:
    """The agents a plan must look at: those the suites name and those the lockfile remembers for
    this project (not those of another project sharing the lockfile)."""
    remembered = {entry.agent_id for entry in lock.cases.values() if entry.project == project}
    return {case.agent_id for case in result.cases} | remembered


def refresh_remote(
    client: SigmaMindClient, agent_ids: Iterable[str], settings: Settings | None = None
) -> dict[str, list[RemoteCase]]:
    """One list call (and its pages) per agent, the agents in parallel. An agent the platform does
    not know is named with its alias and environment (from `settings`) and where to fix it."""
    agents = sorted(agent_ids)
    if not agents:
        return {}

    def listing(agent: str) -> list[RemoteCase]:
        return list_agent_cases(client, agent, settings)

    with ThreadPoolExecutor(max_workers=min(8, len(agents))) as pool:
        return dict(zip(agents, pool.map(listing, agents), strict=True))


def list_agent_cases(
    client: SigmaMindClient, agent: str, settings: Settings | None, given: str | None = None
) -> list[RemoteCase]:
    """The agent's remote cases; `given` names the flag the agent id came from, if any."""
    from suitesync.client import ApiError

    try:
        return client.list_cases(agent)
    except ApiError as exc:
        if exc.status != 404 or settings is None:
            raise
        raise SuitesyncError(
            f"agent {settings.describe_agent(agent)} was not found on the platform ({exc})",
            hint=settings.agent_hint(agent, given),
        ) from None
