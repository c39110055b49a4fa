"""What one peer can cost the server and the client: work per byte, calls in
flight, bytes held, connections, time (issue 12). Everything here runs in
this process; tests/test_attacks.py runs the attacks against a server process.

No assertion here is about time taken: work is counted (function calls made,
calls in flight, bytes held), timeouts are set short and waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import volo.thrift
from pilota.runtime.message import MessageType, read_message_header, write_message
from pilota.runtime.service import ApplicationError
from tests.thrift_test_service import header_frame, make_handler, zlib_bomb
from volo.middleware import ConcurrencyLimit
from volo.thrift.framing import WireFormat, framed

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def request(tt: Any, method: str, seqid: int = 1, protocol: str = "binary", kind: MessageType = MessageType.CALL, **args: Any) -> bytes:
    """One unframed request message for ThriftTest's `method`."""
    body = getattr(tt, f"ThriftTest_{method}_args")(**args).to_bytes(protocol)
    return write_message(method, kind, seqid, body, protocol)


def frame(message: bytes) -> bytes:
    return framed(b"", message)


@contextlib.contextmanager
def fds(needed: int) -> Iterator[None]:
    """At least `needed` file descriptors for this process, for the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        yield
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.fail(f"this test needs {needed} file descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class FakeTransport:
    """Stands in for an asyncio transport: records what is written and whether reading is paused."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.paused = False
        self.closed = False

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def close(self) -> None:
        self.closed = True

    abort = close

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


