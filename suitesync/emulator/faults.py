"""Fault injection for the emulator: what can go wrong, how often, reproducibly (seeded)."""

from __future__ import annotations

import hashlib
import math
import random
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from suitesync.emulator.ratelimit import TokenBucket


def _setting(default: Any, help: str, **flag: Any) -> Any:  # noqa: A002 - click's word
    """A field of FaultConfig with what `suitesync emulator` shows for it: its help and, in `flag`,
    the option's name (default: --the-field-name), `show_default` and `choices`."""
    return field(default=default, metadata={"help": help, **flag})


@dataclass
class FaultConfig:
    """Switchable per run: from `suitesync emulator` flags (made from these fields, in this order)
    or `PUT /_emulator/faults`. The faults come first, then how the emulated API behaves."""

    latency_ms: float = _setting(0.0, "Added to every /v1 request.")
    jitter_ms: float = _setting(0.0, "Plus a uniform random 0..J ms.")
    # Share of /v1 requests answered 500 or 503 (nothing is done); with error_status, only that one.
    error_rate: float = _setting(0.0, "Share of requests answered 500/503.")
    error_status: int | None = _setting(None, "Answer faults with only this.", choices=("500", "503"))
    rate_limit_rate: float = _setting(0.0, "Share answered 429 with Retry-After.")  # nothing is done
    rate_limit_rps: float = _setting(
        0.0, "Token bucket: admit N requests a second, 429 beyond (0: no limit)."
    )
    # The bucket's size: how many may come at once after a quiet spell.
    rate_limit_burst: int = _setting(1, "Token bucket: at most B at once.", show_default=True)
    retry_after_s: float = _setting(1.0, "Retry-After seconds of 429/503.", name="--retry-after")
    drop_rate: float = _setting(0.0, "Share of creates committed, then dropped unanswered.")
    list_lag_ms: float = _setting(0.0, "New test cases stay out of lists this long.")
    seed: int | None = _setting(None, "Make the faults reproducible.")
    # How the emulated API behaves (not faults).
    run_seconds: float = _setting(2.0, "Duration of one test run.", show_default=True)
    list_shape: str = _setting(
        "array",
        "List Test Cases as a bare array (legacy docs) or the paged {data: [...]} wrapper.",
        choices=("array", "paged"),
        show_default=True,
    )
    page_size: int = _setting(20, "Default `size` of paged lists.", show_default=True)

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
        for setting in fields(self):
            value = getattr(self, setting.name)
            # NaN, infinities and negative durations would crash a request (sleep, Retry-After).
            if setting.type == "float" and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{setting.name} must be a finite number >= 0")
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
