"""A user's gRPC code as they write it: a handler of every call kind, a server,
and a client on a volo.grpc channel, type-checked against the generated
module and volo.grpc under `mypy --strict` and pyright's strict mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.grpc_support import ECHO_PROTO
from tests.proto_support import PROTO_IDL, generate_package
from tests.test_proto_generated import mypy, pyright

USER_CODE = '''\
"""A user's service and client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import volo
import volo.grpc
from volo.middleware import AccessLog, ConcurrencyLimit, Timeout

from .gen.echotest.v1.echo import EchoClient, EchoHandler, Ping, Pong


class Echo(EchoHandler):
    async def Unary(self, request: Ping) -> Pong:
        ctx = volo.call_context()
        left: float | None = ctx.time_remaining()
        if request.fail_code:
            raise volo.grpc.StatusError(volo.grpc.Code.NOT_FOUND, "no such thing", [Pong(text="why")])
        ctx.reply_headers["x-left"] = str(left)
        return Pong(text=request.text, seen=dict(ctx.headers))

    async def ServerStream(self, request: Ping) -> AsyncIterator[Pong]:
        for i in range(request.count):
            yield Pong(index=i)

    async def ClientStream(self, requests: AsyncIterator[Ping]) -> Pong:
        return Pong(text=",".join([ping.text async for ping in requests]))

    async def Bidi(self, requests: AsyncIterator[Ping]) -> AsyncIterator[Pong]:
        async for ping in requests:
            yield Pong(text=ping.text)


def server() -> volo.grpc.Server:
    return volo.grpc.Server(
        Echo(), "127.0.0.1", 0, layers=[AccessLog(), ConcurrencyLimit(10), Timeout(1.0)]
    )


async def pings() -> AsyncIterator[Ping]:
    yield Ping(text="a")


async def calls(address: str) -> list[str]:
    async with volo.grpc.connect(address, timeout=2.0, compression="gzip") as channel:
        client = EchoClient(channel)
        call = client.Unary(Ping(text="hi"), timeout=1.0, metadata={"x-user": "ann"})
        reply: Pong = await call
        texts = [reply.text, *call.metadata]
        texts += [pong.text async for pong in client.ServerStream(Ping(count=2))]
        texts.append((await client.ClientStream([Ping(text="a"), Ping(text="b")])).text)
        stream = client.Bidi(pings())
        texts += [pong.text async for pong in stream]
        stream.cancel()
        try:
            await client.Unary(Ping(fail_code=5))
        except volo.grpc.StatusError as exc:
            code: volo.grpc.Code = exc.code
            texts += [exc.message, code.name, *(d.type_url for d in exc.details)]
        return texts
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grpc_user")
    package = root / "user"
    generate_package([ECHO_PROTO], [PROTO_IDL], package, "gen")
    (package / "__init__.py").write_text("")
    (package / "service.py").write_text(USER_CODE)
    return root


def test_user_code_passes_mypy_strict(project: Path) -> None:
    mypy(project, ["user"])


def test_user_code_passes_pyright_strict(project: Path) -> None:
    pyright(project, ["user"])
