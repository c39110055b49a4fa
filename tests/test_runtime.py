"""Generated classes and both codecs: semantics, round trips, errors."""

from __future__ import annotations

import copy
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest

from pilota import DecodeError, EncodeError
from pilota.runtime import FrozenDict
from pilota.runtime import codec as codec_module
from tests.conftest import Codec


def everything(rich: Any) -> Any:
    leaf = rich.Leaf(label="leaf", weight=3)
    return rich.Everything(
        id=1,
        note="a note",
        scalars=rich.Scalars(
            a_bool=True,
            a_byte=-128,
            a_i16=32767,
            a_i32=-(2**31),
            a_i64=2**63 - 1,
            a_double=-0.5,
            a_string="héllo ✓",
            a_binary=b"\x00\xff",
            a_color=rich.Color.BLUE,
            a_time=1_700_000_000,
        ),
        ints=[1, -1, 0],
        tags={"x", "y"},
        counts={"a": 1, "b": -(2**63)},
        by_id={3: leaf, -4: rich.Leaf(label="")},
        matrix=[[1.5, 2.0], []],
        colors={rich.Color.RED, rich.Color.GREEN},
        by_color={rich.Color.RED: [leaf, leaf]},
        names=["n1", "n2"],
        choice=rich.Choice(many=[rich.Choice(number=5), rich.Choice(leaf=leaf)]),
        flags=[True, False, True],
        nested={"k": {1, -2}},
        child=rich.Everything(id=2),
        failure=rich.Failure(message="boom", code=7),
        far_away="far",
    )


# ---- generated classes -------------------------------------------------------------------


def test_defaults_and_presence(generated: Any) -> None:
    rich = generated.rich
    value = rich.Everything(id=1)
    assert value.note is None  # optional: unset is None
    assert value.with_default == 17
    assert value.small == [1, 2, 3]
    other = rich.Everything(id=1)
    assert value.small is not other.small  # fresh containers per instance
    value.small.append(4)
    assert other.small == [1, 2, 3]
    assert value.ints is None  # default requiredness without a default: unset


