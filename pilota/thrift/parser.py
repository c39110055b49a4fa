"""Thrift IDL text → `ast.Document`, with syntax errors as diagnostics.

The Lark parser (LALR, contextual lexer) is built once per process and runs
with an inline transformer, so no parse tree is ever materialised: each rule
reduces straight into an AST node. lark-cython is used when installed; it
behaves the same, only faster.
"""

from __future__ import annotations

import difflib
import re
import threading
from bisect import bisect_right
from functools import cache, partial
from typing import Any, TypeVar, cast

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from pilota.diagnostics import Diagnostic, Diagnostics, Location
from pilota.lark_support import (
    SyntaxProblem,
    build_lalr,
    code_only,
    explain_syntax_error,
    literal_terminal,
    location_at,
    parse_recovering,
    precise_error,
    unexpected_character_message,
)
from pilota.thrift import ast

# Anything a doc comment may be separated from its construct by: blanks and other comments.
_GAP = re.compile(r"(?:\s+|//[^\n]*|#[^\n]*|/\*[\s\S]*?\*/)*+")
_DOC_LINE_PREFIX = re.compile(r"^\s*\*? ?")
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")
# Limits on what one file may ask of the compiler. Past them the file gets one
# located error and is not checked further (as with a syntax error): far past
# any real IDL, well before Python's own limits (the int-string conversion
# limit of 4,300 digits, the recursion limit, the 200 brackets its parser nests).
MAX_INT_DIGITS = 40  # an i64 has at most 19 decimal or 16 hex digits
MAX_NESTING = 64  # containers in containers, in a type or a constant's value
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\"}
_ESCAPE = re.compile(r"\\(.)")

# Where a syntax error outside any member is recovered from: the next top-level
# keyword at the start of a line.
_TOP_LEVEL = re.compile(
    r"^[ \t]*(?P<kw>include|cpp_include|namespace|typedef|const|enum|senum"
    r"|struct|union|exception|service)\b",
    re.MULTILINE,
)


