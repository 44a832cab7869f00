"""Parsed files in, TestCases and Problems out: JSON Schema, defaults, agents, project-wide ids.

Validation runs jsonschema_rs (a Rust implementation of 2020-12, about 50x faster than the
pure-Python `jsonschema` here; ../shared/perf-notes.md) against the same schemas/suite.schema.json
that editors use. Each error's instance path is mapped back to its place in the file for file:line:col.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from suitesync.errors import Problem, SuitesyncError
from suitesync.load import TAG_NAMES, TAG_STR, TOO_MANY, CaseSite, ParsedFile, Spot
from suitesync.models import (
    SECRET_REFERENCE,
    KeepPayload,
    TestCase,
    new_test_case,
    normalize_agent_id,
)
from suitesync.payloads import suite_payload
from suitesync.schema import load_schema
from suitesync.text import printable

_VALID_CASE = {"id": "valid", "userPrompt": "p", "successCriteria": "s"}


@dataclass(frozen=True, slots=True)
class _ErrorView:
    """What a problem needs from a jsonschema_rs error, its instance path made file-absolute."""

    instance_path: tuple[str | int, ...]
    schema_path: tuple[str | int, ...]
    kind: Any
    instance: Any
    message: str

    @classmethod
    def of(cls, error: Any, prefix: tuple[str | int, ...] = ()) -> _ErrorView:
        path = (*prefix, *error.instance_path)
        return cls(path, tuple(error.schema_path), error.kind, error.instance, error.message)


# An alias is a short lowercase name; anything else in `agent:` is taken as an agent id.
_LOOKS_LIKE_ALIAS = re.compile(r"^[a-z][a-z_-]*$")


@dataclass
class ValidationResult:
    cases: list[TestCase] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    case_count: int = 0
    omitted: int = 0  # problems past the per-file cap: counted, each file's `too-many-problems` says how many

    @property
    def problem_count(self) -> int:
        """Every problem found, shown or not (a `too-many-problems` note is not one)."""
        return sum(p.code != TOO_MANY for p in self.problems) + self.omitted

    @property
    def ok(self) -> bool:
        return not self.problems


class InvalidSuitesError(SuitesyncError):
    """The suites have problems: the renderer shows `result`'s problems, then the message."""

    def __init__(self, message: str, result: ValidationResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True, slots=True)
class _IdSite:
    path: str
    line: int
    col: int


