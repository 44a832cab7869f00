"""SIGINT/SIGTERM for long commands (apply, run): stop starting work, wind down, then exit 130/143."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType


class StopOnSignal:
    """The first SIGINT or SIGTERM sets `stop`: no new request starts and the run winds down.
    A second one exits at once (safe for apply: every create in flight has a durable intent)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.received: int | None = None
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is not None:
            os._exit(128 + signum)
        self.received = signum
        self.stop.set()
        sys.stderr.write(
            "\nstopping: no new request starts; the lockfile is being saved (a second signal exits at once)\n"
        )

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def exit_now(code: int) -> None:
    """Leave without waiting for threads still in a request: the caller has saved what matters,
    and those threads would otherwise hold the interpreter until their timeouts."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
