"""ProtoJSON: protobuf messages to and from JSON, as the ProtoJSON mapping says.

The mapping: https://protobuf.dev/programming-guides/json/.

Every message has these four (they call the functions here):

    text = msg.to_json()                      # str
    data = msg.to_dict()                      # the same as Python values (json.loads(text))
    msg = Msg.from_json(text)                 # str or bytes
    msg = Msg.from_dict(data)

Output (`to_json`, `to_dict`):
- fields under their JSON names (`lowerCamelCase`, or the `json_name` option);
  `proto_names=True` writes the .proto names instead;
- a field with presence is written when it is set; one without (a proto3
  scalar, a repeated field, a map) when it is not its zero or empty, unless
  `emit_defaults=True`, which writes those always;
- 64-bit integers as strings, other integers as numbers; floats as numbers,
  or `"NaN"`, `"Infinity"`, `"-Infinity"`; a float field with the shortest
  text that reads back as the same 32-bit float; bytes as standard base64;
  enums by name (`enums_as_ints=True`: by number), a number the enum does not
  name as a number, `google.protobuf.NullValue` as null; map keys as strings;
- extensions as `"[full.name]": value`, after the fields;
- the well-known types in their own forms: Timestamp `"1972-01-01T10:00:20.021Z"`
  (always UTC, 0, 3, 6 or 9 digits of fraction), Duration `"1.5s"`, FieldMask
  `"a.fooBar,b"`, Struct an object, Value any JSON value, ListValue an array,
  the wrappers their value, Empty `{}`, Any `{"@type": URL, ...fields}` (or
  `"value": ...` for a well-known type with its own form);
- unknown fields are not written.
Values that cannot be written (out of range Timestamp or Duration, a NaN in a
Value, a FieldMask path that would not read back, an Any of a type the
registry does not know, a wrong type in a field) raise `pilota.EncodeError`
naming the field.

Input (`from_json`, `from_dict`):
- a field under its JSON name or its .proto name; the same field twice (under
  either name), two members of one oneof, or a key twice in one object are
  errors;
- integers as numbers (`1`, `1e5`, `1.0`) or strings (`"1"`), in range for
  the field; floats as numbers or strings, `"NaN"`, `"Infinity"`,
  `"-Infinity"` (a finite number beyond the field's range is an error); bool
  only `true`/`false`; bytes in standard or URL-safe base64, padded or not;
  enums by name or number (a closed enum only takes the numbers it names);
- null means "not set", except for `google.protobuf.Value` (a null value) and
  `google.protobuf.NullValue`; null is not allowed inside a list or as a map value;
- `ignore_unknown=True` skips fields the message does not have and enum names
  the enum does not have (the field, element or map entry is left out);
  otherwise they are errors;
- `"[full.name]"` keys are extensions, found in the `registry` (see
  `pilota.runtime.protobuf.registry.TypeRegistry`), as are the types of `Any`;
- nesting deeper than `max_depth` (100) messages or values is an error.
Errors are `pilota.DecodeError` whose path names where in the JSON it is, as
written there: `Order.lines[2].quantity`, `Order.tierByName['gold']`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pilota.runtime.protobuf import _pure
from pilota.runtime.protobuf.message import Extension, Message, _is_unset, unknown_fields
from pilota.runtime.protobuf.registry import TypeRegistry, well_known
from pilota.runtime.protobuf.spec import (
    BOOL,
    BYTES,
    CLOSED_ENUM,
    DOUBLE,
    ENUM,
    FLOAT,
    GROUP,
    IMPLICIT,
    INT_RANGES,
    KIND_NAMES,
    MAP,
    MESSAGE,
    PACKED,
    REPEATED,
    STRING,
    FieldSpec,
)
from pilota.runtime.types import DecodeError, EncodeError

if TYPE_CHECKING:
    from enum import IntEnum

DEFAULT_MAX_DEPTH = 100
_LONG_KINDS = frozenset(k for k, (low, high) in INT_RANGES.items() if high > 2**32)
_FLOAT32_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]
_F32 = struct.Struct("<f")
# JSON's number syntax, which quoted numbers follow too
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BASE64 = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")
_SKIP: Any = object()  # an unknown enum name that `ignore_unknown` leaves out

# ---- entry points --------------------------------------------------------------------------


def to_dict(
    msg: Message,
    *,
    registry: TypeRegistry | None = None,
    proto_names: bool = False,
    emit_defaults: bool = False,
    enums_as_ints: bool = False,
) -> Any:
    """The ProtoJSON form of `msg` as Python values (dict, list, str, int, float,
    bool, None); see the module docstring."""
    writer = _Writer(registry or well_known(), proto_names, emit_defaults, enums_as_ints)
    try:
        _check_required(msg)
        return writer.message(msg, DEFAULT_MAX_DEPTH)
    except EncodeError as e:
        raise e.within(type(msg).__name__) from None


def to_json(
    msg: Message,
    *,
    registry: TypeRegistry | None = None,
    proto_names: bool = False,
    emit_defaults: bool = False,
    enums_as_ints: bool = False,
    indent: int | None = None,
) -> str:
    """The ProtoJSON text of `msg` (compact unless `indent` is given)."""
    data = to_dict(
        msg, registry=registry, proto_names=proto_names, emit_defaults=emit_defaults,
        enums_as_ints=enums_as_ints,
    )  # fmt: skip
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(data, ensure_ascii=False, allow_nan=False, indent=indent,
                      separators=separators)  # fmt: skip


def from_dict(
    cls: type[Message],
    data: Any,
    *,
    registry: TypeRegistry | None = None,
    ignore_unknown: bool = False,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """A `cls` read from its ProtoJSON form as Python values; see the module docstring."""
    reader = _Reader(registry or well_known(), ignore_unknown)
    try:
        msg = reader.message(cls, data, max_depth)
        _pure.check_initialized(msg, _pure.plan_of(cls))
    except DecodeError as e:
        raise e.within(cls.__name__) from None
    return msg


def from_json(
    cls: type[Message],
    text: str | bytes | bytearray,
    *,
    registry: TypeRegistry | None = None,
    ignore_unknown: bool = False,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """A `cls` read from ProtoJSON text."""
    try:
        data = parse(text)
    except DecodeError as e:
        raise e.within(cls.__name__) from None
    return from_dict(
        cls, data, registry=registry, ignore_unknown=ignore_unknown, max_depth=max_depth
    )


def parse(text: str | bytes | bytearray) -> Any:
    """JSON text as Python values, strictly: numbers that are not integers stay
    `Decimal` (exact), `NaN` and `Infinity` are not JSON, and an object with a key
    twice is marked, to be refused where the path is known."""
    try:
        return json.loads(
            text, parse_float=Decimal, parse_constant=_not_json, object_pairs_hook=_object
        )
    except RecursionError:
        raise DecodeError("the JSON nests too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError, _NotJson) as e:
        raise DecodeError(f"invalid JSON: {e}") from None
    except ValueError:  # int()'s, whose message tells the program how to lift the limit
        limit = sys.get_int_max_str_digits()
        raise DecodeError(f"invalid JSON: an integer of more than {limit} digits") from None


class _Duplicated(dict[str, Any]):
    """A JSON object in which a key appeared more than once (the last value kept)."""

    duplicate: str = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _Duplicated(obj)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.duplicate = key
            break
        seen.add(key)
    return marked


class _NotJson(ValueError):
    """A token Python's JSON reader takes that JSON does not have."""


