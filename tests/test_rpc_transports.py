"""Our client and server together over every transport, plain and multiplexed;
THeader transforms and headers on the wire; requests over the size limits."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pilota
import volo.thrift
from pilota.runtime.message import MessageType, read_message_header, write_message_header
from pilota.runtime.service import ApplicationError, ApplicationErrorType
from tests.thrift_test_service import (
    TRANSPORTS,
    ServerThread,
    SyncClient,
    check_thrift_test,
    connect_options,
    header_frame,
    make_handler,
    make_second_handler,
    slow_handler,
    zlib_bomb,
)
from volo.thrift.framing import message_end
from volo.thrift.header import TRANSFORM_ZLIB, HeaderFrame, build_header_frame, parse_header_frame

MATRIX = [
    pytest.param(p, t, m, id=f"{p}-{t}" + ("-multiplexed" if m else ""))
    for p in ("binary", "compact", "json")
    for t in TRANSPORTS
    for m in (False, True)
]


@pytest.fixture(scope="module")
def both_services(tt: Any) -> Iterator[ServerThread]:
    with ServerThread([make_handler(tt), make_second_handler(tt)]) as running:
        yield running


@pytest.mark.parametrize(("protocol", "transport", "multiplexed"), MATRIX)
def test_our_client_and_server_over_every_transport(
    tt: Any, both_services: ServerThread, protocol: str, transport: str, multiplexed: bool
) -> None:
    loop = asyncio.new_event_loop()
    try:
        address = f"127.0.0.1:{both_services.server.port}"
        connection = volo.thrift.connect(address, **connect_options(protocol, transport, multiplexed))
        client = SyncClient(tt.ThriftTestClient(connection), loop)
        second = SyncClient(tt.SecondServiceClient(connection), loop) if multiplexed else None
        check_thrift_test(client, tt, ApplicationError, second)
        loop.run_until_complete(connection.close())
    finally:
        loop.close()


# ---- several services on one port ------------------------------------------------------


async def test_calls_find_their_service(tt: Any) -> None:
    async with volo.thrift.Server([make_handler(tt), make_second_handler(tt)], "127.0.0.1", 0) as server:
        address = f"127.0.0.1:{server.port}"
        async with volo.thrift.connect(address, multiplexed=True) as multiplexed:
            assert await tt.SecondServiceClient(multiplexed).secondtestString("a") == 'testString("a")'
            assert await tt.ThriftTestClient(multiplexed).testString("b") == "b"
        async with volo.thrift.connect(address) as plain:  # plain names: the first handler's
            assert await tt.ThriftTestClient(plain).testString("c") == "c"
            with pytest.raises(ApplicationError) as raised:
                await tt.SecondServiceClient(plain).secondtestString("d")
            assert raised.value.kind is ApplicationErrorType.UNKNOWN_METHOD
            assert raised.value.message == "unknown method 'secondtestString'"
    server = volo.thrift.Server(make_handler(tt), "127.0.0.1", 0)
    async with server, volo.thrift.connect(f"127.0.0.1:{server.port}", multiplexed=True) as transport:
            assert await tt.ThriftTestClient(transport).testString("e") == "e"
            with pytest.raises(ApplicationError) as raised:
                await tt.SecondServiceClient(transport).secondtestString("f")
            assert raised.value.message == "unknown service 'SecondService': this server has ThriftTest"


async def test_multiplexed_calls_go_through_layers_with_their_service(tt: Any) -> None:
    seen: list[tuple[str, str]] = []

    class Record:
        def layer(self, inner: Any) -> Any:
            class _Record:
                async def call(self, ctx: Any, request: Any) -> Any:
                    seen.append((ctx.service, ctx.method))
                    return await inner.call(ctx, request)

            return _Record()

    handlers = [make_handler(tt), make_second_handler(tt)]
    server = volo.thrift.Server(handlers, "127.0.0.1", 0, layers=[Record()])
    async with server, volo.thrift.connect(f"127.0.0.1:{server.port}", multiplexed=True) as transport:
            assert await tt.SecondServiceClient(transport).secondtestString("x") == 'testString("x")'
            assert await tt.ThriftTestClient(transport).testI32(7) == 7
    assert seen == [("SecondService", "secondtestString"), ("ThriftTest", "testI32")]


def test_a_service_is_served_once(tt: Any) -> None:
    with pytest.raises(ValueError, match="two handlers for service 'ThriftTest'"):
        volo.thrift.Server([make_handler(tt), make_handler(tt)])
    with pytest.raises(ValueError, match="at least one handler"):
        volo.thrift.Server([])


# ---- THeader on the wire -----------------------------------------------------------------


async def exchange(port: int, request: bytes) -> bytes:
    """One request frame in, one reply frame out (its length included)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    length = await asyncio.wait_for(reader.readexactly(4), 5)
    reply = length + await reader.readexactly(int.from_bytes(length, "big"))
    writer.close()
    return reply