class SuiteValidator:
    """Validates suite files one at a time and checks ids across all of them at the end."""

    def __init__(
        self,
        agents: Mapping[str, str] | None = None,
        *,
        keep_cases: bool = True,
        keep_payload: KeepPayload | None = None,
        env_value: Callable[[str], str | None] | None = None,
    ) -> None:
        self.keep_cases = keep_cases
        self.keep_payload = keep_payload
        self.env_value = env_value
        self.schema = load_schema()
        self.validator = jsonschema_rs.Draft202012Validator(self.schema)
        case_schema = {
            "$schema": self.schema["$schema"],
            "$defs": self.schema["$defs"],
            "$ref": "#/$defs/case",
        }
        self.case_validator = jsonschema_rs.Draft202012Validator(case_schema)
        self.agents = dict(agents or {})
        self.result = ValidationResult()
        self._ids: dict[str, _IdSite] = {}
        self._unknown_aliases: set[Problem] = set()

    def add(self, parsed: ParsedFile) -> None:
        """Every problem of one file goes through `parsed.report`, which keeps the first
        MAX_PROBLEMS_PER_FILE and counts the rest: work and output stay bounded per file."""
        self.result.files += 1
        data = parsed.data
        if data is not None:
            self._check_file(parsed, data)
        self.result.problems.extend(parsed.all_problems())
        self.result.omitted += parsed.omitted

    def _check_file(self, parsed: ParsedFile, data: dict[str, Any]) -> None:
        bad_cases = self._check_schema(parsed, data)
        raw_cases = data.get("cases")
        if not isinstance(raw_cases, list):
            return
        for index, (raw, site) in enumerate(zip(raw_cases, parsed.cases, strict=True)):
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                ok = bad_cases is not None and index not in bad_cases
                self._add_case(parsed, data, raw, index, site, ok)

    def finish(self) -> ValidationResult:
        self.result.problems = sorted(set(self.result.problems), key=problem_order)
        return self.result

    def _check_schema(self, parsed: ParsedFile, data: dict[str, Any]) -> set[int] | None:
        """Report schema errors; return the indexes of broken cases, or None if the whole file is.

        The file's own keys are checked with the cases stood in for by one valid case, then each
        case on its own: collecting errors costs several times a yes/no check, so only the cases
        that fail are searched for errors, and a valid project pays for yes/no checks alone.
        """
        bad: set[int] | None = None if parsed.problems else set()
        cases = data.get("cases")
        per_case = isinstance(cases, list) and bool(cases)
        top = {**data, "cases": [_VALID_CASE]} if per_case else data
        reporter = _SchemaReporter(parsed, self.schema)
        if not self.validator.is_valid(top):
            bad = None
            for error in self.validator.iter_errors(top):
                reporter.report(_ErrorView.of(error))
        if not per_case:
            return bad
        assert isinstance(cases, list)
        for index, case in enumerate(cases):
            if self.case_validator.is_valid(case):
                continue
            if bad is not None:
                bad.add(index)
            if parsed.full and type(case) is not dict:
                # A case that is not a mapping breaks one rule (`type: object`; the others only
                # apply to mappings): counted without asking for its errors, as a flood of them
                # (300k items in one file) would cost seconds.
                parsed.omitted += 1
                continue
            for error in self.case_validator.iter_errors(case):
                reporter.report(_ErrorView.of(error, prefix=("cases", index)))
        return bad

    def _add_case(
        self,
        parsed: ParsedFile,
        data: dict[str, Any],
        raw: dict[str, Any],
        index: int,
        site: CaseSite,
        ok: bool,
    ) -> None:
        case_id: str = raw["id"]
        ok = self._claim_ids(parsed, index, site, case_id, raw.get("previousIds")) and ok
        agent_id = self._resolve_agent(parsed, index, site, raw.get("agent", data.get("agent")))
        if not ok or agent_id is None:
            return
        defaults: dict[str, Any] = data.get("defaults", {})
        mock_data = {**defaults.get("mockData", {}), **raw.get("mockData", {})}
        secrets = self._resolve_secrets(parsed, index, raw, mock_data)
        if secrets is None:
            return
        payload = suite_payload(case_id, agent_id, raw, defaults, mock_data)
        self.result.case_count += 1
        if not self.keep_cases:
            return
        self.result.cases.append(
            new_test_case(
                case_id,
                payload,
                self.keep_payload,
                previous_ids=tuple(raw.get("previousIds", ())),
                protect=raw.get("protect", defaults.get("protect", False)),
                label=payload["label"],
                attempt=payload["attempt"],
                min_pass_rate=raw.get("minPassRate", defaults.get("minPassRate")),
                quarantine=raw.get("quarantine", defaults.get("quarantine", False)),
                tags=tuple(raw.get("tags", defaults.get("tags", ()))),
                source=parsed.display,
                line=site.line,
                col=site.col,
                secrets=secrets,
            )
        )

    def _resolve_secrets(
        self, parsed: ParsedFile, index: int, raw: dict[str, Any], mock_data: dict[str, Any]
    ) -> tuple[tuple[str, str], ...] | None:
        """Replace `${env:NAME}` mock data by the variable's value, in place; None if one is unset.

        Without a resolver (validate, offline) the references stay as they are.
        """
        if self.env_value is None:
            return ()
        secrets = []
        for name, value in mock_data.items():
            match = SECRET_REFERENCE.match(value) if isinstance(value, str) else None
            if match is None:
                continue
            resolved = self.env_value(match.group(1))
            if resolved is None:
                in_case = name in raw.get("mockData", {})
                spot = parsed.locate(
                    ["cases", index, "mockData", name] if in_case else ["defaults", "mockData", name]
                )
                parsed.report(
                    _problem_at(
                        parsed,
                        spot,
                        "secret-missing",
                        f"mockData.{name}: environment variable {match.group(1)} is not set",
                        f"export {match.group(1)}: its value is sent to the API, never stored or printed",
                    )
                )
                return None
            mock_data[name] = resolved
            secrets.append((name, match.group(1)))
        return tuple(secrets)

    def _claim_ids(self, parsed: ParsedFile, index: int, site: CaseSite, case_id: str, previous: Any) -> bool:
        """Each id (current or previous) may name one case in the whole project."""
        ok = self._claim(parsed, _IdSite(parsed.display, site.id_line, site.id_col), case_id)
        if isinstance(previous, list):
            for number, name in enumerate(previous):
                spot = parsed.locate(["cases", index, "previousIds", number])
                ok = (
                    not isinstance(name, str)
                    or self._claim(parsed, _IdSite(parsed.display, spot.line, spot.col), name)
                ) and ok
        return ok

    def _claim(self, parsed: ParsedFile, site: _IdSite, name: str) -> bool:
        first = self._ids.setdefault(name, site)
        if first is site:
            return True
        if parsed.full:
            parsed.omitted += 1
            return False
        parsed.report(
            Problem(
                site.path,
                site.line,
                site.col,
                "duplicate-id",
                f'id "{printable(name, 80)}" is already used at {first.path}:{first.line}:{first.col}',
                "ids (and previousIds) must be unique across the project",
            )
        )
        return False

    def _resolve_agent(self, parsed: ParsedFile, index: int, site: CaseSite, agent: Any) -> str | None:
        if agent is None:
            parsed.report(
                Problem(
                    parsed.display,
                    site.line,
                    site.col,
                    "missing-agent",
                    "case has no agent",
                    "set `agent:` at the top of the file or on the case",
                )
            )
            return None
        if not isinstance(agent, str):
            return None  # the schema already reported it
        if agent in self.agents:
            return normalize_agent_id(self.agents[agent])
        if _LOOKS_LIKE_ALIAS.match(agent):
            self._unknown_alias(parsed, index, agent)
            return None
        return normalize_agent_id(agent)

    def _unknown_alias(self, parsed: ParsedFile, index: int, agent: str) -> None:
        in_case = "agent" in parsed.data["cases"][index]
        spot = parsed.locate(["cases", index, "agent"] if in_case else ["agent"])
        hint = _suggest(agent, self.agents) or "define it under `agents:` in suitesync.yaml"
        problem = _problem_at(
            parsed, spot, "unknown-agent", f'"{agent}" is not an agent alias of this project', hint
        )
        if problem not in self._unknown_aliases:  # one report per file-level alias, not one per case
            self._unknown_aliases.add(problem)
            parsed.report(problem)


