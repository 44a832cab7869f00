"""Read and write the lockfile (design §4): versioned, sorted, atomic, with a backup of the last one.

The lockfile records what suitesync last applied: for each case id, the remote testCaseId, the
agent and the hash of the payload. It is JSON with sorted keys, 2-space indent and a trailing
newline, so an apply with nothing to do leaves it byte-identical and git diffs stay small.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from suitesync.errors import SuitesyncError
from suitesync.statedir import ensure_state_dir

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
    """The lockfile at `path`, or a new empty one if there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lockfile.new()
    except OSError as exc:
        raise LockfileError(f"{path}: cannot read the lockfile: {exc.strerror}") from None
    document = _parse(path, text)
    del text
    _check(path, {**document, "cases": dict.fromkeys(document.get("cases") or {}, _VALID_ENTRY)})
    return Lockfile(lineage=document["lineage"], serial=document["serial"], cases=document["cases"])


_VALID_ENTRY = {"testCaseId": "tc_x", "agentId": "a", "hash": "0" * 64}


def _parse(path: Path, text: str) -> dict[str, Any]:
    """JSON with each case entry turned into a LockEntry as soon as it is read.

    Entries are checked against the lockfile schema one by one and their dicts dropped at once,
    so a 50k-case lockfile never exists twice in memory (a third of a large plan's peak).
    """
    entry_validator = _validator(_entry_schema())

    def entry_or_dict(raw: dict[str, Any]) -> Any:
        if "hash" not in raw or "agentId" not in raw:
            return raw
        error = next(iter(entry_validator.iter_errors(raw)), None)
        if error is not None:
            raise LockfileError(
                f"{path}: the lockfile has an invalid case entry: {error.message}",
                hint="it is written by suitesync only; restore it from git or from .suitesync/",
            )
        return _entry(raw)

    try:
        document = json.loads(text, object_hook=entry_or_dict)
    except ValueError as exc:
        if isinstance(exc, LockfileError):
            raise
        raise LockfileError(
            f"{path}:{exc.lineno}:{exc.colno}: the lockfile is not valid JSON",  # type: ignore[attr-defined]
            hint="restore it from git or from .suitesync/ (the previous version is kept there)",
        ) from None
    if not isinstance(document, dict):
        raise LockfileError(f"{path}: the lockfile is not a JSON object")
    return document


def _entry_schema() -> dict[str, Any]:
    from suitesync.schema import LOCKFILE, load_schema

    schema = load_schema(LOCKFILE)
    return {"$schema": schema["$schema"], **schema["$defs"]["entry"]}


def _validator(schema: dict[str, Any]) -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(schema)


def _check(path: Path, document: Any) -> None:
    from suitesync.schema import LOCKFILE, load_schema

    errors = list(_validator(load_schema(LOCKFILE)).iter_errors(document))
    if errors:
        where = "/".join(str(p) for p in errors[0].instance_path) or "top level"
        raise LockfileError(
            f"{path}: the lockfile is invalid at {where}: {errors[0].message}",
            hint="it is written by suitesync only; restore it from git or from .suitesync/",
        )


def _entry(raw: dict[str, Any]) -> LockEntry:
    return LockEntry(
        test_case_id=raw["testCaseId"],
        agent_id=sys.intern(raw["agentId"]),  # a few agents, tens of thousands of entries
        hash=raw["hash"],
        pending=raw.get("pending", False),
        pending_since=raw.get("pendingSince"),
        protect=raw.get("protect", False),
        applied_serial=raw.get("appliedSerial"),
    )


def write_lockfile(lockfile: Lockfile, path: Path, backup_dir: Path | None = None) -> None:
    """Atomically replace the lockfile: temp file, fsync, rename, fsync the directory.

    The version being replaced is kept in `backup_dir` (if given) as `<name>.backup`. A crash at
    any point leaves either the old or the new file, never a torn one.
    """
    text = lockfile.render()
    directory = path.parent
    if backup_dir is not None and path.exists():
        ensure_state_dir(backup_dir)
        _atomic_write(backup_dir / f"{path.name}.backup", path.read_bytes())
    _atomic_write(path, text.encode("utf-8"))
    _fsync_directory(directory)


def _atomic_write(path: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
