"""ProtoJSON on our own .proto files (tests/idl/proto): every rule of the mapping,
the well-known types' forms, the type registry, and errors with their JSON path.
Interop with Google's json_format is in tests/test_proto_interop.py."""

from __future__ import annotations

import json
import math
import sys
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilota import DecodeError, EncodeError
from pilota.runtime.protobuf import Message, TypeRegistry
from pilota.runtime.protobuf.wkt.google.protobuf import any as any_pb
from pilota.runtime.protobuf.wkt.google.protobuf import (
    duration,
    empty,
    field_mask,
    struct,
    timestamp,
    wrappers,
)
from tests.proto_support import json_ready, message_strategy, rich

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip


@pytest.fixture(scope="module")
def pb() -> SimpleNamespace:
    return rich()


@pytest.fixture(scope="module")
def registry(pb: SimpleNamespace) -> TypeRegistry:
    return TypeRegistry.from_package(pb.package)


def decode_error(cls: Any, data: Any, **options: Any) -> str:
    """The message of the DecodeError that reading `data` (Python values) raises."""
    with pytest.raises(DecodeError) as info:
        cls.from_dict(data, **options)
    return str(info.value)


def json_error(cls: Any, text: str | bytes, **options: Any) -> str:
    """The message of the DecodeError that reading JSON text raises."""
    with pytest.raises(DecodeError) as info:
        cls.from_json(text, **options)
    return str(info.value)


def encode_error(msg: Any, **options: Any) -> str:
    with pytest.raises(EncodeError) as info:
        msg.to_json(**options)
    return str(info.value)


# ---- names ---------------------------------------------------------------------------------


def test_json_names_out_and_proto_names_on_request(pb: SimpleNamespace) -> None:
    j = pb.jsonmap
    names = j.Names(snake_case_name=1, custom=2, _leading=3, with__double=4, a1b2c=5)
    assert names.to_dict() == {
        "snakeCaseName": 1, "renamed": 2, "Leading": 3, "withDouble": 4, "a1b2c": 5
    }  # fmt: skip
    assert names.to_dict(proto_names=True) == {
        "snake_case_name": 1, "custom": 2, "_leading": 3, "with__double": 4, "a1b2c": 5
    }  # fmt: skip
    assert json.loads(names.to_json()) == names.to_dict()


def test_both_names_are_read(pb: SimpleNamespace) -> None:
    j = pb.jsonmap
    expected = j.Names(snake_case_name=1, custom=2, _leading=3, with__double=4)
    assert j.Names.from_json('{"snakeCaseName":1,"renamed":2,"Leading":3,"withDouble":4}') == (
        expected
    )
    assert j.Names.from_dict(
        {"snake_case_name": 1, "custom": 2, "_leading": 3, "with__double": 4}
    ) == expected
    assert j.Names.from_dict({"snake_case_name": 1, "renamed": 2, "_leading": 3,
                              "withDouble": 4}) == expected  # fmt: skip
    assert j.Names.from_dict(MappingProxyType({"renamed": 2})) == j.Names(custom=2)
    # the JSON name of one field is not another field's name: "custom" is the .proto name
    assert j.Names.from_dict({"custom": 7}).custom == 7


def test_a_field_given_twice_is_an_error(pb: SimpleNamespace) -> None:
    j, v3 = pb.jsonmap, pb.v3
    assert "given twice" in decode_error(j.Names, {"snakeCaseName": 1, "snake_case_name": 2})
    message = json_error(j.Names, '{"renamed": 1, "renamed": 2}')
    assert message.startswith("Names: ") and "'renamed' is given twice" in message
    message = json_error(v3.Everything, '{"anInner": {"id": "1", "id": "2"}}')
    assert message.startswith("Everything.anInner: ") and "'id' is given twice" in message


# ---- scalars --------------------------------------------------------------------------------


def test_64_bit_integers_are_strings_and_both_forms_are_read(pb: SimpleNamespace) -> None:
    Everything = pb.v3.Everything
    msg = Everything(a_int32=-1, a_uint32=2**32 - 1, a_sint32=5, a_fixed32=6, a_sfixed32=-7,
                     a_int64=-(2**63), a_uint64=2**64 - 1, a_sint64=-3, a_fixed64=4,
                     a_sfixed64=-5, int64s=[1, -1], uint64s=[2])  # fmt: skip
    assert msg.to_dict() == {
        "aInt32": -1, "aUint32": 4294967295, "aSint32": 5, "aFixed32": 6, "aSfixed32": -7,
        "aInt64": "-9223372036854775808", "aUint64": "18446744073709551615", "aSint64": "-3",
        "aFixed64": "4", "aSfixed64": "-5", "int64s": ["1", "-1"], "uint64s": ["2"],
    }  # fmt: skip
    assert Everything.from_json(msg.to_json()) == msg
    for written in ('"7"', "7", "7.0", "7e0", '"0.7e1"', "700e-2"):
        text = f'{{"aInt64": {written}, "aInt32": {written}, "aUint64": {written}}}'
        assert Everything.from_json(text) == Everything(a_int64=7, a_int32=7, a_uint64=7)


