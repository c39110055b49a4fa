"""What one hostile message can cost the codecs (issue 12): work linear in its
size, memory under a budget, and errors reported by the codec that found them.

No timings here (the machine is shared): each test checks a deterministic
measure of the work instead: calls into the pure codec from the compiled one,
values skipped, Python-level calls, garbage collections, objects built,
tracemalloc peaks. The inputs are the shapes of tests/fuzz/limits.thrift.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import math
import random
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import pilota
from pilota import DecodeError
from pilota.runtime import _pure, json_protocol
from pilota.runtime._helpers import OBJECT_ALLOWANCE
from tests.conftest import codec_modules, turns_during
from tests.fuzz import codec_fuzz
from tests.fuzz.codec_fuzz import bools, deep_changed, empty_nodes, i32, key_links

LIMITS_IDL = Path(__file__).resolve().parent / "fuzz" / "limits.thrift"
COMPILED = [m for m in codec_modules() if m is not _pure]
needs_compiled = pytest.mark.skipif(not COMPILED, reason="the compiled codec is not built here")


@pytest.fixture(scope="module")
def limits(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("limits")
    pilota.generate([LIMITS_IDL], root / "limits_gen")
    sys.path.insert(0, str(root))
    return importlib.import_module("limits_gen.limits")


# ---- the compiled codec, alone ----------------------------------------------------------


def outcome(module: Any, cls: Any, data: bytes, protocol: str, **options: Any) -> tuple[str, str]:
    try:
        return ("value", repr(getattr(module, f"decode_{protocol}")(cls, data, **options)))
    except DecodeError as exc:
        return ("error", str(exc))


@contextmanager
def pure_codec_forbidden(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any call from the compiled codec into the pure one fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the compiled codec handed the input to the pure codec")

    with monkeypatch.context() as patch:
        for name in ("decode_binary", "decode_compact"):
            patch.setattr(_pure, name, refuse)
        yield


def compiled_alone(
    monkeypatch: pytest.MonkeyPatch, cls: Any, data: bytes, protocol: str, **options: Any
) -> tuple[str, str]:
    """The compiled codec's outcome, checked against the pure codec's; it must not
    call the pure codec to get there."""
    expected = outcome(_pure, cls, data, protocol, **options)
    for module in COMPILED:
        with pure_codec_forbidden(monkeypatch):
            got = outcome(module, cls, data, protocol, **options)
        assert got == expected
    return expected


@needs_compiled
@pytest.mark.parametrize("tail", [b"\x00", b"\xff", b"\x0b\x00\x05\x00\x00\x00\x09ab"])
def test_a_bad_tail_is_reported_by_the_compiled_codec_itself(
    limits: Any, monkeypatch: pytest.MonkeyPatch, tail: bytes
) -> None:
    """The error after 50,000 structs (or bools) comes from the compiled codec,
    not from the pure one decoding it all again: a bad tail costs what a good
    one costs."""
    for protocol in ("binary", "compact"):
        kind, message = compiled_alone(
            monkeypatch, limits.Nodes, empty_nodes(50_000, protocol, tail), protocol
        )
        assert kind == ("value" if tail == b"\x00" else "error")
    kind, message = compiled_alone(monkeypatch, limits.Flags, bools(50_000, tail), "compact")
    assert kind == ("value" if tail == b"\x00" else "error")
    if tail == b"\xff":
        assert message == "Flags: unknown compact wire type 15"


CASES: list[tuple[str, str, bytes, str]] = [
    # class, protocol, input, the error (None: decodes)
    ("Nodes", "binary", empty_nodes(3, "binary", b"\xff"), "Nodes: unexpected end of data: 2 more bytes needed, 0 left"),
    ("Nodes", "binary", b"\x0f\x00\x01\x0c" + i32(-1), "Nodes.nodes: negative size -1"),
    ("Nodes", "binary", b"\x0f\x00\x01\x0c" + i32(9), "Nodes.nodes: size 9 needs at least 9 bytes, 0 left"),
    ("Nodes", "binary", b"\x0f\x00\x01\x01" + i32(0), "Nodes.nodes: unknown wire type 1"),
    ("Nodes", "binary", b"\x01\x00\x07\x00", "Nodes: unknown binary wire type 1"),
    ("Nodes", "binary", b"\x0f\x00\x01\x0c" + i32(2) + b"\x00\x0f\x00\x02\x0c" + i32(1) + b"\x08\x00\x01", "Nodes.nodes[1].children[0].value: unexpected end of data: 4 more bytes needed, 0 left"),
    ("Key", "binary", b"\x0b\x00\x02" + i32(1) + b"\xff\x00", "Key.name: invalid UTF-8 in string: invalid start byte"),
    ("Key", "binary", b"\x0b\x00\x02" + i32(-5) + b"\x00", "Key.name: negative length -5"),
    ("Key", "binary", b"\x0b\x00\x02" + i32(5) + b"ab\x00", "Key.name: length 5 exceeds the 3 bytes left"),
    ("Key", "binary", b"\x00\x00", "Key: 1 bytes left over after the value"),
    ("Strict", "binary", b"\x00", "Strict.id: required field is missing"),
    # a required field that came as another type, two levels down
    ("Strict", "binary", b"\x08\x00\x01" + i32(1) + b"\x0f\x00\x02\x0f" + i32(2) + b"\x08" + i32(0) + b"\x0b" + i32(1) + i32(0), "Strict.grid[1]: wire type 11 does not match the declared type (binary type 8)"),
    ("Strict", "binary", b"\x0b\x00\x01" + i32(0) + b"\x00", "Strict.id: wire type 11 does not match the declared type (binary type 8)"),
    ("Either", "binary", b"\x00", "Either: a union must have exactly one member set, found 0"),
    ("Either", "binary", b"\x0a\x00\x01" + bytes(8) + b"\x0b\x00\x02" + i32(0) + b"\x00", "Either: a union must have exactly one member set, found 2"),
    # a map value's path names its key (a struct key by its repr); a key's error has none
    ("Kinds", "binary", b"\x0d\x00\x0e\x0c\x0c" + i32(1) + b"\x08\x00\x01" + i32(3) + b"\x00" + b"\x00", "Kinds.keyed[Key(id=3)]: a union must have exactly one member set, found 0"),
    ("Kinds", "binary", b"\x0d\x00\x0e\x0c\x0c" + i32(1) + b"\x0b\x00\x02" + i32(1) + b"\xfe\x00", "Kinds.keyed.name: invalid UTF-8 in string: invalid start byte"),
    # a field that came as another type deep inside, then ends early: the skip's error is located at the field
    ("Deep", "binary", b"\x0f\x00\x01\x0f" + i32(2) + b"\x0c" + i32(1) + b"\x00" + b"\x0b" + i32(1) + i32(10), "Deep.below: length 10 exceeds the 0 bytes left"),
    ("Deep", "binary", b"\x0d\x00\x02\x08\x0f" + i32(2) + i32(1) + b"\x08" + i32(1) + i32(5) + i32(2) + b"\x0c" + i32(1), "Deep.keyed: size 1 needs at least 1 bytes, 0 left"),
    # the size is checked before the element type: that error is the element's
    ("Deep", "binary", b"\x0f\x00\x01\x0f" + i32(2) + b"\x0c" + i32(1) + b"\x00" + b"\x08" + i32(3) + i32(1), "Deep.below[1]: size 3 needs at least 12 bytes, 4 left"),
    ("Deep", "binary", deep_changed(3, 10), None),
    ("Deep", "binary", b"\x0f\x00\x01\x0f" + i32(1) + (b"\x0c" + i32(1) + b"\x0f\x00\x01\x0f" + i32(1)) * 40, "Deep" + ".below[0][0]" * 21 + ".below: nesting deeper than 64 levels"),
    # compact
    ("Key", "compact", b"\x15" + b"\xff" * 10 + b"\x01\x00", "Key.id: varint is longer than 10 bytes"),
    ("Key", "compact", b"\x15" + b"\xfe" + b"\xff" * 8 + b"\x7f\x00", "Key.id: value 590295810358705651711 is out of range for i32"),
    ("Key", "compact", b"\x15\x80\x80\x80\x80\x20\x00", "Key.id: value 4294967296 is out of range for i32"),
    ("Key", "compact", b"\x28" + b"\xff" * 9 + b"\x7f\x00", "Key.name: length 1180591620717411303423 is out of range"),
    ("Key", "compact", b"\x28\x05ab\x00", "Key.name: length 5 exceeds the 3 bytes left"),
    # a field sent as another type is skipped, and the skip's errors are the field's
    ("Key", "compact", b"\x18\x05ab\x00", "Key.id: length 5 exceeds the 3 bytes left"),
    ("Key", "compact", b"\xf1" * 2185 + b"\x00", "Key: field id 32775 is out of range for i16"),
    ("Key", "compact", b"\x0e\x0e\x00", "Key: unknown compact wire type 14"),
    ("Key", "compact", b"\x06\x9a\x01" + b"\xff" * 9 + b"\x7f\x00", None),  # issue 12's input: an unknown i64 of 70 bits
    ("Key", "compact", b"\x05\x9a\x01" + b"\xff" * 9 + b"\x7f\x00", None),  # an unknown i32, the same
    ("Key", "compact", b"\x09\x9a\x01\x26" + (b"\xff" * 9 + b"\x7f") * 2 + b"\x00", None),  # in an unknown list<i64>
    ("Key", "compact", b"\x0c\x9a\x01\x14" + b"\xff" * 9 + b"\x7f\x00\x00", None),  # in an unknown struct
    ("Key", "compact", b"\x14" + b"\xff" * 9 + b"\x7f\x00", None),  # a known i32 field sent as i16, skipped
    ("Key", "compact", b"\x09\x9a\x01\xf6" + b"\xff" * 9 + b"\x7f" + b"\x00", "Key: size 1180591620717411303423 needs at least 1180591620717411303423 bytes, 1 left"),
    ("Flags", "compact", b"\x19\xf1\x05\x01\x01", "Flags.flags: size 5 needs at least 5 bytes, 2 left"),
    ("Flags", "compact", b"\x19\x2e", "Flags.flags: unknown wire type 14"),
    ("KeyMap", "compact", b"\x1b\x01\xe9\x00", "KeyMap.links: unknown wire type 14"),
    ("KeyMap", "compact", b"\x1b\x02\xc9\x00\x1c\x28\x01\xff\x00\x00", "KeyMap.links[Key()][0].name: invalid UTF-8 in string: invalid start byte"),
    ("Strict", "compact", b"\x15\x02\x19\x29\x18\x00\x00", "Strict.grid[0]: wire type 8 does not match the declared type (compact type 5)"),
    ("Strict", "compact", b"\x15\x02\x19\x19\x15\x02\x00", "Strict.moods: required field is missing"),
]  # fmt: skip


@needs_compiled
@pytest.mark.parametrize(("cls", "protocol", "data", "error"), CASES)
def test_every_error_is_the_pure_codecs_without_it(
    limits: Any, monkeypatch: pytest.MonkeyPatch, cls: str, protocol: str, data: bytes,
    error: str | None,
) -> None:  # fmt: skip
    """Each kind of error, at each kind of place: the compiled codec raises the
    pure codec's message with its path, by itself. Some of these inputs decode:
    the compiled codec used to fail on them and let the pure one decode them."""
    kind, message = compiled_alone(monkeypatch, getattr(limits, cls), data, protocol)
    if error is None:
        assert kind == "value", message
    else:
        assert (kind, message) == ("error", error)


def test_every_error_case_has_its_message_in_the_pure_codec(limits: Any) -> None:
    """The same table, for a machine without the compiled codec."""
    for cls, protocol, data, error in CASES:
        kind, message = outcome(_pure, getattr(limits, cls), data, protocol)
        assert (kind, message if error else None) == ("error" if error else "value", error)


# ---- a field whose type changed, deep down, is skipped once -----------------------------


def test_a_changed_type_deep_down_is_skipped_once(limits: Any) -> None:
    """Twenty levels of fields whose type changed at their second element: each
    is left out, and the bytes under them are skipped once, not once per level
    (each level used to skip the whole field again from its start)."""
    levels, bulk = 20, 20_000
    data = deep_changed(levels, bulk)
    calls = 0
    skip = _pure._BinaryReader.skip

    def counting(self: Any, wire: int) -> None:
        nonlocal calls
        calls += 1
        skip(self, wire)

    _pure._BinaryReader.skip = counting  # type: ignore[method-assign]
    try:
        value = _pure.decode_binary(limits.Deep, data)
    finally:
        _pure._BinaryReader.skip = skip  # type: ignore[method-assign]
    assert value.below is None
    assert calls < bulk + 10 * levels  # used to be about bulk * levels
    for module in COMPILED:
        before = module.values_skipped()
        assert module.decode_binary(limits.Deep, data) == value
        assert module.values_skipped() - before < bulk + 10 * levels


# ---- the object budget ------------------------------------------------------------------


def decoder(module: Any, protocol: str) -> Callable[..., Any]:
    """`decode(cls, data, max_depth=64, objects_per_byte=...)` of one codec;
    JSON has one implementation for both."""
    if protocol == "json":
        return json_protocol.decode_json
    return getattr(module, f"decode_{protocol}")  # type: ignore[no-any-return]


def nodes_message(limits: Any, n: int, protocol: str) -> bytes:
    if protocol == "json":
        return bytes(limits.Nodes(nodes=[limits.Node() for _ in range(n)]).to_bytes("json"))
    return empty_nodes(n, protocol)


@pytest.mark.parametrize("protocol", ["binary", "compact", "json"])
def test_a_claimed_count_over_the_budget_fails_before_anything_is_built(
    limits: Any, protocol: str
) -> None:
    """With objects_per_byte=0.25, a list of 200,000 one-byte structs is refused
    at its header: nothing of it is built (the tracemalloc peak stays far below
    one struct per element), in every codec and protocol. With the default
    budget (one per byte) the same message decodes."""
    n = 200_000
    data = nodes_message(limits, n, protocol)
    budget = int(len(data) * 0.25) + OBJECT_ALLOWANCE
    for module in codec_modules():
        decode = decoder(module, protocol)
        tracemalloc.start()
        try:
            with pytest.raises(DecodeError) as raised:
                decode(limits.Nodes, data, 64, 0.25)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert str(raised.value) == (
            f"Nodes.nodes: more than {budget} structs and containers, the limit for a "
            "message of this size (see objects_per_byte)"
        )
        # JSON reads a copy of the input as text; a struct each would be 48 bytes
        assert peak < 2 * len(data) + 65536 < n * 48 // 4
        assert len(decode(limits.Nodes, data).nodes) == n
    assert len(limits.Nodes.from_bytes(data, protocol).nodes) == n
    with pytest.raises(DecodeError, match="more than"):
        limits.Nodes.from_bytes(data, protocol, objects_per_byte=0.25)


@pytest.mark.parametrize("protocol", ["binary", "compact", "json"])
def test_defaults_made_for_absent_fields_count(limits: Any, protocol: str) -> None:
    """An empty `Defaults` is one byte on the wire and five objects in memory
    (itself and four defaults made by factories): 10,000 of them are refused by
    the default budget, in every codec. Sent whole, as any encoder writes them
    (a field with a default is always written), they decode."""
    n = 10_000
    whole = bytes(limits.ManyDefaults(items=[limits.Defaults()] * n).to_bytes(protocol))
    # Encoders write the defaults: a hostile peer leaves them out.
    one = bytes(limits.Defaults().to_bytes(protocol))
    hostile = whole.replace(one, b"{}" if protocol == "json" else b"\x00")
    assert len(hostile) < len(whole) // 10
    for module in codec_modules():
        decode = decoder(module, protocol)
        assert len(decode(limits.ManyDefaults, whole).items) == n
        with pytest.raises(DecodeError, match=r"^ManyDefaults\.items\[\d+\]: more than \d+ structs"):
            decode(limits.ManyDefaults, hostile)


def built(value: Any) -> int:
    """The structs and containers in a decoded value."""
    if isinstance(value, list | tuple | set | frozenset):
        return 1 + sum(built(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(built(k) + built(v) for k, v in value.items())
    if hasattr(value, "__thrift_spec__"):
        return 1 + sum(built(getattr(value, f.name)) for f in value.__thrift_spec__)
    return 0


def test_honest_messages_need_at_most_one_object_per_byte(tmp_path: Path) -> None:
    """Why one per byte is the default: a struct or a container takes at least a
    byte on the wire (a field with a default is always written), so nothing an
    honest peer sends needs more. Random values of every class of the fuzz and
    test IDLs, in every protocol, read as themselves and as another version."""
    modules = codec_fuzz.generate(tmp_path)
    seeds = codec_fuzz.seeds(modules, random.Random(12), per_class=5)
    assert len(seeds) > 500
    for seed in seeds:
        try:
            value = seed.reader.from_bytes(seed.data, seed.protocol, objects_per_byte=1.0)
        except DecodeError as exc:  # read as another version: a string may be bytes, ...
            assert "structs and containers" not in str(exc)
            continue
        assert built(value) <= len(seed.data)


def test_objects_per_byte_is_checked(limits: Any) -> None:
    data = empty_nodes(3000, "binary")
    for module in codec_modules():
        for bad in (-1, math.nan):
            with pytest.raises(ValueError, match="objects_per_byte must be a number >= 0"):
                module.decode_binary(limits.Nodes, data, 64, bad)
        with pytest.raises(DecodeError, match="more than 1024 structs"):
            module.decode_binary(limits.Nodes, data, 64, 0)
        assert len(module.decode_binary(limits.Nodes, data, 64, math.inf).nodes) == 3000
    assert len(limits.Nodes.from_bytes(data, objects_per_byte=math.inf).nodes) == 3000


@pytest.mark.parametrize("ratio", [0.1, 0.5, 1.0])
def test_memory_stays_within_what_the_budget_allows(limits: Any, ratio: float) -> None:
    """What a message builds is bounded by its budget: `ratio` structs or
    containers per byte, each of a size its class bounds. Here one-byte empty
    structs, the shape that builds the most per byte: 48 bytes each (a Node
    has two slots), 8 more for its place in the list."""
    n = 100_000
    for protocol in ("binary", "compact"):
        data = empty_nodes(n, protocol)
        budget = int(len(data) * ratio) + OBJECT_ALLOWANCE
        for module in codec_modules():
            tracemalloc.start()
            try:
                try:
                    value = decoder(module, protocol)(limits.Nodes, data, 64, ratio)
                except DecodeError:
                    value = None
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert (value is not None) == (ratio == 1.0)
            del value
            assert peak <= budget * 48 + len(data) * 8 + 65536


# ---- maps keyed by structs, and the garbage collector -----------------------------------


def python_calls(run: Callable[[], Any]) -> int:
    calls = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return calls


def test_struct_keys_hash_without_python_calls(limits: Any) -> None:
    """A map keyed by structs hashes every key (and compares equal ones): the
    compiled codec's structs do it with no Python-level call (it used to take
    eight per entry); the pure codec's with few (it took about eleven)."""
    from pilota.runtime import base
    from pilota.runtime.codec import IMPLEMENTATION

    n = 500
    value = limits.KeyMap(links={limits.Key(id=i): [limits.Key(id=i)] for i in range(n)})
    data = value.to_bytes("binary")
    # Struct's methods are the compiled codec's unless PILOTA_PURE_PYTHON=1
    limit = n // 10 if IMPLEMENTATION == "cython" else 10 * n
    for module in COMPILED:
        assert python_calls(lambda m=module: m.decode_binary(limits.KeyMap, data)) < limit
        same_key = key_links(n)  # n entries, all the one key Key()
        assert python_calls(lambda m=module, d=same_key: m.decode_compact(limits.KeyMap, d)) < limit

    key = limits.Key(id=1, name="a")
    assert hash(key) == base.python_hash(key) and base.python_eq(key, limits.Key(id=1, name="a"))
    pure_limit = (4 if IMPLEMENTATION == "cython" else 8) * n
    assert python_calls(lambda: _pure.decode_binary(limits.KeyMap, data)) < pure_limit