def test_keyword_only_constructor_and_required_fields(generated: Any) -> None:
    rich = generated.rich
    with pytest.raises(TypeError):
        rich.Everything(1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        rich.Everything()  # `id` is required


def test_equality_repr_hash_copy_pickle(generated: Any) -> None:
    rich = generated.rich
    value = everything(rich)
    same = everything(rich)
    assert value == same and value is not same
    assert value != rich.Everything(id=1)
    assert hash(rich.Leaf(label="a")) == hash(rich.Leaf(label="a"))
    assert {rich.Leaf(label="a"), rich.Leaf(label="a")} == {rich.Leaf(label="a")}
    assert repr(rich.Leaf(label="a", weight=2)) == "Leaf(label='a', weight=2)"
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.deepcopy(value) == value
    failure = rich.Failure(message="m", code=1)
    assert isinstance(failure, Exception)
    assert pickle.loads(pickle.dumps(failure)) == failure
    with pytest.raises(rich.Failure) as raised:
        raise failure
    assert raised.value.code == 1
    assert "message='m'" in str(failure)


def test_slots_only(generated: Any) -> None:
    leaf = generated.rich.Leaf(label="a")
    with pytest.raises(AttributeError):
        leaf.nonexistent = 1


def test_union_holds_exactly_one(generated: Any) -> None:
    rich = generated.rich
    choice = rich.Choice(text="t")
    assert (choice.kind, choice.value) == ("text", "t")
    match choice:
        case rich.Choice(text=str(text)):
            assert text == "t"
        case _:
            pytest.fail("match on a union member")
    with pytest.raises(TypeError, match="exactly one of"):
        rich.Choice()
    with pytest.raises(TypeError, match="exactly one of"):
        rich.Choice(number=1, text="t")


def test_open_enum(generated: Any, codec: Codec, protocol: str) -> None:
    rich = generated.rich
    unknown = rich.Color(99)
    assert unknown == 99 and unknown.name == "UNKNOWN_99"
    scalars = rich.Scalars(a_color=unknown)
    decoded = codec.decode(rich.Scalars, codec.encode(scalars, protocol), protocol)
    assert decoded.a_color == 99 and isinstance(decoded.a_color, rich.Color)
    known = codec.decode(
        rich.Scalars, codec.encode(rich.Scalars(a_color=rich.Color.RED), protocol), protocol
    )
    assert known.a_color is rich.Color.RED


def generate_module(tmp_path: Path, package: str, idl: str) -> Any:
    """`idl` generated into `package` under `tmp_path`, imported (module `package.m`)."""
    import importlib
    import sys

    import pilota

    path = tmp_path / "m.thrift"
    path.write_text(idl)
    pilota.generate([path], tmp_path / package)
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(f"{package}.m")
    finally:
        sys.path.remove(str(tmp_path))


def test_constants_cannot_be_mutated(tmp_path: Path) -> None:
    module = generate_module(
        tmp_path,
        "constgen",
        'const list<i32> L = [1]\nconst map<string, i32> M = {"a": 1}\nconst set<i32> S = [1]\n',
    )
    assert module.L == (1,) and frozenset({1}) == module.S and module.M == {"a": 1}
    with pytest.raises(TypeError):
        module.M["b"] = 2
    with pytest.raises(AttributeError):
        module.L.append(2)


# ---- round trips ---------------------------------------------------------------------------


def test_round_trip(generated: Any, codec: Codec, protocol: str) -> None:
    value = everything(generated.rich)
    data = codec.encode(value, protocol)
    decoded = codec.decode(type(value), data, protocol)
    assert decoded == value
    # A decoded set may iterate in another order than the original (hash
    # collisions), so compare re-encodings as values; without sets, as bytes.
    assert codec.decode(type(value), codec.encode(decoded, protocol), protocol) == value
    assert isinstance(decoded.tags, set) and isinstance(decoded.colors, set)
    single = generated.rich.Everything(id=3, tags={"only"}, ints=[1, 2], counts={"a": 1, "b": 2})
    single_data = codec.encode(single, protocol)
    assert codec.encode(codec.decode(type(single), single_data, protocol), protocol) == single_data
    assert isinstance(decoded.failure, generated.rich.Failure)


def test_codecs_agree_byte_for_byte(generated: Any, protocol: str) -> None:
    from tests.conftest import codec_modules

    value = everything(generated.rich)
    outputs = {Codec(m).encode(value, protocol) for m in codec_modules()}
    assert len(outputs) == 1


def test_uuid_round_trip(generated: Any, codec: Codec, protocol: str) -> None:
    uuids = generated.uuids
    a, b = uuid.UUID(int=1), uuid.uuid4()
    value = uuids.WithUuid(id=a, ids=[a, b], names={b: "b"})
    data = codec.encode(value, protocol)
    assert a.bytes in data
    assert codec.decode(uuids.WithUuid, data, protocol) == value


def test_hashed_positions_decode_immutable(tmp_path: Path, codec: Codec, protocol: str) -> None:
    module = generate_module(
        tmp_path,
        "hashgen",
        "struct K { 1: list<i32> xs }\n"
        "struct H {\n"
        "  1: set<list<list<i32>>> a, 2: map<map<string, i32>, set<i32>> b, 3: set<K> c\n"
        "}\n",
    )
    value = module.H(
        a={((1, 2), (3,))},
        b={FrozenDict({"x": 1}): {1}},
        c={module.K(xs=[1]), module.K(xs=[2])},
    )
    decoded = codec.decode(module.H, codec.encode(value, protocol), protocol)
    assert decoded == value
    assert isinstance(next(iter(decoded.a)), tuple)
    assert isinstance(next(iter(decoded.a))[0], tuple)
    assert isinstance(next(iter(decoded.b)), FrozenDict)


def test_struct_field_order_is_by_id(generated: Any, codec: Codec) -> None:
    rich = generated.rich
    data = codec.encode(rich.Everything(id=5, far_away="z", note="n"), "binary")
    # id (1), note (2), with_default (16), small (17), far_away (300): ascending ids
    ids = [int.from_bytes(data[i + 1 : i + 3], "big") for i in _field_offsets(data)]
    assert ids == [1, 2, 16, 17, 300]


def _field_offsets(data: bytes) -> list[int]:
    """Offsets of the top-level field headers of a binary struct holding only
    i64, string, i32 and list<i8> fields (enough for the test above)."""
    offsets, pos = [], 0
    while data[pos] != 0:
        offsets.append(pos)
        wire = data[pos]
        pos += 3
        if wire == 10:
            pos += 8
        elif wire == 8:
            pos += 4
        elif wire == 11:
            pos += 4 + int.from_bytes(data[pos : pos + 4], "big")
        elif wire == 15:
            pos += 5 + int.from_bytes(data[pos + 1 : pos + 5], "big")
    return offsets


# ---- unknown fields ----------------------------------------------------------------------


def test_unknown_fields_are_skipped_by_default(generated: Any, codec: Codec, protocol: str) -> None:
    evolution = generated.evolution
    newer = evolution.V2(
        a=1, b="b", c=[{"k": 2}], d=True, e=1.5, f=evolution.V1(a=3), g={True}, h=9
    )
    older = codec.decode(evolution.V1, codec.encode(newer, protocol), protocol)
    assert older == evolution.V1(a=1)


@pytest.mark.parametrize("source", ["binary", "compact"])
def test_kept_unknown_fields_are_written_back(
    generated: Any, codec: Codec, protocol: str, source: str
) -> None:
    evolution, keeping = generated.evolution, generated.keeping
    newer = evolution.V2(
        a=1, b="b", c=[{"k": 2}], d=False, e=1.5, f=evolution.V1(a=3), g={True}, h=9
    )
    older = codec.decode(keeping.V1, codec.encode(newer, source), source)
    assert older.a == 1 and older._unknown_fields
    again = codec.decode(evolution.V2, codec.encode(older, protocol), protocol)
    assert again == newer


# ---- fields whose type changed between versions ------------------------------------------


def before(evolution: Any) -> Any:
    """Every field of `Before` set; `After` declares most of them with another type."""
    return evolution.Before(
        count=7, flag=True, bits=3, ids=[1, 2], tags={5}, scores={"a": 1}, labels={1: "x"},
        grid=[[], [1]], switches=[True, False], owner=evolution.V1(a=4), pending=[], order={3},
        tiny=-1, parts=[evolution.PartBefore(code=1, quantity=2)], level=2, text="t",
        limit="lots", stable=99,
    )  # fmt: skip


def after(evolution: Any) -> Any:
    return evolution.After(
        count="c", flag=5, bits=True, ids=["i"], tags={"t"}, scores={"a": "b"},
        labels={"k": "v"}, grid=[["g"]], switches=[1], owner=8, pending=[], order=[1],
        tiny=False, parts=[evolution.PartAfter(code="p", quantity=3)],
        level=evolution.Level.LOW, text=b"x", limit=11, stable=5,
    )  # fmt: skip


def before_read_as_after(evolution: Any) -> Any:
    return evolution.After(
        pending=[], parts=[evolution.PartAfter(quantity=2)], level=evolution.Level.HIGH,
        text=b"t", stable=99,
    )  # fmt: skip


def after_read_as_before(evolution: Any) -> Any:
    return evolution.Before(
        pending=[], parts=[evolution.PartBefore(quantity=3)], level=1, text="x", stable=5
    )


def test_a_field_sent_as_another_type_is_skipped(
    generated: Any, codec: Codec, protocol: str
) -> None:
    """Both ways between two versions: each changed field is left out (absent:
    None, or its IDL default), the rest decodes. An element, key or value type
    that changed, even one level down (`grid`), changes the container's type; an
    empty container has no element to disagree (`pending`); a nested struct
    skips its own changed field (`parts[0].code`); i32 to enum and string to
    binary are the same on the wire (`level`, `text`)."""
    evolution = generated.evolution
    fallbacks = getattr(codec.module, "fallback_successes", 0)
    forward = codec.decode(evolution.After, codec.encode(before(evolution), protocol), protocol)
    assert forward == before_read_as_after(evolution)
    assert forward.limit == 10  # absent: its IDL default
    backward = codec.decode(evolution.Before, codec.encode(after(evolution), protocol), protocol)
    assert backward == after_read_as_before(evolution)
    # the compiled codec skipped them itself: no error made it hand over to the pure one
    assert getattr(codec.module, "fallback_successes", 0) == fallbacks


@pytest.mark.parametrize(
    ("field", "value"),
    [("count", 7), ("flag", True), ("flag", False), ("bits", 3), ("ids", [1]), ("tags", {1}),
     ("scores", {"a": 1}), ("labels", {1: "x"}), ("grid", [[1]]), ("switches", [True]),
     ("owner", "V1"), ("order", {1}), ("tiny", 0)],
)  # fmt: skip
def test_each_changed_type_alone_is_skipped(
    generated: Any, codec: Codec, protocol: str, field: str, value: Any
) -> None:
    """One changed field between two unchanged ones, so a skip that read one
    byte too many or too few would break the field after it."""
    evolution = generated.evolution
    if value == "V1":
        value = evolution.V1(a=1)
    sent = evolution.Before(level=1, stable=-3, **{field: value})
    decoded = codec.decode(evolution.After, codec.encode(sent, protocol), protocol)
    assert getattr(decoded, field) is None
    assert (decoded.level, decoded.stable) == (evolution.Level.LOW, -3)


def test_a_required_field_sent_as_another_type_is_an_error(
    generated: Any, codec: Codec, protocol: str
) -> None:
    evolution = generated.evolution
    data = codec.encode(evolution.KeyBefore(key=1), protocol)
    with pytest.raises(DecodeError) as raised:
        codec.decode(evolution.KeyAfter, data, protocol)
    wire = {"binary": "wire type 8 does not match the declared type (binary type 11)",
            "compact": "wire type 5 does not match the declared type (compact type 8)"}  # fmt: skip
    assert str(raised.value) == f"KeyAfter.key: {wire[protocol]}"


@pytest.mark.parametrize("source", ["binary", "compact"])
def test_a_field_sent_as_another_type_is_kept_and_written_back(
    generated: Any, codec: Codec, protocol: str, source: str
) -> None:
    evolution, keeping = generated.evolution, generated.keeping
    sent = before(evolution)
    kept = codec.decode(keeping.After, codec.encode(sent, source), source)
    assert kept.count is None and kept.limit == 10
    assert {entry[0] for entry in kept._unknown_fields} == {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 17
    }
    assert kept.parts[0].code is None and kept.parts[0]._unknown_fields
    # Untouched, the kept values go back out in place of the absent fields.
    assert codec.decode(evolution.Before, codec.encode(kept, protocol), protocol) == sent


def test_a_field_set_again_replaces_what_was_kept(
    generated: Any, codec: Codec, protocol: str
) -> None:
    """Never one id twice: a field that now holds a value of its own type is
    written instead of the value kept for its id."""
    evolution, keeping = generated.evolution, generated.keeping
    kept = codec.decode(keeping.After, codec.encode(before(evolution), protocol), protocol)
    kept.count = "seven"
    kept.limit = 12  # not its default, which (like None) stands for "absent"
    data = codec.encode(kept, protocol)
    assert field_ids(data, protocol).count(1) == 1
    assert field_ids(data, protocol).count(17) == 1
    newer = codec.decode(evolution.After, data, protocol)
    assert (newer.count, newer.limit, newer.ids) == ("seven", 12, None)
    older = codec.decode(evolution.Before, data, protocol)
    assert (older.count, older.limit, older.ids) == (None, None, [1, 2])


def field_ids(data: bytes, protocol: str) -> list[int]:
    """The ids of a struct's top-level fields, in the order written (read with
    Apache's library: an independent reader)."""
    from thrift.protocol import TBinaryProtocol, TCompactProtocol
    from thrift.Thrift import TType
    from thrift.transport import TTransport

    buffer = TTransport.TMemoryBuffer(data)
    reader = (
        TBinaryProtocol.TBinaryProtocol(buffer)
        if protocol == "binary"
        else TCompactProtocol.TCompactProtocol(buffer)
    )
    ids = []
    reader.readStructBegin()
    while True:
        _, wire, fid = reader.readFieldBegin()
        if wire == TType.STOP:
            return ids
        ids.append(fid)
        reader.skip(wire)
        reader.readFieldEnd()


# ---- encode errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda r: r.Everything(id=None), "Everything.id: required field is not set"),
        (lambda r: r.Everything(id=1, ints=[1, "2"]), "Everything.ints[1]: expected int, got str"),
        (lambda r: r.Everything(id=1, scalars=r.Scalars(a_byte=128)),
         "Everything.scalars.a_byte: 128 is out of range for i8 (-128 to 127)"),
        (lambda r: r.Everything(id=1, scalars=r.Scalars(a_i32=2**31)),
         "Everything.scalars.a_i32: 2147483648 is out of range for i32 (-2147483648 to 2147483647)"),
        (lambda r: r.Everything(id=2**63), "Everything.id: 9223372036854775808 is out of range for i64 "
         "(-9223372036854775808 to 9223372036854775807)"),
        (lambda r: r.Everything(id=1, scalars=r.Scalars(a_bool=1)), "Everything.scalars.a_bool: expected bool, got int"),
        (lambda r: r.Everything(id=1, scalars=r.Scalars(a_string=b"x")), "Everything.scalars.a_string: expected str, got bytes"),
        (lambda r: r.Everything(id=1, scalars=r.Scalars(a_string="\ud800")),
         "Everything.scalars.a_string: string is not encodable as UTF-8: surrogates not allowed"),
        (lambda r: r.Everything(id=1, tags=["a"]), "Everything.tags: expected set, got list"),
        (lambda r: r.Everything(id=1, by_id={1: r.Leaf(weight=2**31)}),
         "Everything.by_id[1].weight: 2147483648 is out of range for i32 (-2147483648 to 2147483647)"),
        (lambda r: r.Everything(id=1, child=r.Leaf()), "Everything.child: expected Everything, got Leaf"),
        (lambda r: r.Everything(id=1, choice=r.Choice.__new__(r.Choice)),
         "Everything.choice: a union must have exactly one member set, found 0"),
        (lambda r: r.Everything(id=1, scalars=r.Scalars(a_double="1")), "Everything.scalars.a_double: expected float, got str"),
    ],
)  # fmt: skip
def test_encode_errors_name_the_field(
    generated: Any, codec: Codec, protocol: str, build: Any, message: str
) -> None:
    with pytest.raises(EncodeError) as raised:
        codec.encode(build(generated.rich), protocol)
    assert str(raised.value) == message


