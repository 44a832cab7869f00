"""A Plan as a versioned JSON document (plan --format json, plan --out) and back again.

schemas/plan.schema.json describes the document; fields are only ever added within a version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from suitesync.atomic import write_atomic
from suitesync.errors import StalePlanError, SuitesyncError
from suitesync.models import TestCase, new_test_case, with_mock_values
from suitesync.plan import PLAN_VERSION, Action, Assumptions, FieldChange, Kind, Notice, NoticeKind, Plan


class PlanFileError(SuitesyncError):
    pass


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "version": PLAN_VERSION,
        "refreshed": plan.refreshed,
        "prune": plan.prune,
        "summary": dict(plan.counts),
        "actions": [_action(a) for a in plan.actions],
        "notices": [_notice(n) for n in plan.notices],
        "assumptions": {
            "lineage": plan.assumptions.lineage,
            "serial": plan.assumptions.serial,
            "suites": plan.assumptions.suites,
            "remote": None if plan.assumptions.remote is None else dict(plan.assumptions.remote),
            "environment": plan.assumptions.environment,
            "secretCases": dict(plan.assumptions.secret_cases),
            "secretsOnPlatform": dict(plan.assumptions.secrets_on_platform),
        },
    }


def _action(action: Action) -> dict[str, Any]:
    case = action.case
    return {
        "kind": action.kind.value,
        "id": action.case_id,
        "agentId": action.agent_id,
        "testCaseId": action.test_case_id,
        "renameFrom": action.rename_from,
        "oldAgentId": action.old_agent_id,
        "reason": action.reason or None,
        "source": case.source if case else None,
        "line": case.line if case else None,
        "hash": case.hash if case else None,
        "protect": case.protect if case else False,
        "previousIds": list(case.previous_ids) if case else [],
        # Secret mock data is saved as its `${env:NAME}` reference, and resolved again by apply.
        "payload": case.redacted_payload() if case and case.payload_json is not None else None,
        "secrets": [list(pair) for pair in case.secrets] if case else [],
        "changes": [
            {"field": c.field, "old": c.old, "new": c.new, "diff": list(c.text_diff)} for c in action.changes
        ],
    }


def _resolve(
    payload: dict[str, Any], secrets: tuple[tuple[str, str], ...], env_value: EnvLookup
) -> dict[str, Any]:
    values = {}
    for name, env in secrets:
        value = env_value(env)
        if value is None:
            raise PlanFileError(
                f"environment variable {env} (mockData.{name}) is not set", hint=f"export {env}"
            )
        values[name] = value
    return with_mock_values(payload, values, lambda name, _value: values[name])


def _notice(notice: Notice) -> dict[str, Any]:
    return {
        "kind": notice.kind.value,
        "agentId": notice.agent_id,
        "testCaseId": notice.test_case_id,
        "id": notice.case_id,
        "label": notice.label,
        **({"project": notice.project} if notice.project is not None else {}),
    }


def write_plan_file(plan: Plan, path: Path) -> None:
    text = json.dumps(plan_document(plan), indent=2, ensure_ascii=False) + "\n"
    write_atomic(path, text.encode("utf-8"))


EnvLookup = Callable[[str], str | None]


def read_plan_file(
    path: Path,
    env_value: EnvLookup,
    *,
    environment: str | None = None,
    check: Callable[[Assumptions], None] = lambda assumed: None,
) -> Plan:
    """A saved plan; secret mock data is read again from the environment (`env_value`).

    A plan made for another environment (`--env`) than `environment` is refused before anything
    else: its lockfile, agents and secrets are another environment's. `check` sees what the plan
    assumed before its secrets are read again: a lockfile that moved on is the better reason.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan: {exc.strerror}") from None
    except ValueError:
        raise PlanFileError(f"{path}: not a suitesync plan (invalid JSON)") from None
    if not isinstance(document, dict) or document.get("version") != PLAN_VERSION:
        raise PlanFileError(
            f"{path}: not a version {PLAN_VERSION} suitesync plan", hint="make it again with `plan --out`"
        )
    _check_environment(path, document, environment)
    try:
        return _plan(document, env_value, check)
    except PlanFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(
            f"{path}: the plan is damaged ({exc})", hint="make it again with `plan --out`"
        ) from None


def _check_environment(path: Path, document: dict[str, Any], environment: str | None) -> None:
    assumptions = document.get("assumptions")
    if not isinstance(assumptions, dict) or "environment" not in assumptions:
        return  # made before plans recorded it: the lockfile check still applies
    made_for = assumptions["environment"]
    if made_for != environment:
        raise StalePlanError(
            f"{path} was made for {_environment_name(made_for)}, not {_environment_name(environment)}",
            hint=f"apply it with {f'--env {made_for}' if made_for else 'no --env'}, or make a new plan",
        )


def _environment_name(name: str | None) -> str:
    return f"--env {name}" if name else "the default environment (no --env)"


def _plan(document: dict[str, Any], env_value: EnvLookup, check: Callable[[Assumptions], None]) -> Plan:
    raw = document["assumptions"]
    assumptions = Assumptions(
        raw["lineage"],
        raw["serial"],
        raw["suites"],
        raw["remote"],
        raw.get("environment"),
        dict(raw.get("secretCases") or {}),
        {str(k): bool(v) for k, v in (raw.get("secretsOnPlatform") or {}).items()},
    )
    check(assumptions)
    actions = tuple(_read_action(raw, env_value) for raw in document["actions"])
    notices = tuple(
        Notice(
            NoticeKind(n["kind"]),
            n["agentId"],
            n["testCaseId"],
            n.get("id"),
            n.get("label"),
            n.get("project"),
        )
        for n in document["notices"]
    )
    counts = dict(document["summary"])
    return Plan(
        actions,
        notices,
        counts.get("unchanged", 0),
        document["refreshed"],
        document["prune"],
        assumptions,
        counts,
    )


def _read_action(raw: dict[str, Any], env_value: EnvLookup) -> Action:
    case = None
    secrets = tuple((str(name), str(env)) for name, env in raw.get("secrets", []))
    details: dict[str, Any] = {
        "previous_ids": tuple(raw["previousIds"]),
        "protect": raw["protect"],
        "source": raw["source"] or "",
        "line": raw["line"] or 0,
        "secrets": secrets,
    }
    if raw["payload"] is not None:
        case = new_test_case(raw["id"], _resolve(raw["payload"], secrets, env_value), **details)
        if case.hash != raw["hash"]:  # secrets hash as their references: a changed value passes
            raise ValueError(f"the payload of {raw['id']} does not match its hash")
    elif raw["hash"] is not None:  # a lockfile-only action: its payload was not needed
        case = TestCase(raw["id"], raw["agentId"], None, raw["hash"], **details)
    changes = tuple(FieldChange(c["field"], c["old"], c["new"], tuple(c["diff"])) for c in raw["changes"])
    return Action(
        Kind(raw["kind"]),
        raw["id"],
        raw["agentId"],
        raw["testCaseId"],
        case,
        raw["renameFrom"],
        raw["oldAgentId"],
        changes,
        raw["reason"] or "",
    )