def _not_json(token: str) -> Any:
    raise _NotJson(f"{token} is not JSON (ProtoJSON writes it as the string {token!r})")


def _check_required(msg: Message) -> None:
    plan = _pure.plan_of(type(msg))
    missing = _pure.missing_required(msg, plan)
    if missing is not None:
        raise EncodeError("a required field is not set", missing)


# ---- per-class tables ---------------------------------------------------------------------


class _Plan:
    """What ProtoJSON needs of a message class: its fields by either name."""

    __slots__ = ("by_name", "cls", "fields", "oneofs", "special")

    def __init__(self, cls: type[Message]) -> None:
        self.cls = cls
        self.fields = cls.__pb_fields__
        self.by_name: dict[str, FieldSpec] = {}
        for spec in self.fields:
            self.by_name[spec.json_name or spec.name] = spec
            self.by_name[spec.proto_name or spec.name] = spec
        self.oneofs = {name: {s.name for s in self.fields if s.oneof == name}
                       for name in cls.__pb_oneofs__}  # fmt: skip
        self.special = cls.__pb_name__ in _SPECIAL


_plans: dict[type, _Plan] = {}


def _plan(cls: type[Message]) -> _Plan:
    plan = _plans.get(cls)
    if plan is None:
        plan = _plans[cls] = _Plan(cls)
    return plan


class _EnumNames:
    """An enum's .proto names: the first name of each number, and every name."""

    __slots__ = ("by_name", "by_number", "null")

    def __init__(self, enum_cls: type[IntEnum]) -> None:
        renamed: dict[str, str] = getattr(enum_cls, "__pb_names__", {})
        self.by_name: dict[str, IntEnum] = {}
        self.by_number: dict[int, str] = {}
        for python_name, member in enum_cls.__members__.items():
            name = renamed.get(python_name, python_name)
            self.by_name[name] = member
            self.by_number.setdefault(int(member), name)
        self.null = getattr(enum_cls, "__pb_name__", "") == "google.protobuf.NullValue"


_enums: dict[type, _EnumNames] = {}


def _enum_names(enum_cls: type[IntEnum]) -> _EnumNames:
    found = _enums.get(enum_cls)
    if found is None:
        found = _enums[enum_cls] = _EnumNames(enum_cls)
    return found


