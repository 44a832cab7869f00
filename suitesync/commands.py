"""The steps commands share, composed from the stages: load, read the lockfile, refresh, plan, apply."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from suitesync.atomic import WriteError, cannot_write, check_writable
from suitesync.errors import Cancelled, ExitCode, SuitesyncError
from suitesync.load import display_path
from suitesync.lockfile import Lockfile, read_lockfile
from suitesync.models import TestCase
from suitesync.plan import (
    Kind,
    Plan,
    assumptions_of,
    build_plan,
    owned_by,
    payload_needed,
    payloads_missing,
)
from suitesync.report import write_embedded_agents, write_validation_text
from suitesync.settings import Settings
from suitesync.state import agents_of, list_agent_cases, load_desired, refresh_remote, rehydrate
from suitesync.statedir import ensure_state_dir
from suitesync.text import joined, plural

if TYPE_CHECKING:
    from suitesync.apply import Outcome
    from suitesync.client import SigmaMindClient
    from suitesync.importer import Import
    from suitesync.results import ResultsDocument
    from suitesync.run import RunReport


@dataclass(frozen=True)
class ApplyOptions:
    planfile: Path | None = None
    prune: bool = False
    parallelism: int = 16
    max_deletes: int = 10
    lock_timeout: float = 0.0
    list_grace: float = 10.0


def load_valid_cases(
    settings: Settings, lock: Lockfile, err: TextIO, *, doing: str
) -> tuple[list[TestCase], set[str]]:
    """The desired cases and the agents to look at. Invalid suites: their problems are written to
    `err`, then SuitesyncError says that nothing was `doing` (planned, applied, ...)."""
    desired = load_desired(settings, keep_payload=payload_needed(lock))
    if not desired.ok:
        write_validation_text(desired, err, err)
        raise SuitesyncError(f"the suites are invalid; nothing was {doing}")
    return desired.cases, agents_of(desired, lock, project_tag(settings))


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
    project = project_tag(settings)
    _check_not_foreign(cases, lock, project, settings.lockfile)
    remote = None
    if client is not None:
        remote = refresh_remote(client, agents, settings)
        cases = rehydrate(settings, cases, payloads_missing(cases, lock, remote))
    return build_plan(cases, lock, remote, prune=prune, environment=settings.env_name, project=project)


def project_tag(settings: Settings) -> str | None:
    """How this project's lockfile entries name it: its folder relative to the lockfile's real
    folder, or None when that is the same folder (a lockfile nobody shares never names one)."""
    lockfile_dir = os.path.realpath(settings.lockfile.parent)
    relative = Path(os.path.relpath(os.path.realpath(settings.root), lockfile_dir)).as_posix()
    return None if relative == "." else relative


def _check_not_foreign(cases: list[TestCase], lock: Lockfile, project: str | None, lockfile: Path) -> None:
    """A case id that another project sharing the lockfile recorded would take over its remote case."""
    for case in cases:
        for name in (case.id, *case.previous_ids):
            entry = lock.cases.get(name)
            if entry is not None and not owned_by(entry, project):
                raise SuitesyncError(
                    f"{case.source}:{case.line}:{case.col}: the id {name} is recorded in {lockfile} by "
                    f"the project in {entry.project or '.'!r}, which shares that lockfile; nothing was done",
                    hint="ids must be unique across the projects sharing a lockfile: rename this case",
                )


@contextmanager
def _connect(settings: Settings, agents: set[str], err: TextIO, **options: Any) -> Iterator[SigmaMindClient]:
    """A client for the configured API. The embedded emulator keeps its state in `.suitesync/`
    (made git-ignored) and accepts any agent id, so the agents it stands in for are named: a
    mistyped id shows before it reaches the platform."""
    from suitesync.client import connect  # httpx is imported only when the network is used

    if settings.uses_embedded_emulator:
        ensure_state_dir(settings.state_dir)
        write_embedded_agents([(agent, settings.alias_of(agent)) for agent in sorted(agents)], err)
    with connect(settings, agents, **options) as client:
        yield client


def make_plan(settings: Settings, *, refresh: bool, prune: bool, err: TextIO) -> Plan:
    """A plan of the project (invalid suites: their problems on `err`, then SuitesyncError)."""
    lock = read_lockfile(settings.lockfile)
    cases, agents = load_valid_cases(settings, lock, err, doing="planned")
    if not refresh:
        return plan_with(settings, lock, cases, None, agents, prune=prune)
    with _connect(settings, agents, err) as client:
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
    err: TextIO,
    show_plan: Callable[[Plan], None],
    confirm: Callable[[Plan], bool],
    on_outcome: Callable[[Outcome], None],
    stop: threading.Event,
) -> ApplyReport:
    """Plan (or load a saved plan), confirm, and apply, holding the project lock throughout.

    Refusals (invalid suites, a stale plan, the lock, too many deletes, no confirmation) raise
    SuitesyncError or a subclass before any write request is sent.
    """
    from suitesync.client import RetryBudget
    from suitesync.projectlock import lock_dir_for, project_lock
    from suitesync.savedplan import check_remote, check_secrets, load_saved_plan

    def waiting(holder: str) -> None:
        err.write(f"waiting up to {options.lock_timeout:g} s for the project lock ({holder})\n")
        err.flush()

    with project_lock(lock_dir_for(settings.lockfile), options.lock_timeout, waiting):
        lock = read_lockfile(settings.lockfile)
        check_lockfile_writable(settings)
        cases, agents = load_valid_cases(settings, lock, err, doing="applied")
        saved = load_saved_plan(settings, options.planfile, cases, lock) if options.planfile else None
        with _connect(settings, agents, err, stop=stop) as client:
            plan = saved or plan_with(settings, lock, cases, client, agents, prune=options.prune)
            if saved is not None and saved.refreshed and options.planfile is not None:
                now = assumptions_of(cases, lock, refresh_remote(client, agents, settings))
                check_secrets(options.planfile, saved, now, cases)
                check_remote(options.planfile, saved, now.remote or {}, settings.describe_agent)
            show_plan(plan)
            if not plan.has_changes:
                return ApplyReport(plan, [])
            _check_deletes(plan, options.max_deletes)
            _check_not_stopped(stop)
            if not confirm(plan):
                raise SuitesyncError("apply cancelled; nothing was changed")
            _check_not_stopped(stop)  # intents are written only for an apply that goes ahead
            # The retry budget grows with the work: a flaky API should not end a large apply.
            client.budget = RetryBudget(100 + 2 * len(plan.actions))
            return _execute(settings, options, plan, lock, client, on_outcome, stop)


def check_lockfile_writable(settings: Settings) -> None:
    """The lockfile's folder and the backup's must take a new file: known before anything is sent
    (a read-only folder would otherwise fail an apply after its first create)."""
    check_writable(settings.lockfile.parent, settings.lockfile)
    try:
        ensure_state_dir(settings.state_dir)
    except OSError as exc:
        raise WriteError(cannot_write(settings.state_dir, exc)) from None
    check_writable(settings.state_dir, settings.state_dir)


def _nearest_existing(directory: Path) -> Path:
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return directory


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
    lock: Lockfile,
    client: SigmaMindClient,
    on_outcome: Callable[[Outcome], None],
    stop: threading.Event,
) -> ApplyReport:
    from suitesync.apply import Applier, LockState

    state = LockState(lock, settings.lockfile, settings.state_dir, project_tag(settings), stop)
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


# --- import -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    agent: str
    into: Path | None = None
    dry_run: bool = False
    force: bool = False


def import_agent(settings: Settings, options: ImportOptions, *, out: TextIO, err: TextIO) -> ExitCode:
    """Write the agent's unmanaged remote cases as a suite file and record them in the lockfile."""
    from suitesync.importer import build_import, header_for, write_import
    from suitesync.projectlock import lock_dir_for, project_lock

    agent_id, file_agent = _agent_names(settings, options.agent)
    with project_lock(lock_dir_for(settings.lockfile), 0.0):
        lock = read_lockfile(settings.lockfile)
        cases, _ = load_valid_cases(settings, lock, err, doing="imported")
        with _connect(settings, {agent_id}, err) as client:
            known = lock.by_test_case_id()
            listed = list_agent_cases(client, agent_id, settings, f"--agent {options.agent}")
            remote = [case for case in listed if case.test_case_id not in known]
        if not remote:
            err.write(f"nothing to import: every test case of agent {agent_id} is already managed\n")
            return ExitCode.OK
        taken = set(lock.cases) | {c.id for c in cases} | {p for c in cases for p in c.previous_ids}
        result = build_import(remote, taken, file_agent, header_for(agent_id), known_secrets(settings, cases))
        _check_import_reads_back(settings, result)
        target = _import_target(settings, options.into, file_agent)
        shown = display_path(target.resolve(), settings.root.resolve())
        if options.dry_run:
            out.write(result.text)
            count = plural(len(result.cases), "test case")
            err.write(f"would import {count} of agent {agent_id} into {shown}\n")
            return ExitCode.OK
        _check_overwrite(target, shown, options.force, cases, lock, result)
        check_lockfile_writable(settings)
        check_writable(_nearest_existing(target.parent), shown)
        write_import(result, target, lock, settings, agent_id, project_tag(settings))
    err.write(f"imported {plural(len(result.cases), 'test case')} of agent {agent_id} into {shown}\n")
    write_import_secrets(result, err)
    unlabelled = [c.case_id for c in result.cases if c.unlabelled]
    if unlabelled:
        names = ", ".join(unlabelled)
        which = (
            "1 had no label; the next apply labels it with its id"
            if len(unlabelled) == 1
            else f"{len(unlabelled)} had no label; the next apply labels them with their ids"
        )
        err.write(f"{which}: {names}\n")
    return ExitCode.OK


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


