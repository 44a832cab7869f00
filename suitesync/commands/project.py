"""What the commands share: the three inputs of a plan (the desired cases from the files, the
lockfile, the remote state), a client for the configured API, and the Events they report to."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from suitesync.atomic import WriteError, cannot_write, check_writable
from suitesync.errors import SuitesyncError
from suitesync.load import expand_paths, find_suite_files, load_files
from suitesync.lockfile import Lockfile
from suitesync.models import KeepPayload, RemoteCase, TestCase
from suitesync.plan import Plan, build_plan, owned_by, payload_needed, payloads_missing
from suitesync.settings import CONFIG_NAME, Settings
from suitesync.statedir import ensure_state_dir
from suitesync.text import printable
from suitesync.validate import InvalidSuitesError, ValidationResult, validate_files

if TYPE_CHECKING:
    from suitesync.apply import Outcome
    from suitesync.client import SigmaMindClient


class Events(Protocol):
    """What a command reports while it works; a renderer (console.py) shows it."""

    def embedded_agents(self, agents: list[tuple[str, str | None]]) -> None:
        """The embedded emulator stands in for these agents: (agent id, its alias or None)."""

    def waiting_for_lock(self, seconds: float, holder: str) -> None: ...

    def plan_ready(self, plan: Plan) -> None:
        """apply: the plan it will carry out, before it asks."""

    def confirm(self, plan: Plan) -> bool:
        """apply: may this plan be applied?"""

    def outcome(self, outcome: Outcome) -> None:
        """apply: one action finished."""

    def running(self, cases: int, agents: int) -> None:
        """run: the batch runs start."""

    def verdicts(self, done: int, total: int) -> None:
        """run: attempts with a verdict so far."""


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


def suite_files(settings: Settings, paths: Iterable[Path] = (), *, required: bool = False) -> list[Path]:
    """The files named on the command line (directories searched), else the project's suites.
    `required`: a project whose globs match no file is an error (a typo in `suites:` would
    otherwise validate, plan and apply nothing, and say "ok")."""
    paths = tuple(paths)
    named = expand_paths(paths)
    if named or paths:
        return named
    found = find_suite_files(settings.root, settings.suites, exclude=[settings.root / CONFIG_NAME])
    if not found and required:
        raise no_suites_error(settings)
    return found


def no_suites_error(settings: Settings) -> SuitesyncError:
    globs = ", ".join(f'"{printable(glob, 80)}"' for glob in settings.suites)
    where = "set in suitesync.yaml" if settings.config_path else "the defaults: there is no suitesync.yaml"
    return SuitesyncError(
        f"no suite file matches the project's suites globs {globs} ({where}, in {settings.root})",
        hint="run `suitesync init` to write an example suite, or fix `suites:` in suitesync.yaml",
    )


def load_desired(
    settings: Settings,
    *,
    keep_cases: bool = True,
    keep_payload: KeepPayload | None = None,
    required: bool = True,
) -> ValidationResult:
    """Every suite of the project, validated (see validate_files for the keep options)."""
    with bulk_work():
        files = load_files(suite_files(settings, required=required), Path.cwd())
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


def agents_of(result: ValidationResult, lockfile: Lockfile, project: str | None = None) -> set[str]:
    """The agents a plan must look at: those the suites name and those the lockfile remembers for
    this project (not those of another project sharing the lockfile)."""
    remembered = {entry.agent_id for entry in lockfile.cases.values() if entry.project == project}
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


def load_valid_cases(
    settings: Settings, lockfile: Lockfile, *, doing: str, required: bool = True
) -> tuple[list[TestCase], set[str]]:
    """The desired cases and the agents to look at. Invalid suites raise InvalidSuitesError
    (carrying the validation result) saying that nothing was `doing` (planned, applied, ...);
    `required`: no suite file at all is an error too (import, which writes the first, allows it)."""
    desired = load_desired(settings, keep_payload=payload_needed(lockfile), required=required)
    if not desired.ok:
        raise InvalidSuitesError(f"the suites are invalid; nothing was {doing}", desired)
    return desired.cases, agents_of(desired, lockfile, project_tag(settings))


def plan_with(
    settings: Settings,
    lockfile: Lockfile,
    cases: list[TestCase],
    client: SigmaMindClient | None,
    agents: set[str],
    *,
    prune: bool,
    targets: tuple[str, ...] = (),
    replace: tuple[str, ...] = (),
) -> Plan:
    """The plan of these cases; with a client, against the platform's current state. `targets`
    narrows it to some cases, `replace` deletes and creates cases again (targeting.py)."""
    from suitesync.targeting import check_replace, check_targets, known_ids, targeted, with_replacements

    project = project_tag(settings)
    _check_not_foreign(cases, lockfile, project, settings.lockfile)
    check_targets(targets, known_ids(cases, lockfile))
    check_replace(replace, cases, lockfile)
    remote = None
    missing = set(replace)  # a replaced case is sent again, even if unchanged: its payload is needed
    if client is not None:
        remote = refresh_remote(client, agents, settings)
        missing |= payloads_missing(cases, lockfile, remote)
    cases = rehydrate(settings, cases, {c.id for c in cases if c.id in missing and c.payload_json is None})
    plan = build_plan(cases, lockfile, remote, prune=prune, environment=settings.env_name, project=project)
    return targeted(with_replacements(plan, replace, cases, lockfile), targets, cases)


def project_tag(settings: Settings) -> str | None:
    """How this project's lockfile entries name it: its folder relative to the lockfile's real
    folder, or None when that is the same folder (a lockfile nobody shares never names one)."""
    lockfile_dir = os.path.realpath(settings.lockfile.parent)
    relative = Path(os.path.relpath(os.path.realpath(settings.root), lockfile_dir)).as_posix()
    return None if relative == "." else relative


def _check_not_foreign(cases: list[TestCase], lockfile: Lockfile, project: str | None, path: Path) -> None:
    """A case id that another project sharing the lockfile recorded would take over its remote case."""
    for case in cases:
        for name in (case.id, *case.previous_ids):
            entry = lockfile.cases.get(name)
            if entry is not None and not owned_by(entry, project):
                raise SuitesyncError(
                    f"{case.source}:{case.line}:{case.col}: the id {name} is recorded in {path} by "
                    f"the project in {entry.project or '.'!r}, which shares that lockfile; nothing was done",
                    hint="ids must be unique across the projects sharing a lockfile: rename this case",
                )


def check_lockfile_writable(settings: Settings) -> None:
    """The lockfile's folder and the backup's must take a new file: known before anything is sent
    (a read-only folder would otherwise fail an apply after its first create)."""
    check_writable(settings.lockfile.parent, settings.lockfile)
    try:
        ensure_state_dir(settings.state_dir)
    except OSError as exc:
        raise WriteError(cannot_write(settings.state_dir, exc)) from None
    check_writable(settings.state_dir, settings.state_dir)


def known_secrets(settings: Settings, cases: list[TestCase]) -> dict[str, str]:
    """Every secret value this project knows -> the environment variable that holds it: the API
    key and each `${env:NAME}` value of the suites (read from the environment, never stored)."""
    found: dict[str, str] = {}
    for case in cases:
        for _, env in case.secrets:
            value = settings.env_value(env)
            if value:
                found.setdefault(value, env)
    if settings.api_key is not None:
        found[settings.api_key.reveal()] = settings.api_key_env
    return found


@contextlib.contextmanager
def connect(
    settings: Settings, agents: set[str], events: Events, **options: Any
) -> Iterator[SigmaMindClient]:
    """A client for the configured API; SIGMAMIND_BASE_URL=local starts the embedded emulator.

    The embedded emulator keeps its state in `.suitesync/` (made git-ignored) and accepts any
    agent id, so the agents it stands in for are named: a mistyped id shows before it reaches
    the platform. httpx is imported only here, when the network is used.
    """
    from suitesync.client import ApiError, SigmaMindClient
    from suitesync.errors import ConfigError
    from suitesync.secret import Secret

    if settings.uses_embedded_emulator:
        with (
            _embedded_emulator(settings, agents, events) as url,
            SigmaMindClient(url, Secret("local"), **options) as client,
        ):
            yield client
        return
    if settings.api_key is None:
        raise ConfigError(f"{settings.api_key_env} is not set", hint="export your SigmaMind API key in it")
    options.setdefault("key_source", settings.api_key_env)
    with SigmaMindClient(settings.base_url, settings.api_key, **options) as client:
        try:
            yield client
        except ApiError as exc:
            if exc.status not in (401, 403):
                raise
            raise SuitesyncError(str(exc), hint=_key_hint(settings, exc.status)) from None


def _key_hint(settings: Settings, status: int) -> str:
    """Which key was sent, and from where: the usual cause of a 401 is the wrong variable or env."""
    where = f"environment {settings.env_name}'s key, " if settings.env_name else ""
    problem = "was not accepted" if status == 401 else "may not use this agent"
    return (
        f"the API key sent ({where}from {settings.api_key_env}) {problem}: check that it is a "
        "current key of the agent's workspace (SigmaMind dashboard, API Keys)"
    )


@contextlib.contextmanager
def _embedded_emulator(settings: Settings, agents: set[str], events: Events) -> Iterator[str]:
    """The embedded emulator, knowing every agent the project names: its URL while it serves."""
    from suitesync.emulator import Emulator

    ensure_state_dir(settings.state_dir)
    events.embedded_agents([(agent, settings.alias_of(agent)) for agent in sorted(agents)])
    with Emulator(state=settings.state_dir / "emulator.sqlite3", agents=sorted(agents)) as emulator:
        yield emulator.url
