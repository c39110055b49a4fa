"""Generated protobuf code as users meet it: it type-checks under `mypy --strict` and
pyright's strict mode with no rule turned off, passes ruff's default checks and isort's
order (the golden cases, our test .proto files, tests/idl/torture/torture.proto, and
files with little in them), and the well-known types shipped in the runtime are
exactly what the generator makes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pilota.runtime.protobuf
from pilota.codegen.protobuf import well_known_types
from tests.conftest import REPO, need_shared
from tests.proto_support import PROTO_IDL, RICH_FILES, generate_package

GOLDEN = Path(__file__).parent / "golden"
WKT = Path(pilota.runtime.protobuf.__file__).parent / "wkt"
CONFORMANCE_FILES = (
    "google/protobuf/test_messages_proto2.proto",
    "google/protobuf/test_messages_proto3.proto",
    "editions/golden/test_messages_proto2_editions.proto",
    "editions/golden/test_messages_proto3_editions.proto",
    "conformance/test_messages_edition2023.proto",
    "conformance/conformance.proto",
)


def own_packages(root: Path) -> list[str]:
    """The proto golden cases and the test .proto files, as packages under `root`."""
    names = []
    for case in sorted(GOLDEN.glob("proto*")):
        name = f"golden_{case.name}"
        shutil.copytree(case / "expected", root / name)
        names.append(name)
    generate_package([PROTO_IDL / f for f in RICH_FILES], [PROTO_IDL], root, "proto_rich")
    torture = PROTO_IDL.parent / "torture"  # names that collide with what the code uses
    generate_package([torture / "torture.proto"], [torture], root, "proto_torture")
    sparse = root / "sparse_idl"  # files with little in them: no import left unused
    sparse.mkdir()
    for name, text in SPARSE.items():
        (sparse / name).write_text(text)
    generate_package([sparse / name for name in SPARSE], [sparse], root, "proto_sparse")
    return [*names, "proto_rich", "proto_torture", "proto_sparse"]


SPARSE = {
    "nothing.proto": 'syntax = "proto3";\n',
    "open.proto": 'syntax = "proto3";\npackage open;\nenum Open { ZERO = 0; }\n',
    "closed.proto": 'syntax = "proto2";\npackage closed;\nenum Closed { ONE = 1; }\n',
    "imports.proto": 'syntax = "proto3";\nimport "open.proto";\n',
    "wkt_only.proto": 'syntax = "proto3";\nimport "google/protobuf/empty.proto";\n'
    "service Pinger { rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty); }\n",
}


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("proto_typecheck")
    return root, own_packages(root)


@pytest.fixture(scope="module")
def conformance_messages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    corpus = need_shared("corpus", "proto")
    root = tmp_path_factory.mktemp("proto_typecheck_corpus")
    generate_package([corpus / f for f in CONFORMANCE_FILES], [corpus], root, "conformance_gen")
    return root, ["conformance_gen"]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYPYPATH": str(REPO)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def mypy(root: Path, names: list[str]) -> None:
    args = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
    for name in names:
        args += ["-p", name]
    result = run(args, root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def pyright(root: Path, names: list[str]) -> None:
    executable = Path(sys.executable).with_name("pyright")
    if not executable.exists():
        if os.environ.get("CI"):
            pytest.fail("pyright is not installed (it is a test dependency)")
        pytest.skip("pyright is not installed")
    config = {"typeCheckingMode": "strict", "extraPaths": [str(REPO)], "pythonVersion": "3.11"}
    (root / "pyrightconfig.json").write_text(json.dumps(config))
    result = run([str(executable), *names], root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


def ruff(root: Path, names: list[str]) -> None:
    executable = Path(sys.executable).with_name("ruff")
    result = run([str(executable), "check", "--isolated", "--extend-select", "I", *names], root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict(own: tuple[Path, list[str]]) -> None:
    mypy(*own)


def test_pyright_strict(own: tuple[Path, list[str]]) -> None:
    pyright(*own)


def test_ruff(own: tuple[Path, list[str]]) -> None:
    ruff(*own)


def test_conformance_messages_mypy_strict(conformance_messages: tuple[Path, list[str]]) -> None:
    mypy(*conformance_messages)


def test_conformance_messages_pyright_strict(
    conformance_messages: tuple[Path, list[str]],
) -> None:
    pyright(*conformance_messages)


def test_shipped_well_known_types_pass_the_checks(tmp_path: Path) -> None:
    shutil.copytree(WKT, tmp_path / "wkt")
    pyright(tmp_path, ["wkt"])
    ruff(tmp_path, ["wkt"])


def test_shipped_well_known_types_are_what_the_generator_makes() -> None:
    expected = {str(f.path): f.text.encode() for f in well_known_types()}
    shipped = {
        str(p.relative_to(WKT)): p.read_bytes()
        for p in sorted(WKT.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped == expected