def _takes_null(spec: FieldSpec) -> bool:
    """Whether null is a value of this field's type (Value, NullValue), not "unset"."""
    if spec.kind == MESSAGE:
        return getattr(spec.type, "__pb_name__", "") == "google.protobuf.Value"
    return spec.kind == ENUM and _enum_names(spec.type).null


# ---- writing -------------------------------------------------------------------------------


class _Writer:
    __slots__ = ("emit_defaults", "enums_as_ints", "proto_names", "registry")

    def __init__(
        self, registry: TypeRegistry, proto_names: bool, emit_defaults: bool, enums_as_ints: bool
    ) -> None:
        self.registry = registry
        self.proto_names = proto_names
        self.emit_defaults = emit_defaults
        self.enums_as_ints = enums_as_ints

    def message(self, msg: Message, depth: int) -> Any:
        if depth <= 0:
            raise EncodeError("nesting is too deep (or the message contains itself)")
        plan = _plan(type(msg))
        if plan.special:
            return _SPECIAL[plan.cls.__pb_name__][0](self, msg, depth)
        return self.fields(msg, plan, depth)

    def fields(self, msg: Message, plan: _Plan, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, members in plan.oneofs.items():
            case = getattr(msg, name)
            if case is not None and (
                type(case) is not tuple or len(case) != 2 or case[0] not in members
            ):
                raise EncodeError(
                    f"must be None or (member name, value); got {case!r}", "." + name
                )
        emit_defaults = self.emit_defaults
        for spec in plan.fields:
            if spec.oneof is not None:
                case = getattr(msg, spec.oneof)
                if case is None or case[0] != spec.name:
                    continue
                value = case[1]
            else:
                value = getattr(msg, spec.name)
                if _is_unset(spec, value) and not (
                    emit_defaults and spec.label in (IMPLICIT, REPEATED, PACKED, MAP)
                ):
                    continue
            key = (spec.proto_name or spec.name) if self.proto_names else (
                spec.json_name or spec.name
            )
            try:
                out[key] = self.field(spec, value, depth)
            except EncodeError as e:
                raise e.within("." + key) from None
        for extension, value in self.extensions(msg):
            key = f"[{extension.full_name}]"
            try:
                out[key] = self.field(extension.spec, value, depth)
            except EncodeError as e:
                raise e.within("." + key) from None
        return out

    def extensions(self, msg: Message) -> list[tuple[Extension[Any, Any], Any]]:
        """The extensions set in `msg` and those of the registry's it holds unread, by number."""
        found: dict[int, tuple[Extension[Any, Any], Any]] = dict(
            getattr(msg, "_extensions", None) or {}
        )
        if getattr(msg, "_unknown", b""):
            copy = _Unread()
            copy._unknown = unknown_fields(msg)
            for extension in self.registry.extensions(type(msg)):
                if extension.number not in found:
                    value = _pure.take_extension(copy, extension, msg.__pb_message_set__)
                    if value is not None and value != []:
                        found[extension.number] = (extension, value)
        return [found[number] for number in sorted(found)
                if found[number][1] is not None and found[number][1] != []]  # fmt: skip

    def field(self, spec: FieldSpec, value: Any, depth: int) -> Any:
        label = spec.label
        if label == MAP:
            if not isinstance(value, dict):
                raise EncodeError(f"expected a dict, got {type(value).__name__}")
            key_spec, value_spec = spec.type
            out: dict[str, Any] = {}
            for k, v in value.items():
                try:
                    key = self.map_key(key_spec, k)
                    if v is None:
                        raise EncodeError("a map value cannot be None")
                    out[key] = self.single(value_spec, v, depth)
                except EncodeError as e:
                    raise e.within(f"[{k!r}]") from None
            return out
        if label in (REPEATED, PACKED):
            if not isinstance(value, list | tuple):
                raise EncodeError(f"expected a list, got {type(value).__name__}")
            items = []
            for i, item in enumerate(value):
                try:
                    items.append(self.single(spec, item, depth))
                except EncodeError as e:
                    raise e.within(f"[{i}]") from None
            return items
        if value is None:
            raise EncodeError("is None, but the field has no presence: set its zero value")
        return self.single(spec, value, depth)

    def map_key(self, spec: FieldSpec, key: Any) -> str:
        _pure.write_scalar(bytearray(), spec.kind, key, True)  # checks type and range
        if spec.kind == BOOL:
            return "true" if key else "false"
        return key if spec.kind == STRING else str(int(key))

    def single(self, spec: FieldSpec, value: Any, depth: int) -> Any:
        kind = spec.kind
        if kind in (MESSAGE, GROUP):
            if not isinstance(value, spec.type):
                raise EncodeError(f"expected {spec.type.__name__}, got {type(value).__name__}")
            return self.message(value, depth - 1)
        if kind == ENUM:
            return self.enum(spec, value)
        _pure.write_scalar(bytearray(), kind, value, True)  # checks type, range and UTF-8
        if kind in (STRING, BOOL):
            return value
        if kind == BYTES:
            return base64.b64encode(value).decode("ascii")
        if kind in (DOUBLE, FLOAT):
            return _float_out(float(value), kind == FLOAT)
        if kind in _LONG_KINDS:
            return str(value)
        return int(value)

    def enum(self, spec: FieldSpec, value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EncodeError(f"expected {spec.type.__name__}, got {type(value).__name__}")
        number = int(value)
        closed = spec.type if spec.flags & CLOSED_ENUM else None
        _pure.write_scalar(bytearray(), ENUM, number, True, closed)
        names = _enum_names(spec.type)
        if names.null:
            return None
        if self.enums_as_ints:
            return number
        name = names.by_number.get(number)
        return number if name is None else name


class _Unread:
    """Where a message's unread extensions are decoded without changing the message."""

    __slots__ = ("_unknown",)
    _unknown: bytes


def _float_out(value: float, single: bool) -> Any:
    if single and math.isfinite(value):
        try:
            value = _F32.unpack(_F32.pack(value))[0]
        except OverflowError:  # beyond float32: infinite there, as on the wire
            value = math.copysign(math.inf, value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return _shortest_float32(value) if single else value


def _shortest_float32(value: float) -> float:
    """The float with the fewest digits (6 at least, as Google's writers) that is the
    float32 `value` and not beyond the largest float32 (3.402823466e38 rather than
    3.4028235e38, which Google's readers refuse)."""
    for digits in range(6, 18):
        shortest = float(f"{value:.{digits}g}")
        if abs(shortest) <= _FLOAT32_MAX and _F32.unpack(_F32.pack(shortest))[0] == value:
            return shortest
    return value


# ---- reading -------------------------------------------------------------------------------


class _Reader:
    __slots__ = ("ignore_unknown", "registry")

    def __init__(self, registry: TypeRegistry, ignore_unknown: bool) -> None:
        self.registry = registry
        self.ignore_unknown = ignore_unknown

    def message(self, cls: type[Message], data: Any, depth: int) -> Any:
        if depth <= 0:
            raise DecodeError("nesting is too deep")
        plan = _plan(cls)
        if plan.special:
            return _SPECIAL[cls.__pb_name__][1](self, cls, data, depth)
        msg = _pure.new_message(cls)
        self.merge_fields(msg, plan, _expect_object(data), depth)
        return msg

    def merge_fields(self, msg: Any, plan: _Plan, data: Mapping[str, Any], depth: int) -> None:
        seen: dict[int, str] = {}
        oneofs: dict[str, str] = {}
        for key, value in data.items():
            spec = plan.by_name.get(key)
            extension = None
            if spec is None:
                extension = self.extension(plan.cls, key)
                if extension is None:
                    if self.ignore_unknown:
                        continue
                    raise DecodeError(f"{plan.cls.__pb_name__} has no field {key!r}")
                spec = extension.spec
            try:
                if spec.number in seen:
                    raise DecodeError(f"the field is given twice (also as {seen[spec.number]!r})")
                seen[spec.number] = key
                if value is None and not (_takes_null(spec) and spec.label not in
                                          (REPEATED, PACKED, MAP)):  # fmt: skip
                    continue  # null: not set
                if spec.oneof is not None:
                    other = oneofs.get(spec.oneof)
                    if other is not None:
                        raise DecodeError(f"{other!r} is set too, and both are in oneof "
                                          f"{spec.oneof}")  # fmt: skip
                    oneofs[spec.oneof] = key
                read = self.field(spec, value, depth)
                if read is _SKIP:
                    continue
                if extension is not None:
                    extension.set(msg, read)
                elif spec.oneof is not None:
                    setattr(msg, spec.oneof, (spec.name, read))
                else:
                    setattr(msg, spec.name, read)
            except DecodeError as e:
                raise e.within("." + key) from None

    def extension(self, cls: type[Message], key: str) -> Extension[Any, Any] | None:
        if len(key) > 2 and key[0] == "[" and key[-1] == "]":
            return self.registry.extension(cls, key[1:-1])
        return None

    def field(self, spec: FieldSpec, value: Any, depth: int) -> Any:
        label = spec.label
        if label == MAP:
            return self.map(spec, _expect_object(value), depth)
        if label in (REPEATED, PACKED):
            if not isinstance(value, list):
                raise DecodeError(f"expected a list, got {_json_type(value)}")
            items = []
            for i, item in enumerate(value):
                try:
                    if item is None and not _takes_null(spec):
                        raise DecodeError("null is not allowed in a list")
                    read = self.single(spec, item, depth)
                except DecodeError as e:
                    raise e.within(f"[{i}]") from None
                if read is not _SKIP:
                    items.append(read)
            return items
        return self.single(spec, value, depth)

    def map(self, spec: FieldSpec, data: Mapping[str, Any], depth: int) -> dict[Any, Any]:
        key_spec, value_spec = spec.type
        out: dict[Any, Any] = {}
        for text, value in data.items():
            try:
                key = _map_key(key_spec, text)
                if key in out:
                    raise DecodeError("the key is given twice")
                if value is None and not _takes_null(value_spec):
                    raise DecodeError("a map value cannot be null")
                read = self.single(value_spec, value, depth)
            except DecodeError as e:
                raise e.within(f"[{text!r}]") from None
            if read is not _SKIP:
                out[key] = read
        return out

    def single(self, spec: FieldSpec, value: Any, depth: int) -> Any:
        kind = spec.kind
        if kind in (MESSAGE, GROUP):
            return self.message(spec.type, value, depth - 1)
        if kind == ENUM:
            return self.enum(spec, value)
        if kind == STRING:
            return _text(value)
        if kind == BOOL:
            if value is True or value is False:
                return value
            raise DecodeError(f"expected true or false, got {_json_type(value)}")
        if kind == BYTES:
            return _bytes(value)
        if kind in (DOUBLE, FLOAT):
            return _float_in(value, kind == FLOAT)
        return _integer(value, kind)

    def enum(self, spec: FieldSpec, value: Any) -> Any:
        enum_cls = spec.type
        names = _enum_names(enum_cls)
        if value is None and names.null:
            return enum_cls(0)
        if isinstance(value, str):
            member = names.by_name.get(value)
            if member is not None:
                return member
            if self.ignore_unknown:
                return _SKIP
            raise DecodeError(f"{enum_cls.__name__} has no value named {value!r}")
        number = _integer(value, ENUM)
        if spec.flags & CLOSED_ENUM and number not in enum_cls._value2member_map_:
            if self.ignore_unknown:
                return _SKIP
            raise DecodeError(f"{number} is not a value of the closed enum {enum_cls.__name__}")
        return enum_cls(number)


def _expect_object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DecodeError(f"expected an object, got {_json_type(value)}")
    if isinstance(value, _Duplicated):
        raise DecodeError(f"the key {value.duplicate!r} is given twice")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return str(value).lower()
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"expected a string, got {_json_type(value)}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise DecodeError("the string holds an unpaired surrogate (not UTF-8)") from None
    return value


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise DecodeError(f"expected base64 text, got {_json_type(value)}")
    if not _BASE64.fullmatch(value):
        raise DecodeError("invalid base64")
    stripped = value.rstrip("=")
    if len(value) != len(stripped) and len(value) % 4:
        raise DecodeError("invalid base64 (badly padded)")
    if len(stripped) % 4 == 1:
        raise DecodeError("invalid base64 (truncated)")
    standard = stripped.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        raise DecodeError("invalid base64") from None


def _number(value: Any) -> int | float | Decimal:
    """A JSON number, or a string holding one (with JSON's syntax)."""
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value):
            raise DecodeError(f"expected a number, got {value!r}")
        return int(value) if value.lstrip("-").isdigit() and len(value) < 40 else Decimal(value)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    raise DecodeError(f"expected a number, got {_json_type(value)}")


def _shown(number: Any) -> str:
    """A number for an error message, shortened if it is long."""
    text = str(number)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


def _integer(value: Any, kind: int) -> int:
    number = _number(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise DecodeError(f"{_shown(number)} is not an integer")
        number = int(number)
    elif isinstance(number, Decimal):
        if not number.is_finite() or number.adjusted() > 30:
            raise DecodeError(f"{_shown(number)} is out of range for {KIND_NAMES[kind]}")
        # A number with a fraction or an exponent is read as a double, as Google's
        # parsers (upb, json_format) read it: 1.2345678901234568e+18 is then the
        # double's 1234567890123456768, the same as from_dict(json.loads(text)).
        double = float(number)
        if not double.is_integer():
            raise DecodeError(f"{_shown(number)} is not an integer")
        number = int(double)
    low, high = INT_RANGES[kind]
    if not low <= number <= high:
        raise DecodeError(f"{_shown(number)} is out of range for {KIND_NAMES[kind]}")
    return number


def _float_in(value: Any, single: bool) -> float:
    if isinstance(value, float):  # a Python value (from_dict): NaN and inf are fine
        result = value
    else:
        if value == "NaN":
            return math.nan
        if value == "Infinity":
            return math.inf
        if value == "-Infinity":
            return -math.inf
        number = _number(value)
        try:
            result = float(number)
        except OverflowError:
            result = math.inf
        if math.isinf(result):
            raise DecodeError(
                f"{_shown(value)} is out of range for {'float' if single else 'double'}"
            )
    if single and math.isfinite(result):
        try:  # the nearest float32; one that rounds to infinity is out of range
            result = float(_F32.unpack(_F32.pack(result))[0])
        except OverflowError:
            raise DecodeError(f"{_shown(value)} is out of range for float") from None
    return result


def _map_key(spec: FieldSpec, text: str) -> Any:
    kind = spec.kind
    if kind == STRING:
        return _text(text)
    if kind == BOOL:
        if text == "true":
            return True
        if text == "false":
            return False
        raise DecodeError(f"a bool map key is 'true' or 'false', not {text!r}")
    return _integer(text, kind)


# ---- the well-known types ------------------------------------------------------------------
# Each has a writer and a reader; they are found by the class's full name, so a copy of
# the well-known types generated into a project gets them too.

MIN_TIMESTAMP = -62_135_596_800  # 0001-01-01T00:00:00Z
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_DURATION = 315_576_000_000  # 10000 years, in seconds
_NANOS = 1_000_000_000
_EPOCH_DAY = 719_163  # date(1970, 1, 1).toordinal()
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)
_DURATION = re.compile(r"(-)?([0-9]+)(?:\.([0-9]{1,9}))?s")


def _fraction(nanos: int) -> str:
    """Nanoseconds as 0, 3, 6 or 9 digits of fraction (with the point)."""
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1000 == 0:
        return f".{nanos // 1000:06d}"
    return f".{nanos:09d}"


def format_timestamp(seconds: int, nanos: int) -> str:
    """RFC 3339 in UTC, as ProtoJSON writes a Timestamp; EncodeError when out of range."""
    if not MIN_TIMESTAMP <= seconds <= MAX_TIMESTAMP:
        raise EncodeError(f"a Timestamp of {seconds} seconds is outside years 1 to 9999")
    if not 0 <= nanos < _NANOS:
        raise EncodeError(f"a Timestamp's nanos must be in 0..999999999, not {nanos}")
    from datetime import date

    days, rest = divmod(seconds, 86400)
    day = date.fromordinal(_EPOCH_DAY + days)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{day.year:04d}-{day.month:02d}-{day.day:02d}T{hours:02d}:{minutes:02d}:"
            f"{secs:02d}{_fraction(nanos)}Z")  # fmt: skip


def parse_timestamp(text: str) -> tuple[int, int]:
    """(seconds, nanos) from RFC 3339 text with `Z` or an offset; DecodeError if invalid."""
    from datetime import date

    match = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise DecodeError(f"expected an RFC 3339 timestamp like '1972-01-01T10:00:20.021Z', "
                          f"got {text!r}")  # fmt: skip
    year, month, day, hours, minutes, secs = (int(match.group(i)) for i in range(1, 7))
    try:
        ordinal = date(year, month, day).toordinal()
    except ValueError:
        raise DecodeError(f"{text!r} is not a date") from None
    if hours > 23 or minutes > 59 or secs > 59:
        raise DecodeError(f"{text!r} is not a time of day")
    seconds = (ordinal - _EPOCH_DAY) * 86400 + hours * 3600 + minutes * 60 + secs
    if match.group(8):
        offset_hours, offset_minutes = int(match.group(9)), int(match.group(10))
        if offset_hours > 23 or offset_minutes > 59:
            raise DecodeError(f"{text!r} has an invalid offset")
        offset = offset_hours * 3600 + offset_minutes * 60
        seconds += -offset if match.group(8) == "+" else offset
    if not MIN_TIMESTAMP <= seconds <= MAX_TIMESTAMP:
        raise DecodeError(f"{text!r} is outside years 1 to 9999")
    return seconds, int((match.group(7) or "").ljust(9, "0"))


def format_duration(seconds: int, nanos: int) -> str:
    """A Duration as ProtoJSON writes it (`"-1.500s"`); EncodeError when invalid."""
    if not -MAX_DURATION <= seconds <= MAX_DURATION:
        raise EncodeError(f"a Duration of {seconds} seconds is longer than 10000 years")
    if not -_NANOS < nanos < _NANOS or (seconds > 0 > nanos) or (seconds < 0 < nanos):
        raise EncodeError(f"a Duration's nanos must be in -999999999..999999999 with the "
                          f"sign of its seconds, not {nanos}")  # fmt: skip
    sign = "-" if seconds < 0 or nanos < 0 else ""
    return f"{sign}{abs(seconds)}{_fraction(abs(nanos))}s"


def parse_duration(text: str) -> tuple[int, int]:
    """(seconds, nanos) from ProtoJSON's Duration text; DecodeError if invalid."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise DecodeError(f"expected a duration like '1.5s', got {text!r}")
    digits = match.group(2)
    seconds = int(digits) if len(digits) <= 20 else MAX_DURATION + 1
    nanos = int((match.group(3) or "").ljust(9, "0"))
    if seconds > MAX_DURATION:
        raise DecodeError(f"{text!r} is longer than 10000 years")
    if match.group(1):
        seconds, nanos = -seconds, -nanos
    return seconds, nanos


def format_field_mask(paths: list[str]) -> str:
    """FieldMask paths as ProtoJSON writes them: lowerCamelCase, joined by commas.
    EncodeError for a path that would not read back the same."""
    out = []
    for path in paths:
        if not isinstance(path, str):
            raise EncodeError(f"a FieldMask path must be a str, not {type(path).__name__}")
        if not path or re.search(r"[A-Z,]|_(?![a-z])", path):
            raise EncodeError(f"the FieldMask path {path!r} does not survive ProtoJSON: it is "
                              f"empty, has a capital or a comma, or '_' not before a small "
                              f"letter")  # fmt: skip
        out.append(re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path))
    return ",".join(out)


def parse_field_mask(text: str) -> list[str]:
    """FieldMask paths from ProtoJSON's text (camelCase paths joined by commas)."""
    if not isinstance(text, str):
        raise DecodeError(f"expected a field mask string, got {_json_type(text)}")
    if not text:
        return []
    paths = []
    for path in text.split(","):
        if "_" in path:
            raise DecodeError(f"a FieldMask path in JSON is camelCase, without '_': {path!r}")
        paths.append(re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), path))
    return paths


