"""The planner as a table of small pure cases: (desired, lockfile, remote) -> actions and notices."""

from __future__ import annotations

from typing import Any

import pytest

from suitesync.lockfile import LockEntry, Lockfile
from suitesync.models import RemoteCase, TestCase, new_test_case, payload_hash
from suitesync.plan import Kind, NoticeKind, build_plan, field_changes

A = "AgentAAAAAAAAAAA1"
B = "AgentBBBBBBBBBBB2"


def payload(label: str = "L", agent: str = A, **changes: Any) -> dict[str, Any]:
    body = {
        "agentId": agent,
        "userPrompt": "You are a customer.",
        "successCriteria": "The agent helps.",
        "label": label,
        "llmModel": "gpt-4o-mini",
        "mockData": [{"variableName": "n", "value": "v"}],
        "attempt": 1,
    }
    return {**body, **changes}


def case(case_id: str, previous: tuple[str, ...] = (), protect: bool = False, **changes: Any) -> TestCase:
    return new_test_case(
        case_id, payload(**changes), previous_ids=previous, protect=protect, source="s.yaml", line=1
    )


def entry(tc_id: str | None, body: dict[str, Any] | None = None, **extra: Any) -> LockEntry:
    body = body or payload()
    return LockEntry(tc_id, body["agentId"], payload_hash(body), **extra)


def remote(tc_id: str, body: dict[str, Any] | None = None) -> RemoteCase:
    body = body or payload()
    return RemoteCase(tc_id, body["agentId"], body, payload_hash(body))


def lock(**entries: LockEntry) -> Lockfile:
    return Lockfile("0" * 32, 1, dict(entries))


def kinds(plan: Any) -> list[tuple[str, str]]:
    return [(a.kind.value, a.case_id) for a in plan.actions]


def test_fresh_project_creates_everything() -> None:
    plan = build_plan([case("a"), case("b")], lock(), {A: []})
    assert kinds(plan) == [("create", "a"), ("create", "b")]
    assert plan.has_changes and plan.counts["create"] == 2


def test_in_sync_is_empty() -> None:
    plan = build_plan([case("a")], lock(a=entry("tc_1")), {A: [remote("tc_1")]})
    assert (kinds(plan), plan.notices, plan.unchanged, plan.has_changes) == ([], (), 1, False)


def test_suite_edit_is_an_update_with_field_changes() -> None:
    plan = build_plan([case("a", label="New")], lock(a=entry("tc_1")), {A: [remote("tc_1")]})
    (action,) = plan.actions
    assert (action.kind, action.test_case_id) == (Kind.UPDATE, "tc_1")
    assert [(c.field, c.old, c.new) for c in action.changes] == [("label", "L", "New")]


def test_remote_edit_is_drift() -> None:
    edited = payload(attempt=3)
    plan = build_plan([case("a")], lock(a=entry("tc_1")), {A: [remote("tc_1", edited)]})
    (action,) = plan.actions
    assert action.kind is Kind.DRIFT
    assert [(c.field, c.old, c.new) for c in action.changes] == [("attempt", 3, 1)]


def test_remote_delete_is_a_recreate() -> None:
    assert kinds(build_plan([case("a")], lock(a=entry("tc_1")), {A: []})) == [("recreate", "a")]


def test_remote_already_matching_is_lockfile_only() -> None:
    plan = build_plan([case("a", label="New")], lock(a=entry("tc_1")), {A: [remote("tc_1", payload("New"))]})
    assert kinds(plan) == [("record", "a")]
    assert not plan.actions[0].kind.sends_request


def test_rename_keeps_the_remote_case() -> None:
    plan = build_plan([case("new", previous=("old",))], lock(old=entry("tc_1")), {A: [remote("tc_1")]})
    (action,) = plan.actions
    assert (action.kind, action.rename_from, action.test_case_id) == (Kind.RENAME, "old", "tc_1")
    assert plan.notices == ()


def test_rename_with_an_edit_is_an_update_that_moves_the_entry() -> None:
    plan = build_plan(
        [case("new", previous=("old",), label="X")], lock(old=entry("tc_1")), {A: [remote("tc_1")]}
    )
    (action,) = plan.actions
    assert (action.kind, action.rename_from) == (Kind.UPDATE, "old")


def test_agent_change_replaces() -> None:
    plan = build_plan([case("a", agent=B)], lock(a=entry("tc_1")), {A: [remote("tc_1")], B: []})
    (action,) = plan.actions
    assert (action.kind, action.old_agent_id, action.agent_id, action.test_case_id) == (
        Kind.REPLACE,
        A,
        B,
        "tc_1",
    )


