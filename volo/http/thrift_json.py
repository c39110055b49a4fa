"""Thrift structs as HTTP APIs write them in JSON: objects keyed by field name.

Apache's JSON protocol (`to_bytes("json")`) keys fields by id and tags every
value with its type, which no HTTP client expects. HTTP APIs generated from
Thrift (Hertz's convention, Kitex's JSON generic calls) write a struct as an
object of its set fields keyed by their IDL names; this module is that
mapping, driven by `__thrift_spec__`:

- bool, string and double are JSON's own (a double that is NaN or infinite is
  the string "NaN", "Infinity" or "-Infinity"); integers of every width are
  numbers; an enum is its number (its member name is read too);
- binary is base64 (with padding; read with or without); uuid its text form;
- list and set are arrays; a map is an object whose keys are the key values as
  text (`{"1": "a"}` for `map<i32, string>`); keys that are structs or
  containers cannot be written;
- unset (None) fields are left out. Reading, unknown keys are ignored, absent
  fields get their defaults, and a missing required field, a value of the
  wrong type or out of range, or a union without exactly one member raise
  `DecodeError` naming the field's path (`.items[2].name`).
"""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from enum import IntEnum
from typing import Any, TypeVar

from pilota.runtime.base import Struct, unknown_enum_member
from pilota.runtime.types import (
    BINARY,
    BOOL,
    DOUBLE,
    ENUM,
    INT_RANGES,
    LIST,
    MAP,
    REQUIRED,
    SET,
    STRING,
    STRUCT,
    UUID,
    DecodeError,
    EncodeError,
    FieldSpec,
    TypeSpec,
    type_name,
    with_article,
)

S = TypeVar("S", bound=Struct)
MAX_DEPTH = 64
_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _key(f: FieldSpec) -> str:
    return f.idl_name or f.name


def to_jsonable(obj: Struct) -> dict[str, Any]:
    """`obj` as JSON values (dicts, lists, str, numbers, bools); raises EncodeError."""
    return _struct_out(obj, 0)


def value_to_jsonable(t: TypeSpec, value: Any) -> Any:
    """A value of Thrift type `t` (a FieldSpec's type) as JSON values."""
    return _value_out(t, value, 0)


def value_from_jsonable(t: TypeSpec, raw: Any) -> Any:
    """A value of Thrift type `t` from JSON values; raises DecodeError."""
    return _value_in(t, raw, 0)


def integer(code: int, raw: Any) -> int:
    """`raw` as an integer of Thrift type `code` (I32 ...), checked; raises DecodeError."""
    return _integer(code, raw)


def enum_member(enum_cls: type[IntEnum], raw: Any) -> IntEnum:
    """A member of `enum_cls` from its name or number; raises DecodeError."""
    return _enum(enum_cls, raw)


