"""`suitesync completion bash|zsh|fish`: click's scripts, and the completions they get, in a real bash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

BIN = Path(sys.executable).parent


def complete_in_bash(words: str, tmp_path: Path) -> list[str]:
    """COMPREPLY after sourcing `suitesync completion bash` and completing `words` (last one partial)."""
    script = tmp_path / "completion.bash"
    script.write_text(run_cli("completion", "bash").out)
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    program = (
        f"source {script}; COMP_WORDS=({words}); "
        + ('COMP_WORDS+=(""); ' if words.endswith(" ") else "")
        + f"COMP_CWORD={cword}; _suitesync_completion suitesync; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", program], env=env, capture_output=True, text=True, check=True)
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_commands_and_format_names(tmp_path: Path) -> None:
    assert complete_in_bash("suitesync va", tmp_path) == ["validate"]
    assert set(complete_in_bash("suitesync co", tmp_path)) == {"completion"}
    assert complete_in_bash("suitesync validate --format ", tmp_path) == ["text", "json", "github"]


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _suitesync_completion suitesync"),
        ("zsh", "#compdef suitesync"),
        ("fish", "complete --no-files --command suitesync"),
    ],
)
def test_each_shell_gets_its_script(shell: str, marker: str) -> None:
    result = run_cli("completion", shell)
    assert result.code == 0
    assert marker in result.out
    assert f"_SUITESYNC_COMPLETE={shell}_complete" in result.out


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = run_cli("completion", "tcsh")
    assert result.code == 64
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.err
