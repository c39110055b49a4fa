"""Service discovery: the instances a client calls, by name, kept up to date.

A `Discover` resolves a target to instances (address, weight, tags) and
watches for changes: `Static` (a fixed list), `DNS` (the A/AAAA records of a
name, resolved again every few seconds, as for a Kubernetes headless
service) and `volo.etcd.EtcdDiscover` (the instances registered in etcd).
A client keeps its endpoints in an `InstancePool`, which follows a Discover
and feeds the balancers of `volo.balance`, for Thrift and gRPC alike.

A server announces itself through a `Registry` (`volo.etcd.EtcdRegistry`):
`volo.lifecycle.serve` registers it once it listens and deregisters it first
thing on SIGTERM, before it stops accepting.

Targets as users write them (`from_target`):

    127.0.0.1:8080                   one address (a list of them: `Static`)
    dns://my-svc.ns.svc:8080         every address the name resolves to
    etcd://127.0.0.1:2379/echo       the instances of service `echo` in etcd
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from volo.address import format_address, parse_address
from volo.balance import Balancer, Weighted, make_balancer
from volo.errors import TransportError

log = logging.getLogger("volo.discovery")


@dataclass(frozen=True)
class Instance:
    """One instance of a service: where it listens, its weight and its tags."""

    host: str
    port: int
    weight: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.weight < 1:
            raise ValueError(f"the weight of {self.address} must be at least 1")

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    def __str__(self) -> str:
        return self.address


class Discover(Protocol):
    """Where a client finds the instances of the service it calls."""

    @property
    def target(self) -> str:
        """What is resolved, as users write it (for messages)."""

    def watch(self) -> AsyncIterator[list[Instance]]:
        """The instances now, then the whole list again each time it changes.
        Errors are the discoverer's to log and ride out: meanwhile the client
        keeps the instances it knew."""


class Registry(Protocol):
    """Where a server announces the instance it is."""

    @property
    def target(self) -> str: ...

    async def register(self, service: str, instance: Instance) -> None:
        """Announce `instance` under `service`, and keep it announced (a lease
        kept alive) until `deregister`; raises ConnectionError when the
        registry cannot be reached."""

    async def deregister(self) -> None:
        """Withdraw the instance: clients stop sending it new calls."""


@dataclass(frozen=True)
class Registration:
    """How a server announces itself: in `registry`, as an instance of
    `service`, reached at `advertise` (HOST:PORT or HOST; default: the
    address served), with `weight` and `tags`. On SIGTERM it leaves the
    registry first and serves on for `drain` seconds while clients drop it."""

    registry: Registry
    service: str
    advertise: str | None = None
    weight: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)
    drain: float = 1.0


class Static:
    """A fixed list of instances."""

    def __init__(self, instances: Iterable[Instance]) -> None:
        self.instances = list(instances)
        if not self.instances:
            raise ValueError("a client needs at least one address")

    @property
    def target(self) -> str:
        return ",".join(map(str, self.instances))

    async def watch(self) -> AsyncIterator[list[Instance]]:
        yield list(self.instances)
        await asyncio.Event().wait()  # it never changes


Resolver = Callable[[str, int], Awaitable[list[tuple[str, int]]]]


async def system_resolver(host: str, port: int) -> list[tuple[str, int]]:
    """The host's addresses (A and AAAA) through the system's resolver."""
    answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(str(where[0]), port) for *_, where in answers]


class DNS:
    """Every address a name resolves to (A and AAAA), each an instance of
    weight 1; resolved again every `refresh` seconds. A failed resolution
    keeps the instances found before. `resolver` replaces the system's (tests,
    or a resolver library)."""

    def __init__(
        self, host: str, port: int, *, refresh: float = 5.0, resolver: Resolver | None = None
    ) -> None:
        self.host, self.port, self.refresh = host, port, refresh
        self.resolver = resolver or system_resolver

    @property
    def target(self) -> str:
        return f"dns://{format_address(self.host, self.port)}"

    async def resolve(self) -> list[Instance]:
        found = dict.fromkeys(await self.resolver(self.host, self.port))  # in order, once each
        return sorted((Instance(host, port) for host, port in found), key=str)

    async def watch(self) -> AsyncIterator[list[Instance]]:
        known: list[Instance] | None = None
        while True:
            try:
                instances = await self.resolve()
            except OSError as exc:
                log.warning("cannot resolve %s: %s", self.target, exc)
            else:
                if instances != known:
                    known = instances
                    yield instances
            await asyncio.sleep(self.refresh)


def from_target(target: str | Sequence[str], weights: Sequence[int] | None = None) -> Discover:
    """A Discover for what users write: `HOST:PORT` (or a list), `dns://NAME:PORT`,
    `etcd://HOST:PORT/SERVICE`; a ValueError of one sentence for anything else."""
    if isinstance(target, str):
        if target.startswith("dns://"):
            if weights is not None:
                raise ValueError("weights go with a list of addresses, not dns://")
            return DNS(*parse_address(target.removeprefix("dns://"), default_host="localhost"))
        if target.startswith("etcd://"):
            if weights is not None:
                raise ValueError("weights go with a list of addresses, not etcd://")
            from volo.etcd import EtcdDiscover

            return EtcdDiscover.from_url(target)
        if "://" in target:
            scheme = target.partition("://")[0]
            raise ValueError(
                f"unknown scheme {scheme!r} in {target!r}: expected HOST:PORT,"
                " dns://NAME:PORT or etcd://HOST:PORT/SERVICE"
            )
        target = [target]
    addresses = list(target)
    weights = list(weights) if weights is not None else [1] * len(addresses)
    if len(weights) != len(addresses):
        raise ValueError("give one weight per address")
    return Static(
        Instance(*parse_address(text), weight)
        for text, weight in zip(addresses, weights, strict=True)
    )


def registry_from_url(url: str) -> Registry:
    """A Registry for what users write: `etcd://HOST:PORT[/PREFIX]`."""
    if url.startswith("etcd://"):
        from volo.etcd import EtcdRegistry

        return EtcdRegistry.from_url(url)
    raise ValueError(f"unknown registry {url!r}: expected etcd://HOST:PORT")


class Endpoint(Weighted, Protocol):
    """What a protocol's client keeps per instance (its connections)."""

    host: str
    port: int


