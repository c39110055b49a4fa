"""Discovery and registration through etcd (v3), with the `aetcd` client
(`pip install 'volo-py[etcd]'`).

An instance of service `echo` at 10.0.0.5:8080 is the key
`volo/services/echo/10.0.0.5:8080`, whose value is JSON (`{"host": ...,
"port": ..., "weight": ..., "tags": {...}}`), attached to the server's lease:
when the server stops keeping the lease alive (it was killed, or lost its
network), etcd deletes the key once the TTL runs out, and clients watching the
prefix drop the instance.

Both sides ride out an etcd that goes away: the discoverer keeps the
instances it knew and, once etcd answers again, lists the prefix anew and
watches it from there; the registry keeps trying, and puts the key back under
a new lease if the old one expired meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

from volo.address import format_address, parse_address
from volo.discovery import Instance, stop

log = logging.getLogger("volo.etcd")

DEFAULT_PREFIX = "volo/services"


def _aetcd() -> Any:
    try:
        import aetcd  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ImportError(
            "discovery through etcd needs the aetcd package: pip install 'volo-py[etcd]'"
        ) from None
    return aetcd


def _errors() -> tuple[type[BaseException], ...]:
    """What a lost or refusing etcd raises through aetcd (and grpcio under it)."""
    import grpc

    return (_aetcd().ClientError, grpc.RpcError, OSError, TimeoutError)


def _why(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _split_url(url: str, *, service: bool) -> tuple[str, int, str, dict[str, str]]:
    """`etcd://HOST:PORT/PATH?k=v` as host, port, path and options."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "etcd":
        raise ValueError(f"bad etcd URL {url!r}: expected etcd://HOST:PORT/...")
    host, port = parse_address(parts.netloc or "127.0.0.1:2379")
    path = parts.path.strip("/")
    if service and not path:
        raise ValueError(f"etcd URL {url!r} names no service: expected etcd://HOST:PORT/SERVICE")
    options = dict(urllib.parse.parse_qsl(parts.query))
    return host, port, path, options


def service_prefix(prefix: str, service: str) -> str:
    return f"{prefix.strip('/')}/{service}/"


def encode_instance(instance: Instance) -> bytes:
    return json.dumps({
        "host": instance.host, "port": instance.port,
        "weight": instance.weight, "tags": dict(instance.tags),
    }).encode()  # fmt: skip


def decode_instance(value: bytes) -> Instance:
    data = json.loads(value)
    tags = data.get("tags") or {}
    return Instance(
        str(data["host"]), int(data["port"]), int(data.get("weight", 1)),
        {str(k): str(v) for k, v in tags.items()},
    )  # fmt: skip


class EtcdDiscover:
    """The instances of `service` registered in etcd at `endpoint` (HOST:PORT),
    watched for changes; `etcd://HOST:PORT/SERVICE` as a client's target."""

    def __init__(
        self,
        service: str,
        endpoint: str = "127.0.0.1:2379",
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 3.0,
        retry_interval: float = 1.0,
    ) -> None:
        self.host, self.port = parse_address(endpoint)
        self.service, self.prefix = service, prefix
        self.timeout, self.retry_interval = timeout, retry_interval
        _aetcd()  # a missing package is said now, not at the first call

    @classmethod
    def from_url(cls, url: str) -> EtcdDiscover:
        host, port, service, options = _split_url(url, service=True)
        prefix = options.get("prefix", DEFAULT_PREFIX)
        return cls(service, format_address(host, port), prefix=prefix)

    @property
    def target(self) -> str:
        return f"etcd://{format_address(self.host, self.port)}/{self.service}"

    async def watch(self) -> AsyncIterator[list[Instance]]:
        aetcd = _aetcd()
        key = service_prefix(self.prefix, self.service).encode()
        errors = _errors()
        while True:
            client = aetcd.Client(self.host, self.port, timeout=self.timeout)
            try:
                listed = await client.get_prefix(key)
                known = {kv.key: kv.value for kv in listed}
                yield self._instances(known)
                events = await client.watch_prefix(key, start_revision=listed.header.revision + 1)
                async for event in events:
                    if event.kind == "PUT":
                        known[event.kv.key] = event.kv.value
                    else:
                        known.pop(event.kv.key, None)
                    yield self._instances(known)
                # A watch that ends without an error was cancelled: list anew.
            except errors as exc:
                log.warning("%s: %s; trying again in %g s", self.target, _why(exc),
                            self.retry_interval)  # fmt: skip
            finally:
                with contextlib.suppress(*errors):
                    await client.close()
            await asyncio.sleep(self.retry_interval)

    def _instances(self, known: dict[bytes, bytes]) -> list[Instance]:
        instances = []
        for key, value in known.items():
            try:
                instances.append(decode_instance(value))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("%s: ignoring %s: %s", self.target, key.decode(errors="replace"), exc)
        return sorted(instances, key=str)


