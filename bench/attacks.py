"""Issue 12's attacks on volo's servers, at the issue's sizes.

Each attack runs against a server process of its own, with default limits,
while a probe client, on its own connection, calls a normal method again
and again: volo's Thrift server (testI32 and testOneway sleep the
milliseconds they are given; the probe calls testString), its gRPC server
(tests' echo service; the probe calls Unary) and a volo.http router under
uvicorn (the probe GETs /ping). One table: the probe's p50 and p99 during
the attack, the longest the server's event loop went without running a
5 ms timer ("stall": what any call waiting then waited too), the server's
peak RSS, and what came of the attack. The last rows: a Thrift server at a
128 file-descriptor limit, and a client whose server answers with a zlib
bomb (its own peak RSS).

The attacks are in tests/attacks.py; tests/test_attacks.py runs them too,
asserting bounds rather than printing figures.

    python bench/attacks.py [--scale S]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package

import pilota
from tests.attacks import (
    ATTACKS,
    GRPC_ATTACKS,
    HEADER,
    HTTP_ATTACKS,
    LIMITED_ATTACKS,
    client_zlib_bomb,
    echo_module,
    fd_limit,
    load_module,
    run_attack,
)

IDL = Path(__file__).resolve().parent.parent / "tests" / "idl" / "cross_test.thrift"


async def main(scale: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        pilota.generate([IDL], work / "attack_tt")
        tt = load_module(f"{work}:attack_tt.crosstest")
        echo = echo_module(work)
        print(HEADER, flush=True)
        # (attacks, the module served, the server, its ConcurrencyLimit)
        suites = [(ATTACKS, tt, "thrift", 0), (LIMITED_ATTACKS, tt, "thrift", 16),
                  (GRPC_ATTACKS, echo, "grpc", 0), (HTTP_ATTACKS, tt, "http", 0)]  # fmt: skip
        for attacks, module, kind, limit in suites:
            for name, attack in attacks.items():
                result = await run_attack(name, attack, module, work, scale, limit, kind)
                print(result.row(), flush=True)
        result = await fd_limit(tt, work)
        result.outcome += f"; {len(result.logged.splitlines())} lines logged"
        print(result.row(), flush=True)
        print((await client_zlib_bomb(tt, work)).row(), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="of the issue's sizes")
    asyncio.run(main(parser.parse_args().scale))