def string_call(tt: Any, protocol: str, seqid: int, thing: str = "zzz") -> bytes:
    """A testString call message."""
    args = tt.ThriftTest_testString_args(thing=thing).to_bytes(protocol)
    return write_message_header("testString", MessageType.CALL, seqid, protocol) + args


async def test_a_zlib_request_gets_a_zlib_reply(tt: Any) -> None:
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0) as server:
        for protocol in ("binary", "compact"):
            message = string_call(tt, protocol, 5, thing="z" * 500)
            request = build_header_frame(HeaderFrame(protocol, 9, message, transforms=(TRANSFORM_ZLIB,)))
            assert len(request) < len(message)  # compressed on the wire
            reply = (await exchange(server.port, request))[4:]
            frame = parse_header_frame(reply)
            assert (frame.protocol, frame.seqid, list(frame.transforms)) == (protocol, 9, [TRANSFORM_ZLIB])
            payload_at = 10 + 4 * int.from_bytes(reply[8:10], "big")  # past the header block
            assert zlib.decompress(reply[payload_at:]) == frame.payload  # compressed on the wire
            header, offset = read_message_header(frame.payload, protocol)
            assert (header.name, header.type, header.seqid) == ("testString", MessageType.REPLY, 5)
            result = tt.ThriftTest_testString_result.from_bytes(frame.payload[offset:], protocol)
            assert result.success == "z" * 500


async def test_our_client_sends_zlib_when_asked(tt: Any) -> None:
    """What arrives at a server from `transforms=["zlib"]`: compressed header frames."""
    frames: asyncio.Queue[bytes] = asyncio.Queue()

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        length = await reader.readexactly(4)
        await frames.put(await reader.readexactly(int.from_bytes(length, "big")))
        writer.close()

    listener = await asyncio.start_server(record, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    for framing in ("header", "header-in-framed"):
        async with volo.thrift.connect(f"127.0.0.1:{port}", framing=framing, transforms=["zlib"], timeout=5) as transport:
            with contextlib.suppress(volo.TransportError):  # the recorder closes without replying
                await tt.ThriftTestClient(transport).testString("y" * 400)
        frame = await frames.get()
        if framing == "header-in-framed":  # a frame holding one header frame, length and all
            assert int.from_bytes(frame[:4], "big") == len(frame) - 4
            frame = frame[4:]
        parsed = parse_header_frame(frame)
        assert list(parsed.transforms) == [TRANSFORM_ZLIB] and b"y" * 400 not in frame
        assert read_message_header(parsed.payload)[0].name == "testString"
    listener.close()


async def test_header_key_values_and_int_headers_arrive_intact(tt: Any) -> None:
    """Apache's string key-values and TTHeader's int headers, in one request."""
    frame = HeaderFrame(
        "compact", 3, b"", headers={"RPC_PERSIST_tenant": "acme", "k": "ü"}, int_headers={1: "x", 0xFFFF: ""}
    )
    parsed = parse_header_frame(build_header_frame(frame)[4:])
    assert (parsed.headers, parsed.int_headers) == (frame.headers, frame.int_headers)
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0) as server:
        frame.payload = string_call(tt, "compact", 4)
        reply = parse_header_frame((await exchange(server.port, build_header_frame(frame)))[4:])
        header, offset = read_message_header(reply.payload, "compact")
        assert (header.type, header.seqid) == (MessageType.REPLY, 4)
        assert tt.ThriftTest_testString_result.from_bytes(reply.payload[offset:], "compact").success == "zzz"


