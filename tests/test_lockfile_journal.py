"""The applier's lockfile journal: who owns each remote case, and atomic adoption."""

from __future__ import annotations

import threading
from pathlib import Path

from suitesync.apply import LockfileJournal
from suitesync.lockfile import LockEntry, Lockfile, read_lockfile

HASH = "b" * 64


def journal_with(tmp_path: Path, **entries: LockEntry) -> LockfileJournal:
    return LockfileJournal(Lockfile("0" * 32, 1, dict(entries)), tmp_path / "suitesync.lock", None)


def test_a_rename_keeps_the_remote_case_owned(tmp_path: Path) -> None:
    state = journal_with(tmp_path, old=LockEntry("tc_1", "A", HASH))
    # What a rename writes: the new id first, the old one dropped in the same change.
    state.update({"new": LockEntry("tc_1", "A", HASH), "old": None})
    assert state.claimed() == {"tc_1"}
    assert state.adopt("other", LockEntry("tc_1", "A", HASH)) is False
    state.close()
    assert set(read_lockfile(tmp_path / "suitesync.lock").cases) == {"new"}


def test_a_remote_case_is_adopted_once_whatever_the_threads(tmp_path: Path) -> None:
    state = journal_with(tmp_path)
    start = threading.Barrier(16)
    won: list[str] = []

    def adopt(case_id: str) -> None:
        start.wait()
        if state.adopt(case_id, LockEntry("tc_same", "A", HASH)):
            won.append(case_id)

    threads = [threading.Thread(target=adopt, args=(f"case-{n}",)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state.close()
    assert len(won) == 1
    assert {e.test_case_id for e in read_lockfile(tmp_path / "suitesync.lock").cases.values()} == {"tc_same"}


def test_adopting_again_for_the_same_case_is_allowed(tmp_path: Path) -> None:
    state = journal_with(tmp_path, mine=LockEntry("tc_1", "A", HASH))
    assert state.adopt("mine", LockEntry("tc_1", "A", HASH)) is True
    state.close()
