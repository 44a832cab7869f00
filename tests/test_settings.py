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


def test_config_yaml_hazards_are_reported(tmp_path: Path) -> None:
    (tmp_path / "suitesync.yaml").write_text("lockfile: a\nlockfile: b\n")
    result = run_cli("validate", cwd=tmp_path)
    assert 'suitesync.yaml:2:1: yaml-duplicate-key: duplicate key "lockfile"' in result.err


def test_not_a_directory() -> None:
    result = run_cli("validate", "-C", "/no/such/dir")
    assert (result.code, result.err) == (1, "error: -C /no/such/dir: not a directory\n")


@pytest.mark.parametrize("content", ["", "\n\n", "# every key is optional\n# nothing set yet\n"])
def test_an_empty_or_comments_only_config_is_all_defaults(tmp_path: Path, content: str) -> None:
    (tmp_path / "suitesync.yaml").write_text(content)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "a.yaml").write_text(
        "agent: D5D0p7TUs66TTAEAx\ncases:\n  - id: a\n    userPrompt: p\n    successCriteria: s\n"
    )
    result = run_cli("validate", cwd=tmp_path)
    assert (result.code, result.err) == (0, "ok: 1 file, 1 case\n")
    settings = load_settings(tmp_path, environ={})
    assert settings.suites == ("suites/**/*.yaml", "suites/**/*.yml")
    assert settings.lockfile == tmp_path.resolve() / "suitesync.lock"


def test_config_errors_are_located_with_did_you_mean_and_quote_hints(tmp_path: Path) -> None:
    (tmp_path / "suitesync.yaml").write_text(
        "suits: [a.yaml]\n"
        "agents: {support: yes}\n"
        "environments:\n"
        "  staging: {agent: {support: x}, apikeyenv: K}\n"
        "suites: []\n"
        "lockfile: 3\n"
    )
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 1
    assert result.err == (
        "error: invalid suitesync.yaml\n"
        "suitesync.yaml:1:1: schema-unknown-key: unknown key `suits` (did you mean suites?)\n"
        "suitesync.yaml:2:19: yaml-coerced: agents.support: yes is read by YAML as a boolean, not text "
        "(quote it: 'yes')\n"
        "suitesync.yaml:4:13: schema-unknown-key: unknown key `agent` (did you mean agents?)\n"
        "suitesync.yaml:4:34: schema-unknown-key: unknown key `apikeyenv` (did you mean apiKeyEnv?)\n"
        "suitesync.yaml:5:9: schema-empty: suites is empty (add a glob, or leave the key out)\n"
        "suitesync.yaml:6:11: yaml-coerced: lockfile: 3 is read by YAML as a number, not text "
        "(quote it: '3')\n"
    )
    assert "Extra inputs" not in result.err and "Input should be" not in result.err


BAD_VALUES = [
    ('suites: [""]', "1:10: config-value: suites[0]: the glob is empty"),
    ('suites: ["."]', '1:10: config-value: suites[0]: "." is the project folder, not files'),
    ('suites: ["x**"]', '1:10: config-value: suites[0]: "x**": ** must be a whole path part'),
    ('suites: ["/etc/*.yaml"]', '1:10: config-value: suites[0]: "/etc/*.yaml" is an absolute path'),
    ('suites: ["../../**/*.yaml"]', '1:10: config-value: suites[0]: "../../**/*.yaml" leaves the project'),
    ('suites: ["suites/**"]', '1:10: config-value: suites[0]: "suites/**" matches folders, not files'),
    ('lockfile: "a\\0b.lock"', "1:11: config-value: lockfile: the path holds a NUL character"),
    ('lockfile: "locks/"', '1:11: config-value: lockfile: "locks/" names a folder, not a file'),
    (
        'environments: {"../x": {}}',
        '1:16: config-value: environments["../x"]: "../x" is not an environment name',
    ),
    (
        "environments: {s: {apiKeyEnv: MY-KEY}}",
        '1:31: config-value: environments.s.apiKeyEnv: "MY-KEY" is not an environment variable name',
    ),
    ('agents: {support: "D5D0 p7"}', '1:19: config-value: agents.support: "D5D0 p7" is not an agent id'),
    # Longer than any file system takes: looking them up failed (ENAMETOOLONG, or pathlib's
    # recursion over 3,000 parts) instead of finding nothing.
    (f'suites: ["suites/{"a" * 300}/*.yaml"]', "1:10: config-value: suites[0]: the path is too long"),
    (f'suites: ["{"a/" * 3_000}*.yaml"]', "1:10: config-value: suites[0]: the path is too long"),
    (f'lockfile: "{"x" * 300}.lock"', "1:11: config-value: lockfile: the path is too long"),
    (
        'environments: {s: {lockfile: "a\\0b"}}',
        "1:30: config-value: environments.s.lockfile: the path holds a NUL",
    ),
]


@pytest.mark.parametrize(("line", "problem"), BAD_VALUES, ids=[v[0][:40] for v in BAD_VALUES])
def test_bad_globs_paths_and_names_are_located_before_anything_is_read(
    tmp_path: Path, line: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "suitesync.yaml").write_text(line + "\n")

    def no_walking(*_args: object) -> None:
        raise AssertionError("a suite glob was walked")

    monkeypatch.setattr(Path, "glob", no_walking)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", "http://127.0.0.1:9")  # nothing may be sent either
    for command in ("validate", "plan"):
        result = run_cli(command, cwd=tmp_path)
        assert result.code == 1
        lines = result.err.splitlines()
        assert lines[0] == "error: invalid suitesync.yaml"
        assert lines[1].startswith(f"suitesync.yaml:{problem}"), lines
        assert len(lines) == 2 and "Traceback" not in result.err


def test_an_unknown_environment_gets_did_you_mean() -> None:
    result = run_cli("validate", "-C", str(EXAMPLES), "--env", "stagign")
    assert result.code == 1
    assert "hint: did you mean staging? (environments: staging)" in result.err


def test_config_problems_are_capped_and_quoted_on_one_line(tmp_path: Path) -> None:
    aliases = ", ".join(f'a{n}: "bad id {n}"' for n in range(200))
    (tmp_path / "suitesync.yaml").write_text(f'suites: ["/\\e[2J\\n.yaml", ".."]\nagents: {{{aliases}}}\n')
    result = run_cli("validate", cwd=tmp_path)
    lines = result.err.splitlines()
    assert result.code == 1 and len(lines) == 52
    assert lines[1] == (
        'suitesync.yaml:1:10: config-value: suites[0]: "/\\x1b[2J\\n.yaml" is an absolute path; globs are '
        'relative to suitesync.yaml (a glob relative to suitesync.yaml, e.g. "suites/**/*.yaml")'
    )
    assert lines[-1] == (
        "suitesync.yaml:0:0: too-many-problems: and 152 more problems in this file "
        "(only the first 50 problems of a file are shown: fix them and run it again)"
    )
