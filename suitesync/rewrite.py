"""Rewriting suite files: canonical layout with ruamel.yaml's round-trip mode, comments kept.

Used by `fmt` (reformat existing files) and `import` (write new ones). Reading for validation
and planning goes through the fast libyaml path (load.py); the two agree on every value, which
tests check. Meaning is never changed: a quoted string is unquoted only when our reader (YAML 1.1
rules: `yes`, `3.10`, `0755` are not strings) would still read it as the same string.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken

from suitesync.atomic import WriteError, write_atomic
from suitesync.errors import Problem
from suitesync.load import TAG_STR, load_file, parse_text, resolve_plain
from suitesync.models import SHARED_ORDER, SUITE_ORDER
from suitesync.text import plural
from suitesync.validate import validate_files

TOP_ORDER = ("agent", "defaults", "cases")
# Local-only keys (never sent): after the payload's, before protect.
LOCAL_ORDER = ("minPassRate", "tags", "quarantine")
DEFAULTS_ORDER = (*SHARED_ORDER, *LOCAL_ORDER, "protect")
CASE_ORDER = ("id", "previousIds", *SUITE_ORDER, *LOCAL_ORDER, "protect")
LONG_TEXT = 80  # characters; longer text goes to a block scalar
FOLD_WIDTH = 80
_QUOTED = (SingleQuotedScalarString, DoubleQuotedScalarString)


def yaml_io() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never wrap plain scalars: long text becomes a folded block instead
    return yaml


def format_text(text: str) -> str:
    """The canonical form of a suite file (raises ruamel's errors on YAML it cannot read)."""
    yaml = yaml_io()
    document = yaml.load(text)
    if isinstance(document, CommentedMap):
        canonicalize(document)
    return dump(yaml, document)


def dump(yaml: YAML, document: Any) -> str:
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def canonicalize(document: CommentedMap) -> None:
    _order(document, TOP_ORDER)
    defaults = document.get("defaults")
    if isinstance(defaults, CommentedMap):
        _order(defaults, DEFAULTS_ORDER)
        _restyle_values(defaults)
    cases = document.get("cases")
    if isinstance(cases, CommentedSeq):
        for case in cases:
            if isinstance(case, CommentedMap):
                _order(case, CASE_ORDER)
                _restyle_values(case)


def _order(mapping: CommentedMap, order: Iterable[str]) -> None:
    """Known keys first, in `order`; unknown ones after, as they were. Comments travel with keys,
    except what follows the last one (blank lines, comments about what comes next), which stays
    at the end."""
    known = [key for key in order if key in mapping]
    rest = [key for key in mapping if key not in order]
    if list(mapping) == [*known, *rest]:
        return
    tail = _detach_tail(mapping)
    for key in [*known, *rest]:
        mapping.move_to_end(key)
    if tail:
        _attach_tail(mapping, tail)


def _last_slot(node: Any) -> tuple[Any, Any] | None:
    """The (container, key or index) holding the last scalar of a mapping or sequence."""
    while isinstance(node, CommentedMap | CommentedSeq) and len(node):
        key = next(reversed(node)) if isinstance(node, CommentedMap) else len(node) - 1
        value = node[key]
        if isinstance(value, CommentedMap | CommentedSeq) and len(value):
            node = value
            continue
        return node, key
    return None


def _comment_index(node: Any) -> int:
    return 2 if isinstance(node, CommentedMap) else 0  # where ruamel keeps a post-value comment


def _detach_tail(mapping: CommentedMap) -> str:
    """Cut what follows the end of the last line (blank lines, comment lines) off its comment."""
    slot = _last_slot(mapping)
    if slot is None:
        return ""
    node, key = slot
    entry = node.ca.items.get(key)
    index = _comment_index(node)
    if not entry or len(entry) <= index or entry[index] is None:
        return ""
    token = entry[index]
    head, _, tail = str(token.value).partition("\n")
    if head.strip():
        token.value = head + "\n"
    else:
        entry[index] = None
    return tail


def _attach_tail(mapping: CommentedMap, tail: str) -> None:
    slot = _last_slot(mapping)
    if slot is None:
        return
    node, key = slot
    index = _comment_index(node)
    entry = node.ca.items.setdefault(key, [None, None, None, None] if index == 2 else [None, None])
    if entry[index] is None:
        entry[index] = CommentToken("\n" + tail, CommentMark(0), None)
    else:
        entry[index].value += tail


def _restyle_values(mapping: CommentedMap) -> None:
    # dict/list.__setitem__: ruamel's own setters would keep the old quoting of a replaced string.
    for key, value in list(mapping.items()):
        if isinstance(value, CommentedMap):
            _restyle_values(value)
        elif isinstance(value, CommentedSeq):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    list.__setitem__(value, index, text_scalar(item))
        elif isinstance(value, str):
            dict.__setitem__(mapping, key, text_scalar(value))


def text_scalar(value: str) -> Any:
    """The style a string is written in: block for long text, quotes only where needed."""
    if isinstance(value, LiteralScalarString | FoldedScalarString):
        return value  # already a block: keep its style and its line breaks
    text = str(value)
    if "\n" in text and _block_safe(text):
        return LiteralScalarString(text)
    if len(text) > LONG_TEXT and _foldable(text):
        return folded(text)
    if resolve_plain(text) != TAG_STR or text == "":
        return value if isinstance(value, _QUOTED) else SingleQuotedScalarString(text)
    return text  # plain; ruamel still quotes it if YAML syntax needs quotes


def folded(text: str, width: int = FOLD_WIDTH) -> FoldedScalarString:
    """A `>-` block, lines filled word by word up to `width` characters."""
    scalar = FoldedScalarString(text)
    positions, line_start = [], 0
    spaces = [match.start() for match in re.finditer(" ", text)]
    for previous, space in zip(spaces, [*spaces[1:], len(text)], strict=True):
        if space - line_start > width and previous > line_start:
            positions.append(previous)
            line_start = previous + 1
    scalar.fold_pos = positions
    result: FoldedScalarString = scalar
    return result


def _block_safe(text: str) -> bool:
    """Literal blocks cannot keep trailing spaces, tabs, CRs or a leading blank reliably."""
    lines = text.split("\n")
    return (
        not text.startswith((" ", "\n"))
        and "\t" not in text
        and "\r" not in text
        and all(line == line.rstrip(" ") for line in lines)
        and not text.endswith("\n\n")
    )


def _foldable(text: str) -> bool:
    return (
        " " in text  # a fold happens at a space: one long word stays on its line
        and "\n" not in text
        and "  " not in text
        and not text.startswith(" ")
        and not text.endswith(" ")
        and "\t" not in text
        and "\r" not in text
    )


# --- formatting files -----------------------------------------------------------------------------


# What the file itself says wrong. Agents and ids across files are the project's business
# (`validate`): fmt also runs on single files, outside any project.
_OWN_PROBLEMS = ("yaml-", "file-", "schema-")


@dataclass(frozen=True)
class FormatResult:
    path: Path
    display: str
    changed: bool
    problem: str | None = None  # why the file was left alone
    problems: tuple[Problem, ...] = ()  # the validation problems that kept it so


def format_file(path: Path, display: str, *, check: bool, agents: Mapping[str, str]) -> FormatResult:
    """Reformat one suite file in place (or only say whether it would change, with `check`).

    A file that does not validate is left alone, with its problems: what a mistyped value means
    is for its author to say (`yes` or 'yes'?), and formatting never changes what a file means,
    so the result is also read back and compared with the original before it is written.
    """
    before = load_file(path, display)
    problems = tuple(p for p in validate_files([before], agents).problems if p.code.startswith(_OWN_PROBLEMS))
    if problems:
        shown = plural(len(problems), "problem")
        return FormatResult(path, display, False, f"not formatted: it does not validate ({shown})", problems)
    original = path.read_text(encoding="utf-8-sig")
    formatted = format_text(original)
    if formatted == original:
        return FormatResult(path, display, False)
    if parse_text(formatted, display).data != before.data:
        return FormatResult(path, display, False, "not formatted: the result would read differently (a bug)")
    if not check:
        try:
            write_atomic(path, formatted.encode("utf-8"), shown=display)
        except WriteError as exc:  # a read-only folder, a full disk: the file is as it was
            return FormatResult(path, display, False, f"not formatted: {_reason(exc)}")
    return FormatResult(path, display, True)


def _reason(exc: WriteError) -> str:
    """The error without the path in front (the report line names the file already)."""
    return str(exc).split(": ", 1)[-1]
