"""Apache Thrift's JSON protocol (TJSONProtocol), driven by `__thrift_spec__`.

One pure-Python implementation serves both the compiled and the pure
configuration, so the two behave identically. Reached through
`Struct.to_bytes("json")` / `Struct.from_bytes(data, "json")`; the message
envelope is in `pilota.runtime.message` (`write_message`, `read_message`).

The wire format, as Apache's libraries (C++, Java, Python) write it:

- a struct is an object of its set fields in ascending id order, each keyed by
  its id as a string and holding a one-entry object naming the type:
  `{"1":{"i32":5},"2":{"str":"x"}}`; type names are `tf` `i8` `i16` `i32`
  `i64` `dbl` `str` `rec` `map` `lst` `set` `uid`; an enum is an `i32`;
- a list or set is `["<element type>",<count>,<item>,...]`, a map is
  `["<key type>","<value type>",<count>,{<key>:<value>,...}]`;
- a number in a key position (a field id, a map key) is quoted: `{"1":"a"}`
  is `map<i32, string>` {1: "a"}; a map key that is a struct or a container
  is written as itself, which is not valid JSON but is what Apache writes;
- bool is 1 or 0; double is a number with 17 significant digits (Python's
  `'.17g'`, as Apache's Python library writes it), and NaN and the infinities
  are the strings "NaN", "Infinity", "-Infinity" (Apache's Python library
  writes them bare, as `nan`, `inf` and `-inf`; we read those spellings too);
- string is a JSON string of raw UTF-8: `"` and `\\` escaped, \\b \\f \\n \\r \\t
  by name, other control characters as \\u00XX (as Apache's C++ and Java
  write them; its Python library writes those raw, which we accept); reading
  takes any escape, \\u surrogate pairs included, and rejects lone surrogates
  and bytes that are not UTF-8;
- binary is base64 with padding (Apache's Python library pads, its C++ and
  Java do not; all of them, and we, read both); uuid is the canonical text
  form, `"00112233-4455-6677-8899-aabbccddeeff"`;
- no whitespace anywhere, as no Apache implementation writes or reads any.

Decoding behaves as the binary and compact codecs do: unknown field ids, and
known ids arriving with another type, are skipped (kept by classes generated
with `keep_unknown_fields`); absent fields get their defaults; a missing
required field, a union without exactly one member, a value out of range,
nesting deeper than `max_depth` and any malformed input raise `DecodeError`
with the field path; a container's declared count is checked against the
input left before anything is read, and the structs and containers built
against the message's budget (`objects_per_byte`; skipped values count too,
as they are built here). Encoding raises the same `EncodeError`s.

Kept unknown fields are stored as the binary and compact codecs store them
(`(id, binary wire type, "binary", binary-encoded value)`), so any protocol
writes them back. JSON has one type name, `str`, for string and binary, so a
kept `str` value is its text (as UTF-8). Written back in JSON it is the same
text again; written in binary or compact it is that text's bytes, which for
a field the newer IDL declares `binary` is the base64 text, not the bytes.
The other way, a kept string value from binary or compact is written in
JSON as text when it is valid UTF-8 and as base64 otherwise.

`json_message_end` finds where an unframed JSON message ends in a buffer,
for the buffered transport (`JsonMessageEnd` as the buffer grows). A JSON
message starts with `[1,` (Apache writes no whitespace), so its first byte,
`[` (0x5B), tells it from binary (0x80) and compact (0x82); framed, that
byte follows the 4-byte length.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import sys
import uuid as _uuid
from json.decoder import scanstring  # type: ignore[attr-defined]  # C, not in typeshed
from json.encoder import encode_basestring
from typing import Any

from pilota.runtime._helpers import (
    DEFAULT_OBJECTS_PER_BYTE,
    collector_paused,
    enum_value,
    freeze,
    object_budget,
)
from pilota.runtime._pure import (
    B_BOOL,
    B_BYTE,
    B_DOUBLE,
    B_I16,
    B_I32,
    B_I64,
    B_LIST,
    B_MAP,
    B_SET,
    B_STRING,
    B_STRUCT,
    B_UUID,
    BINARY_WIRE,
    _as_bytes,
    _BinaryWriter,
    _check_union_for_encode,
    _Reader,
    _too_deep,
    _write_any,
    builds_object,
    check_container,
    check_double,
    check_int,
    check_struct_value,
    code_of,
    fields_by_id,
    raw_bytes,
    read_kept,
    struct_fields,
    utf8,
    uuid_bytes,
)
from pilota.runtime._pure_fast import MAX_DEPTH as MAX_ENCODE_DEPTH
from pilota.runtime.types import (
    BINARY,
    BOOL,
    BYTE,
    DOUBLE,
    ENUM,
    I16,
    I32,
    I64,
    INT_RANGES,
    MAP,
    REQUIRED,
    SET,
    STRING,
    STRUCT,
    TYPE_NAMES,
    UUID,
    DecodeError,
    EncodeError,
    FieldSpec,
    TypeSpec,
)

# The JSON type names, by binary wire type (the protocol-neutral "what is it").
_NAME_OF_WIRE = {
    B_BOOL: "tf", B_BYTE: "i8", B_I16: "i16", B_I32: "i32", B_I64: "i64", B_DOUBLE: "dbl",
    B_STRING: "str", B_STRUCT: "rec", B_MAP: "map", B_LIST: "lst", B_SET: "set", B_UUID: "uid",
}  # fmt: skip
_WIRE_OF_NAME = {name: wire for wire, name in _NAME_OF_WIRE.items()}
_INT_CODE_OF_WIRE = {B_BYTE: BYTE, B_I16: I16, B_I32: I32, B_I64: I64}

# Fewest characters one value of a wire type takes (`0`, `""`, `{}`,
# `["tf",0]`, `["tf","tf",0,{}]`, a quoted uuid): a declared count is checked
# against the input left before anything is read.
_MIN_SIZE = {
    B_BOOL: 1, B_BYTE: 1, B_I16: 1, B_I32: 1, B_I64: 1, B_DOUBLE: 1, B_STRING: 2,
    B_STRUCT: 2, B_LIST: 8, B_SET: 8, B_MAP: 16, B_UUID: 38,
}  # fmt: skip


def _builds_object(wire: int) -> int:
    """1 if a skipped value of `wire` type is built as an object that counts
    against the budget (a struct or a container), else 0."""
    return 1 if wire in (B_STRUCT, B_MAP, B_LIST, B_SET) else 0


_INT = re.compile(r"-?[0-9]+")
_QUOTED_INT = re.compile(r'"(-?[0-9]+)"')
_MAX_INT_DIGITS = 20  # i64's widest, with its sign: longer is an error, not a big int()
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|-?inf|nan")
_QUOTED_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_SPECIAL_DOUBLES = {
    "NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf,
    "nan": math.nan, "inf": math.inf, "-inf": -math.inf,  # Apache's Python library
}  # fmt: skip
_PLAIN_STRING = re.compile(r'"([^"\\]*)"')  # no escapes: the common case, without json
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone \u escapes, and bytes not UTF-8
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_FIELD_HEAD = re.compile(r'"(-?[0-9]{1,6})":\{"([a-z0-9]{1,3})":')
_LIST_HEAD = re.compile(r'\["([a-z0-9]{1,3})",(-?[0-9]+)')
_MAP_HEAD = re.compile(r'\["([a-z0-9]{1,3})","([a-z0-9]{1,3})",(-?[0-9]+),\{')
_MAX_COUNT = 2**31 - 1

VERSION = 1


# ---- encoding -------------------------------------------------------------------------


def _double_text(value: float) -> str:
    if math.isfinite(value):
        return format(value, ".17g")
    if math.isnan(value):
        return '"NaN"'
    return '"Infinity"' if value > 0 else '"-Infinity"'


def _text(value: Any) -> str:
    """`value` as a JSON string; raises EncodeError for what UTF-8 cannot hold."""
    if not isinstance(value, str) or not value.isascii():
        utf8(value)  # the type and encodability checks, with the binary codec's messages
    return encode_basestring(value)


def _type_name(t: TypeSpec) -> str:
    return _NAME_OF_WIRE[BINARY_WIRE[code_of(t)]]


_heads: dict[type, list[tuple[FieldSpec, str]]] = {}


def _field_heads(cls: type, spec: tuple[FieldSpec, ...]) -> list[tuple[FieldSpec, str]]:
    """Each field with the text that opens it, `"<id>":{"<type>":`."""
    found = _heads.get(cls)
    if found is None:
        found = _heads[cls] = [(f, f'"{f.id}":{{"{_type_name(f.type)}":') for f in spec]
    return found


class _JsonWriter:
    __slots__ = ("depth", "out")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.depth = 0

    def struct(self, obj: Any) -> None:
        spec = struct_fields(obj)
        _check_union_for_encode(obj, spec)
        self.depth += 1
        if self.depth > MAX_ENCODE_DEPTH:
            raise _too_deep()
        out = self.out
        out.append("{")
        separator = ""
        for f, head in _field_heads(type(obj), spec):
            value = getattr(obj, f.name, None)
            if value is None:
                if f.required == REQUIRED:
                    raise EncodeError("required field is not set", f".{f.name}")
                continue
            out.append(separator)
            out.append(head)
            separator = ","
            try:
                self.value(f.type, value, False)
            except EncodeError as exc:
                raise exc.within(f".{f.name}") from None
            out.append("}")
        if obj.__thrift_keep_unknown__:
            for fid, wire, protocol, raw in getattr(obj, "_unknown_fields", None) or ():
                kept = read_kept(fid, raw, wire, protocol)
                out.append(f'{separator}"{fid}":{{"{_NAME_OF_WIRE[wire]}":')
                separator = ","
                self.any(wire, kept, False)
                out.append("}")
        out.append("}")
        self.depth -= 1

    def value(self, t: TypeSpec, value: Any, key: bool) -> None:
        """Write `value` of type `t`; `key`: in a map key's place, where numbers are quoted."""
        out = self.out
        code = code_of(t)
        if code == STRING:
            out.append(_text(value))
        elif code in (I32, I64, I16, BYTE, ENUM):
            number = str(int(check_int(value, code)))
            out.append(f'"{number}"' if key else number)
        elif code == BOOL:
            if not isinstance(value, bool):
                raise EncodeError(f"expected bool, got {type(value).__name__}")
            out.append(('"1"' if value else '"0"') if key else ("1" if value else "0"))
        elif code == DOUBLE:
            number = _double_text(check_double(value))
            out.append(f'"{number}"' if key and number[0] != '"' else number)
        elif code == BINARY:
            out.append(f'"{base64.b64encode(raw_bytes(value)).decode("ascii")}"')
        elif code == UUID:
            uuid_bytes(value)  # the type check
            out.append(f'"{value}"')
        elif code == STRUCT:
            check_struct_value(value, t[1])  # type: ignore[index]
            self.struct(value)
        elif code == MAP:
            check_container(MAP, value)
            key_t, value_t = t[1], t[2]  # type: ignore[index]
            out.append(f'["{_type_name(key_t)}","{_type_name(value_t)}",{len(value)},{{')
            separator = ""
            for item_key, item in value.items():
                out.append(separator)
                separator = ","
                try:
                    self.value(key_t, item_key, True)
                    out.append(":")
                    self.value(value_t, item, False)
                except EncodeError as exc:
                    raise exc.within(f"[{item_key!r}]") from None
            out.append("}]")
        else:  # LIST or SET
            check_container(code, value)
            element = t[1]  # type: ignore[index]
            out.append(f'["{_type_name(element)}",{len(value)}')
            for i, item in enumerate(value):
                out.append(",")
                try:
                    self.value(element, item, False)
                except EncodeError as exc:
                    raise exc.within(f"[{i}]") from None
            out.append("]")

    def any(self, wire: int, value: Any, key: bool) -> None:
        """Write a kept unknown value: a tree as `_pure._read_any` builds it."""
        out = self.out
        if wire in _INT_CODE_OF_WIRE or wire == B_BOOL:
            number = str(int(value))
            out.append(f'"{number}"' if key else number)
        elif wire == B_DOUBLE:
            number = _double_text(value)
            out.append(f'"{number}"' if key and number[0] != '"' else number)
        elif wire == B_STRING:
            try:
                out.append(encode_basestring(value.decode("utf-8")))
            except UnicodeDecodeError:
                out.append(f'"{base64.b64encode(value).decode("ascii")}"')
        elif wire == B_UUID:
            out.append(f'"{value}"')
        elif wire == B_STRUCT:
            out.append("{")
            separator = ""
            for fid, field_wire, field_value in value:
                out.append(f'{separator}"{fid}":{{"{_NAME_OF_WIRE[field_wire]}":')
                separator = ","
                self.any(field_wire, field_value, False)
                out.append("}")
            out.append("}")
        elif wire == B_MAP:
            key_wire, value_wire, pairs = value
            kind = f'"{_NAME_OF_WIRE[key_wire]}","{_NAME_OF_WIRE[value_wire]}"'
            out.append(f"[{kind},{len(pairs)},{{")
            separator = ""
            for item_key, item in pairs:
                out.append(separator)
                separator = ","
                self.any(key_wire, item_key, True)
                out.append(":")
                self.any(value_wire, item, False)
            out.append("}]")
        else:  # B_LIST or B_SET
            element_wire, items = value
            out.append(f'["{_NAME_OF_WIRE[element_wire]}",{len(items)}')
            for item in items:
                out.append(",")
                self.any(element_wire, item, False)
            out.append("]")


