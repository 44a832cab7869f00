"""Click commands: build settings, call the stages, report, return an exit code.

Only click is imported at module level so that `suitesync --help` stays fast; each command
imports the stages it uses.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from suitesync.errors import ExitCode, SuitesyncError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = """
\b
Exit codes:
  0    success, nothing pending
  1    error (invalid suites, API error, timeout)
  2    plan --detailed-exitcode: changes pending
  3    run: test cases failed
  4    apply: the project is locked by another apply
  5    apply: the saved plan is stale
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


@contextlib.contextmanager
def _bulk_work() -> Iterator[None]:
    """Pause the cyclic GC while tens of thousands of small objects are built.

    Our pipeline makes no reference cycles, so reference counting frees everything; without
    this, each collection walks every live object and per-case cost grows with project size
    (../shared/perf-notes.md, trap 10).
    """
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


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
    from suitesync.load import expand_paths, find_suite_files, load_files
    from suitesync.report import write_validation_json, write_validation_text
    from suitesync.validate import validate_files

    settings = _settings(ctx, directory, env_name)
    files = (
        expand_paths(paths)
        if paths
        else find_suite_files(settings.root, settings.suites, exclude=[settings.root / "suitesync.yaml"])
    )
    with _bulk_work():
        result = validate_files(load_files(files, Path.cwd()), settings.agents, keep_cases=False)
    if fmt == "json":
        write_validation_json(result, sys.stdout)
    else:
        write_validation_text(result, sys.stdout, sys.stderr)
    return ExitCode.OK if result.ok else ExitCode.ERROR


@cli.command()
@click.option(
    "--lockfile", "which", flag_value="lockfile.schema.json", help="Print the lockfile schema instead."
)
@click.option("--suite", "which", flag_value="suite.schema.json", default=True, hidden=True)
def schema(which: str) -> int:
    """Print the suite JSON Schema (2020-12)."""
    from suitesync.schema import schema_text

    sys.stdout.write(schema_text(which))
    return ExitCode.OK


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
    return int(code) if isinstance(code, int) else ExitCode.OK


def run() -> None:
    sys.exit(main())
