"""`suitesync run`: batch runs of the selected managed cases -> a results document (None: nothing
to run)."""

from __future__ import annotations

import difflib
import fnmatch
import threading

from suitesync.commands.project import Events, connect, known_secrets, load_valid_cases, plan_with
from suitesync.errors import SuitesyncError
from suitesync.lockfile import Lockfile, read_lockfile
from suitesync.masking import Masker, mask_run_report
from suitesync.models import TestCase
from suitesync.options import RunOptions
from suitesync.plan import Plan
from suitesync.results import ResultsDocument
from suitesync.run import RunReport, agents_in, run_batches, select_cases
from suitesync.settings import Settings
from suitesync.text import joined, plural


def run(
    settings: Settings, options: RunOptions, events: Events, stop: threading.Event
) -> ResultsDocument | None:
    """Batch-run the selected managed cases; None when there is nothing to run. A `--case` glob
    or `--tag` that matches no case of the suites is an error (a typo must not pass as "nothing
    to run").

    Refuses (unless allow_drift) when the plan is not empty: results would be for other cases
    than the files describe.
    """
    from suitesync.runresults import agent_fingerprints

    lockfile = read_lockfile(settings.lockfile)
    cases, agents = load_valid_cases(settings, lockfile, doing="run")
    _check_patterns(options.patterns, [case.id for case in cases])
    _check_selection(options, cases)
    with connect(settings, agents, events, stop=stop) as client:
        _check_applied(plan_with(settings, lockfile, cases, client, agents, prune=False), options.allow_drift)
        selected = select_cases(cases, lockfile, options.patterns, options.changed, options.tags)
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
        # A stopped run skips the look-up: its document must be written before the exit.
        ran = sorted({item.case.agent_id for item in selected})
        fingerprints = {} if stop.is_set() else agent_fingerprints(client, ran)
    fingerprints = {a: fingerprints.get(a, (None, "the run was stopped first")) for a in ran}
    # A judge's remarks or a conversation may quote a secret the case gave the agent: masked
    # before the document holds them.
    masked = mask_run_report(report, Masker(known_secrets(settings, cases)))
    return _results_document(settings, masked, [item.case for item in selected], lockfile, fingerprints)


def _check_applied(plan: Plan, allow_drift: bool) -> None:
    if plan.has_changes and not allow_drift:
        raise SuitesyncError(
            f"{plural(len(plan.actions), 'case')} {'is' if len(plan.actions) == 1 else 'are'} "
            "not applied as the suites describe them "
            "(the plan is not empty)",
            hint="apply first, or pass --allow-drift to run what is on the platform",
        )


def _results_document(
    settings: Settings,
    report: RunReport,
    cases: list[TestCase],
    lockfile: Lockfile,
    fingerprints: dict[str, tuple[str | None, str | None]],
) -> ResultsDocument:
    from suitesync.runresults import build_document, git_info

    return build_document(
        report,
        cases,
        lockfile,
        environment=settings.env_name,
        git=git_info(settings.root, settings.environ),
        fingerprints=fingerprints,
        version=_version(),
    )


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("suitesync")
    except metadata.PackageNotFoundError:
        return "unknown"


def _check_patterns(patterns: tuple[str, ...], ids: list[str]) -> None:
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(case_id, pattern) for case_id in ids):
            close = difflib.get_close_matches(pattern, ids, n=1)
            hint = f"did you mean {close[0]}?" if close else f"the project's ids: {joined(sorted(ids))}"
            raise SuitesyncError(
                f"--case {pattern!r} matches no case of the project; nothing was run", hint=hint
            )


def _check_selection(options: RunOptions, cases: list[TestCase]) -> None:
    """Each --tag must name a tag of the project, and --case and --tag together must leave a case."""
    known = sorted({tag for case in cases for tag in case.tags})
    for tag in options.tags:
        if tag not in known:
            hint = f"the project's tags: {joined(known)}" if known else "no case of the project has tags"
            raise SuitesyncError(f"--tag {tag!r} matches no case of the project; nothing was run", hint=hint)
    if options.tags and options.patterns:
        both = [
            case
            for case in cases
            if set(options.tags) & set(case.tags)
            and any(fnmatch.fnmatchcase(case.id, pattern) for pattern in options.patterns)
        ]
        if not both:
            selectors = " ".join(
                [f"--case {p!r}" for p in options.patterns] + [f"--tag {t!r}" for t in options.tags]
            )
            raise SuitesyncError(
                f"{selectors}: no case of the project matches both; nothing was run",
                hint="a case must match one of the --case globs and have one of the --tag tags",
            )
