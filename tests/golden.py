"""The CLI's outputs on the example project and the invalid corpus, as a user sees them.

`bash scripts/golden` writes them to tests/fixtures/golden/ (one file a command: the command
line, the exit code, standard output, standard error); tests/test_golden.py runs the same
commands and requires every byte to match. The files were first recorded from main before the
re-layout of issue 13, so they show that the re-layout changed no output. Record them again only
for a change that means to alter what users see, and review their diff like code.

Each command runs as a real process (`python -m suitesync`) in one temporary copy of
`examples/`, in order (plan, apply, plan again, run, ...), against the embedded emulator. What
differs from run to run is replaced before comparing: the temporary directory, the ids the
emulator draws at random, and durations.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
CANARY_KEY = "sk-canary-5e1f0a9c7d3b"

# (name, arguments). In the example project unless the first argument is "@invalid".
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("help", ("--help",)),
    *((f"help-{name}", (name, "--help")) for name in ("validate", "plan", "apply", "run", "import", "fmt")),
    ("help-schema", ("schema", "--help")),
    ("help-emulator", ("emulator", "--help")),
    ("validate", ("validate",)),
    ("validate-json", ("validate", "--format", "json")),
    ("invalid-validate", ("@invalid", "validate", ".")),
    ("invalid-validate-json", ("@invalid", "validate", "--format", "json", ".")),
    ("invalid-plan", ("@invalid", "plan", "--no-refresh")),
    ("plan-no-refresh", ("plan", "--no-refresh")),
    ("plan-no-refresh-json", ("plan", "--no-refresh", "--format", "json")),
    ("plan-no-refresh-markdown", ("plan", "--no-refresh", "--format", "markdown")),
    ("plan", ("plan",)),
    ("plan-markdown", ("plan", "--format", "markdown", "--detailed-exitcode")),
    ("plan-out", ("plan", "--out", "plan.json", "--format", "json")),
    ("apply-saved-prune", ("apply", "plan.json", "--prune")),
    ("apply-no-terminal", ("apply",)),
    ("apply-saved", ("apply", "plan.json", "--auto-approve", "--parallelism", "1")),
    ("plan-after-apply", ("plan", "--detailed-exitcode")),
    ("apply-nothing", ("apply", "--auto-approve")),
    ("run-no-match", ("run", "--case", "angry-cancelation")),
    ("run", ("run", "--case", "angry-*", "--min-pass-rate", "0.5")),
    ("run-json", ("run", "--case", "angry-*", "--format", "json")),
    ("import-nothing", ("import", "--agent", "support", "--dry-run")),
    ("fmt-check", ("fmt", "--check")),
    ("usage-error", ("plan", "--format", "yaml")),
    ("unknown-env", ("--env", "nowhere", "plan")),
    ("schema-config", ("schema", "--config")),
)

_VOLATILE = (
    (re.compile(r"\b(tc|br|tr|job|batch|run)_[A-Za-z0-9]{16}\b"), r"\1_<id>"),
    (re.compile(r"\(([^()]*); \d+ s\)"), r"(\1; <n> s)"),
    (re.compile(r'"(jobId|batchId|testRunId)": "[^"]*"'), r'"\1": "<id>"'),
    # A results document: when it ran, the lockfile made for the recording, where git or CI says it ran.
    (re.compile(r"\bchat_[A-Za-z0-9]{16}\b"), "chat_<id>"),
    (re.compile(r'"(startedAt|endedAt)": "[^"]*"'), r'"\1": "<time>"'),
    (re.compile(r'"lineage": "[0-9a-f]{32}"'), '"lineage": "<lineage>"'),
    (re.compile(r'"git": (null|\{[^{}]*\})'), '"git": "<git>"'),
)


@dataclass(frozen=True)
class Output:
    name: str
    text: str


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGMAMIND_", "SUITESYNC_"))}
    env.update(
        SIGMAMIND_API_KEY=CANARY_KEY,
        SIGMAMIND_BASE_URL="local",
        NO_COLOR="1",
        COLUMNS="100",
        HOME=str(home),
        PYTHONHASHSEED="0",
    )
    return env


def _prepare(work: Path) -> tuple[Path, Path]:
    project = work / "project"
    shutil.copytree(ROOT / "examples", project, ignore=shutil.ignore_patterns(".suitesync", "*.lock"))
    invalid = work / "invalid"
    shutil.copytree(ROOT / "tests" / "fixtures" / "suites" / "invalid", invalid / "suites")
    config = 'suites: ["suites/*.yaml"]\nagents: {support: D5D0p7TUs66TTAEAx}\n'
    (invalid / "suitesync.yaml").write_text(config, encoding="utf-8")
    return project, invalid


def _normalise(text: str, work: Path) -> str:
    text = text.replace(str(work), "<tmp>")
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _run(args: tuple[str, ...], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "suitesync", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def record(work: Path) -> Iterator[Output]:
    """Run every command in order in `work` (a fresh, empty directory) and yield its output."""
    project, invalid = _prepare(work)
    env = _environment(work)
    for name, given in COMMANDS:
        cwd = invalid if given[:1] == ("@invalid",) else project
        args = given[1:] if cwd is invalid else given
        code, out, err = _run(args, cwd, env)
        assert CANARY_KEY not in out + err, f"the API key leaked into the output of {name}"
        text = f"$ suitesync {' '.join(args)}\nexit: {code}\n--- stdout\n{out}--- stderr\n{err}"
        yield Output(name, _normalise(text, work))


def main() -> None:
    import tempfile

    if GOLDEN.exists():
        shutil.rmtree(GOLDEN)
    GOLDEN.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as work:
        for output in record(Path(work)):
            (GOLDEN / f"{output.name}.txt").write_text(output.text, encoding="utf-8")
            print(f"wrote {output.name}")


if __name__ == "__main__":
    main()