def test_inflating_is_bounded() -> None:
    bomb = build_header_frame(HeaderFrame("binary", 1, b"\x00" * 100_000, transforms=(TRANSFORM_ZLIB,)))
    assert len(bomb) < 1000
    with pytest.raises(volo.thrift.FrameError, match="over the 4096-byte limit"):
        parse_header_frame(bomb[4:], max_size=4096)
    with pytest.raises(volo.thrift.FrameError, match="zlib payload: the stream is cut short"):
        parse_header_frame(bomb[4:-5])


def text(value: bytes) -> bytes:
    return bytes([len(value)]) + value


def test_header_counts_are_checked_against_the_header_block() -> None:
    """Counts are read against the header block before any loop: none reaches
    into the payload, and a huge one is refused at once."""
    entries = text(b"key") + text(b"value")
    assert parse_header_frame(header_frame(b"\x00\x00\x01\x01" + entries)).headers == {"key": "value"}
    # The block ends after the count; the entry is in the payload.
    with pytest.raises(volo.thrift.FrameError, match=r"^the header declares 1 headers, more than its block holds$"):
        parse_header_frame(header_frame(b"\x00\x00\x01\x01", entries))
    # 2**27 headers declared, in front of 1 MiB of zero bytes (each an empty key or value)
    with pytest.raises(volo.thrift.FrameError, match=r"^the header declares 134217728 headers, more than its block holds$"):
        parse_header_frame(header_frame(b"\x00\x00\x01\x80\x80\x80\x40", bytes(1 << 20)))
    with pytest.raises(volo.thrift.FrameError, match=r"^the header declares 3 transforms, more than its block holds$"):
        parse_header_frame(header_frame(b"\x00\x03\x01", b"\x01\x01"))  # the block has room for 2
    int_entry = b"\x00\x07" + text(b"v")
    assert parse_header_frame(header_frame(b"\x00\x00\x10\x01" + int_entry)).int_headers == {7: "v"}
    with pytest.raises(volo.thrift.FrameError, match=r"^the header declares 2 headers, more than its block holds$"):
        parse_header_frame(header_frame(b"\x00\x00\x10\x02" + int_entry))


def test_header_transforms_and_headers_are_capped() -> None:
    from volo.thrift.header import MAX_HEADERS, MAX_TRANSFORMS

    assert (MAX_TRANSFORMS, MAX_HEADERS) == (4, 1000)
    payload = b"message"
    for _ in range(MAX_TRANSFORMS + 1):
        payload = zlib.compress(payload)
    block = bytes([0, MAX_TRANSFORMS + 1]) + b"\x01" * (MAX_TRANSFORMS + 1)
    with pytest.raises(volo.thrift.FrameError, match=r"^the header has 5 transforms: at most 4 are allowed$"):
        parse_header_frame(header_frame(block, payload))
    for _ in range(MAX_TRANSFORMS + 1):
        payload = zlib.decompress(payload)
    assert payload == b"message"
    many = {f"k{i}": "" for i in range(MAX_HEADERS)}  # the blocks count too: one over
    frame = build_header_frame(HeaderFrame("binary", 1, b"", many))[4:]
    with pytest.raises(volo.thrift.FrameError, match=r"^the header has more than 1000 headers$"):
        parse_header_frame(frame)
    fits = dict(list(many.items())[:-1])
    assert parse_header_frame(build_header_frame(HeaderFrame("binary", 1, b"", fits))[4:]).headers == fits


