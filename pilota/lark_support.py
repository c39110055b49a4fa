"""What the Thrift and protobuf parsers share about Lark: how a parser is
built (LALR, contextual lexer, lark-cython when installed), how a syntax
error is made precise, and how parsing goes on past one."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import lark
from lark.exceptions import UnexpectedInput, UnexpectedToken

from pilota.diagnostics import Diagnostics, Location
from pilota.resources import grammar_text

MAX_SYNTAX_ERRORS = 20
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """A syntax error, and what to blank out to parse on past it."""

    message: str
    location: Location
    offset: int  # where the parser stopped
    blank: tuple[int, int]  # what to blank out before parsing again


def recovery_region(text: str, pos: int, top_level: re.Pattern[str]) -> tuple[int, int]:
    """The span to blank out after a syntax error at offset `pos`: from the
    top-level declaration it is in to the next one (or the end). `top_level`
    finds declarations' first words, as its group `kw`. When the error is *at*
    such a word, the declaration before it is the unfinished one."""
    keywords = [m.start("kw") for m in top_level.finditer(text)]
    before = [k for k in keywords if k < pos]
    after = [k for k in keywords if k > pos]
    start = before[-1] if before else 0
    end = pos if pos in keywords and before else (after[0] if after else len(text))
    return start, end


def parse_recovering(
    text: str, attempt: Callable[[str], _T | SyntaxProblem], diagnostics: Diagnostics
) -> _T | None:
    """`attempt(text)`'s tree, or None when the text has syntax errors, all reported.

    After each error the span it names is blanked out (newlines kept, so positions
    hold) and `attempt` runs again, to report later errors too."""
    errors = 0
    resume_from = 0
    while True:
        outcome = attempt(text)
        if not isinstance(outcome, SyntaxProblem):
            return outcome if not errors else None
        if outcome.offset < resume_from:  # no progress: stop rather than loop
            return None
        diagnostics.error(outcome.message, outcome.location)
        errors += 1
        if errors >= MAX_SYNTAX_ERRORS:
            return None
        start, end = outcome.blank
        text = text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]
        resume_from = end


def build_lalr(
    grammar: str, transformer: lark.Transformer[Any, Any], use_cython: bool, **options: Any
) -> tuple[lark.Lark, str]:
    """A parser for the grammar file `grammar` that reduces straight into
    `transformer`, and the name of its backend ("lark-cython" or "lark")."""
    if use_cython:
        try:
            import lark_cython  # type: ignore[import-untyped]

            options["_plugins"] = lark_cython.plugins
        except ImportError:
            pass
    parser = lark.Lark(
        grammar_text(grammar),
        parser="lalr",
        lexer="contextual",
        transformer=transformer,
        maybe_placeholders=True,
        **options,
    )
    return parser, "lark-cython" if "_plugins" in options else "lark"


@cache
def error_parser(grammar: str) -> lark.Lark:
    """A plain Lark parser that builds trees, used only to explain syntax errors."""
    return lark.Lark(grammar_text(grammar), parser="lalr", lexer="contextual")


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
