"""From suite files to the exact API payload: defaults, aliases, mockData order, hash."""

from __future__ import annotations

from pathlib import Path

from suitesync.load import load_file
from suitesync.models import payload_hash
from suitesync.validate import validate_files

SUITE = """\
agent: support
defaults:
  llmModel: gpt-5-mini
  attempt: 3
  mockData:
    customer_name: John Doe
    plan: Pro
cases:
  - id: first
    userPrompt: You are a customer.
    successCriteria: The agent helps.
    mockData:
      account_status: active
      customer_name: Jane Roe
  - id: second
    label: Second Case
    agent: agent_OtherAgent123
    userPrompt: You are another customer.
    successCriteria: The agent helps again.
    llmModel: gpt-4o
    attempt: 1
    protect: true
    previousIds: [old-second]
"""


def _cases(tmp_path: Path, text: str = SUITE) -> list:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    result = validate_files([load_file(path, "suite.yaml")], {"support": "D5D0p7TUs66TTAEAx"})
    assert result.ok, result.problems
    return result.cases


def test_defaults_merge_and_payload_shape(tmp_path: Path) -> None:
    first, second = _cases(tmp_path)
    assert first.payload == {
        "agentId": "D5D0p7TUs66TTAEAx",
        "userPrompt": "You are a customer.",
        "successCriteria": "The agent helps.",
        "label": "first",
        "llmModel": "gpt-5-mini",
        # defaults first in their order, the case's override in place, new keys after
        "mockData": [
            {"variableName": "customer_name", "value": "Jane Roe"},
            {"variableName": "plan", "value": "Pro"},
            {"variableName": "account_status", "value": "active"},
        ],
        "attempt": 3,
    }
    assert first.api_payload().as_json() == first.payload  # the pydantic API model agrees
    assert list(first.api_payload().as_json()) == [
        "agentId",
        "userPrompt",
        "successCriteria",
        "label",
        "llmModel",
        "mockData",
        "attempt",
    ]
    assert (first.source, first.line, first.col) == ("suite.yaml", 9, 5)
    assert second.agent_id == "OtherAgent123"
    assert second.payload["label"] == "Second Case"
    assert second.payload["attempt"] == 1
    assert second.protect is True and first.protect is False
    assert second.previous_ids == ("old-second",)


def test_hash_is_canonical(tmp_path: Path) -> None:
    first, _ = _cases(tmp_path)
    assert first.hash == payload_hash(first.api_payload().as_json())
    reordered_keys = SUITE.replace(
        "    userPrompt: You are a customer.\n    successCriteria: The agent helps.\n",
        "    successCriteria: The agent helps.\n    userPrompt: You are a customer.\n",
    )
    assert _cases(tmp_path, reordered_keys)[0].hash == first.hash
    edited = SUITE.replace("The agent helps.", "The agent helps quickly.")
    assert _cases(tmp_path, edited)[0].hash != first.hash


def test_fast_reader_and_round_trip_reader_agree() -> None:
    """The libyaml fast path and ruamel's round-trip loader (used to rewrite files) read the same values."""
    import datetime

    from ruamel.yaml import YAML

    def plain(value: object) -> object:
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, str):
            return str(value)
        return value

    root = Path(__file__).resolve().parent.parent
    files = [*(root / "examples").rglob("*.yaml"), *(root / "tests/fixtures/suites/valid").glob("*.yaml")]
    assert len(files) >= 6
    for path in files:
        fast = load_file(path, path.name).data
        slow = YAML(typ="rt").load(path.read_text(encoding="utf-8-sig"))
        assert fast == plain(slow), path


def test_c_extensions_are_in_use() -> None:
    """Without them every parse is 6-20x slower, silently (perf-notes trap 2)."""
    import yaml
    from ruamel.yaml import YAML

    assert yaml.__with_libyaml__
    assert YAML(typ="safe").Parser.__module__ == "ruamel.yaml.clib._ruamel_yaml"


def test_the_payload_fields_are_listed_once_and_consistently() -> None:
    """PAYLOAD_FIELDS is the one source: every order made from it holds each field exactly once,
    the typed API model has the same fields in the same order, and the suite schema knows them."""
    from suitesync.models import (
        API_ORDER,
        DIFF_ORDER,
        PAYLOAD_FIELDS,
        SHARED_ORDER,
        SUITE_ORDER,
        TestCasePayload,
    )
    from suitesync.schema import SUITE, load_schema

    names = [f.name for f in PAYLOAD_FIELDS]
    assert list(API_ORDER) == names == list(TestCasePayload.model_fields)
    assert sorted(DIFF_ORDER) == sorted(names)
    assert sorted(f.file_rank for f in PAYLOAD_FIELDS) == list(range(len(names)))
    assert sorted(f.diff_rank for f in PAYLOAD_FIELDS) == list(range(len(names)))
    assert len(SUITE_ORDER) == len(set(SUITE_ORDER)) == len(names)
    schema = load_schema(SUITE)
    assert set(SUITE_ORDER) <= set(schema["$defs"]["case"]["properties"])
    assert set(SHARED_ORDER) <= set(schema["$defs"]["defaults"]["properties"])
