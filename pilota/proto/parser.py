""".proto text → `ast.File`, with syntax errors as diagnostics.

The Lark parser (LALR, contextual lexer) is built once per process and runs
with an inline transformer: each rule reduces straight into an AST node.
lark-cython is used when installed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import cache, partial
from typing import Any, cast

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput

from pilota.diagnostics import Diagnostics, Location
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
from pilota.proto import ast

Located = tuple[ast.Constant, Location]

_SIMPLE_ESCAPES = {
    "a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11,
    "\\": 92, "'": 39, '"': 34, "?": 63,
}  # fmt: skip
_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\'\"?])|([0-7]{1,3})|[xX]([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})"
    r"|U([0-9A-Fa-f]{8})|(.))",
    re.DOTALL,
)
_OCTAL = re.compile(r"0[0-7]+")
# A number as protoc reads one (the grammar's NUMBER without the letters after it).
_NUMBER = re.compile(
    r"(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?|[0-9]+[eE][+-]?[0-9]+[fF]?"
    r"|0[xX][0-9A-Fa-f]+|[0-9]+[fF]?"
)


# Limits on what one file may ask of the compiler. Past them the file gets one
# located error and is not checked further, as with a syntax error.
MAX_MESSAGE_NESTING = 31  # messages in messages: protoc stops at 32 levels
MAX_AGGREGATE_NESTING = 64  # text-format values in values (protoc's parser stops near 100)
MAX_INTEGER_CHARS = 40  # a 64-bit integer has at most 20 decimal digits (22 octal)
_INTEGER = re.compile(r"0[xX][0-9A-Fa-f]+|[0-9]+")


def _at(loc: Location, offset: int) -> Location:
    """`loc` moved `offset` characters on, one wide."""
    return Location(loc.path, loc.line, loc.col + offset, 1)


class ProtoSyntaxError(Exception):
    def __init__(self, message: str, location: Location) -> None:
        super().__init__(message)
        self.location = location


def unescape(literal: str, loc: Location) -> bytes:
    """The bytes a string literal (quotes included) stands for."""
    body = literal[1:-1]
    if "\\" not in body:
        return body.encode("utf-8")
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(body):
        out += body[pos : m.start()].encode("utf-8")
        simple, octal, hexa, u4, u8, other = m.groups()
        if simple is not None:
            out.append(_SIMPLE_ESCAPES[simple])
        elif octal is not None:
            out.append(int(octal, 8) & 0xFF)
        elif hexa is not None:
            out.append(int(hexa, 16))
        elif u4 is not None or u8 is not None:
            code = int(u4 or u8, 16)
            if code > 0x10FFFF:
                raise ProtoSyntaxError(f"invalid unicode escape \\U{u8}", loc)
            out += chr(code).encode("utf-8", "surrogatepass")
        else:
            raise ProtoSyntaxError(f"invalid escape sequence \\{other}", loc)
        pos = m.end()
    out += body[pos:].encode("utf-8")
    return bytes(out)


def parse_number(text: str, loc: Location) -> int | float:
    number = _NUMBER.match(text)
    end = number.end() if number else 0
    if end < len(text):  # letters run on (the grammar's NUMBER takes them, for this)
        hexadecimal = text[:2] in ("0x", "0X")
        if hexadecimal and end == 1:
            raise ProtoSyntaxError('"0x" needs hex digits after it', _at(loc, 2))
        if text[end] in "eE" and not hexadecimal and not any(c in "eE" for c in text[:end]):
            message = f'the exponent "{text[end]}" needs digits after it'
            raise ProtoSyntaxError(message, _at(loc, end + 1))
        message = f"a space is needed between the number {text[:end]} and the name {text[end:]}"
        raise ProtoSyntaxError(message, _at(loc, end))
    if text[:2] in ("0x", "0X"):
        return int(text, 16)
    if any(c in text for c in ".eE") or text[-1] in "fF":
        return float(text.rstrip("fF"))
    if _OCTAL.fullmatch(text):
        return int(text, 8)
    if len(text) > 1 and text[0] == "0":
        raise ProtoSyntaxError(f"invalid octal number {text}", loc)
    return int(text)


def _label(token: Any) -> str | None:
    """A field's label as written (`optional`, ...), from its token."""
    return str(token.value) if token is not None else None