def test_none_where_a_default_makes_the_type_non_optional(
    generated: Any, codec: Codec, protocol: str
) -> None:
    """A default-requiredness field with an IDL default is typed without None
    (absent, it decodes to the default): None there is an error naming the field.
    Without a default, None still means "absent", as in Apache."""
    rich = generated.rich
    cases = [
        (rich.Everything(id=1, with_default=None), "Everything.with_default: None is not an i32"),
        (rich.Everything(id=1, child=rich.Everything(id=2, with_default=None)),
         "Everything.child.with_default: None is not an i32"),
    ]  # fmt: skip
    mutable = rich.Everything(id=1)
    mutable.small = None  # a mutable default is made per instance; None is refused alike
    cases.append((mutable, "Everything.small: None is not a list<i8>"))
    for value, message in cases:
        with pytest.raises(EncodeError) as raised:
            codec.encode(value, protocol)
        assert str(raised.value) == message
    absent = rich.Everything(id=1, ints=None, note=None)
    assert codec.decode(rich.Everything, codec.encode(absent, protocol), protocol) == absent


def test_none_for_an_argument_with_a_default_is_refused(
    tmp_path: Path, codec: Codec, protocol: str
) -> None:
    store = generate_module(
        tmp_path,
        f"storegen_{codec.name}_{protocol}",
        "enum Order { ASC = 1 }\n"
        "struct Page { 1: i32 size = 20 }\n"
        "service Store {\n"
        "  list<string> find(1: string query, 2: i32 limit = 10, 3: Order order = Order.ASC,\n"
        "                    4: Page page = {'size': 5})\n"
        "}\n",
    )
    args = store.Store_find_args()  # `query` has no IDL default: its zero value is its default
    assert (args.query, args.limit, args.page) == ("", 10, store.Page(size=5))
    assert codec.decode(type(args), codec.encode(args, protocol), protocol) == args
    expectations = [("query", "a string"), ("limit", "an i32"), ("order", "an Order"), ("page", "a Page")]
    for name, expected in expectations:
        args = store.Store_find_args(query="q")
        setattr(args, name, None)
        with pytest.raises(EncodeError) as raised:
            codec.encode(args, protocol)
        assert str(raised.value) == f"Store_find_args.{name}: None is not {expected}"