def write_import_secrets(result: Import, err: TextIO) -> None:
    written = [(c.case_id, name, env) for c in result.cases for name, env in c.secrets]
    for case_id, name, env in written:
        err.write(
            f"{case_id}: mockData.{name} holds the value of {env} on the platform: written as "
            f"${{env:{env}}}, never as the value\n"
        )


def _check_overwrite(
    target: Path, shown: str, force: bool, cases: list[TestCase], lock: Lockfile, result: Import
) -> None:
    """An existing file is overwritten only with --force, and never when that would orphan the
    managed cases it holds: their lockfile entries would be left without a file (`--prune` deletes)."""
    if not target.exists():
        return
    if not force:
        raise SuitesyncError(
            f"{shown} exists; nothing was imported", hint="choose --into FILE, or pass --force"
        )
    written = {case.case_id for case in result.cases}
    here = target.resolve()
    orphaned = [
        case.id
        for case in cases
        if (Path.cwd() / case.source).resolve() == here
        and case.id not in written
        and any(name in lock.cases for name in (case.id, *case.previous_ids))
    ]
    if orphaned:
        raise SuitesyncError(
            f"{shown} holds {plural(len(orphaned), 'managed test case')} ({joined(orphaned)}) that "
            "the import would not write back: overwritten, they would be left to `--prune`; "
            "nothing was imported",
            hint="choose --into another file, or move those cases to another suite file first",
        )