def _any_out(w: _Writer, msg: Any, depth: int) -> Any:
    type_url, value = msg.type_url, msg.value
    if not type_url and not value:
        return {}
    name = type_url.rpartition("/")[2]
    cls = w.registry.message(name)
    if cls is None:
        raise EncodeError(f"the type registry does not know {name!r} (the Any's type)")
    try:
        inner = cls.from_bytes(value, max_depth=depth)
    except DecodeError as e:
        raise EncodeError(f"the Any's value is not a valid {name}: {e}") from None
    written = w.message(inner, depth - 1)
    if _plan(cls).special:
        return {"@type": type_url, "value": written}
    return {"@type": type_url, **written}


def _any_in(r: _Reader, cls: type[Message], data: Any, depth: int) -> Any:
    obj = _expect_object(data)
    msg: Any = _pure.new_message(cls)
    if not obj:
        return msg
    type_url = obj.get("@type")
    if not isinstance(type_url, str):
        raise DecodeError("an Any needs its '@type' (a type URL string)")
    name = type_url.rpartition("/")[2]
    inner_cls = r.registry.message(name)
    if inner_cls is None:
        raise DecodeError(f"the type registry does not know {name!r} (the Any's type)")
    rest = {k: v for k, v in obj.items() if k != "@type"}
    try:
        if _plan(inner_cls).special:
            if set(rest) != {"value"}:
                raise DecodeError(f"an Any holding a {name} has one more key: 'value'")
            inner = r.message(inner_cls, rest["value"], depth - 1)
        else:
            inner = r.message(inner_cls, rest, depth - 1)
        msg.value = inner.to_bytes()
    except DecodeError as e:
        raise e.within(f"<{name}>") from None
    except EncodeError as e:
        raise DecodeError(f"cannot be held in an Any: {e}") from None
    msg.type_url = type_url
    return msg