# ---- decode errors ----------------------------------------------------------------------


def test_truncated_input_names_the_field(generated: Any, codec: Codec, protocol: str) -> None:
    value = everything(generated.rich)
    data = codec.encode(value, protocol)
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            codec.decode(type(value), data[:cut], protocol)


def test_decode_error_paths(generated: Any, codec: Codec) -> None:
    rich = generated.rich
    good = rich.Everything(id=1, by_id={3: rich.Leaf(label="x")})
    data = bytearray(codec.encode(good, "binary"))
    # Corrupt the leaf's label: field 1 of Leaf, the string "x", becomes invalid UTF-8.
    label = data.index(b"\x0b\x00\x01\x00\x00\x00\x01x")
    data[label + 7] = 0xFF
    with pytest.raises(DecodeError) as raised:
        codec.decode(rich.Everything, bytes(data), "binary")
    assert raised.value.path == "Everything.by_id[3].label"
    assert raised.value.message.startswith("invalid UTF-8 in string")


def test_required_field_missing_on_decode(generated: Any, codec: Codec, protocol: str) -> None:
    empty_struct = b"\x00"
    with pytest.raises(DecodeError) as raised:
        codec.decode(generated.rich.Everything, empty_struct, protocol)
    assert str(raised.value) == "Everything.id: required field is missing"


