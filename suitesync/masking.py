"""Known secret values out of text that suitesync did not write itself: a judge's remarks may
quote the mock data a case gave the agent, and run reports go to CI logs and files.

Each value is replaced by the name of the variable that holds it (`${env:CUSTOMER_PIN}`), so the
reader still sees that a secret stood there, and which one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suitesync.run import RunReport


class Masker:
    """Replaces each known value (value -> environment variable) wherever it appears."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        values = sorted(
            (v for v in secrets if v), key=len, reverse=True
        )  # longest first: no partial leftovers
        self._names = {value: secrets[value] for value in values}
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def text(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda match: "${env:" + self._names[match.group(0)] + "}", text)

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)


def mask_run_report(report: RunReport, masker: Masker) -> RunReport:
    """The report with every secret value masked in everything the platform or an error said."""
    results = [
        replace(
            result,
            attempts=tuple(replace(a, remarks=masker.text(a.remarks)) for a in result.attempts),
            unfinished=masker.optional(result.unfinished),
        )
        for result in report.results
    ]
    return replace(report, results=results, stopped=masker.optional(report.stopped))
