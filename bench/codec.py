"""Encode and decode speed of a medium struct, beside the Python anchors.

Prints one table from one run: ns per encode, and per decode followed by
reading every field, for each codec on the same value:

- ours: the Cython codec (binary, compact) and the pure-Python one (binary);
- thriftpy2: its Cython binary protocol;
- Apache `thrift`: `fastbinary` binary and compact (accelerated protocols),
  and its pure-Python binary protocol;
- msgspec: msgpack on an equivalent `msgspec.Struct`, as the Python floor.

Each cell is the best of several interleaved series of timed loops (this
machine is shared and noisy); ratios compare against the best Thrift anchor.

A second table times issue 12's hostile inputs (tests/fuzz/limits.thrift),
large, in µs per MiB (decoding and freeing what was built), good and with a
bad tail, in both of our codecs, with the peak memory each builds per input
byte (tracemalloc, a separate run).

    python bench/codec.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import thriftpy2
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.TSerialization import deserialize, serialize
from thriftpy2.protocol import TCyBinaryProtocolFactory
from thriftpy2.utils import deserialize as tp_deserialize
from thriftpy2.utils import serialize as tp_serialize

import pilota
from pilota import DecodeError
from pilota.runtime import _pure

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for `tests`
from tests.fuzz.codec_fuzz import bools, deep_changed, empty_nodes, key_links, varint

IDL = """
struct Leaf {
    1: string label,
    2: i32 weight,
}