def calls_made(action: Callable[[], object]) -> int:
    """How many Python and C function calls `action` makes: work, counted."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


# ---- work per byte ---------------------------------------------------------------------------


def dripped_request(tt: Any, protocol: str, size: int) -> bytes:
    """An unframed request of about `size` bytes whose elements each take a
    step to walk (list<i32> in compact: varints; in binary and JSON, structs)."""
    if protocol == "compact":
        return request(tt, "testList", protocol="compact", thing=[300] * (size // 2))
    xtruct = tt.Xtruct(string_thing="", byte_thing=1)
    one = len(tt.Xtruct(string_thing="").to_bytes(protocol)) + 2
    return request(tt, "testInsanity", protocol=protocol, argument=tt.Insanity(xtructs=[xtruct] * (size // one)))


@pytest.mark.parametrize("protocol", ["binary", "compact", "json"])
async def test_a_buffered_request_dripped_in_pieces_is_measured_once(tt: Any, protocol: str) -> None:
    """Unframed, a request ends where its struct ends: the server keeps its
    place between pieces instead of walking the request from its start on
    each. So the work is linear: twice the bytes, about twice the calls."""

    def work(size: int) -> int:
        server = volo.thrift.Server(make_handler(tt), "127.0.0.1", 0)
        connection = volo.thrift.server._Connection(server)
        transport = FakeTransport()
        connection.connection_made(transport)  # type: ignore[arg-type]
        data = dripped_request(tt, protocol, size)
        chunks = [data[i : i + 64] for i in range(0, len(data), 64)]

        def drip() -> None:
            for chunk in chunks[:-1]:
                connection.data_received(chunk)

        calls = calls_made(drip)
        connection.data_received(chunks[-1])  # the last piece: the request is whole
        assert len(connection.tasks) == 1 and not transport.closed
        connection.connection_lost(None)
        return calls

    small, large = work(16 * 1024), work(32 * 1024)
    assert large < 2.5 * small, (small, large)  # walking from the start each time: about 4 times


async def test_a_buffered_reply_dripped_in_pieces_is_measured_once(tt: Any) -> None:
    """The client's side of the same."""
    from volo.thrift.client import _Connection as ClientConnection

    def work(size: int) -> int:
        connection = ClientConnection(WireFormat(volo.thrift.Framing.BUFFERED, "compact"), 1 << 20)
        connection.connection_made(FakeTransport())  # type: ignore[arg-type]
        body = tt.ThriftTest_testList_result(success=[300] * (size // 2)).to_bytes("compact")
        data = write_message("testList", MessageType.REPLY, 1, body, "compact")
        chunks = [data[i : i + 64] for i in range(0, len(data), 64)]
        calls = calls_made(lambda: [connection.data_received(chunk) for chunk in chunks[:-1]])
        future = asyncio.get_running_loop().create_future()
        connection.pending[1] = (future, 0.0, "testList", None)
        connection.data_received(chunks[-1])
        assert future.done() and future.result()[0] == MessageType.REPLY
        return calls

    small, large = work(16 * 1024), work(32 * 1024)
    assert large < 2.5 * small, (small, large)


async def test_a_large_unframed_reply_arriving_at_once_is_measured_over_several_turns(tt: Any) -> None:
    from volo.thrift.client import _Connection as ClientConnection

    connection = ClientConnection(WireFormat(volo.thrift.Framing.BUFFERED, "compact"), 16 << 20)
    transport = FakeTransport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    body = tt.ThriftTest_testList_result(success=[300] * 200_000).to_bytes("compact")
    future = asyncio.get_running_loop().create_future()
    connection.pending[1] = (future, 0.0, "testList", None)
    connection.data_received(write_message("testList", MessageType.REPLY, 1, body, "compact"))
    assert not future.done() and transport.paused  # measured on, a bounded step a turn
    await asyncio.wait_for(future, 10)
    assert not transport.paused and future.result()[0] == MessageType.REPLY


@pytest.mark.parametrize("protocol", ["binary", "compact", "json"])
async def test_a_large_unframed_request_arriving_at_once_is_measured_over_several_turns(tt: Any, protocol: str) -> None:
    """Work per callback is bounded: however much arrives in one read, one
    turn of the loop measures a bounded part of it, reading no more meanwhile."""

    def first_turn(size: int) -> tuple[int, volo.thrift.server._Connection, FakeTransport]:
        server = volo.thrift.Server(make_handler(tt), "127.0.0.1", 0)
        connection = volo.thrift.server._Connection(server)
        transport = FakeTransport()
        connection.connection_made(transport)  # type: ignore[arg-type]
        data = dripped_request(tt, protocol, size)
        return calls_made(lambda: connection.data_received(data)), connection, transport

    small, _, _ = first_turn(512 * 1024)
    large, connection, transport = first_turn(2 * 1024 * 1024)
    assert large < 1.2 * small  # not 4 times: the same bounded step, whatever the size
    assert not connection.tasks and connection.deferred and transport.paused
    turns = 0
    while not connection.tasks:
        await asyncio.sleep(0)
        turns += 1
    assert turns > 10 and not transport.paused and not transport.closed
    connection.connection_lost(None)


@pytest.mark.parametrize("framing", ["framed", "buffered"])
async def test_a_flood_of_calls_in_one_read_is_dispatched_in_batches(tt: Any, framing: str) -> None:
    """One read of 5,000 small calls starts 64 of them; the rest, 64 a turn,
    the loop running others between (the old server started all 5,000 at once)."""
    server = volo.thrift.Server(make_handler(tt), "127.0.0.1", 0)
    connection = volo.thrift.server._Connection(server)
    transport = FakeTransport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    one = request(tt, "testOneway", kind=MessageType.ONEWAY, secondsToSleep=0)
    connection.data_received((frame(one) if framing == "framed" else one) * 5000)
    assert len(connection.tasks) == 64 and transport.paused
    for _ in range(200):
        await asyncio.sleep(0)
    assert not connection.buffer and not transport.paused
    connection.connection_lost(None)


@pytest.mark.parametrize("protocol", ["binary", "compact", "json"])
def test_messages_are_found_alike_whole_and_in_pieces(tt: Any, protocol: str) -> None:
    """Cut anywhere, a stream of unframed messages comes apart into the same messages."""
    from volo.thrift.framing import Unframer

    xtruct = tt.Xtruct(string_thing="sé", byte_thing=-1, i32_thing=7, i64_thing=1 << 40)
    insanity = tt.Insanity(userMap={tt.Numberz.FIVE: 5}, xtructs=[xtruct, tt.Xtruct()])
    messages = [
        request(tt, "testVoid", 1, protocol),
        request(tt, "testInsanity", 2, protocol, argument=insanity),
        request(tt, "testMulti", 3, protocol, arg0=1, arg1=2, arg2=3, arg3={1: "a", 2: ""}, arg4=tt.Numberz.TWO, arg5=4),
        request(tt, "testMapMap", 4, protocol, hello=1),
        request(tt, "testSet", 5, protocol, thing={1, 2, 300}),
        request(tt, "testBool", 6, protocol, thing=True),
        request(tt, "testBinary", 7, protocol, thing=b"\x00\xff" * 50),
        request(tt, "testNest", 8, protocol, thing=tt.Xtruct2(struct_thing=xtruct)),
        request(tt, "testStringMap", 9, protocol, thing={"k": "v", "": ""}),
    ]
    stream = b"".join(messages)
    for step, steps in [(1, 2), (3, 4096), (7, 3), (64, 4096), (len(stream), 2), (len(stream), 4096)]:
        unframer = Unframer(WireFormat(volo.thrift.Framing.BUFFERED, protocol), 1 << 20)
        unframer.walk.steps = steps  # 2: pausing all the time
        buffer, found = bytearray(), []
        for i in range(0, len(stream), step):
            buffer += stream[i : i + step]
            while (message := unframer.take(buffer)) is not None or unframer.paused:
                if message is not None:
                    found.append(message)
        assert found == messages and not buffer, (step, steps)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from([b"\x80\x01\x00\x01\x00\x00\x00\x01m\x00\x00\x00\x01", b"\x82\x21\x01\x01m", b'[1,"m",1,1,']),
    st.binary(max_size=300),
    st.lists(st.integers(1, 40), max_size=20),
)
def test_unframed_garbage_is_judged_alike_whole_and_in_pieces(head: bytes, tail: bytes, cuts: list[int]) -> None:
    """Whatever follows a message header, measuring it in pieces (pausing too)
    ends as measuring it whole: at the same offset, or with the same error."""
    from volo.thrift import framing

    protocol = {0x80: "binary", 0x82: "compact", 0x5B: "json"}[head[0]]
    data = head + tail

    def judge(pieces: list[bytes], steps: int) -> object:
        unframer = framing.Unframer(WireFormat(volo.thrift.Framing.BUFFERED, protocol), 200)
        unframer.walk.steps = steps
        buffer = bytearray()
        try:
            for piece in pieces:
                buffer += piece
                while (message := unframer.take(buffer)) is not None or unframer.paused:
                    if message is not None:
                        return len(message)
            return None
        except volo.thrift.FrameError as exc:
            return type(exc)

    pieces, at = [], 0
    for cut in cuts:
        pieces.append(data[at : at + cut])
        at += cut
    pieces.append(data[at:])
    assert judge(pieces, 3) == judge([data], 1 << 62)  # pausing often, and never


def test_an_unframed_message_over_the_limit_is_found_so_in_pieces(tt: Any) -> None:
    from volo.thrift.framing import FrameTooLarge, Unframer

    data = request(tt, "testString", thing="x" * 1000)
    unframer = Unframer(WireFormat(volo.thrift.Framing.BUFFERED, "binary"), 500)
    buffer = bytearray(data[:24])
    assert unframer.take(buffer) is None
    buffer += data[24:30]  # the string's length: over, whatever comes next
    with pytest.raises(FrameTooLarge):
        unframer.take(buffer)


# ---- calls in flight: oneway floods, pipelining -------------------------------------------------


def gated_handler(tt: Any) -> Any:
    """ThriftTest, where testOneway and testString wait for `gate` to open."""
    base = make_handler(tt)

    class Gated(type(base)):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.gate = asyncio.Event()
            self.oneways = 0

        async def testOneway(self, secondsToSleep: int) -> None:
            await self.gate.wait()
            self.oneways += 1

        async def testString(self, thing: str) -> str:
            if thing != "probe":
                await self.gate.wait()
            return thing

    return Gated()


async def wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Until `condition()`; a failure after `seconds`, never a hang."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), seconds)


async def probe(tt: Any, port: int) -> None:
    """A normal call, on a connection of its own, gets its answer."""
    async with volo.thrift.connect(f"127.0.0.1:{port}", timeout=10) as transport:
        assert await tt.ThriftTestClient(transport).testString("probe") == "probe"


@pytest.mark.parametrize("layers", [[], [ConcurrencyLimit(16)]], ids=["direct", "ConcurrencyLimit(16)"])
async def test_a_oneway_flood_waits_in_the_kernel_not_in_tasks(tt: Any, layers: list[Any]) -> None:
    """Oneway calls count against the calls in flight like others: with slow
    handlers, a flood stops being read at the limit, however the calls are
    limited further in (here behind a ConcurrencyLimit), and every call runs
    once the handlers go on."""
    handler = gated_handler(tt)
    limits = volo.thrift.Limits(max_calls_per_connection=100)
    async with volo.thrift.Server(handler, "127.0.0.1", 0, layers=layers, limits=limits) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        flood = b"".join(frame(request(tt, "testOneway", i, kind=MessageType.ONEWAY, secondsToSleep=0)) for i in range(5000))
        writer.write(flood)
        await wait_until(lambda: server.in_flight == 100)
        await asyncio.sleep(0.3)  # the rest is there to read: it stays unread
        assert server.in_flight == 100
        (connection,) = server._connections
        assert not connection.reading
        if not layers:  # behind the ConcurrencyLimit, a probe waits for the gated calls
            await probe(tt, server.port)
        handler.gate.set()
        await wait_until(lambda: handler.oneways == 5000)
        writer.close()


async def test_calls_in_flight_are_bounded_on_all_connections(tt: Any) -> None:
    handler = gated_handler(tt)
    limits = volo.thrift.Limits(max_calls=150, max_calls_per_connection=100)
    async with volo.thrift.Server(handler, "127.0.0.1", 0, limits=limits) as server:
        writers = []
        for _ in range(3):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"".join(frame(request(tt, "testString", i, thing="slow")) for i in range(200)))
            writers.append(writer)
        await wait_until(lambda: server.in_flight == 150)
        await asyncio.sleep(0.3)
        assert server.in_flight == 150
        handler.gate.set()
        await wait_until(lambda: server.in_flight == 0 and server.held == 0)
        for writer in writers:
            writer.close()


