"""Small helpers every codec shares: the pure-Python ones, the JSON protocol and
the compiled codec (which calls the last two only to raise an error)."""

from __future__ import annotations

import gc
import math
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pilota.runtime.frozen import FrozenDict
from pilota.runtime.types import DecodeError

# The amplification limit (README, "Limits on what a message may build"): a
# message of N bytes may build at most `objects_per_byte * N + OBJECT_ALLOWANCE`
# structs and containers. Each of them takes at least one byte on the wire, and
# fields an honest peer leaves out never make one (a field with a default is
# always written), so 1.0 refuses nothing an honest peer sends; what it refuses
# is a schema's defaults multiplied by empty structs on the wire.
DEFAULT_OBJECTS_PER_BYTE = 1.0
OBJECT_ALLOWANCE = 1024


def object_budget(size: int, objects_per_byte: float) -> int:
    """How many structs and containers decoding `size` bytes may build."""
    if 0 <= objects_per_byte < _INFINITY:  # not NaN
        return int(size * objects_per_byte) + OBJECT_ALLOWANCE
    if objects_per_byte == _INFINITY:
        return sys.maxsize
    raise ValueError(f"objects_per_byte must be a number >= 0, got {objects_per_byte!r}")


_INFINITY = math.inf


def too_many_objects(budget: int) -> DecodeError:
    return DecodeError(
        f"more than {budget} structs and containers, the limit for a message of this size "
        "(see objects_per_byte)"
    )


_T = TypeVar("_T")

# Below this many bytes a message builds too few objects for the collector to
# matter (it runs every 700 new ones), and checking costs more than it saves.
_COLLECTOR_PAUSE_SIZE = 16384


def collector_paused(decode: Callable[..., _T], size: int, *args: Any) -> _T:
    """`decode(*args)`, with the cyclic garbage collector held off while it builds a
    message of `size` bytes. Every struct and container is tracked by the
    collector, which would otherwise run over them again and again as they are
    made (a third of the pure codec's time on a long list of small structs);
    they cannot form a cycle before the caller has them, so it waits until then,
    and runs once. (The compiled codec does the same in C, for every message.)"""
    if size < _COLLECTOR_PAUSE_SIZE or not gc.isenabled():
        return decode(*args)
    gc.disable()
    try:
        return decode(*args)
    finally:
        gc.enable()


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