def test_huge_length_fails_at_once_without_allocating(generated: Any, codec: Codec) -> None:
    # a string field claiming 2 GiB, in 10 bytes
    data = b"\x0b\x00\x07\x7f\xff\xff\xff" + b"abc"
    with pytest.raises(DecodeError) as raised:
        codec.decode(generated.rich.Scalars, data, "binary")
    assert str(raised.value) == "Scalars.a_string: length 2147483647 exceeds the 3 bytes left"
    compact = b"\x78\xff\xff\xff\xff\x07abc"  # field 7, binary, varint length 2**31 - 1
    with pytest.raises(DecodeError, match="exceeds the 3 bytes left"):
        codec.decode(generated.rich.Scalars, compact, "compact")
    huge_list = b"\x0f\x00\x04\x08\x7f\xff\xff\xff"
    with pytest.raises(DecodeError, match="size 2147483647 needs at least"):
        codec.decode(generated.rich.Everything, huge_list, "binary")


def test_nesting_depth_is_limited(generated: Any, codec: Codec, protocol: str) -> None:
    rich = generated.rich
    value = rich.Everything(id=0)
    for i in range(1, 70):
        value = rich.Everything(id=i, child=value)
    data = codec.encode(value, protocol)
    with pytest.raises(DecodeError, match="nesting deeper than 64 levels"):
        codec.decode(rich.Everything, data, protocol)
    assert codec.decode(rich.Everything, data, protocol, max_depth=100) == value
    with pytest.raises(DecodeError, match="nesting deeper than 10 levels"):
        codec.decode(rich.Everything, data, protocol, max_depth=10)