def _timestamp_out(w: _Writer, msg: Any, depth: int) -> Any:
    return format_timestamp(msg.seconds, msg.nanos)


def _timestamp_in(r: _Reader, cls: type[Message], data: Any, depth: int) -> Any:
    msg: Any = _pure.new_message(cls)
    msg.seconds, msg.nanos = parse_timestamp(data)
    return msg


def _duration_out(w: _Writer, msg: Any, depth: int) -> Any:
    return format_duration(msg.seconds, msg.nanos)


def _duration_in(r: _Reader, cls: type[Message], data: Any, depth: int) -> Any:
    msg: Any = _pure.new_message(cls)
    msg.seconds, msg.nanos = parse_duration(data)
    return msg


def _field_mask_out(w: _Writer, msg: Any, depth: int) -> Any:
    return format_field_mask(msg.paths)


def _field_mask_in(r: _Reader, cls: type[Message], data: Any, depth: int) -> Any:
    msg: Any = _pure.new_message(cls)
    msg.paths = parse_field_mask(data)
    return msg


def _struct_out(w: _Writer, msg: Any, depth: int) -> Any:
    value_cls = _value_spec(type(msg)).type
    out = {}
    for key, value in msg.fields.items():
        try:
            _text_out(key)
            if not isinstance(value, value_cls):
                raise EncodeError(f"expected {value_cls.__name__}, got {type(value).__name__}")
            out[key] = w.message(value, depth - 1)
        except EncodeError as e:
            raise e.within(f"[{key!r}]") from None
    return out