struct Medium {
    1: i8 a_byte,
    2: i16 a_i16,
    3: i32 a_i32,
    4: i64 a_i64,
    5: string name,
    6: double score,
    7: bool active,
    8: list<i32> values,
    9: map<string, i64> counts,
    10: Leaf leaf,
}
"""

FIELDS = (
    "a_byte", "a_i16", "a_i32", "a_i64", "name", "score", "active", "values", "counts", "leaf",
)  # fmt: skip
VALUES: dict[str, Any] = {
    "a_byte": -7,
    "a_i16": 1234,
    "a_i32": 123_456_789,
    "a_i64": 1_234_567_890_123,
    "name": "a medium-sized struct, for benchmarks",
    "score": 3.14159,
    "active": True,
    "values": list(range(-10, 10)),
    "counts": {f"key{i}": i * 1_000_003 for i in range(5)},
}
LEAF = {"label": "nested", "weight": 42}


class MsgLeaf(msgspec.Struct):
    label: str
    weight: int


class MsgMedium(msgspec.Struct):
    a_byte: int
    a_i16: int
    a_i32: int
    a_i64: int
    name: str
    score: float
    active: bool
    values: list[int]
    counts: dict[str, int]
    leaf: MsgLeaf


def read_all(obj: Any) -> int:
    """Touch every field (and the nested struct's), as a caller would."""
    n = 0
    for name in FIELDS:
        if getattr(obj, name) is not None:
            n += 1
    leaf = obj.leaf
    return n + (leaf.label is not None) + (leaf.weight is not None)


def ns_per_call(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e9


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--quick", action="store_true", help="fewer loops (for a smoke run)")
    quick = args.parse_args().quick
    work = Path(tempfile.mkdtemp(prefix="pilota-codec-bench-"))
    idl = work / "medium.thrift"
    idl.write_text(IDL)

    pilota.generate([idl], work / "ours_bench")
    compiler = shutil.which("thrift")
    if compiler is None:
        print("Apache's thrift compiler is needed (Debian: thrift-compiler)", file=sys.stderr)
        return 1
    (work / "apache").mkdir()
    subprocess.run([compiler, "--gen", "py", "-out", str(work / "apache"), str(idl)], check=True)
    sys.path[:0] = [str(work), str(work / "apache")]
    ours = importlib.import_module("ours_bench.medium")
    apache = importlib.import_module("medium.ttypes")
    with contextlib.redirect_stderr(io.StringIO()):
        tp = thriftpy2.load(str(idl), module_name="medium_bench_thrift")

    our_value = ours.Medium(**VALUES, leaf=ours.Leaf(**LEAF))
    apache_value = apache.Medium(**VALUES, leaf=apache.Leaf(**LEAF))
    tp_value = tp.Medium(**VALUES, leaf=tp.Leaf(**LEAF))
    msg_value = MsgMedium(**VALUES, leaf=MsgLeaf(**LEAF))

    apache_bin = TBinaryProtocol.TBinaryProtocolAcceleratedFactory()
    apache_compact = TCompactProtocol.TCompactProtocolAcceleratedFactory()
    apache_pure = TBinaryProtocol.TBinaryProtocolFactory()
    tp_factory = TCyBinaryProtocolFactory()
    msg_encoder, msg_decoder = msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(MsgMedium)

    def case(encode: Callable[[], bytes], decode: Callable[[bytes], Any]) -> tuple[Any, Any]:
        data = encode()
        return encode, lambda: read_all(decode(data))

    cases: dict[str, tuple[Any, Any]] = {
        "pilota Cython binary": case(
            lambda: our_value.to_bytes(), lambda d: ours.Medium.from_bytes(d)
        ),
        "pilota Cython compact": case(
            lambda: our_value.to_bytes("compact"), lambda d: ours.Medium.from_bytes(d, "compact")
        ),
        "pilota pure-Python binary": case(
            lambda: _pure.encode_binary(our_value), lambda d: _pure.decode_binary(ours.Medium, d)
        ),
        "thriftpy2 Cython binary": case(
            lambda: tp_serialize(tp_value, tp_factory),
            lambda d: tp_deserialize(tp.Medium(), d, tp_factory),
        ),
        "Apache fastbinary binary": case(
            lambda: serialize(apache_value, apache_bin),
            lambda d: deserialize(apache.Medium(), d, apache_bin),
        ),
        "Apache fastbinary compact": case(
            lambda: serialize(apache_value, apache_compact),
            lambda d: deserialize(apache.Medium(), d, apache_compact),
        ),
        "Apache pure-Python binary": case(
            lambda: serialize(apache_value, apache_pure),
            lambda d: deserialize(apache.Medium(), d, apache_pure),
        ),
        "msgspec msgpack (floor)": case(
            lambda: msg_encoder.encode(msg_value), lambda d: msg_decoder.decode(d)
        ),
    }
    # Same bytes as Apache, or the comparison means nothing.
    assert our_value.to_bytes() == serialize(apache_value, apache_bin)
    assert our_value.to_bytes("compact") == serialize(apache_value, apache_compact)

    series = 2 if quick else 5
    best: dict[str, list[float]] = {name: [float("inf"), float("inf")] for name in cases}
    for _ in range(series):
        for name, (encode, decode) in cases.items():
            slow = "pure" in name
            number = (200 if slow else 2000) if quick else (2000 if slow else 30000)
            best[name][0] = min(best[name][0], ns_per_call(encode, number))
            best[name][1] = min(best[name][1], ns_per_call(decode, number))

    size_binary = len(our_value.to_bytes())
    size_compact = len(our_value.to_bytes("compact"))
    print(
        f"Medium struct ({size_binary} bytes binary, {size_compact} compact): "
        "ns per call, best of interleaved series; decode includes reading every field\n"
    )
    anchors = ("thriftpy2 Cython binary", "Apache fastbinary binary", "Apache fastbinary compact")
    best_encode = min(best[a][0] for a in anchors)
    best_decode = min(best[a][1] for a in anchors)
    print("| codec | encode ns | decode+read ns | encode vs best anchor | decode vs best anchor |")
    print("|---|---:|---:|---:|---:|")
    for name, (enc, dec) in best.items():
        print(
            f"| {name} | {enc:,.0f} | {dec:,.0f} | "
            f"{best_encode / enc:.2f}x | {best_decode / dec:.2f}x |"
        )
    print(
        f"\nbest Thrift anchor: encode {best_encode:,.0f} ns, decode {best_decode:,.0f} ns "
        "(ratios above 1 are faster than it)"
    )
    limits_table(work, quick)
    return 0


def limits_table(work: Path, quick: bool) -> None:
    pilota.generate([Path(__file__).resolve().parent.parent / "tests/fuzz/limits.thrift"],
                    work / "limits_bench")  # fmt: skip
    limits = importlib.import_module("limits_bench.limits")
    from pilota.runtime import _speedups  # type: ignore[attr-defined]

    mib = 1 << 20
    big, small = (mib, mib // 4) if quick else (4 * mib, mib)

    def nodes(size: int, tail: bytes = b"\x00") -> bytes:
        return empty_nodes(size, "binary", tail)

    def empty_defaults(size: int) -> bytes:  # list<Defaults> of empty structs, one byte each
        return b"\x19\xfc" + varint(size) + b"\x00" * size + b"\x00"

    rows: list[tuple[str, Any, str, Callable[[int], bytes], float]] = [
        ("binary list<Node>, empty structs", limits.Nodes, "binary", nodes, 1.0),
        ("  the same, bad tail", limits.Nodes, "binary", lambda n: nodes(n, b"\xff"), 1.0),
        ("  the same, objects_per_byte=0.25", limits.Nodes, "binary", nodes, 0.25),
        ("compact map<Key, list<Key>>", limits.KeyMap, "compact",
         lambda n: key_links(n // 2), 1.0),
        ("  the same, bad tail", limits.KeyMap, "compact",
         lambda n: key_links(n // 2)[:-1] + b"\xff", 1.0),
        ("compact list<bool>", limits.Flags, "compact", bools, 1.0),
        ("  the same, bad tail", limits.Flags, "compact", lambda n: bools(n, b"\xff"), 1.0),
        ("binary type changed 20 levels deep", limits.Deep, "binary",
         lambda n: deep_changed(20, n), 1.0),
        ("compact list<Defaults>, empty structs", limits.ManyDefaults, "compact",
         empty_defaults, 1.0),
    ]  # fmt: skip
    print(
        "\nIssue 12's inputs: µs per MiB of input to decode and free (best of 3; "
        f"Cython at {big // mib} MiB, pure-Python at {small / mib:g} MiB), and what decoding "
        "builds: peak bytes of memory per input byte (tracemalloc, Cython)\n"
    )
    print("| input | outcome | Cython µs/MiB | pure-Python µs/MiB | peak memory per byte |")
    print("|---|---|---:|---:|---:|")
    for name, cls, protocol, make, ratio in rows:
        cells = []
        outcome = ""
        for module, size in ((_speedups, big), (_pure, small)):
            data = make(size)
            decode = getattr(module, f"decode_{protocol}")
            best = float("inf")
            for _ in range(3):
                # decoding and freeing what was built: a failed decode frees it as it fails
                start = time.perf_counter()
                try:
                    decode(cls, data, 64, ratio)
                    outcome = "decodes"
                except DecodeError as exc:
                    outcome = "fails: " + str(exc).split(": ", 1)[1][:40]
                best = min(best, time.perf_counter() - start)
            cells.append(best / len(data) * mib * 1e6)
        data = make(big)
        tracemalloc.start()
        try:
            with contextlib.suppress(DecodeError):
                value = getattr(_speedups, f"decode_{protocol}")(cls, data, 64, ratio)
                del value
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        print(f"| {name} | {outcome} | {cells[0]:,.0f} | {cells[1]:,.0f} | "
              f"{peak / len(data):.1f} |")  # fmt: skip



if __name__ == "__main__":
    raise SystemExit(main())
