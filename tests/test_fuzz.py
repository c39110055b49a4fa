"""Fuzzing the decoders: random and mutated input gives a value or DecodeError.

Never another exception, never a crash or a hang; and the compiled and pure
codecs must agree on every input, value for value and message for message.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilota import DecodeError
from tests.conftest import Codec, codec_modules
from tests.test_runtime import everything

FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
CODECS = [Codec(m) for m in codec_modules()]


def outcome(codec: Codec, cls: Any, data: bytes, protocol: str) -> tuple[str, str]:
    try:
        # repr, not the value: a mutated double may be NaN, and NaN != NaN
        return ("value", repr(codec.decode(cls, data, protocol)))
    except DecodeError as exc:
        return ("error", str(exc))


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
