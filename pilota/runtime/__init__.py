"""What generated code imports: base classes, type codes, errors and codecs."""

from pilota.runtime import service
from pilota.runtime.base import Struct, ThriftException, Union, check_union, unknown_enum_member
from pilota.runtime.frozen import FrozenDict, frozen_dict
from pilota.runtime.types import (
    BINARY,
    BOOL,
    BYTE,
    DEFAULT,
    DOUBLE,
    ENUM,
    I16,
    I32,
    I64,
    LIST,
    MAP,
    OPTIONAL,
    REQUIRED,
    SET,
    STRING,
    STRUCT,
    UUID,
    DecodeError,
    EncodeError,
    FieldSpec,
    Protocol,
)

__all__ = [
    "BINARY", "BOOL", "BYTE", "DEFAULT", "DOUBLE", "ENUM", "I16", "I32", "I64", "LIST",
    "MAP", "OPTIONAL", "REQUIRED", "SET", "STRING", "STRUCT", "UUID",
    "DecodeError", "EncodeError", "FieldSpec", "FrozenDict", "Protocol",
    "Struct", "ThriftException", "Union", "check_union", "frozen_dict", "service",
    "unknown_enum_member",
]  # fmt: skip
