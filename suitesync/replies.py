"""What the API answers, checked against the shapes the docs give (sigmamind-api.md), and server
text made safe to show. The client adds the endpoint to every ShapeError it meets."""

from __future__ import annotations

from typing import Any

EXCERPT_CHARS = 200  # of a reply or an API message, in a message


def server_line(raw: str, limit: int = EXCERPT_CHARS) -> str:
    """Server text made safe for a one-line message: control and format characters (newlines,
    ANSI escapes, bidi overrides) become spaces, runs of spaces one, `::` (which starts a GitHub
    Actions workflow command) is broken up, and the text is cut at `limit` characters (`…`)."""
    head = raw[: limit * 4]  # bounds the work on a 1 MB message
    cleaned = "".join(char if char.isprintable() else " " for char in head)
    line = " ".join(cleaned.split())
    while "::" in line:  # ":::" leaves "::" after one pass
        line = line.replace("::", ": :")
    if len(line) > limit or len(head) < len(raw):
        return f"{line[:limit].rstrip()}…"
    return line


class ShapeError(ValueError):
    """A reply value is not what the docs describe; the client adds the endpoint."""


def as_object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ShapeError(f"{what} is {kind(value)}, not an object")
    return value


def list_of(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ShapeError(f"{what} is {kind(value)}, not a list")
    return value


def text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ShapeError(f"{what} is {kind(value)}, not a string")
    return value


def optional_text(value: object, what: str) -> str | None:
    return None if value is None else text(value, what)


def identifier(value: object, what: str) -> str:
    """An id the docs show as a string; a number is taken as its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ShapeError(f"{what} is {kind(value)}, not an id")
    return value


def optional_count(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ShapeError(f"{what} is {kind(value)}, not a count")
    return value


def kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f'"{server_line(value, 40)}" (a string)'
    if isinstance(value, int | float):
        return f"{server_line(str(value), 40)} (a number)"
    if isinstance(value, list):
        return "a list"
    return "an object"


def checked_batch(document: object) -> dict[str, Any]:
    """A batch run whose counts are non-negative integers or null, and `testCases` objects."""
    batch = as_object(document, "the reply")
    for name in ("successfulAttempts", "failedAttempts", "totalAttempts"):
        optional_count(batch.get(name), name)
    for case in list_of(batch.get("testCases") or [], "testCases"):
        optional_count(as_object(case, "a testCases item").get("attempt"), "testCases[].attempt")
    return batch


def count(value: object) -> int | None:
    """A non-negative integer (not a boolean), or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
