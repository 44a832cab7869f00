"""The suite and lockfile schemas: valid 2020-12, the documented model list, descriptions everywhere."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from suitesync.schema import CONFIG, LOCKFILE, PLAN, SUITE, llm_models, load_schema

from conftest import run_cli

# sigmamind-api.md §4.2, in documented order.
DOCUMENTED_MODELS = [
    "gpt-5.2",
    "gpt-5.2-fast-tier",
    "gpt-5.1",
    "gpt-5.1-fast-tier",
    "gpt-5",
    "gpt-5-fast-tier",
    "gpt-5-mini",
    "gpt-5-mini-fast-tier",
    "gpt-5-nano",
    "gpt-4.1",
    "gpt-4.1-fast-tier",
    "gpt-4.1-mini",
    "gpt-4.1-mini-fast-tier",
    "gpt-4.1-nano",
    "gpt-4.1-nano-fast-tier",
    "gpt-4o",
    "gpt-4o-fast-tier",
    "gpt-4o-mini",
    "gpt-4o-mini-fast-tier",
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-20250514",
    "gemini-3.1-flash-lite-preview",
    "gemini-3-flash-preview",
    "gemini-2.5-flash-lite",
    "gemini-2.5-flash",
]


def test_schema_command_prints_a_valid_2020_12_schema() -> None:
    result = run_cli("schema")
    assert result.code == 0
    document = json.loads(result.out)
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", [SUITE, LOCKFILE, PLAN, CONFIG])
def test_packaged_schemas_pass_the_metaschema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema(name))


def test_lockfile_schema_flag() -> None:
    assert json.loads(run_cli("schema", "--lockfile").out)["title"] == "suitesync lockfile"
    assert json.loads(run_cli("schema", "--plan").out)["title"] == "suitesync plan"
    assert json.loads(run_cli("schema", "--config").out)["title"] == "suitesync project settings"


def test_model_enum_is_exactly_the_documented_list() -> None:
    assert list(llm_models()) == DOCUMENTED_MODELS
    assert "gpt-5-nano-fast-tier" not in llm_models()


def _properties(node: Any) -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            found.append((name, sub))
        for value in node.values():
            found.extend(_properties(value))
    return found


def test_every_property_has_a_description_for_editors() -> None:
    schema = load_schema(SUITE)
    defs = schema["$defs"]
    for name, sub in _properties(schema):
        target = defs[sub["$ref"].split("/")[-1]] if "$ref" in sub and "description" not in sub else sub
        assert target.get("description"), f"property {name} has no description"


def test_python_jsonschema_agrees_with_the_fast_validator() -> None:
    # jsonschema (reference implementation) and jsonschema_rs must accept and reject the same docs.
    import jsonschema_rs

    schema = load_schema(SUITE)
    reference = jsonschema.Draft202012Validator(schema)
    fast = jsonschema_rs.Draft202012Validator(schema)
    base = {"id": "a", "userPrompt": "p", "successCriteria": "s"}
    documents = [
        {"cases": [base]},
        {"cases": []},
        {"cases": [{**base, "llmModel": "gpt-5-nano-fast-tier"}]},
        {"cases": [{**base, "attempt": 0}]},
        {"cases": [{**base, "mockData": {"1x": "v"}}]},
        {"cases": [{**base, "mockData": {"x": True}}]},
        {"cases": [{**base, "userPrompt": "  "}]},
        {"cases": [{**base, "previousIds": ["b", "b"]}]},
        {"agent": "support", "defaults": {"attempt": 2, "protect": True}, "cases": [base]},
    ]
    for document in documents:
        assert reference.is_valid(document) == fast.is_valid(document), document
