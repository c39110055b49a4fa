"""Every real-world IDL in the shared corpus resolves, and the broken ones fail as they should.

Our own corpus (`tests/idl/corpus`, written for this project) covers the same
ground without `../shared`: each file resolves, generates a package that
imports, and round-trips values of every struct through both codecs and both
protocols; Apache's compiler reads every file but the two that use what only
Pilota reads, and refuses those for that reason.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import pilota
from pilota.runtime.base import Struct
from tests.conftest import IDL, SHARED, Codec, need_apache_compiler, need_shared
from tests.test_interop_apache import struct_strategy

APACHE = SHARED / "corpus" / "thrift" / "apache"
PILOTA = SHARED / "corpus" / "pilota"
OWN = IDL / "corpus"
OWN_INCLUDES = [OWN / "library"]
# Files of our corpus Apache's 0.17 compiler refuses, and a word of its reason.
PILOTA_ONLY = {"legacy.thrift": "senum", "names.thrift": "syntax error"}


def _names(folder: Path, pattern: str) -> list[str]:
    # Collected at import time so each file is its own test; empty without ../shared,
    # in which case the sentinel test below skips (or fails in CI).
    return (
        sorted(str(p.relative_to(folder)) for p in folder.glob(pattern)) if folder.exists() else []
    )


@pytest.fixture
def apache_includes(tmp_path: Path) -> list[Path]:
    """Include dirs for the Apache corpus.

    Include.thrift and ReuseObjects.thrift include "v0.16/ThriftTest.thrift", a
    snapshot that lives beside them in Apache's tree but not in the corpus; the
    corpus's 0.17 ThriftTest (the nearest release) stands in for it.
    """
    stand_in = tmp_path / "v0.16" / "ThriftTest.thrift"
    stand_in.parent.mkdir()
    stand_in.symlink_to(need_shared("corpus", "thrift", "apache-0.17", "ThriftTest.thrift"))
    return [tmp_path]


def test_corpus_is_present() -> None:
    need_shared("corpus", "thrift", "apache")
    need_shared("corpus", "pilota")
    assert len(_names(APACHE, "*.thrift")) >= 30
    assert len(_names(PILOTA, "**/*.thrift")) >= 40


@pytest.mark.parametrize(
    "name", [n for n in _names(APACHE, "*.thrift") if n != "BrokenConstants.thrift"]
)
def test_apache_file_resolves(name: str, apache_includes: list[Path]) -> None:
    schema, diagnostics = pilota.check([APACHE / name], apache_includes)
    assert not diagnostics.errors, diagnostics.render()
    assert schema is not None and schema.roots[0].definitions


def test_apache_017_thrift_test_resolves() -> None:
    path = need_shared("corpus", "thrift", "apache-0.17", "ThriftTest.thrift")
    schema, diagnostics = pilota.check([path])
    assert schema is not None, diagnostics.render()


def test_broken_constants_fails_at_line_21_naming_the_constant() -> None:
    path = need_shared("corpus", "thrift", "apache", "BrokenConstants.thrift")
    schema, diagnostics = pilota.check([path])
    assert schema is None
    at_21 = [d for d in diagnostics.errors if d.location and d.location.line == 21]
    assert len(at_21) == 1
    error = at_21[0]
    assert error.location is not None and error.location.col == 20
    assert "constant 'broken'" in error.message
    assert "9876543210987654321" in error.message
    assert "64 bits" in error.message


# Pilota's own corpus holds files that Pilota accepts but Apache (and we) reject.
PILOTA_REJECTED = {
    "duplicate_field_id.thrift",
    "thrift_with_field_mask/struct_init_with_field_mask.thrift",  # a default names no field
}


@pytest.mark.parametrize(
    "name", [n for n in _names(PILOTA, "**/*.thrift") if n not in PILOTA_REJECTED]
)
def test_pilota_file_resolves(name: str) -> None:
    schema, diagnostics = pilota.check([PILOTA / name])
    assert not diagnostics.errors, diagnostics.render()
    assert schema is not None


def test_pilota_duplicate_field_id_names_struct_and_id() -> None:
    path = need_shared("corpus", "pilota", "duplicate_field_id.thrift")
    schema, diagnostics = pilota.check([path])
    assert schema is None
    [error] = diagnostics.errors
    assert error.message == "duplicate field id 1 in struct 'User': 'id' and 'name' both use it"
    assert error.location is not None
    assert (error.location.line, error.location.col) == (3, 5)


# ---- our own corpus --------------------------------------------------------------------


def own_files() -> list[str]:
    return sorted(str(p.relative_to(OWN)) for p in OWN.rglob("*.thrift"))


def test_own_corpus_is_present() -> None:
    assert len(own_files()) >= 10


@pytest.fixture(scope="module")
def own_generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    """Each file of our corpus generated into its own package and imported: its modules."""
    root = tmp_path_factory.mktemp("own_corpus")
    sys.path.insert(0, str(root))
    modules: dict[str, list[Any]] = {}
    for name in own_files():
        package = "own_" + "".join(c if c.isalnum() else "_" for c in name.removesuffix(".thrift"))
        pilota.generate([OWN / name], root / package, include_dirs=OWN_INCLUDES)
        modules[name] = [
            importlib.import_module(".".join(p.relative_to(root).with_suffix("").parts))
            for p in sorted((root / package).rglob("*.py"))
            if p.name != "__init__.py" or p.parent != root / package
        ]
    return modules


@pytest.mark.parametrize("name", own_files())
def test_own_file_resolves_and_generates(name: str, own_generated: dict[str, list[Any]]) -> None:
    schema, diagnostics = pilota.check([OWN / name], OWN_INCLUDES)
    assert not diagnostics.errors, diagnostics.render()
    assert schema is not None and schema.roots[0].definitions
    # Every definition is in the package, by its name or, where Python forbids
    # that, mangled; a service as its handler class.
    defined = {attribute for module in own_generated[name] for attribute in vars(module)}
    missing = [
        d
        for d in schema.roots[0].definitions
        if not {d, f"{d}_", f"{d}Handler", f"{d}_Handler"} & defined
    ]
    assert not missing


@pytest.mark.parametrize("name", own_files())
def test_own_file_values_round_trip(
    name: str, own_generated: dict[str, list[Any]], codec: Codec, protocol: str
) -> None:
    classes = [
        value
        for module in own_generated[name]
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Struct)
        and value.__module__ == module.__name__
    ]
    assert classes

    for cls in classes:

        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
        @given(struct_strategy(cls))
        def check(value: Any) -> None:
            assert codec.decode(type(value), codec.encode(value, protocol), protocol) == value

        check()


@pytest.mark.parametrize("name", own_files())
def test_own_file_compiles_with_apache(name: str, tmp_path: Path) -> None:
    """Our corpus is Thrift as Apache reads it, except where it means not to be."""
    compiler = need_apache_compiler()
    result = subprocess.run(
        [compiler, "--gen", "py", "-out", str(tmp_path), "-I", str(OWN / "library"), str(OWN / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    if name in PILOTA_ONLY:
        assert result.returncode != 0 and PILOTA_ONLY[name] in result.stderr + result.stdout
    else:
        assert result.returncode == 0, result.stderr


def test_pilota_default_naming_no_field_is_an_error() -> None:
    path = need_shared(
        "corpus", "pilota", "thrift_with_field_mask", "struct_init_with_field_mask.thrift"
    )
    schema, diagnostics = pilota.check([path])
    assert schema is None
    [error] = diagnostics.errors
    assert error.message == (
        "struct 'Item' in the default of field 'item_opt2' in struct 'GetItemRequest' "
        "has no field 'content'"
    )
    assert error.location is not None
    assert (error.location.line, error.location.col) == (12, 58)
