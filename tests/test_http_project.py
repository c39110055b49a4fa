"""`volo http init`: the project passes the type checkers, ruff and its own
tests; its server runs as a process and curl gets the answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.test_project import free_port
from tests.test_user_project import TOOLS, check_project, clean_env, run


def curl(url: str, *args: str) -> str:
    done = subprocess.run(["curl", "-sS", *args, url], capture_output=True, text=True,
                          check=True, timeout=30)  # fmt: skip
    return done.stdout


def serve(project: Path, name: str) -> tuple[subprocess.Popen[str], str]:
    """`python -m NAME.server` on a free port, once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", f"{name}.server", "--address", f"127.0.0.1:{port}"],
        cwd=project, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited:\n{process.stdout.read() if process.stdout else ''}")
        done = subprocess.run(["curl", "-s", "-o", "/dev/null", base + "/"], check=False)
        if done.returncode == 0:
            return process, base
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the server did not answer within 60 s")


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=30)
    return out


def test_http_init_makes_a_project_that_checks_tests_and_serves(tmp_path: Path) -> None:
    out = run([TOOLS / "volo", "http", "init", "hello_http"], tmp_path)
    assert out.splitlines()[:5] == [
        "created pyproject.toml", "created hello_http/__init__.py", "created hello_http/app.py",
        "created hello_http/server.py", "created tests/test_hello_http.py",
    ]  # fmt: skip
    check_project(tmp_path, "hello_http", Path(sys.executable), tests=4)
    process, base = serve(tmp_path, "hello_http")
    try:
        assert curl(base + "/") == "hello, world"
        assert json.loads(curl(base + "/hello/volo?excited=true")) == {"message": "hello, volo!"}
        echoed = curl(base + "/echo", "-H", "content-type: application/json", "-d", '{"message": "hi"}')
        assert json.loads(echoed) == {"message": "hi"}
        answer = curl(base + "/hello/volo?excited=maybe", "-w", " %{http_code}")
        body, _, status = answer.rpartition(" ")
        assert status == "400"
        assert json.loads(body)["error"] == "query parameter 'excited': expected true or false, got 'maybe'"
    finally:
        log = stop(process)
    # the AccessLog layer the project's router has
    assert "server http.GET /hello/{name} 127.0.0.1:" in log, log


def test_http_init_never_overwrites_and_refuses_bad_names(tmp_path: Path) -> None:
    (tmp_path / "hello_http").mkdir()
    (tmp_path / "hello_http" / "app.py").write_text("# mine\n")
    out = run([TOOLS / "volo", "http", "init", "hello_http"], tmp_path)
    assert "kept    hello_http/app.py (it already exists)" in out
    assert (tmp_path / "hello_http" / "app.py").read_text() == "# mine\n"
    for bad, why in [
        ("my-app", "volo: project name 'my-app' must be a Python identifier (like hello or my_service)"),
        ("def", "volo: project name 'def' is a Python keyword: choose another name, like def_http"),
        ("caf\u00e9", "volo: project name 'café' must be a Python identifier of ASCII letters, digits and _ (like hello or my_service)"),
        ("json", "volo: project name 'json' would hide the standard library's module json: choose another name, like json_http"),
    ]:  # fmt: skip
        done = subprocess.run([TOOLS / "volo", "http", "init", bad], cwd=tmp_path, env=clean_env(),
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert (done.returncode, done.stderr.strip()) == (1, why)
        assert not (tmp_path / bad).exists()


STORE = Path(__file__).resolve().parent / "idl" / "http" / "store.thrift"


def test_http_init_from_idl_serves_the_handler_over_http(tmp_path: Path) -> None:
    idl = tmp_path / "store.thrift"
    idl.write_text(STORE.read_text())
    out = run([TOOLS / "volo", "http", "init", "shop", idl], tmp_path)
    for path in ("volo.yml", "shop/handler.py", "shop/server.py", "shop/http_app.py",
                 "shop/http_server.py", "tests/test_shop.py", "tests/test_shop_http.py"):  # fmt: skip
        assert f"created {path}" in out
    assert 'dependencies = ["volo-py[http]"]' in (tmp_path / "pyproject.toml").read_text()
    # the RPC tests (one per own method) and one per HTTP route
    check_project(tmp_path, "shop", Path(sys.executable), tests=7 + 6)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "shop.http_server", "--address", f"127.0.0.1:{port}"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["curl", "-s", "-o", "/dev/null", base], check=False).returncode:
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        # the handler stub's answer (volo init writes stubs returning simple values)
        assert json.loads(curl(base + "/items/5")) == {"id": 0, "name": ""}
        answer = curl(base + "/items/five", "-w", " %{http_code}")
        body, _, status = answer.rpartition(" ")
        assert (status, json.loads(body)["error"]) == ("400", "path parameter 'id': expected an integer, got 'five'")
        assert curl(base + "/items/5", "-X", "DELETE", "-w", "%{http_code}") == "204"
    finally:
        log = stop(process)
    assert "server Store.GET /items/:id 127.0.0.1:" in log, log


def test_http_init_refuses_an_idl_without_routes(tmp_path: Path) -> None:
    echo = Path(__file__).resolve().parent.parent / "idl_samples" / "echo.thrift"
    done = subprocess.run([TOOLS / "volo", "http", "init", "echo_http", echo], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("volo: no method of service Echo in ")
    assert "has an HTTP route" in done.stderr
    assert list(tmp_path.iterdir()) == []
