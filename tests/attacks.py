"""Hostile peers, as issue 12 measured them, against a server process: volo's
Thrift server, its gRPC server and a volo.http router.

Each attack is a coroutine that sends it to a server while a probe client, in
a process of its own, keeps calling a normal method on its own connection.
tests/test_attacks.py runs them (in CI), asserting bounds; bench/attacks.py
runs them and prints one table.

The server process (`python -m tests.attacks serve --kind KIND ...`) serves,
with volo's defaults: "thrift", ThriftTest (testI32 and testOneway sleep as
many milliseconds as they are given; the probe calls testString); "grpc",
the echo service of tests/idl/proto/echotest/echo.proto (tests/grpc_support's
handler; the probe calls Unary); "http", `http_router` under uvicorn (the
probe GETs /ping; /items takes a JSON list of Xtruct). On SIGUSR1 it prints
one JSON line: the longest its event loop went without running a 5 ms timer
since the last report ("stall", seconds: what every call waiting then waited
too) and, from the RPC servers, their calls in flight (and the Thrift
server's request bytes held and connections).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import volo.lifecycle
import volo.thrift
from pilota.runtime.message import MessageType, write_message
from tests.thrift_test_service import header_frame, slow_handler, zlib_bomb
from volo.middleware import ConcurrencyLimit
from volo.thrift.framing import framed

if TYPE_CHECKING:  # imported where used: a server process loads its kind's only (its RSS)
    import volo.grpc
    from volo.http import Router

REPO = Path(__file__).resolve().parent.parent
MiB = 1 << 20
ATTACK_SECONDS = 120  # an attack not done by then (the server too slow to take it) ends
KINDS = ("thrift", "grpc", "http")

# A server's port, and what it reports besides its stall.
Serving = tuple[int, Callable[[], dict[str, Any]]]


# ---- the server process ------------------------------------------------------------------


def serve(options: argparse.Namespace) -> None:
    if options.loop == "asyncio":
        sys.modules["uvloop"] = None  # type: ignore[assignment]  # as if not installed
    if options.nofile:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (options.nofile, hard))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    servers = {"thrift": thrift_server, "grpc": grpc_server, "http": http_server}
    volo.lifecycle.run_loop(_serve(servers[options.kind](options), Path(options.port_file)))


def thrift_server(options: argparse.Namespace) -> AbstractAsyncContextManager[Serving]:
    tt = load_module(options.module)
    layers = [ConcurrencyLimit(options.concurrency_limit)] if options.concurrency_limit else []
    limits = volo.thrift.Limits(**json.loads(options.limits))
    server = volo.thrift.Server(slow_handler(tt, {}), "127.0.0.1", 0, layers=layers, limits=limits)
    return rpc_serving(server, lambda: {
        "in_flight": server.in_flight, "held": server.held, "connections": len(server._connections),
    })  # fmt: skip


def grpc_server(options: argparse.Namespace) -> AbstractAsyncContextManager[Serving]:
    import volo.grpc
    from tests.grpc_support import make_handler

    server = volo.grpc.Server(make_handler(load_module(options.module)), "127.0.0.1", 0)
    return rpc_serving(server, lambda: {"in_flight": server.in_flight})


@asynccontextmanager
async def rpc_serving(
    server: volo.thrift.Server | volo.grpc.Server, counters: Callable[[], dict[str, Any]]
) -> AsyncIterator[Serving]:
    await server.start()
    try:
        yield server.port, counters
    finally:
        await server.close(grace=1)


def http_router(tt: ModuleType) -> Router:
    """GET /ping, and POST /items taking a JSON list of ThriftTest's Xtruct
    (generated: every field optional, so `{}` is one)."""
    from volo.http import Json, Router

    router = Router()

    @router.get("/ping")
    async def ping() -> str:
        return "pong"

    async def items(items: Any) -> dict[str, int]:
        return {"items": len(items)}

    items.__annotations__["items"] = Annotated[list[tt.Xtruct], Json]  # a type known at run time
    router.post("/items")(items)
    return router


@asynccontextmanager
async def http_server(options: argparse.Namespace) -> AsyncIterator[Serving]:
    """`http_router` under uvicorn, on this event loop."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    app = http_router(load_module(options.module))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()  # what stopped it
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1], dict  # no counters
    finally:
        server.should_exit = True
        await serving


