"""Layers on client and server, and metainfo across calls."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import volo.thrift
from pilota.runtime.base import Struct
from pilota.runtime.service import ApplicationError
from tests.thrift_test_service import slow_handler
from volo import metainfo
from volo.middleware import AccessLog, ConcurrencyLimit, Context, Service, Timeout


class Record:
    """A layer that notes when calls enter and leave it."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def layer(self, inner: Service) -> Service:
        name, log = self.name, self.log

        class _Record:
            async def call(self, ctx: Context, request: Struct) -> Struct | None:
                log.append(f"{ctx.side} {name} in {ctx.method}")
                result = await inner.call(ctx, request)
                log.append(f"{ctx.side} {name} out")
                return result

        return _Record()


async def test_layers_wrap_in_order_on_both_sides(tt: Any) -> None:
    log: list[str] = []
    server = volo.thrift.Server(slow_handler(tt, {}), "127.0.0.1", 0, layers=[Record("a", log), Record("b", log)])
    async with server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}", layers=[Record("x", log), Record("y", log)])
        assert await tt.ThriftTestClient(transport).testString("hi") == "hi"
        await transport.close()
    assert log == [
        "client x in testString", "client y in testString",
        "server a in testString", "server b in testString",
        "server b out", "server a out",
        "client y out", "client x out",
    ]  # fmt: skip


async def test_concurrency_limit(tt: Any) -> None:
    running = 0
    peak = 0
    base = slow_handler(tt, {})

    class Counting(type(base)):  # type: ignore[misc]
        async def testI32(self, thing: int) -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.02)
            running -= 1
            return thing

    async with volo.thrift.Server(Counting(), "127.0.0.1", 0, layers=[ConcurrencyLimit(3)]) as server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}")
        client = tt.ThriftTestClient(transport)
        assert await asyncio.gather(*(client.testI32(i) for i in range(30))) == list(range(30))
        await transport.close()
    assert peak == 3


async def test_timeouts_as_layers(tt: Any) -> None:
    async with volo.thrift.Server(slow_handler(tt, {"slow": 1.0}), "127.0.0.1", 0, layers=[Timeout(0.1)]) as server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}")
        client = tt.ThriftTestClient(transport)
        with pytest.raises(ApplicationError) as raised:
            await client.testString("slow")  # the server gave up: an internal error
        assert raised.value.kind.name == "INTERNAL_ERROR"
        await transport.close()
        impatient = volo.thrift.connect(f"127.0.0.1:{server.port}", layers=[Timeout(0.05)])
        with pytest.raises(TimeoutError):
            await tt.ThriftTestClient(impatient).testI32(500)
        await impatient.close()


async def test_access_log(tt: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="volo.access")
    async with volo.thrift.Server(slow_handler(tt, {}), "127.0.0.1", 0, layers=[AccessLog()]) as server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}")
        await tt.ThriftTestClient(transport).testString("x")
        with pytest.raises(tt.Xception):
            await tt.ThriftTestClient(transport).testException("Xception")
        await transport.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "volo.access"]
    assert len(lines) == 2
    assert lines[0].startswith("server ThriftTest.testString 127.0.0.1:") and " ok " in lines[0]
    assert lines[1].startswith("server ThriftTest.testException") and " ok " in lines[1]  # a declared exception is a result


async def test_metainfo_travels_in_ttheader(tt: Any) -> None:
    seen: list[dict[str, str | None]] = []
    downstream_seen: list[dict[str, str | None]] = []

    def handler(record: list[dict[str, str | None]], forward_to: int | None = None) -> Any:
        base = slow_handler(tt, {})

        class Meta(type(base)):  # type: ignore[misc]
            async def testString(self, thing: str) -> str:
                record.append({k: metainfo.get(k) for k in ("tenant", "hop")})
                if forward_to is not None:
                    onward = volo.thrift.connect(f"127.0.0.1:{forward_to}", framing="header")
                    await tt.ThriftTestClient(onward).testString(thing)
                    await onward.close()
                return thing

        return Meta()

    downstream = volo.thrift.Server(handler(downstream_seen), "127.0.0.1", 0)
    await downstream.start()
    async with volo.thrift.Server(handler(seen, downstream.port), "127.0.0.1", 0) as middle:
        transport = volo.thrift.connect(f"127.0.0.1:{middle.port}", framing="header", protocol="compact")
        metainfo.set_persistent("tenant", "acme")
        metainfo.set_transient("hop", "first")
        await tt.ThriftTestClient(transport).testString("go")
        await transport.close()
    await downstream.close()
    assert seen == [{"tenant": "acme", "hop": "first"}]
    assert downstream_seen == [{"tenant": "acme", "hop": None}]  # persistent passes on; transient does not
