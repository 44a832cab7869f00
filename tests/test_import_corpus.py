"""`suitesync import` of remote text that YAML would read as something else: a generated corpus.

Every string goes to the platform as a label, a prompt, success criteria and a mockData value;
imported, it must read back exactly (the next plan has nothing to do), and the ids made from the
labels must be valid ids that YAML reads as text.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import yaml

from suitesync.client import SigmaMindClient
from suitesync.emulator import Emulator
from suitesync.load import load_file
from suitesync.secret import Secret

from conftest import AGENT, run_cli, write_project

ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")


def yaml_11_words() -> list[str]:
    """Every plain scalar PyYAML's YAML 1.1 resolver reads as a boolean or null, in each spelling
    the resolver lists, plus spellings it does not (mixed case) which must stay text as well."""
    words = ["yes", "no", "true", "false", "on", "off", "y", "n", "null", "nul", "none", "~"]
    spelled = {variant for word in words for variant in (word, word.upper(), word.title(), word.swapcase())}
    resolver = yaml.resolver.Resolver.yaml_implicit_resolvers
    for first in "yYnNtTfFoO~":
        for tag, regexp in resolver.get(first, []):
            if tag.endswith(("bool", "null")):
                spelled.update(p for p in regexp.pattern.strip("^$").split("|") if p.isalpha() or p == "~")
    return sorted(spelled | {""})


NUMBERS_AND_DATES = [
    "3.10", "1", "-1", "+1", "0755", "0o17", "0x1F", "0b101", "1e3", "1E-3", "1_000", ".5", "1.",
    ".inf", "-.Inf", ".NaN", "1:30", "190:20:30", "-1:30", "2024-01-01", "2024-1-1",
    "2024-01-01T10:00:00Z", "2024-01-01 10:00:00.5 +02:00", "12:30:00",
]  # fmt: skip

INDICATORS = list("-?:,[]{}#&*!|>'\"%@`")
SHAPES = [
    "{}", "{} text", "text {}", "a{}b", "{}{}", "key: {}", "{} # not a comment", "{}: value",
]  # fmt: skip

SPACING = [
    " {}", "{} ", "  {}  ", "\t{}", "{}\t", "{}\n", "{}\n\n", "\n{}", "{}\r\n{}", "{}\r{}",
    "  indented {}\nline", "line\n  indented {}\n", "{}\n\n\nafter blank lines",
    "trailing space \n{}", "\n\n{}", "{}\n  \n", "a\u2028{}", "\u00a0{}",
]  # fmt: skip

OTHERS = [
    "***", "---", "...", "<<", "=", "\\", "a: b", "a:b", "a #b", "a#b", "#a", "a:", "- a", "? a",
    "!!str a", "!!int 3", "&anchor", "*alias", "%YAML 1.2", "@handle", "`code`", "|", "|-", ">",
    "'quoted'", '"double"', "it's", 'say "hi"', "é", "中文 テスト", "🎉 emoji", "zero\u200bwidth",
    "x" * 200, " ".join(["word"] * 40), "long " + "a" * 100, "a  b " * 30, "ends in space " * 10,
    "[not, a, list]", "{not: a map}", "tab\tinside", "back\\slash", "percent % sign",
]  # fmt: skip


def awkward_strings() -> list[str]:
    """Base strings (YAML 1.1 booleans and nulls, numbers, dates, times, indicators, unicode),
    each also put in awkward shapes and spacing: every combination, deduplicated, in order."""
    words = [*yaml_11_words(), *NUMBERS_AND_DATES]
    bases = [*words, *INDICATORS, *OTHERS]
    shaped = [shape.replace("{}", base) for base, shape in itertools.product([*words, *INDICATORS], SHAPES)]
    spaced = [space.replace("{}", base) for base, space in itertools.product(words[::3], SPACING)]
    return list(dict.fromkeys([*bases, *shaped, *spaced]))


def test_the_corpus_covers_what_it_says() -> None:
    corpus = awkward_strings()
    assert len(corpus) > 700
    for needed in ("yes", "NO", "Off", "~", "null", "NULL", "3.10", "1:30", "2024-01-01", "***"):
        assert needed in corpus
    assert any(s.startswith(" ") for s in corpus) and any(s.endswith(" ") for s in corpus)
    assert any("\r\n" in s for s in corpus) and any(s.startswith("  indented") for s in corpus)
    assert all(any(s.startswith(c) for s in corpus) for c in "-?&*!%@`")


def remote_body(text: str) -> dict[str, object]:
    """The string everywhere a case holds text (prompts must not be blank: prefixed if they are)."""
    return {
        "agentId": AGENT,
        "label": text,
        "userPrompt": text if text.strip() else f"p{text}",
        "successCriteria": f"s{text}",
        "mockData": [{"variableName": "value", "value": text}, {"variableName": "other", "value": "x"}],
    }


@pytest.fixture
def imported(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    project = write_project(tmp_path / "p", 0)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    corpus = awkward_strings()
    with SigmaMindClient(emulator.url, Secret("k")) as client:
        for text in corpus:
            client.create_case(remote_body(text))
    result = run_cli("import", "--agent", "main", cwd=project)
    assert result.code == 0, result.err
    return project, corpus


def test_every_awkward_string_imports_and_reads_back_exactly(imported: tuple[Path, list[str]]) -> None:
    project, corpus = imported
    plan = run_cli("plan", "--detailed-exitcode", cwd=project)
    labelled = sum(1 for text in corpus if text)  # a case without a label gets one at the next apply
    assert plan.code == 2, plan.out
    assert plan.out.startswith(f"Plan: 0 to create, 1 to update, 0 to delete; {labelled} unchanged.")
    assert run_cli("validate", cwd=project).code == 0
    assert run_cli("fmt", "--check", cwd=project).code == 0


def test_ids_made_from_awkward_labels_are_valid_and_read_as_text(imported: tuple[Path, list[str]]) -> None:
    project, corpus = imported
    parsed = load_file(project / "suites" / "imported-main.yaml", "imported-main.yaml")
    assert parsed.problems == []
    cases = parsed.data["cases"]
    assert len(cases) == len(corpus)
    ids = [case["id"] for case in cases]
    assert all(type(case_id) is str and ID.match(case_id) for case_id in ids), ids
    assert len(set(ids)) == len(ids)
    # A label equal to its id is left out (the id is the default label); the one case without a
    # label reads back without one.
    read_back = sorted(
        case.get("label", case["id"]) for case in cases if not case["id"].startswith("case-tc_")
    )
    assert read_back == sorted(text for text in corpus if text)
