"""`validate --format github`: GitHub workflow commands that annotate the suite files in a pull
request, chosen by itself when GitHub Actions runs it (GITHUB_ACTIONS=true), as yamllint does."""

from __future__ import annotations

from pathlib import Path

import pytest

from suitesync.errors import Problem
from suitesync.report import github_error

from conftest import FIXTURES, run_cli

INVALID = FIXTURES / "suites" / "invalid"


def test_every_problem_is_an_error_annotation_on_its_line() -> None:
    result = run_cli("validate", "--format", "github", "several-mistakes.yaml", cwd=INVALID)
    lines = result.out.splitlines()
    assert result.code == 1
    assert lines[0] == (
        "::error file=several-mistakes.yaml,line=3,col=13,title=schema-enum::defaults.llmModel: "
        '"gpt-4o-minni" is not an allowed value (did you mean gpt-4o-mini?)'
    )
    assert len(lines) == 7
    assert all(line.startswith("::error file=several-mistakes.yaml,line=") for line in lines)
    assert "7 problems in 1 file" in result.err  # the summary stays a plain line, off the annotations


def test_a_problem_of_the_whole_file_names_the_file_only() -> None:
    problem = Problem("a.yaml", 0, 0, "too-many-problems", "and 3 more problems in this file")
    assert (
        github_error(problem)
        == "::error file=a.yaml,title=too-many-problems::and 3 more problems in this file"
    )


def test_chosen_when_github_actions_runs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run_cli("validate", "empty.yaml", cwd=INVALID)
    assert (
        result.out
        == "::error file=empty.yaml,line=1,col=1,title=yaml-empty::file is empty (a suite needs `cases:`)\n"
    )


def test_format_text_forces_lines_in_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run_cli("validate", "--format", "text", "empty.yaml", cwd=INVALID)
    assert result.out == (INVALID / "empty.expected").read_text()


def test_lines_outside_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    result = run_cli("validate", "empty.yaml", cwd=INVALID)
    assert result.out == (INVALID / "empty.expected").read_text()


def test_a_valid_project_writes_no_annotation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run_cli("validate", ".", cwd=FIXTURES / "suites" / "valid")
    assert (result.code, result.out) == (0, "")
    assert result.err.startswith("ok: ")


def test_escaped_as_the_runner_unescapes() -> None:
    """`%`, CR and LF in the message; also `:` and `,` in a property, which would end it."""
    problem = Problem("dir,x/a:b%.yaml", 2, 3, "schema-enum", "100% wrong\r\nmore: ::warning::x", "hint, ok")
    assert github_error(problem) == (
        "::error file=dir%2Cx/a%3Ab%25.yaml,line=2,col=3,title=schema-enum::"
        "100%25 wrong%0D%0Amore: ::warning::x (hint, ok)"
    )


def test_a_file_name_with_comma_and_colon_stays_one_property(tmp_path: Path) -> None:
    (tmp_path / "odd,name:1.yaml").write_text(
        "agent: D5D0p7TUs66TTAEAx\ncases:\n  - id: a\n    userPrompt: x\n"
    )
    result = run_cli("validate", "--format", "github", "odd,name:1.yaml", cwd=tmp_path)
    assert result.out == (
        "::error file=odd%2Cname%3A1.yaml,line=3,col=5,title=schema-required::"
        "cases[0]: missing required key `successCriteria`\n"
    )
