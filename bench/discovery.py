"""What discovery costs a call: calls per second and client CPU per call
through etcd discovery + load balancing, beside the same servers named by a
static list of addresses.

Starts its own etcd (Debian's etcd-server) on free ports with a temporary data
directory, and echo servers in their own processes on 127.0.0.1, each
registered in etcd; then, for 1 and for 3 servers, loads them with 50 calls
in flight for a few seconds per case, alternating static and discovered
`rounds` times, and prints one table (the best of the rounds for each) with
the overhead of discovery per call.

    python bench/discovery.py [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

from rpc import CONCURRENCY, SHORT, free_port, load

import pilota
import volo.thrift

IDL = "service Bench {\n    string echo_string(1: string s),\n}\n"


def start_etcd(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("etcd")
    if binary is None:
        raise SystemExit("bench/discovery.py needs etcd (Debian: etcd-server)")
    port, peer = free_port(), free_port()
    client_url, peer_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer}"
    process = subprocess.Popen(
        [binary, "--name", "bench", "--data-dir", str(work / "etcd"),
         "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
         "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
         "--initial-cluster", f"bench={peer_url}", "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{client_url}/health", timeout=1) as reply:
                if b'"true"' in reply.read():
                    return process, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("etcd did not start")


def start_server(work: Path, etcd: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    code = f"""
        import sys
        sys.path.insert(0, {str(work)!r})
        import volo.thrift
        from volo.discovery import Registration
        from volo.etcd import EtcdRegistry
        from discovery_bench.bench import BenchHandler

        class Handler(BenchHandler):
            async def echo_string(self, s):
                return s

        registration = Registration(EtcdRegistry({etcd!r}, ttl=10), "bench", drain=0)
        volo.thrift.run(Handler(), "127.0.0.1", {port}, registration=registration)
    """
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return process, f"127.0.0.1:{port}"


async def measure(module: Any, target: Any, seconds: float, server_pid: int) -> tuple[float, float]:
    transport = volo.thrift.connect(target)
    client = module.BenchClient(transport)
    qps, client_us, _ = await load([lambda: client.echo_string(SHORT)] * CONCURRENCY, seconds,
                                   server_pid)  # fmt: skip
    await transport.close()
    return qps, client_us


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load per case (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="alternations (default 3)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="volo-discovery-bench-"))
    (work / "bench.thrift").write_text(IDL)
    pilota.generate([work / "bench.thrift"], work / "discovery_bench")
    sys.path.insert(0, str(work))
    module = importlib.import_module("discovery_bench.bench")
    etcd, endpoint = start_etcd(work)
    servers: list[tuple[subprocess.Popen[bytes], str]] = []
    rows = []
    try:
        for count in (1, 3):
            while len(servers) < count:
                servers.append(start_server(work, endpoint))
            addresses = [address for _, address in servers]
            discovered = f"etcd://{endpoint}/bench"
            probe = volo.thrift.connect(discovered)
            await probe.start()
            deadline = time.monotonic() + 30
            while {str(e) for e in probe.endpoints} != set(addresses):  # all registered
                if time.monotonic() > deadline:
                    raise SystemExit("the servers did not register")
                await asyncio.sleep(0.05)
            await probe.close()
            best: dict[str, tuple[float, float]] = {}
            for _ in range(args.rounds):
                for name, target in (("static", addresses), ("etcd", discovered)):
                    qps, client_us = await measure(module, target, args.seconds, servers[0][0].pid)
                    if name not in best or qps > best[name][0]:
                        best[name] = (qps, client_us)
            rows.append((count, best["static"], best["etcd"]))
    finally:
        for process, _ in servers:
            process.send_signal(signal.SIGTERM)
        for process, _ in servers:
            process.wait(15)
        etcd.terminate()
        etcd.wait(15)
        shutil.rmtree(work, ignore_errors=True)

    print(f"Echo of a short string over 127.0.0.1, {CONCURRENCY} calls in flight, "
          f"{args.seconds:g} s per case, best of {args.rounds}; one run\n")  # fmt: skip
    print("| servers | static calls/s | etcd calls/s | static client µs/call"
          " | etcd client µs/call | overhead per call |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|")
    for count, (s_qps, s_us), (e_qps, e_us) in rows:
        overhead = (e_us - s_us) / s_us * 100
        cells = [f"{count}", f"{s_qps:,.0f}", f"{e_qps:,.0f}", f"{s_us:,.1f}", f"{e_us:,.1f}"]
        print("| " + " | ".join([*cells, f"{overhead:+.1f}%"]) + " |")
    print("\nOverhead: the client's CPU per call through etcd discovery beside a static list.")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
