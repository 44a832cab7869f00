"""Living with suites: import, renames, environments, protection, secrets (against the emulator)."""

from __future__ import annotations

from pathlib import Path

import pytest

from suitesync.client import SigmaMindClient
from suitesync.emulator import Emulator
from suitesync.lockfile import read_lockfile
from suitesync.secret import Secret

from conftest import AGENT, OTHER_AGENT, files_holding, pin_project, run_cli, write_project

WRITES = {"POST", "PUT", "DELETE"}


def writes(emulator: Emulator) -> list[str]:
    return [r["method"] for r in emulator.requests() if r["method"] in WRITES]


# --- import -------------------------------------------------------------------------------------


def make_remote_cases(emulator: Emulator, count: int = 50, *, unlabelled: bool = True) -> list[str]:
    """Cases made by hand on the platform: repeated labels, long and multi-line text, YAML hazards."""
    ids = []
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        for n in range(count):
            body = {
                "agentId": AGENT,
                "userPrompt": (
                    f"You are customer {n}.\nYou call about order {n}.\n"
                    if n % 5 == 0
                    else f"You are customer {n}, who calls about an order that arrived damaged and wants a "
                    "replacement shipped today, not a refund."
                ),
                "successCriteria": f"The agent helps customer {n}.",
                "label": "Refund request" if n % 10 == 0 else f"Case {n}: order #{n}",
                "llmModel": "gpt-4o-mini" if n % 3 else "gpt-5-mini",
                "mockData": [
                    {"variableName": "channel", "value": "chat"},
                    {"variableName": "member", "value": "yes" if n % 2 else "3.10"},
                ],
                "attempt": 2,
            }
            ids.append(client.create_case(body).test_case_id)
        if unlabelled:
            minimal = {"agentId": AGENT, "userPrompt": "p", "successCriteria": "s"}
            ids.append(client.create_case(minimal).test_case_id)
    return ids


