"""`--format json` for apply, import and fmt: one versioned document on standard output, valid
against its schema under schemas/ (printed by `suitesync schema --apply|--import|--fmt`), with the
lines a person reads moved to standard error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from test_living import make_remote_cases

from suitesync.emulator import Emulator

from conftest import AGENT, run_cli, write_project


def checked(output: str, which: str) -> dict[str, Any]:
    """The document, after checking it against the schema `suitesync schema --WHICH` prints."""
    schema = json.loads(run_cli("schema", f"--{which}").out)
    Draft202012Validator.check_schema(schema)
    document: dict[str, Any] = json.loads(output)
    Draft202012Validator(schema).validate(document)
    assert document["version"] == 1
    return document


def test_apply_json(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    project = write_project(tmp_path / "p", 3)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    result = run_cli("apply", "--auto-approve", "--format", "json", cwd=project)
    assert result.code == 0, result.err
    document = checked(result.out, "apply")
    assert document["complete"] is True and document["stopped"] is None
    assert document["counts"] == {"created": 3}
    assert sorted(o["caseId"] for o in document["outcomes"]) == ["case-0000", "case-0001", "case-0002"]
    assert all(o["kind"] == "create" and o["agentId"] == AGENT for o in document["outcomes"])
    assert all(o["testCaseId"].startswith("tc_") and o["error"] is None for o in document["outcomes"])
    assert "Plan: 3 to create" in result.err  # the plan a person reads went to standard error
    assert "+ created" in result.err

    again = run_cli("apply", "--auto-approve", "--format", "json", cwd=project)
    assert checked(again.out, "apply") == {
        "version": 1,
        "complete": True,
        "stopped": None,
        "counts": {},
        "outcomes": [],
    }


def test_import_json(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    project = write_project(tmp_path / "p", 1)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    make_remote_cases(emulator, 3)
    dry = run_cli("import", "--agent", "main", "--dry-run", "--format", "json", cwd=project)
    assert dry.code == 0, dry.err
    document = checked(dry.out, "import")
    assert (document["dryRun"], document["imported"], document["file"]) == (
        True,
        4,
        "suites/imported-main.yaml",
    )
    assert document["text"].startswith("# Imported by `suitesync import`")
    assert not (project / "suites" / "imported-main.yaml").exists()

    real = checked(run_cli("import", "--agent", "main", "--format", "json", cwd=project).out, "import")
    assert (real["dryRun"], real["imported"], len(real["unlabelled"])) == (False, 4, 1)
    assert "text" not in real
    assert (project / "suites" / "imported-main.yaml").exists()
    nothing = checked(run_cli("import", "--agent", "main", "--format", "json", cwd=project).out, "import")
    assert (nothing["imported"], nothing["file"]) == (0, None)


def test_fmt_json(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suitesync.yaml").write_text("")
    (tmp_path / "suites" / "messy.yaml").write_text(
        "cases:\n    - successCriteria: s\n      userPrompt: p\n      id: a\nagent: X1\n"
    )
    (tmp_path / "suites" / "bad.yaml").write_text("agent: X1\ncases:\n  - id: b\n    userPrompt: p\n")
    check = run_cli("fmt", "--check", "--format", "json", cwd=tmp_path)
    assert check.code == 1
    document = checked(check.out, "fmt")
    files = {f["path"]: f for f in document["files"]}
    assert document["check"] is True
    assert files["suites/messy.yaml"] == {
        "path": "suites/messy.yaml",
        "changed": True,
        "leftAlone": None,
        "problems": [],
    }
    assert files["suites/bad.yaml"]["leftAlone"] == "not formatted: it does not validate (1 problem)"
    assert files["suites/bad.yaml"]["problems"][0]["code"] == "schema-required"
    written = run_cli("fmt", "--format", "json", cwd=tmp_path)
    assert checked(written.out, "fmt")["check"] is False
    assert (tmp_path / "suites" / "messy.yaml").read_text().startswith("agent: X1\ncases:\n")
