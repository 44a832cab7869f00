"""Fault injection for the emulator: what can go wrong, how often, reproducibly (seeded)."""

from __future__ import annotations

import hashlib
import math
import random
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Self

from suitesync.emulator.ratelimit import TokenBucket


def _setting(default: Any, help: str, **flag: Any) -> Any:  # noqa: A002 - click's word
    """A switchable setting with what `suitesync emulator` shows for it: its help and, in `flag`,
    the option's name (default: --the-field-name), `show_default` and `choices`."""
    return field(default=default, metadata={"help": help, **flag})


@dataclass
class _Switchable:
    """Settings switchable while the emulator runs: from `suitesync emulator` flags (made from the
    fields, in their order) or `PUT /_emulator/faults`, all or nothing."""

    def updated(self, changes: dict[str, Any]) -> Self:
        """A checked copy with `changes` (names this class knows) applied; ValueError if bad."""
        updated = replace(self, **{name: _coerce(name, value) for name, value in changes.items()})
        updated.check()
        return updated

    def check(self) -> None:
        for setting in fields(self):
            value = getattr(self, setting.name)
            # NaN, infinities and negative durations would crash a request (sleep, Retry-After).
            if setting.type == "float" and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{setting.name} must be a finite number >= 0")
        self._check()

    def _check(self) -> None:
        pass

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultConfig(_Switchable):
    """What goes wrong, and how often."""

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

    def _check(self) -> None:
        for name in ("error_rate", "rate_limit_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.error_status not in (None, 500, 503):
            raise ValueError("error_status must be 500 or 503")
        if self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be at least 1")


@dataclass
class ApiBehaviour(_Switchable):
    """How the emulated API behaves where the docs leave a choice: not faults."""

    run_seconds: float = _setting(2.0, "Duration of one test run.", show_default=True)
    list_shape: str = _setting(
        "array",
        "List Test Cases as a bare array (legacy docs) or the paged {data: [...]} wrapper.",
        choices=("array", "paged"),
        show_default=True,
    )
    page_size: int = _setting(20, "Default `size` of paged lists.", show_default=True)

    def _check(self) -> None:
        if self.list_shape not in ("array", "paged"):
            raise ValueError("list_shape must be 'array' or 'paged'")
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")


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


def _assign(target: _Switchable, source: _Switchable) -> None:
    """Copy every setting into `target`, which others hold a reference to."""
    for name, value in source.as_dict().items():
        setattr(target, name, value)


def settings_of(injector: FaultInjector) -> dict[str, Any]:
    """Faults, then behaviour: what `GET /_emulator/faults` shows."""
    return {**injector.config.as_dict(), **injector.behaviour.as_dict()}


class FaultInjector:
    """Decides the faults of each request as a function of the request itself.

    A request's fate depends on the seed, its content (method, path, query, body) and how many
    times that same content was seen before, never on which thread drew first: sixteen threads
    applying 200 cases meet the same faults on every run, so a test of convergence under faults
    is deterministic. Latency jitter, which decides no outcome, comes from a plain seeded
    generator.
    """

    def __init__(self, config: FaultConfig, behaviour: ApiBehaviour | None = None) -> None:
        self.config = config
        self.behaviour = behaviour or ApiBehaviour()
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
        """Change faults and behaviour at once, all or nothing; unknown names and bad values raise
        ValueError (`PUT /_emulator/faults`)."""
        faults = [f.name for f in fields(FaultConfig)]
        behaviour = [f.name for f in fields(ApiBehaviour)]
        for name in changes:
            if name not in faults + behaviour:
                raise ValueError(f"unknown fault setting {name!r}; known: {', '.join(faults + behaviour)}")
        with self._lock:
            config = self.config.updated({k: v for k, v in changes.items() if k in faults})
            acts = self.behaviour.updated({k: v for k, v in changes.items() if k in behaviour})
            _assign(self.config, config)
            _assign(self.behaviour, acts)
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
