"""Secret values (the API key, `${env:NAME}` mock data) are in no file suitesync writes and in no
output: the lockfile and plan files hold nothing derived from them, import writes references,
run masks them in every report."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from suitesync.emulator import Emulator
from suitesync.lockfile import read_lockfile

from conftest import AGENT, CANARY_KEY, files_holding, pin_project, run_cli

PIN = "4711"  # four digits: once recovered offline from the committed lockfile in 168 s


@pytest.fixture
def pinned(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    monkeypatch.setenv("CUSTOMER_PIN", PIN)
    return pin_project(tmp_path / "p")


def test_the_lockfile_holds_nothing_derived_from_a_secret(
    pinned: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the PIN, the lockfile entry is the same: there is nothing to guess it from."""
    assert run_cli("apply", "--auto-approve", cwd=pinned).code == 0
    first = read_lockfile(pinned / "suitesync.lock").cases["case-0000"]
    monkeypatch.setenv("CUSTOMER_PIN", "9876")
    plan = run_cli("plan", cwd=pinned)
    assert plan.code == 0
    assert (
        "~ update   case-0000" in plan.out
        and "the value of ${env:CUSTOMER_PIN} (mockData.pin) differs from the platform's copy" in plan.out
    )
    assert '      mockData.pin: "(secret)" -> "(secret changed)"\n' in plan.out
    assert run_cli("apply", "--auto-approve", cwd=pinned).code == 0
    second = read_lockfile(pinned / "suitesync.lock").cases["case-0000"]
    assert second.hash == first.hash  # the same for 4711 and 9876
    stored = [m["value"] for _, body in emulator.store.cases(AGENT, float("inf")) for m in body["mockData"]]
    assert "9876" in stored  # the platform has the new value
    assert run_cli("plan", "--detailed-exitcode", cwd=pinned).code == 0
    assert "scrypt" not in (pinned / "suitesync.lock").read_text()


def test_a_plan_file_is_the_same_whatever_the_secret(
    pinned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("apply", "--auto-approve", cwd=pinned).code == 0
    suite = pinned / "suites" / "s000.yaml"
    suite.write_text(suite.read_text().replace("customer number 0.", "customer number zero."))
    documents = []
    for value in (PIN, "0000"):
        monkeypatch.setenv("CUSTOMER_PIN", value)
        out = tmp_path / f"plan-{value}.json"
        assert run_cli("plan", "--out", str(out), cwd=pinned).code == 0
        documents.append(json.loads(out.read_text()))
        assert value not in out.read_text().replace("case-0000", "")
    first, second = documents
    # One bit differs: whether the platform's copy held the value the environment gave.
    assert first["assumptions"].pop("secretsOnPlatform") == {"case-0000": True}
    assert second["assumptions"].pop("secretsOnPlatform") == {"case-0000": False}
    for document in documents:  # the reason of the action says what differs, not how
        for action in document["actions"]:
            action.pop("reason")
            action["changes"] = [c for c in action["changes"] if c["field"] != "mockData.pin"]
    assert first == second


def test_import_writes_known_secret_values_as_references(
    pinned: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("apply", "--auto-approve", cwd=pinned).code == 0
    body = {
        "agentId": AGENT,
        "userPrompt": "You call about your account.",
        "successCriteria": "The agent verifies the caller.",
        "label": "Hand made",
        "mockData": [
            {"variableName": "pin", "value": PIN},
            {"variableName": "token", "value": CANARY_KEY},
            {"variableName": "plain", "value": "nothing secret"},
        ],
    }
    made = httpx.post(f"{emulator.url}/v1/test-cases", json=body, headers={"X-API-Key": "k"})
    assert made.status_code == 201
    result = run_cli("import", "--agent", AGENT, "--into", "suites/imported.yaml", cwd=pinned)
    assert result.code == 0, result.err
    assert (
        "hand-made: mockData.pin holds the value of CUSTOMER_PIN on the platform: written as "
        "${env:CUSTOMER_PIN}, never as the value\n"
    ) in result.err
    assert "hand-made: mockData.token holds the value of SIGMAMIND_API_KEY" in result.err
    text = (pinned / "suites" / "imported.yaml").read_text()
    assert "pin: ${env:CUSTOMER_PIN}" in text and "token: ${env:SIGMAMIND_API_KEY}" in text
    assert PIN not in text and CANARY_KEY not in text
    assert run_cli("plan", "--detailed-exitcode", cwd=pinned).code == 0  # adopted exactly
    assert files_holding(pinned, PIN) == []


def test_run_masks_every_secret_in_every_report(pinned: Path, emulator: Emulator, tmp_path: Path) -> None:
    """The emulator's judge quotes the platform's success criteria: edited there to hold the PIN and
    the API key, every report of the run shows the variables' names instead."""
    assert run_cli("apply", "--auto-approve", cwd=pinned).code == 0
    entry = read_lockfile(pinned / "suitesync.lock").cases["case-0000"]
    edited = httpx.put(
        f"{emulator.url}/v1/test-cases/{entry.test_case_id}",
        json={"successCriteria": f"[emulator:fail] The agent reads back {PIN} and {CANARY_KEY}."},
        headers={"X-API-Key": "k"},
    )
    assert edited.status_code == 200
    junit = tmp_path / "results.xml"
    outputs = [
        run_cli(
            "run", "--allow-drift", "--case", "case-0000", "--format", fmt, "--junit", str(junit), cwd=pinned
        )
        for fmt in ("text", "json", "markdown")
    ]
    for output in outputs:
        assert output.code == 3, output.err
        assert PIN not in output.out + output.err
        assert "${env:CUSTOMER_PIN} and ${env:SIGMAMIND_API_KEY}" in output.out
    assert "${env:CUSTOMER_PIN}" in junit.read_text() and PIN not in junit.read_text()
    assert files_holding(tmp_path, PIN) == []