def test_a_zlib_bomb_inflates_once_and_no_further_than_the_limit() -> None:
    """zlib twice makes 1 GiB of 1,800 bytes: refused before inflating. Once,
    inflating stops at the frame limit, having made little more than that;
    the work is then at most about 1,000 bytes made per byte received."""
    import tracemalloc

    twice = zlib_bomb()
    assert len(twice) < 2000
    with pytest.raises(volo.thrift.FrameError, match=r"^the header applies transform 1 \(zlib\) twice$"):
        parse_header_frame(header_frame(b"\x00\x02\x01\x01", twice))
    once = header_frame(b"\x00\x01\x01", zlib.compress(bytes(64 << 20), 9))
    assert len(once) < 70_000
    tracemalloc.start()
    try:
        with pytest.raises(volo.thrift.FrameError, match="over the 1048576-byte limit"):
            parse_header_frame(once, max_size=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 << 20  # its output (at most the limit) and what is left of its input


# ---- size limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["framed", "header", "header-in-framed", "zlib", "buffered"])
@pytest.mark.parametrize("protocol", ["binary", "compact", "json"])
async def test_a_request_over_the_servers_limit_is_answered(tt: Any, protocol: str, transport: str) -> None:
    """The client learns why, with the limit; on a framed transport the
    connection goes on; unframed, the server hangs up after answering."""
    options = connect_options(protocol, transport)  # zlib: small on the wire, over the limit inflated
    server = volo.thrift.Server(make_handler(tt), "127.0.0.1", 0, max_frame=1024)
    async with server, volo.thrift.connect(f"127.0.0.1:{server.port}", **options) as connection:
            client = tt.ThriftTestClient(connection)
            assert await client.testString("small") == "small"
            with pytest.raises(ApplicationError) as raised:
                await client.testString("x" * 2000)
            assert raised.value.kind is ApplicationErrorType.PROTOCOL_ERROR
            size = "" if transport in ("zlib", "buffered") else r" of \d+ bytes"
            assert re.fullmatch(rf"testString: the request{size} is over the server's 1024-byte limit", str(raised.value.message))
            (first,) = connection.endpoints[0].connections
            if transport == "buffered":  # where the request ends is unknown: the server hangs up
                await asyncio.wait_for(first.closed, 5)
            assert await client.testString("after") == "after"
            assert (connection.endpoints[0].connections == [first]) is (transport != "buffered")


async def test_a_oneway_request_over_the_limit_is_dropped_silently(tt: Any) -> None:
    handler = make_handler(tt)
    async with volo.thrift.Server(handler, "127.0.0.1", 0, max_frame=100) as server:
        oneway = write_message_header("testOneway", MessageType.ONEWAY, 1)
        oneway += tt.ThriftTest_testOneway_args(secondsToSleep=1).to_bytes()[:-1]  # all but its stop
        oneway += b"\x0b\x00\x63" + (200).to_bytes(4, "big") + b"u" * 200 + b"\x00"  # an unknown field
        call = string_call(tt, "binary", 2)
        reply = await exchange(server.port, b"".join(len(m).to_bytes(4, "big") + m for m in (oneway, call)))
        header, _ = read_message_header(reply[4:])
        assert (header.type, header.seqid) == (MessageType.REPLY, 2)  # the first reply is the call's
    assert handler.oneway_calls == []


async def test_the_client_refuses_to_send_over_its_own_limit(tt: Any) -> None:
    handler = make_handler(tt)
    server = volo.thrift.Server(handler, "127.0.0.1", 0)
    async with server, volo.thrift.connect(f"127.0.0.1:{server.port}", max_frame=1024) as connection:
            client = tt.ThriftTestClient(connection)
            with pytest.raises(volo.RequestTooLarge, match=r"^testString: the request of \d+ bytes is over this client's 1024-byte limit \(max_frame\)$"):
                await client.testString("x" * 2000)
            assert await client.testString("fits") == "fits"  # nothing was sent


async def test_a_reply_over_the_clients_limit_is_a_clear_transport_error(tt: Any) -> None:
    server = volo.thrift.Server(make_handler(tt), "127.0.0.1", 0)
    async with server, volo.thrift.connect(f"127.0.0.1:{server.port}", max_frame=1024) as connection:
            client = tt.ThriftTestClient(connection)
            with pytest.raises(volo.TransportError, match=r"a reply of \d+ bytes is over this client's 1024-byte limit \(max_frame\)"):
                # the request fits; the reply, holding the argument twice, does not
                await client.testInsanity(tt.Insanity(xtructs=[tt.Xtruct(string_thing="x" * 600)]))


# ---- closing -----------------------------------------------------------------------------------


async def test_clients_close_with_async_with(tt: Any) -> None:
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0) as server:
        address = f"127.0.0.1:{server.port}"
        async with volo.thrift.connect(address) as transport:
            assert await tt.ThriftTestClient(transport).testString("a") == "a"
            assert len(transport.endpoints[0].connections) == 1
        assert transport.endpoints[0].connections == []
        async with tt.ThriftTestClient(volo.thrift.connect(address)) as client:
            assert await client.testString("b") == "b"
        assert client._caller.endpoints[0].connections == []
        client = tt.ThriftTestClient(volo.thrift.connect(address))
        assert await client.testString("c") == "c"
        await client.close()
        assert client._caller.endpoints[0].connections == []
        assert await client.testString("d") == "d"  # a closed client reconnects when used again
        await client.close()