def _block_comment(body: str) -> str | None:
    """A `/* */` comment's text: each line trimmed of its margin and leading `*`."""
    cleaned = [line.strip().lstrip("*").strip() for line in body.splitlines()]
    return "\n".join(cleaned).strip("\n") or None


def _declaration_end(code: str, pos: int) -> int:
    """Where the declaration going on at `pos` ends: its `;`, or the `{` of its
    body, past any brackets in between; -1 if neither comes. `code` is the text
    with strings and comments blanked (`code_only`)."""
    depth = 0
    for mark in _DECLARATION_MARKS.finditer(code, pos):
        if depth == 0 and mark.group() in ";{":
            return mark.start()
        depth += 1 if mark.group() in "[(<{" else -1
    return -1


_DECLARATION_MARKS = re.compile(r"[;{}\[\]()<>]")

# Where parsing resumes after a syntax error that no statement holds: the next
# top-level declaration, taken to be a keyword at the very start of a line
# (nested ones are indented).
_TOP_LEVEL = re.compile(
    r"^(?P<kw>(?:(?:export|local)[ \t]+)?(?:syntax|edition|package|import|option|message"
    r"|enum|service|extend))\b",
    re.MULTILINE,
)


def _offset(text: str, location: Location) -> int:
    """The offset in `text` of a 1-based line and column."""
    line_start = 0
    for _ in range(location.line - 1):
        line_start = text.find("\n", line_start) + 1
    return line_start + max(0, location.col - 1)


