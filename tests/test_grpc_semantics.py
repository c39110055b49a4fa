"""What a volo.grpc call means, beyond the wire: deadlines that propagate to
downstream calls, cancellation that reaches the handler, errors that leak
nothing, UNIMPLEMENTED, metainfo as metadata (TTHeader's persistent and
transient rules), message size limits, graceful shutdown; and the Context a
handler reads, the same for gRPC as for Thrift."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest

import volo
import volo.grpc
import volo.thrift
from tests.grpc_support import echo_server, make_handler, modules
from tests.thrift_test_service import slow_handler
from volo import metainfo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def ours() -> Any:
    return modules().ours


def stub(port: int, **options: Any) -> tuple[grpc.aio.Channel, Any]:
    """grpcio's channel and grpcio-tools' stub to 127.0.0.1:`port`."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", **options)
    return channel, modules().pb2_grpc.EchoStub(channel)


def reporter() -> Any:
    """A backend whose Unary says what its call's Context holds, and whose
    ServerStream runs until cancelled (noting that it was)."""
    Pong = ours().Pong

    class Reporter(ours().EchoHandler):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.cancelled = asyncio.Event()
            self.started = asyncio.Event()
            self.context_says: list[bool] = []  # ctx.cancelled(), once cancelled

        async def Unary(self, request: Any) -> Any:
            ctx = volo.call_context()
            left = ctx.time_remaining()
            seen = {
                "left": "none" if left is None else repr(left),
                "tenant": metainfo.get("tenant") or "-",
                "hop": metainfo.get("hop") or "-",
                "front": metainfo.get("front") or "-",
                "protocol": ctx.protocol,
                "side": ctx.side,
                "method": f"{ctx.service}/{ctx.method}",
            }
            if request.sleep_ms:
                self.started.set()
                try:
                    await asyncio.sleep(request.sleep_ms / 1000)
                except asyncio.CancelledError:
                    self.context_says.append(ctx.cancelled())
                    self.cancelled.set()
                    raise
            return Pong(text=request.text, seen=seen)

        async def ServerStream(self, request: Any) -> AsyncIterator[Any]:
            try:
                i = 0
                while True:
                    yield Pong(index=i)
                    i += 1
                    self.started.set()
                    await asyncio.sleep(0.01)
            finally:
                self.context_says.append(volo.call_context().cancelled())
                self.cancelled.set()

    return Reporter()


def forwarder(backend_port: int) -> Any:
    """A front whose Unary calls the backend (our client) while handling the request."""

    class Front(ours().EchoHandler):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.channel = volo.grpc.connect(f"127.0.0.1:{backend_port}")
            self.seen_here: dict[str, str] = {}

        async def Unary(self, request: Any) -> Any:
            self.seen_here = {"tenant": metainfo.get("tenant") or "-",
                              "hop": metainfo.get("hop") or "-"}  # fmt: skip
            metainfo.set_transient("front", "yes")  # for the next hop only
            downstream = ours().EchoClient(self.channel)
            return await downstream.Unary(request)

    return Front()


async def test_deadline_propagates_to_downstream_calls() -> None:
    backend = reporter()
    async with volo.grpc.Server(backend, "127.0.0.1", 0) as back:
        front_handler = forwarder(back.port)
        async with volo.grpc.Server(front_handler, "127.0.0.1", 0) as front:
            channel, client = stub(front.port)
            async with channel:
                timed = await client.Unary(modules().pb2.Ping(text="a"), timeout=30)
                untimed = await client.Unary(modules().pb2.Ping(text="b"))
                # The front waits for a backend that sleeps past the caller's
                # deadline: the caller fails, and the backend's handler is cancelled.
                with pytest.raises(grpc.aio.AioRpcError) as late:
                    await client.Unary(modules().pb2.Ping(sleep_ms=60_000), timeout=0.5)
                await asyncio.wait_for(backend.cancelled.wait(), 30)
            await front_handler.channel.close()
    left = float(timed.seen["left"])
    assert 0 < left < 31  # 30 s less what has passed (grpcio rounds the wire timeout up)
    assert untimed.seen["left"] == "none"
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_deadline_propagates_to_a_grpcio_servicer_downstream() -> None:
    """Front (ours) between grpcio's client and grpcio's servicer: the servicer
    sees a deadline, though the front gave its call none."""
    async with echo_server("grpcio") as back:
        front_handler = forwarder(back.port)
        async with volo.grpc.Server(front_handler, "127.0.0.1", 0) as front:
            channel, client = stub(front.port)
            async with channel:
                timed = await client.Unary(modules().pb2.Ping(text="a"), timeout=30)
                untimed = await client.Unary(modules().pb2.Ping(text="b"))
            await front_handler.channel.close()
    assert timed.seen["deadline"] == "yes"
    assert "deadline" not in untimed.seen


