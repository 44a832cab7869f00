"""A finished (or stopped) run as a results document: verdicts, agent fingerprints, git.

Inputs are values (the run report, the cases, the lockfile, the git facts) and, for the agents'
fingerprints, the client; the output is a `ResultsDocument`. The test run objects the platform
returns embed the test case, mock data and all: the report given here has its secret values
masked already (`masking.mask_run_report`), and only remarks and conversations are taken from them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suitesync.errors import SuitesyncError
from suitesync.results import (
    FAIL,
    PASS,
    UNFINISHED,
    AgentRecord,
    AttemptRecord,
    CaseRecord,
    GitInfo,
    ResultsDocument,
    Turn,
)

if TYPE_CHECKING:
    from suitesync.client import SigmaMindClient
    from suitesync.lockfile import Lockfile
    from suitesync.models import TestCase
    from suitesync.run import CaseResult, RunReport

# What makes an agent behave as it does (sigmamind-api.md §7.1); its name and ids do not.
FINGERPRINTED = ("instructions", "welcomeMessageType", "welcomeMessage", "agentSettings", "tools")


def build_document(
    report: RunReport,
    cases: Sequence[TestCase],
    lock: Lockfile,
    *,
    environment: str | None,
    git: GitInfo | None,
    fingerprints: Mapping[str, tuple[str | None, str | None]],
    version: str,
) -> ResultsDocument:
    """`fingerprints`: agent id -> (fingerprint, why there is none)."""
    by_id = {case.id: case for case in cases}
    records = tuple(_case_record(result, by_id[result.case_id]) for result in report.results)
    agents = tuple(
        AgentRecord(agent, report.batches.get(agent), *fingerprints.get(agent, (None, "not looked up")))
        for agent in sorted({r.agent_id for r in report.results} | set(report.batches))
    )
    return ResultsDocument(
        suitesync_version=version,
        started_at=_iso(report.started),
        ended_at=_iso(report.started + report.seconds),
        environment=environment,
        lockfile_lineage=lock.lineage if lock.on_disk else None,
        lockfile_serial=lock.serial,
        git=git,
        min_pass_rate=report.min_pass_rate,
        cases=records,
        agents=agents,
        stopped=report.stopped,
    )


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def _case_record(result: CaseResult, case: TestCase) -> CaseRecord:
    attempts = tuple(
        AttemptRecord(
            job_id=a.job_id,
            chat_id=a.chat_id or None,
            verdict=PASS if a.passed else FAIL,
            remarks=a.remarks,
            conversation=tuple(Turn(role, text) for role, text in a.conversation),
        )
        for a in result.attempts
    )
    if result.unfinished is not None and not attempts:  # the batch had not ended: mark each attempt
        attempts = tuple(AttemptRecord(None, None, UNFINISHED) for _ in range(case.attempt))
    return CaseRecord(
        id=case.id,
        test_case_id=result.test_case_id,
        agent_id=result.agent_id,
        source=case.source,
        hash=case.hash,
        min_pass_rate=result.min_pass_rate,
        attempts=attempts,
        quarantine=case.quarantine,
        tags=case.tags,
        label=case.label,
        unfinished=result.unfinished,
    )


# --- agents -------------------------------------------------------------------------------------


def agent_fingerprints(
    client: SigmaMindClient, agents: Sequence[str]
) -> dict[str, tuple[str | None, str | None]]:
    """One GET /v1/agents/{agentId} per agent; a failure is a reason, never an error of the run."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for agent in agents:
        try:
            found[agent] = (fingerprint(client.get_agent(agent)), None)
        except SuitesyncError as exc:
            found[agent] = (None, str(exc))
    return found


def fingerprint(agent: Mapping[str, Any]) -> str:
    """sha256 of the agent's instructions, settings and tools, in canonical JSON."""
    relevant = {key: agent.get(key) for key in FINGERPRINTED}
    text = json.dumps(relevant, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- git ------------------------------------------------------------------------------------------

# CI variables that name the commit and branch when the checkout is detached (GitHub, GitLab, ...).
CI_COMMIT = ("GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "CIRCLE_SHA1", "GIT_COMMIT")
CI_BRANCH = (
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "CI_COMMIT_REF_NAME",
    "BUILDKITE_BRANCH",
    "CIRCLE_BRANCH",
    "GIT_BRANCH",
)


def git_info(root: Path, environ: Mapping[str, str]) -> GitInfo | None:
    """The commit and branch of the project's checkout; the CI's variables where git says
    nothing (a detached HEAD, no git at all). None outside a repository; never an error."""
    commit = _git(root, "rev-parse", "HEAD") or _first(environ, CI_COMMIT)
    branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD") or _first(environ, CI_BRANCH)
    if commit is None and branch is None:
        return None
    return GitInfo(commit, branch)


def _first(environ: Mapping[str, str], names: Sequence[str]) -> str | None:
    return next((environ[name] for name in names if environ.get(name)), None)


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None
