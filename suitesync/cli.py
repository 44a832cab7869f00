"""Click commands: build settings, call the stages, report, return an exit code.

Only click is imported at module level so that `suitesync --help` stays fast; each command
imports the stages it uses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from suitesync.errors import Cancelled, ExitCode, SuitesyncError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = """
\b
Exit codes:
  0    success, nothing pending
  1    error (invalid suites, API error, timeout)
  2    plan --detailed-exitcode: changes pending
  3    run: test cases failed
  4    apply: the project is locked by another apply
  5    apply: the saved plan is stale (or for another environment)
  64   usage error (bad flag or argument)
  130  interrupted (SIGINT); 143 terminated (SIGTERM)
"""


def project_options(func: F) -> F:
    """-C DIR and --env NAME, accepted both before and after the command name."""
    func = click.option(
        "-C",
        "directory",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Run as if started in DIR (like git -C).",
    )(func)
    return click.option(
        "--env",
        "env_name",
        default=None,
        metavar="NAME",
        help="Environment from suitesync.yaml `environments:`.",
    )(func)


def _settings(ctx: click.Context, directory: Path | None, env_name: str | None) -> Any:
    from suitesync.settings import load_settings

    group = ctx.find_root().params
    return load_settings(directory or group.get("directory"), env_name or group.get("env_name"))


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="suitesync")
@project_options
def cli(directory: Path | None, env_name: str | None) -> None:
    """Keep SigmaMind AI chat-simulation test cases as code: validate, plan, apply, run."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: a versioned document, see the README.",
)
@project_options
@click.pass_context
def validate(
    ctx: click.Context, paths: tuple[Path, ...], fmt: str, directory: Path | None, env_name: str | None
) -> int:
    """Check suite files offline and report every problem at once (file:line:col)."""
    from suitesync.load import load_files
    from suitesync.report import write_validation_json, write_validation_text
    from suitesync.state import bulk_work, suite_files
    from suitesync.validate import validate_files

    settings = _settings(ctx, directory, env_name)
    files = suite_files(settings, paths)
    with bulk_work():
        result = validate_files(load_files(files, Path.cwd()), settings.agents, keep_cases=False)
    if fmt == "json":
        write_validation_json(result, sys.stdout)
    else:
        write_validation_text(result, sys.stdout, sys.stderr)
    return ExitCode.OK if result.ok else ExitCode.ERROR


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="json: versioned (schemas/plan.schema.json); markdown: for a PR comment.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also save the plan (JSON) for `apply PLANFILE`, with what it assumed.",
)
@click.option("--no-refresh", is_flag=True, help="Plan from the lockfile alone: no network.")
@click.option("--prune", is_flag=True, help="Plan deletes of cases removed from the suites.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@project_options
@click.pass_context
def plan(
    ctx: click.Context,
    fmt: str,
    out: Path | None,
    no_refresh: bool,
    prune: bool,
    detailed_exitcode: bool,
    directory: Path | None,
    env_name: str | None,
) -> int:
    """Show what apply would change on the platform: create, update, delete, drift, unmanaged."""
    from suitesync.commands import make_plan
    from suitesync.planfile import write_plan_file
    from suitesync.report import write_plan_json, write_plan_markdown, write_plan_saved, write_plan_text

    settings = _settings(ctx, directory, env_name)
    the_plan = make_plan(settings, refresh=not no_refresh, prune=prune, err=sys.stderr)
    if fmt == "json":
        write_plan_json(the_plan, sys.stdout)
    elif fmt == "markdown":
        write_plan_markdown(the_plan, sys.stdout)
    else:
        write_plan_text(the_plan, sys.stdout, color=_color(settings, sys.stdout))
    if out is not None:
        write_plan_file(the_plan, out)
        write_plan_saved(out, settings.env_name, sys.stderr)
    return ExitCode.CHANGES if detailed_exitcode and the_plan.has_changes else ExitCode.OK


@cli.command()
@click.argument("planfile", required=False, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Apply without asking (CI). Without a terminal, required.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=16,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--prune", is_flag=True, help="Delete cases removed from the suites (never `protect: true` ones)."
)
@click.option(
    "--max-deletes",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Refuse a plan that deletes more test cases than this.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for another apply of this project to finish.",
)
@click.option(
    "--list-grace",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds list results may lag behind creates (for confirming unknown outcomes).",
)
@project_options
@click.pass_context
def apply(
    ctx: click.Context,
    planfile: Path | None,
    auto_approve: bool,
    parallelism: int,
    prune: bool,
    max_deletes: int,
    lock_timeout: float,
    list_grace: float,
    directory: Path | None,
    env_name: str | None,
) -> int:
    """Apply the plan (or a saved PLANFILE) to the platform, concurrently and crash-safely."""
    import threading

    from suitesync.commands import ApplyOptions, apply_project
    from suitesync.report import ApplyProgress, write_apply_summary, write_plan_text
    from suitesync.signals import StopOnSignal, exit_now

    if planfile is not None and prune:
        # A saved plan already fixed what is deleted: a flag that would shape it again is a mistake.
        raise click.UsageError(
            f"--prune cannot be used with a saved plan ({planfile}): the plan already fixed what it "
            "deletes; make it with `suitesync plan --prune --out FILE`",
            ctx=ctx,
        )
    settings = _settings(ctx, directory, env_name)
    options = ApplyOptions(planfile, prune, parallelism, max_deletes, lock_timeout, list_grace)
    stop = threading.Event()
    signals = StopOnSignal(stop)
    color = _color(settings, sys.stdout)
    progress = ApplyProgress(sys.stdout, sys.stderr, total=0, tty=sys.stderr.isatty(), color=color)

    def show_plan(plan: Any) -> None:
        write_plan_text(plan, sys.stdout, color=color)
        progress.total = len(plan.actions)

    try:
        report = apply_project(
            settings,
            options,
            err=sys.stderr,
            show_plan=show_plan,
            confirm=lambda plan: auto_approve or _ask_to_apply(plan, signals),
            on_outcome=progress.outcome,
            stop=stop,
        )
    except SuitesyncError as exc:
        raise signals.instead_of(exc, "apply stopped before it changed anything") from None
    finally:
        signals.restore()
    if report.outcomes or report.fatal:
        write_apply_summary(report.outcomes, report.fatal, sys.stdout)
    if signals.received is not None:
        exit_now(128 + signals.received)
    failed = report.fatal or any(not o.ok for o in report.outcomes)
    return ExitCode.ERROR if failed else ExitCode.OK


def _ask_to_apply(plan: Any, signals: Any) -> bool:
    """The confirmation on a terminal. Ctrl-C, SIGTERM or end of input (Ctrl-D) cancel at once."""
    if not sys.stdin.isatty():
        raise SuitesyncError(
            "refusing to apply without confirmation: standard input is not a terminal",
            hint="pass --auto-approve to apply unattended (as in CI)",
        )
    count = len(plan.actions)
    question = "Apply this change?" if count == 1 else f"Apply these {count} changes?"
    try:
        with signals.asking():
            return _confirm(f"\n{question}")
    except (KeyboardInterrupt, click.Abort):
        code = ExitCode(128 + signals.cancelled_by) if signals.cancelled_by else ExitCode.INTERRUPTED
        raise Cancelled("\napply cancelled at the prompt; nothing was changed", code) from None


def _confirm(question: str) -> bool:
    """click.confirm, but waiting for the answer in short selects: a signal that arrives just as
    the prompt is shown is handled at once, where a blocking read would sit on it until Enter."""
    import select

    while True:
        click.echo(f"{question} [y/N]: ", nl=False, err=True)
        while not select.select([sys.stdin], [], [], 0.2)[0]:
            pass
        answer = sys.stdin.readline()
        if not answer:  # end of input
            raise click.Abort
        choice = answer.strip().lower()
        if choice in ("y", "yes", "n", "no", ""):
            return choice in ("y", "yes")
        click.echo("Error: answer y or n", err=True)


def _color(settings: Any, stream: Any) -> bool:
    """Colour only on a terminal, and never with NO_COLOR (https://no-color.org)."""
    return bool(stream.isatty()) and not settings.no_color


@cli.command("run")
@click.option(
    "--case", "patterns", multiple=True, metavar="GLOB", help="Only cases whose id matches (repeatable)."
)
@click.option("--changed", is_flag=True, help="Only the cases the last apply created or updated.")
@click.option(
    "--min-pass-rate",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="A case passes when passed attempts / attempts reaches this.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=1800.0,
    show_default=True,
    help="Seconds to wait for the batch runs; then exit 1.",
)
@click.option(
    "--junit",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write a JUnit XML report (one testcase per case).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True
)
@click.option("--allow-drift", is_flag=True, help="Run even when the plan is not empty.")
@project_options
@click.pass_context
def run_cmd(
    ctx: click.Context,
    patterns: tuple[str, ...],
    changed: bool,
    min_pass_rate: float,
    timeout: float,
    junit: Path | None,
    fmt: str,
    allow_drift: bool,
    directory: Path | None,
    env_name: str | None,
) -> int:
    """Batch-run the project's cases on the platform, wait for the verdicts, report them."""
    import threading

    from suitesync.atomic import write_atomic
    from suitesync.commands import RunOptions, run_project
    from suitesync.run import RunReport
    from suitesync.runreport import junit_xml, write_run_json, write_run_markdown, write_run_text
    from suitesync.signals import StopOnSignal
    from suitesync.text import plural

    settings = _settings(ctx, directory, env_name)
    stop = threading.Event()
    signals = StopOnSignal(stop, "no new batch run starts; the ones started go on on the platform")
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if tty:
            click.echo(f"\r\033[Kwaiting for verdicts: {done}/{plural(total, 'attempt')}", nl=False, err=True)

    try:
        options = RunOptions(patterns, changed, min_pass_rate, timeout, allow_drift)
        report = run_project(settings, options, err=sys.stderr, stop=stop, on_progress=progress)
    except SuitesyncError as exc:
        raise signals.instead_of(exc, "run stopped before any batch run started") from None
    finally:
        signals.restore()
        if tty:
            click.echo("\r\033[K", nl=False, err=True)
    if report is None:
        click.echo("no cases to run (none selected, or none applied yet)", err=True)
        report = RunReport([], {}, min_pass_rate)  # CI still finds the JUnit file it publishes
    else:
        {"json": write_run_json, "markdown": write_run_markdown}.get(fmt, write_run_text)(report, sys.stdout)
    if junit is not None:
        write_atomic(junit, junit_xml(report))  # always: unfinished cases are its errors
    if report.stopped is not None:
        raise _stopped(report, signals.received)
    return ExitCode.TESTS_FAILED if report.failed else ExitCode.OK


def _stopped(report: Any, signal: int | None) -> SuitesyncError:
    """A run that ended before every verdict: its own exit code for a signal, else an error."""
    from suitesync.text import plural

    if signal is not None:
        return Cancelled(
            f"run stopped: {plural(len(report.unfinished), 'case')} without a verdict; "
            "their batch runs go on on the platform",
            ExitCode(128 + signal),
        )
    return SuitesyncError(
        report.stopped, hint="the unfinished cases are in the report; look at the batch runs on the platform"
    )


@cli.command("import")
@click.option(
    "--agent", required=True, metavar="ID", help="The agent (its id, or an alias from suitesync.yaml)."
)
@click.option(
    "--into",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The suite file to write (default: imported-<agent>.yaml beside the suites).",
)
@click.option("--dry-run", is_flag=True, help="Print the file that would be written; change nothing.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@project_options
@click.pass_context
def import_(
    ctx: click.Context,
    agent: str,
    into: Path | None,
    dry_run: bool,
    force: bool,
    directory: Path | None,
    env_name: str | None,
) -> int:
    """Adopt an agent's remote test cases that the lockfile does not know: write them as a suite."""
    from suitesync.commands import ImportOptions, import_agent

    settings = _settings(ctx, directory, env_name)
    return import_agent(settings, ImportOptions(agent, into, dry_run, force), out=sys.stdout, err=sys.stderr)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@click.option(
    "--check", is_flag=True, help="Change nothing; list the files that would change and exit 1 if any."
)
@project_options
@click.pass_context
def fmt(
    ctx: click.Context, paths: tuple[Path, ...], check: bool, directory: Path | None, env_name: str | None
) -> int:
    """Rewrite suite files in the canonical layout, keeping every comment."""
    from suitesync.load import display_path
    from suitesync.rewrite import format_file
    from suitesync.state import suite_files
    from suitesync.text import part_of

    settings = _settings(ctx, directory, env_name)
    files = suite_files(settings, paths)
    results = [
        format_file(path, display_path(path, Path.cwd()), check=check, agents=settings.agents)
        for path in files
    ]
    for result in results:
        for problem in result.problems:
            click.echo(problem.render(), err=True)
        if result.problem:
            click.echo(f"{result.display}: {result.problem}", err=True)
        elif result.changed:
            click.echo(f"{'would reformat' if check else 'formatted'}: {result.display}")
    changed = sum(r.changed for r in results)
    left = sum(1 for r in results if r.problem)
    click.echo(
        f"{part_of(changed, len(results), 'file')} {'would change' if check else 'reformatted'}"
        + (f"; {left} left alone" if left else ""),
        err=True,
    )
    return ExitCode.ERROR if left or (check and changed) else ExitCode.OK


@cli.command()
@click.option(
    "--lockfile", "which", flag_value="lockfile.schema.json", help="Print the lockfile schema instead."
)
@click.option(
    "--plan", "which", flag_value="plan.schema.json", help="Print the schema of plan --format json."
)
@click.option(
    "--config", "which", flag_value="config.schema.json", help="Print the schema of suitesync.yaml."
)
@click.option("--suite", "which", flag_value="suite.schema.json", default=True, hidden=True)
def schema(which: str) -> int:
    """Print the suite JSON Schema (2020-12)."""
    from suitesync.schema import schema_text

    sys.stdout.write(schema_text(which))
    return ExitCode.OK


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", type=int, default=8765, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--state",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path(".suitesync/emulator.sqlite3"),
    show_default=True,
    help="SQLite file holding the state; it survives restarts.",
)
@click.option(
    "--api-key",
    default=None,
    envvar="SUITESYNC_EMULATOR_API_KEY",
    help="Accept only this X-API-Key (default: any non-empty key).",
)
@click.option("--agent", "agents", multiple=True, metavar="ID", help="An agent that exists (repeatable).")
@click.option("--latency-ms", type=float, default=0.0, help="Added to every /v1 request.")
@click.option("--jitter-ms", type=float, default=0.0, help="Plus a uniform random 0..J ms.")
@click.option("--error-rate", type=float, default=0.0, help="Share of requests answered 500/503.")
@click.option(
    "--error-status", type=click.Choice(["500", "503"]), default=None, help="Answer faults with only this."
)
@click.option("--rate-limit-rate", type=float, default=0.0, help="Share answered 429 with Retry-After.")
@click.option(
    "--rate-limit-rps",
    type=float,
    default=0.0,
    help="Token bucket: admit N requests a second, 429 beyond (0: no limit).",
)
@click.option(
    "--rate-limit-burst", type=int, default=1, show_default=True, help="Token bucket: at most B at once."
)
@click.option(
    "--retry-after", "retry_after_s", type=float, default=1.0, help="Retry-After seconds of 429/503."
)
@click.option(
    "--drop-rate", type=float, default=0.0, help="Share of creates committed, then dropped unanswered."
)
@click.option("--list-lag-ms", type=float, default=0.0, help="New test cases stay out of lists this long.")
@click.option("--seed", type=int, default=None, help="Make the faults reproducible.")
@click.option("--run-seconds", type=float, default=2.0, show_default=True, help="Duration of one test run.")
@click.option(
    "--list-shape",
    type=click.Choice(["array", "paged"]),
    default="array",
    show_default=True,
    help="List Test Cases as a bare array (legacy docs) or the paged {data: [...]} wrapper.",
)
@click.option("--page-size", type=int, default=20, show_default=True, help="Default `size` of paged lists.")
def emulator(
    host: str, port: int, state: Path, api_key: str | None, agents: tuple[str, ...], **faults: Any
) -> int:
    """Serve the SigmaMind-compatible API on loopback until stopped (Ctrl-C)."""
    from suitesync.emulator import Emulator, FaultConfig, NotLoopbackError

    if faults["error_status"] is not None:
        faults["error_status"] = int(faults["error_status"])
    try:
        config = FaultConfig(**faults)
        server = Emulator(host, port, state, api_key, agents, config)
    except (NotLoopbackError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None
    except OSError as exc:
        raise SuitesyncError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # The handlers go in before the URL is printed: whoever waits for the URL may signal at once.
    _stop_on_sigterm()
    try:
        click.echo(server.url, nl=True)
        sys.stdout.flush()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return ExitCode.OK


def _stop_on_sigterm() -> None:
    """SIGTERM ends the server like Ctrl-C does: the state file is closed cleanly. SIGINT is set
    too: a process started in the background by a non-interactive shell inherits it ignored."""
    import signal

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps every outcome to an ExitCode, and never shows a traceback for bad input."""
    try:
        code = cli.main(args=argv, prog_name="suitesync", standalone_mode=False)
    except click.UsageError as exc:
        exc.show()
        return ExitCode.USAGE
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        return ExitCode.INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return ExitCode.ERROR
    except Cancelled as exc:
        click.echo(str(exc), err=True)
        return exc.exit_code
    except SuitesyncError as exc:
        click.echo(f"error: {exc}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.ERROR
    except Exception as exc:  # a bug: say so in one line, traceback only on request
        if os.environ.get("SUITESYNC_DEBUG"):
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("hint: this is a bug in suitesync; rerun with SUITESYNC_DEBUG=1 for details", err=True)
        return ExitCode.ERROR
    return int(code) if isinstance(code, int) else ExitCode.OK


def run() -> None:
    sys.exit(main())
