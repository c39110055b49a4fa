"""Our server and client against Apache Thrift's Python library, in the matrix
of Apache's cross-language test.

(a) A client on Apache's `thrift` library, with code from Apache's compiler,
calls our server as Apache's cross-test client does; (b) our client calls a
server built from Apache's library and code, made as Apache's cross-test
server makes it. Both over every protocol and transport of the matrix, plain
and multiplexed (ThriftTest and SecondService on one port). Both on
ThriftTest's interface in our own IDL (tests/idl/cross_test.thrift), and on
Apache's ThriftTest.thrift too when ../shared is there. (A thriftpy2 client
is in test_rpc.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from thrift.protocol import TBinaryProtocol, TCompactProtocol, TJSONProtocol
from thrift.protocol.THeaderProtocol import THeaderProtocol, THeaderProtocolFactory
from thrift.protocol.TMultiplexedProtocol import TMultiplexedProtocol
from thrift.server import TServer
from thrift.Thrift import TApplicationException
from thrift.TMultiplexedProcessor import TMultiplexedProcessor
from thrift.transport import TSocket, TTransport
from thrift.transport.THeaderTransport import (
    THeaderClientType,
    THeaderSubprotocolID,
    THeaderTransformID,
)

import pilota
import volo.thrift
from pilota.runtime.service import ApplicationError
from tests.conftest import IDL, need_apache_compiler, need_shared
from tests.thrift_test_service import (
    TRANSPORTS,
    ServerThread,
    SyncClient,
    check_thrift_test,
    connect_options,
    make_handler,
    make_second_handler,
    map_map,
)

# The matrix: each protocol with the transports it is tested over. On
# Apache's side "header" is THeader over its buffered transport,
# "header-in-framed" THeader over its framed transport, "zlib" THeader with
# the zlib transform. Apache's Python THeader carries binary and compact only.
PROTOCOLS: dict[str, tuple[str, ...]] = {
    "binary": TRANSPORTS,
    "compact": TRANSPORTS,
    "json": ("buffered", "framed"),
}
MATRIX = [
    pytest.param(protocol, transport, multiplexed,
                 id=f"{protocol}-{transport}" + ("-multiplexed" if multiplexed else ""))
    for protocol, transports in PROTOCOLS.items()
    for transport in transports
    for multiplexed in (False, True)
]  # fmt: skip

APACHE_PROTOCOLS: dict[str, Any] = {
    "binary": TBinaryProtocol.TBinaryProtocolFactory,
    "compact": TCompactProtocol.TCompactProtocolFactory,
    "json": TJSONProtocol.TJSONProtocolFactory,
}
HEADER_SUBPROTOCOL = {"binary": THeaderSubprotocolID.BINARY, "compact": THeaderSubprotocolID.COMPACT}
HEADER_TRANSPORTS = ("header", "header-in-framed", "zlib")
# How our server sees each transport of the matrix.
SERVER_SEES = {
    "buffered": volo.thrift.Framing.BUFFERED,
    "framed": volo.thrift.Framing.FRAMED,
    "header": volo.thrift.Framing.HEADER,
    "header-in-framed": volo.thrift.Framing.HEADER_IN_FRAMED,
    "zlib": volo.thrift.Framing.HEADER,
}


@pytest.fixture(scope="module", params=["ours", "corpus"])
def code(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Apache's and our code for ThriftTest's interface: from our IDL, or from Apache's."""
    compiler = need_apache_compiler()
    if request.param == "ours":
        idl, apache_package, our_module = IDL / "cross_test.thrift", "crosstest", "crosstest"
    else:
        idl = need_shared("corpus", "thrift", "apache-0.17", "ThriftTest.thrift")
        apache_package, our_module = "ThriftTest", "ThriftTest"
    root = tmp_path_factory.mktemp(f"rpc_{request.param}")
    (root / "apache").mkdir()
    subprocess.run([compiler, "--gen", "py", "-out", str(root / "apache"), str(idl)], check=True, capture_output=True)
    package = f"ours_rpc_{request.param}"
    pilota.generate([idl], root / package)
    sys.path[:0] = [str(root / "apache"), str(root)]
    return SimpleNamespace(
        ours=importlib.import_module(f"{package}.{our_module}"),
        apache_types=importlib.import_module(f"{apache_package}.ttypes"),
        apache_service=importlib.import_module(f"{apache_package}.ThriftTest"),
        apache_second=importlib.import_module(f"{apache_package}.SecondService"),
    )


# ---- (a) Apache's client, our server ------------------------------------------------


