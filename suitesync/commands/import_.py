"""`suitesync import`: an agent's unmanaged remote cases written as a suite -> an ImportReport."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from suitesync.atomic import check_writable
from suitesync.commands.project import (
    Events,
    check_lockfile_writable,
    connect,
    known_secrets,
    list_agent_cases,
    load_valid_cases,
    project_tag,
)
from suitesync.errors import SuitesyncError
from suitesync.importer import Import, build_import, header_for, slug, write_import
from suitesync.load import display_path, matches_suites, parse_text
from suitesync.lockfile import Lockfile, read_lockfile
from suitesync.models import TestCase, normalize_agent_id
from suitesync.options import ImportOptions
from suitesync.projectlock import lock_dir_for, project_lock
from suitesync.settings import Settings
from suitesync.text import joined, plural
from suitesync.validate import validate_files


@dataclass(frozen=True)
class ImportReport:
    agent_id: str
    target: str = ""  # the suite file, as shown (relative to the project)
    count: int = 0  # cases imported (or, with dry_run, that would be): 0, nothing to import
    dry_run: bool = False
    text: str = ""  # the file's text
    unlabelled: list[str] = field(default_factory=list)  # ids of cases that had no label
    # (case id, mockData variable, environment variable): values written as `${env:NAME}`
    secrets: list[tuple[str, str, str]] = field(default_factory=list)


def import_agent(settings: Settings, options: ImportOptions, events: Events) -> ImportReport:
    """Write the agent's unmanaged remote cases as a suite file and record them in the lockfile."""
    agent_id, file_agent = _agent_names(settings, options.agent)
    with project_lock(lock_dir_for(settings.lockfile), 0.0):
        lockfile = read_lockfile(settings.lockfile)
        cases, _ = load_valid_cases(settings, lockfile, doing="imported", required=False)
        with connect(settings, {agent_id}, events) as client:
            known = lockfile.by_test_case_id()
            listed = list_agent_cases(client, agent_id, settings, f"--agent {options.agent}")
            remote = [case for case in listed if case.test_case_id not in known]
        if not remote:
            return ImportReport(agent_id)
        taken = set(lockfile.cases) | {c.id for c in cases} | {p for c in cases for p in c.previous_ids}
        result = build_import(remote, taken, file_agent, header_for(agent_id), known_secrets(settings, cases))
        _check_import_reads_back(settings, result)
        target = _import_target(settings, options.into, file_agent)
        shown = display_path(target.resolve(), settings.root.resolve())
        report = ImportReport(
            agent_id,
            shown,
            len(result.cases),
            options.dry_run,
            result.text,
            [c.case_id for c in result.cases if c.unlabelled],
            [(c.case_id, name, env) for c in result.cases for name, env in c.secrets],
        )
        if not options.dry_run:
            _check_overwrite(target, shown, options.force, cases, lockfile, result)
            check_lockfile_writable(settings)
            check_writable(_nearest_existing(target.parent), shown)
            write_import(result, target, lockfile, settings, agent_id, project_tag(settings))
    return report


def _check_overwrite(
    target: Path, shown: str, force: bool, cases: list[TestCase], lockfile: Lockfile, result: Import
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
        and any(name in lockfile.cases for name in (case.id, *case.previous_ids))
    ]
    if orphaned:
        raise SuitesyncError(
            f"{shown} holds {plural(len(orphaned), 'managed test case')} ({joined(orphaned)}) that "
            "the import would not write back: overwritten, they would be left to `--prune`; "
            "nothing was imported",
            hint="choose --into another file, or move those cases to another suite file first",
        )


def _nearest_existing(directory: Path) -> Path:
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return directory


def _agent_names(settings: Settings, agent: str) -> tuple[str, str]:
    """(the agent id, the name the suite file uses for it: its alias if it has one)."""
    agent_id = normalize_agent_id(settings.agents.get(agent, agent))
    return agent_id, settings.alias_of(agent_id) or agent_id


def _check_import_reads_back(settings: Settings, result: Import) -> None:
    """The file must read back to the very payloads imported (labels aside, where there were none).
    A difference is a bug of suitesync's: it raises an internal error, not a user error."""
    check = validate_files(
        [parse_text(result.text, "import.yaml")], settings.agents, env_value=settings.env_value
    )
    hashes = {case.id: case.content_hash for case in check.cases}
    wrong = [c.case_id for c in result.cases if not c.unlabelled and hashes.get(c.case_id) != c.remote.hash]
    if check.problems or wrong:
        raise RuntimeError(f"the imported file would not read back exactly ({wrong or check.problems[0]})")


def _import_target(settings: Settings, into: Path | None, file_agent: str) -> Path:
    if into is None:
        target = settings.root.joinpath(
            *_suites_base(settings.suites[0]), f"imported-{slug(file_agent)}.yaml"
        )
    else:
        target = into if into.is_absolute() else Path.cwd() / into
    relative = display_path(target.resolve(), settings.root.resolve())
    if not matches_suites(relative, settings.suites):
        raise SuitesyncError(
            f"{relative} is not matched by the project's suites globs ({', '.join(settings.suites)})",
            hint="choose a file the globs match, or add a glob to suitesync.yaml",
        )
    return target


def _suites_base(glob: str) -> list[str]:
    """The folders of a suites glob before its first wildcard: where an imported file goes."""
    base = []
    for part in glob.split("/"):
        if any(char in part for char in "*?["):
            break
        base.append(part)
    return base
