"""volo.decoding: the thread the servers decode large requests on."""

from __future__ import annotations

import asyncio
import contextvars
import multiprocessing
import threading

import pytest

from volo import decoding

_where = contextvars.ContextVar("where", default="unset")


def _thread_and_context(value: int) -> tuple[str, str, int]:
    return threading.current_thread().name, _where.get(), value


async def test_decoding_runs_on_one_thread_in_the_callers_context() -> None:
    _where.set("the caller's")
    name, where, value = await decoding.off_loop(_thread_and_context, 7)
    assert name.startswith("volo-decode") and (where, value) == ("the caller's", 7)
    assert await decoding.decoded(10, 10, _thread_and_context, 1) == (
        threading.current_thread().name, "the caller's", 1)  # fmt: skip
    assert (await decoding.decoded(11, 10, _thread_and_context, 1))[0] == name
    assert (await decoding.decoded(10**9, None, _thread_and_context, 1))[0] != name
    with pytest.raises(ValueError, match=r"^max_loop_decode must be at least 0, or None"):
        decoding.checked(-1)


def _in_child(results: multiprocessing.Queue[str]) -> None:
    name, _, _ = asyncio.run(asyncio.wait_for(decoding.off_loop(_thread_and_context, 0), 10))
    results.put(name)


async def test_a_forked_process_makes_its_own_decoding_thread() -> None:
    """A worker forked after its parent decoded has none of the parent's
    threads: without a thread of its own, its decoding would wait forever."""
    await decoding.off_loop(_thread_and_context, 0)  # the parent's thread is made
    fork = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[str] = fork.Queue()
    child = fork.Process(target=_in_child, args=(results,))
    child.start()
    try:
        assert results.get(timeout=30).startswith("volo-decode")
    finally:
        child.join(30)
    assert child.exitcode == 0