def encode_json(obj: Any) -> bytes:
    """`obj`, a generated struct, union or exception, in TJSONProtocol."""
    writer = _JsonWriter()
    try:
        writer.struct(obj)
    except EncodeError as exc:
        raise exc.within(type(obj).__name__) from None
    # Every string was checked to be encodable on the way: this cannot fail.
    return "".join(writer.out).encode("utf-8")


# ---- decoding -------------------------------------------------------------------------


def _text_of(data: Any) -> str:
    # Bytes that are not UTF-8 become lone surrogates: outside strings they
    # are syntax errors, inside they are reported with the field's path.
    return _as_bytes(data).decode("utf-8", "surrogateescape")


def _byte_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


class _JsonReader(_Reader):
    """Reads `source` (the input decoded as UTF-8), reusing the binary reader's
    struct finishing (defaults, required fields, unions, depth)."""

    __slots__ = ("source",)

    def __init__(self, source: str, max_depth: int, budget: int = sys.maxsize) -> None:
        super().__init__(b"", max_depth, budget)  # `data` is unused: the input is `source`
        self.source = source
        self.end = len(source)

    # ---- syntax ----

    def fail(self, expected: str) -> DecodeError:
        found = self.source[self.pos : self.pos + 12]
        where = f"at byte {_byte_length(self.source[: self.pos])}"
        if not found:
            return DecodeError(f"expected {expected} {where}, found the end of the data")
        return DecodeError(f"expected {expected} {where}, found {found!r}")

    def expect(self, char: str) -> None:
        if self.source.startswith(char, self.pos):
            self.pos += 1
        else:
            raise self.fail(repr(char))

    def next_or_end(self, end: str) -> bool:
        """Past a ',' (True: another item follows) or `end` (False)."""
        char = self.source[self.pos : self.pos + 1]
        if char == ",":
            self.pos += 1
            return True
        if char == end:
            self.pos += 1
            return False
        raise self.fail(f"',' or {end!r}")

    def check_size(self, count: int, per_item: int) -> None:
        left = self.end - self.pos
        if count * per_item > left:
            raise DecodeError(
                f"size {count} needs at least {count * per_item} characters, {left} left"
            )

    # ---- scalars ----

    def number_text(self, key: bool) -> str:
        match = (_QUOTED_INT if key else _INT).match(self.source, self.pos)
        if match is None:
            raise self.fail("a quoted integer" if key else "an integer")
        digits = match[1] if key else match[0]
        if len(digits) > _MAX_INT_DIGITS:
            raise DecodeError(f"integer of {len(digits)} digits is out of range")
        self.pos = match.end()
        return digits

    def integer(self, code: int, key: bool) -> int:
        value = int(self.number_text(key))
        low, high = INT_RANGES[code]
        if not low <= value <= high:
            raise DecodeError(f"value {value} is out of range for {TYPE_NAMES[code]}")
        return value

    def boolean(self, key: bool) -> bool:
        return int(self.number_text(key)) != 0  # as Apache reads it: any non-zero number

    def double(self, key: bool) -> float:
        text = self.source
        if text.startswith('"', self.pos):
            quoted = self.string()
            special = _SPECIAL_DOUBLES.get(quoted)
            if special is not None:
                return special
            if key and _QUOTED_NUMBER.fullmatch(quoted):
                return float(quoted)
            raise DecodeError(f"{quoted!r} is not a double")
        if key:
            raise self.fail("a quoted number")
        match = _NUMBER.match(text, self.pos)
        if match is None:
            raise self.fail("a number")
        self.pos = match.end()
        found = match[0]
        return _SPECIAL_DOUBLES[found] if found[-1] in "fn" else float(found)

    def string(self) -> str:
        text = self.source
        match = _PLAIN_STRING.match(text, self.pos)
        if match is not None:
            value = match[1]
            self.pos = match.end()
        else:
            if not text.startswith('"', self.pos):
                raise self.fail("a string")
            try:
                found: tuple[str, int] = scanstring(text, self.pos + 1, False)
                value, self.pos = found
            except ValueError as exc:
                message = getattr(exc, "msg", str(exc))
                raise DecodeError(f"bad string: {message}") from None
        if not value.isascii() and _SURROGATE.search(value):
            raise DecodeError("invalid UTF-8 in string (or a lone surrogate escape)")
        return value

    def binary(self) -> bytes:
        text = self.string()
        if not text.isascii():
            raise DecodeError("invalid base64: not ASCII")
        try:
            return binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True)
        except binascii.Error as exc:
            raise DecodeError(f"invalid base64: {exc}") from None

    def uuid(self) -> _uuid.UUID:
        text = self.string()
        if _UUID.fullmatch(text) is None:
            raise DecodeError(f"{text[:40]!r} is not a uuid")
        return _uuid.UUID(text)

    # ---- structs and containers ----

    def wire_of(self, name: str) -> int:
        wire = _WIRE_OF_NAME.get(name)
        if wire is None:
            raise DecodeError(f"unknown type name {name!r}")
        return wire

    def count(self, digits: str) -> int:
        if len(digits) > 11 or not 0 <= int(digits) <= _MAX_COUNT:
            raise DecodeError(f"size {digits} is out of range")
        return int(digits)

    def field_head(self) -> tuple[int, int]:
        match = _FIELD_HEAD.match(self.source, self.pos)
        if match is None:
            raise self.fail('a field ("<id>":{"<type>":...)')
        fid = int(match[1])
        if not -(2**15) <= fid < 2**15:
            raise DecodeError(f"field id {fid} is out of range for i16")
        self.pos = match.end()
        return fid, self.wire_of(match[2])

    def struct(self, cls: type) -> Any:
        self.enter()
        self.spend()
        obj = cls.__new__(cls)  # type: ignore[call-overload]
        by_id = fields_by_id(cls)
        keep = cls.__thrift_keep_unknown__  # type: ignore[attr-defined]
        unknown: list[tuple[int, int, str, bytes]] = []
        seen: set[int] = set()
        self.expect("{")
        if self.source.startswith("}", self.pos):
            self.pos += 1
        else:
            while True:
                fid, wire = self.field_head()
                f = by_id.get(fid)
                if f is None or BINARY_WIRE[code_of(f.type)] != wire:
                    # Unknown, or a type this IDL does not declare: skipped, as Apache does.
                    value = self.any(wire, False)
                    if keep:
                        writer = _BinaryWriter()
                        _write_any(writer, wire, value)
                        unknown.append((fid, wire, "binary", bytes(writer.out)))
                else:
                    try:
                        object.__setattr__(obj, f.name, self.value(f.type, False, False))
                    except DecodeError as exc:
                        raise exc.within(f".{f.name}") from None
                    seen.add(fid)
                self.expect("}")
                if not self.next_or_end("}"):
                    break
        return self.finish_struct(obj, cls, seen, unknown if keep else None)

    def value(self, t: TypeSpec, frozen: bool = False, key: bool = False) -> Any:
        """A value of type `t`; `frozen`: made hashable; `key`: in a map key's place."""
        code = code_of(t)
        if code == STRING:
            return self.string()
        if code in (I32, I64, I16, BYTE):
            return self.integer(code, key)
        if code == BOOL:
            return self.boolean(key)
        if code == DOUBLE:
            return self.double(key)
        if code == BINARY:
            return self.binary()
        if code == ENUM:
            return enum_value(t[1], self.integer(I32, key))  # type: ignore[index]
        if code == UUID:
            return self.uuid()
        if code == STRUCT:
            return self.struct(t[1])  # type: ignore[index]
        self.enter()
        text = self.source
        if code == MAP:
            key_t, value_t = t[1], t[2]  # type: ignore[index]
            match = _MAP_HEAD.match(text, self.pos)
            if match is None:
                raise self.fail('a map (["<key type>","<value type>",<count>,{...}])')
            key_wire, value_wire = self.wire_of(match[1]), self.wire_of(match[2])
            count = self.count(match[3])
            self.pos = match.end()
            self.check_size(count, _MIN_SIZE[key_wire] + _MIN_SIZE[value_wire] + 2)
            if count:
                self.expect_type(key_wire, key_t)
                self.expect_type(value_wire, value_t)
            self.spend_container(count, builds_object(key_t) + builds_object(value_t))
            result: Any = {}
            for i in range(count):
                if i:
                    self.expect(",")
                item_key = self.value(key_t, True, True)
                self.expect(":")
                try:
                    result[item_key] = self.value(value_t, frozen)
                except DecodeError as exc:
                    raise exc.within(f"[{item_key!r}]") from None
            self.expect("}")
        else:
            element = t[1]  # type: ignore[index]
            match = _LIST_HEAD.match(text, self.pos)
            if match is None:
                raise self.fail('a list or set (["<element type>",<count>,...])')
            wire = self.wire_of(match[1])
            count = self.count(match[2])
            self.pos = match.end()
            self.check_size(count, _MIN_SIZE[wire] + 1)
            if count:
                self.expect_type(wire, element)
            self.spend_container(count, builds_object(element))
            items = []
            for i in range(count):
                self.expect(",")
                try:
                    items.append(self.value(element, frozen or code == SET))
                except DecodeError as exc:
                    raise exc.within(f"[{i}]") from None
            result = set(items) if code == SET else items
        self.expect("]")
        self.depth -= 1
        return freeze(result) if frozen else result

    @staticmethod
    def expect_type(wire: int, t: TypeSpec) -> None:
        expected = BINARY_WIRE[code_of(t)]
        if wire != expected:
            raise DecodeError(
                f"type {_NAME_OF_WIRE[wire]!r} does not match the declared type "
                f"({_NAME_OF_WIRE[expected]!r})"
            )

    def any(self, wire: int, key: bool) -> Any:
        """A value of any type, as the tree `_pure._write_any` writes (to keep
        an unknown field, or to skip one)."""
        if wire in _INT_CODE_OF_WIRE:
            return self.integer(_INT_CODE_OF_WIRE[wire], key)
        if wire == B_BOOL:
            return self.boolean(key)
        if wire == B_DOUBLE:
            return self.double(key)
        if wire == B_STRING:
            return self.string().encode("utf-8")
        if wire == B_UUID:
            return self.uuid()
        self.enter()
        text = self.source
        if wire == B_STRUCT:
            self.spend()
            fields: list[tuple[int, int, Any]] = []
            self.expect("{")
            if text.startswith("}", self.pos):
                self.pos += 1
            else:
                while True:
                    fid, field_wire = self.field_head()
                    fields.append((fid, field_wire, self.any(field_wire, False)))
                    self.expect("}")
                    if not self.next_or_end("}"):
                        break
            self.depth -= 1
            return fields
        if wire == B_MAP:
            match = _MAP_HEAD.match(text, self.pos)
            if match is None:
                raise self.fail('a map (["<key type>","<value type>",<count>,{...}])')
            key_wire, value_wire = self.wire_of(match[1]), self.wire_of(match[2])
            count = self.count(match[3])
            self.pos = match.end()
            self.check_size(count, _MIN_SIZE[key_wire] + _MIN_SIZE[value_wire] + 2)
            self.spend_container(count, _builds_object(key_wire) + _builds_object(value_wire))
            pairs = []
            for i in range(count):
                if i:
                    self.expect(",")
                item_key = self.any(key_wire, True)
                self.expect(":")
                pairs.append((item_key, self.any(value_wire, False)))
            self.expect("}")
            self.expect("]")
            self.depth -= 1
            return (key_wire, value_wire, pairs)
        match = _LIST_HEAD.match(text, self.pos)
        if match is None:
            raise self.fail('a list or set (["<element type>",<count>,...])')
        element_wire = self.wire_of(match[1])
        count = self.count(match[2])
        self.pos = match.end()
        self.check_size(count, _MIN_SIZE[element_wire] + 1)
        self.spend_container(count, _builds_object(element_wire))
        items = []
        for _ in range(count):
            self.expect(",")
            items.append(self.any(element_wire, False))
        self.expect("]")
        self.depth -= 1
        return (element_wire, items)


