"""Serving an ASGI app with uvicorn as a process, for tests over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def uvicorn_process(
    app: str, *, cwd: Path = REPO, pythonpath: list[Path] = (), env: Mapping[str, str] = {}
) -> Iterator[str]:
    """`app` ("module:attribute") served by uvicorn in a child process on a socket
    bound here (so the port is known without a race); yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    paths = [str(p) for p in pythonpath] + [str(REPO), os.environ.get("PYTHONPATH", "")]
    child_env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--fd", str(sock.fileno()), "--log-level",
         "warning", "--no-access-log"],
        cwd=cwd, env=child_env, pass_fds=[sock.fileno()], stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    sock.close()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _wait_ready(base: str, process: subprocess.Popen[str]) -> None:
    """Until the server answers (any status): it accepted on the socket meanwhile."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read() if process.stderr else ""
            raise RuntimeError(f"the server exited with {process.returncode}:\n{err}")
        try:
            httpx.get(base + "/", timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the server did not answer within 60 s")
