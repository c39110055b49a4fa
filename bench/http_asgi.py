"""CPU per request of the HTTP apps, in process: volo.http beside Starlette and FastAPI.

No sockets and no load generator (this machine is shared): the apps of
bench/http_bench.py (the same source) run in this process, in two tables:

- the app alone: `await app(scope, receive, send)` with the scope uvicorn's
  httptools protocol makes for wrk's request, one request at a time, each in
  a fresh copy of the context (as in a task of its own). Nothing waits here,
  so each call runs to its end in one step; an app that suspends (a task, a
  sleep, an extra event-loop hop) is reported;
- behind uvicorn: uvicorn's own httptools protocol on uvloop, fed wrk's request
  bytes on N connections, each sending its next request once its answer is
  written (as wrk does), over transports that drop what is written: the
  server's and the app's CPU per request, and a p99 latency of requests that
  queue only behind each other.

Cells: µs of CPU per request (alone: the best of timed batches; behind uvicorn:
over all requests, in the best of three runs), p99 latency (wall time, of that
run), and garbage collections per 10,000 requests (a full one pauses every
connection).

    python bench/http_asgi.py [--requests N] [--connections N]
    python bench/http_asgi.py --profile ROUTE [--app NAME]  # cProfile of the app alone
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import cProfile
import gc
import pstats
import statistics
import sys
import time
import types
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import uvloop
from http_bench import APPS, ROUTES

App = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]
NAMES = tuple(APPS)  # ours, Starlette, FastAPI


def load_app(name: str) -> App:
    """The app `name` serves in bench/http_bench.py, as a module of its own."""
    module = types.ModuleType("app_" + name.split()[0].lower())
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(APPS[name], f"<{name}>", "exec"), module.__dict__)
    return module.app  # type: ignore[no-any-return]


def scope_of(method: str, target: str, body: str | None) -> dict[str, Any]:
    """The scope uvicorn's httptools protocol makes for wrk's request."""
    path, _, query = target.partition("?")
    headers = [(b"host", b"127.0.0.1:8000")]
    if body is not None:
        headers += [(b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json")]  # fmt: skip
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "root_path": "",
        "headers": headers,
        "state": {},
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
    }


def request_of(
    app: App, row: str, send: Callable[[dict[str, Any]], Awaitable[None]] | None = None
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A call of `app` for `row` as one request (a new scope and body each time);
    what the app sends goes to `send` (by default, nowhere)."""
    method, target, body = ROUTES[row]
    payload = (body or "").encode()

    async def drop(message: dict[str, Any]) -> None:
        pass

    def request() -> Coroutine[Any, Any, None]:
        message = {"type": "http.request", "body": payload, "more_body": False}

        async def receive() -> dict[str, Any]:
            return message

        return app(scope_of(method, target, body), receive, send or drop)

    return request


def run_one(call: Coroutine[Any, Any, None]) -> None:
    """Run `call` to its end in one step, in a context of its own."""
    try:
        contextvars.copy_context().run(call.send, None)
    except StopIteration:
        return
    call.close()
    raise SystemExit("the app suspended: it waits for the event loop (a task, a sleep?)")