async def test_a_method_named_close_does_not_hide_closing(tmp_path: Path) -> None:
    """`close` closes the client; an IDL method of that name is `close_`."""
    (tmp_path / "files.thrift").write_text("service Files { string close(1: string name) }\n")
    pilota.generate([tmp_path / "files.thrift"], tmp_path / "closing_gen")
    sys.path.insert(0, str(tmp_path))
    files = importlib.import_module("closing_gen.files")

    class Handler(files.FilesHandler):  # type: ignore[misc, name-defined]
        async def close_(self, name: str) -> str:
            return f"closed {name}"

    async with volo.thrift.Server(Handler(), "127.0.0.1", 0) as server:
        async with files.FilesClient(volo.thrift.connect(f"127.0.0.1:{server.port}")) as client:
            assert await client.close_("a") == "closed a"
        assert client._caller.endpoints[0].connections == []


async def test_a_refused_frame_arriving_in_pieces_is_skipped_to_its_end(tt: Any) -> None:
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0, max_frame=1024) as server:
        big = string_call(tt, "binary", 1, thing="b" * 3000)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        pieces = [len(big).to_bytes(4, "big") + big[:3], big[3:40], big[40:2000], big[2000:]]
        writer.write(pieces[0])  # not yet enough to read its message header
        writer.write(pieces[1])
        length = await asyncio.wait_for(reader.readexactly(4), 5)
        header, _ = read_message_header(await reader.readexactly(int.from_bytes(length, "big")))
        assert (header.name, header.type, header.seqid) == ("testString", MessageType.EXCEPTION, 1)
        writer.write(pieces[2])
        writer.write(pieces[3] + len(string_call(tt, "binary", 2)).to_bytes(4, "big"))
        writer.write(string_call(tt, "binary", 2))  # the next request, after the skipped bytes
        length = await asyncio.wait_for(reader.readexactly(4), 5)
        header, _ = read_message_header(await reader.readexactly(int.from_bytes(length, "big")))
        assert (header.type, header.seqid) == (MessageType.REPLY, 2)
        writer.close()


async def test_an_inflated_request_over_the_limit_without_a_header_closes_the_connection(tt: Any) -> None:
    async with volo.thrift.Server(make_handler(tt), "127.0.0.1", 0, max_frame=1024) as server:
        garbage = build_header_frame(HeaderFrame("binary", 1, b"\xff" * 5000, transforms=(TRANSFORM_ZLIB,)))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(garbage)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, unanswered
        writer.close()


async def test_unframed_calls_before_a_refused_one_are_answered_before_the_server_hangs_up(tt: Any) -> None:
    async with volo.thrift.Server(slow_handler(tt, {}), "127.0.0.1", 0, max_frame=1024) as server:
        slow = write_message_header("testI32", MessageType.CALL, 1)
        slow += tt.ThriftTest_testI32_args(thing=200).to_bytes()  # answers in 200 ms
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(slow + string_call(tt, "binary", 2, thing="x" * 2000))
        answers = await asyncio.wait_for(reader.read(), 5)  # all of it, up to the server's end
        writer.close()
    first_end = message_end(answers, "binary", len(answers))
    assert first_end is not None
    refused, offset = read_message_header(answers[:first_end])
    assert (refused.type, refused.seqid) == (MessageType.EXCEPTION, 2)
    error = ApplicationError.from_bytes(answers[offset:first_end])
    assert error.message == "testString: the request is over the server's 1024-byte limit"
    header, offset = read_message_header(answers[first_end:])
    assert (header.type, header.seqid) == (MessageType.REPLY, 1)
    assert tt.ThriftTest_testI32_result.from_bytes(answers[first_end + offset :]).success == 200
