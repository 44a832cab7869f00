"""The command line: flags -> options -> the command -> a renderer -> the exit code.

Each command here only translates: it builds the settings and the command's options, calls the
command (suitesync/commands/), hands the result to a renderer and returns an exit code. Only
click (and the light console, options and errors modules) is imported at module level, so that
`suitesync --help` stays fast; each command imports the stages it uses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from suitesync.console import (
    Console,
    RendererChoice,
    render,
    show_crash,
    show_error,
    show_line,
    show_text,
    show_url,
    show_usage_error,
)
from suitesync.errors import Cancelled, ExitCode, SuitesyncError
from suitesync.options import (
    ApplyOptions,
    FmtOptions,
    ImportOptions,
    InitOptions,
    PlanOptions,
    PullOptions,
    RunOptions,
    ValidateOptions,
)

if TYPE_CHECKING:
    from suitesync.settings import Settings

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
  70   internal error: a bug in suitesync (see the crash log it names)
  130  interrupted (SIGINT); 143 terminated (SIGTERM)
"""

VALIDATE_FORMATS = "suitesync.report:VALIDATE_REPORTERS"
PLAN_FORMATS = "suitesync.report:PLAN_REPORTERS"
RUN_FORMATS = "suitesync.runreport:RUN_REPORTERS"
STATE_FORMATS = "suitesync.writereport:STATE_REPORTERS"
APPLY_FORMATS = "suitesync.report:APPLY_REPORTERS"
IMPORT_FORMATS = "suitesync.writereport:IMPORT_REPORTERS"
FMT_FORMATS = "suitesync.writereport:FMT_REPORTERS"


def json_format_option(registry: str, schema: str) -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=RendererChoice(registry),
        default="text",
        show_default=True,
        help=f"json: one versioned document (schemas/{schema}); other lines go to standard error.",
    )


def targeting_options(command: F) -> F:
    """--target and --replace, shared by plan and apply (the same words in both helps)."""
    command = click.option(
        "--replace",
        "replace",
        multiple=True,
        metavar="ID",
        help="Delete this case on the platform and create it again (-/+; repeatable).",
    )(command)
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="ID_OR_GLOB",
        help="Only this case (an id or a glob; repeatable). One that matches nothing is an error.",
    )(command)


@dataclass
class Invocation:
    """One run of the command line: where output goes, and (once known) the project's private
    folder, where a crash log is written."""

    console: Console
    state_dir: Path | None = None


baseline_option = click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=None,
    metavar="FILE_OR_DIR",
    help="Compare with this results document (a folder: its newest for the same --env).",
)


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


def _settings(ctx: click.Context, directory: Path | None, env_name: str | None) -> Settings:
    from suitesync.settings import load_settings

    group = ctx.find_root().params
    settings = load_settings(directory or group.get("directory"), env_name or group.get("env_name"))
    invocation = _invocation(ctx)
    invocation.state_dir = settings.state_dir
    invocation.console.no_color = settings.no_color
    return settings


def _invocation(ctx: click.Context) -> Invocation:
    invocation: Invocation = ctx.find_root().obj
    return invocation


def _console(ctx: click.Context) -> Console:
    return _invocation(ctx).console


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
    type=RendererChoice(VALIDATE_FORMATS),
    default=None,
    help="text (the default), json (a versioned document, see the README) or github (workflow "
    "commands that annotate the files; the default when GITHUB_ACTIONS=true).",
)
@project_options
@click.pass_context
def validate(
    ctx: click.Context,
    paths: tuple[Path, ...],
    fmt: str | None,
    directory: Path | None,
    env_name: str | None,
) -> int:
    """Check suite files offline and report every problem at once (file:line:col)."""
    from suitesync.commands.validate import validate as validate_suites
    from suitesync.settings import in_github_actions

    settings = _settings(ctx, directory, env_name)
    result = validate_suites(settings, ValidateOptions(paths=paths))
    if fmt is None:  # as yamllint does: annotations when GitHub runs us, unless a format is asked for
        fmt = "github" if in_github_actions() else "text"
    render(VALIDATE_FORMATS, fmt, result, _console(ctx))
    _note_stale_schemas(settings.root, _console(ctx))
    return ExitCode.OK if result.ok else ExitCode.ERROR


