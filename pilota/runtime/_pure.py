"""Pure-Python Thrift binary and compact codecs.

The reference implementation: the Cython codec (`_speedups.pyx`) must behave
identically, byte for byte and error for error. Used when the extension is
missing or `PILOTA_PURE_PYTHON=1` is set.

Encoding writes fields in ascending id order, as Apache does; decoding checks
every length against the bytes that remain before allocating anything, checks
every field's wire type against the IDL, limits nesting depth, and counts the
structs and containers it builds against the message's budget
(`objects_per_byte`, see `_helpers.object_budget`). It reads each byte once: a
field whose type changed deep inside its containers is skipped from there on
(`_Consumed`), never read again from its start.
"""

from __future__ import annotations

import struct as _struct
import sys
import uuid as _uuid
from typing import Any

from pilota.runtime._helpers import (
    DEFAULT_OBJECTS_PER_BYTE,
    collector_paused,
    enum_value,
    freeze,
    object_budget,
    too_many_objects,
)
from pilota.runtime._pure_fast import (
    BINARY_DECODERS,
    BINARY_ENCODERS,
    COMPACT_ENCODERS,
)
from pilota.runtime._pure_fast import MAX_DEPTH as MAX_ENCODE_DEPTH
from pilota.runtime.types import (
    BINARY,
    BOOL,
    BYTE,
    DEFAULT,
    DOUBLE,
    ENUM,
    I16,
    I32,
    I64,
    INT_RANGES,
    LIST,
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
    never_none,
    type_name,
    with_article,
)
from pilota.runtime.varint import encode_varint

_I16 = _struct.Struct(">h")
_I32 = _struct.Struct(">i")
_I64 = _struct.Struct(">q")
_DOUBLE = _struct.Struct(">d")
_DOUBLE_LE = _struct.Struct("<d")
_HEADER = _struct.Struct(">bh")  # binary field header: wire type, id

# Binary wire types.
B_STOP, B_BOOL, B_BYTE, B_DOUBLE, B_I16, B_I32, B_I64 = 0, 2, 3, 4, 6, 8, 10
B_STRING, B_STRUCT, B_MAP, B_SET, B_LIST, B_UUID = 11, 12, 13, 14, 15, 16
# Compact wire types. Apache writes 1 (TRUE) as the element type of bools.
C_TRUE, C_FALSE, C_BYTE, C_I16, C_I32, C_I64, C_DOUBLE = 1, 2, 3, 4, 5, 6, 7
C_BINARY, C_LIST, C_SET, C_MAP, C_STRUCT, C_UUID = 8, 9, 10, 11, 12, 13

BINARY_WIRE = {
    BOOL: B_BOOL, BYTE: B_BYTE, I16: B_I16, I32: B_I32, I64: B_I64, DOUBLE: B_DOUBLE,
    STRING: B_STRING, BINARY: B_STRING, UUID: B_UUID, STRUCT: B_STRUCT, LIST: B_LIST,
    SET: B_SET, MAP: B_MAP, ENUM: B_I32,
}  # fmt: skip
COMPACT_WIRE = {
    BOOL: C_TRUE, BYTE: C_BYTE, I16: C_I16, I32: C_I32, I64: C_I64, DOUBLE: C_DOUBLE,
    STRING: C_BINARY, BINARY: C_BINARY, UUID: C_UUID, STRUCT: C_STRUCT, LIST: C_LIST,
    SET: C_SET, MAP: C_MAP, ENUM: C_I32,
}  # fmt: skip
COMPACT_TO_BINARY = {
    C_TRUE: B_BOOL, C_FALSE: B_BOOL, C_BYTE: B_BYTE, C_I16: B_I16, C_I32: B_I32, C_I64: B_I64,
    C_DOUBLE: B_DOUBLE, C_BINARY: B_STRING, C_LIST: B_LIST, C_SET: B_SET, C_MAP: B_MAP,
    C_STRUCT: B_STRUCT, C_UUID: B_UUID,
}  # fmt: skip
BINARY_TO_COMPACT = {b: c for c, b in COMPACT_TO_BINARY.items() if c != C_FALSE}

# Fewest bytes one value of a wire type can take: a claimed element count is
# checked against the bytes left before anything is allocated.
_MIN_BINARY_SIZE = {
    B_BOOL: 1, B_BYTE: 1, B_I16: 2, B_I32: 4, B_I64: 8, B_DOUBLE: 8, B_STRING: 4,
    B_STRUCT: 1, B_MAP: 6, B_SET: 5, B_LIST: 5, B_UUID: 16,
}  # fmt: skip
_MIN_COMPACT_SIZE = {
    C_TRUE: 1, C_FALSE: 1, C_BYTE: 1, C_I16: 1, C_I32: 1, C_I64: 1, C_DOUBLE: 8,
    C_BINARY: 1, C_LIST: 1, C_SET: 1, C_MAP: 1, C_STRUCT: 1, C_UUID: 16,
}  # fmt: skip


def code_of(t: TypeSpec) -> int:
    return t if isinstance(t, int) else int(t[0])


def _type_error(expected: str, value: Any) -> EncodeError:
    return EncodeError(f"expected {expected}, got {type(value).__name__}")


