"""The emulator's state in one SQLite file: agents, test cases, batch runs, test runs, create counts.

One connection guarded by a lock: SQLite serialises writers anyway, and WAL mode with
synchronous=NORMAL keeps each commit cheap while surviving a restart of the process. Every
statement a request runs is an index seek, never a scan of a table, so that a create or a page of
a list costs the same at 50k rows as at 1k (bench/bench_emulator_scale.py); positions in an agent's
list of test cases come from an in-memory cache (order.py).
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

from suitesync.emulator.order import AgentOrder, CaseOrders

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
CREATE INDEX IF NOT EXISTS batch_runs_by_agent ON batch_runs (agent_id, seq);
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
        self._orders = CaseOrders()
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
                self._db.execute("COMMIT")
            except BaseException:
                self._orders.clear()  # it may hold changes of this transaction
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    # --- workspace and agents -------------------------------------------------------------

    def add_agent(self, agent_id: str, name: str = "New AI Agent", status: str = "Live") -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO agents VALUES (?, ?, ?)"
                " ON CONFLICT (agent_id) DO UPDATE SET name = excluded.name, status = excluded.status",
                (agent_id, name, status),
            )

    def set_agent_config(self, agent_id: str, config: dict[str, Any]) -> None:
        """The agent's instructions, settings and tools (kept in `meta`: older state files have
        no column for them)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f"agent-config/{agent_id}", json.dumps(config)),
            )

    def agent_config(self, agent_id: str) -> dict[str, Any]:
        with self.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (f"agent-config/{agent_id}",)).fetchone()
        config: dict[str, Any] = json.loads(row[0]) if row else {}
        return config

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
            # seq orders one agent's list only, so the index on (agent_id, seq) finds the next
            # one in a seek; a MAX over the whole table would read every row (4 ms at 50k).
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM test_cases WHERE agent_id = ?", (agent_id,)
            ).fetchone()[0]
            created_at = time.time()
            db.execute(
                "INSERT INTO test_cases VALUES (?, ?, ?, ?, ?)",
                (test_case_id, agent_id, json.dumps(body), created_at, seq),
            )
            db.execute(
                "INSERT INTO creates VALUES (?, 1) ON CONFLICT (content) DO UPDATE SET count = count + 1",
                (content_key(body),),
            )
            order = self._cached_order(db, agent_id)
            if order is not None:
                order.append(seq, created_at)
        return test_case_id

    def case(self, test_case_id: str) -> tuple[str, dict[str, Any]] | None:
        """(agent id, body) of a test case, or None."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT agent_id, body FROM test_cases WHERE test_case_id = ?", (test_case_id,)
            ).fetchone()
        return (row["agent_id"], json.loads(row["body"])) if row else None

    def case_page(
        self, agent_id: str, created_before: float, offset: int, limit: int | None
    ) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
        """(how many of an agent's cases were created before a time, (id, body) of those from
        `offset`, at most `limit` (None: all)), oldest first."""
        with self.transaction() as db:
            total, seqs = self._order(db, agent_id).window(created_before, offset, limit)
            if not seqs:
                return total, []
            # The agent's rows between the first and last seq of the page are exactly the page.
            rows = db.execute(
                "SELECT test_case_id, body FROM test_cases"
                " WHERE agent_id = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                (agent_id, seqs[0], seqs[-1]),
            ).fetchall()
        return total, [(row[0], json.loads(row[1])) for row in rows]

    def cases(self, agent_id: str, created_before: float) -> list[tuple[str, dict[str, Any]]]:
        """(id, body) of all of an agent's cases created before a time, oldest first."""
        return self.case_page(agent_id, created_before, 0, None)[1]

    def _order(self, db: sqlite3.Connection, agent_id: str) -> AgentOrder:
        """The agent's list order, read from the table if it is not held."""
        order = self._cached_order(db, agent_id)
        if order is None:
            rows = db.execute(
                "SELECT seq, created_at FROM test_cases WHERE agent_id = ? ORDER BY seq", (agent_id,)
            )
            order = AgentOrder((row[0], row[1]) for row in rows)
            self._orders.put(agent_id, order)
        return order

    def _cached_order(self, db: sqlite3.Connection, agent_id: str) -> AgentOrder | None:
        """The agent's list order if held: none is once another connection wrote to the file."""
        self._orders.valid_for(db.execute("PRAGMA data_version").fetchone()[0])
        return self._orders.get(agent_id)

    def update_case(self, test_case_id: str, body: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE test_cases SET body = ? WHERE test_case_id = ?", (json.dumps(body), test_case_id)
            )

    def delete_case(self, test_case_id: str) -> bool:
        with self.transaction() as db:
            row = db.execute(
                "SELECT agent_id, seq FROM test_cases WHERE test_case_id = ?", (test_case_id,)
            ).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM test_cases WHERE test_case_id = ?", (test_case_id,))
            order = self._cached_order(db, row[0])
            if order is not None:
                order.remove(row[1])
        return True

    def create_counts(self) -> dict[str, int]:
        with self.transaction() as db:
            return {row["content"]: row["count"] for row in db.execute("SELECT * FROM creates")}

    # --- batch runs and test runs ---------------------------------------------------------

    def next_batch_seq(self, agent_id: str) -> int:
        """The number the agent's next batch run will have (1 for its first)."""
        with self.transaction() as db:
            return int(
                db.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM batch_runs WHERE agent_id = ?", (agent_id,)
                ).fetchone()[0]
            )

    def create_batch(self, agent_id: str, cases: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
        batch_id = new_id("batch_")
        now = time.time()
        with self.transaction() as db:
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM batch_runs WHERE agent_id = ?", (agent_id,)
            ).fetchone()[0]
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

    def batch_page(self, agent_id: str, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """(how many batch runs the agent has, those from `offset`, at most `limit`), newest first
        (as documented)."""
        total, rows = self._window("batch_runs WHERE agent_id = ?", "seq DESC", agent_id, offset, limit)
        return total, [_batch_row(row) for row in rows]

    def run_page(self, batch_id: str, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """(how many test runs the batch has, those from `offset`, at most `limit`)."""
        where = "test_runs WHERE batch_id = ?"
        total, rows = self._window(where, "test_case_id, attempt_no", batch_id, offset, limit)
        return total, [dict(row) for row in rows]

    def _window(
        self, rows_of: str, order: str, key: str, offset: int, limit: int
    ) -> tuple[int, list[sqlite3.Row]]:
        """Count the rows of `rows_of` (a table and a WHERE on one key, answered by an index),
        and read those of one page. Batches and their runs are short lists: OFFSET is cheap.
        `rows_of` and `order` are fixed text of this module, never request data."""
        with self.transaction() as db:
            total = int(db.execute(f"SELECT COUNT(*) FROM {rows_of}", (key,)).fetchone()[0])
            if offset >= total:  # also keeps OFFSET and LIMIT within SQLite's 64-bit integers
                return total, []
            sql = f"SELECT * FROM {rows_of} ORDER BY {order} LIMIT ? OFFSET ?"
            return total, db.execute(sql, (key, min(limit, total), offset)).fetchall()

    def run_counts(self, batch_id: str, now: float) -> tuple[int, int, int]:
        """(test runs of the batch, how many had ended at `now`, how many of those passed)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT COUNT(*), TOTAL(completes_at <= ?), TOTAL(completes_at <= ? AND passed)"
                " FROM test_runs WHERE batch_id = ?",
                (now, now, batch_id),
            ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def run(self, job_id: str) -> dict[str, Any] | None:
        with self.transaction() as db:
            row = db.execute("SELECT * FROM test_runs WHERE job_id = ?", (job_id,)).fetchone()
        return dict(row) if row else None

    def reset(self) -> None:
        """Forget every test case, batch, run and count; keep agents and the workspace."""
        with self.transaction() as db:
            for table in ("test_cases", "batch_runs", "test_runs", "creates"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self._orders.clear()


def _batch_row(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "batch_id": row["batch_id"],
        "agent_id": row["agent_id"],
        "created_at": row["created_at"],
        "cases": json.loads(row["cases"]),
    }
