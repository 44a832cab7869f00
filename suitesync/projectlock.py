"""One apply per project at a time: an OS file lock that names its holder.

flock(2) is released by the kernel when the holding process dies, however it dies, so a killed
apply never leaves a stale lock behind; the holder's pid, host and start time are written inside
the lock file only so that a second apply can say who it is waiting for.
"""

from __future__ import annotations

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

from suitesync.errors import ExitCode, SuitesyncError
from suitesync.statedir import ensure_state_dir, make_private

LOCK_NAME = "apply.lock"
POLL_SECONDS = 0.1


class ProjectLockedError(SuitesyncError):
    exit_code = ExitCode.LOCKED


@contextmanager
def project_lock(
    state_dir: Path, timeout: float, on_wait: Callable[[str], None] = lambda holder: None
) -> Iterator[None]:
    """Hold the project's apply lock, waiting up to `timeout` seconds for another holder
    (`on_wait` hears once whom it waits for)."""
    path = ensure_state_dir(state_dir) / LOCK_NAME
    make_private(path)
    with open(path, "a+", encoding="utf-8") as handle:
        _acquire(handle, path, timeout, on_wait)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(_holder()) + "\n")
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


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
