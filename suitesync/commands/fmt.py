"""`suitesync fmt`: suite files rewritten in the canonical layout -> what happened to each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from suitesync.commands.project import suite_files
from suitesync.load import display_path
from suitesync.options import FmtOptions
from suitesync.rewrite import FormatResult, format_file
from suitesync.settings import Settings


@dataclass(frozen=True)
class FmtReport:
    results: list[FormatResult]
    check: bool


def fmt(settings: Settings, options: FmtOptions) -> list[FormatResult]:
    """Each file formatted (or, with check, only compared); a file with problems is left alone."""
    return [
        format_file(path, display_path(path, Path.cwd()), check=options.check, agents=settings.agents)
        for path in suite_files(settings, options.paths)
    ]