def decode_json(
    cls: type,
    data: Any,
    max_depth: int = 64,
    objects_per_byte: float = DEFAULT_OBJECTS_PER_BYTE,
) -> Any:
    """A `cls` from `data`, which must hold exactly one TJSONProtocol struct."""
    raw = _as_bytes(data)
    budget = object_budget(len(raw), objects_per_byte)
    text = _text_of(raw)
    reader = _JsonReader(text, max_depth, budget)
    try:
        obj = collector_paused(reader.struct, len(raw), cls)
    except DecodeError as exc:
        raise exc.within(cls.__name__) from None
    except RecursionError:
        raise DecodeError("nesting too deep for the interpreter", cls.__name__) from None
    if reader.pos != reader.end:
        left = _byte_length(text[reader.pos :])
        raise DecodeError(f"{left} bytes left over after the value", cls.__name__)
    return obj


# ---- the message envelope: [1,"name",type,seqid,{body}] ------------------------------


def message_prefix(name: str, message_type: int, seqid: int) -> bytes:
    """The envelope up to the body: `[1,"name",type,seqid,`; the message is
    this, the body, and `]`."""
    return f"[{VERSION},{encode_basestring(name)},{int(message_type)},{int(seqid)},".encode()


def read_message_prefix(data: Any) -> tuple[str, int, int, int]:
    """The name, type number and seqid of the JSON message in `data`, and the
    offset where its body begins (the body ends before the message's final
    `]`, which `pilota.runtime.message.read_message` checks). Reads only the
    head, so the start of a message will do."""
    raw = _as_bytes(data)
    text = _text_of(raw)
    reader = _JsonReader(text, 64)
    reader.expect("[")
    version = int(reader.number_text(False))
    if version != VERSION:
        raise DecodeError(f"bad JSON message version {version}")
    reader.expect(",")
    name = reader.string()
    reader.expect(",")
    kind = reader.integer(I32, False)
    reader.expect(",")
    seqid = reader.integer(I32, False)
    reader.expect(",")
    return name, kind, seqid, _byte_length(text[: reader.pos])