def colliding_pairs(n: int) -> list[tuple[int, int]]:
    """`n` distinct pairs of i64 whose tuples have one hash: Python's tuple hash
    (xxHash's round, unkeyed) can be inverted for the second element."""
    mask, p1, p2, p5 = (1 << 64) - 1, 11400714785074694791, 14029467366897019727, 2870177450012600261
    p2_inverse = pow(p2, -1, 1 << 64)
    pairs: list[tuple[int, int]] = []
    a = 0
    while len(pairs) < n:
        a += 1
        acc = (p5 + hash(a) * p2) & mask
        acc = ((((acc << 31) | (acc >> 33)) & mask) * p1) & mask
        b = ((12345 - acc) * p2_inverse) & mask  # the second lane that lands on 12345
        if b < (1 << 61) - 1:  # hash(b) == b
            pairs.append((a, b))
    assert len({hash(pair) for pair in pairs}) == 1
    return pairs


def test_struct_keys_a_peer_chose_to_collide_do_not(limits: Any) -> None:
    """A map (or set) keyed by structs: with their hash built like a tuple's,
    a peer could send thousands of distinct keys of one hash, and each one
    would be compared with all before it (2,000 keys: two million compares).
    The hash of a struct is keyed per process, in both Struct implementations."""
    from pilota.runtime import base

    pairs = colliding_pairs(2000)
    value = limits.PairCounts(
        counts={limits.Pair(a=a, b=b): 1 for a, b in pairs},
        seen={limits.Pair(a=a, b=b) for a, b in pairs},
    )
    for protocol in ("binary", "compact", "json"):
        data = value.to_bytes(protocol)
        for module in codec_modules():
            decoded = decoder(module, protocol)(limits.PairCounts, data)
            assert decoded == value
            assert len({hash(key) for key in decoded.counts}) == len(pairs)
            assert len({base.python_hash(key) for key in decoded.seen}) == len(pairs)
    for key in value.seen:
        assert hash(key) == base.python_hash(key) == hash(limits.Pair(a=key.a, b=key.b))


