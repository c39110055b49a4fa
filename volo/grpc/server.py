"""The gRPC server: grpcio's asyncio server (`grpc.aio`) serving generated
handlers through generic method handlers (no protoc stubs), with pilota's
protobuf codec as the (de)serializer.

Every call runs through the server's layers (`volo.middleware`) as one
`Service.call`, streams included, with a `Context` the handler reads through
`volo.call_context()`: peer, metadata (`headers`), deadline,
`time_remaining()`, `cancelled()`. A handler fails a call by raising
`StatusError`; `Unimplemented` (what generated bases raise) is UNIMPLEMENTED,
a `volo.CallTimeout` (a Timeout layer's) DEADLINE_EXCEEDED, and any other
exception INTERNAL with the message "internal error" (the traceback is
logged, never sent). A request message that cannot be decoded is INTERNAL
too (as gRPC's own servers answer it), saying why, with nothing logged (a
peer could fill the log). A client that cancels, or whose deadline passes,
cancels the handler's task. Unknown methods are UNIMPLEMENTED (grpcio's answer).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import grpc
import grpc.aio

from pilota.runtime.protobuf import DecodeError, Handler, Method, Unimplemented
from pilota.runtime.protobuf.codec import IMPLEMENTATION
from volo import decoding
from volo.address import format_address
from volo.calls import enter_call
from volo.errors import CallTimeout, ServerStartError
from volo.grpc._common import (
    DEFAULT_MAX_MESSAGE,
    Undecodable,
    as_metadata,
    checked,
    compression_of,
    grpc_code,
    headers_of,
    message_options,
    receive_metainfo,
    serialize,
)
from volo.grpc.status import Code, StatusError, shown
from volo.lifecycle import reserve, start_error
from volo.middleware import Context, Layer, Request, Response, Service, stack

log = logging.getLogger("volo.server")


class _Route(NamedTuple):
    """Where a call goes: a method of one of the server's handlers."""

    service: str  # the full name, `pkg.Service`
    method: Method[Any, Any]
    function: Callable[[Any], Any]  # the handler's bound method
    pipeline: Service


