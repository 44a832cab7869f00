"""A bug of suitesync's: the crash log a user can hand over, with every secret removed.

Like pre-commit's error_handler: the user sees one line and where the log is; the log holds the
version, the command line and the traceback, ready to paste into a bug report. Every secret value
this run knew (the API key, `${env:...}` values: suitesync.secret) is replaced by *** in all of
it, wherever in a message or a traceback it ended up.
"""

from __future__ import annotations

import platform
import sys
import traceback
from pathlib import Path

from suitesync.secret import masked

LOG_NAME = "crash.log"


def summary(exc: BaseException) -> str:
    """The one line the user sees: the error's type and message, secrets removed."""
    return masked(f"{type(exc).__name__}: {exc}")


def write_crash_log(exc: BaseException, argv: list[str], state_dir: Path) -> Path | None:
    """Write the crash log into `state_dir` (.suitesync/) and return its path; None when it cannot
    be written (a read-only project, say): the one-line message must still get out."""
    from suitesync.statedir import ensure_state_dir, make_private

    try:
        path = ensure_state_dir(state_dir) / LOG_NAME
        make_private(path)
        path.write_text(masked(crash_report(exc, argv)), encoding="utf-8")
    except OSError:
        return None
    return path


def crash_report(exc: BaseException, argv: list[str]) -> str:
    """The log's text (before secrets are removed): markdown, for a bug report."""
    command = " ".join(["suitesync", *argv])
    trace = "".join(traceback.format_exception(exc))
    return (
        "### version information\n\n"
        f"```\nsuitesync: {_version()}\n"
        f"python: {sys.version.split()[0]} ({platform.python_implementation()})\n"
        f"platform: {platform.platform()}\n```\n\n"
        f"### command\n\n```\n{command}\n```\n\n"
        f"### error\n\n```\n{trace}```\n"
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("suitesync")
    except PackageNotFoundError:
        return "unknown (not installed)"
