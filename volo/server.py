"""The Thrift server: asyncio, many connections, many calls in flight on each.

Each connection detects its peer's transport (framed, buffered) and protocol
(binary, compact) from its first bytes. Every complete request runs as its
own task, so a slow call never holds up the others on the connection; each
reply goes out in one write as soon as it is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, cast

from pilota.runtime.base import Struct
from pilota.runtime.message import MessageType, read_message_header, write_message_header
from pilota.runtime.service import ApplicationError, ApplicationErrorType, Handler, Method
from pilota.runtime.types import STRUCT, DecodeError
from volo import metainfo
from volo.framing import (
    DEFAULT_MAX_FRAME,
    FrameError,
    Framing,
    Outbox,
    WireFormat,
    detect,
    framed,
    split_framed_binary,
    take_message,
)
from volo.header import HeaderFrame, build_header_frame, parse_header_frame
from volo.middleware import Context, Layer, stack

log = logging.getLogger("volo.server")

_FRAMED_BINARY = WireFormat(Framing.FRAMED, "binary")
_CALL_KINDS = (MessageType.CALL, MessageType.ONEWAY)


class Server:
    """Serves one handler (an instance of a generated `...Handler` subclass)."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        reuse_port: bool = False,
        layers: Sequence[Layer] = (),
    ) -> None:
        self.handler = handler
        self.methods: dict[str, Method] = dict(type(handler).__thrift_methods__)
        self.service_name = type(handler).__thrift_service__
        innermost = _HandlerService(handler, self.methods)
        self.pipeline = stack(innermost, layers)
        # With no layers, a connection calls the handler itself (see `invoke_handler`).
        self.handler_functions = innermost.functions if not layers else None
        self.host = host
        self.port = port
        self.max_frame = max_frame
        self.reuse_port = reuse_port
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self.port, reuse_port=self.reuse_port or None
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        with contextlib.suppress(asyncio.CancelledError):
            await self._server.serve_forever()

    @property
    def in_flight(self) -> int:
        return sum(len(c.tasks) for c in self._connections)

    async def close(self, grace: float = 10.0) -> None:
        """Stop accepting, let calls in flight finish (up to `grace` seconds), close."""
        if self._server is not None:
            self._server.close()
        tasks = [t for c in self._connections for t in c.tasks]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Connection(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.buffer = bytearray()
        self.format: WireFormat | None = None
        self.transport: asyncio.Transport | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.peer = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport, but behave as one
        self.transport = transport = cast(asyncio.Transport, transport)
        self.outbox = Outbox(transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")
        self.server._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._connections.discard(self)
        self.transport = None

    def close(self) -> None:
        if self.transport is not None:
            self.outbox.flush()  # replies already made still go out
            self.transport.close()

    def pause_writing(self) -> None:
        # The peer is not reading its replies: take no more of its requests until
        # it does, so that replies cannot pile up in memory.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            if self.format == _FRAMED_BINARY:
                self.take_framed_binary()
            while self.transport is not None:
                message = self.next_message()
                if message is None:
                    return
                payload, protocol, framer, headers = message
                try:
                    header, offset = read_message_header(payload, protocol)
                except DecodeError as exc:
                    raise FrameError(f"bad message header: {exc}") from None
                self.dispatch(
                    header.name, header.type, header.seqid, payload[offset:], protocol, framer,
                    headers,
                )  # fmt: skip
        except FrameError as exc:
            log.warning("closing connection: %s", exc)
            self.close()

    def take_framed_binary(self) -> None:
        buffer = self.buffer
        messages, consumed = split_framed_binary(buffer, self.server.max_frame, _CALL_KINDS)
        for kind, seqid, name_start, body_start, end in messages:
            if self.transport is None:
                return
            try:
                name = buffer[name_start : body_start - 4].decode()
            except UnicodeDecodeError:
                consumed = name_start - 12  # this one's frame: `next_message` reports it
                break
            call = MessageType.CALL if kind == MessageType.CALL else MessageType.ONEWAY
            body = bytes(buffer[body_start:end])
            self.dispatch(name, call, seqid, body, "binary", framed, {})
        del buffer[:consumed]

    def next_message(self) -> tuple[bytes, str, Framer, dict[str, str]] | None:
        """The next complete message: its bytes, its protocol, and how to frame the reply."""
        buffer = self.buffer
        if self.format is None:
            self.format = detect(buffer)
            if self.format is None:
                return None
        framing, protocol = self.format.framing, self.format.protocol
        payload = take_message(buffer, framing, protocol, self.server.max_frame)
        if payload is None:
            return None
        if framing is Framing.BUFFERED:
            return payload, protocol, _unframed, {}
        if framing is Framing.FRAMED:
            return payload, protocol, framed, {}
        frame = parse_header_frame(payload)
        framer = functools.partial(_header_framed, frame)
        return frame.payload, frame.protocol, framer, frame.headers

    def dispatch(
        self,
        name: str,
        kind: MessageType,
        seqid: int,
        body: bytes,
        protocol: str,
        framer: Framer,
        headers: dict[str, str],
    ) -> None:
        oneway = kind is MessageType.ONEWAY
        reply = Reply(self, name, seqid, protocol, framer)
        method = self.server.methods.get(name)
        if method is None:
            if not oneway:
                reply.error(ApplicationErrorType.UNKNOWN_METHOD, f"unknown method {name!r}")
            return
        try:
            args = method.args.from_bytes(body, protocol)
        except DecodeError as exc:
            if not oneway:
                reply.error(ApplicationErrorType.PROTOCOL_ERROR, f"bad arguments: {exc}")
            return
        if self.server.handler_functions is not None:
            coro = self.invoke_handler(reply, name, args, headers, oneway)
        else:
            ctx = Context(self.server.service_name, name, oneway, "server", self.peer, headers)
            coro = self.invoke(reply, ctx, args)
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def invoke_handler(
        self, reply: Reply, name: str, args: Struct, headers: dict[str, str], oneway: bool
    ) -> None:
        """`invoke` with no layers to pass: no Context made, and the handler called
        here rather than through `_HandlerService` (one coroutine less per call)."""
        if headers:
            metainfo.receive(headers)
        assert self.server.handler_functions is not None
        method, function, names, returns = self.server.handler_functions[name]
        try:
            value = await function(**{n: getattr(args, n) for n in names})
        except Exception as exc:  # as _HandlerService.call, then `invoke`, would
            result = None if oneway else _declared(method.result, exc)
            if result is None:
                log.exception("call %s failed", name)
                if not oneway:
                    reply.error(ApplicationErrorType.INTERNAL_ERROR,
                                f"internal error processing {name}")  # fmt: skip
                return
        else:
            if oneway or method.result is None:  # no reply to a oneway method, however called
                return
            result_class: Any = method.result
            result = result_class(success=value) if returns else result_class()
        reply.send(MessageType.REPLY, result)

    async def invoke(self, reply: Reply, ctx: Context, args: Struct) -> None:
        if ctx.headers:  # this task's own context: nothing leaks between calls
            metainfo.receive(ctx.headers)
        try:
            result = await self.server.pipeline.call(ctx, args)
        except Exception:
            log.exception("call %s failed", ctx.method)
            if not ctx.oneway:
                # The peer learns only that it failed: no traceback, no message of ours.
                reply.error(ApplicationErrorType.INTERNAL_ERROR,
                            f"internal error processing {ctx.method}")  # fmt: skip
            return
        if not ctx.oneway and result is not None:
            reply.send(MessageType.REPLY, result)


class _HandlerService:
    """The innermost service on the server: runs the handler's method."""

    def __init__(self, handler: Handler, methods: dict[str, Method]) -> None:
        self.handler = handler
        # per method: the method, its bound handler function, the names of its
        # arguments, and whether it returns a value (`success`, id 0, comes first)
        self.functions = {
            name: (
                m,
                getattr(handler, m.python_name),
                [f.name for f in m.args.__thrift_spec__],
                m.result is not None
                and bool(m.result.__thrift_spec__)
                and m.result.__thrift_spec__[0].id == 0,
            )
            for name, m in methods.items()
        }

    async def call(self, ctx: Context, request: Struct) -> Struct | None:
        method, function, names, returns = self.functions[ctx.method]
        kwargs = {name: getattr(request, name) for name in names}
        try:
            value = await function(**kwargs)
        except Exception as exc:
            declared = None if method.oneway else _declared(method.result, exc)
            if declared is None:
                raise
            return declared
        if method.oneway:
            return None
        result_class: Any = method.result  # generated: takes its fields as keywords
        return result_class(success=value) if returns else result_class()  # type: ignore[no-any-return]


# How a reply's message header and body are framed for the transport the call came on.
Framer = Callable[[bytes, bytes], bytes]


def _unframed(header: bytes, body: bytes) -> bytes:
    return header + body


def _header_framed(request: HeaderFrame, header: bytes, body: bytes) -> bytes:
    return build_header_frame(
        HeaderFrame(request.protocol, request.seqid, header + body, flags=request.flags)
    )


class Reply:
    """Where and how the answer to one request goes."""

    def __init__(
        self, connection: _Connection, name: str, seqid: int, protocol: str, framer: Framer
    ):
        self.connection = connection
        self.name = name
        self.seqid = seqid
        self.protocol = protocol
        self.framer = framer

    def error(self, kind: ApplicationErrorType, message: str) -> None:
        self.send(MessageType.EXCEPTION, ApplicationError(message=message, type=kind))

    def send(self, kind: MessageType, body: Struct) -> None:
        transport = self.connection.transport
        if transport is None:
            return  # the peer has gone
        try:
            header = write_message_header(self.name, kind, self.seqid, self.protocol)
            encoded = body.to_bytes(self.protocol)
        except Exception:
            log.exception("cannot encode the reply to %s", self.name)
            error = ApplicationError(message=f"internal error encoding the reply to {self.name}",
                                     type=ApplicationErrorType.INTERNAL_ERROR)  # fmt: skip
            header = write_message_header(
                self.name, MessageType.EXCEPTION, self.seqid, self.protocol
            )
            encoded = error.to_bytes(self.protocol)
        self.connection.outbox.write(self.framer(header, encoded))


def _declared(result_class: type[Struct] | None, exc: Exception) -> Struct | None:
    """The result struct carrying `exc`, if the method declares its type."""
    if result_class is None:  # a oneway method declares none
        return None
    for spec in result_class.__thrift_spec__:
        t: Any = spec.type
        if spec.id != 0 and not isinstance(t, int) and t[0] == STRUCT and isinstance(exc, t[1]):
            return result_class(**{spec.name: exc})
    return None


def run(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    layers: Sequence[Layer] = (),
    workers: int = 1,
    grace: float = 10.0,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting, let calls in flight
    finish (up to `grace` seconds) and return.

    With `workers=N`, N processes serve the same port (SO_REUSEPORT), one event
    loop each; uvloop is used when it is installed.
    """
    if workers <= 1:
        _run_loop(_serve(handler, host, port, layers, grace, reuse_port=False))
        return
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker
            try:
                _run_loop(_serve(handler, host, port, layers, grace, reuse_port=True))
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        os.waitpid(child, 0)


async def _serve(
    handler: Handler,
    host: str,
    port: int,
    layers: Sequence[Layer],
    grace: float,
    reuse_port: bool,
) -> None:
    server = Server(handler, host, port, layers=layers, reuse_port=reuse_port)
    await server.start()
    log.info("serving %s on %s:%d (pid %d)", server.service_name, host, server.port, os.getpid())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down: %d call(s) in flight", server.in_flight)
    await server.close(grace)


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
