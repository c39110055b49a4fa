"""volo.grpc.run as a process: it serves until SIGTERM, then drains the calls
in flight and exits 0, with one worker or several on one port; an address it
cannot have is one line and exit status 1."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import textwrap
from pathlib import Path

import pytest

import volo.grpc
from tests.grpc_support import modules

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SERVER = textwrap.dedent("""
    import asyncio, logging, sys
    sys.path.insert(0, sys.argv[1])
    import volo.grpc
    from echo_ours.echotest.v1.echo import EchoHandler, Pong

    class Sleepy(EchoHandler):
        async def Unary(self, request):
            logging.getLogger("handler").info("handling %s", request.text)
            await asyncio.sleep(request.sleep_ms / 1000)
            return Pong(text=request.text)

    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    volo.grpc.run(Sleepy(), address=sys.argv[2], workers=int(sys.argv[3]), grace=30)
""")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start(tmp_path: Path, address: str, workers: int) -> asyncio.subprocess.Process:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    return await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(modules().root), address, str(workers),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_drains_calls_in_flight_and_exits_0(tmp_path: Path, workers: int) -> None:
    ours = modules().ours
    port = free_port()
    process = await start(tmp_path, f"127.0.0.1:{port}", workers)
    assert process.stderr is not None
    try:
        lines = [await asyncio.wait_for(process.stderr.readline(), 60) for _ in range(workers)]
        async with volo.grpc.connect(f"127.0.0.1:{port}") as channel:
            client = ours.EchoClient(channel)
            slow = asyncio.ensure_future(client.Unary(ours.Ping(text="slow", sleep_ms=1000)))
            lines.append(await asyncio.wait_for(process.stderr.readline(), 60))
            process.send_signal(signal.SIGTERM)  # the slow call is in
            assert (await slow).text == "slow"
        status = await asyncio.wait_for(process.wait(), 60)
        lines += (await process.stderr.read()).splitlines(keepends=True)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = [line.decode().strip() for line in lines]
    assert all(f"serving echotest.v1.Echo on 127.0.0.1:{port}" in line for line in text[:workers])
    assert text[workers] == "handler handling slow"
    # the worker that has the call drains it; any other has none
    assert sorted(line for line in text if "shutting down" in line) == [
        "volo.server shutting down: 0 call(s) in flight"
    ] * (workers - 1) + ["volo.server shutting down: 1 call(s) in flight"]
    assert status == 0


async def test_an_address_in_use_is_one_line_and_status_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await start(tmp_path, f"127.0.0.1:{port}", 1)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert stderr.decode().strip().splitlines() == [
        f"volo.server cannot serve on 127.0.0.1:{port}: the address is already in use"
    ]


async def test_start_errors_are_one_sentence_and_grpcio_says_nothing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    from tests.grpc_support import make_handler
    from volo.errors import ServerStartError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        errors = []
        for host, where in (("127.0.0.1", port), ("no-such-host.invalid", 50051)):
            with pytest.raises(ServerStartError) as failed:
                await volo.grpc.Server(make_handler(), host, where).start()
            errors.append(str(failed.value))
    assert errors == [
        f"cannot serve on 127.0.0.1:{port}: the address is already in use",
        "cannot serve on no-such-host.invalid:50051: unknown host",
    ]
    assert capfd.readouterr().err == ""
