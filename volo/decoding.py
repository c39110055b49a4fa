"""Where the servers decode large requests: on a thread of the process's, not
on the event loop.

Decoding holds the GIL, and pilota's compiled codecs let a thread waiting for
it have a turn every 4,096 items or fields they read (the pure ones are Python's, which
switches threads by itself). A request decoded on this thread so leaves the
event loop turns every few milliseconds to serve other calls, where decoding
it on the loop would hold them all up: a mebibyte of tiny structs takes the
compiled codec a tenth of a second, and JSON into generated classes several.
One thread for the process: more would decode no faster.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# The servers' default `max_loop_decode`: requests up to this many bytes are
# decoded on the event loop (a few milliseconds at most), larger ones here.
MAX_LOOP_DECODE = 64 * 1024

_executor: ThreadPoolExecutor | None = None


def checked(max_loop_decode: int | None) -> int | None:
    if max_loop_decode is not None and max_loop_decode < 0:
        raise ValueError("max_loop_decode must be at least 0, or None for no limit")
    return max_loop_decode


def on_loop(size: int, max_loop_decode: int | None) -> bool:
    """Whether a request of `size` bytes is decoded on the event loop."""
    return max_loop_decode is None or size <= max_loop_decode


async def off_loop(decode: Callable[..., T], *args: object) -> T:
    """`decode(*args)`, on the decoding thread (in a copy of this context)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(1, thread_name_prefix="volo-decode")
    call = functools.partial(contextvars.copy_context().run, decode, *args)
    return await asyncio.get_running_loop().run_in_executor(_executor, call)


async def decoded(
    size: int, max_loop_decode: int | None, decode: Callable[..., T], *args: object
) -> T:
    """`decode(*args)` for a request of `size` bytes: on the event loop, or
    over `max_loop_decode` bytes on the decoding thread."""
    if on_loop(size, max_loop_decode):
        return decode(*args)
    return await off_loop(decode, *args)


def _forget() -> None:
    # A forked worker process has none of its parent's threads: it makes its own.
    global _executor
    _executor = None


os.register_at_fork(after_in_child=_forget)
