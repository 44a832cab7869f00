"""Files in, plain values out: find suite files, parse YAML with positions, turn YAML hazards into Problems.

Reading builds plain dicts/lists/str straight from libyaml's event stream (PyYAML's C parser),
checking duplicate keys, tags, anchors, aliases and depth in the same pass, and keeping the
events as a light position tree so that any error can be shown at file:line:col. This is about
thirty times cheaper than ruamel.yaml's round-trip loader (../shared/perf-notes.md); ruamel.yaml
is kept for rewriting files (`fmt`, `import`), where comments must survive.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from yaml._yaml import CParser
from yaml.constructor import SafeConstructor

from suitesync.errors import Problem, SuitesyncError
from suitesync.text import printable

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
# Problems shown per file: past this, one `too-many-problems` line says how many more there are.
# A generated or corrupted file can hold hundreds of thousands of mistakes; nobody reads them all,
# and building, locating and sorting each one made such a file take 20 s and print as many lines.
MAX_PROBLEMS_PER_FILE = 50
TOO_MANY = "too-many-problems"

TAG_STR = "tag:yaml.org,2002:str"
TAG_MAP = "tag:yaml.org,2002:map"
TAG_SEQ = "tag:yaml.org,2002:seq"
TAG_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_CONSTRUCTED_TAGS = frozenset("tag:yaml.org,2002:" + name for name in ("int", "float", "bool", "null"))
TAG_NAMES = {
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "null (no value)",
    TAG_TIMESTAMP: "a date",
}

_constructor = SafeConstructor()
TAG_INT = "tag:yaml.org,2002:int"
# Python refuses to turn longer digit strings into ints (CVE-2020-10735); binary, octal and hex
# text has no such limit, but a number that long is no value any field takes either.
_MAX_INT_DIGITS = 4_300
_MAX_INT_BITS = 14_000  # 10**4_214: every number below prints within Python's limit
# What libyaml's reader refuses (YAML 1.1's printable set): C0 controls but tab, LF and CR; DEL;
# C1 controls but NEL; surrogates; U+FFFE and U+FFFF.
_UNREADABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL_NAMES = {
    0: "NUL",
    0x08: "backspace",
    0x0B: "vertical tab",
    0x0C: "form feed",
    0x1B: "ESC",
    0x7F: "DEL",
}


class CaseSite(NamedTuple):
    """Where a case starts and where its id is written, recorded while parsing (one per list item
    of `cases:`, so a tuple: a frozen dataclass costs several times more to build)."""

    line: int
    col: int
    id_line: int
    id_col: int


@dataclass(frozen=True, slots=True)
class Spot:
    """Where a value (or the key naming it) is written, and how: what error messages need."""

    line: int
    col: int
    plain: str | None = None  # the text of a plain (unquoted) scalar
    tag: str | None = None  # the YAML 1.1 type that plain text resolves to


@dataclass(slots=True)
class ParsedFile:
    """One YAML file: its plain value (None when unusable), where its cases are, and problems.

    `positions` mirrors `data` with the parser's own events, so an error anywhere can be located
    without parsing again.
    """

    path: Path
    display: str
    data: Any = None
    cases: list[CaseSite] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    positions: Any = None
    omitted: int = 0  # problems found past MAX_PROBLEMS_PER_FILE: counted, not built

    @property
    def full(self) -> bool:
        """Whether further problems are only counted: callers skip the cost of building them."""
        return len(self.problems) >= MAX_PROBLEMS_PER_FILE

    @property
    def room(self) -> int:
        return max(0, MAX_PROBLEMS_PER_FILE - len(self.problems))

    def report(self, problem: Problem) -> None:
        """Keep a problem while the file is under the cap (each once), else count it."""
        if self.full:
            self.omitted += 1
        elif problem not in self.problems:
            self.problems.append(problem)

    def all_problems(self) -> list[Problem]:
        """The kept problems, and the `too-many-problems` note when some were only counted."""
        return self.problems + ([too_many_problems(self.display, self.omitted)] if self.omitted else [])

    def locate(self, path: Sequence[str | int]) -> Spot:
        """The value at a JSON path; the deepest existing parent if the path is missing."""
        pos, _ = _walk(self.positions, path)
        return _spot(pos)

    def locate_key(self, path: Sequence[str | int]) -> Spot:
        """The key naming the value at `path` (the value itself for list items)."""
        pos, key_event = _walk(self.positions, path)
        return _spot(key_event if key_event is not None else pos)


def too_many_problems(display: str, omitted: int) -> Problem:
    """The note standing for the problems past the cap: on the whole file (line 0), sorted last."""
    more = f"{omitted} more problem{'s' if omitted != 1 else ''}"
    hint = f"only the first {MAX_PROBLEMS_PER_FILE} problems of a file are shown: fix them and run it again"
    return Problem(display, 0, 0, TOO_MANY, f"and {more} in this file", hint)


def find_suite_files(root: Path, patterns: Sequence[str], exclude: Iterable[Path] = ()) -> list[Path]:
    """Files under `root` matched by the project's globs, sorted, each once, minus `exclude`."""
    found: set[Path] = set()
    for pattern in patterns:
        try:
            found.update(p for p in root.glob(pattern) if _is_file(p) and ".suitesync" not in p.parts)
        except (OSError, ValueError, NotImplementedError, RecursionError) as exc:
            # settings.py refuses the globs that cause these (empty, absolute, over-long); this is
            # the backstop for whatever a file system still refuses to look up.
            raise SuitesyncError(
                f'the suites glob "{printable(pattern, 80)}" cannot be searched: {exc}',
                hint="check `suites:` in suitesync.yaml",
            ) from exc
    return sorted(found.difference(exclude))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long, a loop of links: no suite there
        return False