@pytest.mark.parametrize(
    ("field", "written", "problem"),
    [
        ("aInt32", "2147483648", "out of range for int32"),
        ("aInt32", "-2147483649", "out of range for int32"),
        ("aUint32", "-1", "out of range for uint32"),
        ("aInt64", '"9223372036854775808"', "out of range for int64"),
        ("aUint64", '"18446744073709551616"', "out of range for uint64"),
        ("aInt64", "1e400", "out of range for int64"),
        ("aInt64", "1" + "0" * 100, "10000000000000000000...0000000000 (101 characters) is out"),
        ("aInt32", "0.5", "is not an integer"),
        ("aInt64", '"0.5"', "is not an integer"),
        ("aInt32", '" 1"', "expected a number"),
        ("aInt32", '"1 "', "expected a number"),
        ("aInt32", '"3x3"', "expected a number"),
        ("aInt32", '"0x10"', "expected a number"),
        ("aInt32", "true", "expected a number, got true"),
        ("aInt32", "[1]", "expected a number, got a list"),
        ("aBool", "1", "expected true or false, got a number"),
        ("aBool", '"true"', "expected true or false, got a string"),
        ("aString", "12", "expected a string, got a number"),
        ("aString", '"\\ud800"', "unpaired surrogate"),
        ("aDouble", "1.8e308", "out of range for double"),
        ("aFloat", "3.5e38", "out of range for float"),
        ("aFloat", "3.4028235677973366e38", "out of range for float"),
        ("aFloat", '"-3.5e38"', "out of range for float"),
        ("aDouble", "NaN", "invalid JSON"),
        ("aDouble", '"nan"', "expected a number"),
        ("anInner", "5", "expected an object, got a number"),
        ("int32s", "5", "expected a list, got a number"),
        ("counts", "[]", "expected an object, got a list"),
    ],
)
def test_bad_scalars_are_refused_with_the_path(
    pb: SimpleNamespace, field: str, written: str, problem: str
) -> None:
    message = json_error(pb.v3.Everything, f'{{"{field}": {written}}}')
    assert problem in message
    if "invalid JSON" not in message:
        assert message.startswith(f"Everything.{field}: ")


def test_floats_nan_infinity_and_the_shortest_float32(pb: SimpleNamespace) -> None:
    Everything = pb.v3.Everything
    msg = Everything(a_double=math.inf, a_float=0.1, doubles=[-math.inf, math.nan, -0.0, 1e300],
                     floats=[3.4028234663852886e38, 1.401298464324817e-45])  # fmt: skip
    data = msg.to_dict()
    assert data["aDouble"] == "Infinity"
    assert data["aFloat"] == 0.1  # the float32 nearest 0.1, written as 0.1
    assert data["doubles"][:2] == ["-Infinity", "NaN"]
    assert math.copysign(1.0, data["doubles"][2]) == -1.0 and data["doubles"][3] == 1e300
    # 6 significant digits or as many more as a float32 needs, as Google's writers do
    # and the largest float32 not beyond itself (3.4028235e38 is, and Google's readers say so)
    assert data["floats"] == [3.402823466e38, 1.4013e-45]
    assert Everything.from_dict({"aFloat": 3.4028235e38}).a_float == 3.4028234663852886e38
    assert "out of range for float" in decode_error(Everything, {"aFloat": -3.4028235677973366e38})
    # beyond float32 is infinite there (as on the wire)
    assert Everything(a_float=-1e39).to_dict() == {"aFloat": "-Infinity"}
    # Python's own infinities and NaN are taken as they are (JSON text has no such numbers)
    assert Everything.from_dict({"aFloat": -math.inf, "aDouble": math.inf}) == (
        Everything(a_float=-math.inf, a_double=math.inf)
    )
    back = Everything.from_json(msg.to_json())
    assert back.a_double == math.inf and math.isnan(back.doubles[1])
    assert back.a_float == Everything.from_bytes(Everything(a_float=0.1).to_bytes()).a_float
    assert Everything.from_json('{"aDouble": "-Infinity", "aFloat": "NaN"}').a_double == -math.inf
    assert Everything.from_json('{"aFloat": "1.5"}').a_float == 1.5
    # an implicit -0.0 is not the default: it is written, as on the wire
    assert Everything(a_double=-0.0).to_json() == '{"aDouble":-0.0}'


def test_bytes_are_base64_standard_out_and_either_alphabet_in(pb: SimpleNamespace) -> None:
    Everything = pb.v3.Everything
    assert Everything(a_bytes=b"\xfb\xff\x00").to_dict() == {"aBytes": "+/8A"}
    assert Everything(blobs=[b"\x01\x02", b""]).to_dict() == {"blobs": ["AQI=", ""]}
    for text, expected in [("-_8A", b"\xfb\xff\x00"), ("AQI=", b"\x01\x02"), ("AQI", b"\x01\x02"),
                           ("AQ==", b"\x01"), ("AQ", b"\x01"), ("", b"")]:  # fmt: skip
        assert Everything.from_dict({"aBytes": text}).a_bytes == expected
    for bad in ("A", "AQI*", "A=QI", "AQ=", "AQI==", "AQ===", "@@@@"):
        assert "base64" in decode_error(Everything, {"aBytes": bad})


# ---- enums ----------------------------------------------------------------------------------