@needs_compiled
@pytest.mark.parametrize("protocol", ["binary", "compact"])
def test_a_long_decode_offers_other_threads_turns(limits: Any, protocol: str) -> None:
    """The compiled codec holds the GIL while it decodes; every 4,096 items of
    a container it lets a thread waiting for the GIL have a turn (a server
    decodes large requests on a thread of its own, so that its event loop
    goes on meanwhile: volo.decoding). The pure codec's turns are Python's
    own. A list of empty Nodes, read as such and skipped (read as Key), and
    a compact list<bool>."""
    n = 200_000
    nodes = nodes_message(limits, n, protocol)
    cases = [(limits.Nodes, nodes), (limits.Key, nodes)]
    if protocol == "compact":
        cases.append((limits.Flags, bools(n)))
    for module in COMPILED:
        decode = decoder(module, protocol)
        for cls, data in cases:
            for message in (data, data[:-1]):  # whole, and cut short at the end
                before = module.turns_given()
                with contextlib.suppress(DecodeError):
                    decode(cls, message)
                assert module.turns_given() - before >= n // 4096, (cls, len(message))


@pytest.mark.parametrize("protocol", ["binary", "compact"])
def test_a_thread_waiting_while_a_message_decodes_gets_its_turns(limits: Any, protocol: str) -> None:
    """What the turns are for: another thread (a server's event loop) runs
    while a large message decodes, with either codec, a good message or a
    bad one. (Releasing the GIL for a moment gave it none: the decoding
    thread took it back before the other woke.)"""
    for module in codec_modules():
        n = 1_000_000 if module is not _pure else 200_000
        data = nodes_message(limits, n, protocol)
        decode = decoder(module, protocol)
        for message in (data, data[:-1]):

            def action(message: bytes = message, decode: Any = decode) -> None:
                with contextlib.suppress(DecodeError):
                    decode(limits.Nodes, message)

            assert turns_during(action) > 0, (module.__name__, len(message))


@pytest.mark.parametrize("protocol", ["binary", "compact", "json"])
def test_the_collector_waits_while_a_message_is_built(limits: Any, protocol: str) -> None:
    """Building 100,000 structs used to run the cyclic garbage collector about
    seventy times over them (four fifths of the compiled codec's decoding time,
    a third of the pure codec's); every codec holds it off until the message
    is built (then it runs once), and leaves it as it was."""
    data = nodes_message(limits, 100_000, protocol)
    collections = 0

    def count(phase: str, info: dict[str, int]) -> None:
        nonlocal collections
        collections += phase == "start"

    for module in codec_modules():
        decode = decoder(module, protocol)
        for message in (data, data[:-1]):
            collections = 0
            gc.callbacks.append(count)
            try:
                decode(limits.Nodes, message)
            except DecodeError:
                pass
            finally:
                gc.callbacks.remove(count)
            assert collections <= 2
            assert gc.isenabled()
        gc.disable()
        try:
            decode(limits.Nodes, data)
            assert not gc.isenabled()
        finally:
            gc.enable()
