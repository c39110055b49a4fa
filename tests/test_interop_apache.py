"""Interop with Apache Thrift, both directions, byte for byte.

Apache's compiler (`thrift --gen py`) generates its Python code for our own
IDL (`tests/idl/rich.thrift`, `wire.thrift`, `evolution.thrift`) and, when the
shared corpus is there, for Apache's ThriftTest.thrift (0.17); its `thrift`
library encodes and decodes with TBinaryProtocol, TCompactProtocol and their
accelerated (C) variants. For Hypothesis-generated values of every struct: our
bytes equal Apache's, Apache decodes ours to the same value, and we decode
Apache's to the same value. Between two versions of a struct whose field types
changed, each side skips what the other changed.
"""

from __future__ import annotations

import contextlib
import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pilota
from pilota.codegen.python import Options
from pilota.runtime import types as t
from tests.conftest import IDL, Codec, codec_modules, need_apache_compiler, need_shared
from tests.test_runtime import after, after_read_as_before, before, before_read_as_after

thrift = pytest.importorskip("thrift")
from thrift.protocol import TBinaryProtocol, TCompactProtocol  # noqa: E402
from thrift.transport import TTransport  # noqa: E402
from thrift.TSerialization import serialize  # noqa: E402

FACTORIES = {
    "binary": ("binary", TBinaryProtocol.TBinaryProtocolFactory()),
    "binary-accelerated": ("binary", TBinaryProtocol.TBinaryProtocolAcceleratedFactory()),
    "compact": ("compact", TCompactProtocol.TCompactProtocolFactory()),
    "compact-accelerated": ("compact", TCompactProtocol.TCompactProtocolAcceleratedFactory()),
}

# ThriftTest structs Apache's own Python code cannot round-trip: sets of
# structs and containers as map keys need hashable values it does not make.
APACHE_CANNOT = {"CrazyNesting"}


OWN_IDL = ("rich", "wire", "evolution")


def generate_both(root: Path, idls: dict[str, Path], package: str) -> SimpleNamespace:
    """Apache's code and ours for `idls` (module name -> file), imported."""
    compiler = need_apache_compiler()
    apache_out = root / "apache"
    apache_out.mkdir()
    for idl in idls.values():
        subprocess.run(
            [compiler, "--gen", "py", "-out", str(apache_out), str(idl)],
            check=True,
            capture_output=True,
        )
    pilota.generate(list(idls.values()), root / package)
    sys.path[:0] = [str(apache_out), str(root)]
    return SimpleNamespace(
        apache={name: importlib.import_module(f"{name}.ttypes") for name in idls},
        ours={name: importlib.import_module(f"{package}.{name}") for name in idls},
        root=root,
    )


