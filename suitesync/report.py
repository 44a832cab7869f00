"""Renderers of validate, plan and apply: results in, text / JSON / markdown out, written to the
stream they are given. `VALIDATE_REPORTERS` and `PLAN_REPORTERS` map each `--format` name to its
renderer (they also feed the option's choices): a new format is one function and one entry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from suitesync.errors import Problem
from suitesync.plan import Action, FieldChange, Kind, Notice, NoticeKind, Plan
from suitesync.text import capped, capped_markdown, part_of, plural
from suitesync.validate import ValidationResult

if TYPE_CHECKING:
    from suitesync.apply import Outcome
    from suitesync.commands.apply import ApplyReport
    from suitesync.console import Console

VALIDATE_JSON_VERSION = 1


def write_validation_text(result: ValidationResult, out: TextIO, err: TextIO) -> None:
    """One `path:line:col: code: message (hint)` line per problem on `out`, a summary on `err`."""
    for problem in result.problems:
        out.write(problem.render() + "\n")
    _write_validation_summary(result, err)


def _write_validation_summary(result: ValidationResult, err: TextIO) -> None:
    files_with = len({p.path for p in result.problems})
    if result.ok:
        err.write(f"ok: {plural(result.files, 'file')}, {plural(result.case_count, 'case')}\n")
    else:
        problems = plural(result.problem_count, "problem")
        shown = f" ({result.problem_count - result.omitted} shown)" if result.omitted else ""
        err.write(f"{problems} in {part_of(files_with, result.files, 'file')}{shown}\n")


def write_embedded_agents(agents: list[tuple[str, str | None]], err: TextIO) -> None:
    """What the embedded emulator made up: (agent id, its alias in suitesync.yaml or None)."""
    names = [
        f"{agent} ({f'alias {alias}' if alias else 'no alias: named in a suite'})" for agent, alias in agents
    ]
    err.write(
        f"embedded emulator (SIGMAMIND_BASE_URL=local): made up {plural(len(agents), 'agent')}"
        + (f": {', '.join(names)}" if names else "")
        + "; it accepts any id, so check these against the platform\n"
    )


def write_validation_json(result: ValidationResult, out: TextIO) -> None:
    document = {
        "version": VALIDATE_JSON_VERSION,
        "valid": result.ok,
        "files": result.files,
        "cases": result.case_count,
        "problems": [problem.as_dict() for problem in result.problems],
        "omitted": result.omitted,
    }
    json.dump(document, out, indent=2)
    out.write("\n")


def _validation_text(result: ValidationResult, console: Console) -> None:
    write_validation_text(result, console.out, console.err)


def _validation_json(result: ValidationResult, console: Console) -> None:
    write_validation_json(result, console.out)


def _validation_github(result: ValidationResult, console: Console) -> None:
    """GitHub workflow commands: each problem an `::error` annotation on its file and line in the
    pull request (the summary stays a plain line on standard error)."""
    for problem in result.problems:
        console.out.write(github_error(problem) + "\n")
    _write_validation_summary(result, console.err)


def github_error(problem: Problem) -> str:
    """`::error file=F,line=L,col=C,title=CODE::message (hint)`; line 0 (the whole file) names the
    file only. Escaped as GitHub's runner unescapes: `%`, CR and LF everywhere, and in property
    values also `:` and `,`, so no text of a suite can end the command or start another one."""
    where = [f"file={_github_property(problem.path)}"]
    if problem.line:
        where += [f"line={problem.line}", f"col={problem.col}"]
    where.append(f"title={_github_property(problem.code)}")
    message = f"{problem.message} ({problem.hint})" if problem.hint else problem.message
    return f"::error {','.join(where)}::{_github_data(message)}"


def _github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


VALIDATE_REPORTERS: dict[str, Callable[[ValidationResult, Console], None]] = {
    "text": _validation_text,
    "json": _validation_json,
    "github": _validation_github,
}


# --- plan ---------------------------------------------------------------------------------------

SYMBOLS = {
    Kind.CREATE: ("+", "green"),
    Kind.RECREATE: ("+", "green"),
    Kind.UPDATE: ("~", "yellow"),
    Kind.DRIFT: ("!", "magenta"),
    Kind.REPLACE: ("-/+", "red"),
    Kind.DELETE: ("-", "red"),
    Kind.RENAME: (">", "cyan"),
    Kind.RECORD: ("=", "cyan"),
    Kind.ADOPT: ("=", "cyan"),
}
MARKDOWN_LIMIT = 60_000  # GitHub refuses comments over 65,536 characters
UNMANAGED_SHOWN = 20  # unmanaged cases listed in text and markdown; JSON lists them all


def plan_summary(plan: Plan) -> str:
    counts = plan.counts
    parts = [
        f"{counts['create'] + counts['recreate'] + counts['replace']} to create",
        f"{counts['update'] + counts['drift']} to update",
        f"{counts['delete'] + counts['replace']} to delete",
    ]
    if counts["drift"]:
        parts.append(f"{counts['drift']} drifted")
    lock_only = counts["rename"] + counts["record"] + counts.get("adopt", 0)
    if lock_only:
        parts.append(f"{lock_only} lockfile-only")
    return ", ".join(parts) + f"; {plan.unchanged} unchanged"


def write_plan_text(plan: Plan, out: TextIO, *, color: bool = False) -> None:
    def paint(text: str, fg: str) -> str:
        return click.style(text, fg=fg) if color else text

    if not plan.has_changes:
        verb = "matches" if plan.unchanged == 1 else "match"
        where = "platform" if plan.refreshed else "lockfile"
        out.write(f"No changes. {plural(plan.unchanged, 'case')} {verb} the {where}.\n")
    else:
        out.write(f"Plan: {plan_summary(plan)}.\n\n")
    for action in plan.actions:
        symbol, fg = SYMBOLS[action.kind]
        out.write(
            paint(f"{symbol} {action.kind.value:<8} {action.case_id}", fg) + _action_details(action) + "\n"
        )
        if action.reason:
            out.write(f"      {action.reason}\n")
        for change in action.changes:
            out.write(_change_text(change, paint))
    if plan.notices:
        out.write("\nNot touched:\n")
        for line in _notice_lines(plan.notices):
            out.write(f"  {line}\n")
    if not plan.refreshed:
        out.write(
            "\n(planned from the lockfile only: --no-refresh; drift and remote deletes are not checked)\n"
        )


def _action_details(action: Action) -> str:
    parts = []
    if action.test_case_id:
        parts.append(action.test_case_id)
    if action.case is not None:
        parts.append(f"{action.case.source}:{action.case.line}")
    if action.rename_from:
        parts.append(f"renamed from {action.rename_from}")
    parts.append(f"agent {action.agent_id}")
    return "  (" + ", ".join(parts) + ")"


def _change_text(change: FieldChange, paint: Any) -> str:
    if change.text_diff:
        lines = [f"      {change.field}:\n"]
        for line in change.text_diff:
            fg = "green" if line.startswith("+") else "red" if line.startswith("-") else "white"
            lines.append("        " + (paint(line, fg) if line[:1] in "+-" else line) + "\n")
        return "".join(lines)
    return f"      {change.field}: {_shown(change.old)} -> {_shown(change.new)}\n"


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False)


def _notice_lines(notices: tuple[Notice, ...], limit: int = UNMANAGED_SHOWN) -> list[str]:
    """Every notice, but at most `limit` unmanaged cases, then how many more (a platform full of
    hand-made cases must not bury the plan)."""
    unmanaged = [n for n in notices if n.kind is NoticeKind.UNMANAGED]
    grouped = (NoticeKind.UNMANAGED, NoticeKind.FOREIGN)
    lines = [_notice_text(n) for n in notices if n.kind not in grouped]
    lines += _foreign_lines([n for n in notices if n.kind is NoticeKind.FOREIGN])
    shown, rest = capped(unmanaged, limit)
    lines += [_notice_text(n) for n in shown]
    if rest:
        lines.append(
            f"... and {plural(rest, 'more unmanaged test case')} (`suitesync plan --format json` lists "
            "them all; `suitesync import --agent ID` adopts them)"
        )
    return lines


def _foreign_lines(notices: list[Notice]) -> list[str]:
    """One line per other project sharing the lockfile: its entries are its business."""
    by_project: dict[str, list[Notice]] = {}
    for notice in notices:
        by_project.setdefault(notice.project or ".", []).append(notice)
    return [
        f"another project's: {plural(len(found), 'case')} of the shared lockfile "
        f"({capped_names([n.case_id or '' for n in found])}) "
        f"{'was' if len(found) == 1 else 'were'} recorded by the project in {project!r}; "
        "never updated or deleted from here"
        for project, found in sorted(by_project.items())
    ]


def capped_names(names: list[str], limit: int = 5) -> str:
    shown, rest = capped(sorted(names), limit)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def _notice_text(notice: Notice) -> str:
    if notice.kind is NoticeKind.WOULD_DELETE:
        where = f"{notice.test_case_id}, agent {notice.agent_id}"
        return f"would be deleted with --prune: {notice.case_id} ({where})"
    if notice.kind is NoticeKind.PROTECTED:
        return f"protected, never deleted: {notice.case_id} ({notice.test_case_id}) has `protect: true`"
    label = f' "{notice.label}"' if notice.label else ""
    where = f"{notice.test_case_id}{label} on agent {notice.agent_id}"
    return f"unmanaged: {where} (not in the lockfile; never touched)"


def save_plan(plan: Plan, path: Path, env_name: str | None, console: Console) -> None:
    """`plan --out`: the plan file, and on standard error where it is and how to apply it."""
    from suitesync.planfile import write_plan_file

    write_plan_file(plan, path)
    write_plan_saved(path, env_name, console.err)


def write_plan_saved(path: Path, env_name: str | None, err: TextIO) -> None:
    env = f" --env {env_name}" if env_name else ""
    err.write(f"saved the plan to {path}; apply exactly it with `suitesync apply {path}{env}`\n")


def write_plan_json(plan: Plan, out: TextIO) -> None:
    from suitesync.planfile import plan_document

    json.dump(plan_document(plan), out, indent=2, ensure_ascii=False)
    out.write("\n")


def _plan_text(plan: Plan, console: Console) -> None:
    write_plan_text(plan, console.out, color=console.color)


def _plan_json(plan: Plan, console: Console) -> None:
    write_plan_json(plan, console.out)


def _plan_markdown(plan: Plan, console: Console) -> None:
    write_plan_markdown(plan, console.out)


def write_plan_markdown(plan: Plan, out: TextIO, *, limit: int = MARKDOWN_LIMIT) -> None:
    """For a pull-request comment: the summary table first, each action's diff folded away."""
    head = ["### suitesync plan", ""]
    head.append(f"**{plan_summary(plan)}**" if plan.has_changes else "**No changes.**")
    head += ["", "| action | cases |", "|---|---:|"]
    head += [f"| {kind} | {count} |" for kind, count in plan.counts.items() if count]
    if not plan.refreshed:
        head += ["", "_Planned from the lockfile only (`--no-refresh`)._"]
    text = "\n".join(head) + "\n"
    blocks = [_action_markdown(action) for action in plan.actions]
    if plan.notices:
        blocks.append(_notices_markdown(plan.notices))
    out.write(capped_markdown(text, blocks, limit, "more section", "run `suitesync plan` for the whole plan"))


