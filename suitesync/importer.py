"""Adopting an agent's remote test cases: remote cases in, a suite document and lockfile entries out.

The document is built pure (`build_import`); `write_import` checks that the written file reads
back to exactly the imported cases before the lockfile records them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from suitesync.atomic import write_atomic
from suitesync.lockfile import LockEntry, Lockfile, write_lockfile
from suitesync.models import PAYLOAD_FIELDS, PLAIN_FIELDS, RemoteCase, payload_hash, redact
from suitesync.rewrite import dump, text_scalar, yaml_io
from suitesync.settings import Settings

MAX_ID = 128


@dataclass(frozen=True)
class ImportedCase:
    case_id: str
    remote: RemoteCase
    unlabelled: bool  # the remote case has no label: the next apply gives it its id as label
    secrets: tuple[tuple[str, str], ...] = ()  # (mockData variable, env name) written as references

    @property
    def hash(self) -> str:
        """The lockfile hash of the case as written: secrets as their references (see models)."""
        if not self.secrets:
            return self.remote.hash
        return payload_hash(redact(self.remote.payload, dict(self.secrets)))


@dataclass(frozen=True)
class Import:
    text: str
    cases: tuple[ImportedCase, ...]


def slug(text: str) -> str:
    """An id from a label: lowercase, runs of other characters as one '-', at most 128 long."""
    value = re.sub(r"[^a-z0-9_.]+", "-", text.lower()).strip("-._")
    return value[: MAX_ID - 8].rstrip("-._") or "case"


def unique_ids(remote: Sequence[RemoteCase], taken: Iterable[str]) -> list[str]:
    """One id per remote case, from its label (or its testCaseId), unique in the project."""
    used = set(taken)
    ids = []
    for case in remote:
        label = case.payload.get("label")
        base = slug(label) if label else slug(f"case-{case.test_case_id}")
        candidate, number = base, 2
        while candidate in used:
            candidate, number = f"{base}-{number}", number + 1
        used.add(candidate)
        ids.append(candidate)
    return ids


def build_import(
    remote: Sequence[RemoteCase],
    taken: Iterable[str],
    agent_ref: str,
    header: str,
    secrets: Mapping[str, str] | None = None,
) -> Import:
    """The suite file for `remote`, values all cases share factored into `defaults`.

    A mockData value equal to a known secret (`secrets`: value -> environment variable: the API
    key, the project's `${env:NAME}` values) is written as its `${env:NAME}` reference, never as
    itself: the file is committed.
    """
    ids = unique_ids(remote, taken)
    payloads = [_as_references(case.payload, secrets or {}) for case in remote]
    defaults = _shared_defaults(payloads)
    document = CommentedMap()
    document["agent"] = text_scalar(agent_ref)
    if defaults:
        document["defaults"] = defaults
    cases = CommentedSeq()
    for case_id, payload in zip(ids, payloads, strict=True):
        cases.append(_case_map(case_id, payload, defaults))
    document["cases"] = cases
    document.yaml_set_start_comment(header)
    text = dump(yaml_io(), document)
    imported = tuple(
        ImportedCase(case_id, case, not case.payload.get("label"), _secrets_in(case.payload, secrets or {}))
        for case_id, case in zip(ids, remote, strict=True)
    )
    return Import(text, imported)


def _as_references(payload: dict[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    replacements = dict(_secrets_in(payload, secrets))
    return redact(payload, replacements)


def _secrets_in(payload: dict[str, Any], secrets: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """(variable, env name) of each mockData value of `payload` that is a known secret."""
    return tuple(
        (m["variableName"], secrets[m["value"]])
        for m in payload.get("mockData") or []
        if isinstance(m.get("value"), str) and m["value"] in secrets
    )


def _shared_defaults(payloads: Sequence[dict[str, Any]]) -> CommentedMap:
    defaults = CommentedMap()
    if len(payloads) < 2:
        return defaults
    for shared in (f for f in PLAIN_FIELDS if f.shared_rank is not None):
        values = {p.get(shared.name) for p in payloads}
        if len(values) == 1:
            defaults[shared.suite_key] = _yaml_value(values.pop())
    # Only a shared *prefix* of mockData can move to defaults: defaults come first when merged,
    # so anything else would change the order the API receives.
    prefix = _common_prefix(
        [[(m["variableName"], m["value"]) for m in p.get("mockData") or []] for p in payloads]
    )
    if prefix:
        defaults["mockData"] = CommentedMap((name, text_scalar(value)) for name, value in prefix)
    return defaults


def _common_prefix(lists: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    prefix = []
    for items in zip(*lists, strict=False):
        if len(set(items)) != 1:
            break
        prefix.append(items[0])
    return prefix if all(len(items) >= len(prefix) for items in lists) else []


def _case_map(case_id: str, payload: dict[str, Any], defaults: CommentedMap) -> CommentedMap:
    """One case, its keys in the suite files' order; what the file's defaults (or the API's)
    already say is left out."""
    case = CommentedMap()
    case["id"] = text_scalar(case_id)  # an id like `yes` or `3.10` must be quoted to stay text
    for f in sorted(PAYLOAD_FIELDS, key=lambda f: f.file_rank):
        if f.name == "label":
            label = payload.get("label")
            if label and label != case_id:
                case["label"] = text_scalar(label)
        elif f.name == "mockData":
            own = (payload.get("mockData") or [])[len(defaults.get("mockData") or {}) :]
            if own:
                case["mockData"] = CommentedMap((m["variableName"], text_scalar(m["value"])) for m in own)
        elif f.default is None and f.name != "agentId":  # required: always written
            case[f.suite_key] = _yaml_value(payload[f.name])
        elif f.default is not None:
            value = payload.get(f.name) or f.default
            if f.suite_key not in defaults and value != f.default:
                case[f.suite_key] = _yaml_value(value)
    return case


def _yaml_value(value: Any) -> Any:
    """Text as text, whatever YAML would read it as (`yes`, `3.10`); numbers as they are."""
    return text_scalar(value) if isinstance(value, str) else value


def header_for(agent_id: str) -> str:
    day = datetime.now(UTC).date().isoformat()
    return (
        f"Imported by `suitesync import` from agent {agent_id} on {day}.\n"
        "Edit freely: suitesync manages these test cases now."
    )


def write_import(
    result: Import, target: Path, lockfile: Lockfile, settings: Settings, agent_id: str, project: str | None
) -> None:
    """Write the suite file, then record its cases in the lockfile as they are on the platform.

    The file goes first: a crash in between leaves cases a plan shows as creates (visible, and
    refused by review), never lockfile entries without a file, which `--prune` would delete.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, result.text.encode("utf-8"))
    for case in result.cases:
        lockfile.cases[case.case_id] = LockEntry(
            case.remote.test_case_id, agent_id, case.hash, project=project
        )
    lockfile.cases = dict(sorted(lockfile.cases.items()))
    write_lockfile(lockfile, settings.lockfile, settings.state_dir)
