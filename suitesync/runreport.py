"""Renderers for `suitesync run`: a text table, JSON, markdown for a PR comment, and JUnit XML.

The JUnit file validates against the Jenkins xUnit schema (junit-10.xsd), which CI servers
(Jenkins, GitLab, GitHub test-report actions) read: one <testsuite> per suite file, one
<testcase> per case (classname = the suite file), the judge's remarks of failed attempts as the
failure message. That schema has no properties on a testcase, so each case's attempts, passes
and pass rate are properties of its suite, named `<case id>.attempts` and so on.
"""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from suitesync.run import CaseResult, RunReport
from suitesync.text import plural

if TYPE_CHECKING:
    from suitesync.console import Console

RUN_JSON_VERSION = 1
MARKDOWN_REMARKS = 300


def write_run_text(report: RunReport, out: TextIO) -> None:
    width = max([len(r.case_id) for r in report.results] + [4])
    out.write(f"{'case':<{width}}  {'passed':>9}  {'rate':>6}  result\n")
    for result in report.results:
        if result.unfinished is not None:
            out.write(f"{result.case_id:<{width}}  {'-':>9}  {'-':>6}  UNFINISHED\n")
            continue
        verdict = "pass" if result.ok else "FAIL"
        passed = f"{result.passed}/{len(result.attempts)}"
        out.write(f"{result.case_id:<{width}}  {passed:>9}  {result.rate:>6.0%}  {verdict}\n")
        for remark in result.failed_remarks()[:3]:
            out.write(f"{'':<{width}}    - {remark}\n")
    out.write(f"\n{summary(report)}\n")


def summary(report: RunReport) -> str:
    failed, unfinished = len(report.failed), len(report.unfinished)
    passed = len(report.results) - failed - unfinished
    rate = f"minimum pass rate {report.min_pass_rate:.0%}"
    counts = f"{passed} passed, {failed} failed" + (f", {unfinished} unfinished" if unfinished else "")
    return f"{counts} ({rate}; {report.seconds:.0f} s)"


def run_document(report: RunReport) -> dict[str, object]:
    return {
        "version": RUN_JSON_VERSION,
        "minPassRate": report.min_pass_rate,
        "batches": report.batches,
        "passed": len(report.results) - len(report.failed) - len(report.unfinished),
        "failed": len(report.failed),
        "unfinished": len(report.unfinished),
        "stopped": report.stopped,
        "cases": [
            {
                "id": r.case_id,
                "source": r.source,
                "agentId": r.agent_id,
                "testCaseId": r.test_case_id,
                "attempts": len(r.attempts),
                "passedAttempts": r.passed,
                "passRate": round(r.rate, 4),
                "passed": r.ok,
                "unfinished": r.unfinished,
                "runs": [{"jobId": a.job_id, "passed": a.passed, "remarks": a.remarks} for a in r.attempts],
            }
            for r in report.results
        ],
    }


def write_run_json(report: RunReport, out: TextIO) -> None:
    json.dump(run_document(report), out, indent=2, ensure_ascii=False)
    out.write("\n")


def write_run_markdown(report: RunReport, out: TextIO) -> None:
    failed = report.failed
    out.write(f"### suitesync run\n\n**{summary(report)}**\n\n")
    out.write("| case | attempts passed | pass rate | result |\n|---|---:|---:|---|\n")
    for result in report.results:
        if result.unfinished is not None:
            out.write(f"| `{result.case_id}` | - | - | ⏳ unfinished |\n")
            continue
        mark = "✅" if result.ok else "❌"
        out.write(
            f"| `{result.case_id}` | {result.passed}/{len(result.attempts)} | {result.rate:.0%} | {mark} |\n"
        )
    if report.stopped:
        out.write(f"\n_Unfinished: {report.stopped}._\n")
    for result in failed:
        remarks = "\n".join(f"- {_short(r)}" for r in result.failed_remarks())
        title = f"❌ <code>{result.case_id}</code> ({result.source})"
        out.write(f"\n<details><summary>{title}</summary>\n\n{remarks}\n\n</details>\n")


def _run_text(report: RunReport, console: Console) -> None:
    write_run_text(report, console.out)


def _run_json(report: RunReport, console: Console) -> None:
    write_run_json(report, console.out)


def _run_markdown(report: RunReport, console: Console) -> None:
    write_run_markdown(report, console.out)


# Each `run --format` name and its renderer (they also feed the option's choices).
RUN_REPORTERS: dict[str, Callable[[RunReport, Console], None]] = {
    "text": _run_text,
    "json": _run_json,
    "markdown": _run_markdown,
}


def write_nothing_to_run(console: Console) -> None:
    console.note("no cases to run (none selected, or none applied yet)")


def write_junit(report: RunReport, path: Path) -> None:
    """The JUnit file, always (unfinished cases are its errors; CI finds the file it publishes)."""
    from suitesync.atomic import write_atomic

    write_atomic(path, junit_xml(report))


def _short(text: str) -> str:
    return text if len(text) <= MARKDOWN_REMARKS else text[: MARKDOWN_REMARKS - 1] + "…"


def junit_xml(report: RunReport) -> bytes:
    root = ET.Element(
        "testsuites",
        name="suitesync run",
        tests=str(len(report.results)),
        failures=str(len(report.failed)),
        errors=str(len(report.unfinished)),
        time=f"{report.seconds:.3f}",
    )
    by_source: dict[str, list[CaseResult]] = {}
    for result in report.results:
        by_source.setdefault(result.source, []).append(result)
    stamp = datetime.fromtimestamp(report.started, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for source, results in by_source.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=source,
            tests=str(len(results)),
            failures=str(sum(1 for r in results if not r.ok and r.unfinished is None)),
            errors=str(sum(1 for r in results if r.unfinished is not None)),
            skipped="0",
            time=f"{report.seconds:.3f}",
            timestamp=stamp,
            hostname=socket.gethostname(),
        )
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="minPassRate", value=f"{report.min_pass_rate:g}")
        for result in results:
            for name, value in (
                ("attempts", len(result.attempts)),
                ("passedAttempts", result.passed),
                ("passRate", f"{result.rate:.4f}".rstrip("0").rstrip(".")),
                ("testCaseId", result.test_case_id),
            ):
                ET.SubElement(properties, "property", name=f"{result.case_id}.{name}", value=str(value))
        for result in results:
            _testcase(suite, result)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _testcase(suite: ET.Element, result: CaseResult) -> None:
    case = ET.SubElement(suite, "testcase", name=result.case_id, classname=result.source, time="0")
    if result.unfinished is not None:  # no verdict: an error of the run, not a failure of the case
        error = ET.SubElement(case, "error", message=f"no verdict: {result.unfinished}", type="Unfinished")
        error.text = result.unfinished
    elif not result.ok:
        remarks = result.failed_remarks()
        attempts = plural(len(result.attempts), "attempt")
        message = (
            f"{result.passed} of {attempts} passed (pass rate {result.rate:.0%}, "
            f"minimum {result.min_pass_rate:.0%})" + (f": {remarks[0]}" if remarks else "")
        )
        failure = ET.SubElement(case, "failure", message=message, type="PassRateBelowMinimum")
        failure.text = "\n".join(f"attempt {n}: {r}" for n, r in enumerate(remarks, 1)) or message
    out = ET.SubElement(case, "system-out")
    out.text = "\n".join(
        f"{a.job_id}: {'passed' if a.passed else 'failed'}: {a.remarks}" for a in result.attempts
    )
