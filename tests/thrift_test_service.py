"""ThriftTest's reference semantics (as Apache's cross-language test server has
them), as handlers for our server; and the expected answers, for clients.

`tt` is a module generated from ThriftTest's interface: tests/idl/cross_test.thrift
(always there) or Apache's own ThriftTest.thrift (from ../shared).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import zlib
from types import ModuleType
from typing import Any

import pytest

import volo.thrift
from pilota.runtime.service import ApplicationErrorType

# The transports of the cross-test matrix, as volo names them; "zlib" is
# THeader with the zlib transform.
TRANSPORTS = ("buffered", "framed", "header", "header-in-framed", "zlib")


def connect_options(protocol: str, transport: str, multiplexed: bool = False) -> dict[str, Any]:
    """`volo.thrift.connect` options for one cell of the matrix."""
    if transport == "zlib":
        return {"protocol": protocol, "framing": "header", "transforms": ["zlib"], "multiplexed": multiplexed}
    return {"protocol": protocol, "framing": transport, "multiplexed": multiplexed}


def make_handler(tt: ModuleType) -> Any:
    """An instance of a ThriftTestHandler subclass, built on the generated module `tt`."""

    class Handler(tt.ThriftTestHandler):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.oneway_calls: list[int] = []
            self.oneway_done = threading.Semaphore(0)  # released once per oneway call handled

        async def testVoid(self) -> None:
            return None

        async def testString(self, thing: str) -> str:
            return thing

        async def testBool(self, thing: bool) -> bool:
            return thing

        async def testByte(self, thing: int) -> int:
            return thing

        async def testI32(self, thing: int) -> int:
            return thing

        async def testI64(self, thing: int) -> int:
            return thing

        async def testDouble(self, thing: float) -> float:
            return thing

        async def testBinary(self, thing: bytes) -> bytes:
            return thing

        async def testStruct(self, thing: Any) -> Any:
            return thing

        async def testNest(self, thing: Any) -> Any:
            return thing

        async def testMap(self, thing: dict[int, int]) -> dict[int, int]:
            return thing

        async def testStringMap(self, thing: dict[str, str]) -> dict[str, str]:
            return thing

        async def testSet(self, thing: set[int]) -> set[int]:
            return thing

        async def testList(self, thing: list[int]) -> list[int]:
            return thing

        async def testEnum(self, thing: Any) -> Any:
            return thing

        async def testTypedef(self, thing: int) -> int:
            return thing

        async def testMapMap(self, hello: int) -> dict[int, dict[int, int]]:
            return map_map()

        async def testInsanity(self, argument: Any) -> Any:
            return {
                1: {tt.Numberz.TWO: argument, tt.Numberz.THREE: argument},
                2: {tt.Numberz.SIX: tt.Insanity()},
            }

        async def testMulti(self, arg0: int, arg1: int, arg2: int, arg3: Any, arg4: Any, arg5: int) -> Any:
            return tt.Xtruct(string_thing="Hello2", byte_thing=arg0, i32_thing=arg1, i64_thing=arg2)

        async def testException(self, arg: str) -> None:
            if arg == "Xception":
                raise tt.Xception(errorCode=1001, message=arg)
            if arg == "TException":
                raise RuntimeError("an undeclared failure")

        async def testMultiException(self, arg0: str, arg1: str) -> Any:
            if arg0 == "Xception":
                raise tt.Xception(errorCode=1001, message="This is an Xception")
            if arg0 == "Xception2":
                raise tt.Xception2(errorCode=2002, struct_thing=tt.Xtruct(string_thing="This is an Xception2"))
            return tt.Xtruct(string_thing=arg1)

        async def testOneway(self, secondsToSleep: int) -> None:
            await asyncio.sleep(secondsToSleep / 1000)  # milliseconds here, to keep tests quick
            self.oneway_calls.append(secondsToSleep)
            self.oneway_done.release()

    return Handler()


def make_second_handler(tt: ModuleType) -> Any:
    """SecondService, as the cross-language test server has it."""

    class Second(tt.SecondServiceHandler):  # type: ignore[misc, name-defined]
        async def secondtestString(self, thing: str) -> str:
            return f'testString("{thing}")'

    return Second()


def map_map() -> dict[int, dict[int, int]]:
    return {-4: {-4: -4, -3: -3, -2: -2, -1: -1}, 4: {1: 1, 2: 2, 3: 3, 4: 4}}


def slow_handler(tt: ModuleType, delays: dict[str, float]) -> Any:
    """The ThriftTest handler, where testString sleeps `delays[thing]` seconds
    and testI32 sleeps `thing` milliseconds."""
    base = make_handler(tt)

    class Slow(type(base)):  # type: ignore[misc]
        async def testString(self, thing: str) -> str:
            await asyncio.sleep(delays.get(thing, 0))
            return thing

        async def testI32(self, thing: int) -> int:
            await asyncio.sleep(thing / 1000)
            return thing

    return Slow()


def check_thrift_test(client: Any, types: ModuleType, app_error: type[Exception], second: Any = None) -> None:
    """Every ThriftTest method (and SecondService's, given `second`), called with
    the arguments Apache's cross-test client uses, answers as the reference
    server does. `app_error`: the client's TApplicationException."""
    assert client.testVoid() is None
    for text in ("Python" * 20, "", '\b\t\n/\\\\\r{}:パイソン"', "Afrikaans, Ελληνικά, العربية, 中文, Žemaitėška"):
        assert client.testString(text) == text
    if second is not None:
        assert second.secondtestString("foobar") == 'testString("foobar")'
    assert client.testBool(True) is True and client.testBool(False) is False
    for byte in (63, -127, -128, 127):
        assert client.testByte(byte) == byte
    for i32 in (-1, 0, -(2**31), 2**31 - 1):
        assert client.testI32(i32) == i32
    for i64 in (1, -34359738368, -(2**63), 2**63 - 1):
        assert client.testI64(i64) == i64
    for double in (-5.235098235, 0, -1, -0.000341012439638598279):
        assert client.testDouble(double) == double
    assert client.testBinary(bytes(range(256))) == bytes(range(256))
    xtruct = types.Xtruct(string_thing="Zero", byte_thing=1, i32_thing=-3, i64_thing=-5)
    assert client.testStruct(xtruct) == xtruct
    nest = types.Xtruct2(byte_thing=0, struct_thing=xtruct, i32_thing=0)
    assert client.testNest(nest) == nest
    assert client.testMap({0: 1, 1: 2, 2: 3, 3: 4, -1: -2}) == {0: 1, 1: 2, 2: 3, 3: 4, -1: -2}
    assert client.testStringMap({"a": "b", "": "é"}) == {"a": "b", "": "é"}
    assert client.testSet({8, 1, 42}) == {8, 1, 42}
    assert client.testList([1, 4, 9, -42]) == [1, 4, 9, -42]
    assert client.testEnum(types.Numberz.FIVE) == types.Numberz.FIVE
    assert client.testTypedef(0xFFFFFFFFFFFFFF) == 0xFFFFFFFFFFFFFF
    assert client.testMapMap(42) == map_map()
    insanity = types.Insanity(userMap={types.Numberz.FIVE: 5, types.Numberz.EIGHT: 8}, xtructs=[xtruct])
    crazy = client.testInsanity(insanity)
    assert crazy[1] == {types.Numberz.TWO: insanity, types.Numberz.THREE: insanity}
    assert list(crazy[2]) == [types.Numberz.SIX]
    multi = client.testMulti(74, 0xFF00FF, 0xFFFFFFFFD0D0, {0: "abc"}, types.Numberz.FIVE, 0xF0F0F0)
    assert multi == types.Xtruct(string_thing="Hello2", byte_thing=74, i32_thing=0xFF00FF, i64_thing=0xFFFFFFFFD0D0)
    client.testException("Safe")
    with pytest.raises(types.Xception) as raised:
        client.testException("Xception")
    assert (raised.value.errorCode, raised.value.message) == (1001, "Xception")
    with pytest.raises(app_error) as failed:
        client.testException("TException")  # an undeclared failure
    assert failed.value.type == ApplicationErrorType.INTERNAL_ERROR  # type: ignore[attr-defined]
    assert "Traceback" not in str(failed.value)
    client.testException("success")
    with pytest.raises(types.Xception) as raised:
        client.testMultiException("Xception", "ignore")
    assert (raised.value.errorCode, raised.value.message) == (1001, "This is an Xception")
    with pytest.raises(types.Xception2) as raised2:
        client.testMultiException("Xception2", "ignore")
    assert raised2.value.errorCode == 2002
    assert raised2.value.struct_thing.string_thing == "This is an Xception2"
    assert client.testMultiException("success", "foobar").string_thing == "foobar"
    client.testOneway(1)
    assert client.testString("Python") == "Python"  # the connection is in step after a oneway



class ServerThread:
    """Our server on its own event loop in a thread, for clients that block."""

    def __init__(self, handlers: list[Any], **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = volo.thrift.Server(handlers, "127.0.0.1", 0, **options)
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.start())
        self.ready.set()
        self.loop.run_forever()

    def wire_format(self, peer: str) -> Any:
        """The format the server detected on the connection from `peer` (host:port)."""

        async def look() -> Any:
            return {c.peer: c.format for c in self.server._connections}.get(peer)

        return asyncio.run_coroutine_threadsafe(look(), self.loop).result(5)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(grace=1), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()



class SyncClient:
    """Our async generated client, driven synchronously like Apache's."""

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.loop = client, loop

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        return lambda *args: self.loop.run_until_complete(method(*args))


def header_frame(block: bytes, payload: bytes = b"") -> bytes:
    """A THeader frame (its length not included) with the header block `block`
    (protocol id, transforms, info), padded, as any peer may send it."""
    block += b"\x00" * (-len(block) % 4)
    words = (len(block) // 4).to_bytes(2, "big")
    return (0x0FFF).to_bytes(2, "big") + bytes(2) + (1).to_bytes(4, "big") + words + block + payload


@functools.cache
def zlib_bomb() -> bytes:
    """1 GiB of zero bytes, compressed twice: about 1,800 bytes."""
    layer = zlib.compressobj(9)
    once = b"".join(layer.compress(bytes(1 << 24)) for _ in range(64)) + layer.flush()
    return zlib.compress(once, 9)