class Server:
    """Serves generated handlers (instances of `<Service>Handler` subclasses)
    on one port; `health` and `reflection` add the standard health service
    (every service SERVING while the server runs; `server.health.set(...)`
    changes it) and server reflection (v1 and v1alpha), which do not pass
    through `layers`.

    `compression`: "gzip" or "deflate" for the responses (requests come as
    the client sends them); `max_message`: the largest message received or
    sent, in bytes (RESOURCE_EXHAUSTED past it); `max_concurrent_streams`:
    per connection (HTTP/2's setting; more wait at the client);
    `max_loop_decode`: request messages larger than this many bytes are
    decoded on volo's decoding thread, the event loop going on with other
    calls meanwhile (see volo.decoding; None: all on the loop); `options`:
    more grpcio channel arguments.
    """

    codec = IMPLEMENTATION  # named in the start-up line of `run`

    def __init__(
        self,
        handlers: Handler | Sequence[Handler],
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        layers: Sequence[Layer] = (),
        compression: str | None = None,
        max_message: int = DEFAULT_MAX_MESSAGE,
        max_concurrent_streams: int | None = None,
        health: bool = True,
        reflection: bool = True,
        reuse_port: bool = False,
        max_loop_decode: int | None = decoding.MAX_LOOP_DECODE,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        from volo.grpc.health import HealthService
        from volo.grpc.reflection import reflection_handlers

        own = [handlers] if isinstance(handlers, Handler) else list(handlers)
        if not own:
            raise ValueError("a server needs at least one handler")
        for handler in own:
            if type(handler).__pb_service__ is None:
                raise ValueError(
                    f"{type(handler).__name__} is not a generated gRPC handler: subclass one"
                )
        self.services = [type(h).__pb_service__.__pb_name__ for h in own]
        for name in self.services:
            if self.services.count(name) > 1:
                raise ValueError(f"two handlers for service {name!r}: give each service one")
        self.max_loop_decode = decoding.checked(max_loop_decode)
        self.host, self.port = host, port
        self.layers = list(layers)
        self.compression = compression
        self._compression = compression_of(compression)
        self.options: list[tuple[str, Any]] = [
            ("grpc.so_reuseport", 1 if reuse_port else 0),
            *message_options(max_message),
            *([("grpc.max_concurrent_streams", max_concurrent_streams)]
              if max_concurrent_streams is not None else []),
            *options,
        ]  # fmt: skip
        self.health = HealthService(self.services) if health else None
        batteries: list[Handler] = []
        if self.health is not None:
            batteries.append(self.health)
        if reflection:
            batteries += reflection_handlers([type(h) for h in own])
        innermost = _HandlerService()
        self.pipeline = stack(innermost, layers)
        self.routes: dict[str, _Route] = {}
        for handler in own:
            self._add(handler, self.pipeline, innermost)
        for handler in batteries:
            self._add(handler, innermost, innermost)
        self._server: grpc.aio.Server | None = None
        self._stopped: asyncio.Event | None = None
        self.calls = 0  # in flight

    def _add(self, handler: Handler, pipeline: Service, innermost: _HandlerService) -> None:
        service = type(handler).__pb_service__
        for method in service.__pb_methods__:
            function = getattr(handler, _attribute(service, method))
            route = _Route(service.__pb_name__, method, function, pipeline)
            self.routes[method.path] = route
            innermost.routes[service.__pb_name__, method.name] = route

    @property
    def in_flight(self) -> int:
        return self.calls

    def _generic_handlers(self) -> list[grpc.GenericRpcHandler]:
        by_service: dict[str, dict[str, grpc.RpcMethodHandler[Any, Any]]] = {}
        for route in self.routes.values():
            by_service.setdefault(route.service, {})[route.method.name] = self._handler(route)
        return [grpc.method_handlers_generic_handler(name, methods)
                for name, methods in by_service.items()]  # fmt: skip

    async def _decode(self, cls: Any, data: bytes) -> Any:
        """A request message, decoded on the event loop or, over
        `max_loop_decode` bytes, on volo's decoding thread; StatusError
        (INTERNAL) if it cannot be."""
        try:
            return await decoding.decoded(len(data), self.max_loop_decode, cls.from_bytes, data)
        except DecodeError as exc:
            raise Undecodable(exc).status("request") from None

    def _handler(self, route: _Route) -> grpc.RpcMethodHandler[Any, Any]:
        method = route.method
        invoke = self._invoke
        decode = functools.partial(self._decode, method.request)
        behavior: Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]
        if method.client_streaming:

            async def behavior(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                return await invoke(route, _decoded(requests, decode), context)

        else:

            async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                try:
                    message = await decode(request)
                except StatusError as exc:
                    await context.abort(grpc_code(exc.code), exc.message)
                return await invoke(route, message, context)

        kinds = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }
        make: Any = kinds[method.client_streaming, method.server_streaming]
        # Requests come as bytes (no deserializer): decoded in `behavior`, where a
        # message that cannot be gets its status, not grpcio's UNKNOWN and a traceback.
        return make(behavior, request_deserializer=None, response_serializer=serialize)  # type: ignore[no-any-return]

    async def _invoke(
        self, route: _Route, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        """One call: its Context, the layers and the handler, then its status."""
        metadata = context.invocation_metadata()
        headers = headers_of(metadata)
        receive_metainfo(headers)  # this task's own context: nothing leaks between calls
        remaining = context.time_remaining()
        loop = asyncio.get_running_loop()
        method = route.method
        ctx = Context(
            route.service, method.name, False, "server", _peer(context.peer()), headers,
            protocol="grpc", request_stream=method.client_streaming,
            response_stream=method.server_streaming,
            deadline=None if remaining is None else loop.time() + remaining,
            call=_ServerCall(context, asyncio.current_task()),
        )  # fmt: skip
        enter_call(ctx)
        self.calls += 1
        try:
            response = await route.pipeline.call(ctx, request)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise  # the call is over already; an abort is the handler's own answer
        except Exception as exc:
            code, message = _status(exc, method)
            metadata_out: list[tuple[str, str | bytes]] = list(_trailers(ctx).items())
            if isinstance(exc, StatusError) and (details := exc.details_bin()) is not None:
                metadata_out.append(("grpc-status-details-bin", details))
            await context.abort(grpc_code(code), message, tuple(metadata_out))
        finally:
            self.calls -= 1
        if ctx.reply_headers:
            context.set_trailing_metadata(as_metadata(_trailers(ctx)))
        return response

    async def start(self) -> None:
        """Listen; raises ServerStartError (one sentence) if the address cannot be had."""
        # Tried first ourselves: grpcio would log its own lines about it, on stderr.
        error = _bind_error(self.host, self.port)
        if error is not None:
            raise error
        server = grpc.aio.server(options=self.options, compression=self._compression)
        server.add_generic_rpc_handlers(self._generic_handlers())
        address = format_address(self.host, self.port)
        try:
            port = server.add_insecure_port(address)
        except RuntimeError:
            port = 0
        if not port:
            raise _bind_error(self.host, self.port) or start_error(
                self.host, self.port, OSError(f"grpcio cannot listen on {address}")
            )
        self.port = port
        await server.start()
        self._server = server
        self._stopped = asyncio.Event()
        if self.health is not None:
            self.health.serving()

    async def serve_forever(self) -> None:
        if self._stopped is None:
            await self.start()
        assert self._stopped is not None
        await self._stopped.wait()

    async def close(self, grace: float = 10.0) -> None:
        """Refuse new calls; let those in flight finish (up to `grace` seconds),
        then cancel what is left (streams that run on), and close. Health
        checks say NOT_SERVING from the start of it."""
        if self.health is not None:
            self.health.shutting_down()
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        if self._stopped is not None:
            self._stopped.set()

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def _decoded(
    requests: AsyncIterator[bytes], decode: Callable[[bytes], Awaitable[Any]]
) -> AsyncIterator[Any]:
    """A request stream's messages, decoded as they come."""
    async for data in requests:
        yield await decode(data)


class _ServerCall:
    """A call's grpc.aio.ServicerContext (whose attributes it passes on), with
    a `cancelled()` that is true as soon as grpcio cancels the call's task:
    when the client cancels or its deadline passes (or a shutdown's grace
    runs out), before the ServicerContext says so."""

    def __init__(
        self, context: grpc.aio.ServicerContext[Any, Any], task: asyncio.Task[Any] | None
    ) -> None:
        self.context, self.task = context, task

    def cancelled(self) -> bool:
        task = self.task
        return self.context.cancelled() or (task is not None and task.cancelling() > 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.context, name)


class _HandlerService:
    """The innermost service: runs the handler's method; a streamed response
    is written as the handler yields it."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], _Route] = {}

    async def call(self, ctx: Context, request: Request) -> Response:
        route = self.routes[ctx.service, ctx.method]
        expected = route.method.response
        if not ctx.response_stream:
            response = await route.function(request)
            if not isinstance(response, expected):
                raise _wrong_response(route, response)
            return response
        stream: AsyncIterator[Any] = route.function(request)
        call: Any = ctx.call
        write: Callable[[Any], Awaitable[None]] = call.write
        try:
            async for response in stream:
                if not isinstance(response, expected):
                    raise _wrong_response(route, response)
                await write(response)
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:  # its `finally` blocks run now, not when collected
                await close()
        return None


def _wrong_response(route: _Route, response: object) -> TypeError:
    """A handler's answer of the wrong type: the server's bug, logged, INTERNAL to the peer."""
    return TypeError(
        f"{route.method.path} answered {type(response).__name__}, "
        f"not {route.method.response.__name__}"
    )


def _attribute(service: Any, method: Method[Any, Any]) -> str:
    """The name a handler gives `method` (mangled if need be): its attribute
    in the service's description."""
    name: str
    for name, value in vars(service).items():
        if value is method:
            return name
    raise AssertionError(f"{method.path} is not an attribute of {service.__pb_name__}")


def _status(exc: Exception, method: Method[Any, Any]) -> tuple[Code, str]:
    """The status a call that raised `exc` ends with: code and message."""
    if isinstance(exc, StatusError):
        code = exc.code if exc.code != Code.OK else Code.UNKNOWN
        return code, shown(exc.message)
    if isinstance(exc, Unimplemented):
        return Code.UNIMPLEMENTED, f"method {method.path} is not implemented"
    if isinstance(exc, CallTimeout):
        return Code.DEADLINE_EXCEEDED, shown(str(exc))
    log.exception("call %s failed", method.path)
    # The peer learns only that it failed: no traceback, no message of ours.
    return Code.INTERNAL, "internal error"


def _trailers(ctx: Context) -> dict[str, str]:
    """The handler's reply headers, to send as trailing metadata: none if gRPC
    cannot carry them (the server's log says why)."""
    try:
        return checked(ctx.reply_headers)
    except ValueError as exc:
        log.error("call %s/%s: reply headers not sent: %s", ctx.service, ctx.method, exc)
        return {}


def _peer(peer: str) -> str:
    """grpcio's `ipv4:127.0.0.1:5000` as host:port."""
    kind, colon, address = peer.partition(":")
    return address if colon and kind in ("ipv4", "ipv6") else peer


def _bind_error(host: str, port: int) -> ServerStartError | None:
    """Why host:port cannot be listened on, found by binding it ourselves
    (beside other workers' sockets); None if it can."""
    try:
        reserve(host, port).close()
    except ServerStartError as exc:
        return exc
    return None
