"""Renderers of results documents: text, markdown, JSON and JUnit, written to a given stream.

`run` and `report` use the same ones. The JUnit file validates against the Jenkins xUnit schema
(junit-10.xsd) that CI servers read: one <testsuite> per suite file, one <testcase> per case
(classname = the suite file), the judge's remarks of failed attempts as the failure message; a
quarantined case that failed is <skipped> (reported, never failing the build). That schema has
no properties on a testcase, so each case's attempts, passes and pass rate are properties of its
suite, named `<case id>.attempts` and so on.
"""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from typing import Any, TextIO

from suitesync.results import FAIL, UNFINISHED, CaseRecord, to_json
from suitesync.resultsview import (
    FAILING_SECTIONS,
    ResultsView,
    Row,
    agents_changed_line,
    change_note,
    comparison_line,
    delta_text,
    summary_line,
)
from suitesync.text import capped_markdown, plural, printable

MARKDOWN_LIMIT = 60_000  # GitHub refuses comments (and job summaries warn) past 65,536 characters
TEXT_REMARKS = 3  # remarks shown under a failing case in the text table
TURN_LIMIT = 600  # characters of one chat turn in markdown
TEXT_REMARK_LIMIT = 500  # characters of one remark in the text table


# --- text ----------------------------------------------------------------------------------------


def write_results_text(view: ResultsView, out: TextIO) -> None:
    """The summary first, then a table of the cases, what got worse at the top."""
    out.write(summary_line(view.document) + "\n")
    comparison = view.comparison
    if comparison is not None:
        out.write(comparison_line(comparison, view.section_counts()) + "\n")
        if comparison.agents_changed:
            out.write(agents_changed_line(comparison) + "\n")
    if view.document.stopped:
        out.write(f"unfinished: {view.document.stopped}\n")
    if not view.rows:
        return
    out.write("\n")
    width = max([len(row.case.id) for row in view.rows] + [4])
    head = f"{'case':<{width}}  {'passed':>9}  {'rate':>6}  "
    if comparison is not None:
        head += f"{'then':>9}  {'delta':>6}  "
    out.write(head + "result\n")
    for row in view.rows:
        out.write(_text_row(row, width, comparison is not None) + "\n")
        if row.case.verdict == FAIL:
            for remark in _failed_remarks(row.case)[:TEXT_REMARKS]:
                # Platform text on a terminal: no control character may colour it or forge a line.
                out.write(f"{'':<{width}}    - {printable(remark, TEXT_REMARK_LIMIT)}\n")


def _text_row(row: Row, width: int, compared: bool) -> str:
    case = row.case
    if case.verdict == UNFINISHED:
        cells = f"{case.id:<{width}}  {'-':>9}  {'-':>6}  "
    else:
        cells = f"{case.id:<{width}}  {case.counts:>9}  {case.pass_rate:>6.0%}  "
    if compared:
        then = row.change.then.counts if row.change and row.change.then else "-"
        cells += f"{then:>9}  {delta_text(row.change) or '-':>6}  "
    result = {"pass": "pass", "fail": "FAIL", "unfinished": "UNFINISHED"}[case.verdict]
    notes = []
    if compared and row.section not in ("passing", "failed"):
        notes.append(row.section.upper() if row.section in FAILING_SECTIONS else row.section)
    if case.quarantine and row.section != "quarantined":
        notes.append("quarantined")
    if row.flaky:
        notes.append("flaky")
    note = change_note(row.change) if row.section in ("regressed", "content changed") else ""
    return cells + result + (f"  {' '.join(notes)}" if notes else "") + (f" ({note})" if note else "")


def _failed_remarks(case: CaseRecord) -> list[str]:
    return [a.remarks for a in case.attempts if a.verdict == FAIL]


# --- markdown ------------------------------------------------------------------------------------


