"""Interop with Google's protobuf (upb): Hypothesis-made values of the conformance
suite's TestAllTypesProto2/Proto3 and of our own rich messages go both ways.

ours → bytes → upb parses a message equal to one built through upb's own API, and
upb's deterministic output is byte-identical to ours; upb → bytes → ours decodes
an equal value. upb's classes come from protoc's descriptors (not ours).
The same for ProtoJSON through `google.protobuf.json_format`: each side reads what
the other writes as an equal message, and both write the same JSON.
"""

from __future__ import annotations

import importlib
import math
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf import message_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import need_shared
from tests.proto_support import (
    PROTO_IDL,
    RICH_FILES,
    generate_package,
    import_root,
    json_ready,
    message_strategy,
    proto_codecs,
    rich,
    to_upb,
    upb_pool,
)

CONFORMANCE_FILES = ("google/protobuf/test_messages_proto2.proto",
                     "google/protobuf/test_messages_proto3.proto")  # fmt: skip
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                           HealthCheck.data_too_large],
)  # fmt: skip


@pytest.fixture(scope="module")
def conformance(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    corpus = need_shared("corpus", "proto")
    root = tmp_path_factory.mktemp("interop")
    generate_package([corpus / f for f in CONFORMANCE_FILES], [corpus], root, "interop_gen")
    import_root(root)
    return SimpleNamespace(
        p2=importlib.import_module("interop_gen.protobuf_test_messages.proto2.test_messages_proto2"),
        p3=importlib.import_module("interop_gen.protobuf_test_messages.proto3.test_messages_proto3"),
        pool=upb_pool(corpus, CONFORMANCE_FILES, root),
    )


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    modules = rich()
    return SimpleNamespace(
        modules=modules, pool=upb_pool(PROTO_IDL, RICH_FILES, tmp_path_factory.mktemp("own"))
    )


def upb_class(pool: Any, cls: Any) -> Any:
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(cls.__pb_name__))


def both_ways(ours: Any, pool: Any, codec: Any) -> None:
    cls = type(ours)
    theirs = to_upb(ours, pool)
    data = bytes(codec.encode(ours, True))
    parsed = upb_class(pool, cls).FromString(data)
    assert parsed == theirs
    assert parsed.SerializeToString(deterministic=True) == data
    assert theirs.SerializeToString(deterministic=True) == data
    assert codec.decode(cls, theirs.SerializeToString(), 100) == ours