def clean_doc(raw: str) -> str:
    """The text of a `/** ... */` comment without its delimiters, stars and indentation."""
    body = raw[3:-2]
    lines = [_DOC_LINE_PREFIX.sub("", line, count=1).rstrip() for line in body.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


_Container = TypeVar(
    "_Container", ast.ListTypeRef, ast.SetTypeRef, ast.MapTypeRef, ast.ListLiteral, ast.MapLiteral
)


class _Builder(lark.Transformer[Any, ast.Document]):
    """Rule callbacks for the inline transformer; one instance per parser, reset per file."""

    def __init__(self) -> None:
        super().__init__()
        self.reset("", "", Diagnostics())

    def reset(self, path: str, text: str, diagnostics: Diagnostics) -> None:
        self.path = path
        self.text = text
        self.diagnostics = diagnostics
        self.docs: list[Any] = []  # DOC_COMMENT tokens, in source order
        self.doc_ends: list[int] = []
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        # Set by an error that stops the file from being checked further: what the
        # tree holds there (a number, a nesting) is not what the file says.
        self.fatal = False
        self.nesting: dict[int, int] = {}  # id(container node) -> how deep it nests

    def fatal_error(self, message: str, loc: Location) -> None:
        self.diagnostics.error(message, loc)
        self.fatal = True

    def nested(self, node: _Container, children: list[Any], what: str) -> _Container:
        """`node`, recorded with its depth (one more than its deepest child's);
        reports the one container that goes past MAX_NESTING."""
        depth = 1 + max((self.nesting.get(id(child), 0) for child in children), default=0)
        self.nesting[id(node)] = depth
        if depth == MAX_NESTING + 1:
            self.fatal_error(
                f"{what} nested too deeply: more than {MAX_NESTING} containers in one another",
                node.loc,
            )
        return node

    # ---- helpers ----------------------------------------------------------------

    def on_doc_comment(self, token: Any) -> Any:
        self.docs.append(token)
        self.doc_ends.append(token.start_pos + len(token.value))
        return token

    def loc(self, token: Any) -> Location:
        return Location(self.path, token.line, token.column, len(token.value))

    def doc_before(self, line: int, col: int) -> str | None:
        """The doc comment that directly precedes the construct starting at line:col."""
        if not self.docs:
            return None
        start = self.line_starts[line - 1] + col - 1
        i = bisect_right(self.doc_ends, start) - 1
        if i < 0:
            return None
        end = self.doc_ends[i]
        gap = _GAP.match(self.text, end, start)
        if gap is None or gap.end() != start:
            return None
        return clean_doc(self.docs[i].value)

    def string(self, token: Any) -> str:
        raw = token.value[1:-1]
        if "\\" not in raw:
            return str(raw)

        def unescape(m: re.Match[str]) -> str:
            ch = m.group(1)
            if ch in _ESCAPES:
                return _ESCAPES[ch]
            self.diagnostics.error(
                f"invalid escape sequence '\\{ch}' in string literal; "
                "expected one of \\n \\r \\t \\\" \\' \\\\",
                Location(self.path, token.line, token.column + 1 + m.start(), 2),
            )
            return ch

        return _ESCAPE.sub(unescape, raw)

    def int_literal(self, token: Any) -> ast.IntLiteral:
        text = token.value
        digits = text.lstrip("+-")
        if len(digits) > MAX_INT_DIGITS:
            self.fatal_error(
                f"integer literal of {len(digits):,} digits is too long: "
                "Thrift's integers are at most 64 bits",
                self.loc(token),
            )
            return ast.IntLiteral(0, text[:MAX_INT_DIGITS], self.loc(token))
        value = int(digits, 16) if digits[:2] in ("0x", "0X") else int(digits, 10)
        if text.startswith("-"):
            value = -value
        return ast.IntLiteral(value, text, self.loc(token))

    def annotations(self, children: list[Any]) -> list[ast.Annotation]:
        return list(children)

    @staticmethod
    def ann(value: list[ast.Annotation] | None) -> list[ast.Annotation]:
        return value if value is not None else []

    # ---- file -------------------------------------------------------------------

    def start(self, children: list[Any]) -> ast.Document:
        doc = ast.Document(self.path)
        first_header: ast.Include | ast.CppInclude | ast.Namespace | None = None
        for item in children:
            if isinstance(item, ast.Include):
                doc.includes.append(item)
            elif isinstance(item, ast.CppInclude):
                doc.cpp_includes.append(item)
            elif isinstance(item, ast.Namespace):
                doc.namespaces.append(item)
            else:
                doc.definitions.append(item)
                continue
            if first_header is None:
                first_header = item
        if first_header is not None:
            doc.doc = self.program_doc(first_header)
        return doc

    def program_doc(self, first_header: ast.Include | ast.CppInclude | ast.Namespace) -> str | None:
        """As in Apache: the program's doc is the file's first doc comment, when it
        comes before the headers. But one right above an include (no blank line
        between) tells about that include, not the file."""
        if not self.docs:
            return None
        at = first_header.keyword_loc if isinstance(first_header, ast.Include) else first_header.loc
        header_start = self.line_starts[at.line - 1] + at.col - 1
        first_end = self.doc_ends[0]
        if first_end > header_start:
            return None
        if isinstance(first_header, ast.Include) and bisect_right(self.doc_ends, header_start) == 1:
            gap = self.text[first_end:header_start]
            if not _BLANK_LINE.search(gap):
                return None
        return clean_doc(self.docs[0].value)

    def include(self, ch: list[Any]) -> ast.Include:
        self.check_no_separator(ch[0].value, ch[1].end_pos)
        return ast.Include(self.string(ch[1]), self.loc(ch[1]), self.loc(ch[0]))

    def cpp_include(self, ch: list[Any]) -> ast.CppInclude:
        self.check_no_separator(ch[0].value, ch[1].end_pos)
        return ast.CppInclude(self.string(ch[1]), self.loc(ch[0]))

    def namespace(self, ch: list[Any]) -> ast.Namespace:
        end = ch[2].end_pos
        if ch[3] is not None:  # past the annotations' `)`: strings and comments hide none
            end += code_only(self.text[end:]).index(")") + 1
        self.check_no_separator(ch[0].value, end)
        return ast.Namespace(ch[1].value, ch[2].value, self.ann(ch[3]), self.loc(ch[0]))

    def check_no_separator(self, keyword: str, end: int) -> None:
        """Warn about a `,` or `;` after the header that ends at `end`: Apache's
        grammar has none there."""
        gap = _GAP.match(self.text, end)
        at = gap.end() if gap is not None else end
        if self.text[at : at + 1] in (",", ";"):
            self.diagnostics.warning(
                f"'{self.text[at]}' after {keyword}: Apache's compiler rejects it; leave it out",
                location_at(self.text, self.path, at),
            )

    # ---- definitions ------------------------------------------------------------

    def typedef(self, ch: list[Any]) -> ast.Typedef:
        kw = ch[0]
        return ast.Typedef(
            ch[2].value,
            ch[1],
            self.ann(ch[3]),
            self.doc_before(kw.line, kw.column),
            self.loc(ch[2]),
        )

    def const(self, ch: list[Any]) -> ast.Const:
        kw = ch[0]
        if ch[4] is not None:
            self.diagnostics.warning(
                "annotations on a constant's value: Apache's compiler rejects them",
                ch[4][0].loc if ch[4] else self.loc(ch[2]),
            )
        return ast.Const(
            ch[2].value,
            ch[1],
            ch[3],
            self.ann(ch[4]),
            self.doc_before(kw.line, kw.column),
            self.loc(ch[2]),
        )

    def enum(self, ch: list[Any]) -> ast.Enum:
        kw = ch[0]
        return ast.Enum(
            ch[1].value,
            ch[2:-1],
            self.ann(ch[-1]),
            self.doc_before(kw.line, kw.column),
            self.loc(ch[1]),
        )

    def enum_value(self, ch: list[Any]) -> ast.EnumValue:
        name = ch[0]
        value = self.int_literal(ch[1]) if ch[1] is not None else None
        return ast.EnumValue(
            name.value,
            value,
            self.ann(ch[2]),
            self.doc_before(name.line, name.column),
            self.loc(name),
        )

    def senum(self, ch: list[Any]) -> ast.Senum:
        kw = ch[0]
        return ast.Senum(
            ch[1].value,
            ch[2:-1],
            self.ann(ch[-1]),
            self.doc_before(kw.line, kw.column),
            self.loc(ch[1]),
            self.loc(kw),
        )

    def senum_value(self, ch: list[Any]) -> ast.StringLiteral:
        return ast.StringLiteral(self.string(ch[0]), self.loc(ch[0]))

    def _struct(self, kind: str, kw: Any, name: Any, rest: list[Any]) -> ast.Struct:
        return ast.Struct(
            kind,
            name.value,
            rest[:-1],
            self.ann(rest[-1]),
            self.doc_before(kw.line, kw.column),
            self.loc(name),
        )

    def struct(self, ch: list[Any]) -> ast.Struct:
        return self._struct("struct", ch[0], ch[1], ch[3:])

    def union(self, ch: list[Any]) -> ast.Struct:
        return self._struct("union", ch[0], ch[1], ch[3:])

    def exception(self, ch: list[Any]) -> ast.Struct:
        return self._struct("exception", ch[0], ch[1], ch[2:])

    def field(self, ch: list[Any]) -> ast.Field:
        id_tok, req_tok, type_ref, ref_tok, name, default = ch[:6]
        first = id_tok or req_tok
        line, col = (
            (first.line, first.column)
            if first is not None
            else (
                type_ref.loc.line,
                type_ref.loc.col,
            )
        )
        return ast.Field(
            id=self.int_literal(id_tok).value if id_tok is not None else None,
            name=name.value,
            type=type_ref,
            requiredness=req_tok.value if req_tok is not None else None,
            default=default,
            annotations=self.ann(ch[-1]),
            doc=self.doc_before(line, col),
            loc=self.loc(name),
            id_loc=self.loc(id_tok) if id_tok is not None else None,
            reference=ref_tok is not None,
        )

    def xsd_attrs(self, ch: list[Any]) -> list[ast.Field]:
        return list(ch)

    def service(self, ch: list[Any]) -> ast.Service:
        kw, name, _extends_kw, base = ch[:4]
        return ast.Service(
            name.value,
            ast.NamedTypeRef(base.value, self.loc(base)) if base is not None else None,
            ch[4:-1],
            self.ann(ch[-1]),
            self.doc_before(kw.line, kw.column),
            self.loc(name),
        )

    def function(self, ch: list[Any]) -> ast.Function:
        oneway, returns, name = ch[:3]
        is_void = not hasattr(returns, "loc")  # the VOID token rather than a TypeRef
        if oneway is not None:
            line, col = oneway.line, oneway.column
        elif is_void:
            line, col = returns.line, returns.column
        else:
            line, col = returns.loc.line, returns.loc.col
        return ast.Function(
            name=name.value,
            return_type=None if is_void else returns,
            args=ch[3:-2],
            throws=ch[-2] if ch[-2] is not None else [],
            oneway=oneway is not None,
            annotations=self.ann(ch[-1]),
            doc=self.doc_before(line, col),
            loc=self.loc(name),
            oneway_keyword=oneway.value if oneway is not None else None,
            oneway_loc=self.loc(oneway) if oneway is not None else None,
        )

    def throws(self, ch: list[Any]) -> list[ast.Field]:
        return list(ch)

    # ---- types ------------------------------------------------------------------

    def named_type(self, ch: list[Any]) -> ast.NamedTypeRef:
        if ch[1] is not None:
            self.diagnostics.warning(
                f"annotations on a named type ('{ch[0].value}'): Apache's compiler rejects them",
                ch[1][0].loc if ch[1] else self.loc(ch[0]),
            )
        return ast.NamedTypeRef(ch[0].value, self.loc(ch[0]), self.ann(ch[1]))

    def base_type(self, ch: list[Any]) -> ast.BaseTypeRef:
        return ast.BaseTypeRef(ch[0].value, self.ann(ch[1]), self.loc(ch[0]))

    def map_type(self, ch: list[Any]) -> ast.MapTypeRef:
        node = ast.MapTypeRef(ch[2], ch[3], self.ann(ch[4]), self.loc(ch[0]), ch[1])
        return self.nested(node, [ch[2], ch[3]], "type")

    def set_type(self, ch: list[Any]) -> ast.SetTypeRef:
        node = ast.SetTypeRef(ch[2], self.ann(ch[3]), self.loc(ch[0]), ch[1])
        return self.nested(node, [ch[2]], "type")

    def list_type(self, ch: list[Any]) -> ast.ListTypeRef:
        cpp_type = ch[3] if ch[3] is not None else ch[1]
        node = ast.ListTypeRef(ch[2], self.ann(ch[4]), self.loc(ch[0]), cpp_type)
        return self.nested(node, [ch[2]], "type")

    def cpp_type(self, ch: list[Any]) -> str:
        return self.string(ch[0])

    # ---- values -----------------------------------------------------------------

    def int_value(self, ch: list[Any]) -> ast.IntLiteral:
        return self.int_literal(ch[0])

    def double_value(self, ch: list[Any]) -> ast.DoubleLiteral:
        tok = ch[0]
        return ast.DoubleLiteral(float(tok.value), tok.value, self.loc(tok))

    def string_value(self, ch: list[Any]) -> ast.StringLiteral:
        return ast.StringLiteral(self.string(ch[0]), self.loc(ch[0]))

    def ident_value(self, ch: list[Any]) -> ast.Identifier:
        return ast.Identifier(ch[0].value, self.loc(ch[0]))

    def const_list(self, ch: list[Any]) -> ast.ListLiteral:
        return self.nested(ast.ListLiteral(ch[1:], self.loc(ch[0])), ch[1:], "value")

    def const_map(self, ch: list[Any]) -> ast.MapLiteral:
        items = ch[1:]
        node = ast.MapLiteral(list(zip(items[::2], items[1::2], strict=True)), self.loc(ch[0]))
        return self.nested(node, items, "value")

    def annotation(self, ch: list[Any]) -> ast.Annotation:
        value = self.string(ch[1]) if ch[1] is not None else None
        return ast.Annotation(ch[0].value, value, self.loc(ch[0]))


class ThriftParser:
    """The process-wide parser. Parsing holds a lock: the transformer keeps per-file state."""

    def __init__(self, use_cython: bool = True) -> None:
        self._builder = _Builder()
        self._lark, self.backend, self.from_cache = build_lalr(
            "thrift.lark",
            self._builder,
            use_cython,
            lexer_callbacks={"DOC_COMMENT": self._builder.on_doc_comment},
        )
        self._lock = threading.Lock()

    def parse(self, text: str, path: str, diagnostics: Diagnostics) -> ast.Document | None:
        """Parse one file. Returns None when it has syntax errors (all reported)."""
        with self._lock:
            # Each syntax error blanks out the member or top-level construct it
            # occurs in, and parsing starts again; what the builder reports on
            # the way (a bad escape, a warning) is kept once, not once per pass.
            kept: set[Diagnostic] = set()

            def attempt(current: str) -> ast.Document | SyntaxProblem:
                this_pass = Diagnostics(sources=diagnostics.sources)
                outcome = self._attempt(current, path, this_pass)
                for found in this_pass.items:
                    if found not in kept:
                        kept.add(found)
                        diagnostics.items.append(found)
                return outcome

            document = parse_recovering(text, attempt, diagnostics)
            return None if self._builder.fatal else document

    def _attempt(
        self, text: str, path: str, diagnostics: Diagnostics
    ) -> ast.Document | SyntaxProblem:
        outcome = self._parse_once(text, path, diagnostics)
        if isinstance(outcome, ast.Document):
            return outcome
        # Thrift nests no definitions: a keyword met inside one is where a `}` is missing.
        first_error = partial(self._first_error, path=path)
        return explain_syntax_error(
            text, path, outcome, _TOP_LEVEL, first_error, separators=",;\n", nested=False
        )

    def _first_error(self, text: str, path: str, precise: bool = False) -> tuple[int, str] | None:
        """Where `text`'s first syntax error is and what it says (see `FirstError`)."""
        outcome = self._parse_once(text, path, Diagnostics(), precise)
        return None if isinstance(outcome, ast.Document) else outcome[:2]

    def _parse_once(
        self, text: str, path: str, diagnostics: Diagnostics, precise: bool = True
    ) -> ast.Document | tuple[int, str, Location]:
        """The file's tree, or its first syntax error: offset, message, location."""
        self._builder.reset(path, text, diagnostics)
        try:
            return cast(ast.Document, self._lark.parse(text))
        except UnexpectedInput as fast:
            if not precise:  # only where it fails matters (see `FirstError`)
                return _error_offset(fast, text), "", _error_location(fast, path, text)
            exc = precise_error(fast, text, "thrift.lark", self.backend)
            location = _error_location(exc, path, text)
            return _error_offset(exc, text), self._message(exc, text), location

    def _message(self, exc: UnexpectedInput, text: str) -> str:
        if isinstance(exc, UnexpectedCharacters):
            return unexpected_character_message(text, _error_offset(exc, text))
        expected: set[str] = set()
        if isinstance(exc, UnexpectedToken):
            expected = set(exc.accepts or exc.expected)
        elif isinstance(exc, UnexpectedEOF):
            expected = set(exc.expected)
        token = getattr(exc, "token", None)
        if token is None or token.type == "$END":
            found = "end of file"
            at_top = True
        else:
            found = _describe_token(token)
            at_top = token.type in _TOP_LEVEL_TERMINALS
        closers = [c for c in ("RBRACE", "RPAR", "RSQB") if c in expected]
        if closers and at_top:
            return f"missing {self._terminal_name(closers[0])} before {found}"
        if token is not None and token.type == "IDENT":
            # A word where only keywords will do: most likely one misspelt (`strcut`).
            keywords = [
                keyword
                for name in expected
                if (keyword := self._keyword(name)) is not None
            ]
            close = difflib.get_close_matches(token.value, keywords, n=1, cutoff=0.7)
            if close:
                return f"unexpected {found}; did you mean '{close[0]}'?"
        if token is not None and token.value == "<":
            # `lsit<i32>`: the misspelt container was read as a type's name
            before = re.search(r"([A-Za-z_]\w*)\s*$", text[: token.start_pos])
            if before is not None:
                word = before.group(1)
                close = difflib.get_close_matches(word, ["list", "set", "map"], n=1, cutoff=0.6)
                if close:
                    return f"unexpected {found} after '{word}'; did you mean '{close[0]}'?"
        return f"unexpected {found}; expected {self._describe_expected(expected)}"

    def _keyword(self, terminal: str) -> str | None:
        """The word a keyword terminal stands for (`struct`); None for any other terminal."""
        literal = literal_terminal(self._lark, terminal)
        word = literal[1:-1] if literal is not None else ""
        return word if word.isidentifier() else None

    def _describe_expected(self, expected: set[str]) -> str:
        names: list[str] = []
        for group, (members, description) in _GROUPS.items():
            if members <= expected or (group != "value" and members & expected):
                names.append(description)
                expected = expected - members - _GROUP_ABSORBS.get(group, set())
        names += [self._terminal_name(name) for name in sorted(expected, key=_expected_order)]
        if not names:
            return "nothing more"
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]

    def _terminal_name(self, name: str) -> str:
        return _FRIENDLY.get(name) or literal_terminal(self._lark, name) or name


