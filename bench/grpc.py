"""gRPC speed and CPU: volo.grpc beside grpcio's asyncio API with protoc stubs, and grpclib.

Prints one table from one run. Two cases, each with the server in a process of
its own and the client in another, over 127.0.0.1:

- unary echo: a short message echoed with 50 calls in flight on one channel
  for a few seconds: calls per second;
- server stream: one call whose server answers 10,000 messages: messages per
  second.

and CPU µs per call (per message, for the stream) on each side, read from /proc
(all of a process's threads: grpcio's core polls on its own) during the load
only, so start-up and warm-up are not counted.

- volo: `volo.grpc` (grpcio's asyncio engine) with pilota's generated
  messages, handler and client; its server runs as `volo.grpc.run` does (uvloop
  when installed);
- grpcio aio: `grpc.aio` server and channel with grpcio-tools' protoc stubs
  (`_pb2`, `_pb2_grpc`: upb messages), under asyncio.run, as grpcio's examples;
- grpclib: grpclib's server and channel (pure-Python HTTP/2 on h2) with its
  protoc plugin's stubs over the same `_pb2` messages.

Every contender's code is generated from one .proto at run time, in a
temporary folder. The anchors come with the `bench` extra:
`pip install -e ".[bench]"`.

    python bench/grpc.py [--seconds S] [--messages N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
# Run as a script, this file's folder comes first on sys.path, where this file
# (grpc.py) would hide the grpc package from everything that imports it.
if sys.path and Path(sys.path[0] or ".").resolve() == HERE.parent:
    del sys.path[0]
PROTO = """syntax = "proto3";
package gbench;

message Note {
  string text = 1;
  int64 index = 2;
}

message Ask {
  string text = 1;
  int32 count = 2;  // how many messages the stream answers
}

service Bench {
  rpc Echo(Note) returns (Note);
  rpc Stream(Ask) returns (stream Note);
}
"""
STACKS = ("volo", "grpcio aio", "grpclib")
CONCURRENCY = 50
TEXT = "hello, volo"
WARM_UP = 200  # calls (or messages) before the measured part
TICKS = os.sysconf("SC_CLK_TCK")


# ---- the servers ---------------------------------------------------------------------------


def serve_volo(port: int) -> None:
    from ours_gbench.gbench.gbench import BenchHandler, Note

    import volo.grpc

    class Handler(BenchHandler):
        async def Echo(self, request: Any) -> Any:
            return request

        async def Stream(self, request: Any) -> Any:
            for i in range(request.count):
                yield Note(text=request.text, index=i)

    volo.grpc.run(Handler(), "127.0.0.1", port)


def serve_grpcio(port: int) -> None:
    import gbench_pb2
    import gbench_pb2_grpc
    import grpc.aio

    class Servicer(gbench_pb2_grpc.BenchServicer):
        async def Echo(self, request: Any, context: Any) -> Any:
            return request

        async def Stream(self, request: Any, context: Any) -> Any:
            for i in range(request.count):
                yield gbench_pb2.Note(text=request.text, index=i)

    async def main() -> None:
        server = grpc.aio.server()
        gbench_pb2_grpc.add_BenchServicer_to_server(Servicer(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await stopped()
        await server.stop(1)

    asyncio.run(main())


def serve_grpclib(port: int) -> None:
    import gbench_grpc
    import gbench_pb2
    from grpclib.server import Server

    class Bench(gbench_grpc.BenchBase):
        async def Echo(self, stream: Any) -> None:
            await stream.send_message(await stream.recv_message())

        async def Stream(self, stream: Any) -> None:
            request = await stream.recv_message()
            for i in range(request.count):
                await stream.send_message(gbench_pb2.Note(text=request.text, index=i))

    async def main() -> None:
        server = Server([Bench()])
        await server.start("127.0.0.1", port)
        await stopped()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


async def stopped() -> None:
    """Until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


# ---- the clients ---------------------------------------------------------------------------


class Calls:
    """One stack's client: an echo and a stream read to its end (returns its length)."""

    echo: Callable[[], Awaitable[Any]]
    stream: Callable[[int], Awaitable[int]]
    close: Callable[[], Awaitable[Any]]


def volo_calls(address: str) -> Calls:
    from ours_gbench.gbench.gbench import Ask, BenchClient, Note

    import volo.grpc

    client = BenchClient(volo.grpc.connect(address))
    calls = Calls()
    note = Note(text=TEXT)

    async def stream(count: int) -> int:
        return sum([1 async for _ in client.Stream(Ask(text=TEXT, count=count))])

    calls.echo = lambda: client.Echo(note)
    calls.stream, calls.close = stream, client.close
    return calls


def grpcio_calls(address: str) -> Calls:
    import gbench_pb2
    import gbench_pb2_grpc
    import grpc.aio

    channel = grpc.aio.insecure_channel(address)
    stub = gbench_pb2_grpc.BenchStub(channel)
    calls = Calls()
    note = gbench_pb2.Note(text=TEXT)

    async def stream(count: int) -> int:
        return sum([1 async for _ in stub.Stream(gbench_pb2.Ask(text=TEXT, count=count))])

    calls.echo = lambda: stub.Echo(note)
    calls.stream, calls.close = stream, channel.close
    return calls


def grpclib_calls(address: str) -> Calls:
    import gbench_grpc
    import gbench_pb2
    from grpclib.client import Channel

    host, _, port = address.rpartition(":")
    channel = Channel(host, int(port))
    stub = gbench_grpc.BenchStub(channel)
    calls = Calls()
    note = gbench_pb2.Note(text=TEXT)

    async def stream(count: int) -> int:
        async with stub.Stream.open() as call:
            await call.send_message(gbench_pb2.Ask(text=TEXT, count=count), end=True)
            return sum([1 async for _ in call])

    async def close() -> None:
        channel.close()

    calls.echo = lambda: stub.Echo(note)
    calls.stream, calls.close = stream, close
    return calls