def _action_markdown(action: Action) -> str:
    symbol, _ = SYMBOLS[action.kind]
    where = f" ({action.case.source}:{action.case.line})" if action.case else ""
    summary = f"<code>{symbol}</code> {action.kind.value} <code>{action.case_id}</code>{where}"
    lines = ["", f"<details><summary>{summary}</summary>", ""]
    if action.reason:
        lines += [action.reason, ""]
    if action.changes:
        lines.append("```diff")
        for change in action.changes:
            lines.extend(_change_text(change, lambda text, fg: text).rstrip("\n").split("\n"))
        lines.append("```")
    elif action.case is not None and action.kind in (Kind.CREATE, Kind.RECREATE, Kind.REPLACE):
        lines += ["```json", json.dumps(action.case.redacted_payload(), indent=2, ensure_ascii=False), "```"]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def _notices_markdown(notices: tuple[Notice, ...]) -> str:
    return "\n**Not touched**\n\n" + "".join(f"- {line}\n" for line in _notice_lines(notices))


PLAN_REPORTERS: dict[str, Callable[[Plan, Console], None]] = {
    "text": _plan_text,
    "json": _plan_json,
    "markdown": _plan_markdown,
}


# --- apply ----------------------------------------------------------------------------------------

OUTCOME_SYMBOLS = {
    "created": ("+", "green"),
    "adopted": ("+", "green"),
    "updated": ("~", "yellow"),
    "deleted": ("-", "red"),
    "replaced": ("-/+", "red"),
    "renamed": (">", "cyan"),
    "recorded": ("=", "cyan"),
    "failed": ("x", "red"),
    "skipped": (".", "white"),
}


