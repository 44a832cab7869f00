"""Wording shared by messages: counted nouns ("1 case", "2 cases") and lists capped with a count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and the noun agreeing with it: plural(1, "case") is "1 case", plural(2, ...) "2 cases"."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def part_of(part: int, total: int, noun: str) -> str:
    """ "3 of 5 files", or "5 files" when the part is the whole."""
    return plural(total, noun) if part == total else f"{part} of {plural(total, noun)}"


def capped(items: Sequence[T], limit: int) -> tuple[list[T], int]:
    """The first `limit` items and how many were left out."""
    return list(items[:limit]), max(0, len(items) - limit)


def joined(items: Sequence[str], limit: int = 5) -> str:
    """ "a, b, c", or "a, b, c and 7 more" past `limit` items."""
    shown, rest = capped(items, limit)
    text = ", ".join(shown)
    return f"{text} and {rest} more" if rest else text


def printable(text: str, limit: int = 200) -> str:
    """User text quoted inside a one-line message: invisible and control characters escaped (a
    value could otherwise forge a line of its own, or colour a terminal), long text cut at `limit`
    characters with its length said."""
    shown = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text[:limit]
    )
    return f"{shown}… ({len(text):,} characters)" if len(text) > limit else shown


def capped_markdown(head: str, blocks: Sequence[str], limit: int, noun: str, where: str) -> str:
    """`head` and as many whole `blocks` as fit in `limit` characters, then a note counting the
    rest (`noun`, singular) and saying `where` the whole text is: PR comments and job summaries
    have a size limit."""
    text = head
    for index, block in enumerate(blocks):
        if len(text) + len(block) > limit:
            left = len(blocks) - index
            return text + f"\n_{plural(left, noun)} not shown (over {limit:,} characters): {where}._\n"
        text += block
    return text