@pytest.fixture(scope="session")
def own_peers(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Apache's code and ours for the project's own IDL (no shared corpus needed),
    and ours for evolution.thrift generated with `keep_unknown_fields` too."""
    root = tmp_path_factory.mktemp("interop_own")
    peers = generate_both(root, {name: IDL / f"{name}.thrift" for name in OWN_IDL}, "ours_own")
    pilota.generate(
        [IDL / "evolution.thrift"],
        root / "ours_own_keeping",
        options=Options(keep_unknown_fields=True),
    )
    peers.keeping = importlib.import_module("ours_own_keeping.evolution")
    return peers


@pytest.fixture(scope="session")
def thrift_test_peers(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Apache's code and ours for Apache's ThriftTest.thrift, from the shared corpus."""
    thrift_test = need_shared("corpus", "thrift", "apache-0.17", "ThriftTest.thrift")
    root = tmp_path_factory.mktemp("interop_thrift_test")
    return generate_both(root, {"ThriftTest": thrift_test}, "ours_interop")


def struct_names(module: ModuleType) -> list[str]:
    return sorted(
        name
        for name, value in vars(module).items()
        if isinstance(value, type)
        and value.__module__ == module.__name__
        and hasattr(value, "__thrift_spec__")
        and "_args" not in name
        and "_result" not in name
    )


# ---- values ---------------------------------------------------------------------------


def strategy(spec: t.TypeSpec, depth: int) -> st.SearchStrategy[Any]:
    code = spec if isinstance(spec, int) else spec[0]
    if code == t.BOOL:
        return st.booleans()
    if code in t.INT_RANGES and code != t.ENUM:
        low, high = t.INT_RANGES[code]
        return st.integers(low, high)
    if code == t.DOUBLE:
        return st.floats(allow_nan=False)
    if code == t.STRING:
        return st.text(st.characters(codec="utf-8"), max_size=12)
    if code == t.BINARY:
        return st.binary(max_size=12)
    assert not isinstance(spec, int)
    if code == t.ENUM:
        return st.sampled_from(list(spec[1]))
    if code == t.STRUCT:
        return struct_strategy(spec[1], depth + 1)
    if depth > 2:  # deep enough: containers stay empty, so recursion ends
        return st.just({t.LIST: [], t.SET: set(), t.MAP: {}}[code])
    if code == t.LIST:
        return st.lists(strategy(spec[1], depth + 1), max_size=3)
    if code == t.SET:
        return st.sets(strategy(spec[1], depth + 1), max_size=3)
    return st.dictionaries(strategy(spec[1], depth + 1), strategy(spec[2], depth + 1), max_size=3)


def struct_strategy(cls: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    from pilota.runtime.base import Union

    fields = cls.__thrift_spec__
    if issubclass(cls, Union):
        candidates = [f for f in fields if depth < 3 or not _recursive(f.type, cls)]
        return st.sampled_from(candidates).flatmap(
            lambda f: strategy(f.type, depth).map(lambda v: cls(**{f.name: v}))
        )
    parts = {}
    for f in fields:
        if f.required != t.REQUIRED and depth > 2 and _recursive(f.type, cls):
            parts[f.name] = st.none()
            continue
        value = strategy(f.type, depth)
        # Fields that must hold a value: required ones, and those with an IDL
        # default (typed without None: absent on the wire means the default).
        has_default = f.default is not None or f.default_factory is not None
        must = f.required == t.REQUIRED or (f.required == t.DEFAULT and has_default)
        parts[f.name] = value if must else st.none() | value
    return st.fixed_dictionaries(parts).map(lambda kwargs: cls(**kwargs))


def _recursive(spec: t.TypeSpec, cls: Any) -> bool:
    if isinstance(spec, int):
        return False
    if spec[0] == t.STRUCT:
        return True  # conservative: any struct may lead back
    return any(_recursive(s, cls) for s in spec[1:] if not isinstance(s, type))


def to_apache(value: Any, apache: ModuleType) -> Any:
    """Our value as the Apache-generated equivalent. Sets of scalars are shared
    as they are, so both sides iterate them in the same order."""
    spec = getattr(type(value), "__thrift_spec__", None)
    if spec is not None:
        kwargs = {f.idl_name or f.name: to_apache(getattr(value, f.name), apache) for f in spec}
        return getattr(apache, type(value).__name__)(**kwargs)
    if isinstance(value, list):
        return [to_apache(v, apache) for v in value]
    if isinstance(value, dict):
        return {to_apache(k, apache): to_apache(v, apache) for k, v in value.items()}
    return value


def from_apache(value: Any, ours_cls: Any) -> Any:
    kwargs = {f.name: _convert_back(getattr(value, f.idl_name or f.name), f.type) for f in ours_cls.__thrift_spec__}
    return ours_cls(**kwargs)


def _convert_back(value: Any, spec: t.TypeSpec) -> Any:
    if value is None or isinstance(spec, int):
        return value
    code = spec[0]
    if code == t.STRUCT:
        return from_apache(value, spec[1])
    if code == t.ENUM:
        return spec[1](value)
    if code == t.LIST:
        return [_convert_back(v, spec[1]) for v in value]
    if code == t.SET:
        return {_convert_back(v, spec[1]) for v in value}
    return {_convert_back(k, spec[1]): _convert_back(v, spec[2]) for k, v in value.items()}


def as_apache_sees_it(value: Any, apache: ModuleType) -> Any:
    """`value` with each unset field replaced by Apache's default for it: on
    decode Apache fills an absent optional field with its IDL default, where we
    keep it unset (None) so that presence stays visible."""
    spec = getattr(type(value), "__thrift_spec__", None)
    if spec is not None:
        blank = getattr(apache, type(value).__name__)()
        kwargs = {}
        for f in spec:
            field_value = getattr(value, f.name)
            if field_value is None:
                field_value = _convert_back(getattr(blank, f.idl_name or f.name), f.type)
            kwargs[f.name] = as_apache_sees_it(field_value, apache)
        return type(value)(**kwargs)
    if isinstance(value, list):
        return [as_apache_sees_it(v, apache) for v in value]
    if isinstance(value, dict):
        return {k: as_apache_sees_it(v, apache) for k, v in value.items()}
    return value


def apache_decode(cls: Any, data: bytes, factory: Any) -> Any:
    protocol = factory.getProtocol(TTransport.TMemoryBuffer(data))
    if getattr(cls, "__setattr__", None) is not object.__setattr__ and hasattr(cls.read, "__self__"):
        return cls.read(protocol)  # python.immutable classes read into a new instance
    obj = cls()
    with contextlib.suppress(TypeError):
        result = obj.read(protocol)
        if result is not None:
            return result
    return obj


# ---- the matrix ------------------------------------------------------------------------

each_codec = pytest.mark.parametrize(
    "codec_module", codec_modules(), ids=lambda m: m.__name__.rsplit(".", 1)[-1]
)


def cases() -> list[tuple[str, str]]:
    """Every struct of the IDLs above that values are generated for (evolution.thrift
    has tests of its own below)."""
    thrift_test = [
        "Bonk", "Bools", "Xtruct", "Xtruct2", "Xtruct3", "Insanity", "EmptyStruct", "OneField",
        "SomeUnion", "Xception", "Xception2", "VersioningTestV1", "VersioningTestV2",
        "ListTypeVersioningV1", "ListTypeVersioningV2", "GuessProtocolStruct", "LargeDeltas",
        "NestedListsI32x2", "NestedListsI32x3", "NestedMixedx2", "ListBonks", "NestedListsBonk",
        "BoolTest", "StructA", "StructB", "OptionalBinary", "OptionalSetDefaultTest",
    ]  # fmt: skip
    rich = ["Leaf", "Scalars", "Choice", "Failure", "Everything", "Medium"]
    wire = ["Nothing", "Wraps", "Flags", "Spread", "Deep", "Bytes", "Preset", "Named", "Holder",
            "Payload", "Refused"]  # fmt: skip
    return (
        [("ThriftTest", n) for n in thrift_test]
        + [("rich", n) for n in rich]
        + [("wire", n) for n in wire]
    )


def peers_for(request: pytest.FixtureRequest, idl: str) -> SimpleNamespace:
    fixture = "thrift_test_peers" if idl == "ThriftTest" else "own_peers"
    peers: SimpleNamespace = request.getfixturevalue(fixture)
    return peers


@each_codec
@pytest.mark.parametrize("variant", list(FACTORIES))
@pytest.mark.parametrize(("idl", "name"), cases(), ids=[f"{i}.{n}" for i, n in cases()])
def test_byte_identical_both_ways(
    request: pytest.FixtureRequest, idl: str, name: str, variant: str, codec_module: Any
) -> None:
    peers = peers_for(request, idl)
    ours_cls = getattr(peers.ours[idl], name)
    apache_cls = getattr(peers.apache[idl], name)
    protocol, factory = FACTORIES[variant]
    codec = Codec(codec_module)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(struct_strategy(ours_cls))
    def check(value: Any) -> None:
        ours_bytes = codec.encode(value, protocol)
        theirs = to_apache(value, peers.apache[idl])
        theirs_bytes = serialize(theirs, factory)
        assert ours_bytes == theirs_bytes
        decoded_by_apache = apache_decode(apache_cls, ours_bytes, factory)
        assert from_apache(decoded_by_apache, ours_cls) == as_apache_sees_it(value, peers.apache[idl])
        assert codec.decode(ours_cls, theirs_bytes, protocol) == value

    check()


def test_every_thrift_test_struct_is_covered(thrift_test_peers: SimpleNamespace) -> None:
    covered = {n for i, n in cases() if i == "ThriftTest"}
    assert set(struct_names(thrift_test_peers.ours["ThriftTest"])) - covered == APACHE_CANNOT


@pytest.mark.parametrize("idl", ["rich", "wire"])
def test_every_struct_of_our_own_idl_is_covered(own_peers: SimpleNamespace, idl: str) -> None:
    covered = {n for i, n in cases() if i == idl}
    assert set(struct_names(own_peers.ours[idl])) == covered


# ---- fields whose type changed between two versions of the IDL -------------------------


@each_codec
@pytest.mark.parametrize("variant", list(FACTORIES))
def test_changed_types_written_by_apache_are_skipped(
    own_peers: SimpleNamespace, variant: str, codec_module: Any
) -> None:
    """Apache writes one version of the struct, we read it with the other, both
    ways round: every changed field is skipped, the rest arrives (see
    tests/test_runtime.py for the cases). With `keep_unknown_fields` we are a
    proxy between two Apache peers of the same version: all of it gets through."""
    protocol, factory = FACTORIES[variant]
    codec = Codec(codec_module)
    ours, apache = own_peers.ours["evolution"], own_peers.apache["evolution"]
    pairs = [(before, ours.After, before_read_as_after), (after, ours.Before, after_read_as_before)]
    for build, reader, expected in pairs:
        sent = build(ours)
        data = serialize(to_apache(sent, apache), factory)
        assert data == codec.encode(sent, protocol)
        assert codec.decode(reader, data, protocol) == expected(ours)
        proxy = codec.decode(getattr(own_peers.keeping, reader.__name__), data, protocol)
        forwarded = codec.encode(proxy, protocol)
        by_apache = apache_decode(getattr(apache, type(sent).__name__), forwarded, factory)
        assert from_apache(by_apache, type(sent)) == sent


@each_codec
@pytest.mark.parametrize("variant", list(FACTORIES))
def test_changed_field_types_we_write_are_skipped_by_apache_as_by_us(
    own_peers: SimpleNamespace, variant: str, codec_module: Any
) -> None:
    """Fields whose wire type changed (`list` to `set` included), and an empty
    container whose element type changed: Apache reading the other version
    skips them as we do, to the same value."""
    protocol, factory = FACTORIES[variant]
    codec = Codec(codec_module)
    ours, apache = own_peers.ours["evolution"], own_peers.apache["evolution"]
    changed_wire_types = [
        "count", "flag", "bits", "owner", "pending", "order", "tiny", "parts", "level", "text",
        "limit", "stable",
    ]  # fmt: skip
    for sent, reader in ((before(ours), ours.After), (after(ours), ours.Before)):
        only = type(sent)(**{name: getattr(sent, name) for name in changed_wire_types})
        data = codec.encode(only, protocol)
        by_apache = apache_decode(getattr(apache, reader.__name__), data, factory)
        assert from_apache(by_apache, reader) == codec.decode(reader, data, protocol)


@each_codec
@pytest.mark.parametrize("field", ["ids", "tags", "scores", "labels", "grid", "switches"])
def test_changed_element_types_apache_refuses_are_skipped(
    own_peers: SimpleNamespace, field: str, codec_module: Any
) -> None:
    """Where only a container's element, key or value type changed, Apache's
    accelerated reader refuses the whole struct ("got wrong ttype") and its
    pure reader reads the elements as the declared type (garbage, or running
    off the end). Nothing in Apache skips such a field; we skip it as a field
    of another type, since that is what the container as a whole is."""
    codec = Codec(codec_module)
    ours, apache = own_peers.ours["evolution"], own_peers.apache["evolution"]
    sent = ours.Before(stable=1, **{field: getattr(before(ours), field)})
    for variant in ("binary-accelerated", "compact-accelerated"):
        protocol, factory = FACTORIES[variant]
        data = codec.encode(sent, protocol)
        with pytest.raises(TypeError, match="wrong ttype"):
            apache.After().read(factory.getProtocol(TTransport.TMemoryBuffer(data)))
        decoded = codec.decode(ours.After, data, protocol)
        assert getattr(decoded, field) is None and decoded.stable == 1
