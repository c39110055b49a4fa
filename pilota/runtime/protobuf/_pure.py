"""Pure-Python protobuf binary codec.

The reference implementation: a compiled codec must behave identically, byte
for byte and error for error. It interprets each class's field specs
(`pilota.runtime.protobuf.spec`), compiled once per class into a `_Plan`.

Encoding writes the known fields in field-number order, then the extensions
in number order, then the unknown fields as they were read (as upb does);
`deterministic` sorts map entries by key, in upb's order (see
`_deterministic_order`). Decoding follows the spec's merge
rules (a repeated field arriving twice concatenates, a scalar's last value
wins, a message merges), reads packed and unpacked repeated fields alike,
checks every length against the bytes that remain before it slices, limits
nesting depth, validates UTF-8 where the field says so, and raises
`DecodeError` with the path of the field that failed.

The codec's face (a compiled codec offers the same three):
`encode(msg, deterministic) -> bytes`, `decode(cls, data, max_depth) -> msg`,
`merge(msg, data, max_depth) -> None`.
"""

from __future__ import annotations

import math
import struct as _struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pilota.runtime._helpers import collector_paused
from pilota.runtime.protobuf.spec import (
    BOOL,
    BYTES,
    CLOSED_ENUM,
    DOUBLE,
    EGROUP,
    ENUM,
    FIXED32,
    FIXED64,
    FLOAT,
    GROUP,
    I32,
    I64,
    IMPLICIT,
    INT32,
    INT64,
    INT_RANGES,
    KIND_NAMES,
    LEN,
    MAP,
    MESSAGE,
    OPTIONAL,
    PACKABLE,
    PACKED,
    REPEATED,
    REQUIRED,
    SFIXED32,
    SFIXED64,
    SGROUP,
    SINT32,
    SINT64,
    STRING,
    UINT32,
    UINT64,
    VALIDATE_UTF8,
    VARINT,
    WIRE_TYPES,
    FieldSpec,
)
from pilota.runtime.types import DecodeError, EncodeError
from pilota.runtime.varint import encode_varint

if TYPE_CHECKING:
    from pilota.runtime.protobuf.message import Extension, Message

MAX_DEPTH = 100
MAX_FIELD_NUMBER = 2**29 - 1
_MASK64 = 2**64 - 1
_MASK32 = 2**32 - 1

_F32 = _struct.Struct("<f")
_F64 = _struct.Struct("<d")
_U32 = _struct.Struct("<I")
_S32 = _struct.Struct("<i")
_U64 = _struct.Struct("<Q")
_S64 = _struct.Struct("<q")

Buffer = bytes | bytearray | memoryview

# ---- plans ---------------------------------------------------------------------------


