"""Helpers of the well-known types: the bases their generated classes derive from.

The generator gives the classes of google/protobuf/{any,timestamp,duration,
field_mask,struct,wrappers}.proto these bases (chosen by full name), so the
helpers survive regeneration of `pilota.runtime.protobuf.wkt`:

    from datetime import UTC, datetime, timedelta
    from pilota.runtime.protobuf.well_known import unwrap
    from pilota.runtime.protobuf.wkt.google.protobuf import any as any_pb
    from pilota.runtime.protobuf.wkt.google.protobuf import (
        duration, field_mask, struct, timestamp, wrappers)

    ts = timestamp.Timestamp.from_datetime(datetime.now(UTC))   # aware datetimes only
    ts.to_datetime()                       # aware, UTC (or the tz given); microseconds
    timestamp.Timestamp.now(); ts.to_nanoseconds(); Timestamp.from_nanoseconds(n)
    ts.to_rfc3339(); Timestamp.from_rfc3339("1972-01-01T10:00:20.021+02:00")

    d = duration.Duration.from_timedelta(timedelta(seconds=1.5))
    d.to_timedelta(); d.to_nanoseconds(); Duration.from_nanoseconds(n); str(d) == "1.500s"

    packed = any_pb.Any.pack(order)        # type URL "type.googleapis.com/shop.Order"
    packed.is_(Order); packed.unpack(Order); packed.type_name
    registry.unpack(packed)                # the class found in a TypeRegistry

    s = struct.Struct.from_python({"a": [1, "x", None]}); s.to_python()
    struct.Value.from_python(3.5).to_python(); struct.ListValue.from_python([1, 2])

    wrappers.Int32Value.wrap(5)            # None for None; unwrap(msg.boxed) -> int | None

    mask = field_mask.FieldMask(paths=["a.b", "a", "c"])
    mask.canonical(); mask.union(other); mask.intersect(other); mask.covers("a.b.c")
    FieldMask.for_message(Order); mask.is_valid_for(Order)

Empty needs no helper. The ProtoJSON forms of these types are in `json_format`
(found by full name, so they also apply to copies generated with a project).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from pilota.runtime.protobuf import json_format
from pilota.runtime.protobuf.message import DEFAULT_MAX_DEPTH, Message
from pilota.runtime.protobuf.spec import GROUP, MAP, MESSAGE, PACKED, REPEATED

if TYPE_CHECKING:
    from pilota.runtime.protobuf.registry import TypeRegistry

M = TypeVar("M", bound=Message)
T = TypeVar("T")
_NANOS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SpecialJsonForm(Message):
    """A well-known type whose ProtoJSON form is not an object (a string, a number,
    a list, any JSON value): `to_dict` and `from_dict` give and take that form."""

    __slots__ = ()

    def to_dict(
        self,
        *,
        registry: TypeRegistry | None = None,
        proto_names: bool = False,
        emit_defaults: bool = False,
        enums_as_ints: bool = False,
    ) -> Any:
        return json_format.to_dict(
            self, registry=registry, proto_names=proto_names, emit_defaults=emit_defaults,
            enums_as_ints=enums_as_ints,
        )  # fmt: skip

    @classmethod
    def from_dict(
        cls,
        data: Any,
        *,
        registry: TypeRegistry | None = None,
        ignore_unknown: bool = False,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> Self:
        return json_format.from_dict(  # type: ignore[no-any-return]
            cls, data, registry=registry, ignore_unknown=ignore_unknown, max_depth=max_depth
        )


# ---- Timestamp and Duration ----------------------------------------------------------------


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


class TimestampBase(SpecialJsonForm):
    """google.protobuf.Timestamp: a point in time, as seconds and nanoseconds since
    1970-01-01T00:00:00Z (years 1 to 9999)."""

    __slots__ = ()
    seconds: int
    nanos: int
    if TYPE_CHECKING:  # the generated class's, which the helpers call

        def __init__(self, *, seconds: int = 0, nanos: int = 0) -> None: ...

    @classmethod
    def from_datetime(cls, when: datetime) -> Self:
        """The Timestamp of an aware datetime (a naive one is refused: its zone is unknown)."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(
                "a naive datetime has no time zone; give it one (tzinfo=UTC)"
            )
        return cls.from_nanoseconds(_microseconds(when - _EPOCH) * 1000)

    def to_datetime(self, tz: tzinfo = UTC) -> datetime:
        """The aware datetime (in `tz`, UTC by default), to the microsecond (truncated)."""
        json_format.format_timestamp(self.seconds, self.nanos)  # checks the range
        utc = _EPOCH + timedelta(seconds=self.seconds, microseconds=self.nanos // 1000)
        return utc.astimezone(tz)

    @classmethod
    def from_nanoseconds(cls, nanoseconds: int) -> Self:
        """The Timestamp `nanoseconds` after (or before) the epoch."""
        seconds, nanos = divmod(nanoseconds, _NANOS)
        return cls(seconds=seconds, nanos=nanos)

    def to_nanoseconds(self) -> int:
        return self.seconds * _NANOS + self.nanos

    @classmethod
    def now(cls) -> Self:
        return cls.from_nanoseconds(time.time_ns())

    @classmethod
    def from_rfc3339(cls, text: str) -> Self:
        """Reads RFC 3339 text as ProtoJSON does (`Z` or an offset; up to 9 digits of
        fraction); raises `pilota.DecodeError`."""
        seconds, nanos = json_format.parse_timestamp(text)
        return cls(seconds=seconds, nanos=nanos)

    def to_rfc3339(self) -> str:
        """RFC 3339 in UTC as ProtoJSON writes it; raises `pilota.EncodeError` out of range."""
        return json_format.format_timestamp(self.seconds, self.nanos)

    def __str__(self) -> str:
        return self.to_rfc3339()


class DurationBase(SpecialJsonForm):
    """google.protobuf.Duration: a signed span of time, as seconds and nanoseconds of
    the same sign (at most 10000 years)."""

    __slots__ = ()
    seconds: int
    nanos: int
    if TYPE_CHECKING:

        def __init__(self, *, seconds: int = 0, nanos: int = 0) -> None: ...

    @classmethod
    def from_timedelta(cls, delta: timedelta) -> Self:
        return cls.from_nanoseconds(_microseconds(delta) * 1000)

    def to_timedelta(self) -> timedelta:
        """The timedelta, to the microsecond (truncated toward zero)."""
        micros = abs(self.nanos) // 1000
        return timedelta(seconds=self.seconds, microseconds=micros if self.nanos >= 0 else -micros)

    @classmethod
    def from_nanoseconds(cls, nanoseconds: int) -> Self:
        seconds, nanos = divmod(abs(nanoseconds), _NANOS)
        sign = -1 if nanoseconds < 0 else 1
        return cls(seconds=sign * seconds, nanos=sign * nanos)

    def to_nanoseconds(self) -> int:
        return self.seconds * _NANOS + self.nanos

    def __str__(self) -> str:
        """As ProtoJSON writes it: `"1.500s"`."""
        return json_format.format_duration(self.seconds, self.nanos)


# ---- Any ------------------------------------------------------------------------------------


class AnyBase(Message):
    """google.protobuf.Any: a message of any type, as its type URL and its encoding."""

    __slots__ = ()
    type_url: str
    value: bytes
    if TYPE_CHECKING:

        def __init__(self, *, type_url: str = "", value: bytes = b"") -> None: ...

    @classmethod
    def pack(
        cls,
        message: Message,
        type_url_prefix: str = "type.googleapis.com/",
        *,
        deterministic: bool = False,
    ) -> Self:
        """An Any holding `message`: its encoding, under `type_url_prefix` + its full name."""
        prefix = type_url_prefix if type_url_prefix.endswith("/") else type_url_prefix + "/"
        return cls(
            type_url=prefix + type(message).__pb_name__,
            value=message.to_bytes(deterministic=deterministic),
        )

    @property
    def type_name(self) -> str:
        """The full name of the type held: what follows the last `/` of the type URL."""
        return self.type_url.rpartition("/")[2]

    def is_(self, cls: type[Message]) -> bool:
        """Whether this Any holds a message of `cls`'s type."""
        return self.type_name == cls.__pb_name__

    def unpack(self, cls: type[M]) -> M:
        """The message held, decoded as `cls`; ValueError if it holds another type."""
        if not self.is_(cls):
            raise ValueError(f"the Any holds a {self.type_name}, not a {cls.__pb_name__}")
        return cls.from_bytes(self.value)


# ---- Struct, Value, ListValue -------------------------------------------------------------


class StructBase(Message):
    """google.protobuf.Struct: a JSON object (string keys, Value values)."""

    __slots__ = ()

    @classmethod
    def from_python(cls, mapping: Mapping[str, Any]) -> Self:
        """A Struct of a mapping of JSON-like Python values (None, bool, int, float,
        str, mappings, lists and tuples); ValueError for anything else."""
        return cls.from_dict(_python_json(mapping, 0))

    def to_python(self) -> dict[str, Any]:
        """The Struct as a dict of Python values (numbers are floats)."""
        fields: dict[str, Any] = getattr(self, "fields")  # noqa: B009 (declared by the subclass)
        return {key: value.to_python() for key, value in fields.items()}


class ValueBase(SpecialJsonForm):
    """google.protobuf.Value: a JSON value (null, number, string, bool, object, list)."""

    __slots__ = ()

    @classmethod
    def from_python(cls, value: object) -> Self:
        """A Value of a JSON-like Python value (see `Struct.from_python`)."""
        return cls.from_dict(_python_json(value, 0))

    def to_python(self) -> Any:
        """The value in Python: None, float, str, bool, dict or list (None when unset)."""
        case: tuple[str, Any] | None = getattr(self, "kind")  # noqa: B009
        if case is None or case[0] == "null_value":
            return None
        if case[0] in ("struct_value", "list_value"):
            return case[1].to_python()
        return case[1]


class ListValueBase(SpecialJsonForm):
    """google.protobuf.ListValue: a JSON array of Values."""

    __slots__ = ()

    @classmethod
    def from_python(cls, values: Iterable[Any]) -> Self:
        """A ListValue of JSON-like Python values (see `Struct.from_python`)."""
        return cls.from_dict(_python_json(list(values), 0))

    def to_python(self) -> list[Any]:
        values: list[Any] = getattr(self, "values")  # noqa: B009
        return [value.to_python() for value in values]


def _python_json(value: Any, depth: int) -> Any:
    """A JSON-like Python value checked (and tuples and mappings made lists and dicts),
    so the ProtoJSON reader takes it; ValueError for what JSON has no form for."""
    if depth > DEFAULT_MAX_DEPTH:
        raise ValueError("the value nests too deeply")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"a Struct's keys are strings, not {type(key).__name__}")
            out[key] = _python_json(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_python_json(item, depth + 1) for item in value]
    raise ValueError(f"{type(value).__name__} has no JSON form (a Value holds JSON values)")


