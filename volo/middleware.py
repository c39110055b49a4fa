"""Middleware: services and the layers that wrap them, alike on client and server.

A `Service` turns a request (a method's args struct) into a response (its
result struct, or None for oneway calls). The server's innermost service runs
the handler; the client's sends the call. A `Layer` wraps a service in
another: timeouts, logging, limits, whatever a deployment needs.

    server = volo.Server(handler, layers=[AccessLog(), ConcurrencyLimit(100), Timeout(2.0)])

The first layer is the outermost: it sees the call first and its result last.
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


@dataclass(slots=True)
class Context:
    """What a layer knows about the call passing through it."""

    service: str
    method: str
    oneway: bool = False
    side: str = "client"  # "client" or "server"
    peer: str = ""  # the other end, host:port
    headers: dict[str, str] = field(default_factory=dict)  # transport headers (TTHeader)
    timeout: float | None = None  # client: the call's timeout, seconds (None: none)
    result_class: type[Struct] | None = None  # what the response decodes to
    endpoint: Any = None  # client: the volo.Endpoint the call goes to


class Service(Protocol):
    async def call(self, ctx: Context, request: Struct) -> Struct | None: ...


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
    (a TimeoutError) naming the call and the seconds."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def layer(self, inner: Service) -> Service:
        seconds = self.seconds

        class _Timeout(_Wrapped):
            async def call(self, ctx: Context, request: Struct) -> Struct | None:
                scope = asyncio.timeout(seconds)
                try:
                    async with scope:
                        return await self.inner.call(ctx, request)
                except TimeoutError:
                    if not scope.expired():
                        raise  # not this layer's: an inner one's, or the handler's own
                    raise CallTimeout.after(f"{ctx.service}.{ctx.method}", seconds) from None

        return _Timeout(inner)


class ConcurrencyLimit:
    """At most `limit` calls run at once through this layer; the rest wait."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def layer(self, inner: Service) -> Service:
        semaphore = asyncio.Semaphore(self.limit)

        class _Limit(_Wrapped):
            async def call(self, ctx: Context, request: Struct) -> Struct | None:
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
            async def call(self, ctx: Context, request: Struct) -> Struct | None:
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
