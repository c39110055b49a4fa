"""Generated code type-checks: `mypy --strict` and `pyright` (strict) find nothing.

Checked: every golden case, and packages generated from ThriftTest.thrift
and the test IDLs. Pyright's strict mode is used with one rule off,
`reportConstantRedefinition`: IDL field names in capitals (`ID`) are
attributes, not constants.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pilota
from tests.conftest import IDL, REPO, need_shared

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("typecheck")
    names = []
    for case in sorted(p for p in GOLDEN.iterdir() if (p / "expected").is_dir()):
        name = f"golden_{case.name}"
        shutil.copytree(case / "expected", root / name)
        names.append(name)
    thrift_test = need_shared("corpus", "thrift", "apache-0.17", "ThriftTest.thrift")
    pilota.generate([thrift_test, *sorted(IDL.glob("*.thrift"))], root / "rich_and_thrift_test")
    names.append("rich_and_thrift_test")
    return root, names


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # mypy cannot see through setuptools' editable-install hook: show it the source tree.
    env = {**os.environ, "MYPYPATH": str(REPO)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_mypy_strict(packages: tuple[Path, list[str]]) -> None:
    root, names = packages
    args = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
    for name in names:
        args += ["-p", name]
    result = run(args, root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_pyright_strict(packages: tuple[Path, list[str]]) -> None:
    root, names = packages
    pyright = Path(sys.executable).with_name("pyright")
    if not pyright.exists():
        if os.environ.get("CI"):
            pytest.fail("pyright is not installed (it is a test dependency)")
        pytest.skip("pyright is not installed")
    config = {
        "typeCheckingMode": "strict",
        "reportConstantRedefinition": False,
        "extraPaths": [str(REPO)],
        "pythonVersion": "3.11",
    }
    (root / "pyrightconfig.json").write_text(json.dumps(config))
    result = run([str(pyright), *names], root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout
