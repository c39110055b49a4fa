"""Differential test against a real peer: thriftpy2's parser reads the same corpus.

For every corpus file thriftpy2 can load, our IR must agree with its module on
each struct's field ids, names, wire types and requiredness, each enum's
values, each constant's value and each service's methods and argument ids.
Files thriftpy2 cannot read (uuid, annotations on types, `&`, ...) are left out.
The shared corpus and our own IDL (tests/idl, idl_samples) are both read.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import thriftpy2
from thriftpy2.thrift import TType

import pilota
from pilota import ir
from tests.conftest import IDL, REPO, SHARED, need_shared

CORPUS = SHARED / "corpus"
OWN_INCLUDES = [IDL / "corpus" / "library"]
_counter = itertools.count()

_WIRE = {
    ir.BaseKind.BOOL: TType.BOOL,
    ir.BaseKind.I8: TType.BYTE,
    ir.BaseKind.I16: TType.I16,
    ir.BaseKind.I32: TType.I32,
    ir.BaseKind.I64: TType.I64,
    ir.BaseKind.DOUBLE: TType.DOUBLE,
    ir.BaseKind.STRING: TType.STRING,
    ir.BaseKind.BINARY: TType.BINARY,  # thriftpy2 marks binary apart from string
}


def wire_type(t: ir.Type) -> int:
    t = ir.unalias(t)
    if isinstance(t, ir.BaseType):
        return _WIRE[t.kind]
    if isinstance(t, ir.ListType):
        return TType.LIST
    if isinstance(t, ir.SetType):
        return TType.SET
    if isinstance(t, ir.MapType):
        return TType.MAP
    return TType.I32 if isinstance(t.definition, ir.Enum) else TType.STRUCT


def plain(value: ir.Value) -> Any:
    """Our value in thriftpy2's representation (None where it has no plain one)."""
    if isinstance(value, ir.EnumValue):
        return value.value
    if isinstance(value, ir.ListValue):
        items = [plain(v) for v in value.items]
        return None if None in items else items
    if isinstance(value, ir.SetValue):
        items = [plain(v) for v in value.items]
        return set(items) if all(isinstance(i, int | float | str) for i in items) else None
    if isinstance(value, ir.MapValue):
        try:
            pairs = {plain(k): plain(v) for k, v in value.items}
        except TypeError:  # unhashable keys: thriftpy2 cannot build these either
            return None
        return None if None in pairs or None in pairs.values() else pairs
    if isinstance(value, ir.StructValue | uuid.UUID | bytes):
        return None
    return value


# Files that must fail (thriftpy2 accepts what they get wrong).
BROKEN = {"BrokenConstants.thrift", "duplicate_field_id.thrift"}


def peer_files() -> list[str]:
    if not CORPUS.exists():
        return []
    files = sorted((CORPUS / "thrift" / "apache").glob("*.thrift"))
    files += sorted((CORPUS / "pilota").rglob("*.thrift"))
    return [str(p.relative_to(CORPUS)) for p in files if p.name not in BROKEN]


def same(ours: Any, theirs: Any) -> bool:
    """Equal values of equal types, except that thriftpy2 leaves integers in a
    double constant as ints where Apache (and we) make them doubles, and a set
    inside another container as the list it was written as."""
    if isinstance(ours, float):
        return isinstance(theirs, int | float) and float(theirs) == ours
    if isinstance(ours, set) and isinstance(theirs, list):
        return len(theirs) == len(ours) and all(
            any(same(mine, item) for mine in ours) for item in theirs
        )
    if isinstance(ours, list):
        return (
            isinstance(theirs, list)
            and len(ours) == len(theirs)
            and all(same(a, b) for a, b in zip(ours, theirs, strict=True))
        )
    if isinstance(ours, dict):
        return (
            isinstance(theirs, dict)
            and ours.keys() == theirs.keys()
            and all(same(v, theirs[k]) for k, v in ours.items())
        )
    return type(ours) is type(theirs) and bool(ours == theirs)


def own_files() -> list[str]:
    """Our own IDL, relative to the repository."""
    files = sorted(IDL.rglob("*.thrift")) + sorted((REPO / "idl_samples").rglob("*.thrift"))
    return [str(p.relative_to(REPO)) for p in files]


def load_peer(path: Path, include_dirs: list[Path] | None = None) -> ModuleType | None:
    name = f"peer{next(_counter)}_{path.stem.replace('-', '_')}_thrift"
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return thriftpy2.load(
                str(path), module_name=name, include_dirs=[str(d) for d in include_dirs or []]
            )
    except Exception:
        return None  # thriftpy2 cannot read this file; nothing to compare


# Collected once: the corpus files thriftpy2 can read, with its modules for them.
PEERS = {name: peer for name in peer_files() if (peer := load_peer(CORPUS / name)) is not None}
OWN_PEERS = {
    name: peer
    for name in own_files()
    if (peer := load_peer(REPO / name, OWN_INCLUDES)) is not None
}


@pytest.mark.parametrize("name", sorted(PEERS))
def test_agrees_with_thriftpy2(name: str) -> None:
    agrees(CORPUS / name, PEERS[name], [])


@pytest.mark.parametrize("name", sorted(OWN_PEERS))
def test_agrees_with_thriftpy2_on_our_own_idl(name: str) -> None:
    agrees(REPO / name, OWN_PEERS[name], OWN_INCLUDES)


def agrees(path: Path, peer: ModuleType, include_dirs: list[Path]) -> None:
    schema, diagnostics = pilota.check([path], include_dirs)
    assert schema is not None, diagnostics.render()
    module = schema.roots[0]
    compared = 0
    for definition in module.definitions.values():
        theirs = getattr(peer, definition.name, None)
        if isinstance(definition, ir.Struct):
            spec = theirs.thrift_spec  # type: ignore[union-attr]
            assert {f.id: (wire_type(f.type), f.name, f.required) for f in definition.fields} == {
                fid: (entry[0], entry[1], entry[-1]) for fid, entry in spec.items()
            }, definition.name
        elif isinstance(definition, ir.Enum):
            assert {m.name: m.value for m in definition.members} == theirs._NAMES_TO_VALUES  # type: ignore[union-attr]
        elif isinstance(definition, ir.Const):
            expected = plain(definition.value)
            if expected is None:
                continue
            assert same(expected, theirs), (definition.name, expected, theirs)
        elif isinstance(definition, ir.Service):
            ours = {m.name: [a.id for a in m.args] for m in definition.methods}
            assert set(ours) <= set(theirs.thrift_services)  # type: ignore[union-attr]
            for method, arg_ids in ours.items():
                args = getattr(theirs, f"{method}_args")
                assert sorted(arg_ids) == sorted(args.thrift_spec), method
        else:
            continue
        compared += 1
    assert compared or not module.definitions


def test_the_peer_reads_most_of_the_corpus() -> None:
    need_shared("corpus")
    assert len(PEERS) >= 40


def test_the_peer_reads_most_of_our_own_idl() -> None:
    """Those it cannot: uuid, `&`, negative hex, annotations on namespaces, xsd, senum,
    keywords as names, and struct constants leaving out a required field that has a default."""
    assert len(OWN_PEERS) >= 9, sorted(OWN_PEERS)
