"""The CI files `suitesync init --ci` writes: valid against GitHub's and GitLab's schemas (vendored
by check-jsonschema), and the GitLab pipeline's commands run against the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from suitesync.emulator import Emulator

from conftest import AGENT, ROOT, assert_no_canary, run_cli

TEMPLATES = ROOT / "suitesync" / "templates"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci.yml"


def schema_check(schema: str, path: Path) -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    proc = subprocess.run(
        [str(checker), "--builtin-schema", schema, str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_gitlab_pipeline_is_valid_and_is_what_init_writes() -> None:
    assert GITLAB.read_text() == (TEMPLATES / "gitlab-ci.yml").read_text()
    schema_check("vendor.gitlab-ci", GITLAB)


def test_the_github_workflow_init_writes_is_valid_and_uses_the_action() -> None:
    workflow = TEMPLATES / "github-workflow.yml"
    schema_check("vendor.github-workflows", workflow)
    uses = [
        step["uses"]
        for job in yaml.safe_load(workflow.read_text())["jobs"].values()
        for step in job["steps"]
        if "uses" in step and "checkout" not in step["uses"]
    ]
    assert uses == ["suitesync/suitesync@v0.1.0"] * 3


def gitlab_scripts() -> dict[str, list[str]]:
    document = yaml.safe_load(GITLAB.read_text())
    return {
        name: job["script"] for name, job in document.items() if isinstance(job, dict) and "script" in job
    }


def test_the_gitlab_jobs(tmp_path: Path, emulator: Emulator) -> None:
    """Merge request jobs, then the default branch's apply (its before_script installs suitesync
    from the network: here the installed one stands for it)."""
    document = yaml.safe_load(GITLAB.read_text())
    assert document["suitesync-apply"]["resource_group"] == "suitesync-apply"
    assert document["suitesync-apply"]["artifacts"]["reports"]["junit"] == "suitesync-results.xml"
    assert document["suitesync-plan"]["artifacts"]["paths"] == ["suitesync-plan.md"]
    repo = tmp_path / "repo"
    assert run_cli("init", "--agent", AGENT, "--ci", "gitlab", str(repo)).code == 0
    assert (repo / ".gitlab-ci.yml").read_text() == GITLAB.read_text()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "SIGMAMIND_BASE_URL": emulator.url,
    }
    logs = {}
    for job in ["suitesync-validate", "suitesync-plan", "suitesync-apply"]:
        script = "\n".join(gitlab_scripts()[job])
        proc = subprocess.run(
            ["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True, check=False
        )
        assert_no_canary(proc.stdout + proc.stderr)
        assert proc.returncode == 0, f"{job}: {proc.stderr}"
        logs[job] = proc.stdout
    plan = (repo / "suitesync-plan.md").read_text()
    assert "example-greeting" in plan and plan in logs["suitesync-plan"]  # artifact and job log
    assert "Apply complete: 2 created." in logs["suitesync-apply"]
    assert (repo / "suitesync-results.xml").read_text().count("<testcase ") == 2


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_init_writes_the_ci_file(tmp_path: Path, ci: str) -> None:
    result = run_cli("init", "--ci", ci, cwd=tmp_path)
    name = {"github": ".github/workflows/suitesync.yml", "gitlab": ".gitlab-ci.yml"}[ci]
    template = {"github": "github-workflow.yml", "gitlab": "gitlab-ci.yml"}[ci]
    assert f"wrote {name}\n" in result.out
    assert (tmp_path / name).read_text() == (TEMPLATES / template).read_text()
