"""Regenerates the protobuf modules volo.grpc ships (`volo/grpc/pb`): the
health and reflection services and google.rpc.Status, from the .proto files in
`volo/grpc/proto`. The runtime never runs the compiler; this script does, and
tests/test_grpc_batteries.py checks that what is shipped is what it makes.

    python scripts/grpc_protos.py
"""

from __future__ import annotations

from pathlib import Path

import pilota
from pilota.codegen.protobuf import generate_protobuf
from pilota.codegen.python import GeneratedFile

REPO = Path(__file__).resolve().parent.parent
SOURCES = REPO / "volo" / "grpc" / "proto"
TARGET = REPO / "volo" / "grpc" / "pb"
FILES = (
    "google/rpc/status.proto",
    "grpc/health/v1/health.proto",
    "grpc/reflection/v1/reflection.proto",
    "grpc/reflection/v1alpha/reflection.proto",
)


def generated() -> list[GeneratedFile]:
    schema = pilota.load([SOURCES / name for name in FILES], [SOURCES])
    return generate_protobuf(schema)


def main() -> None:
    from pilota.codegen.writer import write_tree

    for path in write_tree(generated(), TARGET):
        print(path)


if __name__ == "__main__":
    main()
