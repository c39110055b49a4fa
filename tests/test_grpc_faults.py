"""A volo.grpc server under faults: a client that vanishes mid-stream, a
handler that raises mid-stream, a deadline that passes during a stream, an
oversize message, a thousand streams at once on one channel. Each time the
server serves the next caller, and nothing is left behind: no call counted,
no task, no call Context alive."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest

import volo.grpc
from tests.grpc_support import make_handler, modules
from volo.middleware import Context

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def ours() -> Any:
    return modules().ours


class Watched:
    """A handler whose streams note when they start and when they end."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0
        self.all_ended = asyncio.Event()

    def handler(self) -> Any:
        watched = self
        Pong = ours().Pong

        class Handler(ours().EchoHandler):  # type: ignore[misc, name-defined]
            async def ServerStream(self, request: Any) -> AsyncIterator[Any]:
                watched.started += 1
                try:
                    for i in range(request.count or 1_000_000):
                        yield Pong(index=i, blob=request.blob)
                        await asyncio.sleep(request.sleep_ms / 1000)
                finally:
                    watched.end()

            async def Bidi(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
                watched.started += 1
                try:
                    i = 0
                    async for ping in requests:
                        yield Pong(text=ping.text, index=i)
                        i += 1
                finally:
                    watched.end()

            async def ClientStream(self, requests: AsyncIterator[Any]) -> Any:
                watched.started += 1
                try:
                    return Pong(index=len([p async for p in requests]))
                finally:
                    watched.end()

            async def Unary(self, request: Any) -> Any:
                return Pong(text=request.text)

        return Handler()

    def end(self) -> None:
        self.ended += 1
        if self.ended == self.started:
            self.all_ended.set()


def live_contexts() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Context))


async def settled(server: volo.grpc.Server, tasks_before: int) -> None:
    """Wait until the server has no call in flight, the loop no more tasks
    than before and no call's Context is alive (grpcio ends a call's tasks soon
    after the call ends); then say so. What a leak would leave, stays."""
    for _ in range(300):
        if server.calls == 0 and len(asyncio.all_tasks()) <= tasks_before and not live_contexts():
            break
        await asyncio.sleep(0.1)
    assert server.calls == 0
    assert len(asyncio.all_tasks()) == tasks_before, [t.get_coro() for t in asyncio.all_tasks()]
    assert live_contexts() == 0, [
        (o.side, o.method) for o in gc.get_objects() if isinstance(o, Context)
    ]


async def baseline(server: volo.grpc.Server) -> int:
    """The tasks on the loop once the server runs, has served a call and
    that call is over (grpcio's own tasks)."""
    await still_serves(server.port)
    for _ in range(300):
        if not live_contexts():
            break
        await asyncio.sleep(0.1)
    return len(asyncio.all_tasks())


async def still_serves(port: int) -> None:
    async with volo.grpc.connect(f"127.0.0.1:{port}") as channel:
        reply = await ours().EchoClient(channel).Unary(ours().Ping(text="next"), timeout=30)
    assert reply.text == "next"


VANISHING_CLIENT = textwrap.dedent("""
    import asyncio, sys
    import grpc.aio
    sys.path.insert(0, sys.argv[1])
    from echotest import echo_pb2, echo_pb2_grpc

    async def main(kind, port):
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        stub = echo_pb2_grpc.EchoStub(channel)
        forever = asyncio.Event()

        async def pings():
            yield echo_pb2.Ping(text="a")
            yield echo_pb2.Ping(text="b")
            await forever.wait()  # the stream stays open

        if kind == "server_stream":
            call = stub.ServerStream(echo_pb2.Ping(sleep_ms=10))
        elif kind == "bidi":
            call = stub.Bidi(pings())
        else:
            call = stub.ClientStream(pings())
        if kind != "client_stream":
            await call.read()
            await call.read()
        print("streaming", flush=True)
        await forever.wait()

    asyncio.run(main(sys.argv[2], int(sys.argv[3])))
""")


@pytest.mark.parametrize("kind", ["server_stream", "bidi", "client_stream"])
async def test_client_that_vanishes_mid_stream(kind: str) -> None:
    """A grpcio client process killed mid-stream: the handler's stream ends
    (its `finally` runs), the server serves the next caller, nothing is left."""
    watched = Watched()
    async with volo.grpc.Server(watched.handler(), "127.0.0.1", 0) as server:
        tasks_before = await baseline(server)
        theirs = str(modules().root / "theirs")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", VANISHING_CLIENT, theirs, kind, str(server.port),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 60) == b"streaming\n"
        for _ in range(3000):  # the client streams; wait for the handler to run
            if watched.started:
                break
            await asyncio.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
        await asyncio.wait_for(watched.all_ended.wait(), 60)
        await still_serves(server.port)
        await settled(server, tasks_before)
    assert watched.started == watched.ended == 1


