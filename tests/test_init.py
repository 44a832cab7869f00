"""`suitesync init`: a new project in an empty git repository that validates, plans and applies at
once against the embedded emulator, never overwriting a file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from suitesync.schema import schema_text

from conftest import run_cli

INIT_FILES = [
    ".github/workflows/suitesync.yml",
    "schemas/config.schema.json",
    "schemas/suite.schema.json",
    "suites/example.yaml",
    "suitesync.yaml",
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def test_init_validate_plan_apply_in_an_empty_git_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    init = run_cli("init", "--agent", "AgentX01", "--ci", "github", cwd=repo)
    assert init.code == 0, init.err
    assert init.out.splitlines() == [f"wrote {path}" for path in project_order()]
    assert run_cli("validate", cwd=repo).code == 0

    monkeypatch.setenv("SIGMAMIND_BASE_URL", "local")
    plan = run_cli("plan", "--detailed-exitcode", cwd=repo)
    assert plan.code == 2, plan.err
    assert plan.out.startswith("Plan: 2 to create, 0 to update, 0 to delete; 0 unchanged.")
    assert "agent AgentX01" in plan.out
    apply = run_cli("apply", "--auto-approve", cwd=repo)
    assert apply.code == 0, apply.err
    assert "Apply complete: 2 created." in apply.out
    again = run_cli("plan", "--detailed-exitcode", cwd=repo)
    assert (again.code, again.out) == (0, "No changes. 2 cases match the platform.\n")

    # Only what a team commits: the emulator's state, lock and backup stay in the ignored .suitesync/.
    untracked = git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(line.removeprefix("?? ") for line in untracked) == sorted([*INIT_FILES, "suitesync.lock"])
    assert (repo / ".suitesync" / "emulator.sqlite3").exists()


def project_order() -> list[str]:
    return [
        "suitesync.yaml",
        "suites/example.yaml",
        "schemas/suite.schema.json",
        "schemas/config.schema.json",
        ".github/workflows/suitesync.yml",
    ]


def test_the_files_are_what_they_say(tmp_path: Path) -> None:
    run_cli("init", "--agent", "agent_AgentX01", str(tmp_path / "p"), cwd=tmp_path)
    root = tmp_path / "p"
    config = (root / "suitesync.yaml").read_text()
    assert "  main: AgentX01\n" in config  # the agent_ prefix is stripped, as everywhere
    assert "# environments:" in config  # every key shown, the optional ones commented
    suite = (root / "suites" / "example.yaml").read_text()
    modeline = suite.splitlines()[0].removeprefix("# yaml-language-server: $schema=")
    assert (root / "suites" / modeline).resolve() == (root / "schemas" / "suite.schema.json").resolve()
    assert json.loads((root / "schemas" / "suite.schema.json").read_text()) == json.loads(schema_text())
    assert run_cli("fmt", "--check", cwd=root).code == 0  # already in the canonical layout
    assert not (root / ".github").exists()


def test_never_overwrites_and_says_what_it_skipped(tmp_path: Path) -> None:
    (tmp_path / "suitesync.yaml").write_text("agents: {main: Mine01}\n")
    result = run_cli("init", "--ci", "gitlab", cwd=tmp_path)
    assert result.code == 0
    assert (tmp_path / "suitesync.yaml").read_text() == "agents: {main: Mine01}\n"
    assert "skipped suitesync.yaml: it exists (never overwritten)\n" in result.err
    assert "wrote .gitlab-ci.yml" in result.out
    assert "placeholder" not in result.err  # the config was theirs: no placeholder to replace
    second = run_cli("init", "--ci", "gitlab", cwd=tmp_path)
    assert second.out == ""
    assert second.err.count("skipped ") == 5


def test_without_an_agent_a_placeholder_that_still_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli("init", cwd=tmp_path)
    assert "next: put your agent's id in place of the placeholder" in result.err
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "local")
    assert run_cli("plan", cwd=tmp_path).code == 0


def test_a_bad_agent_id_writes_nothing(tmp_path: Path) -> None:
    result = run_cli("init", "--agent", "no/slash", cwd=tmp_path)
    assert result.code == 1
    assert result.err.startswith("error: --agent: 'no/slash' is not an agent id\n")
    assert list(tmp_path.iterdir()) == []


def test_validate_notes_an_older_schema_copy(tmp_path: Path) -> None:
    run_cli("init", "--agent", "AgentX01", cwd=tmp_path)
    copy = tmp_path / "schemas" / "suite.schema.json"
    copy.write_text(copy.read_text().replace('"title"', '"x-old": 1, "title"', 1))
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 0
    assert (
        "note: schemas/suite.schema.json is not the schema of the installed suitesync (an older copy?): "
        "editors complete and check from it; refresh it with `suitesync schema > schemas/suite.schema.json`"
    ) in result.err
    refreshed = run_cli("schema", cwd=tmp_path)
    copy.write_text(refreshed.out)
    assert "note:" not in run_cli("validate", cwd=tmp_path).err
