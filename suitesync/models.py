"""Frozen models: a TestCase as the suites define it, the API payload it becomes, its canonical hash."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_LLM_MODEL = "gpt-4o-mini"
DEFAULT_ATTEMPT = 1
AGENT_PREFIX = "agent_"


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


SECRET_REFERENCE = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")


def redact(payload: dict[str, Any], replacements: dict[str, str]) -> dict[str, Any]:
    """`payload` with the mockData values of `replacements` (variable -> env name) as references."""
    if not replacements:
        return payload
    mock = [
        {**m, "value": "${env:" + replacements[m["variableName"]] + "}"}
        if m["variableName"] in replacements
        else m
        for m in payload.get("mockData") or []
    ]
    return {**payload, "mockData": mock}


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