def test_enums_by_name_with_proto_names_aliases_and_numbers(pb: SimpleNamespace) -> None:
    j, v3 = pb.jsonmap, pb.v3
    names = j.Names(keyword=j.Keyword.x_sunder_, keywords=list(j.Keyword), aliased=j.Aliased.ALIASED_UNO)
    assert names.to_dict() == {"keyword": "_sunder_", "keywords": ["None", "True", "value", "_sunder_"],
                               "aliased": "ALIASED_ONE"}  # fmt: skip
    assert j.Names.from_json(names.to_json()) == names
    assert j.Names.from_dict({"aliased": "ALIASED_UNO"}).aliased == j.Aliased.ALIASED_ONE
    assert j.Names.from_dict({"keyword": "True"}).keyword is j.Keyword.True_
    assert "no value named 'True_'" in decode_error(j.Names, {"keyword": "True_"})
    assert names.to_dict(enums_as_ints=True)["keywords"] == [0, 1, 2, 3]
    # numbers are read; an open enum keeps one it does not name, and writes it as a number
    assert v3.Everything.from_dict({"aColor": 2, "colors": [-7, 99]}).to_dict() == {
        "aColor": "COLOR_GREEN", "colors": ["COLOR_NEGATIVE", 99]
    }  # fmt: skip
    assert "out of range for enum" in decode_error(v3.Everything, {"aColor": 2**31})
    assert "is not an integer" in decode_error(v3.Everything, {"aColor": 1.5})


def test_unknown_enum_names_are_errors_or_left_out(pb: SimpleNamespace) -> None:
    v3, v2 = pb.v3, pb.v2
    message = decode_error(v3.Everything, {"aColor": "COLOR_PURPLE"})
    assert message == "Everything.aColor: Color has no value named 'COLOR_PURPLE'"
    data = {"aColor": "COLOR_PURPLE", "colors": ["COLOR_RED", "COLOR_PURPLE", "COLOR_GREEN"],
            "colorByNumber": {"1": "COLOR_PURPLE", "2": "COLOR_RED"}, "aMood": "MOOD_HAPPY"}  # fmt: skip
    msg = v3.Everything.from_dict(data, ignore_unknown=True)
    assert msg == v3.Everything(
        colors=[v3.Color.COLOR_RED, v3.Color.COLOR_GREEN], color_by_number={2: v3.Color.COLOR_RED},
        a_mood=v3.Everything.Mood.MOOD_HAPPY,
    )  # fmt: skip
    # a closed enum takes only the numbers it names
    assert "not a value of the closed enum Size" in decode_error(v2.Order, {"id": "1", "size": 9})
    order = v2.Order.from_dict({"id": "1", "size": 9, "sizes": [1, 9, "SIZE_LARGE"]},
                               ignore_unknown=True)  # fmt: skip
    assert order.size is None and order.sizes == [v2.Size.SIZE_SMALL, v2.Size.SIZE_LARGE]
    assert v2.Order.from_dict({"id": "1", "size": "SIZE_LARGE"}).size is v2.Size.SIZE_LARGE


# ---- presence, unknown fields, null, oneofs, maps ------------------------------------------


def test_presence_decides_what_is_written(pb: SimpleNamespace) -> None:
    v3, v2 = pb.v3, pb.v2
    assert v3.Everything().to_dict() == {}
    assert v3.Everything(a_int32=0, a_string="", maybe_int32=0, maybe_string="").to_dict() == {
        "maybeInt32": 0, "maybeString": ""
    }  # fmt: skip
    assert v3.Everything(choice_int=0).to_dict() == {"choiceInt": 0}
    assert v3.Everything(an_inner=v3.Everything.Inner()).to_dict() == {"anInner": {}}
    everything = v3.Everything(maybe_color=v3.Color.COLOR_UNSPECIFIED).to_dict(emit_defaults=True)
    assert everything["aInt64"] == "0" and everything["aBytes"] == "" and everything["aColor"] == (
        "COLOR_UNSPECIFIED"
    )
    assert everything["int32s"] == [] and everything["counts"] == {}
    assert everything["maybeColor"] == "COLOR_UNSPECIFIED"
    for has_presence in ("maybeInt32", "anInner", "when", "boxed", "choiceInt"):
        assert has_presence not in everything
    # proto2: what is set is written, defaults or not; emit_defaults adds the lists
    order = v2.Order(id=0, note="none yet", urgent=False)
    assert order.to_dict() == {"id": "0", "note": "none yet", "urgent": False}
    assert order.to_dict(emit_defaults=True) == {
        "id": "0", "note": "none yet", "urgent": False, "sizes": [], "packedSizes": [],
        "packedNumbers": [], "numbers": [], "lines": [], "tierByName": {}, "remark": [],
    }  # fmt: skip


def test_unknown_fields_are_errors_unless_ignored(pb: SimpleNamespace) -> None:
    Everything = pb.v3.Everything
    message = json_error(Everything, '{"aInt32": 1, "nope": {"deep": [1]}}')
    assert message == "Everything: pilota.rich.v3.Everything has no field 'nope'"
    assert decode_error(Everything, {"anInner": {"nope": 1}}).startswith("Everything.anInner: ")
    text = '{"aInt32": 1, "nope": {"deep": [1]}, "anInner": {"nope": null, "id": 2}, "[x.y]": 1}'
    assert Everything.from_json(text, ignore_unknown=True) == Everything(
        a_int32=1, an_inner=Everything.Inner(id=2)
    )


