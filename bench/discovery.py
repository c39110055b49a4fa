"""What discovery costs a call: calls per second and client CPU per call
through etcd discovery + load balancing, beside the same servers named by a
static list of addresses.

Starts its own etcd (Debian's etcd-server) on free ports with a temporary data
directory, and echo servers in their own processes on 127.0.0.1, each
registered in etcd; then, for 1 and for 3 servers, loads them with 50 calls
in flight, static and discovered in turn for `rounds` rounds (in ABBA order),
and prints one table: the medians of the rounds, and the overhead of discovery
per call as the median of the rounds' own ratios.

Why rounds and medians: the two cases run the same code per call (the pool
and balancer are made once, from the first list etcd gives); what a call costs
the client depends on how many replies each read brings, and so on what else
the machine runs at that moment: one measure of a case varies by 10-20% on a
busy machine. Each measure starts with fresh connections after a warm-up and
0.2 s of full load (SETTLE), and a round compares two measures taken side by
side. The client's CPU counts every thread of its process: the grpc
threads under the etcd watch are in the etcd column, and said apart below.

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
from statistics import median, quantiles
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


SETTLE = 0.2  # seconds of full load before a measure starts


async def measure(
    module: Any, target: Any, seconds: float, server_pid: int
) -> tuple[float, float, float]:
    """Calls per second, the client's CPU µs per call, and the part of it in
    threads other than the event loop's (grpc's, for etcd)."""
    transport = volo.thrift.connect(target)
    client = module.BenchClient(transport)
    await transport.start()  # etcd's channel opened, and the instances listed
    background = time.process_time() - time.thread_time()
    qps, client_us, _ = await load([lambda: client.echo_string(SHORT)] * CONCURRENCY, seconds,
                                   server_pid, SETTLE)  # fmt: skip
    background = time.process_time() - time.thread_time() - background  # warm-up and settle too
    await transport.close()
    return qps, client_us, max(0.0, background) / (qps * seconds) * 1e6


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.4,
                        help="load per case and round (default 0.4)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=16, help="rounds, at least 2 (default 16)")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (static first once, etcd first once)")
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
            static_runs: list[tuple[float, float, float]] = []
            discovered_runs: list[tuple[float, float, float]] = []
            for round_ in range(args.rounds):
                cases = [(static_runs, addresses), (discovered_runs, discovered)]
                for results, target in cases[:: -1 if round_ % 2 else 1]:  # ABBA
                    results.append(await measure(module, target, args.seconds, servers[0][0].pid))
            rows.append((count, static_runs, discovered_runs))
    finally:
        for process, _ in servers:
            process.send_signal(signal.SIGTERM)
        for process, _ in servers:
            process.wait(15)
        etcd.terminate()
        etcd.wait(15)
        shutil.rmtree(work, ignore_errors=True)

    print(f"Echo of a short string over 127.0.0.1, {CONCURRENCY} calls in flight, "
          f"{args.seconds:g} s per case and round after {SETTLE:g} s of load, medians of "
          f"{args.rounds} rounds; one run\n")  # fmt: skip
    print("| servers | static calls/s | etcd calls/s | static client µs/call"
          " | etcd client µs/call | overhead per call | middle half of the rounds |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for count, fixed, found in rows:
        ratios = [e[1] / s[1] - 1 for s, e in zip(fixed, found, strict=True)]
        cells = [f"{count}"] + [f"{median(r[0] for r in runs):,.0f}" for runs in (fixed, found)]
        cells += [f"{median(r[1] for r in runs):,.1f}" for runs in (fixed, found)]
        low, middle, high = (f"{q * 100:+.1f}%" for q in quantiles(ratios, n=4))
        print("| " + " | ".join([*cells, middle, f"{low} to {high}"]) + " |")
    print("\nOverhead: the client's CPU per call through etcd discovery beside a static"
          " list, the median of the rounds' ratios (the middle half of them: the"
          " noise).")  # fmt: skip
    for count, fixed, found in rows:
        print(f"{count} server(s): threads other than the event loop's (grpc's, under the etcd"
              f" watch) used at most {median(r[2] for r in found):.2f} µs per call with etcd,"
              f" {median(r[2] for r in fixed):.2f} static; counted above.")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
