"""The terminal: the process's streams, the apply prompt, and what is shown when a command stops
(errors, a crash). With progress.py, report.py, runreport.py and writereport.py, the only code
that writes output.

Only click is imported at module level (cli.py imports this for `--help`); the renderers of
results are imported when a result is shown.
"""

from __future__ import annotations

import importlib
import select
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

import click

from suitesync.errors import Cancelled, ExitCode, SuitesyncError

if TYPE_CHECKING:
    from suitesync.plan import Plan
    from suitesync.signals import StopOnSignal

CLEAR_LINE = "\r\033[K"


@dataclass
class Console:
    """Where output goes; colour only on a terminal, and never with NO_COLOR (https://no-color.org)."""

    out: TextIO
    err: TextIO
    stdin: TextIO
    no_color: bool = False

    @classmethod
    def standard(cls) -> Console:
        """The process's streams, as they are now (tests redirect them)."""
        return cls(sys.stdout, sys.stderr, sys.stdin)

    @property
    def color(self) -> bool:
        return bool(self.out.isatty()) and not self.no_color

    @property
    def live(self) -> bool:
        """Live progress (a counter redrawn in place) goes to standard error on a terminal only."""
        return bool(self.err.isatty())

    def note(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def flush(self) -> None:
        self.out.flush()
        self.err.flush()


class RendererChoice(click.Choice[str]):
    """The format names of a renderer registry (`module:NAME`), for a `--format` option.

    The registry is read when the choices are first needed (parsing or a command's help), so that
    `suitesync --help` does not import the renderers."""

    def __init__(self, registry: str) -> None:
        self._registry = registry
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(renderers(self._registry))

    @choices.setter
    def choices(self, _value: Any) -> None:
        pass


def renderers(registry: str) -> dict[str, Any]:
    module, name = registry.split(":")
    found: dict[str, Any] = getattr(importlib.import_module(module), name)
    return found


def render(registry: str, name: str, result: Any, console: Console) -> None:
    """Show `result` with the renderer called `name` in `registry` (`module:NAME`)."""
    renderers(registry)[name](result, console)


# --- the apply prompt ---------------------------------------------------------------------------


def ask_to_apply(plan: Plan, console: Console, signals: StopOnSignal | None) -> bool:
    """The confirmation on a terminal. Ctrl-C, SIGTERM or end of input (Ctrl-D) cancel at once."""
    if not console.stdin.isatty():
        raise SuitesyncError(
            "refusing to apply without confirmation: standard input is not a terminal",
            hint="pass --auto-approve to apply unattended (as in CI)",
        )
    count = len(plan.actions)
    question = "Apply this change?" if count == 1 else f"Apply these {count} changes?"
    cancelled_by: int | None = None
    try:
        if signals is None:
            return _confirm(f"\n{question}", console)
        with signals.asking():
            return _confirm(f"\n{question}", console)
    except (KeyboardInterrupt, click.Abort):
        cancelled_by = signals.cancelled_by if signals is not None else None
    code = ExitCode(128 + cancelled_by) if cancelled_by else ExitCode.INTERRUPTED
    raise Cancelled("\napply cancelled at the prompt; nothing was changed", code)


def _confirm(question: str, console: Console) -> bool:
    """click.confirm, but waiting for the answer in short selects: a signal that arrives just as
    the prompt is shown is handled at once, where a blocking read would sit on it until Enter."""
    while True:
        console.err.write(f"{question} [y/N]: ")
        console.err.flush()
        while not select.select([console.stdin], [], [], 0.2)[0]:
            pass
        answer = console.stdin.readline()
        if not answer:  # end of input
            raise click.Abort
        choice = answer.strip().lower()
        if choice in ("y", "yes", "n", "no", ""):
            return choice in ("y", "yes")
        console.note("Error: answer y or n")


# --- when a command stops -------------------------------------------------------------------------


def show_error(exc: SuitesyncError, console: Console) -> None:
    """An error that stops the run: one line naming the place, then a hint where there is one.
    A cancel is said plainly, not as an error."""
    if isinstance(exc, Cancelled):
        console.note(str(exc))
        return
    console.note(f"error: {exc}")
    if exc.hint:
        console.note(f"hint: {exc.hint}")


def show_usage_error(exc: click.ClickException, console: Console) -> None:
    exc.show(file=console.err)


def show_line(text: str, console: Console) -> None:
    """A plain message on standard error ("aborted", "interrupted")."""
    console.note(text)


def show_crash(summary: str, log: str | None, console: Console) -> None:
    """A bug of suitesync's, in one line, and where its crash log is."""
    console.note(f"internal error: {summary}")
    if log is None:
        console.note("hint: this is a bug in suitesync; no crash log could be written")
    else:
        console.note(f"hint: this is a bug in suitesync; please report it with the crash log {log}")


def show_text(text: str, console: Console) -> None:
    """Text exactly as it is, on standard output (`suitesync schema`)."""
    console.out.write(text)


def show_url(url: str, console: Console) -> None:
    """The emulator's address, flushed at once: whoever started it waits for this line."""
    console.out.write(url + "\n")
    console.out.flush()