def test_null_is_unset_except_for_value_and_null_value(pb: SimpleNamespace) -> None:
    v3, j = pb.v3, pb.jsonmap
    every_field = {s.json_name: None for s in v3.Everything.__pb_fields__}
    assert v3.Everything.from_dict(every_field) == v3.Everything()
    known = j.Known.from_json(
        '{"value": null, "null": null, "values": [null, 1], "valueByName": {"a": null},'
        ' "nulls": [null, "NULL_VALUE", 0], "maybeNull": null, "struct": {"a": null},'
        ' "list": [null], "aDouble": null}'
    )
    null = struct.Value(null_value=struct.NullValue.NULL_VALUE)
    assert known.value == null and known.null is struct.NullValue.NULL_VALUE
    assert known.values == [null, struct.Value(number_value=1.0)]
    assert known.value_by_name == {"a": null} and known.nulls == [struct.NullValue.NULL_VALUE] * 3
    assert known.maybe_null is struct.NullValue.NULL_VALUE and known.a_double is None
    assert known.struct == struct.Struct(fields={"a": null})
    assert known.list_ == struct.ListValue(values=[null])
    assert j.Known(maybe_null=struct.NullValue.NULL_VALUE, nulls=[struct.NullValue.NULL_VALUE],
                   value=null).to_json() == '{"value":null,"nulls":[null],"maybeNull":null}'  # fmt: skip
    # a null member of a oneof is no member, unless null is a value of its type
    assert j.Known.from_dict({"numberChoice": None, "nullChoice": None}).choice == (
        "null_choice", struct.NullValue.NULL_VALUE
    )
    assert j.Known.from_dict({"valueChoice": None}).choice == ("value_choice", null)
    assert "null is not allowed in a list" in decode_error(v3.Everything, {"int32s": [1, None]})
    assert "null is not allowed in a list" in decode_error(v3.Everything, {"inners": [None]})
    assert "a map value cannot be null" in decode_error(v3.Everything, {"counts": {"a": None}})
    assert json_error(v3.Everything, "null") == "Everything: expected an object, got null"


def test_oneofs(pb: SimpleNamespace) -> None:
    Everything = pb.v3.Everything
    assert Everything(choice_text="").to_dict() == {"choiceText": ""}
    assert Everything.from_dict({"choiceInner": {}}).choice == ("choice_inner", Everything.Inner())
    message = decode_error(Everything, {"choiceInt": 1, "choiceText": "x"})
    assert message == "Everything.choiceText: 'choiceInt' is set too, and both are in oneof choice"
    assert Everything.from_dict({"choiceInt": None, "choiceText": "x"}).choice_text == "x"
    bad = Everything()
    bad.choice = ("a_int32", 1)  # type: ignore[assignment]
    assert encode_error(bad).startswith("Everything.choice: must be None or (member name, value)")


def test_map_keys_of_every_kind_are_strings(pb: SimpleNamespace) -> None:
    Keys = pb.jsonmap.Keys
    keys = Keys(int32_keys={-1: "a"}, int64_keys={-(2**63): "b"}, uint32_keys={2**32 - 1: "c"},
                uint64_keys={2**64 - 1: "d"}, sint32_keys={-5: "e"}, sint64_keys={5: "f"},
                fixed32_keys={7: "g"}, fixed64_keys={8: "h"}, sfixed32_keys={-9: "i"},
                sfixed64_keys={10: "j"}, bool_keys={True: "k", False: "l"},
                string_keys={"": "m", "x y": "n"})  # fmt: skip
    data = keys.to_dict()
    assert data["int32Keys"] == {"-1": "a"} and data["uint64Keys"] == {"18446744073709551615": "d"}
    assert data["boolKeys"] == {"true": "k", "false": "l"} and data["stringKeys"] == {
        "": "m", "x y": "n"
    }  # fmt: skip
    assert Keys.from_json(keys.to_json()) == keys
    assert Keys.from_dict({"int32Keys": {"1e1": "x"}}).int32_keys == {10: "x"}
    message = decode_error(Keys, {"int32Keys": {"x": "a"}})
    assert message == "Keys.int32Keys['x']: expected a number, got 'x'"
    assert "out of range for uint32" in decode_error(Keys, {"uint32Keys": {"-1": "a"}})
    assert "'true' or 'false'" in decode_error(Keys, {"boolKeys": {"True": "a"}})
    assert "the key is given twice" in decode_error(Keys, {"int64Keys": {"1": "a", "1.0": "b"}})
    assert "given twice" in json_error(Keys, '{"stringKeys": {"a": "1", "a": "2"}}')


# ---- proto2: extensions, required fields, groups -------------------------------------------