def write_results_markdown(view: ResultsView, out: TextIO, *, limit: int = MARKDOWN_LIMIT) -> None:
    """For a job summary or a PR comment: counts, the cases table, then each failing attempt's
    conversation and remarks folded away; capped at `limit` characters with a note."""
    text = _markdown_head(view)
    blocks = [_markdown_failure(row) for row in view.rows if row.case.verdict == FAIL]
    where = "see the HTML report (`suitesync report --format html`)"
    out.write(capped_markdown(text, blocks, limit, "more failing case", where))


def _markdown_head(view: ResultsView) -> str:
    document, comparison = view.document, view.comparison
    lines = ["### suitesync run", "", f"**{summary_line(document)}**", ""]
    if comparison is not None:
        lines += [_md_escape(comparison_line(comparison, view.section_counts())), ""]
        if comparison.agents_changed:
            lines += [f"⚠️ {agents_changed_line(comparison)}", ""]
    if document.stopped:
        lines += [f"_Unfinished: {_md_escape(document.stopped)}._", ""]
    lines += ["| | cases |", "|---|---:|"]
    lines += [f"| {name} | {count} |" for name, count in view.section_counts().items()]
    if comparison is None:
        lines += ["", "| case | passed | rate | result |", "|---|---:|---:|---|"]
    else:
        lines += ["", "| case | passed | rate | then | delta | result |", "|---|---:|---:|---:|---:|---|"]
    lines += [_markdown_row(row, compared=comparison is not None) for row in view.rows]
    return "\n".join(lines) + "\n"


MARKS = {"pass": "✅", "fail": "❌", "unfinished": "⏳"}


def _markdown_row(row: Row, *, compared: bool) -> str:
    case, change = row.case, row.change
    counts = case.counts if case.verdict != UNFINISHED else "-"
    rate = f"{case.pass_rate:.0%}" if case.verdict != UNFINISHED else "-"
    then = change.then.counts if change and change.then else "-"
    result = f"{MARKS[case.verdict]} {row.section if compared else case.verdict}"
    note = change_note(change) if row.section in ("regressed", "content changed") else ""
    if note:
        result += f" ({note})"
    if case.quarantine:
        result += " · quarantined"
    if row.flaky:
        result += " · flaky"
    if not compared:
        return f"| `{case.id}` | {counts} | {rate} | {result} |"
    return f"| `{case.id}` | {counts} | {rate} | {then} | {delta_text(change) or '-'} | {result} |"


def _markdown_failure(row: Row) -> str:
    case = row.case
    title = f"{MARKS['fail']} <code>{_html(case.id)}</code> ({_html(case.source)}): {case.counts} passed"
    lines = ["", f"<details><summary>{title}</summary>", ""]
    failed = [(n, a) for n, a in enumerate(case.attempts, 1) if a.verdict == FAIL]
    for number, attempt in failed:
        lines += [f"**Attempt {number}** ({_md_escape(attempt.job_id or '')})", ""]
        lines += [f"> {_md_escape(_short(attempt.remarks, TURN_LIMIT))}", ""]
        for turn in attempt.conversation:
            who = "user" if turn.role == "user" else "agent"
            lines.append(f"- **{who}:** {_md_escape(_short(turn.content, TURN_LIMIT))}")
        lines.append("")
    lines += ["</details>", ""]
    return "\n".join(lines)


def _short(text: str, limit: int) -> str:
    """One line, control characters escaped, cut at `limit`."""
    return printable(" ".join(text.split()), limit)