def check(app: App, name: str) -> None:
    """Each route answers 200 with a body (so the timings are of real answers)."""
    for row in ROUTES:
        sent: list[dict[str, Any]] = []

        async def record(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        run_one(request_of(app, row, record)())
        if sent[0]["status"] != 200 or not sent[-1]["body"]:
            raise SystemExit(f"{name}, {row}: answered {sent}")


def measure(request: Callable[[], Coroutine[Any, Any, None]], total: int) -> tuple[float, float]:
    """(µs of CPU per request in the least disturbed of the timed batches; GCs per
    10,000 requests). CPU time, not wall time, and the best batch: other jobs
    share this machine."""
    batch = 500
    for _ in range(batch):  # warm up
        run_one(request())
    collections = 0

    def count(phase: str, info: dict[str, int]) -> None:
        nonlocal collections
        collections += phase == "start"

    per_request = []
    gc.callbacks.append(count)
    try:
        for _ in range(max(1, total // batch)):
            start = time.process_time_ns()
            for _ in range(batch):
                run_one(request())
            per_request.append((time.process_time_ns() - start) / batch / 1000)
    finally:
        gc.callbacks.remove(count)
    return min(per_request), collections * 10_000 / (len(per_request) * batch)


class _Transport(asyncio.Transport):
    """A connection's socket as uvicorn's protocol sees it: what it writes is dropped."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        addresses = {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}
        return addresses.get(name, default)

    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


def raw_request(row: str) -> bytes:
    """The bytes wrk sends for `row`."""
    method, target, body = ROUTES[row]
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    if body is not None:
        head += f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n"
    return (head + "\r\n" + (body or "")).encode()


async def served(app: App, row: str, total: int, connections: int) -> tuple[float, float, float]:
    """`app` behind uvicorn's httptools protocol on the running loop, `connections`
    connections each sending its next request as soon as its answer is written,
    as wrk does, without sockets: (µs of CPU per request, p99 latency in ms, GCs
    per 10,000 requests)."""
    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    loop = asyncio.get_running_loop()
    config = Config(app=app, http="httptools", lifespan="off", access_log=False,
                    log_level="warning")  # fmt: skip
    config.load()
    state = ServerState()
    data = raw_request(row)
    done = loop.create_future()
    latencies: list[int] = []
    started = 0

    def connect() -> None:
        protocol = HttpToolsProtocol(config, state, {}, loop)
        protocol.connection_made(_Transport())
        answered = protocol.on_response_complete
        sent_at = 0

        def on_response_complete() -> None:
            nonlocal sent_at
            answered()
            latencies.append(time.perf_counter_ns() - sent_at)
            if len(latencies) == total and not done.done():
                done.set_result(None)
            loop.call_soon(send_next)

        def send_next() -> None:
            nonlocal sent_at, started
            if started < total:
                started += 1
                sent_at = time.perf_counter_ns()
                protocol.data_received(data)

        protocol.on_response_complete = on_response_complete  # type: ignore[method-assign]
        send_next()

    collections = 0

    def count(phase: str, info: dict[str, int]) -> None:
        nonlocal collections
        collections += phase == "start"

    gc.callbacks.append(count)
    start = time.process_time_ns()
    try:
        for _ in range(connections):
            connect()
        await done
    finally:
        gc.callbacks.remove(count)
    elapsed = time.process_time_ns() - start
    await asyncio.sleep(0.01)  # the last tasks end
    p99 = statistics.quantiles(latencies, n=100)[98] / 1e6
    return elapsed / total / 1000, p99, collections * 10_000 / total


def profile(app: App, row: str, total: int) -> None:
    request = request_of(app, row)
    for _ in range(500):
        run_one(request())
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(total):
        run_one(request())
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="timed requests per cell")
    parser.add_argument("--profile", metavar="ROUTE", choices=list(ROUTES),
                        help="profile one route instead")  # fmt: skip
    parser.add_argument("--connections", type=int, default=50, help="behind uvicorn")
    parser.add_argument("--app", default=NAMES[0], choices=NAMES, help="the app to profile")
    args = parser.parse_args()
    apps = {name: load_app(name) for name in NAMES}
    for name, app in apps.items():
        check(app, name)
    if args.profile:
        profile(apps[args.app], args.profile, args.requests)
        return
    print(f"The app alone, one request at a time: µs of CPU per request (best batch), "
          f"GCs per 10k requests; {args.requests:,} requests per cell")  # fmt: skip
    header = f"{'route':28}" + "".join(f"{name:>26}" for name in NAMES)
    print(header)
    print("-" * len(header))
    for row in ROUTES:
        cells = []
        for name in NAMES:
            micros, collections = measure(request_of(apps[name], row), args.requests)
            cells.append(f"{micros:>12.1f} µs {collections:>6.1f} GCs")
        print(f"{row:28}" + "".join(f"{c:>26}" for c in cells))
    print()
    print(f"Behind uvicorn's httptools protocol on uvloop, {args.connections} connections, "
          f"no sockets: µs of CPU per request, p99 latency, GCs per 10k requests")  # fmt: skip
    header = f"{'route':28}" + "".join(f"{name:>36}" for name in NAMES)
    print(header)
    print("-" * len(header))
    for row in ROUTES:
        cells = []
        for name in NAMES:
            await served(apps[name], row, 2_000, args.connections)  # warm up
            runs = [await served(apps[name], row, args.requests, args.connections)
                    for _ in range(3)]  # fmt: skip
            micros, p99, collections = min(runs)  # the least disturbed by other jobs
            cells.append(f"{micros:>10.1f} µs {p99:>8.2f} ms {collections:>6.1f} GCs")
        print(f"{row:28}" + "".join(f"{c:>36}" for c in cells))


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
