"""A project whose `suites` globs match no file is an error for validate, plan, apply and run
(a typo in `suites:` would otherwise check and apply nothing, and say "ok")."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

COMMANDS = [("validate",), ("plan",), ("apply", "--auto-approve"), ("run",)]


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_globs_matching_no_file_are_an_error(
    command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "local")
    (tmp_path / "suitesync.yaml").write_text('suites: ["tests/**/*.yaml", "more/*.yml"]\n')
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "a.yaml").write_text("agent: x\ncases: []\n")  # not matched by the globs
    result = run_cli(*command, cwd=tmp_path)
    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        'error: no suite file matches the project\'s suites globs "tests/**/*.yaml", "more/*.yml" '
        f"(set in suitesync.yaml, in {tmp_path})\n"
        "hint: run `suitesync init` to write an example suite, or fix `suites:` in suitesync.yaml\n"
    )
    assert not (tmp_path / "suitesync.lock").exists()
    assert not (tmp_path / ".suitesync" / "emulator.sqlite3").exists()  # nothing started, nothing sent


def test_without_a_project_the_default_globs_are_named(tmp_path: Path) -> None:
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 1
    assert result.err.startswith(
        'error: no suite file matches the project\'s suites globs "suites/**/*.yaml", "suites/**/*.yml" '
        "(the defaults: there is no suitesync.yaml"
    )


def test_import_into_a_project_with_no_suite_yet_still_works(
    tmp_path: Path, emulator: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import AGENT

    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)  # type: ignore[attr-defined]
    (tmp_path / "suitesync.yaml").write_text(f"agents: {{support: {AGENT}}}\n")
    result = run_cli("import", "--agent", "support", cwd=tmp_path)
    assert result.code == 0, result.err
