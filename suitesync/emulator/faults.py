"""Fault injection for the emulator: what can go wrong, how often, reproducibly (seeded)."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class FaultConfig:
    """Switchable per run: from `suitesync emulator` flags or `PUT /_emulator/faults`."""

    latency_ms: float = 0.0  # added to every /v1 request
    jitter_ms: float = 0.0  # plus uniform(0, jitter)
    error_rate: float = 0.0  # share of /v1 requests answered 500 or 503 (nothing is done)
    rate_limit_rate: float = 0.0  # share answered 429 with Retry-After (nothing is done)
    retry_after_s: float = 1.0  # the Retry-After of 429 and 503 answers
    drop_rate: float = 0.0  # share of creates committed, then the connection dropped unanswered
    list_lag_ms: float = 0.0  # new test cases stay out of list results for this long
    seed: int | None = None  # makes the faults above reproducible
    run_seconds: float = 2.0  # how long a test run takes from start to verdict
    list_shape: str = "array"  # "array" (legacy docs) or "paged" ({"data": [...], ...} wrapper)
    page_size: int = 20  # default `size` of paged lists

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; unknown names and wrong types raise ValueError."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault setting {name!r}; known: {', '.join(known)}")
            setattr(self, name, _coerce(name, value))
        self.check()

    def check(self) -> None:
        for name in ("error_rate", "rate_limit_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.list_shape not in ("array", "paged"):
            raise ValueError("list_shape must be 'array' or 'paged'")
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(name: str, value: Any) -> Any:
    if name == "seed":
        return None if value is None else int(value)
    if name == "list_shape":
        return str(value)
    if name == "page_size":
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


class FaultInjector:
    """Draws the faults for each request from one seeded generator (thread-safe)."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._random = random.Random(config.seed)

    def reconfigure(self, changes: dict[str, Any]) -> None:
        with self._lock:
            self.config.update(changes)
            if "seed" in changes:
                self._random = random.Random(self.config.seed)

    def delay_seconds(self) -> float:
        with self._lock:
            jitter = self._random.uniform(0, self.config.jitter_ms) if self.config.jitter_ms else 0.0
            return (self.config.latency_ms + jitter) / 1000

    def failure(self) -> int | None:
        """An HTTP status to answer instead of doing the work, or None."""
        with self._lock:
            roll = self._random.random()
            if roll < self.config.rate_limit_rate:
                return 429
            if roll < self.config.rate_limit_rate + self.config.error_rate:
                return 503 if self._random.random() < 0.5 else 500
            return None

    def drop_after_create(self) -> bool:
        with self._lock:
            return self._random.random() < self.config.drop_rate
