"""`volo init`, `volo gen` and `volo idl add` on .proto files: gRPC projects that
run. (tests/test_user_project.py implements one and runs the type checkers on it.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.test_project import ECHO, free_port, project_pytest, run, snapshot

CHAT_ROOT = REPO / "idl_samples" / "chat"  # the include folder of the sample
CHAT = CHAT_ROOT / "chat" / "v1" / "chat.proto"


@pytest.fixture
def chat_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    code, out, err = run("init", "chat", str(CHAT), "-I", str(CHAT_ROOT))
    assert (code, err) == (0, ""), err
    assert out.endswith("next: python -m chat.server, then python -m chat.client\n")
    return tmp_path


def test_init_makes_a_project_with_a_stub_and_a_test_for_each_call_kind(chat_project: Path) -> None:
    for path in ("volo.yml", "pyproject.toml", "chat/__init__.py", "chat/handler.py", "chat/server.py",
                 "chat/client.py", "tests/test_chat.py", "chat/gen/chat/v1/chat.py",
                 "chat/gen/common/v1/people.py"):  # fmt: skip
        assert (chat_project / path).is_file(), path
    handler = (chat_project / "chat" / "handler.py").read_text()
    # Each kind as the generated base declares it: streams in are AsyncIterators, streams
    # out async generators; the messages of other files (a well-known type too) come from
    # their modules.
    assert "from pilota.runtime.protobuf.wkt.google.protobuf import empty\n" in handler
    assert "from chat.gen.chat.v1.chat import Message, Post, Receipt, RoomHandler, Summary\n" in handler
    assert "class Handler(RoomHandler):\n" in handler
    for signature in (
        "async def Send(self, request: Post) -> Receipt:\n",
        "async def History(self, request: empty.Empty) -> AsyncIterator[Message]:\n",
        "async def Import(self, requests: AsyncIterator[Message]) -> Summary:\n",
        "async def Talk(self, requests: AsyncIterator[Message]) -> AsyncIterator[Message]:\n",
    ):
        assert f"\n    {signature}" in handler, signature
    assert 'dependencies = ["volo-py[grpc]"]' in (chat_project / "pyproject.toml").read_text()
    result = project_pytest(chat_project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_the_project_tests_fail_when_the_handler_does_not_answer(chat_project: Path) -> None:
    # Without its methods the handler answers UNIMPLEMENTED; a method that crashes, INTERNAL.
    handler = chat_project / "chat" / "handler.py"
    stub = handler.read_text()
    handler.write_text(stub[: stub.index("class Handler(")] + "class Handler(RoomHandler):\n    pass\n")
    result = project_pytest(chat_project)
    assert "4 failed" in result.stdout, result.stdout
    assert "UNIMPLEMENTED" in result.stdout
    handler.write_text(stub.replace("        return Receipt()\n", '        raise RuntimeError("broken")\n'))
    result = project_pytest(chat_project)
    assert "1 failed, 3 passed" in result.stdout, result.stdout
    assert "internal error (INTERNAL)" in result.stdout
    # A status the handler chooses is an answer: the tests keep passing.
    refusal = '        raise volo.grpc.StatusError(volo.grpc.Code.NOT_FOUND, "no such room")\n'
    stub = stub.replace("from chat.gen", "import volo.grpc\nfrom chat.gen", 1)
    handler.write_text(stub.replace("        return Receipt()\n", refusal))
    result = project_pytest(chat_project)
    assert result.returncode == 0 and "4 passed" in result.stdout, result.stdout


def test_server_and_client_run_as_modules_and_sigterm_drains(chat_project: Path) -> None:
    handler = chat_project / "chat" / "handler.py"
    stub = handler.read_text()
    # A call the server is in the middle of when SIGTERM comes.
    slow = '        print("Send started", flush=True)\n        await asyncio.sleep(1.5)\n        return Receipt(index=7)\n'
    stub = stub.replace("from collections.abc", "import asyncio\nfrom collections.abc")
    handler.write_text(stub.replace("        return Receipt()\n", slow))
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        [sys.executable, "-m", "chat.server", "--address", address],
        cwd=chat_project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output = ""
    client: subprocess.Popen[str] | None = None
    terminated = False
    try:
        assert server.stdout is not None
        while "serving chat.v1.Room on" not in output:
            line = server.stdout.readline()
            assert line, output  # the server ended before it listened
            output += line
        client = subprocess.Popen(
            [sys.executable, "-m", "chat.client", "--address", address],
            cwd=chat_project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        while "Send started" not in output:
            line = server.stdout.readline()
            assert line, output
            output += line
        server.send_signal(signal.SIGTERM)
        terminated = True
        reply, error = client.communicate(timeout=60)
        assert (client.returncode, reply, error) == (0, "Receipt(index=7)\n", "")
    finally:
        if not terminated:
            server.send_signal(signal.SIGTERM)
        rest, _ = server.communicate(timeout=60)
        if client is not None and client.poll() is None:
            client.kill()
            client.communicate()
    output += rest
    assert server.returncode == 0, output
    assert "shutting down: 1 call(s) in flight" in output
    # Once it is gone, the client says so in one line.
    result = subprocess.run([sys.executable, "-m", "chat.client", "--address", address],
                            cwd=chat_project, capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("chat.client: ") and result.stderr.endswith(" (UNAVAILABLE)\n")
    assert result.stderr.count("\n") == 1


def test_server_and_client_take_the_address_and_timeout_from_volo_yml(chat_project: Path) -> None:
    # No --address and no VOLO_ADDRESS: the server reads volo.yml's `server` section,
    # the client its `client` section (address, timeout), as a Thrift project's do.
    handler = chat_project / "chat" / "handler.py"
    stalling = (
        '        if os.path.exists("stall"):\n            await asyncio.sleep(3600)\n'
        "        return Receipt(index=7)\n"
    )
    stub = handler.read_text().replace("from collections.abc", "import asyncio\nimport os\nfrom collections.abc")
    handler.write_text(stub.replace("        return Receipt()\n", stalling))
    config = chat_project / "volo.yml"
    written = config.read_text()
    address = f"127.0.0.1:{free_port()}"
    config.write_text(written + f"server:\n  address: {address}\nclient:\n  address: {address}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLO_")}
    server = subprocess.Popen([sys.executable, "-m", "chat.server"], cwd=chat_project, env=env,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stderr is not None
        line = ""
        while "serving" not in line:  # until it listens
            line = server.stderr.readline()
            assert line, "the server ended before it listened"
        assert f" serving chat.v1.Room on {address} (" in line
        client = [sys.executable, "-m", "chat.client"]
        replied = subprocess.run(client, cwd=chat_project, env=env, capture_output=True, text=True,
                                 check=False, timeout=60)  # fmt: skip
        (chat_project / "stall").touch()
        config.write_text(written + f"client:\n  address: {address}\n  timeout: 0.2\n")
        timed_out = subprocess.run(client, cwd=chat_project, env=env, capture_output=True,
                                   text=True, check=False, timeout=60)  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert (replied.returncode, replied.stdout, replied.stderr) == (0, "Receipt(index=7)\n", "")
    assert (timed_out.returncode, timed_out.stdout) == (1, "")
    assert timed_out.stderr == "chat.client: chat.v1.Room/Send: no reply within 0.2 s (DEADLINE_EXCEEDED)\n"


def test_a_bad_client_section_or_target_is_one_line(chat_project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOLO_")}
    config = chat_project / "volo.yml"
    config.write_text(config.read_text() + "client:\n  port: 1\n")
    result = subprocess.run([sys.executable, "-m", "chat.client"], cwd=chat_project, env=env,
                            capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"chat.client: {config}: unknown key 'port' in 'client': expected one of address, timeout\n"
    )
    env["VOLO_ADDRESS"] = "zk://127.0.0.1:2181/chat"  # the environment wins over volo.yml
    config.write_text(config.read_text().replace("  port: 1\n", "  address: 127.0.0.1:1\n"))
    result = subprocess.run([sys.executable, "-m", "chat.client"], cwd=chat_project, env=env,
                            capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "chat.client: unknown scheme 'zk' in 'zk://127.0.0.1:2181/chat': expected HOST:PORT,"
        " dns://NAME:PORT or etcd://HOST:PORT/SERVICE\n"
    )


def test_the_client_calls_a_streaming_method_when_there_is_no_unary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("feed.proto").write_text(
        'syntax = "proto3";\npackage feed;\nmessage Item { string text = 1; }\n'
        "service Feed { rpc Follow(stream Item) returns (stream Item); }\n"
    )
    assert run("init", "feed", "feed.proto")[0] == 0
    client = (tmp_path / "feed" / "client.py").read_text()
    assert "        async for reply in client.Follow([Item()]):\n            print(reply)\n" in client
    handler = tmp_path / "feed" / "handler.py"
    handler.write_text(handler.read_text().replace("yield Item()", 'yield Item(text="one")\n            yield Item(text="two")'))
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen([sys.executable, "-m", "feed.server", "--address", address],
                              cwd=tmp_path, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stderr is not None
        while "serving" not in server.stderr.readline():  # until it listens
            assert server.poll() is None
        result = subprocess.run([sys.executable, "-m", "feed.client", "--address", address],
                                cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "Item(text='one')\nItem(text='two')\n", "")
    assert server.returncode == 0


def test_gen_twice_changes_nothing(chat_project: Path) -> None:
    before = snapshot(chat_project)
    code, out, err = run("gen")
    assert (code, out, err) == (0, "generated chat/gen: 8 files, 0 rewritten\n", "")
    assert run("gen")[0] == 0
    assert snapshot(chat_project) == before


def test_gen_names_the_handler_methods_missing_after_the_proto_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    proto = tmp_path / "svc.proto"
    proto.write_text('syntax = "proto3";\nmessage A { int32 a = 1; }\nservice S { rpc Get(A) returns (A); }\n')
    assert run("init", "svc", str(proto))[0] == 0
    handler = tmp_path / "svc" / "handler.py"
    before = handler.read_bytes()
    proto.write_text(
        'syntax = "proto3";\nmessage A { int32 a = 1; }\nmessage B {}\n'
        "service S {\n  rpc Get(A) returns (A);\n  rpc Watch(A) returns (stream B);\n"
        "  rpc Send(stream B) returns (A);\n  rpc close(stream A) returns (stream A);\n}\n"
    )
    code, out, err = run("gen")
    assert code == 0 and out == "generated svc/gen: 3 files, 1 rewritten\n"
    # `close` is a client's own method: the generated classes call the rpc `close_`.
    assert err == (
        "warning: svc/handler.py: class Handler lacks S's methods Watch, Send, close_; add:\n"
        "    async def Watch(self, request: A) -> AsyncIterator[B]: ...\n"
        "    async def Send(self, requests: AsyncIterator[B]) -> A: ...\n"
        "    async def close_(self, requests: AsyncIterator[A]) -> AsyncIterator[A]: ...\n"
    )
    assert handler.read_bytes() == before


def test_idl_add_a_proto_file(chat_project: Path) -> None:
    (chat_project / "badges.proto").write_text(
        'syntax = "proto3";\npackage badges.v1;\nimport "common/v1/people.proto";\n'
        "message Badge { common.v1.Person holder = 1; string title = 2; }\n"
    )
    code, out, err = run("idl", "add", "badges.proto", "-I", str(CHAT_ROOT))
    assert (code, err) == (0, "")
    assert out == "added badges.proto to entry 'default' of volo.yml\ngenerated chat/gen: 11 files, 3 rewritten\n"
    assert "path: badges.proto" in (chat_project / "volo.yml").read_text()
    assert "class Badge(_pb.Message):" in (chat_project / "chat/gen/badges/v1/badges.py").read_text()
    before = snapshot(chat_project)
    assert run("gen") == (0, "generated chat/gen: 11 files, 0 rewritten\n", "")
    assert snapshot(chat_project) == before
    result = project_pytest(chat_project)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        # an entry is one protocol; `-n ENTRY` adds the IDL to another (test_entries_of_a_grpc_project)
        ("thrift project", ["idl", "add", "svc.proto"], "volo: entry 'default' is a thrift entry and svc.proto is protobuf: an entry generates one package with one protocol, so add it to another entry with -n\n"),
        ("proto project", ["idl", "add", "other.thrift"], "volo: entry 'default' is a protobuf entry and other.thrift is thrift: an entry generates one package with one protocol, so add it to another entry with -n\n"),
        ("both in volo.yml", ["gen"], "volo: {root}/volo.yml lists .thrift and .proto files in 'idls', which make one package with one protocol: give each protocol an entry of its own in the current format (entries)\n"),
        (None, ["init", "nosvc", "nosvc.proto"], "volo: nosvc.proto defines no service: a project needs one to serve\n"),
        (None, ["init", "empty", "empty.proto"], "volo: service Empty in empty.proto has no methods to serve\n"),
        (None, ["init", "svc", "svc.proto", "-I", "missing"], "error: include directory '{root}/missing' does not exist\n1 error in the IDL; nothing was changed\n"),
    ],
)  # fmt: skip
def test_errors_are_one_sentence_and_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str | None, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("svc.proto").write_text('syntax = "proto3";\nmessage A {}\nservice S { rpc Get(A) returns (stream A); }\n')
    Path("nosvc.proto").write_text('syntax = "proto3";\nmessage A {}\n')
    Path("empty.proto").write_text('syntax = "proto3";\nservice Empty {}\n')
    Path("other.thrift").write_text("struct T { 1: i32 x }\n")
    if setup == "thrift project":
        assert run("init", "echo", str(ECHO))[0] == 0
    elif setup == "proto project":
        assert run("init", "svc", "svc.proto")[0] == 0
    elif setup == "both in volo.yml":
        Path("volo.yml").write_text("package: svc\ngenerated: svc/gen\nidls:\n  - path: svc.proto\n  - path: other.thrift\n")
    before = snapshot(tmp_path)
    code, out, err = run(*args)
    assert (code, out, err) == (1, "", message.format(root=tmp_path))
    assert snapshot(tmp_path) == before


def test_proto_errors_are_reported_where_they_are_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.proto").write_text('syntax = "proto3";\nservice S { rpc Get(Missing) returns (Missing); }\n')
    code, out, err = run("init", "bad", "bad.proto")
    assert (code, out) == (1, "")
    assert "bad.proto:2:21: error: " in err and "Missing" in err
    assert err.endswith(" in the IDL; nothing was changed\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.proto"]


def test_workers_share_one_port(chat_project: Path) -> None:
    handler = chat_project / "chat" / "handler.py"
    handler.write_text(handler.read_text().replace("        return Receipt()\n", "        return Receipt(index=os.getpid())\n")
                       .replace("from collections.abc", "import os\nfrom collections.abc"))  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "chat.server", "--address", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=chat_project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    script = f"""