def test_removed_case_is_deleted_only_with_prune() -> None:
    state = lock(a=entry("tc_1"))
    without = build_plan([], state, {A: [remote("tc_1")]})
    assert kinds(without) == [] and [(n.kind, n.case_id) for n in without.notices] == [
        (NoticeKind.WOULD_DELETE, "a")
    ]
    assert not without.has_changes
    with_prune = build_plan([], state, {A: [remote("tc_1")]}, prune=True)
    assert kinds(with_prune) == [("delete", "a")] and with_prune.actions[0].test_case_id == "tc_1"


def test_protected_case_is_never_deleted() -> None:
    plan = build_plan([], lock(a=entry("tc_1", protect=True)), {A: [remote("tc_1")]}, prune=True)
    assert kinds(plan) == []
    assert [(n.kind, n.case_id) for n in plan.notices] == [(NoticeKind.PROTECTED, "a")]


def test_unknown_remote_cases_are_unmanaged_and_untouched() -> None:
    stranger = remote("tc_9", payload("Hand-made"))
    plan = build_plan([case("a")], lock(a=entry("tc_1")), {A: [remote("tc_1"), stranger]}, prune=True)
    assert kinds(plan) == []
    assert [(n.kind, n.test_case_id, n.label) for n in plan.notices] == [
        (NoticeKind.UNMANAGED, "tc_9", "Hand-made")
    ]


def test_pending_entry_is_planned_as_a_create() -> None:
    plan = build_plan([case("a")], lock(a=entry(None, pending=True)), {A: []})
    assert kinds(plan) == [("create", "a")] and "interrupted" in plan.actions[0].reason


def test_no_refresh_plans_from_hashes_alone() -> None:
    plan = build_plan([case("a", label="X"), case("b")], lock(a=entry("tc_1"), b=entry("tc_2")), None)
    assert kinds(plan) == [("update", "a")]
    assert plan.actions[0].changes == () and "refresh" in plan.actions[0].reason
    assert not plan.refreshed and plan.assumptions.remote is None


def test_reordering_and_inserting_cases() -> None:
    state = lock(a=entry("tc_1"), b=entry("tc_2"))
    remote_state = {A: [remote("tc_1"), remote("tc_2")]}
    assert kinds(build_plan([case("b"), case("a")], state, remote_state)) == []
    assert kinds(build_plan([case("a"), case("new"), case("b")], state, remote_state)) == [("create", "new")]


def test_assumptions_change_with_inputs() -> None:
    base = build_plan([case("a")], lock(a=entry("tc_1")), {A: [remote("tc_1")]}).assumptions
    assert (
        build_plan([case("a", label="X")], lock(a=entry("tc_1")), {A: [remote("tc_1")]}).assumptions.suites
        != base.suites
    )
    moved = build_plan([case("a")], lock(a=entry("tc_1")), {A: [remote("tc_1", payload("Z"))]}).assumptions
    assert moved.remote != base.remote and moved.suites == base.suites


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            {"variableName": "n", "value": "v"},
            {"variableName": "n", "value": "w"},
            [("mockData.n", "v", "w")],
        ),
        (
            {"variableName": "n", "value": "v"},
            {"variableName": "m", "value": "v"},
            [("mockData.m", None, "v"), ("mockData.n", "v", None)],
        ),
    ],
)
def test_mock_data_changes_are_shown_by_name(
    old: dict[str, str], new: dict[str, str], expected: list[Any]
) -> None:
    changes = field_changes(payload(mockData=[old]), payload(mockData=[new]))
    assert sorted((c.field, c.old, c.new) for c in changes) == sorted(expected)


def test_mock_data_order_change_is_shown() -> None:
    first = [{"variableName": "a", "value": "1"}, {"variableName": "b", "value": "2"}]
    changes = field_changes(payload(mockData=first), payload(mockData=first[::-1]))
    assert [(c.field, c.old, c.new) for c in changes] == [("mockData (order)", ["a", "b"], ["b", "a"])]


def test_long_text_gets_a_line_diff() -> None:
    old = "You are a customer. You want a refund for order 1234. You are polite. You live in Spain."
    new = "You are a customer. You want a refund for order 9999. You are polite. You live in Spain."
    (change,) = field_changes(payload(userPrompt=old), payload(userPrompt=new))
    assert change.text_diff == (
        " You are a customer.",
        "-You want a refund for order 1234.",
        "+You want a refund for order 9999.",
        " You are polite.",
        " You live in Spain.",
    )