# ---- finding a message's end on a byte stream ---------------------------------------

def json_message_end(data: bytes | bytearray | memoryview, max_size: int) -> int | None:
    """Where the unframed JSON message at the start of `data` ends (the offset
    after its closing `]`), or None until all of it has come.

    Only the structure is checked (brackets outside strings); the decoder
    checks the rest. Raises DecodeError when `data` cannot start a JSON
    message or the message would be longer than `max_size` bytes.
    """
    return JsonMessageEnd(max_size).find(data)


# A bracket or a quote, outside strings; inside one, the run up to its closing
# quote (or up to a backslash that is the last byte come so far). Possessive:
# linear, whatever the input.
_STRUCTURAL = re.compile(rb'["\[\]{}]')
_STRING_BODY = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)


class JsonMessageEnd:
    """`json_message_end` for a buffer that grows at its end: each `find` goes
    on from where the last one stopped (inside a string too), so a message
    that arrives in many pieces is scanned once, not from its start each time.
    `reset` before the next message (once the found one is cut off the front).

    A `find` takes `steps` steps (strings, brackets) at most: when it stops
    for that, `paused` is set, and the caller calls again."""

    __slots__ = ("depth", "in_string", "max_size", "paused", "pos", "steps")

    def __init__(self, max_size: int, steps: int = 1 << 62) -> None:
        self.max_size = max_size
        self.steps = steps
        self.paused = False
        self.reset()

    def reset(self) -> None:
        self.pos = 0
        self.depth = 0
        self.in_string = False

    def find(self, data: bytes | bytearray | memoryview) -> int | None:
        self.paused = False
        if self.pos == 0:
            if not data:
                return None
            if data[0] != 0x5B:  # '['
                raise DecodeError("a JSON message starts with '['")
        end = min(len(data), self.max_size)
        pos, depth, in_string = self.pos, self.depth, self.in_string
        steps = self.steps
        while pos < end:
            steps -= 1
            if not steps:
                break
            if in_string:
                body = _STRING_BODY.match(data, pos, end)  # always matches, if only ''
                pos = body.end() if body else pos
                if pos == end or data[pos] == 0x5C:  # the string, or an escape, goes on
                    break
                pos += 1  # past the closing quote
                in_string = False
                continue
            found = _STRUCTURAL.search(data, pos, end)
            if found is None:
                pos = end
                break
            pos = found.end()
            token = data[pos - 1]
            if token == 0x22:  # '"'
                in_string = True
            elif token in b"[{":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    self.pos, self.depth, self.in_string = pos, depth, in_string
                    return pos
        self.pos, self.depth, self.in_string = pos, depth, in_string
        self.paused = not steps
        if len(data) >= self.max_size and not self.paused:
            raise DecodeError(f"message is over the {self.max_size}-byte limit")
        return None
