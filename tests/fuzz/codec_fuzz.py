"""Differential fuzzing of the codecs, shared by the bounded, seeded test in CI
(tests/test_fuzz.py) and the longer campaign script (tests/fuzz/fuzz_codecs.py).

Inputs are valid encodings of random values of the fuzz IDL's classes (and of
the test IDLs'), in every protocol, mutated a few times each: bytes flipped,
set to boundary values, cut, inserted, deleted, repeated, or spliced from
another input; and sometimes pure random bytes. Each input is decoded by every
codec (the compiled one and the pure one) into every class that can read it,
and the outcomes must agree, value for value and message for message. A value
that decodes is encoded again by every codec, and those must agree too.

What counts:
- a crash: any exception but DecodeError (or EncodeError from encoding);
- a disagreement: the codecs differ;
- a fallback use: the compiled codec calling the pure one for a class it
  compiles (it decodes every input itself, and encodes every valid value
  itself), which would hide a bug of its own;
- a hang: an input slower than `hang_seconds` (the campaign script only).
"""

from __future__ import annotations

import contextlib
import importlib
import random
import struct
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pilota
from pilota import DecodeError, EncodeError
from pilota.codegen.python import Options
from pilota.runtime import _pure
from pilota.runtime import types as t
from pilota.runtime.base import Union

HERE = Path(__file__).resolve().parent
TEST_IDL = HERE.parent / "idl"
PROTOCOLS = ("binary", "compact", "json")


def codecs() -> list[Any]:
    """The codec modules: the pure one, and the compiled one where it is built."""
    modules: list[Any] = [_pure]
    with contextlib.suppress(ImportError):
        from pilota.runtime import _speedups  # type: ignore[attr-defined]

        modules.append(_speedups)
    return modules


def generate(root: Path) -> dict[str, Any]:
    """The fuzz IDL and the test IDLs, generated under `root` and imported."""
    package = "pilota_fuzz_gen"
    pilota.generate(
        [HERE / "limits.thrift", TEST_IDL / "rich.thrift", TEST_IDL / "evolution.thrift",
         TEST_IDL / "uuid.thrift", TEST_IDL / "wire.thrift"],
        root / package,
    )  # fmt: skip
    pilota.generate(
        [TEST_IDL / "evolution.thrift"],
        root / package / "keeping",
        options=Options(keep_unknown_fields=True),
    )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    names = ("limits", "rich", "evolution", "uuid", "wire", "keeping.evolution")
    return {name: importlib.import_module(f"{package}.{name}") for name in names}


def structs(module: Any) -> list[type]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type) and hasattr(value, "__thrift_spec__")
        and value.__module__ == module.__name__
    ]  # fmt: skip


# ---- random values ------------------------------------------------------------------


def random_value(rng: random.Random, spec: t.TypeSpec, depth: int) -> Any:
    code = spec if isinstance(spec, int) else spec[0]
    if code == t.BOOL:
        return rng.random() < 0.5
    if code in t.INT_RANGES and code != t.ENUM:
        low, high = t.INT_RANGES[code]
        near = rng.randint(max(low, -300), min(high, 300))
        return rng.choice([0, 1, -1, low, high, rng.randint(low, high), near])
    if code == t.DOUBLE:
        return rng.choice([0.0, -0.5, 1e300, float("inf"), rng.uniform(-1e6, 1e6)])
    if code == t.STRING:
        return rng.choice(["", "a", "héllo ✓", "x" * rng.randint(0, 40)])
    if code == t.BINARY:
        return rng.randbytes(rng.randint(0, 12))
    if code == t.UUID:
        return uuid.UUID(int=rng.getrandbits(128))
    assert not isinstance(spec, int)
    if code == t.ENUM:
        members = list(spec[1])
        return rng.choice(members) if members and rng.random() < 0.9 else spec[1](77)
    if code == t.STRUCT:
        return random_struct(rng, spec[1], depth + 1)
    size = rng.choice([0, 1, 2, 3]) if depth < 3 else 0
    if code == t.LIST:
        return [random_value(rng, spec[1], depth + 1) for _ in range(size)]
    if code == t.SET:
        return {freeze(random_value(rng, spec[1], depth + 1)) for _ in range(size)}
    return {
        freeze(random_value(rng, spec[1], depth + 1)): random_value(rng, spec[2], depth + 1)
        for _ in range(size)
    }


def freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, dict):
        return pilota.runtime.FrozenDict(value)
    return value


def random_struct(rng: random.Random, cls: Any, depth: int) -> Any:
    spec = cls.__thrift_spec__
    values: dict[str, Any] = {}
    if issubclass(cls, Union):
        # deep down, a member that does not recurse (the first scalar), else any
        members = [f for f in spec if depth < 3 or isinstance(f.type, int)] or list(spec)
        chosen = rng.choice(members)
        values[chosen.name] = random_value(rng, chosen.type, depth)
        return cls(**values)
    for f in spec:
        recursive = not isinstance(f.type, int) and depth >= 3
        if f.required == t.REQUIRED or (not recursive and rng.random() < 0.7):
            values[f.name] = random_value(rng, f.type, depth if not recursive else 9)
    return cls(**values)


# ---- inputs ---------------------------------------------------------------------------


@dataclass
class Seed:
    reader: type  # the class to decode as
    protocol: str
    data: bytes


def seeds(modules: dict[str, Any], rng: random.Random, per_class: int = 3) -> list[Seed]:
    """Valid encodings of random values of every class, read as themselves; and
    of one version of a struct read as the other (fields that changed type)."""
    found: list[Seed] = []
    for module in modules.values():
        for cls in structs(module):
            for _ in range(per_class):
                try:
                    value = random_struct(rng, cls, 0)
                except (TypeError, ValueError):
                    continue  # e.g. a union with no members
                for protocol in PROTOCOLS:
                    found.append(Seed(cls, protocol, value.to_bytes(protocol)))
    evolution, keeping = modules["evolution"], modules["keeping.evolution"]
    pairs = [(evolution.Before, evolution.After), (evolution.After, evolution.Before),
             (evolution.V2, evolution.V1), (evolution.Before, keeping.After)]  # fmt: skip
    for writer, reader in pairs:
        for _ in range(per_class * 3):
            value = random_struct(rng, writer, 0)
            for protocol in PROTOCOLS:
                found.append(Seed(reader, protocol, value.to_bytes(protocol)))
    return found


_BOUNDARY_BYTES = [0x00, 0x01, 0x02, 0x0F, 0x10, 0x7F, 0x80, 0x81, 0xF0, 0xFF]


def mutate(rng: random.Random, data: bytes, others: list[Seed]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 3, 4])):
        kind = rng.choice(["flip", "set", "cut", "insert", "delete", "repeat", "splice"])
        at = rng.randint(0, len(out)) if out else 0
        if kind == "flip" and out:
            out[min(at, len(out) - 1)] ^= 1 << rng.randint(0, 7)
        elif kind == "set" and out:
            out[min(at, len(out) - 1)] = rng.choice(_BOUNDARY_BYTES)
        elif kind == "cut":
            del out[at:]
        elif kind == "insert":
            out[at:at] = rng.randbytes(rng.randint(1, 6))
        elif kind == "delete":
            del out[at : at + rng.randint(1, 4)]
        elif kind == "repeat" and out:
            start = rng.randint(0, len(out) - 1)
            chunk = out[start : start + rng.randint(1, 8)]
            out[at:at] = chunk * rng.randint(1, 20)
        elif kind == "splice":
            other = rng.choice(others).data
            start = rng.randint(0, len(other))
            out[at:] = other[start:]
    return bytes(out)


# ---- the inputs of issue 12 --------------------------------------------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def i32(n: int) -> bytes:
    return struct.pack(">i", n)


def empty_nodes(n: int, protocol: str, tail: bytes = b"\x00") -> bytes:
    """`Nodes.nodes`: a list<Node> of `n` empty structs, one byte each, then `tail`."""
    if protocol == "binary":
        return b"\x0f\x00\x01\x0c" + i32(n) + b"\x00" * n + tail
    return b"\x19\xfc" + varint(n) + b"\x00" * n + tail


