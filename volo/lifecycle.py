"""A server's life as a process, whatever its protocol: serve until SIGTERM or
SIGINT, then stop accepting, let calls in flight finish (up to a grace
period) and return; optionally as several worker processes on one port."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn, Protocol

from volo.address import format_address
from volo.errors import ServerStartError

log = logging.getLogger("volo.server")


class Serving(Protocol):
    """What `serve` needs of a server."""

    host: str
    port: int  # the port to serve on; once started, the port served on

    @property
    def services(self) -> Sequence[str]:
        """The names of the services served, for the start-up line."""

    @property
    def codec(self) -> str:
        """The codec in use ("cython" or "python"), for the start-up line."""

    @property
    def in_flight(self) -> int: ...

    async def start(self) -> None: ...

    async def close(self, grace: float) -> None: ...


def serve(server: Serving, *, workers: int = 1, grace: float = 10.0) -> None:
    """Serve until SIGTERM or SIGINT, then close with `grace` seconds for the
    calls in flight. With `workers=N`, N forked processes serve the same port
    (the server must bind with SO_REUSEPORT), one event loop each; uvloop is
    used when it is installed. An address that cannot be served is logged as
    one line, and the process exits with status 1."""
    if workers <= 1:
        try:
            run_loop(_serve(server, grace))
        except (ValueError, ServerStartError) as exc:
            give_up(exc)
        return
    try:
        # Bound here first, so that an address in use is one message, not one
        # per worker, and port 0 becomes one port for all of them.
        reserved = reserve(server.host, server.port)
    except ServerStartError as exc:
        give_up(exc)
    port = reserved.getsockname()[1]
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker
            status = 0
            try:
                reserved.close()
                server.port = port
                run_loop(_serve(server, grace))
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


def give_up(error: Exception) -> NoReturn:
    """Say why the server cannot run, in one line, and exit with status 1."""
    log.error("%s", error)
    raise SystemExit(1) from None


def reserve(host: str, port: int) -> socket.socket:
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


async def _serve(server: Serving, grace: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # before the start-up line: then it counts
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    log.info("serving %s on %s (pid %d, %s codec)", ", ".join(server.services),
             format_address(server.host, server.port), os.getpid(), server.codec)  # fmt: skip
    await stop.wait()
    log.info("shutting down: %d call(s) in flight", server.in_flight)
    await server.close(grace)


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    run: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        run = uvloop.run
    # Not inside the `except`: there, every error the loop logs would carry the
    # ImportError along ("No module named 'uvloop'").
    run(main)
