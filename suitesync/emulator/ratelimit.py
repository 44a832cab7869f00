"""A token bucket: how an API that allows N requests a second, in bursts of B, answers 429.

Pure bookkeeping over a clock it is given, so that tests drive the clock by hand instead of
sleeping; the server gives it time.monotonic.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` tokens a second flow into a bucket holding at most `burst`; it starts full, and
    each request admitted takes one token."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._filled_at = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0.0 if a token was taken (admit the request); otherwise the seconds until one is free,
        and nothing is taken."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._filled_at) * self.rate)
            self._filled_at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate


def retry_after(wait_seconds: float) -> str:
    """The Retry-After header for a wait: HTTP allows whole seconds only (RFC 9110 §10.2.3), so
    rounded up, never 0, so that a client that waits that long finds a token."""
    return str(max(1, math.ceil(wait_seconds)))
