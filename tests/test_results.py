"""Results documents, baselines, history and reports, against the emulator's batch runs.

The verdicts come from the emulator's documented markers: `[emulator:pass-probability=P]` draws
each attempt from the seed, the case's text and the agent's batch number (so the seed below is
chosen, by the same rule, to give 4/5 and then 3/5), and `[emulator:pass-rate-when=WORD:R]` in
an agent's instructions is a change to the agent that makes its cases holding WORD worse.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import xmlschema

from suitesync.emulator import Emulator
from suitesync.emulator.simulate import attempt_passes
from suitesync.results import read_results, save_history
from suitesync.schema import RESULTS, load_schema

from conftest import AGENT, run_cli

DIPS_PROMPT = "You are an undecided customer. [emulator:pass-probability=0.7]"
DIPS_CRITERIA = "The agent helps the customer decide."
SUITE = f"""\
agent: main
defaults:
  tags: [nightly]
cases:
  - id: steady-refund
    userPrompt: You want a refund for a late order.
    successCriteria: The agent refunds the order.
    attempt: 10
    tags: [smoke, billing]
  - id: reworded
    userPrompt: You ask about opening hours.
    successCriteria: The agent gives the opening hours.
    attempt: 2
  - id: dips
    userPrompt: {DIPS_PROMPT}
    successCriteria: {DIPS_CRITERIA}
    attempt: 5
    minPassRate: 0.8
  - id: known-broken
    userPrompt: You speak only Klingon.
    successCriteria: The agent answers in Klingon. [emulator:fail]
    quarantine: true
    tags: [smoke]
  - id: secret-pin
    userPrompt: You want to change your PIN.
    successCriteria: The agent changes the PIN.
    mockData:
      pin: ${{env:CUSTOMER_PIN}}
"""
PIN = "8675309-secret-pin"


def _passes(seed: int, batch_no: int) -> int:
    case = {"userPrompt": DIPS_PROMPT, "successCriteria": DIPS_CRITERIA, "attempt": 5}
    return sum(attempt_passes(case, n, seed=seed, batch_no=batch_no) for n in range(1, 6))


# The first seed whose draws give `dips` 4 of 5 passes in the agent's batch 1, then 3 of 5 twice.
DIP_SEED = next(
    seed for seed in range(10_000) if (_passes(seed, 1), _passes(seed, 2), _passes(seed, 3)) == (4, 3, 3)
)


@pytest.fixture
def results_project(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "suites").mkdir(parents=True)
    (root / "suitesync.yaml").write_text(f"agents: {{main: {AGENT}}}\n")
    (root / "suites" / "cases.yaml").write_text(SUITE)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    monkeypatch.setenv("CUSTOMER_PIN", PIN)
    emulator.faults.reconfigure({"seed": DIP_SEED})
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    return root


def _change_agent(emulator: Emulator, instructions: str) -> None:
    body = {"agentId": AGENT, "name": "Support", "instructions": instructions}
    assert httpx.post(f"{emulator.url}/_emulator/agents", json=body).status_code == 201


def test_a_regression_beyond_noise_a_dip_within_it_a_content_change_and_an_agent_change(
    results_project: Path, emulator: Emulator
) -> None:
    root = results_project
    first = run_cli("run", "--results", "first.json", cwd=root)
    assert first.code == 0, first.out + first.err  # the quarantined failure does not fail the run
    document = json.loads((root / "first.json").read_text())
    assert {c["id"]: c["passedAttempts"] for c in document["cases"]}["dips"] == 4

    # Batch 2: only `dips`, 3/5 now: below its minPassRate, but within noise.
    dip = run_cli("run", "--case", "dips", "--baseline", "first.json", "--fail-on", "regressions", cwd=root)
    assert dip.code == 0, dip.out + dip.err
    assert "dips" in dip.out and "REGRESSED" in dip.out and "(4/5 -> 3/5, p=1.00, within noise)" in dip.out
    failures = run_cli("run", "--case", "dips", "--baseline", "first.json", cwd=root)
    assert failures.code == 3  # --fail-on failures (the default): any failing case

    # The agent gets worse for refunds (10/10 -> 2/10), and a case is reworded.
    _change_agent(emulator, "Be brief. [emulator:pass-rate-when=refund:0.2]")
    suite = root / "suites" / "cases.yaml"
    suite.write_text(suite.read_text().replace("opening hours.\n", "opening hours on Sunday.\n", 1))
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    second = run_cli(
        "run", "--baseline", "first.json", "--fail-on", "regressions", "--format", "json", cwd=root
    )
    assert second.code == 3, second.err
    assert "--fail-on regressions: 1 regression or new failing case: steady-refund" in second.err
    comparison = json.loads(second.out)["comparison"]
    assert comparison["agentsChanged"] == [AGENT]
    steady = comparison["cases"]["steady-refund"]
    assert (steady["change"], steady["then"], steady["withinNoise"]) == ("regressed", "10/10", False)
    assert steady["pValue"] == pytest.approx(0.0007144558228149558, abs=1e-9)
    assert comparison["cases"]["reworded"]["change"] == "content changed"
    assert comparison["cases"]["known-broken"]["change"] == "still failing"
    assert comparison["counts"]["quarantined"] == 1

    history = sorted(str(p) for p in (root / ".suitesync" / "results").glob("*.json"))
    text = run_cli("report", *history, "--baseline", "first.json", cwd=root)
    assert text.code == 0
    lines = text.out.splitlines()
    assert lines[0].startswith("2 passed, 2 failed, 1 quarantined")  # steady-refund and dips fail
    assert f"agent configuration changed since the baseline: {AGENT}" in text.out
    table = lines[lines.index(next(line for line in lines if line.startswith("case "))) + 1 :]
    first_rows = [line.split()[0] for line in table if line[:1] not in ("", " ")]
    assert first_rows[0] == "steady-refund"  # regressions first
    print(text.out)
    assert "10/10    -80%  FAIL  REGRESSED flaky (10/10 -> 2/10, p<0.001)" in text.out
    assert "4/5    -20%  FAIL  REGRESSED flaky (4/5 -> 3/5, p=1.00, within noise)" in text.out


def test_every_document_is_valid_kept_and_free_of_secrets(results_project: Path) -> None:
    root = results_project
    for _ in range(2):
        run_cli("run", "--results", "out/results.json", "--junit", "out/junit.xml", cwd=root)
    history = sorted((root / ".suitesync" / "results").glob("*.json"))
    assert len(history) == 2
    validator = xmlschema_free_validator()
    for path in [*history, root / "out" / "results.json"]:
        data = json.loads(path.read_text())
        validator.validate(data)
        assert PIN not in path.read_text()
    document = read_results(root / "out" / "results.json")
    pin = document.case("secret-pin")
    assert pin is not None and "${env:CUSTOMER_PIN}" in pin.attempts[0].conversation[1].content
    assert document.git is None  # not a git repository, no CI variables: null, not an error
    assert document.lockfile_serial >= 1 and document.lockfile_lineage
    assert all(a.fingerprint and len(a.fingerprint) == 64 for a in document.agents)
    for fmt in ("text", "json", "markdown", "junit", "html"):
        rendered = run_cli("report", "out/results.json", "--format", fmt, cwd=root)
        assert rendered.code == 0 and PIN not in rendered.out
    assert PIN not in (root / "out" / "junit.xml").read_text()


def xmlschema_free_validator() -> object:
    """The results schema's own validator (jsonschema, the reference implementation)."""
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema(RESULTS))


