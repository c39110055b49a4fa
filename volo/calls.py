"""What a call made now runs under, whatever its protocol: the timeout set for
a block of calls (`timeout`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TypeVar

_T = TypeVar("_T")
# The timeout set by `timeout()`: (seconds,) with None for none; None where unset.
_block_timeout: ContextVar[tuple[float | None] | None] = ContextVar(
    "volo_call_timeout", default=None
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
