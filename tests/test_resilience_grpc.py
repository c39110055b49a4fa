"""Discovery, failover, retries, backup requests and circuit breakers on the
gRPC client, against volo.grpc servers that fail or stall on purpose."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio
import pytest

import volo
import volo.grpc
from tests.etcd_support import Etcd
from tests.grpc_support import modules
from volo.discovery import Instance, registry_from_url
from volo.errors import CircuitOpen, TransportError
from volo.resilience import BackupRequest, CircuitBreaker, RetryPolicy, State

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class Behaviour:
    """What a test server does with Unary: `mode` is "ok" (answer with its tag),
    "fail" (raise: INTERNAL) or "stall" (never answer)."""

    def __init__(self, tag: str, mode: str = "ok") -> None:
        self.tag, self.mode = tag, mode
        self.calls = 0
        self.server: volo.grpc.Server | None = None


def handler(behaviour: Behaviour) -> Any:
    ours = modules().ours

    class Behaving(ours.EchoHandler):  # type: ignore[misc, name-defined]
        async def Unary(self, request: Any) -> Any:
            behaviour.calls += 1
            if behaviour.mode == "fail":
                raise RuntimeError("failing on purpose")
            if behaviour.mode == "stall":
                await asyncio.sleep(3600)
            return ours.Pong(text=behaviour.tag)

    return Behaving()


@asynccontextmanager
async def servers(*modes: str) -> AsyncIterator[tuple[list[Behaviour], list[str]]]:
    behaviours = [Behaviour(chr(ord("a") + i), mode) for i, mode in enumerate(modes)]
    running = [volo.grpc.Server(handler(b), "127.0.0.1", 0) for b in behaviours]
    for server, behaviour in zip(running, behaviours, strict=True):
        await server.start()
        behaviour.server = server
    try:
        yield behaviours, [f"127.0.0.1:{s.port}" for s in running]
    finally:
        for server in running:
            await server.close(0)


async def unary(channel: volo.grpc.Channel, **options: Any) -> str:
    ours = modules().ours
    reply = await ours.EchoClient(channel).Unary(ours.Ping(text="x"), **options)
    return str(reply.text)


def free_address() -> str:
    from tests.etcd_support import free_port

    return f"127.0.0.1:{free_port()}"


async def test_instances_found_in_etcd_share_the_calls(etcd: Etcd) -> None:
    async with servers("ok", "ok", "ok") as (_, addresses):
        registries = [registry_from_url(f"{etcd.url}?ttl=2") for _ in addresses]
        for registry, address in zip(registries, addresses, strict=True):
            await registry.register("echo-grpc", Instance("127.0.0.1", int(address.rpartition(":")[2])))
        channel = volo.grpc.connect(f"{etcd.url}/echo-grpc")
        assert Counter([await unary(channel) for _ in range(30)]) == dict.fromkeys("abc", 10)
        await registries[0].deregister()
        await channel.start()
        loop = asyncio.get_running_loop()
        end = loop.time() + 20
        while len(channel.endpoints) != 2 and loop.time() < end:
            await asyncio.sleep(0.02)
        assert Counter([await unary(channel) for _ in range(20)]) == {"b": 10, "c": 10}
        await channel.close()
        for registry in registries[1:]:
            await registry.deregister()


async def test_a_call_that_could_not_connect_goes_to_another_instance() -> None:
    async with servers("ok") as (behaviours, addresses):
        channel = volo.grpc.connect([free_address(), *addresses], connect_timeout=5)
        assert [await unary(channel) for _ in range(6)] == ["a"] * 6
        await channel.close()
        stuck = volo.grpc.connect([free_address(), *addresses], retries=0)
        with pytest.raises(volo.grpc.Unavailable, match=r"cannot connect to 127\.0\.0\.1:\d+") as caught:
            await unary(stuck)  # the first pick is the dead one, and no failover is allowed
        assert isinstance(caught.value, TransportError)
        assert behaviours[0].calls == 6
        await stuck.close()


async def test_a_connected_channel_is_not_asked_its_state_per_call_yet_a_lost_one_fails_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: Counter[grpc.aio.Channel] = Counter()  # state queries, per grpcio channel
    get_state = grpc.aio._channel.Channel.get_state

    def counted(self: grpc.aio.Channel, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        asked[self] += 1
        return get_state(self, try_to_connect)

    monkeypatch.setattr(grpc.aio._channel.Channel, "get_state", counted)
    async with servers("ok", "ok") as (behaviours, addresses):
        channel = volo.grpc.connect(addresses)  # round robin: a, b, a, b, ...
        assert [await unary(channel) for _ in range(2)] == ["a", "b"]
        first = channel.endpoints[0]
        assert str(first) == addresses[0]
        assert set(asked) == {e.channel for e in channel.endpoints}  # each checked when new
        before = asked.copy()
        assert [await unary(channel) for _ in range(20)] == ["a", "b"] * 10
        assert asked == before  # connected: the calls went straight out
        assert first.ready
        # a goes away: its channel leaves READY, so the next call to it checks,
        # finds it cannot connect, and goes to b unsent (Unary is not idempotent).
        assert behaviours[0].server is not None
        await behaviours[0].server.close(0)
        loop = asyncio.get_running_loop()
        end = loop.time() + 30
        while first.ready and loop.time() < end:
            await asyncio.sleep(0.01)
        assert not first.ready, "the channel to the stopped server still looks READY"
        assert [await unary(channel) for _ in range(6)] == ["b"] * 6
        assert asked[first.channel] > before[first.channel] and behaviours[0].calls == 11
        await channel.close()


async def test_a_failed_call_is_retried_only_when_idempotent() -> None:
    async with servers("fail", "ok") as (behaviours, addresses):
        plain = volo.grpc.connect(addresses, retry=RetryPolicy(max_attempts=3, backoff=0))
        with pytest.raises(volo.grpc.StatusError) as caught:
            await unary(plain)
        assert caught.value.code is volo.grpc.Code.INTERNAL
        assert [b.calls for b in behaviours] == [1, 0]
        await plain.close()
        retried = volo.grpc.connect(addresses, retry=RetryPolicy(max_attempts=3, backoff=0),
                                    idempotent=["Unary"])  # fmt: skip
        assert await unary(retried) == "b"
        assert [b.calls for b in behaviours] == [2, 1]
        await retried.close()


async def test_retries_of_a_stalling_instance_stop_at_max_attempts() -> None:
    async with servers("stall", "stall") as (behaviours, addresses):
        channel = volo.grpc.connect(addresses, retry=RetryPolicy(max_attempts=2, backoff=0),
                                    idempotent=["echotest.v1.Echo.Unary"])  # fmt: skip
        with pytest.raises(volo.CallTimeout):
            await unary(channel, timeout=0.2)
        assert [b.calls for b in behaviours] == [1, 1]
        await channel.close()


async def test_a_backup_request_answers_for_a_stalled_instance() -> None:
    async with servers("stall", "ok") as (behaviours, addresses):
        channel = volo.grpc.connect(addresses, backup=BackupRequest(delay=0.05), idempotent=["Unary"])
        assert [await unary(channel, timeout=30) for _ in range(3)] == ["b"] * 3
        assert [b.calls for b in behaviours] == [3, 3]
        await channel.close()
        no_backup = volo.grpc.connect(addresses, backup=BackupRequest(delay=0.02))
        with pytest.raises(volo.CallTimeout):
            await unary(no_backup, timeout=0.3)  # not idempotent: no copy goes to b
        assert behaviours[1].calls == 3
        await no_backup.close()


async def test_a_failing_instance_is_cut_off_then_probed_back() -> None:
    async with servers("fail", "ok") as (behaviours, addresses):
        breaker = CircuitBreaker(window=60, min_calls=3, error_rate=0.5, open_for=0.3)
        channel = volo.grpc.connect(addresses, breaker=breaker)
        outcomes = []
        for _ in range(12):
            try:
                outcomes.append(await unary(channel))
            except volo.grpc.StatusError:
                outcomes.append("failed")
        assert behaviours[0].calls == 3
        assert outcomes[:6] == ["failed", "b"] * 3 and set(outcomes[6:]) == {"b"}
        assert channel.resilience.breakers[addresses[0]].state is State.OPEN
        behaviours[0].mode = "ok"

        async def a_is_back() -> None:
            while await unary(channel) != "a":
                await asyncio.sleep(0.02)

        await asyncio.wait_for(a_is_back(), 20)
        assert channel.resilience.breakers[addresses[0]].state is State.CLOSED
        await channel.close()


async def test_when_every_circuit_is_open_calls_fail_unsent() -> None:
    async with servers("fail") as (behaviours, addresses):
        breaker = CircuitBreaker(window=60, min_calls=2, error_rate=1.0, open_for=3600)
        channel = volo.grpc.connect(addresses, breaker=breaker)
        for _ in range(2):
            with contextlib.suppress(volo.grpc.StatusError):
                await unary(channel)
        with pytest.raises(CircuitOpen, match=r"the circuit of every instance of 127\.0\.0\.1:\d+ is open"):
            await unary(channel)
        assert behaviours[0].calls == 2
        await channel.close()
