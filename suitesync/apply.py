"""Execute a Plan against the API concurrently and crash-safely (design §6).

The rules that make it safe whatever the network or the CI runner does:
- every create is preceded by a durable `pending` intent in the lockfile (all of a run's intents
  are written at once, before the first request);
- a create whose outcome is unknown (timeout, dropped connection, 5xx) is never simply sent
  again: the agent's cases are listed until the list grace period has passed, and a case with
  the same content is adopted; only when none appears is the create sent again, for as long as
  the run's retry budget lasts; when it runs out, the intent stays pending (safe: the next run
  settles it);
- pending intents found at the start of a run (a crash or a kill left them) are settled the same
  way before anything else;
- the lockfile is written by one thread that batches the changes of all workers (group commit),
  each write atomic, so throughput does not depend on fsync.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from suitesync.client import (
    OutcomeUnknownError,
    RetryableError,
    SigmaMindClient,
    StopRequestedError,
)
from suitesync.errors import SuitesyncError
from suitesync.lockfile import LockEntry, Lockfile, write_lockfile
from suitesync.models import RemoteCase
from suitesync.plan import Action, Kind, Plan
from suitesync.replies import server_line

WRITE_INTERVAL_SECONDS = 0.1  # between lockfile writes that nobody waits for
LIST_POLL_SECONDS = 0.25


class ApplyStopped(SuitesyncError):
    """The run cannot go on safely (a create could not be confirmed, the API keeps failing)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    status: str  # created, adopted, updated, deleted, replaced, renamed, recorded, failed, skipped
    test_case_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status not in ("failed", "skipped")