async def test_a_pipelining_peer_that_never_reads_is_not_read_from_with_slow_handlers(tt: Any) -> None:
    """The README's promise, with slow handlers too: a peer that pipelines
    requests and never reads its replies holds at most the calls a connection
    may have in flight, and its replies; the rest waits in the kernel."""
    handler = gated_handler(tt)
    limits = volo.thrift.Limits(max_calls_per_connection=200)
    async with volo.thrift.Server(handler, "127.0.0.1", 0, limits=limits) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.transport.set_write_buffer_limits(high=64 << 20)
        size = 10_000  # 2,000 replies of this: more than the kernel's buffers take
        writer.write(b"".join(frame(request(tt, "testString", i, thing="slow" + "x" * size)) for i in range(2_000)))
        await wait_until(lambda: server.in_flight == 200)
        handler.gate.set()  # replies pile up unread: the server stops reading
        (connection,) = server._connections
        await wait_until(lambda: connection.writing_paused and server.in_flight == 0)
        await asyncio.sleep(0.3)
        assert server.in_flight == 0 and not connection.reading
        assert server.held < 1 << 20  # what was read and not answered: at most a read or two
        assert connection.transport is not None
        assert connection.transport.get_write_buffer_size() < 200 * (size + 100) + (64 << 10)
        await probe(tt, server.port)
        writer.transport.abort()
        await wait_until(lambda: not server._connections and server.held == 0)


