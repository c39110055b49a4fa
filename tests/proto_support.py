"""Shared by the protobuf tests: our test .proto files generated once and imported."""

from __future__ import annotations

import atexit
import importlib
import shutil
import sys
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pilota
from pilota.codegen.protobuf import generate_protobuf
from pilota.codegen.writer import write_tree

PROTO_IDL = Path(__file__).resolve().parent / "idl" / "proto"
RICH_FILES = ("rich3.proto", "rich2.proto", "extras.proto", "editions.proto")


def generate_package(
    files: Sequence[Path], include_dirs: Sequence[Path], root: Path, package: str
) -> None:
    """Generates `files` as the package `package` under `root` (a sys.path entry)."""
    write_tree(generate_protobuf(pilota.load(list(files), list(include_dirs))), root / package)


def import_root(root: Path) -> None:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


@cache
def rich() -> SimpleNamespace:
    """tests/idl/proto/*.proto, generated into a temporary package and imported."""
    root = Path(tempfile.mkdtemp(prefix="pilota-proto-"))
    atexit.register(shutil.rmtree, root, True)
    package = "pilota_proto_rich"
    generate_package([PROTO_IDL / name for name in RICH_FILES], [PROTO_IDL], root, package)
    import_root(root)

    def load(name: str) -> ModuleType:
        return importlib.import_module(f"{package}.{name}")

    return SimpleNamespace(
        v3=load("pilota.rich.v3.rich3"),
        v2=load("pilota.rich.v2.rich2"),
        extras=load("pilota.extras.extras"),
        editions=load("pilota.rich.editions.editions"),
        root=root,
        package=package,
    )


def proto_codecs() -> list[Any]:
    """The codec modules to test: the pure one, and a compiled one when it is built."""
    import os

    from pilota.runtime.protobuf import _pure

    codecs: list[Any] = [_pure]
    try:
        codecs.append(importlib.import_module("pilota.runtime.protobuf._speedups"))
    except ImportError:
        if os.environ.get("CI") and os.environ.get("PILOTA_REQUIRE_PROTO_SPEEDUPS"):
            raise
    return codecs
