"""Interop with Google's protobuf (upb): Hypothesis-made values of the conformance
suite's TestAllTypesProto2/Proto3 and of our own rich messages go both ways.

ours → bytes → upb parses a message equal to one built through upb's own API, and
upb's deterministic output is byte-identical to ours; upb → bytes → ours decodes
an equal value. upb's classes come from protoc's descriptors (not ours).
"""

from __future__ import annotations

import importlib
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