class _Builder(lark.Transformer[Any, ast.File]):
    """Rule callbacks for the inline transformer; one per parser, reset per file."""

    def __init__(self) -> None:
        super().__init__()
        self.reset("", "")

    def reset(self, path: str, text: str, docs: bool = True) -> None:
        self.path = path
        self.text = text
        self.docs = docs  # off where only whether the text parses matters
        self.line_starts: list[int] | None = None  # offsets, made when first needed
        self.code: str | None = None  # code_only(text), made when first needed
        # Errors that stop the file from being checked further (the tree holds
        # something else where they are); the parse goes on, so each is one error.
        self.fatal: list[tuple[str, Location]] = []
        self.heights: dict[int, int] = {}  # id(message or aggregate) -> levels it nests

    def nest(
        self, node: object, inner: Iterable[object], limit: int, what: str, loc: Location
    ) -> None:
        """Record how many levels `node` nests (one more than the deepest of `inner`);
        the one that goes past `limit` is a fatal error."""
        height = 1 + max((self.heights.get(id(i), 0) for i in inner), default=0)
        self.heights[id(node)] = height
        if height == limit + 1:
            self.fatal.append((f"{what} nested too deeply: more than {limit} levels", loc))

    def number_value(self, token: Any) -> int | float:
        """A NUMBER token's value; an integer too long to be one of protobuf's is
        a fatal error (and reads as 0)."""
        text = token.value
        if len(text) > MAX_INTEGER_CHARS and _INTEGER.fullmatch(text):
            self.fatal.append((
                f"integer of {len(text):,} digits is too long: protobuf's integers "
                "are at most 64 bits",
                self.loc(token),
            ))  # fmt: skip
            return 0
        return parse_number(text, self.loc(token))

    # ---- helpers -------------------------------------------------------------

    def loc(self, token: Any) -> Location:
        return Location(self.path, token.line, token.column, max(1, len(token.value)))

    def doc(self, first_line: int, name: Any) -> str | None:
        """The leading comment of the element starting on `first_line`, then the
        trailing one of the declaration named by `name`, as one text."""
        if not self.docs:
            return None
        leading, trailing = self.leading_comment(first_line), self.trailing_comment(name)
        if leading and trailing:
            return f"{leading}\n{trailing}"
        return leading or trailing

    def leading_comment(self, first_line: int) -> str | None:
        """The comment block right above `first_line`, if any: `//` lines, or one
        `/* */` block, with no blank line between."""
        if self.line_starts is None:
            self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        text = self.text
        end = self.line_starts[first_line - 1] - 1  # the end of the line above
        if end < 0:
            return None
        lines: list[str] = []
        while end >= 0:
            start = text.rfind("\n", 0, end) + 1
            line = text[start:end].strip()
            if line.startswith("//"):
                body = line[2:]
                lines.append(body[1:] if body.startswith(" ") else body)
                end = start - 1
                continue
            if not lines and line.endswith("*/"):
                opening = text.rfind("/*", 0, end)
                if opening < 0 or text[text.rfind("\n", 0, opening) + 1 : opening].strip():
                    return None  # not a comment alone: code before it
                return _block_comment(text[opening + 2 : end].rstrip()[:-2])
            break
        return "\n".join(reversed(lines)).strip("\n") or None

    def trailing_comment(self, name: Any) -> str | None:
        """The comment on the line where the element named by `name` ends its
        declaration: after its `;` (`int32 a = 1; // here`) or its body's `{`
        (`message A { // here`)."""
        text = self.text
        if self.code is None:
            self.code = code_only(text)
        end = _declaration_end(self.code, name.end_pos)
        if end < 0:
            return None
        line_end = text.find("\n", end) % (len(text) + 1)
        rest = text[end + 1 : line_end].lstrip(" \t")
        if rest.startswith("//"):
            body = rest[2:].rstrip()
            return (body[1:] if body.startswith(" ") else body) or None
        if rest.startswith("/*"):
            start = text.index("/*", end)
            closing = text.find("*/", start)
            after = text[closing + 2 : text.find("\n", closing) % (len(text) + 1)]
            # a token after it on the same line makes it nobody's
            return _block_comment(text[start + 2 : closing]) if not after.strip() else None
        if rest:
            return None
        # Else a block of `//` lines just below, if a blank line or the end of the
        # enclosing body follows it (directly before a declaration, it leads that one).
        lines: list[str] = []
        pos = line_end + 1
        while pos < len(text):
            next_end = text.find("\n", pos) % (len(text) + 1)
            line = text[pos:next_end].strip()
            if not line.startswith("//"):
                break
            body = line[2:]
            lines.append(body[1:] if body.startswith(" ") else body)
            pos = next_end + 1
        else:
            line = ""
        if lines and (not line or line.startswith("}")):
            return "\n".join(lines).strip("\n") or None
        return None

    # ---- file level ------------------------------------------------------------

    def start(self, items: list[Any]) -> ast.File:
        f = ast.File(self.path)
        for item in items:
            if isinstance(item, ast.Message):
                f.messages.append(item)
            elif isinstance(item, ast.Enum):
                f.enums.append(item)
            elif isinstance(item, ast.Service):
                f.services.append(item)
            elif isinstance(item, ast.Extend):
                f.extends.append(item)
                f.messages += [x.group for x in item.fields if x.group is not None]
            elif isinstance(item, ast.Option):
                f.options.append(item)
            elif isinstance(item, ast.Import):
                f.imports.append(item)
            elif isinstance(item, tuple):
                kind, value, loc = item
                if kind == "package":
                    f.package, f.package_loc = value, loc
                else:
                    setattr(f, kind, value)
                    f.header_loc = loc
        return f

    def syntax(self, ch: list[Any]) -> tuple[str, str, Location]:
        value, loc = ch[1]
        return ("syntax", value.decode("utf-8", "replace"), loc)

    def edition(self, ch: list[Any]) -> tuple[str, str, Location]:
        value, loc = ch[1]
        return ("edition", value.decode("utf-8", "replace"), loc)

    def package(self, ch: list[Any]) -> tuple[str, str, Location]:
        name, loc = ch[1]
        return ("package", name, loc)

    def import_kind(self, ch: list[Any]) -> str:
        return str(ch[0].value)

    def import_(self, ch: list[Any]) -> ast.Import:
        value, loc = ch[2]
        return ast.Import(value.decode("utf-8", "replace"), ch[1], loc)

    # ---- values ----------------------------------------------------------------

    def strings(self, ch: list[Any]) -> Located:
        loc = self.loc(ch[0])
        return b"".join(unescape(t.value, loc) for t in ch), loc

    def number(self, ch: list[Any]) -> Located:
        return self.number_value(ch[-1]), self.loc(ch[-1])

    def negative_number(self, ch: list[Any]) -> Located:
        value, loc = self.number(ch)
        assert isinstance(value, int | float)
        return -value, loc

    def identifier(self, ch: list[Any]) -> Located:
        first = ch[0]
        if isinstance(first, tuple):  # dotted
            return ast.Identifier(first[0]), first[1]
        return ast.Identifier(first.value), self.loc(first)

    def negative_identifier(self, ch: list[Any]) -> Located:
        token = ch[-1]
        return ast.Identifier(token.value, negative=True), self.loc(token)

    def dotted(self, ch: list[Any]) -> tuple[str, Location]:
        return ".".join(t.value for t in ch), self.loc(ch[0])

    def aggregate(self, ch: list[Any]) -> Located:
        entries = cast(list[ast.AggregateEntry], ch)
        loc = entries[0].loc if entries else Location(self.path, 0, 0)
        aggregate = ast.Aggregate(entries, loc)
        inner = [
            value
            for entry in entries
            for value in (entry.value if isinstance(entry.value, list) else [entry.value])
        ]
        self.nest(aggregate, inner, MAX_AGGREGATE_NESTING, "option value", loc)
        return aggregate, loc

    def agg_field(self, ch: list[Any]) -> ast.AggregateEntry:
        (key, extension, loc), (value, _) = ch[0], ch[-1]
        return ast.AggregateEntry(key, extension, value, loc)

    def field_key(self, ch: list[Any]) -> tuple[str, bool, Location]:
        return ch[0].value, False, self.loc(ch[0])

    def extension_key(self, ch: list[Any]) -> tuple[str, bool, Location]:
        return cast(tuple[str, bool, Location], ch[0])

    def type_url(self, ch: list[Any]) -> tuple[str, bool, Location]:
        # The separators are dropped by the grammar: recover them from the source.
        first, last = ch[0], ch[-1]
        text = self.text[first.start_pos : last.end_pos]
        return re.sub(r"\s+", "", text), True, self.loc(first)

    def agg_list(self, ch: list[Any]) -> Located:
        items = [c for c in ch if c is not None]
        loc = items[0][1] if items else Location(self.path, 0, 0)
        return [value for value, _ in items], loc

    # ---- options ---------------------------------------------------------------

    def simple_part(self, ch: list[Any]) -> tuple[ast.OptionPart, Location]:
        return ast.OptionPart(ch[0].value, False), self.loc(ch[0])

    def extension_part(self, ch: list[Any]) -> tuple[ast.OptionPart, Location]:
        paren, (name, _) = ch
        return ast.OptionPart(name, True), self.loc(paren)

    def option_name(self, ch: list[Any]) -> tuple[tuple[ast.OptionPart, ...], Location]:
        return tuple(part for part, _ in ch), ch[0][1]

    def option(self, ch: list[Any]) -> ast.Option:
        (name, loc), (value, value_loc) = ch[1], ch[2]
        return ast.Option(name, value, loc, value_loc)

    def field_option(self, ch: list[Any]) -> ast.Option:
        (name, loc), (value, value_loc) = ch[0], ch[1]
        return ast.Option(name, value, loc, value_loc)

    def field_options(self, ch: list[Any]) -> list[ast.Option]:
        return ch

    # ---- names -----------------------------------------------------------------

    def type_name(self, ch: list[Any]) -> tuple[str, Location]:
        dot = "." if ch[0] is not None else ""
        parts = ch[1:]
        first = ch[0] if ch[0] is not None else parts[0]
        loc = self.loc(first)
        end = parts[-1]
        length = end.end_pos - first.start_pos
        return dot + ".".join(t.value for t in parts), Location(
            self.path, loc.line, loc.col, length
        )

    # ---- messages --------------------------------------------------------------

    def message(self, ch: list[Any]) -> ast.Message:
        visibility, keyword, name = ch[0], ch[1], ch[2]
        message = ast.Message(name.value, self.loc(name), doc=self.doc(keyword.line, name))
        message.visibility = visibility
        self._fill(message, ch[3:])
        self.nest(message, message.messages, MAX_MESSAGE_NESTING, "messages", self.loc(name))
        return message

    def visibility(self, ch: list[Any]) -> str:
        return str(ch[0].value)

    def _fill(self, message: ast.Message, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, ast.Field):
                message.fields.append(item)
                if item.group is not None:
                    message.messages.append(item.group)
            elif isinstance(item, ast.Oneof):
                message.oneofs.append(item)
                for f in item.fields:
                    message.fields.append(f)
                    if f.group is not None:
                        message.messages.append(f.group)
            elif isinstance(item, ast.Message):
                message.messages.append(item)
            elif isinstance(item, ast.Enum):
                message.enums.append(item)
            elif isinstance(item, ast.Extend):
                message.extends.append(item)
                message.messages += [f.group for f in item.fields if f.group is not None]
            elif isinstance(item, ast.Option):
                message.options.append(item)
            elif isinstance(item, tuple) and item[0] == "extensions":
                message.extension_ranges += [(r, item[2]) for r in item[1]]
            elif isinstance(item, tuple) and item[0] == "reserved":
                _add_reserved(message, item[1])

    def label(self, ch: list[Any]) -> Any:
        return ch[0]  # the token: a comment above it leads the field, even on a line of its own

    def field(self, ch: list[Any]) -> ast.Field:
        label, (type_name, type_loc), name, number, options = ch
        f = ast.Field(
            _label(label), type_name, name.value, self._int(number), options or [],
            self.loc(name), self.loc(number), type_loc,
        )  # fmt: skip
        f.doc = self.doc(label.line if label is not None else type_loc.line, name)
        return f

    def map_field(self, ch: list[Any]) -> ast.Field:
        keyword, (key, _key_loc), (value, value_loc), name, number, options = ch
        f = ast.Field(
            None, value, name.value, self._int(number), options or [], self.loc(name),
            self.loc(number), value_loc, map_key=key,
        )  # fmt: skip
        f.doc = self.doc(keyword.line, name)
        return f

    def group(self, ch: list[Any]) -> ast.Field:
        label, keyword, name, number, options, *items = ch
        first_line = label.line if label is not None else keyword.line
        body = ast.Message(name.value, self.loc(name), doc=self.doc(first_line, name),
                           is_group=True)  # fmt: skip
        self._fill(body, items)
        self.nest(body, body.messages, MAX_MESSAGE_NESTING, "messages", self.loc(name))
        f = ast.Field(
            _label(label), name.value, name.value.lower(), self._int(number), options or [],
            self.loc(name), self.loc(number), self.loc(name), group=body,
        )  # fmt: skip
        return f

    def oneof_group(self, ch: list[Any]) -> ast.Field:
        return self.group([None, *ch])

    def oneof_field(self, ch: list[Any]) -> ast.Field:
        return self.field([None, *ch])

    def oneof(self, ch: list[Any]) -> ast.Oneof:
        keyword, name, *items = ch
        oneof = ast.Oneof(name.value, [], [], self.loc(name), doc=self.doc(keyword.line, name))
        for item in items:
            if isinstance(item, ast.Field):
                item.oneof = oneof
                oneof.fields.append(item)
            elif isinstance(item, ast.Option):
                oneof.options.append(item)
        return oneof

    def extensions(self, ch: list[Any]) -> tuple[str, list[ast.Range], list[ast.Option]]:
        return ("extensions", ch[1], ch[2] or [])

    def reserved(self, ch: list[Any]) -> tuple[str, Any]:
        return ("reserved", ch[1])

    def ranges(self, ch: list[Any]) -> list[ast.Range]:
        return ch

    def range(self, ch: list[Any], negative: bool = False) -> ast.Range:
        start_token, _, end = ch
        start = self._int(start_token) * (-1 if negative else 1)
        loc = self.loc(start_token)
        if end is None:
            return ast.Range(start, start, loc)
        if end == "max":
            return ast.Range(start, start, loc, end_is_max=True)
        value, _ = end
        if not isinstance(value, int):
            raise ProtoSyntaxError(f"expected an integer, found {value}", loc)
        return ast.Range(start, value, loc)

    def negative_range(self, ch: list[Any]) -> ast.Range:
        return self.range(ch[1:], negative=True)  # after the minus sign

    def max(self, ch: list[Any]) -> str:
        return "max"

    def reserved_names(self, ch: list[Any]) -> list[tuple[str, Location]]:
        return [(v.decode("utf-8", "replace") if isinstance(v, bytes) else v, loc) for v, loc in ch]

    def identifier_name(self, ch: list[Any]) -> tuple[str, Location]:
        return ch[0].value, self.loc(ch[0])

    def extend(self, ch: list[Any]) -> ast.Extend:
        keyword, (extendee, loc), *fields = ch
        doc = self.leading_comment(keyword.line) if self.docs else None
        return ast.Extend(extendee, [f for f in fields if isinstance(f, ast.Field)], loc, doc=doc)

    # ---- enums -----------------------------------------------------------------

    def enum(self, ch: list[Any]) -> ast.Enum:
        visibility, keyword, name, *items = ch
        enum = ast.Enum(name.value, self.loc(name), visibility=visibility,
                        doc=self.doc(keyword.line, name))  # fmt: skip
        for item in items:
            if isinstance(item, ast.EnumValue):
                enum.values.append(item)
            elif isinstance(item, ast.Option):
                enum.options.append(item)
            elif isinstance(item, tuple) and item[0] == "reserved":
                _add_reserved(enum, item[1])
        return enum

    def enum_value(self, ch: list[Any]) -> ast.EnumValue:
        name, (number, number_loc), options = ch
        value = ast.EnumValue(name.value, number, options or [], self.loc(name), number_loc)
        value.doc = self.doc(name.line, name)
        return value

    def signed_number(self, ch: list[Any]) -> tuple[int, Location]:
        minus, token = ch
        loc = self.loc(token)
        value = self._int(token)
        return (-value if minus is not None else value), loc

    # ---- services --------------------------------------------------------------

    def service(self, ch: list[Any]) -> ast.Service:
        keyword, name, *items = ch
        service = ast.Service(name.value, self.loc(name), doc=self.doc(keyword.line, name))
        for item in items:
            if isinstance(item, ast.Method):
                service.methods.append(item)
            elif isinstance(item, ast.Option):
                service.options.append(item)
        return service

    def rpc(self, ch: list[Any]) -> ast.Method:
        keyword, name, in_stream, (input_type, input_loc), _, out_stream, output, *body = ch
        output_type, output_loc = output
        return ast.Method(
            name.value, input_type, output_type, in_stream is not None, out_stream is not None,
            body[0] if body else [], self.loc(name), input_loc, output_loc,
            doc=self.doc(keyword.line, name), body=bool(body),
        )  # fmt: skip

    def rpc_body(self, ch: list[Any]) -> list[ast.Option]:
        return [c for c in ch if isinstance(c, ast.Option)]

    def _int(self, token: Any) -> int:
        value = self.number_value(token)
        if not isinstance(value, int):
            raise ProtoSyntaxError(f"expected an integer, found {token.value}", self.loc(token))
        return value


