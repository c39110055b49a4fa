"""One middleware model for both protocols: the same stack of layers (a user
layer, AccessLog, ConcurrencyLimit, Timeout) on a Thrift service and on a gRPC
service, for each gRPC call kind, server side and client side, behaves the
same: what the layers see, what they limit, when they time out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

import volo
import volo.grpc
import volo.thrift
from tests.grpc_support import modules
from tests.thrift_test_service import slow_handler
from volo.middleware import AccessLog, ConcurrencyLimit, Context, Layer, Request, Response, Timeout
from volo.middleware import Service as VoloService

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# A Thrift method, and every gRPC call kind
KINDS = ("thrift", "unary", "server_stream", "client_stream", "bidi")
LIMIT = 2


class Probe:
    """What handlers do, whatever their protocol: "wait" waits for `release`,
    "block" for `unblock` (not set by the tests unless the handler would wait
    forever); the probe counts who runs and who was cancelled."""

    def __init__(self) -> None:
        self.running = self.peak = self.cancelled = 0
        self.release = asyncio.Event()
        self.unblock = asyncio.Event()

    async def work(self, text: str) -> str:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if text == "wait":
                await self.release.wait()
            elif text == "block":
                await self.unblock.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1
        return text


class UserLayer:
    """A user's layer: notes each call's side, kind and outcome, as it sees them."""

    def __init__(self, log: list[tuple[str, ...]]) -> None:
        self.log = log

    def layer(self, inner: VoloService) -> VoloService:
        log = self.log

        class _Noting:
            async def call(self, ctx: Context, request: Request) -> Response:
                streams = (ctx.request_stream, ctx.response_stream)
                log.append((ctx.side, "in", ctx.method, str(streams)))
                try:
                    response = await inner.call(ctx, request)
                except BaseException as exc:
                    timed_out = isinstance(exc, volo.CallTimeout)
                    log.append((ctx.side, "timeout" if timed_out else type(exc).__name__))
                    raise
                log.append((ctx.side, "ok"))
                return response

        return _Noting()


def grpc_handler(probe: Probe) -> Any:
    ours = modules().ours
    Pong = ours.Pong

    class Handler(ours.EchoHandler):  # type: ignore[misc, name-defined]
        async def Unary(self, request: Any) -> Any:
            return Pong(text=await probe.work(request.text))

        async def ServerStream(self, request: Any) -> AsyncIterator[Any]:
            yield Pong(text="first")
            yield Pong(text=await probe.work(request.text))

        async def ClientStream(self, requests: AsyncIterator[Any]) -> Any:
            texts = [ping.text async for ping in requests]
            return Pong(text=await probe.work(texts[-1]))

        async def Bidi(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
            async for ping in requests:
                yield Pong(text=await probe.work(ping.text))

    return Handler()


def thrift_handler(tt: Any, probe: Probe) -> Any:
    class Handler(type(slow_handler(tt, {}))):  # type: ignore[misc]
        async def testString(self, thing: str) -> str:
            return await probe.work(thing)

    return Handler()


class Peer:
    """A server of one protocol with `server_layers`, and a client with `client_layers`."""

    def __init__(self, kind: str, tt: Any, probe: Probe, server_layers: list[Layer],
                 client_layers: list[Layer]) -> None:  # fmt: skip
        self.kind, self.tt = kind, tt
        if kind == "thrift":
            self.server: Any = volo.thrift.Server(
                thrift_handler(tt, probe), "127.0.0.1", 0, layers=server_layers
            )
        else:
            self.server = volo.grpc.Server(
                grpc_handler(probe), "127.0.0.1", 0, layers=server_layers
            )
        self.client_layers = client_layers

    async def __aenter__(self) -> Peer:
        await self.server.start()
        address = f"127.0.0.1:{self.server.port}"
        if self.kind == "thrift":
            self.channel: Any = volo.thrift.connect(address, layers=self.client_layers)
            self.client = self.tt.ThriftTestClient(self.channel)
        else:
            self.channel = volo.grpc.connect(address, layers=self.client_layers)
            self.client = modules().ours.EchoClient(self.channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.channel.close()
        await self.server.close()

    async def call(self, text: str) -> str:
        """One call of this kind carrying `text`: what comes back last."""
        client, Ping = self.client, modules().ours.Ping
        if self.kind == "thrift":
            return str(await client.testString(text))
        if self.kind == "unary":
            return str((await client.Unary(Ping(text=text))).text)
        if self.kind == "client_stream":
            return str((await client.ClientStream([Ping(text="x"), Ping(text=text)])).text)
        call = client.ServerStream(Ping(text=text)) if self.kind == "server_stream" else (
            client.Bidi([Ping(text=text)])
        )  # fmt: skip
        return [pong.text async for pong in call][-1]  # type: ignore[no-any-return]


async def until(condition: Any) -> None:
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition was never met")


async def behaviour(
    peer: Peer, probe: Probe, log: list[tuple[str, ...]], cancels: bool = True
) -> dict[str, Any]:
    """What one stack does on one kind of call: a call that passes, calls past
    the limit, a call past its time (whose handler is cancelled, if `cancels`;
    else it runs on, and is let go). The answer has no protocol in it."""
    seen: dict[str, Any] = {}
    seen["ok"] = await peer.call("hello")
    seen["ok_log"] = [entry[:2] for entry in log]
    log.clear()

    waiting = [asyncio.ensure_future(peer.call("wait")) for _ in range(3 * LIMIT)]
    await until(lambda: probe.running == LIMIT)
    for _ in range(10):  # others are held back, however long they wait
        await asyncio.sleep(0.01)
        assert probe.running == LIMIT
    probe.release.set()
    seen["limited"] = await asyncio.gather(*waiting)
    seen["peak"] = probe.peak
    seen["limited_log"] = sorted({entry[:2] for entry in log})
    log.clear()

    with pytest.raises(Exception) as failed:
        await peer.call("block")
    seen["timeout_raised"] = type(failed.value).__name__
    seen["timeout_is_call_timeout"] = isinstance(failed.value, volo.CallTimeout)
    if not cancels:
        assert probe.running == 1
        probe.unblock.set()
    await until(lambda: probe.running == 0)
    seen["cancelled"] = probe.cancelled
    seen["timeout_log"] = [entry[:2] for entry in log]
    log.clear()
    return seen


def stack(log: list[tuple[str, ...]]) -> list[Layer]:
    """The test stack: fresh layers (a ConcurrencyLimit counts per stack)."""
    return [UserLayer(log), AccessLog(), ConcurrencyLimit(LIMIT), Timeout(1.0)]


@pytest.mark.parametrize("kind", KINDS)
async def test_one_stack_on_the_server_behaves_the_same(
    kind: str, tt: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="volo.access")
    log: list[tuple[str, ...]] = []
    probe = Probe()
    async with Peer(kind, tt, probe, stack(log), [UserLayer(log)]) as peer:
        seen = await behaviour(peer, probe, log)
    ok = [("client", "in"), ("server", "in"), ("server", "ok"), ("client", "ok")]
    assert seen.pop("ok_log") == ok
    assert seen.pop("limited_log") == sorted(set(ok))
    # The server's Timeout fires: its user layer sees a CallTimeout. The client
    # learns it failed: an INTERNAL_ERROR from Thrift, DEADLINE_EXCEEDED from gRPC.
    timeout_log = seen.pop("timeout_log")
    assert timeout_log[:3] == [("client", "in"), ("server", "in"), ("server", "timeout")]
    assert seen.pop("timeout_raised") == (
        "ApplicationError" if kind == "thrift" else "DeadlineExceeded"
    )
    seen.pop("timeout_is_call_timeout")
    assert seen == {"ok": "hello", "limited": ["wait"] * 3 * LIMIT, "peak": LIMIT, "cancelled": 1}
    # AccessLog: a line for each call, the stream as one call
    lines = [r.getMessage() for r in caplog.records if r.name == "volo.access"]
    assert len(lines) == 1 + 3 * LIMIT + 1
    method = "testString" if kind == "thrift" else _method(kind)
    assert all(line.startswith("server ") and f".{method} 127.0.0.1:" in line for line in lines)
    assert sum(" ok " in line for line in lines) == 1 + 3 * LIMIT


@pytest.mark.parametrize("kind", KINDS)
async def test_one_stack_on_the_client_behaves_the_same(kind: str, tt: Any) -> None:
    log: list[tuple[str, ...]] = []
    probe = Probe()
    async with Peer(kind, tt, probe, [UserLayer(log)], stack(log)) as peer:
        # gRPC cancels the handler when the client gives up; Thrift cannot tell the server.
        seen = await behaviour(peer, probe, log, cancels=kind != "thrift")
    ok = [("client", "in"), ("server", "in"), ("server", "ok"), ("client", "ok")]
    assert seen.pop("ok_log") == ok
    assert seen.pop("limited_log") == sorted(set(ok))
    # The client's Timeout fires: its caller gets a CallTimeout, whatever the protocol.
    timeout_log = seen.pop("timeout_log")
    assert timeout_log[:3] == [("client", "in"), ("server", "in"), ("client", "timeout")]
    assert seen.pop("timeout_is_call_timeout") is True
    assert seen.pop("timeout_raised") == "CallTimeout"
    assert seen.pop("cancelled") == (0 if kind == "thrift" else 1)
    assert seen == {"ok": "hello", "limited": ["wait"] * 3 * LIMIT, "peak": LIMIT}


def _method(kind: str) -> str:
    return {"unary": "Unary", "server_stream": "ServerStream",
            "client_stream": "ClientStream", "bidi": "Bidi"}[kind]  # fmt: skip


def described() -> dict[str, Any]:
    """What a handler of either protocol learns of its call, through one API."""
    ctx = volo.call_context()
    left = ctx.time_remaining()
    return {
        "side": ctx.side,
        "peer_host": ctx.peer.rpartition(":")[0],
        "header": ctx.headers.get("x-asked"),
        "tenant": volo.metainfo.get("tenant"),
        "deadline": left is not None and 0 < left < 60,  # 30 s given (grpcio rounds it up)
        "cancelled": ctx.cancelled(),
    }


@pytest.mark.parametrize("with_layers", [False, True])
async def test_handlers_read_the_same_context(tt: Any, with_layers: bool) -> None:
    """Thrift and gRPC handlers read their call through volo.call_context()
    and volo.metainfo alike (a Thrift server without layers makes the Context
    only when asked)."""
    found: dict[str, dict[str, Any]] = {}

    class ThriftHandler(type(slow_handler(tt, {}))):  # type: ignore[misc]
        async def testString(self, thing: str) -> str:
            found["thrift"] = described()
            return thing

    class GrpcHandler(modules().ours.EchoHandler):  # type: ignore[misc, name-defined]
        async def Unary(self, request: Any) -> Any:
            found["grpc"] = described()
            return modules().ours.Pong()

    layers = [Timeout(30)] if with_layers else []
    volo.metainfo.set_persistent("tenant", "acme")
    async with (
        volo.thrift.Server(ThriftHandler(), "127.0.0.1", 0, layers=layers) as server,
        volo.thrift.connect(f"127.0.0.1:{server.port}", framing="header") as transport,
    ):
        await tt.ThriftTestClient(transport).testString("x")
    async with (
        volo.grpc.Server(GrpcHandler(), "127.0.0.1", 0, layers=layers) as server,
        volo.grpc.connect(f"127.0.0.1:{server.port}") as channel,
    ):
        await (
            modules()
            .ours.EchoClient(channel)
            .Unary(
                modules().ours.Ping(), metadata={"x-asked": "yes"}, timeout=None if layers else 30
            )
        )
    thrift, grpc_seen = found["thrift"], found["grpc"]
    assert grpc_seen == {"side": "server", "peer_host": "127.0.0.1", "header": "yes",
                         "tenant": "acme", "deadline": True, "cancelled": False}  # fmt: skip
    assert thrift.pop("header") is None  # a Thrift client sends no headers but metainfo
    # Thrift has no deadline on the wire: a Timeout layer gives its calls one
    assert thrift.pop("deadline") is with_layers
    grpc_seen.pop("header"), grpc_seen.pop("deadline")
    assert thrift == grpc_seen