_TOP_LEVEL_TERMINALS = frozenset(
    {
        "INCLUDE", "CPP_INCLUDE", "NAMESPACE", "TYPEDEF", "CONST", "ENUM", "SENUM",
        "STRUCT", "UNION", "EXCEPTION", "SERVICE",
    }
)  # fmt: skip
_TYPE_TERMINALS = frozenset(
    {
        "BOOL", "BYTE", "I8", "I16", "I32", "I64", "DOUBLE_T", "STRING_T", "BINARY",
        "UUID", "SLIST", "MAP", "SET", "LIST",
    }
)  # fmt: skip
_VALUE_TERMINALS = frozenset({"INT", "DOUBLE", "STRING", "IDENT", "LBRACE", "LSQB"})
# Terminal sets named as one thing in "expected ..." messages.
_GROUPS: dict[str, tuple[frozenset[str], str]] = {
    "definition": (
        _TOP_LEVEL_TERMINALS,
        "a definition or header (struct, enum, service, include, ...)",
    ),
    "type": (_TYPE_TERMINALS, "a type"),
    "value": (_VALUE_TERMINALS, "a value"),
}
_GROUP_ABSORBS = {"type": {"IDENT"}}  # a type may be a name
_FRIENDLY = {
    "IDENT": "an identifier",
    "INT": "an integer",
    "DOUBLE": "a number",
    "STRING": "a string literal",
    "$END": "end of file",
}


