"""The Thrift client transport: shared connections, timeouts, reconnects.

Calls share a connection; each has its own sequence id, and replies are
matched to calls by it, so any number may be in flight at once. A call that
times out forgets its id: a late reply finds nobody waiting and is dropped,
never handed to another call.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import math
import re
import socket
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, cast

from pilota.runtime.base import Struct
from pilota.runtime.message import MessageType, message_parts, read_message
from pilota.runtime.service import ApplicationError
from pilota.runtime.types import DecodeError
from volo import metainfo
from volo.address import format_address, parse_address
from volo.balance import current_hash_key, make_balancer
from volo.calls import call_timeout
from volo.errors import CallTimeout, RequestTooLarge, TransportError
from volo.middleware import Context, Layer, stack
from volo.thrift.framing import (
    DEFAULT_MAX_FRAME,
    PROTOCOLS,
    SEPARATOR,
    FrameError,
    FrameTooLarge,
    Framing,
    Outbox,
    Unframer,
    WireFormat,
    framed,
    split_framed_binary,
)
from volo.thrift.header import TRANSFORMS, HeaderFrame, build_header_frame, parse_header_frame

_REPLY_KINDS = (MessageType.REPLY, MessageType.EXCEPTION)


class _Connection(asyncio.Protocol):
    def __init__(self, wire: WireFormat, max_frame: int, transforms: Sequence[int] = ()) -> None:
        self.wire = wire
        self.max_frame = max_frame
        self.transforms = transforms  # THeader transforms to apply to requests
        self.buffer = bytearray()
        self.unframer = Unframer(wire, max_frame)
        self.deferred = False  # measuring an unframed reply goes on next turn
        self.transport: asyncio.Transport | None = None
        # seqid -> the call's future, deadline (inf: none), method and timeout
        self.pending: dict[
            int, tuple[asyncio.Future[tuple[int, bytes]], float, str, float | None]
        ] = {}
        self.framed_binary = wire == WireFormat(Framing.FRAMED, "binary")
        self.seqids = itertools.count(1)
        self.loop = asyncio.get_running_loop()
        self.closed = self.loop.create_future()
        # One timer per connection, at the earliest deadline of the calls in flight,
        # instead of one per call (scheduling and cancelling those cost more than a call).
        self.sweep: asyncio.TimerHandle | None = None
        self.sweep_at = math.inf

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport, but behave as one
        self.transport = transport = cast(asyncio.Transport, transport)
        self.outbox = Outbox(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        error = TransportError(
            f"connection lost: {exc}" if exc else "connection closed by the peer"
        )
        self.fail_pending(error)
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            if self.framed_binary:
                self.take_framed_binary()
            while (message := self.next_message()) is not None:
                header, body = read_message(message, self.wire.protocol)
                self.deliver(header.seqid, header.type, body)
            if self.unframer.paused and not self.deferred and self.transport is not None:
                # a long unframed reply: measured on next turn, reading nothing more meanwhile
                self.deferred = True
                self.transport.pause_reading()
                self.loop.call_soon(self.go_on)
        except FrameTooLarge as exc:
            of = f" of {exc.size} bytes" if exc.size is not None else ""
            self.fail(TransportError(
                f"a reply{of} is over this client's {exc.limit}-byte limit (max_frame)"
            ))  # fmt: skip
        except (FrameError, DecodeError) as exc:
            self.fail(TransportError(f"bad reply stream: {exc}"))

    def go_on(self) -> None:
        self.deferred = False
        if self.transport is not None:
            self.transport.resume_reading()
            self.data_received(b"")

    def deliver(self, seqid: int, kind: int, body: bytes) -> None:
        call = self.pending.pop(seqid, None)
        if call is not None and not call[0].done():
            call[0].set_result((kind, body))
        # else: the call timed out (or never was): drop the reply

    def take_framed_binary(self) -> None:
        messages, consumed = split_framed_binary(self.buffer, self.max_frame, _REPLY_KINDS)
        for kind, seqid, _, body_start, end in messages:
            self.deliver(seqid, kind, bytes(self.buffer[body_start:end]))
        del self.buffer[:consumed]

    def next_message(self) -> bytes | None:
        wire = self.wire
        message = self.unframer.take(self.buffer)
        if message is None or not wire.framing.has_header:
            return message
        frame = parse_header_frame(message, self.max_frame)
        if frame.protocol != wire.protocol:
            raise FrameError(f"reply in {frame.protocol}, expected {wire.protocol}")
        return frame.payload

    def fail(self, error: Exception) -> None:
        self.fail_pending(error)
        if self.transport is not None:
            self.transport.close()

    def fail_pending(self, error: Exception) -> None:
        for future, *_ in self.pending.values():
            if not future.done():
                future.set_exception(error)
        self.pending.clear()
        if self.sweep is not None:
            self.sweep.cancel()
            self.sweep, self.sweep_at = None, math.inf

    def expire(self) -> None:
        """Fail the calls whose deadline has come; wake again at the next deadline."""
        self.sweep, self.sweep_at = None, math.inf
        # A timer may fire a hair early: within a millisecond counts as due.
        now = self.loop.time() + 0.001
        expired = [seqid for seqid, call in self.pending.items() if call[1] <= now]
        for seqid in expired:
            future, _, method, timeout = self.pending.pop(seqid)
            if not future.done():
                assert timeout is not None  # else its deadline is never
                future.set_exception(CallTimeout.after(method, timeout))
        deadline = min((call[1] for call in self.pending.values()), default=math.inf)
        if deadline < math.inf:
            self.wake_at(deadline)

    def wake_at(self, deadline: float) -> None:
        if self.sweep is not None:
            self.sweep.cancel()
        self.sweep = self.loop.call_at(deadline, self.expire)
        self.sweep_at = deadline

    async def call(
        self,
        method: str,
        args: Struct,
        result_class: type[Struct] | None,
        oneway: bool,
        timeout: float | None,
        headers: dict[str, str],
    ) -> Struct | None:
        if self.transport is None:
            raise TransportError("not connected")
        if timeout is not None and timeout <= 0 and not oneway:
            raise CallTimeout.after(method, timeout)  # its time is up before it starts
        protocol = self.wire.protocol
        seqid = next(self.seqids) & 0x7FFFFFFF
        kind = MessageType.ONEWAY if oneway else MessageType.CALL
        header, body = message_parts(method, kind, seqid, args.to_bytes(protocol), protocol)
        framing = self.wire.framing
        if framing is Framing.FRAMED:
            message = framed(header, body)
        elif framing is Framing.BUFFERED:
            message = header + body
        else:
            message = build_header_frame(
                HeaderFrame(protocol, seqid, header + body, headers, transforms=self.transforms)
            )
            if framing is Framing.HEADER_IN_FRAMED:
                message = framed(b"", message)
        size = len(message) - (0 if framing is Framing.BUFFERED else 4)
        if size > self.max_frame:
            raise RequestTooLarge(
                f"{method}: the request of {size} bytes is over this client's"
                f" {self.max_frame}-byte limit (max_frame)"
            )
        if oneway:
            self.outbox.write(message)
            return None
        loop = self.loop
        future: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        deadline = math.inf if timeout is None else loop.time() + timeout
        self.pending[seqid] = (future, deadline, method, timeout)
        if deadline < self.sweep_at:
            self.wake_at(deadline)
        try:
            self.outbox.write(message)
            reply_kind, reply = await future
        finally:
            self.pending.pop(seqid, None)
        if reply_kind == MessageType.EXCEPTION:
            raise ApplicationError.from_bytes(reply, protocol)
        assert result_class is not None  # only a oneway method has none, and gets no reply
        return result_class.from_bytes(reply, protocol)


class Endpoint:
    """One server address, with its weight and its pool of connections."""

    def __init__(self, host: str, port: int, weight: int = 1) -> None:
        if weight < 1:
            raise ValueError(f"the weight of {host}:{port} must be at least 1")
        self.host, self.port, self.weight = host, port, weight
        self.connections: list[_Connection] = []
        self.lock: asyncio.Lock | None = None
        self.next = 0

    def __str__(self) -> str:
        return format_address(self.host, self.port)


class ClientTransport:
    """Sends calls to one or more server addresses.

    Each address has a pool of up to `pool_size` connections, opened as
    needed and each carrying many calls at once. A balancer picks the address
    for every call (see `balance` in `connect`). When connecting fails, the
    call moves on to another address, `retries` more times at most; a call
    already sent is never resent (it may have run).

    Closes its connections on `close()`, or at the end of `async with`.
    """

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        *,
        protocol: str = "binary",
        framing: str = "framed",
        multiplexed: bool = False,
        transforms: Sequence[str] = (),
        timeout: float | None = 5.0,
        connect_timeout: float | None = 3.0,
        retries: int = 1,
        pool_size: int = 1,
        balance: str = "round_robin",
        max_frame: int = DEFAULT_MAX_FRAME,
        layers: Sequence[Layer] = (),
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}: expected {_one_of(PROTOCOLS)}")
        framings = [f.value for f in Framing]
        if framing not in framings:
            raise ValueError(f"unknown framing {framing!r}: expected {_one_of(framings)}")
        for name in transforms:
            if name not in TRANSFORMS:
                raise ValueError(f"unknown transform {name!r}: expected {_one_of(TRANSFORMS)}")
        if not endpoints:
            raise ValueError("a client needs at least one address")
        self.endpoints = list(endpoints)
        self.wire = WireFormat(Framing(framing), protocol)
        if transforms and not self.wire.framing.has_header:
            raise ValueError("transforms need framing 'header' or 'header-in-framed'")
        self.transforms = tuple(TRANSFORMS[name] for name in transforms)
        self.has_headers = self.wire.framing.has_header  # metainfo travels in THeader headers
        # Each call named `Service:method` on the wire, for a server of several services.
        self.multiplexed = multiplexed
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.pool_size = max(1, pool_size)
        self.max_frame = max_frame
        self.balancer = make_balancer(balance, self.endpoints)
        self.layers = list(layers)
        self.pipeline = stack(_SendService(self), layers)

    def _ready(self, endpoint: Endpoint) -> _Connection | None:
        """The pool's next connection to `endpoint`, if the pool is full and it is usable."""
        pool = endpoint.connections
        if len(pool) >= self.pool_size:
            endpoint.next = (endpoint.next + 1) % len(pool)
            connection = pool[endpoint.next]
            if connection.usable:
                return connection
        return None

    async def _connected(self, endpoint: Endpoint) -> _Connection:
        """A connection to `endpoint`: the pool's next usable one, or a new one."""
        ready = self._ready(endpoint)
        if ready is not None:
            return ready
        pool = endpoint.connections = [c for c in endpoint.connections if c.usable]
        if endpoint.lock is None:
            endpoint.lock = asyncio.Lock()
        async with endpoint.lock:
            pool = endpoint.connections = [c for c in endpoint.connections if c.usable]
            if len(pool) >= self.pool_size:
                return pool[0]
            loop = asyncio.get_running_loop()
            try:
                _, connection = await asyncio.wait_for(
                    loop.create_connection(
                        lambda: _Connection(self.wire, self.max_frame, self.transforms),
                        endpoint.host,
                        endpoint.port,
                    ),
                    self.connect_timeout,
                )
            except TimeoutError as exc:
                seconds = self.connect_timeout
                why = _why(exc) if seconds is None else f"no answer within {seconds:g} s"
                raise TransportError(f"cannot connect to {endpoint}: {why}") from exc
            except OSError as exc:
                raise TransportError(f"cannot connect to {endpoint}: {_why(exc)}") from exc
            endpoint.connections.append(connection)
            return connection

    def call(
        self,
        service: str,
        method: str,
        args: Struct,
        result_class: type[Struct] | None,
        oneway: bool,
        timeout: float | None = None,
    ) -> Awaitable[Struct | None]:
        """Send one call through the layers; what generated clients call.
        `timeout`: this call's, over any `volo.timeout` block's and the
        transport's (None: not given here)."""
        endpoint = self.balancer.pick(current_hash_key())
        seconds = call_timeout(timeout, self.timeout)
        if not self.layers:
            # No layer needs a Context: straight to a connection when one is open.
            connection = self._ready(endpoint)
            if connection is not None:
                headers = metainfo.outgoing_headers() if self.has_headers else {}
                name = service + SEPARATOR + method if self.multiplexed else method
                return connection.call(name, args, result_class, oneway, seconds, headers)
        ctx = Context(
            service,
            method,
            oneway,
            "client",
            str(endpoint),
            metainfo.outgoing_headers(),
            seconds,
            result_class,
            endpoint,
        )
        return self.pipeline.call(ctx, args)

    async def send(self, ctx: Context, args: Struct) -> Struct | None:
        endpoint: Endpoint = ctx.endpoint
        tried: list[Endpoint] = []
        while True:
            try:
                connection = await self._connected(endpoint)
                break
            except TransportError:
                tried.append(endpoint)
                if len(tried) > self.retries:
                    raise
                # Another address if there is one not tried yet; else the same again.
                untried = [e for e in self.endpoints if e not in tried]
                endpoint = untried[0] if untried else endpoint
                ctx.peer, ctx.endpoint = str(endpoint), endpoint
        name = ctx.service + SEPARATOR + ctx.method if self.multiplexed else ctx.method
        return await connection.call(
            name, args, ctx.result_class, ctx.oneway, ctx.timeout, ctx.headers
        )

    async def close(self) -> None:
        for endpoint in self.endpoints:
            for connection in endpoint.connections:
                if connection.transport is not None:
                    connection.transport.close()
                    await connection.closed
            endpoint.connections = []

    async def __aenter__(self) -> ClientTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _one_of(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _why(exc: OSError) -> str:
    """Why a connection could not be made, briefly."""
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    # With several addresses for a host, asyncio joins their errors into one text.
    codes = {int(code) for code in re.findall(r"\[Errno (\d+)\]", str(exc))}
    if isinstance(exc, ConnectionRefusedError) or codes == {errno.ECONNREFUSED}:
        return "no server is listening"
    return (exc.strerror or str(exc)).lower()


class _SendService:
    """The innermost service on the client: sends the call."""

    def __init__(self, transport: ClientTransport) -> None:
        self.transport = transport

    async def call(self, ctx: Context, request: Struct) -> Struct | None:
        return await self.transport.send(ctx, request)


def connect(
    address: str | Sequence[str], *, weights: Sequence[int] | None = None, **options: Any
) -> ClientTransport:
    """A client transport to one `host:port`, or several; pass it to a generated
    client. Use it as `async with volo.connect(...) as transport:` to close it
    at the end, or call `close()`.

    Options: protocol ("binary", "compact", "json"), framing ("framed",
    "buffered", "header", "header-in-framed"), multiplexed (name the service
    in every call, for a server of several services), transforms (THeader:
    ["zlib"]), timeout and connect_timeout (seconds; None for none), retries,
    pool_size, balance ("round_robin", "weighted_random", "consistent_hash"),
    max_frame (the largest request sent and reply read, inflated), layers.
    """
    addresses = [address] if isinstance(address, str) else list(address)
    weights = list(weights) if weights is not None else [1] * len(addresses)
    if len(weights) != len(addresses):
        raise ValueError("give one weight per address")
    endpoints = [
        Endpoint(*parse_address(text), weight)
        for text, weight in zip(addresses, weights, strict=True)
    ]
    return ClientTransport(endpoints, **options)
