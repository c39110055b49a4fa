"""What the Thrift and protobuf parsers share about Lark: how a parser is
built (LALR, contextual lexer, lark-cython when installed) and how a syntax
error is made precise."""

from __future__ import annotations

from functools import cache
from typing import Any

import lark
from lark.exceptions import UnexpectedInput, UnexpectedToken

from pilota.resources import grammar_text


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
