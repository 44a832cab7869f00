"""Project discovery, suitesync.yaml errors, environments and precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from suitesync.errors import ConfigError
from suitesync.settings import load_settings

from conftest import EXAMPLES, run_cli


def test_project_is_found_from_a_subdirectory() -> None:
    settings = load_settings(EXAMPLES / "suites" / "sales", environ={})
    assert settings.root == EXAMPLES.resolve()
    assert settings.lockfile == EXAMPLES.resolve() / "suitesync.lock"
    assert settings.agents["support"] == "D5D0p7TUs66TTAEAx"


def test_environment_selects_agents_key_and_lockfile() -> None:
    settings = load_settings(EXAMPLES, "staging", environ={"SIGMAMIND_API_KEY_STAGING": "canary-7f3a"})
    assert settings.agents["support"] == "StG5upp0rtAgent01"
    assert settings.api_key_env == "SIGMAMIND_API_KEY_STAGING"
    assert settings.lockfile.name == "suitesync.staging.lock"
    assert settings.api_key is not None and settings.api_key.reveal() == "canary-7f3a"
    assert "canary-7f3a" not in repr(settings)
    assert "canary-7f3a" not in repr(settings.api_key) + str(settings.api_key)


def test_environment_variables_override_the_file() -> None:
    settings = load_settings(EXAMPLES, environ={"SIGMAMIND_BASE_URL": "local"})
    assert settings.uses_embedded_emulator


def test_unknown_environment_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="--env prod: no such environment") as info:
        load_settings(EXAMPLES, "prod", environ={})
    assert info.value.hint == "environments: staging"
    result = run_cli("validate", "-C", str(EXAMPLES), "--env", "prod")
    assert result.code == 1
    assert "error: --env prod: no such environment" in result.err
    assert "Traceback" not in result.err


def test_bad_config_names_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "suitesync.yaml").write_text("suites: [a.yaml]\nagentz: {}\nlockfile: 3\n")
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 1
    assert result.err == (
        "error: invalid suitesync.yaml\n"
        "suitesync.yaml:2:1: config: agentz: Extra inputs are not permitted\n"
        "suitesync.yaml:3:11: config: lockfile: Input should be a valid string\n"
    )


def test_config_yaml_hazards_are_reported(tmp_path: Path) -> None:
    (tmp_path / "suitesync.yaml").write_text("lockfile: a\nlockfile: b\n")
    result = run_cli("validate", cwd=tmp_path)
    assert 'suitesync.yaml:2:1: yaml-duplicate-key: duplicate key "lockfile"' in result.err


def test_not_a_directory() -> None:
    result = run_cli("validate", "-C", "/no/such/dir")
    assert (result.code, result.err) == (1, "error: -C /no/such/dir: not a directory\n")
