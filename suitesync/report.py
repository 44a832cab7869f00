"""Renderers: results in, text / JSON out, written to the stream they are given."""

from __future__ import annotations

import json
from typing import TextIO

from suitesync.validate import ValidationResult

VALIDATE_JSON_VERSION = 1


def write_validation_text(result: ValidationResult, out: TextIO, err: TextIO) -> None:
    """One `path:line:col: code: message (hint)` line per problem on `out`, a summary on `err`."""
    for problem in result.problems:
        out.write(problem.render() + "\n")
    files_with = len({p.path for p in result.problems})
    if result.ok:
        err.write(f"ok: {result.files} files, {result.case_count} cases\n")
    else:
        count = len(result.problems)
        noun = "problem" if count == 1 else "problems"
        err.write(f"{count} {noun} in {files_with} of {result.files} files\n")


def write_validation_json(result: ValidationResult, out: TextIO) -> None:
    document = {
        "version": VALIDATE_JSON_VERSION,
        "valid": result.ok,
        "files": result.files,
        "cases": result.case_count,
        "problems": [problem.as_dict() for problem in result.problems],
    }
    json.dump(document, out, indent=2)
    out.write("\n")
