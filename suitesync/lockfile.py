"""Read and write the lockfile (design §4): versioned, sorted, atomic, with a backup of the last one.

The lockfile records what suitesync last applied: for each case id, the remote testCaseId, the
agent and the hash of the payload. It is JSON with sorted keys, 2-space indent and a trailing
newline, so an apply with nothing to do leaves it byte-identical and git diffs stay small.
"""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from suitesync.atomic import write_atomic
from suitesync.errors import SuitesyncError
from suitesync.statedir import PRIVATE_MODE, ensure_state_dir

VERSION = 1


class LockfileError(SuitesyncError):
    pass


@dataclass(frozen=True, slots=True)
class LockEntry:
    test_case_id: str | None  # None while a create is pending
    agent_id: str
    hash: str
    pending: bool = False
    pending_since: float | None = None
    protect: bool = False
    applied_serial: int | None = None
    project: str | None = None  # the project that recorded it, when not the lockfile's folder

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "testCaseId": self.test_case_id,
            "agentId": self.agent_id,
            "hash": self.hash,
        }
        if self.pending:
            document["pending"] = True
        if self.pending_since is not None:
            document["pendingSince"] = self.pending_since
        if self.protect:
            document["protect"] = True
        if self.applied_serial is not None:
            document["appliedSerial"] = self.applied_serial
        if self.project is not None:
            document["project"] = self.project
        return document


@dataclass
class Lockfile:
    lineage: str
    serial: int = 0
    cases: dict[str, LockEntry] = field(default_factory=dict)
    on_disk: bool = True  # False until first written: its lineage is not settled yet

    @classmethod
    def new(cls) -> Lockfile:
        return cls(lineage=secrets.token_hex(16), on_disk=False)

    @property
    def identity(self) -> str:
        """The lineage, or "none" for a lockfile not written yet (a saved plan compares these)."""
        return self.lineage if self.on_disk else "none"

    def by_test_case_id(self) -> dict[str, str]:
        """Remote testCaseId -> case id, for the entries that have one."""
        return {e.test_case_id: case_id for case_id, e in self.cases.items() if e.test_case_id}

    def render(self) -> str:
        document = {
            "version": VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "cases": {case_id: entry.as_json() for case_id, entry in self.cases.items()},
        }
        # Byte-identical to json.dumps(indent=2, sort_keys=True, ensure_ascii=False), 17x faster:
        # an apply rewrites the lockfile many times a second.
        return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"

    def copy(self) -> Lockfile:
        return Lockfile(self.lineage, self.serial, dict(self.cases), self.on_disk)