async def test_metainfo_persistent_and_transient_across_hops() -> None:
    """As with TTHeader: a persistent value goes on with every downstream call,
    a transient one goes one hop; and each is metadata a grpcio peer reads."""
    backend = reporter()
    async with volo.grpc.Server(backend, "127.0.0.1", 0) as back:
        front_handler = forwarder(back.port)
        async with volo.grpc.Server(front_handler, "127.0.0.1", 0) as front:
            async with volo.grpc.connect(f"127.0.0.1:{front.port}") as channel:
                metainfo.set_persistent("tenant", "acme")
                metainfo.set_transient("hop", "first")
                reply = await ours().EchoClient(channel).Unary(ours().Ping(text="x"))
            await front_handler.channel.close()
        # grpcio's servicer reads the metadata our client sends
        async with (
            echo_server("grpcio") as grpcio_back,
            volo.grpc.connect(f"127.0.0.1:{grpcio_back.port}") as channel,
        ):
            direct = await ours().EchoClient(channel).Unary(ours().Ping(text="y"))
        # grpcio's client sends metainfo as metadata; our handler reads it as metainfo
        channel, client = stub(back.port)
        async with channel:
            metadata = (("rpc-persist-tenant", "globex"), ("rpc-transit-hop", "grpcio"))
            from_grpcio = await client.Unary(modules().pb2.Ping(text="z"), metadata=metadata)
    assert front_handler.seen_here == {"tenant": "acme", "hop": "first"}
    # two hops on: the persistent value, and the front's own transient one, not the caller's
    assert (reply.seen["tenant"], reply.seen["hop"], reply.seen["front"]) == ("acme", "-", "yes")
    assert (direct.seen["metainfo-tenant"], direct.seen["metainfo-hop"]) == ("acme", "first")
    assert (from_grpcio.seen["tenant"], from_grpcio.seen["hop"]) == ("globex", "grpcio")


async def test_metainfo_from_thrift_goes_on_over_grpc(tt: Any) -> None:
    """One metainfo model: a Thrift handler's call to a gRPC backend carries
    on what came to it persistently in TTHeader, and not what came transiently."""
    backend = reporter()
    async with volo.grpc.Server(backend, "127.0.0.1", 0) as back:
        grpc_channel = volo.grpc.connect(f"127.0.0.1:{back.port}")
        seen: dict[str, str] = {}

        class Bridge(type(slow_handler(tt, {}))):  # type: ignore[misc]
            async def testString(self, thing: str) -> str:
                reply = await ours().EchoClient(grpc_channel).Unary(ours().Ping(text=thing))
                seen.update(reply.seen)
                return str(reply.text)

        async with volo.thrift.Server(Bridge(), "127.0.0.1", 0) as thrift_server:
            transport = volo.thrift.connect(f"127.0.0.1:{thrift_server.port}", framing="header")
            metainfo.set_persistent("tenant", "initech")
            metainfo.set_transient("hop", "thrift-only")
            assert await tt.ThriftTestClient(transport).testString("via") == "via"
            await transport.close()
        await grpc_channel.close()
    assert (seen["tenant"], seen["hop"], seen["protocol"]) == ("initech", "-", "grpc")


async def test_metainfo_from_grpc_goes_on_over_thrift(tt: Any) -> None:
    """And the other way: a gRPC handler's call to a Thrift backend carries on
    in TTHeader what came to it persistently as gRPC metadata."""
    seen: dict[str, str | None] = {}

    class Backend(type(slow_handler(tt, {}))):  # type: ignore[misc]
        async def testString(self, thing: str) -> str:
            seen.update({key: metainfo.get(key) for key in ("tenant", "hop", "front")})
            return thing

    async with volo.thrift.Server(Backend(), "127.0.0.1", 0) as thrift_server:
        transport = volo.thrift.connect(f"127.0.0.1:{thrift_server.port}", framing="header")

        class Bridge(ours().EchoHandler):  # type: ignore[misc, name-defined]
            async def Unary(self, request: Any) -> Any:
                metainfo.set_transient("front", "grpc")
                text = await tt.ThriftTestClient(transport).testString(request.text)
                return ours().Pong(text=text)

        async with (
            volo.grpc.Server(Bridge(), "127.0.0.1", 0) as server,
            volo.grpc.connect(f"127.0.0.1:{server.port}") as channel,
        ):
            metainfo.set_persistent("tenant", "umbrella")
            metainfo.set_transient("hop", "grpc-only")
            assert (await ours().EchoClient(channel).Unary(ours().Ping(text="via"))).text == "via"
        await transport.close()
    assert seen == {"tenant": "umbrella", "hop": None, "front": "grpc"}


