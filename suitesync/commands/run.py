"""`suitesync run`: batch runs of the selected managed cases -> a RunReport (None: nothing to run)."""

from __future__ import annotations

import difflib
import fnmatch
import threading

from suitesync.commands.project import Events, connect, known_secrets, load_valid_cases, plan_with
from suitesync.errors import SuitesyncError
from suitesync.lockfile import read_lockfile
from suitesync.masking import Masker, mask_run_report
from suitesync.options import RunOptions
from suitesync.run import RunReport, agents_in, run_batches, select_cases
from suitesync.settings import Settings
from suitesync.text import joined, plural


def run(settings: Settings, options: RunOptions, events: Events, stop: threading.Event) -> RunReport | None:
    """Batch-run the selected managed cases; None when there is nothing to run. A `--case` glob
    that matches no case of the suites is an error (a typo must not pass as "nothing to run").

    Refuses (unless allow_drift) when the plan is not empty: results would be for other cases
    than the files describe.
    """
    lockfile = read_lockfile(settings.lockfile)
    cases, agents = load_valid_cases(settings, lockfile, doing="run")
    _check_patterns(options.patterns, [case.id for case in cases])
    with connect(settings, agents, events, stop=stop) as client:
        plan = plan_with(settings, lockfile, cases, client, agents, prune=False)
        if plan.has_changes and not options.allow_drift:
            raise SuitesyncError(
                f"{plural(len(plan.actions), 'case')} {'is' if len(plan.actions) == 1 else 'are'} "
                "not applied as the suites describe them "
                "(the plan is not empty)",
                hint="apply first, or pass --allow-drift to run what is on the platform",
            )
        selected = select_cases(cases, lockfile, options.patterns, options.changed)
        if not selected:
            return None
        events.running(len(selected), len(agents_in(selected)))
        report = run_batches(
            client,
            selected,
            min_pass_rate=options.min_pass_rate,
            timeout=options.timeout,
            stop=stop,
            on_progress=events.verdicts,
        )
        # A judge's remarks may quote a secret the case gave the agent: masked before any output.
        return mask_run_report(report, Masker(known_secrets(settings, cases)))


def _check_patterns(patterns: tuple[str, ...], ids: list[str]) -> None:
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(case_id, pattern) for case_id in ids):
            close = difflib.get_close_matches(pattern, ids, n=1)
            hint = f"did you mean {close[0]}?" if close else f"the project's ids: {joined(sorted(ids))}"
            raise SuitesyncError(
                f"--case {pattern!r} matches no case of the project; nothing was run", hint=hint
            )
