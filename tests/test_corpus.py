"""Every real-world IDL in the shared corpus resolves, and the broken ones fail as they should."""

from __future__ import annotations

from pathlib import Path

import pytest

import pilota
from tests.conftest import SHARED, need_shared

APACHE = SHARED / "corpus" / "thrift" / "apache"
PILOTA = SHARED / "corpus" / "pilota"


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
