"""Generated code passes what a user's project runs on it: `mypy --strict`,
`pyright` in strict mode with no rule turned off, and `ruff check` (its default
rules, the pycodestyle warnings such as trailing whitespace, and isort's order,
which the projects `volo init` writes check).

Checked: every golden case, a package generated from the test IDLs (and
Apache's ThriftTest.thrift when ../shared is there; in CI it must be), and one
from tests/idl/torture/, names chosen to collide with what generated code uses;
constants nested as deep as `check` lets them, which pyright once took
minutes to check (a class call per level, each inferred twice over); and
modules with little in them (an unused runtime import once failed pyright).
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
from tests.conftest import IDL, REPO, SHARED, need_shared

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("typecheck")
    names = []
    for case in sorted(p for p in GOLDEN.iterdir() if (p / "expected").is_dir()):
        name = f"golden_{case.name}"
        shutil.copytree(case / "expected", root / name)
        names.append(name)
    idls = sorted(IDL.glob("*.thrift"))
    thrift_test = SHARED / "corpus" / "thrift" / "apache-0.17" / "ThriftTest.thrift"
    if thrift_test.exists() or os.environ.get("CI"):
        idls.append(need_shared("corpus", "thrift", "apache-0.17", "ThriftTest.thrift"))
    pilota.generate(idls, root / "rich_and_thrift_test")
    names.append("rich_and_thrift_test")
    pilota.generate([IDL / "torture" / "torture.thrift"], root / "torture")
    names.append("torture")
    (root / "deep.thrift").write_text(DEEP_CONSTANTS)
    pilota.generate([root / "deep.thrift"], root / "deep")
    names.append("deep")
    for name, text in SPARSE.items():
        (root / name).write_text(text)
    pilota.generate([root / name for name in SPARSE], root / "sparse")
    names.append("sparse")
    return root, names


# Modules with little in them, which import less: no runtime import left unused, and
# the imports laid out as isort lays them out whatever is left.
SPARSE = {
    "nothing.thrift": "",
    "constants.thrift": "const i32 ONE = 1\nconst double HUGE = 1e999\n",
    "typedefs.thrift": "typedef i32 Count\nconst Count TWO = 2\n",
    "frozen.thrift": "const map<i32, i32> BY_ID = {1: 2}\n",
    "includes.thrift": 'include "constants.thrift"\n',
    "enums.thrift": "enum Level { LOW = 1 }\n",
}


def nested(n: int, open_: str, inner: str, close: str) -> str:
    return open_ * n + inner + close * n


# 64 containers in one another: the deepest `check` accepts.
DEEP_CONSTANTS = (
    f"const {nested(64, 'map<i32, ', 'i32', '>')} MAPS = {nested(64, '{1: ', '2', '}')}\n"
    f"const {nested(64, 'list<', 'i32', '>')} LISTS = {nested(64, '[', '1', ']')}\n"
    f"const {nested(32, 'set<map<i32, ', 'i32', '>>')} SETS = {nested(32, '[{1: ', '2', '}]')}\n"
)


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # mypy cannot see through setuptools' editable-install hook: show it the source tree.
    env = {**os.environ, "MYPYPATH": str(REPO)}
    # The timeout ends a check that would never finish (not a measure of speed:
    # each run here takes well under a minute).
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900
    )


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
    config = {"typeCheckingMode": "strict", "extraPaths": [str(REPO)], "pythonVersion": "3.11"}
    (root / "pyrightconfig.json").write_text(json.dumps(config))
    result = run([str(pyright), *names], root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


def test_ruff(packages: tuple[Path, list[str]]) -> None:
    root, names = packages
    # ruff's defaults of old (E4, E7, E9, F), pycodestyle's warnings, isort's order, and two
    # of the rules newer versions (0.17) check by default: slots in natural order (RUF023),
    # no import renamed to its own name (PLC0414). Not yet passed, of those newer defaults:
    # B008 (an argument default of an enum with no member 0 is a call, `Shade(0)`, and so is a
    # uuid default) and the naming rules, which judge the IDL's names (N999, PYI042).
    rules = "E4,E7,E9,F,W,I,RUF023,PLC0414"
    result = run([sys.executable, "-m", "ruff", "check", "--isolated", "--select", rules, *names], root)
    assert result.returncode == 0, result.stdout + result.stderr