class ApplyProgress:
    """One line per finished action (what CI logs get); on a terminal, also a live counter."""

    def __init__(self, out: TextIO, err: TextIO, *, total: int, tty: bool, color: bool) -> None:
        self.out, self.err = out, err
        self.total, self.tty, self.color = total, tty, color
        self.done = 0

    def outcome(self, outcome: Outcome) -> None:
        if outcome.status == "skipped":  # never started: counted in the summary, not listed
            self.done += 1
            return
        if self.done == 0:
            self.out.write("\n")  # set the outcomes apart from the plan above them
        self.done += 1
        symbol, fg = OUTCOME_SYMBOLS[outcome.status]
        text = f"{symbol} {outcome.status:<9} {outcome.action.case_id}"
        if outcome.test_case_id:
            text += f"  {outcome.test_case_id}"
        if outcome.error:
            text += f": {outcome.error}"
        if self.tty:
            self.err.write("\r\033[K")
        self.out.write((click.style(text, fg=fg) if self.color else text) + "\n")
        self.out.flush()
        if self.tty and self.done < self.total:
            self.err.write(f"[{self.done}/{self.total}] applying...")
            self.err.flush()


def write_apply_report(report: ApplyReport, console: Console) -> None:
    """The summary after the outcomes (nothing when there was nothing to do)."""
    if report.outcomes or report.fatal:
        write_apply_summary(report.outcomes, report.fatal, console.out)


