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
from contextlib import asynccontextmanager
from dataclasses import dataclass
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


def make_handler(ours: ModuleType | None = None) -> Any:
    """Our handler of echotest.v1.Echo: a subclass of the generated base in
    `ours` (by default `modules()`'s)."""
    ours = ours or modules().ours
    Pong = ours.Pong

    async def misbehave(ping: Any) -> None:
        if ping.sleep_ms:
            await asyncio.sleep(ping.sleep_ms / 1000)
        if ping.crash:
            raise RuntimeError("a secret that must not leak")
        if ping.fail_code:
            details = [Pong(text=ping.fail_message)] if ping.details else []
            raise volo.grpc.StatusError(volo.grpc.Code(ping.fail_code), ping.fail_message, details)

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

    from google.protobuf.any_pb2 import Any as AnyPb
    from google.rpc import status_pb2

    async def misbehave(ping: Any, context: Any) -> None:
        if ping.sleep_ms:
            await asyncio.sleep(ping.sleep_ms / 1000)
        if ping.crash:
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        if ping.fail_code:
            code = next(c for c in grpc.StatusCode if c.value[0] == ping.fail_code)
            trailers: tuple[tuple[str, bytes], ...] = ()
            if ping.details:
                detail = AnyPb()
                detail.Pack(pb2.Pong(text=ping.fail_message))
                status = status_pb2.Status(
                    code=ping.fail_code, message=ping.fail_message, details=[detail]
                )
                trailers = (("grpc-status-details-bin", status.SerializeToString()),)
            await context.abort(code, ping.fail_message, trailers)

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
                    await misbehave(request, context)
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
                if ping.fail_after and i == ping.fail_after:
                    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
                await misbehave(ping, context)
                yield reply(ping, context, i)
                i += 1

    return Servicer()


def loaded(name: str) -> ModuleType:
    return sys.modules[name]


# ---- both peers behind one interface ------------------------------------------------
# Tests speak in our messages; a grpcio client converts them through bytes (which
# checks, on the way, that both codecs read what the other writes).

SERVER_KINDS = ("volo", "grpcio")
CLIENT_KINDS = ("volo", "grpcio")


@dataclass
class Outcome:
    """What a call returned: its responses (one for unary responses) and the
    metadata the server sent back."""

    pongs: list[Any]
    metadata: dict[str, str]


class Failure(Exception):
    """A call that failed, as either client saw it: its status code, message,
    details (type URL and bytes of each) and trailing metadata."""

    def __init__(self, code: int, message: str, details: list[tuple[str, bytes]],
                 metadata: dict[str, str], received: int = 0) -> None:  # fmt: skip
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.details, self.metadata = code, message, details, metadata
        self.received = received  # streamed responses that came before it