# ---- wrappers ------------------------------------------------------------------------------


class WrapperBase(SpecialJsonForm, Generic[T]):
    """google.protobuf.Int32Value and the other wrappers: a scalar with presence."""

    __slots__ = ()
    value: T
    if TYPE_CHECKING:

        def __init__(self, *, value: T) -> None: ...

    @classmethod
    def wrap(cls, value: T | None) -> Self | None:
        """The wrapper of `value`; None for None."""
        return None if value is None else cls(value=value)


def unwrap(wrapper: WrapperBase[T] | None) -> T | None:
    """The value a wrapper holds; None for None."""
    return None if wrapper is None else wrapper.value


# ---- FieldMask -----------------------------------------------------------------------------


class FieldMaskBase(SpecialJsonForm):
    """google.protobuf.FieldMask: a set of field paths (`a.b`, in .proto names)."""

    __slots__ = ()
    paths: list[str]
    if TYPE_CHECKING:

        def __init__(self, *, paths: list[str] | None = None) -> None: ...

    @classmethod
    def for_message(cls, message_cls: type[Message]) -> Self:
        """The mask of every field of `message_cls` (its top-level fields)."""
        return cls(paths=[spec.proto_name or spec.name for spec in message_cls.__pb_fields__])

    def canonical(self) -> Self:
        """The same mask, sorted, without duplicates or paths inside another path."""
        kept: list[str] = []
        for path in sorted(set(self.paths)):
            if not kept or not _inside(path, kept[-1]):
                kept.append(path)
        return type(self)(paths=kept)

    def union(self, other: FieldMaskBase) -> Self:
        """The canonical mask of the paths either mask covers."""
        return type(self)(paths=[*self.paths, *other.paths]).canonical()

    def intersect(self, other: FieldMaskBase) -> Self:
        """The canonical mask of the paths both masks cover."""
        both = [p for p in self.paths if other.covers(p)]
        both += [p for p in other.paths if self.covers(p)]
        return type(self)(paths=both).canonical()

    def covers(self, path: str) -> bool:
        """Whether `path` is in the mask, or inside a path that is."""
        return any(_inside(path, mine) for mine in self.paths)

    def is_valid_for(self, message_cls: type[Message]) -> bool:
        """Whether every path names fields of `message_cls` (through singular messages)."""
        for path in self.paths:
            cls: Any = message_cls
            for i, part in enumerate(path.split(".")):
                if cls is None:
                    return False
                spec = next(
                    (s for s in cls.__pb_fields__ if (s.proto_name or s.name) == part), None
                )
                if spec is None:
                    return False
                singular = spec.label not in (REPEATED, PACKED, MAP)
                last = i == path.count(".")
                if not last and not (singular and spec.kind in (MESSAGE, GROUP)):
                    return False
                cls = spec.type if spec.kind in (MESSAGE, GROUP) and singular else None
        return True


def _inside(path: str, outer: str) -> bool:
    return path == outer or path.startswith(outer + ".")


__all__ = [
    "AnyBase", "DurationBase", "FieldMaskBase", "ListValueBase", "SpecialJsonForm",
    "StructBase", "TimestampBase", "ValueBase", "WrapperBase", "unwrap",
]  # fmt: skip
