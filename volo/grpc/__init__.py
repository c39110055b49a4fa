"""volo.grpc: gRPC services on grpcio's asyncio engine (`grpc.aio`), for
pilota-generated handlers and clients, with pilota's protobuf codec.

    class Greeter(GreeterHandler):
        async def SayHello(self, request: HelloRequest) -> HelloReply:
            return HelloReply(message=f"hello, {request.name}")

    volo.grpc.run(Greeter(), address="127.0.0.1:50051")        # until SIGTERM

    async with volo.grpc.connect("127.0.0.1:50051") as channel:
        reply = await GreeterClient(channel).SayHello(HelloRequest(name="you"), timeout=1.0)

Needs grpcio (`pip install 'volo-py[grpc]'`).
"""

from collections.abc import Sequence
from typing import Any

from pilota.runtime.protobuf import Handler
from volo.grpc.client import Channel, StreamCall, UnaryCall, connect
from volo.grpc.health import HealthService, ServingStatus
from volo.grpc.server import Server
from volo.grpc.status import Code, DeadlineExceeded, StatusError, Unavailable
from volo.lifecycle import give_up, serve
from volo.middleware import Layer

__all__ = [
    "Channel",
    "Code",
    "DeadlineExceeded",
    "HealthService",
    "Server",
    "ServingStatus",
    "StatusError",
    "StreamCall",
    "UnaryCall",
    "Unavailable",
    "connect",
    "run",
]


def run(
    handlers: Handler | Sequence[Handler],
    host: str | None = None,
    port: int | None = None,
    *,
    address: str | None = None,
    layers: Sequence[Layer] = (),
    workers: int = 1,
    grace: float = 10.0,
    **options: Any,
) -> None:
    """Serve `handlers` on `host`:`port`, or on `address` ("HOST:PORT"), until
    SIGTERM or SIGINT; then refuse new calls, give those in flight `grace`
    seconds to finish (streams that run on are cancelled then) and return.
    The default address is 127.0.0.1:8080; `options` are `Server`'s.

    With `workers=N`, N processes serve the same port (SO_REUSEPORT), one
    event loop each. An address that cannot be served is logged as one line,
    and the process exits with status 1.
    """
    from volo.address import parse_address

    if address is not None and (host is not None or port is not None):
        raise TypeError("run() takes either address or host and port, not both")
    try:
        if address is not None:
            host, port = parse_address(address)
        host, port = host or "127.0.0.1", 8080 if port is None else port
        server = Server(handlers, host, port, layers=layers, reuse_port=workers > 1, **options)
    except ValueError as exc:
        give_up(exc)
    serve(server, workers=workers, grace=grace)