def test_extensions_are_written_and_read_by_full_name(
    pb: SimpleNamespace, registry: TypeRegistry
) -> None:
    v2, extras = pb.v2, pb.extras
    order = v2.Order(id=1)
    v2.priority.set(order, -3)
    v2.tags.set(order, ["a", "b"])
    v2.Carrier.carrier.set(order, v2.Carrier(name="c"))
    extras.coupon.set(order, "X")
    expected = {"id": "1", "[pilota.rich.v2.priority]": -3, "[pilota.rich.v2.tags]": ["a", "b"],
                "[pilota.extras.coupon]": "X", "[pilota.rich.v2.Carrier.carrier]": {"name": "c"}}  # fmt: skip
    assert order.to_dict() == expected  # set extensions need no registry
    assert list(order.to_dict())[1:] == [  # after the fields, by number
        "[pilota.rich.v2.priority]", "[pilota.rich.v2.tags]", "[pilota.rich.v2.Carrier.carrier]",
        "[pilota.extras.coupon]",
    ]  # fmt: skip
    decoded = v2.Order.from_bytes(order.to_bytes())  # its extensions are not read yet
    assert decoded.to_dict() == {"id": "1"}
    assert decoded.to_dict(registry=registry) == expected
    assert decoded.to_bytes() == order.to_bytes()  # writing JSON did not change it
    back = v2.Order.from_json(order.to_json(), registry=registry)
    assert back == order and extras.coupon.get(back) == "X"
    message = decode_error(v2.Order, expected)
    assert message == "Order: pilota.rich.v2.Order has no field '[pilota.rich.v2.priority]'"
    assert v2.Order.from_dict(expected, ignore_unknown=True) == v2.Order(id=1)
    # an extension of another message is not one of this message's
    assert "has no field" in decode_error(v2.Carrier, {"[pilota.rich.v2.priority]": 1},
                                          registry=registry)  # fmt: skip
    # in a MessageSet
    holder = v2.Holder(bag=v2.Bag())
    assert holder.bag is not None
    v2.BagItem.item.set(holder.bag, v2.BagItem(text="in"))
    text = holder.to_json()
    assert json.loads(text) == {"bag": {"[pilota.rich.v2.BagItem.item]": {"text": "in"}}}
    assert v2.Holder.from_json(text, registry=registry) == holder


def test_required_fields_are_checked_both_ways(pb: SimpleNamespace) -> None:
    v2 = pb.v2
    assert encode_error(v2.Order()) == "Order.id: a required field is not set"
    assert decode_error(v2.Order, {}) == "Order.id: a required field is not set"
    message = decode_error(v2.Order, {"id": 1, "lines": [{"sku": "a"}, {}]})
    assert message == "Order.lines[1].sku: a required field is not set"


def test_groups_are_fields_under_their_field_names(pb: SimpleNamespace) -> None:
    v2 = pb.v2
    order = v2.Order(id=1, shipping=v2.Order.Shipping(zone=3), remark=[v2.Order.Remark(text="r")])
    assert order.to_dict() == {"id": "1", "shipping": {"zone": 3}, "remark": [{"text": "r"}]}
    assert v2.Order.from_json(order.to_json()) == order


# ---- the well-known types -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "nanos", "text"),
    [
        (0, 0, "1970-01-01T00:00:00Z"),
        (-62135596800, 0, "0001-01-01T00:00:00Z"),
        (253402300799, 999999999, "9999-12-31T23:59:59.999999999Z"),
        (1, 10_000_000, "1970-01-01T00:00:01.010Z"),
        (-1, 10_000, "1969-12-31T23:59:59.000010Z"),
        (951782400, 10, "2000-02-29T00:00:00.000000010Z"),
    ],
)
def test_timestamps_are_rfc_3339(seconds: int, nanos: int, text: str) -> None:
    ts = timestamp.Timestamp(seconds=seconds, nanos=nanos)
    assert ts.to_dict() == text
    assert timestamp.Timestamp.from_dict(text) == ts


def test_timestamp_offsets_and_bad_timestamps() -> None:
    Timestamp = timestamp.Timestamp
    assert Timestamp.from_dict("1970-01-01T08:00:01+08:00") == Timestamp(seconds=1)
    assert Timestamp.from_dict("1969-12-31T16:00:01.5-08:00") == Timestamp(seconds=1, nanos=5 * 10**8)
    assert Timestamp.from_dict("1970-01-01T00:00:00.000000000Z").to_dict() == "1970-01-01T00:00:00Z"
    for bad in ("0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "1970-01-01T00:00:00",
                "1970-01-01 00:00:00Z", "1970-01-01T00:00:00z", "1970-01-01t00:00:00Z",
                "1970-02-30T00:00:00Z", "1970-01-01T24:00:00Z", "1970-01-01T00:00:00.1234567890Z",
                "1970-01-01T00:00:00+24:00", "0001-01-01T00:00:00+00:01", "1970-1-01T00:00:00Z",
                "\uff11\uff19" "70-01-01T00:00:00Z"):  # fmt: skip  (full-width digits)
        assert decode_error(Timestamp, bad).startswith("Timestamp: "), bad
    assert "expected an RFC 3339 timestamp" in decode_error(Timestamp, 0)
    assert "outside years 1 to 9999" in encode_error(Timestamp(seconds=253402300800))
    assert "outside years 1 to 9999" in encode_error(Timestamp(seconds=-62135596801))
    assert "nanos must be in 0..999999999" in encode_error(Timestamp(nanos=-1))


def test_durations() -> None:
    Duration = duration.Duration
    cases = [((0, 0), "0s"), ((1, 500_000_000), "1.500s"), ((-1, -500_000_000), "-1.500s"),
             ((0, -1000), "-0.000001s"), ((1, 10), "1.000000010s"),
             ((315576000000, 999999999), "315576000000.999999999s")]  # fmt: skip
    for (seconds, nanos), text in cases:
        d = Duration(seconds=seconds, nanos=nanos)
        assert d.to_dict() == text and Duration.from_dict(text) == d
    assert Duration.from_dict("1.5s") == Duration(seconds=1, nanos=500_000_000)
    assert Duration.from_dict("-0.5s") == Duration(nanos=-500_000_000)
    for bad in ("1", "1.5", "-315576000001s", "315576000001s", "1.0000000001s", "+1s", ".5s",
                "1.s", " 1s", "1 s", "99999999999999999999999999s"):  # fmt: skip
        assert decode_error(Duration, bad).startswith("Duration: "), bad
    assert "longer than 10000 years" in encode_error(Duration(seconds=315576000001))
    assert "with the sign of its seconds" in encode_error(Duration(seconds=1, nanos=-1))
    assert "with the sign of its seconds" in encode_error(Duration(nanos=10**9))


