"""The emulator's state in one SQLite file: agents, test cases, batch runs, test runs, create counts.

One connection guarded by a lock: SQLite serialises writers anyway, and WAL mode with
synchronous=NORMAL keeps each commit cheap while surviving a restart of the process.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    agent_id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS test_cases (
    test_case_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, body TEXT NOT NULL,
    created_at REAL NOT NULL, seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS test_cases_by_agent ON test_cases (agent_id, seq);
CREATE TABLE IF NOT EXISTS batch_runs (
    batch_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, created_at REAL NOT NULL,
    cases TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS test_runs (
    job_id TEXT PRIMARY KEY, batch_id TEXT NOT NULL, agent_id TEXT NOT NULL,
    test_case_id TEXT NOT NULL, attempt_no INTEGER NOT NULL, chat_id TEXT NOT NULL,
    created_at REAL NOT NULL, completes_at REAL NOT NULL, passed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS test_runs_by_batch ON test_runs (batch_id, test_case_id, attempt_no);
CREATE TABLE IF NOT EXISTS creates (content TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """Ids shaped like the documented examples: `tc_d17T6uReChpyfFeP`."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def content_key(body: dict[str, Any]) -> str:
    """Identity of a create's content, to count creates of the same case (duplicates)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _prepare_state_file(path: Path) -> None:
    """The state holds what the platform holds, secrets included: owner-only, and a folder made
    for it ignores itself in git. SQLite gives its -wal and -shm files the same mode."""
    from suitesync.statedir import ensure_state_dir, make_private

    if not path.parent.exists():
        ensure_state_dir(path.parent)
    make_private(path)


class Store:
    def __init__(self, path: Path | None) -> None:
        target = ":memory:" if path is None else str(path)
        if path is not None:
            _prepare_state_file(path)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('workspace', ?)", (new_id("org_"),))
            self.workspace = str(db.execute("SELECT value FROM meta WHERE key = 'workspace'").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- workspace and agents -------------------------------------------------------------

    def add_agent(self, agent_id: str, name: str = "New AI Agent", status: str = "Live") -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO agents VALUES (?, ?, ?)"
                " ON CONFLICT (agent_id) DO UPDATE SET name = excluded.name, status = excluded.status",
                (agent_id, name, status),
            )

    def agent(self, agent_id: str) -> dict[str, str] | None:
        with self.transaction() as db:
            row = db.execute("SELECT * FROM agents WHERE agent_id = ?", (agent_id,)).fetchone()
        return dict(row) if row else None

    def agents(self) -> list[dict[str, str]]:
        with self.transaction() as db:
            return [dict(r) for r in db.execute("SELECT * FROM agents ORDER BY agent_id")]

    # --- test cases ---------------------------------------------------------------------------

    def create_case(self, agent_id: str, body: dict[str, Any]) -> str:
        test_case_id = new_id("tc_")
        with self.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM test_cases").fetchone()[0]
            db.execute(
                "INSERT INTO test_cases VALUES (?, ?, ?, ?, ?)",
                (test_case_id, agent_id, json.dumps(body), time.time(), seq),
            )
            db.execute(
                "INSERT INTO creates VALUES (?, 1) ON CONFLICT (content) DO UPDATE SET count = count + 1",
                (content_key(body),),
            )
        return test_case_id

    def case(self, test_case_id: str) -> tuple[str, dict[str, Any]] | None:
        """(agent id, body) of a test case, or None."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT agent_id, body FROM test_cases WHERE test_case_id = ?", (test_case_id,)
            ).fetchone()
        return (row["agent_id"], json.loads(row["body"])) if row else None

    def cases(self, agent_id: str, created_before: float) -> list[tuple[str, dict[str, Any]]]:
        """(id, body) of an agent's cases created before a time, oldest first."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT test_case_id, body FROM test_cases"
                " WHERE agent_id = ? AND created_at <= ? ORDER BY seq",
                (agent_id, created_before),
            ).fetchall()
        return [(row["test_case_id"], json.loads(row["body"])) for row in rows]

    def update_case(self, test_case_id: str, body: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE test_cases SET body = ? WHERE test_case_id = ?", (json.dumps(body), test_case_id)
            )

    def delete_case(self, test_case_id: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM test_cases WHERE test_case_id = ?", (test_case_id,)).rowcount == 1

    def create_counts(self) -> dict[str, int]:
        with self.transaction() as db:
            return {row["content"]: row["count"] for row in db.execute("SELECT * FROM creates")}

    # --- batch runs and test runs ---------------------------------------------------------

    def create_batch(self, agent_id: str, cases: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
        batch_id = new_id("batch_")
        now = time.time()
        with self.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM batch_runs").fetchone()[0]
            db.execute(
                "INSERT INTO batch_runs VALUES (?, ?, ?, ?, ?)",
                (batch_id, agent_id, now, json.dumps(cases), seq),
            )
            db.executemany(
                "INSERT INTO test_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        new_id("job_"),
                        batch_id,
                        agent_id,
                        r["testCaseId"],
                        r["attemptNo"],
                        new_id("chat_"),
                        now,
                        now + r["duration"],
                        int(r["passed"]),
                    )
                    for r in runs
                ],
            )
        return batch_id

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        with self.transaction() as db:
            row = db.execute("SELECT * FROM batch_runs WHERE batch_id = ?", (batch_id,)).fetchone()
        return _batch_row(row) if row else None

    def batches(self, agent_id: str) -> list[dict[str, Any]]:
        """An agent's batch runs, newest first (as documented)."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT * FROM batch_runs WHERE agent_id = ? ORDER BY seq DESC", (agent_id,)
            ).fetchall()
        return [_batch_row(row) for row in rows]

    def runs(self, batch_id: str) -> list[dict[str, Any]]:
        with self.transaction() as db:
            rows = db.execute(
                "SELECT * FROM test_runs WHERE batch_id = ? ORDER BY test_case_id, attempt_no", (batch_id,)
            ).fetchall()
        return [dict(row) for row in rows]

    def run(self, job_id: str) -> dict[str, Any] | None:
        with self.transaction() as db:
            row = db.execute("SELECT * FROM test_runs WHERE job_id = ?", (job_id,)).fetchone()
        return dict(row) if row else None

    def reset(self) -> None:
        """Forget every test case, batch, run and count; keep agents and the workspace."""
        with self.transaction() as db:
            for table in ("test_cases", "batch_runs", "test_runs", "creates"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names


def _batch_row(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "batch_id": row["batch_id"],
        "agent_id": row["agent_id"],
        "created_at": row["created_at"],
        "cases": json.loads(row["cases"]),
    }
