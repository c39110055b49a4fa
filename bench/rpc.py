"""RPC echo throughput, ours beside thriftpy2's asyncio server and client.

Prints one table from one run: for a short string and for the medium struct
of bench/codec.py, echoed with 50 calls in flight for a few seconds against a
server in its own process on 127.0.0.1: calls per second, and CPU µs per call
on the client side and on the server side (read from /proc during the load
only, so start-up is not counted).

- ours: volo's server, and its client multiplexing the 50 calls over one
  connection (framed binary);
- ours, workers=2: two server processes on one port; the client then keeps
  4 connections so the kernel spreads them;
- thriftpy2: make_aio_server / make_aio_client (buffered binary). Its client
  cannot take concurrent calls on one connection (thriftpy2 #245), so each
  of the 50 workers has its own; its server's idle timeout is turned off.

    python bench/rpc.py [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import thriftpy2
from codec import IDL as STRUCTS  # the medium struct of the codec benchmark
from codec import LEAF, VALUES
from thriftpy2.rpc import make_aio_client

import pilota
import volo.thrift

IDL = (
    STRUCTS
    + """
service Bench {
    string echo_string(1: string s),
    Medium echo_medium(1: Medium m),
}
"""
)
CONCURRENCY = 50
SHORT = "hello, volo"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the workers), from /proc."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def start_server(work: Path, kind: str, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    if kind == "ours":
        code = f"""
            import sys
            sys.path.insert(0, {str(work)!r})
            import volo.thrift
            from ours_rpc_bench.bench import BenchHandler

            class Handler(BenchHandler):
                async def echo_string(self, s):
                    return s

                async def echo_medium(self, m):
                    return m

            volo.thrift.run(Handler(), "127.0.0.1", {port}, workers={workers})
        """
    else:
        code = f"""
            import thriftpy2
            from thriftpy2.rpc import make_aio_server
            bench = thriftpy2.load({str(work / "bench.thrift")!r}, module_name="bench_thrift")

            class Handler:
                async def echo_string(self, s):
                    return s

                async def echo_medium(self, m):
                    return m

            address = ("127.0.0.1", {port})
            make_aio_server(bench.Bench, Handler(), *address, client_timeout=None).serve()
        """
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            time.sleep(0.3)  # let all workers come up
            return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the {kind} server did not start")


async def load(
    calls: list[Callable[[], Awaitable[Any]]], seconds: float, server: int, settle: float = 0.0
) -> tuple[float, float, float]:
    """Run each worker's call in a loop, measured for `seconds` once the load
    has run `settle` seconds (fresh connections, at full load, first).

    Returns calls per second, and client and server CPU µs per call."""
    count = 0
    stop = False

    async def worker(call: Callable[[], Awaitable[Any]]) -> None:
        nonlocal count
        while not stop:
            await call()
            count += 1

    for call in calls:  # warm up every connection
        await call()
    tasks = [asyncio.create_task(worker(c)) for c in calls]
    if settle:
        await asyncio.sleep(settle)
    client_cpu, server_cpu, start = time.process_time(), cpu_seconds(server), time.perf_counter()
    count = 0
    await asyncio.sleep(seconds)
    stop = True
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    client_used = time.process_time() - client_cpu
    server_used = cpu_seconds(server) - server_cpu
    return count / elapsed, client_used / count * 1e6, server_used / count * 1e6


async def bench_ours(
    work: Path, module: Any, payload: str, seconds: float, workers: int
) -> tuple[float, float, float]:
    port = free_port()
    server = start_server(work, "ours", port, workers)
    try:
        transport = volo.thrift.connect(f"127.0.0.1:{port}", pool_size=1 if workers == 1 else 4)
        client = module.BenchClient(transport)
        value = module.Medium(**VALUES, leaf=module.Leaf(**LEAF))
        call = (
            (lambda: client.echo_string(SHORT))
            if payload == "string"
            else (lambda: client.echo_medium(value))
        )
        result = await load([call] * CONCURRENCY, seconds, server.pid)
        await transport.close()
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


async def bench_thriftpy2(
    work: Path, tp: Any, payload: str, seconds: float
) -> tuple[float, float, float]:
    port = free_port()
    server = start_server(work, "thriftpy2", port)
    try:
        clients = [
            await make_aio_client(tp.Bench, "127.0.0.1", port, timeout=None)
            for _ in range(CONCURRENCY)
        ]
        value = tp.Medium(**VALUES, leaf=tp.Leaf(**LEAF))
        if payload == "string":
            calls = [(lambda c=c: c.echo_string(SHORT)) for c in clients]
        else:
            calls = [(lambda c=c: c.echo_medium(value)) for c in clients]
        result = await load(calls, seconds, server.pid)
        for client in clients:
            client.close()
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        server.kill()
        server.wait(10)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load per case (default 3)")
    seconds = parser.parse_args().seconds
    work = Path(tempfile.mkdtemp(prefix="pilota-rpc-bench-"))
    (work / "bench.thrift").write_text(IDL)
    pilota.generate([work / "bench.thrift"], work / "ours_rpc_bench")
    sys.path.insert(0, str(work))
    import importlib

    module = importlib.import_module("ours_rpc_bench.bench")
    with contextlib.redirect_stderr(io.StringIO()):
        tp = thriftpy2.load(str(work / "bench.thrift"), module_name="bench_client_thrift")

    rows = []
    for payload in ("string", "medium struct"):
        kind = "string" if payload == "string" else "medium"
        theirs = await bench_thriftpy2(work, tp, kind, seconds)
        ours = await bench_ours(work, module, kind, seconds, workers=1)
        ours2 = await bench_ours(work, module, kind, seconds, workers=2)
        rows.append((payload, "thriftpy2 (asyncio)", theirs, theirs[0]))
        rows.append((payload, "volo", ours, theirs[0]))
        rows.append((payload, "volo, workers=2", ours2, theirs[0]))

    print(f"Echo over 127.0.0.1, {CONCURRENCY} calls in flight, {seconds:g} s per case; one run\n")
    columns = ["payload", "server and client", "calls/s", "client CPU µs/call"]
    columns += ["server CPU µs/call", "calls/s vs thriftpy2"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---:|---:|---:|---:|")
    for payload, name, (qps, client_us, server_us), base in rows:
        cells = [payload, name, f"{qps:,.0f}", f"{client_us:,.0f}", f"{server_us:,.0f}"]
        print("| " + " | ".join([*cells, f"{qps / base:.2f}x"]) + " |")
    print(
        "\nThe client shares this 2-core machine with the server: with workers=2 all three compete."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