class EtcdRegistry:
    """Registers a server's instance in etcd at `endpoint` (HOST:PORT) under a
    lease of `ttl` seconds, kept alive every ttl/3 seconds;
    `etcd://HOST:PORT[?ttl=SECONDS]` on a server's command line."""

    def __init__(
        self,
        endpoint: str = "127.0.0.1:2379",
        *,
        ttl: int = 10,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 3.0,
        retry_interval: float = 1.0,
    ) -> None:
        if ttl < 1:
            raise ValueError(f"the lease TTL must be at least 1 second, not {ttl}")
        self.host, self.port = parse_address(endpoint)
        self.ttl, self.prefix = ttl, prefix
        self.timeout, self.retry_interval = timeout, retry_interval
        self.key: bytes | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._lease_id: int | None = None
        self._client: Any = None
        _aetcd()

    @classmethod
    def from_url(cls, url: str) -> EtcdRegistry:
        host, port, path, options = _split_url(url, service=False)
        try:
            ttl = int(options.get("ttl", "10"))
        except ValueError:
            raise ValueError(
                f"bad etcd URL {url!r}: ttl must be a whole number of seconds"
            ) from None
        return cls(format_address(host, port), ttl=ttl, prefix=path or DEFAULT_PREFIX)

    @property
    def target(self) -> str:
        return f"etcd://{format_address(self.host, self.port)}"

    async def register(self, service: str, instance: Instance) -> None:
        if self._keeper is not None:
            raise RuntimeError("this registry has registered an instance already")
        self.key = (service_prefix(self.prefix, service) + instance.address).encode()
        value = encode_instance(instance)
        loop = asyncio.get_running_loop()
        first: asyncio.Future[None] = loop.create_future()
        self._keeper = loop.create_task(self._keep(value, first))
        try:
            await asyncio.wait_for(asyncio.shield(first), self.timeout)
        except TimeoutError:
            await self._stop_keeping()
            raise ConnectionError(
                f"cannot register in {self.target}: no answer within {self.timeout:g} s"
            ) from None

    async def _keep(self, value: bytes, first: asyncio.Future[None]) -> None:
        """Put the key under a lease and keep the lease alive; after a failure,
        again (under a new lease when the old one is gone)."""
        aetcd, errors = _aetcd(), _errors()
        while True:
            client = self._client = aetcd.Client(self.host, self.port, timeout=self.timeout)
            try:
                if self._lease_id is None or not await self._refresh(client):
                    lease = await client.lease(self.ttl)
                    self._lease_id = lease.id
                    await client.put(self.key, value, lease=lease.id)
                    log.info("registered %s in %s (lease ttl %d s)", self.key.decode(),  # type: ignore[union-attr]
                             self.target, self.ttl)  # fmt: skip
                if not first.done():
                    first.set_result(None)
                while await self._refresh(client):
                    await asyncio.sleep(self.ttl / 3)
                log.warning("%s: the lease of %s expired; registering again", self.target,
                            self.key.decode())  # type: ignore[union-attr]  # fmt: skip
                self._lease_id = None
                continue
            except errors as exc:
                log.warning("%s: %s; trying again in %g s", self.target, _why(exc),
                            self.retry_interval)  # fmt: skip
            finally:
                self._client = None
                with contextlib.suppress(*errors):
                    await client.close()
            await asyncio.sleep(self.retry_interval)

    async def _refresh(self, client: Any) -> bool:
        """Keep the lease alive once; False when etcd no longer has it."""
        reply = await client.refresh_lease(self._lease_id)
        return reply is not None and reply.TTL > 0

    async def _stop_keeping(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            await stop(keeper)

    async def deregister(self) -> None:
        """Stop keeping the lease and revoke it: etcd deletes the key now, and
        watching clients drop the instance."""
        await self._stop_keeping()
        lease_id, self._lease_id = self._lease_id, None
        if lease_id is None:
            return
        errors = _errors()
        client = _aetcd().Client(self.host, self.port, timeout=self.timeout)
        try:
            await client.revoke_lease(lease_id)
            log.info("deregistered %s from %s", self.key.decode(), self.target)  # type: ignore[union-attr]
        except errors as exc:  # it goes when its lease runs out, then
            log.warning("cannot deregister from %s: %s", self.target, _why(exc))
        finally:
            with contextlib.suppress(*errors):
                await client.close()
