"""`suitesync validate` over real files: the invalid corpus, valid fixtures, examples, formats."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from conftest import EXAMPLES, FIXTURES, run_cli

INVALID = FIXTURES / "suites" / "invalid"
VALID = FIXTURES / "suites" / "valid"
CORPUS = sorted(p for p in INVALID.glob("*.yaml") if p.name != "suitesync.yaml")


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 25
    assert all(p.with_suffix(".expected").is_file() for p in CORPUS)


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_invalid_file_reports_expected_problems(path: Path) -> None:
    result = run_cli("validate", path.name, cwd=INVALID)
    expected = path.with_suffix(".expected").read_text()
    assert result.out == expected
    assert result.code == 1
    assert expected.strip(), "every corpus file must produce at least one problem"
    assert "Traceback" not in result.err


def test_several_mistakes_are_all_reported_in_one_run() -> None:
    result = run_cli("validate", "several-mistakes.yaml", cwd=INVALID)
    codes = [line.split(": ")[1] for line in result.out.splitlines()]
    assert codes == [
        "schema-enum",
        "schema-required",
        "schema-unknown-key",
        "schema-minimum",
        "yaml-coerced",
        "schema-id",
        "schema-empty",
    ]
    assert "7 problems in 1 file" in result.err


def test_whole_corpus_in_one_run_is_sorted_by_path_and_line() -> None:
    result = run_cli("validate", cwd=INVALID)
    lines = result.out.splitlines()
    keys = [(line.split(":")[0], int(line.split(":")[1]), int(line.split(":")[2])) for line in lines]
    assert keys == sorted(keys)
    assert {key[0] for key in keys} == {p.name for p in CORPUS}


def test_file_over_size_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("agent: D5D0p7TUs66TTAEAx\ncases:\n" + "# padding\n" * 110_000)
    result = run_cli("validate", "big.yaml", cwd=tmp_path)
    assert result.code == 1
    assert result.out.startswith("big.yaml:1:1: yaml-too-large: file is 1,100,032 bytes")


def test_alias_bomb_fails_fast(tmp_path: Path) -> None:
    bomb = "cases:\n  - &a0 [x]\n" + "".join(
        f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 20)}]\n" for i in range(1, 40)
    )
    (tmp_path / "bomb.yaml").write_text(bomb)
    # CPU time of this process (the CLI runs in it), not wall-clock time: a loaded machine
    # stretches the latter, while an alias bomb that was expanded would cost seconds of the former.
    started = time.process_time()
    result = run_cli("validate", "bomb.yaml", cwd=tmp_path)
    assert time.process_time() - started < 1.0
    assert "yaml-alias: alias *a0 (and 779 more)" in result.out


def _flow_nesting(levels: int) -> str:
    """A file nesting `levels` deep (the top-level mapping is the first): `cases: [[[...]]]`."""
    return "cases: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


def _flow_map_nesting(levels: int) -> str:
    return "cases: " + "{a: " * (levels - 1) + "1" + "}" * (levels - 1) + "\n"


def _block_nesting(levels: int) -> str:
    """Block sequences on one line (`- - - x`): 200k levels stay far below the size cap."""
    return "cases:\n  " + "- " * (levels - 1) + "x\n"


def _flow_after_quotes_and_comments(levels: int) -> str:
    # Brackets inside quoted scalars and comments are text, not nesting.
    return (
        "cases:\n  - id: x\n    mockData: [ 'a[', \"b{\", # c[[[\n "
        + "[" * (levels - 4)
        + "]" * (levels - 4)
        + "]\n"
    )


NESTING = {
    # name: (builder, line:col where the 33rd level opens)
    "flow": (_flow_nesting, "1:39"),
    "flow-mapping": (_flow_map_nesting, "1:132"),
    "block": (_block_nesting, "2:65"),
    "flow-after-quotes": (_flow_after_quotes_and_comments, "4:30"),
}


@pytest.mark.parametrize("levels", [33, 1_000, 2_000, 200_000])
@pytest.mark.parametrize("shape", sorted(NESTING))
def test_too_deep_nesting_is_reported_where_the_33rd_level_opens(
    tmp_path: Path, shape: str, levels: int
) -> None:
    # libyaml 0.2.5 (PyYAML 6.0.4) stops at 1,000 levels by itself, and its scanner looks ahead over
    # runs of `[`, so for flow nesting its error arrives before level 33 does; the C composer
    # recurses and crashes the interpreter at 200k levels. The answer is the same whatever the version.
    build, where = NESTING[shape]
    (tmp_path / "deep.yaml").write_text(build(levels))
    result = run_cli("validate", "deep.yaml", cwd=tmp_path)
    assert result.code == 1
    assert result.out == (
        f"deep.yaml:{where}: yaml-too-deep: nesting deeper than 32 levels (a suite needs at most 4 levels)\n"
    )


@pytest.mark.parametrize("shape", sorted(NESTING))
def test_32_levels_of_nesting_are_allowed(tmp_path: Path, shape: str) -> None:
    (tmp_path / "deep.yaml").write_text(NESTING[shape][0](32))
    result = run_cli("validate", "deep.yaml", cwd=tmp_path)
    assert "yaml-too-deep" not in result.out
    assert "yaml-syntax" not in result.out


def test_duplicate_id_across_files_names_both_places() -> None:
    result = run_cli("validate", "a.yaml", "b.yaml", cwd=FIXTURES / "suites" / "dup-across")
    assert result.out == (
        'b.yaml:6:9: duplicate-id: id "shared-id" is already used at a.yaml:3:9 '
        "(ids (and previousIds) must be unique across the project)\n"
    )


def test_valid_fixtures_pass() -> None:
    result = run_cli("validate", ".", cwd=VALID)
    assert (result.code, result.out) == (0, "")
    assert result.err == "ok: 3 files, 3 cases\n"


def test_examples_validate_with_dash_c() -> None:
    result = run_cli("validate", "-C", str(EXAMPLES))
    assert result.code == 0, result.out
    files = list((EXAMPLES / "suites").rglob("*.yaml"))
    assert len(files) >= 3
    cases = sum(text.count("\n  - id: ") for text in (f.read_text() for f in files))
    assert cases >= 12
    assert result.err == f"ok: {len(files)} files, {cases} cases\n"


def test_dash_c_before_the_command_too() -> None:
    assert run_cli("-C", str(EXAMPLES), "validate").code == 0


def test_json_format_is_versioned_and_complete() -> None:
    result = run_cli("validate", "--format", "json", "several-mistakes.yaml", "bad-id.yaml", cwd=INVALID)
    document = json.loads(result.out)
    assert document["version"] == 1
    assert document["valid"] is False
    assert document["files"] == 2
    assert len(document["problems"]) == 8
    first = document["problems"][0]
    assert first == {
        "path": "bad-id.yaml",
        "line": 3,
        "col": 9,
        "code": "schema-id",
        "message": 'cases[0].id: "Angry Customer" is not a valid id',
        "hint": "use lowercase letters, digits, '_', '.' or '-', starting with a letter or digit",
    }


def test_json_format_when_valid() -> None:
    document = json.loads(run_cli("validate", "--format", "json", "-C", str(EXAMPLES)).out)
    assert document["valid"] is True and document["problems"] == []


def test_validate_makes_no_network_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("validate opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert run_cli("validate", "-C", str(EXAMPLES)).code == 0


def test_usage_errors_never_exit_2() -> None:
    result = run_cli("validate", "--format", "xml", cwd=VALID)
    assert result.code == 64
    assert "Invalid value for '--format'" in result.err


def test_missing_path_is_a_usage_error() -> None:
    assert run_cli("validate", "no-such-file.yaml", cwd=VALID).code == 64


# --- hostile input: located problems, never an internal error (issue 12) ---------------------------

CASE_HEAD = "agent: D5D0p7TUs66TTAEAx\ncases:\n  - id: a\n    userPrompt: p\n    successCriteria: s\n"
ESCAPE_HINT = "remove it, or write it as an escape inside double quotes"


@pytest.mark.parametrize(
    ("char", "named", "escape"),
    [
        ("\x00", "U+0000 (NUL)", '"\\x00"'),
        ("\x1b", "U+001B (ESC)", '"\\x1b"'),
        ("\x7f", "U+007F (DEL)", '"\\x7f"'),
        ("\ufffe", "U+FFFE (a noncharacter)", '"\\ufffe"'),
    ],
    ids=["NUL", "ESC", "DEL", "U+FFFE"],
)
def test_a_control_character_is_located_and_the_other_files_are_still_validated(
    tmp_path: Path, char: str, named: str, escape: str
) -> None:
    (tmp_path / "bad.yaml").write_text(CASE_HEAD.replace("userPrompt: p", f"userPrompt: say {char}hi{char}"))
    (tmp_path / "good.yaml").write_text(CASE_HEAD.replace("id: a", "id: b") + "    attempt: 0\n")
    result = run_cli("validate", "bad.yaml", "good.yaml", cwd=tmp_path)
    assert result.code == 1
    assert result.out == (
        f"bad.yaml:4:21: yaml-character: character {named} cannot appear in YAML (and 1 more in this file)"
        f" ({ESCAPE_HINT}: {escape})\n"
        "good.yaml:6:14: schema-minimum: cases[0].attempt: 0 is less than the minimum of 1\n"
    )
    assert result.err == "2 problems in 2 files\n"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("!!int x", "yaml-tag: x is not a number, as its tag !!int says"),
        ("!!float x", "yaml-tag: x is not a number, as its tag !!float says"),
        ("!!bool maybe", "yaml-tag: maybe is not a boolean, as its tag !!bool says"),
        ('!!int ""', "yaml-tag: (nothing) is not a number, as its tag !!int says"),
        ("!!int 0b", "yaml-tag: 0b is not a number, as its tag !!int says"),
        ("0x_", "yaml-coerced: 0x_ looks like a number to YAML but is not one (quote it: '0x_')"),
        ("9" * 5_000, "yaml-number: a number of 5,000 characters is too large to read"),
        ("0x" + "f" * 4_000, "yaml-number: a number of 4,002 characters is too large to read"),
    ],
    ids=["int", "float", "bool", "int-empty", "int-0b", "implicit-hex", "5000-digits", "long-hex"],
)
def test_a_value_that_is_not_what_its_type_says_is_one_located_problem(
    tmp_path: Path, value: str, problem: str
) -> None:
    (tmp_path / "bad.yaml").write_text(CASE_HEAD + f"    attempt: {value}\n")
    result = run_cli("validate", "bad.yaml", cwd=tmp_path)
    assert result.code == 1
    assert result.out.startswith(f"bad.yaml:6:14: {problem}")
    assert result.out.count("\n") == 1, "one problem, not a second one about the same value"


def test_values_quoted_in_messages_are_one_printable_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        CASE_HEAD + '    llmModel: "gpt\\n::error::forged\\e[31m"\n    label: "' + "x" * 5_000 + '"\n'
    )
    result = run_cli("validate", "--format", "json", "bad.yaml", cwd=tmp_path)
    messages = [p["message"] for p in json.loads(result.out)["problems"]]
    assert messages == [
        'cases[0].llmModel: "gpt\\n::error::forged\\x1b[31m" is not an allowed value',
        'cases[0].label: "' + "x" * 80 + '… (5,000 characters)" is longer than 256 characters',
    ]


def test_problems_past_50_in_a_file_are_counted_not_shown(tmp_path: Path) -> None:
    # Issue 12: 300k flow items in 600 KB took 21 s and printed 300k lines; 60k unknown keys 7 s.
    items = ",".join("1" * 300_000)
    (tmp_path / "items.yaml").write_text(f"agent: D5D0p7TUs66TTAEAx\ncases: [{items}]\n")
    (tmp_path / "keys.yaml").write_text(CASE_HEAD + "".join(f"    k{n}: 1\n" for n in range(60_000)))
    started = time.process_time()
    result = run_cli("validate", "items.yaml", "keys.yaml", cwd=tmp_path)
    assert time.process_time() - started < 10  # CPU seconds: about 2 here; nothing else is timed
    lines = result.out.splitlines()
    assert len(lines) == 102
    assert lines[0] == "items.yaml:2:9: schema-type: cases[0]: expected a mapping, got 1 (a number)"
    assert lines[50] == (
        "items.yaml:0:0: too-many-problems: and 299950 more problems in this file "
        "(only the first 50 problems of a file are shown: fix them and run it again)"
    )
    assert lines[51].startswith("keys.yaml:6:5: schema-unknown-key: unknown key `k0`")
    assert lines[101].startswith("keys.yaml:0:0: too-many-problems: and 59950 more problems in this file")
    assert result.err == "360000 problems in 2 files (100 shown)\n"
    document = json.loads(run_cli("validate", "--format", "json", "keys.yaml", cwd=tmp_path).out)
    assert (len(document["problems"]), document["omitted"]) == (51, 59_950)
    assert document["problems"][-1]["code"] == "too-many-problems"


def test_a_file_is_read_up_to_the_size_cap_whatever_its_size_says() -> None:
    result = run_cli("validate", "/dev/zero")
    assert result.out == (
        "/dev/zero:1:1: yaml-too-large: file is over the 1,048,576-byte cap "
        "(split it into several suite files)\n"
    )


def test_a_file_without_a_final_line_break_is_located(tmp_path: Path) -> None:
    (tmp_path / "cut.yaml").write_text("agent: x\nd")  # libyaml places its mark past the last line
    result = run_cli("validate", "cut.yaml", cwd=tmp_path)
    assert result.out.startswith("cut.yaml:3:1: yaml-syntax: could not find expected ':'")
