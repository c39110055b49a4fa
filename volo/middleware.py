"""Middleware: services and the layers that wrap them, alike on client and
server, for Thrift and gRPC.

A `Service` turns a request into a response: for Thrift, a method's args
struct into its result struct (None for oneway calls); for gRPC, a message
into a message. The server's innermost service runs the handler; the
client's sends the call. A `Layer` wraps a service in another: timeouts,
logging, limits, whatever a deployment needs.

    server = volo.thrift.Server(handler, layers=[AccessLog(), ConcurrencyLimit(100), Timeout(2.0)])
    server = volo.grpc.Server(handler, layers=[AccessLog(), ConcurrencyLimit(100), Timeout(2.0)])

The first layer is the outermost: it sees the call first and its result last.

Streaming gRPC calls pass through layers as whole calls: `await
inner.call(ctx, request)` returns when the call is over, so a layer times,
limits and logs a stream as it does a unary call. A request stream arrives as
an AsyncIterator of messages (which the handler reads; a layer leaves it be);
a streamed response goes out as the handler yields it, and the innermost
service returns None.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pilota.runtime.base import Struct
from volo.errors import CallTimeout


class CallHandle(Protocol):
    """A protocol's own handle on a call (see `Context.call`)."""

    def cancelled(self) -> bool: ...


@dataclass(slots=True)
class Context:
    """What a layer, and a handler (`volo.call_context()`), knows about a call."""

    service: str  # Thrift: the service's IDL name; gRPC: its full name, `pkg.Service`
    method: str  # the method's IDL name
    oneway: bool = False
    side: str = "client"  # "client" or "server"
    peer: str = ""  # the other end, host:port
    # Server: the headers that came with the request (TTHeader headers, gRPC
    # metadata); client: those the call sends. gRPC's binary (`-bin`) entries
    # are not here: see `call`.
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None  # client: the call's timeout, seconds (None: none)
    result_class: type[Struct] | None = None  # Thrift client: what the response decodes to
    endpoint: Any = None  # client: the endpoint the call goes to
    protocol: str = "thrift"  # "thrift", "grpc" or "http"
    request_stream: bool = False  # gRPC: the client streams its requests
    response_stream: bool = False  # gRPC: the server streams its responses
    # When the call must be over, on the event loop's clock (None: no limit).
    # Server: the peer's deadline (gRPC); Timeout layers narrow it on both
    # sides. Calls made while handling a request wait no longer than it.
    deadline: float | None = None
    # What the other side sends back with its reply: a gRPC server sends these
    # as trailing metadata; a gRPC client finds the server's initial and
    # trailing metadata here.
    reply_headers: dict[str, str] = field(default_factory=dict)
    # The protocol's own handle on the call: on a gRPC server one that passes
    # on the attributes of its grpc.aio.ServicerContext (`.context`); on a
    # Thrift server its connection.
    call: CallHandle | None = None

    def time_remaining(self) -> float | None:
        """Seconds left before `deadline` (0 once past it); None without one."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    def cancelled(self) -> bool:
        """Whether the call is over for the other side: cancelled by the client
        (gRPC), its deadline past, or its connection gone."""
        return self.call is not None and self.call.cancelled()


# What passes through services: a Thrift args struct, a protobuf message, or
# for a gRPC call whose client streams, an AsyncIterator of messages.
Request = Any
# A Thrift result struct (None for a oneway call), a protobuf message, or None
# once a gRPC server has streamed its responses.
Response = Any


class Service(Protocol):
    async def call(self, ctx: Context, request: Request) -> Response: ...


class Layer(Protocol):
    def layer(self, inner: Service) -> Service: ...


def stack(service: Service, layers: Sequence[Layer]) -> Service:
    """`service` wrapped in `layers`, the first outermost."""
    for layer in reversed(layers):
        service = layer.layer(service)
    return service


class _Wrapped:
    def __init__(self, inner: Service) -> None:
        self.inner = inner


class Timeout:
    """Fails a call that takes longer than `seconds` with `volo.CallTimeout`
    (a TimeoutError) naming the call and the seconds (a gRPC server answers it
    as DEADLINE_EXCEEDED). It narrows the call's `deadline` meanwhile: a gRPC
    client sends it to the server, and calls made by a handler inherit it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def layer(self, inner: Service) -> Service:
        seconds = self.seconds

        class _Timeout(_Wrapped):
            async def call(self, ctx: Context, request: Request) -> Response:
                deadline = asyncio.get_running_loop().time() + seconds
                scope = asyncio.timeout_at(deadline)
                outer = ctx.deadline
                if outer is None or deadline < outer:
                    ctx.deadline = deadline
                try:
                    async with scope:
                        return await self.inner.call(ctx, request)
                except TimeoutError:
                    if not scope.expired():
                        raise  # not this layer's: an inner one's, or the handler's own
                    raise CallTimeout.after(f"{ctx.service}.{ctx.method}", seconds) from None
                finally:
                    ctx.deadline = outer

        return _Timeout(inner)


class ConcurrencyLimit:
    """At most `limit` calls run at once through this layer (a stream counts
    until it ends); the rest wait."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def layer(self, inner: Service) -> Service:
        semaphore = asyncio.Semaphore(self.limit)

        class _Limit(_Wrapped):
            async def call(self, ctx: Context, request: Request) -> Response:
                async with semaphore:
                    return await self.inner.call(ctx, request)

        return _Limit(inner)


class AccessLog:
    """Logs one line per call: side, service.method, peer, outcome, milliseconds."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.logger = logger or logging.getLogger("volo.access")
        self.level = level

    def layer(self, inner: Service) -> Service:
        logger, level = self.logger, self.level

        class _AccessLog(_Wrapped):
            async def call(self, ctx: Context, request: Request) -> Response:
                start = time.perf_counter()
                outcome = "ok"
                try:
                    return await self.inner.call(ctx, request)
                except BaseException as exc:
                    outcome = type(exc).__name__
                    raise
                finally:
                    elapsed = (time.perf_counter() - start) * 1000
                    logger.log(level, "%s %s.%s %s %s %.2fms", ctx.side, ctx.service, ctx.method,
                               ctx.peer, outcome, elapsed)  # fmt: skip

        return _AccessLog(inner)
