"""The renderers of `run` and `report`, by format name (the registry feeds `--format`), and the
lines those commands show besides: a run's results view goes in, output comes out.

The formats themselves live in resultsreport.py (text, markdown, JSON, JUnit) and htmlreport.py
(the self-contained page); both write to the stream they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from suitesync.console import Console
    from suitesync.resultsview import ResultsView


def _text(view: ResultsView, console: Console) -> None:
    from suitesync.resultsreport import write_results_text

    write_results_text(view, console.out)


def _json(view: ResultsView, console: Console) -> None:
    from suitesync.resultsreport import write_results_json

    write_results_json(view, console.out)


def _markdown(view: ResultsView, console: Console) -> None:
    from suitesync.resultsreport import write_results_markdown

    write_results_markdown(view, console.out)


def _junit(view: ResultsView, console: Console) -> None:
    from suitesync.resultsreport import junit_xml

    console.out.write(junit_xml(view).decode("utf-8"))


def _html(view: ResultsView, console: Console) -> None:
    from suitesync.htmlreport import write_results_html

    write_results_html(view, console.out)


# Each `run --format` and `report --format` name and its renderer (they also feed the choices).
RUN_REPORTERS: dict[str, Callable[[ResultsView, Console], None]] = {
    "text": _text,
    "json": _json,
    "markdown": _markdown,
    "junit": _junit,
    "html": _html,
}


def write_nothing_to_run(console: Console) -> None:
    console.note("no cases to run (none selected, or none applied yet)")


def write_no_baseline(console: Console, folder: Path) -> None:
    """The first run into a baseline folder: a note, not an error."""
    console.note(f"no baseline yet in {folder} for this environment: nothing to compare with")


def write_fail_on(console: Console, fail_on: str, reason: str) -> None:
    console.note(f"--fail-on {fail_on}: {reason}")


def write_report_saved(console: Console, fmt: str, count: int, path: Path) -> None:
    from suitesync.text import plural

    console.note(f"wrote the {fmt} report of {plural(count, 'results document')} to {path}")
