from __future__ import annotations

import os
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pilota
from pilota import ir
from pilota.codegen.python import Options
from pilota.diagnostics import Diagnostics
from tests.etcd_support import Etcd, need_etcd

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def need_shared(*parts: str) -> Path:
    """A path under ../shared; skips on a bare laptop, but fails in CI, which has it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} is missing (the shared corpus sits beside the project)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def need_apache_compiler() -> str:
    """Apache's `thrift` compiler; skips without it on a bare laptop, fails in CI."""
    import shutil

    compiler = shutil.which("thrift")
    if compiler is None:
        message = "Apache's thrift compiler is not installed (Debian: thrift-compiler)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return compiler


@pytest.fixture
def corpus() -> Path:
    return need_shared("corpus")


Checker = Callable[..., tuple[ir.Schema | None, Diagnostics]]


@pytest.fixture
def check_idl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Checker:
    """Write IDL files into a temporary folder and check the first one.

    Paths in diagnostics are relative (the folder is the working directory),
    so tests can compare rendered messages exactly.
    """
    monkeypatch.chdir(tmp_path)

    def run(
        main: str, *, include_dirs: tuple[str, ...] = (), **others: str
    ) -> tuple[ir.Schema | None, Diagnostics]:
        files = {
            "main.thrift": main,
            **{k.replace("__", "/") + ".thrift": v for k, v in others.items()},
        }
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return pilota.check(["main.thrift"], include_dirs)

    return run


def load_text(tmp_path: Path, text: str, name: str = "main.thrift") -> ir.Module:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return pilota.load([path]).roots[0]


# ---- generated code and codecs ---------------------------------------------------------

IDL = Path(__file__).resolve().parent / "idl"


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The test IDLs in tests/idl/, generated once and imported: `generated.rich` etc."""
    import importlib
    import sys
    import types

    root = tmp_path_factory.mktemp("generated")
    package = "pilota_test_gen"
    idls = sorted(IDL.glob("*.thrift"))
    pilota.generate(idls, root / package)
    pilota.generate(
        [IDL / "evolution.thrift"],
        root / package / "keeping",
        options=Options(keep_unknown_fields=True),
    )
    sys.path.insert(0, str(root))
    return types.SimpleNamespace(
        rich=importlib.import_module(f"{package}.rich"),
        uuids=importlib.import_module(f"{package}.uuid"),
        evolution=importlib.import_module(f"{package}.evolution"),
        keeping=importlib.import_module(f"{package}.keeping.evolution"),
        root=root,
    )


def turns_during(action: Callable[[], object]) -> int:
    """How many turns of a loop this thread ran while another thread ran
    `action`: none when `action` holds the GIL throughout, many when it gives
    waiting threads their turns (this one asks after sys.getswitchinterval())."""
    done = threading.Event()
    during: list[int] = []
    spins = 0

    def run() -> None:
        before = spins
        try:
            action()
        finally:
            during.append(spins - before)
            done.set()

    worker = threading.Thread(target=run)
    worker.start()
    while not done.is_set():
        spins += 1
    worker.join()
    return during[0]


def codec_modules() -> list[Any]:
    from pilota.runtime import _pure

    modules = [_pure]
    try:
        from pilota.runtime import _speedups  # type: ignore[attr-defined]
    except ImportError:
        if os.environ.get("CI"):
            raise  # CI builds the extension; its absence there is a failure
    else:
        modules.append(_speedups)
    return modules


class Codec:
    """One implementation (pure or compiled) behind a protocol-neutral face."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.name = "cython" if module.__name__.endswith("_speedups") else "python"

    def encode(self, obj: Any, protocol: str = "binary") -> bytes:
        return bytes(getattr(self.module, f"encode_{protocol}")(obj))

    def decode(self, cls: Any, data: bytes, protocol: str = "binary", max_depth: int = 64) -> Any:
        return getattr(self.module, f"decode_{protocol}")(cls, data, max_depth)

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(params=codec_modules(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def codec(request: pytest.FixtureRequest) -> Codec:
    return Codec(request.param)


@pytest.fixture(params=["binary", "compact"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def tt(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Our generated code for ThriftTest's interface (tests/idl/cross_test.thrift), imported."""
    import importlib
    import sys

    root = tmp_path_factory.mktemp("ours_thrift_test")
    pilota.generate([IDL / "cross_test.thrift"], root / "ours_tt")
    sys.path.insert(0, str(root))
    return importlib.import_module("ours_tt.crosstest")


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[Etcd]:
    """A real etcd of its own for the test (Debian's etcd-server), on free ports."""
    server = Etcd(need_etcd(), tmp_path / "etcd")
    server.start()
    yield server
    server.stop()
