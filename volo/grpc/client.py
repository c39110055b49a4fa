"""The gRPC client: grpcio's asyncio channels (`grpc.aio`), one per address,
with pilota's protobuf codec as the (de)serializer; what generated clients
call through (`volo.grpc.connect(...)`).

Each call runs through the client's layers (`volo.middleware`) as one
`Service.call`, a stream for as long as it lasts. Its timeout is the call's
own, else the innermost `volo.timeout` block's, else the channel's; never
past the deadline of the call being handled, so deadlines propagate; it goes
to the server as the call's deadline. Metainfo and the call's `metadata` go
as metadata; the server's metadata comes back as the call's `metadata` (and
the Context's `reply_headers`). A failed call raises `StatusError`; a
response that does not decode fails it INTERNAL, with the decoding error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Generator, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import grpc
import grpc.aio

from pilota.runtime.protobuf import Message, Method, Requests
from volo.address import format_address
from volo.balance import current_hash_key
from volo.calls import call_timeout
from volo.discovery import Discover, Instance, InstancePool, from_target
from volo.errors import ConnectFailed
from volo.grpc._common import (
    DEFAULT_MAX_MESSAGE,
    Undecodable,
    as_metadata,
    compression_of,
    decoder,
    headers_of,
    message_options,
    outgoing,
    serialize,
)
from volo.grpc.status import DETAILS_KEY, Code, StatusError, Unavailable, details_from, shown
from volo.middleware import Context, Layer, Request, Response, stack
from volo.resilience import BackupRequest, CircuitBreaker, Outcome, Resilience, RetryPolicy

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


class Endpoint:
    """One server address, with its weight and its channel (opened on first use)."""

    def __init__(self, host: str, port: int, weight: int = 1) -> None:
        if weight < 1:
            raise ValueError(f"the weight of {host}:{port} must be at least 1")
        self.host, self.port, self.weight = host, port, weight
        self.channel: grpc.aio.Channel | None = None
        # path -> the channel's multi-callable for it
        self.callables: dict[str, Any] = {}
        # The channel was READY when last seen, and has not changed since (a watch
        # clears it): unary calls go straight out, without asking grpcio its state.
        self.ready = False
        self.watch: asyncio.Task[None] | None = None

    def __str__(self) -> str:
        return format_address(self.host, self.port)

    async def close(self, grace: float | None = None) -> None:
        """Close the channel (a later call opens another)."""
        channel = self.channel
        if channel is None:
            return
        if self.watch is not None:
            self.watch.cancel()
            await asyncio.wait([self.watch])  # over when this returns: no task left behind
        await channel.close(grace)
        self.channel, self.callables, self.ready, self.watch = None, {}, False, None


class Channel:
    """Sends calls to the instances a Discover finds (see `connect`)."""

    def __init__(
        self,
        discover: Discover,
        *,
        timeout: float | None = None,
        compression: str | None = None,
        max_message: int = DEFAULT_MAX_MESSAGE,
        balance: str = "round_robin",
        layers: Sequence[Layer] = (),
        options: Sequence[tuple[str, Any]] = (),
        connect_timeout: float = 3.0,
        retries: int = 1,
        retry: RetryPolicy | None = None,
        backup: BackupRequest | None = None,
        breaker: CircuitBreaker | None = None,
        idempotent: Iterable[str] = (),
        resolve_timeout: float = 10.0,
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.compression = compression_of(compression)
        self.options = [*message_options(max_message), *options]
        self.pool = InstancePool(discover, _endpoint, balance, _retire, resolve_timeout)
        rules = Resilience.of(retries, retry, backup, breaker, idempotent)
        self.resilience = rules.layer(self.pool, outcome)  # its breakers, per instance
        self.pipeline = stack(_SendService(self), [*layers, self.resilience])

    @property
    def endpoints(self) -> list[Endpoint]:
        """The instances known now."""
        return self.pool.endpoints

    async def start(self) -> None:
        """Find the instances (once; the first call does it too)."""
        await self.pool.start()

    def _callable(self, endpoint: Endpoint, method: Method[Any, Any]) -> Any:
        """The grpcio multi-callable for `method` on `endpoint`'s channel."""
        found = endpoint.callables.get(method.path)
        if found is not None:
            return found
        channel = endpoint.channel
        if channel is None:
            channel = endpoint.channel = grpc.aio.insecure_channel(
                str(endpoint), options=self.options, compression=self.compression
            )
        kind = ("stream" if method.client_streaming else "unary") + "_" + (
            "stream" if method.server_streaming else "unary"
        )
        made = getattr(channel, kind)(
            method.path,
            request_serializer=serialize,
            response_deserializer=decoder(method.response),
        )
        endpoint.callables[method.path] = made
        return made

    def _context(
        self, method: Method[Any, Any], timeout: float | None,
        metadata: Mapping[str, str] | None, call: Any,
    ) -> Context:  # fmt: skip
        endpoint = self.pool.pick(current_hash_key())
        service, _, name = method.path[1:].rpartition("/")
        return Context(
            service, name, False, "client", str(endpoint), outgoing(metadata),
            call_timeout(timeout, self.timeout), None, endpoint, protocol="grpc",
            request_stream=method.client_streaming, response_stream=method.server_streaming,
            call=call,
        )  # fmt: skip

    # ---- what generated clients call (pilota.runtime.protobuf.Caller) ----------------

    def unary_unary(
        self, method: Method[Req, Resp], request: Req, timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> UnaryCall[Resp]:  # fmt: skip
        return UnaryCall(self, method, request, timeout, metadata)

    def stream_unary(
        self, method: Method[Req, Resp], requests: Requests[Req], timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> UnaryCall[Resp]:  # fmt: skip
        return UnaryCall(self, method, requests, timeout, metadata)

    def unary_stream(
        self, method: Method[Req, Resp], request: Req, timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> StreamCall[Resp]:  # fmt: skip
        return StreamCall(self, method, request, timeout, metadata)

    def stream_stream(
        self, method: Method[Req, Resp], requests: Requests[Req], timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> StreamCall[Resp]:  # fmt: skip
        return StreamCall(self, method, requests, timeout, metadata)

    async def close(self) -> None:
        await self.pool.close()
        for endpoint in self.endpoints:
            await endpoint.close()

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class UnaryCall(Generic[Resp]):
    """A call with one response: `await` it; then `metadata` holds the server's."""

    def __init__(
        self, channel: Channel, method: Method[Any, Resp], request: Any, timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> None:  # fmt: skip
        self._channel, self.method, self._request = channel, method, request
        self._timeout, self._metadata = timeout, metadata
        self.metadata: dict[str, str] = {}

    def __await__(self) -> Generator[Any, None, Resp]:
        return self._run().__await__()

    async def _run(self) -> Resp:
        channel = self._channel
        if not channel.pool.ready:
            await channel.pool.start()
        ctx = channel._context(self.method, self._timeout, self._metadata, self)
        try:
            response: Resp = await channel.pipeline.call(ctx, self._request)
        finally:
            self.metadata = ctx.reply_headers
        return response

    def cancelled(self) -> bool:
        return False  # cancelling it is cancelling the task that awaits it


class _Exchange:
    """A streamed response between the client's innermost service, which
    makes the grpcio call and stays in it, and the caller who reads it."""

    def __init__(self, method: Method[Any, Any]) -> None:
        self.method = method
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[Any] = loop.create_future()  # the grpcio call
        self.done: asyncio.Future[BaseException | None] = loop.create_future()  # read to its end

    def finish(self, error: BaseException | None) -> None:
        if not self.done.done():
            self.done.set_result(error)

    def cancelled(self) -> bool:
        opened = self.opened
        return opened.done() and not opened.cancelled() and bool(opened.result().cancelled())


class StreamCall(Generic[Resp]):
    """A call whose server streams: `async for response in call`; once it is
    over `metadata` holds the server's. `cancel()` ends it early (breaking out
    of the loop and dropping the call does too)."""

    def __init__(
        self, channel: Channel, method: Method[Any, Resp], request: Any, timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> None:  # fmt: skip
        self._channel, self._method, self._request = channel, method, request
        self._timeout, self._metadata = timeout, metadata
        self._exchange: _Exchange | None = None
        self._call: Any = None  # the grpcio call
        self._task: asyncio.Task[Response] | None = None  # the layers, the call inside
        self._ctx: Context | None = None
        self._over = False
        self.metadata: dict[str, str] = {}

    def __aiter__(self) -> StreamCall[Resp]:
        return self

    async def __anext__(self) -> Resp:
        if self._over:
            raise StopAsyncIteration
        if self._call is None:
            await self._open()
        try:
            message = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            await self._finish(exc)
            raise AssertionError("unreachable: _finish raises") from None
        except asyncio.CancelledError:
            current = asyncio.current_task()
            task = self._task
            if (current is not None and current.cancelling()) or task is None:
                raise  # our own caller is being cancelled
            await self._finish(None)  # the call was cancelled inside: say why
            raise
        if message is grpc.aio.EOF:
            await self._finish(None)
            raise StopAsyncIteration
        if isinstance(message, Undecodable):
            self._call.cancel()  # the rest of the stream is not read
            await self._finish(message.status("response"))
            raise AssertionError("unreachable: _finish raises")
        return message  # type: ignore[no-any-return]

    async def _open(self) -> None:
        if not self._channel.pool.ready:
            await self._channel.pool.start()
        exchange = self._exchange = _Exchange(self._method)
        ctx = self._ctx = self._channel._context(
            self._method, self._timeout, self._metadata, exchange
        )
        task = self._task = asyncio.get_running_loop().create_task(
            self._channel.pipeline.call(ctx, self._request)
        )
        await asyncio.wait([exchange.opened, task], return_when=asyncio.FIRST_COMPLETED)
        if not exchange.opened.done():  # a layer failed it, or it could not start
            self._over = True
            await task
            raise StatusError(Code.INTERNAL, "the call ended before it started")
        self._call = exchange.opened.result()

    async def _finish(self, error: BaseException | None) -> None:
        """The stream is read to its end (or failed): let the layers see how, and
        raise what they raise."""
        self._over = True
        assert self._exchange is not None and self._task is not None and self._ctx is not None
        self._exchange.finish(error)
        try:
            await self._task
        finally:
            self.metadata = self._ctx.reply_headers

    def cancel(self) -> None:
        self._over = True
        if self._call is not None:
            self._call.cancel()
        if self._exchange is not None:
            self._exchange.finish(asyncio.CancelledError())
        if self._task is not None:
            self._task.cancel()

    def cancelled(self) -> bool:
        return self._call is not None and bool(self._call.cancelled())

    def __del__(self) -> None:
        if not self._over and self._task is not None and not self._task.done():
            self.cancel()  # dropped mid-stream: end the call, and the layers' task


class _SendService:
    """The innermost service on the client: makes the grpcio call."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def call(self, ctx: Context, request: Request) -> Response:
        endpoint: Endpoint = ctx.endpoint
        method = _method_of(ctx)
        timeout = _wire_timeout(ctx)
        made = self.channel._callable(endpoint, method)
        metadata = as_metadata(ctx.headers)
        requests = _Requests(request) if ctx.request_stream else None
        if requests is not None:
            request = requests.messages()
        if not ctx.response_stream:
            if not endpoint.ready:
                await _connected(endpoint, self.channel.connect_timeout)
            call = made(request, timeout=timeout, metadata=metadata)
            try:
                response = await call
            except grpc.aio.AioRpcError as exc:
                raise error_of(exc, ctx) from None
            except asyncio.CancelledError:
                if requests is not None and requests.error is not None:
                    raise requests.error from None  # grpcio cancelled the call for it
                raise
            finally:
                ctx.reply_headers = await _reply_metadata(call)
            if isinstance(response, Undecodable):
                raise response.status("response")
            return response
        exchange: _Exchange = ctx.call  # type: ignore[assignment]
        call = made(request, timeout=timeout, metadata=metadata)
        exchange.opened.set_result(call)
        try:
            error = await exchange.done
        except asyncio.CancelledError:
            call.cancel()
            raise
        ctx.reply_headers = await _reply_metadata(call)
        if isinstance(error, grpc.aio.AioRpcError):
            raise error_of(error, ctx) from None
        if requests is not None and requests.error is not None:
            raise requests.error from None
        if error is not None:
            raise error
        return None


async def _connected(endpoint: Endpoint, timeout: float) -> None:
    """Wait for `endpoint`'s channel to connect: ConnectFailed (the call
    unsent, free to go elsewhere) if it cannot. Once it is READY calls skip
    this until the channel's state changes (a dropped connection, an idle
    timeout), which a watch reports."""
    channel = endpoint.channel
    assert channel is not None  # made with the call's multi-callable
    ready, failed = grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.TRANSIENT_FAILURE
    state = channel.get_state(try_to_connect=True)
    if state is not ready:
        try:
            async with asyncio.timeout(timeout):
                while state is not ready and state is not failed:
                    await channel.wait_for_state_change(state)
                    state = channel.get_state(try_to_connect=True)
        except TimeoutError:
            why = f"no answer within {timeout:g} s"
            raise NotConnected(Code.UNAVAILABLE, f"cannot connect to {endpoint}: {why}") from None
        if state is failed:
            why = "it cannot be reached"
            raise NotConnected(Code.UNAVAILABLE, f"cannot connect to {endpoint}: {why}")
    if endpoint.channel is channel:
        endpoint.ready = True
        if endpoint.watch is None or endpoint.watch.done():
            watch = _leaves_ready(endpoint, channel)
            endpoint.watch = asyncio.get_running_loop().create_task(watch)


async def _leaves_ready(endpoint: Endpoint, channel: grpc.aio.Channel) -> None:
    """Wait for `channel` to leave READY (returns at once if it already has),
    then make the next call check it again."""
    try:
        await channel.wait_for_state_change(grpc.ChannelConnectivity.READY)
    except grpc.aio.UsageError:
        pass  # closed before the watch began
    finally:
        if endpoint.channel is channel:
            endpoint.ready = False


class NotConnected(Unavailable, ConnectFailed):
    """UNAVAILABLE before the call was sent: connecting failed (so the call
    may go to another instance)."""


def _endpoint(instance: Instance) -> Endpoint:
    return Endpoint(instance.host, instance.port, instance.weight)


async def _retire(endpoint: Endpoint) -> None:
    """An instance is gone: close its channel once its calls are over."""
    await endpoint.close(grace=30)


_FAILURES = {Code.UNAVAILABLE, Code.INTERNAL, Code.UNKNOWN, Code.DEADLINE_EXCEEDED}


def outcome(exc: BaseException) -> Outcome:
    """What a failed gRPC call means for the instance that had it."""
    if isinstance(exc, ConnectFailed):
        return Outcome.UNSENT
    if isinstance(exc, StatusError) and exc.code in _FAILURES:
        return Outcome.FAILED  # no answer in time, or the server (or its handler) failed
    return Outcome.ANSWERED


class _Requests:
    """The messages a client streams, from the caller's iterable: an error it
    raises is kept, for the call to raise (grpcio would only cancel the call)."""

    def __init__(self, source: Requests[Any]) -> None:
        self.source = source
        self.error: Exception | None = None

    async def messages(self) -> AsyncIterator[Any]:
        source = self.source
        try:
            if isinstance(source, AsyncIterable):
                async for message in source:
                    yield message
            else:
                for message in source:
                    yield message
        except Exception as exc:
            self.error = exc
            raise


def _method_of(ctx: Context) -> Method[Any, Any]:
    call: UnaryCall[Any] | _Exchange = ctx.call  # type: ignore[assignment]
    return call.method


def _wire_timeout(ctx: Context) -> float | None:
    """The deadline the call goes with, in seconds from now: its timeout,
    narrowed by its Context's deadline (a Timeout layer's)."""
    timeout = ctx.timeout
    if ctx.deadline is not None:
        left = ctx.deadline - asyncio.get_running_loop().time()
        timeout = left if timeout is None else min(timeout, left)
    if timeout is not None and timeout <= 0:
        raise StatusError(
            Code.DEADLINE_EXCEEDED, f"{ctx.service}/{ctx.method}: no time left to make the call"
        )
    return timeout


async def _reply_metadata(call: Any) -> dict[str, str]:
    """The server's initial and trailing metadata, as headers."""
    try:
        initial = await call.initial_metadata()
        trailing = await call.trailing_metadata()
    except (grpc.aio.AioRpcError, asyncio.CancelledError):
        return {}
    headers = headers_of(initial)
    headers.update(headers_of(trailing))
    return headers


def error_of(exc: grpc.aio.AioRpcError, ctx: Context) -> StatusError:
    """grpcio's error as ours: code, message, details and trailing metadata."""
    trailing = exc.trailing_metadata() or ()
    details = next((v for k, v in trailing if k == DETAILS_KEY and isinstance(v, bytes)), None)
    code = Code(exc.code().value[0])
    message = exc.details() or ""
    if code == Code.DEADLINE_EXCEEDED and ctx.timeout is not None:
        message = f"{ctx.service}/{ctx.method}: no reply within {ctx.timeout:g} s"
    return StatusError(code, shown(message), details_from(details), headers_of(trailing))


def connect(
    address: str | Sequence[str] | Discover,
    *,
    weights: Sequence[int] | None = None,
    **options: Any,
) -> Channel:
    """A channel to one `host:port`, or several, or the instances of a service
    found by name (`dns://NAME:PORT`, `etcd://HOST:PORT/SERVICE`, or any
    `volo.discovery.Discover`); pass it to a generated client. Use it as
    `async with volo.grpc.connect(...) as channel:` to close it at the end,
    or call `close()`.

    Options: timeout (seconds for each call, None: none, the default: streams
    may run long), compression ("gzip", "deflate"), max_message (the largest
    message sent or received, bytes), balance ("round_robin",
    "weighted_random", "consistent_hash"), layers, options (more grpcio
    channel arguments), connect_timeout, resolve_timeout; what to do when a
    unary call fails: retries, idempotent, retry, backup, breaker
    (`volo.resilience`; streaming calls are made once, where first picked).
    """
    if isinstance(address, str | Sequence):
        address = from_target(address, weights)
    elif weights is not None:
        raise ValueError("weights go with a list of addresses")
    return Channel(address, **options)
