"""What every results renderer shows, decided once: the run, its baseline comparison, its history,
and the cases in reading order (regressions first, passing last), each with its section."""

from __future__ import annotations

from dataclasses import dataclass, field

from suitesync.baseline import CaseChange, Change, Comparison, Point, history_of, is_flaky
from suitesync.results import FAIL, PASS, UNFINISHED, CaseRecord, ResultsDocument

# Sections in reading order: what got worse first, what is fine last.
SECTIONS = (
    "regressed",
    "new failures",
    "failed",
    "fixed",
    "still failing",
    "quarantined",
    "content changed",
    "unfinished",
    "new",
    "passing",
)
FAILING_SECTIONS = frozenset({"regressed", "new failures", "failed", "still failing"})


@dataclass(frozen=True)
class Row:
    case: CaseRecord
    section: str
    change: CaseChange | None
    history: tuple[Point, ...] = ()

    @property
    def flaky(self) -> bool:
        return len(self.history) > 1 and is_flaky(self.history)


@dataclass(frozen=True)
class ResultsView:
    document: ResultsDocument
    comparison: Comparison | None = None
    history: tuple[ResultsDocument, ...] = ()  # oldest first, the document last (report only)
    rows: tuple[Row, ...] = field(default=())

    @property
    def flaky(self) -> list[Row]:
        return [row for row in self.rows if row.flaky]

    def section_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SECTIONS, 0)
        for row in self.rows:
            counts[row.section] += 1
        return {name: count for name, count in counts.items() if count}


def build_view(
    document: ResultsDocument,
    comparison: Comparison | None = None,
    history: tuple[ResultsDocument, ...] = (),
) -> ResultsView:
    rows = []
    for case in document.cases:
        change = comparison.cases.get(case.id) if comparison else None
        points = tuple(history_of(case.id, history)) if len(history) > 1 else ()
        rows.append(Row(case, section_of(case, change), change, points))
    # Stable: suite order within a section, regressions beyond noise before those within it.
    rows.sort(key=lambda row: (SECTIONS.index(row.section), bool(row.change and row.change.within_noise)))
    return ResultsView(document, comparison, history, tuple(rows))


def section_of(case: CaseRecord, change: CaseChange | None) -> str:
    if case.verdict == UNFINISHED:
        return "unfinished"
    if case.quarantine and case.verdict == FAIL:
        return "quarantined"
    if change is None:
        return "passing" if case.verdict == PASS else "failed"
    if change.change is Change.NEW:
        return "new" if case.verdict == PASS else "new failures"
    return str(change.change.value)


def summary_line(document: ResultsDocument) -> str:
    """`1 passed, 2 failed, 1 quarantined (minimum pass rate 100%; 4 s)`."""
    parts = [f"{len(document.passed)} passed", f"{len(document.failed)} failed"]
    if document.quarantined:
        parts.append(f"{len(document.quarantined)} quarantined")
    if document.unfinished:
        parts.append(f"{len(document.unfinished)} unfinished")
    return f"{', '.join(parts)} (minimum pass rate {document.min_pass_rate:.0%}; {document.seconds:.0f} s)"


def comparison_line(comparison: Comparison, counts: dict[str, int]) -> str:
    """`compared with <file> (2026-05-01 10:00 UTC, main@abc1234): 1 regressed, 2 passing`."""
    base = comparison.baseline
    where = str(base.path) if base.path else "the baseline"
    return f"compared with {where} ({describe_run(base)}): " + ", ".join(
        f"{count} {name}" for name, count in counts.items()
    )


def describe_run(document: ResultsDocument) -> str:
    """When and what ran: `2026-05-01 10:00 UTC, main@abc1234`."""
    text = document.started_at[:16].replace("T", " ") + " UTC"
    git = document.git
    if git and git.commit:
        text += f", {git.branch + '@' if git.branch else ''}{git.commit[:7]}"
    if document.environment:
        text += f", --env {document.environment}"
    return text


def change_note(change: CaseChange | None) -> str:
    """`4/5 -> 3/5, p=1.00, within noise` for a case in both runs; empty otherwise."""
    if change is None or change.then is None or change.p_value is None:
        return ""
    note = f"{change.then.counts} -> {change.case.counts}, {p_text(change.p_value)}"
    if change.within_noise:
        note += ", within noise"
    return note


def p_text(p_value: float) -> str:
    """`p=0.42`; small values keep their magnitude: `p=0.004`, `p<0.001`."""
    if p_value < 0.001:
        return "p<0.001"
    return f"p={p_value:.3f}" if p_value < 0.01 else f"p={p_value:.2f}"


def delta_text(change: CaseChange | None) -> str:
    if change is None or change.delta is None:
        return ""
    points = round(change.delta * 100)
    return "±0" if points == 0 else f"{points:+d}%"


def agents_changed_line(comparison: Comparison) -> str:
    agents = ", ".join(comparison.agents_changed)
    return f"agent configuration changed since the baseline: {agents}"
