"""Load balancing: which of a client's addresses a call goes to.

A balancer picks one of its endpoints for each call; any endpoint type with a
`weight` and a `str()` (its address) will do, so every protocol's client
balances alike.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Any, Generic, Protocol, TypeVar

from volo.calls import set_within


class Weighted(Protocol):
    """An endpoint as balancers see it: `str()` is its address."""

    weight: int


E = TypeVar("E", bound=Weighted)
E_co = TypeVar("E_co", bound=Weighted, covariant=True)

_hash_key: ContextVar[str | None] = ContextVar("volo_hash_key", default=None)


def hash_key(key: str) -> AbstractContextManager[None]:
    """With `balance="consistent_hash"`, calls in this block go to the address `key` maps to."""
    return set_within(_hash_key, key)


def current_hash_key() -> str | None:
    return _hash_key.get()


class Balancer(Protocol[E_co]):
    def pick(self, key: str | None) -> E_co: ...


class RoundRobin(Generic[E]):
    def __init__(self, endpoints: Sequence[E]) -> None:
        self.endpoints = endpoints
        self.turn = itertools.cycle(range(len(endpoints)))

    def pick(self, key: str | None) -> E:
        return self.endpoints[next(self.turn)]


class WeightedRandom(Generic[E]):
    def __init__(self, endpoints: Sequence[E]) -> None:
        self.endpoints = endpoints
        self.weights = [e.weight for e in endpoints]
        self.random = random.Random()

    def pick(self, key: str | None) -> E:
        return self.random.choices(self.endpoints, self.weights)[0]


class ConsistentHash(Generic[E]):
    """A hash ring with `replicas` points per unit of weight: a key keeps its
    address as long as that address is in the list."""

    def __init__(self, endpoints: Sequence[E], replicas: int = 64) -> None:
        points = sorted(
            (_hash(f"{endpoint}#{i}"), n)
            for n, endpoint in enumerate(endpoints)
            for i in range(replicas * endpoint.weight)
        )
        self.hashes = [h for h, _ in points]
        self.owners = [endpoints[n] for _, n in points]
        self.fallback = RoundRobin(endpoints)

    def pick(self, key: str | None) -> E:
        if key is None:
            return self.fallback.pick(None)
        i = bisect.bisect(self.hashes, _hash(key)) % len(self.hashes)
        return self.owners[i]


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


BALANCERS: dict[str, Callable[[Sequence[Any]], Balancer[Any]]] = {
    "round_robin": RoundRobin,
    "weighted_random": WeightedRandom,
    "consistent_hash": ConsistentHash,
}


def make_balancer(name: str, endpoints: Sequence[E]) -> Balancer[E]:
    try:
        kind = BALANCERS[name]
    except KeyError:
        raise ValueError(
            f"unknown balance {name!r}: expected one of {', '.join(BALANCERS)}"
        ) from None
    balancer: Balancer[E] = kind(endpoints)
    return balancer
