"""SIGINT/SIGTERM for long commands (apply, run): stop starting work, wind down, then exit 130/143."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from suitesync.errors import Cancelled, ExitCode, SuitesyncError

APPLY_STOPPING = "no new request starts; the lockfile is being saved"


class StopOnSignal:
    """The first SIGINT or SIGTERM sets `stop`: no new request starts and the run winds down,
    saying so (`stopping`: what the command does now). A second one exits at once (safe for
    apply: every create in flight has a durable intent; for run, the batches go on remotely)."""

    def __init__(
        self, stop: threading.Event, show: Callable[[str], None], stopping: str = APPLY_STOPPING
    ) -> None:
        self.stop = stop
        self.show = show  # a renderer's: says what the command does now (`stopping`)
        self.stopping = stopping
        self.received: int | None = None
        self.cancelled_by: int | None = None  # the signal that interrupted a question
        self._asking = False
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    @contextmanager
    def asking(self) -> Iterator[None]:
        """While a question waits for its answer, a signal cancels at once (KeyboardInterrupt):
        nothing has started that would need winding down."""
        self._asking = True
        try:
            yield
        finally:
            self._asking = False

    def instead_of(self, error: SuitesyncError, message: str) -> SuitesyncError:
        """What to raise for `error` when a signal caused it (a request refused to start): the
        signal's exit code and `message`, said plainly."""
        if self.received is None:
            return error
        return Cancelled(message, ExitCode(128 + self.received))

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._asking:
            self.cancelled_by = signum
            raise KeyboardInterrupt
        if self.received is not None:
            os._exit(128 + signum)
        self.received = signum
        self.stop.set()
        self.show(self.stopping)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def exit_now(code: int, flush: Callable[[], None]) -> None:
    """Leave without waiting for threads still in a request: the caller has saved what matters,
    and those threads would otherwise hold the interpreter until their timeouts. `flush` writes
    out what the renderers have buffered."""
    flush()
    os._exit(code)
