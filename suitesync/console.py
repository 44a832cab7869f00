"""The terminal: the process's streams, and what is shown on them while a command works and when
it stops (progress, the apply prompt, errors). With report.py, runreport.py and writereport.py,
the only code that writes output.

Only click is imported at module level (cli.py imports this for `--help`); the renderers of
results are imported when a result is shown.
"""

from __future__ import annotations

import importlib
import select
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import click

from suitesync.errors import Cancelled, ExitCode, InvalidSuitesError, SuitesyncError

if TYPE_CHECKING:
    from suitesync.apply import Outcome
    from suitesync.plan import Plan
    from suitesync.report import ApplyProgress
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


# --- while a command works ------------------------------------------------------------------------


@dataclass
class TerminalEvents:
    """What commands report while they work (commands.project.Events), shown on the console."""

    console: Console
    auto_approve: bool = False
    signals: StopOnSignal | None = None
    progress: ApplyProgress | None = field(default=None, repr=False)

    def embedded_agents(self, agents: list[tuple[str, str | None]]) -> None:
        from suitesync.report import write_embedded_agents

        write_embedded_agents(agents, self.console.err)

    def waiting_for_lock(self, seconds: float, holder: str) -> None:
        self.console.note(f"waiting up to {seconds:g} s for the project lock ({holder})")

    def plan_ready(self, plan: Plan) -> None:
        from suitesync.report import ApplyProgress, write_plan_text

        write_plan_text(plan, self.console.out, color=self.console.color)
        self.progress = ApplyProgress(
            self.console.out,
            self.console.err,
            total=len(plan.actions),
            tty=self.console.live,
            color=self.console.color,
        )

    def confirm(self, plan: Plan) -> bool:
        return self.auto_approve or ask_to_apply(plan, self.console, self.signals)

    def outcome(self, outcome: Outcome) -> None:
        assert self.progress is not None, "outcomes come after the plan"
        self.progress.outcome(outcome)

    def running(self, cases: int, agents: int) -> None:
        from suitesync.text import plural

        self.console.note(f"running {plural(cases, 'case')} on {plural(agents, 'agent')}")

    def verdicts(self, done: int, total: int) -> None:
        from suitesync.text import plural

        if self.console.live:
            self.console.err.write(f"{CLEAR_LINE}waiting for verdicts: {done}/{plural(total, 'attempt')}")
            self.console.err.flush()

    def end_progress(self) -> None:
        """Clear the live progress line, if one was drawn."""
        if self.console.live:
            self.console.err.write(CLEAR_LINE)
            self.console.err.flush()


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


def stopping_message(console: Console) -> Callable[[str], None]:
    """What a first signal shows: `stopping` says what the command does now."""

    def show(stopping: str) -> None:
        console.err.write(f"\nstopping: {stopping} (a second signal exits at once)\n")

    return show


# --- when a command stops -------------------------------------------------------------------------


def show_error(exc: SuitesyncError, console: Console) -> None:
    """An error that stops the run: one line naming the place, then a hint where there is one.
    Invalid suites show their problems first; a cancel is said plainly, not as an error."""
    if isinstance(exc, Cancelled):
        console.note(str(exc))
        return
    if isinstance(exc, InvalidSuitesError):
        from suitesync.report import write_validation_text

        write_validation_text(exc.result, console.err, console.err)
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
