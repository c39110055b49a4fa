"""Every .proto that protoc accepts, in ../shared/corpus/proto and ../shared/corpus/pilota
and in our own tests, generates a package that imports, whose modules each embed
their file's FileDescriptorProto byte for byte as protoc writes it; and every
field's spec says what protoc's resolved descriptor says (presence, packing,
group encoding, closed enums, UTF-8 validation, required), editions features
included."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import pilota
from pilota.codegen.protobuf import ProtoOptions, generate_protobuf, placement
from pilota.codegen.writer import write_tree
from pilota.runtime.varint import decode_varint
from tests.conftest import SHARED
from tests.proto_support import PROTO_IDL, import_root

GOLDEN = Path(__file__).parent / "golden"


def corpus_files(*parts: str) -> list[str]:
    root = SHARED.joinpath(*parts)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.proto")) if root.is_dir() else []


def protoc_files(root: Path, name: str, out: Path) -> dict[str, bytes] | None:
    """protoc's serialized FileDescriptorProto of `name` and each file it imports, by
    file name; None when protoc rejects the file."""
    pytest.importorskip("grpc_tools")
    from google.protobuf import descriptor_pb2

    answer = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{root}", f"--descriptor_set_out={out}",
         "--include_imports", name],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if answer.returncode != 0:
        return None
    files: dict[str, bytes] = {}
    data, pos = out.read_bytes(), 0
    while pos < len(data):  # the set's field 1, each file exactly as protoc wrote it
        tag, pos = decode_varint(data, pos) or (0, 0)
        size, pos = decode_varint(data, pos) or (0, 0)
        assert tag == 0x0A
        raw = data[pos : pos + size]
        files[descriptor_pb2.FileDescriptorProto.FromString(raw).name] = raw
        pos += size
    return files


def check_file(root: Path, name: str, tmp_path: Path, package: str) -> None:
    theirs = protoc_files(root, name, tmp_path / "set.pb")
    if theirs is None:  # protoc rejects the file: so must we, and there is nothing to generate
        schema, diagnostics = pilota.check([root / name], [root])
        assert schema is None and diagnostics.errors, name
        return
    schema = pilota.load([root / name], [root])
    options = ProtoOptions(bundled_well_known_types=False)
    write_tree(generate_protobuf(schema, options), tmp_path / package)
    import_root(tmp_path)
    places = placement(list(schema.modules.values()), options)
    try:
        for module, place in places.items():
            dotted = ".".join(Path(place).with_suffix("").parts)
            generated = importlib.import_module(f"{package}.{dotted}")
            assert theirs[module.name] == generated.FILE_DESCRIPTOR, module.name
            check_semantics(generated, pool_of(theirs))
    finally:
        for loaded in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[loaded]


@pytest.mark.parametrize("name", corpus_files("corpus", "proto") or ["(no corpus)"])
def test_corpus_proto(name: str, tmp_path: Path) -> None:
    from tests.conftest import need_shared

    root = need_shared("corpus", "proto")
    check_file(root, name, tmp_path, "corpus_gen")


@pytest.mark.parametrize("name", corpus_files("corpus", "pilota") or ["(no corpus)"])
def test_corpus_pilota(name: str, tmp_path: Path) -> None:
    from tests.conftest import need_shared

    root = need_shared("corpus", "pilota")
    check_file(root, name, tmp_path, "corpus_gen")


OWN = [("idl", name) for name in sorted(p.name for p in PROTO_IDL.glob("*.proto"))] + [
    (case.name, "main.proto") for case in sorted(GOLDEN.glob("proto*"))
]


@pytest.mark.parametrize(("where", "name"), OWN)
def test_own(where: str, name: str, tmp_path: Path) -> None:
    root = PROTO_IDL if where == "idl" else GOLDEN / where / "idl"
    check_file(root, name, tmp_path, "own_gen")


def pool_of(files: dict[str, bytes]) -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool

    pool = descriptor_pool.DescriptorPool()
    for raw in files.values():
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(raw))
    return pool


def check_semantics(module: Any, pool: Any) -> None:
    """Each FieldSpec in `module` against protoc's resolved field descriptor."""
    from pilota.runtime.protobuf import Extension, Message

    def classes(scope: Any) -> list[Any]:
        found = []
        for value in vars(scope).values():
            if isinstance(value, type) and issubclass(value, Message) and value.__module__ == module.__name__:
                found += [value, *classes(value)]
        return found

    for cls in classes(module):
        descriptor = pool.FindMessageTypeByName(cls.__pb_name__)
        for spec in cls.__pb_fields__:
            same_field(spec, descriptor.fields_by_name[spec.proto_name], cls.__pb_name__)
        for value in vars(cls).values():
            if isinstance(value, Extension):
                same_field(value.spec, pool.FindExtensionByName(value.full_name), value.full_name)
    for value in vars(module).values():
        if isinstance(value, Extension):
            same_field(value.spec, pool.FindExtensionByName(value.full_name), value.full_name)


def same_field(spec: Any, fd: Any, where: str) -> None:
    from pilota.runtime.protobuf import spec as pb

    what = f"{where}.{spec.proto_name}"
    assert spec.number == fd.number, what
    if spec.label == pb.MAP:
        entry = fd.message_type
        same_field(spec.type[0], entry.fields_by_name["key"], what)
        same_field(spec.type[1], entry.fields_by_name["value"], what)
        return
    assert spec.kind == fd.type, what  # delimited messages are groups, as protoc resolves them
    assert (spec.label in (pb.REPEATED, pb.PACKED)) == fd.is_repeated, what
    assert (spec.label == pb.PACKED) == fd.is_packed, what
    assert (spec.label == pb.REQUIRED) == fd.is_required, what
    if not fd.is_repeated and not fd.containing_type.GetOptions().map_entry:
        assert (spec.label != pb.IMPLICIT) == fd.has_presence, what
    if fd.enum_type is not None:
        assert bool(spec.flags & pb.CLOSED_ENUM) == fd.enum_type.is_closed, what
    if fd.type == fd.TYPE_STRING:
        verify = fd._GetFeatures().utf8_validation == 2  # VERIFY
        assert bool(spec.flags & pb.VALIDATE_UTF8) == verify, what