def bools(n: int, tail: bytes = b"\x00") -> bytes:
    """Compact `Flags.flags`: a list<bool> of `n`."""
    return b"\x19\xf1" + varint(n) + b"\x01" * n + tail


def key_links(n: int) -> bytes:
    """Compact `KeyMap.links`: `n` entries Key() -> [] (two bytes each), all one key."""
    return b"\x1b" + varint(n) + b"\xc9" + b"\x00\x0c" * n + b"\x00"


def deep_changed(levels: int, bulk: int) -> bytes:
    """Binary `Deep`, `levels` deep through `below` (a list<list<Deep>>), each
    level's second inner list of i32 instead of Deep: every `below` field came
    as another type. At the bottom, an unknown list<i8> of `bulk` values."""
    body = b"\x0f\x00\x09\x03" + i32(bulk) + b"\x01" * bulk + b"\x00"
    for _ in range(levels):
        body = (
            b"\x0f\x00\x01\x0f" + i32(2) + b"\x0c" + i32(1) + body
            + b"\x08" + i32(1) + i32(7) + b"\x00"
        )  # fmt: skip
    return body


def known_inputs(modules: dict[str, Any]) -> list[Seed]:
    """Issue 12's inputs, small, as fuzzing seeds: each was slow, or needed the
    pure codec behind the compiled one."""
    limits = modules["limits"]
    return [
        Seed(limits.Nodes, "binary", empty_nodes(300, "binary")),
        Seed(limits.Nodes, "binary", empty_nodes(300, "binary", b"\xff")),
        Seed(limits.Nodes, "compact", empty_nodes(300, "compact", b"\xff")),
        Seed(limits.Flags, "compact", bools(300, b"\xff")),
        Seed(limits.KeyMap, "compact", key_links(300)),
        Seed(limits.Deep, "binary", deep_changed(5, 20)),
        Seed(limits.Key, "compact", bytes.fromhex("069a01ffffffffffffffffff7f00")),
    ]


# ---- running --------------------------------------------------------------------------


@dataclass
class Report:
    inputs: int = 0
    decoded: int = 0  # inputs some class decoded to a value
    crashes: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    disagreements: list[tuple[str, str, bytes, list[Any]]] = field(default_factory=list)
    fallback_uses: int = 0
    hangs: list[tuple[str, str, bytes, float]] = field(default_factory=list)
    slowest: float = 0.0

    def summary(self) -> str:
        return (
            f"inputs run: {self.inputs:,} (decoded to a value: {self.decoded:,}); "
            f"crashes: {len(self.crashes)}; disagreements: {len(self.disagreements)}; "
            f"hangs: {len(self.hangs)}; fallback uses: {self.fallback_uses}; "
            f"slowest input: {self.slowest * 1000:.1f} ms"
        )