async def _serve(serving: AbstractAsyncContextManager[Serving], port_file: Path) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    longest = 0.0
    async with serving as (port, counters):

        def report() -> None:
            nonlocal longest
            print(json.dumps({"stall": longest, **counters()}), flush=True)
            longest = 0.0

        loop.add_signal_handler(signal.SIGUSR1, report)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        stop_at_end_of_input(stop)
        written = port_file.with_suffix(".tmp")
        written.write_text(str(port))
        written.rename(port_file)
        while not stop.is_set():
            start = loop.time()
            await asyncio.sleep(0.005)
            longest = max(longest, loop.time() - start - 0.005)


def stop_at_end_of_input(stop: asyncio.Event) -> None:
    """Set `stop` when standard input ends: when the process that started this
    one closes it, or is gone."""
    loop = asyncio.get_running_loop()

    def watch() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, daemon=True).start()


def load_module(where: str) -> ModuleType:
    """A generated module, `root:module` (`module_location`'s)."""
    root, module = where.split(":")
    sys.path.insert(0, root)
    return importlib.import_module(module)


def module_location(module: ModuleType) -> str:
    """Where a process finds the generated module: `root:module`, for `load_module`."""
    return f"{Path(str(module.__file__)).parents[module.__name__.count('.')]}:{module.__name__}"


def echo_module(root: Path) -> ModuleType:
    """tests/idl/proto/echotest/echo.proto generated under `root`, imported."""
    from tests.grpc_support import ECHO_PROTO
    from tests.proto_support import PROTO_IDL, generate_package

    generate_package([ECHO_PROTO], [PROTO_IDL], root, "attack_echo")
    return load_module(f"{root}:attack_echo.echotest.v1.echo")


def victim(options: argparse.Namespace) -> None:
    """A client calling a server that answers with a zlib bomb: what it says, and its peak RSS."""
    tt = load_module(options.module)

    async def call() -> str:
        async with volo.thrift.connect(f"127.0.0.1:{options.port}", framing="header", timeout=30) as transport:
            try:
                await tt.ThriftTestClient(transport).testString("x")
            except volo.TransportError as exc:
                return str(exc)
        return "no error"

    error = asyncio.run(call())
    print(json.dumps({"error": error, "peak_rss": peak_rss(os.getpid())}), flush=True)


