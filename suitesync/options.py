"""What each command takes besides the project settings: keyword-only, with the defaults that
the command line shows (cli.py reads them from here, so they are written down once).

Only the standard library is imported: cli.py reads these defaults while `--help` must stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class ValidateOptions:
    paths: tuple[Path, ...] = ()  # files or directories; none: the project's suites


@dataclass(frozen=True, kw_only=True)
class PlanOptions:
    refresh: bool = True  # False: plan from the lockfile alone, no network
    prune: bool = False
    targets: tuple[str, ...] = ()  # --target ids or globs; none: every case
    replace: tuple[str, ...] = ()  # --replace ids: delete and create again


@dataclass(frozen=True, kw_only=True)
class ApplyOptions:
    planfile: Path | None = None  # a plan saved with `plan --out`; None: plan now
    prune: bool = False
    parallelism: int = 16  # requests in flight at once (README: "Why 16")
    max_deletes: int = 10
    lock_timeout: float = 0.0  # seconds to wait for another apply of the project
    list_grace: float = 10.0  # seconds list results may lag behind creates
    targets: tuple[str, ...] = ()  # --target ids or globs; none: every case
    replace: tuple[str, ...] = ()  # --replace ids: delete and create again


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    agent: str  # an agent id or an alias
    into: Path | None = None  # None: imported-<agent>.yaml beside the suites
    dry_run: bool = False
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    patterns: tuple[str, ...] = ()  # --case globs; none: every case
    changed: bool = False
    min_pass_rate: float = 1.0
    timeout: float = 1800.0
    allow_drift: bool = False
    tags: tuple[str, ...] = ()  # --tag: only cases with one of these tags


@dataclass(frozen=True, kw_only=True)
class FmtOptions:
    paths: tuple[Path, ...] = ()
    check: bool = False


@dataclass(frozen=True, kw_only=True)
class PullOptions:
    resolve: str = "theirs"  # theirs: write the platform's version; ours: keep the file; fail: exit 1
    dry_run: bool = False
    patterns: tuple[str, ...] = ()  # --case globs; none: every case
    accept_deletes: bool = False  # cases deleted on the platform leave the suites and the lockfile


@dataclass(frozen=True, kw_only=True)
class InitOptions:
    directory: Path  # where the project is written (made if missing)
    agent: str | None = None  # the agent id for the `main` alias; None: a placeholder to replace
    ci: str | None = None  # "github" or "gitlab": also write that CI file
