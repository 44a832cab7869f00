"""The only reader of environment variables and suitesync.yaml: flags + env + file -> Settings.

Precedence, highest first: command-line flags, environment variables, suitesync.yaml.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from suitesync.errors import ConfigError, Problem

if TYPE_CHECKING:
    from suitesync.load import ParsedFile

CONFIG_NAME = "suitesync.yaml"
DEFAULT_SUITES = ("suites/**/*.yaml", "suites/**/*.yml")
DEFAULT_LOCKFILE = "suitesync.lock"
DEFAULT_BASE_URL = "https://api.sigmamind.ai"
API_KEY_ENV = "SIGMAMIND_API_KEY"
BASE_URL_ENV = "SIGMAMIND_BASE_URL"
STATE_DIR = ".suitesync"


class _EnvironmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    agents: dict[str, str] = Field(default_factory=dict)
    apiKeyEnv: str | None = None  # noqa: N815 - the file's key
    lockfile: str | None = None


class _ProjectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    suites: list[str] = Field(default_factory=lambda: list(DEFAULT_SUITES), min_length=1)
    lockfile: str = DEFAULT_LOCKFILE
    agents: dict[str, str] = Field(default_factory=dict)
    environments: dict[str, _EnvironmentConfig] = Field(default_factory=dict)


class Secret:
    """A value that must never be shown: its repr and str are redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


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

    def env_value(self, name: str) -> str | None:
        """An environment variable named in a suite (`${env:NAME}` mock data)."""
        return self.environ.get(name)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def uses_embedded_emulator(self) -> bool:
        return self.base_url == "local"


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
    )


def _select_environment(
    config: _ProjectConfig, env_name: str | None, config_path: Path | None
) -> tuple[dict[str, str], str, str]:
    if env_name is None:
        return dict(config.agents), API_KEY_ENV, config.lockfile
    env = config.environments.get(env_name)
    if env is None:
        known = ", ".join(sorted(config.environments)) or "none defined"
        raise ConfigError(
            f"--env {env_name}: no such environment in {config_path or CONFIG_NAME}",
            hint=f"environments: {known}",
        )
    stem = Path(config.lockfile)
    lockfile = env.lockfile or str(stem.with_name(f"{stem.stem}.{env_name}{stem.suffix}"))
    return {**config.agents, **env.agents}, env.apiKeyEnv or API_KEY_ENV, lockfile


def _read_config(path: Path) -> _ProjectConfig:
    from suitesync.load import display_path, load_file

    parsed = load_file(path, display_path(path, Path.cwd()))
    if parsed.problems:
        lines = [f"invalid {parsed.display}", *(p.render() for p in parsed.problems)]
        raise ConfigError("\n".join(lines))
    data: Any = parsed.data if parsed.data is not None else {}
    try:
        return _ProjectConfig.model_validate(data)
    except ValidationError as exc:
        problems = sorted(_config_problem(parsed, error) for error in exc.errors())
        lines = [f"invalid {parsed.display}", *(p.render() for p in problems)]
        raise ConfigError("\n".join(lines)) from None


def _config_problem(parsed: ParsedFile, error: ErrorDetails) -> Problem:
    loc = [part for part in error["loc"] if isinstance(part, str | int)]
    # An unknown key is best shown at the key itself, a bad value at the value.
    spot = parsed.locate_key(loc) if error["type"] == "extra_forbidden" else parsed.locate(loc)
    key = ".".join(str(part) for part in loc) or "top level"
    return Problem(parsed.display, spot.line, spot.col, "config", f"{key}: {error['msg']}")
