"""Issue 12's attacks on volo's server, at the issue's sizes.

Each attack runs against a server process of its own (default limits;
testI32 and testOneway sleep the milliseconds they are given) while a probe
client, on its own connection, calls testString again and again. One table:
the probe's p50 and p99 during the attack, the longest the server's event
loop went without running a 5 ms timer ("stall": what any call waiting then
waited too), the server's peak RSS, and what came of the attack. The last
rows: a server at a 128 file-descriptor limit, and a client whose server
answers with a zlib bomb (its own peak RSS).

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
    HEADER,
    LIMITED_ATTACKS,
    client_zlib_bomb,
    fd_limit,
    load_tt,
    run_attack,
)

IDL = Path(__file__).resolve().parent.parent / "tests" / "idl" / "cross_test.thrift"


async def main(scale: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        pilota.generate([IDL], work / "attack_tt")
        tt = load_tt(f"{work}:attack_tt.crosstest")
        print(HEADER, flush=True)
        for name, attack in ATTACKS.items():
            print((await run_attack(name, attack, tt, work, scale)).row(), flush=True)
        for name, attack in LIMITED_ATTACKS.items():
            result = await run_attack(name, attack, tt, work, scale, concurrency_limit=16)
            print(result.row(), flush=True)
        result, logged = await fd_limit(tt, work)
        result.outcome += f"; {len(logged.splitlines())} lines logged"
        print(result.row(), flush=True)
        print((await client_zlib_bomb(tt, work)).row(), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="of the issue's sizes")
    asyncio.run(main(parser.parse_args().scale))
