"""`suitesync pull`: dashboard edits written into commented suite files (emulator, files on disk)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from suitesync.client import SigmaMindClient
from suitesync.emulator import Emulator
from suitesync.lockfile import read_lockfile
from suitesync.secret import Secret

from conftest import remote_state, run_cli

SUITE = """\
# Billing cases, reviewed by the support team.
agent: main
defaults:
  llmModel: gpt-4o-mini   # the cheap model unless a case needs more
  attempt: 2
  mockData:
    channel: chat
cases:
  # The classic.
  - id: refund
    label: "Refund request"
    userPrompt: >-
      You bought a blender that arrived broken
      and you want your money back.
    successCriteria: |
      The agent offers a refund.
      The agent confirms the amount.
    mockData:
      order: 'A-1'   # quoted on purpose
  - id: upgrade
    userPrompt: You want the premium plan.
    successCriteria: The agent explains the premium plan.
  - id: pin
    userPrompt: You need to reset your PIN.
    successCriteria: The agent resets it.
    mockData:
      pin: ${env:CUSTOMER_PIN}
"""


@pytest.fixture
def applied(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "p"
    (root / "suites").mkdir(parents=True)
    (root / "suitesync.yaml").write_text("agents: {main: D5D0p7TUs66TTAEAx}\n")
    (root / "suites" / "billing.yaml").write_text(SUITE)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    monkeypatch.setenv("CUSTOMER_PIN", "4921")
    result = run_cli("apply", "--auto-approve", cwd=root)
    assert result.code == 0, result.err
    return root


def edit_on_platform(emulator: Emulator, root: Path, case_id: str, **fields: Any) -> None:
    """What a person does in the dashboard: change some fields of the case."""
    tc_id = read_lockfile(root / "suitesync.lock").cases[case_id].test_case_id
    assert tc_id is not None
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        current = client.get_case(tc_id, "D5D0p7TUs66TTAEAx")
        assert current is not None
        client.update_case(tc_id, {**current.payload, **fields})


def suite(root: Path) -> str:
    return (root / "suites" / "billing.yaml").read_text()


def test_a_dashboard_edit_is_pulled_keeping_every_other_line(applied: Path, emulator: Emulator) -> None:
    edit_on_platform(
        emulator,
        applied,
        "refund",
        successCriteria="The agent offers a refund.\nThe agent confirms the amount and the date.\n",
        mockData=[{"variableName": "channel", "value": "chat"}, {"variableName": "order", "value": "A-2"}],
    )
    emulator.clear_requests()
    result = run_cli("pull", cwd=applied)
    assert result.code == 0, result.err
    assert "pulled refund into suites/billing.yaml: successCriteria, mockData.order" in result.err
    expected = SUITE.replace("The agent confirms the amount.", "The agent confirms the amount and the date.")
    expected = expected.replace("order: 'A-1'   # quoted on purpose", "order: 'A-2'   # quoted on purpose")
    assert suite(applied) == expected  # comments, quoting, block styles and order of the rest kept
    assert [r["method"] for r in emulator.requests() if r["method"] != "GET"] == []
    plan = run_cli("plan", "--detailed-exitcode", cwd=applied)
    assert plan.code == 0, plan.out
    assert run_cli("pull", cwd=applied).err == (
        "nothing to pull: no case was edited on the platform since the last apply\n"
    )


def test_a_changed_defaulted_field_becomes_an_override_on_the_case(applied: Path, emulator: Emulator) -> None:
    edit_on_platform(emulator, applied, "upgrade", llmModel="gpt-4o", attempt=5, label="Upgrade")
    result = run_cli("pull", cwd=applied)
    assert result.code == 0, result.err
    assert "  - id: upgrade\n    label: Upgrade\n    userPrompt: You want the premium plan.\n" in suite(
        applied
    )
    assert (
        "    successCriteria: The agent explains the premium plan.\n    llmModel: gpt-4o\n    attempt: 5\n"
        in suite(applied)
    )
    assert "  llmModel: gpt-4o-mini   # the cheap model" in suite(applied)  # the defaults stay
    assert run_cli("plan", "--detailed-exitcode", cwd=applied).code == 0


def test_resolve_fail_exits_1_and_ours_keeps_the_file(applied: Path, emulator: Emulator) -> None:
    edit_on_platform(emulator, applied, "upgrade", attempt=4)
    lock = (applied / "suitesync.lock").read_bytes()
    failed = run_cli("pull", "--resolve", "fail", cwd=applied)
    assert failed.code == 1
    assert "1 case changed on the platform since the last apply (--resolve fail)" in failed.err
    ours = run_cli("pull", "--resolve", "ours", cwd=applied)
    assert ours.code == 0 and "left alone: upgrade: kept the file's version (--resolve ours)" in ours.err
    assert suite(applied) == SUITE and (applied / "suitesync.lock").read_bytes() == lock
    assert "! drift    upgrade" in run_cli("plan", cwd=applied).out


def test_dry_run_shows_the_diff_and_case_limits_it(applied: Path, emulator: Emulator) -> None:
    edit_on_platform(emulator, applied, "upgrade", attempt=4)
    edit_on_platform(emulator, applied, "refund", label="Refund")
    lock = (applied / "suitesync.lock").read_bytes()
    result = run_cli("pull", "--dry-run", "--case", "up*", cwd=applied)
    assert result.code == 0, result.err
    assert result.out.startswith("--- a/suites/billing.yaml\n+++ b/suites/billing.yaml\n")
    assert "+    attempt: 4\n" in result.out and "Refund\n" not in result.out
    assert "would pull upgrade into suites/billing.yaml: attempt" in result.err
    assert suite(applied) == SUITE and (applied / "suitesync.lock").read_bytes() == lock


def test_a_secret_is_never_replaced_by_its_value(applied: Path, emulator: Emulator) -> None:
    edit_on_platform(
        emulator,
        applied,
        "pin",
        mockData=[{"variableName": "channel", "value": "chat"}, {"variableName": "pin", "value": "0000"}],
    )
    edit_on_platform(emulator, applied, "upgrade", userPrompt="4921")  # the secret's value, elsewhere
    result = run_cli("pull", cwd=applied)
    assert result.code == 1
    assert (
        "left alone: pin: the platform's mockData.pin differs from the value of ${env:CUSTOMER_PIN}, "
        "and a secret is never written into a file" in result.err
    )
    assert (
        "left alone: upgrade: the platform's userPrompt holds the value of ${env:CUSTOMER_PIN}" in result.err
    )
    assert suite(applied) == SUITE
    assert "4921" not in suite(applied) and "0000" not in suite(applied)


def test_deleted_on_the_platform_is_reported_and_removed_with_accept_deletes(
    applied: Path, emulator: Emulator
) -> None:
    tc_id = read_lockfile(applied / "suitesync.lock").cases["upgrade"].test_case_id
    assert tc_id is not None
    emulator.store.delete_case(tc_id)
    reported = run_cli("pull", cwd=applied)
    assert f"deleted on the platform: upgrade ({tc_id}); --accept-deletes removes it" in reported.err
    assert suite(applied) == SUITE
    removed = run_cli("pull", "--accept-deletes", cwd=applied)
    assert removed.code == 0, removed.err
    assert "  - id: upgrade\n" not in suite(applied) and "  - id: pin\n" in suite(applied)
    assert "upgrade" not in read_lockfile(applied / "suitesync.lock").cases
    assert run_cli("plan", "--detailed-exitcode", cwd=applied).code == 0
    assert len(remote_state(emulator)) == 2


def test_a_local_edit_not_yet_applied_is_not_overwritten(applied: Path, emulator: Emulator) -> None:
    """Only what changed on the platform is pulled: the file's own unapplied edits stay, even in a
    case with secrets."""
    edited = SUITE.replace("You need to reset your PIN.", "You need to reset your PIN today.")
    (applied / "suites" / "billing.yaml").write_text(edited)
    result = run_cli("pull", cwd=applied)
    assert result.code == 0, result.err
    assert suite(applied) == edited
    assert "nothing to pull" in result.err


def test_a_file_the_round_trip_would_change_is_left_alone(applied: Path, emulator: Emulator) -> None:
    head, cases = SUITE.split("cases:\n")
    unindented = head + "cases:\n" + "".join(line[2:] + "\n" for line in cases.splitlines())
    (applied / "suites" / "billing.yaml").write_text(unindented)
    assert run_cli("plan", "--detailed-exitcode", cwd=applied).code == 0  # the same cases
    edit_on_platform(emulator, applied, "upgrade", attempt=4)
    result = run_cli("pull", cwd=applied)
    assert result.code == 1
    assert (
        "left alone: upgrade: suites/billing.yaml cannot be edited without changing lines nobody "
        "changed (run `suitesync fmt` on it first, then pull again)" in result.err
    )
    assert suite(applied) == unindented