# ---- bytes held, read and idle timeouts, connections -------------------------------------------


async def test_half_sent_frames_are_held_within_the_budget_and_dropped_after_the_read_timeout(tt: Any) -> None:
    """Eight peers each start a 4 MiB request and stop halfway. The server
    stops reading them once the bytes held reach its budget, serves others
    meanwhile, and drops them when the read timeout comes."""
    limits = volo.thrift.Limits(max_buffered=4 << 20, read_timeout=1.5)
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0, max_frame=8 << 20, limits=limits) as server:
        half = frame(request(tt, "testString", thing="x" * (4 << 20)))[: 2 << 20]
        writers = []
        for _ in range(8):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(half)
            writers.append(writer)
        await wait_until(lambda: len(server._connections) == 8 and server.held >= 4 << 20)
        await asyncio.sleep(0.3)
        # the budget, plus what each connection read before it was stopped
        assert server.held <= (4 << 20) + 8 * (64 << 10) + 8 * (256 << 10), server.held
        assert sum(not c.reading for c in server._connections) >= 5
        await probe(tt, server.port)
        await wait_until(lambda: not server._connections and server.held == 0)
        for writer in writers:
            writer.close()


async def test_a_connection_holds_at_most_its_budget_in_calls_in_flight(tt: Any) -> None:
    handler = gated_handler(tt)
    limits = volo.thrift.Limits(max_buffered_per_connection=1 << 20)
    async with volo.thrift.Server(handler, "127.0.0.1", 0, limits=limits) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"".join(frame(request(tt, "testString", i, thing="s" * 100_000)) for i in range(50)))
        await wait_until(lambda: server.in_flight >= 10)
        await asyncio.sleep(0.3)
        (connection,) = server._connections
        assert 10 <= server.in_flight <= 11 and not connection.reading  # 1 MiB of calls, and one more
        handler.gate.set()
        await wait_until(lambda: server.in_flight == 0 and server.held == 0)
        writer.close()


