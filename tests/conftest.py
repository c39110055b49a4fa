from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import pilota
from pilota import ir
from pilota.diagnostics import Diagnostics

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
