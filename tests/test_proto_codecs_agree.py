"""The compiled protobuf codec and the pure one agree on every input: the same value
or the same error (type and text, field path included).

Differential fuzzing over every message class of our test .proto files: random bytes
and mutated valid encodings (flipped, cut, inserted, repeated and spliced bytes) into
decode and merge, and valid values with one field (or oneof, or extension) set to
something it cannot hold into encode, deterministic or not.
"""

from __future__ import annotations

import math
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilota.runtime.protobuf import Message, _pure, unknown_fields
from tests.proto_support import message_strategy, proto_codecs, rich

CODECS = proto_codecs()
pytestmark = pytest.mark.skipif(len(CODECS) < 2, reason="the compiled codec is not built")
SETTINGS = settings(
    max_examples=400, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip


def message_classes(modules: SimpleNamespace) -> list[type[Message]]:
    found: list[type[Message]] = []

    def visit(namespace: ModuleType | type) -> None:
        for value in list(vars(namespace).values()):
            if (isinstance(value, type) and issubclass(value, Message) and value not in found
                    and value.__module__.startswith(modules.package)):
                found.append(value)
                visit(value)

    for module in (modules.v3, modules.v2, modules.extras, modules.editions):
        visit(module)
    return sorted(found, key=lambda cls: cls.__pb_name__)


@pytest.fixture(scope="module")
def pb() -> SimpleNamespace:
    return rich()


@pytest.fixture(scope="module")
def classes(pb: SimpleNamespace) -> list[type[Message]]:
    return message_classes(pb)


def outcome(action: Any) -> tuple[Any, ...]:
    try:
        result = action()
    except Exception as e:  # every exception counts: both must raise the same one
        return ("error", type(e).__name__, str(e))
    if isinstance(result, Message):
        return ("value", repr(result), encoded(result))
    return ("value", result)


def encoded(msg: Message) -> tuple[Any, ...]:
    """What a decoded message holds, beyond its repr: its encoding and unknown fields."""
    return (*outcome(lambda: _pure.encode(msg, True)), unknown_fields(msg))


def decodes_alike(cls: type[Message], data: bytes, max_depth: int = 100) -> None:
    results = [outcome(lambda c=c: c.decode(cls, data, max_depth)) for c in CODECS]
    assert results[0] == results[1], (cls.__pb_name__, data)


def mutate(data: bytes, how: int, at: int, length: int, filler: bytes) -> bytes:
    at %= len(data) + 1
    end = min(at + length, len(data))
    if how == 0:  # one byte replaced
        return data[:at] + filler[:1] + data[at + 1 :]
    if how == 1:  # cut short
        return data[:at]
    if how == 2:  # bytes inserted
        return data[:at] + filler + data[at:]
    if how == 3:  # a stretch repeated
        return data[:end] + data[at:end] + data[end:]
    return data[:at] + data[end:]  # a stretch removed


@SETTINGS
@given(data=st.data())
def test_random_bytes_decode_alike(classes: list[type[Message]], data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(classes))
    payload = data.draw(st.binary(max_size=120))
    decodes_alike(cls, payload)
    decodes_alike(cls, payload, max_depth=data.draw(st.integers(0, 4)))


@SETTINGS
@given(data=st.data())
def test_mutated_encodings_decode_alike(classes: list[type[Message]], data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(classes))
    value = data.draw(message_strategy(cls, depth=2, allow_nan=True))
    valid = _pure.encode(value, False)
    decodes_alike(cls, valid)
    for _ in range(data.draw(st.integers(1, 3))):
        valid = mutate(valid, data.draw(st.integers(0, 4)), data.draw(st.integers(0, 10**6)),
                       data.draw(st.integers(0, 12)), data.draw(st.binary(min_size=1, max_size=6)))  # fmt: skip
        decodes_alike(cls, valid)


@SETTINGS
@given(data=st.data())
def test_merging_into_a_decoded_message_alike(classes: list[type[Message]], data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(classes))
    first = _pure.encode(data.draw(message_strategy(cls, depth=2)), False)
    second = _pure.encode(data.draw(message_strategy(cls, depth=2)), False)
    second = mutate(second, data.draw(st.integers(0, 4)), data.draw(st.integers(0, 10**6)),
                    data.draw(st.integers(0, 8)), data.draw(st.binary(min_size=1, max_size=4)))  # fmt: skip

    def merged(codec: Any) -> Message:
        target = codec.decode(cls, first, 100)
        codec.merge(target, second, 100)
        return target  # type: ignore[no-any-return]

    assert outcome(lambda: merged(CODECS[0])) == outcome(lambda: merged(CODECS[1]))


class Stranger:
    """Neither a message nor anything a field holds."""

    def __repr__(self) -> str:
        return "Stranger()"


BAD_VALUES: list[Any] = [
    None, 0, 1, -1, 2**31, -(2**31) - 1, 2**32, 2**63, -(2**63) - 1, 2**64, 10**400, 0.0, -0.0,
    1.5, math.inf, math.nan, 1e300, True, False, "", "x", "\udcff", "\ud800", "é", b"", b"x",
    bytearray(b"xy"), memoryview(b"xyz"), [], [1], [None], ["x"], [1.5], (1, 2), (), {}, {1: 2},
    {"a": None}, {"a": 1}, {"a": "b"}, {True: 1}, {-1: 0}, Stranger(), ("nope", 1), ("x",),
    ["a", "b"], [[]],
]  # fmt: skip


def strange_values(pb: SimpleNamespace) -> list[Any]:
    return [*BAD_VALUES, pb.v3.Point(x=1), pb.v2.Line(), pb.v2.Line(sku="s"),
            pb.v3.Everything.Inner(id=2), pb.v2.Size.SIZE_LARGE, pb.v3.Color.COLOR_NEGATIVE,
            [pb.v3.Point()], {"k": pb.v3.Point(y=2)}, {1: pb.v3.Everything.Inner()}]  # fmt: skip


def encodes_alike(msg: Message) -> None:
    for deterministic in (False, True):
        results = [outcome(lambda c=c, d=deterministic: bytes(c.encode(msg, d))) for c in CODECS]
        assert results[0] == results[1], (repr(msg), deterministic)


@SETTINGS
@given(data=st.data())
def test_bad_values_encode_alike(
    pb: SimpleNamespace, classes: list[type[Message]], data: st.DataObject
) -> None:
    cls = data.draw(st.sampled_from(classes))
    msg = data.draw(message_strategy(cls, depth=2, allow_nan=True))
    encodes_alike(msg)
    slots = [name for name in type(msg).__slots__]
    if not slots:
        return
    for _ in range(data.draw(st.integers(1, 2))):
        name = data.draw(st.sampled_from(slots))
        value = data.draw(st.sampled_from(strange_values(pb)))
        if name in cls.__pb_oneofs__ and data.draw(st.booleans()):
            members = [s.name for s in cls.__pb_fields__ if s.oneof == name]
            value = (data.draw(st.sampled_from(members)), value)
        object.__setattr__(msg, name, value)
    encodes_alike(msg)


@SETTINGS
@given(data=st.data())
def test_extensions_encode_alike(pb: SimpleNamespace, data: st.DataObject) -> None:
    v2, extras = pb.v2, pb.extras
    extensions = [v2.priority, v2.tags, v2.gift, v2.gift_size, v2.packed_codes, v2.audit,
                  v2.Carrier.carrier, v2.Carrier.tracking, extras.coupon, extras.Wrapper.wrappers]  # fmt: skip
    order = v2.Order(id=1)
    for _ in range(data.draw(st.integers(1, 3))):
        extension = data.draw(st.sampled_from(extensions))
        value = data.draw(st.sampled_from(strange_values(pb)))
        extension.set(order, value)
    encodes_alike(order)
    bag = v2.Bag()
    v2.BagItem.item.set(bag, data.draw(st.sampled_from([v2.BagItem(text="t"), *strange_values(pb)[1:]])))
    encodes_alike(bag)
    holder = v2.Holder(bag=bag)
    encodes_alike(holder)


def test_merging_into_fields_a_program_filled_oddly_alike(pb: SimpleNamespace) -> None:
    """A message field holding another class's message (or a str), a list field holding a
    tuple, a map field holding a list, a oneof holding something else: merging into them
    does what the pure codec does (by attribute name), error or not."""
    E = pb.v3.Everything
    inner = _pure.encode(E(an_inner=E.Inner(id=5, label="x")), False)
    cases: list[tuple[dict[str, Any], bytes]] = [
        ({"an_inner": pb.v3.Point(x=1)}, inner),
        ({"an_inner": pb.v3.Point(x=1)}, b"\x92\x01\x00"),  # an empty one: nothing to set
        ({"an_inner": "text"}, inner),
        ({"int32s": (1, 2)}, _pure.encode(E(int32s=[3, 4]), False)),
        ({"counts": []}, _pure.encode(E(counts={"a": 1}), False)),
        ({"choice": ("choice_inner", "oops")}, _pure.encode(E(choice_inner=E.Inner(id=1)), False)),
        ({"choice": 5}, _pure.encode(E(choice_inner=E.Inner(id=1)), False)),
    ]
    for fields, data in cases:

        def merged(codec: Any, fields: dict[str, Any] = fields, data: bytes = data) -> Message:
            target = E()
            for name, value in fields.items():
                object.__setattr__(target, name, value)
            codec.merge(target, data, 100)
            return target

        assert outcome(lambda: merged(CODECS[0])) == outcome(lambda: merged(CODECS[1])), fields
