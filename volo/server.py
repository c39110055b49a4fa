"""The Thrift server: asyncio, many connections, many calls in flight on each.

Each connection detects its peer's transport (framed, buffered, header,
header-in-framed) and protocol (binary, compact) from its first bytes, and
answers in kind. Every complete request runs as its own task, so a slow call
never holds up the others on the connection; each reply goes out in one write
as soon as it is ready. One server may serve several services (Apache's
multiplexed protocol). A request over the size limit is answered with an
error naming the limit, not a closed connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, NamedTuple, NoReturn, cast

from pilota.runtime.base import Struct
from pilota.runtime.codec import IMPLEMENTATION
from pilota.runtime.message import MessageType, message_parts, read_message, read_message_header
from pilota.runtime.service import ApplicationError, ApplicationErrorType, Handler, Method
from pilota.runtime.types import STRUCT, DecodeError
from volo import metainfo
from volo.address import format_address, parse_address
from volo.errors import ServerStartError
from volo.framing import (
    DEFAULT_MAX_FRAME,
    SEPARATOR,
    FrameError,
    FrameTooLarge,
    Framing,
    Outbox,
    WireFormat,
    detect,
    framed,
    split_framed_binary,
    take_message,
)
from volo.header import HeaderFrame, HeaderTruncated, build_header_frame, parse_header_frame
from volo.middleware import Context, Layer, stack

log = logging.getLogger("volo.server")

_FRAMED_BINARY = WireFormat(Framing.FRAMED, "binary")
_CALL_KINDS = (MessageType.CALL, MessageType.ONEWAY)
# A request over the size limit is answered if its message header is within
# this many bytes of its start (past any header block); else the connection closes.
_PEEK_BYTES = 4096


class _Route(NamedTuple):
    """Where a call goes: a method of one of the server's services."""

    service: str
    name: str  # the method's IDL name, which the reply carries
    method: Method
    function: Callable[..., Awaitable[Any]]  # the handler's bound method
    arg_names: list[str]
    returns: bool  # the result has `success` (id 0) first


class Server:
    """Serves one handler (an instance of a generated `...Handler` subclass),
    or several on one port: `Server([users, orders], ...)`.

    With several, clients name the service in each call as Apache's
    multiplexed protocol does (`Service:method`; `connect(...,
    multiplexed=True)` in volo), and calls with a plain method name go to the
    first handler, the default service.
    """

    def __init__(
        self,
        handlers: Handler | Sequence[Handler],
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        reuse_port: bool = False,
        layers: Sequence[Layer] = (),
    ) -> None:
        self.handlers = [handlers] if isinstance(handlers, Handler) else list(handlers)
        if not self.handlers:
            raise ValueError("a server needs at least one handler")
        self.services = [type(h).__thrift_service__ for h in self.handlers]
        for service in self.services:
            if self.services.count(service) > 1:
                raise ValueError(f"two handlers for service {service!r}: give each service one")
        # The wire name of every call served: `Service:method` for each
        # service, and the plain name for the default (first) one.
        self.routes: dict[str, _Route] = {}
        for i, handler in enumerate(self.handlers):
            for route in _routes(handler):
                self.routes[route.service + SEPARATOR + route.name] = route
                if i == 0:
                    self.routes[route.name] = route
        self.pipeline = stack(_HandlerService(self.routes), layers)
        # With no layers, a connection calls the handler itself (see `invoke_handler`).
        self.direct = not layers
        self.host = host
        self.port = port
        self.max_frame = max_frame
        self.reuse_port = reuse_port
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()

    def unknown(self, name: str) -> str:
        """Why a call named `name` has nowhere to go."""
        service, separator, method = name.rpartition(SEPARATOR)
        if separator and service not in self.services:
            return f"unknown service {service!r}: this server has {', '.join(self.services)}"
        return f"unknown method {method!r}" + (f" of service {service!r}" if separator else "")

    async def start(self) -> None:
        """Listen; raises ServerStartError (one sentence) if the address cannot be had."""
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _Connection(self), self.host, self.port, reuse_port=self.reuse_port or None
            )
        except OSError as exc:
            raise start_error(self.host, self.port, exc) from None
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