def _html(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def _md_escape(text: str) -> str:
    """Platform text in markdown: no raw HTML, links, code spans, table pipes or `*` emphasis.
    `_` stays: GitHub reads no emphasis inside a word, and `${env:CUSTOMER_PIN}` must read as is."""
    escaped = _html(" ".join(text.split()))
    for char in "\\`*[]|":
        escaped = escaped.replace(char, "\\" + char)
    return escaped


# --- JSON ---------------------------------------------------------------------------------------


def results_json(view: ResultsView) -> dict[str, Any]:
    """The results document; with a baseline, its comparison too."""
    document = to_json(view.document)
    comparison = view.comparison
    if comparison is not None:
        base = comparison.baseline
        document["comparison"] = {
            "baseline": {
                "path": str(base.path) if base.path else None,
                "startedAt": base.started_at,
                "git": None if base.git is None else {"commit": base.git.commit, "branch": base.git.branch},
            },
            "counts": view.section_counts(),
            "agentsChanged": list(comparison.agents_changed),
            "cases": {
                row.case.id: {
                    "change": row.change.change.value,
                    "section": row.section,
                    "then": row.change.then.counts if row.change.then else None,
                    "passRateThen": round(row.change.then.pass_rate, 4) if row.change.then else None,
                    "pValue": row.change.p_value,
                    "withinNoise": row.change.within_noise,
                }
                for row in view.rows
                if row.change is not None
            },
        }
    return document


def write_results_json(view: ResultsView, out: TextIO) -> None:
    json.dump(results_json(view), out, indent=2, ensure_ascii=False)
    out.write("\n")


# --- JUnit ----------------------------------------------------------------------------------------


def junit_xml(view: ResultsView) -> bytes:
    document = view.document
    root = ET.Element(
        "testsuites",
        name="suitesync run",
        tests=str(len(document.cases)),
        failures=str(len(document.failed)),
        errors=str(len(document.unfinished)),
        time=f"{document.seconds:.3f}",
    )
    by_source: dict[str, list[CaseRecord]] = {}
    for case in document.cases:
        by_source.setdefault(case.source, []).append(case)
    for source, cases in by_source.items():
        _testsuite(root, view, source, cases)
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text + b"\n"


def _testsuite(root: ET.Element, view: ResultsView, source: str, cases: list[CaseRecord]) -> None:
    document = view.document
    suite = ET.SubElement(
        root,
        "testsuite",
        name=source,
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c.verdict == FAIL and not c.quarantine)),
        errors=str(sum(1 for c in cases if c.verdict == UNFINISHED)),
        skipped=str(sum(1 for c in cases if c.verdict == FAIL and c.quarantine)),
        time=f"{document.seconds:.3f}",
        timestamp=document.started_at[:19],
        hostname=socket.gethostname(),
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="minPassRate", value=f"{document.min_pass_rate:g}")
    for case in cases:
        for name, value in (
            ("attempts", case.finished),
            ("passedAttempts", case.passed),
            ("passRate", f"{case.pass_rate:.4f}".rstrip("0").rstrip(".")),
            ("testCaseId", case.test_case_id),
        ):
            ET.SubElement(properties, "property", name=f"{case.id}.{name}", value=str(value))
    for case in cases:
        _testcase(suite, case)


def _testcase(suite: ET.Element, case: CaseRecord) -> None:
    element = ET.SubElement(suite, "testcase", name=case.id, classname=case.source, time="0")
    if case.verdict == UNFINISHED:  # no verdict: an error of the run, not a failure of the case
        why = case.unfinished or "no verdict"
        error = ET.SubElement(element, "error", message=f"no verdict: {why}", type="Unfinished")
        error.text = why
    elif case.verdict == FAIL:
        remarks = _failed_remarks(case)
        message = (
            f"{case.passed} of {plural(case.finished, 'attempt')} passed (pass rate {case.pass_rate:.0%}, "
            f"minimum {case.min_pass_rate:.0%})" + (f": {remarks[0]}" if remarks else "")
        )
        if case.quarantine:
            ET.SubElement(element, "skipped", message=f"quarantined: {message}")
        else:
            failure = ET.SubElement(element, "failure", message=message, type="PassRateBelowMinimum")
            failure.text = "\n".join(f"attempt {n}: {r}" for n, r in enumerate(remarks, 1)) or message
    out = ET.SubElement(element, "system-out")
    out.text = "\n".join(f"{a.job_id or '-'}: {a.verdict}: {a.remarks}" for a in case.attempts)