def _struct_in(r: _Reader, cls: type[Message], data: Any, depth: int) -> Any:
    msg: Any = _pure.new_message(cls)
    value_cls = _value_spec(cls).type
    for key, value in _expect_object(data).items():
        try:
            msg.fields[_text(key)] = r.message(value_cls, value, depth - 1)
        except DecodeError as e:
            raise e.within(f"[{key!r}]") from None
    return msg


def _value_spec(struct_cls: type[Message]) -> FieldSpec:
    """The map value spec of a Struct class's `fields` (its Value class)."""
    result: FieldSpec = struct_cls.__pb_fields__[0].type[1]
    return result


def _text_out(value: Any) -> None:
    _pure.write_scalar(bytearray(), STRING, value, True)


def _value_out(w: _Writer, msg: Any, depth: int) -> Any:
    case = msg.kind
    if case is None:
        raise EncodeError("a Value must hold one of its kinds (null_value for null)")
    name, value = case
    if name == "null_value":
        return None
    if name == "number_value":
        if not isinstance(value, float | int) or isinstance(value, bool):
            raise EncodeError(f"expected float, got {type(value).__name__}", ".number_value")
        if not math.isfinite(value):
            raise EncodeError("NaN and infinities are not JSON numbers", ".number_value")
        return value
    if name == "string_value":
        _text_out(value)
        return value
    if name == "bool_value":
        if not isinstance(value, bool):
            raise EncodeError(f"expected bool, got {type(value).__name__}", ".bool_value")
        return value
    if name in ("struct_value", "list_value"):
        spec = next(s for s in type(msg).__pb_fields__ if s.name == name)
        if not isinstance(value, spec.type):
            raise EncodeError(f"expected {spec.type.__name__}, got {type(value).__name__}",
                              "." + name)  # fmt: skip
        return w.message(value, depth - 1)
    raise EncodeError(f"unknown kind {name!r}", ".kind")


