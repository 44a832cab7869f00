"""Shared test helpers: drive the CLI in-process as a user would, with real files on disk."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
import xmlschema

from suitesync.cli import main

# Every test runs with this API key in the environment; it must never appear in any output or file.
CANARY_KEY = "sk-canary-5e1f0a9c7d3b"
os.environ["SIGMAMIND_API_KEY"] = CANARY_KEY
os.environ.pop("SIGMAMIND_BASE_URL", None)
os.environ.pop("NO_COLOR", None)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "examples"


@dataclass
class Result:
    code: int
    out: str
    err: str


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_cli(*args: str, cwd: Path | None = None) -> Result:
    """Run `suitesync ARGS` in this process and capture what it printed and its exit code."""
    out, err = io.StringIO(), io.StringIO()
    with _cwd(cwd or Path.cwd()), redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    result = Result(int(code), out.getvalue(), err.getvalue())
    assert_no_canary(result.out + result.err)
    return result


def assert_no_canary(text: str) -> None:
    assert CANARY_KEY not in text, "the API key leaked into output"


def files_holding(root: Path, text: str) -> list[Path]:
    """Files under `root` that contain `text`, except the emulator's state: that is the platform."""
    needle = text.encode()
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith("emulator.sqlite3") and needle in p.read_bytes()
    ]


def files_holding_canary(root: Path) -> list[Path]:
    return files_holding(root, CANARY_KEY)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every test: the canary key is in no file any test wrote, nor in the repository."""
    factory = session.config._tmp_path_factory  # type: ignore[attr-defined]
    roots = [factory.getbasetemp(), ROOT / "examples", ROOT / "tests" / "fixtures"]
    leaked = [path for root in roots if root.exists() for path in files_holding_canary(root)]
    if leaked:
        session.exitstatus = 1
        raise AssertionError(f"the API key leaked into files: {leaked}")


def python() -> str:
    return sys.executable


AGENT = "D5D0p7TUs66TTAEAx"
OTHER_AGENT = "SPIlVscbB0kkXBvZa"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[object]:
    """The SigmaMind emulator on a free loopback port, with its state in a temporary file."""
    from suitesync.emulator import ApiBehaviour, Emulator

    with Emulator(
        state=tmp_path / "emulator.sqlite3",
        agents=[AGENT, OTHER_AGENT],
        behaviour=ApiBehaviour(run_seconds=0.3),
    ) as server:
        yield server


def copy_examples(target: Path) -> Path:
    """The example project, as a fresh copy a test may change (no lockfile, no state)."""
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns(".suitesync", "*.lock"))
    return target


@pytest.fixture
def project(tmp_path: Path, emulator: object, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example project whose API is the emulator (agents registered)."""
    from suitesync.settings import load_settings

    root = copy_examples(tmp_path / "project")
    for agent in load_settings(root, environ={}).agents.values():
        emulator.store.add_agent(agent)  # type: ignore[attr-defined]
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)  # type: ignore[attr-defined]
    return root


def write_project(root: Path, cases: int, per_file: int = 20, agent: str = AGENT) -> Path:
    """A generated project of `cases` cases (ids case-0000 ...), `per_file` to a suite file."""
    (root / "suites").mkdir(parents=True, exist_ok=True)
    (root / "suitesync.yaml").write_text(f"agents: {{main: {agent}}}\n")
    for start in range(0, cases, per_file):
        body = "".join(
            f"  - id: case-{n:04d}\n    userPrompt: You are customer number {n}.\n"
            f'    successCriteria: The agent helps customer {n}.\n    mockData:\n      n: "{n}"\n'
            for n in range(start, min(start + per_file, cases))
        )
        (root / "suites" / f"s{start // per_file:03d}.yaml").write_text(f"agent: main\ncases:\n{body}")
    return root


def pin_project(root: Path) -> Path:
    """A generated project of 2 cases whose first holds the secret `pin: ${env:CUSTOMER_PIN}`."""
    project = write_project(root, 2)
    suite = project / "suites" / "s000.yaml"
    suite.write_text(
        suite.read_text().replace('      n: "0"\n', '      n: "0"\n      pin: ${env:CUSTOMER_PIN}\n')
    )
    return project


def remote_state(emulator: object) -> dict[str, str]:
    """testCaseId -> payload hash of every remote case of every agent, read straight from the store."""
    from suitesync.payloads import remote_case

    store = emulator.store  # type: ignore[attr-defined]
    api = emulator.api  # type: ignore[attr-defined]
    documents = [
        api.case_object(tc_id, agent["agent_id"], body)
        for agent in store.agents()
        for tc_id, body in store.cases(agent["agent_id"], float("inf"))
    ]
    return {doc["testCaseId"]: remote_case(doc).hash for doc in documents}


def assert_converged(emulator: object, project: Path, expected_cases: int) -> None:
    """Exactly one remote case per desired case, each in the lockfile with its content."""
    from suitesync.lockfile import read_lockfile

    remote = remote_state(emulator)
    lock = read_lockfile(project / "suitesync.lock")
    assert len(remote) == expected_cases, f"{len(remote)} remote cases for {expected_cases} desired"
    assert len(lock.cases) == expected_cases
    assert all(not entry.pending for entry in lock.cases.values())
    assert {e.test_case_id: e.hash for e in lock.cases.values()} == remote


@pytest.fixture(scope="session")
def junit_schema(tmp_path_factory: pytest.TempPathFactory) -> xmlschema.XMLSchema:
    """The Jenkins xUnit JUnit schema (junit-10.xsd), as pytest's source distribution ships it."""
    folder = tmp_path_factory.mktemp("pytest-sdist")
    version = metadata.version("pytest")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"pytest=={version}",
            "-d",
            str(folder),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (archive,) = folder.glob("pytest-*.tar.gz")
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"pytest-{version}/testing/example_scripts/junit-10.xsd")
        assert member is not None
        return xmlschema.XMLSchema(io.BytesIO(member.read()))
