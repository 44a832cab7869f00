"""Progress displays: what commands report while they work (commands.project.Events), shown on
the console: the embedded emulator's agents, the wait for the project lock, the plan apply will
carry out and its outcomes as they come, the verdicts of a run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from suitesync.console import CLEAR_LINE, Console, ask_to_apply
from suitesync.report import ApplyProgress, write_embedded_agents, write_plan_text
from suitesync.text import plural

if TYPE_CHECKING:
    from suitesync.apply import Outcome
    from suitesync.plan import Plan
    from suitesync.signals import StopOnSignal


@dataclass
class TerminalEvents:
    """What commands report while they work (commands.project.Events), shown on the console."""

    console: Console
    auto_approve: bool = False
    signals: StopOnSignal | None = None
    progress: ApplyProgress | None = field(default=None, repr=False)

    def embedded_agents(self, agents: list[tuple[str, str | None]]) -> None:
        write_embedded_agents(agents, self.console.err)

    def waiting_for_lock(self, seconds: float, holder: str) -> None:
        self.console.note(f"waiting up to {seconds:g} s for the project lock ({holder})")

    def plan_ready(self, plan: Plan) -> None:
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
        self.console.note(f"running {plural(cases, 'case')} on {plural(agents, 'agent')}")

    def verdicts(self, done: int, total: int) -> None:
        if self.console.live:
            self.console.err.write(f"{CLEAR_LINE}waiting for verdicts: {done}/{plural(total, 'attempt')}")
            self.console.err.flush()

    def end_progress(self) -> None:
        """Clear the live progress line, if one was drawn."""
        if self.console.live:
            self.console.err.write(CLEAR_LINE)
            self.console.err.flush()


def stopping_message(console: Console) -> Callable[[str], None]:
    """What a first signal shows: `stopping` says what the command does now."""

    def show(stopping: str) -> None:
        console.err.write(f"\nstopping: {stopping} (a second signal exits at once)\n")

    return show
