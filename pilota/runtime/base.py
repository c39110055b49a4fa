"""Base classes of generated structs, unions and exceptions.

Generated classes are plain `__slots__` classes with a keyword-only
`__init__`; these bases add what every one of them shares: encoding and
decoding, equality, hashing, `repr` and pickling. There are no attribute
hooks, so reading and writing fields costs what it costs on any slotted class.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from enum import IntEnum
from operator import attrgetter
from typing import Any, ClassVar, NamedTuple, Self, TypeVar

from pilota.runtime import json_protocol
from pilota.runtime._helpers import DEFAULT_OBJECTS_PER_BYTE
from pilota.runtime._pure import code_of
from pilota.runtime.codec import implementation
from pilota.runtime.types import LIST, MAP, SET, FieldSpec, Protocol

# Bound once: the per-call cost of to_bytes/from_bytes is one comparison and a call.
_encode_binary = implementation.encode_binary
_encode_compact = implementation.encode_compact
_decode_binary = implementation.decode_binary
_decode_compact = implementation.decode_compact

Buffer = bytes | bytearray | memoryview


class Struct:
    """A Thrift struct. Subclasses are generated; see the module docstring."""

    __slots__ = ()
    __thrift_spec__: ClassVar[tuple[FieldSpec, ...]] = ()
    # True when generated with `keep_unknown_fields`: the class then has a slot
    # `_unknown_fields` that keeps fields this version of the IDL does not know.
    __thrift_keep_unknown__: ClassVar[bool] = False

    def to_bytes(self, protocol: Protocol | str = Protocol.BINARY) -> bytes:
        """Encode with `protocol` ("binary", "compact" or "json"); raises `pilota.EncodeError`."""
        # Protocol is a StrEnum, so one string comparison serves both spellings.
        if protocol == "binary":
            return _encode_binary(self)  # type: ignore[no-any-return]
        if protocol == "compact":
            return _encode_compact(self)  # type: ignore[no-any-return]
        if protocol == "json":
            return json_protocol.encode_json(self)
        raise ValueError(f"unknown protocol {protocol!r}: expected 'binary', 'compact' or 'json'")

    @classmethod
    def from_bytes(
        cls,
        data: Buffer,
        protocol: Protocol | str = Protocol.BINARY,
        *,
        max_depth: int = 64,
        objects_per_byte: float = DEFAULT_OBJECTS_PER_BYTE,
    ) -> Self:
        """Decode `data`, which must hold exactly one encoded value; raises `pilota.DecodeError`.

        `max_depth` limits nesting; `objects_per_byte` how many structs and
        containers the message may build: that many per byte of `data`, plus 1024."""
        if protocol == "binary":
            return _decode_binary(cls, data, max_depth, objects_per_byte)  # type: ignore[no-any-return]
        if protocol == "compact":
            return _decode_compact(cls, data, max_depth, objects_per_byte)  # type: ignore[no-any-return]
        if protocol == "json":
            return json_protocol.decode_json(cls, data, max_depth, objects_per_byte)  # type: ignore[no-any-return]
        raise ValueError(f"unknown protocol {protocol!r}: expected 'binary', 'compact' or 'json'")

    def _field_values(self) -> tuple[Any, ...]:
        try:
            return _shape(type(self)).values(self)
        except AttributeError:  # a slot never set (an instance made without __init__)
            return tuple(getattr(self, f.name, None) for f in self.__thrift_spec__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Struct)
        return self._field_values() == other._field_values()

    def __hash__(self) -> int:
        # Structs can be set members and map keys in IDL, so they hash by value
        # (list and dict fields included); like any value-hashed object, do not
        # change one while it is in a set. The field values' hashes are combined
        # by hashing their bytes, which Python keys with a secret per process:
        # a tuple's hash is not keyed, and a peer could send a map with
        # thousands of distinct struct keys of one tuple hash, each insertion
        # then comparing against all before it (quadratic time).
        values = self._field_values()
        if _shape(type(self)).plain:
            try:
                return _hash_of_hashes([hash(type(self)), *map(hash, values)])
            except TypeError:  # a container where the IDL has none: hashed as below
                pass
        return _hash_of_hashes([hash(type(self)), *map(_value_hash, values)])

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name, None)!r}"
            for f in self.__thrift_spec__
            if getattr(self, f.name, None) is not None
        )
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._state()))

    def _state(self) -> tuple[tuple[str, Any], ...]:
        return tuple(
            (slot, getattr(self, slot)) for slot in _all_slots(type(self)) if hasattr(self, slot)
        )


# What the compiled codec's versions below hand back to, for a class it does not compile.
python_eq = Struct.__eq__
python_hash = Struct.__hash__

if hasattr(implementation, "struct_to_bytes"):
    # The compiled codec's own versions of the methods above, same behaviour.
    Struct.to_bytes = implementation.struct_to_bytes  # type: ignore[method-assign]
    Struct.from_bytes = classmethod(implementation.struct_from_bytes)  # type: ignore[method-assign, assignment]
    Struct.__eq__ = implementation.struct_eq  # type: ignore[method-assign]
    Struct.__hash__ = implementation.struct_hash  # type: ignore[method-assign]


class Union(Struct):
    """A Thrift union: exactly one member is set."""

    __slots__ = ()

    @property
    def kind(self) -> str:
        """The name of the member that is set."""
        for f in self.__thrift_spec__:
            if getattr(self, f.name, None) is not None:
                return f.name
        raise ValueError(f"no member of union {type(self).__name__} is set")

    @property
    def value(self) -> Any:
        """The value of the member that is set."""
        return getattr(self, self.kind)

    def __repr__(self) -> str:
        set_members = [f for f in self.__thrift_spec__ if getattr(self, f.name, None) is not None]
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in set_members)
        return f"{type(self).__name__}({shown})"


class ThriftException(Struct, Exception):
    """A Thrift exception: a struct that can be raised."""

    __slots__ = ()

    def __str__(self) -> str:
        return repr(self)

    __hash__ = Struct.__hash__


class _Shape(NamedTuple):
    values: Callable[[Any], tuple[Any, ...]]  # the field values, in spec order
    plain: bool  # no field is a list, set or map: the values hash as they are


_shapes: dict[type, _Shape] = {}


def _shape(cls: type) -> _Shape:
    found = _shapes.get(cls)
    if found is None:
        spec: tuple[FieldSpec, ...] = cls.__thrift_spec__  # type: ignore[attr-defined]
        names = [f.name for f in spec]
        getter: Callable[[Any], tuple[Any, ...]]
        if len(names) > 1:
            getter = attrgetter(*names)
        elif names:
            one = attrgetter(names[0])
            getter = lambda obj: (one(obj),)  # noqa: E731
        else:
            getter = lambda obj: ()  # noqa: E731
        plain = not any(code_of(f.type) in (LIST, SET, MAP) for f in spec)
        found = _shapes[cls] = _Shape(getter, plain)
    return found


_packers: dict[int, Callable[..., bytes]] = {}


def _hash_of_hashes(hashes: list[int]) -> int:
    """A keyed hash of hash values: Python's hash of their bytes (machine words,
    as the compiled codec's struct_hash lays them out, so both agree)."""
    pack = _packers.get(len(hashes))
    if pack is None:
        pack = _packers[len(hashes)] = struct.Struct(f"@{len(hashes)}n").pack
    return hash(pack(*hashes))


