"""`suitesync run` against the emulator's batch runs: rates, JUnit, formats, timeouts, CI workflow."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xmlschema
import yaml

from suitesync.emulator import Emulator

from conftest import AGENT, ROOT, run_cli

SUITE = """\
agent: main
cases:
  - id: always-passes
    userPrompt: You are a polite customer.
    successCriteria: The agent greets the customer.
    attempt: 2
  - id: always-fails
    userPrompt: You are an impossible customer.
    successCriteria: The agent flies to the moon. [emulator:fail]
    attempt: 3
  - id: half-passes
    userPrompt: You are a moody customer. [emulator:pass-rate=0.5]
    successCriteria: The agent keeps calm.
    attempt: 4
"""


@pytest.fixture
def run_project(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "suites").mkdir(parents=True)
    (root / "suitesync.yaml").write_text(f"agents: {{main: {AGENT}}}\n")
    (root / "suites" / "moods.yaml").write_text(SUITE)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    return root


def test_rates_junit_and_the_failure_exit_code(run_project: Path, junit_schema: xmlschema.XMLSchema) -> None:
    result = run_cli("run", "--junit", "results.xml", cwd=run_project)
    assert result.code == 3, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("1 passed, 2 failed (minimum pass rate 100%")  # the summary first
    table = lines[lines.index(next(line for line in lines if line.startswith("case "))) + 1 :]
    rows = {line.split()[0]: line.split()[1:4] for line in table if line[:1] not in ("", " ")}
    assert list(rows) == ["always-fails", "half-passes", "always-passes"]  # failures first
    assert rows == {
        "always-passes": ["2/2", "100%", "pass"],
        "always-fails": ["0/3", "0%", "FAIL"],
        "half-passes": ["2/4", "50%", "FAIL"],
    }
    assert "    - The agent did not meet the success criteria: The agent flies to the moon." in result.out
    assert "1 passed, 2 failed (minimum pass rate 100%" in result.out
    xml = (run_project / "results.xml").read_bytes()
    junit_schema.validate(xml)
    document = junit_schema.to_dict(xml)
    suite = document["testsuite"][0]
    assert (suite["@name"], suite["@tests"], suite["@failures"]) == ("suites/moods.yaml", "3", "2")
    cases = {case["@name"]: case for case in suite["testcase"]}
    assert {case["@classname"] for case in cases.values()} == {"suites/moods.yaml"}
    assert "failure" not in cases["always-passes"]
    failure = cases["always-fails"]["failure"][0]
    assert failure["@message"].startswith(
        "0 of 3 attempts passed (pass rate 0%, minimum 100%): The agent did not"
    )
    properties = {p["@name"]: p["@value"] for p in suite["properties"][0]["property"]}
    assert properties["half-passes.attempts"] == "4" and properties["half-passes.passRate"] == "0.5"


def test_min_pass_rate(run_project: Path) -> None:
    result = run_cli("run", "--min-pass-rate", "0.5", "--format", "json", cwd=run_project)
    assert result.code == 3
    document = json.loads(result.out)
    assert document["version"] == 1 and (document["passed"], document["failed"]) == (2, 1)
    half = next(c for c in document["cases"] if c["id"] == "half-passes")
    assert (half["attempts"], half["passedAttempts"], half["passRate"], half["passed"]) == (4, 2, 0.5, True)
    assert [r["passed"] for r in half["runs"]].count(True) == 2


def test_selection_and_markdown(run_project: Path) -> None:
    result = run_cli("run", "--case", "always-p*", "--format", "markdown", cwd=run_project)
    assert result.code == 0
    assert result.out.startswith("### suitesync run\n\n**1 passed, 0 failed")
    assert "| `always-passes` | 2/2 | 100% | ✅ pass |" in result.out
    failing = run_cli("run", "--case", "always-fails", "--format", "markdown", cwd=run_project)
    summary = "<details><summary>❌ <code>always-fails</code> (suites/moods.yaml): 0/3 passed</summary>"
    assert summary in failing.out


def test_changed_runs_only_what_the_last_apply_touched(run_project: Path, emulator: Emulator) -> None:
    suite = run_project / "suites" / "moods.yaml"
    suite.write_text(
        suite.read_text().replace("You are a polite customer.", "You are a very polite customer.")
    )
    assert run_cli("apply", "--auto-approve", cwd=run_project).code == 0
    emulator.clear_requests()
    result = run_cli("run", "--changed", cwd=run_project)
    assert result.code == 0 and "always-passes" in result.out and "always-fails" not in result.out
    batches = [r for r in emulator.requests() if r["method"] == "POST" and r["path"] == "/v1/batch-runs"]
    assert len(batches) == 1


def test_a_plan_that_is_not_empty_is_refused_unless_allowed(run_project: Path) -> None:
    suite = run_project / "suites" / "moods.yaml"
    suite.write_text(suite.read_text().replace("attempt: 2", "attempt: 1"))
    refused = run_cli("run", cwd=run_project)
    assert refused.code == 1 and "1 case is not applied as the suites describe them" in refused.err
    assert run_cli("run", "--allow-drift", "--case", "always-passes", cwd=run_project).code == 0


def test_a_batch_that_never_finishes_times_out_and_still_writes_the_junit_file(
    run_project: Path, emulator: Emulator, junit_schema: xmlschema.XMLSchema
) -> None:
    emulator.faults.reconfigure({"run_seconds": 3600})
    result = run_cli("run", "--timeout", "1", "--junit", "t.xml", cwd=run_project)
    assert result.code == 1
    reason = "the batch runs did not finish within the timeout (0 of 9 attempts done; still running: batch_"
    assert f"error: {reason}" in result.err
    assert "always-passes          -       -  UNFINISHED\n" in result.out
    assert "0 passed, 0 failed, 3 unfinished (minimum pass rate 100%" in result.out
    xml = (run_project / "t.xml").read_bytes()  # the CI step that publishes it finds it
    junit_schema.validate(xml)
    suite = junit_schema.to_dict(xml)["testsuite"][0]
    assert (suite["@tests"], suite["@failures"], suite["@errors"]) == ("3", "0", "3")
    errors = [case["error"][0] for case in suite["testcase"]]
    assert all(
        e["@type"] == "Unfinished" and e["@message"].startswith(f"no verdict: {reason}") for e in errors
    )


def run_process(root: Path, url: str, *args: str) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "suitesync", "run", *args],
        cwd=root,
        env={**os.environ, "SIGMAMIND_BASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_while_waiting_exits_130_or_143_with_runs_own_message_and_the_junit_file(
    run_project: Path, emulator: Emulator, signum: int, junit_schema: xmlschema.XMLSchema
) -> None:
    emulator.faults.reconfigure({"run_seconds": 3600})
    emulator.clear_requests()
    process = run_process(run_project, emulator.url, "--junit", "t.xml")
    deadline = time.monotonic() + 30  # only turns a hang into a failure
    while not any(r["path"].startswith("/v1/batch-runs/") for r in emulator.requests()):  # waiting
        assert time.monotonic() < deadline and process.poll() is None, "run never waited for a verdict"
        time.sleep(0.01)
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signum, err
    assert "stopping: no new batch run starts; the ones started go on on the platform" in err
    assert "lockfile" not in err
    assert err.endswith("run stopped: 3 cases without a verdict; their batch runs go on on the platform\n")
    assert "0 passed, 0 failed, 3 unfinished" in out
    xml = (run_project / "t.xml").read_bytes()
    junit_schema.validate(xml)
    assert junit_schema.to_dict(xml)["testsuite"][0]["@errors"] == "3"


def test_nothing_applied_means_nothing_to_run(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, junit_schema: xmlschema.XMLSchema
) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "moods.yaml").write_text(SUITE.replace("agent: main", f"agent: {AGENT}"))
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    result = run_cli("run", "--allow-drift", "--junit", "t.xml", cwd=tmp_path)
    assert (result.code, result.err) == (0, "no cases to run (none selected, or none applied yet)\n")
    junit_schema.validate((tmp_path / "t.xml").read_bytes())  # written all the same, for CI


def test_a_case_glob_that_matches_nothing_is_an_error_naming_it(
    run_project: Path, emulator: Emulator
) -> None:
    emulator.clear_requests()
    result = run_cli("run", "--case", "always-p*", "--case", "nomatch*", cwd=run_project)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: --case 'nomatch*' matches no case of the project; nothing was run\n"
        "hint: the project's ids: always-fails, always-passes, half-passes\n"
    )
    typo = run_cli("run", "--case", "always-pases", cwd=run_project)
    assert typo.code == 1 and "hint: did you mean always-passes?" in typo.err
    assert emulator.requests() == []  # refused before any request


# --- the CI workflow ----------------------------------------------------------------------------

WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"


def test_the_workflow_is_a_valid_github_actions_workflow() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    proc = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def workflow_commands() -> list[tuple[str, list[str], set[int]]]:
    """(job, suitesync argv, accepted exit codes) for every suitesync command of the workflow;
    `$(date ...)` and `${{ ... }}` stand as fixed text, a redirection ends the command."""
    document = yaml.safe_load(WORKFLOW.read_text())
    found = []
    for job_name, job in document["jobs"].items():
        for step in job["steps"]:
            for raw in step.get("run", "").splitlines():
                if not raw.lstrip().startswith("suitesync "):
                    continue
                line = re.sub(r"\$\{\{[^}]*\}\}", "42", raw)
                line = re.sub(r"\$\(date [^)]*\)", "20260101T000000Z", line)
                words = shlex.split(line)
                if words[:1] != ["suitesync"]:
                    continue
                accepted = {0, 2} if "test $? -eq 2" in line else {0}
                ends = [words.index(w) for w in (">", ">>") if w in words]
                argv = words[1 : min(ends)] if ends else words[1:]
                found.append((job_name, argv, accepted))
    return found


def _expanded(argv: list[str], root: Path) -> list[str]:
    """The shell's glob expansion of the arguments, in the project."""
    return [str(p) for word in argv for p in (sorted(root.glob(word)) if "*" in word else [word])]