def _expected_order(name: str) -> tuple[int, str]:
    # Punctuation first (what usually closes the construct), then words.
    return (0 if name not in _FRIENDLY and not name.isalpha() else 1, name)


def _describe_token(token: Any) -> str:
    if token.type == "IDENT":
        return f"identifier '{token.value}'"
    if token.type in ("INT", "DOUBLE"):
        return f"number {token.value}"
    if token.type == "STRING":
        return f"string {token.value}"
    return f"'{token.value}'"


def _error_offset(exc: UnexpectedInput, text: str) -> int:
    if isinstance(exc, UnexpectedCharacters):
        return exc.pos_in_stream or 0
    token = getattr(exc, "token", None)
    if token is None or token.type == "$END" or token.start_pos is None:
        return len(text)
    return int(token.start_pos)


def _error_location(exc: UnexpectedInput, path: str, text: str) -> Location:
    if isinstance(exc, UnexpectedCharacters):
        length = 2 if text.startswith("/*", exc.pos_in_stream) else 1
        return Location(path, exc.line, exc.column, length)
    token = getattr(exc, "token", None)
    if token is None or token.type == "$END" or token.line is None:
        # Point just past the last non-blank character: where something is missing.
        return location_at(text, path, len(text.rstrip()))
    return Location(path, token.line, token.column, max(1, len(token.value)))


@cache
def thrift_parser() -> ThriftParser:
    """The parser, built on first use and reused for the life of the process."""
    return ThriftParser()


def parse_thrift(text: str, path: str, diagnostics: Diagnostics) -> ast.Document | None:
    return thrift_parser().parse(text, path, diagnostics)