def test_trailing_bytes_and_unknown_wire_types(generated: Any, codec: Codec, protocol: str) -> None:
    leaf = generated.rich.Leaf
    data = codec.encode(leaf(label="x"), protocol)
    with pytest.raises(DecodeError, match="1 bytes left over"):
        codec.decode(leaf, data + b"\x00", protocol)
    unknown_wire = b"\x11\x00\x09\x00" if protocol == "binary" else b"\x9e\x00"
    with pytest.raises(DecodeError, match="unknown"):
        codec.decode(leaf, unknown_wire, protocol)


def test_invalid_utf8(generated: Any, codec: Codec) -> None:
    data = b"\x0b\x00\x01\x00\x00\x00\x01\xff\x00"
    with pytest.raises(DecodeError, match=r"Leaf\.label: invalid UTF-8"):
        codec.decode(generated.rich.Leaf, data, "binary")


def test_the_default_codec_is_reported() -> None:
    assert codec_module.IMPLEMENTATION in ("cython", "python")


def test_no_silent_fallbacks_in_the_compiled_codec(generated: Any) -> None:
    """Every call above that succeeded went through the compiled path: it never
    failed where the pure codec then succeeded."""
    from tests.conftest import codec_modules

    for module in codec_modules():
        assert getattr(module, "fallback_successes", 0) == 0


@pytest.mark.parametrize(("env", "expected"), [("1", "python"), ("", "cython")])
def test_the_environment_chooses_the_codec(env: str, expected: str) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import codec_modules

    if expected == "cython" and len(codec_modules()) < 2:
        pytest.skip("the compiled codec is not built here")  # CI builds it: codec_modules() fails there
    script = (
        "from pilota.runtime import codec, base\n"
        "print(codec.IMPLEMENTATION, type(base.Struct.__dict__['to_bytes']).__name__)\n"
    )
    environment = {**os.environ, "PILOTA_PURE_PYTHON": env}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=True
    )
    implementation, method_kind = result.stdout.split()
    assert implementation == expected
    assert method_kind == ("function" if expected == "python" else "cython_function_or_method")
