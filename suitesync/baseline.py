"""A run against a baseline run, and against its history: pure functions over results documents.

Each case of the current run gets a class (new, regressed, fixed, still failing, passing, content
changed, unfinished) and, when it is in both runs, the two-sided Fisher exact p-value of its
(passed, failed) attempts now against then. A regression with p >= 0.05 is "within noise":
shown, but `--fail-on regressions` does not fail on it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from suitesync.errors import SuitesyncError
from suitesync.results import FAIL, PASS, UNFINISHED, CaseRecord, ResultsDocument, newest_for, read_results
from suitesync.stats import fisher_exact, within_noise

FLAKY_WINDOW = 5  # a case whose verdict flipped within its last 5 runs is marked flaky


class Change(Enum):
    REGRESSED = "regressed"
    NEW = "new"
    FIXED = "fixed"
    STILL_FAILING = "still failing"
    CONTENT_CHANGED = "content changed"
    UNFINISHED = "unfinished"
    PASSING = "passing"


@dataclass(frozen=True, slots=True)
class CaseChange:
    case: CaseRecord
    then: CaseRecord | None
    change: Change
    p_value: float | None  # None: not in the baseline, or no verdict on one side

    @property
    def within_noise(self) -> bool:
        return self.change is Change.REGRESSED and self.p_value is not None and within_noise(self.p_value)

    @property
    def delta(self) -> float | None:
        """Pass rate now minus then, when both have verdicts."""
        if self.then is None or not self.then.finished or not self.case.finished:
            return None
        return self.case.pass_rate - self.then.pass_rate


@dataclass(frozen=True)
class Comparison:
    baseline: ResultsDocument
    cases: dict[str, CaseChange]
    agents_changed: tuple[str, ...]  # agents whose configuration fingerprint differs

    def counts(self) -> dict[Change, int]:
        counts = dict.fromkeys(Change, 0)
        for change in self.cases.values():
            counts[change.change] += 1
        return counts

    def of(self, kind: Change) -> list[CaseChange]:
        return [c for c in self.cases.values() if c.change is kind]

    def failing_regressions(self) -> list[CaseChange]:
        """What `--fail-on regressions` fails on: regressions beyond noise and new cases that
        fail, quarantined cases never."""
        return [
            c
            for c in self.cases.values()
            if not c.case.quarantine
            and (
                (c.change is Change.REGRESSED and not c.within_noise)
                or (c.change is Change.NEW and c.case.verdict == FAIL)
            )
        ]


def compare(current: ResultsDocument, baseline: ResultsDocument) -> Comparison:
    cases = {case.id: classify(case, baseline.case(case.id)) for case in current.cases}
    return Comparison(baseline, cases, agents_changed(current, baseline))


def classify(case: CaseRecord, then: CaseRecord | None) -> CaseChange:
    if case.verdict == UNFINISHED:
        return CaseChange(case, then, Change.UNFINISHED, None)
    if then is None or then.verdict == UNFINISHED:
        return CaseChange(case, then, Change.NEW, None)
    p_value = fisher_exact(case.passed, case.failed, then.passed, then.failed)
    if case.hash != then.hash:  # the test itself changed: not a verdict on the agent
        return CaseChange(case, then, Change.CONTENT_CHANGED, p_value)
    now_ok, then_ok = case.verdict == PASS, then.verdict == PASS
    kind = {
        (True, True): Change.PASSING,
        (False, True): Change.REGRESSED,
        (True, False): Change.FIXED,
        (False, False): Change.STILL_FAILING,
    }[(now_ok, then_ok)]
    return CaseChange(case, then, kind, p_value)


def agents_changed(current: ResultsDocument, baseline: ResultsDocument) -> tuple[str, ...]:
    """Agents in both runs, fingerprinted in both, whose fingerprints differ."""
    changed = []
    for agent in current.agents:
        then = baseline.agent(agent.agent_id)
        if then and agent.fingerprint and then.fingerprint and agent.fingerprint != then.fingerprint:
            changed.append(agent.agent_id)
    return tuple(sorted(changed))


def load_baseline(path: Path, environment: str | None) -> ResultsDocument:
    """The baseline a `--baseline FILE_OR_DIR` names: the file, or the newest document of the
    folder for the same environment."""
    if path.is_dir():
        found = newest_for(path, environment)
        if found is None:
            env = f"environment {environment}" if environment else "the default environment"
            raise SuitesyncError(
                f"--baseline {path}: no results document for {env} in the folder",
                hint="point --baseline at a results file, or at a folder `suitesync run` wrote into",
            )
        return found
    if not path.exists():
        raise SuitesyncError(f"--baseline {path}: no such file or folder")
    return read_results(path, texts=False)  # a baseline needs only the verdicts


# --- history -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    started_at: str
    pass_rate: float | None  # None: the case was not run (or had no verdict) then
    verdict: str | None


def history_of(case_id: str, documents: Sequence[ResultsDocument]) -> list[Point]:
    """The case's pass rate in each document, oldest first."""
    points = []
    for document in documents:
        case = document.case(case_id)
        if case is None or case.verdict == UNFINISHED:
            points.append(Point(document.started_at, None, None))
        else:
            points.append(Point(document.started_at, case.pass_rate, case.verdict))
    return points


def is_flaky(points: Sequence[Point], window: int = FLAKY_WINDOW) -> bool:
    """The verdict flipped (pass to fail or back) within the last `window` runs that had one."""
    verdicts = [p.verdict for p in points if p.verdict is not None][-window:]
    return any(a != b for a, b in itertools.pairwise(verdicts))
