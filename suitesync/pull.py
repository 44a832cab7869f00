"""Writing the platform's version of a case into its suite file (`suitesync pull`).

ruamel.yaml's round trip keeps comments, key order, quoting and block styles; a file whose round
trip alone would change a byte is refused, so every line pull does not edit stays byte-identical.
Each case is edited, dumped and read back on its own: a case whose result would not read back
equal to the platform is left as it was and reported, and the other cases go ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from suitesync.models import PAYLOAD_FIELDS, PLAIN_FIELDS, RemoteCase, TestCase
from suitesync.rewrite import CASE_ORDER, dump, text_scalar, yaml_io

_LABEL = next(f for f in PAYLOAD_FIELDS if f.name == "label")
# Reads the edited text back: case id -> content hash (secret values included), or a problem.
ReadBack = Callable[[str], dict[str, str] | str]


class LeftAlone(Exception):
    """Why a case cannot be pulled; it is reported and its file keeps the case as it was."""


@dataclass
class FileEdit:
    """One suite file being pulled into: its text as it is now (edited case by case)."""

    display: str
    original: str
    text: str

    @property
    def changed(self) -> bool:
        return self.text != self.original


def open_for_pull(display: str, text: str) -> FileEdit:
    """The file, if a round trip alone leaves it byte-identical (raises LeftAlone otherwise)."""
    yaml = yaml_io()
    if dump(yaml, yaml.load(text)) != text:
        raise LeftAlone(
            f"{display} cannot be edited without changing lines nobody changed "
            "(run `suitesync fmt` on it first, then pull again)"
        )
    return FileEdit(display, text, text)


def pull_case(
    edit: FileEdit, case: TestCase, remote: RemoteCase, secrets: Mapping[str, str], read_back: ReadBack
) -> None:
    """Write `remote`'s values over `case` in the file's text, or raise LeftAlone (text unchanged)."""
    yaml = yaml_io()
    document = yaml.load(edit.text)
    item = _case_item(document, case.id)
    _check_secrets(case, remote)
    _set_fields(item, case.payload, remote.payload, secrets)
    _set_mock_data(item, document.get("defaults"), case, remote.payload, secrets)
    text = dump(yaml, document)
    hashes = read_back(text)
    if isinstance(hashes, str):
        raise LeftAlone(f"the edited file would not validate ({hashes})")
    if hashes.get(case.id) != remote.hash:
        raise LeftAlone("the platform's version cannot be written so that it reads back the same")
    edit.text = text


def remove_case(edit: FileEdit, case_id: str) -> None:
    """Drop a case from the file (--accept-deletes)."""
    yaml = yaml_io()
    document = yaml.load(edit.text)
    cases = document["cases"]
    cases.pop(next(i for i, item in enumerate(cases) if item.get("id") == case_id))
    edit.text = dump(yaml, document)


def _case_item(document: Any, case_id: str) -> CommentedMap:
    cases = document.get("cases") if isinstance(document, CommentedMap) else None
    for item in cases if isinstance(cases, CommentedSeq) else ():
        if isinstance(item, CommentedMap) and item.get("id") == case_id:
            return item
    raise LeftAlone("the case was not found where the suites define it")


def _check_secrets(case: TestCase, remote: RemoteCase) -> None:
    """A `${env:...}` value is never replaced by the platform's value (it would land in git)."""
    desired = {m["variableName"]: m["value"] for m in case.payload.get("mockData") or []}
    there = {m["variableName"]: m["value"] for m in remote.payload.get("mockData") or []}
    changed = sorted(name for name, env in case.secrets if there.get(name) != desired.get(name))
    if changed:
        envs = ", ".join("${env:" + dict(case.secrets)[n] + "}" for n in changed)
        raise LeftAlone(
            f"the platform's mockData.{', mockData.'.join(changed)} differs from the value of {envs}, "
            "and a secret is never written into a file"
        )


def _set_fields(
    item: CommentedMap, desired: Mapping[str, Any], remote: Mapping[str, Any], secrets: Mapping[str, str]
) -> None:
    """Plain fields and the label: the case's own key is set; one it took from `defaults` (or
    from the built-in default) becomes an override on the case."""
    for field in (*PLAIN_FIELDS, _LABEL):
        value = remote.get(field.name)
        if value == desired.get(field.name):
            continue
        if value is None:
            raise LeftAlone(f"the platform has no {field.name}, which a suite cannot say")
        _refuse_secret(value, field.name, secrets)
        _put(item, field.suite_key, text_scalar(value) if isinstance(value, str) else value)


def _set_mock_data(
    item: CommentedMap, defaults: Any, case: TestCase, remote: Mapping[str, Any], secrets: Mapping[str, str]
) -> None:
    """mockData by variable: a changed or new value is set on the case (an override when the
    value came from defaults); a variable gone from the platform is dropped from the case; one
    that only defaults give cannot be dropped (the case is left alone)."""
    desired = {m["variableName"]: m["value"] for m in case.payload.get("mockData") or []}
    there = {m["variableName"]: m["value"] for m in remote.get("mockData") or []}
    if desired == there and list(desired) == list(there):
        return
    shared = defaults.get("mockData") if isinstance(defaults, CommentedMap) else None
    own = item.get("mockData")
    for name in desired:
        if name in there:
            continue
        if isinstance(shared, CommentedMap) and name in shared:
            raise LeftAlone(f"the platform dropped mockData.{name}, which the suite's defaults give")
        del own[name]
    for name, value in there.items():
        if desired.get(name) != value:
            _refuse_secret(value, f"mockData.{name}", secrets)
            if not isinstance(own, CommentedMap):
                own = CommentedMap()
                _put(item, "mockData", own)
            own[name] = text_scalar(value)


def _refuse_secret(value: Any, where: str, secrets: Mapping[str, str]) -> None:
    if isinstance(value, str) and value in secrets:
        raise LeftAlone(f"the platform's {where} holds the value of ${{env:{secrets[value]}}}")


def _put(item: CommentedMap, key: str, value: Any) -> None:
    """Set `key`, in its canonical place among the case's keys when it is new."""
    if key in item:
        item[key] = value
        return
    rank = CASE_ORDER.index(key)
    position = sum(1 for existing in item if existing in CASE_ORDER and CASE_ORDER.index(existing) < rank)
    item.insert(position, key, value)
