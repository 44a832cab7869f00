"""Pure planning: (desired cases, lockfile, remote state) -> Plan. No I/O; the only DeepDiff user.

Cases are compared by hash (a dict lookup per case), and only the pairs that differ are diffed
field by field, so a plan over 50k unchanged cases costs microseconds a case
(../shared/perf-notes.md: whole-state DeepDiff would cost seconds).
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from suitesync.lockfile import LockEntry, Lockfile
from suitesync.models import DIFF_ORDER, KeepPayload, RemoteCase, TestCase, payload_hash, redact

PLAN_VERSION = 1
_LONG_TEXT = 80


class Kind(enum.StrEnum):
    """What an action does. Lock-only kinds (RENAME, RECORD) send no request."""

    CREATE = "create"  # new case: POST
    RECREATE = "recreate"  # in the lockfile, deleted remotely outside suitesync: POST again
    UPDATE = "update"  # the suite changed: PUT the desired body
    DRIFT = "drift"  # the remote case was edited outside suitesync: PUT the desired body back
    REPLACE = "replace"  # the agent changed: POST on the new agent, then DELETE the old case
    DELETE = "delete"  # gone from the suites, --prune given: DELETE
    RENAME = "rename"  # the id changed (previousIds): the lockfile entry moves, nothing is sent
    RECORD = "record"  # the remote already matches the suite: only the lockfile is updated
    ADOPT = "adopt"  # an unmanaged remote case has exactly the payload a create would send: recorded

    @property
    def sends_request(self) -> bool:
        return self not in (Kind.RENAME, Kind.RECORD, Kind.ADOPT)


class NoticeKind(enum.StrEnum):
    WOULD_DELETE = "would-delete"  # gone from the suites; deleted only with --prune
    PROTECTED = "protected"  # gone from the suites but `protect: true`: never deleted
    UNMANAGED = "unmanaged"  # a remote case of a managed agent that the lockfile does not know
    FOREIGN = "foreign"  # recorded by another project sharing the lockfile: never touched from here


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    text_diff: tuple[str, ...] = ()  # unified diff lines for long text ("-old", "+new", " same")


@dataclass(frozen=True, slots=True)
class Action:
    kind: Kind
    case_id: str
    agent_id: str
    test_case_id: str | None = None  # the remote case acted on (update, drift, delete, replace's old one)
    case: TestCase | None = None  # the desired case (None for deletes)
    rename_from: str | None = None  # the lockfile key the entry moves from
    old_agent_id: str | None = None  # replace: the agent the old case belongs to
    changes: tuple[FieldChange, ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    kind: NoticeKind
    agent_id: str
    test_case_id: str | None
    case_id: str | None = None
    label: str | None = None
    project: str | None = None  # FOREIGN: the project that recorded it ("." for the lockfile's folder)


@dataclass(frozen=True, slots=True)
class Assumptions:
    """What a saved plan relied on; apply refuses the plan if any of it has changed."""

    lineage: str
    serial: int
    suites: str  # hash of every desired (id, agent, hash, protect)
    remote: Mapping[str, str] | None  # per agent, hash of its remote (testCaseId, hash) list
    environment: str | None = None  # the --env it was made for; None: the default one
    # Per case with secret mock data, the hash of its payload with the secrets as `${env:NAME}`
    # references (no secret-derived data; since secrets hash as references, the case's own hash).
    secret_cases: Mapping[str, str] = field(default_factory=dict)
    # Per case with secret mock data (refreshed plans): whether the platform's copy held the very
    # values the environment gave. One bit that says nothing about a value, and lets apply tell
    # that a secret changed since the plan (the bit flips) without anything derived from it.
    secrets_on_platform: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    notices: tuple[Notice, ...]
    unchanged: int
    refreshed: bool
    prune: bool
    assumptions: Assumptions
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        """Anything to do, requests or lockfile entries: what --detailed-exitcode reports as 2."""
        return bool(self.actions)


def build_plan(
    desired: Sequence[TestCase],
    lockfile: Lockfile,
    remote: Mapping[str, Sequence[RemoteCase]] | None,
    *,
    prune: bool = False,
    environment: str | None = None,
    project: str | None = None,
) -> Plan:
    """Classify every desired case, lockfile entry and remote case (design §6 safety rules apply:
    only cases recorded in the lockfile are ever updated or deleted). `project` names this
    project to a lockfile that others share (see owned_by): their entries are never touched."""
    remote_by_id = None if remote is None else {rc.test_case_id: rc for rcs in remote.values() for rc in rcs}
    actions: list[Action] = []
    claimed: set[str] = set()
    unchanged = 0
    for case in desired:
        key, entry = _lock_entry(case, lockfile)
        if key is not None:
            claimed.add(key)
        action = _plan_case(case, key, entry, remote_by_id)
        if action is None:
            unchanged += 1
        else:
            actions.append(action)
    adopted = _adopt_unmanaged(actions, remote, lockfile)
    leftover = [(k, e) for k, e in lockfile.cases.items() if k not in claimed]
    notices = [_foreign(k, e) for k, e in leftover if not owned_by(e, project)]
    deletes, own_notices = _plan_leftovers([(k, e) for k, e in leftover if owned_by(e, project)], prune)
    notices.extend(own_notices)
    actions.extend(deletes)
    notices.extend(n for n in _unmanaged(remote, lockfile) if n.test_case_id not in adopted)
    counts: dict[str, int] = {kind.value: 0 for kind in Kind}
    for action in actions:
        counts[action.kind.value] += 1
    counts["unchanged"] = unchanged
    return Plan(
        actions=tuple(actions),
        notices=tuple(notices),
        unchanged=unchanged,
        refreshed=remote is not None,
        prune=prune,
        assumptions=assumptions_of(desired, lockfile, remote, environment),
        counts=counts,
    )


def payload_needed(lockfile: Lockfile) -> KeepPayload:
    """Keep a payload unless the lockfile says the case is applied and unchanged.

    At 50k cases the payloads are most of a plan's memory, and a no-change plan needs none.
    """

    def keep(case_id: str, digest: str) -> bool:
        entry = lockfile.cases.get(case_id)
        return entry is None or entry.pending or entry.test_case_id is None or entry.hash != digest

    return keep


def payloads_missing(
    desired: Sequence[TestCase], lockfile: Lockfile, remote: Mapping[str, Sequence[RemoteCase]]
) -> set[str]:
    """Ids of cases whose payload was dropped but is needed after all: the remote case drifted or went."""
    by_id = {rc.test_case_id: rc for rcs in remote.values() for rc in rcs}
    missing = set()
    for case in desired:
        if case.payload_json is None:
            found = by_id.get(lockfile.cases[case.id].test_case_id or "")
            if found is None or found.hash != case.hash:  # no secrets: those cases keep payloads
                missing.add(case.id)
    return missing


def shape_hash(found: RemoteCase, case: TestCase) -> str:
    """The remote case's hash taken as the suites' is: `case`'s secret values as references."""
    return payload_hash(redact(found.payload, dict(case.secrets))) if case.secrets else found.hash


