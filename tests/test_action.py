"""The reusable GitHub Action (action.yml): valid against the GitHub Action schema, and each of
its `run` steps executed as the runner would (inputs substituted, GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY pointing at files) against the emulator. `actions/setup-python` is the one
step that cannot run here: the fresh venv the install step installs into stands for it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from suitesync.emulator import Emulator

from conftest import AGENT, ROOT, assert_no_canary, run_cli

ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def test_the_action_is_a_valid_github_action() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    proc = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-actions", str(ACTION)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def action() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return document


def inputs_with(**given: str) -> dict[str, str]:
    """The action's inputs: its defaults, overridden by `given` (names with `-` as `_`)."""
    values = {name: str(spec.get("default", "")) for name, spec in action()["inputs"].items()}
    values.update({name.replace("_", "-"): value for name, value in given.items()})
    return values


def substituted(text: str, inputs: dict[str, str]) -> str:
    """`${{ inputs.X }}` and `${{ github.action_path }}` as the runner fills them in; any other
    expression is a test failure (the test would not run what GitHub runs)."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression == "github.action_path":
            return str(ROOT)
        assert expression.startswith("inputs."), f"unexpected expression {expression}"
        return inputs[expression.removeprefix("inputs.")]

    return EXPRESSION.sub(value, text)


def run_steps(inputs: dict[str, str]) -> list[dict[str, Any]]:
    """The `run` steps the runner would execute with these inputs (their `if` evaluated)."""
    steps = []
    for step in action()["runs"]["steps"]:
        if "run" not in step:
            continue
        condition = step.get("if")
        if condition is not None:
            assert condition == "inputs.command != ''", f"unknown condition {condition}"
            if not inputs["command"]:
                continue
        steps.append(step)
    return steps


def execute(
    step: dict[str, Any], inputs: dict[str, str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    assert step["shell"] == "bash"
    step_env = {name: substituted(str(value), inputs) for name, value in step.get("env", {}).items()}
    where = cwd / substituted(step.get("working-directory", "."), inputs)
    script = substituted(step["run"], inputs)
    # As GitHub runs a bash step: `bash --noprofile --norc -eo pipefail {0}`.
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=where,
        env={**env, **step_env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert_no_canary(proc.stdout + proc.stderr)
    return proc


@pytest.fixture(scope="module")
def runner_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh venv in which the action's install step has installed suitesync from its checkout."""
    base = tmp_path_factory.mktemp("runner")
    venv.create(base / "venv", with_pip=True)
    env = {**os.environ, "PATH": f"{base / 'venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    env.update({"GITHUB_ACTIONS": "true", "RUNNER_TEMP": str(base / "temp")})
    (base / "temp").mkdir()
    inputs = inputs_with()
    install = run_steps(inputs)[0]
    assert install["name"] == "Install suitesync"
    proc = execute(install, inputs, env, base)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "suitesync, version 0.1.0"
    yield env


def step_outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def run_command(
    runner_env: dict[str, str], project: Path, tmp_path: Path, **given: str
) -> tuple[Any, dict[str, str], str]:
    """The action's command step with these inputs: (the process, its outputs, its step summary)."""
    inputs = inputs_with(**given)
    output, summary = tmp_path / f"output-{given['command']}", tmp_path / f"summary-{given['command']}"
    output.write_text("")
    summary.write_text("")
    env = {**runner_env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    steps = run_steps(inputs)
    assert [step["name"] for step in steps] == ["Install suitesync", "suitesync ${{ inputs.command }}"]
    proc = execute(steps[1], inputs, env, project)
    return proc, step_outputs(output), summary.read_text()


def test_validate_plan_apply_run_through_the_action(
    runner_env: dict[str, str], tmp_path: Path, emulator: Emulator
) -> None:
    repo = tmp_path / "repo"
    assert run_cli("init", "--agent", AGENT, str(repo)).code == 0
    env = {**runner_env, "SIGMAMIND_BASE_URL": emulator.url}

    proc, outputs, _ = run_command(env, tmp_path, tmp_path, command="validate", working_directory="repo")
    assert (proc.returncode, outputs) == (0, {"exit-code": "0"})

    proc, outputs, summary = run_command(env, repo, tmp_path, command="plan", args="--detailed-exitcode")
    assert outputs["exit-code"] == "2" and proc.returncode == 2  # changes pending: the step says so
    plan = Path(outputs["plan-markdown"]).read_text()
    assert "example-greeting" in plan
    assert summary == plan
    assert plan in proc.stdout  # and in the job log

    proc, outputs, _ = run_command(env, repo, tmp_path, command="apply", args="--auto-approve")
    assert (proc.returncode, outputs) == (0, {"exit-code": "0"}), proc.stderr
    assert "Apply complete: 2 created." in proc.stdout

    proc, outputs, _ = run_command(env, repo, tmp_path, command="run")
    assert outputs["exit-code"] == "0", proc.stderr
    results = Path(outputs["results"]).read_text()
    assert results.count("<testcase ") == 2


def test_validate_annotates_the_files_in_the_action(runner_env: dict[str, str], tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert run_cli("init", "--agent", AGENT, str(repo)).code == 0
    suite = repo / "suites" / "example.yaml"
    suite.write_text(suite.read_text().replace("llmModel: gpt-4o-mini", "llmModel: gpt4o-mini"))
    proc, outputs, _ = run_command(runner_env, repo, tmp_path, command="validate")
    assert (proc.returncode, outputs) == (1, {"exit-code": "1"})
    assert proc.stdout.startswith("::error file=suites/example.yaml,line=6,col=13,title=schema-enum::")


def test_no_command_only_installs() -> None:
    assert [step["name"] for step in run_steps(inputs_with(command=""))] == ["Install suitesync"]


def test_an_input_cannot_inject_shell_code(runner_env: dict[str, str], tmp_path: Path) -> None:
    """Inputs reach the script as environment variables: `$(...)` in one is text, not a command."""
    marker = tmp_path / "injected"
    _, outputs, _ = run_command(runner_env, tmp_path, tmp_path, command="validate", args=f"$(touch {marker})")
    assert not marker.exists()
    assert outputs["exit-code"] != "0"