@pytest.fixture(scope="module")
def our_server(code: SimpleNamespace) -> Iterator[ServerThread]:
    """One server of ours for the whole matrix: it tells each connection's
    protocol and transport from its first bytes, and serves both services."""
    with ServerThread([make_handler(code.ours), make_second_handler(code.ours)]) as running:
        yield running


def apache_protocol(transport: Any, protocol: str, kind: str) -> Any:
    """Apache's protocol `protocol` on `transport`, as its cross-test client makes it."""
    if kind not in HEADER_TRANSPORTS:
        return APACHE_PROTOCOLS[protocol]().getProtocol(transport)
    header = THeaderProtocol(transport, [THeaderClientType.HEADERS], HEADER_SUBPROTOCOL[protocol])
    if kind == "zlib":
        header.trans.add_transform(THeaderTransformID.ZLIB)
    return header


@contextlib.contextmanager
def apache_client(code: SimpleNamespace, port: int, protocol: str, kind: str, multiplexed: bool) -> Iterator[tuple[Any, Any, str]]:
    """A ThriftTest client on Apache's library, a SecondService one when
    multiplexed (else None), and the client's own address."""
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(5000)
    framed = kind in ("framed", "header-in-framed")
    transport = TTransport.TFramedTransport(sock) if framed else TTransport.TBufferedTransport(sock)
    proto = apache_protocol(transport, protocol, kind)
    second = None
    if multiplexed:
        proto = TMultiplexedProtocol(proto, "ThriftTest")
        second_proto = TMultiplexedProtocol(apache_protocol(transport, protocol, kind), "SecondService")
        second = code.apache_second.Client(second_proto)
    transport.open()
    try:
        yield code.apache_service.Client(proto), second, "{}:{}".format(*sock.handle.getsockname())
    finally:
        transport.close()


@pytest.mark.parametrize(("protocol", "transport", "multiplexed"), MATRIX)
def test_apache_client_calls_our_server(
    code: SimpleNamespace, our_server: ServerThread, protocol: str, transport: str, multiplexed: bool
) -> None:
    handler = our_server.server.handlers[0]
    with apache_client(code, our_server.server.port, protocol, transport, multiplexed) as (client, second, peer):
        check_thrift_test(client, code.apache_types, TApplicationException, second)
        detected = our_server.wire_format(peer)
    assert detected.framing is SERVER_SEES[transport]
    if transport not in HEADER_TRANSPORTS:  # (a header frame names its protocol itself)
        assert detected.protocol == protocol
    assert handler.oneway_done.acquire(timeout=5)  # the oneway call ran


def test_apache_header_key_values_reach_the_handler(code: SimpleNamespace) -> None:
    """THeader string headers from Apache's client arrive as metainfo."""
    from volo import metainfo

    seen: list[str | None] = []
    base = make_handler(code.ours)

    class Recording(type(base)):  # type: ignore[misc]
        async def testString(self, thing: str) -> str:
            seen.append(metainfo.get("tenant"))
            return thing

    with ServerThread([Recording()]) as running, apache_client(code, running.server.port, "compact", "header", False) as (client, _, _):
        client._iprot.trans.set_header(b"RPC_PERSIST_tenant", b"acme")
        assert client.testString("x") == "x"
        assert client.testString("y") == "y"  # headers are per message: this one has none
    assert seen == ["acme", None]


@pytest.mark.parametrize("transport", ["buffered", "framed", "header", "header-in-framed"])
def test_apache_client_learns_its_request_is_over_our_limit(code: SimpleNamespace, transport: str) -> None:
    """Not a reset connection: an answer naming the limit."""
    with ServerThread([make_handler(code.ours)], max_frame=1024) as running, apache_client(code, running.server.port, "binary", transport, False) as (client, _, _):
        with pytest.raises(TApplicationException) as raised:
            client.testString("x" * 2000)
        assert raised.value.type == TApplicationException.PROTOCOL_ERROR
        assert re.fullmatch(r"testString: the request( of \d+ bytes)? is over the server's 1024-byte limit", str(raised.value.message))
        if transport != "buffered":  # a frame can be skipped: the connection goes on
            assert client.testString("next") == "next"


# ---- (b) our client, Apache's server --------------------------------------------------