class LockfileJournal:
    """The lockfile while an apply changes it from many threads; one writer thread saves it.

    `update` never blocks on disk unless `durable=True`, which waits until a write containing the
    change has been renamed into place. Writes are atomic (see write_lockfile).
    """

    def __init__(
        self,
        lockfile: Lockfile,
        path: Path,
        backup_dir: Path | None,
        project: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.lockfile = lockfile.copy()
        self.project = project  # stamped on every entry this apply records (a shared lockfile)
        self.stop = stop  # set when the writer fails: no new request starts that it could not record
        self.path = path
        self.backup_dir = backup_dir
        self._cond = threading.Condition()
        self._version = 0  # changes made
        self._written = 0  # changes on disk
        self._urgent = 0  # the newest change somebody waits to see on disk
        self._closed = False
        self._error: BaseException | None = None
        # remote testCaseId -> the case id whose entry holds it (an index over self.lockfile.cases)
        self._owners = {e.test_case_id: case_id for case_id, e in lockfile.cases.items() if e.test_case_id}
        self._writer = threading.Thread(target=self._write_loop, name="lockfile-writer", daemon=True)
        self._writer.start()

    def entry(self, case_id: str) -> LockEntry | None:
        with self._cond:
            return self.lockfile.cases.get(case_id)

    def update(self, changes: dict[str, LockEntry | None], *, durable: bool = False) -> None:
        with self._cond:
            for case_id, entry in changes.items():
                old = self.lockfile.cases.pop(case_id, None)
                # Only the entry that owns a remote id releases it: a rename moves the id to
                # the new key first, and dropping the old key must not forget it.
                if old is not None and old.test_case_id and self._owners.get(old.test_case_id) == case_id:
                    del self._owners[old.test_case_id]
                if entry is not None:
                    stamped = replace(entry, project=self.project)
                    self.lockfile.cases[case_id] = stamped
                    if stamped.test_case_id:
                        self._owners[stamped.test_case_id] = case_id
            self._version += 1
            target = self._version
            if durable:
                self._urgent = target
            self._cond.notify_all()
            if durable:
                self._wait_written(target)

    def adopt(self, case_id: str, entry: LockEntry) -> bool:
        """Record `entry` unless its remote case already belongs to another case: the check and
        the record happen under one hold of the lock, so two threads cannot adopt the same case."""
        with self._cond:  # a Condition's lock is reentrant: update() takes it again
            owner = self._owners.get(entry.test_case_id or "")
            if owner is not None and owner != case_id:
                return False
            self.update({case_id: entry})
            return True

    def claimed(self) -> set[str]:
        with self._cond:
            return set(self._owners)

    def flush(self) -> None:
        with self._cond:
            self._urgent = self._version
            self._cond.notify_all()
            self._wait_written(self._version)

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._writer.join()

    def _wait_written(self, target: int) -> None:
        while self._written < target and self._error is None:
            self._cond.wait()
        if self._error is not None:
            hint = self._error.hint if isinstance(self._error, SuitesyncError) else None
            raise SuitesyncError(self.failure or "", hint=hint or _WRITER_HINT) from self._error

    @property
    def failure(self) -> str | None:
        """Why the lockfile could not be written, once the writer has failed."""
        error = self._error
        if error is None:
            return None
        if isinstance(error, SuitesyncError):  # an atomic write that failed says which file and why
            return f"cannot write the lockfile {self.path}: {error}"
        if isinstance(error, OSError):
            return f"cannot write the lockfile {self.path}: {server_line(str(error), 500)}"
        detail = server_line(str(error))
        return f"internal error: the lockfile writer failed: {type(error).__name__}: {detail}"

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while self._written == self._version and not self._closed:
                    self._cond.wait()
                if self._written == self._version:
                    return
                # Changes nobody waits for are batched for a moment: each write renders the
                # whole file, and confirmations need no durability (pending intents cover them).
                if self._urgent <= self._written and not self._closed:
                    self._cond.wait_for(
                        lambda: self._urgent > self._written or self._closed, WRITE_INTERVAL_SECONDS
                    )
                target = self._version
                self.lockfile.serial += 1
                snapshot = Lockfile(self.lockfile.lineage, self.lockfile.serial, dict(self.lockfile.cases))
            try:
                write_lockfile(snapshot, self.path, self.backup_dir)
            except Exception as exc:  # a full disk, say, or a bug: every waiter hears of it
                self._fail(exc)
                return
            with self._cond:
                self._written = target
                self._cond.notify_all()

    def _fail(self, error: Exception) -> None:
        """The writer is gone: whoever waits for a write hears why, and the run stops starting
        requests (what they made could not be recorded; the pending intents on disk cover it)."""
        with self._cond:
            self._error = error
            self._cond.notify_all()
        if self.stop is not None:
            self.stop.set()


_WRITER_HINT = (
    "the pending intents already on disk are settled by the next apply; fix the cause and run apply again"
)


class Reconciler:
    """Finds a remote case by content, sharing list calls between the threads that wait for one."""

    def __init__(
        self, client: SigmaMindClient, journal: LockfileJournal, grace: float, stop: threading.Event
    ) -> None:
        self.client = client
        self.journal = journal
        self.grace = grace
        self.stop = stop
        self._locks: dict[str, threading.Lock] = {}
        self._listings: dict[str, tuple[float, list[RemoteCase]]] = {}
        self._failures: dict[str, tuple[float, SuitesyncError]] = {}  # the last list call that gave up
        self._guard = threading.Lock()

    def find(self, agent_id: str, digest: str, since: float) -> RemoteCase | None:
        """A case of `agent_id` with this content that no other case owns.

        `since` is when the create's outcome became unknown (its unusable reply arrived, or the
        client gave up on it), not when it was sent: a request may take longer than the grace
        (a loaded machine, a slow proxy), and a case made before its reply was sent may not show
        in a list call started while it was still in flight. A create shows in every list call
        started after `since + grace` (the grace covers a server still working on a request the
        client gave up on, and list lag), so None is answered only after such a call. Waiting
        threads share list calls: one started within the last poll interval will do.
        """
        deadline = since + self.grace
        while True:
            now = time.time()
            listed_at, listing = self._listing(agent_id, fresher_than=min(now - LIST_POLL_SECONDS, deadline))
            claimed = self.journal.claimed()
            for remote in listing:
                if remote.hash == digest and remote.test_case_id not in claimed:
                    return remote
            if listed_at >= deadline or self.stop.is_set():
                return None
            self.stop.wait(min(LIST_POLL_SECONDS, max(0.01, deadline - time.time())))

    def _listing(self, agent_id: str, fresher_than: float) -> tuple[float, list[RemoteCase]]:
        asked = time.time()
        with self._guard:
            lock = self._locks.setdefault(agent_id, threading.Lock())
        with lock:  # one list call at a time per agent; later askers reuse a fresh enough one
            cached = self._listings.get(agent_id)
            if cached is not None and cached[0] >= fresher_than:
                return cached
            failed = self._failures.get(agent_id)
            if failed is not None and failed[0] >= asked:
                # A list call that ended while this thread waited for it gave up after all its
                # retries: trying again at once would only wait as long again (a dead API).
                raise failed[1]
            started = time.time()
            try:
                listing = (started, self.client.list_cases(agent_id))
            except SuitesyncError as exc:
                self._failures[agent_id] = (time.time(), exc)
                raise
            self._listings[agent_id] = listing
            return listing


class Applier:
    """Runs a plan's actions with up to `parallelism` requests in flight."""

    def __init__(
        self,
        client: SigmaMindClient,
        journal: LockfileJournal,
        *,
        parallelism: int,
        list_grace: float,
        stop: threading.Event,
        on_outcome: Callable[[Outcome], None],
    ) -> None:
        self.client = client
        self.journal = journal
        self.parallelism = parallelism
        self.stop = stop
        self.on_outcome = on_outcome
        self.reconciler = Reconciler(client, journal, list_grace, stop)
        self.apply_serial = journal.lockfile.serial + 1  # marks what this run created or updated
        self.fatal: str | None = None
        self._outcomes: list[Outcome] = []  # appended by the main thread only

    def run(self, plan: Plan, stop_grace: float = 3.0) -> list[Outcome]:
        """Execute every action; returns the outcomes. Stops starting actions once `stop` is set."""
        requests = [a for a in plan.actions if a.kind.sends_request]
        for action in plan.actions:
            if not action.kind.sends_request:
                self._finish(self._lock_only(action))
        creates = [a for a in requests if a.kind in (Kind.CREATE, Kind.RECREATE)]
        creates = self._settle_pending(creates)
        self._record_intents(creates)
        todo = [a for a in requests if a.kind not in (Kind.CREATE, Kind.RECREATE)] + creates
        self._execute_all(todo, stop_grace)
        return self._outcomes

    # --- orchestration ------------------------------------------------------------------------

    def _execute_all(self, actions: list[Action], stop_grace: float) -> None:
        """Workers take actions from a queue and hand back outcomes on another: the main thread
        only reads results (waiting on a set of futures would cost O(n) per completion)."""
        todo: queue.SimpleQueue[Action] = queue.SimpleQueue()
        for action in actions:
            todo.put(action)
        results: queue.SimpleQueue[Outcome] = queue.SimpleQueue()

        def work() -> None:
            while not self.stop.is_set():
                try:
                    action = todo.get_nowait()
                except queue.Empty:
                    return
                results.put(self._guarded(action))

        # Daemon threads: a request stuck past a stop must not keep the process alive.
        workers = [
            threading.Thread(target=work, name=f"apply-{n}", daemon=True) for n in range(self.parallelism)
        ]
        for worker in workers[: len(actions)]:
            worker.start()
        received, stopped_at = 0, None
        while received < len(actions):
            try:
                self._finish(results.get(timeout=0.1))
                received += 1
            except queue.Empty:
                if self.stop.is_set():
                    stopped_at = stopped_at or time.monotonic()
                    idle = not any(worker.is_alive() for worker in workers)
                    if idle or time.monotonic() - stopped_at > stop_grace:
                        break  # what is still in flight is left to its timeout
        while True:  # the actions no worker took
            try:
                self._finish(Outcome(todo.get_nowait(), "skipped", error="stopped before it started"))
            except queue.Empty:
                return

    def _guarded(self, action: Action) -> Outcome:
        if self.stop.is_set():
            return Outcome(action, "skipped", error="stopped before it started")
        try:
            return self._execute(action)
        except StopRequestedError:
            return Outcome(action, "skipped", error="stopped before it started")
        except RetryableError as exc:
            if self.client.budget.spent:
                self.fatal = f"the API kept failing: {self.client.budget.describe()} ({exc})"
                self.stop.set()
            return Outcome(action, "failed", error=str(exc))
        except ApplyStopped as exc:
            self.fatal = str(exc)
            self.stop.set()
            return Outcome(action, "failed", error=str(exc))
        except SuitesyncError as exc:
            return Outcome(action, "failed", error=str(exc))
        except Exception as exc:  # a bug, or a reply nobody foresaw: the action fails, the run goes on
            return Outcome(
                action, "failed", error=f"internal error: {type(exc).__name__}: {server_line(str(exc))}"
            )

    def _finish(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        self.on_outcome(outcome)

    # --- creates: intents, settling, reconciling --------------------------------------------

    def _settle_pending(self, creates: list[Action]) -> list[Action]:
        """Creates left pending by an earlier run: adopt what they made, keep the rest to create.

        That run may have sent its last create just before it died, so what it made shows in
        lists only after now + the grace period, whatever the intent's own time.
        """
        remaining = []
        since = time.time()
        for action in creates:
            entry = self.journal.entry(action.case_id)
            case = action.case
            assert case is not None
            if entry is None or not entry.pending or entry.hash != case.hash:
                remaining.append(action)
                continue
            found = self.reconciler.find(case.agent_id, case.content_hash, since=since)
            if found is not None and self.journal.adopt(
                action.case_id, self._entry(action, found.test_case_id)
            ):
                self._finish(Outcome(action, "adopted", found.test_case_id))
            else:
                remaining.append(action)
        return remaining

    def _record_intents(self, creates: Iterable[Action]) -> None:
        now = time.time()
        intents: dict[str, LockEntry | None] = {}
        for action in creates:
            case = action.case
            assert case is not None
            intent = LockEntry(
                None, case.agent_id, case.hash, pending=True, pending_since=now, protect=case.protect
            )
            intents.update(_moved(action, intent))
        if intents:
            self.journal.update(intents, durable=True)

    def _create(self, action: Action) -> Outcome:
        case = action.case
        assert case is not None
        while True:
            try:
                made = self.client.create_case(case.payload)
            except OutcomeUnknownError:
                # From now, not from when it was sent: see Reconciler.find.
                found = self.reconciler.find(case.agent_id, case.content_hash, since=time.time())
                if found is not None and self.journal.adopt(
                    action.case_id, self._entry(action, found.test_case_id)
                ):
                    return Outcome(action, "adopted", found.test_case_id)
                if self.stop.is_set():
                    raise StopRequestedError("stopped while confirming a create") from None
                if not self.client.budget.take():
                    raise ApplyStopped(
                        f"the create of {action.case_id} could not be confirmed and "
                        f"{self.client.budget.describe()}; its intent stays pending "
                        "(run apply again: it settles pending creates first)"
                    ) from None
                continue  # not listed after the grace period: it was not made; send it again
            self.journal.update({action.case_id: self._entry(action, made.test_case_id)})
            return Outcome(action, "created", made.test_case_id)

    # --- the other kinds ----------------------------------------------------------------------

    def _execute(self, action: Action) -> Outcome:
        case = action.case
        if action.kind in (Kind.CREATE, Kind.RECREATE):
            return self._create(action)
        if action.kind in (Kind.UPDATE, Kind.DRIFT):
            assert case is not None and action.test_case_id is not None
            self.client.update_case(action.test_case_id, case.payload)
            self.journal.update(_moved(action, self._entry(action, action.test_case_id)))
            return Outcome(action, "updated", action.test_case_id)
        if action.kind is Kind.DELETE:
            assert action.test_case_id is not None
            self.client.delete_case(action.test_case_id, action.agent_id)
            self.journal.update({action.case_id: None})
            return Outcome(action, "deleted", action.test_case_id)
        if action.kind is Kind.REPLACE:
            return self._replace(action)
        raise AssertionError(f"not a request: {action.kind}")

    def _replace(self, action: Action) -> Outcome:
        """Delete the old case first: a crash in between leaves a plan that replaces again."""
        assert action.test_case_id is not None and action.old_agent_id is not None and action.case is not None
        self.client.delete_case(action.test_case_id, action.old_agent_id)
        self._record_intents([action])
        outcome = self._create(action)
        return replace(outcome, status="replaced") if outcome.status == "created" else outcome

    def _lock_only(self, action: Action) -> Outcome:
        case = action.case
        assert case is not None and action.test_case_id is not None
        if action.kind is Kind.ADOPT:
            entry = self._entry(action, action.test_case_id, touched=False)
            if not self.journal.adopt(action.case_id, entry):
                return Outcome(action, "failed", error=f"{action.test_case_id} is owned by another entry")
            return Outcome(action, "adopted", action.test_case_id)
        self.journal.update(_moved(action, self._entry(action, action.test_case_id, touched=False)))
        return Outcome(action, "renamed" if action.kind is Kind.RENAME else "recorded", action.test_case_id)

    def _entry(self, action: Action, test_case_id: str, *, touched: bool = True) -> LockEntry:
        """The lockfile entry after `action`: `appliedSerial` marks what this run created or
        updated, and is kept as it was (under the old id, for a rename) for what it only recorded."""
        case = action.case
        assert case is not None
        previous = self.journal.entry(action.rename_from or action.case_id)
        serial = self.apply_serial if touched else (previous.applied_serial if previous else None)
        return LockEntry(test_case_id, case.agent_id, case.hash, protect=case.protect, applied_serial=serial)


def _moved(action: Action, entry: LockEntry) -> dict[str, LockEntry | None]:
    """The lockfile change that records `entry` for the action's case, dropping its old id."""
    changes: dict[str, LockEntry | None] = {action.case_id: entry}
    if action.rename_from:
        changes[action.rename_from] = None
    return changes
