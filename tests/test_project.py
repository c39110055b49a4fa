"""`volo init`, `volo gen` and `volo idl add`: projects that run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import REPO, need_shared
from volo_cli.main import cli

ECHO = REPO / "idl_samples" / "echo.thrift"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def project_pytest(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("sample", ["echo", "thrift_test"])
def test_init_makes_a_project_whose_tests_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample: str) -> None:
    idl = ECHO if sample == "echo" else need_shared("corpus", "thrift", "apache-0.17", "ThriftTest.thrift")
    name = "echo" if sample == "echo" else "thrift_test"
    monkeypatch.chdir(tmp_path)
    code, out, err = run("init", name, str(idl))
    assert code == 0, err
    assert "created volo.yml" in out and f"created {name}/handler.py" in out
    for path in ("volo.yml", "pyproject.toml", f"{name}/handler.py", f"{name}/server.py",
                 f"{name}/client.py", f"tests/test_{name}.py", f"{name}/gen/__init__.py"):  # fmt: skip
        assert (tmp_path / path).is_file(), path
    result = project_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_server_and_client_run_as_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("init", "echo", str(ECHO))[0] == 0
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        [sys.executable, "-m", "echo.server", "--address", address],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        reply = None
        for _ in range(50):  # until the server listens
            result = subprocess.run(
                [sys.executable, "-m", "echo.client", "--address", address],
                cwd=tmp_path, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                reply = result.stdout
                break
            time.sleep(0.1)
        assert reply == "EchoResponse(message='')\n"
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=10)
    assert server.returncode == 0
    assert "serving Echo on" in output and "shutting down" in output


def test_gen_twice_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("init", "echo", str(ECHO))[0] == 0
    before = snapshot(tmp_path)
    code, out, _ = run("gen")
    assert code == 0 and out == "generated echo/gen: 3 files, 0 rewritten\n"
    assert run("gen")[0] == 0
    assert snapshot(tmp_path) == before


def test_gen_rewrites_only_generated_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    idl = tmp_path / "svc.thrift"
    idl.write_text("service S { string hello(1: string name) }\n")
    assert run("init", "svc", str(idl))[0] == 0
    handler = tmp_path / "svc" / "handler.py"
    handler.write_text(handler.read_text().replace('return ""', 'return f"hello {name}"'))
    idl.write_text("struct Extra { 1: i32 x }\nservice S { string hello(1: string name) }\n")
    code, out, _ = run("gen")
    assert code == 0 and "1 rewritten" in out
    assert 'return f"hello {name}"' in handler.read_text()
    assert "class Extra" in (tmp_path / "svc" / "gen" / "svc.py").read_text()


def test_idl_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("init", "echo", str(ECHO))[0] == 0
    shop = REPO / "idl_samples" / "shop" / "shop.thrift"
    code, out, _ = run("idl", "add", str(shop))
    assert code == 0 and out.startswith(f"added {shop} to volo.yml")
    assert (tmp_path / "echo" / "gen" / "shop" / "base.py").is_file()
    assert "shop.thrift" in (tmp_path / "volo.yml").read_text()
    code, _, err = run("idl", "add", str(shop))
    assert code == 1 and err == f"volo: {shop} is already in {tmp_path / 'volo.yml'}\n"
    assert project_pytest(tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["init", "echo", "missing.thrift"], "volo: IDL file missing.thrift does not exist\n"),
        (None, ["init", "class", str(ECHO)], "volo: project name 'class' must be a Python identifier (like echo or my_service)\n"),
        ("volo.yml", ["init", "echo", str(ECHO)], "volo: {root}/volo.yml already exists: use `volo gen` to regenerate\n"),
        (None, ["gen"], "volo: no volo.yml in {root}: run `volo init` first\n"),
        ("broken", ["gen"], "volo: {root}/volo.yml is not valid YAML at line 2\n"),
        ("no_idls", ["gen"], "volo: {root}/volo.yml: 'idls' must be a non-empty list of entries with a 'path'\n"),
        ("bad_option", ["gen"], "volo: {root}/volo.yml: 'options.keep_unknown_fields' must be true or false\n"),
        (None, ["init", "nosvc", "nosvc.thrift"], "volo: nosvc.thrift defines no service: a project needs one to serve\n"),
    ],
)  # fmt: skip
def test_errors_are_one_sentence_and_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str | None, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("nosvc.thrift").write_text("struct S {}\n")
    contents = {
        "volo.yml": "package: echo\n",
        "broken": "package: [\n",
        "no_idls": "package: echo\ngenerated: echo/gen\nidls: []\n",
        "bad_option": "package: echo\ngenerated: echo/gen\nidls:\n  - path: x.thrift\noptions:\n  keep_unknown_fields: maybe\n",
    }
    if setup is not None:
        Path("volo.yml").write_text(contents[setup])
    before = snapshot(tmp_path)
    code, out, err = run(*args)
    assert (code, out) == (1, "")
    assert err == message.format(root=tmp_path)
    assert snapshot(tmp_path) == before


def test_idl_errors_are_reported_and_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.thrift").write_text("service S { Missing get() }\n")
    code, _, err = run("init", "bad", "bad.thrift")
    assert code == 1
    assert "bad.thrift:1:13: error: unknown type 'Missing'" in err
    assert err.endswith("1 error in the IDL; nothing was changed\n")
    assert sorted(os.listdir(tmp_path)) == ["bad.thrift"]


def test_workers_share_one_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("pid.thrift").write_text("service Pid { i64 pid() }\n")
    assert run("init", "pidsvc", "pid.thrift")[0] == 0
    handler = tmp_path / "pidsvc" / "handler.py"
    handler.write_text(handler.read_text().replace("return 0", "import os\n        return os.getpid()"))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pidsvc.server", "--address", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    script = f"""
import asyncio, sys
sys.path.insert(0, ".")
import volo
from pidsvc.gen.pid import PidClient

async def main():
    for _ in range(100):  # until the workers listen
        try:
            transport = volo.connect("127.0.0.1:{port}", connect_timeout=1)
            await PidClient(transport).pid()
            await transport.close()
            break
        except volo.TransportError:
            await asyncio.sleep(0.1)
    pids = set()
    for _ in range(40):  # a new connection each time: the kernel spreads them
        transport = volo.connect("127.0.0.1:{port}", connect_timeout=1, retries=20)
        pids.add(await PidClient(transport).pid())
        await transport.close()
    print(len(pids))

asyncio.run(main())
"""
    try:
        result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "2"  # both workers answered
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=15)
    assert server.returncode == 0
    assert output.count("serving Pid on") == 2 and output.count("shutting down") == 2