def check_int(value: Any, code: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _type_error("int", value)
    low, high = INT_RANGES[code]
    if not low <= value <= high:
        raise EncodeError(f"{value} is out of range for {TYPE_NAMES[code]} ({low} to {high})")
    return value


def check_double(value: Any) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise EncodeError(f"{value} is too large for a double") from None
    raise _type_error("float", value)


def utf8(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _type_error("str", value)
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"string is not encodable as UTF-8: {exc.reason}") from None


def raw_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise _type_error("bytes", value)


def uuid_bytes(value: Any) -> bytes:
    if not isinstance(value, _uuid.UUID):
        raise _type_error("uuid.UUID", value)
    return value.bytes


def check_container(code: int, value: Any) -> None:
    if code == LIST:
        ok = isinstance(value, list | tuple)
        expected = "list"
    elif code == SET:
        ok = isinstance(value, set | frozenset)
        expected = "set"
    else:
        ok = isinstance(value, dict)
        expected = "dict"
    if not ok:
        raise _type_error(expected, value)


def struct_fields(obj: Any) -> tuple[FieldSpec, ...]:
    try:
        spec: tuple[FieldSpec, ...] = type(obj).__thrift_spec__
    except AttributeError:
        raise _type_error("a generated struct", obj) from None
    return spec


def check_struct_value(value: Any, cls: type) -> None:
    if not isinstance(value, cls):
        raise _type_error(cls.__name__, value)


def union_members_set(obj: Any, spec: tuple[FieldSpec, ...]) -> int:
    return sum(1 for f in spec if getattr(obj, f.name, None) is not None)


_unions: dict[type, bool] = {}


def is_union(cls: type) -> bool:
    found = _unions.get(cls)
    if found is None:
        from pilota.runtime.base import Union  # here: base imports this module

        found = _unions[cls] = issubclass(cls, Union)
    return found


# ---- encoding -------------------------------------------------------------------------


def check_unset(f: FieldSpec) -> None:
    """Raise if `f` may not be left out (its value is None)."""
    if f.required == REQUIRED:
        raise EncodeError("required field is not set", f".{f.name}")
    if never_none(f):
        raise EncodeError(f"None is not {with_article(type_name(f.type))}", f".{f.name}")


_KeptField = tuple[int, int, str, bytes]  # id, binary wire type, protocol, raw value


def kept_fields(obj: Any) -> tuple[set[int], list[_KeptField]]:
    """What to write back of the fields `obj` kept from the wire: the ids of its
    own fields to leave out, and the kept fields to write.

    A kept field may have the id of one of `obj`'s fields (a peer sent that
    field as another type). One id is never written twice: the kept value goes
    back out while the field holds what its absence decodes to (None, or its
    IDL default); once the field holds anything else, that value is written
    and the kept one is dropped."""
    kept: list[_KeptField] = getattr(obj, "_unknown_fields", None) or []
    if not kept:
        return set(), []
    by_id = fields_by_id(type(obj))
    replaced: set[int] = set()
    written: list[_KeptField] = []
    for entry in kept:
        f = by_id.get(entry[0])
        if f is not None:
            if not _holds_absent(obj, f):
                continue
            replaced.add(f.id)
        written.append(entry)
    return replaced, written


def _holds_absent(obj: Any, f: FieldSpec) -> bool:
    value = getattr(obj, f.name, None)
    if value is None:
        return True
    if not never_none(f):
        return False
    return bool(value == (f.default_factory() if f.default_factory is not None else f.default))


class _BinaryWriter:
    __slots__ = ("depth", "out")

    def __init__(self) -> None:
        self.out = bytearray()
        self.depth = 0

    def struct(self, obj: Any) -> None:
        spec = struct_fields(obj)
        _check_union_for_encode(obj, spec)
        self.depth += 1
        if self.depth > MAX_ENCODE_DEPTH:
            raise _too_deep()
        out = self.out
        replaced, kept = kept_fields(obj) if obj.__thrift_keep_unknown__ else (set(), [])
        for f in spec:
            value = getattr(obj, f.name, None)
            if value is None:
                check_unset(f)
                continue
            if f.id in replaced:
                continue
            t = f.type
            out += _HEADER.pack(BINARY_WIRE[code_of(t)], f.id)
            try:
                self.value(t, value)
            except EncodeError as exc:
                raise exc.within(f".{f.name}") from None
        for fid, wire, protocol, raw in kept:
            out += _HEADER.pack(wire, fid)
            out += raw if protocol == "binary" else transcode(fid, raw, wire, "compact", "binary")
        out.append(B_STOP)
        self.depth -= 1

    def value(self, t: TypeSpec, value: Any) -> None:
        out = self.out
        code = code_of(t)
        if code in (STRING, BINARY):
            data = utf8(value) if code == STRING else raw_bytes(value)
            out += _I32.pack(len(data))
            out += data
        elif code in (I32, ENUM):
            out += _I32.pack(check_int(value, code))
        elif code == I64:
            out += _I64.pack(check_int(value, I64))
        elif code == I16:
            out += _I16.pack(check_int(value, I16))
        elif code == BYTE:
            out += check_int(value, BYTE).to_bytes(1, "big", signed=True)
        elif code == BOOL:
            if not isinstance(value, bool):
                raise _type_error("bool", value)
            out.append(1 if value else 0)
        elif code == DOUBLE:
            out += _DOUBLE.pack(check_double(value))
        elif code == UUID:
            out += uuid_bytes(value)
        elif code == STRUCT:
            check_struct_value(value, t[1])  # type: ignore[index]
            self.struct(value)
        elif code == MAP:
            check_container(MAP, value)
            key_t, value_t = t[1], t[2]  # type: ignore[index]
            out.append(BINARY_WIRE[code_of(key_t)])
            out.append(BINARY_WIRE[code_of(value_t)])
            out += _I32.pack(len(value))
            for key, item in value.items():
                try:
                    self.value(key_t, key)
                    self.value(value_t, item)
                except EncodeError as exc:
                    raise exc.within(f"[{key!r}]") from None
        else:  # LIST or SET
            check_container(code, value)
            element = t[1]  # type: ignore[index]
            out.append(BINARY_WIRE[code_of(element)])
            out += _I32.pack(len(value))
            for i, item in enumerate(value):
                try:
                    self.value(element, item)
                except EncodeError as exc:
                    raise exc.within(f"[{i}]") from None


def _zigzag_varint(n: int, out: bytearray) -> None:
    encode_varint((n << 1) ^ (n >> 63), out)




class _CompactWriter:
    __slots__ = ("depth", "out")

    def __init__(self) -> None:
        self.out = bytearray()
        self.depth = 0

    def field_header(self, wire: int, fid: int, last: int) -> None:
        if last < fid <= last + 15:
            self.out.append((fid - last) << 4 | wire)
        else:
            self.out.append(wire)
            _zigzag_varint(fid, self.out)

    def struct(self, obj: Any) -> None:
        spec = struct_fields(obj)
        _check_union_for_encode(obj, spec)
        self.depth += 1
        if self.depth > MAX_ENCODE_DEPTH:
            raise _too_deep()
        last = 0
        replaced, kept = kept_fields(obj) if obj.__thrift_keep_unknown__ else (set(), [])
        for f in spec:
            value = getattr(obj, f.name, None)
            if value is None:
                check_unset(f)
                continue
            if f.id in replaced:
                continue
            t = f.type
            code = code_of(t)
            if code == BOOL:
                if not isinstance(value, bool):
                    raise _type_error("bool", value).within(f".{f.name}")
                self.field_header(C_TRUE if value else C_FALSE, f.id, last)
            else:
                self.field_header(COMPACT_WIRE[code], f.id, last)
                try:
                    self.value(t, value)
                except EncodeError as exc:
                    raise exc.within(f".{f.name}") from None
            last = f.id
        for fid, wire, protocol, raw in kept:
            if protocol != "compact":
                raw = transcode(fid, raw, wire, "binary", "compact")
            if wire == B_BOOL:  # a compact bool lives in its field header
                self.field_header(C_TRUE if raw[0] == C_TRUE else C_FALSE, fid, last)
            else:
                self.field_header(BINARY_TO_COMPACT[wire], fid, last)
                self.out += raw
            last = fid
        self.out.append(0)
        self.depth -= 1

    def value(self, t: TypeSpec, value: Any) -> None:
        out = self.out
        code = code_of(t)
        if code in (STRING, BINARY):
            data = utf8(value) if code == STRING else raw_bytes(value)
            encode_varint(len(data), out)
            out += data
        elif code in (I32, ENUM, I64, I16):
            _zigzag_varint(check_int(value, code), out)
        elif code == BYTE:
            out += check_int(value, BYTE).to_bytes(1, "big", signed=True)
        elif code == BOOL:
            if not isinstance(value, bool):
                raise _type_error("bool", value)
            out.append(C_TRUE if value else C_FALSE)  # as Apache writes container bools
        elif code == DOUBLE:
            out += _DOUBLE_LE.pack(check_double(value))
        elif code == UUID:
            out += uuid_bytes(value)
        elif code == STRUCT:
            check_struct_value(value, t[1])  # type: ignore[index]
            self.struct(value)
        elif code == MAP:
            check_container(MAP, value)
            key_t, value_t = t[1], t[2]  # type: ignore[index]
            if not value:
                out.append(0)
                return
            encode_varint(len(value), out)
            out.append(COMPACT_WIRE[code_of(key_t)] << 4 | COMPACT_WIRE[code_of(value_t)])
            for key, item in value.items():
                try:
                    self.value(key_t, key)
                    self.value(value_t, item)
                except EncodeError as exc:
                    raise exc.within(f"[{key!r}]") from None
        else:  # LIST or SET
            check_container(code, value)
            element = t[1]  # type: ignore[index]
            wire = COMPACT_WIRE[code_of(element)]
            size = len(value)
            if size < 15:
                out.append(size << 4 | wire)
            else:
                out.append(0xF0 | wire)
                encode_varint(size, out)
            for i, item in enumerate(value):
                try:
                    self.value(element, item)
                except EncodeError as exc:
                    raise exc.within(f"[{i}]") from None


def _too_deep() -> EncodeError:
    return EncodeError(
        f"nesting deeper than {MAX_ENCODE_DEPTH} levels (does a value contain itself?)"
    )


def _check_union_for_encode(obj: Any, spec: tuple[FieldSpec, ...]) -> None:
    if is_union(type(obj)):
        count = union_members_set(obj, spec)
        if count != 1:
            raise EncodeError(f"a union must have exactly one member set, found {count}")


def encode_binary(obj: Any) -> bytes:
    try:
        out = bytearray()
        BINARY_ENCODERS[obj.__class__](obj, out, 1)
        return bytes(out)
    except Exception:  # the interpreter below decides, and raises the canonical error
        pass
    writer = _BinaryWriter()
    try:
        writer.struct(obj)
    except EncodeError as exc:
        raise exc.within(type(obj).__name__) from None
    return bytes(writer.out)


def encode_compact(obj: Any) -> bytes:
    try:
        out = bytearray()
        COMPACT_ENCODERS[obj.__class__](obj, out, 1)
        return bytes(out)
    except Exception:
        pass
    writer = _CompactWriter()
    try:
        writer.struct(obj)
    except EncodeError as exc:
        raise exc.within(type(obj).__name__) from None
    return bytes(writer.out)


# ---- decoding -------------------------------------------------------------------------

_fields_by_id: dict[type, dict[int, FieldSpec]] = {}


def fields_by_id(cls: type) -> dict[int, FieldSpec]:
    found = _fields_by_id.get(cls)
    if found is None:
        found = _fields_by_id[cls] = {f.id: f for f in cls.__thrift_spec__}  # type: ignore[attr-defined]
    return found


_HEAVY = (STRUCT, LIST, SET, MAP)


def builds_object(t: TypeSpec) -> int:
    """1 if a value of type `t` counts against the object budget (a struct or a
    container), else 0."""
    return 1 if code_of(t) in _HEAVY else 0


class _Consumed(Exception):  # a signal, not an error
    """The field being read came as another type than declared, found at a
    container's element, key or value type: it has been skipped whole, and is
    left out (not a DecodeError, so the wrappers that add a path pass it on)."""


class _SkipFailed(Exception):
    """Skipping the rest of such a field failed: `error`, located at the field
    (as a skip's errors are), not at the element where the type changed."""

    def __init__(self, error: DecodeError) -> None:
        super().__init__(error)
        self.error = error


class _Reader:
    """State shared by the protocol readers: the input and where we are in it,
    the nesting depth, and the objects built against the message's budget."""

    __slots__ = ("budget", "data", "depth", "end", "max_depth", "objects", "pos", "tolerant")

    def __init__(self, data: bytes, max_depth: int, budget: int = sys.maxsize) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.depth = 0
        self.max_depth = max_depth
        self.objects = 0
        self.budget = budget
        # Whether the field being read may be left out when it came as another
        # type (any but a required one).
        self.tolerant = False

    def take(self, n: int) -> int:
        """Reserve `n` bytes; returns where they start."""
        pos = self.pos
        if n > self.end - pos:
            raise DecodeError(
                f"unexpected end of data: {n} more bytes needed, {self.end - pos} left"
            )
        self.pos = pos + n
        return pos

    def byte(self) -> int:
        return self.data[self.take(1)]

    def enter(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise DecodeError(f"nesting deeper than {self.max_depth} levels")

    def check_count(self, count: int, min_size: int) -> None:
        if count < 0:
            raise DecodeError(f"negative size {count}")
        if count * min_size > self.end - self.pos:
            raise DecodeError(
                f"size {count} needs at least {count * min_size} bytes, {self.end - self.pos} left"
            )

    def spend(self) -> None:
        """Count one struct (or a default made by a factory) against the budget."""
        self.objects += 1
        if self.objects > self.budget:
            raise too_many_objects(self.budget)

    def spend_container(self, count: int, per_item: int) -> None:
        """Count a container against the budget, and check now that its `count`
        items (`per_item` structs or containers each) can fit, so that a claimed
        count fails before anything is built."""
        if self.objects + 1 + count * per_item > self.budget:
            raise too_many_objects(self.budget)
        self.objects += 1

    def text(self, n: int) -> str:
        start = self.take(n)
        try:
            return self.data[start : start + n].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8 in string: {exc.reason}") from None

    def blob(self, n: int) -> bytes:
        start = self.take(n)
        return self.data[start : start + n]

    def value(self, t: TypeSpec, frozen: bool = False) -> Any:
        raise NotImplementedError  # each protocol's reader

    def element_types(
        self, count: int, wires: tuple[int, ...], types: tuple[TypeSpec, ...]
    ) -> None:
        """Check a container's element (or key and value) types as sent, `wires`,
        against the declared `types`, then count it against the budget. Another
        type changes the field's type: unless the field is required (an error),
        the container's items are skipped and `_Consumed` raised."""
        per_item = 0
        for wire, t in zip(wires, types, strict=True):
            if count:
                try:
                    self.expect_wire(wire, t)
                except _TypeMismatch:
                    if not self.tolerant:
                        raise
                    self.skip_items(count, wires)
                    raise _Consumed from None
            if not isinstance(t, int) and t[0] in _HEAVY:
                per_item += 1
        if self.objects + 1 + count * per_item > self.budget:
            raise too_many_objects(self.budget)
        self.objects += 1

    def skip_items(self, count: int, wires: tuple[int, ...]) -> None:
        """Skip `count` items of a container whose element (or key and value)
        wire types are `wires`: the rest of a field that is being left out."""
        try:
            for _ in range(count):
                for wire in wires:
                    self.skip_element(wire)
        except DecodeError as exc:
            raise _SkipFailed(exc) from None

    def skip_element(self, wire: int) -> None:
        raise NotImplementedError  # each protocol's reader

    def map_items(
        self, count: int, key_t: TypeSpec, value_t: TypeSpec, wires: tuple[int, int], frozen: bool
    ) -> Any:
        result: dict[Any, Any] = {}
        for i in range(count):
            try:
                key = self.value(key_t, True)
            except _Consumed:
                self.skip_items(1, wires[1:])
                self.skip_items(count - i - 1, wires)
                raise
            try:
                result[key] = self.value(value_t, frozen)
            except _Consumed:
                self.skip_items(count - i - 1, wires)
                raise
            except DecodeError as exc:
                raise exc.within(f"[{key!r}]") from None
        return result

    def sequence_items(
        self, count: int, element: TypeSpec, wire: int, is_set: bool, frozen: bool
    ) -> Any:
        items = []
        for i in range(count):
            try:
                items.append(self.value(element, frozen or is_set))
            except _Consumed:
                self.skip_items(count - i - 1, (wire,))
                raise
            except DecodeError as exc:
                raise exc.within(f"[{i}]") from None
        return set(items) if is_set else items

    def finish_struct(
        self, obj: Any, cls: type, seen: set[int], unknown: list[Any] | None
    ) -> Any:
        """Fill in the fields that did not come, check them, and leave the struct.
        `unknown`: the fields kept for a class that keeps them, else None."""
        spec: tuple[FieldSpec, ...] = cls.__thrift_spec__  # type: ignore[attr-defined]
        for f in spec:
            if f.id in seen:
                continue
            if f.required == REQUIRED:
                raise DecodeError("required field is missing", f".{f.name}")
            if f.default_factory is not None and f.required == DEFAULT:
                self.spend()
                object.__setattr__(obj, f.name, f.default_factory())
            else:
                object.__setattr__(obj, f.name, f.default if f.required == DEFAULT else None)
        if is_union(cls) and len(seen) != 1:
            raise DecodeError(f"a union must have exactly one member set, found {len(seen)}")
        if unknown is not None:
            object.__setattr__(obj, "_unknown_fields", unknown or None)
        self.depth -= 1
        return obj

    def field_value(self, t: TypeSpec, wire: int) -> Any:
        """The value of a field declared `t` that came with wire type `wire`."""
        raise NotImplementedError  # each protocol's reader

    def expect_wire(self, wire: int, t: TypeSpec) -> None:
        raise NotImplementedError  # each protocol's reader

    def known_field(self, obj: Any, f: FieldSpec, wire: int) -> bool:
        """Read field `f` into `obj`. False when it came as another type than
        declared: it is then skipped, as unknown ids are (unless it is required,
        which is an error). The type may differ at the field's own wire type or
        at any container's element type inside it."""
        tolerant = self.tolerant
        self.tolerant = f.required != REQUIRED
        depth = self.depth
        try:
            value = self.field_value(f.type, wire)
        except _TypeMismatch as exc:
            if f.required == REQUIRED:  # it cannot be absent, so this is the error
                raise DecodeError(exc.message, exc.path).within(f".{f.name}") from None
            # The field's own wire type: nothing of it is read yet.
        except _Consumed:
            self.depth = depth
            return False
        except _SkipFailed as exc:
            raise exc.error.within(f".{f.name}") from None
        except DecodeError as exc:
            raise exc.within(f".{f.name}") from None
        else:
            object.__setattr__(obj, f.name, value)
            return True
        finally:
            self.tolerant = tolerant
        self.skip_field(wire, f)
        return False

    def skip_field(self, wire: int, f: FieldSpec) -> None:
        """Skip the value of `f`, which came as another type than declared."""
        try:
            self.skip(wire)
        except DecodeError as exc:
            raise exc.within(f".{f.name}") from None

    def skip(self, wire: int) -> None:
        raise NotImplementedError  # each protocol's reader


class _TypeMismatch(DecodeError):
    """A value of another type than the IDL declares: a field's wire type, or a
    container's element, key or value type (which makes the container as a whole
    another type). A newer or older peer changed the field's type; like Apache,
    the field is then skipped (and kept, for a class that keeps unknown fields),
    unless it is required."""


def _wire_mismatch(got: int, expected: int, protocol: str) -> _TypeMismatch:
    return _TypeMismatch(
        f"wire type {got} does not match the declared type ({protocol} type {expected})"
    )


class _BinaryReader(_Reader):
    __slots__ = ()

    def struct(self, cls: type) -> Any:
        self.enter()
        self.objects += 1
        if self.objects > self.budget:
            raise too_many_objects(self.budget)
        obj = cls.__new__(cls)  # type: ignore[call-overload]
        by_id = fields_by_id(cls)
        keep = cls.__thrift_keep_unknown__  # type: ignore[attr-defined]
        unknown: list[tuple[int, int, str, bytes]] = []
        seen: set[int] = set()
        data = self.data
        while True:
            wire = data[self.take(1)]
            if wire == B_STOP:
                break
            (fid,) = _I16.unpack_from(data, self.take(2))
            f = by_id.get(fid)
            start = self.pos
            if f is None:
                self.skip(wire)
            elif self.known_field(obj, f, wire):
                seen.add(fid)
                continue
            if keep:
                unknown.append((fid, wire, "binary", data[start : self.pos]))
        return self.finish_struct(obj, cls, seen, unknown if keep else None)

    def field_value(self, t: TypeSpec, wire: int) -> Any:
        self.expect_wire(wire, t)
        return self.value(t)

    def value(self, t: TypeSpec, frozen: bool = False) -> Any:
        data = self.data
        code = code_of(t)
        if code == STRING:
            return self.text(self.length())
        if code == I32:
            return _I32.unpack_from(data, self.take(4))[0]
        if code == I64:
            return _I64.unpack_from(data, self.take(8))[0]
        if code == BINARY:
            return self.blob(self.length())
        if code == BOOL:
            return data[self.take(1)] != 0
        if code == DOUBLE:
            return _DOUBLE.unpack_from(data, self.take(8))[0]
        if code == I16:
            return _I16.unpack_from(data, self.take(2))[0]
        if code == BYTE:
            byte = data[self.take(1)]
            return byte - 256 if byte > 127 else byte
        if code == ENUM:
            return enum_value(t[1], _I32.unpack_from(data, self.take(4))[0])  # type: ignore[index]
        if code == UUID:
            return _uuid.UUID(bytes=self.blob(16))
        if code == STRUCT:
            return self.struct(t[1])  # type: ignore[index]
        self.enter()
        try:
            if code == MAP:
                key_t, value_t = t[1], t[2]  # type: ignore[index]
                key_wire, value_wire = data[self.take(1)], data[self.take(1)]
                count = self.count(key_wire, value_wire)
                self.element_types(count, (key_wire, value_wire), (key_t, value_t))
                result = self.map_items(count, key_t, value_t, (key_wire, value_wire), frozen)
            else:
                element = t[1]  # type: ignore[index]
                wire = data[self.take(1)]
                count = self.count(wire)
                self.element_types(count, (wire,), (element,))
                result = self.sequence_items(count, element, wire, code == SET, frozen)
        except _Consumed:
            self.depth -= 1
            raise
        self.depth -= 1
        return freeze(result) if frozen else result

    def length(self) -> int:
        (n,) = _I32.unpack_from(self.data, self.take(4))
        if n < 0:
            raise DecodeError(f"negative length {n}")
        if n > self.end - self.pos:
            raise DecodeError(f"length {n} exceeds the {self.end - self.pos} bytes left")
        return int(n)

    def count(self, *wires: int) -> int:
        (n,) = _I32.unpack_from(self.data, self.take(4))
        self.check_count(n, sum(_min_size(_MIN_BINARY_SIZE, w) for w in wires))
        return int(n)

    def expect_wire(self, wire: int, t: TypeSpec) -> None:
        expected = BINARY_WIRE[code_of(t)]
        if wire != expected:
            raise _wire_mismatch(wire, expected, "binary")

    def skip_element(self, wire: int) -> None:
        self.skip(wire)

    def skip(self, wire: int) -> None:
        data = self.data
        if wire in (B_BOOL, B_BYTE):
            self.take(1)
        elif wire == B_I16:
            self.take(2)
        elif wire == B_I32:
            self.take(4)
        elif wire in (B_I64, B_DOUBLE):
            self.take(8)
        elif wire == B_UUID:
            self.take(16)
        elif wire == B_STRING:
            self.take(self.length())
        elif wire == B_STRUCT:
            self.enter()
            while True:
                field_wire = data[self.take(1)]
                if field_wire == B_STOP:
                    break
                self.take(2)
                self.skip(field_wire)
            self.depth -= 1
        elif wire == B_MAP:
            self.enter()
            key_wire, value_wire = data[self.take(1)], data[self.take(1)]
            for _ in range(self.count(key_wire, value_wire)):
                self.skip(key_wire)
                self.skip(value_wire)
            self.depth -= 1
        elif wire in (B_LIST, B_SET):
            self.enter()
            element = data[self.take(1)]
            for _ in range(self.count(element)):
                self.skip(element)
            self.depth -= 1
        else:
            raise DecodeError(f"unknown binary wire type {wire}")


def _min_size(table: dict[int, int], wire: int) -> int:
    size = table.get(wire)
    if size is None:
        raise DecodeError(f"unknown wire type {wire}")
    return size


class _CompactReader(_Reader):
    __slots__ = ()

    def varint(self) -> int:
        data = self.data
        result = shift = 0
        while True:
            byte = data[self.take(1)]
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
            if shift >= 70:
                raise DecodeError("varint is longer than 10 bytes")

    def zigzag(self, code: int) -> int:
        n = self.varint()
        value = (n >> 1) ^ -(n & 1)
        low, high = INT_RANGES[code]
        if not low <= value <= high:
            raise DecodeError(f"value {value} is out of range for {TYPE_NAMES[code]}")
        return value

    def struct(self, cls: type) -> Any:
        self.enter()
        self.objects += 1
        if self.objects > self.budget:
            raise too_many_objects(self.budget)
        obj = cls.__new__(cls)  # type: ignore[call-overload]
        by_id = fields_by_id(cls)
        keep = cls.__thrift_keep_unknown__  # type: ignore[attr-defined]
        unknown: list[tuple[int, int, str, bytes]] = []
        seen: set[int] = set()
        data = self.data
        last = 0
        while True:
            header = data[self.take(1)]
            if header == 0:
                break
            wire = header & 0x0F
            delta = header >> 4
            if delta:
                fid = last + delta
                if fid > 0x7FFF:  # climbed past i16 by deltas
                    raise DecodeError(f"field id {fid} is out of range for i16")
            else:
                fid = self.zigzag(I16)
            last = fid
            f = by_id.get(fid)
            start = self.pos
            if f is None:
                self.skip(wire)
            elif self.known_field(obj, f, wire):
                seen.add(fid)
                continue
            if keep:
                raw = data[start : self.pos] if wire not in (C_TRUE, C_FALSE) else bytes([wire])
                unknown.append((fid, _compact_to_binary(wire), "compact", raw))
        return self.finish_struct(obj, cls, seen, unknown if keep else None)

    def field_value(self, t: TypeSpec, wire: int) -> Any:
        self.expect_wire(wire, t)
        if code_of(t) == BOOL:  # a bool field's value is its header's wire type
            return wire == C_TRUE
        return self.value(t)

    def value(self, t: TypeSpec, frozen: bool = False) -> Any:
        data = self.data
        code = code_of(t)
        if code == STRING:
            return self.text(self.length())
        if code in (I32, I64, I16):
            return self.zigzag(code)
        if code == BINARY:
            return self.blob(self.length())
        if code == BOOL:
            return data[self.take(1)] == C_TRUE
        if code == DOUBLE:
            return _DOUBLE_LE.unpack_from(data, self.take(8))[0]
        if code == BYTE:
            byte = data[self.take(1)]
            return byte - 256 if byte > 127 else byte
        if code == ENUM:
            return enum_value(t[1], self.zigzag(I32))  # type: ignore[index]
        if code == UUID:
            return _uuid.UUID(bytes=self.blob(16))
        if code == STRUCT:
            return self.struct(t[1])  # type: ignore[index]
        self.enter()
        try:
            if code == MAP:
                key_t, value_t = t[1], t[2]  # type: ignore[index]
                wires = (0, 0)
                count = self.varint()
                if count:
                    types = data[self.take(1)]
                    wires = (types >> 4, types & 0x0F)
                    self.check_count(
                        count,
                        _min_size(_MIN_COMPACT_SIZE, wires[0])
                        + _min_size(_MIN_COMPACT_SIZE, wires[1]),
                    )
                self.element_types(count, wires, (key_t, value_t))
                result = self.map_items(count, key_t, value_t, wires, frozen)
            else:
                element = t[1]  # type: ignore[index]
                wire, count = self.list_header()
                self.element_types(count, (wire,), (element,))
                result = self.sequence_items(count, element, wire, code == SET, frozen)
        except _Consumed:
            self.depth -= 1
            raise
        self.depth -= 1
        return freeze(result) if frozen else result

    def list_header(self) -> tuple[int, int]:
        header = self.byte()
        wire = header & 0x0F
        count = header >> 4
        if count == 15:
            count = self.varint()
        self.check_count(count, _min_size(_MIN_COMPACT_SIZE, wire))
        return wire, count

    def length(self) -> int:
        n = self.varint()
        if n > 0x7FFFFFFF:
            raise DecodeError(f"length {n} is out of range")
        if n > self.end - self.pos:
            raise DecodeError(f"length {n} exceeds the {self.end - self.pos} bytes left")
        return n

    def expect_wire(self, wire: int, t: TypeSpec) -> None:
        code = code_of(t)
        if code == BOOL:
            if wire not in (C_TRUE, C_FALSE):
                raise _wire_mismatch(wire, C_TRUE, "compact")
            return
        expected = COMPACT_WIRE[code]
        if wire != expected:
            raise _wire_mismatch(wire, expected, "compact")

    def skip(self, wire: int) -> None:
        if wire in (C_TRUE, C_FALSE):
            return  # a bool field's value is in its header
        self.skip_value(wire)

    def skip_element(self, wire: int) -> None:
        self.skip_value(wire)

    def skip_value(self, wire: int) -> None:
        """Skip one value of `wire` type as it appears inside a container (or a field)."""
        data = self.data
        if wire in (C_TRUE, C_FALSE, C_BYTE):
            self.take(1)
        elif wire in (C_I16, C_I32, C_I64):
            self.varint()
        elif wire == C_DOUBLE:
            self.take(8)
        elif wire == C_UUID:
            self.take(16)
        elif wire == C_BINARY:
            self.take(self.length())
        elif wire == C_STRUCT:
            self.enter()
            while True:
                header = data[self.take(1)]
                if header == 0:
                    break
                if not header >> 4:
                    self.zigzag(I16)
                self.skip(header & 0x0F)
            self.depth -= 1
        elif wire == C_MAP:
            self.enter()
            count = self.varint()
            if count:
                types = data[self.take(1)]
                key_wire, value_wire = types >> 4, types & 0x0F
                self.check_count(
                    count,
                    _min_size(_MIN_COMPACT_SIZE, key_wire)
                    + _min_size(_MIN_COMPACT_SIZE, value_wire),
                )
                for _ in range(count):
                    self.skip_value(key_wire)
                    self.skip_value(value_wire)
            self.depth -= 1
        elif wire in (C_LIST, C_SET):
            self.enter()
            element, count = self.list_header()
            for _ in range(count):
                self.skip_value(element)
            self.depth -= 1
        else:
            raise DecodeError(f"unknown compact wire type {wire}")


def _compact_to_binary(wire: int) -> int:
    found = COMPACT_TO_BINARY.get(wire)
    if found is None:
        raise DecodeError(f"unknown compact wire type {wire}")
    return found


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"expected bytes, bytearray or memoryview, got {type(data).__name__}")


def _decode(reader: _Reader, cls: type) -> Any:
    try:
        obj = reader.struct(cls)  # type: ignore[attr-defined]
    except DecodeError as exc:
        raise exc.within(cls.__name__) from None
    except RecursionError:
        raise DecodeError("nesting too deep for the interpreter", cls.__name__) from None
    if reader.pos != reader.end:
        raise DecodeError(
            f"{reader.end - reader.pos} bytes left over after the value", cls.__name__
        )
    return obj


def decode_binary(
    cls: type,
    data: Any,
    max_depth: int = 64,
    objects_per_byte: float = DEFAULT_OBJECTS_PER_BYTE,
) -> Any:
    raw = _as_bytes(data)
    budget = object_budget(len(raw), objects_per_byte)
    return collector_paused(_decode_binary, len(raw), cls, raw, max_depth, budget)


def _decode_binary(cls: type, raw: bytes, max_depth: int, budget: int) -> Any:
    try:
        obj, end = BINARY_DECODERS[cls](raw, 0, len(raw), 0, max_depth, [budget])
        if end == len(raw):
            return obj
    except Exception:  # the interpreter below decides, and raises the canonical error
        pass
    return _decode(_BinaryReader(raw, max_depth, budget), cls)


def decode_compact(
    cls: type,
    data: Any,
    max_depth: int = 64,
    objects_per_byte: float = DEFAULT_OBJECTS_PER_BYTE,
) -> Any:
    raw = _as_bytes(data)
    reader = _CompactReader(raw, max_depth, object_budget(len(raw), objects_per_byte))
    return collector_paused(_decode, len(raw), reader, cls)


# ---- unknown fields across protocols ----------------------------------------------------


def transcode(fid: int, raw: bytes, wire: int, source: str, target: str) -> bytes:
    """Re-encode kept field `fid`'s value (of binary wire type `wire`) from one
    protocol to the other."""
    value = read_kept(fid, raw, wire, source)
    writer: _BinaryWriter | _CompactWriter = (
        _BinaryWriter() if target == "binary" else _CompactWriter()
    )
    _write_any(writer, wire, value)
    return bytes(writer.out)


def read_kept(fid: int, raw: bytes, wire: int, protocol: str) -> Any:
    """Kept field `fid`'s value, as `protocol` bytes `raw`, read as the tree
    `_write_any` writes in any protocol. Skipping a compact field reads any
    varint of up to 10 bytes, as Apache does; written in another protocol, one
    that does not fit its integer type is an error of the encoding."""
    reader: _Reader = _BinaryReader(raw, 64) if protocol == "binary" else _CompactReader(raw, 64)
    try:
        return _read_any(reader, wire)
    except DecodeError as exc:
        raise EncodeError(f"kept unknown field {fid} cannot be written: {exc}") from None


def _read_any(reader: _Reader, wire: int) -> Any:
    """A value of binary wire type `wire`, as (wire, payload) trees any protocol can write."""
    if isinstance(reader, _CompactReader):
        if wire == B_BOOL:
            return reader.byte() == C_TRUE
        simple = {B_BYTE: BYTE, B_I16: I16, B_I32: I32, B_I64: I64, B_DOUBLE: DOUBLE,
                  B_STRING: BINARY, B_UUID: UUID}  # fmt: skip
        if wire in simple:
            return reader.value(simple[wire])
        if wire == B_STRUCT:
            fields: list[tuple[int, int, Any]] = []
            last = 0
            while True:
                header = reader.byte()
                if header == 0:
                    return fields
                field_wire = _compact_to_binary(header & 0x0F)
                fid = last + (header >> 4) if header >> 4 else reader.zigzag(I16)
                if fid > 0x7FFF:
                    raise DecodeError(f"field id {fid} is out of range for i16")
                last = fid
                if field_wire == B_BOOL:
                    value: Any = (header & 0x0F) == C_TRUE
                else:
                    value = _read_any(reader, field_wire)
                fields.append((fid, field_wire, value))
        if wire == B_MAP:
            count = reader.varint()
            if not count:
                return (B_STRING, B_STRING, [])
            types = reader.byte()
            kw, vw = _compact_to_binary(types >> 4), _compact_to_binary(types & 0x0F)
            return (kw, vw, [(_read_any(reader, kw), _read_any(reader, vw)) for _ in range(count)])
        element, count = reader.list_header()
        ew = _compact_to_binary(element)
        return (ew, [_read_any(reader, ew) for _ in range(count)])
    assert isinstance(reader, _BinaryReader)
    simple = {B_BOOL: BOOL, B_BYTE: BYTE, B_I16: I16, B_I32: I32, B_I64: I64, B_DOUBLE: DOUBLE,
              B_STRING: BINARY, B_UUID: UUID}  # fmt: skip
    if wire in simple:
        return reader.value(simple[wire])
    if wire == B_STRUCT:
        read: list[tuple[int, int, Any]] = []
        while True:
            field_wire = reader.byte()
            if field_wire == B_STOP:
                return read
            (fid,) = _I16.unpack_from(reader.data, reader.take(2))
            read.append((fid, field_wire, _read_any(reader, field_wire)))
    if wire == B_MAP:
        kw, vw = reader.byte(), reader.byte()
        count = reader.count(kw, vw)
        return (kw, vw, [(_read_any(reader, kw), _read_any(reader, vw)) for _ in range(count)])
    ew = reader.byte()
    return (ew, [_read_any(reader, ew) for _ in range(reader.count(ew))])


_SIMPLE_CODES = {B_BOOL: BOOL, B_BYTE: BYTE, B_I16: I16, B_I32: I32, B_I64: I64,
                 B_DOUBLE: DOUBLE, B_STRING: BINARY, B_UUID: UUID}  # fmt: skip


def _write_any(writer: _BinaryWriter | _CompactWriter, wire: int, value: Any) -> None:
    if wire in _SIMPLE_CODES:
        writer.value(_SIMPLE_CODES[wire], value)
        return
    out = writer.out
    compact = isinstance(writer, _CompactWriter)
    if wire == B_STRUCT:
        last = 0
        for fid, field_wire, field_value in value:
            if compact:
                assert isinstance(writer, _CompactWriter)
                if field_wire == B_BOOL:
                    writer.field_header(C_TRUE if field_value else C_FALSE, fid, last)
                else:
                    writer.field_header(BINARY_TO_COMPACT[field_wire], fid, last)
                    _write_any(writer, field_wire, field_value)
                last = fid
            else:
                out += _HEADER.pack(field_wire, fid)
                _write_any(writer, field_wire, field_value)
        out.append(0)
    elif wire == B_MAP:
        kw, vw, pairs = value
        if compact:
            if not pairs:
                out.append(0)
                return
            encode_varint(len(pairs), out)
            out.append(BINARY_TO_COMPACT[kw] << 4 | BINARY_TO_COMPACT[vw])
        else:
            out.append(kw)
            out.append(vw)
            out += _I32.pack(len(pairs))
        for k, v in pairs:
            _write_any(writer, kw, k)
            _write_any(writer, vw, v)
    else:
        ew, items = value
        if compact:
            cw = BINARY_TO_COMPACT[ew]
            if len(items) < 15:
                out.append(len(items) << 4 | cw)
            else:
                out.append(0xF0 | cw)
                encode_varint(len(items), out)
        else:
            out.append(ew)
            out += _I32.pack(len(items))
        for item in items:
            _write_any(writer, ew, item)
