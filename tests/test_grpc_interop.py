"""volo.grpc against real grpcio peers, both ways: grpcio's aio client with
grpcio-tools' stubs calls our server, and our generated client calls a grpcio
servicer (and ours, as a control), for all four call kinds: metadata both
ways, deadlines, status codes with messages and details, gzip on the wire."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.grpc_support import (
    CLIENT_KINDS,
    SERVER_KINDS,
    CountingProxy,
    Failure,
    connected,
    echo_client,
    echo_server,
    modules,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PAIRS = [
    pytest.param(client, server, id=f"{client}-client-{server}-server")
    for client, server in itertools.product(CLIENT_KINDS, SERVER_KINDS)
]
KINDS = ("unary", "server_stream", "client_stream", "bidi")


def Ping(**fields: Any) -> Any:
    return modules().ours.Ping(**fields)


async def call(client: Any, kind: str, ping: Any, sent: int = 3, **kw: Any) -> Any:
    """One call of `kind` carrying `ping` (`sent` times when the client streams)."""
    if kind == "unary":
        return await client.unary(ping, **kw)
    if kind == "server_stream":
        ping.count = ping.count or 3
        return await client.server_stream(ping, **kw)
    pings = [ping] * sent
    if kind == "client_stream":
        return await client.client_stream(pings, **kw)
    return await client.bidi(pings, **kw)


@pytest.mark.parametrize(("client_kind", "server_kind"), PAIRS)
async def test_every_call_kind_with_metadata_both_ways(client_kind: str, server_kind: str) -> None:
    async with connected(client_kind, server_kind) as client:
        ping = Ping(text="hi", blob=b"\x00\xff", echo_keys=["x-user", "x-trace"])
        metadata = {"x-user": "ann", "x-trace": "t-1", "x-unasked": "no"}
        unary = await client.unary(ping, metadata=metadata)
        stream = await client.server_stream(Ping(text="s", count=4, echo_keys=["x-user"]),
                                            metadata=metadata)  # fmt: skip
        pings = [Ping(text=t, echo_keys=["x-user"]) for t in ("a", "b", "c")]
        gathered = await client.client_stream(pings, metadata=metadata)
        bidi = await client.bidi(pings, metadata=metadata)

    [pong] = unary.pongs
    assert (pong.text, pong.blob, pong.index) == ("hi", b"\x00\xff", 0)
    # the request's metadata reached the handler, the handler's came back
    assert pong.seen["header-x-user"] == "ann" and pong.seen["header-x-trace"] == "t-1"
    assert "deadline" not in pong.seen  # no timeout given, none sent
    assert unary.metadata["echo-x-user"] == "ann" and unary.metadata["echo-x-trace"] == "t-1"
    assert "echo-x-unasked" not in unary.metadata

    assert [(p.text, p.index) for p in stream.pongs] == [("s", i) for i in range(4)]
    assert stream.metadata["echo-x-user"] == "ann"

    [total] = gathered.pongs
    assert (total.text, total.index, total.seen["header-x-user"]) == ("a,b,c", 3, "ann")
    assert gathered.metadata["echo-x-user"] == "ann"

    assert [(p.text, p.index) for p in bidi.pongs] == [("a", 0), ("b", 1), ("c", 2)]
    assert all(p.seen["header-x-user"] == "ann" for p in bidi.pongs)
    assert bidi.metadata["echo-x-user"] == "ann"


@pytest.mark.parametrize(("client_kind", "server_kind"), PAIRS)
@pytest.mark.parametrize("kind", KINDS)
async def test_deadline_exceeded(client_kind: str, server_kind: str, kind: str) -> None:
    async with connected(client_kind, server_kind) as client:
        with pytest.raises(Failure) as failed:
            await call(client, kind, Ping(sleep_ms=5000), timeout=0.2)
        # the server saw the deadline; the same channel serves the next call
        ok = await call(client, kind, Ping(text="x"), timeout=30)
    assert failed.value.code == 4  # DEADLINE_EXCEEDED
    assert ok.pongs[0].seen["deadline"] == "yes"


@pytest.mark.parametrize(("client_kind", "server_kind"), PAIRS)
@pytest.mark.parametrize("kind", KINDS)
async def test_status_code_message_and_details(client_kind: str, server_kind: str,
                                               kind: str) -> None:  # fmt: skip
    ours = modules().ours
    async with connected(client_kind, server_kind) as client:
        failures = []
        for details in (False, True):
            # A server stream fails after its first reply.
            ping = Ping(fail_code=5, fail_message="no such order: ü", details=details,
                        fail_after=1 if kind == "server_stream" else 0)  # fmt: skip
            # One request: grpcio's client fails a call INTERNAL ("Internal error
            # from Core") when it writes as the server ends it, whoever the server.
            with pytest.raises(Failure) as failed:
                await call(client, kind, ping, sent=1)
            failures.append(failed.value)
        with pytest.raises(Failure) as crashed:
            await call(client, kind, Ping(crash=True, fail_after=1), sent=1)
    plain, detailed = failures
    assert (plain.code, plain.message, plain.details) == (5, "no such order: ü", [])
    assert (detailed.code, detailed.message) == (5, "no such order: ü")
    [(type_url, value)] = detailed.details
    assert type_url == "type.googleapis.com/echotest.v1.Pong"
    assert ours.Pong.from_bytes(value).text == "no such order: ü"
    if kind == "server_stream":
        assert plain.received == detailed.received == 1
    assert (crashed.value.code, crashed.value.message) == (13, "internal error")


@pytest.mark.parametrize(("client_kind", "server_kind"), PAIRS)
async def test_gzip_on_the_wire(client_kind: str, server_kind: str) -> None:
    """Both sides set gzip: a proxy between them sees a fraction of the bytes
    it sees without (the blob compresses well), each way, for every kind."""
    blob = b"volo " * 40_000  # 200 kB
    sizes = {}
    for compression in (None, "gzip"):
        async with (
            echo_server(server_kind, compression=compression) as server,
            CountingProxy(server.port) as proxy,
            echo_client(client_kind, f"127.0.0.1:{proxy.port}", compression) as client,
        ):
            results = [await call(client, kind, Ping(blob=blob, count=1)) for kind in KINDS]
        for result in results:
            assert all(p.blob == blob for p in result.pongs)
        sizes[compression] = (proxy.up, proxy.down)
    # 1 + 1 + 3 + 3 requests and 1 + 1 + 1 + 3 responses of 200 kB each
    assert sizes[None][0] > 8 * len(blob) and sizes[None][1] > 6 * len(blob)
    assert sizes["gzip"][0] < len(blob) and sizes["gzip"][1] < len(blob)
