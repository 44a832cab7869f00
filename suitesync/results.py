"""The results document of a run: typed records, their JSON (version 1), reading saved documents.

One document per `suitesync run`, described by `schemas/results.schema.json`. It is what history,
baselines and reports read, so it keeps everything a reviewer needs later: which suites and which
agent configuration ran, every attempt's verdict, the judge's remarks and the conversation. No
secret is in it: the texts that come back from the platform have the values of `${env:...}`
mock data replaced by their references before they get here (`masking.mask_run_report`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suitesync.errors import SuitesyncError

RESULTS_VERSION = 1
PASS, FAIL, UNFINISHED = "pass", "fail", "unfinished"


@dataclass(frozen=True, slots=True)
class Turn:
    role: str  # "user" (the simulated user) or "assistant" (the agent)
    content: str


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    job_id: str | None  # None: the attempt had not started or ended when the run stopped
    chat_id: str | None
    verdict: str  # pass / fail / unfinished
    remarks: str = ""
    conversation: tuple[Turn, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseRecord:
    id: str
    test_case_id: str
    agent_id: str
    source: str
    hash: str  # the payload hash: a different one in a baseline means the case's content changed
    min_pass_rate: float
    attempts: tuple[AttemptRecord, ...]
    quarantine: bool = False
    tags: tuple[str, ...] = ()
    label: str | None = None
    unfinished: str | None = None  # why the case has no verdict
    # Attempts passed and with a verdict: counted once from `attempts` (-1), or given by a reader
    # that left the attempts out (a report's history needs only these).
    passed: int = field(default=-1, compare=False, repr=False)
    finished: int = field(default=-1, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.passed < 0:
            object.__setattr__(self, "passed", sum(1 for a in self.attempts if a.verdict == PASS))
        if self.finished < 0:
            object.__setattr__(self, "finished", sum(1 for a in self.attempts if a.verdict != UNFINISHED))

    @property
    def failed(self) -> int:
        return self.finished - self.passed

    @property
    def pass_rate(self) -> float:
        return self.passed / self.finished if self.finished else 0.0

    @property
    def verdict(self) -> str:
        if self.unfinished is not None or not self.finished:
            return UNFINISHED
        return PASS if self.pass_rate >= self.min_pass_rate else FAIL

    @property
    def counts(self) -> str:
        return f"{self.passed}/{self.finished}"


@dataclass(frozen=True, slots=True)
class AgentRecord:
    agent_id: str
    batch_id: str | None
    fingerprint: str | None  # sha256 of the agent's instructions, settings and tools
    fingerprint_error: str | None = None  # why there is no fingerprint


@dataclass(frozen=True, slots=True)
class GitInfo:
    commit: str | None
    branch: str | None


@dataclass(frozen=True)
class ResultsDocument:
    suitesync_version: str
    started_at: str  # ISO 8601, UTC
    ended_at: str
    environment: str | None
    lockfile_lineage: str | None
    lockfile_serial: int
    git: GitInfo | None
    min_pass_rate: float  # the run's --min-pass-rate; a case's own minPassRate overrides it
    cases: tuple[CaseRecord, ...]
    agents: tuple[AgentRecord, ...] = ()
    stopped: str | None = None  # why the run ended before every verdict came
    path: Path | None = field(default=None, compare=False)  # where it was read from

    @property
    def failed(self) -> list[CaseRecord]:
        """Cases that fail the run: a verdict below their pass rate, not quarantined."""
        return [c for c in self.cases if c.verdict == FAIL and not c.quarantine]

    @property
    def quarantined(self) -> list[CaseRecord]:
        """Quarantined cases that failed: reported, never failing the run."""
        return [c for c in self.cases if c.verdict == FAIL and c.quarantine]

    @property
    def unfinished(self) -> list[CaseRecord]:
        return [c for c in self.cases if c.verdict == UNFINISHED]

    @property
    def passed(self) -> list[CaseRecord]:
        return [c for c in self.cases if c.verdict == PASS]

    @property
    def seconds(self) -> float:
        from datetime import datetime

        try:
            ended, started = datetime.fromisoformat(self.ended_at), datetime.fromisoformat(self.started_at)
            return (ended - started).total_seconds()
        except ValueError:
            return 0.0

    def case(self, case_id: str) -> CaseRecord | None:
        return self._by_id.get(case_id)

    @property
    def _by_id(self) -> dict[str, CaseRecord]:
        cached: dict[str, CaseRecord] | None = self.__dict__.get("_cases_by_id")
        if cached is None:
            cached = {c.id: c for c in self.cases}
            object.__setattr__(self, "_cases_by_id", cached)
        return cached

    def agent(self, agent_id: str) -> AgentRecord | None:
        return next((a for a in self.agents if a.agent_id == agent_id), None)


def empty_document(min_pass_rate: float, environment: str | None) -> ResultsDocument:
    """The document of a run with nothing to run: no cases (CI still finds the file it expects)."""
    from datetime import UTC, datetime

    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return ResultsDocument("", now, now, environment, None, 0, None, min_pass_rate, ())


# --- to JSON --------------------------------------------------------------------------------------


def to_json(document: ResultsDocument) -> dict[str, Any]:
    """The document as JSON values, in the order a reader scans it: what ran, the counts, the cases."""
    return {
        "version": RESULTS_VERSION,
        "suitesyncVersion": document.suitesync_version,
        "startedAt": document.started_at,
        "endedAt": document.ended_at,
        "environment": document.environment,
        "lockfile": {"lineage": document.lockfile_lineage, "serial": document.lockfile_serial},
        "git": None if document.git is None else git_json(document.git),
        "minPassRate": document.min_pass_rate,
        "stopped": document.stopped,
        "passed": len(document.passed),
        "failed": len(document.failed),
        "quarantined": len(document.quarantined),
        "unfinished": len(document.unfinished),
        "batches": {a.agent_id: a.batch_id for a in document.agents if a.batch_id},
        "agents": [
            {
                "agentId": a.agent_id,
                "batchId": a.batch_id,
                "fingerprint": a.fingerprint,
                "fingerprintError": a.fingerprint_error,
            }
            for a in document.agents
        ],
        "cases": [_case_json(c) for c in document.cases],
    }


def git_json(git: GitInfo) -> dict[str, str | None]:
    return {"commit": git.commit, "branch": git.branch}


def _case_json(case: CaseRecord) -> dict[str, Any]:
    return {
        "id": case.id,
        "testCaseId": case.test_case_id,
        "agentId": case.agent_id,
        "source": case.source,
        "label": case.label,
        "hash": case.hash,
        "minPassRate": case.min_pass_rate,
        "quarantine": case.quarantine,
        "tags": list(case.tags),
        "attempts": case.finished,
        "passedAttempts": case.passed,
        "passRate": round(case.pass_rate, 4),
        "passed": case.verdict == PASS,
        "verdict": case.verdict,
        "unfinished": case.unfinished,
        "runs": [
            {
                "jobId": a.job_id,
                "chatId": a.chat_id,
                "verdict": a.verdict,
                "passed": None if a.verdict == UNFINISHED else a.verdict == PASS,
                "remarks": a.remarks,
                "conversation": [{"role": t.role, "content": t.content} for t in a.conversation],
            }
            for a in case.attempts
        ],
    }


def dumps(document: ResultsDocument) -> str:
    return json.dumps(to_json(document), indent=2, ensure_ascii=False) + "\n"


# --- from JSON -----------------------------------------------------------------------------------


def from_json(data: dict[str, Any], path: Path | None = None, *, texts: bool = True) -> ResultsDocument:
    """A document from its JSON values, already checked against the schema (`read_results`).
    Without `texts`, the attempts are left out, their counts kept (a report's history needs only
    the verdicts)."""
    git = data.get("git")
    lock = data.get("lockfile") or {}
    return ResultsDocument(
        suitesync_version=str(data.get("suitesyncVersion", "")),
        started_at=data["startedAt"],
        ended_at=data["endedAt"],
        environment=data.get("environment"),
        lockfile_lineage=lock.get("lineage"),
        lockfile_serial=int(lock.get("serial") or 0),
        git=None if not git else GitInfo(git.get("commit"), git.get("branch")),
        min_pass_rate=float(data["minPassRate"]),
        stopped=data.get("stopped"),
        agents=tuple(
            AgentRecord(a["agentId"], a.get("batchId"), a.get("fingerprint"), a.get("fingerprintError"))
            for a in data.get("agents") or []
        ),
        cases=tuple(_case_from_json(c, texts) for c in data["cases"]),
        path=path,
    )


def _case_from_json(data: dict[str, Any], texts: bool) -> CaseRecord:
    return CaseRecord(
        id=data["id"],
        test_case_id=data["testCaseId"],
        agent_id=data["agentId"],
        source=data["source"],
        hash=data["hash"],
        min_pass_rate=float(data["minPassRate"]),
        quarantine=bool(data.get("quarantine")),
        tags=tuple(data.get("tags") or ()),
        label=data.get("label"),
        unfinished=data.get("unfinished"),
        attempts=tuple(
            AttemptRecord(
                r.get("jobId"),
                r.get("chatId"),
                r["verdict"],
                r.get("remarks") or "",
                tuple(Turn(t["role"], t["content"]) for t in r.get("conversation") or ()),
            )
            for r in data["runs"]
        )
        if texts
        else (),
        passed=-1 if texts else int(data["passedAttempts"]),
        finished=-1 if texts else int(data["attempts"]),
    )


def read_results(path: Path, *, texts: bool = True) -> ResultsDocument:
    """A saved document; anything else is a one-line error naming the file and what is wrong."""
    import orjson

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SuitesyncError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = orjson.loads(raw)  # 4x faster than json on these documents (a report reads 20 or more)
    except orjson.JSONDecodeError:
        raise SuitesyncError(
            f"{path}{_json_error_place(raw)}: not a suitesync results document (not JSON)",
            hint="pass the JSON files `suitesync run` writes (--results, or .suitesync/results/)",
        ) from None
    _check_schema(path, data)
    return from_json(data, path, texts=texts)


def _json_error_place(raw: bytes) -> str:
    """`:line:col` of the JSON error, as the standard library tells it ("" if it cannot)."""
    try:
        json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:
        return f":{exc.lineno}:{exc.colno}"
    except UnicodeDecodeError:
        return ""
    return ""


def _check_schema(path: Path, data: Any) -> None:
    if isinstance(data, dict) and data.get("version") not in (None, RESULTS_VERSION):
        raise SuitesyncError(
            f"{path}: results document version {data.get('version')!r} is not one this suitesync reads "
            f"(version {RESULTS_VERSION})",
            hint="render it with the suitesync version that wrote it",
        )
    validator = _validator()
    if validator.is_valid(data):
        return
    error = next(iter(validator.iter_errors(data)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.instance_path) or "(top level)"
        raise SuitesyncError(
            f"{path}: not a suitesync results document: at {where}: {error.message}",
            hint="pass the JSON files `suitesync run` writes (--results, or .suitesync/results/)",
        )


@functools.cache
def _validator() -> Any:
    import jsonschema_rs

    from suitesync.schema import RESULTS, load_schema

    return jsonschema_rs.Draft202012Validator(load_schema(RESULTS))


def read_many(paths: Iterable[Path], *, texts: bool = True) -> list[ResultsDocument]:
    """Documents, oldest first (by start time, then path)."""
    import gc

    # The cyclic GC would walk the growing object graph again and again while nothing is garbage
    # (as plan does while it builds cases): a tenth of a 20-document report's time.
    paused = gc.isenabled()
    gc.disable()
    try:
        documents = [read_results(path, texts=texts) for path in paths]
    finally:
        if paused:
            gc.enable()
    return sorted(documents, key=lambda d: (d.started_at, str(d.path)))


# --- the history folder ------------------------------------------------------------------------

KEPT_RESULTS = 50


def history_name(document: ResultsDocument) -> str:
    """A file name that sorts by start time: `2026-05-01T10-00-00.123Z-<env>.json`."""
    stamp = document.started_at.replace(":", "-").replace("+00-00", "Z")
    return f"{stamp}-{document.environment or 'default'}.json"


def save_history(document: ResultsDocument, folder: Path, text: str, keep: int = KEPT_RESULTS) -> Path:
    """Write the document into the history folder, then drop all but the newest `keep` there."""
    from suitesync.statedir import ensure_state_dir

    ensure_state_dir(folder.parent)
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / history_name(document)
    write_results(target, text)
    for old in sorted(folder.glob("*.json"))[:-keep]:
        old.unlink(missing_ok=True)
    return target


def write_results(target: Path, text: str) -> None:
    """Atomically: a reader (a later `report`, a CI step) never sees half a document. Its folder
    is made if needed (`--results out/run.json`)."""
    from suitesync.atomic import WriteError, cannot_write, write_atomic, write_hint

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(cannot_write(target, exc), hint=write_hint(exc)) from None
    write_atomic(target, text.encode("utf-8"))


def newest_for(folder: Path, environment: str | None) -> ResultsDocument | None:
    """The newest (by start time) readable document in `folder` for `environment` (None: the
    default one), whatever the files are called."""
    found = []
    for path in folder.glob("*.json"):
        try:
            document = read_results(path, texts=False)  # a baseline needs only the verdicts
        except SuitesyncError:
            continue  # another file in the folder: not a baseline candidate
        if document.environment == environment:
            found.append(document)
    return max(found, key=lambda d: d.started_at, default=None)
