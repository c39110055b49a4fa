"""The acceptance scenarios of discovery, with real processes: servers of a
project `volo init` wrote, registered in a real etcd, and a client that knows
only the service's name."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pilota
import volo.thrift
from tests.conftest import REPO
from tests.etcd_support import Etcd, free_port, wait_for
from volo.discovery import from_target
from volo_cli.main import cli

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

ECHO = REPO / "idl_samples" / "echo.thrift"

# Each server answers with its own address: the test sees who answered.
HANDLER = '''\
from __future__ import annotations

import os

from echo.gen.echo import EchoHandler, EchoRequest, EchoResponse


class Handler(EchoHandler):
    async def echo(self, request: EchoRequest) -> EchoResponse:
        return EchoResponse(message=os.environ["VOLO_ADDRESS"])
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("discovery_project")
    previous = Path.cwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(cli, ["init", "echo", str(ECHO)])
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.output
    (root / "echo" / "handler.py").write_text(HANDLER)
    return root


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The echo IDL's client for this process, under a name of its own."""
    root = tmp_path_factory.mktemp("discovery_client")
    pilota.generate([ECHO], root / "discovery_echo")
    sys.path.insert(0, str(root))
    return importlib.import_module("discovery_echo.echo")


class ServerProcess:
    """`python -m echo.server`, registering in etcd; its output kept line by line."""

    def __init__(
        self, project: Path, etcd: Etcd, ttl: int = 2, drain: float = 1.0, env: bool = True
    ) -> None:
        self.address = f"127.0.0.1:{free_port()}"
        variables = {"VOLO_ADDRESS": self.address, "VOLO_DRAIN": str(drain),
                     "VOLO_REGISTRY": f"{etcd.url}?ttl={ttl}"}  # fmt: skip
        if not env:  # the registry from volo.yml
            del variables["VOLO_REGISTRY"], variables["VOLO_DRAIN"]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("VOLO_")}, **variables}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "echo.server"], cwd=project, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def index(self, text: str) -> int:
        return next(i for i, line in enumerate(self.lines) if text in line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.reader.join(5)


@pytest.fixture
def start(project: Path, etcd: Etcd) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def run(**options: Any) -> ServerProcess:
        server = ServerProcess(project, etcd, **options)
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()


async def until(condition: Callable[[], object], what: str, deadline: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Load:
    """Calls one after another until stopped, recording who answered or the error.
    `gate` is held during each call: holding it, the test acts between calls."""

    def __init__(self, client: Any, echo: Any) -> None:
        self.client, self.echo = client, echo
        self.answers: list[str] = []
        self.errors: list[BaseException] = []
        self.gate = asyncio.Lock()
        self.running = True
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        while self.running:
            async with self.gate:
                try:
                    reply = await self.client.echo(self.echo.EchoRequest(message="hi"))
                    self.answers.append(reply.message)
                except Exception as exc:
                    self.errors.append(exc)
            await asyncio.sleep(0.005)

    def since(self, mark: int) -> Counter[str]:
        return Counter(self.answers[mark:])

    async def stop(self) -> None:
        self.running = False
        await self.task


@pytest.fixture
async def client(etcd: Etcd, echo: Any) -> AsyncIterator[tuple[Any, volo.thrift.ClientTransport]]:
    transport = volo.thrift.connect(f"{etcd.url}/echo", timeout=10)
    yield echo.EchoClient(transport), transport
    await transport.close()


def addresses(transport: volo.thrift.ClientTransport) -> set[str]:
    return {str(e) for e in transport.endpoints}


async def test_calls_spread_survive_a_kill_and_reach_a_new_server(
    start: Callable[..., ServerProcess], client: tuple[Any, volo.thrift.ClientTransport], echo: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG, "volo.resilience")
    caller, transport = client
    servers = [start() for _ in range(3)]
    everyone = {s.address for s in servers}
    await transport.start()
    await until(lambda: addresses(transport) == everyone, "three servers registered")

    # A client that knows only the name spreads calls across all three.
    replies = [(await caller.echo(echo.EchoRequest(message="x"))).message for _ in range(30)]
    assert Counter(replies) == dict.fromkeys(everyone, 10)

    load = Load(caller, echo)
    await until(lambda: len(load.answers) > 10, "calls under way")
    victim = servers[0]
    async with load.gate:  # between two calls
        victim.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(victim.process.wait)
        # The connection's end arrives: a call is never sent on it after the kill
        # (one sent just before the kill would be lost: it may have run).
        dead = next(e for e in transport.endpoints if str(e) == victim.address)
        await until(lambda: not any(c.usable for c in dead.connections), "the connection's end")
        killed_at = len(load.answers)
    # Until its lease expires the instance is still picked: connecting fails, and
    # the call goes to another instance.
    await until(lambda: victim.address not in addresses(transport), "the lease to expire")
    dropped_at = len(load.answers)
    failovers = [r for r in caplog.records if "trying another instance" in r.getMessage()]
    assert failovers and all(victim.address in r.getMessage() for r in failovers)
    assert dropped_at > killed_at and victim.address not in load.since(killed_at)
    await until(lambda: len(load.answers) > dropped_at + 20, "calls after the drop")
    assert len([r for r in caplog.records if "trying another instance" in r.getMessage()]) == len(failovers)

    # A fourth server gets calls, with no client restart.
    fourth = start()
    await until(lambda: fourth.address in addresses(transport), "the fourth server found")
    joined_at = len(load.answers)
    await until(lambda: load.since(joined_at)[fourth.address] >= 5, "calls at the fourth server")
    await load.stop()
    assert load.errors == []
    assert set(load.since(joined_at)) == {servers[1].address, servers[2].address, fourth.address}


async def test_a_server_stopped_with_sigterm_leaves_etcd_before_it_stops_accepting(
    start: Callable[..., ServerProcess], client: tuple[Any, volo.thrift.ClientTransport], echo: Any,
    etcd: Etcd,
) -> None:  # fmt: skip
    caller, transport = client
    leaving, staying = start(drain=5.0), start()
    await transport.start()
    await until(lambda: addresses(transport) == {leaving.address, staying.address}, "two servers")
    load = Load(caller, echo)
    await until(lambda: load.since(0)[leaving.address] >= 3, "calls at both")

    watch = from_target(f"{etcd.url}/echo").watch()
    assert {str(i) for i in await anext(watch)} == {leaving.address, staying.address}
    leaving.process.send_signal(signal.SIGTERM)
    assert {str(i) for i in await asyncio.wait_for(anext(watch), 20)} == {staying.address}
    await watch.aclose()  # type: ignore[attr-defined]
    # Gone from etcd, and still serving: a call made now straight to it is answered.
    async with volo.thrift.connect(leaving.address) as direct:
        reply = await echo.EchoClient(direct).echo(echo.EchoRequest(message="x"))
        assert reply.message == leaving.address
    assert not leaving.said("shutting down")
    await until(lambda: leaving.address not in addresses(transport), "the client to drop it")
    assert await asyncio.to_thread(leaving.process.wait, 30) == 0
    # Its own account, in order: out of the registry, then it stops accepting.
    assert leaving.index("deregistered") < leaving.index("shutting down")
    mark = len(load.answers)
    await until(lambda: len(load.answers) > mark + 10, "calls after it stopped")
    await load.stop()
    assert load.errors == []
    assert set(load.since(mark)) == {staying.address}


async def test_servers_and_clients_ride_out_an_etcd_restart(
    start: Callable[..., ServerProcess], client: tuple[Any, volo.thrift.ClientTransport], echo: Any,
    etcd: Etcd,
) -> None:  # fmt: skip
    caller, transport = client
    servers = [start(), start()]
    await transport.start()
    await until(lambda: addresses(transport) == {s.address for s in servers}, "two servers")
    load = Load(caller, echo)
    etcd.stop()
    mark = len(load.answers)
    await asyncio.sleep(3)  # past the lease TTL, etcd down: calls go on to the servers known
    assert set(load.since(mark)) == {s.address for s in servers}
    await asyncio.to_thread(etcd.start)
    await until(lambda: all(s.said("trying again") for s in servers), "the servers to notice")
    third = start()
    await until(lambda: third.address in addresses(transport), "the client to watch again")
    mark = len(load.answers)
    await until(lambda: len(load.answers) > mark + 30, "calls after the restart")
    assert set(load.since(mark)) == {third.address, *(s.address for s in servers)}
    # Still registered, leases kept alive (or renewed), as a fresh client finds.
    await asyncio.sleep(3)
    watch = from_target(f"{etcd.url}/echo").watch()
    assert {str(i) for i in await anext(watch)} == {third.address, *(s.address for s in servers)}
    await watch.aclose()  # type: ignore[attr-defined]
    await load.stop()
    assert load.errors == []


def test_a_server_that_cannot_register_says_so_in_one_line(project: Path) -> None:
    env = {**os.environ, "VOLO_ADDRESS": f"127.0.0.1:{free_port()}",
           "VOLO_REGISTRY": f"etcd://127.0.0.1:{free_port()}"}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "echo.server"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.endswith(f"cannot register in {env['VOLO_REGISTRY']}: no answer within 3 s"), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("option", "message"), [
    (["--registry", "zk://h:1"], "echo.server: unknown registry 'zk://h:1': expected etcd://HOST:PORT"),
    (["--registry", "etcd://h:1?ttl=0"], "echo.server: the lease TTL must be at least 1 second, not 0"),
])  # fmt: skip
def test_a_bad_registry_is_one_line(project: Path, option: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "echo.server", *option], cwd=project,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert (result.returncode, result.stderr.strip()) == (1, message)


def test_the_generated_client_finds_the_server_by_name(
    start: Callable[..., ServerProcess], project: Path, etcd: Etcd
) -> None:
    server = start()
    wait_for(lambda: server.said("registered"), "the server to register")
    env = {**os.environ, "VOLO_ADDRESS": f"{etcd.url}/echo"}
    result = subprocess.run([sys.executable, "-m", "echo.client"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert server.address in result.stdout


async def test_a_server_takes_its_registry_from_volo_yml(
    start: Callable[..., ServerProcess], project: Path, etcd: Etcd
) -> None:
    config = project / "volo.yml"
    written = config.read_text()
    config.write_text(written + f"server:\n  registry: {etcd.url}?ttl=2\n  service_name: echo-yml\n")
    try:
        server = start(env=False)
        watch = from_target(f"{etcd.url}/echo-yml").watch()
        instances = await anext(watch)
        while not instances:
            instances = await asyncio.wait_for(anext(watch), 30)
        assert [str(i) for i in instances] == [server.address]
        await watch.aclose()  # type: ignore[attr-defined]
    finally:
        config.write_text(written)