def test_field_masks_are_camel_case_and_must_round_trip() -> None:
    FieldMask = field_mask.FieldMask
    mask = FieldMask(paths=["foo_bar", "baz.qux_quux", "a1"])
    assert mask.to_dict() == "fooBar,baz.quxQuux,a1"
    assert FieldMask.from_dict("fooBar,baz.quxQuux,a1") == mask
    assert FieldMask().to_dict() == "" and FieldMask.from_dict("") == FieldMask()
    assert FieldMask(paths=["x._y"]).to_dict() == "x.Y"
    for bad in ("fooBar", "foo_3_bar", "foo__bar", "foo_", "", "a,b"):
        assert "does not survive ProtoJSON" in encode_error(FieldMask(paths=[bad])), bad
    assert "camelCase, without '_'" in decode_error(FieldMask, "foo,bar_baz")


def test_struct_value_and_list_value_are_plain_json(pb: SimpleNamespace) -> None:
    document = {"n": None, "b": True, "x": 1.5, "s": "t", "l": [1.0, "2", [], {}],
                "o": {"deep": {"er": [None]}}}  # fmt: skip
    s = struct.Struct.from_dict(document)
    assert s.fields["x"] == struct.Value(number_value=1.5)
    assert s.fields["l"].list_value == struct.ListValue.from_python([1, "2", [], {}])
    assert s.to_dict() == document and json.loads(s.to_json()) == document
    assert struct.Value.from_dict(3).to_dict() == 3.0
    assert struct.Value.from_dict([None]).to_dict() == [None]
    assert struct.ListValue.from_dict(["a"]).to_dict() == ["a"]
    assert "expected a list" in decode_error(struct.ListValue, {"a": 1})
    assert "expected an object" in decode_error(struct.Struct, [1])
    assert "out of range for a double" in json_error(struct.Value, "1e999")
    for number in (math.nan, math.inf):
        message = encode_error(pb.v3.Everything(values=[struct.Value(number_value=number)]))
        assert message == "Everything.values[0].number_value: NaN and infinities are not JSON numbers"
    assert "must hold one of its kinds" in encode_error(struct.Struct(fields={"a": struct.Value()}))


def test_wrappers_are_their_values(pb: SimpleNamespace) -> None:
    Known = pb.jsonmap.Known
    known = Known(a_double=wrappers.DoubleValue(value=math.nan), a_float=wrappers.FloatValue(value=0.5),
                  an_int64=wrappers.Int64Value(value=-5), a_uint64=wrappers.UInt64Value(value=5),
                  an_int32=wrappers.Int32Value(), a_uint32=wrappers.UInt32Value(value=7),
                  a_bool=wrappers.BoolValue(), a_string=wrappers.StringValue(value="s"),
                  some_bytes=wrappers.BytesValue(value=b"\x01"),
                  boxed_by_name={"k": wrappers.Int32Value(value=3)})  # fmt: skip
    assert known.to_dict() == {
        "aDouble": "NaN", "aFloat": 0.5, "anInt64": "-5", "aUint64": "5", "anInt32": 0,
        "aUint32": 7, "aBool": False, "aString": "s", "someBytes": "AQ==", "boxedByName": {"k": 3},
    }  # fmt: skip
    back = Known.from_json(known.to_json())
    assert back.a_double is not None and math.isnan(back.a_double.value)
    back.a_double = known.a_double = None
    assert back == known
    assert Known.from_dict({"anInt32": None}).an_int32 is None
    assert wrappers.Int64Value(value=9).to_dict() == "9"
    assert wrappers.Int64Value.from_dict("9") == wrappers.Int64Value(value=9)
    assert "out of range for int32" in decode_error(Known, {"anInt32": 2**31})


def test_empty_is_an_empty_object() -> None:
    assert empty.Empty().to_json() == "{}"
    assert empty.Empty.from_json("{}") == empty.Empty()
    assert "has no field 'x'" in decode_error(empty.Empty, {"x": 1})