def peak_rss(pid: int) -> int:
    """The peak resident set of process `pid`, in bytes (since `reset_peak`)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


# ---- driving it ------------------------------------------------------------------------------


class ServerProcess:
    """`python -m tests.attacks serve` in a process of its own: a server of
    `kind` serving `module` (generated: ThriftTest's, echo.proto's for gRPC);
    the other options are the Thrift server's."""

    def __init__(self, module: ModuleType, workdir: Path, *, kind: str = "thrift",
                 concurrency_limit: int = 0, limits: dict[str, Any] | None = None,
                 loop: str = "default", nofile: int = 0) -> None:  # fmt: skip
        own = Path(tempfile.mkdtemp(prefix="server-", dir=workdir))
        self.port_file, self.log = own / "port", own / "log"
        command = [sys.executable, "-m", "tests.attacks", "serve", "--kind", kind,
                   "--module", module_location(module), "--port-file", str(self.port_file),
                   "--loop", loop, "--concurrency-limit", str(concurrency_limit),
                   "--nofile", str(nofile), "--limits", json.dumps(limits or {})]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log
            )
        deadline = time.monotonic() + 30
        while not self.port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the attack server did not start: {self.log.read_text()}")
            time.sleep(0.05)
        self.port = int(self.port_file.read_text())
        self.pid = self.process.pid

    def stats(self) -> dict[str, Any]:
        """The server's report (see the module's docstring); its stall resets."""
        assert self.process.stdout is not None
        os.kill(self.pid, signal.SIGUSR1)
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        if not ready:
            raise RuntimeError("the attack server did not report within 60 s")
        found: dict[str, Any] = json.loads(self.process.stdout.readline())
        return found

    def logged(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class Probe:
    """A normal call (see the module's docstring), again and again, on a
    connection of its own, from a process of its own (so that the attacker's
    work does not delay it): how long each took, and the failures."""

    def __init__(self, module: ModuleType, port: int, kind: str = "thrift") -> None:
        self.command = [sys.executable, "-m", "tests.attacks", "probe", "--kind", kind,
                        "--module", module_location(module), "--port", str(port)]  # fmt: skip
        self.seconds: list[float] = []
        self.failures: list[str] = []

    def __enter__(self) -> Probe:
        self.process = subprocess.Popen(
            self.command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            self.process.kill()
            raise RuntimeError("the probe could not call the server")
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self.process.communicate(timeout=60)  # its input ends: it stops
        found = json.loads(out)
        self.seconds, self.failures = found["seconds"], found["failures"]


Call = Callable[[], Awaitable[None]]  # one probe call: raises if it fails


@asynccontextmanager
async def thrift_probe_call(port: int, tt: Any) -> AsyncIterator[Call]:
    async with volo.thrift.connect(f"127.0.0.1:{port}", timeout=10) as transport:
        client = tt.ThriftTestClient(transport)

        async def call() -> None:
            assert await client.testString("probe") == "probe"

        yield call


@asynccontextmanager
async def grpc_probe_call(port: int, echo: Any) -> AsyncIterator[Call]:
    import volo.grpc

    async with volo.grpc.connect(f"127.0.0.1:{port}", timeout=10) as channel:
        client = echo.EchoClient(channel)

        async def call() -> None:
            assert (await client.Unary(echo.Ping(text="probe"))).text == "probe"

        yield call


@asynccontextmanager
async def http_probe_call(port: int, _: ModuleType) -> AsyncIterator[Call]:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

        async def call() -> None:
            response = await client.get("/ping")
            assert (response.status_code, response.text) == (200, "pong"), response

        yield call


def probe(options: argparse.Namespace) -> None:
    """The probe's process: calls until its input ends, then prints what it measured."""
    connect = {"thrift": thrift_probe_call, "grpc": grpc_probe_call, "http": http_probe_call}
    seconds: list[float] = []
    failures: list[str] = []

    async def calls() -> None:
        stop = asyncio.Event()
        stop_at_end_of_input(stop)
        async with connect[options.kind](options.port, load_module(options.module)) as call:
            await call()
            print("ready", flush=True)
            while not stop.is_set():
                start = time.perf_counter()
                try:
                    await call()
                    seconds.append(time.perf_counter() - start)
                except Exception as exc:  # a failure is what this measures
                    failures.append(f"{type(exc).__name__}: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.01)

    asyncio.run(calls())
    print(json.dumps({"seconds": seconds, "failures": failures}), flush=True)


@dataclass
class Result:
    attack: str
    outcome: str
    probe: list[float] = field(default_factory=list)  # seconds per call
    failures: list[str] = field(default_factory=list)
    stall: float = 0.0  # the server loop's longest stall, seconds
    peak_rss: int = 0  # bytes
    logged: str = ""  # what the server wrote to stderr

    def percentile(self, p: float) -> float:
        if not self.probe:
            return float("nan")
        ordered = sorted(self.probe)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def row(self) -> str:
        failed = f", {len(self.failures)} failed" if self.failures else ""
        return (f"{self.attack:<34} {self.percentile(50) * 1000:8.1f} {self.percentile(99) * 1000:8.1f}"
                f" {self.stall * 1000:9.0f} {self.peak_rss / MiB:9.0f}  {self.outcome}{failed}")  # fmt: skip


HEADER = f"{'attack':<34} {'p50 ms':>8} {'p99 ms':>8} {'stall ms':>9} {'RSS MiB':>9}  outcome"

# An attack: (the server's module, its port, the scale) -> what came of it.
Attack = Callable[[ModuleType, int, float], Awaitable[str]]


async def run_attack(
    name: str, attack: Attack, module: ModuleType, workdir: Path, scale: float,
    concurrency_limit: int = 0, kind: str = "thrift",
) -> Result:  # fmt: skip
    """`attack` at `scale` against a server process of its own (some attacks
    leave it work for minutes: calls it received, to run), with a probe
    calling throughout."""
    server = ServerProcess(module, workdir, kind=kind, concurrency_limit=concurrency_limit)
    try:
        with Probe(module, server.port, kind) as probe:
            reset_peak(server.pid)
            await asyncio.to_thread(server.stats)  # the stall from here on
            try:
                outcome = await asyncio.wait_for(attack(module, server.port, scale), ATTACK_SECONDS)
            except TimeoutError:
                outcome = f"unfinished after {ATTACK_SECONDS} s"
            await asyncio.sleep(0.5)  # what the server still does about it
            report = await asyncio.to_thread(server.stats)
            peak = peak_rss(server.pid)
    finally:
        server.stop()
    return Result(
        name, outcome, probe.seconds, probe.failures, report["stall"], peak, server.logged()
    )


# ---- the attacks --------------------------------------------------------------------------------


def call(tt: ModuleType, method: str, seqid: int = 1, kind: MessageType = MessageType.CALL, **args: Any) -> bytes:
    """A framed strict-binary request for ThriftTest's `method`."""
    body = getattr(tt, f"ThriftTest_{method}_args")(**args).to_bytes()
    return framed(b"", write_message(method, kind, seqid, body))


async def send(port: int, data: bytes, reply: bool = False, seconds: float = 60) -> bytes:
    """Send `data` on a new connection; then what comes back until the server
    closes (or `seconds` pass), or with `reply` one framed reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = bytearray()
    try:
        writer.write(data)
        with contextlib.suppress(TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            await writer.drain()
            async with asyncio.timeout(seconds):
                if reply:
                    answer += await reader.readexactly(4)
                    answer += await reader.readexactly(int.from_bytes(answer, "big"))
                while not reply and (chunk := await reader.read(1 << 16)):
                    answer += chunk
    finally:
        writer.transport.abort()
    return bytes(answer)


def closed(answer: bytes) -> str:
    return "closed, no reply" if not answer else f"{len(answer)} bytes back"


async def header_info_count(tt: ModuleType, port: int, scale: float) -> str:
    """A 16 MiB THeader frame declaring 2**27 string headers, in front of zero bytes."""
    frame = header_frame(b"\x00\x00\x01\x80\x80\x80\x40", bytes(int(16 * MiB * scale) - 64))
    return closed(await send(port, len(frame).to_bytes(4, "big") + frame))


async def header_transform_count(tt: ModuleType, port: int, scale: float) -> str:
    """A 16 MiB THeader frame declaring 2**24 transforms, in front of 16 MiB of
    zlib's transform id."""
    size = int(16 * MiB * scale) - 64
    frame = header_frame(b"\x00\x80\x80\x80\x08", b"\x01" * size)
    return closed(await send(port, len(frame).to_bytes(4, "big") + frame))


async def zlib_bomb_request(tt: ModuleType, port: int, scale: float) -> str:
    """A THeader frame of 1,817 bytes whose payload, zlib twice, inflates to 1 GiB."""
    frame = header_frame(b"\x00\x02\x01\x01", zlib_bomb())
    return closed(await send(port, len(frame).to_bytes(4, "big") + frame))


def error_of(answer: bytes) -> str:
    """The TApplicationException kind in the framed reply `answer`."""
    from pilota.runtime.message import read_message_header
    from pilota.runtime.service import ApplicationError

    if len(answer) < 4:
        return "closed, no reply"
    header, offset = read_message_header(answer[4 : 4 + int.from_bytes(answer[:4], "big")])
    if header.type is not MessageType.EXCEPTION:
        return f"reply {header.type.name}"
    error = ApplicationError.from_bytes(answer[4 + offset : 4 + int.from_bytes(answer[:4], "big")])
    return f"{error.kind.name} ({len(answer)} bytes)"


async def malformed_framed(tt: ModuleType, port: int, scale: float) -> str:
    """A 1 MB framed testList whose list<i32> claims more elements than it has."""
    count = int(MiB * scale) // 4
    body = b"\x0f\x00\x01\x08" + (count + 1).to_bytes(4, "big") + bytes(4 * count) + b"\x00"
    message = write_message("testList", MessageType.CALL, 1, body)
    return error_of(await send(port, framed(b"", message), reply=True))


async def malformed_framed_structs(tt: ModuleType, port: int, scale: float) -> str:
    """A 1 MB framed testInsanity: a list of a million empty Xtructs, the last
    one bad (the codec's error path: the codec part of issue 12). Full size
    at any scale: its stall, seconds today, is then far from any bound."""
    count = MiB
    body = b"\x0c\x00\x01\x0f\x00\x02\x0c" + count.to_bytes(4, "big") + bytes(count - 1) + b"\x05"
    message = write_message("testInsanity", MessageType.CALL, 1, body)
    return error_of(await send(port, framed(b"", message), reply=True))


async def buffered_drip(tt: ModuleType, port: int, scale: float) -> str:
    """A 2 MB unframed testI32 carrying an unknown list of 2 million empty structs,
    sent in 1 KiB pieces."""
    count = int(2 * MiB * scale)
    body = b"\x08\x00\x01" + (7).to_bytes(4, "big")
    body += b"\x0f\x00\x63\x0c" + count.to_bytes(4, "big") + bytes(count) + b"\x00"
    message = write_message("testI32", MessageType.CALL, 1, body)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(0, len(message), 1024):
            writer.write(message[i : i + 1024])
            await writer.drain()
        head = await asyncio.wait_for(reader.readexactly(4), 60)
        return f"answered ({len(head) + len(await reader.read(100))} bytes)"
    finally:
        writer.transport.abort()


async def flood(data: bytes, port: int, seconds: float) -> str:
    """Send `data` on one connection for up to `seconds` (the server may stop
    reading it), then drop the connection: how much it took."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.transport.set_write_buffer_limits(high=len(data) + 1)  # we hold it all
    writer.write(data)
    start = time.monotonic()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(writer.drain(), seconds)
    unread = writer.transport.get_write_buffer_size()
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - start)))
    writer.transport.abort()
    return f"took {(len(data) - unread) / MiB:.1f} of {len(data) / MiB:.1f} MiB in {seconds:g} s"


def oneway_flood(sleep_ms: int, seconds: float) -> Attack:
    async def attack(tt: ModuleType, port: int, scale: float) -> str:
        count = int(200_000 * scale)
        one = call(tt, "testOneway", 1, MessageType.ONEWAY, secondsToSleep=sleep_ms)
        return await flood(one * count, port, seconds)

    attack.__doc__ = f"{200_000:,} oneway calls (each handled in {sleep_ms} ms) on one connection"
    return attack


async def pipelining_never_reading(tt: ModuleType, port: int, scale: float) -> str:
    """50,000 calls of a 3 s handler, pipelined on one connection that never reads."""
    count = int(50_000 * scale)
    data = b"".join(call(tt, "testI32", i, thing=3000) for i in range(count))
    return await flood(data, port, 5)


async def half_sent_frames(tt: ModuleType, port: int, scale: float) -> str:
    """20 connections each send half of a 16 MiB frame, then nothing."""
    frame = call(tt, "testString", thing="x" * (16 * MiB - 100))
    half = frame[: int(8 * MiB * scale)]
    writers = []
    for _ in range(20):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.transport.set_write_buffer_limits(high=len(half) + 1)
        writer.write(half)
        writers.append(writer)
    await asyncio.sleep(3)
    unread = sum(w.transport.get_write_buffer_size() for w in writers)
    for writer in writers:
        writer.transport.abort()
    return f"server took {(20 * len(half) - unread) / MiB:.0f} of {20 * len(half) / MiB:.0f} MiB"


async def long_method_names(tt: ModuleType, port: int, scale: float) -> str:
    """200 calls of unknown methods, each named with 1 MiB of its own."""
    count = max(1, int(200 * scale))
    largest = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(count):
            name = f"{i}" + "m" * MiB
            writer.write(framed(b"", write_message(name, MessageType.CALL, i, b"\x00")))
            head = await asyncio.wait_for(reader.readexactly(4), 60)
            largest = max(largest, len(await reader.readexactly(int.from_bytes(head, "big"))))
    finally:
        writer.transport.abort()
    return f"UNKNOWN_METHOD, replies of {largest} bytes at most"


ATTACKS: dict[str, Attack] = {
    "THeader info count": header_info_count,
    "THeader transform count": header_transform_count,
    "zlib bomb (2 layers, 1 GiB)": zlib_bomb_request,
    "1 MB malformed framed": malformed_framed,
    "1 MB malformed framed (codec)": malformed_framed_structs,
    "2 MB buffered, 1 KiB pieces": buffered_drip,
    "200,000 oneway, fast": oneway_flood(0, 5),
    "200,000 oneway, 3 s handler": oneway_flood(3000, 5),
    "20 half-sent 16 MiB frames": half_sent_frames,
    "pipelining 50,000, never reading": pipelining_never_reading,
    "1 MiB method names": long_method_names,
}
# Run against a server with ConcurrencyLimit(16) in front of its handlers.
LIMITED_ATTACKS: dict[str, Attack] = {"200,000 oneway, ConcurrencyLimit(16)": oneway_flood(0, 5)}


# ---- gRPC and HTTP --------------------------------------------------------------------------------

ECHO_UNARY = "/echotest.v1.Echo/Unary"
GARBAGE = b"\xff" * 100  # a Ping whose first tag is a varint longer than 10 bytes


def empty_children(scale: float, tail: bytes = b"") -> bytes:
    """A Ping of about 2 million empty `children` (2 bytes each: the most
    messages a byte buys) filling gRPC's default limit (4 MiB), then `tail`."""
    from volo.grpc._common import DEFAULT_MAX_MESSAGE

    return b"\x62\x00" * (int((DEFAULT_MAX_MESSAGE - 64) * scale) // 2) + tail


async def grpc_unary(port: int, message: bytes) -> str:
    """`message`, as it is, to the echo service's Unary: its status."""
    import grpc.aio

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = await channel.unary_unary(ECHO_UNARY)(message, timeout=ATTACK_SECONDS)
        except grpc.aio.AioRpcError as exc:
            return f"{exc.code().name}: {exc.details()}"
    return f"OK ({len(reply)} bytes)"


async def grpc_many_messages(echo: ModuleType, port: int, scale: float) -> str:
    """One 4 MiB request of 2 million empty messages."""
    return await grpc_unary(port, empty_children(scale))


async def grpc_many_messages_bad_tail(echo: ModuleType, port: int, scale: float) -> str:
    """The same, its last message running past the end."""
    return await grpc_unary(port, empty_children(scale, b"\x62\x05"))


async def grpc_garbage_flood(echo: ModuleType, port: int, scale: float) -> str:
    """Undecodable requests (`GARBAGE`), 16 at a time, for 3 s: how many got what."""
    import grpc.aio

    answers: Counter[str] = Counter()
    deadline = time.monotonic() + 3
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        unary = channel.unary_unary(ECHO_UNARY)

        async def calls() -> None:
            while time.monotonic() < deadline:
                try:
                    await unary(GARBAGE, timeout=30)
                    answers["OK"] += 1
                except grpc.aio.AioRpcError as exc:
                    answers[f"{exc.code().name}: {exc.details()}"] += 1

        await asyncio.gather(*(calls() for _ in range(16)))
    return "; ".join(f"{count:,} {answer}" for answer, count in answers.most_common())


GRPC_ATTACKS: dict[str, Attack] = {
    "gRPC: 4 MiB of 2M empty messages": grpc_many_messages,
    "gRPC: the same, bad tail": grpc_many_messages_bad_tail,
    "gRPC: 3 s of undecodable requests": grpc_garbage_flood,
}


def empty_objects(scale: float, tail: bytes = b"") -> bytes:
    """A JSON list of `{}`, then `tail`, in 1 MiB (the Router's default max_body)."""
    count = int((MiB - 2 - len(tail)) * scale) // 3
    return b"[" + b"{}," * (count - 1) + b"{}" + tail + b"]"


async def post_items(port: int, body: bytes) -> str:
    """`body` to /items: the status and the start of the answer."""
    import httpx

    async with httpx.AsyncClient(timeout=ATTACK_SECONDS) as client:
        response = await client.post(f"http://127.0.0.1:{port}/items", content=body,
                                     headers={"content-type": "application/json"})  # fmt: skip
    return f"{response.status_code} {response.text[:100]}"


async def http_many_objects(tt: ModuleType, port: int, scale: float) -> str:
    """A 1 MiB JSON body of about 350,000 empty objects, into generated structs."""
    return await post_items(port, empty_objects(scale))


async def http_many_objects_bad_tail(tt: ModuleType, port: int, scale: float) -> str:
    """The same, not JSON at its end."""
    return await post_items(port, empty_objects(scale, b",x"))


HTTP_ATTACKS: dict[str, Attack] = {
    "HTTP: 1 MiB JSON of 350,000 {}": http_many_objects,
    "HTTP: the same, bad tail": http_many_objects_bad_tail,
}


# ---- the fd limit and the client ------------------------------------------------------------------


async def fd_limit(tt: ModuleType, workdir: Path, connections: int = 400) -> Result:
    """A server allowed 128 file descriptors, on the asyncio loop (where
    accepting at the limit used to spin): `connections` peers connect and
    stay. The probe, connected before, goes on being served; then the peers
    leave, and a new client is served."""
    server = ServerProcess(tt, workdir, loop="asyncio", nofile=128)
    try:
        reset_peak(server.pid)
        with Probe(tt, server.port) as probe:
            await asyncio.to_thread(server.stats)
            peers = []
            for _ in range(connections):
                with contextlib.suppress(OSError):
                    peers.append(await asyncio.open_connection("127.0.0.1", server.port))
            await asyncio.sleep(3)
            for _, writer in peers:
                writer.transport.abort()
            async with volo.thrift.connect(f"127.0.0.1:{server.port}", timeout=30) as transport:
                after = await tt.ThriftTestClient(transport).testString("after")
            report = await asyncio.to_thread(server.stats)
        outcome = f"{connections} peers at 128 fds; a new client after: {after!r}"
        peak = peak_rss(server.pid)
    finally:
        server.stop()
    return Result("fd limit (128, asyncio loop)", outcome, probe.seconds, probe.failures,
                  report["stall"], peak, server.logged())  # fmt: skip


async def client_zlib_bomb(tt: ModuleType, workdir: Path) -> Result:
    """A client process whose server answers with a THeader reply of 1,817
    bytes, inflating (twice) to 1 GiB: its error and peak RSS."""
    reply = header_frame(b"\x00\x02\x01\x01", zlib_bomb())

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readexactly(4)
            writer.write(len(reply).to_bytes(4, "big") + reply)
            await writer.drain()
            await reader.read()
        writer.close()

    bomber = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = bomber.sockets[0].getsockname()[1]
    async with bomber:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.attacks", "victim", "--module", module_location(tt), "--port", str(port),
            cwd=REPO, stdout=subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    found = json.loads(out)
    return Result("client: zlib bomb reply", found["error"], peak_rss=found["peak_rss"])


def summary(results: list[Result]) -> str:
    return "\n".join([HEADER, *(r.row() for r in results)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.attacks")
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve")
    serving.add_argument("--kind", choices=KINDS, required=True)
    serving.add_argument("--module", required=True)
    serving.add_argument("--port-file", required=True)
    serving.add_argument("--loop", choices=["default", "asyncio"], default="default")
    serving.add_argument("--concurrency-limit", type=int, default=0)
    serving.add_argument("--nofile", type=int, default=0)
    serving.add_argument("--limits", default="{}")
    for name in ("victim", "probe"):
        client = commands.add_parser(name)
        client.add_argument("--kind", choices=KINDS, default="thrift")
        client.add_argument("--module", required=True)
        client.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    {"serve": serve, "victim": victim, "probe": probe}[options.command](options)


if __name__ == "__main__":
    main()
