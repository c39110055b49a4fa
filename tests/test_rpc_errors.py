"""What a user sees when the runtime cannot do what was asked: one clear line."""

from __future__ import annotations

import errno
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import volo.thrift
from pilota.runtime.codec import IMPLEMENTATION
from tests.thrift_test_service import make_handler, slow_handler
from volo.middleware import Timeout


@pytest.fixture
def occupied() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


# ---- addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost:8080", ("localhost", 8080)),
        ("10.0.0.1:0", ("10.0.0.1", 0)),
        (":9090", ("127.0.0.1", 9090)),
        ("[::1]:80", ("::1", 80)),
        ("[fe80::1%eth0]:65535", ("fe80::1%eth0", 65535)),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert volo.parse_address(text) == expected


def test_parse_address_default_host() -> None:
    assert volo.parse_address(":1", default_host="0.0.0.0") == ("0.0.0.0", 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("localhost", "address 'localhost' has no port: expected HOST:PORT, e.g. 'localhost:8080'"),
        ("", "address '' has no port: expected HOST:PORT, e.g. 'localhost:8080'"),
        ("[::1]", "address '[::1]' has no port: expected HOST:PORT, e.g. '[::1]:8080'"),
        ("::1", "bad address '::1': an IPv6 address goes in brackets, e.g. '[::1]:8080'"),
        ("::1:80", "bad address '::1:80': an IPv6 address goes in brackets, e.g. '[::1]:8080'"),
        ("[::1]80", "bad address '[::1]80': expected [IPV6]:PORT, e.g. '[::1]:8080'"),
        ("[::1:80", "bad address '[::1:80': expected [IPV6]:PORT, e.g. '[::1]:8080'"),
        ("[]:80", "bad address '[]:80': expected [IPV6]:PORT, e.g. '[::1]:8080'"),
        ("host:http", "bad address 'host:http': the port must be a number from 0 to 65535"),
        ("host:65536", "bad address 'host:65536': the port must be a number from 0 to 65535"),
        ("host:-1", "bad address 'host:-1': the port must be a number from 0 to 65535"),
        ("host:", "bad address 'host:': the port must be a number from 0 to 65535"),
        ("host: 80", "bad address 'host: 80': the port must be a number from 0 to 65535"),
    ],
)
def test_bad_addresses_are_one_sentence(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        volo.parse_address(text)
    assert str(raised.value) == message


def test_connect_reads_addresses_as_parse_address_does() -> None:
    transport = volo.thrift.connect(["[::1]:80", ":81"])
    assert [(e.host, e.port, str(e)) for e in transport.endpoints] == [("::1", 80, "[::1]:80"), ("127.0.0.1", 81, "127.0.0.1:81")]
    with pytest.raises(ValueError, match=r"^address 'localhost' has no port"):
        volo.thrift.connect("localhost")


# ---- no server, port in use ------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # localhost: maybe two addresses
async def test_no_server_listening(tt: Any, host: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with tt.ThriftTestClient(volo.thrift.connect(f"{host}:{port}", retries=0)) as client:
        with pytest.raises(volo.TransportError) as raised:
            await client.testString("anyone?")
    assert str(raised.value) == f"cannot connect to {host}:{port}: no server is listening"


async def test_the_server_says_its_port_is_in_use(tt: Any, occupied: int) -> None:
    server = volo.thrift.Server(make_handler(tt), "127.0.0.1", occupied)
    with pytest.raises(volo.ServerStartError) as raised:
        await server.start()
    assert str(raised.value) == f"cannot serve on 127.0.0.1:{occupied}: the address is already in use"
    assert isinstance(raised.value, OSError) and raised.value.errno == errno.EADDRINUSE


def serve_script(tt: Any, tmp_path: Path, *, log: bool) -> Path:
    """A program serving ThriftTest and SecondService with `volo.thrift.run`, as a
    project's server.py does: `script ADDRESS WORKERS`."""
    root = Path(tt.__file__).parent.parent
    script = tmp_path / "serve.py"
    script.write_text(textwrap.dedent(f"""
        import logging, sys
        sys.path.insert(0, {str(root)!r})
        import volo.thrift
        from {tt.__name__} import SecondServiceHandler, ThriftTestHandler
        if {log!r}:
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
        volo.thrift.run([ThriftTestHandler(), SecondServiceHandler()], address=sys.argv[1], workers=int(sys.argv[2]))
    """))
    return script


@pytest.mark.parametrize("workers", [1, 2])
def test_run_says_the_port_is_in_use_in_one_line(tt: Any, tmp_path: Path, occupied: int, workers: int) -> None:
    script = serve_script(tt, tmp_path, log=False)
    done = subprocess.run([sys.executable, str(script), f"127.0.0.1:{occupied}", str(workers)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"cannot serve on 127.0.0.1:{occupied}: the address is already in use\n"


def test_run_says_what_is_wrong_with_the_address_in_one_line(tt: Any, tmp_path: Path) -> None:
    script = serve_script(tt, tmp_path, log=True)
    done = subprocess.run([sys.executable, str(script), "localhost", "1"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "ERROR volo.server address 'localhost' has no port: expected HOST:PORT, e.g. 'localhost:8080'\n"


def test_the_start_up_line_names_the_services_and_the_codec(tt: Any, tmp_path: Path) -> None:
    script = serve_script(tt, tmp_path, log=True)
    with subprocess.Popen([sys.executable, str(script), "127.0.0.1:0", "1"], stderr=subprocess.PIPE, text=True) as server:
        assert server.stderr is not None
        line = server.stderr.readline()
        server.send_signal(signal.SIGTERM)
        rest = server.communicate(timeout=30)[1]
    assert server.returncode == 0, rest
    prefix = "INFO volo.server serving ThriftTest, SecondService on 127.0.0.1:"
    assert line.startswith(prefix), line
    assert line.endswith(f" (pid {server.pid}, {IMPLEMENTATION} codec)\n"), line
    assert line.removeprefix(prefix).split(" ")[0].isdigit()  # the port it got


def test_run_takes_an_address_or_a_host_and_port(tt: Any) -> None:
    with pytest.raises(TypeError, match="either address or host and port"):
        volo.thrift.run(make_handler(tt), "127.0.0.1", address="127.0.0.1:1")


# ---- timeouts ---------------------------------------------------------------------------------


async def test_every_timeout_names_the_call_and_the_seconds(tt: Any) -> None:
    async with volo.thrift.Server(slow_handler(tt, {"slow": 1.0}), "127.0.0.1", 0) as server:
        address = f"127.0.0.1:{server.port}"
        async with volo.thrift.connect(address, timeout=0.05) as transport:
            with pytest.raises(volo.CallTimeout) as raised:
                await tt.ThriftTestClient(transport).testString("slow")
            assert str(raised.value) == "testString: no reply within 0.05 s"
        async with volo.thrift.connect(address, layers=[Timeout(0.05)]) as transport:
            with pytest.raises(volo.CallTimeout) as raised:
                await tt.ThriftTestClient(transport).testI32(500)
            assert str(raised.value) == "ThriftTest.testI32: no reply within 0.05 s"
            assert isinstance(raised.value, TimeoutError)