async def test_cancellation_reaches_the_handler() -> None:
    for kind in ("unary", "stream"):
        backend = reporter()
        async with volo.grpc.Server(backend, "127.0.0.1", 0) as server:
            channel, client = stub(server.port)
            async with channel:
                if kind == "unary":
                    call = client.Unary(modules().pb2.Ping(sleep_ms=60_000))
                else:
                    call = client.ServerStream(modules().pb2.Ping())
                await asyncio.wait_for(backend.started.wait(), 30)
                call.cancel()
                await asyncio.wait_for(backend.cancelled.wait(), 30)
                # the server goes on serving
                ok = await client.Unary(modules().pb2.Ping(text="after"), timeout=30)
            assert ok.text == "after"
            assert server.calls == 0
            assert backend.context_says == [True]  # the handler's Context says so too


async def test_our_client_cancelling_reaches_the_handler() -> None:
    backend = reporter()
    async with (
        volo.grpc.Server(backend, "127.0.0.1", 0) as server,
        volo.grpc.connect(f"127.0.0.1:{server.port}") as channel,
    ):
        client = ours().EchoClient(channel)
        task = asyncio.ensure_future(client.Unary(ours().Ping(sleep_ms=60_000)))
        await asyncio.wait_for(backend.started.wait(), 30)
        task.cancel()
        await asyncio.wait_for(backend.cancelled.wait(), 30)
        stream = client.ServerStream(ours().Ping())
        backend.cancelled.clear()
        assert (await anext(stream)).index == 0
        stream.cancel()
        await asyncio.wait_for(backend.cancelled.wait(), 30)
        with pytest.raises((asyncio.CancelledError, StopAsyncIteration)):
            await anext(stream)


async def test_any_other_exception_is_internal_and_leaks_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with volo.grpc.Server(make_handler(), "127.0.0.1", 0) as server:
        channel, client = stub(server.port)
        async with channel:
            with caplog.at_level(logging.ERROR, logger="volo.server"):
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await client.Unary(modules().pb2.Ping(crash=True))
                stream = client.ServerStream(modules().pb2.Ping(count=5, fail_after=2))
                got = []
                with pytest.raises(grpc.aio.AioRpcError) as mid_stream:
                    async for pong in stream:
                        got.append(pong.index)
    error = failed.value
    assert (error.code(), error.details()) == (grpc.StatusCode.INTERNAL, "internal error")
    assert "secret" not in repr(error.trailing_metadata())
    assert "secret" not in error.debug_error_string()
    assert "RuntimeError" not in error.debug_error_string()
    assert got == [0, 1]
    assert mid_stream.value.code() == grpc.StatusCode.INTERNAL
    assert mid_stream.value.details() == "internal error"
    # the server's log has the traceback
    assert "a secret that must not leak" in caplog.text
    assert "failed mid-stream" in caplog.text


async def test_unknown_and_unimplemented_methods() -> None:
    class Partial(ours().EchoHandler):  # type: ignore[misc, name-defined]
        async def Unary(self, request: Any) -> Any:
            return ours().Pong(text=request.text)

    async with volo.grpc.Server(Partial(), "127.0.0.1", 0) as server:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
        async with channel:
            codes = {}
            for path in ("/echotest.v1.Echo/NoSuchMethod", "/no.such.Service/Unary"):
                call = channel.unary_unary(path)(b"")
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await call
                codes[path] = failed.value.code()
            client = modules().pb2_grpc.EchoStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as not_written:
                async for _ in client.ServerStream(modules().pb2.Ping()):
                    pass
            with pytest.raises(grpc.aio.AioRpcError) as not_written_either:
                await client.ClientStream(iter([modules().pb2.Ping()]))
            ok = await client.Unary(modules().pb2.Ping(text="still"))
    assert set(codes.values()) == {grpc.StatusCode.UNIMPLEMENTED}
    assert not_written.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert not_written.value.details() == "method /echotest.v1.Echo/ServerStream is not implemented"
    assert not_written_either.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert ok.text == "still"