def _lock_entry(case: TestCase, lockfile: Lockfile) -> tuple[str | None, LockEntry | None]:
    """The lockfile entry of a case: under its id, or under one of its previousIds (a rename)."""
    entry = lockfile.cases.get(case.id)
    if entry is not None:
        return case.id, entry
    for previous in case.previous_ids:
        entry = lockfile.cases.get(previous)
        if entry is not None:
            return previous, entry
    return None, None


def _plan_case(
    case: TestCase, key: str | None, entry: LockEntry | None, remote_by_id: Mapping[str, RemoteCase] | None
) -> Action | None:
    rename_from = key if key is not None and key != case.id else None

    def act(
        kind: Kind, tc_id: str | None = None, reason: str = "", changes: tuple[FieldChange, ...] = ()
    ) -> Action:
        old_agent = entry.agent_id if entry is not None and kind is Kind.REPLACE else None
        return Action(kind, case.id, case.agent_id, tc_id, case, rename_from, old_agent, changes, reason)

    if entry is None:
        return act(Kind.CREATE)
    tc_id = entry.test_case_id
    if entry.pending or tc_id is None:
        return act(
            Kind.CREATE,
            reason="an interrupted apply left this create pending: apply adopts the remote "
            "case if it was made",
        )
    if entry.agent_id != case.agent_id:
        return act(Kind.REPLACE, tc_id, reason=f"the agent changed from {entry.agent_id}")
    if remote_by_id is None:
        if entry.hash != case.hash:
            return act(Kind.UPDATE, tc_id, reason="refresh to see the field changes")
        return _lock_only(act, entry, case, tc_id)
    found = remote_by_id.get(tc_id)
    if found is None:
        return act(Kind.RECREATE, reason="deleted outside suitesync")
    if found.hash == case.content_hash:
        if entry.hash != case.hash:
            return act(Kind.RECORD, tc_id, reason="the remote case already matches")
        return _lock_only(act, entry, case, tc_id)
    changes = field_changes(found.payload, case.payload, case.secret_names)
    found_hash = shape_hash(found, case)
    if found_hash == case.hash == entry.hash:  # only secret values differ: nothing tells which side
        return act(
            Kind.UPDATE,
            tc_id,
            reason=f"{_secret_names(case)} differs from the platform's copy",
            changes=changes,
        )
    if found_hash != entry.hash:
        return act(
            Kind.DRIFT, tc_id, "edited outside suitesync; the plan makes it match the file again", changes
        )
    return act(Kind.UPDATE, tc_id, changes=changes)