E = TypeVar("E", bound=Endpoint)


class InstancePool(Generic[E]):
    """The endpoints a client balances over, from a Discover: one per instance,
    made by `make`, kept while the instance stays (with its connections), and
    handed to `retire` once it is gone (to close its connections when their
    calls are over).

    A `Static` list is known at once; other targets on `start()`, which waits
    for the first answer (at most `resolve_timeout` seconds) and then follows
    the changes in a task of its own until `close()`.
    """

    def __init__(
        self,
        discover: Discover,
        make: Callable[[Instance], E],
        balance: str,
        retire: Callable[[E], Coroutine[Any, Any, None]] | None = None,
        resolve_timeout: float = 10.0,
    ) -> None:
        make_balancer(balance, [])  # an unknown name fails here, not on the first call
        self.discover, self.make, self.balance = discover, make, balance
        self.retire = retire
        self.resolve_timeout = resolve_timeout
        self.endpoints: list[E] = []
        self.balancer: Balancer[E] | None = None
        self.ready = False
        self._follower: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._first: asyncio.Future[None] | None = None
        if isinstance(discover, Static):
            self.update(discover.instances)

    def update(self, instances: Sequence[Instance]) -> None:
        """The instances are now these."""
        known = {str(e): e for e in self.endpoints}
        endpoints: list[E] = []
        for instance in instances:
            endpoint = known.pop(instance.address, None)
            if endpoint is None or endpoint.weight != instance.weight:
                if endpoint is not None:
                    known[instance.address + "#old"] = endpoint
                endpoint = self.make(instance)
            endpoints.append(endpoint)
        self.endpoints = endpoints
        self.balancer = make_balancer(self.balance, endpoints) if endpoints else None
        self.ready = True
        if known:
            log.info("%s: %s gone", self.discover.target, ", ".join(map(str, known.values())))
        if self.retire is not None:
            for gone in known.values():
                task = asyncio.get_running_loop().create_task(self.retire(gone))
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)

    def pick(self, key: str | None, avoid: Sequence[E] = ()) -> E:
        """An endpoint for a call, by the balancer; one not in `avoid` if there
        is one (after a failure, another instance)."""
        balancer = self.balancer
        if balancer is None:
            raise TransportError(f"no instance of {self.discover.target} is known")
        endpoint = balancer.pick(key)
        if avoid and endpoint in avoid:
            others = [e for e in self.endpoints if e not in avoid]
            if others:
                endpoint = random.choice(others)
        return endpoint

    async def start(self) -> None:
        """Follow the Discover (once), and wait for its first answer."""
        if isinstance(self.discover, Static):
            return  # known at once, and never changes
        if self._follower is None:
            loop = asyncio.get_running_loop()
            self._first = loop.create_future()
            self._follower = loop.create_task(self._follow())
        if self.ready:
            return
        assert self._first is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._first), self.resolve_timeout)
        except TimeoutError:
            raise TransportError(
                f"no instance of {self.discover.target} found within"
                f" {self.resolve_timeout:g} s"
            ) from None

    async def _follow(self) -> None:
        while True:
            watch = self.discover.watch()
            try:
                async for instances in watch:
                    self.update(instances)
                    log.debug("%s: %s", self.discover.target, ", ".join(map(str, instances)))
                    if self._first is not None and not self._first.done():
                        self._first.set_result(None)
            except Exception:  # a discoverer's bug must not leave the client deaf
                log.exception("%s: watching failed; watching again in 1 s", self.discover.target)
            finally:
                aclose = getattr(watch, "aclose", None)  # an async generator's: its finally runs
                if aclose is not None:
                    await aclose()
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            await stop(follower)
        for task in list(self._retiring):
            task.cancel()


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait for its end, cancelling again if a cancellation
    was lost: Python 3.11's `asyncio.wait_for` drops one that comes as the
    awaited thing completes (as in etcd's client, waiting for a watch)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)  # time for its cleanup
    if not task.cancelled() and task.exception() is not None:
        log.debug("%s ended with %r", task.get_name(), task.exception())
