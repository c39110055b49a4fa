"""What the codecs know about a generated class: type codes and field specs.

The generator writes, for every struct, a `__thrift_spec__`: one `FieldSpec`
per field in ascending id order (the order Apache writes fields in). Types are
described protocol-neutrally:

- a scalar is an `int` code (`BOOL` ... `UUID`);
- a container is a tuple: `(LIST, element)`, `(SET, element)`, `(MAP, key, value)`;
- a struct, union or exception is `(STRUCT, cls)`; an enum is `(ENUM, enum_cls)`.

Each protocol maps these codes to its own wire types.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias

# Type codes. Scalars first: their codes are below STRUCT.
BOOL = 1
BYTE = 2
I16 = 3
I32 = 4
I64 = 5
DOUBLE = 6
STRING = 7  # text: str on the Python side, UTF-8 on the wire
BINARY = 8  # bytes
UUID = 9
STRUCT = 10
LIST = 11
SET = 12
MAP = 13
ENUM = 14  # an i32 on the wire, an IntEnum member in Python

TypeSpec: TypeAlias = int | tuple[Any, ...]

# Requiredness codes.
REQUIRED = 0
OPTIONAL = 1
DEFAULT = 2

INT_RANGES = {
    BYTE: (-(2**7), 2**7 - 1),
    I16: (-(2**15), 2**15 - 1),
    I32: (-(2**31), 2**31 - 1),
    I64: (-(2**63), 2**63 - 1),
    ENUM: (-(2**31), 2**31 - 1),
}

TYPE_NAMES = {
    BOOL: "bool",
    BYTE: "i8",
    I16: "i16",
    I32: "i32",
    I64: "i64",
    DOUBLE: "double",
    STRING: "string",
    BINARY: "binary",
    UUID: "uuid",
    STRUCT: "struct",
    LIST: "list",
    SET: "set",
    MAP: "map",
    ENUM: "enum",
}


class FieldSpec(NamedTuple):
    id: int
    name: str  # the Python attribute (slot); may differ from the IDL name
    type: TypeSpec
    required: int  # REQUIRED, OPTIONAL or DEFAULT
    default: Any = None  # assigned when the field is absent on decode
    default_factory: Callable[[], Any] | None = None  # for mutable defaults
    idl_name: str = ""  # the name on the wire for text protocols; "" means `name`


def never_none(f: FieldSpec) -> bool:
    """Whether `f` must hold a value when encoded although it is not required:
    a default-requiredness field with a default is typed without `None` (an
    absent one decodes to the default), so `None` there is a type error, not
    "absent" as it is for fields without a default."""
    return f.required == DEFAULT and (f.default is not None or f.default_factory is not None)


class Protocol(enum.StrEnum):
    BINARY = "binary"
    COMPACT = "compact"
    JSON = "json"  # Apache's TJSONProtocol (pilota.runtime.json_protocol)


class DecodeError(ValueError):
    """Bytes that are not a valid encoding of the type asked for.

    `path` locates the problem, e.g. `Everything.by_id[3].extra`.
    """

    def __init__(self, message: str, path: str = "") -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)

    def within(self, prefix: str) -> DecodeError:
        """The same error, located inside `prefix` (a struct name, `.field` or `[i]`)."""
        return type(self)(self.message, prefix + self.path)


class EncodeError(ValueError):
    """A value that cannot be encoded: wrong type, out of range, required but unset."""

    def __init__(self, message: str, path: str = "") -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)

    def within(self, prefix: str) -> EncodeError:
        return type(self)(self.message, prefix + self.path)


def with_article(name: str) -> str:
    """`an i32`, `a string`, `a uuid`: for messages."""
    return f"{'an' if name[:1].lower() in ('a', 'e', 'i', 'o') else 'a'} {name}"


def type_name(t: TypeSpec) -> str:
    """A type as IDL spells it, for messages."""
    if isinstance(t, int):
        return TYPE_NAMES[t]
    code = t[0]
    if code in (LIST, SET):
        return f"{TYPE_NAMES[code]}<{type_name(t[1])}>"
    if code == MAP:
        return f"map<{type_name(t[1])}, {type_name(t[2])}>"
    return str(t[1].__name__)
