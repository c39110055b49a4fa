"""Shared by the gRPC tests: tests/idl/proto/grpc/echo.proto generated once by
pilota (ours) and by grpcio-tools (`_pb2`, `_pb2_grpc`: theirs), and the same
behaviour implemented on both: our handler and a grpcio servicer."""

from __future__ import annotations

import asyncio
import atexit
import importlib
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import volo
import volo.grpc
from tests.proto_support import PROTO_IDL, generate_package, import_root

ECHO_PROTO = PROTO_IDL / "echotest" / "echo.proto"


@cache
def modules() -> SimpleNamespace:
    """ours: pilota's module; pb2 and pb2_grpc: grpcio-tools' modules."""
    from grpc_tools import protoc

    root = Path(tempfile.mkdtemp(prefix="volo-grpc-"))
    atexit.register(shutil.rmtree, root, True)
    generate_package([ECHO_PROTO], [PROTO_IDL], root, "echo_ours")
    theirs = root / "theirs"
    theirs.mkdir()
    well_known = Path(protoc.__file__).parent / "_proto"
    status = protoc.main([
        "protoc", f"-I{PROTO_IDL}", f"-I{well_known}", f"--python_out={theirs}",
        f"--grpc_python_out={theirs}", str(ECHO_PROTO),
    ])  # fmt: skip
    assert status == 0, "grpcio-tools could not compile echo.proto"
    import_root(root)
    import_root(theirs)
    return SimpleNamespace(
        ours=importlib.import_module("echo_ours.echotest.v1.echo"),
        pb2=importlib.import_module("echotest.echo_pb2"),
        pb2_grpc=importlib.import_module("echotest.echo_pb2_grpc"),
        root=root,
    )


def seen(ping: Any, peer: str, headers: dict[str, str], left: float | None) -> dict[str, str]:
    """What a handler reports it saw: metainfo, metadata asked for, time left, peer."""
    found = {"peer": peer}
    for key in ("tenant", "hop"):
        value = volo.metainfo.get(key)
        if value is not None:
            found[f"metainfo-{key}"] = value
    for key in ping.echo_keys:
        if key in headers:
            found[f"header-{key}"] = headers[key]
    if left is not None:
        found["deadline"] = "yes"
    return found


def make_handler() -> Any:
    """Our handler of echotest.v1.Echo (a subclass of the generated base)."""
    ours = modules().ours
    Pong = ours.Pong

    async def misbehave(ping: Any) -> None:
        if ping.sleep_ms:
            await asyncio.sleep(ping.sleep_ms / 1000)
        if ping.crash:
            raise RuntimeError("a secret that must not leak")
        if ping.fail_code:
            raise volo.grpc.StatusError(volo.grpc.Code(ping.fail_code), ping.fail_message)

    def reply(ping: Any, index: int = 0) -> Any:
        ctx = volo.call_context()
        for key in ping.echo_keys:
            if key in ctx.headers:
                ctx.reply_headers[f"echo-{key}"] = ctx.headers[key]
        return Pong(text=ping.text, index=index, blob=ping.blob,
                    seen=seen(ping, ctx.peer, ctx.headers, ctx.time_remaining()))  # fmt: skip

    class Handler(ours.EchoHandler):  # type: ignore[misc, name-defined]
        async def Unary(self, request: Any) -> Any:
            await misbehave(request)
            return reply(request)

        async def ServerStream(self, request: Any) -> AsyncIterator[Any]:
            for i in range(request.count):
                if request.fail_after and i == request.fail_after:
                    await misbehave(request)
                    raise RuntimeError("failed mid-stream")
                if request.sleep_ms:
                    await asyncio.sleep(request.sleep_ms / 1000)
                yield reply(request, i)

        async def ClientStream(self, requests: AsyncIterator[Any]) -> Any:
            texts, last = [], None
            async for ping in requests:
                await misbehave(ping)
                texts.append(ping.text)
                last = ping
            result = reply(last) if last is not None else Pong()
            result.text = ",".join(texts)
            result.index = len(texts)
            return result

        async def Bidi(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
            i = 0
            async for ping in requests:
                if ping.fail_after and i == ping.fail_after:
                    raise RuntimeError("failed mid-stream")
                await misbehave(ping)
                yield reply(ping, i)
                i += 1

    return Handler()


def make_servicer() -> Any:
    """A grpcio servicer of echotest.v1.Echo, from grpcio-tools' stubs, that
    behaves as `make_handler`'s handler."""
    import grpc

    m = modules()
    pb2, pb2_grpc = m.pb2, m.pb2_grpc

    async def misbehave(ping: Any, context: Any) -> None:
        if ping.sleep_ms:
            await asyncio.sleep(ping.sleep_ms / 1000)
        if ping.crash:
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        if ping.fail_code:
            code = next(c for c in grpc.StatusCode if c.value[0] == ping.fail_code)
            await context.abort(code, ping.fail_message)

    def reply(ping: Any, context: Any, index: int = 0) -> Any:
        headers = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        trailers = [(f"echo-{k}", headers[k]) for k in ping.echo_keys if k in headers]
        if trailers:
            context.set_trailing_metadata(tuple(trailers))
        found = {"peer": context.peer()}
        for key in ("tenant", "hop"):
            for prefix in ("rpc-persist-", "rpc-transit-"):
                if prefix + key in headers:
                    found[f"metainfo-{key}"] = headers[prefix + key]
        for key in ping.echo_keys:
            if key in headers:
                found[f"header-{key}"] = headers[key]
        if context.time_remaining() is not None:
            found["deadline"] = "yes"
        return pb2.Pong(text=ping.text, index=index, blob=ping.blob, seen=found)

    class Servicer(pb2_grpc.EchoServicer):  # type: ignore[misc]
        async def Unary(self, request: Any, context: Any) -> Any:
            await misbehave(request, context)
            return reply(request, context)

        async def ServerStream(self, request: Any, context: Any) -> AsyncIterator[Any]:
            for i in range(request.count):
                if request.fail_after and i == request.fail_after:
                    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
                if request.sleep_ms:
                    await asyncio.sleep(request.sleep_ms / 1000)
                yield reply(request, context, i)

        async def ClientStream(self, request_iterator: Any, context: Any) -> Any:
            texts, last = [], None
            async for ping in request_iterator:
                await misbehave(ping, context)
                texts.append(ping.text)
                last = ping
            result = reply(last, context) if last is not None else pb2.Pong()
            result.text = ",".join(texts)
            result.index = len(texts)
            return result

        async def Bidi(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:
            i = 0
            async for ping in request_iterator:
                await misbehave(ping, context)
                yield reply(ping, context, i)
                i += 1

    return Servicer()


def loaded(name: str) -> ModuleType:
    return sys.modules[name]
