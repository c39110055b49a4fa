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
RICH_FILES = ("rich3.proto", "rich2.proto", "extras.proto", "editions.proto", "jsonmap.proto")


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
        jsonmap=load("pilota.rich.jsonmap.jsonmap"),
        root=root,
        package=package,
    )


def proto_codecs() -> list[Any]:
    """The codec modules to test: the pure one, and the compiled one when it is built
    (CI builds it: there its absence is a failure)."""
    import os

    from pilota.runtime.protobuf import _pure

    codecs: list[Any] = [_pure]
    try:
        codecs.append(importlib.import_module("pilota.runtime.protobuf._speedups"))
    except ImportError:
        if os.environ.get("CI"):
            raise
    return codecs


# ---- Hypothesis: values of generated messages ------------------------------------------


def message_strategy(cls: Any, depth: int = 2, allow_nan: bool = False) -> Any:
    """Random instances of a generated message class, from its field specs: every
    field maybe set (required ones always), nesting `depth` levels of messages."""
    from hypothesis import strategies as st

    from pilota.runtime.protobuf import spec as pb

    def scalar(s: Any) -> Any:
        kind = s.kind
        if kind in pb.INT_RANGES and kind != pb.ENUM:
            low, high = pb.INT_RANGES[kind]
            return st.integers(low, high)
        if kind == pb.DOUBLE:
            return st.floats(allow_nan=allow_nan)
        if kind == pb.FLOAT:
            return st.floats(width=32, allow_nan=allow_nan)
        if kind == pb.BOOL:
            return st.booleans()
        if kind == pb.STRING:
            return st.text(max_size=12)
        if kind == pb.BYTES:
            return st.binary(max_size=12)
        if kind == pb.ENUM:
            members = st.sampled_from(list(s.type))
            if s.flags & pb.CLOSED_ENUM:
                return members
            return st.one_of(members, st.integers(-(2**31), 2**31 - 1).map(s.type))
        return message(s.type, depth - 1) if depth > 0 else st.none()

    def message(klass: Any, level: int) -> Any:
        fields: dict[str, Any] = {}
        required: dict[str, Any] = {}
        oneofs: dict[str, list[Any]] = {}
        for s in klass.__pb_fields__:
            is_message = s.kind in (pb.MESSAGE, pb.GROUP) and s.label != pb.MAP
            if s.oneof is not None:
                if not is_message or level > 0:
                    oneofs.setdefault(s.oneof, []).append(
                        st.tuples(st.just(s.name), scalar(s) if not is_message else
                                  message(s.type, level - 1))
                    )  # fmt: skip
                continue
            if s.label == pb.MAP:
                key, value = s.type
                if value.kind == pb.MESSAGE and level <= 0:
                    continue
                values = message(value.type, level - 1) if value.kind == pb.MESSAGE else scalar(value)
                fields[s.name] = st.dictionaries(scalar(key), values, max_size=3)
            elif s.label in (pb.REPEATED, pb.PACKED):
                if is_message and level <= 0:
                    continue
                element = message(s.type, level - 1) if is_message else scalar(s)
                fields[s.name] = st.lists(element, max_size=3)
            elif is_message:
                if s.label == pb.REQUIRED:
                    required[s.name] = message(s.type, max(level - 1, 0))
                elif level > 0:
                    fields[s.name] = st.none() | message(s.type, level - 1)
            elif s.label == pb.IMPLICIT:
                fields[s.name] = scalar(s)
            elif s.label == pb.REQUIRED:
                required[s.name] = scalar(s)
            else:
                fields[s.name] = st.none() | scalar(s)
        for name, cases in oneofs.items():
            fields[name] = st.none() | st.one_of(cases)
        return st.fixed_dictionaries(required, optional=fields).map(lambda kw: klass(**kw))

    return message(cls, depth)


def upb_pool(root: Path, names: Sequence[str], tmp: Path) -> Any:
    """A upb descriptor pool holding `names` (and what they import) as protoc describes them."""
    import subprocess

    from google.protobuf import descriptor_pb2, descriptor_pool

    out = tmp / "upb.pb"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{root}", f"--descriptor_set_out={out}",
         "--include_imports", *names],
        check=True, capture_output=True,
    )  # fmt: skip
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file:
        pool.Add(file)
    return pool


