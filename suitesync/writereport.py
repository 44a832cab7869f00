"""Renderers of the commands that write suite files and lockfiles: fmt's list and summary,
import's messages, the lockfile merge driver's summary and conflict report, the state commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suitesync.text import part_of, plural

if TYPE_CHECKING:
    from suitesync.commands.fmt import FmtReport
    from suitesync.commands.import_ import ImportReport
    from suitesync.commands.init import InitReport
    from suitesync.commands.pull import PullReport
    from suitesync.commands.state import StateChange, StateRow
    from suitesync.console import Console
    from suitesync.lockfile import LockEntry
    from suitesync.lockmerge import MergeResult
    from suitesync.rewrite import FormatResult


def write_fmt_report(report: FmtReport, console: Console) -> None:
    write_fmt(report.results, console, check=report.check)


def write_fmt_json(report: FmtReport, console: Console) -> None:
    """One document (schemas/fmt.schema.json) on standard output."""
    _write_json(
        {"version": 1, "check": report.check, "files": [_fmt_json(r) for r in report.results]}, console
    )


def _fmt_json(result: FormatResult) -> dict[str, Any]:
    return {
        "path": result.display,
        "changed": result.changed,
        "leftAlone": result.problem,
        "problems": [problem.as_dict() for problem in result.problems],
    }


def write_import_json(report: ImportReport, console: Console) -> None:
    """One document (schemas/import.schema.json) on standard output (the file itself, with
    --dry-run, is its `text`)."""
    document: dict[str, Any] = {
        "version": 1,
        "agentId": report.agent_id,
        "file": report.target if report.count else None,
        "imported": report.count,
        "dryRun": report.dry_run,
        "unlabelled": report.unlabelled,
        "secrets": [{"caseId": c, "variable": v, "env": e} for c, v, e in report.secrets],
    }
    if report.dry_run and report.count:
        document["text"] = report.text
    _write_json(document, console)


def _write_json(document: dict[str, Any], console: Console) -> None:
    json.dump(document, console.out, indent=2)
    console.out.write("\n")


def write_fmt(results: list[FormatResult], console: Console, *, check: bool) -> None:
    """Each file changed (standard output) or left alone (its problems, standard error), then a
    summary on standard error."""
    for result in results:
        for problem in result.problems:
            console.note(problem.render())
        if result.problem:
            console.note(f"{result.display}: {result.problem}")
        elif result.changed:
            console.out.write(f"{'would reformat' if check else 'formatted'}: {result.display}\n")
    changed = sum(r.changed for r in results)
    left = sum(1 for r in results if r.problem)
    console.note(
        f"{part_of(changed, len(results), 'file')} {'would change' if check else 'reformatted'}"
        + (f"; {left} left alone" if left else "")
    )


def write_import(report: ImportReport, console: Console) -> None:
    """The file itself with --dry-run (standard output), and what was (or would be) imported."""
    if not report.count:
        console.note(f"nothing to import: every test case of agent {report.agent_id} is already managed")
        return
    count = plural(report.count, "test case")
    if report.dry_run:
        console.out.write(report.text)
        console.note(f"would import {count} of agent {report.agent_id} into {report.target}")
        return
    console.note(f"imported {count} of agent {report.agent_id} into {report.target}")
    for case_id, name, env in report.secrets:
        console.note(
            f"{case_id}: mockData.{name} holds the value of {env} on the platform: written as "
            f"${{env:{env}}}, never as the value"
        )
    if report.unlabelled:
        console.note(f"{_unlabelled(len(report.unlabelled))}: {', '.join(report.unlabelled)}")


def _unlabelled(count: int) -> str:
    if count == 1:
        return "1 had no label; the next apply labels it with its id"
    return f"{count} had no label; the next apply labels them with their ids"


def write_lockfile_merge(result: MergeResult, shown: str, console: Console) -> None:
    """One line for a clean merge; for a conflict, each id with both remote cases, and what to do."""
    if not result.conflicts:
        console.note(
            f"suitesync: merged the lockfile {shown}: {plural(len(result.added), 'entry', 'entries')} "
            f"added and {len(result.removed)} removed by the other side; serial {result.lockfile.serial}"
        )
        return
    console.note(
        f"error: suitesync could not merge the lockfile {shown}: {plural(len(result.conflicts), 'conflict')}:"
    )
    for conflict in result.conflicts:
        ours, theirs = conflict.ours, conflict.theirs
        console.note(
            f"  {conflict.case_id}: ours {ours.test_case_id} (agent {ours.agent_id}), theirs "
            f"{theirs.test_case_id} (agent {theirs.agent_id}): {conflict.why}"
        )
    console.note(
        "hint: the file now holds our entry for each; to keep theirs, run `suitesync state rm ID` and "
        "`suitesync state adopt ID TESTCASEID`, then `git add` the lockfile. The remote case nobody "
        "keeps shows as unmanaged in the next plan (a duplicate: delete it on the platform)"
    )


def _state_text(rows: list[StateRow], console: Console) -> None:
    """One line per entry: id, testCaseId, agent, where the suites define it, and its flags."""
    for row in rows:
        console.out.write(f"{row.case_id}  {_entry_line(row.entry)}  {row.location or '(in no suite)'}\n")
    console.note(plural(len(rows), "entry", "entries"))


def _entry_line(entry: LockEntry) -> str:
    flags = [name for name, on in (("pending", entry.pending), ("protect", entry.protect)) if on]
    if entry.project is not None:
        flags.append(f"project {entry.project}")
    shown = f"{entry.test_case_id or '(pending create)'}  agent {entry.agent_id}"
    return shown + (f"  [{', '.join(flags)}]" if flags else "")


def _state_json(rows: list[StateRow], console: Console) -> None:
    document = {"version": 1, "cases": [_row_document(row) for row in rows]}
    console.out.write(json.dumps(document, indent=2) + "\n")


def _row_document(row: StateRow) -> dict[str, Any]:
    entry = row.entry
    return {
        "id": row.case_id,
        "testCaseId": entry.test_case_id,
        "agentId": entry.agent_id,
        "location": row.location,
        "pending": entry.pending,
        "protect": entry.protect,
        "hash": entry.hash,
        "appliedSerial": entry.applied_serial,
        "project": entry.project,
    }


STATE_REPORTERS: dict[str, Callable[[list[StateRow], Console], None]] = {
    "text": _state_text,
    "json": _state_json,
}


def write_state_show(row: StateRow, console: Console) -> None:
    """Every field of one entry, one per line."""
    console.out.write(f"{row.case_id}\n")
    for key, value in _row_document(row).items():
        if key != "id":
            console.out.write(f"  {key}: {value if value is not None else '-'}\n")


_AFTER = {
    "removed": "the remote case stays on the platform; the next plan lists it as unmanaged",
    "moved": "nothing was sent",
    "adopted": "nothing was sent; the next plan shows how the suite differs from it as an update",
}


def write_state_change(change: StateChange, console: Console) -> None:
    """Each entry changed, as it was and as it is, then what that means and the new serial."""
    for old_id, before, new_id, after in change.rows:
        entry = after or before
        assert entry is not None  # a row always has one side
        what = f"{old_id} -> {new_id}" if change.verb == "moved" else new_id
        console.out.write(f"{change.verb} {what}  ({_entry_line(entry)})\n")
    console.note(f"{_AFTER[change.verb]}; lockfile serial {change.serial}")


def write_pull(report: PullReport, console: Console) -> None:
    """The diff (--dry-run) on standard output; each case pulled, left alone or deleted, and a
    summary, on standard error."""
    console.out.write(report.diff)
    verb = "would pull" if report.dry_run else "pulled"
    for case_id, source, fields in report.pulled:
        console.note(f"{verb} {case_id} into {source}: {', '.join(fields) or 'mockData (order)'}")
    for case_id, why in report.left_alone:
        console.note(f"left alone: {case_id}: {why}")
    for case_id, tc_id, removed in report.deleted:
        if removed:
            console.note(
                f"{'would remove' if report.dry_run else 'removed'} {case_id}: "
                f"{tc_id} was deleted on the platform"
            )
        else:
            console.note(
                f"deleted on the platform: {case_id} ({tc_id}); "
                "--accept-deletes removes it from the suites and the lockfile"
            )
    if not report.drifted:
        console.note("nothing to pull: no case was edited on the platform since the last apply")
    elif report.resolve == "fail":
        console.note(
            f"{plural(report.drifted, 'case')} changed on the platform since the last apply (--resolve fail)"
        )


def write_init(report: InitReport, console: Console) -> None:
    """Each file written (standard output), each left as it was (standard error), and what next."""
    for path in report.written:
        console.out.write(f"wrote {path}\n")
    for path in report.skipped:
        console.note(f"skipped {path}: it exists (never overwritten)")
    where = "" if report.root == Path(".") else f" -C {report.root}"
    if report.placeholder_agent and "suitesync.yaml" in report.written:
        console.note(
            f"next: put your agent's id in place of the placeholder in {report.root / 'suitesync.yaml'}"
        )
    console.note(
        f"next: suitesync{where} validate; SIGMAMIND_BASE_URL=local suitesync{where} plan "
        "(the embedded emulator: no key needed)"
    )


def write_stale_schemas(paths: list[str], console: Console) -> None:
    """A note (not a problem) per schema copy that differs from the installed suitesync's."""
    for path in paths:
        name = "--config " if path.endswith("config.schema.json") else ""
        console.note(
            f"note: {path} is not the schema of the installed suitesync (an older copy?): editors "
            f"complete and check from it; refresh it with `suitesync schema {name}> {path}`"
        )


FMT_REPORTERS: dict[str, Callable[[FmtReport, Console], None]] = {
    "text": write_fmt_report,
    "json": write_fmt_json,
}
IMPORT_REPORTERS: dict[str, Callable[[ImportReport, Console], None]] = {
    "text": write_import,
    "json": write_import_json,
}