def _lock_only(act: Callable[..., Action], entry: LockEntry, case: TestCase, tc_id: str) -> Action | None:
    """Nothing to send: a rename moves the entry; a changed `protect` is recorded."""
    action: Action = act(Kind.RENAME, tc_id)
    if action.rename_from:
        return action
    if entry.protect != case.protect:
        record: Action = act(Kind.RECORD, tc_id, reason=f"protect is now {str(case.protect).lower()}")
        return record
    return None


def _adopt_unmanaged(
    actions: list[Action], remote: Mapping[str, Sequence[RemoteCase]] | None, lockfile: Lockfile
) -> set[str]:
    """Turn creates into adoptions where an unmanaged remote case of the same agent already has the
    very payload the create would send (a lost lockfile entry, a merge resolved with --ours): a
    second POST would make a duplicate. Creates take matches in case-id order, remote cases in
    testCaseId order, so the same inputs always pair the same way. Returns the adopted testCaseIds."""
    if remote is None:
        return set()
    known = lockfile.by_test_case_id()
    free: dict[tuple[str, str], list[str]] = {}
    for agent_id in sorted(remote):
        for rc in sorted(remote[agent_id], key=_by_remote_id):
            if rc.test_case_id not in known:
                free.setdefault((agent_id, rc.hash), []).append(rc.test_case_id)
    creates = sorted(
        (i for i, a in enumerate(actions) if _creates_anew(a, lockfile)), key=lambda i: actions[i].case_id
    )
    adopted: set[str] = set()
    for index in creates:
        action = actions[index]
        assert action.case is not None
        matches = free.get((action.agent_id, action.case.content_hash))
        if matches:
            tc_id = matches.pop(0)
            adopted.add(tc_id)
            actions[index] = replace(
                action,
                kind=Kind.ADOPT,
                test_case_id=tc_id,
                reason="an unmanaged remote case has exactly this content: recorded, not created again",
            )
    return adopted