async def test_max_message_sizes() -> None:
    pb2 = modules().pb2
    async with volo.grpc.Server(make_handler(), "127.0.0.1", 0, max_message=10_000) as server:
        channel, client = stub(server.port)
        async with channel:
            with pytest.raises(grpc.aio.AioRpcError) as too_big_in:
                await client.Unary(pb2.Ping(blob=b"x" * 20_000))
            # a request that fits, whose reply (the blob and more) does not
            with pytest.raises(grpc.aio.AioRpcError) as too_big_out:
                await client.Unary(pb2.Ping(blob=b"x" * 9_990))
            fits = await client.Unary(pb2.Ping(blob=b"x" * 9_000))
        # our client's own limit, on what it receives and what it sends
        async with volo.grpc.connect(f"127.0.0.1:{server.port}", max_message=5_000) as ours_ch:
            small = ours().EchoClient(ours_ch)
            with pytest.raises(volo.grpc.StatusError) as ours_in:
                await small.ServerStream(ours().Ping(blob=b"y" * 4_990, count=1)).__anext__()
            with pytest.raises(volo.grpc.StatusError) as ours_out:
                await small.Unary(ours().Ping(blob=b"y" * 6_000))
            assert (await small.Unary(ours().Ping(blob=b"y" * 100))).blob == b"y" * 100
    assert too_big_in.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert too_big_out.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(fits.blob) == 9_000
    assert ours_in.value.code == volo.grpc.Code.RESOURCE_EXHAUSTED
    assert ours_out.value.code == volo.grpc.Code.RESOURCE_EXHAUSTED
    with pytest.raises(ValueError, match="at least 1 byte"):
        volo.grpc.Server(make_handler(), max_message=0)


async def test_graceful_shutdown_drains_unary_calls_and_gives_streams_a_grace() -> None:
    release = asyncio.Event()
    Pong = ours().Pong
    stream_ended = asyncio.Event()
    unary_started = asyncio.Event()

    class Slow(ours().EchoHandler):  # type: ignore[misc, name-defined]
        async def Unary(self, request: Any) -> Any:
            unary_started.set()
            await release.wait()
            return Pong(text="drained")

        async def ServerStream(self, request: Any) -> AsyncIterator[Any]:
            try:
                i = 0
                while True:
                    yield Pong(index=i)
                    i += 1
                    await asyncio.sleep(0.01)
            finally:
                stream_ended.set()

    server = volo.grpc.Server(Slow(), "127.0.0.1", 0)
    await server.start()
    channel, client = stub(server.port)
    async with channel:
        pb2 = modules().pb2
        unary = asyncio.ensure_future(client.Unary(pb2.Ping()))
        stream = client.ServerStream(pb2.Ping())
        await stream.read()
        await asyncio.wait_for(unary_started.wait(), 30)
        closing = asyncio.ensure_future(server.close(grace=1.0))
        # new calls are refused once shutdown begins
        for _ in range(100):
            await asyncio.sleep(0.01)
            late_channel, late_client = stub(server.port)
            async with late_channel:
                try:
                    await late_client.Unary(pb2.Ping(), timeout=5)
                except grpc.aio.AioRpcError as exc:
                    refused = exc.code()
                    break
        release.set()
        assert (await unary).text == "drained"
        # the stream ran on through the grace period, then was cancelled
        received = 1
        with pytest.raises(grpc.aio.AioRpcError) as cut:
            while await stream.read() is not grpc.aio.EOF:
                received += 1
        await closing
    assert refused == grpc.StatusCode.UNAVAILABLE
    assert received > 1
    assert cut.value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
    assert stream_ended.is_set()
    assert server.calls == 0


async def test_metadata_grpc_cannot_carry_is_a_clear_error_before_sending() -> None:
    """Keys go in lower case; what gRPC cannot carry as text metadata is a
    ValueError naming the entry (grpcio itself would fail the call, or hang it)."""
    async with (
        volo.grpc.Server(make_handler(), "127.0.0.1", 0) as server,
        volo.grpc.connect(f"127.0.0.1:{server.port}") as channel,
    ):
        client = ours().EchoClient(channel)
        ping = ours().Ping(echo_keys=["x-user"])
        reply = await client.Unary(ping, metadata={"X-User": "ann"})
        errors = []
        for bad in ({"x-user": "é"}, {"x-user": "a\nb"}, {"grpc-timeout": "1S"},
                    {"bad key": "x"}, {"x-token-bin": "x"}):  # fmt: skip
            with pytest.raises(ValueError) as failed:
                await client.Unary(ping, metadata=bad)
            errors.append(str(failed.value).split(":")[0])
        metainfo.set_persistent("tenant", "ünicode")
        with pytest.raises(ValueError, match="'rpc-persist-tenant'"):
            await client.Unary(ping)
        metainfo.set_persistent("tenant", "ascii")
        assert (await client.Unary(ping)).text == ""
    assert reply.seen["header-x-user"] == "ann"
    assert errors == ["metadata value of 'x-user'"] * 2 + [
        "metadata key 'grpc-timeout'", "metadata key 'bad key'", "metadata key 'x-token-bin'"
    ]  # fmt: skip