def test_every_suitesync_command_of_the_workflow_works(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = workflow_commands()
    assert [argv[0] for _, argv, _ in commands] == ["validate", "plan", "apply", "run", "report", "report"]
    run = next(argv for _, argv, _ in commands if argv[0] == "run")
    assert run[run.index("--baseline") + 1] == "results-history" and "--results" in run
    root = tmp_path / "repo"
    (root / "suites").mkdir(parents=True)
    (root / "suitesync.yaml").write_text(f"agents: {{main: {AGENT}}}\n")
    (root / "suites" / "moods.yaml").write_text(
        SUITE.replace(" [emulator:fail]", "").replace(" [emulator:pass-rate=0.5]", "")
    )
    (root / "results-history").mkdir()  # what the clone step leaves on the first run
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    outputs = {}
    for job, argv, accepted in commands:
        result = run_cli(*_expanded(argv, root), cwd=root)
        assert result.code in accepted, (job, argv, result.out, result.err)
        outputs[argv[0]] = result
    assert (root / "suitesync-results.xml").is_file()
    assert len(list((root / "results-history").glob("*.json"))) == 1
    assert "no baseline yet in results-history" in outputs["run"].err
    assert outputs["report"].out.startswith("### suitesync run\n")  # the job summary
    assert "Content-Security-Policy" in (root / "suitesync-report.html").read_text()


def test_invalid_suites_are_one_error(run_project: Path) -> None:
    (run_project / "suites" / "broken.yaml").write_text("agent: main\ncases:\n  - id: x\n")
    result = run_cli("run", cwd=run_project)
    assert result.code == 1
    assert [line for line in result.err.splitlines() if line.startswith("error:")] == [
        "error: the suites are invalid; nothing was run"
    ]
