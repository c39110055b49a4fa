"""The protobuf runtime on our own .proto files (tests/idl/proto): generated classes,
the binary codec (every implementation), presence, oneofs, enums, required fields,
groups, extensions, MessageSet, editions features, unknown fields and bad input."""

from __future__ import annotations

import contextlib
import copy
import pickle
from types import SimpleNamespace
from typing import Any

import pytest

import pilota
from pilota.runtime.protobuf import unknown_fields
from pilota.runtime.varint import encode_varint
from tests.conftest import turns_during
from tests.proto_support import proto_codecs, rich


@pytest.fixture(scope="module")
def pb() -> SimpleNamespace:
    return rich()


class Codec:
    def __init__(self, module: Any) -> None:
        self.module = module

    def encode(self, msg: Any, deterministic: bool = False) -> bytes:
        return bytes(self.module.encode(msg, deterministic))

    def decode(self, cls: Any, data: bytes, max_depth: int = 100) -> Any:
        return self.module.decode(cls, data, max_depth)

    def roundtrip(self, msg: Any) -> Any:
        return self.decode(type(msg), self.encode(msg))


@pytest.fixture(params=proto_codecs(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def codec(request: pytest.FixtureRequest) -> Codec:
    return Codec(request.param)


def varint(n: int) -> bytes:
    out = bytearray()
    encode_varint(n, out)
    return bytes(out)


def full_everything(pb: SimpleNamespace) -> Any:
    v3 = pb.v3
    E = v3.Everything
    return E(
        a_double=-1.5, a_float=0.25, a_int32=-2**31, a_int64=2**63 - 1, a_uint32=2**32 - 1,
        a_uint64=2**64 - 1, a_sint32=-5, a_sint64=-(2**63), a_fixed32=7, a_fixed64=2**64 - 1,
        a_sfixed32=-9, a_sfixed64=-(2**63), a_bool=True, a_string="héllo ☃", a_bytes=b"\x00\xff",
        a_color=v3.Color.COLOR_NEGATIVE, a_mood=E.Mood.MOOD_GRUMPY,
        an_inner=E.Inner(id=3, label="x", back=E(a_int32=1)), a_point=v3.Point(x=-1, y=1),
        maybe_int32=0, maybe_string="", maybe_color=v3.Color.COLOR_UNSPECIFIED,
        doubles=[1.0, -0.0], floats=[2.5], int32s=[1, -1], int64s=[-(2**63)], uint32s=[0, 2**32 - 1],
        uint64s=[2**64 - 1], sint32s=[-(2**31)], sint64s=[2**63 - 1], fixed32s=[1], fixed64s=[2],
        sfixed32s=[-3], sfixed64s=[-4], bools=[True, False], strings=["a", ""], blobs=[b"", b"z"],
        colors=[v3.Color.COLOR_RED, v3.Color.COLOR_NEGATIVE], inners=[E.Inner(), E.Inner(id=9)],
        unpacked_int32s=[5, 6], unpacked_colors=[v3.Color.COLOR_GREEN],
        counts={"a": 1, "": -1}, names={-1: "minus", 0: ""}, flags={True: b"t", False: b""},
        inner_by_id={2**64 - 1: E.Inner(label="max"), 0: E.Inner()},
        color_by_number={-3: v3.Color.COLOR_RED}, weights={0: 0.0, 5: -2.0},
        choice_inner=E.Inner(id=1),
    )


# ---- classes ------------------------------------------------------------------------


def test_fields_start_unset_or_zero(pb: SimpleNamespace) -> None:
    e = pb.v3.Everything()
    assert (e.a_int32, e.a_string, e.a_bytes, e.a_bool, e.a_double) == (0, "", b"", False, 0.0)
    assert e.a_color is pb.v3.Color.COLOR_UNSPECIFIED
    assert e.a_mood is pb.v3.Everything.Mood.MOOD_UNKNOWN
    assert e.an_inner is None and e.maybe_int32 is None and e.maybe_color is None
    assert e.int32s == [] and e.counts == {} and e.choice is None and e.choice_int is None
    other = pb.v3.Everything()
    other.int32s.append(1)
    assert e.int32s == []  # each instance has its own containers
    assert pb.v2.Order().note is None and pb.v2.Order().note_or_default == "none yet"


def test_constructor_is_keyword_only(pb: SimpleNamespace) -> None:
    with pytest.raises(TypeError):
        pb.v3.Point(1, 2)


def test_containers_assign_like_attributes(pb: SimpleNamespace, codec: Codec) -> None:
    e = pb.v3.Everything()
    e.int32s = [3, 4]
    e.counts = {"k": 5}
    e.an_inner = pb.v3.Everything.Inner(id=2)
    assert codec.roundtrip(e) == e


def test_proto2_defaults_are_read_through_or_default(pb: SimpleNamespace) -> None:
    order = pb.v2.Order(id=1)
    assert order.size is None and order.size_or_default is pb.v2.Size.SIZE_MEDIUM
    assert order.price_or_default == 9.5 and order.token_or_default == b"\x00\xffok"
    assert order.ratio_or_default == float("-inf")
    order.size = pb.v2.Size.SIZE_LARGE
    assert order.size_or_default is pb.v2.Size.SIZE_LARGE
    assert pb.v2.Line(sku="s").quantity_or_default == 1


def test_repr_shows_what_is_set(pb: SimpleNamespace) -> None:
    e = pb.v3.Everything(a_int32=3, strings=["x"], choice_text="t")
    assert repr(e) == "Everything(a_int32=3, strings=['x'], choice_text='t')"
    assert repr(pb.v3.Everything(a_double=-0.0)) == "Everything(a_double=-0.0)"


def test_equality_pickle_and_copy(pb: SimpleNamespace, codec: Codec) -> None:
    e = full_everything(pb)
    assert e == codec.roundtrip(e) and e != pb.v3.Everything()
    assert (e == pb.v3.Point()) is False
    assert pickle.loads(pickle.dumps(e)) == e
    shallow = copy.copy(e)
    assert shallow == e and shallow.int32s is e.int32s
    deep = copy.deepcopy(e)
    assert deep == e and deep.int32s is not e.int32s and deep.an_inner is not e.an_inner
    with pytest.raises(TypeError):
        hash(e)


def test_nan_fields_make_messages_unequal_like_floats(pb: SimpleNamespace) -> None:
    assert pb.v3.Everything(a_double=float("nan")) != pb.v3.Everything(a_double=float("nan"))


# ---- the wire ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "wire"),
    [
        ({"a_int32": 150}, b"\x18\x96\x01"),
        ({"a_int32": -1}, b"\x18" + b"\xff" * 9 + b"\x01"),
        ({"a_sint32": -1}, b"\x38\x01"),
        ({"a_sint64": 1}, b"\x40\x02"),
        ({"a_fixed32": 1}, b"\x4d\x01\x00\x00\x00"),
        ({"a_sfixed64": -2}, b"\x61" + b"\xfe" + b"\xff" * 7),
        ({"a_double": 1.0}, b"\x09\x00\x00\x00\x00\x00\x00\xf0\x3f"),
        ({"a_float": -0.0}, b"\x15\x00\x00\x00\x80"),
        ({"a_bool": True}, b"\x68\x01"),
        ({"a_string": "é"}, b"\x72\x02\xc3\xa9"),
        ({"a_uint64": 2**64 - 1}, b"\x30" + b"\xff" * 9 + b"\x01"),
        ({"int32s": [1, 2, 3]}, b"\x8a\x02\x03\x01\x02\x03"),
        ({"unpacked_int32s": [1, 2]}, b"\x80\x03\x01\x80\x03\x02"),
        ({"maybe_int32": 0}, b"\xa0\x01\x00"),
        ({"a_int32": 0, "a_string": "", "a_double": 0.0}, b""),
        ({"counts": {"a": 1}}, b"\xe2\x03\x05\x0a\x01a\x10\x01"),
        ({"counts": {"": 0}}, b"\xe2\x03\x04\x0a\x00\x10\x00"),  # entries keep zeros
    ],
)
def test_encodings(pb: SimpleNamespace, codec: Codec, fields: dict[str, Any], wire: bytes) -> None:
    msg = pb.v3.Everything(**fields)
    assert codec.encode(msg) == wire
    assert codec.decode(pb.v3.Everything, wire) == msg


def test_fields_are_written_in_number_order(pb: SimpleNamespace, codec: Codec) -> None:
    msg = pb.v3.Everything(maybe_int32=1, a_int32=2, a_double=1.0)
    assert codec.encode(msg) == b"\x09" + b"\x00" * 6 + b"\xf0\x3f" + b"\x18\x02\xa0\x01\x01"


def test_everything_roundtrips(pb: SimpleNamespace, codec: Codec) -> None:
    e = full_everything(pb)
    decoded = codec.roundtrip(e)
    assert decoded == e
    assert codec.encode(decoded) == codec.encode(e)


def test_input_may_be_any_buffer(pb: SimpleNamespace, codec: Codec) -> None:
    data = codec.encode(full_everything(pb))
    for buffer in (bytearray(data), memoryview(data)):
        assert codec.decode(pb.v3.Everything, buffer) == full_everything(pb)


def test_deterministic_output_sorts_map_keys(pb: SimpleNamespace, codec: Codec) -> None:
    """In upb's order (which the interop tests hold us to): text keys ascending, but
    longer before their prefixes; integer keys descending as unsigned numbers."""
    msg = pb.v3.Everything(counts={"b": 1, "a": 2}, names={0: "z", 3: "c", -1: "m"})
    a, b = b"\xe2\x03\x05\x0a\x01a\x10\x02", b"\xe2\x03\x05\x0a\x01b\x10\x01"
    m3, m1 = b"\xea\x03\x05\x08\x03\x12\x01c", b"\xea\x03\x0e\x08" + b"\xff" * 9 + b"\x01\x12\x01m"
    m0 = b"\xea\x03\x05\x08\x00\x12\x01z"
    assert codec.encode(msg) == b + a + m0 + m3 + m1  # insertion order
    assert codec.encode(msg, deterministic=True) == a + b + m1 + m3 + m0
    assert pb.v3.Everything.from_bytes(b + a).to_bytes(deterministic=True) == a + b
    texts = pb.v3.Everything(counts={"": 0, "a": 0, "ab": 0, "b": 0})
    order = [pb.v3.Everything.from_bytes(e).counts for e in _entries(codec.encode(texts, True))]
    assert [next(iter(c)) for c in order] == ["ab", "a", "b", ""]


def _entries(data: bytes) -> list[bytes]:
    """Each field of an encoding as its own encoding (for one length-delimited field)."""
    out, pos = [], 0
    while pos < len(data):
        start = pos
        pos += 2  # the tag of `counts` takes two bytes
        pos += 1 + data[pos]
        out.append(data[start:pos])
    return out


# ---- merging ------------------------------------------------------------------------------


def test_merge_rules(pb: SimpleNamespace, codec: Codec) -> None:
    E = pb.v3.Everything
    first = codec.encode(E(a_int32=1, int32s=[1], an_inner=E.Inner(id=5), counts={"k": 1}))
    second = codec.encode(E(a_int32=2, int32s=[2], an_inner=E.Inner(label="l"), counts={"k": 2}))
    merged = codec.decode(E, first + second)
    assert merged.a_int32 == 2  # the last scalar wins
    assert merged.int32s == [1, 2]  # repeated fields concatenate
    assert merged.an_inner == E.Inner(id=5, label="l")  # messages merge
    assert merged.counts == {"k": 2}  # the last entry for a key wins
    target = E(a_string="kept", int32s=[0])
    target.merge_from_bytes(second)
    assert target.a_string == "kept" and target.int32s == [0, 2] and target.a_int32 == 2


def test_packed_and_unpacked_are_both_read(pb: SimpleNamespace, codec: Codec) -> None:
    E = pb.v3.Everything
    unpacked_into_packed = b"\x88\x02\x01\x88\x02\x02"  # int32s (33) one by one
    packed_into_unpacked = b"\x82\x03\x02\x07\x08"  # unpacked_int32s (48) packed
    msg = codec.decode(E, unpacked_into_packed + packed_into_unpacked)
    assert msg.int32s == [1, 2] and msg.unpacked_int32s == [7, 8]
    assert codec.encode(msg) == b"\x8a\x02\x02\x01\x02\x80\x03\x07\x80\x03\x08"


def test_merging_extends_the_lists_and_dicts_a_program_holds(pb: SimpleNamespace, codec: Codec) -> None:
    E = pb.v3.Everything
    msg = E()
    numbers, counts = msg.int32s, msg.counts
    codec.module.merge(msg, codec.encode(E(int32s=[1, 2], counts={"k": 3})), 100)
    assert msg.int32s is numbers and numbers == [1, 2]
    assert msg.counts is counts and counts == {"k": 3}


def test_a_packed_run_of_fixed_values_must_hold_whole_values(
    pb: SimpleNamespace, codec: Codec
) -> None:
    with pytest.raises(pilota.DecodeError, match=r"Everything\.fixed32s: packed fixed32s"):
        codec.decode(pb.v3.Everything, b"\xba\x02\x05" + b"\x00" * 5)


def test_a_field_with_an_unexpected_wire_type_is_unknown(pb: SimpleNamespace, codec: Codec) -> None:
    data = b"\x1d\x01\x00\x00\x00"  # a_int32 (3) as a fixed32
    msg = codec.decode(pb.v3.Everything, data)
    assert msg.a_int32 == 0 and unknown_fields(msg) == data and codec.encode(msg) == data


# ---- oneofs ---------------------------------------------------------------------------------


def test_oneof_members_share_one_slot(pb: SimpleNamespace, codec: Codec) -> None:
    E = pb.v3.Everything
    e = E(choice_int=5)
    assert e.choice == ("choice_int", 5) and e.choice_int == 5 and e.choice_text is None
    e.choice_text = "now text"
    assert e.choice == ("choice_text", "now text") and e.choice_int is None
    e.choice_int = None  # not the member that is set: nothing changes
    assert e.choice_text == "now text"
    e.choice_text = None
    assert e.choice is None
    e.choice = ("choice_color", pb.v3.Color.COLOR_RED)
    assert e.choice_color is pb.v3.Color.COLOR_RED
    assert codec.encode(e) == b"\xc8\x04\x01"
    assert codec.roundtrip(E(choice_int=0)).choice == ("choice_int", 0)  # presence kept


def test_match_on_a_oneof(pb: SimpleNamespace) -> None:
    def describe(e: Any) -> str:
        match e.choice:
            case ("choice_int", int(n)):
                return f"int {n}"
            case ("choice_inner", inner):
                return f"inner {inner.id}"
            case None:
                return "nothing"
            case _:
                return "other"

    E = pb.v3.Everything
    assert [describe(E(choice_int=2)), describe(E(choice_inner=E.Inner(id=4))), describe(E())] == [
        "int 2", "inner 4", "nothing"
    ]


def test_a_constructor_takes_one_member_of_a_oneof(pb: SimpleNamespace) -> None:
    with pytest.raises(TypeError, match="at most one of choice_int, choice_text"):
        pb.v3.Everything(choice_int=1, choice_text="x")
    with pytest.raises(TypeError):
        pb.v3.Everything(choice=("choice_int", 1), choice_text="x")


def test_oneof_on_the_wire(pb: SimpleNamespace, codec: Codec) -> None:
    E = pb.v3.Everything
    # the last member on the wire wins; a message member arriving twice merges
    data = codec.encode(E(choice_int=1)) + codec.encode(E(choice_text="t"))
    assert codec.decode(E, data).choice == ("choice_text", "t")
    data = codec.encode(E(choice_inner=E.Inner(id=1))) + codec.encode(
        E(choice_inner=E.Inner(label="b"))
    )
    assert codec.decode(E, data).choice_inner == E.Inner(id=1, label="b")


def test_a_oneof_slot_must_name_one_of_its_members(pb: SimpleNamespace, codec: Codec) -> None:
    e = pb.v3.Everything()
    e.choice = ("a_int32", 3)  # type: ignore[assignment]
    with pytest.raises(pilota.EncodeError, match=r"^Everything\.choice: must be None or"):
        codec.encode(e)


# ---- enums ----------------------------------------------------------------------------------


def test_open_enums_keep_unknown_numbers(pb: SimpleNamespace, codec: Codec) -> None:
    data = b"\x80\x01\x05" + b"\xf2\x02\x02\x05\x01"  # a_color = 5, colors = [5, 1]
    msg = codec.decode(pb.v3.Everything, data)
    assert msg.a_color == 5 and msg.a_color.name == "UNKNOWN_5"
    assert msg.colors == [5, pb.v3.Color.COLOR_RED]
    assert codec.encode(msg) == data and unknown_fields(msg) == b""


def test_closed_enums_put_unknown_numbers_in_the_unknown_fields(
    pb: SimpleNamespace, codec: Codec
) -> None:
    Order = pb.v2.Order
    msg = codec.decode(Order, b"\x08\x07\x18\x09")  # id = 7, size = 9
    assert msg.size is None and unknown_fields(msg) == b"\x18\x09"
    assert codec.encode(msg) == b"\x08\x07\x18\x09"
    msg = codec.decode(Order, b"\x08\x07\x4a\x03\x01\x09\x02")  # packed_sizes = [1, 9, 2]
    assert msg.packed_sizes == [pb.v2.Size.SIZE_SMALL, pb.v2.Size.SIZE_MEDIUM]
    assert unknown_fields(msg) == b"\x48\x09"
    assert codec.encode(msg) == b"\x08\x07\x4a\x02\x01\x02\x48\x09"
    entry = b"\x72\x05\x0a\x01a\x10\x09"  # tier_by_name = {"a": 9}
    msg = codec.decode(Order, b"\x08\x07" + entry + b"\x72\x05\x0a\x01b\x10\x01")
    assert msg.tier_by_name == {"b": pb.v2.Tier.TIER_GOLD} and unknown_fields(msg) == entry


def test_closed_enum_fields_refuse_unknown_numbers(pb: SimpleNamespace, codec: Codec) -> None:
    with pytest.raises(pilota.EncodeError, match=r"Order\.size: 9 is not a value of the closed enum Size"):
        codec.encode(pb.v2.Order(id=1, size=9))


# ---- required fields ------------------------------------------------------------------------


def test_required_fields_on_encode(pb: SimpleNamespace, codec: Codec) -> None:
    v2 = pb.v2
    with pytest.raises(pilota.EncodeError, match=r"^Order\.id: a required field is not set$"):
        codec.encode(v2.Order())
    with pytest.raises(pilota.EncodeError, match=r"^Order\.lines\[1\]\.sku: a required"):
        codec.encode(v2.Order(id=1, lines=[v2.Line(sku="a"), v2.Line()]))
    with pytest.raises(pilota.EncodeError, match=r"^Order\.shipping\.zone: a required"):
        codec.encode(v2.Order(id=1, shipping=v2.Order.Shipping()))
    assert codec.roundtrip(v2.Order(id=0)) == v2.Order(id=0)


def test_required_fields_on_decode(pb: SimpleNamespace, codec: Codec) -> None:
    v2 = pb.v2
    with pytest.raises(pilota.DecodeError, match=r"^Order\.id: a required field is not set$"):
        codec.decode(v2.Order, b"")
    with pytest.raises(pilota.DecodeError, match=r"^Order\.first_line\.sku: a required"):
        codec.decode(v2.Order, b"\x08\x01\x62\x00")
    # a required field may arrive in a later piece of a message that arrives twice
    data = b"\x08\x01\x62\x02\x10\x05\x62\x03\x0a\x01s"
    assert codec.decode(v2.Order, data).first_line == v2.Line(sku="s", quantity=5)


def test_required_fields_behind_a_cycle(
    pb: SimpleNamespace, codec: Codec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a class can hold a required field does not depend on which class of a
    cycle was asked about first (Ring, then Link, which only reaches Line through Ring)."""
    from pilota.runtime.protobuf import _pure

    monkeypatch.setattr(_pure, "_requires", {})
    v2 = pb.v2
    assert codec.decode(v2.Ring, b"") == v2.Ring()
    with pytest.raises(pilota.DecodeError, match=r"^Link\.ring\.line\.sku: a required field is not set$"):
        codec.decode(v2.Link, b"\x0a\x02\x12\x00")  # ring { line {} }


def test_unknown_fields_of_a_message_merged_again_and_again(pb: SimpleNamespace, codec: Codec) -> None:
    """A singular message field arriving many times merges into one message, whose
    unknown fields keep their order. Of the fields a message reads, closed enums'
    unknown numbers come first, then the fields it does not know."""
    v2 = pb.v2
    occurrence = b"\x62\x07" + b"\x18\x07" + b"\x0a\x01s" + b"\x18\x08"  # first_line: sku, field 3 twice
    order = codec.decode(v2.Order, b"\x08\x01" + occurrence * 5000 + b"\xa8\x01\x01\x18\x09")
    assert order.first_line is not None and order.first_line.sku == "s"
    assert unknown_fields(order.first_line) == b"\x18\x07\x18\x08" * 5000
    assert unknown_fields(order) == b"\x18\x09\xa8\x01\x01"  # size = 9 (closed enum), field 21
    assert codec.encode(order) == b"\x08\x01\x62" + varint(3 + 20000) + b"\x0a\x01s" + (
        b"\x18\x07\x18\x08" * 5000) + b"\x18\x09\xa8\x01\x01"


def test_the_pure_codec_joins_unknown_fields_once_per_message(pb: SimpleNamespace) -> None:
    """Gathering them piece by piece into bytes would take quadratic time on input that
    repeats one (hostile input, say)."""
    from pilota.runtime.protobuf import _pure

    class Counting(pb.v2.Order):  # type: ignore[name-defined,misc]
        __slots__ = ("writes",)

        def __setattr__(self, name: str, value: Any) -> None:
            if name == "_unknown":
                object.__setattr__(self, "writes", getattr(self, "writes", 0) + 1)
            object.__setattr__(self, name, value)

    order = Counting(id=1)
    unknown_sizes = b"\x40\x09" * 1000  # sizes = 9, a number the closed enum Size lacks
    _pure.merge(order, unknown_sizes + b"\xa8\x01\x01" * 1000)  # and field 21
    assert order.writes == 1 and unknown_fields(order) == unknown_sizes + b"\xa8\x01\x01" * 1000


def test_editions_legacy_required(pb: SimpleNamespace, codec: Codec) -> None:
    with pytest.raises(pilota.EncodeError, match=r"^Node\.required: a required field"):
        codec.encode(pb.editions.Node())
    with pytest.raises(pilota.DecodeError, match=r"^Node\.required: a required field"):
        codec.decode(pb.editions.Node, b"")


# ---- groups and editions features -----------------------------------------------------------


def test_groups(pb: SimpleNamespace, codec: Codec) -> None:
    v2 = pb.v2
    order = v2.Order(id=1, shipping=v2.Order.Shipping(address="x", zone=1),
                     remark=[v2.Order.Remark(text="a"), v2.Order.Remark()])  # fmt: skip
    wire = (b"\x08\x01" + b"\xa3\x01\xaa\x01\x01x\xb0\x01\x01\xa4\x01"
            + b"\xf3\x01\xfa\x01\x01a\xf4\x01" + b"\xf3\x01\xf4\x01")  # fmt: skip
    assert codec.encode(order) == wire
    assert codec.decode(v2.Order, wire) == order


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x08\x01\xa3\x01\xb0\x01\x01", r"Order\.shipping: group 20 has no end-group tag"),
        (b"\x08\x01\xa3\x01\xb0\x01\x01\xac\x01", r"Order\.shipping: an end-group tag for field 21"),
        (b"\x08\x01\x0c", r"Order: an end-group tag for field 1 that is not open"),
        (b"\x08\x01\xfb\x01\x08\x01", r"Order: group 31 has no end-group tag"),
    ],
)
def test_broken_groups(pb: SimpleNamespace, codec: Codec, data: bytes, problem: str) -> None:
    with pytest.raises(pilota.DecodeError, match=problem):
        codec.decode(pb.v2.Order, data)


def test_editions_features(pb: SimpleNamespace, codec: Codec) -> None:
    Node = pb.editions.Node
    node = Node(required=0, implicit=0, explicit_by_default=0, expanded=[1, 2],
                packed_by_default=[1, 2], delimited_child=Node(required=1))  # fmt: skip
    wire = (b"\x08\x00\x18\x00\x22\x02\x01\x02\x28\x01\x28\x02"
            + b"\x43\x18\x01\x44")  # fmt: skip
    assert codec.encode(node) == wire
    assert codec.decode(Node, wire) == node
    implicit = pb.editions.Implicit(number=0, text="", child=pb.editions.Node(required=0))
    assert codec.encode(implicit) == b"\x1a\x02\x18\x00"


def test_utf8_is_checked_where_the_features_say(pb: SimpleNamespace, codec: Codec) -> None:
    Node = pb.editions.Node
    unchecked = codec.decode(Node, b"\x18\x00\x32\x02\xff\xfe")  # unchecked_text
    assert unchecked.unchecked_text == "\udcff\udcfe"  # kept, and written back as it came
    assert codec.encode(unchecked) == b"\x18\x00\x32\x02\xff\xfe"
    with pytest.raises(pilota.DecodeError, match=r"^Node\.checked_text: a string field holds"):
        codec.decode(Node, b"\x18\x00\x3a\x01\xff")
    with pytest.raises(pilota.DecodeError, match=r"^Everything\.strings: a string field"):
        codec.decode(pb.v3.Everything, b"\xe2\x02\x02\xc3\x28")
    with pytest.raises(pilota.EncodeError, match=r"^Node\.checked_text: the text cannot be"):
        codec.encode(Node(required=0, checked_text="\udcff"))
    assert pb.v2.Order.from_bytes(b"\x08\x01\x12\x01\x80").note == "\udc80"  # proto2: unchecked


# ---- unknown fields -----------------------------------------------------------------------


def test_unknown_fields_are_kept_and_written_back(pb: SimpleNamespace, codec: Codec) -> None:
    unknown = (b"\x18\x96\x01"  # 3: varint
               + b"\x21" + bytes(range(8))  # 4: fixed64
               + b"\x2a\x03abc"  # 5: length-delimited
               + b"\x33\x08\x01\x1b\x0a\x00\x1c\x34"  # 6: a group holding fields and a group
               + b"\x3d\x01\x02\x03\x04")  # 7: fixed32  # fmt: skip
    data = b"\x08\x02" + unknown
    point = codec.decode(pb.v3.Point, data)
    assert point.x == 1 and unknown_fields(point) == unknown
    assert point != pb.v3.Point(x=1)  # unknown fields count in equality
    assert codec.encode(point) == data
    assert pickle.loads(pickle.dumps(point)) == point and copy.copy(point) == point
    assert repr(point) == "Point(x=1, <30 bytes of unknown fields>)"


# ---- extensions ------------------------------------------------------------------------------


def test_extensions_set_get_has_clear(pb: SimpleNamespace, codec: Codec) -> None:
    v2 = pb.v2
    order = v2.Order(id=1)
    assert v2.priority.get(order) is None and not v2.priority.has(order)
    v2.priority.set(order, 5)
    v2.tags.get(order).append("a")  # a repeated extension's list belongs to the message
    v2.gift.set(order, v2.Line(sku="g"))
    v2.Carrier.tracking.set(order, "T1")
    assert v2.priority.get(order) == 5 and v2.priority.has(order) and v2.tags.get(order) == ["a"]
    wire = (b"\x08\x01" + b"\xa0\x06\x05" + b"\xaa\x06\x01a" + b"\xb2\x06\x03\x0a\x01g"
            + b"\xfa\x06\x02T1")  # fmt: skip
    assert codec.encode(order) == wire
    decoded = codec.decode(v2.Order, wire)
    assert unknown_fields(decoded) == wire[2:]  # kept as they came until read
    assert decoded == order  # read on demand to compare
    assert v2.gift.get(decoded) == v2.Line(sku="g") and v2.Carrier.tracking.get(decoded) == "T1"
    assert unknown_fields(decoded) == b""
    v2.priority.clear(decoded)
    v2.tags.set(decoded, [])
    assert not v2.priority.has(decoded) and not v2.tags.has(decoded)
    assert codec.encode(decoded) == b"\x08\x01\xb2\x06\x03\x0a\x01g\xfa\x06\x02T1"


def test_extension_values_merge_and_replace(pb: SimpleNamespace, codec: Codec) -> None:
    v2 = pb.v2
    data = b"\x08\x01\xb2\x06\x03\x0a\x01g\xb2\x06\x02\x10\x02\xa0\x06\x01\xa0\x06\x02"
    order = codec.decode(v2.Order, data)
    assert v2.gift.get(order) == v2.Line(sku="g", quantity=2) and v2.priority.get(order) == 2
    fresh = codec.decode(v2.Order, data)
    v2.priority.set(fresh, 9)  # replaces what was read, rather than merging with it
    assert codec.encode(fresh) == b"\x08\x01\xa0\x06\x09\xb2\x06\x03\x0a\x01g\xb2\x06\x02\x10\x02"


def test_extensions_of_every_kind(pb: SimpleNamespace, codec: Codec) -> None:
    v2, extras = pb.v2, pb.extras
    order = v2.Order(id=1)
    v2.packed_codes.set(order, [1, 2])
    v2.audit.set(order, v2.Audit(who="me"))
    v2.gift_size.set(order, v2.Size.SIZE_LARGE)
    extras.coupon.set(order, "SAVE")  # declared in another file and package
    extras.Wrapper.wrappers.set(order, [extras.Wrapper(level=1)])
    decoded = codec.roundtrip(order)
    assert v2.packed_codes.get(decoded) == [1, 2]
    assert v2.audit.get(decoded) == v2.Audit(who="me")
    assert v2.gift_size.get(decoded) is v2.Size.SIZE_LARGE
    assert extras.coupon.get(decoded) == "SAVE"
    assert extras.Wrapper.wrappers.get(decoded) == [extras.Wrapper(level=1)]
    assert codec.encode(decoded) == codec.encode(order)
    # a closed enum extension's unknown number stays among the unknown fields
    strange = codec.decode(v2.Order, b"\x08\x01\xb8\x06\x09")
    assert v2.gift_size.get(strange) is None and unknown_fields(strange) == b"\xb8\x06\x09"


def test_two_declarations_of_one_extension_number_do_not_collide(pb: SimpleNamespace) -> None:
    """Without a registry, each declaration reads the wire form its own way."""
    from pilota.runtime.protobuf import Extension, FieldSpec
    from pilota.runtime.protobuf import spec as pbspec

    v2 = pb.v2
    as_text = Extension(v2.Order, "other.package.priority",
                        FieldSpec(100, "priority", pbspec.UINT64, pbspec.OPTIONAL))  # fmt: skip
    order = v2.Order(id=1)
    v2.priority.set(order, -1)
    assert as_text.get(order) == 2**64 - 1  # -1 as an int32 varint, read as a uint64
    assert v2.priority.get(order) == -1
    assert order.to_bytes() == b"\x08\x01\xa0\x06" + b"\xff" * 9 + b"\x01"


def test_an_extension_belongs_to_its_extendee(pb: SimpleNamespace) -> None:
    with pytest.raises(TypeError, match="extends Order, not Line"):
        pb.v2.priority.get(pb.v2.Line())


def test_message_set(pb: SimpleNamespace, codec: Codec) -> None:
    v2 = pb.v2
    bag = v2.Bag()
    v2.BagItem.item.set(bag, v2.BagItem(text="hi"))
    item = b"\x0b\x10" + varint(15447542) + b"\x1a\x04\x0a\x02hi\x0c"
    assert codec.encode(bag) == item
    holder = codec.decode(v2.Holder, b"\x0a" + varint(len(item)) + item)
    assert holder.bag is not None and unknown_fields(holder.bag) == item
    assert v2.BagItem.item.get(holder.bag) == v2.BagItem(text="hi")
    assert v2.BagItem.item.has(holder.bag) and unknown_fields(holder.bag) == b""
    # an item of a type this program does not know is kept as it came
    other = b"\x0b\x10\x05\x1a\x00\x0c"
    assert codec.encode(codec.decode(v2.Bag, other + item)) == other + item


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x18", r"^Everything\.a_int32: the input ends inside a varint$"),
        (b"\x18" + b"\xff" * 10 + b"\x01", r"a varint is longer than 10 bytes"),
        (b"\x72\x80\x80\x80\x80\x08xxxx", r"^Everything\.a_string: a length of 2147483648 runs"),
        (b"\x0a\x05abc", r"^Everything: a length of 5 runs past"),  # unknown: a_double is I64
        (b"\x09\x00\x00", r"^Everything\.a_double: the input ends inside a double"),
        (b"\x00\x01", r"^Everything: field number 0 is not allowed"),
        (b"\x0e", r"^Everything: invalid wire type 6"),
        (b"\x0f", r"^Everything: invalid wire type 7"),
        (b"\x92\x01\x03\x08\x96", r"^Everything\.an_inner: a length of 3 runs"),
        (b"\x92\x01\x02\x08\x96", r"^Everything\.an_inner\.id: the input ends inside a varint"),
        (b"\xfa\x02\x03\x12\x01\x80", r"^Everything\.inners\[0\]\.label: a string field holds"),
        (b"\xfa\x03\x06\x08\x01\x12\x02\x08\x80", r"^Everything\.inner_by_id\[1\]\.id: the input"),
        (b"\xfa\x03\x01\x08", r"^Everything\.inner_by_id: the input ends inside a varint"),
        (b"\x80\x80\x80\x80\x80\x01", r"invalid tag"),
    ],
)
def test_bad_input(pb: SimpleNamespace, codec: Codec, data: bytes, problem: str) -> None:
    with pytest.raises(pilota.DecodeError, match=problem):
        codec.decode(pb.v3.Everything, data)


def chain(Tree: Any, depth: int) -> Any:
    root = node = Tree(name="0")
    for i in range(1, depth):
        child = Tree(name=str(i))
        node.children.append(child)
        node = child
    return root


def test_nesting_depth_is_limited(pb: SimpleNamespace, codec: Codec) -> None:
    Tree = pb.v3.Tree
    deep = codec.encode(chain(Tree, 100))
    assert codec.decode(Tree, deep) == chain(Tree, 100)
    too_deep = b"\x12" + varint(len(deep)) + deep
    with pytest.raises(pilota.DecodeError, match="nesting is too deep"):
        codec.decode(Tree, too_deep)
    with pytest.raises(pilota.DecodeError, match="nesting is too deep"):
        codec.decode(Tree, deep, max_depth=50)
    with pytest.raises(pilota.EncodeError, match="nesting is too deep"):
        codec.encode(chain(Tree, 101))
    loop = Tree()
    loop.children.append(loop)
    with pytest.raises(pilota.EncodeError, match="contains itself"):
        codec.encode(loop)
    groups = b"\x0b" * 200  # unknown groups nest too
    with pytest.raises(pilota.DecodeError, match="nesting is too deep"):
        codec.decode(pb.v3.Point, groups)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"a_int32": 2**31}, r"^Everything\.a_int32: 2147483648 is out of range for int32$"),
        ({"a_uint32": -1}, r"^Everything\.a_uint32: -1 is out of range for uint32$"),
        ({"a_int32": "1"}, r"^Everything\.a_int32: expected int, got str$"),
        ({"a_string": b"x"}, r"^Everything\.a_string: expected str, got bytes$"),
        ({"a_bool": 1}, r"^Everything\.a_bool: expected bool, got int$"),
        ({"a_double": "x"}, r"^Everything\.a_double: expected float, got str$"),
        ({"a_int32": None}, r"^Everything\.a_int32: is None, but the field has no presence"),
        ({"int32s": [1, "x"]}, r"^Everything\.int32s\[1\]: expected int, got str$"),
        ({"int32s": (1, 2), "strings": "ab"}, r"^Everything\.strings: expected a list, got str"),
        ({"counts": {1: 2}}, r"^Everything\.counts\[1\]: expected str, got int$"),
        ({"counts": {"a": "b"}}, r"^Everything\.counts\['a'\]: expected int, got str$"),
        ({"an_inner": "x"}, r"^Everything\.an_inner: expected Inner, got str$"),
        ({"inners": [None]}, r"^Everything\.inners\[0\]: expected Inner, got NoneType$"),
        ({"an_inner": {"id": 1}}, r"^Everything\.an_inner: expected Inner, got dict$"),
    ],
)
def test_bad_values(pb: SimpleNamespace, codec: Codec, fields: dict[str, Any], problem: str) -> None:
    msg = pb.v3.Everything()
    for name, value in fields.items():
        setattr(msg, name, value)
    with pytest.raises(pilota.EncodeError, match=problem):
        codec.encode(msg)


def test_nested_encode_errors_name_the_path(pb: SimpleNamespace, codec: Codec) -> None:
    E = pb.v3.Everything
    msg = E(inner_by_id={7: E.Inner(back=E(a_int32=2**40))})
    with pytest.raises(pilota.EncodeError, match=r"^Everything\.inner_by_id\[7\]\.back\.a_int32:"):
        codec.encode(msg)


# ---- well-known types, services, descriptors ---------------------------------------------------


def test_well_known_types_come_from_the_runtime(pb: SimpleNamespace, codec: Codec) -> None:
    from pilota.runtime.protobuf.wkt.google.protobuf import struct, timestamp, wrappers

    assert pb.v3.Everything.__pb_fields__[-4].type is timestamp.Timestamp
    e = pb.v3.Everything(
        when=timestamp.Timestamp(seconds=1, nanos=2), boxed=wrappers.Int32Value(value=0),
        document=struct.Struct(fields={"k": struct.Value(string_value="v")}),
        values=[struct.Value(null_value=struct.NullValue.NULL_VALUE), struct.Value(bool_value=False)],
    )  # fmt: skip
    assert codec.roundtrip(e) == e


def test_each_module_carries_its_file_descriptor(pb: SimpleNamespace) -> None:
    from pilota.runtime.protobuf.wkt.google.protobuf import descriptor

    file = descriptor.FileDescriptorProto.from_bytes(pb.v2.FILE_DESCRIPTOR)
    assert file.name == "rich2.proto" and file.package == "pilota.rich.v2"
    assert [m.name for m in file.message_type][:2] == ["Order", "Line"]
    assert file.to_bytes() == pb.v2.FILE_DESCRIPTOR


# ---- fuzzing ----------------------------------------------------------------------------


def test_random_and_mutated_input_only_raises_decode_error(pb: SimpleNamespace, codec: Codec) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    valid = [codec.encode(full_everything(pb)), codec.encode(pb.v2.Order(id=1, lines=[pb.v2.Line(sku="a")],
             shipping=pb.v2.Order.Shipping(zone=1))), b"\x08\x00\x43\x18\x01\x44"]  # fmt: skip
    classes = [pb.v3.Everything, pb.v2.Order, pb.editions.Node, pb.v3.Tree, pb.v2.Holder]

    def mutated(data: bytes, at: int, byte: int, cut: int) -> bytes:
        at %= max(len(data), 1)
        return (data[:at] + bytes([byte]) + data[at + 1 :])[: max(len(data) - cut, 0)]

    inputs = st.one_of(
        st.binary(max_size=64),
        st.builds(mutated, st.sampled_from(valid), st.integers(0, 10**6), st.integers(0, 255),
                  st.integers(0, 4)),
    )  # fmt: skip

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(inputs, st.sampled_from(classes))
    def check(data: bytes, cls: Any) -> None:
        try:
            msg = codec.decode(cls, data)
        except pilota.DecodeError:
            return
        again = codec.decode(cls, codec.encode(msg))  # what decodes encodes, and reads back
        assert again == msg or codec.encode(again) == codec.encode(msg)

    check()


@pytest.mark.skipif(len(proto_codecs()) < 2, reason="the compiled codec is not built")
def test_a_long_decode_offers_other_threads_turns(pb: SimpleNamespace) -> None:
    """The compiled codec holds the GIL while it decodes; every 4,096 fields
    and packed values read it lets a thread waiting for the GIL have a turn
    (volo.grpc.Server decodes large requests on a thread of its own, so that
    its event loop goes on meanwhile). Sub-messages, unknown fields, packed
    varints and packed fixed-size values each count."""
    compiled = proto_codecs()[1]
    n = 200_000
    cases = [
        (pb.v3.Tree, b"\x12\x00" * n),  # n empty children
        (pb.v3.Tree, b"\x12\x00" * n + b"\x12"),  # and a last one cut short
        (pb.v3.Tree, b"\x28\x01" * n),  # n unknown varint fields (number 5)
        (pb.v3.Everything, b"\x8a\x02" + varint(n) + b"\x01" * n),  # packed int32s
        (pb.v3.Everything, b"\xba\x02" + varint(4 * n) + bytes(4 * n)),  # packed fixed32s
    ]
    for cls, data in cases:
        before = compiled.turns_given()
        try:
            compiled.decode(cls, data)
        except pilota.DecodeError:
            assert data.endswith(b"\x12")
        assert compiled.turns_given() - before >= n // 4096, (cls, len(data))


def test_a_thread_waiting_while_a_message_decodes_gets_its_turns(pb: SimpleNamespace, codec: Codec) -> None:
    """What the turns are for (see test_codec_limits): another thread runs
    while a large message decodes, good or bad."""
    n = 1_000_000 if codec.module is not proto_codecs()[0] else 200_000
    data = b"\x12\x00" * n  # Tree: n empty children
    for message in (data, data + b"\x12"):

        def action(message: bytes = message) -> None:
            with contextlib.suppress(pilota.DecodeError):
                codec.decode(pb.v3.Tree, message)

        assert turns_during(action) > 0, len(message)


@pytest.mark.parametrize("value", [1e300, -1e300, 3.5e38, float("inf")])
def test_a_float_beyond_float32_is_written_infinite(pb: SimpleNamespace, codec: Codec, value: float) -> None:
    """As Google's runtimes write it (a C cast): singular proto3, proto2 optional,
    and packed repeated float fields alike."""
    infinite = (b"\x00\x00\x80\x7f" if value > 0 else b"\x00\x00\x80\xff")
    assert codec.encode(pb.v3.Everything(a_float=value)) == b"\x15" + infinite
    assert codec.encode(pb.v2.Order(id=1, ratio=value)) == b"\x08\x01\x35" + infinite
    assert codec.encode(pb.v3.Everything(floats=[value])) == b"\x82\x02\x04" + infinite


def test_the_collector_waits_while_a_message_is_built(pb: SimpleNamespace, codec: Codec) -> None:
    """As in the Thrift codecs (test_codec_limits): building 100,000 messages
    used to run the cyclic garbage collector over them again and again (nine
    tenths of the compiled codec's time); it waits until the message is
    built, runs once at most, and is left as it was."""
    import gc

    data = b"\x12\x00" * 100_000  # Tree: 100,000 empty children
    collections = 0

    def count(phase: str, info: dict[str, int]) -> None:
        nonlocal collections
        collections += phase == "start"

    for message in (data, data + b"\x12"):  # whole, and cut short
        collections = 0
        gc.callbacks.append(count)
        try:
            codec.decode(pb.v3.Tree, message)
        except pilota.DecodeError:
            pass
        finally:
            gc.callbacks.remove(count)
        assert collections <= 2
        assert gc.isenabled()
    gc.disable()
    try:
        codec.decode(pb.v3.Tree, data)
        assert not gc.isenabled()
    finally:
        gc.enable()
