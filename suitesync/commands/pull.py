"""`suitesync pull`: the platform's edits written into the suites -> a PullReport.

The opposite of apply, for cases edited on the platform since the last apply (drift): their
values are written into the YAML (pull.py keeps every other line byte-identical), read back and
compared with the platform, then the lockfile records the platform's hash, so the next plan is
empty. Nothing is sent to the platform.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from suitesync.atomic import write_atomic
from suitesync.commands.project import (
    Events,
    check_lockfile_writable,
    connect,
    known_secrets,
    load_valid_cases,
    project_tag,
    refresh_remote,
)
from suitesync.load import parse_text
from suitesync.lockfile import LockEntry, Lockfile, read_lockfile, write_lockfile
from suitesync.models import RemoteCase, TestCase
from suitesync.options import PullOptions
from suitesync.plan import field_changes, owned_by, shape_hash
from suitesync.projectlock import lock_dir_for, project_lock
from suitesync.pull import FileEdit, LeftAlone, ReadBack, open_for_pull, pull_case, remove_case
from suitesync.settings import Settings
from suitesync.validate import validate_files


@dataclass
class PullReport:
    resolve: str
    dry_run: bool
    pulled: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)  # (id, file, fields)
    left_alone: list[tuple[str, str]] = field(default_factory=list)  # (id, why)
    deleted: list[tuple[str, str, bool]] = field(default_factory=list)  # (id, testCaseId, removed)
    diff: str = ""  # --dry-run: the unified diff of the suite files

    @property
    def drifted(self) -> int:
        return len(self.pulled) + len(self.left_alone) + len(self.deleted)


def pull(settings: Settings, options: PullOptions, events: Events) -> PullReport:
    """Find the drifted cases and, with --resolve theirs, write them into the suites."""
    with project_lock(lock_dir_for(settings.lockfile), 0.0):
        lockfile = read_lockfile(settings.lockfile)
        cases, agents = load_valid_cases(settings, lockfile, doing="pulled")
        cases = _with_payloads(settings, cases)
        with connect(settings, agents, events) as client:
            remote = refresh_remote(client, agents, settings)
        report = PullReport(options.resolve, options.dry_run)
        drifted, gone = _drift(cases, lockfile, remote, settings, options.patterns)
        if options.resolve != "theirs":
            report.left_alone = [(c.id, "kept the file's version (--resolve ours)") for c, _ in drifted]
            report.deleted = [(c.id, tc, False) for c, tc in gone]
            return report
        if not options.dry_run:
            check_lockfile_writable(settings)
        edits = _pull_all(settings, drifted, gone, options, report, known_secrets(settings, cases))
        if options.dry_run:
            report.diff = "".join(_diff(edit) for edit in edits.values() if edit.changed)
        else:
            _save(settings, lockfile, edits, report, cases, remote)
        return report


def _with_payloads(settings: Settings, cases: list[TestCase]) -> list[TestCase]:
    """Every case with its payload (the plan's loader drops unchanged ones)."""
    from suitesync.commands.project import rehydrate

    return rehydrate(settings, cases, {c.id for c in cases if c.payload_json is None})


def _drift(
    cases: list[TestCase],
    lockfile: Lockfile,
    remote: dict[str, list[RemoteCase]],
    settings: Settings,
    patterns: tuple[str, ...],
) -> tuple[list[tuple[TestCase, RemoteCase]], list[tuple[TestCase, str]]]:
    """Cases edited on the platform since the last apply, and cases deleted there."""
    by_id = {rc.test_case_id: rc for rcs in remote.values() for rc in rcs}
    project = project_tag(settings)
    drifted, gone = [], []
    for case in cases:
        if patterns and not any(fnmatch.fnmatchcase(case.id, p) for p in patterns):
            continue
        entry = _entry(case, lockfile)
        if entry is None or entry.pending or entry.test_case_id is None or not owned_by(entry, project):
            continue
        found = by_id.get(entry.test_case_id)
        if found is None:
            gone.append((case, entry.test_case_id))
        elif shape_hash(found, case) != entry.hash or _secrets_differ(found, case):
            drifted.append((case, found))  # a secret differing is reported (never pulled)
    return drifted, gone


def _secrets_differ(found: RemoteCase, case: TestCase) -> bool:
    """Whether the platform's copy holds other values than the environment gives the secrets."""
    names = case.secret_names
    if not names:
        return False

    def secret_values(payload: dict[str, Any]) -> dict[str, Any]:
        return {
            m["variableName"]: m["value"] for m in payload.get("mockData") or [] if m["variableName"] in names
        }

    return secret_values(found.payload) != secret_values(case.payload)


def _entry(case: TestCase, lockfile: Lockfile) -> LockEntry | None:
    return next((lockfile.cases[n] for n in (case.id, *case.previous_ids) if n in lockfile.cases), None)


def _pull_all(
    settings: Settings,
    drifted: list[tuple[TestCase, RemoteCase]],
    gone: list[tuple[TestCase, str]],
    options: PullOptions,
    report: PullReport,
    secrets: dict[str, str],
) -> dict[str, FileEdit]:
    edits: dict[str, FileEdit] = {}
    for case, found in drifted:
        try:
            edit = _edit_of(edits, case)
            pull_case(edit, case, found, secrets, _reader(settings, edit.display))
        except LeftAlone as why:
            report.left_alone.append((case.id, str(why)))
            continue
        changed = tuple(c.field for c in field_changes(case.payload, found.payload, case.secret_names))
        report.pulled.append((case.id, case.source, changed))
    for case, tc_id in gone:
        if options.accept_deletes:
            try:
                remove_case(_edit_of(edits, case), case.id)
            except LeftAlone as why:
                report.left_alone.append((case.id, str(why)))
                continue
        report.deleted.append((case.id, tc_id, options.accept_deletes))
    return edits


def _edit_of(edits: dict[str, FileEdit], case: TestCase) -> FileEdit:
    if case.source not in edits:
        text = (Path.cwd() / case.source).read_text(encoding="utf-8")
        edits[case.source] = open_for_pull(case.source, text)
    return edits[case.source]


def _reader(settings: Settings, display: str) -> ReadBack:
    def read_back(text: str) -> dict[str, str] | str:
        result = validate_files([parse_text(text, display)], settings.agents, env_value=settings.env_value)
        if result.problems:
            return result.problems[0].render()
        return {case.id: case.content_hash for case in result.cases}

    return read_back


def _save(
    settings: Settings,
    lockfile: Lockfile,
    edits: dict[str, FileEdit],
    report: PullReport,
    cases: list[TestCase],
    remote: dict[str, list[RemoteCase]],
) -> None:
    """The suite files first, then the lockfile: a crash in between leaves a file that matches
    the platform and a lockfile that does not know it yet (the next plan records it: `=`)."""
    for display, edit in edits.items():
        if edit.changed:
            write_atomic(Path.cwd() / display, edit.text.encode("utf-8"), shown=display)
    pulled = {case_id for case_id, _, _ in report.pulled}
    by_id = {rc.test_case_id: rc for rcs in remote.values() for rc in rcs}
    for case in cases:
        entry = _entry(case, lockfile)
        if case.id in pulled and entry is not None and entry.test_case_id in by_id:
            key = next(n for n in (case.id, *case.previous_ids) if n in lockfile.cases)
            found = by_id[entry.test_case_id]
            lockfile.cases[key] = replace(entry, hash=shape_hash(found, case))
    for case_id, _, removed in report.deleted:
        if removed:
            lockfile.cases.pop(case_id, None)
    if pulled or any(removed for _, _, removed in report.deleted):
        lockfile.serial += 1
        write_lockfile(lockfile, settings.lockfile, settings.state_dir)


def _diff(edit: FileEdit) -> str:
    lines: Iterator[str] = difflib.unified_diff(
        edit.original.splitlines(keepends=True),
        edit.text.splitlines(keepends=True),
        f"a/{edit.display}",
        f"b/{edit.display}",
    )
    return "".join(lines)