def test_any_holds_a_message_under_its_type_url(pb: SimpleNamespace, registry: TypeRegistry) -> None:
    v3, j = pb.v3, pb.jsonmap
    point = v3.Point(x=1, y=-2)
    packed = any_pb.Any.pack(point)
    data = packed.to_dict(registry=registry)
    assert data == {"@type": "type.googleapis.com/pilota.rich.v3.Point", "x": "1", "y": "-2"}
    assert next(iter(data)) == "@type"
    assert any_pb.Any.from_dict(data, registry=registry) == packed
    # "@type" anywhere; a well-known type with its own form under "value"; Anys in Anys
    assert any_pb.Any.from_dict({"y": "-2", "x": 1, "@type": data["@type"]},
                                registry=registry).unpack(v3.Point) == point  # fmt: skip
    when = any_pb.Any.pack(timestamp.Timestamp(seconds=1))
    assert when.to_dict() == {"@type": "type.googleapis.com/google.protobuf.Timestamp",
                              "value": "1970-01-01T00:00:01Z"}  # fmt: skip
    nested = any_pb.Any.pack(packed, "example.com/")
    assert nested.to_dict(registry=registry) == {
        "@type": "example.com/google.protobuf.Any", "value": data
    }  # fmt: skip
    assert any_pb.Any.from_dict(nested.to_dict(registry=registry), registry=registry) == nested
    assert any_pb.Any.pack(empty.Empty()).to_dict() == {
        "@type": "type.googleapis.com/google.protobuf.Empty"
    }  # fmt: skip
    assert any_pb.Any().to_dict() == {} and any_pb.Any.from_dict({}) == any_pb.Any()
    known = j.Known(any=packed, anys=[when])
    assert j.Known.from_json(known.to_json(registry=registry), registry=registry) == known
    # without the registry, a type of ours is not known
    assert "does not know 'pilota.rich.v3.Point'" in encode_error(packed)
    message = decode_error(j.Known, {"any": data})
    assert message == "Known.any: the type registry does not know 'pilota.rich.v3.Point' (the Any's type)"
    assert "needs its '@type'" in decode_error(any_pb.Any, {"x": 1})
    message = decode_error(any_pb.Any, {"@type": data["@type"], "z": 1}, registry=registry)
    assert message == "Any<pilota.rich.v3.Point>: pilota.rich.v3.Point has no field 'z'"
    assert "one more key: 'value'" in decode_error(any_pb.Any, {"@type": when.type_url})
    broken = any_pb.Any(type_url=packed.type_url, value=b"\xff")
    assert "is not a valid pilota.rich.v3.Point" in encode_error(broken, registry=registry)


# ---- the registry ---------------------------------------------------------------------------


def test_the_registry_is_built_from_generated_code(pb: SimpleNamespace) -> None:
    v2, v3, extras = pb.v2, pb.v3, pb.extras
    registry = TypeRegistry(v3, extras, v2.Carrier.carrier)
    assert registry.message("pilota.rich.v3.Everything.Inner") is v3.Everything.Inner
    assert registry.message("pilota.rich.v2.Order") is None  # v2 was not added
    assert registry.message("google.protobuf.Duration") is duration.Duration  # always there
    assert "pilota.rich.v3.Point" in registry and "pilota.rich.v3.Nope" not in registry
    assert registry.extension(v2.Order, "pilota.extras.coupon") is extras.coupon
    assert registry.extension(v2.Order, "pilota.rich.v2.Carrier.carrier") is v2.Carrier.carrier
    assert registry.extension(v2.Order, "pilota.rich.v2.priority") is None
    assert {e.full_name for e in registry.extensions(v2.Order)} == {
        "pilota.extras.coupon", "pilota.extras.upgrade", "pilota.extras.Wrapper.wrappers",
        "pilota.rich.v2.Carrier.carrier",
    }  # fmt: skip
    everything = TypeRegistry.from_package(pb.package)
    assert everything.message("pilota.rich.editions.Node") is pb.editions.Node
    assert len(TypeRegistry(everything)) == len(everything)
    assert registry.unpack(any_pb.Any.pack(v3.Point(x=3))) == v3.Point(x=3)
    with pytest.raises(KeyError, match=r"does not know 'pilota\.rich\.v2\.Line'"):
        registry.unpack(any_pb.Any.pack(v2.Line(sku="s")))

    class Impostor(Message):
        __slots__ = ()
        __pb_name__ = "pilota.rich.v3.Point"

    with pytest.raises(ValueError, match=r"two classes are called pilota\.rich\.v3\.Point"):
        TypeRegistry(v3, Impostor)
    with pytest.raises(TypeError, match="not int"):
        TypeRegistry(1)  # type: ignore[arg-type]


# ---- errors, depth, text ---------------------------------------------------------------------


def test_errors_name_the_place_in_the_json(pb: SimpleNamespace) -> None:
    v3 = pb.v3
    message = decode_error(v3.Everything, {"inners": [{}, {"id": "x"}]})
    assert message == "Everything.inners[1].id: expected a number, got 'x'"
    message = decode_error(v3.Everything, {"innerById": {"5": {"back": {"aBool": 0}}}})
    assert message == "Everything.innerById['5'].back.aBool: expected true or false, got a number"
    message = encode_error(v3.Everything(inner_by_id={1: v3.Everything.Inner(label=5)}))
    assert message == "Everything.innerById[1].label: expected str, got int"
    message = encode_error(v3.Everything(counts={"a": 1, 2: 3}))
    assert message == "Everything.counts[2]: expected str, got int"
    message = encode_error(v3.Everything(int32s=[1, 2**40]))
    assert message == "Everything.int32s[1]: 1099511627776 is out of range for int32"
    message = encode_error(v3.Everything(a_int32=None))
    assert message.startswith("Everything.aInt32: is None, but the field has no presence")


def test_depth_is_limited(pb: SimpleNamespace) -> None:
    Tree = pb.v3.Tree
    text = '{"children": [' * 150 + "{}" + "]}" * 150
    assert "nesting is too deep" in json_error(Tree, text)
    deep = Tree.from_json(text, max_depth=200)
    for _ in range(150):
        deep = deep.children[0]
    assert deep == Tree()
    assert "nesting is too deep" in json_error(struct.Value, "[" * 150 + "]" * 150)
    assert "nests too deeply" in json_error(struct.Value, "[" * 100_000 + "]" * 100_000)
    looped = pb.v3.Everything(an_inner=pb.v3.Everything.Inner())
    assert looped.an_inner is not None
    looped.an_inner.back = looped
    assert "nesting is too deep" in encode_error(looped)