def test_import_adopts_every_unmanaged_case(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p", 3)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    remote_ids = make_remote_cases(emulator)
    emulator.clear_requests()
    result = run_cli("import", "--agent", "main", cwd=project)
    assert result.code == 0, result.err
    assert "imported 51 test cases of agent D5D0p7TUs66TTAEAx into suites/imported-main.yaml" in result.err
    assert "1 had no label; the next apply labels it with its id: case-tc_" in result.err
    assert writes(emulator) == []
    written = (project / "suites" / "imported-main.yaml").read_text()
    assert written.startswith("# Imported by `suitesync import` from agent D5D0p7TUs66TTAEAx")
    assert "\nagent: main\ncases:\n" in written  # nothing shared by all 51: no defaults
    assert "  - id: refund-request\n" in written and "  - id: refund-request-2\n" in written
    assert "member: 'yes'" in written and "member: '3.10'" in written
    assert "    userPrompt: |\n      You are customer 0.\n      You call about order 0.\n" in written
    assert "    userPrompt: >-\n      You are customer 1, who calls" in written
    assert run_cli("validate", cwd=project).code == 0
    assert run_cli("fmt", "--check", cwd=project).code == 0
    lock = read_lockfile(project / "suitesync.lock")
    assert {e.test_case_id for e in lock.cases.values()} >= set(remote_ids)
    plan = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert plan.code == 2 and "Plan: 0 to create, 1 to update, 0 to delete; 53 unchanged." in plan.out
    assert '      label: (none) -> "case-tc_' in plan.out  # the one case without a label
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    assert run_cli("plan", "--detailed-exitcode", cwd=project).code == 0
    assert run_cli("import", "--agent", "main", cwd=project).err.startswith("nothing to import")


def test_fifty_imported_cases_leave_nothing_to_do(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p", 0)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    make_remote_cases(emulator, 50, unlabelled=False)
    result = run_cli("import", "--agent", AGENT, "--into", "suites/handmade.yaml", cwd=project)
    assert result.code == 0, result.err
    written = (project / "suites" / "handmade.yaml").read_text()
    assert "\nagent: main\ndefaults:\n  attempt: 2\n  mockData:\n    channel: chat\n" in written
    assert run_cli("validate", cwd=project).code == 0
    assert run_cli("fmt", "--check", cwd=project).code == 0
    plan = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert (plan.code, plan.out) == (0, "No changes. 50 cases match the platform.\n")


def test_import_dry_run_and_overwrite_protection(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p", 1)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    make_remote_cases(emulator, 3)
    dry = run_cli("import", "--agent", "main", "--dry-run", cwd=project)
    assert dry.code == 0 and dry.out.startswith("# Imported by `suitesync import`")
    assert "would import 4 test cases" in dry.err
    assert (
        not (project / "suites" / "imported-main.yaml").exists() and not (project / "suitesync.lock").exists()
    )
    (project / "suites" / "imported-main.yaml").write_text(
        "# mine\nagent: main\ncases:\n  - id: mine\n    userPrompt: p\n    successCriteria: s\n"
    )
    refused = run_cli("import", "--agent", "main", cwd=project)
    assert refused.code == 1 and "suites/imported-main.yaml exists; nothing was imported" in refused.err
    outside = run_cli("import", "--agent", "main", "--into", "elsewhere.yaml", cwd=project)
    assert outside.code == 1 and "is not matched by the project's suites globs" in outside.err
    assert run_cli("import", "--agent", "main", "--force", cwd=project).code == 0


def git(root: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def test_import_force_never_orphans_the_managed_cases_of_the_file_it_overwrites(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p", 3)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0  # s000.yaml's cases are managed
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "managed")
    make_remote_cases(emulator, 2)
    emulator.clear_requests()
    refused = run_cli("import", "--agent", "main", "--into", "suites/s000.yaml", "--force", cwd=project)
    assert refused.code == 1
    assert refused.err == (
        "error: suites/s000.yaml holds 3 managed test cases (case-0000, case-0001, case-0002) that the "
        "import would not write back: overwritten, they would be left to `--prune`; nothing was imported\n"
        "hint: choose --into another file, or move those cases to another suite file first\n"
    )
    assert git(project, "status", "--porcelain") == ""  # the suite and the lockfile are as committed
    assert writes(emulator) == []
    plan = run_cli("plan", "--detailed-exitcode", cwd=project)
    assert "would be deleted with --prune" not in plan.out
    # A file holding only cases that were never applied is still the user's to overwrite.
    (project / "suites" / "draft.yaml").write_text(
        "agent: main\ncases:\n  - id: draft\n    userPrompt: p\n    successCriteria: s\n"
    )
    forced = run_cli("import", "--agent", "main", "--into", "suites/draft.yaml", "--force", cwd=project)
    assert forced.code == 0, forced.err
    assert "imported 3 test cases" in forced.err


# --- renames, environments, protection -----------------------------------------------------------


def test_rename_through_previous_ids_moves_the_entry(project: Path, emulator: Emulator) -> None:
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    before = read_lockfile(project / "suitesync.lock").cases["angry-cancellation"]
    suite = project / "suites" / "support" / "cancellations.yaml"
    suite.write_text(
        suite.read_text().replace(
            "  - id: angry-cancellation\n",
            "  - id: furious-cancellation\n    previousIds: [angry-cancellation]\n",
        )
    )
    emulator.clear_requests()
    plan = run_cli("plan", cwd=project)
    assert "> rename   furious-cancellation" in plan.out and "renamed from angry-cancellation" in plan.out
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    assert writes(emulator) == []  # no create, no delete, not even an update: the label is explicit
    cases = read_lockfile(project / "suitesync.lock").cases
    assert (
        "angry-cancellation" not in cases
        and cases["furious-cancellation"].test_case_id == before.test_case_id
    )
    assert before.applied_serial is not None
    assert cases["furious-cancellation"].applied_serial == before.applied_serial  # a rename is no apply
    assert run_cli("plan", "--detailed-exitcode", cwd=project).code == 0


def test_an_id_claimed_twice_through_previous_ids_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "a.yaml").write_text(
        "agent: D5D0p7TUs66TTAEAx\ncases:\n"
        "  - id: one\n    previousIds: [old]\n    userPrompt: p\n    successCriteria: s\n"
        "  - id: two\n    previousIds: [old]\n    userPrompt: p\n    successCriteria: s\n"
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 1
    assert 'suites/a.yaml:8:19: duplicate-id: id "old" is already used at suites/a.yaml:4:19' in result.out


def test_environments_keep_independent_lockfiles_and_agents(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p", 5)
    (project / "suitesync.yaml").write_text(
        f"agents: {{main: {AGENT}}}\n"
        "environments:\n"
        f"  staging: {{agents: {{main: {OTHER_AGENT}}}, apiKeyEnv: STAGING_KEY}}\n"
        f"  prod: {{agents: {{main: {AGENT}}}}}\n"
    )
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    monkeypatch.setenv("STAGING_KEY", "staging-key")
    assert run_cli("apply", "--auto-approve", "--env", "staging", cwd=project).code == 0
    assert run_cli("apply", "--auto-approve", "--env", "prod", cwd=project).code == 0
    staging = read_lockfile(project / "suitesync.staging.lock")
    prod = read_lockfile(project / "suitesync.prod.lock")
    assert {e.agent_id for e in staging.cases.values()} == {OTHER_AGENT}
    assert {e.agent_id for e in prod.cases.values()} == {AGENT}
    assert staging.lineage != prod.lineage and not (project / "suitesync.lock").exists()
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        assert len(client.list_cases(OTHER_AGENT)) == 5 and len(client.list_cases(AGENT)) == 5
    keys = {r["path"] for r in emulator.requests()}
    assert keys  # both environments talked to the API
    for env in ("staging", "prod"):
        assert run_cli("plan", "--detailed-exitcode", "--env", env, cwd=project).code == 0


def test_a_protected_case_survives_file_removal_and_prune(project: Path, emulator: Emulator) -> None:
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    protected = read_lockfile(project / "suitesync.lock").cases["cancel-with-refund-demand"]
    assert protected.protect is True
    (project / "suites" / "support" / "cancellations.yaml").unlink()
    emulator.clear_requests()
    plan = run_cli("plan", "--prune", cwd=project)
    assert "protected, never deleted: cancel-with-refund-demand" in plan.out
    assert plan.out.count("- delete   ") == 3
    assert run_cli("apply", "--auto-approve", "--prune", cwd=project).code == 0
    assert writes(emulator) == ["DELETE"] * 3
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        assert client.get_case(protected.test_case_id or "", AGENT) is not None


# --- secrets --------------------------------------------------------------------------------------

SECRET = "pin-4711-canary-secret"


def secret_project(tmp_path: Path) -> Path:
    return pin_project(tmp_path / "p")


@pytest.fixture
def pinned(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The secret project against the emulator, with CUSTOMER_PIN set."""
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    monkeypatch.setenv("CUSTOMER_PIN", SECRET)
    return secret_project(tmp_path)


def test_secret_mock_data_reaches_the_api_and_nothing_else(
    pinned: Path, tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = pinned
    outputs = [
        run_cli("plan", "--out", str(tmp_path / "plan.json"), cwd=project),
        run_cli("plan", "--format", "json", cwd=project),
        run_cli("plan", "--format", "markdown", cwd=project),
        run_cli("apply", str(tmp_path / "plan.json"), "--auto-approve", cwd=project),
        run_cli("plan", "--detailed-exitcode", cwd=project),
    ]
    assert [o.code for o in outputs] == [0, 0, 0, 0, 0]
    assert "${env:CUSTOMER_PIN}" in outputs[1].out  # the reference is shown, not the value
    stored = [m["value"] for _, body in emulator.store.cases(AGENT, float("inf")) for m in body["mockData"]]
    assert SECRET in stored
    assert all(SECRET not in o.out + o.err for o in outputs)
    assert files_holding(tmp_path, SECRET) == []
    monkeypatch.setenv("CUSTOMER_PIN", "another-value")
    changed = run_cli("plan", cwd=project)
    assert '      mockData.pin: "(secret)" -> "(secret changed)"\n' in changed.out
    assert "another-value" not in changed.out
    stale = run_cli("apply", str(tmp_path / "plan.json"), "--auto-approve", cwd=project)
    assert stale.code == 5  # it was applied: the lockfile moved on
    assert "is stale: suitesync.lock was made since (an apply ran)" in stale.err


def test_a_saved_plan_names_the_secret_that_changed(
    pinned: Path, tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan file holds nothing derived from a secret's value, so a changed secret is seen against
    the platform's copy: the plan records whether that copy held the values of the time."""
    project, plan_file = pinned, tmp_path / "plan.json"
    assert run_cli("apply", "--auto-approve", cwd=project).code == 0
    assert run_cli("plan", "--out", str(plan_file), cwd=project).code == 0  # nothing to do in it
    monkeypatch.setenv("CUSTOMER_PIN", "another-value")
    emulator.clear_requests()
    stale = run_cli("apply", str(plan_file), "--auto-approve", cwd=project)
    assert stale.code == 5
    assert [r["method"] for r in emulator.requests()] == ["GET"]  # the list it compares with
    assert stale.err == (
        f"error: {plan_file} is stale: the value of ${{env:CUSTOMER_PIN}} (mockData.pin) changed since "
        "it was made\nhint: make a new plan\n"
    )
    assert "another-value" not in plan_file.read_text() and SECRET not in plan_file.read_text()


def test_a_saved_plan_creates_with_the_value_of_the_time(
    pinned: Path, tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trade-off: a case the plan creates (or updates anyway) is sent with the value the
    variable holds when apply runs; nothing in the plan could tell it from the old one."""
    project, plan_file = pinned, tmp_path / "plan.json"
    assert run_cli("plan", "--out", str(plan_file), cwd=project).code == 0  # the case is a create in it
    monkeypatch.setenv("CUSTOMER_PIN", "another-value")
    assert run_cli("apply", str(plan_file), "--auto-approve", cwd=project).code == 0
    stored = [m["value"] for _, body in emulator.store.cases(AGENT, float("inf")) for m in body["mockData"]]
    assert "another-value" in stored and SECRET not in stored
    assert run_cli("plan", "--detailed-exitcode", cwd=project).code == 0


def test_a_missing_secret_names_file_line_and_variable(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = secret_project(tmp_path)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    monkeypatch.delenv("CUSTOMER_PIN", raising=False)
    result = run_cli("plan", cwd=project)
    assert result.code == 1
    assert (
        "suites/s000.yaml:8:12: secret-missing: mockData.pin: environment variable CUSTOMER_PIN is not set "
        "(export CUSTOMER_PIN: its value is sent to the API, never stored or printed)"
    ) in result.err
    assert run_cli("validate", cwd=project).code == 0  # validate stays offline and needs no secret
