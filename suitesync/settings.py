"""The only reader of environment variables and suitesync.yaml: flags + env + file -> Settings.

Precedence, highest first: command-line flags, environment variables, suitesync.yaml.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suitesync.errors import ConfigError, Problem
from suitesync.secret import Secret, remember
from suitesync.text import printable

if TYPE_CHECKING:
    from suitesync.load import ParsedFile

CONFIG_NAME = "suitesync.yaml"
DEFAULT_SUITES = ("suites/**/*.yaml", "suites/**/*.yml")
DEFAULT_LOCKFILE = "suitesync.lock"
DEFAULT_BASE_URL = "https://api.sigmamind.ai"
API_KEY_ENV = "SIGMAMIND_API_KEY"
BASE_URL_ENV = "SIGMAMIND_BASE_URL"
EMULATOR_API_KEY_ENV = "SUITESYNC_EMULATOR_API_KEY"
STATE_DIR = ".suitesync"


@dataclass(frozen=True)
class _EnvironmentConfig:
    agents: dict[str, str] = field(default_factory=dict)
    api_key_env: str | None = None
    lockfile: str | None = None


@dataclass(frozen=True)
class _ProjectConfig:
    suites: tuple[str, ...] = DEFAULT_SUITES
    lockfile: str = DEFAULT_LOCKFILE
    agents: dict[str, str] = field(default_factory=dict)
    environments: dict[str, _EnvironmentConfig] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about the project it runs in."""

    root: Path
    config_path: Path | None
    suites: tuple[str, ...]
    lockfile: Path
    agents: Mapping[str, str]
    env_name: str | None
    api_key_env: str
    base_url: str
    api_key: Secret | None = field(repr=False, default=None)
    no_color: bool = False
    environ: Mapping[str, str] = field(repr=False, default_factory=dict)
    agent_keys: Mapping[str, str] = field(default_factory=dict)  # alias -> its key in suitesync.yaml

    def env_value(self, name: str) -> str | None:
        """An environment variable named in a suite (`${env:NAME}` mock data): a secret."""
        return remember(self.environ.get(name))

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def uses_embedded_emulator(self) -> bool:
        return self.base_url == "local"

    def describe_agent(self, agent_id: str) -> str:
        """ "D5D0p7TUs66TTAEAx (alias support, environment staging)": where an agent id came from."""
        alias = self.alias_of(agent_id)
        origin = [f"alias {alias}"] if alias else []
        if self.env_name:
            origin.append(f"environment {self.env_name}")
        return f"{agent_id} ({', '.join(origin)})" if origin else agent_id

    def agent_hint(self, agent_id: str, given: str | None = None) -> str:
        """Where to look when the platform does not know an agent id (`given`: the flag naming it)."""
        alias = self.alias_of(agent_id)
        if alias is not None and alias in self.agent_keys:
            where = f"at `{self.agent_keys[alias]}` in {CONFIG_NAME}"
        else:
            where = f"given with {given}" if given else "in the `agent:` of your suites (no alias names it)"
        return f"check the agent id {where}, and that {self.api_key_env} is a key of its workspace"

    def alias_of(self, agent_id: str) -> str | None:
        """The alias naming this agent id (with the environment's aliases first), if any."""
        from suitesync.models import normalize_agent_id

        wanted = normalize_agent_id(agent_id)
        aliases = (name for name, value in self.agents.items() if normalize_agent_id(value) == wanted)
        return next(aliases, None)


def find_project_root(start: Path) -> tuple[Path, Path | None]:
    """The nearest directory at or above `start` holding suitesync.yaml (like git finds .git)."""
    start = start.resolve()
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return directory, candidate
    return start, None