class ApacheHandler:
    """ThriftTest's reference semantics for Apache's generated Processor."""

    def __init__(self, types: ModuleType) -> None:
        self.types = types

    def __getattr__(self, name: str) -> Any:
        if name.startswith("test") and name not in type(self).__dict__:
            return lambda thing=None, *rest: thing  # the echoes
        raise AttributeError(name)

    def testVoid(self) -> None:
        return None

    def testMapMap(self, hello: int) -> dict[int, dict[int, int]]:
        return map_map()

    def testInsanity(self, argument: Any) -> Any:
        n = self.types.Numberz
        return {1: {n.TWO: argument, n.THREE: argument}, 2: {n.SIX: self.types.Insanity()}}

    def testMulti(self, arg0: int, arg1: int, arg2: int, arg3: Any, arg4: Any, arg5: int) -> Any:
        return self.types.Xtruct(string_thing="Hello2", byte_thing=arg0, i32_thing=arg1, i64_thing=arg2)

    def testException(self, arg: str) -> None:
        if arg == "Xception":
            raise self.types.Xception(errorCode=1001, message=arg)
        if arg == "TException":
            raise RuntimeError("an undeclared failure")

    def testMultiException(self, arg0: str, arg1: str) -> Any:
        if arg0 == "Xception":
            raise self.types.Xception(errorCode=1001, message="This is an Xception")
        if arg0 == "Xception2":
            raise self.types.Xception2(errorCode=2002, struct_thing=self.types.Xtruct(string_thing="This is an Xception2"))
        return self.types.Xtruct(string_thing=arg1)

    def testOneway(self, secondsToSleep: int) -> None:
        return None


class ApacheSecondHandler:
    def secondtestString(self, thing: str) -> str:
        return f'testString("{thing}")'


class ApacheServers:
    """Servers on Apache's library, made as its cross-test server makes them
    (a transport factory, a protocol factory, and for multiplexed ones a
    TMultiplexedProcessor with ThriftTest also the default); each started on
    first use and kept for the module."""

    def __init__(self, code: SimpleNamespace) -> None:
        self.code = code
        self.ports: dict[tuple[str, str, bool], int] = {}
        self.listening: list[socket.socket] = []

    def port(self, protocol: str, transport: str, multiplexed: bool) -> int:
        if transport in HEADER_TRANSPORTS:  # THeader servers read any subprotocol and transform
            protocol, transport = "header", "framed" if transport == "header-in-framed" else "buffered"
        key = (protocol, transport, multiplexed)
        if key not in self.ports:
            self.ports[key] = self.start(*key)
        return self.ports[key]

    def start(self, protocol: str, transport: str, multiplexed: bool) -> int:
        code = self.code
        processor: Any = code.apache_service.Processor(ApacheHandler(code.apache_types))
        if multiplexed:
            thrift_test, processor = processor, TMultiplexedProcessor()
            processor.registerDefault(thrift_test)
            processor.registerProcessor("ThriftTest", thrift_test)
            processor.registerProcessor("SecondService", code.apache_second.Processor(ApacheSecondHandler()))
        factory: Any = TTransport.TFramedTransportFactory() if transport == "framed" else TTransport.TBufferedTransportFactory()
        protocols = THeaderProtocolFactory() if protocol == "header" else APACHE_PROTOCOLS[protocol]()
        listener = TSocket.TServerSocket(host="127.0.0.1", port=0)
        server = TServer.TThreadedServer(processor, listener, factory, protocols, daemon=True)
        listener.listen()
        self.listening.append(listener.handle)
        # TThreadedServer.serve never returns (once its socket closes, it spins): accept here instead.
        threading.Thread(target=self.accept, args=(listener, server), daemon=True).start()
        return int(listener.handle.getsockname()[1])

    @staticmethod
    def accept(listener: Any, server: Any) -> None:
        while True:
            try:
                client = listener.accept()
            except (OSError, AttributeError):
                return  # the socket is closed: the module is done
            threading.Thread(target=server.handle, args=(client,), daemon=True).start()

    def close(self) -> None:
        for handle in self.listening:
            with contextlib.suppress(OSError):
                handle.shutdown(socket.SHUT_RDWR)  # wakes the thread in accept()
            handle.close()


@pytest.fixture(scope="module")
def apache_servers(code: SimpleNamespace) -> Iterator[ApacheServers]:
    servers = ApacheServers(code)
    yield servers
    servers.close()


@pytest.mark.parametrize(("protocol", "transport", "multiplexed"), MATRIX)
def test_our_client_calls_an_apache_server(
    code: SimpleNamespace, apache_servers: ApacheServers, protocol: str, transport: str, multiplexed: bool
) -> None:
    port = apache_servers.port(protocol, transport, multiplexed)
    loop = asyncio.new_event_loop()
    try:
        connection = volo.thrift.connect(f"127.0.0.1:{port}", **connect_options(protocol, transport, multiplexed))
        client = SyncClient(code.ours.ThriftTestClient(connection), loop)
        second = SyncClient(code.ours.SecondServiceClient(connection), loop) if multiplexed else None
        check_thrift_test(client, code.ours, ApplicationError, second)
        loop.run_until_complete(connection.close())
    finally:
        loop.close()
