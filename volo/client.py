"""The Thrift client transport: multiplexed connections, timeouts, reconnects.

Calls share a connection; each has its own sequence id, and replies are
matched to calls by it, so any number may be in flight at once. A call that
times out forgets its id: a late reply finds nobody waiting and is dropped,
never handed to another call.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pilota.runtime.base import Struct
from pilota.runtime.message import (
    MessageHeader,
    MessageType,
    read_message_header,
    write_message_header,
)
from pilota.runtime.service import ApplicationError
from pilota.runtime.types import DecodeError
from volo import metainfo
from volo.framing import (
    DEFAULT_MAX_FRAME,
    FrameError,
    Framing,
    WireFormat,
    frame_length,
    message_end,
)
from volo.header import HeaderFrame, build_header_frame, parse_header_frame
from volo.middleware import Context, Layer, stack


class CallTimeout(TimeoutError):
    """A call got no reply within its timeout."""


_call_timeout: ContextVar[float | None] = ContextVar("volo_call_timeout", default=None)


@contextmanager
def timeout(seconds: float) -> Iterator[None]:
    """Calls made inside this block wait at most `seconds` for their reply.

        with volo.timeout(0.2):
            reply = await client.get(key)
    """
    token = _call_timeout.set(seconds)
    try:
        yield
    finally:
        _call_timeout.reset(token)


class TransportError(ConnectionError):
    """The connection failed before the call got its reply."""


class _Connection(asyncio.Protocol):
    def __init__(self, wire: WireFormat, max_frame: int) -> None:
        self.wire = wire
        self.max_frame = max_frame
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pending: dict[int, asyncio.Future[tuple[MessageHeader, bytes, int]]] = {}
        self.seqids = itertools.count(1)
        self.closed = asyncio.get_running_loop().create_future()

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        error = TransportError(
            f"connection lost: {exc}" if exc else "connection closed by the peer"
        )
        for future in self.pending.values():
            if not future.done():
                future.set_exception(error)
        self.pending.clear()
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            while (message := self.next_message()) is not None:
                header, offset = read_message_header(message, self.wire.protocol)
                future = self.pending.pop(header.seqid, None)
                if future is not None and not future.done():
                    future.set_result((header, message, offset))
                # else: the call timed out (or never was): drop the reply
        except (FrameError, DecodeError) as exc:
            self.fail(TransportError(f"bad reply stream: {exc}"))

    def next_message(self) -> bytes | None:
        buffer = self.buffer
        if self.wire.framing is not Framing.BUFFERED:
            length = frame_length(buffer, self.max_frame)
            if length is None or len(buffer) < 4 + length:
                return None
            message = bytes(buffer[4 : 4 + length])
            del buffer[: 4 + length]
            if self.wire.framing is Framing.HEADER:
                frame = parse_header_frame(message)
                if frame.protocol != self.wire.protocol:
                    raise FrameError(f"reply in {frame.protocol}, expected {self.wire.protocol}")
                return frame.payload
            return message
        end = message_end(buffer, self.wire.protocol, self.max_frame)
        if end is None:
            return None
        message = bytes(buffer[:end])
        del buffer[:end]
        return message

    def fail(self, error: Exception) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(error)
        self.pending.clear()
        if self.transport is not None:
            self.transport.close()

    async def call(
        self,
        method: str,
        args: Struct,
        result_class: type[Struct],
        oneway: bool,
        timeout: float,
        headers: dict[str, str],
    ) -> Struct | None:
        if self.transport is None:
            raise TransportError("not connected")
        protocol = self.wire.protocol
        seqid = next(self.seqids) & 0x7FFFFFFF
        kind = MessageType.ONEWAY if oneway else MessageType.CALL
        message = write_message_header(method, kind, seqid, protocol) + args.to_bytes(protocol)
        if self.wire.framing is Framing.FRAMED:
            message = len(message).to_bytes(4, "big") + message
        elif self.wire.framing is Framing.HEADER:
            message = build_header_frame(HeaderFrame(protocol, seqid, message, headers))
        if oneway:
            self.transport.write(message)
            return None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[MessageHeader, bytes, int]] = loop.create_future()
        self.pending[seqid] = future
        expire = loop.call_later(timeout, _expire, future, method, timeout)
        try:
            self.transport.write(message)
            header, reply, offset = await future
        finally:
            expire.cancel()
            self.pending.pop(seqid, None)
        if header.type is MessageType.EXCEPTION:
            raise ApplicationError.from_bytes(reply[offset:], protocol)
        return result_class.from_bytes(reply[offset:], protocol)


def _expire(future: asyncio.Future[Any], method: str, timeout: float) -> None:
    if not future.done():
        future.set_exception(CallTimeout(f"{method}: no reply within {timeout:g} s"))


class ClientTransport:
    """Sends calls to one address over one multiplexed connection. A broken
    connection is replaced on the next call; connecting is tried `retries`
    more times before the call fails."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        protocol: str = "binary",
        framing: str = "framed",
        timeout: float = 5.0,
        connect_timeout: float = 3.0,
        retries: int = 1,
        max_frame: int = DEFAULT_MAX_FRAME,
        layers: Sequence[Layer] = (),
    ) -> None:
        if protocol not in ("binary", "compact"):
            raise ValueError(f"unknown protocol {protocol!r}: expected 'binary' or 'compact'")
        self.host, self.port = host, port
        self.wire = WireFormat(Framing(framing), protocol)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.max_frame = max_frame
        self._connection: _Connection | None = None
        self._connecting: asyncio.Lock | None = None
        self.pipeline = stack(_SendService(self), layers)

    async def _connected(self) -> _Connection:
        connection = self._connection
        if connection is not None and connection.usable:
            return connection
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._connection is not None and self._connection.usable:
                return self._connection
            loop = asyncio.get_running_loop()
            try:
                _, protocol = await asyncio.wait_for(
                    loop.create_connection(
                        lambda: _Connection(self.wire, self.max_frame), self.host, self.port
                    ),
                    self.connect_timeout,
                )
            except (TimeoutError, OSError) as exc:
                raise TransportError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
            self._connection = protocol
            return protocol

    async def call(
        self,
        service: str,
        method: str,
        args: Struct,
        result_class: type[Struct],
        oneway: bool,
        timeout: float | None = None,
    ) -> Struct | None:
        """Send one call through the layers; what generated clients call."""
        ctx = Context(
            service,
            method,
            oneway,
            "client",
            f"{self.host}:{self.port}",
            metainfo.outgoing_headers(),
            timeout or _call_timeout.get() or self.timeout,
            result_class,
        )
        return await self.pipeline.call(ctx, args)

    async def send(self, ctx: Context, args: Struct) -> Struct | None:
        # Only connecting is retried: a call already sent may have run, and is not resent.
        for attempt in range(self.retries + 1):
            try:
                connection = await self._connected()
                break
            except TransportError:
                if attempt == self.retries:
                    raise
        assert ctx.result_class is not None
        return await connection.call(
            ctx.method, args, ctx.result_class, ctx.oneway, ctx.timeout or self.timeout, ctx.headers
        )

    async def close(self) -> None:
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
            await self._connection.closed
        self._connection = None


class _SendService:
    """The innermost service on the client: sends the call."""

    def __init__(self, transport: ClientTransport) -> None:
        self.transport = transport

    async def call(self, ctx: Context, request: Struct) -> Struct | None:
        return await self.transport.send(ctx, request)


def connect(address: str, **options: Any) -> ClientTransport:
    """A client transport to `host:port`; pass it to a generated client class."""
    host, _, port = address.rpartition(":")
    return ClientTransport(host or "127.0.0.1", int(port), **options)
