#!/usr/bin/env python3
"""A conformance testee for Google's protobuf conformance suite, on our generated classes.

Run it through the kit (see ../shared/tools/protobuf-conformance/README.md):

    PB_CONFORMANCE_FLAGS="--maximum_edition 2023" \\
        ../shared/tools/protobuf-conformance/run.sh .venv/bin/python tests/conformance/testee.py

On start it generates Python from the kit's `include/` protos (conformance.proto
and the test messages) with pilota into a temporary folder and imports it; the
well-known types come from the runtime. Then it answers requests on stdin:
a 4-byte little-endian length and a serialized ConformanceRequest, answered
the same way with a ConformanceResponse. Binary and JSON payloads are read
and written with our classes (JSON through a `TypeRegistry` of the test
messages, which `Any` fields name; JSON_IGNORE_UNKNOWN_PARSING_TEST reads with
`ignore_unknown`); text format and JSPB answer `skipped`.
`PILOTA_PURE_PYTHON=1` runs the pure-Python codec.
"""

from __future__ import annotations

import importlib
import os
import struct
import sys
import tempfile
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

PROTOS = (
    "conformance/conformance.proto",
    "google/protobuf/test_messages_proto2.proto",
    "google/protobuf/test_messages_proto3.proto",
    "google/protobuf/test_messages_proto2_editions.proto",
    "google/protobuf/test_messages_proto3_editions.proto",
    "google/protobuf/test_messages_edition2023.proto",
)
PACKAGE = "pilota_conformance_gen"
PROTOBUF, JSON = 1, 2
JSON_IGNORE_UNKNOWN_PARSING_TEST = 3


def include_dir() -> Path:
    home = os.environ.get("PB_CONFORMANCE_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "protobuf-conformance"
    )
    return Path(os.environ.get("PB_CONFORMANCE_INCLUDE") or os.path.join(home, "include"))


def generate(out: Path) -> None:
    import pilota
    from pilota.codegen.protobuf import generate_protobuf
    from pilota.codegen.writer import write_tree

    include = include_dir()
    schema = pilota.load([include / name for name in PROTOS], [include])
    write_tree(generate_protobuf(schema), out / PACKAGE)


def message_classes(root: Path) -> tuple[ModuleType, Any]:
    """The conformance module, and a TypeRegistry of the test messages (and extensions)."""
    from pilota.runtime.protobuf import TypeRegistry

    sys.path.insert(0, str(root))
    conformance = importlib.import_module(f"{PACKAGE}.conformance.conformance")
    return conformance, TypeRegistry.from_package(f"{PACKAGE}.protobuf_test_messages")


def answer(conformance: ModuleType, registry: Any, request: Any) -> Any:
    import pilota

    response = conformance.ConformanceResponse
    if request.message_type == "conformance.FailureSet":
        return response(protobuf_payload=b"")
    cls = registry.message(request.message_type)
    if cls is None:
        return response(skipped=f"unknown message type {request.message_type}")
    payload = request.payload
    output = request.requested_output_format
    if payload is None or payload[0] not in ("protobuf_payload", "json_payload"):
        return response(skipped="only binary and JSON input are supported")
    if output not in (PROTOBUF, JSON):
        return response(skipped="only binary and JSON output are supported")
    try:
        if payload[0] == "protobuf_payload":
            message = cls.from_bytes(payload[1])
        else:
            ignore = request.test_category == JSON_IGNORE_UNKNOWN_PARSING_TEST
            message = cls.from_json(payload[1], registry=registry, ignore_unknown=ignore)
    except pilota.DecodeError as e:
        return response(parse_error=str(e))
    try:
        if output == PROTOBUF:
            return response(protobuf_payload=message.to_bytes())
        return response(json_payload=message.to_json(registry=registry))
    except pilota.EncodeError as e:
        return response(serialize_error=str(e))


def serve(conformance: ModuleType, registry: Any) -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(4)
        if len(head) < 4:
            return
        (size,) = struct.unpack("<I", head)
        data = stdin.read(size)
        try:
            request = conformance.ConformanceRequest.from_bytes(data)
            response = answer(conformance, registry, request)
        except Exception:
            response = conformance.ConformanceResponse(runtime_error=traceback.format_exc())
        out = response.to_bytes()
        stdout.write(struct.pack("<I", len(out)) + out)
        stdout.flush()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pilota-conformance-") as root:
        generate(Path(root))
        conformance, registry = message_classes(Path(root))
        serve(conformance, registry)


if __name__ == "__main__":
    main()
