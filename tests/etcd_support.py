"""A real etcd for tests: Debian's etcd-server on free ports, with a temporary
data directory; started, stopped and restarted by the test."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest


def need_etcd() -> str:
    """The `etcd` binary; skips without it on a bare laptop, fails in CI."""
    binary = shutil.which("etcd")
    if binary is None:
        message = "etcd is not installed (Debian: etcd-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], object], what: str, deadline: float = 20.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after a generous deadline."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Etcd:
    """One etcd member on 127.0.0.1, listening for clients on `port`."""

    def __init__(self, binary: str, data_dir: Path) -> None:
        self.binary, self.data_dir = binary, data_dir
        self.port, self.peer_port = free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}.log"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"etcd://{self.endpoint}"

    def start(self) -> None:
        client, peer = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{self.peer_port}"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--name", "test", "--data-dir", str(self.data_dir),
                 "--listen-client-urls", client, "--advertise-client-urls", client,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"test={peer}", "--log-level", "warn"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for(self.healthy, f"etcd on {self.endpoint} to be healthy")

    def healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"etcd exited: {self.log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://{self.endpoint}/health", timeout=1) as reply:
                return b'"true"' in reply.read()
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