def _creates_anew(action: Action, lockfile: Lockfile) -> bool:
    """A create or recreate that no pending intent covers (apply settles those itself)."""
    if action.kind not in (Kind.CREATE, Kind.RECREATE) or action.case is None:
        return False
    entry = lockfile.cases.get(action.rename_from or action.case_id)
    return entry is None or not entry.pending


def _plan_leftovers(
    leftover: Iterable[tuple[str, LockEntry]], prune: bool
) -> tuple[list[Action], list[Notice]]:
    """Lockfile entries no suite defines any more: delete (with --prune), or say why not."""
    actions: list[Action] = []
    notices: list[Notice] = []
    for case_id, entry in sorted(leftover):
        if entry.protect:
            notices.append(Notice(NoticeKind.PROTECTED, entry.agent_id, entry.test_case_id, case_id))
        elif prune:
            actions.append(Action(Kind.DELETE, case_id, entry.agent_id, test_case_id=entry.test_case_id))
        else:
            notices.append(Notice(NoticeKind.WOULD_DELETE, entry.agent_id, entry.test_case_id, case_id))
    return actions, notices


def owned_by(entry: LockEntry, project: str | None) -> bool:
    """Whether this project recorded `entry`. Entries name their project only when it is not the
    lockfile's own folder, so a lockfile nobody shares never carries the field."""
    return entry.project == project


def _foreign(case_id: str, entry: LockEntry) -> Notice:
    return Notice(
        NoticeKind.FOREIGN, entry.agent_id, entry.test_case_id, case_id, project=entry.project or "."
    )


def _unmanaged(remote: Mapping[str, Sequence[RemoteCase]] | None, lockfile: Lockfile) -> list[Notice]:
    if remote is None:
        return []
    known = lockfile.by_test_case_id()
    found = [
        Notice(NoticeKind.UNMANAGED, agent_id, rc.test_case_id, label=rc.payload.get("label"))
        for agent_id in remote
        for rc in remote[agent_id]
        if rc.test_case_id not in known
    ]
    return sorted(found, key=_unmanaged_order)


def _unmanaged_order(notice: Notice) -> tuple[str, str, str]:
    """By agent, then label (as a reader looks for one), then id: the same order every plan."""
    return (notice.agent_id, (notice.label or "").casefold(), notice.test_case_id or "")


def assumptions_of(
    desired: Sequence[TestCase],
    lockfile: Lockfile,
    remote: Mapping[str, Sequence[RemoteCase]] | None,
    environment: str | None = None,
) -> Assumptions:
    suites = _digest(f"{c.id} {c.agent_id} {c.hash} {c.protect}" for c in sorted(desired, key=_by_id))
    secret_cases = _secret_cases_by_remote_id(desired, lockfile)
    remote_hashes = None
    on_platform: dict[str, bool] = {}
    if remote is not None:
        remote_hashes = {
            agent: _digest(
                f"{rc.test_case_id} {_plan_file_hash(rc, secret_cases)}"
                for rc in sorted(cases, key=_by_remote_id)
            )
            for agent, cases in remote.items()
        }
        by_id = {rc.test_case_id: rc for rcs in remote.values() for rc in rcs}
        on_platform = {
            case.id: _secrets_match(by_id[tc_id], case)
            for tc_id, case in secret_cases.items()
            if tc_id in by_id
        }
    references = {c.id: c.hash for c in desired if c.secrets}
    return Assumptions(
        lockfile.identity, lockfile.serial, suites, remote_hashes, environment, references, on_platform
    )


def _secrets_match(found: RemoteCase, case: TestCase) -> bool:
    """Whether the platform's copy holds the secret values the environment gives `case`."""
    names = case.secret_names
    remote = {
        m["variableName"]: m["value"]
        for m in found.payload.get("mockData") or []
        if m["variableName"] in names
    }
    desired = {
        m["variableName"]: m["value"]
        for m in case.payload.get("mockData") or []
        if m["variableName"] in names
    }
    return remote == desired


