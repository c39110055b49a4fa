"""Hashable containers for decoded set members and map keys.

IDL allows `set<list<i32>>` and `map<map<i8, i8>, i8>`; Python's list, set and
dict cannot be hashed, so in those positions values decode as tuple,
frozenset and `FrozenDict`.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenDict(dict[K, V]):
    """A dict that cannot change and so can be hashed."""

    __slots__ = ("_hash",)

    def __hash__(self) -> int:  # type: ignore[override]
        try:
            return self._hash
        except AttributeError:
            self._hash: int = hash(frozenset(self.items()))
            return self._hash

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("FrozenDict cannot be changed")

    __setitem__ = __delitem__ = _immutable
    clear = pop = popitem = setdefault = update = _immutable
    __ior__ = _immutable

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


def frozen_dict(items: dict[K, V], /) -> FrozenDict[K, V]:
    """`FrozenDict(items)`, as generated constants build one: a function, since type
    checkers infer a call of it once, where pyright checks a class's `__new__` and
    `__init__` each, twice per level of nesting (a 16-deep constant: minutes)."""
    return FrozenDict(items)