def load_settings(
    directory: Path | None = None,
    env_name: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    environ = os.environ if environ is None else environ
    start = directory if directory is not None else Path.cwd()
    if not start.is_dir():
        raise ConfigError(f"-C {start}: not a directory")
    root, config_path = find_project_root(start)
    config = _read_config(config_path) if config_path else _ProjectConfig()
    agents, api_key_env, lockfile = _select_environment(config, env_name, config_path)
    api_key = environ.get(api_key_env)
    return Settings(
        root=root,
        config_path=config_path,
        suites=tuple(config.suites),
        lockfile=root / lockfile,
        agents=agents,
        env_name=env_name,
        api_key_env=api_key_env,
        base_url=environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
        api_key=Secret(api_key) if api_key else None,
        no_color=bool(environ.get("NO_COLOR")),
        environ=dict(environ),
        agent_keys=_agent_keys(config, env_name),
    )


def _agent_keys(config: _ProjectConfig, env_name: str | None) -> dict[str, str]:
    keys = {alias: f"agents.{alias}" for alias in config.agents}
    env = config.environments.get(env_name or "")
    if env is not None:
        keys.update({alias: f"environments.{env_name}.agents.{alias}" for alias in env.agents})
    return keys


def _select_environment(
    config: _ProjectConfig, env_name: str | None, config_path: Path | None
) -> tuple[dict[str, str], str, str]:
    if env_name is None:
        return dict(config.agents), API_KEY_ENV, config.lockfile
    env = config.environments.get(env_name)
    if env is None:
        raise ConfigError(
            f"--env {env_name}: no such environment in {config_path or CONFIG_NAME}",
            hint=_environment_hint(env_name, config.environments),
        )
    stem = Path(config.lockfile)
    lockfile = env.lockfile or str(stem.with_name(f"{stem.stem}.{env_name}{stem.suffix}"))
    return {**config.agents, **env.agents}, env.api_key_env or API_KEY_ENV, lockfile


def _environment_hint(name: str, environments: Mapping[str, object]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(environments), n=1)
    known = ", ".join(sorted(environments)) or "none defined"
    return f"did you mean {close[0]}? (environments: {known})" if close else f"environments: {known}"


def _read_config(path: Path) -> _ProjectConfig:
    """suitesync.yaml, checked like a suite: every problem located, with a hint where one helps.

    An empty or comments-only file is all defaults: every key is optional.
    """
    from suitesync.load import display_path, load_file
    from suitesync.schema import CONFIG
    from suitesync.validate import problem_order, schema_problems

    parsed = load_file(path, display_path(path, Path.cwd()))
    parsed.problems = [p for p in parsed.problems if p.code != "yaml-empty"]
    data: Any = parsed.data if parsed.data is not None else {}
    if not parsed.problems and not schema_problems(parsed, data, CONFIG) and not parsed.omitted:
        for problem in _value_problems(parsed, data):
            parsed.report(problem)  # capped per file, like a suite's problems
    problems = parsed.all_problems()
    if problems:
        lines = [f"invalid {parsed.display}", *(p.render() for p in sorted(problems, key=problem_order))]
        raise ConfigError("\n".join(lines))
    return _project_config(data)


def _project_config(data: dict[str, Any]) -> _ProjectConfig:
    environments = {
        name: _EnvironmentConfig(dict(env.get("agents", {})), env.get("apiKeyEnv"), env.get("lockfile"))
        for name, env in data.get("environments", {}).items()
    }
    return _ProjectConfig(
        suites=tuple(data.get("suites", DEFAULT_SUITES)),
        lockfile=data.get("lockfile", DEFAULT_LOCKFILE),
        agents=dict(data.get("agents", {})),
        environments=environments,
    )


# --- checks the schema cannot express -------------------------------------------------------------

_AGENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # as `agent:` in suites (suite.schema.json)
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # it becomes part of a lockfile name
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

Finding = tuple[str, str | None]  # (message, hint)
Check = tuple[list[str | int], Finding | None, bool]  # (where, what is wrong there, shown at the key)


def _value_problems(parsed: ParsedFile, data: dict[str, Any]) -> list[Problem]:
    """Globs that would leave the project, paths no file can have, names no alias or variable can
    have: each at its place in the file. Nothing has been read or sent yet."""
    checks: list[Check] = []
    for index, pattern in enumerate(data.get("suites", [])):
        checks.append((["suites", index], _glob_finding(pattern), False))
    checks.append((["lockfile"], _path_finding(data.get("lockfile")), False))
    checks += _agent_checks(["agents"], data.get("agents", {}))
    for name, env in data.get("environments", {}).items():
        where: list[str | int] = ["environments", name]
        checks.append((where, _name_finding(name, _ENV_NAME, "an environment name"), True))
        checks.append(([*where, "lockfile"], _path_finding(env.get("lockfile")), False))
        checks.append(([*where, "apiKeyEnv"], _variable_finding(env.get("apiKeyEnv")), False))
        checks += _agent_checks([*where, "agents"], env.get("agents", {}))
    return [_located(parsed, path, found, at_key) for path, found, at_key in checks if found]


def _agent_checks(where: list[str | int], agents: dict[str, str]) -> list[Check]:
    checks: list[Check] = []
    for alias, agent_id in agents.items():
        checks.append(([*where, alias], _name_finding(alias, _AGENT_ID, "an agent alias"), True))
        checks.append(([*where, alias], _name_finding(agent_id, _AGENT_ID, "an agent id"), False))
    return checks


def _located(parsed: ParsedFile, path: list[str | int], found: Finding, at_key: bool) -> Problem:
    spot = parsed.locate_key(path) if at_key else parsed.locate(path)
    message, hint = found
    return Problem(parsed.display, spot.line, spot.col, "config-value", f"{_dotted(path)}: {message}", hint)


def _dotted(path: list[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int) or not _PLAIN_KEY.match(part):
            text += f"[{part}]" if isinstance(part, int) else f'["{printable(part, 80)}"]'
        else:
            text += f".{part}" if text else part
    return text


def _glob_finding(pattern: str) -> Finding | None:
    """A glob must name files inside the project: Path.glob would otherwise walk the filesystem."""
    hint = 'a glob relative to suitesync.yaml, e.g. "suites/**/*.yaml"'
    parts = pattern.split("/")
    shown = printable(pattern, 80)
    if not pattern.strip():
        return "the glob is empty", hint
    if pattern == ".":
        return '"." is the project folder, not files', hint
    if pattern.startswith("/"):
        return f'"{shown}" is an absolute path; globs are relative to suitesync.yaml', hint
    if "\0" in pattern:
        return "the glob holds a NUL character", hint
    if _too_long(pattern):
        return _TOO_LONG, hint
    if ".." in parts:
        return f'"{shown}" leaves the project (..)', "keep the suites inside the project"
    if any(part in ("", ".") for part in parts):
        return f'"{shown}" has an empty or "." path part', 'write it without them, e.g. "suites/*.yaml"'
    if any("**" in part and part != "**" for part in parts):
        return f'"{shown}": ** must be a whole path part', 'e.g. "suites/**/*.yaml"'
    if parts[-1] == "**":
        return f'"{shown}" matches folders, not files', 'end it with a file pattern: "suites/**/*.yaml"'
    return None


def _path_finding(path: str | None) -> Finding | None:
    if path is None:
        return None
    hint = "a file path relative to suitesync.yaml, e.g. suitesync.lock"
    if not path.strip():
        return "the path is empty", hint
    if "\0" in path:
        return "the path holds a NUL character", hint
    if _too_long(path):
        return _TOO_LONG, hint
    if path.endswith("/") or Path(path).name in (".", ".."):
        return f'"{printable(path, 80)}" names a folder, not a file', hint
    return None


# No file system here takes a longer name or path: past these, looking the path up fails (and a
# glob of thousands of parts exhausts pathlib's recursion) instead of finding nothing.
_MAX_PATH_CHARS = 1024
_MAX_NAME_BYTES = 255
_TOO_LONG = f"the path is too long (at most {_MAX_PATH_CHARS} characters, {_MAX_NAME_BYTES} bytes a part)"


def _too_long(path: str) -> bool:
    longest = max(len(part.encode("utf-8", "replace")) for part in path.split("/"))
    return len(path) > _MAX_PATH_CHARS or longest > _MAX_NAME_BYTES


def _name_finding(name: str, pattern: re.Pattern[str], what: str) -> Finding | None:
    if pattern.match(name):
        return None
    return f'"{printable(name, 80)}" is not {what}', "use letters, digits, '_', '.' or '-'"


def _variable_finding(name: str | None) -> Finding | None:
    if name is None or _VARIABLE.match(name):
        return None
    return f'"{printable(name, 80)}" is not an environment variable name', "e.g. SIGMAMIND_API_KEY_STAGING"


def debug_requested() -> bool:
    """SUITESYNC_DEBUG=1: a bug raises its traceback instead of writing a crash log."""
    return bool(os.environ.get("SUITESYNC_DEBUG"))


def in_github_actions() -> bool:
    """GITHUB_ACTIONS=true (set by GitHub's runners): `validate` then annotates the files itself."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def emulator_api_key() -> str | None:
    """`suitesync emulator` without --api-key: the key it accepts, from SUITESYNC_EMULATOR_API_KEY."""
    return os.environ.get(EMULATOR_API_KEY_ENV) or None