def _agent_names(settings: Settings, agent: str) -> tuple[str, str]:
    """(the agent id, the name the suite file uses for it: its alias if it has one)."""
    from suitesync.models import normalize_agent_id

    agent_id = normalize_agent_id(settings.agents.get(agent, agent))
    return agent_id, settings.alias_of(agent_id) or agent_id


def _check_import_reads_back(settings: Settings, result: Import) -> None:
    """The file must read back to the very payloads imported (labels aside, where there were none)."""
    from suitesync.load import parse_text
    from suitesync.validate import validate_files

    check = validate_files(
        [parse_text(result.text, "import.yaml")], settings.agents, env_value=settings.env_value
    )
    hashes = {case.id: case.content_hash for case in check.cases}
    wrong = [c.case_id for c in result.cases if not c.unlabelled and hashes.get(c.case_id) != c.remote.hash]
    if check.problems or wrong:
        raise SuitesyncError(
            f"internal error: the imported file would not read back exactly ({wrong or check.problems[0]})"
        )


def _import_target(settings: Settings, into: Path | None, file_agent: str) -> Path:
    from suitesync.importer import slug
    from suitesync.load import matches_suites

    if into is None:
        base = []
        for part in settings.suites[0].split("/"):
            if any(char in part for char in "*?["):
                break
            base.append(part)
        target = settings.root.joinpath(*base, f"imported-{slug(file_agent)}.yaml")
    else:
        target = into if into.is_absolute() else Path.cwd() / into
    relative = display_path(target.resolve(), settings.root.resolve())
    if not matches_suites(relative, settings.suites):
        raise SuitesyncError(
            f"{relative} is not matched by the project's suites globs ({', '.join(settings.suites)})",
            hint="choose a file the globs match, or add a glob to suitesync.yaml",
        )
    return target


# --- run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    patterns: tuple[str, ...] = ()
    changed: bool = False
    min_pass_rate: float = 1.0
    timeout: float = 1800.0
    allow_drift: bool = False
    tags: tuple[str, ...] = ()