def _struct_out(obj: Struct, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise EncodeError(f"nested deeper than {MAX_DEPTH}")
    out: dict[str, Any] = {}
    for f in type(obj).__thrift_spec__:
        value = getattr(obj, f.name, None)
        if value is None:
            if f.required == REQUIRED:
                raise EncodeError("required field is not set", f".{f.name}")
            continue
        try:
            out[_key(f)] = _value_out(f.type, value, depth)
        except EncodeError as exc:
            raise exc.within(f".{f.name}") from None
    return out


def _value_out(t: TypeSpec, value: Any, depth: int) -> Any:
    code = t if isinstance(t, int) else t[0]
    if code == DOUBLE:
        if isinstance(value, float) and not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return value
    if code == BINARY:
        return base64.b64encode(value).decode("ascii")
    if code == UUID:
        return str(value)
    if code == ENUM:
        return int(value)
    if code == STRUCT:
        return _struct_out(value, depth + 1)
    if code in (LIST, SET):
        element = t[1]  # type: ignore[index]
        return [_value_out(element, item, depth + 1) for item in value]
    if code == MAP:
        key_type, value_type = t[1], t[2]  # type: ignore[index]
        return {
            _key_out(key_type, k): _value_out(value_type, v, depth + 1) for k, v in value.items()
        }
    return value  # bool, integers, string


def _key_out(t: TypeSpec, key: Any) -> str:
    code = t if isinstance(t, int) else t[0]
    if code == BOOL:
        return "true" if key else "false"
    if code == ENUM:
        return str(int(key))
    if code in (STRUCT, LIST, SET, MAP):
        raise EncodeError(f"a map key that is {with_article(type_name(t))} has no JSON form")
    value = _value_out(t, key, 0)
    return value if isinstance(value, str) else str(value)


def from_jsonable(cls: type[S], data: Any) -> S:
    """A `cls` from JSON values (as `json.loads` returns them); raises DecodeError."""
    try:
        return _struct_in(cls, data, 0)
    except DecodeError as exc:
        raise exc.within(cls.__name__) from None


def _fail(expected: str, value: Any) -> DecodeError:
    return DecodeError(f"expected {expected}, got {json_type(value)}")


def json_type(value: Any) -> str:
    """What JSON calls `value`'s type, with an article: for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _struct_in(cls: type[S], data: Any, depth: int) -> S:
    if depth > MAX_DEPTH:
        raise DecodeError(f"nested deeper than {MAX_DEPTH}")
    if not isinstance(data, dict):
        raise _fail("an object", data)
    values: dict[str, Any] = {}
    for f in cls.__thrift_spec__:
        key = _key(f)
        raw = data.get(key, data.get(f.name)) if key != f.name else data.get(key)
        if raw is None:
            if f.required == REQUIRED:
                raise DecodeError("required field is missing", f".{key}")
            continue
        try:
            values[f.name] = _value_in(f.type, raw, depth)
        except DecodeError as exc:
            raise exc.within(f".{key}") from None
    try:
        return cls(**values)
    except TypeError as exc:  # a union given other than one member
        raise DecodeError(str(exc)) from None


def _value_in(t: TypeSpec, raw: Any, depth: int) -> Any:
    code = t if isinstance(t, int) else t[0]
    if code == BOOL:
        if not isinstance(raw, bool):
            raise _fail("true or false", raw)
        return raw
    if code in INT_RANGES and code != ENUM:
        return _integer(code, raw)
    if code == DOUBLE:
        if isinstance(raw, str) and raw in _SPECIAL_DOUBLES:
            return _SPECIAL_DOUBLES[raw]
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise _fail("a number", raw)
        return float(raw)
    if code == STRING:
        if not isinstance(raw, str):
            raise _fail("a string", raw)
        return raw
    if code == BINARY:
        if not isinstance(raw, str):
            raise _fail("base64 text", raw)
        try:
            return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
        except binascii.Error:
            raise DecodeError("expected base64 text") from None
    if code == UUID:
        if not isinstance(raw, str):
            raise _fail("a UUID", raw)
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise DecodeError(f"expected a UUID, got {raw!r}") from None
    if code == ENUM:
        return _enum(t[1], raw)  # type: ignore[index]
    if code == STRUCT:
        return _struct_in(t[1], raw, depth + 1)  # type: ignore[index]
    if code in (LIST, SET):
        if not isinstance(raw, list):
            raise _fail("an array", raw)
        element = t[1]  # type: ignore[index]
        items = []
        for i, item in enumerate(raw):
            try:
                items.append(_value_in(element, item, depth + 1))
            except DecodeError as exc:
                raise exc.within(f"[{i}]") from None
        if code == LIST:
            return items
        try:
            return set(items)
        except TypeError:
            raise DecodeError("set elements must be hashable") from None
    if code == MAP:
        if not isinstance(raw, dict):
            raise _fail("an object", raw)
        key_type, value_type = t[1], t[2]  # type: ignore[index]
        result = {}
        for k, v in raw.items():
            try:
                result[_key_in(key_type, k)] = _value_in(value_type, v, depth + 1)
            except DecodeError as exc:
                raise exc.within(f".{k}") from None
        return result
    raise DecodeError(f"unknown type code {code}")  # pragma: no cover - generated specs only


def _integer(code: int, raw: Any) -> int:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _fail("an integer", raw)
    low, high = INT_RANGES[code]
    if not low <= raw <= high:
        raise DecodeError(f"{raw} is out of range ({low} to {high})")
    return raw


def _enum(enum_cls: type[IntEnum], raw: Any) -> IntEnum:
    if isinstance(raw, str):
        member = enum_cls.__members__.get(raw)
        if member is None:
            names = ", ".join(enum_cls.__members__)
            raise DecodeError(f"{raw!r} is not a member of {enum_cls.__name__} ({names})")
        return member
    number = _integer(ENUM, raw)
    try:
        return enum_cls(number)
    except ValueError:
        unknown = unknown_enum_member(enum_cls, number)
        assert unknown is not None  # in the i32 range: checked above
        return unknown


def _key_in(t: TypeSpec, key: str) -> Any:
    code = t if isinstance(t, int) else t[0]
    if code == BOOL:
        if key not in ("true", "false"):
            raise DecodeError(f"expected a key of true or false, got {key!r}")
        return key == "true"
    if code in INT_RANGES:
        try:
            number = int(key)
        except ValueError:
            raise DecodeError(f"expected an integer key, got {key!r}") from None
        return _enum(t[1], number) if code == ENUM else _integer(code, number)  # type: ignore[index]
    if code == DOUBLE:
        try:
            return float(key)
        except ValueError:
            raise DecodeError(f"expected a number key, got {key!r}") from None
    return _value_in(t, key, 0)
