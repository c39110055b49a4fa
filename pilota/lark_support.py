"""What the Thrift and protobuf parsers share about Lark: how a parser is
built (LALR, contextual lexer, lark-cython when installed, its tables cached
per user), how a syntax error is made precise, and how parsing goes on past one."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

import lark
from lark.exceptions import UnexpectedInput, UnexpectedToken

from pilota.diagnostics import Diagnostics, Location
from pilota.resources import grammar_text

MAX_SYNTAX_ERRORS = 20
_T = TypeVar("_T")


class FirstError(Protocol):
    """Where a text's first syntax error is and what it says; None if it parses.

    Explaining an error parses variants of the text, and only the offset of
    their error matters, unless `precise`: then the message must say exactly
    what was expected, which costs a second, slower parse."""

    def __call__(self, text: str, *, precise: bool = False) -> tuple[int, str] | None: ...


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """A syntax error, and what to blank out to parse on past it."""

    message: str
    location: Location
    offset: int  # where the parser stopped
    blank: tuple[int, int]  # what to blank out before parsing again
    # What to blank out instead when the error comes right where the last one's
    # blank ended: likely its echo (the rest of a broken comment, say), so the
    # whole declaration goes.
    declaration: tuple[int, int] | None = None


_STRINGS_AND_COMMENTS = re.compile(
    r'"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"?|\'[^\'\\\n]*+(?:\\.[^\'\\\n]*+)*+\'?|//[^\n]*|#[^\n]*'
    r"|/\*[\s\S]*?(?:\*/|\Z)"
)  # a string or block comment left open runs to the end of its line or of the text;
# possessive repeats (`*+`) keep no backtracking state per character of a long string
_BRACKETS = re.compile(r"[{}()\[\]<>;,\n]")
_OPENER_OF = {"}": "{", ")": "(", "]": "[", ">": "<"}


def code_only(text: str) -> str:
    """`text` with strings and comments blanked to spaces, so brackets and
    separators can be read from it at their own offsets."""
    return _STRINGS_AND_COMMENTS.sub(lambda m: " " * len(m.group()), text)


def location_at(text: str, path: str, offset: int, length: int = 1) -> Location:
    """The 1-based line and column of `offset` in `text`."""
    line_start = text.rfind("\n", 0, offset) + 1
    return Location(path, text.count("\n", 0, offset) + 1, offset - line_start + 1, length)


def _missing_closer(
    text: str,
    code: str,
    path: str,
    offset: int,
    keywords: list[re.Match[str]],
    first_error: FirstError | None,
) -> SyntaxProblem | None:
    """The error at `offset` explained as a bracket left open before a later
    declaration, if it is one.

    Inside a body, the contextual lexer reads the next declaration's keyword
    (`keywords`, those before the error) as a name, so a forgotten `}`
    surfaces only somewhere past it. The candidates are the keywords that come
    while a bracket is open. Where declarations nest, pass `first_error`: a
    candidate then holds only if closing there lets the parse get past the
    error. Without it, the first candidate is taken."""
    tried, scanned = 0, 0
    left_open: list[tuple[str, int]] = []
    for keyword in keywords[1:]:
        keyword_at = keyword.start("kw")
        left_open = _still_open(code, scanned, keyword_at, left_open)
        scanned = keyword_at
        if not left_open:
            continue
        opener, opened_at = left_open[-1]
        closer = next(c for c, o in _OPENER_OF.items() if o == opener)
        if first_error is not None:
            tried += 1
            then = first_error(text[:keyword_at] + closer + text[keyword_at:])
            if then is not None and then[0] <= offset + len(closer):
                if tried == _MAX_CLOSER_TRIES:
                    return None
                continue
        # blank from the declaration the bracket opened in up to the keyword
        owner = max((k.start("kw") for k in keywords if k.start("kw") < opened_at), default=0)
        word = keyword.group("kw")
        return SyntaxProblem(
            f"missing '{closer}' before '{word}'",
            location_at(text, path, keyword_at, len(word)),
            offset,
            (owner, keyword_at),
        )
    return None


_MAX_CLOSER_TRIES = 5  # re-parses, on the error path only


def _unclosed_parenthesis(
    text: str,
    code: str,
    path: str,
    offset: int,
    first_error: FirstError,
) -> SyntaxProblem | None:
    """The error at `offset` explained as a `(` left open on an earlier line, if it is one.

    Without its `)`, an argument list runs on into the next lines, and the
    parser only stops at something no argument can hold, often well past the
    `(` (the next method's own `(`). The candidates are the ends of the lines
    from the `(` on: it holds at the first where a `)` gets the parse past the error."""
    line_start = code.rfind("\n", 0, offset) + 1
    left_open = _still_open(code, 0, line_start)
    if not left_open or left_open[-1][0] != "(":
        return None
    opened_at = left_open[-1][1] - 1  # the `(` itself
    line_end = code.find("\n", opened_at)
    for _ in range(_MAX_CLOSER_TRIES):
        if not 0 <= line_end < line_start:
            break
        close_at = _last_token_end(text, code, line_end)
        then = first_error(text[:close_at] + ")" + text[close_at:])
        if then is None or then[0] > offset + 1:
            before = re.search(r"([A-Za-z_][\w.]*)\s*$", code[:opened_at])
            after = f" after '{before.group(1)}'" if before else ""
            owner = code.rfind("\n", 0, opened_at) + 1  # the line the `(` is on
            return SyntaxProblem(
                f"unclosed '('{after}: expected ')'",
                location_at(text, path, opened_at),
                offset,
                (owner, line_start),
            )
        line_end = code.find("\n", line_end + 1)
    return None


def _last_token_end(text: str, code: str, line_end: int) -> int:
    """Where the last token before `line_end` ends: strings count, comments do not."""
    end = len(code[:line_end].rstrip())
    line_start = text.rfind("\n", 0, line_end) + 1
    for m in _STRINGS_AND_COMMENTS.finditer(text, line_start, line_end):
        if m.group()[0] in "\"'":
            end = max(end, m.end())
    return end


def _unfinished_declaration(
    text: str,
    path: str,
    offset: int,
    keywords: list[re.Match[str]],
    first_error: FirstError,
) -> SyntaxProblem | None:
    """The error at `offset` explained as a declaration left unfinished, if it is one.

    A keyword that starts the next declaration (`keywords`, those before the
    error) can be read as the last word of an unfinished one (`typedef i32`
    with no name, then `struct S`): the error then comes just after that
    keyword, on its line. It is that when the text up to the keyword does not
    parse, and without the unfinished declaration the parse gets past `offset`."""
    if len(keywords) < 2 or "\n" in text[keywords[-1].start("kw") : offset]:
        return None
    start, keyword = keywords[-2], keywords[-1]
    head = text[: keyword.start("kw")]
    unfinished = first_error(head, precise=True)  # its message is shown
    if unfinished is None:
        return None
    later = first_error(blank_out(text, start.start("kw"), keyword.start("kw")))
    if later is not None and later[0] <= offset:
        return None
    _, _, expected = unfinished[1].partition("; ")
    what = start.group("kw").split()[-1]  # the keyword, without a modifier before it
    message = f"unfinished {what} before '{keyword.group('kw')}'" + (
        f": {expected}" if expected else ""
    )
    end = len(head.rstrip())
    return SyntaxProblem(
        message, location_at(text, path, end), offset, (start.start("kw"), keyword.start("kw"))
    )


def blank_out(text: str, start: int, end: int) -> str:
    """`text` with `start:end` turned to spaces, newlines kept (so positions hold)."""
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def explain_syntax_error(
    text: str,
    path: str,
    error: tuple[int, str, Location],
    top_level: re.Pattern[str],
    first_error: FirstError,
    *,
    separators: str = ";",
    nested: bool,
) -> SyntaxProblem:
    """The parser's first syntax error in `text` (offset, message, location),
    explained where a likelier cause is found, with what to blank out to go on.

    `top_level` finds declarations' first words at the margin, as its group
    `kw`; `separators` end a statement inside a body; `nested` says whether
    declarations nest in the language. `first_error(text)` gives a text's
    first syntax error (offset and message), or None if it parses: the
    explanations are checked by parsing again."""
    offset, message, location = error
    code = code_only(text)
    keywords = list(top_level.finditer(text))
    before = [k for k in keywords if k.end() <= offset + 1]  # the error may be just past one
    missing = _missing_closer(text, code, path, offset, before, first_error if nested else None)
    if missing is not None:
        return missing
    unclosed = _unclosed_parenthesis(text, code, path, offset, first_error)
    if unclosed is not None:
        return unclosed
    unfinished = _unfinished_declaration(text, path, offset, before, first_error)
    if unfinished is not None:
        return unfinished
    starts = [k.start("kw") for k in keywords]
    blank, declaration = _recovery_regions(text, code, offset, starts, separators)
    return SyntaxProblem(message, location, offset, blank, declaration)


def _recovery_regions(
    text: str, code: str, pos: int, keywords: list[int], separators: str
) -> tuple[tuple[int, int], tuple[int, int]]:
    """What to blank out after a syntax error at offset `pos`, and the whole
    declaration it is in (`SyntaxProblem.blank` and `.declaration`).

    The declaration runs from its first word (`keywords`: where declarations
    start) to the next one (or the end); when the error is *at* such a word,
    the declaration before it is the unfinished one. Inside a `{ }` body,
    what to blank is the one statement the error is in: from the `separators`
    character or brace before it to the one after it, brackets balanced, so
    the errors of the other members are reported too."""
    before = [k for k in keywords if k < pos]
    after = [k for k in keywords if k > pos]
    start = before[-1] if before else 0
    end = pos if pos in keywords and before else (after[0] if after else len(text))
    declaration = (start, end)
    # With a bracket missing or extra there is no telling which closer closes
    # what, nor after an unclosed quote what was quoted: then the whole
    # declaration goes. Braces count in the declaration (or, if that is not
    # balanced because a nested one starts at the margin, in the file), the
    # other brackets on the statement's lines.
    braces_hold = _balanced(code[start:end], "{}") or _balanced(code, "{}")
    if pos == len(text) or pos in keywords or text[pos] in "\"'" or not braces_hold:
        return declaration, declaration
    statement = _statement_region(code, pos, separators)
    if statement is None:
        return declaration, declaration
    first, last = statement
    line_end = code.find("\n", max(last - 1, pos))
    if _balanced(
        code[code.rfind("\n", 0, first) + 1 : line_end if line_end >= 0 else None], "()[]<>"
    ):
        return statement, declaration
    return declaration, declaration


def _balanced(code: str, pairs: str) -> bool:
    """Whether each opener of `pairs` ("{}", "()[]") comes as often as its closer."""
    return all(code.count(pairs[i]) == code.count(pairs[i + 1]) for i in range(0, len(pairs), 2))


def _statement_region(code: str, pos: int, separators: str) -> tuple[int, int] | None:
    """The statement around `pos` in the innermost `{ }` body; None outside one."""
    bodies = [at for bracket, at in _still_open(code, 0, pos) if bracket == "{"]
    if not bodies:
        return None
    starts = [bodies[-1]]  # where statements of the body start, up to `pos`
    inner: list[tuple[str, int]] = []
    for m in _BRACKETS.finditer(code, bodies[-1], pos):
        bracket = m.group()
        if bracket in "{([<":
            inner.append((bracket, m.end()))
        elif bracket in _OPENER_OF:
            _close(inner, _OPENER_OF[bracket])
            if not inner and bracket == "}":
                starts.append(m.end())
        elif not inner and bracket in separators:
            starts.append(m.end())
    start = starts[-1]
    if not code[start:pos].strip() and len(starts) > 1:
        # The error is at a statement's first token, so the statement before it
        # may be the unfinished one (a missing `;`, an extra word): blank both.
        start = starts[-2]
    end = _statement_end(code, start, pos, separators)
    return (start, end) if code[start:end].strip() else None


def _statement_end(code: str, start: int, pos: int, separators: str) -> int:
    """Where the statement from `start`, with the error at `pos` in it or after it, ends.

    A bracket the statement opened before the error may be the error (left
    unclosed), so it does not hide a `;` that follows; other separators in it
    separate its items, and its closer is still taken as the statement's own."""
    before = _still_open(code, start, pos)  # opened by the statement before `pos`
    after: list[tuple[str, int]] = []  # opened from `pos` on
    for m in _BRACKETS.finditer(code, pos):
        bracket = m.group()
        if bracket in "{([<":
            after.append((bracket, m.end()))
        elif bracket in _OPENER_OF:
            opener = _OPENER_OF[bracket]
            if any(b == opener for b, _ in after):
                _close(after, opener)
                if not after and not before and bracket == "}":
                    # a statement that is a block ends here, with its separator if any
                    rest = len(code) - len(code[m.end() :].lstrip(" \t"))
                    if rest < len(code) and code[rest] in separators.replace("\n", ""):
                        return rest + 1
                    return m.end()
            elif any(b == opener for b, _ in before):
                _close(before, opener)
            elif bracket == "}":
                return m.start()  # the body around the statement closes
        elif not after and bracket in separators and (not before or bracket == ";"):
            return m.end()
    return len(code)


def _still_open(
    code: str, start: int, end: int, opened: list[tuple[str, int]] | None = None
) -> list[tuple[str, int]]:
    """The brackets opened in `code[start:end]` (or before it, in `opened`) and
    not closed there, and where they open."""
    opened = [] if opened is None else opened
    for m in _BRACKETS.finditer(code, start, end):
        bracket = m.group()
        if bracket in "{([<":
            opened.append((bracket, m.end()))
        elif bracket in _OPENER_OF:
            _close(opened, _OPENER_OF[bracket])
    return opened


def _close(opened: list[tuple[str, int]], opener: str) -> None:
    """Close the innermost `opener` and any left open inside it; a stray closer closes nothing."""
    for i in range(len(opened) - 1, -1, -1):
        if opened[i][0] == opener:
            del opened[i:]
            return


def parse_recovering(
    text: str, attempt: Callable[[str], _T | SyntaxProblem], diagnostics: Diagnostics
) -> _T | None:
    """`attempt(text)`'s tree, or None when the text has syntax errors, all reported.

    After each error the span it names is blanked out (newlines kept, so positions
    hold) and `attempt` runs again, to report later errors too."""
    errors = 0
    resume_from = 0
    last_end = -1  # where the last blank ended
    while True:
        outcome = attempt(text)
        if not isinstance(outcome, SyntaxProblem):
            return outcome if not errors else None
        if outcome.offset < resume_from:  # no progress: stop rather than loop
            return None
        resume_from = outcome.offset + 1  # each error further on than the last
        diagnostics.error(outcome.message, outcome.location)
        errors += 1
        if errors >= MAX_SYNTAX_ERRORS:
            return None
        start, end = outcome.blank
        if outcome.declaration and last_end >= 0 and not text[last_end : outcome.offset].strip():
            start, end = outcome.declaration
        text = blank_out(text, start, end)
        resume_from = max(resume_from, end)
        last_end = end


def build_lalr(
    grammar: str, transformer: lark.Transformer[Any, Any], use_cython: bool, **options: Any
) -> tuple[lark.Lark, str, bool]:
    """A parser for the grammar file `grammar` that reduces straight into
    `transformer`, the name of its backend ("lark-cython" or "lark"), and
    whether its tables came from the cache (see `cached_lark`)."""
    if use_cython:
        try:
            import lark_cython  # type: ignore[import-untyped]

            options["_plugins"] = lark_cython.plugins
        except ImportError:
            pass
    backend = "lark-cython" if "_plugins" in options else "lark"
    parser, from_cache = cached_lark(
        grammar, backend, transformer=transformer, maybe_placeholders=True, **options
    )
    return parser, backend, from_cache


@cache
def error_parser(grammar: str) -> lark.Lark:
    """A plain Lark parser that builds trees, used only to explain syntax errors."""
    return cached_lark(grammar, "lark-trees")[0]


# Options that do not shape the parse tables: not saved with them, given again on loading.
_LOAD_OPTIONS = ("transformer", "lexer_callbacks", "_plugins", "postlex")


def cached_lark(grammar: str, variant: str, **options: Any) -> tuple[lark.Lark, bool]:
    """An LALR parser (contextual lexer) for the grammar file `grammar`, and
    whether its tables came from the cache.

    Building the tables takes about half a second, on every run of every
    command; loading them takes a tenth of that. They are kept per user (see
    `cache_dir`), one file per grammar, `variant`, option set, Lark and Python
    version: Lark's own save format after a line naming all that. A file is
    written whole under another name, then moved in place, so processes running
    at once never read half of one. A file that does not load is built again;
    without a writable cache folder the tables are built every time, and nothing
    else changes."""
    text = grammar_text(grammar)
    shaping = sorted((k, repr(v)) for k, v in options.items() if k not in _LOAD_OPTIONS)
    key = hashlib.sha256(
        repr((text, shaping, variant, lark.__version__, sys.version_info[:2])).encode()
    ).hexdigest()
    directory = cache_dir()
    name = f"{grammar.removesuffix('.lark')}-{variant}-{key[:16]}.lark"
    path = directory / name if directory is not None else None
    if path is not None:
        try:
            with path.open("rb") as f:
                if f.readline().rstrip(b"\n") == key.encode():
                    loaded = lark.Lark.__new__(lark.Lark)
                    given = {k: v for k, v in options.items() if k in _LOAD_OPTIONS}
                    return loaded._load(f, **given), True
        except Exception:  # missing, unreadable or damaged: build it again
            pass
    parser = lark.Lark(text, parser="lalr", lexer="contextual", **options)
    if path is not None:
        partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as f:
                f.write(key.encode() + b"\n")
                parser.save(f, exclude_options=_LOAD_OPTIONS)
            os.replace(partial, path)
        except OSError:  # no cache, then: it only costs time
            with contextlib.suppress(OSError):
                partial.unlink()
    return parser, False


def cache_dir() -> Path | None:
    """Where parse tables are cached: `$PILOTA_CACHE_DIR`, else `pilota` in the
    user's cache folder (`$XDG_CACHE_HOME`, else `~/.cache`)."""
    configured = os.environ.get("PILOTA_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "pilota") if os.path.isabs(base) else None


def precise_error(exc: UnexpectedInput, text: str, grammar: str, backend: str) -> UnexpectedInput:
    """The same error from the plain Lark parser, which knows exactly which
    tokens it would accept (lark-cython reports a looser set). Error path only."""
    if backend == "lark" or not isinstance(exc, UnexpectedToken):
        return exc
    try:
        error_parser(grammar).parse(text)
    except UnexpectedInput as precise:
        return precise
    return exc


def unexpected_character_message(text: str, pos: int) -> str:
    """What is wrong where the lexer stopped at `pos`: an unclosed string or
    comment, or a character no token starts with."""
    ch = text[pos]
    if ch in "\"'":
        return f"unterminated string literal: expected a closing {ch} on the same line"
    if text.startswith("/*", pos):
        return "unterminated comment: expected '*/' before the end of the file"
    return f"unexpected character {ch!r}"


def literal_terminal(parser: lark.Lark, name: str) -> str | None:
    """A terminal that is a fixed string, quoted (`'{'`); None for a pattern."""
    try:
        pattern = parser.get_terminal(name).pattern
    except KeyError:
        return None
    return f"'{pattern.value}'" if pattern.type == "str" else None