def run_project(
    settings: Settings,
    options: RunOptions,
    *,
    err: TextIO,
    stop: threading.Event,
    on_progress: Callable[[int, int], None],
) -> ResultsDocument | None:
    """Batch-run the selected managed cases; the results document, or None when there is nothing
    to run. A `--case` glob or `--tag` that matches no case of the suites is an error (a typo must
    not pass as "nothing to run").

    Refuses (unless allow_drift) when the plan is not empty: results would be for other cases
    than the files describe.
    """
    from suitesync.masking import Masker, mask_run_report
    from suitesync.run import agents_in, run_batches, select_cases
    from suitesync.runresults import agent_fingerprints

    lock = read_lockfile(settings.lockfile)
    cases, agents = load_valid_cases(settings, lock, err, doing="run")
    _check_patterns(options.patterns, [case.id for case in cases])
    _check_selection(options, cases)
    with _connect(settings, agents, err, stop=stop) as client:
        _check_applied(plan_with(settings, lock, cases, client, agents, prune=False), options.allow_drift)
        selected = select_cases(cases, lock, options.patterns, options.changed, options.tags)
        if not selected:
            return None
        err.write(f"running {plural(len(selected), 'case')} on {plural(len(agents_in(selected)), 'agent')}\n")
        report = run_batches(
            client,
            selected,
            min_pass_rate=options.min_pass_rate,
            timeout=options.timeout,
            stop=stop,
            on_progress=on_progress,
        )
        # A stopped run skips the look-up: its document must be written before the exit.
        ran = sorted({item.case.agent_id for item in selected})
        fingerprints = {} if stop.is_set() else agent_fingerprints(client, ran)
    fingerprints = {a: fingerprints.get(a, (None, "the run was stopped first")) for a in ran}
    # A judge's remarks or a conversation may quote a secret the case gave the agent: masked
    # before the document holds them.
    masked = mask_run_report(report, Masker(known_secrets(settings, cases)))
    return _results_document(settings, masked, [item.case for item in selected], lock, fingerprints)


def _check_applied(plan: Plan, allow_drift: bool) -> None:
    if plan.has_changes and not allow_drift:
        raise SuitesyncError(
            f"{plural(len(plan.actions), 'case')} {'is' if len(plan.actions) == 1 else 'are'} "
            "not applied as the suites describe them "
            "(the plan is not empty)",
            hint="apply first, or pass --allow-drift to run what is on the platform",
        )


def _results_document(
    settings: Settings,
    report: RunReport,
    cases: list[TestCase],
    lock: Lockfile,
    fingerprints: dict[str, tuple[str | None, str | None]],
) -> ResultsDocument:
    from suitesync.runresults import build_document, git_info

    return build_document(
        report,
        cases,
        lock,
        environment=settings.env_name,
        git=git_info(settings.root, settings.environ),
        fingerprints=fingerprints,
        version=_version(),
    )


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("suitesync")
    except metadata.PackageNotFoundError:
        return "unknown"


def _check_selection(options: RunOptions, cases: list[TestCase]) -> None:
    """Each --tag must name a tag of the project, and --case and --tag together must leave a case."""
    import fnmatch

    known = sorted({tag for case in cases for tag in case.tags})
    for tag in options.tags:
        if tag not in known:
            hint = f"the project's tags: {joined(known)}" if known else "no case of the project has tags"
            raise SuitesyncError(f"--tag {tag!r} matches no case of the project; nothing was run", hint=hint)
    if options.tags and options.patterns:
        both = [
            case
            for case in cases
            if set(options.tags) & set(case.tags)
            and any(fnmatch.fnmatchcase(case.id, pattern) for pattern in options.patterns)
        ]
        if not both:
            selectors = " ".join(
                [f"--case {p!r}" for p in options.patterns] + [f"--tag {t!r}" for t in options.tags]
            )
            raise SuitesyncError(
                f"{selectors}: no case of the project matches both; nothing was run",
                hint="a case must match one of the --case globs and have one of the --tag tags",
            )


def _check_patterns(patterns: tuple[str, ...], ids: list[str]) -> None:
    import difflib
    import fnmatch

    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(case_id, pattern) for case_id in ids):
            close = difflib.get_close_matches(pattern, ids, n=1)
            hint = f"did you mean {close[0]}?" if close else f"the project's ids: {joined(sorted(ids))}"
            raise SuitesyncError(
                f"--case {pattern!r} matches no case of the project; nothing was run", hint=hint
            )