def _note_stale_schemas(root: Path, console: Console) -> None:
    from suitesync.commands.init import stale_schema_copies
    from suitesync.writereport import write_stale_schemas

    write_stale_schemas(stale_schema_copies(root), console)


@cli.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--agent", default=None, metavar="ID", help="The agent id the example suite tests.")
@click.option(
    "--ci",
    type=click.Choice(["github", "gitlab"]),
    default=None,
    help="Also write the CI file: .github/workflows/suitesync.yml or .gitlab-ci.yml.",
)
@click.pass_context
def init(ctx: click.Context, directory: Path | None, agent: str | None, ci: str | None) -> int:
    """Start a project: config, example suite, editor schemas, CI file.

    Writes them in DIRECTORY (default: here): suitesync.yaml, suites/example.yaml, schemas/ for
    the editor, and with --ci the CI file. Never overwrites a file: one that exists is skipped."""
    from suitesync.commands.init import init as init_project
    from suitesync.writereport import write_init

    where = directory or ctx.find_root().params.get("directory") or Path(".")
    report = init_project(InitOptions(directory=where, agent=agent, ci=ci))
    write_init(report, _console(ctx))
    return ExitCode.OK


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=RendererChoice(PLAN_FORMATS),
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
@targeting_options
@project_options
@click.pass_context
def plan(
    ctx: click.Context,
    fmt: str,
    out: Path | None,
    no_refresh: bool,
    prune: bool,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    directory: Path | None,
    env_name: str | None,
) -> int:
    """Show what apply would change on the platform: create, update, delete, drift, unmanaged."""
    from suitesync.commands.plan import plan as plan_project
    from suitesync.progress import TerminalEvents
    from suitesync.report import save_plan

    settings = _settings(ctx, directory, env_name)
    console = _console(ctx)
    the_plan = plan_project(
        settings,
        PlanOptions(refresh=not no_refresh, prune=prune, targets=targets, replace=replace),
        TerminalEvents(console),
    )
    render(PLAN_FORMATS, fmt, the_plan, console)
    if out is not None:
        save_plan(the_plan, out, settings.env_name, console)
    return ExitCode.CHANGES if detailed_exitcode and the_plan.has_changes else ExitCode.OK


@cli.command()
@click.argument("planfile", required=False, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Apply without asking (CI). Without a terminal, required.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=ApplyOptions.parallelism,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--prune", is_flag=True, help="Delete cases removed from the suites (never `protect: true` ones)."
)
@click.option(
    "--max-deletes",
    type=click.IntRange(min=0),
    default=ApplyOptions.max_deletes,
    show_default=True,
    help="Refuse a plan that deletes more test cases than this.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=ApplyOptions.lock_timeout,
    show_default=True,
    help="Seconds to wait for another apply of this project to finish.",
)
@click.option(
    "--list-grace",
    type=click.FloatRange(min=0),
    default=ApplyOptions.list_grace,
    show_default=True,
    help="Seconds list results may lag behind creates (for confirming unknown outcomes).",
)
@targeting_options
@json_format_option(APPLY_FORMATS, "apply.schema.json")
@project_options
@click.pass_context
def apply(
    ctx: click.Context,
    /,
    planfile: Path | None,
    auto_approve: bool,
    fmt: str,
    directory: Path | None,
    env_name: str | None,
    **flags: Any,
) -> int:
    """Apply the plan (or a saved PLANFILE) to the platform, concurrently and crash-safely."""
    given = {"--prune": flags["prune"], "--target ID": flags["targets"], "--replace ID": flags["replace"]}
    shaping = [flag for flag, value in given.items() if value]
    if planfile is not None and shaping:
        # A saved plan already fixed what it does: a flag that would shape it again is a mistake.
        flag = shaping[0].split()[0]
        raise click.UsageError(
            f"{flag} cannot be used with a saved plan ({planfile}): the plan already fixed what it "
            f"{'deletes' if flag == '--prune' else 'does'}; "
            f"make it with `suitesync plan {shaping[0]} --out FILE`",
            ctx=ctx,
        )
    settings = _settings(ctx, directory, env_name)
    options = ApplyOptions(planfile=planfile, **flags)
    return _apply(settings, options, auto_approve, _console(ctx), fmt)