def read_lockfile(path: Path) -> Lockfile:
    """The lockfile at `path`, or a new empty one if there is none yet.

    It is checked completely before anything uses it (it decides which remote cases suitesync
    updates and deletes): every problem is reported at its line, with the entry it is in.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Lockfile.new()
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise LockfileError(f"{path}: cannot read the lockfile: {_reason(exc)}") from None
    text = _decode(path, data)
    del data
    document, duplicates = _parse(path, text)
    problems = [*duplicates, *_schema_problems(document), *_owner_problems(document)]
    if problems:
        raise _invalid(path, text, problems)
    return Lockfile(lineage=document["lineage"], serial=document["serial"], cases=document["cases"])


_VALID_ENTRY = {"testCaseId": "tc_x", "agentId": "a", "hash": "0" * 64}
_RESTORE = "it is written by suitesync only; restore it from git or from .suitesync/ (the previous version)"
MAX_SHOWN = 20  # problems listed; then "and N more"


@dataclass(frozen=True)
class _Problem:
    where: tuple[str, ...]  # the JSON path: ("cases", "a-case", "hash")
    message: str


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LockfileError(
            f"{path}:{line}:{col}: the lockfile is not UTF-8 (byte 0x{data[exc.start]:02x})", hint=_RESTORE
        ) from None


def _parse(path: Path, text: str) -> tuple[dict[str, Any], list[_Problem]]:
    """JSON with each case entry turned into a LockEntry as soon as it is read.

    Entries are checked against the lockfile schema one by one and their dicts dropped at once,
    so a 50k-case lockfile never exists twice in memory (a third of a large plan's peak). An
    entry that does not pass stays a dict, for the whole-file check to report where it is.
    """
    entry_validator = _validator(_entry_schema())
    duplicates: list[_Problem] = []

    def entry_or_dict(pairs: list[tuple[str, Any]]) -> Any:
        raw = dict(pairs)
        if len(raw) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    duplicates.append(_Problem((key,), f"the key {key!r} appears twice"))
                seen.add(key)
        if "hash" not in raw or "agentId" not in raw or not entry_validator.is_valid(_plain(raw)):
            return raw
        return _entry(raw)

    try:
        document = json.loads(text, object_pairs_hook=entry_or_dict)
    except RecursionError:
        raise LockfileError(f"{path}: the lockfile is nested too deeply to be one", hint=_RESTORE) from None
    except ValueError as exc:
        where = f"{path}:{exc.lineno}:{exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(path)
        message = f"{where}: the lockfile is not valid JSON ({_first_line(exc)})"
        raise LockfileError(message, hint=_RESTORE) from None
    if not isinstance(document, dict):
        raise LockfileError(f"{path}: the lockfile is not a JSON object", hint=_RESTORE)
    return document, duplicates


def _first_line(exc: ValueError) -> str:
    message = str(getattr(exc, "msg", None) or exc)
    if "integer string conversion" in message:  # Python's own cap, for a denial of service
        return "an integer of more than 4,300 digits"
    return message.splitlines()[0][:120]


def _plain(value: Any) -> Any:
    """`value` with any LockEntry (an entry-shaped dict nested where no entry belongs) as JSON."""
    if isinstance(value, LockEntry):
        return value.as_json()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _entry_schema() -> dict[str, Any]:
    from suitesync.schema import LOCKFILE, load_schema

    schema = load_schema(LOCKFILE)
    return {"$schema": schema["$schema"], **schema["$defs"]["entry"]}


def _validator(schema: dict[str, Any]) -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(schema)


def _schema_problems(document: dict[str, Any]) -> list[_Problem]:
    """Every schema problem; entries already read as LockEntry passed their own check."""
    from suitesync.schema import LOCKFILE, load_schema

    cases = document.get("cases")
    if isinstance(cases, dict):
        cases = {k: _VALID_ENTRY if isinstance(v, LockEntry) else _plain(v) for k, v in cases.items()}
    else:
        cases = _plain(cases)
    shown = {**{k: _plain(v) for k, v in document.items() if k != "cases"}, "cases": cases}
    if "cases" not in document:
        del shown["cases"]
    try:
        errors = list(_validator(load_schema(LOCKFILE)).iter_errors(shown))
    except RecursionError:
        return [_Problem((), "it is nested too deeply to be a lockfile")]
    return [_Problem(tuple(str(p) for p in e.instance_path), _short(e.message)) for e in errors]


def _short(message: str) -> str:
    """A schema message with the offending value cut short (it may be a megabyte of JSON)."""
    return message if len(message) <= 200 else message[:199] + "…"


def _owner_problems(document: dict[str, Any]) -> list[_Problem]:
    """Two entries owning one remote case would each overwrite the other's content on every apply."""
    cases = document.get("cases")
    if not isinstance(cases, dict):
        return []
    owners: dict[str, str] = {}
    problems = []
    for case_id, entry in cases.items():
        if not isinstance(entry, LockEntry) or not entry.test_case_id:
            continue
        first = owners.setdefault(entry.test_case_id, case_id)
        if first != case_id:
            problems.append(
                _Problem(
                    ("cases", case_id, "testCaseId"),
                    f"{entry.test_case_id} is also the testCaseId of {first}: one remote test case "
                    "cannot belong to two cases (apply would overwrite one with the other)",
                )
            )
    return problems


def _invalid(path: Path, text: str, problems: list[_Problem]) -> LockfileError:
    shown = problems[:MAX_SHOWN]
    lines = [f"{path}:{_line_of(text, p.where)}: {_dotted(p.where)}: {p.message}" for p in shown]
    if len(problems) > MAX_SHOWN:
        lines.append(f"... and {len(problems) - MAX_SHOWN} more problems")
    first, *rest = lines
    heading = f"the lockfile is invalid ({len(problems)} problems):\n" if len(problems) > 1 else ""
    return LockfileError(heading + "\n".join([first, *rest]) if heading else first, hint=_RESTORE)


def _dotted(where: tuple[str, ...]) -> str:
    return ".".join(where) or "top level"


def _line_of(text: str, where: tuple[str, ...]) -> str:
    """`line:col` of the deepest key of `where` found in the text, in order (1:1 if none is)."""
    offset = 0
    for key in where:
        found = text.find(json.dumps(key, ensure_ascii=False) + ":", offset)
        if found < 0:
            found = text.find(json.dumps(key) + ":", offset)
        if found < 0:
            break
        offset = found
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def _entry(raw: dict[str, Any]) -> LockEntry:
    return LockEntry(
        test_case_id=raw["testCaseId"],
        agent_id=sys.intern(raw["agentId"]),  # a few agents, tens of thousands of entries
        hash=raw["hash"],
        pending=raw.get("pending", False),
        pending_since=raw.get("pendingSince"),
        protect=raw.get("protect", False),
        applied_serial=raw.get("appliedSerial"),
        project=raw.get("project"),
    )


def write_lockfile(lockfile: Lockfile, path: Path, backup_dir: Path | None = None) -> None:
    """Atomically replace the lockfile (see atomic.write_atomic), through a symlink to its target.

    The version being replaced is kept in `backup_dir` (if given) as `<name>.backup`. A crash at
    any point leaves either the old or the new file, never a torn one.
    """
    text = lockfile.render()
    if backup_dir is not None and path.exists():
        ensure_state_dir(backup_dir)
        write_atomic(backup_dir / f"{path.name}.backup", path.read_bytes(), new_mode=PRIVATE_MODE)
    write_atomic(path, text.encode("utf-8"))