def to_upb(msg: Any, pool: Any) -> Any:
    """The upb message equal to our `msg`, built field by field through upb's API."""
    from google.protobuf import message_factory

    from pilota.runtime.protobuf import spec as pb

    upb = message_factory.GetMessageClass(pool.FindMessageTypeByName(msg.__pb_name__))()

    def fill(target: Any, value: Any) -> None:
        target.CopyFrom(to_upb(value, pool))

    for s in msg.__pb_fields__:
        name = s.proto_name
        if s.oneof is not None:
            case = getattr(msg, s.oneof)
            if case is None or case[0] != s.name:
                continue
            value = case[1]
        else:
            value = getattr(msg, s.name)
        is_message = s.kind in (pb.MESSAGE, pb.GROUP) and s.label != pb.MAP
        if s.label == pb.MAP:
            target = getattr(upb, name)
            for k, v in value.items():
                if s.type[1].kind == pb.MESSAGE:
                    fill(target[k], v)
                else:
                    target[k] = int(v) if s.type[1].kind == pb.ENUM else v
        elif s.label in (pb.REPEATED, pb.PACKED):
            target = getattr(upb, name)
            for item in value:
                if is_message:
                    fill(target.add(), item)
                else:
                    target.append(int(item) if s.kind == pb.ENUM else item)
        elif value is None or (s.label == pb.IMPLICIT and not is_message and _is_zero(value)):
            continue
        elif is_message:
            fill(getattr(upb, name), value)
        else:
            setattr(upb, name, int(value) if s.kind == pb.ENUM else value)
    return upb


def _is_zero(value: Any) -> bool:
    """What an implicit-presence field leaves unwritten (-0.0 is written)."""
    import math

    if isinstance(value, float):
        return value == 0 and math.copysign(1.0, value) > 0
    return not value


def json_ready(msg: Any) -> Any:
    """`msg` changed in place where ProtoJSON has no form for a value (and returned):
    a Value holding nothing or a non-finite number, an Any of bytes that name no
    known type, a Timestamp or Duration out of range, a FieldMask path that would not
    read back. What is left is what every ProtoJSON writer writes."""
    import math
    import re

    from pilota.runtime.protobuf import spec as pb
    from pilota.runtime.protobuf.wkt.google.protobuf import timestamp

    name = type(msg).__pb_name__
    if name == "google.protobuf.Value":
        case = msg.kind
        if case is None:
            msg.kind = ("null_value", 0)
        elif case[0] == "number_value" and not math.isfinite(case[1]):
            msg.kind = ("number_value", 0.0)
    elif name == "google.protobuf.Any":
        if msg.type_url or msg.value:
            packed = type(msg).pack(timestamp.Timestamp(seconds=len(msg.value), nanos=1000))
            msg.type_url, msg.value = packed.type_url, packed.value
    elif name == "google.protobuf.Timestamp":
        msg.seconds = msg.seconds % 253_402_300_799
        msg.nanos = msg.nanos % 1_000_000_000
    elif name == "google.protobuf.Duration":
        msg.seconds = msg.seconds % 315_576_000_000
        msg.nanos = msg.nanos % 1_000_000_000
    elif name == "google.protobuf.FieldMask":
        paths = [re.sub(r"_(?![a-z])", "", re.sub(r"[^a-z_.]", "", p)) for p in msg.paths]
        msg.paths = [p for p in paths if p]
    for s in msg.__pb_fields__:
        null_value = s.kind == pb.ENUM and s.type.__pb_name__ == "google.protobuf.NullValue"
        if null_value:  # ProtoJSON writes any NullValue as null, which reads as 0
            if s.oneof is not None:
                case = getattr(msg, s.oneof)
                if case is not None and case[0] == s.name:
                    setattr(msg, s.oneof, (s.name, s.type(0)))
            elif s.label in (pb.REPEATED, pb.PACKED):
                setattr(msg, s.name, [s.type(0)] * len(getattr(msg, s.name)))
            elif getattr(msg, s.name) is not None:
                setattr(msg, s.name, s.type(0))
        if s.oneof is not None:
            case = getattr(msg, s.oneof)
            values = [case[1]] if case is not None and case[0] == s.name else []
        elif s.label == pb.MAP:
            values = list(getattr(msg, s.name).values()) if s.type[1].kind == pb.MESSAGE else []
        elif s.label in (pb.REPEATED, pb.PACKED):
            values = list(getattr(msg, s.name))
        else:
            value = getattr(msg, s.name)
            values = [value] if value is not None else []
        for value in values:
            if hasattr(value, "__pb_fields__"):
                json_ready(value)
    return msg