async def run_client(stack: str, case: str, address: str, seconds: float, messages: int) -> None:
    """Warms up, says `ready`, and once told `go` (the server's CPU read) loads the
    server; then says what it measured (JSON)."""
    makers = {"volo": volo_calls, "grpcio aio": grpcio_calls, "grpclib": grpclib_calls}
    calls = makers[stack](address)
    for _ in range(100):  # until the server listens
        try:
            await calls.echo()
            break
        except Exception:
            await asyncio.sleep(0.1)
    if case == "unary":
        await asyncio.gather(*(calls.echo() for _ in range(WARM_UP)))
        count, stop = 0, False

        async def worker() -> None:
            nonlocal count
            while not stop:
                await calls.echo()
                count += 1

        await ready()
        cpu, start = time.process_time(), time.perf_counter()
        tasks = [asyncio.create_task(worker()) for _ in range(CONCURRENCY)]
        await asyncio.sleep(seconds)
        stop = True
        await asyncio.gather(*tasks)
    else:
        assert await calls.stream(WARM_UP) == WARM_UP
        await ready()
        cpu, start = time.process_time(), time.perf_counter()
        count = await calls.stream(messages)
        assert count == messages, count
    elapsed, used = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"count": count, "seconds": elapsed, "cpu": used}), flush=True)
    await calls.close()


async def ready() -> None:
    print("ready", flush=True)
    go = await asyncio.to_thread(sys.stdin.readline)
    assert go.strip() == "go", go


# ---- the run ---------------------------------------------------------------------------------


def generate(work: Path) -> None:
    """Each contender's code from the one .proto, in `work`."""
    import pilota

    for module, package in (("grpc_tools", "grpcio-tools"), ("grpclib", "grpclib")):
        if importlib.util.find_spec(module) is None:
            raise SystemExit(f"{package} is needed: pip install -e '.[bench]'")
    (work / "gbench.proto").write_text(PROTO)
    pilota.generate([work / "gbench.proto"], work / "ours_gbench")
    bin_dir = Path(sys.executable).parent
    plugin = shutil.which("protoc-gen-grpclib_python", path=str(bin_dir)) or shutil.which(
        "protoc-gen-grpclib_python"
    )
    if plugin is None:
        raise SystemExit("grpclib's protoc plugin is needed: pip install -e '.[bench]'")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{work}", f"--python_out={work}",
         f"--grpc_python_out={work}", f"--plugin=protoc-gen-grpclib_python={plugin}",
         f"--grpclib_python_out={work}", "gbench.proto"],
        check=True, cwd=work,
    )  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def role(work: Path, *args: str) -> subprocess.Popen[str]:
    """This script in another process, as a server or a client."""
    path = os.pathsep.join([str(work), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.Popen(
        [sys.executable, str(HERE), "--work", str(work), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=env,
    )  # fmt: skip


def measure(
    work: Path, stack: str, case: str, seconds: float, messages: int
) -> tuple[float, float, float]:
    """Per second, client CPU µs and server CPU µs per call (or message)."""
    port = free_port()
    server = role(work, "--serve", stack, "--port", str(port))
    try:
        client = role(work, "--client", stack, "--case", case, "--port", str(port),
                      "--seconds", str(seconds), "--messages", str(messages))  # fmt: skip
        assert client.stdin is not None and client.stdout is not None
        line = client.stdout.readline()
        if line.strip() != "ready":
            client.kill()
            raise SystemExit(f"{stack}: the client did not start ({line.strip() or 'no output'})")
        server_cpu = cpu_seconds(server.pid)
        client.stdin.write("go\n")
        client.stdin.flush()
        result = json.loads(client.stdout.readline())
        server_used = cpu_seconds(server.pid) - server_cpu
        client.wait(60)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    count = result["count"]
    return count / result["seconds"], result["cpu"] / count * 1e6, server_used / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="unary load (default 5)")
    parser.add_argument("--messages", type=int, default=10_000, help="stream length (10,000)")
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve", choices=STACKS, help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=STACKS, help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=("unary", "stream"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        servers = {"volo": serve_volo, "grpcio aio": serve_grpcio, "grpclib": serve_grpclib}
        servers[args.serve](args.port)
        return 0
    if args.client:
        address = f"127.0.0.1:{args.port}"
        asyncio.run(run_client(args.client, args.case, address, args.seconds, args.messages))
        return 0

    work = Path(tempfile.mkdtemp(prefix="volo-grpc-bench-"))
    try:
        generate(work)
        rows = []
        for case in ("unary", "stream"):
            results = {stack: measure(work, stack, case, args.seconds, args.messages)
                       for stack in STACKS}  # fmt: skip
            base = results["grpcio aio"]
            rows += [(case, stack, result, base) for stack, result in results.items()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"gRPC over 127.0.0.1, server and client in processes of their own; one run.\n"
        f"unary: echo, {CONCURRENCY} calls in flight on one channel, {args.seconds:g} s; "
        f"stream: one server stream of {args.messages:,} messages.\n"
    )
    columns = ["case", "stack", "calls (msgs)/s", "client CPU µs", "server CPU µs"]
    columns += ["/s vs grpcio aio", "CPU vs grpcio aio (client, server)"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for case, stack, (rate, client_us, server_us), base in rows:
        cpu = f"{client_us / base[1]:.2f}x, {server_us / base[2]:.2f}x"
        cells = [case, stack, f"{rate:,.0f}", f"{client_us:,.1f}", f"{server_us:,.1f}",
                 f"{rate / base[0]:.2f}x", cpu]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
