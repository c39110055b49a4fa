"""Failover, retries, backup requests and circuit breakers on the Thrift
client, against servers that fail, stall or hang up on purpose."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import pytest

import volo
import volo.thrift
from pilota.runtime.service import ApplicationError
from tests.thrift_test_service import make_handler
from volo.errors import CircuitOpen, TransportError
from volo.resilience import BackupRequest, CircuitBreaker, RetryPolicy, State

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class Behaviour:
    """What a test server does with testString: `mode` is "ok" (answer with its
    tag), "fail" (raise what the method does not declare: INTERNAL_ERROR),
    "stall" (never answer) or "drop" (hang up with the call unanswered)."""

    def __init__(self, tag: str, mode: str = "ok") -> None:
        self.tag, self.mode = tag, mode
        self.calls = 0


def handler(tt: Any, behaviour: Behaviour) -> Any:
    base = make_handler(tt)

    class Behaving(type(base)):  # type: ignore[misc]
        async def testString(self, thing: str) -> str:
            behaviour.calls += 1
            if behaviour.mode == "fail":
                raise RuntimeError("failing on purpose")
            if behaviour.mode == "stall":
                await asyncio.sleep(3600)
            if behaviour.mode == "drop":
                volo.call_context().call.transport.abort()  # type: ignore[union-attr]
                await asyncio.sleep(3600)
            return behaviour.tag

    return Behaving()


@asynccontextmanager
async def servers(tt: Any, *modes: str) -> AsyncIterator[tuple[list[Behaviour], list[str]]]:
    """Servers `a`, `b`, ... behaving as `modes` say, and their addresses."""
    behaviours = [Behaviour(chr(ord("a") + i), mode) for i, mode in enumerate(modes)]
    running = [volo.thrift.Server(handler(tt, b), "127.0.0.1", 0) for b in behaviours]
    for server in running:
        await server.start()
    try:
        yield behaviours, [f"127.0.0.1:{s.port}" for s in running]
    finally:
        for server in running:
            await server.close(0)


# ---- failover --------------------------------------------------------------------------


async def test_a_call_that_could_not_be_sent_goes_to_another_instance(tt: Any) -> None:
    async with servers(tt, "ok") as (_behaviours, addresses):
        transport = volo.thrift.connect(["127.0.0.1:1", *addresses], retries=1)
        client = tt.ThriftTestClient(transport)
        assert [await client.testString("x") for _ in range(6)] == ["a"] * 6
        await transport.close()
        none_left = volo.thrift.connect(["127.0.0.1:1", *addresses], retries=0)
        with pytest.raises(TransportError, match=r"cannot connect to 127\.0\.0\.1:1: no server is listening"):
            await tt.ThriftTestClient(none_left).testString("x")  # the first pick is the dead one
        await none_left.close()


async def test_a_sent_call_is_never_resent_unless_idempotent(tt: Any) -> None:
    async with servers(tt, "drop", "ok") as (behaviours, addresses):
        plain = volo.thrift.connect(addresses, retries=3)
        with pytest.raises(TransportError, match="connection"):
            await tt.ThriftTestClient(plain).testString("x")  # round robin: a first
        assert [b.calls for b in behaviours] == [1, 0]  # it may have run: not sent again
        await plain.close()

        idempotent = volo.thrift.connect(addresses, retries=1, idempotent=["testString"])
        assert await tt.ThriftTestClient(idempotent).testString("x") == "b"
        assert [b.calls for b in behaviours] == [2, 1]
        await idempotent.close()

        by_service = volo.thrift.connect(addresses, idempotent=["ThriftTest.testString"])
        assert await tt.ThriftTestClient(by_service).testString("x") == "b"
        await by_service.close()


def test_idempotent_takes_a_list() -> None:
    with pytest.raises(TypeError, match="idempotent takes a list of method names, not one string"):
        volo.thrift.connect("127.0.0.1:1", idempotent="get")


# ---- retry policy ----------------------------------------------------------------------


async def test_retries_move_on_from_a_failing_instance(tt: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "volo.resilience")
    async with servers(tt, "fail", "fail", "ok") as (behaviours, addresses):
        policy = RetryPolicy(max_attempts=3, backoff=0.01)
        transport = volo.thrift.connect(addresses, retry=policy, idempotent=["testString"])
        assert await tt.ThriftTestClient(transport).testString("x") == "c"
        assert [b.calls for b in behaviours] == [1, 1, 1]
        waits = [r.getMessage().rpartition("retrying in ")[2] for r in caplog.records if "retrying" in r.getMessage()]
        assert waits == ["0.01 s", "0.02 s"]  # the backoff doubles
        await transport.close()


async def test_retries_stop_at_max_attempts(tt: Any) -> None:
    async with servers(tt, "fail", "fail", "fail") as (behaviours, addresses):
        transport = volo.thrift.connect(addresses, retry=RetryPolicy(max_attempts=2, backoff=0), idempotent=["testString"])
        with pytest.raises(ApplicationError, match="INTERNAL_ERROR"):
            await tt.ThriftTestClient(transport).testString("x")
        assert sum(b.calls for b in behaviours) == 2
        await transport.close()


async def test_a_method_not_declared_idempotent_is_not_retried(tt: Any) -> None:
    async with servers(tt, "fail", "ok") as (behaviours, addresses):
        transport = volo.thrift.connect(addresses, retry=RetryPolicy(max_attempts=5), idempotent=["testI32"])
        with pytest.raises(ApplicationError, match="INTERNAL_ERROR"):
            await tt.ThriftTestClient(transport).testString("x")
        assert [b.calls for b in behaviours] == [1, 0]
        await transport.close()


async def test_a_declared_exception_is_an_answer_not_retried(tt: Any) -> None:
    async with servers(tt, "ok", "ok") as (_, addresses):
        transport = volo.thrift.connect(addresses, retry=RetryPolicy(max_attempts=5), idempotent=["testException"])
        with pytest.raises(tt.Xception):
            await tt.ThriftTestClient(transport).testException("Xception")
        await transport.close()


async def test_retries_stop_when_the_budget_is_spent(tt: Any) -> None:
    """Each attempt times out after 0.1 s; a budget of 0.25 s leaves room for
    a few of the ten attempts allowed, never all."""
    async with servers(tt, "stall", "stall") as (behaviours, addresses):
        policy = RetryPolicy(max_attempts=10, backoff=0.01, budget=0.25)
        transport = volo.thrift.connect(addresses, timeout=0.1, retry=policy, idempotent=["testString"])
        with pytest.raises(volo.CallTimeout):
            await tt.ThriftTestClient(transport).testString("x")
        attempts = sum(b.calls for b in behaviours)
        assert 1 <= attempts < 10
        await transport.close()


# ---- backup requests -------------------------------------------------------------------


async def test_a_backup_request_answers_for_a_stalled_instance(tt: Any) -> None:
    async with servers(tt, "stall", "ok") as (behaviours, addresses):
        transport = volo.thrift.connect(addresses, timeout=30, backup=BackupRequest(delay=0.05),
                                        idempotent=["testString"])  # fmt: skip
        client = tt.ThriftTestClient(transport)
        assert [await client.testString("x") for _ in range(4)] == ["b"] * 4
        # Round robin picks a for each call (the backup's pick, which avoids a, takes
        # b's turn): each call stalled at a, and its backup answered from b.
        assert [b.calls for b in behaviours] == [4, 4]
        # the stalled attempts were given up: nothing waits on a's connection
        await asyncio.sleep(0)
        assert all(not c.pending for c in transport.endpoints[0].connections)
        await transport.close()


async def test_no_backup_for_a_method_not_declared_idempotent(tt: Any) -> None:
    async with servers(tt, "stall", "ok") as (behaviours, addresses):
        transport = volo.thrift.connect(addresses, timeout=0.3, backup=BackupRequest(delay=0.02))
        with pytest.raises(volo.CallTimeout):
            await tt.ThriftTestClient(transport).testString("x")
        assert [b.calls for b in behaviours] == [1, 0]
        await transport.close()


# ---- circuit breaker -------------------------------------------------------------------


async def test_a_failing_instance_is_cut_off_then_probed_back(tt: Any) -> None:
    async with servers(tt, "fail", "ok") as (behaviours, addresses):
        breaker = CircuitBreaker(window=60, min_calls=4, error_rate=0.5, open_for=0.3)
        transport = volo.thrift.connect(addresses, breaker=breaker)
        client = tt.ThriftTestClient(transport)
        outcomes = []
        for _ in range(20):
            try:
                outcomes.append(await client.testString("x"))
            except ApplicationError:
                outcomes.append("failed")
        # Round robin alternates until a has had min_calls calls, all failed: its
        # circuit opens, and every call after goes to b.
        assert behaviours[0].calls == 4
        assert outcomes[:8] == ["failed", "b"] * 4 and set(outcomes[8:]) == {"b"}
        a_breaker = transport.resilience.breakers[addresses[0]]
        assert a_breaker.state is State.OPEN
        behaviours[0].mode = "ok"  # a recovers; after open_for a probe finds out

        async def a_is_back() -> None:
            while await client.testString("x") != "a":
                await asyncio.sleep(0.02)

        await asyncio.wait_for(a_is_back(), 20)
        assert a_breaker.state is State.CLOSED
        assert set(await asyncio.gather(*(client.testString("x") for _ in range(6)))) == {"a", "b"}
        await transport.close()


async def test_a_failed_probe_opens_the_circuit_again(tt: Any) -> None:
    async with servers(tt, "fail", "ok") as (behaviours, addresses):
        breaker = CircuitBreaker(window=60, min_calls=2, error_rate=0.5, open_for=0.2)
        transport = volo.thrift.connect(addresses, breaker=breaker)
        client = tt.ThriftTestClient(transport)
        a_breaker = transport.resilience.breakers.get
        for _ in range(4):
            with suppress(ApplicationError):
                await client.testString("x")
        assert a_breaker(addresses[0]).state is State.OPEN
        calls_when_opened = behaviours[0].calls
        while behaviours[0].calls == calls_when_opened:  # until the probe went to a
            with suppress(ApplicationError):
                await client.testString("x")
            await asyncio.sleep(0.02)
        assert behaviours[0].calls == calls_when_opened + 1  # one probe
        assert a_breaker(addresses[0]).state is State.OPEN
        await transport.close()


async def test_when_every_circuit_is_open_calls_fail_unsent(tt: Any) -> None:
    async with servers(tt, "fail") as (behaviours, addresses):
        breaker = CircuitBreaker(window=60, min_calls=2, error_rate=1.0, open_for=3600)
        transport = volo.thrift.connect(addresses, breaker=breaker)
        client = tt.ThriftTestClient(transport)
        for _ in range(2):
            with pytest.raises(ApplicationError):
                await client.testString("x")
        with pytest.raises(CircuitOpen, match=r"^ThriftTest\.testString: the circuit of every instance of 127\.0\.0\.1:\d+ is open$"):
            await client.testString("x")
        assert behaviours[0].calls == 2
        await transport.close()


async def test_a_breaker_counts_calls_that_could_not_connect(tt: Any) -> None:
    async with servers(tt, "ok") as (_behaviours, addresses):
        breaker = CircuitBreaker(window=60, min_calls=2, error_rate=0.5, open_for=3600)
        transport = volo.thrift.connect(["127.0.0.1:1", *addresses], breaker=breaker, retries=1)
        client = tt.ThriftTestClient(transport)
        assert Counter([await client.testString("x") for _ in range(8)]) == {"a": 8}
        assert transport.resilience.breakers["127.0.0.1:1"].state is State.OPEN
        await transport.close()


# ---- the breaker's arithmetic, on a clock the test moves ------------------------------


def test_a_breaker_forgets_calls_older_than_its_window() -> None:
    from volo.resilience import Breaker

    breaker = Breaker(CircuitBreaker(window=10, min_calls=4, error_rate=0.5, open_for=5), "x")
    for now in (0.0, 1.0, 2.0):
        assert breaker.allows(now)
        breaker.record(False, now, probe=False)  # three failures, early on
    for now in (11.5, 12.0, 12.5, 13.0):
        assert breaker.allows(now)
        breaker.record(True, now, probe=False)  # the failures age out meanwhile
    assert breaker.state is State.CLOSED and breaker.failures == 0
    for now in (14.0, 14.5, 15.0, 15.5):
        breaker.record(False, now, probe=False)
    assert breaker.state is State.OPEN  # 4 failures of 8 calls in the window
    assert not breaker.allows(20.4)  # open for 5 s from 15.5
    assert breaker.allows(20.5) and breaker.state is State.HALF_OPEN
    assert not breaker.allows(20.6)  # one probe at a time
    breaker.record(None, 20.7, probe=True)  # the probe was cancelled: no verdict
    assert breaker.allows(20.8)
    breaker.record(True, 20.9, probe=True)
    assert breaker.state is State.CLOSED


def test_policies_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts must be at least 1, not 0"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match=r"error_rate must be over 0 and at most 1, not 1\.5"):
        CircuitBreaker(error_rate=1.5)
    with pytest.raises(ValueError, match="retries must be 0 or more, not -1"):
        volo.thrift.connect("127.0.0.1:1", retries=-1)
