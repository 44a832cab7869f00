"""Frozen models: a TestCase as the suites define it, the API payload it becomes, its canonical hash.

`PAYLOAD_FIELDS` is the one list of the payload's fields: the client, the planner, the rewriter,
the importer, the emulator and the two mappings to a payload (payloads.py) derive theirs from it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_LLM_MODEL = "gpt-4o-mini"
DEFAULT_ATTEMPT = 1
AGENT_PREFIX = "agent_"


class PayloadField(NamedTuple):
    """One field of the API payload, and where it goes in suitesync's files and output."""

    name: str  # in request bodies and responses (sigmamind-api.md §3.2)
    suite_key: str  # in a suite file
    default: Any  # when a suite leaves it out; None: required, or made from other keys
    file_rank: int  # where fmt and import write it among a case's keys
    diff_rank: int  # where a plan's diff shows it: short values first, long text last
    shared_rank: int | None  # where it goes in a suite's `defaults:`; None: never shared


# The payload's fields in the API's documented order, which is the order of request bodies.
PAYLOAD_FIELDS = (
    PayloadField("agentId", "agent", None, 1, 1, None),
    PayloadField("userPrompt", "userPrompt", None, 2, 4, None),
    PayloadField("successCriteria", "successCriteria", None, 3, 5, None),
    PayloadField("label", "label", None, 0, 0, None),  # default: the case's id
    PayloadField("llmModel", "llmModel", DEFAULT_LLM_MODEL, 4, 2, 0),
    PayloadField("mockData", "mockData", None, 5, 6, 2),  # a map in suites, a list in the API
    PayloadField("attempt", "attempt", DEFAULT_ATTEMPT, 6, 3, 1),
)
API_ORDER = tuple(f.name for f in PAYLOAD_FIELDS)
SUITE_ORDER = tuple(f.suite_key for f in sorted(PAYLOAD_FIELDS, key=lambda f: f.file_rank))
DIFF_ORDER = tuple(f.name for f in sorted(PAYLOAD_FIELDS, key=lambda f: f.diff_rank))
SHARED_ORDER = tuple(
    f.suite_key for f in sorted(PAYLOAD_FIELDS, key=lambda f: f.shared_rank or 0) if f.shared_rank is not None
)
# Fields that are plain values in suites and in the API alike (no renaming, no reshaping).
PLAIN_FIELDS = tuple(f for f in PAYLOAD_FIELDS if f.name not in ("agentId", "label", "mockData"))


def normalize_agent_id(agent_id: str) -> str:
    """Responses prefix agent ids with `agent_`, requests do not (sigmamind-api.md §8.2)."""
    return agent_id.removeprefix(AGENT_PREFIX)


