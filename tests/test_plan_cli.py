"""`suitesync plan` against the emulator, as a user runs it on a copy of the example project."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import jsonschema
import pytest

from suitesync.client import SigmaMindClient
from suitesync.commands.project import load_desired
from suitesync.emulator import Emulator
from suitesync.lockfile import LockEntry, read_lockfile, write_lockfile
from suitesync.planfile import read_plan_file
from suitesync.schema import PLAN, load_schema
from suitesync.secret import Secret
from suitesync.settings import load_settings

from conftest import AGENT, CANARY_KEY, run_cli

EXAMPLE_CASES = 13


def sync_directly(project: Path, emulator: Emulator) -> dict[str, str]:
    """Make the remote and the lockfile match the suites (what apply does), case id -> testCaseId."""
    settings = load_settings(project, environ={})
    lock = read_lockfile(settings.lockfile)
    ids = {}
    with SigmaMindClient(emulator.url, Secret(CANARY_KEY)) as client:
        for case in load_desired(settings).cases:
            made = client.create_case(case.payload)
            lock.cases[case.id] = LockEntry(made.test_case_id, case.agent_id, case.hash, protect=case.protect)
            ids[case.id] = made.test_case_id
    write_lockfile(lock, settings.lockfile)
    emulator.clear_requests()
    return ids


@pytest.fixture(params=["array", "paged"])
def shape(request: pytest.FixtureRequest, emulator: Emulator) -> str:
    """Every scenario runs against both documented list shapes."""
    emulator.faults.reconfigure({"list_shape": request.param, "page_size": 5})
    return str(request.param)


def test_fresh_project_plans_every_create(project: Path, shape: str) -> None:
    result = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert result.code == 2, result.err
    assert result.out.startswith(f"Plan: {EXAMPLE_CASES} to create, 0 to update, 0 to delete; 0 unchanged.")
    assert result.out.count("\n+ create ") == EXAMPLE_CASES


def test_synced_project_has_nothing_to_do(project: Path, emulator: Emulator, shape: str) -> None:
    sync_directly(project, emulator)
    result = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert (result.code, result.out) == (0, f"No changes. {EXAMPLE_CASES} cases match the platform.\n")
    gets = [r for r in emulator.requests() if r["method"] == "GET"]
    assert {r["query"]["agentId"] for r in gets} == {AGENT, "SPIlVscbB0kkXBvZa"}
    assert all(r["method"] == "GET" for r in emulator.requests())


def test_editing_a_file_is_one_update_with_a_readable_diff(
    project: Path, emulator: Emulator, shape: str
) -> None:
    sync_directly(project, emulator)
    suite = project / "suites" / "support" / "billing.yaml"
    suite.write_text(suite.read_text().replace("label: Update Payment Card", "label: Replace Payment Card"))
    result = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert result.code == 2
    assert "Plan: 0 to create, 1 to update, 0 to delete; 12 unchanged." in result.out
    assert re.search(r"~ update +billing-update-card +\(tc_\w+, suites/support/billing.yaml:22", result.out)
    assert '      label: "Update Payment Card" -> "Replace Payment Card"\n' in result.out


def test_editing_a_prompt_shows_a_line_diff(project: Path, emulator: Emulator) -> None:
    sync_directly(project, emulator)
    suite = project / "suites" / "sales" / "qualification.yaml"
    suite.write_text(suite.read_text().replace("40-person clinic", "60-person clinic"))
    out = run_cli("plan", cwd=project).out
    assert "      userPrompt:\n        -You are the operations manager of a 40-person clinic.\n" in out
    assert "        +You are the operations manager of a 60-person clinic.\n" in out


def test_editing_through_the_api_is_drift(project: Path, emulator: Emulator, shape: str) -> None:
    ids = sync_directly(project, emulator)
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        client.update_case(ids["sales-gatekeeper"], {"attempt": 9})
    result = run_cli("plan", cwd=project)
    assert "Plan: 0 to create, 1 to update, 0 to delete, 1 drifted; 12 unchanged." in result.out
    assert "! drift    sales-gatekeeper" in result.out
    assert (
        "      edited outside suitesync; the plan makes it match the file again\n      attempt: 9 -> 2\n"
        in result.out
    )


def test_deleting_through_the_api_is_a_recreate(project: Path, emulator: Emulator, shape: str) -> None:
    ids = sync_directly(project, emulator)
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        client.delete_case(ids["angry-cancellation"], AGENT)
    out = run_cli("plan", cwd=project).out
    assert "+ recreate angry-cancellation" in out and "deleted outside suitesync" in out


def test_a_case_made_through_the_api_is_unmanaged(project: Path, emulator: Emulator, shape: str) -> None:
    sync_directly(project, emulator)
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        stranger = client.create_case(
            {"agentId": AGENT, "userPrompt": "p", "successCriteria": "s", "label": "Made by hand"}
        )
    result = run_cli("plan", "--detailed-exitcode", "--prune", cwd=project)
    assert result.code == 0  # listed, never touched: not a change
    assert f'  unmanaged: {stranger.test_case_id} "Made by hand" on agent {AGENT}' in result.out


def test_unmanaged_cases_are_sorted_and_capped_in_text_and_markdown(
    project: Path, emulator: Emulator
) -> None:
    sync_directly(project, emulator)
    labels = [f"Hand-made {n:02d}" for n in range(25)]
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        for label in reversed(labels):  # made in the opposite order of the one shown
            client.create_case({"agentId": AGENT, "userPrompt": "p", "successCriteria": "s", "label": label})
    more = (
        "... and 5 more unmanaged test cases (`suitesync plan --format json` lists them all; "
        "`suitesync import --agent ID` adopts them)"
    )
    text = run_cli("plan", cwd=project).out
    shown = re.findall(r'^  unmanaged: tc_\w+ "(Hand-made \d+)" on agent', text, re.MULTILINE)
    assert shown == labels[:20]
    assert text.endswith(f"  {more}\n")
    markdown = run_cli("plan", "--format", "markdown", cwd=project).out
    assert re.findall(r'^- unmanaged: tc_\w+ "(Hand-made \d+)"', markdown, re.MULTILINE) == labels[:20]
    assert f"- {more}\n" in markdown
    document = json.loads(run_cli("plan", "--format", "json", cwd=project).out)
    assert [n["label"] for n in document["notices"] if n["kind"] == "unmanaged"] == labels  # all, sorted


def test_removed_case_is_reported_and_deleted_only_with_prune(project: Path, emulator: Emulator) -> None:
    ids = sync_directly(project, emulator)
    suite = project / "suites" / "sales" / "qualification.yaml"
    text = suite.read_text()
    suite.write_text(
        text[: text.index("  - id: sales-not-a-fit")] + text[text.index("  - id: sales-gatekeeper") :]
    )
    plain = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert plain.code == 0
    assert f"would be deleted with --prune: sales-not-a-fit ({ids['sales-not-a-fit']}" in plain.out
    pruned = run_cli("plan", "--prune", "--detailed-exitcode", cwd=project)
    assert pruned.code == 2 and "- delete   sales-not-a-fit" in pruned.out


def test_json_format_matches_its_schema(project: Path, emulator: Emulator) -> None:
    ids = sync_directly(project, emulator)
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        client.update_case(ids["sales-gatekeeper"], {"attempt": 9})
    document = json.loads(run_cli("plan", "--format", "json", cwd=project).out)
    jsonschema.validate(document, load_schema(PLAN))
    (action,) = document["actions"]
    assert (action["kind"], action["id"], action["testCaseId"]) == (
        "drift",
        "sales-gatekeeper",
        ids["sales-gatekeeper"],
    )
    assert action["changes"] == [{"field": "attempt", "old": 9, "new": 2, "diff": []}]
    assert document["summary"]["unchanged"] == 12 and document["refreshed"] is True


def test_markdown_has_the_summary_first_and_folded_diffs(project: Path, emulator: Emulator) -> None:
    sync_directly(project, emulator)
    suite = project / "suites" / "support" / "billing.yaml"
    suite.write_text(suite.read_text().replace("label: Update Payment Card", "label: Replace Payment Card"))
    out = run_cli("plan", "--format", "markdown", cwd=project).out
    assert out.startswith("### suitesync plan\n\n**0 to create, 1 to update, 0 to delete; 12 unchanged**\n")
    assert "| update | 1 |" in out and "| unchanged | 12 |" in out
    assert "<details><summary><code>~</code> update <code>billing-update-card</code>" in out
    assert '```diff\n      label: "Update Payment Card" -> "Replace Payment Card"\n```' in out


def test_markdown_is_capped_with_a_note(project: Path) -> None:
    import io

    from suitesync.commands.plan import plan as plan_project
    from suitesync.console import Console
    from suitesync.options import PlanOptions
    from suitesync.progress import TerminalEvents
    from suitesync.report import write_plan_markdown

    quiet = TerminalEvents(Console(io.StringIO(), io.StringIO(), io.StringIO()))
    plan = plan_project(load_settings(project), PlanOptions(), quiet)
    assert plan is not None
    full, capped = io.StringIO(), io.StringIO()
    write_plan_markdown(plan, full)
    write_plan_markdown(plan, capped, limit=2_000)
    assert len(capped.getvalue()) < 2_300 < len(full.getvalue())
    assert re.search(r"_\d+ more sections not shown \(over 2,000 characters\)", capped.getvalue())


def test_no_refresh_makes_no_network_connection(
    project: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_directly(project, emulator)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("plan --no-refresh opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    result = run_cli("plan", "--no-refresh", "--detailed-exitcode", cwd=project)
    assert result.code == 0 and "No changes. 13 cases match the lockfile." in result.out


def test_out_saves_a_plan_apply_can_read(project: Path, tmp_path: Path) -> None:
    result = run_cli("plan", "--out", str(tmp_path / "plan.json"), cwd=project)
    assert result.code == 0
    saved_to = tmp_path / "plan.json"
    assert result.err == f"saved the plan to {saved_to}; apply exactly it with `suitesync apply {saved_to}`\n"
    saved = read_plan_file(tmp_path / "plan.json", lambda _name: None)
    assert len(saved.actions) == EXAMPLE_CASES and saved.actions[0].case is not None
    assert saved.assumptions.remote is not None


def test_invalid_suites_are_not_planned(project: Path) -> None:
    (project / "suites" / "broken.yaml").write_text("agent: support\ncases:\n  - id: x\n    userPrompt: p\n")
    result = run_cli("plan", cwd=project)
    assert result.code == 1 and result.out == ""
    assert "suites/broken.yaml:3:5: schema-required" in result.err
    assert "error: the suites are invalid; nothing was planned" in result.err


def test_missing_key_and_bad_urls(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGMAMIND_API_KEY")
    result = run_cli("plan", cwd=project)
    assert (result.code, result.err) == (
        1,
        "error: SIGMAMIND_API_KEY is not set\nhint: export your SigmaMind API key in it\n",
    )
    monkeypatch.setenv("SIGMAMIND_API_KEY", CANARY_KEY)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "http://api.example.com")
    assert "uses http to a non-loopback host" in run_cli("plan", cwd=project).err


def test_unreachable_api_is_one_clear_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "http://127.0.0.1:9")
    result = run_cli("plan", cwd=project)
    assert result.code == 1
    line, hint = result.err.splitlines()
    assert line.startswith(
        "error: GET /v1/test-cases: cannot connect to 127.0.0.1: nothing accepts connections there ("
    )
    assert "Connection refused) (gave up after 9 tries in " in line
    assert line.endswith(" s; all got cannot connect to 127.0.0.1)")
    assert hint == (
        "hint: check that http://127.0.0.1:9 is the API's address (SIGMAMIND_BASE_URL) and that it can "
        "be reached from here: network, proxy, firewall"
    )
    assert "Traceback" not in result.err


def test_a_request_that_gave_up_says_what_its_tries_got(project: Path, emulator: Emulator) -> None:
    emulator.faults.reconfigure({"error_rate": 1.0, "error_status": 503, "retry_after_s": 0})
    result = run_cli("plan", cwd=project)
    assert result.code == 1
    [line] = result.err.splitlines()
    assert line.startswith("error: GET /v1/test-cases: HTTP 503 (gave up after 9 tries in ")
    assert line.endswith(" s; all got HTTP 503)")


@pytest.mark.parametrize(
    ("env", "key_variable", "whose"),
    [
        ((), "SIGMAMIND_API_KEY", ""),
        (("--env", "staging"), "SIGMAMIND_API_KEY_STAGING", "environment staging's key, "),
    ],
)
def test_a_refused_key_names_the_variable_and_environment_it_came_from(
    project: Path,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    env: tuple[str, ...],
    key_variable: str,
    whose: str,
) -> None:
    monkeypatch.setenv("SIGMAMIND_API_KEY_STAGING", "staging-key")
    emulator.api_key = "the-workspace-key"
    result = run_cli("plan", *env, cwd=project)
    assert result.code == 1
    line, hint = result.err.splitlines()
    assert line == "error: GET /v1/test-cases: HTTP 401: Missing or invalid X-API-Key header"
    assert hint == (
        f"hint: the API key sent ({whose}from {key_variable}) was not accepted: check that it is a current "
        "key of the agent's workspace (SigmaMind dashboard, API Keys)"
    )


def test_an_agent_the_platform_does_not_know_is_named_with_its_alias_and_environment(
    project: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGMAMIND_API_KEY_STAGING", "staging-key")
    emulator.store.add_agent("StG5a1esAgent0001")  # staging's sales agent exists; its support one does not
    result = run_cli("plan", "--env", "staging", cwd=project)
    assert result.code == 1
    first, hint = result.err.splitlines()
    assert first.startswith(
        "error: agent StG5upp0rtAgent01 (alias support, environment staging) was not found on the platform ("
    )
    assert hint == (
        "hint: check the agent id at `environments.staging.agents.support` in suitesync.yaml, "
        "and that SIGMAMIND_API_KEY_STAGING is a key of its workspace"
    )
    imported = run_cli("import", "--agent", "NoSuchAgent123", cwd=project)
    assert imported.code == 1
    assert imported.err.startswith("error: agent NoSuchAgent123 was not found on the platform (")
    assert imported.err.endswith(
        "hint: check the agent id given with --agent NoSuchAgent123, and that SIGMAMIND_API_KEY is a key "
        "of its workspace\n"
    )


def test_embedded_emulator_needs_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import copy_examples

    root = copy_examples(tmp_path / "p")
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "local")
    monkeypatch.delenv("SIGMAMIND_API_KEY")
    result = run_cli("plan", "--detailed-exitcode", cwd=root)
    assert result.code == 2 and result.out.count("+ create") == EXAMPLE_CASES
    assert (root / ".suitesync" / "emulator.sqlite3").is_file()


def test_the_embedded_emulator_names_the_agents_it_made_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import copy_examples

    root = copy_examples(tmp_path / "p")
    suite = root / "suites" / "sales" / "qualification.yaml"
    suite.write_text(suite.read_text().replace("agent: sales", "agent: SPIlVscbB0kkXBvZb"))  # a typo
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "local")
    said = run_cli("plan", cwd=root).err
    assert said == (
        "embedded emulator (SIGMAMIND_BASE_URL=local): made up 2 agents: D5D0p7TUs66TTAEAx (alias support), "
        "SPIlVscbB0kkXBvZb (no alias: named in a suite); it accepts any id, so check these against the "
        "platform\n"
    )


def _plan_on_a_terminal(project: Path, extra_env: dict[str, str]) -> str:
    """`suitesync plan --no-refresh` with its output on a pseudo-terminal, as a user sees it."""
    import os
    import pty
    import subprocess
    import sys

    controller, terminal = pty.openpty()
    env = {**os.environ, **extra_env}  # conftest removed any NO_COLOR of the caller
    proc = subprocess.Popen(
        [sys.executable, "-m", "suitesync", "plan", "--no-refresh"],
        cwd=project,
        env=env,
        stdout=terminal,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(controller)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_never_with_no_color(project: Path) -> None:
    coloured = _plan_on_a_terminal(project, {})
    assert "\x1b[32m+ create   sales-qualified-lead\x1b[0m" in coloured
    plain = _plan_on_a_terminal(project, {"NO_COLOR": "1"})
    assert "\x1b[" not in plain and "+ create   sales-qualified-lead" in plain
    assert "\x1b[" not in run_cli("plan", "--no-refresh", cwd=project).out  # not a terminal
