"""The protobuf runtime: what generated modules import (as `_pb`).

Message classes, their field specs and codecs (`spec` documents the layout the
generator emits and the codecs read), oneof members, extensions and service
method descriptors and the bases of
generated handlers and clients (`service`). ProtoJSON is in `json_format`, with `TypeRegistry` (the
explicit registry that resolves `Any` types and extensions by name). The
well-known types (`google/protobuf/*.proto`) are generated into
`pilota.runtime.protobuf.wkt` and shipped here; their helpers are the bases in
`well_known`.
"""

from pilota.runtime.base import unknown_enum_member
from pilota.runtime.protobuf import well_known
from pilota.runtime.protobuf.message import (
    Extension,
    Message,
    OneofMember,
    oneof_conflict,
    unknown_fields,
)
from pilota.runtime.protobuf.registry import TypeRegistry
from pilota.runtime.protobuf.service import (
    Caller,
    Client,
    Handler,
    HttpRule,
    Method,
    Requests,
    StreamCall,
    UnaryCall,
    Unimplemented,
)
from pilota.runtime.protobuf.spec import (
    BOOL,
    BYTES,
    CLOSED_ENUM,
    DOUBLE,
    ENUM,
    FIXED32,
    FIXED64,
    FLOAT,
    GROUP,
    IMPLICIT,
    INT32,
    INT64,
    MAP,
    MESSAGE,
    OPTIONAL,
    PACKED,
    REPEATED,
    REQUIRED,
    SFIXED32,
    SFIXED64,
    SINT32,
    SINT64,
    STRING,
    UINT32,
    UINT64,
    VALIDATE_UTF8,
    FieldSpec,
)
from pilota.runtime.types import DecodeError, EncodeError

__all__ = [
    "BOOL", "BYTES", "CLOSED_ENUM", "DOUBLE", "ENUM", "FIXED32", "FIXED64", "FLOAT", "GROUP",
    "IMPLICIT", "INT32", "INT64", "MAP", "MESSAGE", "OPTIONAL", "PACKED", "REPEATED",
    "REQUIRED", "SFIXED32", "SFIXED64", "SINT32", "SINT64", "STRING", "UINT32", "UINT64",
    "VALIDATE_UTF8", "Caller", "Client", "DecodeError", "EncodeError", "Extension",
    "FieldSpec", "Handler", "HttpRule", "Message", "Method", "OneofMember", "Requests",
    "StreamCall", "TypeRegistry", "UnaryCall", "Unimplemented", "oneof_conflict",
    "unknown_enum_member", "unknown_fields", "well_known",
]  # fmt: skip