def _apply(settings: Settings, options: ApplyOptions, auto_approve: bool, console: Console, fmt: str) -> int:
    import threading

    from suitesync.commands.apply import apply as apply_plan
    from suitesync.progress import TerminalEvents, stopping_message
    from suitesync.signals import StopOnSignal, exit_now

    stop = threading.Event()
    signals = StopOnSignal(stop, stopping_message(console))
    events = TerminalEvents(_lines_console(console, fmt), auto_approve=auto_approve, signals=signals)
    try:
        report = apply_plan(settings, options, events, stop)
    except SuitesyncError as exc:
        raise signals.instead_of(exc, "apply stopped before it changed anything") from None
    finally:
        signals.restore()
    render(APPLY_FORMATS, fmt, report, console)
    if signals.received is not None:
        exit_now(128 + signals.received, console.flush)
    return ExitCode.ERROR if report.failed else ExitCode.OK


def _lines_console(console: Console, fmt: str) -> Console:
    """Where the lines shown while a command works go: standard error when standard output
    carries a document (`--format json`)."""
    if fmt == "text":
        return console
    return Console(console.err, console.err, console.stdin, console.no_color)


@cli.command("run")
@click.option(
    "--case", "patterns", multiple=True, metavar="GLOB", help="Only cases whose id matches (repeatable)."
)
@click.option(
    "--tag", "tags", multiple=True, metavar="TAG", help="Only cases with this tag (repeatable; any matches)."
)
@click.option("--changed", is_flag=True, help="Only the cases the last apply created or updated.")
@click.option(
    "--min-pass-rate",
    type=click.FloatRange(0, 1),
    default=RunOptions.min_pass_rate,
    show_default=True,
    help="A case passes when passed attempts / attempts reaches this (a case's minPassRate wins).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=RunOptions.timeout,
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
    "--results",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the results document here (it is always kept in .suitesync/results/).",
)
@baseline_option
@click.option(
    "--fail-on",
    type=click.Choice(["failures", "regressions"]),
    default="failures",
    show_default=True,
    help="Exit 3 on any failing case, or only on regressions beyond noise and new failing cases.",
)
@click.option("--format", "fmt", type=RendererChoice(RUN_FORMATS), default="text", show_default=True)
@click.option("--allow-drift", is_flag=True, help="Run even when the plan is not empty.")
@project_options
@click.pass_context
def run_cmd(
    ctx: click.Context,
    /,
    junit: Path | None,
    results: Path | None,
    baseline: Path | None,
    fail_on: str,
    fmt: str,
    directory: Path | None,
    env_name: str | None,
    **flags: Any,
) -> int:
    """Batch-run the project's cases on the platform, wait for the verdicts, report them."""
    from suitesync.reporting import RunOutputs, check_outputs, run_baseline, write_run_outputs
    from suitesync.results import empty_document
    from suitesync.runreport import write_no_baseline, write_nothing_to_run

    settings = _settings(ctx, directory, env_name)
    console = _console(ctx)
    options = RunOptions(**flags)
    check_outputs(results, junit)  # before anything is sent: a typo costs nothing
    base = run_baseline(baseline, settings.env_name)
    if baseline is not None and base is None:
        write_no_baseline(console, baseline)
    document, received = _run(settings, options, console)
    if document is None:
        write_nothing_to_run(console)
        document = empty_document(options.min_pass_rate, settings.env_name)  # CI still finds its files
    outputs = RunOutputs(fmt, junit, results, settings.state_dir / "results")
    view = write_run_outputs(document, base, outputs, console)
    if document.stopped is not None:
        raise _stopped(document, received)
    return _run_exit_code(view, fail_on, console)