def _value_in(r: _Reader, cls: type[Message], data: Any, depth: int) -> Any:
    msg: Any = _pure.new_message(cls)
    if data is None:
        msg.kind = ("null_value", _field_type(cls, "null_value")(0))
    elif data is True or data is False:
        msg.kind = ("bool_value", data)
    elif isinstance(data, str):
        msg.kind = ("string_value", _text(data))
    elif isinstance(data, int | float | Decimal):
        try:
            number = float(data)
        except OverflowError:
            number = math.inf
        if math.isinf(number) and not isinstance(data, float):
            raise DecodeError(f"{_shown(data)} is out of range for a double")
        msg.kind = ("number_value", number)
    elif isinstance(data, Mapping):
        msg.kind = ("struct_value", r.message(_field_type(cls, "struct_value"), data, depth - 1))
    elif isinstance(data, list | tuple):
        msg.kind = ("list_value", r.message(_field_type(cls, "list_value"), data, depth - 1))
    else:
        raise DecodeError(f"{type(data).__name__} is not a JSON value")
    return msg


def _field_type(cls: type[Message], name: str) -> Any:
    return next(s.type for s in cls.__pb_fields__ if s.name == name)


def _list_value_out(w: _Writer, msg: Any, depth: int) -> Any:
    value_cls = msg.__pb_fields__[0].type
    items = []
    for i, value in enumerate(msg.values):
        try:
            if not isinstance(value, value_cls):
                raise EncodeError(f"expected {value_cls.__name__}, got {type(value).__name__}")
            items.append(w.message(value, depth - 1))
        except EncodeError as e:
            raise e.within(f"[{i}]") from None
    return items