class _Field:
    """One field as the codec uses it: spec plus what is derived from it once."""

    __slots__ = ("closed", "fixed", "kind", "label", "name", "oneof", "packable", "skip", "spec",
                 "tag", "utf8", "wire")  # fmt: skip

    def __init__(self, spec: FieldSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.kind = spec.kind
        self.label = spec.label
        self.oneof = spec.oneof
        self.wire = WIRE_TYPES[spec.kind] if spec.label != MAP else LEN
        self.packable = spec.label in (REPEATED, PACKED) and spec.kind in PACKABLE
        self.utf8 = bool(spec.flags & VALIDATE_UTF8)
        self.closed = bool(spec.flags & CLOSED_ENUM)
        self.fixed = _FIXED_SIZES.get(spec.kind, 0)
        packed = spec.label == PACKED and spec.kind in PACKABLE
        self.tag = _tag_bytes(spec.number, LEN if packed else self.wire)
        # the type of an unset value that encoding skips without a closer look
        skips: dict[int, type] = {REPEATED: list, PACKED: list, MAP: dict, OPTIONAL: type(None)}
        self.skip = skips.get(spec.label)
        if spec.label == IMPLICIT and spec.kind not in (DOUBLE, FLOAT):
            self.skip = type(spec.default)


class _Plan:
    __slots__ = ("by_number", "cls", "fields", "fresh", "message_set", "name", "new", "oneofs",
                 "required")  # fmt: skip

    def __init__(self, cls: type[Message]) -> None:
        self.cls = cls
        self.name = cls.__name__
        self.fields = [_Field(spec) for spec in cls.__pb_fields__]
        self.by_number = {f.spec.number: f for f in self.fields}
        # what a new instance's slots are set to: (name, value, container factory)
        self.fresh: list[tuple[str, Any, Callable[[], Any] | None]] = []
        for f in self.fields:
            if f.oneof is not None:
                continue
            if f.label in (REPEATED, PACKED):
                self.fresh.append((f.name, None, list))
            elif f.label == MAP:
                self.fresh.append((f.name, None, dict))
            elif f.label == IMPLICIT:
                self.fresh.append((f.name, f.spec.default, None))
            else:
                self.fresh.append((f.name, None, None))
        self.fresh += [(name, None, None) for name in cls.__pb_oneofs__]
        self.oneofs = {
            name: {f.name: f for f in self.fields if f.oneof == name} for name in cls.__pb_oneofs__
        }
        self.required = [f for f in self.fields if f.label == REQUIRED]
        self.message_set = cls.__pb_message_set__
        self.new = _compile_new(cls, self.fresh)


_plans: dict[type, _Plan] = {}


def plan_of(cls: type[Message]) -> _Plan:
    plan = _plans.get(cls)
    if plan is None:
        plan = _plans[cls] = _Plan(cls)
    return plan


def new_message(cls: type[Message]) -> Any:
    """An instance with every field unset, made without calling `__init__`."""
    return plan_of(cls).new()


def _compile_new(
    cls: type[Message], fresh: list[tuple[str, Any, Callable[[], Any] | None]]
) -> Callable[[], Any]:
    """A function making a `cls` with its slots set as `fresh` says: one line a slot,
    rather than a loop (attribute names are checked to be identifiers)."""
    if not all(name.isidentifier() for name, _, _ in fresh):
        def slow() -> Any:
            obj = object.__new__(cls)
            for name, value, factory in fresh:
                object.__setattr__(obj, name, factory() if factory is not None else value)
            return obj

        return slow
    lines = ["def new():", "    obj = allocate(cls)"]
    constants: dict[str, Any] = {"allocate": object.__new__, "cls": cls}
    for i, (name, value, factory) in enumerate(fresh):
        if factory is list:
            lines.append(f"    obj.{name} = []")
        elif factory is dict:
            lines.append(f"    obj.{name} = {{}}")
        else:
            constants[f"v{i}"] = value
            lines.append(f"    obj.{name} = v{i}")
    lines.append("    return obj")
    exec("\n".join(lines), constants)  # the names were checked above
    made: Callable[[], Any] = constants["new"]
    return made


def _tag_bytes(number: int, wire: int) -> bytes:
    out = bytearray()
    encode_varint(number << 3 | wire, out)
    return bytes(out)


_FIXED_SIZES = {FIXED32: 4, SFIXED32: 4, FLOAT: 4, FIXED64: 8, SFIXED64: 8, DOUBLE: 8}

# ---- decoding ------------------------------------------------------------------------


def decode(cls: type[Message], data: Buffer, max_depth: int = MAX_DEPTH) -> Any:
    obj = new_message(cls)
    merge(obj, data, max_depth)
    return obj


def merge(obj: Message, data: Buffer, max_depth: int = MAX_DEPTH) -> None:
    raw = data if isinstance(data, bytes) else bytes(data)
    plan = plan_of(type(obj))
    pending: Pending = {}
    try:
        try:
            collector_paused(_merge, len(raw), obj, plan, raw, 0, len(raw), max_depth, 0, pending)
        finally:
            _flush_unknown(pending)
        check_initialized(obj, plan)
    except DecodeError as e:
        raise e.within(plan.name) from None


# The unknown fields a decode adds to each message, by id(message): the message and its
# unknown fields (what it had first) in pieces, joined once at the end (`_flush_unknown`),
# so that a message merged many times (a field arriving again and again) costs linear time.
Pending = dict[int, tuple[Any, list[bytes]]]


def _add_unknown(pending: Pending, obj: Any, record: bytes) -> None:
    """Appends to the unknown fields of `obj`."""
    entry = pending.get(id(obj))
    if entry is None:
        entry = pending[id(obj)] = (obj, [getattr(obj, "_unknown", b"")])
    entry[1].append(record)


def _flush_unknown(pending: Pending) -> None:
    for obj, pieces in pending.values():
        obj._unknown = b"".join(pieces)


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise DecodeError("the input ends inside a varint")
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    result = byte & 0x7F
    shift = 7
    pos += 1
    while True:
        if pos >= end:
            raise DecodeError("the input ends inside a varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("a varint is longer than 10 bytes")


def _length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A length prefix, checked against what remains; returns (end of the chunk, its start)."""
    n, pos = _varint(data, pos, end)
    if n > end - pos:
        raise DecodeError(f"a length of {n} runs past the end of the input")
    return pos + n, pos


def _tag(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    tag, pos = _varint(data, pos, end)
    if tag > _MASK32:
        raise DecodeError(f"invalid tag {tag}")
    number, wire = tag >> 3, tag & 7
    if number == 0:
        raise DecodeError("field number 0 is not allowed")
    if wire > 5:
        raise DecodeError(f"invalid wire type {wire} (field {number})")
    return number, wire, pos


def _merge(
    obj: Any, plan: _Plan, data: bytes, pos: int, end: int, depth: int, group: int,
    pending: Pending,
) -> int:  # fmt: skip
    """Merges the fields in data[pos:end] into `obj`; a group (number `group`) ends at
    its end-group tag. Returns the position after the last byte read. Unknown fields go
    to `pending`: a closed enum's unknown number at once, the others when the message
    (or group) ends."""
    if depth <= 0:
        raise DecodeError("nesting is too deep")
    by_number = plan.by_number
    unknown: list[bytes] | None = None
    while pos < end:
        start = pos
        tag = data[pos]
        if tag < 0x80 and tag >= 8:  # a one-byte tag (the common case)
            number, wire = tag >> 3, tag & 7
            pos += 1
            if wire > 5:
                raise DecodeError(f"invalid wire type {wire} (field {number})")
        else:
            number, wire, pos = _tag(data, pos, end)
        if wire == EGROUP:
            if number == group:
                if unknown:
                    _add_unknown(pending, obj, b"".join(unknown))
                return pos
            raise DecodeError(f"an end-group tag for field {number} that is not open")
        f = by_number.get(number)
        if f is not None:
            try:
                new_pos = _read_field(obj, f, wire, data, pos, end, depth, pending)
            except DecodeError as e:
                raise e.within("." + f.name) from None
            if new_pos >= 0:
                pos = new_pos
                continue
        pos = skip_field(data, pos, end, number, wire, depth)
        if unknown is None:
            unknown = []
        unknown.append(data[start:pos])
    if group:
        raise DecodeError(f"group {group} has no end-group tag")
    if unknown:
        _add_unknown(pending, obj, b"".join(unknown))
    return pos


_WRONG_WIRE = -1  # _read_field: the field arrived with another wire type: it is unknown


def skip_field(data: bytes, pos: int, end: int, number: int, wire: int, depth: int) -> int:
    """The position after a field's value (whose tag ended at `pos`)."""
    if wire == VARINT:
        return _varint(data, pos, end)[1]
    if wire == I64:
        if end - pos < 8:
            raise DecodeError("the input ends inside a fixed64")
        return pos + 8
    if wire == I32:
        if end - pos < 4:
            raise DecodeError("the input ends inside a fixed32")
        return pos + 4
    if wire == LEN:
        return _length(data, pos, end)[0]
    if wire == SGROUP:
        if depth <= 1:
            raise DecodeError("nesting is too deep")
        while True:
            if pos >= end:
                raise DecodeError(f"group {number} has no end-group tag")
            inner, inner_wire, pos = _tag(data, pos, end)
            if inner_wire == EGROUP:
                if inner != number:
                    raise DecodeError(f"an end-group tag for field {inner} that is not open")
                return pos
            pos = skip_field(data, pos, end, inner, inner_wire, depth - 1)
    raise DecodeError(f"invalid wire type {wire} (field {number})")


def _read_scalar(f: _Field, wire: int, data: bytes, pos: int, end: int) -> tuple[Any, int]:
    """One non-message value of kind f.kind, whose wire type is `wire`."""
    kind = f.kind
    if wire == VARINT:
        n, pos = _varint(data, pos, end)
        return _from_varint(kind, n), pos
    if wire == LEN:
        chunk_end, pos = _length(data, pos, end)
        chunk = data[pos:chunk_end]
        if kind == STRING:
            return _text(chunk, f.utf8), chunk_end
        return chunk, chunk_end
    size = 8 if wire == I64 else 4
    if end - pos < size:
        raise DecodeError(f"the input ends inside a {KIND_NAMES[kind]}")
    return _FIXED_READERS[kind](data, pos)[0], pos + size


def _text(chunk: bytes, validate: bool) -> str:
    if validate:
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("a string field holds bytes that are not UTF-8") from None
    return chunk.decode("utf-8", "surrogateescape")


def _from_varint(kind: int, n: int) -> Any:
    if kind == INT64:
        return n - (1 << 64) if n >> 63 else n
    if kind in (INT32, ENUM):
        n &= _MASK32
        return n - (1 << 32) if n >> 31 else n
    if kind == UINT64:
        return n
    if kind == UINT32:
        return n & _MASK32
    if kind == BOOL:
        return n != 0
    if kind == SINT32:
        n &= _MASK32
        return (n >> 1) ^ -(n & 1)
    if kind == SINT64:
        return (n >> 1) ^ -(n & 1)
    raise AssertionError(kind)  # pragma: no cover


_FIXED_READERS: dict[int, Callable[[bytes, int], tuple[Any, ...]]] = {
    FIXED32: _U32.unpack_from, SFIXED32: _S32.unpack_from, FLOAT: _F32.unpack_from,
    FIXED64: _U64.unpack_from, SFIXED64: _S64.unpack_from, DOUBLE: _F64.unpack_from,
}  # fmt: skip


def _enum_member(f: _Field, n: int) -> Any:
    """The enum member for `n`; None when a closed enum does not know it."""
    enum_cls = f.spec.type
    member = enum_cls._value2member_map_.get(n)
    if member is not None:
        return member
    if f.closed:
        return None
    return enum_cls(n)


def _read_field(
    obj: Any, f: _Field, wire: int, data: bytes, pos: int, end: int, depth: int,
    pending: Pending,
) -> int:  # fmt: skip
    """Reads one occurrence of field `f` into `obj`; returns the position after it, or
    _WRONG_WIRE when it came with a wire type the field cannot have (then it is an
    unknown field, and nothing was read)."""
    label = f.label
    if label == MAP:
        if wire != LEN:
            return _WRONG_WIRE
        return _read_map_entry(obj, f, data, pos, end, depth, pending)
    kind = f.kind
    if kind in (MESSAGE, GROUP):
        if wire != f.wire:
            return _WRONG_WIRE
        return _read_message_field(obj, f, data, pos, end, depth, pending)
    repeated = label in (REPEATED, PACKED)
    if wire != f.wire:
        if wire == LEN and f.packable:
            return _read_packed(obj, f, data, pos, end, pending)
        return _WRONG_WIRE
    if wire == VARINT and pos < end and data[pos] < 0x80 and kind != SINT32 and kind != SINT64:
        value, new_pos = data[pos], pos + 1  # a one-byte varint: the number itself
        if kind == BOOL:
            value = value != 0
    else:
        value, new_pos = _read_scalar(f, wire, data, pos, end)
    if kind == ENUM:
        member = _enum_member(f, value)
        if member is None:  # a closed enum's unknown number: kept as an unknown field
            record = bytearray(_tag_bytes(f.spec.number, VARINT))
            encode_varint(value & _MASK64, record)
            _add_unknown(pending, obj, bytes(record))
            return new_pos
        value = member
    if repeated:
        getattr(obj, f.name).append(value)
    elif f.oneof is not None:
        setattr(obj, f.oneof, (f.name, value))
    else:
        setattr(obj, f.name, value)
    return new_pos


def _read_packed(obj: Any, f: _Field, data: bytes, pos: int, end: int, pending: Pending) -> int:
    chunk_end, pos = _length(data, pos, end)
    items = getattr(obj, f.name)
    kind = f.kind
    size = f.fixed
    if size:
        if (chunk_end - pos) % size:
            raise DecodeError(f"packed {KIND_NAMES[kind]}s end in the middle of one")
        reader = _FIXED_READERS[kind]
        items += [reader(data, p)[0] for p in range(pos, chunk_end, size)]
        return chunk_end
    unknown = bytearray()
    while pos < chunk_end:
        n, pos = _varint(data, pos, chunk_end)
        value = _from_varint(kind, n)
        if kind == ENUM:
            member = _enum_member(f, value)
            if member is None:
                unknown += _tag_bytes(f.spec.number, VARINT)
                encode_varint(value & _MASK64, unknown)
                continue
            value = member
        items.append(value)
    if unknown:
        _add_unknown(pending, obj, bytes(unknown))
    return chunk_end


def _read_message_field(
    obj: Any, f: _Field, data: bytes, pos: int, end: int, depth: int, pending: Pending
) -> int:
    cls = f.spec.type
    plan = plan_of(cls)
    label = f.label
    if label in (REPEATED, PACKED):
        items = getattr(obj, f.name)
        target = new_message(cls)
        try:
            pos = _read_message(target, plan, f, data, pos, end, depth, pending)
        except DecodeError as e:
            raise e.within(f"[{len(items)}]") from None
        items.append(target)
        return pos
    if f.oneof is not None:
        case = getattr(obj, f.oneof)
        if case is not None and case[0] == f.name:
            target = case[1]
        else:
            target = new_message(cls)
            setattr(obj, f.oneof, (f.name, target))
    else:
        target = getattr(obj, f.name)
        if target is None:
            target = new_message(cls)
            setattr(obj, f.name, target)
    return _read_message(target, plan, f, data, pos, end, depth, pending)


def _read_message(
    target: Any, plan: _Plan, f: _Field, data: bytes, pos: int, end: int, depth: int,
    pending: Pending,
) -> int:  # fmt: skip
    if f.kind == GROUP:
        return _merge(target, plan, data, pos, end, depth - 1, f.spec.number, pending)
    chunk_end, pos = _length(data, pos, end)
    _merge(target, plan, data, pos, chunk_end, depth - 1, 0, pending)
    return chunk_end


def _read_map_entry(
    obj: Any, f: _Field, data: bytes, pos: int, end: int, depth: int, pending: Pending
) -> int:
    record_start = pos
    chunk_end, pos = _length(data, pos, end)
    key_spec, value_spec = f.spec.type
    key_field, value_field = _entry_fields(key_spec, value_spec)
    key: Any = key_spec.default
    value: Any = _MISSING
    while pos < chunk_end:
        number, wire, pos = _tag(data, pos, chunk_end)
        if wire == EGROUP:
            raise DecodeError(f"an end-group tag for field {number} that is not open")
        if number == 1 and wire == key_field.wire:
            key, pos = _read_scalar(key_field, wire, data, pos, chunk_end)
        elif number == 2 and wire == value_field.wire:
            if value_field.kind == MESSAGE:
                if value is _MISSING:
                    value = new_message(value_spec.type)
                sub_end, pos = _length(data, pos, chunk_end)
                try:
                    _merge(value, plan_of(value_spec.type), data, pos, sub_end, depth - 1, 0,
                           pending)
                except DecodeError as e:
                    raise e.within(f"[{key!r}]") from None
                pos = sub_end
            else:
                value, pos = _read_scalar(value_field, wire, data, pos, chunk_end)
        else:
            pos = skip_field(data, pos, chunk_end, number, wire, depth)
    if value is _MISSING:
        value = new_message(value_spec.type) if value_field.kind == MESSAGE else value_spec.default
    elif value_field.kind == ENUM:
        member = _enum_member(value_field, value)
        if member is None:  # a closed enum's unknown number: the whole entry is unknown
            tag = _tag_bytes(f.spec.number, LEN)
            _add_unknown(pending, obj, tag + data[record_start:chunk_end])
            return chunk_end
        value = member
    getattr(obj, f.name)[key] = value
    return chunk_end


_MISSING: Any = object()
_entry_cache: dict[tuple[FieldSpec, FieldSpec], tuple[_Field, _Field]] = {}


def _entry_fields(key: FieldSpec, value: FieldSpec) -> tuple[_Field, _Field]:
    found = _entry_cache.get((key, value))
    if found is None:
        found = _entry_cache[(key, value)] = (_Field(key), _Field(value))
    return found


def check_initialized(obj: Any, plan: _Plan) -> None:
    """Raises DecodeError naming the first required field (at any depth) left unset."""
    if not _class_may_require(plan.cls):
        return
    problem = missing_required(obj, plan)
    if problem is not None:
        raise DecodeError("a required field is not set", problem)


def missing_required(obj: Any, plan: _Plan, depth: int = MAX_DEPTH) -> str | None:
    """The path (below `obj`) of a required field that is not set, if any."""
    if depth <= 0:
        return None
    for f in plan.required:
        if getattr(obj, f.name) is None:
            return "." + f.name
    for f in plan.fields:
        cls = _message_class(f)
        if cls is None or not _class_may_require(cls):
            continue
        for where, value in _messages_in(obj, f):
            found = missing_required(value, plan_of(type(value)), depth - 1)
            if found is not None:
                return where + found
    return None


def _message_class(f: _Field) -> Any:
    """The message class a field holds (a map: its values), or None."""
    if f.label == MAP:
        value = f.spec.type[1]
        return value.type if value.kind == MESSAGE else None
    return f.spec.type if f.kind in (MESSAGE, GROUP) else None


def _messages_in(obj: Any, f: _Field) -> list[tuple[str, Any]]:
    if f.oneof is not None:
        case = getattr(obj, f.oneof)
        return [("." + f.name, case[1])] if case is not None and case[0] == f.name else []
    value = getattr(obj, f.name)
    if f.label == MAP:
        return [(f".{f.name}[{k!r}]", v) for k, v in value.items()]
    if f.label in (REPEATED, PACKED):
        return [(f".{f.name}[{i}]", v) for i, v in enumerate(value)]
    return [("." + f.name, value)] if value is not None else []


_requires: dict[type, bool] = {}


def _class_may_require(cls: type[Message]) -> bool:
    """Whether a message of class `cls` can contain a required field (at any depth)."""
    found = _requires.get(cls)
    if found is not None:
        return found
    # Every class reachable from `cls`, searched anew for each class asked about: a
    # result memoized while a cycle is still open would depend on which class is
    # asked about first.
    seen = {cls}
    todo = [cls]
    result = False
    while todo and not result:
        plan = plan_of(todo.pop())
        result = bool(plan.required)
        for f in plan.fields:
            inner = _message_class(f)
            if inner is not None and inner not in seen:
                seen.add(inner)
                todo.append(inner)
    _requires[cls] = result
    return result


# ---- encoding ------------------------------------------------------------------------


def encode(msg: Message, deterministic: bool = False) -> bytes:
    out = bytearray()
    plan = plan_of(type(msg))
    try:
        _write_message(out, msg, plan, deterministic, MAX_DEPTH)
    except EncodeError as e:
        raise e.within(plan.name) from None
    return bytes(out)


def _write_message(out: bytearray, msg: Any, plan: _Plan, det: bool, depth: int) -> None:
    if depth <= 0:
        raise EncodeError("nesting is too deep (or the message contains itself)")
    for name, members in plan.oneofs.items():
        case = getattr(msg, name)
        if case is not None and (
            type(case) is not tuple or len(case) != 2 or case[0] not in members
        ):
            raise EncodeError(
                f"must be None or (member name, value), the name one of "
                f"{', '.join(members)}; got {case!r}",
                "." + name,
            )
    for f in plan.fields:
        if f.oneof is not None:
            case = getattr(msg, f.oneof)
            if case is None or case[0] != f.name:
                continue
            value = case[1]
            if value is None:
                continue
        else:
            value = getattr(msg, f.name)
            if not value and type(value) is f.skip:  # unset: nothing to write or check
                continue
        try:
            _write_field(out, f, value, det, depth)
        except EncodeError as e:
            raise e.within("." + f.name) from None
    extensions = getattr(msg, "_extensions", None)
    if extensions:
        for number in sorted(extensions):
            extension, value = extensions[number]
            try:
                write_extension(out, extension, value, plan.message_set, det, depth)
            except EncodeError as e:
                raise e.within(f".({extension.full_name})") from None
    unknown = getattr(msg, "_unknown", None)
    if unknown:
        out += unknown


def _write_field(out: bytearray, f: _Field, value: Any, det: bool, depth: int) -> None:
    label = f.label
    if label == IMPLICIT:
        if value is None:
            raise EncodeError("is None, but the field has no presence: set its zero value")
        if not value:
            if f.kind != DOUBLE and f.kind != FLOAT:
                _check_value(f, value)
                return
            if math.copysign(1.0, value) > 0:  # -0.0 is not the default: it is written
                return
        out += f.tag
        _write_value(out, f, value, det, depth)
    elif label in (REPEATED, PACKED):
        if not isinstance(value, list | tuple):
            raise EncodeError(f"expected a list, got {type(value).__name__}")
        if not value:
            return
        if label == PACKED and f.packable:
            payload = bytearray()
            for i, item in enumerate(value):
                try:
                    _write_value(payload, f, item, det, depth)
                except EncodeError as e:
                    raise e.within(f"[{i}]") from None
            out += f.tag
            encode_varint(len(payload), out)
            out += payload
            return
        for i, item in enumerate(value):
            out += f.tag
            try:
                _write_value(out, f, item, det, depth)
            except EncodeError as e:
                raise e.within(f"[{i}]") from None
    elif label == MAP:
        _write_map(out, f, value, det, depth)
    else:  # OPTIONAL, REQUIRED
        if value is None:
            if label == REQUIRED:
                raise EncodeError("a required field is not set")
            return
        out += f.tag
        _write_value(out, f, value, det, depth)


def _write_value(out: bytearray, f: _Field, value: Any, det: bool, depth: int) -> None:
    """One value's payload (after its tag): a number, text, bytes or a message."""
    kind = f.kind
    if kind in (MESSAGE, GROUP):
        cls = f.spec.type
        if not isinstance(value, cls):
            raise EncodeError(f"expected {cls.__name__}, got {type(value).__name__}")
        plan = plan_of(type(value))
        if kind == GROUP:
            _write_message(out, value, plan, det, depth - 1)
            out += _tag_bytes(f.spec.number, EGROUP)
            return
        inner = bytearray()
        _write_message(inner, value, plan, det, depth - 1)
        encode_varint(len(inner), out)
        out += inner
        return
    write_scalar(out, f.kind, value, f.utf8, f.spec.type if f.closed else None)


def _check_value(f: _Field, value: Any) -> None:
    """Type-checks a zero value that is not written."""
    write_scalar(bytearray(), f.kind, value, f.utf8, f.spec.type if f.closed else None)


def write_scalar(
    out: bytearray, kind: int, value: Any, validate: bool, closed_enum: Any = None
) -> None:
    """A scalar's payload, type- and range-checked."""
    if kind == STRING:
        if not isinstance(value, str):
            raise EncodeError(f"expected str, got {type(value).__name__}")
        try:
            data = value.encode("utf-8") if validate else value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise EncodeError("the text cannot be encoded as UTF-8") from None
        encode_varint(len(data), out)
        out += data
        return
    if kind == BYTES:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise EncodeError(f"expected bytes, got {type(value).__name__}")
        encode_varint(len(value), out)
        out += value
        return
    if kind in (DOUBLE, FLOAT):
        if not isinstance(value, float | int):
            raise EncodeError(f"expected float, got {type(value).__name__}")
        if kind == DOUBLE:
            out += _F64.pack(value)
        else:
            try:
                out += _F32.pack(value)
            except OverflowError:  # beyond float32: infinite, as a C cast makes it
                out += _F32.pack(math.copysign(math.inf, value))
        return
    if kind == BOOL:
        if not isinstance(value, bool):
            raise EncodeError(f"expected bool, got {type(value).__name__}")
        out.append(1 if value else 0)
        return
    if not isinstance(value, int):
        raise EncodeError(f"expected int, got {type(value).__name__}")
    low, high = INT_RANGES[kind]
    if not low <= value <= high:
        raise EncodeError(f"{value} is out of range for {KIND_NAMES[kind]}")
    if closed_enum is not None and value not in closed_enum._value2member_map_:
        raise EncodeError(f"{value} is not a value of the closed enum {closed_enum.__name__}")
    if kind in (SINT32, SINT64):
        encode_varint((value << 1) ^ (value >> 63), out)
    elif kind == FIXED32:
        out += _U32.pack(value)
    elif kind == SFIXED32:
        out += _S32.pack(value)
    elif kind == FIXED64:
        out += _U64.pack(value)
    elif kind == SFIXED64:
        out += _S64.pack(value)
    else:
        encode_varint(value & _MASK64, out)


def _write_map(out: bytearray, f: _Field, value: Any, det: bool, depth: int) -> None:
    if not isinstance(value, dict):
        raise EncodeError(f"expected a dict, got {type(value).__name__}")
    if not value:
        return
    key_field, value_field = _entry_fields(*f.spec.type)
    items: Any = value.items()
    if det:
        items = _deterministic_order(items, key_field.kind)
    for k, v in items:
        entry = bytearray(key_field.tag)
        try:
            write_scalar(entry, key_field.kind, k, key_field.utf8)
            if value_field.kind == MESSAGE and v is None:
                raise EncodeError("a map's message value cannot be None")
            entry += value_field.tag
            _write_value(entry, value_field, v, det, depth)
        except EncodeError as e:
            raise e.within(f"[{k!r}]") from None
        out += f.tag
        encode_varint(len(entry), out)
        out += entry


def _deterministic_order(items: Any, key_kind: int) -> list[tuple[Any, Any]]:
    """Map entries in the order Google's Python protobuf (upb) writes them when asked
    for deterministic output, so that ours is byte for byte the same: text keys
    ascending by their UTF-8 bytes, except that a key comes after the longer keys
    it begins (`"ab"`, `"a"`, `""`); integer and bool keys descending by their value
    as an unsigned 64-bit number (so -1 comes first)."""
    if key_kind == STRING:
        return sorted(items, key=lambda item: [*item[0].encode("utf-8", "surrogateescape"), 256])
    return sorted(items, key=lambda item: int(item[0]) & _MASK64, reverse=True)


# ---- extensions --------------------------------------------------------------------------


def write_extension(
    out: bytearray, extension: Extension[Any, Any], value: Any, message_set: bool, det: bool,
    depth: int,
) -> None:  # fmt: skip
    """An extension's fields; in a MessageSet, a message extension is an item group."""
    f = _extension_field(extension)
    if message_set and f.kind == MESSAGE and f.label != REPEATED:
        if value is None:
            return
        payload = bytearray()
        _write_value(payload, f, value, det, depth)  # length-prefixed message
        out += b"\x0b\x10"  # start group 1, then type_id (field 2)
        encode_varint(f.spec.number, out)
        out.append(0x1A)  # message (field 3), length-delimited
        out += payload
        out.append(0x0C)  # end group 1
        return
    _write_field(out, f, value, det, depth)


_extension_fields: dict[int, _Field] = {}


def _extension_field(extension: Extension[Any, Any]) -> _Field:
    found = _extension_fields.get(id(extension))
    if found is None or found.spec is not extension.spec:
        found = _extension_fields[id(extension)] = _Field(extension.spec)
    return found


class _Holder:
    """Where an extension's value is decoded into, as if it were a field."""

    __slots__ = ("_unknown", "value")
    value: Any


def take_extension(msg: Any, extension: Extension[Any, Any], message_set: bool) -> Any:
    """Decodes `extension` from the unknown fields of `msg` and takes its records out
    of them. Returns its value: None (or an empty list) when it is not there."""
    f = _extension_field(extension)
    holder = _Holder()
    repeated = f.label in (REPEATED, PACKED)
    holder.value = [] if repeated else None
    unknown: bytes = getattr(msg, "_unknown", b"")
    if not unknown:
        return holder.value
    kept: list[bytes] = []
    fake = _Field(f.spec._replace(name="value", oneof=None))
    pending: Pending = {}
    try:
        _take_records(holder, fake, unknown, message_set, kept, pending)
    finally:
        _flush_unknown(pending)
    # a closed enum's unknown numbers went to the holder's unknown fields: they stay
    kept.append(getattr(holder, "_unknown", b""))
    msg._unknown = b"".join(kept)
    return holder.value


def _take_records(
    holder: _Holder, f: _Field, unknown: bytes, message_set: bool, kept: list[bytes],
    pending: Pending,
) -> None:  # fmt: skip
    """Reads the records of extension `f` in `unknown` into `holder.value`; appends the
    other records to `kept`."""
    spec = f.spec
    number = spec.number
    pos, end = 0, len(unknown)
    while pos < end:
        start = pos
        field_number, wire, pos = _tag(unknown, pos, end)
        if message_set and field_number == 1 and wire == SGROUP and f.kind == MESSAGE:
            item_end = skip_field(unknown, pos, end, 1, SGROUP, MAX_DEPTH)
            type_id, message = _message_set_item(unknown, pos, item_end)
            if type_id == number and message is not None:
                if holder.value is None:
                    holder.value = new_message(spec.type)
                _merge(holder.value, plan_of(spec.type), message, 0, len(message), MAX_DEPTH, 0,
                       pending)
            else:
                kept.append(unknown[start:item_end])
            pos = item_end
            continue
        if field_number == number:
            new_pos = _read_field(holder, f, wire, unknown, pos, end, MAX_DEPTH, pending)
            if new_pos >= 0:
                pos = new_pos
                continue
        pos = skip_field(unknown, pos, end, field_number, wire, MAX_DEPTH)
        kept.append(unknown[start:pos])


def has_extension_record(msg: Any, number: int, message_set: bool) -> bool:
    """Whether the unknown fields of `msg` hold a record of extension `number`."""
    unknown: bytes = getattr(msg, "_unknown", b"")
    pos, end = 0, len(unknown)
    while pos < end:
        field_number, wire, pos = _tag(unknown, pos, end)
        if message_set and field_number == 1 and wire == SGROUP:
            item_end = skip_field(unknown, pos, end, 1, SGROUP, MAX_DEPTH)
            if _message_set_item(unknown, pos, item_end)[0] == number:
                return True
            pos = item_end
            continue
        if field_number == number:
            return True
        pos = skip_field(unknown, pos, end, field_number, wire, MAX_DEPTH)
    return False


def _message_set_item(data: bytes, pos: int, end: int) -> tuple[int, bytes | None]:
    """A MessageSet item's type_id and message (the group's body is data[pos:end])."""
    type_id, message = 0, None
    while pos < end:
        number, wire, pos = _tag(data, pos, end)
        if wire == EGROUP:
            break
        if number == 2 and wire == VARINT:
            type_id, pos = _varint(data, pos, end)
        elif number == 3 and wire == LEN:
            chunk_end, pos = _length(data, pos, end)
            message = data[pos:chunk_end]
            pos = chunk_end
        else:
            pos = skip_field(data, pos, end, number, wire, MAX_DEPTH)
    return type_id, message


__all__ = [
    "MAX_DEPTH", "check_initialized", "decode", "encode", "has_extension_record", "merge",
    "missing_required", "new_message", "plan_of", "take_extension", "write_extension",
]  # fmt: skip