@pytest.fixture
def quiet_server_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """No records of the server's errors: a captured record holds its traceback,
    and so the failed call's Context, as long as pytest keeps it."""
    monkeypatch.setattr(logging.getLogger("volo.server"), "disabled", True)


@pytest.mark.usefixtures("quiet_server_log")
@pytest.mark.parametrize("client_kind", ["volo", "grpcio"])
async def test_handler_raising_mid_stream(client_kind: str) -> None:
    async with volo.grpc.Server(make_handler(), "127.0.0.1", 0) as server:
        tasks_before = await baseline(server)
        if client_kind == "volo":
            async with volo.grpc.connect(f"127.0.0.1:{server.port}") as channel:
                client = ours().EchoClient(channel)
                got = []
                with pytest.raises(volo.grpc.StatusError) as failed:
                    async for pong in client.ServerStream(ours().Ping(count=10, fail_after=3)):
                        got.append(pong.index)
                pings = [ours().Ping(text=str(i), fail_after=2) for i in range(5)]
                got_bidi = []
                with pytest.raises(volo.grpc.StatusError) as failed_bidi:
                    async for pong in client.Bidi(pings):
                        got_bidi.append(pong.index)
            codes = (failed.value.code, failed_bidi.value.code)
            del failed, failed_bidi  # their tracebacks hold the calls' Contexts
        else:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub, pb2 = modules().pb2_grpc.EchoStub(channel), modules().pb2
                got, got_bidi = [], []
                call = stub.ServerStream(pb2.Ping(count=10, fail_after=3))
                with pytest.raises(grpc.aio.AioRpcError) as failed_grpcio:
                    while (pong := await call.read()) is not grpc.aio.EOF:
                        got.append(pong.index)
                bidi = stub.Bidi()
                with pytest.raises(grpc.aio.AioRpcError) as failed_grpcio_bidi:
                    for i in range(5):
                        await bidi.write(pb2.Ping(text=str(i), fail_after=2))
                        got_bidi.append((await bidi.read()).index)
            codes = (failed_grpcio.value.code().value[0], failed_grpcio_bidi.value.code().value[0])
            del failed_grpcio, failed_grpcio_bidi
        await still_serves(server.port)
        await settled(server, tasks_before)
    assert got == [0, 1, 2]
    assert got_bidi == [0, 1]
    assert codes == (volo.grpc.Code.INTERNAL, volo.grpc.Code.INTERNAL)


@pytest.mark.parametrize("client_kind", ["volo", "grpcio"])
async def test_deadline_passing_during_a_stream(client_kind: str) -> None:
    watched = Watched()
    async with volo.grpc.Server(watched.handler(), "127.0.0.1", 0) as server:
        tasks_before = await baseline(server)
        got = 0
        if client_kind == "volo":
            async with volo.grpc.connect(f"127.0.0.1:{server.port}") as channel:
                stream = (
                    ours().EchoClient(channel).ServerStream(ours().Ping(sleep_ms=20), timeout=0.5)
                )
                with pytest.raises(volo.grpc.DeadlineExceeded) as failed:
                    async for _ in stream:
                        got += 1
            code = failed.value.code
            assert isinstance(failed.value, volo.CallTimeout)
            del failed, stream  # the call (and the error's traceback) holds its Context
        else:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub, pb2 = modules().pb2_grpc.EchoStub(channel), modules().pb2
                call = stub.ServerStream(pb2.Ping(sleep_ms=20), timeout=0.5)
                with pytest.raises(grpc.aio.AioRpcError) as failed_grpcio:
                    while await call.read() is not grpc.aio.EOF:
                        got += 1
            code = failed_grpcio.value.code().value[0]
            del failed_grpcio
        await asyncio.wait_for(watched.all_ended.wait(), 60)  # the server ended it too
        await still_serves(server.port)
        await settled(server, tasks_before)
    assert code == volo.grpc.Code.DEADLINE_EXCEEDED
    assert got > 0


async def test_oversize_message_mid_stream() -> None:
    """One message past the limit in a stream: RESOURCE_EXHAUSTED for that call only."""
    watched = Watched()
    async with volo.grpc.Server(watched.handler(), "127.0.0.1", 0, max_message=10_000) as server:
        tasks_before = await baseline(server)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub, pb2 = modules().pb2_grpc.EchoStub(channel), modules().pb2
            bidi = stub.Bidi()
            await bidi.write(pb2.Ping(text="small"))
            assert (await bidi.read()).text == "small"
            with pytest.raises(grpc.aio.AioRpcError) as too_big:
                await bidi.write(pb2.Ping(blob=b"x" * 20_000))
                await bidi.read()
            # a reply past the limit, mid-stream, fails the call too
            stream = stub.ServerStream(pb2.Ping(count=3, blob=b"y" * 20_000))
            with pytest.raises(grpc.aio.AioRpcError) as too_big_out:
                await stream.read()
        async with volo.grpc.connect(f"127.0.0.1:{server.port}") as ours_channel:
            with pytest.raises(volo.grpc.StatusError) as ours_too_big:
                await (
                    ours()
                    .EchoClient(ours_channel)
                    .ClientStream([ours().Ping(), ours().Ping(blob=b"z" * 20_000)])
                )
        ours_code = ours_too_big.value.code
        del ours_too_big  # its traceback holds the call's Context
        await asyncio.wait_for(watched.all_ended.wait(), 60)
        await still_serves(server.port)
        await settled(server, tasks_before)
    assert too_big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert too_big_out.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert ours_code == volo.grpc.Code.RESOURCE_EXHAUSTED


# A Ping whose field 1 (text) says 5 bytes follow, and only 3 do.
UNDECODABLE = b"\x0a\x05abc"


@pytest.mark.parametrize("kind", ["unary", "server_stream", "client_stream", "bidi"])
async def test_request_that_does_not_decode(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    """Request bytes that are no Ping: INTERNAL (as gRPC's libraries answer a request
    they cannot parse) saying what is wrong, and nothing in the server's log, which
    a peer sending such bytes could fill (grpcio answered UNKNOWN, "Unexpected
    <class 'pilota...DecodeError'>", and logged a traceback); the server serves
    the next call."""
    watched = Watched()
    async with volo.grpc.Server(watched.handler(), "127.0.0.1", 0) as server:
        tasks_before = await baseline(server)
        caplog.clear()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            method = {
                "unary": ("Unary", channel.unary_unary),
                "server_stream": ("ServerStream", channel.unary_stream),
                "client_stream": ("ClientStream", channel.stream_unary),
                "bidi": ("Bidi", channel.stream_stream),
            }
            name, make = method[kind]
            call: Any = make(f"/echotest.v1.Echo/{name}")
            streaming_in = kind in ("client_stream", "bidi")
            request: Any = iter([b"", UNDECODABLE]) if streaming_in else UNDECODABLE
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                reply = call(request, timeout=30)
                if kind in ("server_stream", "bidi"):
                    async for _ in reply:
                        pass
                else:
                    await reply
        code, details = failed.value.code(), failed.value.details()
        del failed  # its traceback holds the call
        if streaming_in:
            await asyncio.wait_for(watched.all_ended.wait(), 60)
        await still_serves(server.port)
        await settled(server, tasks_before)
    assert code == grpc.StatusCode.INTERNAL
    assert details == "cannot decode the request: Ping.text: a length of 5 runs past the end of the input"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


@pytest.mark.parametrize("kind", ["unary", "server_stream", "client_stream", "bidi"])
async def test_response_that_does_not_decode(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    """A grpcio server answering bytes that are no Pong (after a good one, when it
    streams): our client's call fails INTERNAL saying what is wrong, as gRPC's libraries
    fail a response they cannot parse, with no traceback logged (grpcio's client logged
    one and the call returned None)."""
    good = ours().Pong(text="good").to_bytes()

    def answer(request: Any, context: Any) -> bytes:
        return UNDECODABLE

    def answers(request: Any, context: Any) -> Any:
        yield good
        yield UNDECODABLE

    name = {"unary": "Unary", "server_stream": "ServerStream",
            "client_stream": "ClientStream", "bidi": "Bidi"}[kind]  # fmt: skip
    make = {
        "unary": grpc.unary_unary_rpc_method_handler,
        "server_stream": grpc.unary_stream_rpc_method_handler,
        "client_stream": grpc.stream_unary_rpc_method_handler,
        "bidi": grpc.stream_stream_rpc_method_handler,
    }[kind]
    behaviour = answers if kind in ("server_stream", "bidi") else answer
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("echotest.v1.Echo", {name: make(behaviour)})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    received: list[Any] = []
    try:
        async with volo.grpc.connect(f"127.0.0.1:{port}") as channel:
            client = ours().EchoClient(channel)
            call = getattr(client, name)
            request: Any = [ours().Ping()] if kind in ("client_stream", "bidi") else ours().Ping()
            with pytest.raises(volo.grpc.StatusError) as failed:
                if kind in ("server_stream", "bidi"):
                    async for pong in call(request, timeout=30):
                        received.append(pong)
                else:
                    received.append(await call(request, timeout=30))
    finally:
        await server.stop(None)
    assert failed.value.code == volo.grpc.Code.INTERNAL
    assert failed.value.message == "cannot decode the response: Pong.text: a length of 5 runs past the end of the input"
    assert received == ([ours().Pong(text="good")] if kind in ("server_stream", "bidi") else [])
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged"


STREAMS = 1000


@pytest.mark.parametrize("client_kind", ["volo", "grpcio"])
async def test_a_thousand_streams_on_one_channel(client_kind: str) -> None:
    """1,000 bidirectional streams open at once on one channel, each
    exchanging messages; meanwhile the server answers another caller; half
    are cancelled, half end; then nothing is left on either side. Three
    times, so that a leak would show."""
    watched = Watched()
    async with volo.grpc.Server(watched.handler(), "127.0.0.1", 0) as server:
        tasks_before = await baseline(server)
        address = f"127.0.0.1:{server.port}"
        live_objects = []
        for _ in range(3):
            if client_kind == "volo":
                outcomes = await _thousand_ours(address, server.port)
            else:
                outcomes = await _thousand_grpcio(address, server.port)
            assert outcomes == {"ended": STREAMS // 2, "cancelled": STREAMS // 2}
            await asyncio.wait_for(watched.all_ended.wait(), 120)
            await settled(server, tasks_before)
            watched.all_ended.clear()
            live_objects.append(len(gc.get_objects()))  # collected by `settled`
    assert watched.started == watched.ended == 3 * STREAMS
    # The first round fills caches; after it, a thousand streams leave no
    # objects behind (one per stream, kept, would be a thousand).
    assert live_objects[2] - live_objects[1] < STREAMS // 4


async def _thousand_ours(address: str, port: int) -> dict[str, int]:
    Ping = ours().Ping
    gates = [asyncio.Event() for _ in range(STREAMS)]
    async with volo.grpc.connect(address) as channel:
        client = ours().EchoClient(channel)

        async def requests(i: int) -> AsyncIterator[Any]:
            yield Ping(text=f"{i}-first")
            await gates[i].wait()
            yield Ping(text=f"{i}-second")

        calls = [client.Bidi(requests(i)) for i in range(STREAMS)]
        firsts = await asyncio.gather(*(anext(call) for call in calls))
        assert [p.text for p in firsts] == [f"{i}-first" for i in range(STREAMS)]
        await still_serves(port)  # with 1,000 streams open

        async def finish(i: int) -> str:
            call = calls[i]
            if i % 2:
                call.cancel()
                return "cancelled"
            gates[i].set()
            rest = [p.text async for p in call]
            return "ended" if rest == [f"{i}-second"] else f"wrong: {rest}"

        results = await asyncio.gather(*(finish(i) for i in range(STREAMS)))
        calls.clear()  # our StreamCalls go now, not with this frame
    return {result: results.count(result) for result in set(results)}


async def _thousand_grpcio(address: str, port: int) -> dict[str, int]:
    pb2 = modules().pb2
    async with grpc.aio.insecure_channel(address) as channel:
        stub = modules().pb2_grpc.EchoStub(channel)
        calls = [stub.Bidi() for i in range(STREAMS)]

        async def first(i: int) -> str:
            await calls[i].write(pb2.Ping(text=f"{i}-first"))
            return str((await calls[i].read()).text)

        firsts = await asyncio.gather(*(first(i) for i in range(STREAMS)))
        assert firsts == [f"{i}-first" for i in range(STREAMS)]
        await still_serves(port)

        async def finish(i: int) -> str:
            call = calls[i]
            if i % 2:
                call.cancel()
                return "cancelled"
            await call.write(pb2.Ping(text=f"{i}-second"))
            await call.done_writing()
            rest = []
            while (pong := await call.read()) is not grpc.aio.EOF:
                rest.append(pong.text)
            return "ended" if rest == [f"{i}-second"] else f"wrong: {rest}"

        results = await asyncio.gather(*(finish(i) for i in range(STREAMS)))
    return {result: results.count(result) for result in set(results)}
