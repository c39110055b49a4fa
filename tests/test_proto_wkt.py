"""The well-known types' helpers (pilota.runtime.protobuf.well_known): Timestamp and
Duration with datetime and timedelta, Any, Struct/Value/ListValue with Python values,
the wrappers, FieldMask; that a project's own copy of the well-known types gets them
too; and that code using them type-checks (and a misuse does not)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from pilota import EncodeError
from pilota.runtime.protobuf import Message, well_known
from pilota.runtime.protobuf.wkt.google.protobuf import any as any_pb
from pilota.runtime.protobuf.wkt.google.protobuf import (
    duration,
    empty,
    field_mask,
    struct,
    timestamp,
    wrappers,
)
from tests.proto_support import import_root, rich
from tests.test_proto_generated import mypy, pyright, run

Timestamp, Duration, FieldMask = timestamp.Timestamp, duration.Duration, field_mask.FieldMask


@pytest.fixture(scope="module")
def pb() -> SimpleNamespace:
    return rich()


def test_timestamp_and_datetime() -> None:
    when = datetime(2024, 2, 29, 12, 30, 15, 123456, tzinfo=UTC)
    ts = Timestamp.from_datetime(when)
    assert ts == Timestamp(seconds=1709209815, nanos=123456000)
    assert ts.to_datetime() == when and ts.to_datetime().tzinfo is UTC
    plus_two = timezone(timedelta(hours=2))
    assert Timestamp.from_datetime(when.astimezone(plus_two)) == ts
    assert ts.to_datetime(plus_two).hour == 14 and ts.to_datetime(plus_two).tzinfo is plus_two
    with pytest.raises(ValueError, match="naive datetime"):
        Timestamp.from_datetime(datetime(2024, 1, 1))
    # nanoseconds below a microsecond are dropped by datetime, kept by the nanoseconds
    fine = Timestamp(seconds=-1, nanos=999_999_999)
    assert fine.to_datetime() == datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert fine.to_nanoseconds() == -1 and Timestamp.from_nanoseconds(-1) == fine
    first, last = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert Timestamp.from_datetime(first).to_datetime() == first
    assert Timestamp.from_datetime(last).seconds == 253402300799
    with pytest.raises(EncodeError, match="outside years 1 to 9999"):
        Timestamp(seconds=253402300800).to_datetime()
    assert Timestamp.now().to_datetime() > datetime(2020, 1, 1, tzinfo=UTC)
    assert ts.to_rfc3339() == str(ts) == "2024-02-29T12:30:15.123456Z"
    assert Timestamp.from_rfc3339("2024-02-29T14:30:15.123456+02:00") == ts


def test_duration_and_timedelta() -> None:
    d = Duration.from_timedelta(timedelta(seconds=-1.5))
    assert d == Duration(seconds=-1, nanos=-500_000_000)
    assert d.to_timedelta() == timedelta(seconds=-1.5) and str(d) == "-1.500s"
    assert Duration.from_timedelta(timedelta(days=2, microseconds=3)) == Duration(
        seconds=172800, nanos=3000
    )
    assert Duration(nanos=-1500).to_timedelta() == timedelta(microseconds=-1)  # toward zero
    assert Duration.from_nanoseconds(-1_500_000_001) == Duration(seconds=-1, nanos=-500_000_001)
    assert Duration(seconds=2, nanos=5).to_nanoseconds() == 2_000_000_005
    assert Duration.from_nanoseconds(0) == Duration()


def test_any_pack_unpack_is(pb: SimpleNamespace) -> None:
    v3 = pb.v3
    point = v3.Point(x=1, y=2)
    packed = any_pb.Any.pack(point)
    assert packed.type_url == "type.googleapis.com/pilota.rich.v3.Point"
    assert packed.type_name == "pilota.rich.v3.Point" and packed.value == point.to_bytes()
    assert packed.is_(v3.Point) and not packed.is_(v3.Tree)
    assert packed.unpack(v3.Point) == point
    with pytest.raises(ValueError, match=r"holds a pilota\.rich\.v3\.Point, not a pilota\.rich"):
        packed.unpack(v3.Tree)
    assert any_pb.Any.pack(point, "example.com").type_url == "example.com/pilota.rich.v3.Point"
    counts = {str(i): i for i in range(20)}
    a = any_pb.Any.pack(v3.Everything(counts=counts), deterministic=True)
    b = any_pb.Any.pack(v3.Everything(counts=dict(reversed(counts.items()))), deterministic=True)
    assert a == b


def test_struct_value_list_value_and_python_values() -> None:
    data = {"n": None, "b": False, "i": 3, "f": 0.5, "s": "t", "l": [1, ("x", {})], "o": {"k": []}}
    s = struct.Struct.from_python(data)
    assert s.fields["i"] == struct.Value(number_value=3.0)
    assert s.fields["n"] == struct.Value(null_value=struct.NullValue.NULL_VALUE)
    expected = {"n": None, "b": False, "i": 3.0, "f": 0.5, "s": "t", "l": [1.0, ["x", {}]],
                "o": {"k": []}}  # fmt: skip
    assert s.to_python() == expected
    assert struct.Value.from_python([True]).to_python() == [True]
    assert struct.Value.from_python({"a": 1}).kind == (
        "struct_value", struct.Struct(fields={"a": struct.Value(number_value=1.0)})
    )
    assert struct.ListValue.from_python(iter([1, "a"])).to_python() == [1.0, "a"]
    assert struct.Value().to_python() is None
    with pytest.raises(ValueError, match="keys are strings, not int"):
        struct.Struct.from_python({1: 2})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="set has no JSON form"):
        struct.Value.from_python({1})
    nested: list[object] = []
    deep = nested
    for _ in range(200):
        deep.append([])
        deep = deep[0]  # type: ignore[assignment]
    with pytest.raises(ValueError, match="nests too deeply"):
        struct.Value.from_python(nested)


def test_wrappers() -> None:
    assert wrappers.Int32Value.wrap(5) == wrappers.Int32Value(value=5)
    assert wrappers.StringValue.wrap(None) is None
    assert well_known.unwrap(wrappers.BytesValue(value=b"x")) == b"x"
    assert well_known.unwrap(None) is None
    assert wrappers.BoolValue.wrap(False) == wrappers.BoolValue()


def test_field_masks(pb: SimpleNamespace) -> None:
    v3 = pb.v3
    mask = FieldMask(paths=["b.c", "a", "b", "a.x", "a"])
    assert mask.canonical() == FieldMask(paths=["a", "b"])
    assert FieldMask(paths=["ab", "a"]).canonical() == FieldMask(paths=["a", "ab"])
    assert FieldMask(paths=["a.b"]).union(FieldMask(paths=["a.c", "d"])) == FieldMask(
        paths=["a.b", "a.c", "d"]
    )
    assert FieldMask(paths=["a", "b.c"]).intersect(FieldMask(paths=["a.x", "b", "z"])) == (
        FieldMask(paths=["a.x", "b.c"])
    )
    assert mask.covers("a.y.z") and mask.covers("b") and not mask.covers("ab")
    assert FieldMask.for_message(v3.Point) == FieldMask(paths=["x", "y"])
    assert FieldMask(paths=["an_inner.back.a_point.x", "a_int32", "choice_int"]).is_valid_for(
        v3.Everything
    )
    for bad in ("nope", "inners.id", "a_int32.x", "counts.a", "an_inner.nope", "an_inner."):
        assert not FieldMask(paths=[bad]).is_valid_for(v3.Everything), bad


def test_empty_needs_no_helper() -> None:
    assert empty.Empty.__mro__[1] is Message
    assert empty.Empty().to_bytes() == b"" and empty.Empty().to_json() == "{}"


def test_a_generated_copy_of_the_well_known_types_gets_the_helpers(tmp_path: Path) -> None:
    from pilota.codegen.protobuf import ProtoOptions, generate_protobuf
    from pilota.codegen.writer import write_tree
    from pilota.compiler import load
    from pilota.proto.loader import well_known_root

    root = well_known_root()
    assert root is not None
    files = [root / "google/protobuf/timestamp.proto", root / "google/protobuf/struct.proto"]
    schema = load(files, [root])
    write_tree(generate_protobuf(schema, ProtoOptions(bundled_well_known_types=False)),
               tmp_path / "own_wkt")  # fmt: skip
    import_root(tmp_path)
    own = importlib.import_module("own_wkt.google.protobuf.timestamp")
    own_struct = importlib.import_module("own_wkt.google.protobuf.struct")
    assert own.Timestamp is not Timestamp and issubclass(own.Timestamp, well_known.TimestampBase)
    ts = own.Timestamp.from_datetime(datetime(2000, 1, 1, tzinfo=UTC))
    assert ts.to_dict() == "2000-01-01T00:00:00Z"
    assert own_struct.Struct.from_python({"a": [None]}).to_dict() == {"a": [None]}


def test_helpers_are_typed(tmp_path: Path, pb: SimpleNamespace) -> None:
    """Code using the helpers passes mypy --strict and pyright strict; a misuse fails."""
    usage = tmp_path / "wkt_usage"
    usage.mkdir()
    (usage / "__init__.py").write_text(
        "from datetime import UTC, datetime, timedelta\n"
        "from pilota.runtime.protobuf import TypeRegistry, Message\n"
        "from pilota.runtime.protobuf.well_known import unwrap\n"
        "from pilota.runtime.protobuf.wkt.google.protobuf import any as any_pb\n"
        "from pilota.runtime.protobuf.wkt.google.protobuf import duration, field_mask, struct\n"
        "from pilota.runtime.protobuf.wkt.google.protobuf import timestamp, wrappers\n"
        "\n"
        "ts: timestamp.Timestamp = timestamp.Timestamp.from_datetime(datetime.now(UTC))\n"
        "when: datetime = ts.to_datetime()\n"
        "nanos: int = timestamp.Timestamp.now().to_nanoseconds()\n"
        "d: duration.Duration = duration.Duration.from_timedelta(timedelta(seconds=1))\n"
        "span: timedelta = d.to_timedelta()\n"
        "packed: any_pb.Any = any_pb.Any.pack(ts)\n"
        "back: timestamp.Timestamp = packed.unpack(timestamp.Timestamp)\n"
        "holds: bool = packed.is_(timestamp.Timestamp)\n"
        "found: Message = TypeRegistry().unpack(packed)\n"
        "document: struct.Struct = struct.Struct.from_python({'a': [1, None]})\n"
        "plain: dict[str, object] = document.to_python()\n"
        "value: struct.Value = struct.Value.from_python(1.5)\n"
        "boxed: wrappers.Int32Value | None = wrappers.Int32Value.wrap(3)\n"
        "number: int | None = unwrap(boxed)\n"
        "mask: field_mask.FieldMask = field_mask.FieldMask(paths=['a']).union(\n"
        "    field_mask.FieldMask.for_message(timestamp.Timestamp)\n"
        ")\n"
        "text: str = ts.to_json()\n"
        "again: timestamp.Timestamp = timestamp.Timestamp.from_json(text)\n"
        "form: dict[str, object] = packed.to_dict()\n"
    )
    mypy(tmp_path, ["wkt_usage"])
    pyright(tmp_path, ["wkt_usage"])
    (usage / "__init__.py").write_text(
        "from pilota.runtime.protobuf.well_known import unwrap\n"
        "from pilota.runtime.protobuf.wkt.google.protobuf import any as any_pb, wrappers\n"
        "from pilota.runtime.protobuf.wkt.google.protobuf import duration\n"
        "\n"
        "text: str | None = unwrap(wrappers.Int32Value.wrap(3))\n"
        "d: duration.Duration = any_pb.Any().unpack(wrappers.Int32Value)\n"
    )
    import sys

    result = run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p",
                  "wkt_usage"], tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert result.stdout.count("Incompatible types in assignment") == 2, result.stdout