def test_git_commit_and_branch_are_recorded(results_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    root = results_project
    for args in (["init", "-q", "-b", "trunk"], ["add", "-A"], ["commit", "-qm", "suites"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=root, check=True)
    head = ["git", "rev-parse", "HEAD"]
    commit = subprocess.run(head, cwd=root, capture_output=True, text=True, check=True).stdout
    run_cli("run", "--case", "reworded", "--results", "r.json", cwd=root)
    git = json.loads((root / "r.json").read_text())["git"]
    assert git == {"commit": commit.strip(), "branch": "trunk"}
    subprocess.run(["git", "checkout", "-q", "--detach"], cwd=root, check=True)
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    run_cli("run", "--case", "reworded", "--results", "r.json", cwd=root)
    assert json.loads((root / "r.json").read_text())["git"]["branch"] == "main"  # detached: CI says


def test_tags_select_and_a_selection_of_nothing_is_an_error(results_project: Path) -> None:
    root = results_project
    smoke = run_cli("run", "--tag", "smoke", "--format", "json", cwd=root)
    assert smoke.code == 0  # known-broken fails, but it is quarantined
    assert sorted(c["id"] for c in json.loads(smoke.out)["cases"]) == ["known-broken", "steady-refund"]
    nightly = run_cli("run", "--tag", "nightly", "--format", "json", cwd=root)  # from defaults
    assert sorted(c["id"] for c in json.loads(nightly.out)["cases"]) == ["dips", "reworded", "secret-pin"]
    both = run_cli("run", "--tag", "billing", "--case", "steady-*", "--format", "json", cwd=root)
    assert [c["id"] for c in json.loads(both.out)["cases"]] == ["steady-refund"]

    typo = run_cli("run", "--tag", "smok", cwd=root)
    assert typo.code == 1
    assert typo.err.startswith("error: --tag 'smok' matches no case of the project; nothing was run")
    assert "the project's tags: billing, nightly, smoke" in typo.err
    disjoint = run_cli("run", "--tag", "billing", "--case", "dips", cwd=root)
    assert disjoint.code == 1
    assert "--case 'dips' --tag 'billing': no case of the project matches both" in disjoint.err


def test_quarantine_reports_but_never_fails(results_project: Path, tmp_path: Path) -> None:
    root = results_project
    result = run_cli("run", "--case", "known-broken", "--junit", "j.xml", cwd=root)
    assert result.code == 0
    assert "known-broken" in result.out and "quarantined" in result.out
    assert result.out.startswith("0 passed, 0 failed, 1 quarantined")
    junit = (root / "j.xml").read_text()
    assert '<skipped message="quarantined: 0 of 1 attempt passed' in junit and "<failure" not in junit


def test_a_timed_out_run_still_writes_its_document_with_unfinished_attempts(
    results_project: Path, emulator: Emulator
) -> None:
    root = results_project
    emulator.faults.reconfigure({"run_seconds": 3600})
    result = run_cli("run", "--timeout", "0", "--results", "r.json", "--junit", "j.xml", cwd=root)
    assert result.code == 1
    document = json.loads((root / "r.json").read_text())
    assert document["stopped"].startswith("the batch runs did not finish within the timeout")
    steady = next(c for c in document["cases"] if c["id"] == "steady-refund")
    assert steady["verdict"] == "unfinished" and len(steady["runs"]) == 10
    assert {(r["verdict"], r["jobId"]) for r in steady["runs"]} == {("unfinished", None)}
    assert '<error message="no verdict: the batch runs did not finish' in (root / "j.xml").read_text()
    assert len(list((root / ".suitesync" / "results").glob("*.json"))) == 1


def test_the_history_keeps_the_newest_50(results_project: Path, tmp_path: Path) -> None:
    root = results_project
    run_cli("run", "--case", "reworded", "--results", "r.json", cwd=root)
    document = read_results(root / "r.json")
    folder = tmp_path / "state" / "results"
    names = []
    for n in range(53):
        stamp = f"2026-01-01T00:00:{n:02d}.000+00:00"
        moved = type(document)(**{**document.__dict__, "started_at": stamp, "ended_at": stamp})
        names.append(save_history(moved, folder, (root / "r.json").read_text()).name)
    kept = sorted(p.name for p in folder.glob("*.json"))
    assert kept == sorted(names)[3:] and len(kept) == 50


def test_report_renders_history_flakiness_and_refuses_what_is_not_a_document(
    results_project: Path, emulator: Emulator, tmp_path: Path
) -> None:
    root = results_project
    for instructions in ("", "[emulator:pass-rate-when=refund:0.2]", ""):
        _change_agent(emulator, instructions or "Be kind.")
        run_cli("run", "--case", "steady-refund", "--case", "reworded", cwd=root)
    paths = sorted((root / ".suitesync" / "results").glob("*.json"))
    html_out = tmp_path / "report.html"
    made = run_cli("report", *map(str, paths), "--format", "html", "-o", str(html_out), cwd=root)
    assert made.code == 0 and f"to {html_out}" in made.err
    page = html_out.read_text()
    assert page.count("class=spark ") == 2  # a history chart per case
    assert "<span class='tag warn'>flaky</span>" in page  # steady-refund: pass, fail, pass
    markdown = run_cli("report", *map(str, paths), "--format", "markdown", cwd=root).out
    assert "| `steady-refund` | 10/10 | 100% | 2/10 | +80% | ✅ fixed · flaky |" in markdown

    (tmp_path / "bad.json").write_text('{"version": 1, "cases": "nope"}')
    bad = run_cli("report", str(tmp_path / "bad.json"))
    assert bad.code == 1 and bad.err.count("\n") == 2  # one line, one hint
    assert bad.err.startswith(f"error: {tmp_path / 'bad.json'}: not a suitesync results document: at ")
    (tmp_path / "broken.json").write_text("{")
    broken = run_cli("report", str(tmp_path / "broken.json"))
    assert (
        broken.code == 1 and f"{tmp_path / 'broken.json'}:1:2: not a suitesync results document" in broken.err
    )


def test_the_junit_report_validates(results_project: Path, junit_schema: xmlschema.XMLSchema) -> None:
    root = results_project
    run_cli("run", "--results", "r.json", cwd=root)
    junit = run_cli("report", "r.json", "--format", "junit", cwd=root)
    junit_schema.validate(junit.out.encode())
    assert "<skipped " in junit.out and "<failure " not in junit.out  # quarantined known-broken


def test_the_local_keys_change_no_payload_and_plan_nothing(results_project: Path) -> None:
    root = results_project
    suite = root / "suites" / "cases.yaml"
    suite.write_text(
        suite.read_text()
        .replace("    minPassRate: 0.8\n", "    minPassRate: 0.6\n    quarantine: true\n")
        .replace("tags: [smoke, billing]", "tags: [billing]")
    )
    plan = run_cli("plan", "--detailed-exitcode", cwd=root)
    assert plan.code == 0, plan.out  # nothing to send: not part of the payload or its hash


def test_fmt_puts_the_local_keys_in_their_place(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "agent: X1\ncases:\n  - quarantine: true\n    tags: [a]\n    minPassRate: 0.5\n    id: c\n"
        "    successCriteria: Greets.\n    userPrompt: Hi.\n    protect: true\n"
    )
    assert run_cli("fmt", str(tmp_path / "s.yaml")).code == 0
    keys = [line.split(":")[0].strip(" -") for line in (tmp_path / "s.yaml").read_text().splitlines()[2:]]
    assert keys == ["id", "userPrompt", "successCriteria", "minPassRate", "tags", "quarantine", "protect"]


def test_the_emulators_pass_probability_is_seeded_and_about_right() -> None:
    case = {"userPrompt": "Hi. [emulator:pass-probability=0.3]", "successCriteria": "Greets.", "attempt": 1}
    draws = [attempt_passes(case, 1, seed=5, batch_no=n) for n in range(1, 2001)]
    assert draws == [attempt_passes(case, 1, seed=5, batch_no=n) for n in range(1, 2001)]  # reproducible
    assert 0.27 < sum(draws) / len(draws) < 0.33
    assert draws != [attempt_passes(case, 1, seed=6, batch_no=n) for n in range(1, 2001)]  # the seed matters


def test_a_bad_baseline_stops_the_run_before_anything_is_sent(
    results_project: Path, emulator: Emulator, tmp_path: Path
) -> None:
    root = results_project
    emulator.clear_requests()
    missing = run_cli("run", "--baseline", "nope.json", cwd=root)
    assert (missing.code, missing.err) == (1, "error: --baseline nope.json: no such file or folder\n")
    (tmp_path / "plan.json").write_text('{"version": 1, "actions": []}')
    wrong = run_cli("run", "--baseline", str(tmp_path / "plan.json"), cwd=root)
    assert wrong.code == 1 and "not a suitesync results document" in wrong.err
    unwritable = run_cli("run", "--results", str(tmp_path / "plan.json" / "r.json"), cwd=root)
    assert unwritable.code == 1 and unwritable.err.startswith(f"error: {tmp_path / 'plan.json' / 'r.json'}: ")
    assert emulator.requests() == []
    assert not (root / ".suitesync" / "results").exists()


def test_schema_results_prints_a_valid_2020_12_schema() -> None:
    import jsonschema

    printed = run_cli("schema", "--results")
    assert printed.code == 0 and json.loads(printed.out) == load_schema(RESULTS)
    jsonschema.Draft202012Validator.check_schema(load_schema(RESULTS))


def test_an_agent_that_cannot_be_read_has_no_fingerprint_and_a_reason(emulator: Emulator) -> None:
    from suitesync.client import SigmaMindClient
    from suitesync.runresults import agent_fingerprints
    from suitesync.settings import Secret

    with SigmaMindClient(emulator.url, Secret("k"), sleep=lambda _s: None) as client:
        found = agent_fingerprints(client, [AGENT, "NoSuchAgent01"])
    assert found[AGENT][0] is not None and found[AGENT][1] is None
    assert found["NoSuchAgent01"] == (
        None,
        "GET /v1/agents/NoSuchAgent01: HTTP 404: Agent NoSuchAgent01 not found",
    )


def test_markdown_folds_each_failure_and_caps_its_size() -> None:
    import io

    from suitesync.results import AttemptRecord, CaseRecord, ResultsDocument, Turn
    from suitesync.resultsreport import write_results_markdown
    from suitesync.resultsview import build_view

    chat = (Turn("user", "I want my money | back."), Turn("assistant", "<b>No</b>."))
    cases = tuple(
        CaseRecord(
            f"case-{n}",
            f"tc_{n}",
            AGENT,
            "suites/a.yaml",
            "h",
            1.0,
            (AttemptRecord("j", "c", "fail", "No.", chat),),
        )
        for n in range(5)
    )
    stamp = "2026-01-01T00:00:00.000+00:00"
    document = ResultsDocument("0.1.0", stamp, stamp, None, None, 0, None, 1.0, cases)
    out = io.StringIO()
    write_results_markdown(build_view(document), out, limit=1_200)
    text = out.getvalue()
    assert text.count("<details>") == 4 and "_1 more failing case not shown (over 1,200 characters)" in text
    assert len(text) < 1_200 + 200  # the note itself may pass the limit
    assert "- **user:** I want my money \\| back." in text and "- **agent:** &lt;b&gt;No&lt;/b&gt;." in text
