"""`suitesync validate`: the suites (or the given paths) checked offline -> a ValidationResult."""

from __future__ import annotations

from pathlib import Path

from suitesync.commands.project import bulk_work, suite_files
from suitesync.load import load_files
from suitesync.options import ValidateOptions
from suitesync.settings import Settings
from suitesync.validate import ValidationResult, validate_files


def validate(settings: Settings, options: ValidateOptions) -> ValidationResult:
    """Every problem of every file, at once; cases are not kept (only counted)."""
    files = suite_files(settings, options.paths, required=True)
    with bulk_work():
        return validate_files(load_files(files, Path.cwd()), settings.agents, keep_cases=False)