def validate_files(
    files: Iterable[ParsedFile],
    agents: Mapping[str, str] | None = None,
    *,
    keep_cases: bool = True,
    keep_payload: KeepPayload | None = None,
    env_value: Callable[[str], str | None] | None = None,
) -> ValidationResult:
    """Validate every file; `keep_cases=False` only counts the cases (validate needs no more),
    `keep_payload` says which payloads are worth keeping (plan drops the unchanged ones),
    `env_value` resolves `${env:NAME}` mock data (plan and apply; validate stays offline)."""
    validator = SuiteValidator(agents, keep_cases=keep_cases, keep_payload=keep_payload, env_value=env_value)
    for parsed in files:
        validator.add(parsed)
    return validator.finish()


def schema_problems(parsed: ParsedFile, document: Any, schema_name: str) -> list[Problem]:
    """`document` (the data of `parsed`) against a packaged schema: located and hinted like a suite's
    problems (unknown keys with "did you mean", values YAML reads as another type with "quote it").

    Reported into `parsed` (so capped per file like a suite's); returns what it added.
    """
    schema = load_schema(schema_name)
    before = len(parsed.problems)
    reporter = _SchemaReporter(parsed, schema)
    for error in jsonschema_rs.Draft202012Validator(schema).iter_errors(document):
        reporter.report(_ErrorView.of(error))
    return parsed.problems[before:]