async def test_a_request_coming_steadily_is_not_dropped_by_the_read_timeout(tt: Any) -> None:
    """The read timeout counts from the last whole request: a peer that keeps
    sending requests, each whole in time, is never dropped."""
    limits = volo.thrift.Limits(read_timeout=0.5)
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0, limits=limits) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        for seqid in range(8):
            writer.write(frame(request(tt, "testI32", seqid, thing=seqid)))
            head = await asyncio.wait_for(reader.readexactly(4), 5)
            await reader.readexactly(int.from_bytes(head, "big"))
            await asyncio.sleep(0.15)
        half = frame(request(tt, "testI32", 9, thing=9))
        writer.write(half[:-3])
        assert await asyncio.wait_for(reader.read(), 5) == b""  # dropped: the end never came
        writer.close()


async def test_a_thousand_idle_connections_are_closed_after_the_idle_timeout(tt: Any) -> None:
    limits = volo.thrift.Limits(idle_timeout=1.0)
    with fds(2200):
        async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0, limits=limits) as server:
            idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(1000)]
            # Not a wait for 1,000 open at once: under load, opening them takes
            # longer than the idle timeout, and the first are closed meanwhile.
            await probe(tt, server.port)  # others are served meanwhile
            ends = await asyncio.wait_for(asyncio.gather(*(reader.read() for reader, _ in idle)), 20)
            assert ends == [b""] * 1000  # each closed by the server
            assert not server._connections
            for _, writer in idle:
                writer.close()


async def test_a_connection_busy_in_a_call_is_not_idle(tt: Any) -> None:
    base = make_handler(tt)

    class Slow(type(base)):  # type: ignore[misc]
        async def testString(self, thing: str) -> str:
            await asyncio.sleep(1.0)
            return thing

    limits = volo.thrift.Limits(idle_timeout=0.3)
    async with volo.thrift.Server(Slow(), "127.0.0.1", 0, limits=limits) as server, volo.thrift.connect(f"127.0.0.1:{server.port}") as transport:
        assert await tt.ThriftTestClient(transport).testString("long call") == "long call"


async def test_connections_beyond_the_limit_wait_to_be_accepted(tt: Any) -> None:
    limits = volo.thrift.Limits(max_connections=2)
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0, limits=limits) as server:
        first = volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=10)
        second = volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=10)
        assert await tt.ThriftTestClient(first).testI32(1) == 1
        assert await tt.ThriftTestClient(second).testI32(2) == 2
        third = volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=10)
        waiting = asyncio.create_task(tt.ThriftTestClient(third).testI32(3))
        await asyncio.sleep(0.3)
        assert len(server._connections) == 2 and not waiting.done()  # in the backlog, unaccepted
        await first.close()
        assert await waiting == 3  # accepted once there is room
        assert len(server._connections) == 2
        await second.close()
        await third.close()


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match=r"^idle_timeout must be more than 0 seconds, or None for none$"):
        volo.thrift.Limits(idle_timeout=0)
    with pytest.raises(ValueError, match=r"^max_calls must be at least 1$"):
        volo.thrift.Limits(max_calls=0)
    assert volo.thrift.Limits(idle_timeout=None, read_timeout=None).idle_timeout is None
    with pytest.raises(ValueError, match=r"^max_loop_decode must be at least 0, or None for no limit$"):
        volo.thrift.Limits(max_loop_decode=-1)