def matches_suites(relative: str, patterns: Sequence[str]) -> bool:
    """Whether a project-relative path is one of the project's suites (glob rules of find_suite_files)."""
    return any(_glob_regex(pattern).fullmatch(relative) for pattern in patterns)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\*\*/|\*|\?)", pattern):
        parts.append({"**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}.get(piece, re.escape(piece)))
    return re.compile("".join(parts))


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Explicit PATHS: files as given, directories searched for *.yaml and *.yml."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for ext in ("*.yaml", "*.yml") for p in path.rglob(ext) if p.is_file())
        else:
            found.add(path)
    return sorted(found)


def display_path(path: Path, base: Path) -> str:
    """A path as messages show it: relative to `base` when below it, so editors can jump to it."""
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def load_files(paths: Iterable[Path], base: Path) -> Iterator[ParsedFile]:
    """Parse each file in turn; streaming keeps memory flat for large projects."""
    for path in paths:
        yield load_file(path, display_path(path, base))


def load_file(path: Path, display: str) -> ParsedFile:
    parsed = ParsedFile(path=path, display=display)
    data = _read_bytes(parsed)
    if data is None:
        return parsed
    text = _decode(parsed, data)
    if text is None:
        return parsed
    Builder(parsed, text).build()
    return parsed


def parse_text(text: str, display: str) -> ParsedFile:
    """YAML held in memory (a file about to be written), read with the same checks as a file."""
    parsed = ParsedFile(path=Path(display), display=display)
    Builder(parsed, text).build()
    return parsed


def _read_bytes(parsed: ParsedFile) -> bytes | None:
    """The file's bytes, never more than the cap: what stat says is checked, and so is what comes,
    as a file can grow while it is read, and a pipe or device (`<(...)`, /dev/zero) has no size."""
    try:
        size = os.stat(parsed.path).st_size
        if size > MAX_FILE_BYTES:
            parsed.report(_too_large(parsed, f"file is {size:,} bytes, over"))
            return None
        with open(parsed.path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        parsed.report(_file_problem(parsed, "file-unreadable", exc.strerror or str(exc)))
        return None
    if len(data) > MAX_FILE_BYTES:
        parsed.report(_too_large(parsed, "file is over"))
        return None
    return data


def _too_large(parsed: ParsedFile, what: str) -> Problem:
    message = f"{what} the {MAX_FILE_BYTES:,}-byte cap"
    return _file_problem(parsed, "yaml-too-large", message, "split it into several suite files")


def _decode(parsed: ParsedFile, data: bytes) -> str | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        parsed.report(_file_problem(parsed, "yaml-encoding", "file is UTF-16", "save it as UTF-8"))
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        parsed.report(
            Problem(
                parsed.display,
                line,
                col,
                "yaml-encoding",
                f"byte 0x{data[exc.start]:02x} is not valid UTF-8",
                "save the file as UTF-8",
            )
        )
        return None
    if not text.strip():
        parsed.report(_file_problem(parsed, "yaml-empty", "file is empty", "a suite needs `cases:`"))
        return None
    return text


_NO_KEY: Any = object()  # a mapping frame waiting for its next key
_DISCARD: Any = object()  # the pending key's value is dropped (duplicate or complex key)
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
_WILDCARD = _IMPLICIT.get(None, [])


class _Frame:
    """An open mapping or sequence while building values from events."""

    __slots__ = (
        "as_key",
        "container",
        "is_case",
        "is_cases",
        "key",
        "key_event",
        "keys",
        "mark",
        "positions",
    )

    def __init__(self, container: dict[str, Any] | list[Any], mark: Any) -> None:
        self.container = container
        self.mark = mark
        # Per key (key event, value position) or per item the position: events and closed frames.
        self.positions: Any = {} if type(container) is dict else []
        self.key: Any = _NO_KEY
        self.key_event: Any = None
        self.keys: dict[str, int] = {}
        self.as_key = self.is_case = self.is_cases = False


class Builder:
    """Plain values straight from libyaml's event stream, checking every hazard in the same pass.

    One pass over events costs about what composing a node tree costs without the tree, and the
    parser is iterative, so no input can exhaust the C stack (the C composer recurses and crashes
    the interpreter past about 20k levels of nesting).
    """

    def __init__(self, parsed: ParsedFile, text: str) -> None:
        self.parsed = parsed
        self.text = text
        self.stack: list[_Frame] = []
        self.result: Any = None
        self.root: Any = None
        self.documents = 0
        self.fatal = False
        self.anchors: list[Any] = []
        self.aliases: list[Any] = []

    def build(self) -> None:
        parsed = self.parsed
        if self.unreadable_character():
            return
        event = None
        try:
            for event in iter_events(self.text):
                if not self.on_event(event):
                    break
        except yaml.MarkedYAMLError as exc:
            if _NESTING_LIMIT in str(exc.problem):
                parsed.report(self.too_deep_ahead(event, exc))
            else:
                parsed.report(_syntax_problem(parsed, exc, self.text))
            return
        except yaml.YAMLError as exc:  # libyaml's reader, unmarked: the check above should catch it first
            parsed.report(_file_problem(parsed, "yaml-syntax", printable(str(exc).splitlines()[0])))
            return
        self.report_first(
            self.anchors,
            "yaml-anchor",
            "anchor &",
            "anchors are not allowed: use `defaults:` to share values",
        )
        self.report_first(
            self.aliases, "yaml-alias", "alias *", "aliases are not allowed: write the value out in full"
        )
        if self.fatal or self.anchors or self.aliases:
            return
        if self.result is None:
            parsed.report(
                _file_problem(parsed, "yaml-empty", "file holds only comments", "a suite needs `cases:`")
            )
        elif not isinstance(self.result, dict):
            parsed.report(_file_problem(parsed, "yaml-not-mapping", "the top level must be a mapping"))
        else:
            parsed.data = self.result
            parsed.positions = self.root

    def on_event(self, event: Any) -> bool:
        cls = event.__class__
        if cls is yaml.ScalarEvent:
            self.on_scalar(event)
        elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
            return self.on_start(event, {} if cls is yaml.MappingStartEvent else [])
        elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
            self.on_end()
        elif cls is yaml.AliasEvent:
            self.aliases.append(event)
            self.add(None, event)
        elif cls is yaml.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                self.fail(
                    event.start_mark,
                    "yaml-multi-document",
                    "more than one YAML document",
                    "one suite per file: split at `---`",
                )
                return False
        return True

    def on_scalar(self, event: Any) -> None:
        if event.anchor is not None:
            self.anchors.append(event)
        stack = self.stack
        if stack and stack[-1].key is _NO_KEY and type(stack[-1].container) is dict:
            self.on_key(stack[-1], event)
        else:
            self.add(self.scalar(event), event)

    def on_key(self, frame: _Frame, event: Any) -> None:
        key = event.value
        mark = event.start_mark
        if key == "<<" and event.implicit[0]:
            self.problem(mark, "yaml-key", "merge keys (<<) are not supported", "write the keys out in full")
            frame.key = _DISCARD
        elif key in frame.keys:
            self.problem(
                mark,
                "yaml-duplicate-key",
                f'duplicate key "{printable(key, 80)}" (first at line {frame.keys[key]})',
                "remove one: YAML would silently keep only the last",
            )
            frame.key = _DISCARD
        else:
            frame.keys[key] = mark.line + 1
            frame.key = key
            frame.key_event = event

    def on_start(self, event: Any, container: dict[str, Any] | list[Any]) -> bool:
        if event.anchor is not None:
            self.anchors.append(event)
        expected = TAG_MAP if type(container) is dict else TAG_SEQ
        if event.tag not in (None, "!", expected):
            message = f"tag {printable(event.tag, 80)} is not allowed"
            self.problem(event.start_mark, "yaml-tag", message, "remove the tag")
        stack = self.stack
        if len(stack) >= MAX_DEPTH:
            self.fatal = True
            self.parsed.report(_too_deep(self.parsed, event.start_mark))
            return False
        frame = _Frame(container, event.start_mark)
        if stack:
            parent = stack[-1]
            if parent.key is _NO_KEY and type(parent.container) is dict:
                self.problem(
                    event.start_mark, "yaml-key", "keys must be plain names", "complex keys are not supported"
                )
                frame.as_key = True
            frame.is_cases = len(stack) == 1 and parent.key == "cases" and type(container) is list
            frame.is_case = parent.is_cases and type(container) is dict
        stack.append(frame)
        return True

    def on_end(self) -> None:
        frame = self.stack.pop()
        if frame.is_case:
            id_entry = frame.positions.get("id")
            self.add_case_site(frame.mark, _start(id_entry[1]) if id_entry else frame.mark)
        if frame.as_key:
            self.stack[-1].key = _DISCARD
        else:
            self.add(frame.container, frame)

    def add(self, value: Any, pos: Any) -> None:
        """Put a finished value (with its position: an event or a closed frame) into its parent."""
        if not self.stack:
            self.result, self.root = value, pos
            return
        frame = self.stack[-1]
        container = frame.container
        if type(container) is list:
            if frame.is_cases and type(value) is not dict:
                self.add_case_site(_start(pos), _start(pos))
            container.append(value)
            frame.positions.append(pos)
            return
        key = frame.key
        if key is not _DISCARD and key is not _NO_KEY:
            container[key] = value
            frame.positions[key] = (frame.key_event, pos)
        frame.key = _NO_KEY

    def add_case_site(self, mark: Any, id_mark: Any) -> None:
        site = CaseSite(mark.line + 1, mark.column + 1, id_mark.line + 1, id_mark.column + 1)
        self.parsed.cases.append(site)

    def scalar(self, event: Any) -> Any:
        tag, value = event.tag, event.value
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return value  # quoted or block scalar: always text
            if len(value) <= _CACHED_PLAIN:
                try:
                    known = _plain_value(value)
                except _CONSTRUCT_ERRORS:
                    known = _OTHER  # reported below, where the value's place is known
                if known is not _OTHER:
                    return known
            tag = resolve_plain(value)
        if tag in (TAG_STR, TAG_TIMESTAMP):
            # A date stays the text written: JSON has no date type and no field takes a date.
            return value
        if tag in _CONSTRUCTED_TAGS:
            return self.construct(event, tag)
        self.problem(
            event.start_mark,
            "yaml-tag",
            f"tag {printable(tag, 80)} is not allowed",
            "remove the tag; suite values are plain strings, numbers and booleans",
        )
        return value

    def unreadable_character(self) -> bool:
        """Report the first character libyaml refuses to read (a NUL, an escape, U+FFFE, ...) where
        it is: libyaml would stop the whole file with an unlocated error."""
        match = _UNREADABLE.search(self.text)
        if match is None:
            return False
        char = match.group()
        more = len(_UNREADABLE.findall(self.text, match.end()))
        line, col = _line_col(self.text, match.start())
        self.parsed.report(
            Problem(
                self.parsed.display,
                line,
                col,
                "yaml-character",
                f"character {_character_name(char)} cannot appear in YAML"
                + (f" (and {more} more in this file)" if more else ""),
                f"remove it, or write it as an escape inside double quotes: {_escape(char)}",
            )
        )
        return True

    def construct(self, event: Any, tag: str) -> Any:
        """A number, boolean or null from its text; the text itself, with a problem, when the text
        is not one (`!!int x`, `!!bool maybe`) or is a number too long to read."""
        value = event.value
        if tag == TAG_INT and len(value) > _MAX_INT_DIGITS:
            return self.too_long(event)
        try:
            result = _construct(tag, value)
        except _CONSTRUCT_ERRORS:
            self.not_of_type(event, tag)
            return value
        if type(result) is int and result.bit_length() > _MAX_INT_BITS:  # 0x... or 1:2:3... text
            return self.too_long(event)
        return result

    def not_of_type(self, event: Any, tag: str) -> None:
        shown = printable(event.value, 40) or "(nothing)"
        if event.tag in (None, "!"):  # `0x_`, `._`: YAML's patterns take them for numbers, Python not
            message = f"{shown} looks like {TAG_NAMES[tag]} to YAML but is not one"
            self.problem(event.start_mark, "yaml-coerced", message, f"quote it: '{shown}'")
            return
        short = "!!" + tag.rsplit(":", 1)[-1]
        message = f"{shown} is not {TAG_NAMES[tag]}, as its tag {short} says"
        self.problem(event.start_mark, "yaml-tag", message, "remove the tag, or write a value of that type")

    def too_long(self, event: Any) -> str:
        self.problem(
            event.start_mark,
            "yaml-number",
            f"a number of {len(event.value):,} characters is too large to read",
            "no field takes a number this large; quote it if it is text",
        )
        return str(event.value)

    def too_deep_ahead(self, last: Any, exc: yaml.MarkedYAMLError) -> Problem:
        """`yaml-too-deep` where the level past MAX_DEPTH opens, when libyaml's own nesting limit
        (1,000 levels since PyYAML 6.0.4) fired before its events reached us.

        Its scanner looks ahead over a run of `[` (each could start a flow key), so the error comes
        from far beyond the last event delivered: the opening is found by scanning the flow
        indicators that follow that event.
        """
        start = _offset(self.text, last.end_mark) if last is not None else 0
        found = find_flow_level(self.text, start, len(self.stack), MAX_DEPTH)
        if found is None:
            return _too_deep(self.parsed, exc.problem_mark)
        line, col = _line_col(self.text, found)
        return Problem(self.parsed.display, line, col, *_TOO_DEEP)

    def problem(self, mark: Any, code: str, message: str, hint: str | None = None) -> None:
        if self.parsed.full:
            self.parsed.omitted += 1  # past the cap: counted, not built
        else:
            self.parsed.report(_mark(self.parsed, mark, code, message, hint))

    def fail(self, mark: Any, code: str, message: str, hint: str | None = None) -> None:
        self.fatal = True
        self.problem(mark, code, message, hint)

    def report_first(self, events: list[Any], code: str, what: str, hint: str) -> None:
        """One problem per kind, at the first: an alias bomb would otherwise flood the report."""
        if events:
            more = f" (and {len(events) - 1} more)" if len(events) > 1 else ""
            self.problem(events[0].start_mark, code, f"{what}{events[0].anchor}{more}", hint)


_CACHED_PLAIN = 64  # plain scalars up to this length are resolved once per distinct text
_CONSTRUCT_ERRORS = (ValueError, KeyError, IndexError, OverflowError)  # what PyYAML's constructors raise


def _construct(tag: str, text: str) -> Any:
    return _constructor.yaml_constructors[tag](_constructor, yaml.ScalarNode(tag, text))


@functools.lru_cache(maxsize=4096)
def _plain_value(text: str) -> Any:
    """A short plain scalar's value. Words repeat (`true`, `1`, a model name), and a flood of them
    (300k list items in a 600 KB file) would otherwise pay for resolving each again."""
    tag = resolve_plain(text)
    if tag in _CONSTRUCTED_TAGS:
        return _construct(tag, text)
    return text if tag in (TAG_STR, TAG_TIMESTAMP) else _OTHER


_OTHER: Any = object()  # a plain scalar of another type (`<<`, `=`): the full path reports it


def iter_events(text: str) -> Iterator[Any]:
    """libyaml's events, pulled straight from its C parser (yaml.parse adds a check per event)."""
    parser = CParser(text)
    try:
        get_event = parser.get_event
        while True:
            event = get_event()
            if event is None:
                return
            yield event
            if event.__class__ is yaml.StreamEndEvent:
                return
    finally:
        parser.dispose()


def _start(pos: Any) -> Any:
    return pos.mark if type(pos) is _Frame else pos.start_mark


def _walk(pos: Any, path: Sequence[str | int]) -> tuple[Any, Any]:
    key_event = None
    for part in path:
        if type(pos) is not _Frame:
            break
        positions = pos.positions
        if type(positions) is dict and isinstance(part, str) and part in positions:
            key_event, pos = positions[part]
        elif type(positions) is list and isinstance(part, int) and 0 <= part < len(positions):
            key_event, pos = None, positions[part]
        else:
            break
    return pos, key_event


def _spot(pos: Any) -> Spot:
    mark = _start(pos)
    line, col = mark.line + 1, mark.column + 1
    if type(pos) is not yaml.ScalarEvent:
        return Spot(line, col)
    if pos.tag is None and pos.implicit[0]:
        return Spot(line, col, plain=pos.value, tag=resolve_plain(pos.value))
    return Spot(line, col, tag=pos.tag or TAG_STR)


def resolve_plain(value: str) -> str:
    """The tag YAML 1.1 gives a plain scalar: the same table PyYAML's resolver uses."""
    for tag, regexp in [*_IMPLICIT.get(value[0] if value else "", ()), *_WILDCARD]:
        if regexp.match(value):
            return str(tag)
    return TAG_STR


def _character_name(char: str) -> str:
    code = ord(char)
    what = _CONTROL_NAMES.get(code, "a noncharacter" if code >= 0xFFFE else "a control character")
    return f"U+{code:04X} ({what})"


def _escape(char: str) -> str:
    code = ord(char)
    return f'"\\x{code:02x}"' if code < 0x100 else f'"\\u{code:04x}"'


def _mark(parsed: ParsedFile, mark: Any, code: str, message: str, hint: str | None = None) -> Problem:
    return Problem(parsed.display, mark.line + 1, mark.column + 1, code, message, hint)


def _file_problem(parsed: ParsedFile, code: str, message: str, hint: str | None = None) -> Problem:
    return Problem(parsed.display, 1, 1, code, message, hint)


_NESTING_LIMIT = "exceeded maximum nesting depth"  # libyaml >= 0.2.5 as bundled by PyYAML 6.0.4
_TOO_DEEP = ("yaml-too-deep", f"nesting deeper than {MAX_DEPTH} levels", "a suite needs at most 4 levels")


def _too_deep(parsed: ParsedFile, mark: Any) -> Problem:
    return _mark(parsed, mark, *_TOO_DEEP)


def find_flow_level(text: str, start: int, depth: int, limit: int) -> int | None:
    """The offset of the flow indicator (`[` or `{`) at or after `start` that opens a level
    beyond `limit`, given `depth` levels open at `start`; None if there is none.

    Only flow context can follow a libyaml look-ahead, where nesting changes by indicators alone:
    quoted scalars and comments are skipped, and a quote inside a plain scalar (`it's`) is text.
    """
    index, end = start, len(text)
    previous = "["  # what precedes `start` is a place where a scalar may begin
    while index < end:
        char = text[index]
        if char in "[{":
            if depth >= limit:
                return index
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char in "'\"" and previous in "[{,:?\n \t":
            index = _skip_quoted(text, index, char)
        elif char == "#" and previous in "\n \t":
            index = text.find("\n", index)
            index = end if index < 0 else index - 1
        previous = char
        index += 1
    return None


def _skip_quoted(text: str, index: int, quote: str) -> int:
    """The offset of the quote closing the scalar opened at `index` (the end if unclosed)."""
    index += 1
    while index < len(text):
        char = text[index]
        if quote == '"' and char == "\\":
            index += 2
            continue
        if char == quote:
            if quote == "'" and text.startswith("''", index):
                index += 2  # an escaped quote inside single quotes
                continue
            return index
        index += 1
    return len(text)


def _tab_at(text: str, mark: Any) -> bool:
    """Whether the parser stopped at a tab: libyaml calls a tab before the first token of a line
    (`\t- id:`) a character that cannot start a token, without naming it."""
    if mark is None:
        return False
    offset = _offset(text, mark)
    return text[offset : offset + 1] == "\t"


# The line breaks libyaml counts in its marks: CR, LF, CRLF, NEL, LS and PS (YAML 1.1, 5.4).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _offset(text: str, mark: Any) -> int:
    """The offset of a libyaml mark in `text`, from its line and column (both in characters).

    A mark can lie past the text: at the end of a file without a final line break, libyaml counts
    one more line. The offset then stops at the end."""
    offset = 0
    for _ in range(mark.line):
        found = _LINE_BREAK.search(text, offset)
        if found is None:
            return len(text)
        offset = found.end()
    return min(offset + int(mark.column), len(text))


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of an offset, lines counted as libyaml counts them."""
    line, line_start = 1, 0
    for found in _LINE_BREAK.finditer(text, 0, offset):
        line, line_start = line + 1, found.end()
    return line, offset - line_start + 1


def _syntax_problem(parsed: ParsedFile, exc: yaml.MarkedYAMLError, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "invalid YAML"
    if "'\\t'" in problem or "tab character" in problem or _tab_at(text, mark):
        return Problem(
            parsed.display, line, col, "yaml-tab", "tab character in indentation", "indent with spaces"
        )
    if "expected a single document" in f"{problem} {exc.context}":
        return Problem(
            parsed.display,
            line,
            col,
            "yaml-multi-document",
            "more than one YAML document",
            "one suite per file: split at `---`",
        )
    context = f" {exc.context}" if exc.context else ""
    return Problem(parsed.display, line, col, "yaml-syntax", f"{problem}{context}".strip())
