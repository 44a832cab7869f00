"""Shared test helpers: drive the CLI in-process as a user would, with real files on disk."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from suitesync.cli import main

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
    return Result(int(code), out.getvalue(), err.getvalue())


@pytest.fixture
def cli() -> object:
    return run_cli


def python() -> str:
    return sys.executable


AGENT = "D5D0p7TUs66TTAEAx"
OTHER_AGENT = "SPIlVscbB0kkXBvZa"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[object]:
    """The SigmaMind emulator on a free loopback port, with its state in a temporary file."""
    from suitesync.emulator import Emulator, FaultConfig

    with Emulator(
        state=tmp_path / "emulator.sqlite3", agents=[AGENT, OTHER_AGENT], faults=FaultConfig(run_seconds=0.3)
    ) as server:
        yield server
