"""Parse + resolve speed, beside thriftpy2.load and, for protobuf, beside
proto-schema-parser and protoc on the same content.

Prints the tables of one run: the warm, in-process median time per call
over repeated runs (the tools interleaved, so machine noise hits all alike).

    python bench/parse.py [--rounds N] [--inputs]

Inputs from ../shared are skipped, each with a line saying so, when it is
missing; `--inputs` lists what would be timed and times nothing.

Inputs: Apache's ThriftTest.thrift (0.17) from ../shared, and generated IDL
of 500 and 5,000 lines. thriftpy2 cannot read ThriftTest's
`namespace xsd ... (uri = ...)` line, so that line is stripped for it alone.

Protobuf inputs: test_messages_proto3.proto and descriptor.proto from
../shared, and a generated .proto of 5,000 lines. pilota parses, resolves
and checks the file (types and options, against descriptor.proto) with its
imports, which it parses once per process, as a long-lived process would;
proto-schema-parser only parses the one file (it resolves nothing); protoc
(grpcio-tools, in-process) parses, resolves and writes a descriptor set.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import thriftpy2

import pilota
from pilota.thrift import parser as thrift_parser_module

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
THRIFT_TEST = SHARED / "corpus" / "thrift" / "apache-0.17" / "ThriftTest.thrift"


def generated_idl(lines: int) -> str:
    """Realistic IDL of about `lines` lines: docs, enums, nested containers,
    defaults, const references, exceptions and services; all of it readable
    by thriftpy2 too."""
    out: list[str] = ["namespace py bench", ""]
    for i in itertools.count():
        if len(out) >= lines:
            break
        parent = f"    6: optional Record{i - 1} parent,\n" if i else ""
        out += f"""/**
 * Status of a record, block {i}.
 */
enum Status{i} {{
    ACTIVE{i} = 1,
    SUSPENDED{i},
    DELETED{i} = 10,
}}

const i32 LIMIT{i} = {100 + i}
const list<string> NAMES{i} = ["alpha", "beta", 'gamma']
const map<string, i64> WEIGHTS{i} = {{"a": 1, "b": 0x20, "c": -3}}

/** A record with most kinds of field. */
struct Record{i} {{
    1: required i64 id,
    2: optional string name = "unnamed",
    3: list<map<string, i32>> items,
    4: Status{i} status = Status{i}.ACTIVE{i},
    5: set<string> tags,
{parent}    7: double score = 1.5e3,
    8: binary blob,
    9: i32 limit = LIMIT{i},
}}

exception Failure{i} {{
    1: string message,
    2: i32 code,
}}

service Store{i} {{
    /** Fetch one record. */
    Record{i} get(1: i64 id) throws (1: Failure{i} failure),
    void put(1: Record{i} record, 2: bool overwrite),
    oneway void touch(1: i64 id),
}}
""".splitlines()
    return "\n".join(out) + "\n"


def generated_proto(lines: int) -> str:
    """A proto3 file of about `lines` lines: docs, enums, nested messages, maps,
    oneofs, options, services."""
    out = ['syntax = "proto3";', "package bench.v1;", 'option java_package = "bench";', ""]
    for i in itertools.count():
        if len(out) >= lines:
            break
        parent = f"  Record{i - 1} parent = 9;\n" if i else ""
        out += f"""// Status of a record, block {i}.
enum Status{i} {{
  STATUS{i}_UNSPECIFIED = 0;
  STATUS{i}_ACTIVE = 1;
  STATUS{i}_DELETED = 10 [deprecated = true];
}}

/* A record with most kinds of field. */
message Record{i} {{
  message Item {{
    string key = 1;
    repeated int32 values = 2 [packed = true];
  }}
  int64 id = 1;
  optional string name = 2;
  repeated Item items = 3;
  Status{i} status = 4;
  map<string, int64> weights = 5;
  oneof payload {{
    string text = 6;
    bytes blob = 7;
  }}
  double score = 8 [json_name = "score_value"];
{parent}}}