async def test_handler_answering_the_wrong_type_is_internal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Wrong(ours().EchoHandler):  # type: ignore[misc, name-defined]
        async def Unary(self, request: Any) -> Any:
            return None

        async def ServerStream(self, request: Any) -> AsyncIterator[Any]:
            yield ours().Pong(text="right")
            yield ours().Ping(text="wrong")

        async def ClientStream(self, requests: AsyncIterator[Any]) -> Any:
            volo.call_context().reply_headers["Bad Key"] = "x"  # dropped, and logged
            volo.call_context().reply_headers["good"] = "y"
            return ours().Pong(text="fine")

    async with volo.grpc.Server(Wrong(), "127.0.0.1", 0) as server:
        channel, client = stub(server.port)
        async with channel:
            with pytest.raises(grpc.aio.AioRpcError) as none:
                await client.Unary(modules().pb2.Ping())
            stream = client.ServerStream(modules().pb2.Ping())
            assert (await stream.read()).text == "right"
            with pytest.raises(grpc.aio.AioRpcError) as wrong:
                await stream.read()
            call = client.ClientStream(iter([modules().pb2.Ping()]))
            assert (await call).text == "fine"
            trailing = await call.trailing_metadata()
    for error in (none.value, wrong.value):
        assert (error.code(), error.details()) == (grpc.StatusCode.INTERNAL, "internal error")
    assert "/echotest.v1.Echo/Unary answered NoneType, not Pong" in caplog.text
    assert "/echotest.v1.Echo/ServerStream answered Ping, not Pong" in caplog.text
    assert "reply headers not sent: metadata key 'Bad Key'" in caplog.text
    assert "good" not in dict(trailing)


async def test_a_request_stream_that_raises_fails_the_call_with_its_error() -> None:
    """grpcio cancels a call whose requests raise; our client raises that error."""

    async def requests() -> AsyncIterator[Any]:
        yield ours().Ping(text="a")
        raise ArithmeticError("the caller's own")

    async with (
        volo.grpc.Server(make_handler(), "127.0.0.1", 0) as server,
        volo.grpc.connect(f"127.0.0.1:{server.port}") as channel,
    ):
        client = ours().EchoClient(channel)
        with pytest.raises(ArithmeticError, match="the caller's own"):
            await client.ClientStream(requests())
        with pytest.raises(ArithmeticError, match="the caller's own"):
            async for _ in client.Bidi(requests()):
                pass
        assert (await client.Unary(ours().Ping(text="on"))).text == "on"
    assert server.calls == 0


async def test_a_large_request_is_decoded_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Request messages over `max_loop_decode` bytes are decoded on
    volo's decoding thread, which the codec gives turns to the loop from
    (see test_proto_runtime); smaller ones on the loop, and all with None."""
    import threading

    ping = ours().Ping
    decode = ping.from_bytes
    threads: list[str] = []

    def recording(data: bytes) -> Any:
        threads.append(threading.current_thread().name)
        return decode(data)

    monkeypatch.setattr(ping, "from_bytes", recording)
    pb2 = modules().pb2
    small, large = pb2.Ping(text="s"), pb2.Ping(text="l", blob=b"x" * 2000)
    for most, on_thread in ((1000, [False, True, False, True]), (None, [False] * 4)):
        threads.clear()
        async with volo.grpc.Server(make_handler(), "127.0.0.1", 0, max_loop_decode=most) as server:
            channel, client = stub(server.port)
            async with channel:
                assert (await client.Unary(small)).text == "s"
                assert (await client.Unary(large)).blob == large.blob
                assert (await client.ClientStream(iter([small, large]))).text == "s,l"
        assert [name.startswith("volo-decode") for name in threads] == on_thread
    with pytest.raises(ValueError, match=r"^max_loop_decode must be at least 0, or None for no limit$"):
        volo.grpc.Server(make_handler(), max_loop_decode=-1)
