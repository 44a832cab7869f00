"""The results side of `run` and `report`: save a document, find its baseline, build the view,
render it (through the registry in runreport.py), decide the exit code. Files in and out; the
renderers write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from suitesync.baseline import compare, load_baseline
from suitesync.errors import ExitCode, SuitesyncError
from suitesync.results import ResultsDocument, dumps, read_many, read_results, save_history, write_results
from suitesync.resultsview import ResultsView, build_view

if TYPE_CHECKING:
    from suitesync.console import Console

FAIL_ON = ("failures", "regressions")
RUN_FORMATS = "suitesync.runreport:RUN_REPORTERS"  # the renderer registry of run and report


@dataclass(frozen=True)
class RunOutputs:
    """Where a run's results go: the report's format on standard output, the files."""

    fmt: str = "text"
    junit: Path | None = None
    results: Path | None = None
    history: Path | None = None  # the project's .suitesync/results/


def write_run_outputs(
    document: ResultsDocument, baseline: ResultsDocument | None, outputs: RunOutputs, console: Console
) -> ResultsView:
    """Save the document (history first, then --results), render it on the console, write
    --junit (always: unfinished cases are its errors). The view, for the exit code."""
    from suitesync.console import render

    save_run(document, outputs.results, outputs.history)
    view = run_view(document, baseline)
    if document.cases:
        render(RUN_FORMATS, outputs.fmt, view, console)
    if outputs.junit is not None:
        render_to(outputs.junit, "junit", view)
    return view


def render_to(path: Path, fmt: str, view: ResultsView) -> None:
    """Render into a file, atomically (a CI step that publishes it never reads half a file)."""
    import io

    from suitesync.console import Console, render

    buffer = io.StringIO()
    render(RUN_FORMATS, fmt, view, Console(buffer, buffer, io.StringIO()))
    write_results(path, buffer.getvalue())


def save_run(document: ResultsDocument, results: Path | None, history: Path | None) -> list[Path]:
    """Write the document to `--results` and into the history folder; the paths written."""
    text = dumps(document)
    written = []
    if history is not None and document.cases:  # an empty run is no baseline for anything
        written.append(save_history(document, history, text))
    if results is not None:
        write_results(results, text)
        written.append(results)
    return written


def check_outputs(*paths: Path | None) -> None:
    """Before a run starts: each output file's folder can be written (or made), so that a typo in
    `--results` or `--junit` costs nothing. Raises WriteError naming the file."""
    from suitesync.atomic import check_writable

    for path in paths:
        if path is None:
            continue
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # the nearest existing folder: the rest is made on writing
        check_writable(folder, path)


def run_baseline(baseline: Path | None, environment: str | None) -> ResultsDocument | None:
    """The baseline of a run, read before the run starts: a bad `--baseline` stops it before
    anything is sent, and the run's own document (saved after) is never its own baseline. None
    also for a folder with no document for the environment yet (the first run): not an error."""
    if baseline is None:
        return None
    if baseline.is_dir():
        from suitesync.results import newest_for

        return newest_for(baseline, environment)
    return load_baseline(baseline, environment)


def run_view(document: ResultsDocument, baseline: ResultsDocument | None) -> ResultsView:
    return build_view(document, None if baseline is None else compare(document, baseline))


def report_view(paths: Sequence[Path], baseline: Path | None) -> ResultsView:
    """The newest of `paths` (by start time), its history (those of its environment), compared
    with `--baseline`, or else with the run before it in the history."""
    documents = read_many(paths, texts=False)  # the history needs only verdicts
    if not documents:
        raise SuitesyncError("no results documents given")
    newest = documents[-1]
    current = read_results(newest.path) if newest.path else newest  # its transcripts are shown
    history = (*(d for d in documents[:-1] if d.environment == current.environment), current)
    if baseline is not None:
        return build_view(current, compare(current, load_baseline(baseline, current.environment)), history)
    if len(history) > 1:
        return build_view(current, compare(current, history[-2]), history)
    return build_view(current, None, history)


@dataclass(frozen=True)
class Verdict:
    code: ExitCode
    reason: str | None  # why the run fails, for the last line on standard error


def verdict(view: ResultsView, fail_on: str) -> Verdict:
    """`failures`: any case below its pass rate (quarantined aside). `regressions`: only
    regressions beyond noise and new cases that fail (without a baseline every case is new)."""
    from suitesync.text import joined, plural

    if fail_on == "regressions":
        if view.comparison is None:
            failing = [c.id for c in view.document.failed]
            what = "new failing case"
        else:
            failing = [c.case.id for c in view.comparison.failing_regressions()]
            what = "regression or new failing case"
        if failing:
            return Verdict(ExitCode.TESTS_FAILED, f"{plural(len(failing), what)}: {joined(failing)}")
        return Verdict(ExitCode.OK, None)
    failed = [c.id for c in view.document.failed]
    if failed:
        return Verdict(ExitCode.TESTS_FAILED, None)
    return Verdict(ExitCode.OK, None)