service Store{i} {{
  // Fetch one record.
  rpc Get(Record{i}) returns (Record{i});
  rpc Watch(Record{i}) returns (stream Record{i}) {{
    option deprecated = true;
  }}
}}
""".splitlines()
    return "\n".join(out) + "\n"


def proto_inputs(work: Path) -> list[tuple[str, Path, str]]:
    """(label, include root, file) of each protobuf input; those from ../shared
    only when it is there (`skipped` says so otherwise)."""
    root = SHARED / "corpus" / "proto"
    inputs = [
        (label, root, name)
        for label, name in [
            ("test_messages_proto3.proto", "google/protobuf/test_messages_proto3.proto"),
            ("descriptor.proto", "google/protobuf/descriptor.proto"),
        ]
        if present(root / name, label)
    ]
    generated = work / "generated_5000.proto"
    generated.write_text(generated_proto(5000))
    return [*inputs, ("generated, 5,000 lines", work, generated.name)]


def present(path: Path, label: str) -> bool:
    """Whether an input from ../shared is there; says it is skipped when not."""
    if path.exists():
        return True
    print(f"skipped {label}: {path} is missing (the shared corpus sits beside the project)")
    return False


def proto_table(rounds_override: int) -> None:
    from grpc_tools import protoc
    from proto_schema_parser.parser import Parser

    work = Path(tempfile.mkdtemp(prefix="pilota-bench-proto-"))
    inputs = proto_inputs(work)
    out = work / "out.pb"
    peer = Parser()

    def ours(include: Path, name: str) -> Callable[[], object]:
        def run() -> object:
            schema, diagnostics = pilota.check([include / name], [include])
            assert schema is not None, diagnostics.render()
            return schema

        return run

    def theirs(include: Path, name: str) -> Callable[[], object]:
        text = (include / name).read_text()

        def run() -> object:
            # Its ANTLR parser prints syntax errors on descriptor.proto (a comment
            # inside an option list) and goes on; kept out of the table.
            with contextlib.redirect_stderr(io.StringIO()):
                return peer.parse(text)

        return run

    def protoc_run(include: Path, name: str) -> Callable[[], object]:
        args = ["protoc", f"-I{include}", f"--descriptor_set_out={out}", name]

        def run() -> object:
            assert protoc.main(args) == 0
            return None

        return run

    rows = []
    for label, include, name in inputs:
        lines = (include / name).read_text().count("\n")
        rounds = rounds_override or (30 if lines < 2000 else 10)
        makers = (ours, theirs, protoc_run)
        for make in makers:
            make(include, name)()  # warm up
        times: list[list[float]] = [[], [], []]
        for _ in range(3):
            for k, make in enumerate(makers):
                times[k].append(median_ms(make(include, name), rounds))
        rows.append((label, lines, *(min(t) for t in times)))
    print("\nProtobuf parse + resolve, warm, median ms per call (best of 3 interleaved series)\n")
    header = ["input", "lines", "pilota", "proto-schema-parser (parse only)", "protoc"]
    print(table_row([*header, "proto-schema-parser / pilota", "pilota / protoc"]))
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, lines, mine, peer_ms, protoc_ms in rows:
        cells = [label, str(lines), f"{mine:.2f}", f"{peer_ms:.2f}", f"{protoc_ms:.2f}"]
        print(table_row([*cells, f"{peer_ms / mine:.2f}x", f"{mine / protoc_ms:.1f}x"]))


def table_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def thrift_inputs(work: Path) -> list[tuple[str, Path, Path]]:
    """(label, file for pilota, file for thriftpy2) of each Thrift input."""
    inputs: list[tuple[str, Path, Path]] = []
    if present(THRIFT_TEST, "ThriftTest.thrift (0.17)"):
        text = THRIFT_TEST.read_text()
        stripped = work / "ThriftTest_thriftpy2.thrift"
        kept = [line for line in text.splitlines() if not line.startswith("namespace xsd")]
        stripped.write_text("\n".join(kept))
        inputs.append(("ThriftTest.thrift (0.17)", THRIFT_TEST, stripped))
    for lines in (500, 5000):
        path = work / f"generated_{lines}.thrift"
        path.write_text(generated_idl(lines))
        inputs.append((f"generated, {lines} lines", path, path))
    return inputs


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--rounds", type=int, default=0, help="runs per cell (default: by size)")
    args.add_argument(
        "--inputs", action="store_true", help="list the inputs (and what is skipped), time nothing"
    )
    options = args.parse_args()
    rounds_override = options.rounds

    work = Path(tempfile.mkdtemp(prefix="pilota-bench-"))
    inputs = thrift_inputs(work)
    if options.inputs:
        labels = [label for label, _, _ in inputs]
        labels += [label for label, _, _ in proto_inputs(work)]
        print("\n".join(f"input {label}" for label in labels))
        return 0
    counter = itertools.count()
    pure = thrift_parser_module.ThriftParser(use_cython=False)
    fast = thrift_parser_module.thrift_parser()

    def ours(path: Path, parser: thrift_parser_module.ThriftParser) -> Callable[[], object]:
        def run() -> object:
            thrift_parser_module.thrift_parser = lambda: parser  # type: ignore[assignment]
            schema, diagnostics = pilota.check([path])
            assert schema is not None, diagnostics.render()
            return schema

        return run

    def theirs(path: Path) -> Callable[[], object]:
        def run() -> object:
            with contextlib.redirect_stderr(io.StringIO()):
                return thriftpy2.load(str(path), module_name=f"bench{next(counter)}_thrift")

        return run

    rows = []
    for label, path, peer_path in inputs:
        lines = path.read_text().count("\n")
        rounds = rounds_override or (60 if lines < 1000 else 15)
        for fn in (ours(path, fast), ours(path, pure), theirs(peer_path)):
            fn()  # warm up: grammar built, caches filled
        times: dict[str, list[float]] = {"fast": [], "pure": [], "thriftpy2": []}
        for _ in range(3):  # interleave, so noise hits all three alike
            times["fast"].append(median_ms(ours(path, fast), rounds))
            times["pure"].append(median_ms(ours(path, pure), rounds))
            times["thriftpy2"].append(median_ms(theirs(peer_path), rounds))
        rows.append((label, lines, *(min(times[k]) for k in ("fast", "pure", "thriftpy2"))))

    backend = fast.backend
    title = "Parse + resolve, warm, median ms per call (best of 3 interleaved series)"
    print(f"{title}; pilota on {backend}\n")
    header = ["input", "lines", f"pilota ({backend})", "pilota (pure lark)", "thriftpy2.load"]
    print(table_row([*header, "thriftpy2 / pilota"]))
    print("|---|---:|---:|---:|---:|---:|")
    for label, lines, fast_ms, pure_ms, peer_ms in rows:
        cells = [label, str(lines), f"{fast_ms:.2f}", f"{pure_ms:.2f}", f"{peer_ms:.2f}"]
        print(table_row([*cells, f"{peer_ms / fast_ms:.2f}x"]))
    small, large = rows[-2], rows[-1]  # the generated 500 and 5,000 lines
    print(
        f"\ngrowth 500 -> 5,000 lines: pilota {large[2] / small[2]:.1f}x, "
        f"thriftpy2 {large[4] / small[4]:.1f}x "
        f"(input grew {large[1] / small[1]:.1f}x; target: pilota <= 12x)"
    )
    proto_table(rounds_override)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