def _add_reserved(target: ast.Message | ast.Enum, reserved: Any) -> None:
    if reserved and isinstance(reserved[0], ast.Range):
        target.reserved_ranges += reserved
    else:
        target.reserved_names += reserved


_KEYWORD_LITERAL = re.compile(r"'[a-z][a-z0-9_]*'")
_FRIENDLY = {
    "IDENT": "an identifier",
    "NUMBER": "a number",
    "STRING": "a string literal",
    "$END": "end of file",
    "SEMICOLON": "';'",
}


class ProtoParser:
    """The process-wide parser. Parsing holds a lock: the transformer keeps per-file state."""

    def __init__(self, use_cython: bool = True) -> None:
        self._builder = _Builder()
        self._lark, self.backend, self.from_cache = build_lalr(
            "proto.lark", self._builder, use_cython
        )
        self._lock = threading.Lock()

    def parse(self, text: str, path: str, diagnostics: Diagnostics) -> ast.File | None:
        """Parse one file. Returns None when it has syntax errors (all reported)."""
        with self._lock:
            # Each syntax error blanks out the statement or top-level declaration it
            # occurs in; a fatal error found on the way is reported once.
            fatal: dict[tuple[str, Location], None] = {}
            tree = parse_recovering(
                text, lambda current: self._attempt(current, path, fatal), diagnostics
            )
            for message, location in fatal:
                diagnostics.error(message, location)
            return None if fatal else tree

    def _attempt(
        self, text: str, path: str, fatal: dict[tuple[str, Location], None]
    ) -> ast.File | SyntaxProblem:
        outcome = self._parse_once(text, path)
        fatal.update(dict.fromkeys(self._builder.fatal))
        if isinstance(outcome, ast.File):
            return outcome
        first_error = partial(self._first_error, path=path)
        return explain_syntax_error(text, path, outcome, _TOP_LEVEL, first_error, nested=True)

    def _first_error(self, text: str, path: str, precise: bool = False) -> tuple[int, str] | None:
        """Where `text`'s first syntax error is and what it says (see `FirstError`)."""
        outcome = self._parse_once(text, path, precise, docs=False)
        return None if isinstance(outcome, ast.File) else outcome[:2]

    def _parse_once(
        self, text: str, path: str, precise: bool = True, docs: bool = True
    ) -> ast.File | tuple[int, str, Location]:
        """The file's tree, or its first syntax error: offset, message, location."""
        self._builder.reset(path, text, docs)
        try:
            return cast(ast.File, self._lark.parse(text))
        except UnexpectedInput as fast:
            if not precise:  # only where it fails matters (see `FirstError`)
                location = _error_location(fast, path, text)
                return _offset(text, location), "", location
            error = precise_error(fast, text, "proto.lark", self.backend)
            message, location = self._message(error, text), _error_location(error, path, text)
        except (ProtoSyntaxError, lark.exceptions.VisitError) as exc:
            inner = exc.orig_exc if isinstance(exc, lark.exceptions.VisitError) else exc
            if not isinstance(inner, ProtoSyntaxError):
                raise
            message, location = str(inner), inner.location
        return _offset(text, location), message, location

    def _message(self, exc: UnexpectedInput, text: str) -> str:
        if isinstance(exc, UnexpectedCharacters):
            return unexpected_character_message(text, exc.pos_in_stream or 0)
        token = getattr(exc, "token", None)
        expected = set(getattr(exc, "accepts", None) or getattr(exc, "expected", ()) or ())
        if token is None or token.type == "$END":
            found = "end of file"
        elif token.type == "IDENT":
            found = f"identifier '{token.value}'"
        elif token.type == "NUMBER":
            found = f"number {token.value}"
        elif token.type == "STRING":
            found = f"string {token.value}"
        else:
            found = f"'{token.value}'"
        if found == "end of file" and "RBRACE" in expected:
            return "unexpected end of file: a '}' is missing"
        names = sorted({self._terminal_name(e) for e in expected})
        # Every keyword is an identifier too: where one is expected, say that once;
        # at the top level, sum the keywords up.
        if "IDENT" in expected or "'service'" in names:
            names = [n for n in names if not _KEYWORD_LITERAL.fullmatch(n)]
            if "IDENT" not in expected:
                names.insert(0, "a declaration (message, enum, service, import, option, ...)")
        if len(names) > 8:
            names = [*names[:8], "..."]
        wanted = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return f"unexpected {found}; expected {wanted}"

    def _terminal_name(self, name: str) -> str:
        # Lark reports terminals by name: a pattern's name reads better lower-case
        return _FRIENDLY.get(name) or literal_terminal(self._lark, name) or name.lower()


def _error_location(exc: UnexpectedInput, path: str, text: str) -> Location:
    if isinstance(exc, UnexpectedCharacters):
        return Location(path, exc.line, exc.column)
    token = getattr(exc, "token", None)
    if token is None or token.line is None or token.type == "$END":
        # the end of the text, where whatever is missing should have come
        return location_at(text, path, len(text))
    return Location(path, token.line, token.column, max(1, len(token.value)))


@cache
def proto_parser() -> ProtoParser:
    """The parser, built on first use and reused for the life of the process."""
    return ProtoParser()


def parse_proto(text: str, path: str, diagnostics: Diagnostics) -> ast.File | None:
    return proto_parser().parse(text, path, diagnostics)
