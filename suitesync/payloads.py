"""The two mappings to an API payload, side by side, both made from models.PAYLOAD_FIELDS: a case
of a suite file (`suite_payload`) and a test case object the API answers (`remote_case`, checked
against the shapes the docs give: replies.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suitesync.models import (
    API_ORDER,
    PLAIN_FIELDS,
    PayloadField,
    RemoteCase,
    normalize_agent_id,
    payload_hash,
)
from suitesync.replies import as_object, identifier, list_of, optional_count, optional_text, text


def suite_payload(
    case_id: str,
    agent_id: str,
    case: Mapping[str, Any],
    defaults: Mapping[str, Any],
    mock_data: Mapping[str, Any],
) -> dict[str, Any]:
    """Suite case -> payload: the case's keys over its file's `defaults:`, over the API's defaults
    (`mock_data`: defaults and case merged, secrets resolved)."""
    payload: dict[str, Any] = {"agentId": agent_id, "label": case.get("label", case_id)}
    payload["mockData"] = [{"variableName": k, "value": v} for k, v in mock_data.items()]
    for f in PLAIN_FIELDS:
        payload[f.name] = case.get(f.suite_key, defaults.get(f.suite_key, f.default))
    return {name: payload[name] for name in API_ORDER}


def remote_case(document: object) -> RemoteCase:
    """API test case object -> payload: agent id without prefix, payload fields only.

    Raises ShapeError for an object that is not a test case as the docs describe it.
    """
    doc = as_object(document, "a test case")
    test_case_id = identifier(doc.get("testCaseId"), "testCaseId")
    agent = as_object(doc.get("agent") or {}, "agent")
    agent_id = normalize_agent_id(text(doc.get("agentId") or agent.get("agentId") or "", "agentId"))
    payload: dict[str, Any] = {"agentId": agent_id, "label": optional_text(doc.get("label"), "label")}
    payload["mockData"] = [_mock_variable(item) for item in list_of(doc.get("mockData") or [], "mockData")]
    for f in PLAIN_FIELDS:
        payload[f.name] = _checked(f, doc.get(f.name))
    ordered = {name: payload[name] for name in API_ORDER}
    return RemoteCase(test_case_id, agent_id, ordered, payload_hash(ordered))


def _checked(field: PayloadField, value: object) -> Any:
    """A plain field's value as the docs shape it: required text (no default), optional text (a
    text default) or an optional count (a number default)."""
    if field.default is None:
        return text(value, field.name)
    if isinstance(field.default, str):
        return optional_text(value, field.name)
    return optional_count(value, field.name)


def _mock_variable(item: object) -> dict[str, Any]:
    variable = as_object(item, "a mockData entry")
    return {
        "variableName": text(variable.get("variableName"), "mockData[].variableName"),
        "value": text(variable.get("value"), "mockData[].value"),
    }
