"""Frozen models: a TestCase as the suites define it, the API payload it becomes, its canonical hash."""

from __future__ import annotations

import hashlib
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

    `payload` is the exact API body (already checked by the suite schema), kept as plain JSON
    data because it is hashed and sent as is; `TestCasePayload` types it at the API boundary.
    A slotted dataclass: tens of thousands are built per plan, and pydantic's constructor costs
    several times more per object (bench/bench_validate.py).
    """

    __test__ = False  # not a pytest test class

    id: str
    payload: dict[str, Any]
    hash: str
    previous_ids: tuple[str, ...] = ()
    protect: bool = False
    source: str = ""
    line: int = 0
    col: int = 0

    @property
    def agent_id(self) -> str:
        return str(self.payload["agentId"])

    def api_payload(self) -> TestCasePayload:
        return TestCasePayload.model_validate(self.payload)


def payload_hash(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, compact, UTF-8) of an API payload."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