def _run_exit_code(view: Any, fail_on: str, console: Console) -> int:
    from suitesync.reporting import verdict
    from suitesync.runreport import write_fail_on

    outcome = verdict(view, fail_on)
    if outcome.reason:
        write_fail_on(console, fail_on, outcome.reason)
    return outcome.code


def _run(settings: Settings, options: RunOptions, console: Console) -> tuple[Any, int | None]:
    """The run's document (None: nothing to run) and the signal that stopped it, if one did."""
    import threading

    from suitesync.commands.run import run as run_cases
    from suitesync.progress import TerminalEvents, stopping_message
    from suitesync.signals import StopOnSignal

    stop = threading.Event()
    signals = StopOnSignal(
        stop, stopping_message(console), "no new batch run starts; the ones started go on on the platform"
    )
    events = TerminalEvents(console)
    try:
        report = run_cases(settings, options, events, stop)
    except SuitesyncError as exc:
        raise signals.instead_of(exc, "run stopped before any batch run started") from None
    finally:
        signals.restore()
        events.end_progress()
    return report, signals.received


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


@cli.command()
@click.argument("documents", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@baseline_option
@click.option("--format", "fmt", type=RendererChoice(RUN_FORMATS), default="text", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the report to this file instead of standard output.",
)
@click.pass_context
def report(
    ctx: click.Context, documents: tuple[Path, ...], baseline: Path | None, fmt: str, output: Path | None
) -> int:
    """Render saved results documents (the newest; the others are its history)."""
    from suitesync.reporting import render_to, report_view
    from suitesync.runreport import write_report_saved

    console = _console(ctx)
    view = report_view(documents, baseline)
    if output is None:
        render(RUN_FORMATS, fmt, view, console)
    else:
        render_to(output, fmt, view)
        write_report_saved(console, fmt, len(documents), output)
    return ExitCode.OK


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
@json_format_option(IMPORT_FORMATS, "import.schema.json")
@project_options
@click.pass_context
def import_(
    ctx: click.Context, /, fmt: str, directory: Path | None, env_name: str | None, **flags: Any
) -> int:
    """Adopt an agent's remote test cases that the lockfile does not know: write them as a suite."""
    from suitesync.commands.import_ import import_agent
    from suitesync.progress import TerminalEvents

    settings = _settings(ctx, directory, env_name)
    console = _console(ctx)
    events = TerminalEvents(_lines_console(console, fmt))
    render(IMPORT_FORMATS, fmt, import_agent(settings, ImportOptions(**flags), events), console)
    return ExitCode.OK


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@click.option(
    "--check", is_flag=True, help="Change nothing; list the files that would change and exit 1 if any."
)
@json_format_option(FMT_FORMATS, "fmt.schema.json")
@project_options
@click.pass_context
def fmt(
    ctx: click.Context,
    paths: tuple[Path, ...],
    check: bool,
    fmt: str,
    directory: Path | None,
    env_name: str | None,
) -> int:
    """Rewrite suite files in the canonical layout, keeping every comment."""
    from suitesync.commands.fmt import FmtReport
    from suitesync.commands.fmt import fmt as format_suites

    results = format_suites(_settings(ctx, directory, env_name), FmtOptions(paths=paths, check=check))
    render(FMT_FORMATS, fmt, FmtReport(results, check), _console(ctx))
    left = any(result.problem for result in results)
    changed = any(result.changed for result in results)
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
@click.option(
    "--apply", "which", flag_value="apply.schema.json", help="Print the schema of apply --format json."
)
@click.option(
    "--import", "which", flag_value="import.schema.json", help="Print the schema of import --format json."
)
@click.option("--fmt", "which", flag_value="fmt.schema.json", help="Print the schema of fmt --format json.")
@click.option(
    "--results", "which", flag_value="results.schema.json", help="Print the schema of results documents."
)
@click.option("--suite", "which", flag_value="suite.schema.json", default=True, hidden=True)
@click.pass_context
def schema(ctx: click.Context, which: str) -> int:
    """Print the suite JSON Schema (2020-12)."""
    from suitesync.schema import schema_text

    show_text(schema_text(which), _console(ctx))
    return ExitCode.OK


@cli.group("lockfile")
def lockfile_group() -> None:
    """Lockfile tools (git's merge driver)."""


@lockfile_group.command("merge")
@click.argument("base", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("ours", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("theirs", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("name", required=False)
@click.pass_context
def lockfile_merge(ctx: click.Context, base: Path, ours: Path, theirs: Path, name: str | None) -> int:
    """Merge lockfiles by case id into OURS: git's merge driver (%O %A %B %P; NAME, the lockfile's
    path, is only shown). Exit 1 only when one case id names two different remote test cases."""
    from suitesync.commands.lockfile import merge
    from suitesync.writereport import write_lockfile_merge

    result = merge(base, ours, theirs)
    write_lockfile_merge(result, name or str(ours), _console(ctx))
    return ExitCode.ERROR if result.conflicts else ExitCode.OK


@cli.command("pull")
@click.option(
    "--resolve",
    type=click.Choice(["theirs", "ours", "fail"]),
    default=PullOptions.resolve,
    show_default=True,
    help="theirs: write the platform's version; ours: keep the file (the next apply puts it back); "
    "fail: exit 1 if anything changed on the platform (CI).",
)
@click.option("--dry-run", is_flag=True, help="Show the diff of the suite files; change nothing.")
@click.option(
    "--case", "patterns", multiple=True, metavar="GLOB", help="Only cases whose id matches (repeatable)."
)
@click.option(
    "--accept-deletes",
    is_flag=True,
    help="Remove cases deleted on the platform from the suites and the lockfile.",
)
@project_options
@click.pass_context
def pull_cmd(ctx: click.Context, /, directory: Path | None, env_name: str | None, **flags: Any) -> int:
    """Write the platform's edits of test cases into the suites (the opposite of apply)."""
    from suitesync.commands.pull import pull
    from suitesync.progress import TerminalEvents
    from suitesync.writereport import write_pull

    console = _console(ctx)
    report = pull(_settings(ctx, directory, env_name), PullOptions(**flags), TerminalEvents(console))
    write_pull(report, console)
    failed = report.left_alone if report.resolve == "theirs" else report.drifted and report.resolve == "fail"
    return ExitCode.ERROR if failed else ExitCode.OK


@cli.group("state")
def state_group() -> None:
    """Read and change the lockfile's entries by hand (like `terraform state`)."""


@state_group.command("list")
@click.option("--format", "fmt", type=RendererChoice(STATE_FORMATS), default="text", show_default=True)
@project_options
@click.pass_context
def state_list(ctx: click.Context, fmt: str, directory: Path | None, env_name: str | None) -> int:
    """Every lockfile entry: id, testCaseId, agent, where the suites define it, pending/protect."""
    from suitesync.commands.state import state_rows

    render(STATE_FORMATS, fmt, state_rows(_settings(ctx, directory, env_name)), _console(ctx))
    return ExitCode.OK


@state_group.command("show")
@click.argument("case_id", metavar="ID")
@project_options
@click.pass_context
def state_show(ctx: click.Context, case_id: str, directory: Path | None, env_name: str | None) -> int:
    """One lockfile entry, every field."""
    from suitesync.commands.state import state_rows
    from suitesync.writereport import write_state_show

    write_state_show(state_rows(_settings(ctx, directory, env_name), (case_id,))[0], _console(ctx))
    return ExitCode.OK


@state_group.command("rm")
@click.argument("case_ids", metavar="ID...", nargs=-1, required=True)
@project_options
@click.pass_context
def state_rm(
    ctx: click.Context, case_ids: tuple[str, ...], directory: Path | None, env_name: str | None
) -> int:
    """Forget entries: the remote cases stay (the next plan lists them as unmanaged)."""
    from suitesync.commands.state import state_rm as remove
    from suitesync.writereport import write_state_change

    write_state_change(remove(_settings(ctx, directory, env_name), case_ids), _console(ctx))
    return ExitCode.OK


@state_group.command("mv")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@project_options
@click.pass_context
def state_mv(ctx: click.Context, old: str, new: str, directory: Path | None, env_name: str | None) -> int:
    """Move an entry to another case id."""
    from suitesync.commands.state import state_mv as move
    from suitesync.writereport import write_state_change

    write_state_change(move(_settings(ctx, directory, env_name), old, new), _console(ctx))
    return ExitCode.OK


@state_group.command("adopt")
@click.argument("case_id", metavar="ID")
@click.argument("test_case_id", metavar="TESTCASEID")
@project_options
@click.pass_context
def state_adopt(
    ctx: click.Context, case_id: str, test_case_id: str, directory: Path | None, env_name: str | None
) -> int:
    """Tie an existing remote case of the case's agent to a case of the suites."""
    from suitesync.commands.state import state_adopt as adopt
    from suitesync.progress import TerminalEvents
    from suitesync.writereport import write_state_change

    console = _console(ctx)
    settings = _settings(ctx, directory, env_name)
    write_state_change(adopt(settings, case_id, test_case_id, TerminalEvents(console)), console)
    return ExitCode.OK


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> int:
    """Print the shell completion script for bash, zsh or fish.

    For bash: eval "$(suitesync completion bash)" in ~/.bashrc (zsh: the same in ~/.zshrc)."""
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # click ships all three
    script = completer(cli, {}, "suitesync", "_SUITESYNC_COMPLETE").source()
    show_text(script if script.endswith("\n") else script + "\n", _console(ctx))
    return ExitCode.OK


class EmulatorCommand(click.Command):
    """`suitesync emulator`, whose fault and behaviour flags are made from the fields of
    FaultConfig and ApiBehaviour (their defaults and help are written there, once). They are
    made when first needed, so that `suitesync --help` does not import the emulator."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if not any(param.name == "latency_ms" for param in self.params):
            self.params.extend(_fault_options())
        return super().get_params(ctx)


def _fault_options() -> list[click.Parameter]:
    from dataclasses import fields

    from suitesync.emulator.faults import ApiBehaviour, FaultConfig

    return [
        _fault_option(setting.name, setting.type, setting.default, setting.metadata)
        for setting in (*fields(FaultConfig), *fields(ApiBehaviour))
    ]


def _fault_option(name: str, kind: Any, default: Any, meta: Any) -> click.Option:
    value_type: Any = click.Choice(meta["choices"]) if "choices" in meta else _FAULT_TYPES[kind]
    return click.Option(
        [meta.get("name", "--" + name.replace("_", "-")), name],
        type=value_type,
        default=default,
        show_default=meta.get("show_default", False),
        help=meta["help"],
    )


_FAULT_TYPES = {"float": float, "int": int, "int | None": int, "str": str}


@cli.command(cls=EmulatorCommand)
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
    help="Accept only this X-API-Key (default: any non-empty key).",
)
@click.option("--agent", "agents", multiple=True, metavar="ID", help="An agent that exists (repeatable).")
@click.pass_context
def emulator(
    ctx: click.Context,
    /,
    host: str,
    port: int,
    state: Path,
    api_key: str | None,
    agents: tuple[str, ...],
    **faults: Any,
) -> int:
    """Serve the SigmaMind-compatible API on loopback until stopped (Ctrl-C)."""
    from suitesync.emulator import Emulator, NotLoopbackError
    from suitesync.settings import emulator_api_key

    try:
        config, behaviour = _switchable(_fault_values(faults))
        server = Emulator(host, port, state, api_key or emulator_api_key(), agents, config, behaviour)
    except (NotLoopbackError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None
    except OSError as exc:
        raise SuitesyncError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # The handlers go in before the URL is shown: whoever waits for the URL may signal at once.
    _stop_on_sigterm()
    try:
        show_url(server.url, _console(ctx))
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return ExitCode.OK


def _switchable(values: dict[str, Any]) -> tuple[Any, Any]:
    """The flags' values as a FaultConfig and an ApiBehaviour."""
    from dataclasses import fields

    from suitesync.emulator import ApiBehaviour, FaultConfig

    faults = {f.name for f in fields(FaultConfig)}
    return (
        FaultConfig(**{k: v for k, v in values.items() if k in faults}),
        ApiBehaviour(**{k: v for k, v in values.items() if k not in faults}),
    )


def _fault_values(faults: dict[str, Any]) -> dict[str, Any]:
    """The flags' values as FaultConfig takes them: a choice of numbers (--error-status) as a number."""
    from dataclasses import fields

    from suitesync.emulator import FaultConfig

    numbers = {s.name for s in fields(FaultConfig) if "choices" in s.metadata and s.type != "str"}
    return {
        name: int(value) if name in numbers and value is not None else value for name, value in faults.items()
    }


def _stop_on_sigterm() -> None:
    """SIGTERM ends the server like Ctrl-C does: the state file is closed cleanly. SIGINT is set
    too: a process started in the background by a non-interactive shell inherits it ignored."""
    import signal

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps every outcome to an ExitCode, and never shows a traceback. A bug of
    suitesync's exits 70 with a crash log (crash.py); SUITESYNC_DEBUG=1 raises it instead."""
    from suitesync.secret import forget

    forget()
    args = sys.argv[1:] if argv is None else list(argv)
    invocation = Invocation(Console.standard())
    try:
        return _outcome(args, invocation)
    except Exception as exc:  # a bug
        from suitesync.settings import debug_requested

        if debug_requested():
            raise
        return _crashed(exc, args, invocation)


def _outcome(args: list[str], invocation: Invocation) -> int:
    """The exit code of the command line `args`, for every way it can end but a bug."""
    console = invocation.console
    try:
        code = cli.main(args=args, prog_name="suitesync", standalone_mode=False, obj=invocation)
    except click.UsageError as exc:
        show_usage_error(exc, console)
        return ExitCode.USAGE
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        show_line("aborted", console)
        return ExitCode.INTERRUPTED
    except click.ClickException as exc:
        show_usage_error(exc, console)
        return ExitCode.ERROR
    except SuitesyncError as exc:
        _show_error(exc, console)
        return exc.exit_code
    except KeyboardInterrupt:
        show_line("interrupted", console)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.ERROR
    return int(code) if isinstance(code, int) else ExitCode.OK


def _show_error(exc: SuitesyncError, console: Console) -> None:
    """The error, after the problems of invalid suites (which it carries)."""
    from suitesync.validate import InvalidSuitesError

    if isinstance(exc, InvalidSuitesError):
        from suitesync.report import write_validation_text

        write_validation_text(exc.result, console.err, console.err)  # all on standard error
    show_error(exc, console)


def _crashed(exc: Exception, args: list[str], invocation: Invocation) -> int:
    """A bug: one line, and the crash log in the project's `.suitesync/` (or the current one's)."""
    from suitesync.crash import summary, write_crash_log
    from suitesync.settings import STATE_DIR, find_project_root

    state_dir = invocation.state_dir or find_project_root(Path.cwd())[0] / STATE_DIR
    log = write_crash_log(exc, args, state_dir)
    show_crash(summary(exc), None if log is None else _shown_path(log), invocation.console)
    return ExitCode.SOFTWARE


def _shown_path(path: Path) -> str:
    """`path` relative to the current directory when it is below it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run() -> None:
    sys.exit(main())
