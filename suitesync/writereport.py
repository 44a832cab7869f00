"""Renderers of the commands that write suite files: fmt's list and summary, import's messages."""

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
    from suitesync.console import Console
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
