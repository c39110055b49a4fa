"""Golden files: each case's IDL must generate exactly the tree in `expected/`.

`tests/golden/<case>/idl/main.thrift` is compiled (with `options.json`, if
present, as generation options), or `idl/main.proto` (the `idl` folder is its
import root); the output must match `expected/` file for file, byte for byte. `UPDATE_GOLDEN=1 pytest tests/test_golden.py` rewrites
the expected trees; review their diff as you would code.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

import pilota
from pilota.codegen.protobuf import generate_protobuf
from pilota.codegen.python import Options
from pilota.codegen.writer import write_tree

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "idl").is_dir())


def options_for(case: Path) -> Options:
    path = case / "options.json"
    return Options(**json.loads(path.read_text())) if path.exists() else Options()


def generate_case(case: Path, out: Path) -> None:
    proto = case / "idl" / "main.proto"
    if proto.exists():
        write_tree(generate_protobuf(pilota.load([proto], [case / "idl"])), out)
    else:
        pilota.generate([case / "idl" / "main.thrift"], out, options=options_for(case))


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str, tmp_path: Path) -> None:
    case = GOLDEN / name
    out = tmp_path / "out"
    generate_case(case, out)
    expected = case / "expected"
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(expected, ignore_errors=True)
        shutil.copytree(out, expected)
    assert tree(out) == tree(expected)


def test_generation_is_deterministic(tmp_path: Path) -> None:
    case = GOLDEN / "includes"
    first, second = tmp_path / "a", tmp_path / "b"
    pilota.generate([case / "idl" / "main.thrift"], first)
    pilota.generate([case / "idl" / "main.thrift"], second)
    assert tree(first) == tree(second)


def test_protobuf_generation_is_deterministic(tmp_path: Path) -> None:
    case = GOLDEN / "proto_imports"
    first, second = tmp_path / "a", tmp_path / "b"
    generate_case(case, first)
    generate_case(case, second)
    assert tree(first) == tree(second)


@pytest.mark.parametrize("name", CASES)
def test_golden_output_imports(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = f"golden_{name}"
    shutil.copytree(GOLDEN / name / "expected", tmp_path / package)
    monkeypatch.syspath_prepend(str(tmp_path))
    for path in sorted((tmp_path / package).rglob("*.py")):
        parts = path.relative_to(tmp_path).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        importlib.import_module(module)
    for module in [m for m in sys.modules if m.startswith(package)]:
        del sys.modules[module]