def _routes(handler: Handler) -> list[_Route]:
    service = type(handler).__thrift_service__
    return [
        _Route(
            service,
            name,
            m,
            getattr(handler, m.python_name),
            [f.name for f in m.args.__thrift_spec__],
            m.result is not None
            and bool(m.result.__thrift_spec__)
            and m.result.__thrift_spec__[0].id == 0,
        )
        for name, m in type(handler).__thrift_methods__.items()
    ]


def start_error(host: str, port: int, exc: OSError) -> ServerStartError:
    """Why listening on host:port failed, in one sentence."""
    if isinstance(exc, socket.gaierror):
        why = "unknown host"
    elif exc.errno == errno.EADDRINUSE:
        why = "the address is already in use"
    elif exc.errno == errno.EACCES:
        why = "permission denied (ports below 1024 need privileges)"
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = "the host is not an address of this machine"
    else:
        why = (exc.strerror or str(exc)).lower()
    error = ServerStartError(f"cannot serve on {format_address(host, port)}: {why}")
    error.errno = exc.errno
    return error


# One request, unwrapped: its message, its protocol, how to frame the reply,
# and its THeader string headers.
Request = tuple[bytes, str, "Framer", dict[str, str]]


class _Connection(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.buffer = bytearray()
        self.format: WireFormat | None = None
        self.transport: asyncio.Transport | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.peer = ""
        self.skip = 0  # bytes still to come of a refused frame, to drop
        self.draining = False  # a refused unframed request: read nothing more

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
        if self.draining:
            return
        if self.skip:
            dropped = min(self.skip, len(data))
            self.skip -= dropped
            data = data[dropped:]
        self.buffer += data
        try:
            while True:
                try:
                    self.take_requests()
                    return
                except FrameTooLarge as exc:
                    if not self.refuse_first(exc):
                        return  # waiting for more of it, or reading no more
        except FrameError as exc:
            log.warning("closing connection: %s", exc)
            self.close()

    def take_requests(self) -> None:
        """Dispatch every complete request in the buffer."""
        if self.format == _FRAMED_BINARY:
            self.take_framed_binary()
        while self.transport is not None:
            request = self.next_request()
            if request is None:
                return
            payload, protocol, framer, headers = request
            try:
                header, body = read_message(payload, protocol)
            except DecodeError as exc:
                raise FrameError(f"bad message header: {exc}") from None
            self.dispatch(
                header.name, header.type, header.seqid, body, protocol, framer, headers
            )

    def take_framed_binary(self) -> None:
        buffer = self.buffer
        messages, consumed = split_framed_binary(buffer, self.server.max_frame, _CALL_KINDS)
        for kind, seqid, name_start, body_start, end in messages:
            if self.transport is None:
                return
            try:
                name = buffer[name_start : body_start - 4].decode()
            except UnicodeDecodeError:
                consumed = name_start - 12  # this one's frame: `next_request` reports it
                break
            call = MessageType.CALL if kind == MessageType.CALL else MessageType.ONEWAY
            body = bytes(buffer[body_start:end])
            self.dispatch(name, call, seqid, body, "binary", framed, {})
        del buffer[:consumed]

    def next_request(self) -> Request | None:
        """The next complete request, unwrapped; None until one has all come."""
        if self.format is None:
            self.format = detect(self.buffer)
            if self.format is None:
                return None
        while self.transport is not None:
            data = take_message(
                self.buffer, self.format.framing, self.format.protocol, self.server.max_frame
            )
            if data is None:
                return None
            try:
                return self.unwrap(data)
            except FrameTooLarge as exc:  # compressed, it was not; inflated, it is
                self.refuse(data, exc, complete=True)
        return None

    def unwrap(self, data: bytes, partial: bool = False) -> Request:
        """A message as taken off the stream (a frame's payload, a header
        frame, an unframed message), or with `partial` the start of one."""
        assert self.format is not None
        framing, protocol = self.format.framing, self.format.protocol
        if framing is Framing.BUFFERED:
            return data, protocol, _unframed, {}
        if framing is Framing.FRAMED:
            return data, protocol, framed, {}
        frame = parse_header_frame(data, self.server.max_frame, partial=partial)
        framer = functools.partial(_header_framed, framing, frame)
        return frame.payload, frame.protocol, framer, frame.headers

    def refuse_first(self, exc: FrameTooLarge) -> bool:
        """Refuse the request at the front of the buffer, over the size limit,
        and drop it; True if the requests after it can be read."""
        assert self.format is not None
        framing = self.format.framing
        start = 0 if framing is Framing.BUFFERED else 4 + framing.header_offset
        if not self.refuse(bytes(self.buffer[start:]), exc, complete=False):
            return False
        if framing is Framing.BUFFERED:  # where it ends is unknown: read no more
            self.draining = True
            self.buffer.clear()
            for task in self.tasks:  # calls before it still answer, then we hang up
                task.add_done_callback(self.hang_up_when_answered)
            self.hang_up_when_answered()
            return False
        assert exc.size is not None
        end = 4 + exc.size
        self.skip = max(0, end - len(self.buffer))
        del self.buffer[:end]
        return True

    def hang_up_when_answered(self, _: object = None) -> None:
        """Once no call is in flight, end our side of the connection (the peer
        reads the replies sent, then the end; a close with its bytes unread
        would reset the connection and could lose them)."""
        if self.tasks or self.transport is None or self.transport.is_closing():
            return
        self.outbox.flush()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        else:
            self.transport.close()

    def refuse(self, head: bytes, exc: FrameTooLarge, complete: bool) -> bool:
        """Answer the request that `head` starts (or, `complete`, is): it is
        over the size limit. False if more of it must come first; FrameError
        if it cannot be read."""
        try:
            payload, protocol, framer, _ = self.unwrap(head, partial=True)
        except HeaderTruncated:
            if complete:
                raise
            return False  # the header block's size is bounded: wait for all of it
        try:
            header, _ = read_message_header(payload[:_PEEK_BYTES], protocol)
        except DecodeError:
            if not complete and len(payload) < _PEEK_BYTES:
                return False
            raise FrameError(f"{exc}, with no message header to answer") from None
        of = f" of {exc.size} bytes" if exc.size is not None else ""
        message = f"{header.name}: the request{of} is over the server's {exc.limit}-byte limit"
        log.warning("refused a request from %s: %s", self.peer, message)
        if header.type is not MessageType.ONEWAY:
            reply = Reply(self, header.name, header.seqid, protocol, framer)
            reply.error(ApplicationErrorType.PROTOCOL_ERROR, message)
        return True

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
        route = self.server.routes.get(name)
        if route is None:
            if not oneway:
                reply = Reply(self, name, seqid, protocol, framer)
                reply.error(ApplicationErrorType.UNKNOWN_METHOD, self.server.unknown(name))
            return
        reply = Reply(self, route.name, seqid, protocol, framer)
        try:
            args = route.method.args.from_bytes(body, protocol)
        except DecodeError as exc:
            if not oneway:
                reply.error(ApplicationErrorType.PROTOCOL_ERROR, f"bad arguments: {exc}")
            return
        if self.server.direct:
            coro = self.invoke_handler(reply, route, args, headers, oneway)
        else:
            ctx = Context(route.service, route.name, oneway, "server", self.peer, headers)
            coro = self.invoke(reply, ctx, args)
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def invoke_handler(
        self, reply: Reply, route: _Route, args: Struct, headers: dict[str, str], oneway: bool
    ) -> None:
        """`invoke` with no layers to pass: no Context made, and the handler called
        here rather than through `_HandlerService` (one coroutine less per call)."""
        if headers:
            metainfo.receive(headers)
        # no reply to a oneway method, however it was called
        no_reply = oneway or route.method.result is None
        try:
            value = await route.function(**{n: getattr(args, n) for n in route.arg_names})
        except Exception as exc:  # as _HandlerService.call, then `invoke`, would
            result = None if no_reply else _declared(route.method.result, exc)
            if result is None:
                log.exception("call %s failed", route.name)
                if not no_reply:
                    reply.error(ApplicationErrorType.INTERNAL_ERROR,
                                f"internal error processing {route.name}")  # fmt: skip
                return
        else:
            if no_reply:
                return
            result_class: Any = route.method.result
            result = result_class(success=value) if route.returns else result_class()
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

    def __init__(self, routes: dict[str, _Route]) -> None:
        self.routes = {(r.service, r.name): r for r in routes.values()}

    async def call(self, ctx: Context, request: Struct) -> Struct | None:
        route = self.routes[ctx.service, ctx.method]
        kwargs = {name: getattr(request, name) for name in route.arg_names}
        try:
            value = await route.function(**kwargs)
        except Exception as exc:
            declared = None if route.method.oneway else _declared(route.method.result, exc)
            if declared is None:
                raise
            return declared
        if route.method.oneway:
            return None
        result_class: Any = route.method.result  # generated: takes its fields as keywords
        return result_class(success=value) if route.returns else result_class()  # type: ignore[no-any-return]


# How a reply's message header and body are framed for the transport the call came on.
Framer = Callable[[bytes, bytes], bytes]


def _unframed(header: bytes, body: bytes) -> bytes:
    return header + body


def _header_framed(framing: Framing, request: HeaderFrame, header: bytes, body: bytes) -> bytes:
    """The reply in a header frame like the request's: its protocol, seqid,
    flags and transforms; inside a frame too (header-in-framed) if it was."""
    reply = build_header_frame(
        HeaderFrame(request.protocol, request.seqid, header + body, flags=request.flags,
                    transforms=request.transforms)
    )  # fmt: skip
    return framed(b"", reply) if framing is Framing.HEADER_IN_FRAMED else reply


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
            encoded = body.to_bytes(self.protocol)
        except Exception:
            log.exception("cannot encode the reply to %s", self.name)
            kind = MessageType.EXCEPTION
            encoded = ApplicationError(
                message=f"internal error encoding the reply to {self.name}",
                type=ApplicationErrorType.INTERNAL_ERROR,
            ).to_bytes(self.protocol)
        head, rest = message_parts(self.name, kind, self.seqid, encoded, self.protocol)
        self.connection.outbox.write(self.framer(head, rest))


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
    handlers: Handler | Sequence[Handler],
    host: str | None = None,
    port: int | None = None,
    *,
    address: str | None = None,
    layers: Sequence[Layer] = (),
    workers: int = 1,
    grace: float = 10.0,
) -> None:
    """Serve `handlers` (one, or several on one port: see `Server`) on
    `host`:`port`, or on `address` ("HOST:PORT"), until SIGTERM or SIGINT;
    then stop accepting, let calls in flight finish (up to `grace` seconds)
    and return. The default address is 127.0.0.1:8080.

    With `workers=N`, N processes serve the same port (SO_REUSEPORT), one event
    loop each; uvloop is used when it is installed.

    An address that cannot be served (in use, not allowed, malformed) is
    logged as one line, and the process exits with status 1.
    """
    if address is not None and (host is not None or port is not None):
        raise TypeError("run() takes either address or host and port, not both")
    try:
        if address is not None:
            host, port = parse_address(address)
        host, port = host or "127.0.0.1", 8080 if port is None else port
        if workers <= 1:
            _run_loop(_serve(handlers, host, port, layers, grace, reuse_port=False))
            return
        # Bound here first, so that an address in use is one message, not one
        # per worker, and port 0 becomes one port for all of them.
        reserved = _reserve(host, port)
    except (ValueError, ServerStartError) as exc:
        _give_up(exc)
    port = reserved.getsockname()[1]
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker
            status = 0
            try:
                reserved.close()
                _run_loop(_serve(handlers, host, port, layers, grace, reuse_port=True))
            except (ValueError, ServerStartError) as exc:
                log.error("%s", exc)
                status = 1
            finally:
                os._exit(status)
        children.append(pid)

    def forward(signum: int, frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    failed = False
    for child in children:
        _, status = os.waitpid(child, 0)
        failed |= status != 0
    reserved.close()
    if failed:
        raise SystemExit(1)


def _give_up(error: Exception) -> NoReturn:
    """Say why the server cannot run, in one line, and exit with status 1."""
    log.error("%s", error)
    raise SystemExit(1) from None


def _reserve(host: str, port: int) -> socket.socket:
    """A socket bound to host:port that workers can bind beside (SO_REUSEPORT)."""
    sock: socket.socket | None = None
    try:
        family, kind, proto, _, where = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(where)
    except OSError as exc:
        if sock is not None:
            sock.close()
        raise start_error(host, port, exc) from None
    return sock


async def _serve(
    handlers: Handler | Sequence[Handler],
    host: str,
    port: int,
    layers: Sequence[Layer],
    grace: float,
    reuse_port: bool,
) -> None:
    server = Server(handlers, host, port, layers=layers, reuse_port=reuse_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # before the start-up line: then it counts
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    log.info("serving %s on %s (pid %d, %s codec)", ", ".join(server.services),
             format_address(host, server.port), os.getpid(), IMPLEMENTATION)  # fmt: skip
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
