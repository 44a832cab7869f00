"""Fault injection for the emulator: what can go wrong, how often, reproducibly (seeded)."""

from __future__ import annotations

import hashlib
import math
import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from suitesync.emulator.ratelimit import TokenBucket


@dataclass
class FaultConfig:
    """Switchable per run: from `suitesync emulator` flags or `PUT /_emulator/faults`."""

    latency_ms: float = 0.0  # added to every /v1 request
    jitter_ms: float = 0.0  # plus uniform(0, jitter)
    error_rate: float = 0.0  # share of /v1 requests answered 500 or 503 (nothing is done)
    error_status: int | None = None  # answer faults with this status (500 or 503), not either
    rate_limit_rate: float = 0.0  # share answered 429 with Retry-After (nothing is done)
    rate_limit_rps: float = 0.0  # token bucket: requests admitted a second (0: no limit)
    rate_limit_burst: int = 1  # token bucket: how many may come at once after a quiet spell
    retry_after_s: float = 1.0  # the Retry-After of 429 and 503 answers
    drop_rate: float = 0.0  # share of creates committed, then the connection dropped unanswered
    list_lag_ms: float = 0.0  # new test cases stay out of list results for this long
    seed: int | None = None  # makes the faults above reproducible
    run_seconds: float = 2.0  # how long a test run takes from start to verdict
    list_shape: str = "array"  # "array" (legacy docs) or "paged" ({"data": [...], ...} wrapper)
    page_size: int = 20  # default `size` of paged lists

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, all or nothing; unknown names and bad values raise ValueError."""
        known = [f.name for f in fields(self)]
        for name in changes:
            if name not in known:
                raise ValueError(f"unknown fault setting {name!r}; known: {', '.join(known)}")
        updated = replace(self, **{name: _coerce(name, value) for name, value in changes.items()})
        updated.check()
        for name in changes:
            setattr(self, name, getattr(updated, name))

    def check(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            # NaN, infinities and negative durations would crash a request (sleep, Retry-After).
            if field.type == "float" and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{field.name} must be a finite number >= 0")
        for name in ("error_rate", "rate_limit_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.list_shape not in ("array", "paged"):
            raise ValueError("list_shape must be 'array' or 'paged'")
        if self.error_status not in (None, 500, 503):
            raise ValueError("error_status must be 500 or 503")
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        if self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be at least 1")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(name: str, value: Any) -> Any:
    if name in ("seed", "error_status"):
        return None if value is None else int(value)
    if name == "list_shape":
        return str(value)
    if name in ("page_size", "rate_limit_burst"):
        return _whole(name, value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


def _whole(name: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number")
    return value


class FaultInjector:
    """Decides the faults of each request as a function of the request itself.

    A request's fate depends on the seed, its content (method, path, query, body) and how many
    times that same content was seen before, never on which thread drew first: sixteen threads
    applying 200 cases meet the same faults on every run, so a test of convergence under faults
    is deterministic. Latency jitter, which decides no outcome, comes from a plain seeded
    generator.
    """

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._reseed()
        self._bucket = self._new_bucket()

    def _new_bucket(self) -> TokenBucket | None:
        if self.config.rate_limit_rps <= 0:
            return None
        return TokenBucket(self.config.rate_limit_rps, self.config.rate_limit_burst)

    def _reseed(self) -> None:
        seed = self.config.seed
        self._seed = seed if seed is not None else random.SystemRandom().getrandbits(63)
        self._random = random.Random(self._seed)
        self._seen: dict[bytes, int] = {}

    def reconfigure(self, changes: dict[str, Any]) -> None:
        with self._lock:
            self.config.update(changes)
            if "seed" in changes:
                self._reseed()
            if {"rate_limit_rps", "rate_limit_burst"} & changes.keys():
                self._bucket = self._new_bucket()  # full again: a new limit starts afresh

    def admit(self) -> float:
        """0.0 if the rate limit lets a request in now (it takes a token), else the seconds
        until it would. Unlike the faults drawn below, this depends on time, by nature."""
        with self._lock:
            bucket = self._bucket
        return 0.0 if bucket is None else bucket.take()

    def delay_seconds(self) -> float:
        with self._lock:
            jitter = self._random.uniform(0, self.config.jitter_ms) if self.config.jitter_ms else 0.0
            return (self.config.latency_ms + jitter) / 1000

    def draw(self, method: str, path: str, query: dict[str, str], body: bytes) -> FaultDraw:
        """The dice of one request: the n-th request with this content gets the n-th roll."""
        key = hashlib.blake2b(
            repr((method, path, sorted(query.items()))).encode() + b"\0" + body, digest_size=16
        ).digest()
        with self._lock:
            occurrence = self._seen.get(key, 0) + 1
            self._seen[key] = occurrence
            return FaultDraw(self.config, self._seed, key, occurrence)


@dataclass(frozen=True)
class FaultDraw:
    config: FaultConfig
    seed: int
    key: bytes
    occurrence: int

    def roll(self, purpose: str) -> float:
        """A uniform number in [0, 1) from the seed, the request and what it is for."""
        salt = f"{self.seed}/{self.occurrence}/{purpose}".encode()
        digest = hashlib.blake2b(self.key, digest_size=8, salt=hashlib.blake2b(salt, digest_size=16).digest())
        return int.from_bytes(digest.digest(), "big") / 2**64

    def failure(self) -> int | None:
        """An HTTP status to answer instead of doing the work, or None."""
        roll = self.roll("failure")
        if roll < self.config.rate_limit_rate:
            return 429
        if roll < self.config.rate_limit_rate + self.config.error_rate:
            if self.config.error_status is not None:
                return self.config.error_status
            return 503 if self.roll("status") < 0.5 else 500
        return None

    def drops_after_create(self) -> bool:
        return self.roll("drop") < self.config.drop_rate