class PureCalls:
    """Counts calls into the pure codec's entry points while installed."""

    NAMES = ("decode_binary", "decode_compact", "encode_binary", "encode_compact")

    def __init__(self) -> None:
        self.count = 0

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        originals = {name: getattr(_pure, name) for name in self.NAMES}

        def counting(original: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                self.count += 1
                return original(*args, **kwargs)

            return call

        for name, original in originals.items():
            setattr(_pure, name, counting(original))
        try:
            yield
        finally:
            for name, original in originals.items():
                setattr(_pure, name, original)


def _decode(codec: Any, cls: Any, data: bytes, protocol: str) -> Any:
    if protocol == "json":
        return cls.from_bytes(data, "json")  # one implementation serves both codecs
    return getattr(codec, f"decode_{protocol}")(cls, data)


def _encode(codec: Any, value: Any, protocol: str) -> bytes:
    if protocol == "json":
        return bytes(value.to_bytes("json"))
    return bytes(getattr(codec, f"encode_{protocol}")(value))


def _outcome(run: Callable[[], Any], expected: type[Exception]) -> tuple[str, Any]:
    try:
        return ("value", run())
    except expected as exc:
        return ("error", f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # anything else is a crash
        return ("crash", f"{type(exc).__name__}: {exc}")


def check_input(
    report: Report, modules: list[Any], pure_calls: PureCalls, cls: Any, protocol: str,
    data: bytes,
) -> None:  # fmt: skip
    """Decode (and re-encode) `data` with every codec; record what went wrong."""
    outcomes = []
    values = []
    for codec in modules:
        compiled_whole = codec is not _pure and codec.handles(cls)
        before = pure_calls.count
        kind, result = _outcome(lambda c=codec: _decode(c, cls, data, protocol), DecodeError)
        if compiled_whole and protocol != "json":
            report.fallback_uses += pure_calls.count - before
        if kind == "value":
            values.append(result)
            # repr, not the value: a mutated double may be NaN, and NaN != NaN
            outcomes.append((kind, repr(result)))
        else:
            outcomes.append((kind, result))
        if kind == "crash":
            report.crashes.append((cls.__qualname__, protocol, data, result))
    if any(o != outcomes[0] for o in outcomes):
        report.disagreements.append((cls.__qualname__, protocol, data, outcomes))
        return
    if not values:
        return
    report.decoded += 1
    for out_protocol in PROTOCOLS:
        encoded = []
        for codec, value in zip(modules, values, strict=True):
            compiled_whole = codec is not _pure and codec.handles(cls)
            before = pure_calls.count
            encoded.append(
                _outcome(lambda c=codec, v=value, p=out_protocol: _encode(c, v, p), EncodeError)
            )
            if compiled_whole and out_protocol != "json":
                report.fallback_uses += pure_calls.count - before
        if any(e != encoded[0] for e in encoded):
            report.disagreements.append((cls.__qualname__, f"re-encode {out_protocol}", data, encoded))
        for kind, result in encoded:
            if kind == "crash":
                report.crashes.append((cls.__qualname__, f"re-encode {out_protocol}", data, result))


def run(
    modules: dict[str, Any], iterations: int, seed: int, *, hang_seconds: float | None = None,
    progress: Callable[[Report], None] | None = None,
) -> Report:  # fmt: skip
    """Every seed as it is, then `iterations` mutated inputs (`seed` seeds the
    choices; the seeds' bytes also depend on the order of str sets, which
    varies between runs: a failure is reported with its input)."""
    rng = random.Random(seed)
    pool = seeds(modules, rng) + known_inputs(modules)
    codec_modules = codecs()
    pure_calls = PureCalls()
    report = Report()
    # Cross-reading: an input may also be read as another class of its module.
    by_module = {id(m): structs(m) for m in modules.values()}
    readers_of = {cls: by_module[id(sys.modules[cls.__module__])] for s in pool for cls in [s.reader]
                  if id(sys.modules[cls.__module__]) in by_module}  # fmt: skip
    with pure_calls.watching():
        for s in pool:  # every seed as it is, first
            _timed(report, codec_modules, pure_calls, s.reader, s.protocol, s.data, hang_seconds)
        for i in range(iterations):
            s = rng.choice(pool)
            if rng.random() < 0.05:
                data = rng.randbytes(rng.randint(0, 64))
            else:
                data = mutate(rng, s.data, pool)
            reader = s.reader
            if rng.random() < 0.1:
                reader = rng.choice(readers_of.get(reader, [reader]))
            _timed(report, codec_modules, pure_calls, reader, s.protocol, data, hang_seconds)
            if progress is not None and i % 10_000 == 0:
                progress(report)
    return report


def _timed(
    report: Report, modules: list[Any], pure_calls: PureCalls, cls: Any, protocol: str,
    data: bytes, hang_seconds: float | None,
) -> None:  # fmt: skip
    start = time.perf_counter()
    check_input(report, modules, pure_calls, cls, protocol, data)
    elapsed = time.perf_counter() - start
    report.inputs += 1
    report.slowest = max(report.slowest, elapsed)
    if hang_seconds is not None and elapsed > hang_seconds:
        report.hangs.append((cls.__qualname__, protocol, data, elapsed))
