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
from volo_cli.main import NO_COMPILED_CODEC, cli

ECHO = REPO / "idl_samples" / "echo.thrift"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    # Where the compiled codec could not be built, `volo init` says so (tested in
    # tests/test_packaging.py); the line is no part of what these tests look at.
    err = result.stderr.replace(NO_COMPILED_CODEC + "\n", "")
    return result.exit_code, result.stdout, err


def snapshot(root: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every file (contents and time of change) and folder (None) under `root`."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else None
        for p in sorted(root.rglob("*"))
        if "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
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
    # a test for each of the service's own methods
    assert f"{1 if sample == 'echo' else 22} passed" in result.stdout


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
    assert code == 0 and out.startswith(f"added {shop} to entry 'default' of volo.yml")
    assert (tmp_path / "echo" / "gen" / "shop" / "base.py").is_file()
    assert "shop.thrift" in (tmp_path / "volo.yml").read_text()
    code, _, err = run("idl", "add", str(shop))
    assert code == 1 and err == f"volo: {shop} is already in entry 'default' of {tmp_path / 'volo.yml'}\n"
    assert project_pytest(tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["init", "echo", "missing.thrift"], "volo: IDL file missing.thrift does not exist\n"),
        (None, ["init", "class", str(ECHO)], "volo: project name 'class' is a Python keyword: choose another name, like class_service\n"),
        (None, ["init", "my-app", str(ECHO)], "volo: project name 'my-app' must be a Python identifier (like echo or my_service)\n"),
        ("volo.yml", ["init", "echo", str(ECHO)], "volo: {root}/volo.yml already exists: use `volo gen` to regenerate\n"),
        (None, ["gen"], "volo: no volo.yml in {root} or any folder above it: run `volo init` first\n"),
        ("broken", ["gen"], "volo: {root}/volo.yml is not valid YAML at line 2\n"),
        ("no_idls", ["gen"], "volo: {root}/volo.yml: 'idls' must be a non-empty list of entries with a 'path'\n"),
        ("bad_option", ["gen"], "volo: {root}/volo.yml: 'options.keep_unknown_fields' must be true or false\n"),
        (None, ["init", "nosvc", "nosvc.thrift"], "volo: nosvc.thrift defines no service: a project needs one to serve\n"),
        (None, ["init", "echo", "echo.idl"], "volo: cannot make a project from echo.idl: IDL files end in .thrift or .proto\n"),
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
import volo.thrift
from pidsvc.gen.pid import PidClient

async def main():
    for _ in range(100):  # until the workers listen
        try:
            transport = volo.thrift.connect("127.0.0.1:{port}", connect_timeout=1)
            await PidClient(transport).pid()
            await transport.close()
            break
        except volo.TransportError:
            await asyncio.sleep(0.1)
    pids = set()
    for _ in range(40):  # a new connection each time: the kernel spreads them
        transport = volo.thrift.connect("127.0.0.1:{port}", connect_timeout=1, retries=20)
        pids.add(await PidClient(transport).pid())
        await transport.close()
    print(len(pids))

asyncio.run(main())
"""
    started = ""
    try:
        # Both workers listen once both have logged it (on a busy machine one can be late).
        assert server.stdout is not None
        while started.count("serving Pid on") < 2:
            line = server.stdout.readline()
            assert line, started  # the server ended before both workers listened
            started += line
        result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "2"  # both workers answered
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=15)
    assert server.returncode == 0
    output = started + output
    assert output.count("serving Pid on") == 2 and output.count("shutting down") == 2


# ---- names a project must not take ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hidden"),
    [
        ("email", "the standard library's module email"),
        ("queue", "the standard library's module queue"),
        ("test", "the standard library's module test"),
        ("asyncio", "the standard library's module asyncio"),
        ("sys", "the standard library's module sys"),
        ("volo", "volo's own package volo"),
        ("pilota", "volo's own package pilota"),
        ("yaml", "yaml, which volo depends on"),
        ("uvloop", "uvloop, which volo depends on"),
        ("tests", "the tests folder `volo init` writes the project's tests to"),
    ],
)
def test_init_refuses_a_name_that_would_hide_a_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, hidden: str
) -> None:
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    code, out, err = run("init", name, str(ECHO))
    assert (code, out) == (1, "")
    assert err == f"volo: project name '{name}' would hide {hidden}: choose another name, like {name}_service\n"
    assert snapshot(tmp_path) == before
    # and the name suggested works
    assert run("init", f"{name}_service", str(ECHO))[0] == 0


def test_init_refuses_the_name_of_an_installed_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("init", "hypothesis", str(ECHO))  # a test dependency, so installed here
    assert code == 1
    assert err.startswith("volo: project name 'hypothesis' would hide the module hypothesis installed here (")
    assert err.endswith("): choose another name, like hypothesis_service\n")
    assert sorted(os.listdir(tmp_path)) == []


def test_a_package_already_in_the_folder_is_not_an_installed_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `python -m volo_cli` puts the working directory on sys.path; the project's own
    # package there (volo.yml removed to start again) is not a module it would hide.
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = run("init", "echo", str(ECHO))
    assert code == 0, err


# ---- a failing command leaves the folder as it was ------------------------------------


def test_a_failed_init_leaves_the_folder_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file where the package's folder goes: found only when writing.
    monkeypatch.chdir(tmp_path)
    Path("echo").write_text("not a folder\n")
    Path("tests").mkdir()
    before = snapshot(tmp_path)
    code, out, err = run("init", "echo", str(ECHO))
    assert (code, out) == (1, "")
    assert err.startswith("volo: cannot write '") and err.endswith("; nothing was changed\n")
    assert snapshot(tmp_path) == before
    # once the way is clear, the same command works (nothing was left behind to refuse it)
    Path("echo").unlink()
    assert run("init", "echo", str(ECHO))[0] == 0


def test_a_failed_gen_leaves_the_folder_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    idl = tmp_path / "svc.thrift"
    idl.write_text("service S { string hello(1: string name) }\n")
    assert run("init", "svc", str(idl))[0] == 0
    # The IDL changes so that two generated files change; one of them cannot be written.
    idl.write_text('include "more.thrift"\nservice S { string hello(1: more.Name name) }\n')
    (tmp_path / "more.thrift").write_text("typedef string Name\n")
    (tmp_path / "svc" / "gen" / "more.py").mkdir()
    before = snapshot(tmp_path)
    code, out, err = run("gen")
    assert (code, out) == (1, "")
    assert "more.py" in err and err.endswith("; nothing was changed\n")
    assert snapshot(tmp_path) == before


def test_a_failed_idl_add_leaves_volo_yml_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("init", "echo", str(ECHO))[0] == 0
    Path("other.thrift").write_text("struct Other { 1: i32 x }\n")
    (tmp_path / "echo" / "gen" / "other.py").mkdir()
    before = snapshot(tmp_path)
    code, _, err = run("idl", "add", "other.thrift")
    assert code == 1 and err.endswith("; nothing was changed\n")
    assert snapshot(tmp_path) == before


# ---- .proto input ----------------------------------------------------------------------

STREAMING_PROTO = 'syntax = "proto3";\nmessage A { int32 a = 1; }\nservice S { rpc Watch(A) returns (stream A); }\n'


def test_idl_gen_and_pilota_generate_make_protobuf_classes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pilota

    monkeypatch.chdir(tmp_path)
    Path("svc.proto").write_text(STREAMING_PROTO.replace("message A", "package acme.v1;\nmessage A"))
    code, out, err = run("idl", "gen", "svc.proto", "-o", "out")
    assert (code, err) == (0, "") and out.startswith("generated ")
    pilota.generate([tmp_path / "svc.proto"], tmp_path / "again")
    assert (tmp_path / "out/acme/v1/svc.py").read_bytes() == (tmp_path / "again/acme/v1/svc.py").read_bytes()
    code, out, err = subprocess_python(tmp_path, "from out.acme.v1.svc import A, S\n"
                                     "assert A.from_bytes(A(a=150).to_bytes()) == A(a=150)\n"
                                     "assert A(a=150).to_bytes() == bytes([8, 150, 1])\n"
                                     "print(S.Watch.path, S.Watch.server_streaming)")
    assert (code, out, err) == (0, "/acme.v1.S/Watch True\n", "")


def subprocess_python(root: Path, code: str) -> tuple[int, str, str]:
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    return result.returncode, result.stdout, result.stderr


# ---- volo gen: handler methods the IDL has and the handler lacks -------------------------


def test_gen_names_the_handler_methods_missing_after_an_idl_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    idl = tmp_path / "svc.thrift"
    idl.write_text("service S { string hello(1: string name) }\n")
    assert run("init", "svc", str(idl))[0] == 0
    handler = tmp_path / "svc" / "handler.py"
    # gen parses the handler and never imports it: importing this one would fail
    handler.write_text('raise SystemExit("imported")\n' + handler.read_text())
    code, _, err = run("gen")
    assert (code, err) == (0, "")
    before = handler.read_bytes()
    idl.write_text(
        "struct Item { 1: i32 id }\n"
        "service S {\n  string hello(1: string name)\n  list<Item> items(1: i32 limit)\n"
        "  oneway void forget()\n}\n"
    )
    code, out, err = run("gen")
    assert code == 0 and out == "generated svc/gen: 3 files, 1 rewritten\n"
    assert err == (
        "warning: svc/handler.py: class Handler lacks S's methods items, forget; add:\n"
        "    async def items(self, limit: int) -> list[Item]: ...\n"
        "    async def forget(self) -> None: ...\n"
    )
    assert handler.read_bytes() == before


def test_gen_counts_methods_a_handler_inherits_in_its_own_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    idl = tmp_path / "svc.thrift"
    idl.write_text("service S { i32 one()\n i32 two() }\n")
    assert run("init", "svc", str(idl))[0] == 0
    (tmp_path / "svc" / "handler.py").write_text(
        "from svc.gen import svc\n\n\n"
        "class Base(svc.SHandler):\n    async def one(self) -> int:\n        return 1\n\n\n"
        "class Handler(Base):\n    async def two(self) -> int:\n        return 2\n"
    )
    code, _, err = run("gen")
    assert (code, err) == (0, "")


# ---- volo gen and volo idl add from a folder inside the project ---------------------------


def test_gen_and_idl_add_find_volo_yml_in_a_folder_above(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("init", "echo", str(ECHO))[0] == 0
    (tmp_path / "idl").mkdir()
    (tmp_path / "idl" / "extra.thrift").write_text("struct Extra { 1: i32 x }\n")
    monkeypatch.chdir(tmp_path / "echo")
    code, out, err = run("gen")
    assert (code, out, err) == (0, "generated gen: 3 files, 0 rewritten\n", "")
    code, out, err = run("idl", "add", "../idl/extra.thrift")
    assert (code, err) == (0, "")
    assert out == (
        "added ../idl/extra.thrift to entry 'default' of ../volo.yml\n"
        "generated gen: 4 files, 1 rewritten\n"
    )
    # paths in volo.yml stay relative to volo.yml
    assert "path: idl/extra.thrift" in (tmp_path / "volo.yml").read_text()
    assert (tmp_path / "echo" / "gen" / "extra.py").is_file()
    monkeypatch.chdir(tmp_path / "echo" / "gen")
    assert run("gen") == (0, "generated .: 4 files, 0 rewritten\n", "")


# ---- an existing pyproject.toml --------------------------------------------------------------


def test_init_adds_the_pytest_table_to_an_existing_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    original = '[project]\nname = "shop"\nversion = "1.0"\ndependencies = ["httpx"]\n'
    Path("pyproject.toml").write_text(original)
    code, out, err = run("init", "echo", str(ECHO))
    assert code == 0
    assert "changed pyproject.toml (added [tool.pytest.ini_options])\n" in out
    assert err == (
        'warning: pyproject.toml: add "volo-py" to `dependencies` in [project] (the project runs on it)\n'
    )
    merged = Path("pyproject.toml").read_text()
    assert merged.startswith(original)
    assert merged.endswith('\n[tool.pytest.ini_options]\n# the tests import the project\'s package from this folder\npythonpath = ["."]\n')
    assert project_pytest(tmp_path).returncode == 0  # the tests find the package


def test_init_adds_the_project_table_and_says_what_else_to_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    original = '[tool.pytest.ini_options]\naddopts = "-q"\n'
    Path("pyproject.toml").write_text(original)
    code, out, err = run("init", "echo", str(ECHO))
    assert code == 0
    assert "changed pyproject.toml (added [project])\n" in out
    assert err == (
        'warning: pyproject.toml: add "." to `pythonpath` in [tool.pytest.ini_options] '
        "(the tests import the project's package)\n"
    )
    merged = Path("pyproject.toml").read_text()
    assert merged.startswith(original) and '\n[project]\nname = "echo"\n' in merged
    assert 'dependencies = ["volo-py"]' in merged


def test_init_keeps_a_pyproject_that_has_what_the_project_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    original = '[project]\nname = "x"\ndependencies = ["Volo_Py>=0.1"]\n\n[tool.pytest.ini_options]\npythonpath = [".", "src"]\n'
    Path("pyproject.toml").write_text(original)
    code, out, err = run("init", "echo", str(ECHO))
    assert (code, err) == (0, "")
    assert "kept    pyproject.toml (it already exists)\n" in out
    assert Path("pyproject.toml").read_text() == original


def test_init_refuses_a_pyproject_that_is_not_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("pyproject.toml").write_text("[project\n")
    before = snapshot(tmp_path)
    code, out, err = run("init", "echo", str(ECHO))
    assert (code, out) == (1, "")
    assert err.startswith("volo: pyproject.toml is not valid TOML (")
    assert err.endswith("): fix it, or move it away and run `volo init` again\n")
    assert snapshot(tmp_path) == before


def test_a_table_that_cannot_be_appended_is_left_to_the_person(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # [tool.pytest] is an inline table, which a [tool.pytest.ini_options] header cannot extend.
    monkeypatch.chdir(tmp_path)
    original = '[project]\nname = "x"\ndependencies = ["volo-py"]\n\n[tool]\npytest = { minversion = "8" }\n'
    Path("pyproject.toml").write_text(original)
    code, _, err = run("init", "echo", str(ECHO))
    assert code == 0
    assert err.startswith("warning: pyproject.toml: add [tool.pytest.ini_options] as `volo init` writes it:\n")
    assert 'pythonpath = ["."]' in err
    assert Path("pyproject.toml").read_text() == original


# ---- the generated server and client: volo's errors in one line ----------------------------


def run_module(root: Path, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=root, capture_output=True, text=True, check=False, timeout=60
    )


@pytest.fixture
def echo_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert run("init", "echo", str(ECHO))[0] == 0
    return tmp_path


def test_server_says_in_one_line_that_it_cannot_listen(echo_project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_module(echo_project, "echo.server", "--address", f"127.0.0.1:{port}")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()  # logged by volo.thrift.run, which then exits
    assert line.endswith(f" volo.server cannot serve on 127.0.0.1:{port}: the address is already in use")


@pytest.mark.parametrize("module", ["echo.server", "echo.client"])
def test_an_address_without_a_port_is_one_line(echo_project: Path, module: str) -> None:
    result = run_module(echo_project, module, "--address", "localhost")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"{module}: address 'localhost' has no port: expected HOST:PORT, e.g. 'localhost:8080'\n"


def test_client_says_in_one_line_that_no_server_listens(echo_project: Path) -> None:
    port = free_port()
    result = run_module(echo_project, "echo.client", "--address", f"127.0.0.1:{port}")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"echo.client: cannot connect to 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("protocol", ["thrift", "proto"])
def test_a_module_named_like_what_the_client_imports_gets_an_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    # The client imports volo.settings' settings and volo.discovery's from_target; a
    # generated module of the same name, which the call's request comes from, must not
    # take their place.
    monkeypatch.chdir(tmp_path)
    if protocol == "thrift":
        Path("settings.thrift").write_text("struct Config { 1: i32 id }\n")
        Path("svc.thrift").write_text(
            'include "settings.thrift"\nservice Svc { i32 get(1: required settings.Config c) }\n'
        )
        assert run("init", "svc", "svc.thrift")[0] == 0
    else:
        Path("settings.proto").write_text('syntax = "proto3";\npackage cfg;\nmessage Config { int32 id = 1; }\n')
        Path("svc.proto").write_text(
            'syntax = "proto3";\npackage svc;\nimport "settings.proto";\n'
            "service Svc { rpc Get(cfg.Config) returns (cfg.Config); }\n"
        )
        assert run("init", "svc", "svc.proto", "-I", ".")[0] == 0
    client = (tmp_path / "svc" / "client.py").read_text()
    assert "from volo.settings import settings\n" in client
    assert " import settings as settings_\n" in client and "settings_.Config()" in client
    port = free_port()
    result = run_module(tmp_path, "svc.client", "--address", f"127.0.0.1:{port}")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"svc.client: cannot connect to 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1


def test_client_says_in_one_line_that_a_call_timed_out(echo_project: Path) -> None:
    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        result = run_module(echo_project, "echo.client", "--address", f"127.0.0.1:{port}", "--timeout", "0.2")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "echo.client: echo: no reply within 0.2 s\n"


def test_client_says_in_one_line_that_the_server_failed(echo_project: Path) -> None:
    handler = echo_project / "echo" / "handler.py"
    source = handler.read_text()
    body = source[source.index("        return "):]
    handler.write_text(source.replace(body, '        raise RuntimeError("a secret the peer must not see")\n'))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "echo.server", "--address", f"127.0.0.1:{port}"],
                              cwd=echo_project, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stderr is not None
        while "serving" not in server.stderr.readline():  # until it listens
            assert server.poll() is None
        result = run_module(echo_project, "echo.client", "--address", f"127.0.0.1:{port}")
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "echo.client: internal error processing echo (INTERNAL_ERROR)\n"
