"""One apply per lockfile at a time: an OS file lock that names its holder.

The lock is keyed by the lockfile's real path, not by the project: it lives in the `.suitesync/`
folder beside the resolved lockfile, so that two projects sharing one lockfile
(`lockfile: ../shared.lock`, or a symlink) wait for each other instead of each writing its own
copy over the other's entries.

flock(2) is released by the kernel when the holding process dies, however it dies, so a killed
apply never leaves a stale lock behind; the holder's pid, host and start time are written inside
the lock file only so that a second apply can say who it is waiting for.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from suitesync.atomic import write_hint
from suitesync.errors import ExitCode, SuitesyncError
from suitesync.settings import STATE_DIR
from suitesync.statedir import ensure_state_dir, make_private

LOCK_NAME = "apply.lock"
POLL_SECONDS = 0.1


class ProjectLockedError(SuitesyncError):
    exit_code = ExitCode.LOCKED


def lock_dir_for(lockfile: Path) -> Path:
    """Where the apply lock of `lockfile` lives: `.suitesync/` beside the file it resolves to."""
    return Path(os.path.realpath(lockfile)).parent / STATE_DIR


@contextmanager
def project_lock(
    state_dir: Path, timeout: float, on_wait: Callable[[str], None] = lambda holder: None
) -> Iterator[None]:
    """Hold the apply lock kept in `state_dir` (see lock_dir_for), waiting up to `timeout`
    seconds for another holder (`on_wait` hears once whom it waits for)."""
    path = state_dir / LOCK_NAME
    try:
        ensure_state_dir(state_dir)
        make_private(path)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed below, after the lock
    except OSError as exc:
        raise SuitesyncError(
            f"{path}: cannot take the apply lock: {exc.strerror}; nothing was changed",
            hint=write_hint(exc) or "suitesync needs to write in the folder of the lockfile",
        ) from None
    with handle:
        _acquire(handle, path, timeout, on_wait)
        try:
            _record_holder(handle)
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(handle.fileno(), 0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _record_holder(handle: TextIO) -> None:
    """Who holds the lock, for a waiting apply to name; only informative, so a full disk that
    refuses these few bytes does not stop the apply (the lock is the flock, not the content)."""
    try:  # unbuffered: nothing left in a buffer for close() to fail on
        os.ftruncate(handle.fileno(), 0)
        os.pwrite(handle.fileno(), (json.dumps(_holder()) + "\n").encode(), 0)
    except OSError:
        pass


def _acquire(handle: TextIO, path: Path, timeout: float, on_wait: Callable[[str], None]) -> None:
    deadline = time.monotonic() + timeout
    waiting = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if not waiting and timeout > 0:
                waiting = True
                on_wait(_describe(path))
            if time.monotonic() >= deadline:
                raise ProjectLockedError(
                    f"another apply holds the project lock ({_describe(path)})",
                    hint="wait for it to finish, or pass --lock-timeout SECONDS to wait",
                ) from None
            time.sleep(POLL_SECONDS)


def _holder() -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _describe(path: Path) -> str:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