import asyncio, sys
sys.path.insert(0, ".")
import volo.grpc
from chat.gen.chat.v1.chat import Post, RoomClient

async def main():
    pids = set()
    for _ in range(40):  # a new connection each time: the kernel spreads them
        async with RoomClient(volo.grpc.connect("127.0.0.1:{port}", timeout=10)) as client:
            pids.add((await client.Send(Post())).index)
    print(len(pids))

asyncio.run(main())
"""
    started = ""
    try:
        assert server.stdout is not None
        while started.count("serving chat.v1.Room on") < 2:  # both workers listen
            line = server.stdout.readline()
            assert line, started
            started += line
        result = subprocess.run([sys.executable, "-c", script], cwd=chat_project, capture_output=True,
                                text=True, check=False, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "2"  # both workers answered
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    assert (started + output).count("shutting down") == 2


@pytest.mark.parametrize(
    ("dependency", "todo"),
    [("volo-py", True), ("volo_py[grpc]>=0.1", False), ("Volo-Py [uvloop, GRPC]", False), ("volo-py[uvloop]", True)],
)
def test_init_says_when_an_existing_pyproject_lacks_the_grpc_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dependency: str, todo: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("svc.proto").write_text('syntax = "proto3";\nmessage A {}\nservice S { rpc Get(A) returns (A); }\n')
    original = f'[project]\nname = "x"\ndependencies = ["{dependency}"]\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
    Path("pyproject.toml").write_text(original)
    code, _, err = run("init", "svc", "svc.proto")
    assert code == 0
    expected = 'warning: pyproject.toml: add "volo-py[grpc]" to `dependencies` in [project] (the project runs on it)\n'
    assert err == (expected if todo else "")
    assert Path("pyproject.toml").read_text() == original


def test_idl_gen_writes_what_the_project_generates(chat_project: Path) -> None:
    code, out, err = run("idl", "gen", str(CHAT), "-I", str(CHAT_ROOT), "-o", "out")
    assert (code, err, out) == (0, "", "generated 8 files in out (8 written, 0 unchanged)\n")
    generated = {p.relative_to(chat_project / "chat" / "gen"): p.read_bytes()
                 for p in (chat_project / "chat" / "gen").rglob("*") if p.is_file()}  # fmt: skip
    written = {p.relative_to(chat_project / "out"): p.read_bytes()
               for p in (chat_project / "out").rglob("*") if p.is_file()}  # fmt: skip
    assert len(written) == 8 and written == generated


# ---- a gRPC project's volo.yml: a protobuf entry (tests/test_entries.py has the model) ----

RPC_PROTO = 'syntax = "proto3";\npackage acme;\nmessage A { int32 a = 1; }\nservice S { rpc GetThing(A) returns (A); }\n'


def test_init_writes_a_protobuf_entry_without_keep_unknown_fields(chat_project: Path) -> None:
    text = (chat_project / "volo.yml").read_text()
    # protobuf messages keep unknown fields anyway: the option would mean nothing
    assert "keep_unknown_fields" not in text and "codegen_option" not in text
    data = yaml.safe_load(text)
    assert data["package"] == "chat"
    assert data["entries"]["default"] == {
        "protocol": "protobuf", "generated": "chat/gen", "touch_all": True, "name_case": "keep",
        "special_namings": [],
        "services": [{"idl": {"source": "local", "path": os.path.relpath(CHAT, chat_project),
                              "includes": [os.path.relpath(CHAT_ROOT, chat_project)]}}],
    }  # fmt: skip
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")


def test_keep_unknown_fields_in_a_protobuf_entry_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("svc.proto").write_text(RPC_PROTO)
    assert run("init", "svc", "svc.proto")[0] == 0
    data = yaml.safe_load(Path("volo.yml").read_text())
    service = data["entries"]["default"]["services"][0]
    service["codegen_option"] = {"keep_unknown_fields": False}  # what meant nothing is let be
    Path("volo.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert run("gen") == (0, "generated svc/gen: 4 files, 0 rewritten\n", "")
    service["codegen_option"] = {"keep_unknown_fields": True}
    Path("volo.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    before = snapshot(tmp_path)
    message = (
        f"volo: {tmp_path / 'volo.yml'}: 'keep_unknown_fields' of service 1 of entry 'default' "
        "is a Thrift option: protobuf messages keep unknown fields anyway, so remove it\n"
    )
    for args in (["gen"], ["gen", "--check"], ["idl", "add", "svc.proto"]):
        assert run(*args) == (1, "", message)
    assert snapshot(tmp_path) == before


def test_a_grpc_volo_yml_of_the_previous_format_works_and_migrates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("svc.proto").write_text(RPC_PROTO)
    # as the previous version wrote it for a .proto file
    Path("volo.yml").write_text(
        "package: svc\ngenerated: svc/gen\nidls:\n- path: svc.proto\n  includes: []\n"
        "options:\n  keep_unknown_fields: false\n"
    )
    assert run("gen") == (0, "generated svc/gen: 4 files, 4 rewritten\n", "")
    assert run("migrate") == (0, "migrated volo.yml (the original is in volo.yml.bak)\n", "")
    entry = yaml.safe_load(Path("volo.yml").read_text())["entries"]["default"]
    assert entry["protocol"] == "protobuf"
    assert entry["services"] == [{"idl": {"source": "local", "path": "svc.proto", "includes": []}}]
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")


def test_gen_check_in_a_grpc_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("svc.proto").write_text(RPC_PROTO)
    assert run("init", "svc", "svc.proto")[0] == 0
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")
    Path("svc.proto").write_text(RPC_PROTO.replace("int32 a = 1;", "int32 a = 1; string b = 2;"))
    before = snapshot(tmp_path)
    assert run("gen", "--check") == (
        1, "", "volo: 1 generated file out of date (run `volo gen`): svc/gen/acme/svc.py\n"
    )
    assert snapshot(tmp_path) == before
    assert run("gen")[0] == 0
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")


def test_missing_handler_methods_follow_the_entry_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("svc.proto").write_text(
        RPC_PROTO.replace("service S {", "message Unused { int32 u = 1; }\nservice S {")
        .replace("returns (A); }", "returns (A); rpc WatchAll(A) returns (stream A); rpc keepMe(A) returns (A); }")
    )  # fmt: skip
    assert run("init", "svc", "svc.proto")[0] == 0
    assert run("gen") == (0, "generated svc/gen: 4 files, 0 rewritten\n", "")
    data = yaml.safe_load(Path("volo.yml").read_text())
    data["entries"]["default"].update(name_case="snake_case", special_namings=["keepMe"], touch_all=False)
    Path("volo.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    handler = Path("svc/handler.py")
    before = handler.read_bytes()
    code, out, err = run("gen")
    assert (code, out) == (0, "generated svc/gen: 4 files, 1 rewritten\n")
    assert "class Unused(" not in Path("svc/gen/acme/svc.py").read_text()
    # the handler `volo init` wrote has GetThing and WatchAll; snake_case names them anew
    assert err == (
        "warning: svc/handler.py: class Handler lacks S's methods get_thing, watch_all; add:\n"
        "    async def get_thing(self, request: A) -> A: ...\n"
        "    async def watch_all(self, request: A) -> AsyncIterator[A]: ...\n"
    )
    assert handler.read_bytes() == before
    handler.write_text(before.decode().replace("def GetThing", "def get_thing").replace("def WatchAll", "def watch_all"))
    assert run("gen") == (0, "generated svc/gen: 4 files, 0 rewritten\n", "")


def test_idl_add_to_other_entries_of_a_grpc_project(chat_project: Path) -> None:
    (chat_project / "audit.thrift").write_text("struct Event { 1: string kind }\nservice Audit { void record(1: Event event) }\n")
    (chat_project / "badges.proto").write_text('syntax = "proto3";\npackage badges.v1;\nmessage Badge { string title = 1; }\n')
    code, out, err = run("idl", "add", "audit.thrift", "-n", "audit")
    assert (code, err) == (0, "")
    assert out == "added audit.thrift to entry 'audit' of volo.yml\ngenerated chat/audit_gen: 3 files, 3 rewritten\n"
    code, out, err = run("idl", "add", "badges.proto", "-n", "badges", "--generated", "badges_gen")
    assert (code, err) == (0, "")
    assert out == "added badges.proto to entry 'badges' of volo.yml\ngenerated badges_gen: 5 files, 5 rewritten\n"
    entries = yaml.safe_load((chat_project / "volo.yml").read_text())["entries"]
    assert [(n, e["protocol"]) for n, e in entries.items()] == [("default", "protobuf"), ("audit", "thrift"), ("badges", "protobuf")]
    assert entries["audit"]["services"][0]["codegen_option"] == {"keep_unknown_fields": False}
    assert "codegen_option" not in entries["badges"]["services"][0]
    assert run("gen") == (0, "generated chat/gen: 8 files, 0 rewritten\ngenerated chat/audit_gen: 3 files, 0 rewritten\n"
                             "generated badges_gen: 5 files, 0 rewritten\n", "")  # fmt: skip
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")
    assert "class Event(" in (chat_project / "chat/audit_gen/audit.py").read_text()
    assert "class Badge(_pb.Message):" in (chat_project / "badges_gen/badges/v1/badges.py").read_text()
    result = project_pytest(chat_project)
    assert result.returncode == 0 and "4 passed" in result.stdout, result.stdout + result.stderr


def test_init_a_grpc_project_from_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_entries import commit, git

    monkeypatch.setenv("VOLO_CACHE_DIR", str(tmp_path / "cache"))
    central = tmp_path / "central"
    central.mkdir()
    git(central, "init", "-q", "-b", "main")
    first = commit(central, {"api/svc.proto": RPC_PROTO}, "first")
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    code, _, err = run("init", "svc", "api/svc.proto", "-g", central.as_uri(), "-r", "main")
    assert (code, err) == (0, "")
    entry = yaml.safe_load(Path("volo.yml").read_text())["entries"]["default"]
    assert entry["protocol"] == "protobuf"
    assert entry["repos"] == {"central": {"url": central.as_uri(), "ref": "main", "lock": first}}
    assert entry["services"] == [{"idl": {"source": "git", "repo": "central", "path": "api/svc.proto", "includes": []}}]
    assert "async def GetThing(self, request: A) -> A:" in Path("svc/handler.py").read_text()
    # a second file of the same repository, and a new commit the lock moves to
    second = commit(central, {"api/more.proto": 'syntax = "proto3";\npackage more;\nmessage M { int32 m = 1; }\n',
                              "api/svc.proto": RPC_PROTO.replace("returns (A); }", "returns (A); rpc Put(A) returns (A); }")},
                    "second")  # fmt: skip
    # the entry reads the locked commit, which has no more.proto yet
    before = snapshot(tmp_path / "project")
    assert run("idl", "add", "api/more.proto", "--repo", "central") == (
        1, "", "volo: IDL file api/more.proto of entry 'default' is not in repo 'central'\n"
    )  # fmt: skip
    assert snapshot(tmp_path / "project") == before
    code, out, err = run("repo", "update")
    assert code == 0 and out.startswith(f"repo 'central': {first[:12]} -> {second[:12]}\n")
    assert err == (
        "warning: svc/handler.py: class Handler lacks S's method Put; add:\n"
        "    async def Put(self, request: A) -> A: ...\n"
    )
    assert run("idl", "add", "api/more.proto", "--repo", "central")[0] == 0
    assert "class M(_pb.Message):" in Path("svc/gen/more/more.py").read_text()
    assert "/acme.S/Put" in Path("svc/gen/acme/svc.py").read_text()
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")