@pytest.fixture(params=proto_codecs(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def codec(request: pytest.FixtureRequest) -> Any:
    return request.param


def drawn(cls: Any) -> Any:
    return message_strategy(cls, depth=2)


@pytest.mark.parametrize("name", ["p2.TestAllTypesProto2", "p3.TestAllTypesProto3"])
def test_conformance_messages(conformance: SimpleNamespace, codec: Any, name: str) -> None:
    module, cls_name = name.split(".")
    cls = getattr(getattr(conformance, module), cls_name)

    @SETTINGS
    @given(drawn(cls))
    def check(ours: Any) -> None:
        both_ways(ours, conformance.pool, codec)

    check()


@pytest.mark.parametrize(
    "name", ["v3.Everything", "v3.Tree", "v2.Order", "editions.Node", "editions.Implicit"]
)
def test_own_messages(own: SimpleNamespace, codec: Any, name: str) -> None:
    module, cls_name = name.split(".")
    cls = getattr(getattr(own.modules, module), cls_name)

    @SETTINGS
    @given(drawn(cls))
    def check(ours: Any) -> None:
        both_ways(ours, own.pool, codec)

    check()


def test_special_floats_travel_bit_for_bit(own: SimpleNamespace, codec: Any) -> None:
    """NaN and -0.0 too: compared as bytes, since NaN is unequal to itself."""
    Everything = own.modules.v3.Everything
    upb_cls = upb_class(own.pool, Everything)

    @SETTINGS
    @given(st.floats(width=32), st.floats(), st.lists(st.floats(), max_size=4))
    def check(a_float: float, a_double: float, doubles: list[float]) -> None:
        data = bytes(codec.encode(Everything(a_float=a_float, a_double=a_double, doubles=doubles), False))
        assert upb_cls.FromString(data).SerializeToString() == data
        assert bytes(codec.encode(codec.decode(Everything, data, 100), False)) == data

    check()


def test_extensions_both_ways(own: SimpleNamespace, codec: Any) -> None:
    v2, extras = own.modules.v2, own.modules.extras
    order = v2.Order(id=1)
    v2.priority.set(order, -3)
    v2.tags.set(order, ["a", "b"])
    v2.audit.set(order, v2.Audit(who="w"))
    v2.Carrier.carrier.set(order, v2.Carrier(name="c"))
    extras.coupon.set(order, "X")
    pool = own.pool
    parsed = upb_class(pool, v2.Order).FromString(codec.encode(order, True))
    found = {f.full_name: v for f, v in parsed.ListFields() if f.is_extension}
    assert found["pilota.rich.v2.priority"] == -3
    assert list(found["pilota.rich.v2.tags"]) == ["a", "b"]
    assert found["pilota.rich.v2.audit"].who == "w"
    assert found["pilota.rich.v2.Carrier.carrier"].name == "c"
    assert found["pilota.extras.coupon"] == "X"
    back = codec.decode(v2.Order, parsed.SerializeToString(), 100)
    assert back == order


def test_message_set_both_ways(own: SimpleNamespace, codec: Any) -> None:
    v2 = own.modules.v2
    holder = v2.Holder(bag=v2.Bag())
    assert holder.bag is not None
    v2.BagItem.item.set(holder.bag, v2.BagItem(text="inside"))
    pool = own.pool
    parsed = upb_class(pool, v2.Holder).FromString(codec.encode(holder, True))
    item = pool.FindExtensionByName("pilota.rich.v2.BagItem.item")
    assert parsed.bag.Extensions[item].text == "inside"
    back = codec.decode(v2.Holder, parsed.SerializeToString(), 100)
    assert back.bag is not None and v2.BagItem.item.get(back.bag) == v2.BagItem(text="inside")


# ---- ProtoJSON through google.protobuf.json_format --------------------------------------

def same_json(ours: Any, theirs: Any) -> bool:
    """JSON trees equal, but for how the largest float32 is written: json_format writes
    3.4028235e38 (which its own reader refuses), ours 3.402823466e38."""
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and ours.keys() == theirs.keys() and all(
            same_json(ours[k], theirs[k]) for k in ours
        )
    if isinstance(ours, list):
        return isinstance(theirs, list) and len(ours) == len(theirs) and all(
            same_json(a, b) for a, b in zip(ours, theirs, strict=True)
        )
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return ours is theirs
    if isinstance(ours, int | float) and isinstance(theirs, int | float):
        if abs(theirs) == 3.4028235e38:
            return ours == math.copysign(3.402823466e38, theirs)
        return ours == theirs  # 1 and 1.0 are the same JSON number
    return type(ours) is type(theirs) and bool(ours == theirs)


def json_both_ways(ours: Any, pool: Any, registry: Any) -> None:
    """ours → JSON → upb parses an equal message; upb → JSON → ours reads an equal one;
    and both write the same JSON, by default and with proto names and defaults.
    (Not with enums as numbers: json_format then writes a NullValue as 0, where upb
    and we write null.)"""
    from google.protobuf import json_format

    cls = type(ours)
    theirs = to_upb(ours, pool)
    parsed = json_format.Parse(ours.to_json(registry=registry), upb_class(pool, cls)(),
                               descriptor_pool=pool)  # fmt: skip
    assert parsed == theirs
    text = json_format.MessageToJson(theirs, descriptor_pool=pool)
    assert cls.from_json(text, registry=registry) == ours
    assert same_json(ours.to_dict(registry=registry),
                     json_format.MessageToDict(theirs, descriptor_pool=pool))  # fmt: skip
    assert same_json(
        ours.to_dict(registry=registry, proto_names=True, emit_defaults=True),
        json_format.MessageToDict(theirs, descriptor_pool=pool, preserving_proto_field_name=True,
                                  always_print_fields_with_no_presence=True),
    )  # fmt: skip


@pytest.fixture(scope="module")
def conformance_registry(conformance: SimpleNamespace) -> Any:
    from pilota.runtime.protobuf import TypeRegistry

    return TypeRegistry(conformance.p2, conformance.p3)


@pytest.mark.parametrize("name", ["p2.TestAllTypesProto2", "p3.TestAllTypesProto3"])
def test_conformance_messages_json(
    conformance: SimpleNamespace, conformance_registry: Any, name: str
) -> None:
    module, cls_name = name.split(".")
    cls = getattr(getattr(conformance, module), cls_name)

    @SETTINGS
    @given(drawn(cls).map(json_ready))
    def check(ours: Any) -> None:
        json_both_ways(ours, conformance.pool, conformance_registry)

    check()


@pytest.mark.parametrize(
    "name", ["v3.Everything", "v3.Tree", "v2.Order", "editions.Node", "editions.Implicit",
             "jsonmap.Known", "jsonmap.Keys", "jsonmap.Names"],
)  # fmt: skip
def test_own_messages_json(own: SimpleNamespace, name: str) -> None:
    from pilota.runtime.protobuf import TypeRegistry

    module, cls_name = name.split(".")
    cls = getattr(getattr(own.modules, module), cls_name)
    registry = TypeRegistry.from_package(own.modules.package)

    def readable_by_json_format(ours: Any) -> Any:
        # json_format refuses the `[null]` it writes for a repeated NullValue (ProtoJSON
        # allows it, and tests/test_proto_json.py checks that we read it)
        if cls is own.modules.jsonmap.Known:
            ours.nulls = []
        return ours

    @SETTINGS
    @given(drawn(cls).map(json_ready).map(readable_by_json_format))
    def check(ours: Any) -> None:
        json_both_ways(ours, own.pool, registry)

    check()


def test_json_extensions_and_any_both_ways(own: SimpleNamespace) -> None:
    from google.protobuf import json_format

    from pilota.runtime.protobuf import TypeRegistry
    from pilota.runtime.protobuf.wkt.google.protobuf import any as any_pb

    v2, v3, extras, j = own.modules.v2, own.modules.v3, own.modules.extras, own.modules.jsonmap
    registry = TypeRegistry.from_package(own.modules.package)
    order = v2.Order(id=1)
    v2.priority.set(order, -3)
    v2.tags.set(order, ["a", "b"])
    v2.audit.set(order, v2.Audit(who="w"))
    extras.coupon.set(order, "X")
    upb_order = upb_class(own.pool, v2.Order).FromString(order.to_bytes())
    assert order.to_dict() == json_format.MessageToDict(upb_order, descriptor_pool=own.pool)
    assert v2.Order.from_json(json_format.MessageToJson(upb_order, descriptor_pool=own.pool),
                              registry=registry) == order  # fmt: skip
    known = j.Known(any=any_pb.Any.pack(v3.Point(x=1)), anys=[any_pb.Any.pack(any_pb.Any.pack(
        v3.Everything(a_int64=5)))])  # fmt: skip
    upb_known = upb_class(own.pool, j.Known).FromString(known.to_bytes())
    assert known.to_dict(registry=registry) == json_format.MessageToDict(
        upb_known, descriptor_pool=own.pool
    )
    assert json_format.Parse(known.to_json(registry=registry), upb_class(own.pool, j.Known)(),
                             descriptor_pool=own.pool) == upb_known  # fmt: skip


def test_json_values_neither_side_writes(own: SimpleNamespace) -> None:
    """A NaN or an infinity in a Value, or a Timestamp out of range, is refused by both."""
    from google.protobuf import json_format

    from pilota import EncodeError
    from pilota.runtime.protobuf.wkt.google.protobuf import struct, timestamp

    v3 = own.modules.v3
    for bad in (v3.Everything(values=[struct.Value(number_value=math.nan)]),
                v3.Everything(document=struct.Struct(fields={"x": struct.Value(
                    number_value=-math.inf)})),
                v3.Everything(when=timestamp.Timestamp(seconds=253402300800))):  # fmt: skip
        with pytest.raises(EncodeError):
            bad.to_json()
        theirs = upb_class(own.pool, v3.Everything).FromString(bad.to_bytes())
        with pytest.raises((ValueError, json_format.SerializeToJsonError)):
            json_format.MessageToJson(theirs, descriptor_pool=own.pool)


def test_json_largest_float32(own: SimpleNamespace) -> None:
    """json_format writes the largest float32 as 3.4028235e38, which it cannot read
    back; we read that, and write 3.402823466e38, which both read."""
    from google.protobuf import json_format

    Everything = own.modules.v3.Everything
    ours = Everything(a_float=3.4028234663852886e38, floats=[-3.4028234663852886e38])
    theirs = to_upb(ours, own.pool)
    assert json_format.MessageToDict(theirs)["aFloat"] == 3.4028235e38
    with pytest.raises(json_format.ParseError):
        json_format.Parse(json_format.MessageToJson(theirs), upb_class(own.pool, Everything)())
    assert Everything.from_json(json_format.MessageToJson(theirs)) == ours
    assert ours.to_dict() == {"aFloat": 3.402823466e38, "floats": [-3.402823466e38]}
    assert json_format.Parse(ours.to_json(), upb_class(own.pool, Everything)()) == theirs
