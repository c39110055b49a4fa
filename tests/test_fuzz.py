"""Fuzzing the decoders: random and mutated input gives a value or DecodeError.

Never another exception, never a crash or a hang; and the compiled and pure
codecs must agree on every input, value for value and message for message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilota import DecodeError
from pilota.runtime import Struct
from pilota.runtime import types as t
from tests.conftest import Codec, codec_modules
from tests.fuzz import codec_fuzz
from tests.test_runtime import before, everything

FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
CODECS = [Codec(m) for m in codec_modules()]


def outcome(codec: Codec, cls: Any, data: bytes, protocol: str) -> tuple[str, str]:
    """The value (its repr) or the error; the compiled codec must get there alone,
    without handing the input to the pure codec (which would hide its bugs)."""
    calls = pure_calls.count
    try:
        # repr, not the value: a mutated double may be NaN, and NaN != NaN
        return ("value", repr(codec.decode(cls, data, protocol)))
    except DecodeError as exc:
        return ("error", str(exc))
    finally:
        if codec.name == "cython" and codec.module.handles(cls):
            assert pure_calls.count == calls, "the compiled codec used the pure one"


pure_calls = codec_fuzz.PureCalls()


@pytest.fixture(autouse=True)
def watch_the_pure_codec() -> Iterator[None]:
    with pure_calls.watching():
        yield


def check_all_agree(cls: Any, data: bytes, protocol: str) -> None:
    outcomes = [outcome(c, cls, data, protocol) for c in CODECS]
    assert all(o == outcomes[0] for o in outcomes), outcomes


@FUZZ
@given(data=st.binary(max_size=200), protocol=st.sampled_from(["binary", "compact"]))
def test_random_bytes(generated: Any, data: bytes, protocol: str) -> None:
    for cls in (generated.rich.Everything, generated.rich.Choice, generated.uuids.WithUuid):
        check_all_agree(cls, data, protocol)


@st.composite
def mutations(draw: st.DrawFn, valid: bytes) -> bytes:
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[at] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0x0F, 0xF0]))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=5))
        else:
            del data[at]
    return bytes(data)


@FUZZ
@given(st.data(), st.sampled_from(["binary", "compact"]))
def test_mutated_valid_encodings(generated: Any, data: st.DataObject, protocol: str) -> None:
    value = everything(generated.rich)
    valid = CODECS[0].encode(value, protocol)
    mutated = data.draw(mutations(valid))
    check_all_agree(type(value), mutated, protocol)


@FUZZ
@given(st.data(), st.sampled_from(["binary", "compact"]))
def test_mutated_encodings_of_another_version(
    generated: Any, data: st.DataObject, protocol: str
) -> None:
    """Read as `After`, what was written as `Before`: the paths that skip fields
    sent as another type, mutated; with kept unknown fields too."""
    valid = CODECS[0].encode(before(generated.evolution), protocol)
    mutated = data.draw(mutations(valid))
    check_all_agree(generated.evolution.After, mutated, protocol)
    check_all_agree(generated.keeping.After, mutated, protocol)


def test_a_seeded_campaign_finds_no_crash_disagreement_or_fallback(tmp_path: Path) -> None:
    """A bounded run of tests/fuzz's campaign (fuzz_codecs.py runs it longer):
    random values of every class of the fuzz and test IDLs, issue 12's inputs,
    and 4,000 mutations of them, in every protocol, each read by every codec as
    its class (and sometimes as another), and re-encoded when it decodes."""
    modules = codec_fuzz.generate(tmp_path)
    report = codec_fuzz.run(modules, 4000, seed=20261201)
    assert report.inputs > 4000 and report.decoded > 500, report.summary()
    assert report.crashes == [], report.crashes[:3]
    assert report.disagreements == [], report.disagreements[:3]
    assert report.fallback_uses == 0


def test_a_claimed_2_gib_string_fails_at_once(generated: Any) -> None:
    ten_bytes = b"\x0b\x00\x07\x7f\xff\xff\xff" + b"abc"  # Scalars.a_string, 2 GiB claimed
    assert len(ten_bytes) == 10
    for codec in CODECS:
        kind, message = outcome(codec, generated.rich.Scalars, ten_bytes, "binary")
        assert kind == "error" and "length 2147483647 exceeds the 3 bytes left" in message


def test_deep_garbage_nesting_is_bounded(generated: Any) -> None:
    # list<list<list<...>>> claimed 100,000 levels deep, as an unknown field to skip
    binary = b"\x0f\x7f\xff" + b"\x0f\x00\x00\x00\x01" * 100_000
    compact = b"\x09\xfe\xff\x03" + b"\x19" * 100_000
    for codec in CODECS:
        for protocol, data in (("binary", binary), ("compact", compact)):
            kind, message = outcome(codec, generated.rich.Leaf, data, protocol)
            assert kind == "error" and "nesting deeper than 64 levels" in message


# ---- a field whose type changed between versions ---------------------------------------

_SCALARS = [t.BOOL, t.BYTE, t.I16, t.I32, t.I64, t.DOUBLE, t.STRING]
_classes: dict[tuple[t.TypeSpec, bool], Any] = {}


def field_types(depth: int = 0) -> st.SearchStrategy[t.TypeSpec]:
    """Field types with a wire type each: scalars (string stands for binary too,
    and i32 for enums: the wire does not tell them apart), one struct, and
    containers of them; set members and map keys are scalars."""
    scalar = st.sampled_from(_SCALARS)
    if depth >= 2:
        return scalar
    inner = field_types(depth + 1)
    return st.one_of(
        scalar,
        st.just((t.STRUCT, holder(t.I32))),
        st.tuples(st.just(t.LIST), inner),
        st.tuples(st.just(t.SET), scalar),
        st.tuples(st.just(t.MAP), scalar, inner),
    )


def holder(spec: t.TypeSpec, keep: bool = False) -> Any:
    """A struct class holding `spec` in field 2 between two i64 fields (1 and 3),
    made as the generator makes one."""
    found = _classes.get((spec, keep))
    if found is None:
        fields = (
            t.FieldSpec(1, "before", t.I64, t.DEFAULT),
            t.FieldSpec(2, "changed", spec, t.DEFAULT),
            t.FieldSpec(3, "after", t.I64, t.DEFAULT),
        )
        slots = ("before", "changed", "after", *(["_unknown_fields"] if keep else []))

        def init(self: Any, **values: Any) -> None:
            for name in slots:
                setattr(self, name, values.get(name))

        found = _classes[(spec, keep)] = type(
            f"Holds{len(_classes)}",
            (Struct,),
            {"__slots__": slots, "__init__": init, "__thrift_spec__": fields,
             "__thrift_keep_unknown__": keep},
        )  # fmt: skip
    return found


def values_of(spec: t.TypeSpec) -> st.SearchStrategy[Any]:
    code = spec if isinstance(spec, int) else spec[0]
    if code == t.BOOL:
        return st.booleans()
    if code == t.DOUBLE:
        return st.floats(allow_nan=False)
    if code == t.STRING:
        return st.text(max_size=3)
    if isinstance(spec, int):
        low, high = t.INT_RANGES[code]
        return st.integers(low, high)
    if code == t.STRUCT:
        return st.builds(lambda n: spec[1](changed=n), st.integers(-5, 5))
    if code == t.LIST:
        return st.lists(values_of(spec[1]), max_size=3)
    if code == t.SET:
        return st.sets(values_of(spec[1]), max_size=3)
    return st.dictionaries(values_of(spec[1]), values_of(spec[2]), max_size=3)


def wire_code(spec: t.TypeSpec) -> int:
    code = spec if isinstance(spec, int) else spec[0]
    return code


def readable(value: Any, sent: t.TypeSpec, declared: t.TypeSpec) -> bool:
    """Whether `value`, written as `sent`, reads as `declared`: the same wire type
    all the way down, where an empty container has no element types to compare."""
    if wire_code(sent) != wire_code(declared):
        return False
    code = wire_code(sent)
    if code == t.LIST or code == t.SET:
        assert not isinstance(sent, int) and not isinstance(declared, int)
        return all(readable(item, sent[1], declared[1]) for item in value)
    if code == t.MAP:
        assert not isinstance(sent, int) and not isinstance(declared, int)
        return all(
            readable(k, sent[1], declared[1]) and readable(v, sent[2], declared[2])
            for k, v in value.items()
        )
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data(), field_types(), field_types(), st.sampled_from(["binary", "compact"]))
def test_any_changed_type_is_skipped_or_read(
    data: st.DataObject, sent: t.TypeSpec, declared: t.TypeSpec, protocol: str
) -> None:
    """A field written as one type and read as another: read when the wire types
    agree all the way down, else skipped (None) with its neighbours intact; with
    `keep_unknown_fields`, kept and written back as it came. Every codec agrees."""
    value = data.draw(values_of(sent))
    written = holder(sent)(before=-1, changed=value, after=2**40)
    for codec in CODECS:
        encoded = codec.encode(written, protocol)
        decoded = codec.decode(holder(declared), encoded, protocol)
        assert (decoded.before, decoded.after) == (-1, 2**40)
        if readable(value, sent, declared):
            assert decoded.changed == value
        else:
            assert decoded.changed is None
            kept = codec.decode(holder(declared, keep=True), encoded, protocol)
            for out in ("binary", "compact"):
                again = codec.encode(kept, out)
                assert codec.decode(holder(sent), again, out) == written
        check_all_agree(holder(declared), encoded, protocol)
