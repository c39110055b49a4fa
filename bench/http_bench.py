"""HTTP throughput and tail latency: volo.http beside Starlette and FastAPI.

Prints one table from one run. Each framework serves the same three routes
from the same ASGI server (uvicorn, one worker, httptools and uvloop, no
access log), in its own process; wrk loads each route for a few seconds (after
a warm-up) with 50 connections on one thread:

- plaintext: GET /plaintext, "Hello, World!";
- JSON echo: POST /echo with the medium struct of bench/codec.py as JSON,
  read into a typed, checked value and written back (ours: a dataclass;
  FastAPI: a pydantic model; Starlette: `await request.json()`, unchecked);
- path + query: GET /users/{id}?limit=10&offset=20, the three as integers,
  answered as JSON.

Columns: requests per second and p99 latency, per framework.

    python bench/http_bench.py [--seconds S] [--connections N]
    python bench/http_bench.py --check     # each app answers each route alike; no load
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codec import LEAF, VALUES  # the medium struct of the codec benchmark

MEDIUM = {**VALUES, "leaf": LEAF}
BODY = json.dumps(MEDIUM, separators=(",", ":"))
ROUTES = {  # row -> (method, path, body)
    "plaintext": ("GET", "/plaintext", None),
    "JSON echo (medium struct)": ("POST", "/echo", BODY),
    "path + 2 query params": ("GET", "/users/42?limit=10&offset=20", None),
}
EXPECTED = {
    "plaintext": b"Hello, World!",
    "JSON echo (medium struct)": MEDIUM,
    "path + 2 query params": {"id": 42, "limit": 10, "offset": 20},
}

OURS = '''
from dataclasses import dataclass
from volo import http


@dataclass
class Leaf:
    label: str
    weight: int


@dataclass
class Medium:
    a_byte: int
    a_i16: int
    a_i32: int
    a_i64: int
    name: str
    score: float
    active: bool
    values: list[int]
    counts: dict[str, int]
    leaf: Leaf


app = http.Router()


@app.get("/plaintext")
async def plaintext() -> str:
    return "Hello, World!"


@app.post("/echo")
async def echo(medium: Medium) -> Medium:
    return medium


@app.get("/users/{user_id}")
async def user(user_id: int, limit: int, offset: int) -> dict[str, int]:
    return {"id": user_id, "limit": limit, "offset": offset}
'''

STARLETTE = '''
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def plaintext(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello, World!")


async def echo(request: Request) -> JSONResponse:
    return JSONResponse(await request.json())


async def user(request: Request) -> JSONResponse:
    return JSONResponse({"id": int(request.path_params["user_id"]),
                         "limit": int(request.query_params["limit"]),
                         "offset": int(request.query_params["offset"])})


app = Starlette(routes=[
    Route("/plaintext", plaintext),
    Route("/echo", echo, methods=["POST"]),
    Route("/users/{user_id:int}", user),
])
'''

FASTAPI = '''
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel


class Leaf(BaseModel):
    label: str
    weight: int


class Medium(BaseModel):
    a_byte: int
    a_i16: int
    a_i32: int
    a_i64: int
    name: str
    score: float
    active: bool
    values: list[int]
    counts: dict[str, int]
    leaf: Leaf


app = FastAPI()


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return "Hello, World!"


@app.post("/echo")
async def echo(medium: Medium) -> Medium:
    return medium


@app.get("/users/{user_id}")
async def user(user_id: int, limit: int, offset: int) -> dict[str, int]:
    return {"id": user_id, "limit": limit, "offset": offset}
'''

APPS = {"ours (volo.http)": OURS, "Starlette": STARLETTE, "FastAPI": FASTAPI}


@contextmanager
def served(folder: Path, name: str, source: str) -> Iterator[str]:
    """`source` served by uvicorn in its own process; yields its base URL."""
    module = "app_" + re.sub(r"\W+", "_", name.lower()).strip("_")
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    # A port, not a socket passed with --fd: uvicorn takes those for Unix sockets,
    # so it would not turn Nagle's algorithm off (40 ms per response, with
    # delayed ACKs).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(repo)])}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port",
         str(port), "--http", "httptools", "--loop", "uvloop", "--no-access-log",
         "--log-level", "warning"],
        env=env, cwd=folder,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/plaintext", timeout=5).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{name}: the server did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def fetch(base: str, method: str, path: str, body: str | None) -> bytes:
    data = body.encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"content-type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def check(base: str, name: str) -> None:
    """Each route answers as the others' do."""
    for row, (method, path, body) in ROUTES.items():
        answer = fetch(base, method, path, body)
        expected = EXPECTED[row]
        got = answer if isinstance(expected, bytes) else json.loads(answer)
        if got != expected:
            raise SystemExit(f"{name}, {row}: answered {answer[:200]!r}")


def load(base: str, method: str, path: str, body: str | None, seconds: float,
         connections: int, folder: Path) -> tuple[float, float]:  # fmt: skip
    """(requests per second, p99 latency in ms) from one wrk run."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if body is not None:
        script = folder / "post.lua"
        script.write_text(
            f'wrk.method = "{method}"\n'
            f"wrk.body = {json.dumps(body)}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        command += ["-s", str(script)]
    out = subprocess.run([*command, base + path], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load per route")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each load")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--check", action="store_true", help="check the apps answer alike")
    parser.add_argument(
        "--rounds", type=int, default=2,
        help="rounds over the frameworks, in turn forward and backward; each row keeps the "
        "best round of each (default 2)",
    )  # fmt: skip
    args = parser.parse_args()
    if not args.check and shutil.which("wrk") is None:
        raise SystemExit("bench/http_bench.py needs wrk (Debian: apt-get install wrk)")
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="volo-http-bench-") as tmp:
        folder = Path(tmp)
        for round_ in range(1 if args.check else max(1, args.rounds)):
            order = list(APPS.items())
            for name, source in order if round_ % 2 == 0 else order[::-1]:
                with served(folder, name, source) as base:
                    check(base, name)
                    if args.check:
                        print(f"{name}: every route answers as expected")
                        continue
                    for row, (method, path, body) in ROUTES.items():
                        if args.warmup > 0:
                            load(base, method, path, body, args.warmup, args.connections, folder)
                        measured = load(
                            base, method, path, body, args.seconds, args.connections, folder
                        )
                        best = results.setdefault(row, {}).get(name)
                        if best is None or measured[0] > best[0]:
                            results[row][name] = measured
    if args.check:
        return
    names = list(APPS)
    ours, anchors = names[0], names[1:]
    print(f"uvicorn (httptools, uvloop), 1 worker; wrk -t1 -c{args.connections}, "
          f"{args.seconds:g} s per route, best of {args.rounds} rounds (frameworks in turn "
          "forward and backward); req/s and p99 ms")  # fmt: skip
    header = f"{'route':28}" + "".join(f"{n:>22}" for n in names)
    header += "".join(f"{'req/s vs ' + a.split(' ')[0]:>20}" for a in anchors)
    print(header)
    print("-" * len(header))
    for row, by_name in results.items():
        cells = "".join(f"{by_name[n][0]:>12,.0f} {by_name[n][1]:>7.2f}ms" for n in names)
        cells += "".join(f"{by_name[ours][0] / by_name[a][0]:>19.2f}x" for a in anchors)
        print(f"{row:28}{cells}")


if __name__ == "__main__":
    main()