class _SchemaReporter:
    """Schema errors into a file's capped problems: built while there is room, counted after.

    A value that YAML already reported (a bad tag, a number too long) is not reported again."""

    def __init__(self, parsed: ParsedFile, schema: dict[str, Any]) -> None:
        self.parsed = parsed
        self.schema = schema
        self.load_spots = {(p.line, p.col) for p in parsed.problems}

    def report(self, error: _ErrorView) -> None:
        parsed = self.parsed
        if type(error.kind).__name__ == "AdditionalProperties":
            allowed = _allowed_keys(self.schema, error.schema_path)
            keys = list(error.kind.unexpected)
            room = parsed.room
            for key in keys[:room]:
                parsed.report(_unknown_key(parsed, [*error.instance_path, key], allowed))
            parsed.omitted += max(0, len(keys) - room)
        elif _is_redundant(error):
            return
        elif parsed.full:
            parsed.omitted += 1
        else:
            problem = _schema_problem(parsed, list(error.instance_path), error)
            if (problem.line, problem.col) not in self.load_spots:
                parsed.report(problem)


def problem_order(problem: Problem) -> tuple[str, int, int, str, str]:
    """Problems by path, line and column; a note on the whole file (line 0: how many more problems
    it has) after its located ones. Compared in C: the dataclass's ordering runs Python code."""
    return (problem.path, problem.line or _LAST, problem.col, problem.code, problem.message)


_LAST = 1 << 62


def _problem_at(parsed: ParsedFile, spot: Spot, code: str, message: str, hint: str | None = None) -> Problem:
    return Problem(parsed.display, spot.line, spot.col, code, message, hint)


def _suggest(word: str, options: Iterable[str]) -> str | None:
    """'did you mean X?' for the closest option, case-insensitively."""
    by_lower = {option.lower(): option for option in options}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"did you mean {by_lower[match[0]]}?" if match else None


