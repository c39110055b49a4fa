"""Diagnostics: errors and warnings that point at a place in an IDL file.

Every stage reports problems into one `Diagnostics` collector instead of
raising, so a single run shows every independent problem. Rendering follows
the compiler convention::

    path/to/file.thrift:12:5: error: unknown type 'Foo'
       12 |     1: Foo bar
          |        ^~~
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

_QUOTED_WIDTH = 160  # characters of a source line shown at most


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Location:
    """A 1-based line and column in a source file; `length` is the span to underline."""

    path: str
    line: int
    col: int
    length: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    message: str
    location: Location | None
    source_line: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"{where}{self.severity.value}: {self.message}"
        if self.location is None or self.source_line is None:
            return text
        line = self.source_line.rstrip("\r")
        col = self.location.col
        before = after = ""
        if len(line) > _QUOTED_WIDTH:
            # A long line (minified, or a huge literal) is quoted around the caret.
            start = max(0, min(col - 1 - _QUOTED_WIDTH // 2, len(line) - _QUOTED_WIDTH))
            end = start + _QUOTED_WIDTH
            before, after = ("..." if start else ""), ("..." if end < len(line) else "")
            line = line[start:end]
            col -= start
        # A control character or line separator would move the cursor or break
        # the line on a terminal: each shows as a space, so the caret lines up.
        line = "".join(ch if ch == "\t" or ch.isprintable() else " " for ch in line)
        # Keep tabs so the caret lines up with the source as the terminal shows it.
        lead = "".join(ch if ch == "\t" else " " for ch in line[: col - 1])
        span = max(1, min(self.location.length, len(line) - col + 1))
        marker = "^" + "~" * (span - 1)
        gutter = str(self.location.line)
        pad = " " * len(gutter)
        line, lead = before + line + after, " " * len(before) + lead
        return f"{text}\n {gutter} | {line}\n {pad} | {lead}{marker}"


class SourceCache:
    """The text of every file read in a run, for quoting source lines.

    A line ends at `\n` only, as the parsers (and Apache's compiler and protoc)
    count lines: a lone `\r`, `\v` or U+2028 is inside a line, not between two."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}

    def add(self, path: str, text: str) -> None:
        self._lines[path] = text.split("\n")

    def line(self, path: str, line: int) -> str | None:
        lines = self._lines.get(path)
        if lines is None or not 1 <= line <= len(lines):
            return None
        return lines[line - 1]


MAX_HINT_SEARCHES = 32  # "did you mean" searches per run


def closest(name: str, candidates: Iterable[str]) -> str:
    """"; did you mean 'X'?" for the candidate closest to `name`, or ""."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
    return f"; did you mean '{close[0]}'?" if close else ""


@dataclass
class Diagnostics:
    """Collects diagnostics for one run; `error`/`warning` record and return nothing."""

    sources: SourceCache = field(default_factory=SourceCache)
    items: list[Diagnostic] = field(default_factory=list)
    hint_searches: int = 0  # "did you mean" searches made (see `may_search`)

    def suggestion(self, name: str, candidates: Callable[[], Iterable[str]]) -> str:
        """"; did you mean 'X'?" for the name among `candidates()` closest to
        `name`, if one is close (and the run may still search)."""
        return closest(name, candidates()) if self.may_search() else ""

    def may_search(self) -> bool:
        """Whether a hint may still be searched for in this run (counting this one).
        Each search costs time in the number of names in scope, so a run makes at
        most MAX_HINT_SEARCHES: thousands of misspelt names against thousands of
        definitions would otherwise cost their product."""
        self.hint_searches += 1
        return self.hint_searches <= MAX_HINT_SEARCHES

    def report(self, severity: Severity, message: str, location: Location | None) -> None:
        source_line = self.sources.line(location.path, location.line) if location else None
        self.items.append(Diagnostic(severity, message, location, source_line))

    def error(self, message: str, location: Location | None) -> None:
        self.report(Severity.ERROR, message, location)

    def warning(self, message: str, location: Location | None) -> None:
        self.report(Severity.WARNING, message, location)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if not d.is_error]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.sorted())

    def sorted(self) -> list[Diagnostic]:
        """Errors and warnings in file and line order (stable for equal places)."""

        def key(d: Diagnostic) -> tuple[str, int, int]:
            loc = d.location
            return (loc.path, loc.line, loc.col) if loc else ("", 0, 0)

        return sorted(self.items, key=key)

    def render(self) -> str:
        return "\n".join(d.render() for d in self.sorted())


class CompileError(Exception):
    """Raised by the API entry points when a run produced errors."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        self.diagnostics = diagnostics
        errors = diagnostics.errors
        first = errors[0].render().splitlines()[0] if errors else "compilation failed"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)