APPLY_JSON_VERSION = 1


def write_apply_json(report: ApplyReport, console: Console) -> None:
    """One document (schemas/apply.schema.json) on standard output; the plan and the progress
    lines went to standard error."""
    counts: dict[str, int] = {}
    for outcome in report.outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    document = {
        "version": APPLY_JSON_VERSION,
        "complete": not report.failed,
        "stopped": report.fatal,
        "counts": dict(sorted(counts.items())),
        "outcomes": [_outcome_json(outcome) for outcome in report.outcomes],
    }
    json.dump(document, console.out, indent=2)
    console.out.write("\n")


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "caseId": outcome.action.case_id,
        "kind": outcome.action.kind.value,
        "status": outcome.status,
        "agentId": outcome.action.agent_id,
        "testCaseId": outcome.test_case_id,
        "error": outcome.error,
    }


APPLY_REPORTERS: dict[str, Callable[[ApplyReport, Console], None]] = {
    "text": write_apply_report,
    "json": write_apply_json,
}


def write_apply_summary(outcomes: list[Outcome], fatal: str | None, out: TextIO) -> None:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    # What a stop left undone is said here once, not listed case by case.
    parts = [
        f"{count} {status}" + (" (not started: apply again to finish them)" if status == "skipped" else "")
        for status, count in sorted(counts.items())
    ]
    failed = counts.get("failed", 0) + counts.get("skipped", 0)
    head = "Apply complete" if not failed and not fatal else "Apply incomplete"
    out.write(f"\n{head}: {', '.join(parts) or 'nothing to do'}.\n")
    if fatal:
        out.write(f"stopped: {fatal}\n")