def _format_path(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{printable(part, 80)}" if text else printable(part, 80)
    return text or "top level"


def _is_redundant(error: _ErrorView) -> bool:
    """An empty text fails both its minLength and its non-blank pattern: say it once (as minLength)."""
    path = error.instance_path
    return (
        type(error.kind).__name__ == "Pattern"
        and error.instance == ""
        and bool(path)
        and path[-1] in _TEXT_FIELDS
    )


_TEXT_FIELDS = ("userPrompt", "successCriteria", "label")


def _schema_problem(parsed: ParsedFile, path: list[str | int], error: Any) -> Problem:
    spot = parsed.locate(path)
    where = _format_path(path)
    kind = error.kind
    name = type(kind).__name__
    if name == "Required":
        return _problem_at(
            parsed, spot, "schema-required", f"{where}: missing required key `{kind.property}`"
        )
    if name == "Type":
        return _type_problem(parsed, spot, where, error)
    if name == "Enum":
        message = f'{where}: "{_value_text(error.instance)}" is not an allowed value'
        return _problem_at(
            parsed, spot, "schema-enum", message, _enum_hint(_value_text(error.instance), kind.options)
        )
    if name == "Pattern" and _is_id_path(path):
        hint = "use lowercase letters, digits, '_', '.' or '-', starting with a letter or digit"
        message = f'{where}: "{_value_text(error.instance)}" is not a valid id'
        return _problem_at(parsed, spot, "schema-id", message, hint)
    if name in ("MinLength", "Pattern") and path and path[-1] in ("userPrompt", "successCriteria", "label"):
        return _problem_at(
            parsed, spot, "schema-empty", f"{where} is empty", "write the text, or remove the key"
        )
    if name == "MinItems" and path in (["cases"], ["suites"]):
        hint = "add at least one case" if path == ["cases"] else "add a glob, or leave the key out"
        return _problem_at(parsed, spot, "schema-empty", f"{path[0]} is empty", hint)
    if name == "PropertyNames":
        bad = str(kind.error.instance)
        hint = "use letters, digits, '_', '.' or '-', not starting with a digit"
        message = f'{where}: "{printable(bad, 80)}" is not a valid variable name'
        return _problem_at(parsed, parsed.locate_key([*path, bad]), "schema-name", message, hint)
    return _problem_at(parsed, spot, f"schema-{kind.name.lower()}", f"{where}: {_own_words(error)}")


def _own_words(error: Any) -> str:
    """jsonschema_rs's message, whose quote of the value (in JSON, however long) is cut short."""
    message = str(error.message)
    if isinstance(error.instance, str):
        quoted = json.dumps(error.instance, ensure_ascii=False)
        message = message.replace(quoted, f'"{printable(error.instance, 80)}"')
    return printable(message, 300)


def _value_text(value: Any) -> str:
    """A value quoted in a message: short, one line, printable."""
    return printable(value if isinstance(value, str) else _describe(value), 80)


def _is_id_path(path: Sequence[str | int]) -> bool:
    return (bool(path) and path[-1] == "id") or (len(path) >= 2 and path[-2] == "previousIds")


def _enum_hint(value: str, options: Sequence[str]) -> str:
    base = value.removesuffix("-fast-tier")
    if base != value and base in options:
        return f"{base} has no -fast-tier variant in the documented list; use {base}"
    return _suggest(value, options) or "`suitesync schema` lists the allowed values"


def _unknown_key(parsed: ParsedFile, path: list[str | int], allowed: list[str]) -> Problem:
    key = str(path[-1])
    hint = _suggest(key[:200], allowed) or ("allowed here: " + ", ".join(allowed))
    message = f"unknown key `{printable(key, 80)}`"
    return _problem_at(parsed, parsed.locate_key(path), "schema-unknown-key", message, hint)


def _allowed_keys(schema: dict[str, Any], schema_path: Sequence[str | int]) -> list[str]:
    sub: Any = schema
    for part in list(schema_path)[:-1]:
        sub = sub[part]
    return list(sub.get("properties", {}))


def _type_problem(parsed: ParsedFile, spot: Spot, where: str, error: Any) -> Problem:
    expected = _expected_type(error.kind)
    if spot.plain is not None and spot.tag != TAG_STR and expected == "string":
        shown = printable(spot.plain, 80) or "(nothing)"
        what = TAG_NAMES.get(spot.tag or "", "a non-string")
        message = f"{where}: {shown} is read by YAML as {what}, not text"
        return _problem_at(parsed, spot, "yaml-coerced", message, f"quote it: '{shown}'")
    if isinstance(error.instance, str) and expected == "integer":
        message = f'{where}: expected a whole number, got the text "{printable(error.instance, 80)}"'
        return _problem_at(parsed, spot, "schema-type", message, "write the number without quotes")
    message = f"{where}: expected {_article(expected)}, got {_describe(error.instance)}"
    return _problem_at(parsed, spot, "schema-type", message)


def _expected_type(kind: Any) -> str:
    types = getattr(kind, "types", None) or ["value"]
    return str(types) if isinstance(types, str) else str(next(iter(types)))


def _article(type_name: str) -> str:
    articles = {"object": "a mapping", "array": "a list", "integer": "a whole number", "string": "text"}
    return articles.get(type_name, "true or false" if type_name == "boolean" else f"a {type_name}")


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f'the text "{printable(value, 80)}"'
    if isinstance(value, int) and value.bit_length() > 256:
        return f"a number of {value.bit_length()} bits"
    return f"{value} (a number)"
