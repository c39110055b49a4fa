"""Small helpers the pure-Python codecs share (the compiled codec has its own in C)."""

from __future__ import annotations

from typing import Any

from pilota.runtime.frozen import FrozenDict


def freeze(value: Any) -> Any:
    """A decoded container made hashable, for set members and map keys."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, dict):
        return FrozenDict(value)
    return value


def enum_value(enum_cls: Any, number: int) -> Any:
    """The enum member for `number`; an unknown number goes through `_missing_`."""
    member = enum_cls._value2member_map_.get(number)
    return member if member is not None else enum_cls(number)
