"""ThriftTest's reference semantics (as Apache's cross-language test server has
them), as handlers for our server; and the expected answers, for clients.

`tt` is a module generated from ThriftTest's interface: tests/idl/cross_test.thrift
(always there) or Apache's own ThriftTest.thrift (from ../shared).
"""

from __future__ import annotations

import asyncio
import threading
from types import ModuleType
from typing import Any


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
