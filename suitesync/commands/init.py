"""`suitesync init [DIR]`: a new project's files, never overwriting one -> an InitReport.

Also the check `validate` makes of the schema copies `init` wrote: an editor reads the copy, so an
older copy completes keys the installed suitesync refuses (or misses new ones)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from suitesync.errors import SuitesyncError
from suitesync.options import InitOptions
from suitesync.schema import CONFIG, SUITE, schema_text
from suitesync.settings import CONFIG_NAME
from suitesync.statedir import ensure_state_dir

SCHEMA_DIR = "schemas"  # where the modelines of the files init writes point
PLACEHOLDER_AGENT = "REPLACE_WITH_YOUR_AGENT_ID"
CI_FILES = {"github": ".github/workflows/suitesync.yml", "gitlab": ".gitlab-ci.yml"}
_CI_TEMPLATES = {"github": "github-workflow.yml", "gitlab": "gitlab-ci.yml"}
_AGENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # as suitesync.yaml's agents (config.schema.json)


@dataclass
class InitReport:
    root: Path
    written: list[str] = field(default_factory=list)  # paths relative to root
    skipped: list[str] = field(default_factory=list)  # already there: left as they were
    placeholder_agent: bool = False


def init(options: InitOptions) -> InitReport:
    """Write each file of a new project that is not there yet; say which were there."""
    agent = _checked_agent(options.agent)
    root = options.directory
    report = InitReport(root, placeholder_agent=options.agent is None)
    for relative, text in project_files(agent, options.ci).items():
        _write_new(root, relative, text, report)
    ensure_state_dir(root / ".suitesync")  # ignored by git from the start
    return report


def project_files(agent: str, ci: str | None) -> dict[str, str]:
    """What init writes: path relative to the project -> its text."""
    files = {
        CONFIG_NAME: _template("suitesync.yaml").replace("${agent}", agent),
        "suites/example.yaml": _template("example.yaml"),
        f"{SCHEMA_DIR}/{SUITE}": schema_text(SUITE),
        f"{SCHEMA_DIR}/{CONFIG}": schema_text(CONFIG),
    }
    if ci is not None:
        files[CI_FILES[ci]] = _template(_CI_TEMPLATES[ci])
    return files


def stale_schema_copies(root: Path) -> list[str]:
    """The schema copies under the project's `schemas/` that are not this suitesync's schema."""
    stale = []
    for name in (SUITE, CONFIG):
        copy = root / SCHEMA_DIR / name
        try:
            if copy.read_text(encoding="utf-8") != schema_text(name):
                stale.append(f"{SCHEMA_DIR}/{name}")
        except (OSError, UnicodeDecodeError):
            continue  # none there (a project init did not write), or unreadable: not ours to judge
    return stale


def _checked_agent(agent: str | None) -> str:
    if agent is None:
        return PLACEHOLDER_AGENT
    if not _AGENT_ID.match(agent.removeprefix("agent_")):
        raise SuitesyncError(
            f"--agent: {agent!r} is not an agent id",
            hint="an agentId holds letters, digits, '_', '.' and '-' (Dashboard -> Agents)",
        )
    return agent.removeprefix("agent_")


def _template(name: str) -> str:
    return resources.files("suitesync").joinpath("templates", name).read_text(encoding="utf-8")


def _write_new(root: Path, relative: str, text: str, report: InitReport) -> None:
    """Create the file only if nothing is at its path (exclusive create: never overwritten)."""
    path = root / relative
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        report.skipped.append(relative)
        return
    except OSError as exc:
        raise SuitesyncError(
            f"{path}: cannot write: {exc.strerror}",
            hint=f"the files before it were written: {', '.join(report.written) or 'none'}",
        ) from None
    report.written.append(relative)
