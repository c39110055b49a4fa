"""A project as a user meets it: `volo init` from Apache's tutorial IDL (and from
idl_samples/calc, which exercises the same features on a fresh clone), a real
handler written in, then `mypy --strict`, `pyright` in strict mode, `ruff check`
and the project's own tests pass; in a virtual environment made by `make demo`
and in one made from the wheel.

The type checkers and ruff are this environment's; they look at the other
environment's packages (`--python-executable`, `--pythonpath`), which is what
the editable install of `make demo` must make visible to them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_packaging import build_wheel, copy_checkout, wheel_environment
from tests.test_project import free_port

APACHE_EXAMPLES = Path("/usr/share/doc/thrift-compiler/examples")
CALC = REPO / "idl_samples" / "calc" / "calc.thrift"
TOOLS = Path(sys.executable).parent  # mypy, pyright and ruff of this environment


def apache_tutorial() -> Path:
    """Apache's tutorial.thrift as Debian's thrift-compiler ships it: skips
    without it on a bare laptop, fails in CI (which installs thrift-compiler)."""
    path = APACHE_EXAMPLES / "tutorial.thrift"
    if not (path.is_file() and (APACHE_EXAMPLES / "shared.thrift").is_file()):
        message = f"{path} is missing (Debian: thrift-compiler)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def clean_env() -> dict[str, str]:
    """This process's environment without what points Python at this checkout, nor
    what an outer `make test` passes on (a make inside it would print its level)."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "MYPYPATH", "PYTHONHOME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def run(
    command: list[str | Path], cwd: Path, timeout: float = 600, **env: str
) -> str:
    """Runs `command`; returns its output, standard error too, as a terminal shows it."""
    done = subprocess.run(
        command, cwd=cwd, env={**clean_env(), **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, check=False, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}:\n{done.stdout}"
    return done.stdout


@pytest.fixture(scope="module")
def demo_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of the .venv `make demo` makes in a fresh copy of the checkout."""
    source = copy_checkout(tmp_path_factory.mktemp("demo") / "volo-py")
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    output = run(
        ["make", "demo", f"PYTHON={base_python}"], source, timeout=1200, DEMO_PORT=str(free_port())
    )
    # Installing shows the codec; where the compiled one must build (CI), it is the one in use.
    assert "volo, version" in output
    if os.environ.get("PILOTA_REQUIRE_EXTENSIONS"):
        assert "(codec: cython)" in output, output
    # The demo ends with the reply, as the README says.
    last = output.strip().splitlines()[-1]
    assert last == "reply from the echo server: EchoResponse(message='')", output
    return source / ".venv" / "bin" / "python"


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a virtual environment made from the wheel."""
    work = tmp_path_factory.mktemp("wheel")
    return wheel_environment(build_wheel(work), work / "env") / "bin" / "python"


# Real handlers, our own code: the method bodies, keyed by method name. Each
# body goes under the `async def` line `volo init` wrote, so the signatures
# stay the generator's.
HANDLERS = {
    "tutorial": (
        "from tutorial.gen import shared\n"
        "from tutorial.gen.tutorial import CalculatorHandler, InvalidOperation, Operation, Work\n",
        """
    def __init__(self) -> None:
        self.results: dict[int, shared.SharedStruct] = {}
        self.pings = 0
""",
        {
            "getStruct": "return self.results.get(key) or shared.SharedStruct(key=key, value='')",
            "ping": "self.pings += 1",
            "add": "return num1 + num2",
            "calculate": """match w:
    case Work(op=Operation.ADD, num1=a, num2=int(b)):
        value = a + b
    case Work(op=Operation.SUBTRACT, num1=a, num2=int(b)):
        value = a - b
    case Work(op=Operation.MULTIPLY, num1=a, num2=int(b)):
        value = a * b
    case Work(op=Operation.DIVIDE, num1=a, num2=int(b)) if b != 0:
        value = a // b
    case _:
        raise InvalidOperation(why=f"cannot calculate {w!r}")
self.results[logid] = shared.SharedStruct(key=logid, value=str(value))
return value""",
            "zip": "self.results.clear()",
        },
    ),
    "calc": (
        "from calc.gen import common\n"
        "from calc.gen.calc import (\n"
        "    LARGEST_OPERAND,\n"
        "    CalculationError,\n"
        "    CalculatorHandler,\n"
        "    Expression,\n"
        "    Number,\n"
        "    Operator,\n"
        ")\n",
        """
    def __init__(self) -> None:
        self.results: list[Number] = []
""",
        {
            "health": "return common.Health(serving=True, version='1.0')",
            "ping": "pass",
            "evaluate": """match expression:
    case Expression(left=left, right=right, op=op) if max(abs(left), abs(right)) > LARGEST_OPERAND:
        raise CalculationError(op=op, reason=f"an operand is over {LARGEST_OPERAND}")
    case Expression(op=Operator.OVER, right=0):
        raise CalculationError(op=Operator.OVER, reason="division by zero")
    case Expression(left=left, right=right, op=Operator.PLUS):
        value = left + right
    case Expression(left=left, right=right, op=Operator.MINUS):
        value = left - right
    case Expression(left=left, right=right, op=Operator.TIMES):
        value = left * right
    case Expression(left=left, right=right, op=Operator.OVER):
        value = left // right
    case _:
        raise CalculationError(reason=f"cannot evaluate {expression!r}")
self.results.append(value)
return value""",
            "sum": "return sum(numbers or [])",
            "reset": "self.results.clear()",
        },
    ),
    "chat": (
        "from collections.abc import AsyncIterator\n\n"
        "from pilota.runtime.protobuf.wkt.google.protobuf import empty\n\n"
        "from chat.gen.chat.v1.chat import Message, Post, Receipt, RoomHandler, Summary\n",
        """
    def __init__(self) -> None:
        self.history: list[Message] = []
""",
        {
            "Send": """self.history.append(request.message or Message())
return Receipt(index=len(self.history) - 1)""",
            "History": """for message in list(self.history):
    yield message""",
            "Import": """counts: dict[str, int] = {}
async for message in requests:
    self.history.append(message)
    author = message.author.name if message.author is not None else ""
    counts[author] = counts.get(author, 0) + 1
return Summary(counts=[Summary.Count(author=a, messages=n) for a, n in sorted(counts.items())])""",
            "Talk": """async for message in requests:
    for earlier in list(self.history):
        if earlier.author != message.author:
            yield earlier
    self.history.append(message)""",
        },
    ),
}


def implement_handler(project: Path, name: str) -> None:
    """Replaces the stub in NAME/handler.py by a real handler, keeping the stub's signatures."""
    imports, init, bodies = HANDLERS[name]
    stub = (project / name / "handler.py").read_text()
    signatures = {
        m.group(2): m.group(1)
        for m in re.finditer(r"^    (async def (\w+)\(.*\) -> .*:)$", stub, re.M)
    }
    assert sorted(signatures) == sorted(bodies), stub
    methods = [
        f"    {signatures[method]}\n" + "".join(f"        {line}\n" for line in body.splitlines())
        for method, body in bodies.items()
    ]
    base = re.search(r"^class Handler\((.*)\):$", stub, re.M)
    assert base is not None, stub
    text = (
        '"""The Calculator service, implemented."""\n\nfrom __future__ import annotations\n\n'
        f"{imports}\n\nclass Handler({base.group(1)}):{init}\n" + "\n".join(methods)
    )
    (project / name / "handler.py").write_text(text)


def check_project(project: Path, name: str, python: Path, tests: int = 4) -> None:
    """mypy --strict, pyright (strict), ruff (with isort's rules, whatever its version's
    defaults) and the project's `tests` tests, against `python`'s packages."""
    (project / "pyrightconfig.json").write_text(json.dumps({"typeCheckingMode": "strict"}))
    run([TOOLS / "mypy", "--strict", "--no-incremental", "--python-executable", python, "."], project)
    out = run([TOOLS / "pyright", "--pythonpath", python], project)
    assert "0 errors" in out, out
    # The generated package is the compiler's: its own tests run ruff on generated code.
    ruff = [TOOLS / "ruff", "check", "--no-cache", "--extend-select", "I"]
    run([*ruff, "--extend-exclude", f"{name}/gen", "."], project)
    out = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
    assert re.search(rf"\b{tests} passed\b", out), out


OWN_METHODS = {"tutorial": ["ping", "add", "calculate", "zip"], "calc": ["ping", "evaluate", "sum", "reset"]}


@pytest.mark.parametrize("name", ["tutorial", "calc"])
def test_the_files_volo_init_writes_pass_the_type_checkers(tmp_path: Path, name: str) -> None:
    idl = apache_tutorial() if name == "tutorial" else CALC
    run([TOOLS / "volo", "init", name, idl], tmp_path)
    written = [tmp_path / name / f for f in ("handler.py", "server.py", "client.py")]
    written.append(tmp_path / "tests" / f"test_{name}.py")
    for path in written:
        assert "import *" not in path.read_text(), path
    # The tests call the service's own methods, not the one it inherits.
    tests = re.findall(r"^def test_(\w+)\(", written[-1].read_text(), re.M)
    assert tests == OWN_METHODS[name]
    check_project(tmp_path, name, Path(sys.executable))


@pytest.mark.parametrize("environment", ["current", "demo", "wheel"])
@pytest.mark.parametrize("name", ["tutorial", "calc"])
def test_a_project_passes_the_type_checkers_and_its_tests_once_implemented(
    request: pytest.FixtureRequest, tmp_path: Path, environment: str, name: str
) -> None:
    idl = apache_tutorial() if name == "tutorial" else CALC
    python = (
        Path(sys.executable)
        if environment == "current"
        else request.getfixturevalue(f"{environment}_python")
    )
    project = tmp_path / "project"
    project.mkdir()
    run([python.parent / "volo", "init", name, idl], project)
    implement_handler(project, name)
    check_project(project, name, python)


def test_names_the_project_files_bind_are_not_taken_by_imports(tmp_path: Path) -> None:
    # An included file named like a module the tests import, a struct named like the
    # handler class: the first gets an alias, the second is reached through its module.
    (tmp_path / "asyncio.thrift").write_text("struct Job { 1: i32 id }\n")
    (tmp_path / "money.thrift").write_text("struct Money { 1: i64 units }\nservice Bank { Money balance() }\n")
    (tmp_path / "svc.thrift").write_text(
        'include "asyncio.thrift"\ninclude "money.thrift"\n'
        "struct Handler { 1: required string name }\n"
        "service Svc extends money.Bank { Handler get(1: asyncio.Job job, 2: money.Money m) }\n"
    )
    project = tmp_path / "project"
    project.mkdir()
    run([TOOLS / "volo", "init", "svc", tmp_path / "svc.thrift"], project)
    handler = (project / "svc" / "handler.py").read_text()
    assert "from svc.gen import asyncio as asyncio_\nfrom svc.gen import money, svc\n" in handler
    assert "async def get(self, job: asyncio_.Job | None, m: money.Money | None) -> svc.Handler:" in handler
    check_project(project, "svc", Path(sys.executable), tests=1)


def test_a_service_of_void_and_oneway_methods(tmp_path: Path) -> None:
    # The client calls a method with no reply: nothing to print but that it returned.
    (tmp_path / "log.thrift").write_text(
        "exception Full { 1: string why }\n"
        "service Log { oneway void flush()\n void write(1: string line) throws (1: Full full) }\n"
    )
    project = tmp_path / "project"
    project.mkdir()
    run([TOOLS / "volo", "init", "log", tmp_path / "log.thrift"], project)
    client = (project / "log" / "client.py").read_text()
    assert '        await client.write(line="")\n        print("Log.write returned")\n' in client
    check_project(project, "log", Path(sys.executable), tests=2)


# ---- gRPC projects (from .proto files) ------------------------------------------------------

CHAT_ROOT = REPO / "idl_samples" / "chat"


@pytest.mark.parametrize("environment", ["current", "wheel"])
def test_a_grpc_project_passes_the_type_checkers_and_its_tests_once_implemented(
    request: pytest.FixtureRequest, tmp_path: Path, environment: str
) -> None:
    # Every call kind; a well-known type, a message of another file and a nested one.
    python = Path(sys.executable) if environment == "current" else request.getfixturevalue("wheel_python")
    project = tmp_path / "project"
    project.mkdir()
    run([python.parent / "volo", "init", "chat", CHAT_ROOT / "chat" / "v1" / "chat.proto", "-I", CHAT_ROOT], project)
    tests = (project / "tests" / "test_chat.py").read_text()
    assert re.findall(r"^def test_(\w+)\(", tests, re.M) == ["Send", "History", "Import", "Talk"]
    check_project(project, "chat", python)  # the stub
    implement_handler(project, "chat")
    check_project(project, "chat", python)


def test_names_a_grpc_project_binds_are_not_taken_by_imports(tmp_path: Path) -> None:
    # A message named like the handler class and one like a parameter of its methods,
    # in a file named like a module the tests import: the file's module is imported
    # under another name, and its messages are reached through it.
    (tmp_path / "asyncio.proto").write_text(
        'syntax = "proto3";\npackage jobs;\nmessage Job { int32 id = 1; }\n'
    )
    (tmp_path / "svc.proto").write_text(
        'syntax = "proto3";\npackage svc;\nimport "asyncio.proto";\n'
        "message Handler { string name = 1; }\nmessage requests { repeated jobs.Job jobs = 1; }\n"
        "service Svc {\n  rpc Run(stream jobs.Job) returns (Handler);\n"
        "  rpc Plan(requests) returns (stream jobs.Job);\n}\n"
    )
    project = tmp_path / "project"
    project.mkdir()
    run([TOOLS / "volo", "init", "svc", tmp_path / "svc.proto", "-I", tmp_path], project)
    handler = (project / "svc" / "handler.py").read_text()
    assert "from svc.gen.jobs import asyncio as asyncio_\nfrom svc.gen.svc import svc\n" in handler
    assert "async def Run(self, requests: AsyncIterator[asyncio_.Job]) -> svc.Handler:" in handler
    assert "async def Plan(self, request: svc.requests) -> AsyncIterator[asyncio_.Job]:" in handler
    check_project(project, "svc", Path(sys.executable), tests=2)
