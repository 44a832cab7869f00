"""`suitesync fmt`: canonical layout, idempotent, every comment kept, meaning never changed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from suitesync.load import load_file

from conftest import EXAMPLES, FIXTURES, run_cli

CORPUS = sorted([*EXAMPLES.rglob("*.yaml"), *(FIXTURES / "suites").rglob("*.yaml")], key=str)
COMMENT = re.compile(r"(?:^|\s)(#.*)$")


def comments(text: str) -> list[str]:
    return sorted(match.group(1).strip() for line in text.splitlines() if (match := COMMENT.search(line)))


@pytest.mark.parametrize("source", CORPUS, ids=[str(p.relative_to(p.parents[2])) for p in CORPUS])
def test_fmt_is_idempotent_keeps_comments_and_meaning(tmp_path: Path, source: Path) -> None:
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    before = load_file(target, target.name)
    first = run_cli("fmt", target.name, cwd=tmp_path)
    once = target.read_bytes()
    second = run_cli("fmt", target.name, cwd=tmp_path)
    assert target.read_bytes() == once, "a second fmt changed the file again"
    assert second.out == ""
    if first.code == 0:
        text = once.decode()
        assert comments(text) == comments(source.read_text(encoding="utf-8-sig"))
        assert load_file(target, target.name).data == before.data
        assert run_cli("fmt", "--check", target.name, cwd=tmp_path).code == 0
    else:  # a file that does not read cleanly is left alone, and says so
        assert once == source.read_bytes()
        assert "not formatted:" in first.err


def test_canonical_layout(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    messy = tmp_path / "suites" / "messy.yaml"
    messy.write_text(
        "# my suite\n"
        "cases:\n"
        '    -   successCriteria: "The agent helps."   # judged per attempt\n'
        '        userPrompt: "You are a customer who writes a very long message about a delayed parcel'
        ' and a refund."\n'
        '        id: "late-parcel"\n'
        '        mockData: {flag: \'yes\', version: "3.10", name: "Ann"}\n'
        "        label: 'Late parcel'\n"
        "agent: D5D0p7TUs66TTAEAx\n"
    )
    check = run_cli("fmt", "--check", cwd=tmp_path)
    assert (check.code, check.out) == (1, "would reformat: suites/messy.yaml\n")
    assert "1 file would change" in check.err
    assert run_cli("fmt", cwd=tmp_path).out == "formatted: suites/messy.yaml\n"
    assert messy.read_text() == (
        "# my suite\n"
        "agent: D5D0p7TUs66TTAEAx\n"
        "cases:\n"
        "  - id: late-parcel\n"
        "    label: Late parcel\n"
        "    userPrompt: >-\n"
        "      You are a customer who writes a very long message about a delayed parcel and a\n"
        "      refund.\n"
        "    successCriteria: The agent helps.         # judged per attempt\n"  # its column is kept
        "    mockData: {flag: 'yes', version: \"3.10\", name: Ann}\n"
    )
    assert run_cli("fmt", "--check", cwd=tmp_path).code == 0


def test_unreadable_files_are_left_alone(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("cases:\n  - id: a\n\tuserPrompt: p\n")
    result = run_cli("fmt", "broken.yaml", cwd=tmp_path)
    assert result.code == 1
    assert result.err == (
        "broken.yaml:3:1: yaml-tab: tab character in indentation (indent with spaces)\n"
        "broken.yaml: not formatted: it does not validate (1 problem)\n"
        "0 of 1 file reformatted; 1 left alone\n"
    )
    assert broken.read_text() == "cases:\n  - id: a\n\tuserPrompt: p\n"


MISTYPED = (
    "agent: D5D0p7TUs66TTAEAx\n"
    "cases:\n"
    "  - id: a\n"
    "    userPrompt: p\n"
    "    successCriteria: s\n"
    "    mockData:\n"
    "      member: yes\n"
    "      vip: NO\n"
    "      slot: 1:30\n"
    "      note: ~\n"
    "      extra: null\n"
)


def test_a_file_that_does_not_validate_is_refused_with_its_problems(tmp_path: Path) -> None:
    # Which of `yes` or 'yes' the author meant is theirs to say: fmt neither guesses nor calls it
    # its own bug, and `~`/`null` are not silently rewritten as an empty value.
    (tmp_path / "suites").mkdir()
    suite = tmp_path / "suites" / "a.yaml"
    suite.write_text(MISTYPED)
    expected = (
        "suites/a.yaml:7:15: yaml-coerced: cases[0].mockData.member: yes is read by YAML as a boolean, "
        "not text (quote it: 'yes')\n"
        "suites/a.yaml:8:12: yaml-coerced: cases[0].mockData.vip: NO is read by YAML as a boolean, "
        "not text (quote it: 'NO')\n"
        "suites/a.yaml:9:13: yaml-coerced: cases[0].mockData.slot: 1:30 is read by YAML as a number, "
        "not text (quote it: '1:30')\n"
        "suites/a.yaml:10:13: yaml-coerced: cases[0].mockData.note: ~ is read by YAML as null (no value), "
        "not text (quote it: '~')\n"
        "suites/a.yaml:11:14: yaml-coerced: cases[0].mockData.extra: null is read by YAML as null "
        "(no value), not text (quote it: 'null')\n"
        "suites/a.yaml: not formatted: it does not validate (5 problems)\n"
    )
    for args in (["fmt"], ["fmt", "--check"], ["fmt", "suites/a.yaml"]):
        result = run_cli(*args, cwd=tmp_path)
        assert (result.code, result.out) == (1, "")
        assert result.err.startswith(expected) and "(a bug)" not in result.err
        assert suite.read_text() == MISTYPED
    suite.write_text(
        MISTYPED.replace(": yes", ": 'yes'")
        .replace(": NO", ": 'NO'")
        .replace(": 1:30", ": '1:30'")
        .replace(": ~", ": '~'")
        .replace(": null", ": 'null'")
    )
    quoted = suite.read_text()
    assert run_cli("fmt", cwd=tmp_path).code == 0
    assert suite.read_text() == quoted  # already canonical: the quotes stay, the meaning too


def test_pre_commit_hooks_are_declared(tmp_path: Path) -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent
    hooks = {hook["id"]: hook for hook in yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"suitesync-validate", "suitesync-fmt"}
    assert hooks["suitesync-validate"]["pass_filenames"] is False
    assert all(hook["language"] == "python" for hook in hooks.values())
    # Each hook's entry, run as pre-commit runs it, works on the example project.
    project = tmp_path / "repo"
    shutil.copytree(EXAMPLES, project)
    validate = hooks["suitesync-validate"]["entry"].split()[1:]
    assert run_cli(*validate, cwd=project).code == 0
    files = [
        str(p.relative_to(project))
        for p in sorted(project.rglob("*.yaml"))
        if re.search(hooks["suitesync-fmt"]["files"], str(p.relative_to(project)))
    ]
    assert files and all(f.startswith("suites/") for f in files)
    fmt = hooks["suitesync-fmt"]["entry"].split()[1:]
    assert run_cli(*fmt, *files, cwd=project).code == 0
    (project / "suites" / "mistyped.yaml").write_text(MISTYPED)
    refused = run_cli(*fmt, "suites/mistyped.yaml", cwd=project)
    assert refused.code == 1 and "suites/mistyped.yaml:7:15: yaml-coerced:" in refused.err
