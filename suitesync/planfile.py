"""A Plan as a versioned JSON document (plan --format json, plan --out) and back again.

schemas/plan.schema.json describes the document; fields are only ever added within a version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from suitesync.errors import SuitesyncError
from suitesync.models import TestCase, new_test_case
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
        "payload": case.payload if case and case.payload_json is not None else None,
        "changes": [
            {"field": c.field, "old": c.old, "new": c.new, "diff": list(c.text_diff)} for c in action.changes
        ],
    }


def _notice(notice: Notice) -> dict[str, Any]:
    return {
        "kind": notice.kind.value,
        "agentId": notice.agent_id,
        "testCaseId": notice.test_case_id,
        "id": notice.case_id,
        "label": notice.label,
    }


def write_plan_file(plan: Plan, path: Path) -> None:
    path.write_text(json.dumps(plan_document(plan), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_plan_file(path: Path) -> Plan:
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
    try:
        return _plan(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(
            f"{path}: the plan is damaged ({exc})", hint="make it again with `plan --out`"
        ) from None


def _plan(document: dict[str, Any]) -> Plan:
    actions = tuple(_read_action(raw) for raw in document["actions"])
    notices = tuple(
        Notice(NoticeKind(n["kind"]), n["agentId"], n["testCaseId"], n.get("id"), n.get("label"))
        for n in document["notices"]
    )
    raw = document["assumptions"]
    assumptions = Assumptions(raw["lineage"], raw["serial"], raw["suites"], raw["remote"])
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


def _read_action(raw: dict[str, Any]) -> Action:
    case = None
    details: dict[str, Any] = {
        "previous_ids": tuple(raw["previousIds"]),
        "protect": raw["protect"],
        "source": raw["source"] or "",
        "line": raw["line"] or 0,
    }
    if raw["payload"] is not None:
        case = new_test_case(raw["id"], raw["payload"], **details)
        if case.hash != raw["hash"]:
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