@asynccontextmanager
async def echo_server(kind: str, **options: Any) -> AsyncIterator[Any]:
    """Our server (options: volo.grpc.Server's) or grpcio's with the servicer
    (options: compression only), on a free port; yields an object with `port`."""
    import grpc
    import grpc.aio

    if kind == "volo":
        async with volo.grpc.Server(make_handler(), "127.0.0.1", 0, **options) as server:
            yield server
        return
    compression = {"gzip": grpc.Compression.Gzip, None: None}[options.pop("compression", None)]
    assert not options, f"grpcio's server here takes compression only, not {options}"
    server = grpc.aio.server(compression=compression)
    modules().pb2_grpc.add_EchoServicer_to_server(make_servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield SimpleNamespace(port=port, server=server)
    finally:
        await server.stop(None)


def echo_client(kind: str, address: str, compression: str | None = None) -> Any:
    return (VoloClient if kind == "volo" else GrpcioClient)(address, compression)


@asynccontextmanager
async def connected(
    client_kind: str, server_kind: str, **server_options: Any
) -> AsyncIterator[Any]:
    """A client of `client_kind` connected to a server of `server_kind`."""
    async with (
        echo_server(server_kind, **server_options) as server,
        echo_client(client_kind, f"127.0.0.1:{server.port}") as client,
    ):
        yield client


class VoloClient:
    """Our generated client on a volo.grpc channel."""

    def __init__(self, address: str, compression: str | None) -> None:
        self.channel = volo.grpc.connect(address, compression=compression)
        self.client = modules().ours.EchoClient(self.channel)

    async def __aenter__(self) -> VoloClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.channel.close()

    async def unary(self, ping: Any, **kw: Any) -> Outcome:
        return await self._once(self.client.Unary(ping, **kw))

    async def client_stream(self, pings: list[Any], **kw: Any) -> Outcome:
        return await self._once(self.client.ClientStream(_slowly(pings), **kw))

    async def server_stream(self, ping: Any, **kw: Any) -> Outcome:
        return await self._many(self.client.ServerStream(ping, **kw))

    async def bidi(self, pings: list[Any], **kw: Any) -> Outcome:
        return await self._many(self.client.Bidi(_slowly(pings), **kw))

    async def _once(self, call: Any) -> Outcome:
        try:
            pong = await call
        except volo.grpc.StatusError as exc:
            raise _failure(exc) from None
        return Outcome([pong], dict(call.metadata))

    async def _many(self, call: Any) -> Outcome:
        pongs = []
        try:
            async for pong in call:
                pongs.append(pong)
        except volo.grpc.StatusError as exc:
            raise _failure(exc, len(pongs)) from None
        return Outcome(pongs, dict(call.metadata))


def _failure(exc: volo.grpc.StatusError, received: int = 0) -> Failure:
    details = [(d.type_url, d.value) for d in exc.details]
    return Failure(int(exc.code), exc.message, details, exc.metadata, received)


async def _slowly(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item
        await asyncio.sleep(0)


class GrpcioClient:
    """grpcio's aio channel with grpcio-tools' stub."""

    def __init__(self, address: str, compression: str | None) -> None:
        import grpc
        import grpc.aio

        m = modules()
        self.pb2 = m.pb2
        self.channel = grpc.aio.insecure_channel(
            address, compression={"gzip": grpc.Compression.Gzip, None: None}[compression]
        )
        self.stub = m.pb2_grpc.EchoStub(self.channel)

    async def __aenter__(self) -> GrpcioClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.channel.close()

    def _theirs(self, ping: Any) -> Any:
        return self.pb2.Ping.FromString(ping.to_bytes())

    def _kw(self, kw: dict[str, Any]) -> dict[str, Any]:
        metadata = kw.pop("metadata", None)
        if metadata:
            kw["metadata"] = tuple(metadata.items())
        return kw

    async def _stream_of(self, pings: list[Any]) -> AsyncIterator[Any]:
        async for ping in _slowly(pings):
            yield self._theirs(ping)

    async def unary(self, ping: Any, **kw: Any) -> Outcome:
        return await self._once(self.stub.Unary(self._theirs(ping), **self._kw(kw)))

    async def client_stream(self, pings: list[Any], **kw: Any) -> Outcome:
        return await self._once(self.stub.ClientStream(self._stream_of(pings), **self._kw(kw)))

    async def server_stream(self, ping: Any, **kw: Any) -> Outcome:
        return await self._many(self.stub.ServerStream(self._theirs(ping), **self._kw(kw)))

    async def bidi(self, pings: list[Any], **kw: Any) -> Outcome:
        return await self._many(self.stub.Bidi(self._stream_of(pings), **self._kw(kw)))

    async def _once(self, call: Any) -> Outcome:
        import grpc.aio

        try:
            pong = await call
        except grpc.aio.AioRpcError as exc:
            raise await self._failure(call, exc) from None
        return Outcome([self._ours(pong)], await self._metadata(call))

    async def _many(self, call: Any) -> Outcome:
        import grpc.aio

        pongs = []
        try:
            async for pong in call:
                pongs.append(self._ours(pong))
        except grpc.aio.AioRpcError as exc:
            raise await self._failure(call, exc, len(pongs)) from None
        return Outcome(pongs, await self._metadata(call))

    def _ours(self, pong: Any) -> Any:
        return modules().ours.Pong.from_bytes(pong.SerializeToString())

    async def _metadata(self, call: Any) -> dict[str, str]:
        found = {k: v for k, v in await call.initial_metadata() if isinstance(v, str)}
        found.update({k: v for k, v in await call.trailing_metadata() if isinstance(v, str)})
        return found

    async def _failure(self, call: Any, exc: Any, received: int = 0) -> Failure:
        from grpc_status import _async as rpc_status

        status = await rpc_status.from_call(call)  # grpcio-status reads the details trailer
        details = [(d.type_url, d.value) for d in status.details] if status else []
        trailing = {k: v for k, v in exc.trailing_metadata() or () if isinstance(v, str)}
        return Failure(exc.code().value[0], exc.details() or "", details, trailing, received)


class CountingProxy:
    """A TCP proxy that counts the bytes going each way (to see compression on the wire)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.up = self.down = 0  # client to server, server to client
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        for task in (self._pipe(reader, up_writer, "up"), self._pipe(up_reader, writer, "down")):
            made = asyncio.ensure_future(task)
            self._tasks.add(made)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    way: str) -> None:  # fmt: skip
        try:
            while data := await reader.read(65536):
                setattr(self, way, getattr(self, way) + len(data))
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