@pytest.mark.parametrize("layers", [[], [ConcurrencyLimit(16)]], ids=["direct", "layered"])
async def test_a_large_request_is_decoded_off_the_event_loop(
    tt: Any, layers: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arguments over `max_loop_decode` bytes are decoded on volo's
    decoding thread, which the codec gives turns to the loop from (see
    test_codec_limits); smaller ones on the loop, and all with None. The
    replies, and the error for bad arguments, are the same either way."""
    args_class = tt.ThriftTest_testList_args
    decode = args_class.from_bytes
    threads: list[str] = []

    def recording(data: bytes, protocol: str = "binary", **options: Any) -> Any:
        threads.append(threading.current_thread().name)
        return decode(data, protocol, **options)

    monkeypatch.setattr(args_class, "from_bytes", recording)
    small, large = list(range(10)), list(range(1000))  # 4 KB of arguments
    bad = write_message("testList", MessageType.CALL, 9, b"\x0f\x00\x01\x08" + (1001).to_bytes(4, "big") + bytes(4000) + b"\x00")
    for most, on_thread in ((1000, [False, True, True]), (None, [False, False, False])):
        threads.clear()
        limits = volo.thrift.Limits(max_loop_decode=most)
        async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0, layers=layers, limits=limits) as server:
            async with volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=10) as transport:
                client = tt.ThriftTestClient(transport)
                assert await client.testList(small) == small
                assert await client.testList(large) == large
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(frame(bad))
            head = await asyncio.wait_for(reader.readexactly(4), 10)
            reply = await reader.readexactly(int.from_bytes(head, "big"))
            writer.close()
        header, offset = read_message_header(reply)
        assert (header.type, header.seqid) == (MessageType.EXCEPTION, 9)
        error = ApplicationError.from_bytes(reply[offset:])
        assert error.kind.name == "PROTOCOL_ERROR"
        assert error.message.startswith("bad arguments: ThriftTest_testList_args.thing")
        assert [name.startswith("volo-decode") for name in threads] == on_thread


async def test_the_object_budget_of_requests_is_the_servers_to_set(tt: Any) -> None:
    """`Limits.objects_per_byte` is the codecs' amplification limit for requests:
    10,000 empty structs in 10 KB pass the default (one per byte), not 0.25."""
    count = 10_000
    body = b"\x0c\x00\x01\x0f\x00\x02\x0c" + count.to_bytes(4, "big") + bytes(count) + b"\x00\x00"
    answers = []
    for budget in (1.0, 0.25):
        limits = volo.thrift.Limits(objects_per_byte=budget)
        async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0, limits=limits) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(frame(write_message("testInsanity", MessageType.CALL, 3, body)))
            head = await asyncio.wait_for(reader.readexactly(4), 10)
            reply = await reader.readexactly(int.from_bytes(head, "big"))
            writer.close()
        header, offset = read_message_header(reply)
        answers.append(header.type)
        if header.type is MessageType.EXCEPTION:
            error = ApplicationError.from_bytes(reply[offset:])
            assert error.kind.name == "PROTOCOL_ERROR"
            assert "structs and containers, the limit for a message of this size" in error.message
    assert answers == [MessageType.REPLY, MessageType.EXCEPTION]
    with pytest.raises(ValueError, match=r"^objects_per_byte must be a number >= 0, got -1"):
        volo.thrift.Limits(objects_per_byte=-1)


# ---- what the peer sent, echoed --------------------------------------------------------------


async def test_an_unknown_method_name_of_a_mebibyte_is_cut_in_the_reply_and_not_cached(tt: Any) -> None:
    from pilota.runtime import message

    name = "x" * (1 << 20)
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(frame(write_message(name, MessageType.CALL, 7, b"\x00")))
        head = await asyncio.wait_for(reader.readexactly(4), 10)
        reply = await reader.readexactly(int.from_bytes(head, "big"))
        writer.close()
    assert len(reply) < 2048
    header, offset = read_message_header(reply)
    assert (header.type, header.seqid) == (MessageType.EXCEPTION, 7)
    error = ApplicationError.from_bytes(reply[offset:])
    assert error.kind.name == "UNKNOWN_METHOD"
    assert error.message == f"unknown method '{'x' * 256}…'"
    assert all(len(cached) <= 128 for cached, _ in message._BINARY_PREFIXES)


def test_the_method_name_cache_is_bounded_in_bytes() -> None:
    from pilota.runtime import message

    for i in range(20):
        message.write_message_header(f"{i}" + "n" * 100_000, MessageType.REPLY, 1)
    assert sum(len(name) for name, _ in message._BINARY_PREFIXES) <= 4096 * 128


# ---- the client ------------------------------------------------------------------------------


async def test_a_client_timeout_of_none_is_no_timeout(tt: Any) -> None:
    base = make_handler(tt)

    class Slow(type(base)):  # type: ignore[misc]
        async def testString(self, thing: str) -> str:
            await asyncio.sleep(0.3)
            return thing

    async with volo.thrift.Server(Slow(), "127.0.0.1", 0) as server:
        async with volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=None, connect_timeout=None) as transport:
            assert await tt.ThriftTestClient(transport).testString("patient") == "patient"
        async with volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=0.05) as transport:
            with volo.timeout(None):  # the block's None wins over the transport's 0.05 s
                assert await tt.ThriftTestClient(transport).testString("block") == "block"
            with pytest.raises(volo.CallTimeout):
                await tt.ThriftTestClient(transport).testString("transport's")


async def test_a_client_timeout_of_zero_is_expired_already(tt: Any) -> None:
    """`volo.timeout(0)` is not "no timeout": the call fails at once, unsent."""
    seen: list[str] = []
    base = make_handler(tt)

    class Recording(type(base)):  # type: ignore[misc]
        async def testString(self, thing: str) -> str:
            seen.append(thing)
            return thing

    async with volo.thrift.Server(Recording(), "127.0.0.1", 0) as server, volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=10) as transport:
        client = tt.ThriftTestClient(transport)
        assert await client.testString("first") == "first"
        for seconds in (0, 0.0, -1):
            with volo.timeout(seconds), pytest.raises(volo.CallTimeout, match=r"^testString: no reply within -?[01] s$"):
                await client.testString("expired")
        assert await client.testString("last") == "last"
        async with volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=0) as expired:
            with pytest.raises(volo.CallTimeout):
                await tt.ThriftTestClient(expired).testString("expired")
    assert seen == ["first", "last"]


async def reply_server(reply: bytes) -> tuple[asyncio.Server, int]:
    """A server that answers any request with `reply`."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readexactly(4)
            writer.write(reply)
            await writer.drain()
            await reader.read()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_zlib_bomb_reply_costs_the_client_no_more_than_its_limit(tt: Any) -> None:
    """A reply that inflates to 64 MiB: the client stops at its limit and says
    so. Compressed twice (1 GiB in 1,800 bytes), it is refused unopened."""
    import tracemalloc

    once = header_frame(b"\x00\x01\x01", zlib.compress(bytes(64 << 20), 9))
    twice = header_frame(b"\x00\x02\x01\x01", zlib_bomb())
    for bomb, error in [
        (once, r"^a reply is over this client's 1048576-byte limit \(max_frame\)$"),
        (twice, r"^bad reply stream: the header applies transform 1 \(zlib\) twice$"),
    ]:
        server, port = await reply_server(len(bomb).to_bytes(4, "big") + bomb)
        async with server, volo.thrift.connect(f"127.0.0.1:{port}", framing="header", max_frame=1 << 20, timeout=10) as transport:
            tracemalloc.start()
            try:
                with pytest.raises(volo.TransportError, match=error):
                    await tt.ThriftTestClient(transport).testString("x")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        assert peak < 4 << 20


async def test_a_reply_with_too_many_transforms_is_refused_by_the_client(tt: Any) -> None:
    payload = b"x"
    for _ in range(5):
        payload = zlib.compress(payload)
    body = header_frame(bytes([0, 5]) + b"\x01" * 5, payload)
    server, port = await reply_server(len(body).to_bytes(4, "big") + body)
    async with server, volo.thrift.connect(f"127.0.0.1:{port}", framing="header", timeout=10) as transport:
        with pytest.raises(volo.TransportError, match=r"^bad reply stream: the header has 5 transforms: at most 4 are allowed$"):
            await tt.ThriftTestClient(transport).testString("x")