def test_text_that_is_not_json(pb: SimpleNamespace) -> None:
    Everything = pb.v3.Everything
    for bad in ('{"aInt32": 1,}', "{'aInt32': 1}", '{"aInt32": 1} x', "", '{"aInt32": Infinity}',
                '{"aInt32": 1 // c\n}', '{aInt32: 1}'):  # fmt: skip
        assert json_error(Everything, bad).startswith("Everything: invalid JSON"), bad
    assert "invalid JSON" in json_error(Everything, b'{"aString": "\xff"}')
    # past Python's digit limit: said so, without int()'s advice to the program
    too_long = json_error(Everything, '{"aInt64": ' + "1" * 5000 + "}")
    assert too_long == f"Everything: invalid JSON: an integer of more than {sys.get_int_max_str_digits()} digits"
    assert Everything.from_json(b'{"aString": "\xc3\xa9"}').a_string == "\u00e9"


def test_to_dict_is_what_to_json_writes(pb: SimpleNamespace) -> None:
    msg = pb.v3.Everything(a_int64=1, a_float=0.5, colors=[pb.v3.Color.COLOR_RED], counts={"a": 1})
    assert json.loads(msg.to_json()) == msg.to_dict()
    assert json.loads(msg.to_json(indent=2)) == msg.to_dict()
    assert "\n  " in msg.to_json(indent=2)
    assert pb.v3.Everything(a_string="é").to_json() == '{"aString":"é"}'


# ---- round trips and fuzz -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v3.Everything", "v3.Tree", "v2.Order", "editions.Node",
                                  "editions.Implicit", "jsonmap.Known", "jsonmap.Keys",
                                  "jsonmap.Names"])  # fmt: skip
def test_round_trip(pb: SimpleNamespace, registry: TypeRegistry, name: str) -> None:
    module, cls_name = name.split(".")
    cls = getattr(getattr(pb, module), cls_name)

    @SETTINGS
    @given(message_strategy(cls, depth=2).map(json_ready), st.booleans(), st.booleans())
    def check(msg: Any, proto_names: bool, emit_defaults: bool) -> None:
        text = msg.to_json(registry=registry, proto_names=proto_names, emit_defaults=emit_defaults)
        assert cls.from_json(text, registry=registry) == msg
        assert cls.from_dict(json.loads(text), registry=registry) == msg

    check()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | st.sampled_from(["NaN", "Infinity", "1e999", "AQI=", "COLOR_RED",
                                             "1970-01-01T00:00:00Z", "1.5s", "@type"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["aInt32", "aInt64", "aBytes", "aColor", "inners", "counts",
                                       "document", "values", "when", "any", "struct", "value",
                                       "choiceInt", "choiceText", "id", "x", "@type", "1"]),
                      inner, max_size=5),
    max_leaves=20,
)  # fmt: skip


@pytest.mark.parametrize("name", ["v3.Everything", "v2.Order", "jsonmap.Known"])
def test_random_input_raises_only_decode_error(
    pb: SimpleNamespace, registry: TypeRegistry, name: str
) -> None:
    module, cls_name = name.split(".")
    cls = getattr(getattr(pb, module), cls_name)

    @SETTINGS
    @given(JSON_VALUES, st.booleans())
    def check(data: Any, ignore_unknown: bool) -> None:
        try:
            msg = cls.from_dict(data, registry=registry, ignore_unknown=ignore_unknown)
        except DecodeError:
            return
        assert cls.from_json(json.dumps(data), registry=registry,
                             ignore_unknown=ignore_unknown) == msg  # fmt: skip

    check()

    @SETTINGS
    @given(st.data())
    def mutated(data: st.DataObject) -> None:
        text = json_ready(data.draw(message_strategy(cls, depth=2))).to_json(registry=registry)
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 3))
        insert = data.draw(st.sampled_from(["", "{", "}", "[", "]", ",", ":", '"', "0", "-",
                                            "null", "\\u00", "e9", " "]))  # fmt: skip
        try:
            msg = cls.from_json(text[:at] + insert + text[at + cut :], registry=registry)
        except DecodeError:
            return
        written = msg.to_json(registry=registry)  # what was read can be written, and read back
        assert cls.from_json(written, registry=registry).to_json(registry=registry) == written

    mutated()


def test_an_integer_written_with_a_fraction_or_exponent_is_read_as_a_double(pb: SimpleNamespace) -> None:
    # As Google's parsers read it (and as json.loads then from_dict does): the text
    # 1.2345678901234568e+18 denotes the double 1234567890123456768.
    Everything = pb.v3.Everything
    assert Everything.from_json('{"aInt64": 1.2345678901234568e+18}').a_int64 == 1234567890123456768
    assert Everything.from_json('{"aInt64": "1.2345678901234566e+17"}').a_int64 == 123456789012345664
    assert Everything.from_json('{"aInt64": 1234567890123456800}').a_int64 == 1234567890123456800
    assert Everything.from_json('{"aInt32": 1.0000000000000000001}').a_int32 == 1
