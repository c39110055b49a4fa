"""Discovery: static lists, DNS and etcd feeding the client's balancers;
registration with a lease; the pool of instances as they come and go."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import volo.thrift
from tests.etcd_support import Etcd
from tests.thrift_test_service import make_handler
from volo.discovery import (
    DNS,
    Instance,
    InstancePool,
    Registration,
    Static,
    from_target,
    registry_from_url,
    stop,
)
from volo.errors import TransportError

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def tagged(tt: Any, tag: str) -> Any:
    """A ThriftTest handler whose testString answers with the server's tag."""
    base = make_handler(tt)

    class Tagged(type(base)):  # type: ignore[misc]
        async def testString(self, thing: str) -> str:
            return tag

    return Tagged()


async def until(condition: Callable[[], object], what: str, deadline: float = 20.0) -> None:
    """Wait for `condition` (polled), failing after a generous deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Endpoint:
    def __init__(self, instance: Instance) -> None:
        self.host, self.port, self.weight = instance.host, instance.port, instance.weight

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class Changing:
    """A Discover whose instances the test sets."""

    target = "test://changing"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[list[Instance]] = asyncio.Queue()

    async def watch(self) -> AsyncIterator[list[Instance]]:
        while True:
            yield await self.queue.get()


# ---- targets ---------------------------------------------------------------------------


def test_targets_as_users_write_them() -> None:
    static = from_target(["127.0.0.1:1", "[::1]:2"], [1, 3])
    assert isinstance(static, Static)
    assert static.instances == [Instance("127.0.0.1", 1, 1), Instance("::1", 2, 3)]
    assert str(static.instances[1]) == "[::1]:2"
    dns = from_target("dns://my-svc.default.svc:8080")
    assert isinstance(dns, DNS) and (dns.host, dns.port) == ("my-svc.default.svc", 8080)
    assert dns.target == "dns://my-svc.default.svc:8080"


@pytest.mark.parametrize(("target", "message"), [
    ("zk://h:1/x", "unknown scheme 'zk' in 'zk://h:1/x': expected HOST:PORT, dns://NAME:PORT or etcd://HOST:PORT/SERVICE"),
    ("dns://name", "address 'name' has no port: expected HOST:PORT, e.g. 'name:8080'"),
    ("etcd://127.0.0.1:2379", "etcd URL 'etcd://127.0.0.1:2379' names no service: expected etcd://HOST:PORT/SERVICE"),
    ("etcd://127.0.0.1:x/echo", "bad address '127.0.0.1:x': the port must be a number from 0 to 65535"),
])  # fmt: skip
def test_a_bad_target_is_one_sentence(target: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        volo.thrift.connect(target)
    assert str(caught.value) == message


def test_a_bad_registry_url_is_one_sentence() -> None:
    with pytest.raises(ValueError, match=r"^unknown registry 'consul://x:1': expected etcd://HOST:PORT$"):
        registry_from_url("consul://x:1")
    with pytest.raises(ValueError, match=r"ttl must be a whole number of seconds"):
        registry_from_url("etcd://127.0.0.1:2379?ttl=soon")
    with pytest.raises(ValueError, match=r"the lease TTL must be at least 1 second, not 0"):
        registry_from_url("etcd://127.0.0.1:2379?ttl=0")


def test_an_instance_weighs_at_least_one() -> None:
    with pytest.raises(ValueError, match=r"the weight of 10\.0\.0\.1:80 must be at least 1"):
        Instance("10.0.0.1", 80, 0)


# ---- the pool --------------------------------------------------------------------------


async def test_the_pool_keeps_endpoints_of_instances_that_stay() -> None:
    changing = Changing()
    retired: list[str] = []

    async def retire(endpoint: Endpoint) -> None:
        retired.append(str(endpoint))

    pool = InstancePool(changing, Endpoint, "round_robin", retire)
    assert not pool.ready
    a, b, c = (Instance("10.0.0.1", port) for port in (1, 2, 3))
    changing.queue.put_nowait([a, b])
    await pool.start()
    first = list(pool.endpoints)
    assert [str(e) for e in first] == ["10.0.0.1:1", "10.0.0.1:2"]
    assert {str(pool.pick(None)) for _ in range(4)} == {"10.0.0.1:1", "10.0.0.1:2"}
    changing.queue.put_nowait([b, c])
    await until(lambda: len(retired) == 1, "the retired instance")
    assert retired == ["10.0.0.1:1"]
    assert pool.endpoints[0] is first[1]  # b kept its endpoint (and its connections)
    assert {str(pool.pick(None)) for _ in range(4)} == {"10.0.0.1:2", "10.0.0.1:3"}
    changing.queue.put_nowait([])
    await until(lambda: not pool.endpoints, "no instances")
    with pytest.raises(TransportError, match=r"^no instance of test://changing is known$"):
        pool.pick(None)
    await pool.close()


async def test_a_pick_avoids_the_instances_tried() -> None:
    pool = InstancePool(Static([Instance("10.0.0.1", p) for p in (1, 2, 3)]), Endpoint, "round_robin")
    one, two, three = pool.endpoints
    assert all(pool.pick(None, [one, two]) is three for _ in range(6))
    assert pool.pick(None, [one, two, three]) in pool.endpoints  # all tried: any


async def test_no_first_answer_is_a_transport_error() -> None:
    pool = InstancePool(Changing(), Endpoint, "round_robin", resolve_timeout=0.05)
    with pytest.raises(TransportError, match=r"^no instance of test://changing found within 0\.05 s$"):
        await pool.start()
    await pool.close()


def test_an_unknown_balance_fails_at_once() -> None:
    with pytest.raises(ValueError, match=r"unknown balance 'nearest'"):
        volo.thrift.connect("127.0.0.1:1", balance="nearest")


# ---- DNS -------------------------------------------------------------------------------


async def test_dns_resolves_localhost_and_the_client_reaches_the_server(tt: Any) -> None:
    """localhost may resolve to ::1 too, where nothing listens: connecting there
    fails over to 127.0.0.1."""
    async with volo.thrift.Server(tagged(tt, "local"), "127.0.0.1", 0) as server:
        dns = DNS("localhost", server.port)
        instances = await dns.resolve()
        assert Instance("127.0.0.1", server.port) in instances
        transport = volo.thrift.connect(f"dns://localhost:{server.port}", retries=2)
        client = tt.ThriftTestClient(transport)
        assert [await client.testString("x") for _ in range(4)] == ["local"] * 4
        assert "127.0.0.1" in {e.host for e in transport.endpoints}
        await transport.close()


async def test_dns_follows_the_records_as_they_change(tt: Any) -> None:
    """A resolver stub answers as an /etc/hosts that the test edits would; the
    servers listen on one port of two loopback addresses."""
    first = volo.thrift.Server(tagged(tt, "a"), "127.0.0.1", 0)
    await first.start()
    second = volo.thrift.Server(tagged(tt, "b"), "127.0.0.2", first.port)
    await second.start()
    hosts = {"svc.test": ["127.0.0.1"]}

    async def resolver(host: str, port: int) -> list[tuple[str, int]]:
        if host not in hosts:
            raise OSError(f"{host}: name unknown")
        return [(address, port) for address in hosts[host]]

    transport = volo.thrift.connect(DNS("svc.test", first.port, refresh=0.05, resolver=resolver))
    client = tt.ThriftTestClient(transport)
    try:
        assert {await client.testString("x") for _ in range(4)} == {"a"}
        hosts["svc.test"] = ["127.0.0.2", "127.0.0.1"]
        await until(lambda: len(transport.endpoints) == 2, "the second record")
        assert Counter([await client.testString("x") for _ in range(6)]) == {"a": 3, "b": 3}
        (gone,) = [e for e in transport.endpoints if e.host == "127.0.0.1"]
        assert gone.connections
        hosts["svc.test"] = ["127.0.0.2"]
        await until(lambda: len(transport.endpoints) == 1, "the first record to go")
        await until(lambda: not gone.connections, "its connections closed")
        assert {await client.testString("x") for _ in range(4)} == {"b"}
        del hosts["svc.test"]  # resolution fails: the client keeps what it knew
        await asyncio.sleep(0.2)
        assert [str(e) for e in transport.endpoints] == [f"127.0.0.2:{first.port}"]
        assert {await client.testString("x") for _ in range(4)} == {"b"}
    finally:
        await transport.close()
        await first.close()
        await second.close()


# ---- etcd ------------------------------------------------------------------------------


async def test_a_registered_instance_is_discovered_and_leaves_on_deregister(etcd: Etcd, tt: Any) -> None:
    async with volo.thrift.Server(tagged(tt, "one"), "127.0.0.1", 0) as server:
        registry = registry_from_url(f"{etcd.url}?ttl=2")
        await registry.register("kv", Instance("127.0.0.1", server.port, 2, {"zone": "a"}))
        found = from_target(f"{etcd.url}/kv")
        watch = found.watch()
        assert await anext(watch) == [Instance("127.0.0.1", server.port, 2, {"zone": "a"})]
        transport = volo.thrift.connect(f"{etcd.url}/kv")
        client = tt.ThriftTestClient(transport)
        assert await client.testString("x") == "one"
        await registry.deregister()
        assert await asyncio.wait_for(anext(watch), 10) == []
        await until(lambda: not transport.endpoints, "the client to drop the instance")
        with pytest.raises(TransportError, match=r"^no instance of etcd://127\.0\.0\.1:\d+/kv is known$"):
            await client.testString("x")
        await transport.close()
        await watch.aclose()  # type: ignore[attr-defined]


async def test_an_instance_whose_lease_is_not_kept_alive_expires(etcd: Etcd) -> None:
    registry = registry_from_url(f"{etcd.url}?ttl=1")
    await registry.register("lapsing", Instance("127.0.0.1", 9))
    pool = InstancePool(from_target(f"{etcd.url}/lapsing"), Endpoint, "round_robin")
    await pool.start()
    assert [str(e) for e in pool.endpoints] == ["127.0.0.1:9"]
    keeper = registry._keeper  # type: ignore[attr-defined]
    await stop(keeper)  # as if the process were killed: nobody keeps the lease alive
    await until(lambda: not pool.endpoints, "the lease to expire")
    await pool.close()


async def test_registering_without_etcd_is_one_sentence() -> None:
    from tests.etcd_support import free_port

    registry = registry_from_url(f"etcd://127.0.0.1:{free_port()}")
    registry.timeout = 0.5  # type: ignore[attr-defined]
    registry.retry_interval = 0.05  # type: ignore[attr-defined]
    with pytest.raises(ConnectionError, match=r"^cannot register in etcd://127\.0\.0\.1:\d+: no answer within 0\.5 s$"):
        await registry.register("svc", Instance("127.0.0.1", 9))


async def test_three_servers_share_the_calls_and_a_fourth_joins(etcd: Etcd, tt: Any) -> None:
    servers = [volo.thrift.Server(tagged(tt, tag), "127.0.0.1", 0) for tag in "abcd"]
    registries = [registry_from_url(f"{etcd.url}?ttl=2") for _ in servers]
    for server, registry in zip(servers[:3], registries, strict=False):
        await server.start()
        await registry.register("spread", Instance("127.0.0.1", server.port))
    transport = volo.thrift.connect(f"{etcd.url}/spread")
    client = tt.ThriftTestClient(transport)
    try:
        assert Counter([await client.testString("x") for _ in range(30)]) == {"a": 10, "b": 10, "c": 10}
        await servers[3].start()
        await registries[3].register("spread", Instance("127.0.0.1", servers[3].port))
        await until(lambda: len(transport.endpoints) == 4, "the fourth server")
        assert Counter([await client.testString("x") for _ in range(40)]) == dict.fromkeys("abcd", 10)
    finally:
        await transport.close()
        for server, registry in zip(servers, registries, strict=True):
            await registry.deregister()
            await server.close()


async def test_an_etcd_restart_changes_nothing_for_clients_and_servers(
    etcd: Etcd, tt: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "volo")
    servers = [volo.thrift.Server(tagged(tt, tag), "127.0.0.1", 0) for tag in "abc"]
    registries = [registry_from_url(f"{etcd.url}?ttl=2") for _ in servers]
    for server, registry in zip(servers[:2], registries, strict=False):
        await server.start()
        await registry.register("restart", Instance("127.0.0.1", server.port))
    transport = volo.thrift.connect(f"{etcd.url}/restart")
    client = tt.ThriftTestClient(transport)
    try:
        assert {await client.testString("x") for _ in range(4)} == {"a", "b"}
        etcd.stop()
        # etcd is gone: the client still calls the instances it knew
        assert Counter([await client.testString("x") for _ in range(10)]) == {"a": 5, "b": 5}
        await asyncio.sleep(2.5)  # past the lease TTL: the servers' keepalives fail meanwhile
        assert Counter([await client.testString("x") for _ in range(10)]) == {"a": 5, "b": 5}
        await asyncio.to_thread(etcd.start)
        # The servers keep (or renew) their registration, the client watches again:
        # a server registered now is found without restarting anything.
        await servers[2].start()
        await registries[2].register("restart", Instance("127.0.0.1", servers[2].port))
        await until(lambda: len(transport.endpoints) == 3, "the client to watch again")
        assert Counter([await client.testString("x") for _ in range(30)]) == dict.fromkeys("abc", 10)
        # ... and the old registrations still stand, kept alive, past another TTL.
        await asyncio.sleep(3)
        assert len(transport.endpoints) == 3
    finally:
        await transport.close()
        for server, registry in zip(servers, registries, strict=True):
            await registry.deregister()
            await server.close()


async def test_a_registration_whose_lease_was_revoked_is_put_back(etcd: Etcd) -> None:
    import aetcd

    registry = registry_from_url(f"{etcd.url}?ttl=1")
    await registry.register("revoked", Instance("127.0.0.1", 9))
    pool = InstancePool(from_target(f"{etcd.url}/revoked"), Endpoint, "round_robin")
    await pool.start()
    lease = registry._lease_id  # type: ignore[attr-defined]
    async with aetcd.Client("127.0.0.1", etcd.port) as admin:
        await admin.revoke_lease(lease)  # as if it had expired while the server was cut off
    await until(lambda: registry._lease_id not in (None, lease), "a new lease")  # type: ignore[attr-defined]
    await until(lambda: [str(e) for e in pool.endpoints] == ["127.0.0.1:9"], "the instance back")
    await registry.deregister()
    await until(lambda: not pool.endpoints, "the instance gone")
    await pool.close()


async def test_the_pool_follows_again_after_a_discoverer_fails(caplog: pytest.LogCaptureFixture) -> None:
    class Flaky:
        target = "test://flaky"
        rounds = 0

        async def watch(self) -> AsyncIterator[list[Instance]]:
            Flaky.rounds += 1
            yield [Instance("10.0.0.1", Flaky.rounds)]
            if Flaky.rounds == 1:
                raise RuntimeError("a bug in the discoverer")
            await asyncio.Event().wait()

    pool = InstancePool(Flaky(), Endpoint, "round_robin")
    await pool.start()
    await until(lambda: [str(e) for e in pool.endpoints] == ["10.0.0.1:2"], "the second round")
    assert "test://flaky: watching failed; watching again in 1 s" in caplog.text
    await pool.close()


def test_the_address_a_server_advertises() -> None:
    import socket
    from types import SimpleNamespace

    from volo.lifecycle import advertised

    registry: Any = None
    served: Any = SimpleNamespace(host="127.0.0.1", port=8080)
    assert advertised(served, Registration(registry, "s")) == Instance("127.0.0.1", 8080)
    assert advertised(served, Registration(registry, "s", "10.1.2.3")) == Instance("10.1.2.3", 8080)
    assert advertised(served, Registration(registry, "s", "[::1]")) == Instance("::1", 8080)
    assert advertised(served, Registration(registry, "s", "h:99", 3, {"z": "a"})) == Instance("h", 99, 3, {"z": "a"})
    anywhere: Any = SimpleNamespace(host="0.0.0.0", port=8080)
    mine = socket.gethostbyname(socket.gethostname())
    assert advertised(anywhere, Registration(registry, "s")) == Instance(mine, 8080)


async def test_stop_cancels_again_when_a_cancellation_is_lost() -> None:
    """As Python 3.11's asyncio.wait_for may lose one (seen in etcd's client)."""

    async def deaf_once() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # lost
            await asyncio.sleep(3600)
        await asyncio.sleep(3600)

    task = asyncio.get_running_loop().create_task(deaf_once())
    await asyncio.sleep(0)
    await stop(task)
    assert task.cancelled()