def _value_hash(value: Any) -> int:
    """The hash of a field's value, lists, sets and dicts included (equal
    values hash alike; containers are keyed as structs are)."""
    if isinstance(value, list | tuple):
        return _hash_of_hashes([1, *map(_value_hash, value)])
    if isinstance(value, set | frozenset):
        return hash(sum(_hash_of_hashes([2, _value_hash(v)]) for v in value))
    if isinstance(value, dict):
        return hash(
            sum(_hash_of_hashes([3, _value_hash(k), _value_hash(v)]) for k, v in value.items())
        )
    return hash(value)


def _all_slots(cls: type) -> list[str]:
    slots: list[str] = []
    for klass in reversed(cls.__mro__):
        for slot in klass.__dict__.get("__slots__", ()):
            if slot not in slots:
                slots.append(slot)
    return slots


def _rebuild(cls: type[Struct], state: tuple[tuple[str, Any], ...]) -> Struct:
    obj = cls.__new__(cls)
    for slot, value in state:
        object.__setattr__(obj, slot, value)
    return obj


def check_union(obj: Union, given: int) -> None:
    """Called by generated union constructors with the number of members given."""
    if given != 1:
        names = ", ".join(f.name for f in obj.__thrift_spec__)
        raise TypeError(f"{type(obj).__name__} takes exactly one of: {names} (got {given})")


_E = TypeVar("_E", bound=IntEnum)


def unknown_enum_member(cls: type[_E], value: object) -> _E | None:
    """Generated enums are open: a number the IDL does not name still decodes,
    to a member-like value named `UNKNOWN_<n>` that compares equal to `n`."""
    if isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31:
        member = int.__new__(cls, value)
        member._name_ = f"UNKNOWN_{value}"
        member._value_ = value
        return member
    return None
