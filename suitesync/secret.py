"""Secret: a value that is never shown, and the values of this run that output must not hold.

Every Secret made and every `${env:NAME}` value read is remembered here, so that the crash
handler can remove them from what it writes, wherever in a traceback they ended up.
"""

from __future__ import annotations

_KNOWN: set[str] = set()
MASK = "***"


class Secret:
    """A value that must never be shown: its repr and str are redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        remember(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def remember(value: str | None) -> str | None:
    """Note `value` as secret (returned unchanged, for use in expressions)."""
    if value:
        _KNOWN.add(value)
    return value


def masked(text: str) -> str:
    """`text` with every secret value of this run replaced by ***, longest first (one secret may
    contain another)."""
    for value in sorted(_KNOWN, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def forget() -> None:
    """Start a new run: the secrets of the one before are no longer this run's (the tests run
    many commands in one process; a short secret of another would garble this one's log)."""
    _KNOWN.clear()
