"""The package's layout rules, checked on its source: who may write output, who may talk HTTP,
who may read the environment, and how long functions are.

`python tests/test_layout.py` prints the function-size figures.
"""

from __future__ import annotations

import ast
import re
import statistics
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "suitesync"

# The renderers and the crash handler: the only modules that show anything to the user.
RENDERERS = {"console.py", "progress.py", "report.py", "runreport.py", "writereport.py", "crash.py"}
WRITES_OUTPUT = re.compile(
    r"\bsys\.(stdout|stderr|stdin)\b|\bprint\(|\bclick\.(echo|secho|echo_via_pager)\b|\bos\.write\([12],"
)
READS_ENVIRONMENT = re.compile(r"\bos\.(environ|getenv|environb)\b|\benvvar=|\bauto_envvar_prefix\b")
MAX_LINES = 50
MAX_MEDIAN = 7


def modules() -> dict[str, str]:
    """Every module of the package, by its path relative to the package."""
    return {
        str(path.relative_to(PACKAGE)): path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py")
    }


def offenders(pattern: re.Pattern[str], allowed: set[str]) -> list[str]:
    return sorted(
        f"{name}:{number}: {line.strip()}"
        for name, text in modules().items()
        if name not in allowed
        for number, line in enumerate(text.splitlines(), 1)
        if pattern.search(line)
    )


def importers_of(top_module: str) -> set[str]:
    found = set()
    for name, text in modules().items():
        for node in ast.walk(ast.parse(text)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            if any(n == top_module or n.startswith(top_module + ".") for n in names):
                found.add(name)
    return found


def function_sizes() -> dict[str, int]:
    """Lines of every function and method of the package, `def` line to last line."""
    sizes = {}
    for name, text in modules().items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                sizes[f"{name}:{node.lineno}:{node.name}"] = (
                    (node.end_lineno or node.lineno) - node.lineno + 1
                )
    return sizes


def test_only_renderers_and_the_crash_handler_write_output() -> None:
    assert offenders(WRITES_OUTPUT, RENDERERS) == []


def test_only_the_client_imports_httpx() -> None:
    """The client, and the deadline its transport puts on every connection (deadline.py)."""
    assert importers_of("httpx") <= {"client.py", "deadline.py"}
    assert "client.py" in importers_of("httpx")


def test_only_settings_reads_the_environment() -> None:
    assert offenders(READS_ENVIRONMENT, {"settings.py"}) == []


def test_the_client_depends_on_neither_the_emulator_nor_settings() -> None:
    assert "client.py" not in importers_of("suitesync.emulator") | importers_of("suitesync.settings")


def test_functions_are_short() -> None:
    sizes = function_sizes()
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}
    assert statistics.median(sizes.values()) <= MAX_MEDIAN


def test_the_checks_see_what_they_look_for() -> None:
    """The patterns match the code they must refuse (a check that finds nothing proves nothing)."""
    assert WRITES_OUTPUT.search("sys.stderr.write(text)") and WRITES_OUTPUT.search('click.echo("x")')
    assert READS_ENVIRONMENT.search('os.environ.get("X")') and READS_ENVIRONMENT.search('envvar="X"')
    assert offenders(WRITES_OUTPUT, set()) != [] and importers_of("click") != set()


if __name__ == "__main__":
    sizes = function_sizes()
    longest = sorted(sizes.items(), key=lambda item: item[1])[-5:]
    print(f"{len(sizes)} functions; median {statistics.median(sizes.values())} lines; longest:")
    for name, lines in reversed(longest):
        print(f"  {lines:3d}  {name}")
