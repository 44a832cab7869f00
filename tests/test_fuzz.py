"""Property-based fuzzing of `validate` and `plan --no-refresh` over mutated suites and configs.

Every input starts from a real file (the examples and the test fixtures) and is mutated the way an
adversary or a bad editor would: flipped bytes, control characters, deep nesting, odd tags,
anchors and aliases, huge numbers, floods of unknown keys or list items, cuts, and config globs and
paths that try to leave the project. Whatever comes in, suitesync must answer as documented: an exit
code from the documented set, no traceback or internal error, every problem line located
(file:line:col, or the config path), and each input handled within 5 seconds.

The seed is fixed (derandomize) and the count bounded so that CI stays fast and repeatable;
SUITESYNC_FUZZ_EXAMPLES=5000 runs a long local campaign (README, "Development").
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from conftest import EXAMPLES, FIXTURES, Result, copy_examples, run_cli

EXAMPLES_COUNT = int(os.environ.get("SUITESYNC_FUZZ_EXAMPLES", "200"))
# A long local run may explore other inputs than CI's fixed sequence: SUITESYNC_FUZZ_SEED=N.
FUZZ_SEED = os.environ.get("SUITESYNC_FUZZ_SEED")
SECONDS_PER_INPUT = 5.0

SUITE_SEEDS = sorted([*(EXAMPLES / "suites").rglob("*.yaml"), *(FIXTURES / "suites").rglob("*.yaml")])
SUITE_SEEDS = [p for p in SUITE_SEEDS if p.name != "suitesync.yaml"]
CONFIG_SEEDS = [EXAMPLES / "suitesync.yaml", FIXTURES / "suites" / "invalid" / "suitesync.yaml"]

# --- what may come out ----------------------------------------------------------------------------

LOCKFILE_LINE = re.compile(r"^(error: )?\S*suitesync\.lock(:\d+:\d+)?: \S")  # the path, and where
LOCATED = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<code>[a-z][a-z0-9-]*): \S")
SUMMARY = re.compile(r"^(ok: \d+ files?, \d+ cases?|\d+ problems? in (\d+ of )?\d+ files?( \(\d+ shown\))?)$")
STOPS = re.compile(
    r"^(error: invalid suitesync\.yaml|error: the suites are invalid; nothing was planned"
    r"|error: the lockfile is invalid \(\d+ problems?\):|hint: .*"
    r"|error: no suite file matches the project's suites globs .*)$"
)
EXIT_CODES = {"validate": {0, 1}, "plan": {0, 1}}


def assert_well_behaved(command: str, result: Result, elapsed: float) -> None:
    """The documented contract for any input: exit code, no traceback, located problems, time."""
    text = result.out + result.err
    assert result.code in EXIT_CODES[command], (result.code, text[-2000:])
    assert "Traceback" not in text and "internal error" not in text, text[-2000:]
    assert elapsed < SECONDS_PER_INPUT, f"{command} took {elapsed:.1f} s"
    problem_lines = result.out if command == "validate" else ""
    problem_lines += result.err
    for line in problem_lines.splitlines():
        located = LOCATED.match(line) or LOCKFILE_LINE.match(line)
        assert located or SUMMARY.match(line) or STOPS.match(line), (
            f"unlocated line from {command}: {line[:300]!r}"
        )


# --- mutations ------------------------------------------------------------------------------------

CONTROL = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x80", "\x9f", "\ufffe", "\uffff"]
ODD_CHARS = [*CONTROL, "\ufeff", "\u2028", "\u2029", "\r", "\t", "\x85", "\U0001f600", "\ud7ff"]
TAGS = [
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!str",
    "!!binary",
    "!!timestamp",
    "!!map",
    "!!seq",
    "!!set",
    "!!omap",
    "!!merge",
    "!!value",
    "!!python/object/apply:os.system",
    "!custom",
    "!",
    "!<tag:yaml.org,2002:int>",
    "!<!>",
    "!e!x",
]
NUMBERS = [
    "9" * 4_299,
    "9" * 4_301,
    "-" + "1" * 10_000,
    "0x" + "f" * 5_000,
    "0o" + "7" * 5_000,
    "0b" + "1" * 20_000,
    "1" + "_" * 3 + "0" * 5_000,
    "1." + "0" * 5_000 + "1e99999",
    "1e999",
    ".nan",
    "-.inf",
    "190:20:30",
    "0x",
    "0b",
    "+",
    "-",
    "_",
    "1_",
    "12345678901234567890",
    "-0",
]
HOSTILE_VALUES = [
    *(f"{tag} {word}" for tag in TAGS for word in ("x", "", "maybe", "1", "[]", "{}")),
    *NUMBERS,
    *(f"!!int {n}" for n in NUMBERS[:8]),
    *(f"!!float {n}" for n in NUMBERS[:8]),
    "&a x",
    "*a",
    "&a [1, *a]",
    "{<<: *a}",
    "<<",
    "? complex\n  : key",
    "[" * 33 + "]" * 33,
    "[" * 1_001 + "]" * 1_001,
    "{a: " * 40 + "1" + "}" * 40,
    "[" * 60_000,
    "'unterminated",
    '"\\x00\\e\\x7f\\uFFFE"',
    '"\\N\\_\\L\\P"',
    '"\\u202e\\x1b[31mred\\n::error::forged"',
    "|\n  block\n  text",
    ">-\n  folded",
    "---",
    "...",
    "%YAML 1.1",
    "- - - - x",
    "~",
    "null",
    "yes",
    "0755",
    "3.10",
    "1:30",
    "x" * 100_000,
]


@dataclass(frozen=True)
class Mutation:
    """One change to a file's bytes; `where` is taken modulo the file's length (or line count)."""

    kind: str
    where: int
    text: str = ""

    def apply(self, data: bytes) -> bytes:
        if self.kind == "flip":
            at = self.where % max(len(data), 1)
            return data[:at] + bytes([ord(self.text) % 256]) + data[at + 1 :] if data else data
        if self.kind == "cut":
            return data[: self.where % (len(data) + 1)]
        if self.kind == "insert":
            at = self.where % (len(data) + 1)
            return data[:at] + self.text.encode("utf-8", "surrogatepass") + data[at:]
        if self.kind == "value":
            return _replace_value(data, self.where, self.text.encode("utf-8", "surrogatepass"))
        if self.kind == "line":
            return _insert_line(data, self.where, self.text.encode("utf-8", "surrogatepass"))
        if self.kind == "raw":
            return self.text.encode("utf-8", "surrogatepass")
        raise AssertionError(self.kind)


def _replace_value(data: bytes, index: int, value: bytes) -> bytes:
    """Replace what follows the index-th `: ` (to the end of its line) by `value`."""
    starts = [m.end() for m in re.finditer(rb": ", data)]
    if not starts:
        return data + b"\nkey: " + value + b"\n"
    start = starts[index % len(starts)]
    end = data.find(b"\n", start)
    return data[:start] + value + (data[end:] if end >= 0 else b"")


def _insert_line(data: bytes, index: int, line: bytes) -> bytes:
    """A line after the index-th, indented like it (a new key beside an existing one)."""
    lines = data.split(b"\n")
    at = index % len(lines)
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip(b" -"))].replace(b"-", b" ")
    return b"\n".join([*lines[: at + 1], indent + line, *lines[at + 1 :]])


def _flood(what: str, count: int) -> str:
    if what == "keys":
        return "\n".join(f"unknown{n}: {n}" for n in range(count))
    if what == "items":
        return "cases: [" + ",".join("1" for _ in range(count)) + "]"
    if what == "dupes":
        return "\n".join("id: x" for _ in range(count))
    return "\n".join(f"- id: c{n}" for n in range(count))


positions = st.integers(min_value=0, max_value=2**20)
texts = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    st.sampled_from(ODD_CHARS),
    st.text(max_size=12),
)
mutation = st.one_of(
    st.builds(Mutation, st.just("flip"), positions, st.characters(max_codepoint=255)),
    st.builds(Mutation, st.just("cut"), positions),
    st.builds(Mutation, st.just("insert"), positions, texts),
    st.builds(Mutation, st.just("value"), positions, texts),
    st.builds(Mutation, st.just("line"), positions, texts),
    st.builds(
        Mutation,
        st.just("line"),
        positions,
        st.builds(
            _flood,
            st.sampled_from(["keys", "items", "dupes", "cases"]),
            st.sampled_from([1, 60, 5_000, 60_000]),
        ),
    ),
)

ODD_GLOBS = [
    "",
    " ",
    ".",
    "..",
    "/",
    "x**",
    "**",
    "**/",
    "suites/**",
    "/etc/*",
    "//x",
    "../*.yaml",
    "a/../../*.yaml",
    "suites/**/../../*",
    "./suites/*.yaml",
    "suites//*.yaml",
    "~/*.yaml",
    "C:/x/*.yaml",
    "\\\\server\\x",
    "[",
    "suites/[!a-/*.yaml",
    "suites/*",
    "*",
    "*/*/*/*/*/*",
    "**/*.yaml",
    "suites/**/*.yaml",
    "suites/\x00.yaml",
    "suites/\x1b.yaml",
    "suites/" + "a" * 5_000,
    "{a,b}/*.yaml",
]
ODD_PATHS = ["", " ", ".", "..", "/", "x/", "a\x00b", "../shared.lock", "dir/./l.lock", "\x1b[2J.lock", "~"]
ODD_NAMES = ["support", "", "../x", "a b", "x" * 200, "\x00", "é", "-", "0", "a:b", "a\nb"]


def _quoted(text: str) -> str:
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in text) + '"'


@st.composite
def generated_config(draw: st.DrawFn) -> str:
    globs = draw(st.lists(st.sampled_from(ODD_GLOBS), min_size=1, max_size=3))
    lines = [f"suites: [{', '.join(_quoted(g) for g in [*globs, 'suites/*.yaml'])}]"]
    if draw(st.booleans()):
        lines.append(f"lockfile: {_quoted(draw(st.sampled_from(ODD_PATHS)))}")
    alias, agent = draw(st.sampled_from(ODD_NAMES)), draw(st.sampled_from(ODD_NAMES))
    lines.append(f"agents: {{support: D5D0p7TUs66TTAEAx, {_quoted(alias)}: {_quoted(agent)}}}")
    if draw(st.booleans()):
        env = draw(st.sampled_from(ODD_NAMES))
        lockfile = _quoted(draw(st.sampled_from(ODD_PATHS)))
        lines.append(f"environments: {{{_quoted(env)}: {{lockfile: {lockfile}, apiKeyEnv: {_quoted(env)}}}}}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Project:
    """A project on disk: a config, one mutated suite beside an untouched valid one, and maybe a
    lockfile (the examples' after an apply, mutated or not)."""

    config: bytes
    suite: bytes
    lockfile: bytes | None = None


SUITE_BYTES = [p.read_bytes() for p in SUITE_SEEDS]
CONFIG_BYTES = [p.read_bytes() for p in CONFIG_SEEDS]
PLAIN_CONFIG = b'suites: ["suites/*.yaml"]\nagents: {support: D5D0p7TUs66TTAEAx, sales: SPIlVscbB0kkXBvZa}\n'
SIBLING = b"agent: support\ncases:\n  - id: untouched-sibling\n    userPrompt: p\n    successCriteria: s\n"


def _mutated(seed: bytes, mutations: list[Mutation]) -> bytes:
    for change in mutations:
        seed = change.apply(seed)
    return seed


suites = st.builds(_mutated, st.sampled_from(SUITE_BYTES), st.lists(mutation, min_size=1, max_size=4))
mutated_configs = st.builds(
    _mutated, st.sampled_from(CONFIG_BYTES), st.lists(mutation, min_size=1, max_size=3)
)
generated_configs = generated_config().map(lambda text: text.encode("utf-8", "surrogatepass"))
# Most inputs keep a valid config, so that the suites are read at all: a broken config stops first.
configs = st.integers(min_value=0, max_value=7).flatmap(
    lambda n: st.just(PLAIN_CONFIG) if n < 6 else mutated_configs if n == 6 else generated_configs
)
projects = st.builds(Project, configs, suites)


def lockfiles(applied: bytes) -> st.SearchStrategy[bytes | None]:
    mutated = st.builds(_mutated, st.just(applied), st.lists(mutation, min_size=1, max_size=3))
    return st.one_of(st.none(), st.just(applied), mutated)


@pytest.fixture(scope="module")
def applied_lockfile(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The examples' lockfile after an apply to the embedded emulator: a real one to mutate."""
    root = copy_examples(tmp_path_factory.mktemp("applied") / "project")
    subprocess.run(
        [sys.executable, "-m", "suitesync", "apply", "--auto-approve"],
        cwd=root,
        env={**os.environ, "SIGMAMIND_BASE_URL": "local"},
        capture_output=True,
        check=True,
        timeout=120,
    )
    return (root / "suitesync.lock").read_bytes()


def run_on(project: Project, root: Path) -> None:
    (root / "suites").mkdir()
    (root / "suitesync.yaml").write_bytes(project.config)
    (root / "suites" / "fuzzed.yaml").write_bytes(project.suite)
    (root / "suites" / "sibling.yaml").write_bytes(SIBLING)
    if project.lockfile is not None:
        (root / "suitesync.lock").write_bytes(project.lockfile)
    for command in (["validate"], ["plan", "--no-refresh"]):
        # CPU time of this process: the work an input costs, whatever else the machine is running.
        started = time.process_time()
        result = run_cli(*command, cwd=root)
        assert_well_behaved(command[0], result, time.process_time() - started)
        event(f"{command[0]}: {_outcome(result)}")


def _outcome(result: Result) -> str:
    """What kind of answer an input got (shown by --hypothesis-show-statistics)."""
    if "invalid suitesync.yaml" in result.err:
        return "config refused"
    if "suitesync.lock" in result.err:
        return "lockfile refused"
    codes = sorted({m.group("code") for m in map(LOCATED.match, (result.out + result.err).splitlines()) if m})
    return ", ".join(codes[:3]) if codes else f"exit {result.code}"


@(seed(int(FUZZ_SEED)) if FUZZ_SEED else lambda test: test)
@settings(
    max_examples=EXAMPLES_COUNT,
    derandomize=FUZZ_SEED is None,
    database=None,
    deadline=None,  # timed by assert_well_behaved, per command, against SECONDS_PER_INPUT
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(project=projects, data=st.data())
def test_any_suite_config_and_lockfile_gets_a_located_answer(
    project: Project, data: st.DataObject, applied_lockfile: bytes
) -> None:
    project = replace(project, lockfile=data.draw(lockfiles(applied_lockfile), label="lockfile"))
    with tempfile.TemporaryDirectory() as directory:
        run_on(project, Path(directory))


# --- a few inputs as separate processes: the installed entry point, its real exit code ------------

PROCESS_CASES = {
    "nul": Project(PLAIN_CONFIG, b"agent: support\ncases:\n  - id: a\n    userPrompt: x\x00\n"),
    "tags": Project(PLAIN_CONFIG, SIBLING.replace(b"id: untouched-sibling", b"id: !!int x")),
    "huge-number": Project(PLAIN_CONFIG, SIBLING + b"    attempt: " + b"9" * 5_000 + b"\n"),
    "flood": Project(PLAIN_CONFIG, b"agent: support\ncases: [" + b"1," * 300_000 + b"]\n"),
    "glob": Project(b'suites: ["suites/' + b"a" * 300 + b'/*.yaml"]\n', SIBLING),
}


@pytest.mark.parametrize("name", sorted(PROCESS_CASES))
def test_hostile_input_as_a_separate_process(tmp_path: Path, name: str) -> None:
    project = PROCESS_CASES[name]
    (tmp_path / "suites").mkdir()
    (tmp_path / "suitesync.yaml").write_bytes(project.config)
    (tmp_path / "suites" / "fuzzed.yaml").write_bytes(project.suite)
    for command in (["validate"], ["plan", "--no-refresh"]):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(
            [sys.executable, "-m", "suitesync", *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,  # only turns a hang into a failure; the contract is timed below
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        assert_well_behaved(command[0], Result(proc.returncode, proc.stdout, proc.stderr), cpu)
        assert proc.returncode == 1, proc.stdout + proc.stderr
