"""A bug of suitesync's: exit 70, one line naming the crash log, and no secret in either."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from conftest import CANARY_KEY, run_cli, write_project

PIN = "pin-4711-secret"


class Bug(RuntimeError):
    pass


@pytest.fixture
def crashing_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with a `${env:...}` secret, whose planner has a bug that shows every secret it
    can reach. (A bug cannot be made to happen without one: this is the one mock here.)"""
    import suitesync.commands.plan

    project = write_project(tmp_path / "p", 2)
    suite = project / "suites" / "s000.yaml"
    suite.write_text(
        suite.read_text().replace('      n: "0"\n', '      n: "0"\n      pin: ${env:CUSTOMER_PIN}\n')
    )
    monkeypatch.setenv("CUSTOMER_PIN", PIN)

    def planner_with_a_bug(*_args: object, **_kwargs: object) -> None:
        raise Bug(f"key {CANARY_KEY}, pin {PIN}")

    monkeypatch.setattr(suitesync.commands.plan, "plan_with", planner_with_a_bug)
    return project


def test_a_bug_exits_70_and_names_its_crash_log(crashing_project: Path) -> None:
    result = run_cli("plan", "--no-refresh", cwd=crashing_project)
    assert result.code == 70
    assert result.out == ""
    assert result.err == (
        "internal error: Bug: key ***, pin ***\n"
        "hint: this is a bug in suitesync; please report it with the crash log .suitesync/crash.log\n"
    )


def test_the_crash_log_holds_version_command_and_traceback_but_no_secret(crashing_project: Path) -> None:
    run_cli("plan", "--no-refresh", cwd=crashing_project)
    log = crashing_project / ".suitesync" / "crash.log"
    text = log.read_text(encoding="utf-8")
    assert text.startswith("### version information\n\n```\nsuitesync: ")
    assert "### command\n\n```\nsuitesync plan --no-refresh\n```" in text
    assert "Traceback (most recent call last):" in text
    assert 'in planner_with_a_bug\n    raise Bug(f"key {CANARY_KEY}, pin {PIN}")' in text
    assert text.rstrip().endswith("Bug: key ***, pin ***\n```")
    assert CANARY_KEY not in text and PIN not in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert (crashing_project / ".suitesync" / ".gitignore").is_file()  # never committed


def test_suitesync_debug_raises_the_bug_instead(
    crashing_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUITESYNC_DEBUG", "1")
    with pytest.raises(Bug):
        run_cli("plan", "--no-refresh", cwd=crashing_project)
    assert not (crashing_project / ".suitesync" / "crash.log").exists()
