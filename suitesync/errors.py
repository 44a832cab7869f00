"""One error family, the exit-code enum, and Problem: a located finding about an input file."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    """Every exit code suitesync uses. Listed in `suitesync --help` and the README."""

    OK = 0  # success, nothing pending
    ERROR = 1  # invalid input, API error, timeout
    CHANGES = 2  # `plan --detailed-exitcode`: changes pending
    TESTS_FAILED = 3  # `run`: at least one case below its pass rate
    LOCKED = 4  # another apply holds the project lock
    STALE_PLAN = 5  # a saved plan no longer matches what it assumed
    USAGE = 64  # bad flags or arguments (never 2: CI reads 2 as "changes pending")
    SOFTWARE = 70  # a bug in suitesync (EX_SOFTWARE, the companion of 64): see the crash log
    INTERRUPTED = 130  # SIGINT
    TERMINATED = 143  # SIGTERM


class SuitesyncError(Exception):
    """A condition that stops the run. The message is shown to the user as is, without traceback."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class Cancelled(SuitesyncError):
    """The user stopped the command before it changed anything: said plainly, not as an error."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.INTERRUPTED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ConfigError(SuitesyncError):
    """suitesync.yaml, flags or environment variables are wrong."""


class StalePlanError(SuitesyncError):
    """A saved plan no longer fits: what it assumed changed, or it was made for another environment."""

    exit_code = ExitCode.STALE_PLAN


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """A finding about one place in one file: what `validate` prints as `path:line:col: code: message`.

    `line` and `col` are 1-based; 0 means "the whole file".
    """

    path: str
    line: int
    col: int
    code: str
    message: str
    hint: str | None = None

    def render(self) -> str:
        text = f"{self.path}:{self.line}:{self.col}: {self.code}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }
