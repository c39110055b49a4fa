"""Our server and client together: concurrency, timeouts, faults, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import io
from typing import Any

import pytest

import volo.thrift
from pilota.runtime.message import MessageType, write_message_header
from pilota.runtime.service import ApplicationError
from tests.conftest import IDL
from tests.thrift_test_service import make_handler, slow_handler

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

CROSS_TEST_IDL = IDL / "cross_test.thrift"


@pytest.mark.parametrize("wire", [("binary", "framed"), ("compact", "buffered")])
async def test_200_concurrent_calls_over_one_connection(tt: Any, wire: tuple[str, str]) -> None:
    protocol, framing = wire
    async with volo.thrift.Server(slow_handler(tt, {}), "127.0.0.1", 0) as server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}", protocol=protocol, framing=framing)
        client = tt.ThriftTestClient(transport)
        # Later calls finish first: replies come back out of order.
        answers = await asyncio.gather(*(client.testI32(200 - i) for i in range(200)))
        assert answers == [200 - i for i in range(200)]
        assert len(transport.endpoints[0].connections) == 1  # all on one connection
        await transport.close()


async def test_a_timed_out_call_never_gets_another_calls_reply(tt: Any) -> None:
    async with volo.thrift.Server(slow_handler(tt, {"slow": 0.5}), "127.0.0.1", 0) as server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=10)
        client = tt.ThriftTestClient(transport)
        with volo.timeout(0.1), pytest.raises(volo.CallTimeout, match=r"testString: no reply within 0\.1 s"):
            await client.testString("slow")
        # The slow reply arrives while these are in flight; each gets its own.
        answers = await asyncio.gather(*(client.testString(f"fast {i}") for i in range(50)))
        await asyncio.sleep(0.5)
        answers += await asyncio.gather(*(client.testString(f"later {i}") for i in range(50)))
        assert answers == [f"fast {i}" for i in range(50)] + [f"later {i}" for i in range(50)]
        await transport.close()


async def test_a_short_timeout_fires_on_time_behind_a_long_one(tt: Any) -> None:
    """One connection, one deadline timer: a later call with a nearer deadline moves it."""
    async with volo.thrift.Server(slow_handler(tt, {"slow": 1.0}), "127.0.0.1", 0) as server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=10)
        client = tt.ThriftTestClient(transport)
        long_call = asyncio.create_task(client.testString("slow"))
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        with volo.timeout(0.1), pytest.raises(volo.CallTimeout):
            await client.testString("slow")
        assert asyncio.get_running_loop().time() - started < 5  # not at the long call's 10 s
        assert await long_call == "slow"  # and the long one still gets its reply
        assert len(transport.endpoints[0].connections) == 1
        await transport.close()


async def test_errors_travel_as_they_should(tt: Any) -> None:
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0) as server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}")
        client = tt.ThriftTestClient(transport)
        with pytest.raises(tt.Xception) as raised:
            await client.testException("Xception")
        assert raised.value.errorCode == 1001
        with pytest.raises(ApplicationError) as app:
            await client.testException("TException")
        assert app.value.kind.name == "INTERNAL_ERROR" and app.value.message == "internal error processing testException"
        second = tt.SecondServiceClient(transport)
        with pytest.raises(ApplicationError) as unknown:
            await second.secondtestString("x")
        assert unknown.value.kind.name == "UNKNOWN_METHOD"
        await transport.close()


async def test_connection_refused_is_a_transport_error() -> None:
    transport = volo.thrift.connect("127.0.0.1:1", connect_timeout=1, retries=1)
    from pilota.runtime.base import Struct

    with pytest.raises(volo.TransportError, match=r"cannot connect to 127\.0\.0\.1:1"):
        await transport.call("S", "m", Struct(), Struct, False)


async def raw(port: int, data: bytes, read: bool = True, close_after: int = 0) -> bytes:
    """What the server answers to `data`: until it closes, or until `close_after` replies."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = b""
    if close_after:
        answer = await read_frames(reader, close_after)
    elif read:
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            answer = await asyncio.wait_for(reader.read(), 2)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return answer


async def read_frames(reader: asyncio.StreamReader, count: int) -> bytes:
    frames = b""
    for _ in range(count):
        length = await asyncio.wait_for(reader.readexactly(4), 5)
        frames += length + await reader.readexactly(int.from_bytes(length, "big"))
    return frames


async def test_the_server_survives_bad_peers(tt: Any) -> None:
    async with volo.thrift.Server(slow_handler(tt, {}), "127.0.0.1", 0, max_frame=1024) as server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}")
        client = tt.ThriftTestClient(transport)
        busy = asyncio.gather(*(client.testI32(300) for _ in range(20)))  # in flight throughout
        assert await raw(server.port, b"GET / HTTP/1.1\r\n\r\n") == b""  # garbage: closed
        # oversize, and no message header to answer in its first 4 KiB: closed
        assert await raw(server.port, (10**6).to_bytes(4, "big") + b"\x80\x01\x00\x01" + b"\xff" * 5000) == b""
        await raw(server.port, (100).to_bytes(4, "big") + b"\x80\x01\x00", read=False)  # half a frame
        request = write_message_header("testI32", MessageType.CALL, 1)
        request += tt.ThriftTest_testI32_args(thing=100).to_bytes()
        framed_request = len(request).to_bytes(4, "big") + request
        for _ in range(20):  # abrupt disconnects with a call in flight
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(framed_request)
            await writer.drain()
            writer.transport.abort()
        assert await busy == [300] * 20
        assert await client.testString("still fine") == "still fine"
        await transport.close()


async def test_framed_binary_requests_arriving_in_any_pieces(tt: Any) -> None:
    """Framed strict binary, read in place: whole batches, single bytes, odd names."""
    from pilota.runtime.message import read_message_header

    def call(seqid: int, name: str = "testI32") -> bytes:
        request = write_message_header(name, MessageType.CALL, seqid)
        request += tt.ThriftTest_testI32_args(thing=seqid * 10).to_bytes()
        return len(request).to_bytes(4, "big") + request

    def replies(data: bytes) -> list[tuple[int, int, str]]:
        found = []
        while data:
            length = int.from_bytes(data[:4], "big")
            message, data = data[4 : 4 + length], data[4 + length :]
            header, offset = read_message_header(message)
            if header.type is MessageType.REPLY:
                value = tt.ThriftTest_testI32_result.from_bytes(message[offset:]).success
            else:
                value = ApplicationError.from_bytes(message[offset:]).kind.name
            found.append((header.seqid, header.type, value))
        return found

    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0) as server:
        batch = b"".join(call(i) for i in range(1, 6))
        assert replies(await raw(server.port, batch, close_after=5)) == [
            (i, MessageType.REPLY, i * 10) for i in range(1, 6)
        ]
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        for byte in call(7) + call(8):  # one byte at a time
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0)
        both = await read_frames(reader, 2)
        writer.close()
        assert [(s, v) for s, _, v in replies(both)] == [(7, 70), (8, 80)]
        # A name that is not UTF-8 is a protocol error: the connection closes (calls
        # before it may or may not be answered; nothing after it is), in the first
        # read (format detection) as in later ones (the in-place path).
        odd = call(9, "testI32").replace(b"testI32", b"test\xffI3")
        assert {s for s, _, _ in replies(await raw(server.port, call(12) + odd + call(10)))} <= {12}
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(call(12))
        assert replies(await read_frames(reader, 1)) == [(12, MessageType.REPLY, 120)]
        writer.write(call(13) + odd + call(10))
        assert {s for s, _, _ in replies(await asyncio.wait_for(reader.read(), 5))} <= {13}
        writer.close()
        # Garbage after a good frame, the same.
        assert {s for s, _, _ in replies(await raw(server.port, call(11) + b"\xff" * 20))} <= {11}
        assert await raw(server.port, call(14), close_after=1)  # the server still serves

async def test_a_peer_that_does_not_read_its_replies_is_not_read_from(tt: Any) -> None:
    """Replies waiting for a peer that does not read them stop the server
    reading that peer's requests, so they cannot pile up in memory."""
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        count, size = 300, 64 * 1024  # about 19 MiB of replies
        for seqid in range(count):
            request = write_message_header("testString", MessageType.CALL, seqid)
            request += tt.ThriftTest_testString_args(thing="x" * size).to_bytes()
            writer.write(len(request).to_bytes(4, "big") + request)
        await asyncio.sleep(1)  # the server reads what it can, and answers
        (connection,) = server._connections
        assert connection.transport is not None
        assert connection.transport.get_write_buffer_size() < 4 * 1024 * 1024
        replies = await read_frames(reader, count)  # then every reply comes
        assert replies.count(b"x" * size) == count
        writer.close()
        client = tt.ThriftTestClient(volo.thrift.connect(f"127.0.0.1:{server.port}"))
        assert await client.testString("others still served") == "others still served"


async def test_graceful_shutdown_finishes_calls_in_flight(tt: Any) -> None:
    server = volo.thrift.Server(slow_handler(tt, {}), "127.0.0.1", 0)
    await server.start()
    transport = volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=10)
    client = tt.ThriftTestClient(transport)
    calls = asyncio.gather(*(client.testI32(1500) for _ in range(100)))  # 1.5 s each

    async def all_in_flight() -> None:
        while server.in_flight < 100:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(all_in_flight(), 5)  # bounded: a failure, never a hang
    await server.close(grace=10)
    assert await calls == [1500] * 100
    with pytest.raises(volo.TransportError):
        await client.testI32(1)
    await transport.close()


def test_thriftpy2_client_calls_our_server(tt: Any) -> None:
    import threading

    import thriftpy2
    from thriftpy2.rpc import make_client

    with contextlib.redirect_stderr(io.StringIO()):
        peer = thriftpy2.load(str(CROSS_TEST_IDL), module_name="tt_peer_thrift")
    loop = asyncio.new_event_loop()
    server = volo.thrift.Server(make_handler(tt), "127.0.0.1", 0)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        client = make_client(peer.ThriftTest, "127.0.0.1", server.port, timeout=5000)  # buffered binary
        assert client.testString("from thriftpy2") == "from thriftpy2"
        xtruct = peer.Xtruct(string_thing="s", byte_thing=1, i32_thing=2, i64_thing=3)
        assert client.testStruct(xtruct) == xtruct
        assert client.testMap({1: 2}) == {1: 2}
        with pytest.raises(peer.Xception):
            client.testException("Xception")
        client.close()
    finally:
        asyncio.run_coroutine_threadsafe(server.close(grace=1), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


class Tagged:
    """A handler whose testString answers with the server's tag."""

    @staticmethod
    def make(tt: Any, tag: str) -> Any:
        base = make_handler(tt)

        class _Tagged(type(base)):  # type: ignore[misc]
            async def testString(self, thing: str) -> str:
                return tag

        return _Tagged()


async def test_load_balancing(tt: Any) -> None:
    servers = [volo.thrift.Server(Tagged.make(tt, name), "127.0.0.1", 0) for name in "abc"]
    for server in servers:
        await server.start()
    addresses = [f"127.0.0.1:{s.port}" for s in servers]
    try:
        round_robin = volo.thrift.connect(addresses)
        client = tt.ThriftTestClient(round_robin)
        assert [await client.testString("x") for _ in range(6)] == list("abcabc")
        await round_robin.close()

        weighted = volo.thrift.connect(addresses, weights=[1, 1, 8], balance="weighted_random")
        client = tt.ThriftTestClient(weighted)
        picks = await asyncio.gather(*(client.testString("x") for _ in range(400)))
        assert picks.count("c") > 240 and picks.count("a") > 10  # about 320, 40, 40
        await weighted.close()

        hashed = volo.thrift.connect(addresses, balance="consistent_hash")
        client = tt.ThriftTestClient(hashed)
        owners = {}
        for key in (f"user-{i}" for i in range(30)):
            with volo.hash_key(key):
                owners[key] = {await client.testString("x") for _ in range(3)}
        assert all(len(o) == 1 for o in owners.values())  # a key sticks to one server
        assert set().union(*owners.values()) == set("abc")  # and keys spread over all
        await hashed.close()
    finally:
        for server in servers:
            await server.close()


async def test_a_dead_address_is_skipped_and_pools_grow(tt: Any) -> None:
    async with volo.thrift.Server(Tagged.make(tt, "alive"), "127.0.0.1", 0) as server:
        transport = volo.thrift.connect(["127.0.0.1:1", f"127.0.0.1:{server.port}"], retries=1, pool_size=3)
        client = tt.ThriftTestClient(transport)
        assert await asyncio.gather(*(client.testString("x") for _ in range(10))) == ["alive"] * 10
        assert 1 <= len(transport.endpoints[1].connections) <= 3
        await transport.close()


class RecordingTransport:
    """Stands in for an asyncio transport: records each write (one per system call)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return False


async def test_the_outbox_sends_the_first_message_at_once_then_batches() -> None:
    from volo.thrift.framing import Outbox

    transport = RecordingTransport()
    outbox = Outbox(transport)  # type: ignore[arg-type]
    batch = Outbox.BATCH_MESSAGES
    messages = [b"m%d;" % i for i in range(1 + batch + 3)]
    for message in messages:
        outbox.write(message)
    # the first at once, then a full batch as soon as it is full; the rest waits
    assert transport.writes == [messages[0], b"".join(messages[1 : 1 + batch])]
    await asyncio.sleep(0)  # the iteration ends: the rest leaves in one write
    assert transport.writes[2:] == [b"".join(messages[1 + batch :])]
    outbox.write(b"next")  # a new iteration: at once again
    assert transport.writes[3:] == [b"next"]
    await asyncio.sleep(0)

    big = b"x" * Outbox.BATCH_BYTES
    outbox.write(b"first")
    outbox.write(b"small")
    outbox.write(big)  # over the byte bound: goes with what was gathered
    assert transport.writes[4:] == [b"first", b"small" + big]
    await asyncio.sleep(0)
    assert len(transport.writes) == 6 and b"".join(transport.writes) == b"".join(
        [*messages, b"next", b"first", b"small", big]
    )