def _list_value_in(r: _Reader, cls: type[Message], data: Any, depth: int) -> Any:
    if not isinstance(data, list | tuple):
        raise DecodeError(f"expected a list, got {_json_type(data)}")
    msg: Any = _pure.new_message(cls)
    value_cls = cls.__pb_fields__[0].type
    for i, value in enumerate(data):
        try:
            msg.values.append(r.message(value_cls, value, depth - 1))
        except DecodeError as e:
            raise e.within(f"[{i}]") from None
    return msg


def _wrapper_out(w: _Writer, msg: Any, depth: int) -> Any:
    spec = msg.__pb_fields__[0]
    return w.single(spec, msg.value, depth)


def _wrapper_in(r: _Reader, cls: type[Message], data: Any, depth: int) -> Any:
    msg: Any = _pure.new_message(cls)
    msg.value = r.single(cls.__pb_fields__[0], data, depth)
    return msg


_Out = Callable[[_Writer, Any, int], Any]
_In = Callable[[_Reader, type[Message], Any, int], Any]
_SPECIAL: dict[str, tuple[_Out, _In]] = {
    "google.protobuf.Any": (_any_out, _any_in),
    "google.protobuf.Timestamp": (_timestamp_out, _timestamp_in),
    "google.protobuf.Duration": (_duration_out, _duration_in),
    "google.protobuf.FieldMask": (_field_mask_out, _field_mask_in),
    "google.protobuf.Struct": (_struct_out, _struct_in),
    "google.protobuf.Value": (_value_out, _value_in),
    "google.protobuf.ListValue": (_list_value_out, _list_value_in),
    **{
        f"google.protobuf.{name}Value": (_wrapper_out, _wrapper_in)
        for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String")
    },
    "google.protobuf.BytesValue": (_wrapper_out, _wrapper_in),
}

__all__ = [
    "DEFAULT_MAX_DEPTH", "MAX_DURATION", "MAX_TIMESTAMP", "MIN_TIMESTAMP", "format_duration",
    "format_field_mask", "format_timestamp", "from_dict", "from_json", "parse",
    "parse_duration", "parse_field_mask", "parse_timestamp", "to_dict", "to_json",
]  # fmt: skip
