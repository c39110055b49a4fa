"""What a call runs under, whatever its protocol: the call being handled
(`call_context`), the timeout set for a block of calls (`timeout`), and the
timeout of a call made now (`call_timeout`), which a deadline of the call
being handled bounds.

    async def Get(self, request):                   # a handler, Thrift or gRPC
        ctx = volo.call_context()
        ctx.peer, ctx.headers, ctx.time_remaining(), ctx.cancelled()
        return await downstream.Get(request)        # waits no longer than ctx.deadline
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TypeVar

from volo.middleware import Context

_T = TypeVar("_T")
# The timeout set by `timeout()`: (seconds,) with None for none; None where unset.
_block_timeout: ContextVar[tuple[float | None] | None] = ContextVar(
    "volo_call_timeout", default=None
)
# The call being handled: its Context, or what makes it when first asked for
# (a Thrift server without layers makes none unless a handler asks).
_current: ContextVar[Context | Callable[[], Context] | None] = ContextVar(
    "volo_call_context", default=None
)


@contextmanager
def set_within(var: ContextVar[_T], value: _T) -> Iterator[None]:
    """`var` is `value` inside the block, and what it was before after it."""
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def timeout(seconds: float | None) -> AbstractContextManager[None]:
    """Calls made inside this block wait at most `seconds` for their reply;
    with None, as long as it takes; with 0 (or less), the time is up already:
    they fail with CallTimeout, unsent.

    with volo.timeout(0.2):
        reply = await client.get(key)
    """
    return set_within(_block_timeout, (seconds,))


def block_timeout(default: float | None) -> float | None:
    """The timeout of a call made now that gives none itself: the innermost
    `timeout` block's, else `default` (the client's)."""
    block = _block_timeout.get()
    return default if block is None else block[0]


def call_timeout(given: float | None, default: float | None) -> float | None:
    """The timeout of a call made now: `given` (the call's own), else the
    innermost `timeout` block's, else `default`; never past the deadline of
    the call being handled (deadlines propagate downstream)."""
    seconds = given if given is not None else block_timeout(default)
    current = _current.get()
    if isinstance(current, Context) and current.deadline is not None:
        left = current.deadline - asyncio.get_running_loop().time()
        if seconds is None or left < seconds:
            return left
    return seconds


def call_context() -> Context:
    """The Context of the call being handled (in a handler, or anything it
    calls): service, method, peer, headers, deadline and `time_remaining()`,
    `cancelled()`. The same object the server's layers see. Raises
    LookupError outside a call."""
    current = _current.get()
    if current is None:
        raise LookupError("no call is being handled here: call_context() is for handlers")
    if not isinstance(current, Context):
        current = current()
        _current.set(current)
    return current


def enter_call(context: Context | Callable[[], Context]) -> None:
    """Servers: the call handled in this task (each call runs in its own) is
    `context`, or what `context()` makes."""
    _current.set(context)