class MockVariable(BaseModel):
    """One entry of the API's `mockData` list."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    variableName: str  # noqa: N815 - the API's field name
    value: str


class TestCasePayload(BaseModel):
    """The exact body of a create or update request (sigmamind-api.md §3.2), in documented order."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    __test__ = False  # not a pytest test class

    agentId: str = Field(min_length=1)  # noqa: N815
    userPrompt: str = Field(min_length=1)  # noqa: N815
    successCriteria: str = Field(min_length=1)  # noqa: N815
    label: str
    llmModel: str  # noqa: N815
    mockData: tuple[MockVariable, ...] = ()  # noqa: N815
    attempt: int = Field(default=DEFAULT_ATTEMPT, ge=1)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class TestCase:
    """A case as the suites define it, defaults merged: what suitesync wants to exist remotely.

    The payload is kept as its canonical JSON (sorted keys, compact), the very text that is
    hashed: about a third of the memory of the dict it decodes to, which matters at 50k cases.
    A slotted dataclass because tens of thousands are built per plan, and pydantic's constructor
    costs several times more per object; `TestCasePayload` types it at the API boundary.
    """

    __test__ = False  # not a pytest test class

    id: str
    agent_id: str
    payload_json: str | None  # None: dropped because the lockfile says the case is unchanged
    hash: str
    previous_ids: tuple[str, ...] = ()
    protect: bool = False
    source: str = ""
    line: int = 0
    col: int = 0
    secrets: tuple[tuple[str, str], ...] = ()  # (mockData variable, environment variable) pairs
    # Local only: how `run` judges and selects the case; never sent, never in the hash.
    label: str | None = None
    attempt: int = 1
    min_pass_rate: float | None = None  # None: the run's --min-pass-rate
    quarantine: bool = False
    tags: tuple[str, ...] = ()

    @property
    def secret_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.secrets)

    def redacted_payload(self) -> dict[str, Any]:
        """The payload with each secret value replaced by its `${env:NAME}` reference."""
        return redact(self.payload, dict(self.secrets))

    @property
    def content_hash(self) -> str:
        """The hash of the payload as sent, secret values included: what a remote copy that
        matches has. Held in memory only, never written (`hash` is what files hold)."""
        if not self.secrets or self.payload_json is None:
            return self.hash
        return hashlib.sha256(self.payload_json.encode()).hexdigest()

    @property
    def payload(self) -> dict[str, Any]:
        """The API body (agentId, userPrompt, successCriteria, label, llmModel, mockData, attempt)."""
        if self.payload_json is None:
            raise ValueError(f"the payload of {self.id} was not kept (unchanged since the last apply)")
        decoded: dict[str, Any] = orjson.loads(self.payload_json)
        return decoded

    def api_payload(self) -> TestCasePayload:
        return TestCasePayload.model_validate(self.payload)


@dataclass(frozen=True, slots=True)
class RemoteCase:
    """A test case as the API lists it, reduced to the payload fields and their hash (built by the client)."""

    test_case_id: str
    agent_id: str
    payload: dict[str, Any]
    hash: str


def request_body(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload's fields only, in the API's order: what a create or update sends."""
    return {name: payload[name] for name in API_ORDER if name in payload}


def with_mock_values(
    payload: dict[str, Any], names: Collection[str], value_of: Callable[[str, Any], Any]
) -> dict[str, Any]:
    """`payload` with the value of each mockData variable in `names` replaced by
    `value_of(variable, value)`: how secrets are redacted, hashed and resolved again."""
    if not names:
        return payload
    mock = [
        {**m, "value": value_of(m["variableName"], m["value"])} if m["variableName"] in names else m
        for m in payload.get("mockData") or []
    ]
    return {**payload, "mockData": mock}


SECRET_REFERENCE = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")


def redact(payload: dict[str, Any], replacements: dict[str, str]) -> dict[str, Any]:
    """`payload` with the mockData values of `replacements` (variable -> env name) as references."""
    return with_mock_values(payload, replacements, lambda name, _value: "${env:" + replacements[name] + "}")


def canonical_json(payload: dict[str, Any]) -> bytes:
    """Sorted keys, compact, UTF-8: byte-identical to json.dumps(sort_keys=True) for our data."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def payload_hash(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of an API payload."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def new_test_case(
    case_id: str, payload: dict[str, Any], keep: KeepPayload | None = None, **details: Any
) -> TestCase:
    """A TestCase from its payload: canonical JSON and hash computed once, here.

    Kept as str: orjson's bytes keep a 4 KiB buffer each (measured: 39 MiB for 10k cases), the
    decoded text is its exact size.
    """
    data = canonical_json(payload)
    secrets = details.get("secrets") or ()
    # A secret counts as its `${env:NAME}` reference: the hash goes into the committed lockfile, and
    # with every other field known, any digest of the value (salted, slow) lets a short secret be
    # guessed offline. A changed value is seen against the platform's copy instead (plan.py).
    digest = payload_hash(redact(payload, dict(secrets))) if secrets else hashlib.sha256(data).hexdigest()
    # A case with secrets keeps its payload: a saved plan records it with the secrets as references.
    text = data.decode() if keep is None or secrets or keep(case_id, digest) else None
    return TestCase(case_id, str(payload["agentId"]), text, digest, **details)


# Whether a case's payload must be kept, given its id and hash (plan drops those it will not need).
KeepPayload = Callable[[str, str], bool]
