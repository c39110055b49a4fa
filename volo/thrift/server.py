"""The Thrift server: asyncio, many connections, many calls in flight on each.

Each connection detects its peer's transport (framed, buffered, header,
header-in-framed) and protocol (binary, compact) from its first bytes, and
answers in kind. Every complete request runs as its own task, so a slow call
never holds up the others on the connection; each reply goes out in one write
as soon as it is ready. One server may serve several services (Apache's
multiplexed protocol). A request over the size limit is answered with an
error naming the limit, not a closed connection.

No peer can cost the server more than `Limits` allows: connections, calls
in flight (oneway ones too) and request bytes held, per connection and in
all, with idle and read timeouts. At a limit the server stops reading (the
peer waits, its requests held by the kernel) rather than queueing without
bound; work per byte received is bounded, so no request stalls the loop.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from pilota.runtime._helpers import DEFAULT_OBJECTS_PER_BYTE, object_budget
from pilota.runtime.base import Struct
from pilota.runtime.codec import IMPLEMENTATION
from pilota.runtime.message import MessageType, message_parts, read_message, read_message_header
from pilota.runtime.service import ApplicationError, ApplicationErrorType, Handler, Method
from pilota.runtime.types import STRUCT, DecodeError
from volo import decoding, metainfo
from volo.address import format_address, parse_address
from volo.calls import enter_call
from volo.discovery import Registration
from volo.lifecycle import give_up, serve, start_error
from volo.middleware import Context, Layer, stack
from volo.thrift.framing import (
    DEFAULT_MAX_FRAME,
    SEPARATOR,
    FrameError,
    FrameTooLarge,
    Framing,
    Outbox,
    Unframer,
    WireFormat,
    detect,
    framed,
    split_framed_binary,
)
from volo.thrift.header import HeaderFrame, HeaderTruncated, build_header_frame, parse_header_frame

log = logging.getLogger("volo.server")

_FRAMED_BINARY = WireFormat(Framing.FRAMED, "binary")
_CALL_KINDS = (MessageType.CALL, MessageType.ONEWAY)
# A request over the size limit is answered if its message header is within
# this many bytes of its start (past any header block); else the connection closes.
_PEEK_BYTES = 4096
# Where that header must be found, from the start of the request: past a header
# block of the largest size (14 + 4 * 0xFFFF bytes), in the first 64 KiB of payload.
_REFUSE_WINDOW = 14 + 4 * 0xFFFF + 64 * 1024
# Peer data echoed in replies and logs (method names, messages) is cut to this.
_MAX_SHOWN = 256
_MAX_ERROR = 1024
# A connection holding no more request bytes than this reads on even when the
# server's budget (`Limits.max_buffered`) is spent: small calls keep flowing.
_ALLOWANCE = 64 * 1024
# Requests dispatched in one turn of the event loop, at most, from one
# connection: a flood of small calls runs in small batches, others between.
_BATCH = 64
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


@dataclass(frozen=True)
class Limits:
    """What the server lets its peers cost it; `volo.Server(..., limits=Limits(...))`.

    At a limit on calls or bytes, the server stops reading the connections
    concerned (their requests wait in the kernel, the peers' writes block)
    and reads on once below three quarters of it. Worst case, the request
    bytes held are `max_buffered` plus 64 KiB and one read (256 KiB) per
    connection; calls in flight are at most `max_calls`.
    """

    # A connection with no call in flight that sends nothing for this long is
    # closed (None: never).
    idle_timeout: float | None = 300.0
    # A request must arrive whole within this long of the previous one (or of
    # its first byte); else the connection is dropped (None: no limit).
    read_timeout: float | None = 30.0
    # Connections open at once; the next wait in the listen backlog, unaccepted.
    max_connections: int = 10_000
    # Calls (oneway ones too) in flight on all connections, and on one (as
    # Go's HTTP/2 server allows 250 streams): more wait unread, so a flood on
    # one connection queues no more than this ahead of others' calls.
    max_calls: int = 10_000
    max_calls_per_connection: int = 256
    # Request bytes held (received and not yet answered) on all connections,
    # and on one with calls in flight.
    max_buffered: int = 64 * 1024 * 1024
    max_buffered_per_connection: int = 32 * 1024 * 1024
    # Requests larger than this many bytes are decoded on volo's decoding
    # thread, the event loop going on with other calls meanwhile (see
    # volo.decoding; None: all on the loop).
    max_loop_decode: int | None = decoding.MAX_LOOP_DECODE
    # How many structs and containers a request's arguments may build per
    # byte (plus 1024): the codecs' amplification limit (see README).
    objects_per_byte: float = DEFAULT_OBJECTS_PER_BYTE

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "read_timeout"):
            seconds = getattr(self, name)
            if seconds is not None and seconds <= 0:
                raise ValueError(f"{name} must be more than 0 seconds, or None for none")
        for name in ("max_connections", "max_calls", "max_calls_per_connection",
                     "max_buffered", "max_buffered_per_connection"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        decoding.checked(self.max_loop_decode)
        object_budget(0, self.objects_per_byte)  # a ValueError if it is no budget


def _low(limit: int) -> int:
    """Where reading resumes after `limit` was reached."""
    return limit * 3 // 4


def _shown(text: str) -> str:
    """Peer data, cut to a length fit to echo."""
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"


class _Throttled:
    """A warning logged at most once per `interval` seconds for each kind: a
    peer, or a crowd of them, cannot fill the log. The next line says how many
    were left out."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self.next: dict[str, float] = {}
        self.left_out: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self.next.get(kind, 0.0):
            self.left_out[kind] = self.left_out.get(kind, 0) + 1
            return
        self.next[kind] = now + self.interval
        left_out = self.left_out.pop(kind, 0)
        if left_out:
            message += f" (and {left_out} more like it in the last {self.interval:g} s)"
        log.warning(message, *args)


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

    codec = IMPLEMENTATION  # named in the start-up line of `run`

    def __init__(
        self,
        handlers: Handler | Sequence[Handler],
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        reuse_port: bool = False,
        layers: Sequence[Layer] = (),
        limits: Limits = Limits(),  # frozen: one shared default is safe
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
        self.limits = limits
        self._listeners: list[socket.socket] = []
        self._acceptors: list[asyncio.Task[None]] = []
        self._stopped: asyncio.Event | None = None
        self._connections: set[_Connection] = set()
        self._opening = 0  # accepted, not yet connected
        self._openers: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()  # set while under max_connections
        # Calls in flight, and request bytes held, on all connections.
        self.calls = 0
        self.held = 0
        # Connections that stopped reading for a server-wide limit, to wake
        # once below it.
        self.waiting: set[_Connection] = set()
        self.waking = False
        self.notes = _Throttled()

    def unknown(self, name: str) -> str:
        """Why a call named `name` has nowhere to go."""
        service, separator, method = name.rpartition(SEPARATOR)
        if separator and service not in self.services:
            services = ", ".join(self.services)
            return f"unknown service {_shown(service)!r}: this server has {services}"
        return f"unknown method {_shown(method)!r}" + (
            f" of service {service!r}" if separator else ""
        )

    async def start(self) -> None:
        """Listen; raises ServerStartError (one sentence) if the address cannot be had."""
        loop = asyncio.get_running_loop()
        try:
            self._listeners = await _listen(loop, self.host, self.port, self.reuse_port)
        except OSError as exc:
            raise start_error(self.host, self.port, exc) from None
        self.port = self._listeners[0].getsockname()[1]
        self._stopped = asyncio.Event()
        self._count_connections()
        self._acceptors = [loop.create_task(self._accept(s)) for s in self._listeners]

    async def serve_forever(self) -> None:
        if self._stopped is None:
            await self.start()
        assert self._stopped is not None
        try:
            await self._stopped.wait()
        except asyncio.CancelledError:  # as asyncio's serve_forever: listen no more
            self._stop_accepting()

    @property
    def in_flight(self) -> int:
        return self.calls

    async def close(self, grace: float = 10.0) -> None:
        """Stop accepting, let calls in flight finish (up to `grace` seconds), close."""
        self._stop_accepting()
        tasks = [t for c in self._connections for t in c.tasks]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        for connection in list(self._connections):
            connection.close()
        if self._stopped is not None:
            self._stopped.set()

    def _stop_accepting(self) -> None:
        for acceptor in self._acceptors:
            acceptor.cancel()
        for listener in self._listeners:
            listener.close()
        self._acceptors, self._listeners = [], []

    async def _accept(self, listener: socket.socket) -> None:
        """Accept connections while under `max_connections`. Out of file
        descriptors (or memory), it waits, longer each time up to a second,
        serving the connections open meanwhile, and says so once a minute."""
        loop = asyncio.get_running_loop()
        pause = 0.01
        while True:
            await self._room.wait()
            try:
                sock, _ = await loop.sock_accept(listener)
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    self.notes.warning(
                        "accept", "cannot accept connections on %s: %s; serving the %d open",
                        format_address(self.host, self.port), (exc.strerror or str(exc)).lower(),
                        len(self._connections) + self._opening,
                    )  # fmt: skip
                    await asyncio.sleep(pause)
                    pause = min(2 * pause, 1.0)
                elif exc.errno not in (errno.ECONNABORTED, errno.EPROTO, errno.EINTR):
                    self.notes.warning("accept", "cannot accept a connection: %s", exc)
                    await asyncio.sleep(pause)
                continue  # else the peer gave up before we took it: on to the next
            pause = 0.01
            self._opening += 1
            self._count_connections()
            opener = loop.create_task(self._open(loop, sock))
            self._openers.add(opener)  # held until done: the loop keeps only weak references
            opener.add_done_callback(self._openers.discard)

    async def _open(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(lambda: _Connection(self), sock)
        except OSError as exc:
            sock.close()
            log.debug("could not open an accepted connection: %s", exc)
        finally:
            self._opening -= 1
            self._count_connections()

    def _count_connections(self) -> None:
        """Open or close the door (see `_accept`): under `max_connections`, or at it."""
        if len(self._connections) + self._opening < self.limits.max_connections:
            self._room.set()
        else:
            self._room.clear()

    def wake_soon(self) -> None:
        """Wake the connections waiting on a server-wide limit, if below it now."""
        limits = self.limits
        if (
            self.waiting
            and not self.waking
            and self.calls <= _low(limits.max_calls)
            and self.held <= _low(limits.max_buffered)
        ):
            self.waking = True
            asyncio.get_running_loop().call_soon(self._wake)

    def _wake(self) -> None:
        self.waking = False
        waiting, self.waiting = self.waiting, set()
        for connection in waiting:
            connection.waiting = False
            connection.proceed()

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


async def _listen(
    loop: asyncio.AbstractEventLoop, host: str, port: int, reuse_port: bool
) -> list[socket.socket]:
    """Listening sockets for host:port, one per address the host has, as
    `loop.create_server` would make them (which also accepts: we do that
    ourselves, see `Server._accept`)."""
    found = await loop.getaddrinfo(
        host, port, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    listeners: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:  # each family its own socket, as asyncio does
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(1024)
            sock.setblocking(False)
    except OSError:
        for sock in listeners:
            sock.close()
        raise
    return listeners


# One request, unwrapped: its message, its protocol, how to frame the reply,
# and its THeader string headers.
Request = tuple[bytes, str, "Framer", dict[str, str]]


class _Connection(asyncio.Protocol):
    """One peer: its requests, as they come, and the calls they make.

    Reading stops while a limit is reached (see `Limits` and `room`): the peer
    does not read its replies (`pause_writing`), its calls in flight or its
    request bytes held are at the connection's limit, or the server's are.
    Requests already received then wait in the buffer, and `proceed` takes
    them up again once below three quarters of the limit.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self.limits = server.limits
        self.loop = asyncio.get_running_loop()
        self.buffer = bytearray()
        self.format: WireFormat | None = None
        self.unframer: Unframer | None = None
        self.transport: asyncio.Transport | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.peer = ""
        self.skip = 0  # bytes still to come of a refused frame, to drop
        self.draining = False  # a refused unframed request: read nothing more
        self.refuse_at = 0  # try refusing the request in front again at this many bytes
        self.in_flight = 0  # request bytes of the calls in flight
        self.counted = 0  # this connection's part of `server.held`
        self.writing_paused = False  # the peer does not read its replies
        self.reading = True
        self.blocked = False  # no room for another call (`room`)
        self.deferred = False  # the buffer is taken up again next turn (`later`)
        self.waiting = False  # in `server.waiting`
        self.last_active = self.loop.time()  # when bytes came, or a call ended
        self.partial_since: float | None = None  # a request has begun coming since
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport, but behave as one
        self.transport = transport = cast(asyncio.Transport, transport)
        self.outbox = Outbox(transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")
        self.server._connections.add(self)
        self.watch()

    def connection_lost(self, exc: Exception | None) -> None:
        server = self.server
        server._connections.discard(self)
        server._count_connections()
        self.transport = None
        if self.timer is not None:
            self.timer.cancel()
        # The buffer goes; calls in flight give their bytes back as they end.
        server.held -= self.counted - self.in_flight
        self.counted = self.in_flight
        self.buffer = bytearray()
        if self.waiting:
            server.waiting.discard(self)
            self.waiting = False
        server.wake_soon()

    def cancelled(self) -> bool:
        """Whether the peer has gone (`Context.cancelled` of its calls)."""
        return self.transport is None

    def close(self) -> None:
        if self.transport is not None:
            self.outbox.flush()  # replies already made still go out
            self.transport.close()

    def pause_writing(self) -> None:
        # The peer is not reading its replies: take no more of its requests until
        # it does, so that replies cannot pile up in memory.
        self.writing_paused = True
        self.settle()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.proceed()

    def data_received(self, data: bytes) -> None:
        if self.draining:
            return
        self.last_active = self.loop.time()
        if self.skip:
            dropped = min(self.skip, len(data))
            self.skip -= dropped
            data = data[dropped:]
        self.buffer += data
        self.proceed()

    def proceed(self) -> None:
        """Take the requests in the buffer, as far as the limits let us."""
        if self.transport is None:
            return
        try:
            while True:
                try:
                    self.take_requests()
                    break
                except FrameTooLarge as exc:
                    if not self.refuse_first(exc):
                        break  # waiting for more of it, or reading no more
        except FrameError as exc:
            self.server.notes.warning("frame", "closing connection from %s: %s", self.peer, exc)
            self.close()
        self.settle()

    # ---- limits and timeouts --------------------------------------------------------

    def room(self) -> bool:
        """Whether another call may start now."""
        limits = self.limits
        return (
            not self.writing_paused
            and len(self.tasks) < limits.max_calls_per_connection
            and self.server.calls < limits.max_calls
            and (not self.tasks or self.in_flight < limits.max_buffered_per_connection)
        )

    def settle(self) -> None:
        """Account for the buffer, and read on or not, after a change."""
        server = self.server
        held = len(self.buffer) + self.in_flight
        change, self.counted = held - self.counted, held
        server.held += change
        if change < 0:
            server.wake_soon()
        if self.transport is None:
            return
        self.blocked = not self.room()
        if (self.buffer or self.skip) and not self.blocked:
            if self.partial_since is None:
                self.partial_since = self.last_active
        else:
            self.partial_since = None
        limits = self.limits
        over_budget = held > _ALLOWANCE and server.held >= limits.max_buffered
        server_wide = over_budget or (self.blocked and server.calls >= limits.max_calls)
        if server_wide and not self.waiting:
            server.waiting.add(self)
            self.waiting = True
        reading = not (self.blocked or over_budget or self.deferred)
        if reading != self.reading:
            self.reading = reading
            if reading:
                self.transport.resume_reading()
            else:
                self.transport.pause_reading()

    def call_done(self, size: int, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.in_flight -= size
        self.counted -= size
        server = self.server
        server.held -= size
        server.calls -= 1
        self.last_active = self.loop.time()
        if (
            self.blocked
            and len(self.tasks) <= _low(self.limits.max_calls_per_connection)
            and self.in_flight <= _low(self.limits.max_buffered_per_connection)
        ):
            self.proceed()
        if server.waiting:
            server.wake_soon()

    def watch(self) -> None:
        """Check the connection's timeouts when the next may fall due."""
        limits = self.limits
        timeouts = [t for t in (limits.read_timeout, limits.idle_timeout) if t is not None]
        if timeouts:
            self.timer = self.loop.call_at(self.loop.time() + min(timeouts), self.check_time)

    def check_time(self) -> None:
        """Drop a connection whose request is slower to come than `read_timeout`,
        and close one idle for `idle_timeout`."""
        self.timer = None
        if self.transport is None:
            return
        limits, now = self.limits, self.loop.time()
        due = [now + t for t in (limits.read_timeout, limits.idle_timeout) if t is not None]
        if self.partial_since is not None and limits.read_timeout is not None:
            late = self.partial_since + limits.read_timeout
            if now >= late:
                self.server.notes.warning(
                    "read_timeout", "dropping connection from %s: a request still incomplete "
                    "after %g s (read_timeout)", self.peer, limits.read_timeout,
                )  # fmt: skip
                self.transport.abort()
                return
            due.append(late)
        elif not self.tasks and limits.idle_timeout is not None:
            idle_until = self.last_active + limits.idle_timeout
            if now >= idle_until:
                log.debug("closing idle connection from %s", self.peer)
                self.outbox.flush()
                if self.transport.get_write_buffer_size():
                    self.transport.abort()  # replies the peer has not read for so long: dropped
                else:
                    self.transport.close()
                return
            due.append(idle_until)
        self.timer = self.loop.call_at(min(due), self.check_time)

    # ---- requests ------------------------------------------------------------------

    def take_requests(self) -> None:
        """Dispatch the complete requests in the buffer, while there is room:
        `_BATCH` of them at most, then the rest on the loop's next turn."""
        batch = _BATCH
        if self.format == _FRAMED_BINARY:
            batch -= self.take_framed_binary(batch)
        while batch and self.transport is not None and self.room():
            request = self.next_request()
            if request is None:
                if self.unframer is not None and self.unframer.paused:
                    self.later()  # a long unframed request: measured on, next turn
                return
            payload, protocol, framer, headers = request
            try:
                header, body = read_message(payload, protocol)
            except DecodeError as exc:
                raise FrameError(f"bad message header: {exc}") from None
            self.dispatch(
                header.name, header.type, header.seqid, body, protocol, framer, headers
            )
            batch -= 1
        if not batch and self.buffer:
            self.later()

    def later(self) -> None:
        """Go on with the buffer on the loop's next turn, letting others run first."""
        if not self.deferred:
            self.deferred = True
            self.loop.call_soon(self.go_on)

    def go_on(self) -> None:
        self.deferred = False
        self.proceed()

    def take_framed_binary(self, batch: int) -> int:
        """Dispatch up to `batch` framed strict-binary calls, read in place; how many."""
        buffer, limits = self.buffer, self.limits
        most = min(
            batch,
            limits.max_calls_per_connection - len(self.tasks),
            limits.max_calls - self.server.calls,
        )
        if most <= 0 or not self.room():
            return 0
        messages, consumed = split_framed_binary(buffer, self.server.max_frame, _CALL_KINDS, most)
        budget = limits.max_buffered_per_connection
        dispatched = 0
        for kind, seqid, name_start, body_start, end in messages:
            if self.transport is None:
                break
            try:
                name = buffer[name_start : body_start - 4].decode()
            except UnicodeDecodeError:
                consumed = name_start - 12  # this one's frame: `next_request` reports it
                break
            call = MessageType.CALL if kind == MessageType.CALL else MessageType.ONEWAY
            body = bytes(buffer[body_start:end])
            self.dispatch(name, call, seqid, body, "binary", framed, {})
            dispatched += 1
            if self.in_flight >= budget:
                consumed = end  # the rest waits (see `room`)
                break
        if dispatched:
            self.partial_since = None  # a request came whole: the clock starts again
        del buffer[:consumed]
        return dispatched

    def next_request(self) -> Request | None:
        """The next complete request, unwrapped; None until one has all come."""
        if self.unframer is None:
            self.format = detect(self.buffer)
            if self.format is None:
                return None
            self.unframer = Unframer(self.format, self.server.max_frame)
        while self.transport is not None:
            data = self.unframer.take(self.buffer)
            if data is None:
                return None
            self.partial_since = None  # a request came whole: the clock starts again
            try:
                return self.unwrap(data)
            except FrameTooLarge as exc:  # compressed, it was not; inflated, it is
                self.refuse(data, exc, complete=True)
        return None

    def unwrap(self, data: bytes, partial: bool = False) -> Request:
        """A message as taken off the stream (a frame's payload, a header
        frame, an unframed message), or with `partial` the start of one (then
        a compressed payload is inflated only as far as `refuse` needs)."""
        assert self.format is not None
        framing, protocol = self.format.framing, self.format.protocol
        if framing is Framing.BUFFERED:
            return data, protocol, _unframed, {}
        if framing is Framing.FRAMED:
            return data, protocol, framed, {}
        limit = _PEEK_BYTES if partial else self.server.max_frame
        frame = parse_header_frame(data, limit, partial=partial)
        framer = functools.partial(_header_framed, framing, frame)
        return frame.payload, frame.protocol, framer, frame.headers

    def refuse_first(self, exc: FrameTooLarge) -> bool:
        """Refuse the request at the front of the buffer, over the size limit,
        and drop it; True if the requests after it can be read.

        Its start is read again only when the buffer has doubled (up to the
        window its message header must be in), so a peer sending it a byte at
        a time costs work linear in what it sends."""
        assert self.format is not None
        framing = self.format.framing
        start = 0 if framing is Framing.BUFFERED else 4 + framing.header_offset
        window = start + _REFUSE_WINDOW
        if len(self.buffer) < min(self.refuse_at, window):
            return False
        head = bytes(self.buffer[start:window])
        if not self.refuse(head, exc, complete=len(self.buffer) >= window):
            self.refuse_at = 2 * len(self.buffer)
            return False
        self.refuse_at = 0
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
        """Answer the request that `head` starts (or, `complete`, is all of
        there is to read of): it is over the size limit. False if more of it
        must come first; FrameError if it cannot be read."""
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
        name = _shown(header.name)
        message = f"{name}: the request{of} is over the server's {exc.limit}-byte limit"
        self.server.notes.warning("refused", "refused a request from %s: %s", self.peer, message)
        if header.type is not MessageType.ONEWAY:
            reply = Reply(self, name, header.seqid, protocol, framer)
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
                reply = Reply(self, _shown(name), seqid, protocol, framer)
                reply.error(ApplicationErrorType.UNKNOWN_METHOD, self.server.unknown(name))
            return
        reply = Reply(self, route.name, seqid, protocol, framer)
        if not decoding.on_loop(len(body), self.limits.max_loop_decode):
            coro = self.decode_and_call(reply, route, body, protocol, headers, oneway)
        else:
            try:
                args = self.arguments(route, body, protocol)
            except DecodeError as exc:
                if not oneway:
                    reply.error(ApplicationErrorType.PROTOCOL_ERROR, f"bad arguments: {exc}")
                return
            coro = self.start_call(reply, route, args, headers, oneway)
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        size = len(body)
        self.in_flight += size
        self.server.calls += 1
        task.add_done_callback(functools.partial(self.call_done, size))

    def arguments(self, route: _Route, body: bytes, protocol: str) -> Struct:
        """A request's arguments; DecodeError if they cannot be read."""
        budget = self.limits.objects_per_byte
        return route.method.args.from_bytes(body, protocol, objects_per_byte=budget)

    def start_call(
        self, reply: Reply, route: _Route, args: Struct, headers: dict[str, str], oneway: bool
    ) -> Coroutine[Any, Any, None]:
        """The call to the handler, through the layers if there are any."""
        if self.server.direct:
            return self.invoke_handler(reply, route, args, headers, oneway)
        ctx = Context(route.service, route.name, oneway, "server", self.peer, headers, call=self)
        return self.invoke(reply, ctx, args)

    async def decode_and_call(
        self,
        reply: Reply,
        route: _Route,
        body: bytes,
        protocol: str,
        headers: dict[str, str],
        oneway: bool,
    ) -> None:
        """A large request (see `Limits.max_loop_decode`): decoded on volo's
        decoding thread, while the loop serves other calls."""
        try:
            args = await decoding.off_loop(self.arguments, route, body, protocol)
        except DecodeError as exc:
            if not oneway:
                reply.error(ApplicationErrorType.PROTOCOL_ERROR, f"bad arguments: {exc}")
            return
        await self.start_call(reply, route, args, headers, oneway)

    async def invoke_handler(
        self, reply: Reply, route: _Route, args: Struct, headers: dict[str, str], oneway: bool
    ) -> None:
        """`invoke` with no layers to pass: no Context made, and the handler called
        here rather than through `_HandlerService` (one coroutine less per call)."""
        if headers:
            metainfo.receive(headers)
        enter_call(lambda: Context(route.service, route.name, oneway, "server", self.peer,
                                   headers, call=self))  # fmt: skip
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
        enter_call(ctx)
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
        if len(message) > _MAX_ERROR:  # it may hold what the peer sent: bounded
            message = message[:_MAX_ERROR] + "…"
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
    limits: Limits = Limits(),  # frozen: one shared default is safe
    registration: Registration | None = None,
) -> None:
    """Serve `handlers` (one, or several on one port: see `Server`) on
    `host`:`port`, or on `address` ("HOST:PORT"), until SIGTERM or SIGINT;
    then stop accepting, let calls in flight finish (up to `grace` seconds)
    and return. The default address is 127.0.0.1:8080. `limits`: see
    `Limits` (each worker has its own).

    With a `registration` (`volo.discovery.Registration`), the server
    registers in a registry once it listens, and on SIGTERM leaves it before
    it stops accepting.

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
        server = Server(handlers, host, port, layers=layers, limits=limits, reuse_port=workers > 1)
    except ValueError as exc:
        give_up(exc)
    serve(server, workers=workers, grace=grace, registration=registration)