def _plan_file_hash(found: RemoteCase, secret_cases: Mapping[str, TestCase]) -> str:
    """What a plan file records of a remote case: a case with secrets as its shape (values as
    references), since a fast hash of its values would let them be guessed offline."""
    case = secret_cases.get(found.test_case_id)
    return shape_hash(found, case) if case is not None else found.hash


def _secret_cases_by_remote_id(desired: Sequence[TestCase], lockfile: Lockfile) -> dict[str, TestCase]:
    """The desired cases with secrets, by the testCaseId the lockfile records for them."""
    found: dict[str, TestCase] = {}
    for case in desired:
        entry = lockfile.cases.get(case.id)
        if case.secrets and entry is not None and entry.test_case_id:
            found[entry.test_case_id] = case
    return found


def _secret_names(case: TestCase) -> str:
    return secret_change(case.secrets)


def secret_change(secrets: Iterable[tuple[str, str]]) -> str:
    """ "the value of ${env:PIN} (mockData.pin)", naming every candidate when there are several."""
    pairs = sorted(set(secrets), key=lambda pair: pair[1])
    variables = " or ".join("${env:" + env + "}" for env in dict.fromkeys(env for _, env in pairs))
    fields = ", ".join(f"mockData.{name}" for name, _ in pairs)
    return f"the value of {variables} ({fields})"


def _by_id(case: TestCase) -> str:
    return case.id


def _by_remote_id(case: RemoteCase) -> str:
    return case.test_case_id


def _digest(lines: Iterable[str]) -> str:
    """Hash of the lines, fed one at a time: no 50k-line string is ever built."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


# --- field-level diffs ------------------------------------------------------------------------------


def field_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], secret_names: frozenset[str] = frozenset()
) -> tuple[FieldChange, ...]:
    """What differs between two payloads, field by field; mockData by variable name; secret
    values never shown, only that they changed."""
    from deepdiff import DeepDiff
    from deepdiff.helper import notpresent

    before, after = _display_form(old), _display_form(new)
    changes = []
    for levels in DeepDiff(before, after, view="tree", threshold_to_diff_deeper=0).values():
        for level in levels:
            path = ".".join(str(part) for part in level.path(output_format="list"))
            old_value = None if level.t1 is notpresent else level.t1
            new_value = None if level.t2 is notpresent else level.t2
            if path.removeprefix("mockData.") in secret_names:
                changes.append(FieldChange(path, "(secret)", "(secret changed)"))
            else:
                changes.append(FieldChange(path, old_value, new_value, _text_diff(old_value, new_value)))
    if not changes and _mock_order(old) != _mock_order(new):
        changes.append(FieldChange("mockData (order)", _mock_order(old), _mock_order(new)))
    return tuple(sorted(changes, key=lambda change: _FIELD_ORDER.get(change.field.split(".")[0], 99)))


_FIELD_ORDER = {name: index for index, name in enumerate(DIFF_ORDER)}


def _display_form(payload: Mapping[str, Any]) -> dict[str, Any]:
    shown = dict(payload)
    shown["mockData"] = {m["variableName"]: m["value"] for m in payload.get("mockData") or []}
    return shown


def _mock_order(payload: Mapping[str, Any]) -> list[str]:
    return [m["variableName"] for m in payload.get("mockData") or []]


def _text_diff(old: Any, new: Any) -> tuple[str, ...]:
    """Line-level diff for long or multi-line text; long lines are cut at sentence ends first."""
    if not (isinstance(old, str) and isinstance(new, str)):
        return ()
    if max(len(old), len(new)) <= _LONG_TEXT and "\n" not in old + new:
        return ()
    lines = difflib.unified_diff(_sentences(old), _sentences(new), lineterm="", n=2)
    return tuple(line for line in lines if not line.startswith(("---", "+++", "@@")))


def _sentences(text: str) -> list[str]:
    return [part for line in text.splitlines() for part in re.split(r"(?<=[.!?;])\s+", line) if part]
