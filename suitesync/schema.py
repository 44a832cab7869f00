"""The packaged JSON Schemas (suite, lockfile, plan, config, results): text, documents, model list."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

SUITE = "suite.schema.json"
LOCKFILE = "lockfile.schema.json"
PLAN = "plan.schema.json"
CONFIG = "config.schema.json"
RESULTS = "results.schema.json"


def schema_text(name: str = SUITE) -> str:
    return resources.files("suitesync").joinpath("schemas", name).read_text(encoding="utf-8")


@functools.cache
def load_schema(name: str = SUITE) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text(name))
    return loaded


def llm_models() -> tuple[str, ...]:
    """The 26 documented model names (sigmamind-api.md §4.2); the schema is the single source."""
    return tuple(load_schema()["$defs"]["llmModel"]["enum"])
