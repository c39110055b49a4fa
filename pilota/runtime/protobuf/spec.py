"""What the protobuf codecs know about a generated message class: its field specs.

This is the contract between the generator and every codec (the pure-Python
one in `_pure`, a compiled one, ProtoJSON). Each generated message class
carries these class attributes:

- `__pb_name__: str`: the full proto name, `pkg.Outer.Inner`.
- `__pb_fields__: tuple[FieldSpec, ...]`: one spec per field (oneof members
  included, extensions not), in ascending field number: the order fields are
  written in.
- `__pb_oneofs__: tuple[str, ...]`: the slot of each real oneof (proto3
  `optional` fields are plain OPTIONAL fields, not oneofs).
- `__pb_message_set__: bool`: `message_set_wire_format` (extensions travel
  as MessageSet items).

The module that defines a class holds its .proto file's serialized
FileDescriptorProto as `FILE_DESCRIPTOR` (bytes, equal to protoc's).

Instance layout. Message classes are plain `__slots__` classes without
attribute hooks. `__slots__` of a generated class is exactly: one slot per
field that is not in a oneof, named `FieldSpec.name`, and one slot per oneof,
named as in `__pb_oneofs__`. `Message` (the base) adds two slots, `_unknown`
and `_extensions`, that may be unset. What each slot holds:

- IMPLICIT: a value of the field's type; `FieldSpec.default` (its zero) when
  unset. Written only when it is not the zero (a float: not +0.0).
- OPTIONAL: None when unset, else a value (explicit presence).
- REQUIRED: as OPTIONAL; None is refused on encode and after decode.
- REPEATED, PACKED: a list (PACKED is written packed; both forms are read).
- MAP: a dict.
- a oneof's slot: None, or a 2-tuple `(member's FieldSpec.name, value)`.
- `_unknown`: unset, or `bytes`: the fields the class does not know, as they
  came on the wire (a closed enum's unknown number re-encoded as a varint
  field); written back after the known fields.
- `_extensions`: unset, or a dict {field number: (Extension, value)}: the
  extensions that were set or read (see `Extension`); those not read yet
  stay in `_unknown`.

Python values by kind: DOUBLE and FLOAT `float`; the integer kinds `int`;
BOOL `bool`; STRING `str` (with UTF8 validation, strict UTF-8; without it,
bytes that are not UTF-8 decode with `surrogateescape` so they are written
back unchanged); BYTES `bytes`; ENUM a member of `FieldSpec.type`, an
`IntEnum` (an open enum's unknown number is a pseudo-member made by the
enum's `_missing_`; a closed enum's goes to `_unknown`); MESSAGE and GROUP an
instance of `FieldSpec.type`.

A decoder may create instances without calling `__init__` (`cls.__new__`,
or the type's allocator) and fill every slot itself: IMPLICIT with
`FieldSpec.default`, OPTIONAL and REQUIRED with None, REPEATED and PACKED
with a new list, MAP with a new dict, each oneof slot with None; `_unknown`
and `_extensions` may stay unset. Every slot is a plain member descriptor
(`cls.__dict__[name]`), so a compiled codec reads and writes them at their
offsets; a oneof member is a class-level `OneofMember` descriptor over its
oneof's slot (users' reads and writes only; codecs store the 2-tuple, whose
first item is the member's `FieldSpec.name` string, straight into the slot).
On the wire a oneof member that arrives replaces whatever the slot holds,
except that the same message member arriving again merges.

Extensions: an `Extension` object has `extendee` (the class), `full_name` and
`spec`, a FieldSpec whose number is the extension's and whose label is
OPTIONAL, REPEATED or PACKED. Codecs write `_extensions` after the known
fields, in number order (a MessageSet's message extensions as items: group 1
holding type_id 2 and message 3), then `_unknown`; they never decode into
`_extensions`: `Extension.get` takes an extension out of `_unknown` when it
is first read (`_pure.take_extension`), so no registry is needed.

Codecs: a codec is a module with `encode(msg, deterministic) -> bytes`,
`decode(cls, data, max_depth) -> msg` and `merge(msg, data, max_depth)`
(`_pure` is the reference; `codec` picks one). `deterministic` orders map
entries as Google's Python protobuf does, so the bytes are identical to its
deterministic output (`_pure._deterministic_order`). Errors are
`pilota.DecodeError` / `pilota.EncodeError` with the path of the field, like
`Outer.items[2].name` or `Outer.by_key['k'].value`. Nesting deeper than
`max_depth` messages (default 100; groups count, unknown ones too) is a
DecodeError; encoding stops at the same depth (which a message holding
itself reaches). Required fields (label REQUIRED, at any depth) are checked
after the whole input is decoded.
"""

from __future__ import annotations

from typing import Any, NamedTuple

# Kinds: the numbers of descriptor.proto's FieldDescriptorProto.Type.
DOUBLE = 1
FLOAT = 2
INT64 = 3
UINT64 = 4
INT32 = 5
FIXED64 = 6
FIXED32 = 7
BOOL = 8
STRING = 9
GROUP = 10  # a message written between start- and end-group tags (delimited)
MESSAGE = 11
BYTES = 12
UINT32 = 13
ENUM = 14
SFIXED32 = 15
SFIXED64 = 16
SINT32 = 17
SINT64 = 18

# Labels (the first three agree with FieldDescriptorProto.Label where they overlap).
IMPLICIT = 0  # singular, no presence
OPTIONAL = 1  # singular, explicit presence
REQUIRED = 2  # proto2 `required` / LEGACY_REQUIRED
REPEATED = 3  # list, written one element per field
PACKED = 4  # list, written as one length-delimited run
MAP = 5  # dict; FieldSpec.type is (key spec, value spec)

# Flags.
VALIDATE_UTF8 = 1  # STRING: bytes that are not UTF-8 are a DecodeError
CLOSED_ENUM = 2  # ENUM: unknown numbers go to the unknown fields

# Wire types.
VARINT = 0
I64 = 1
LEN = 2
SGROUP = 3
EGROUP = 4
I32 = 5

WIRE_TYPES = {
    DOUBLE: I64, FLOAT: I32, INT64: VARINT, UINT64: VARINT, INT32: VARINT, FIXED64: I64,
    FIXED32: I32, BOOL: VARINT, STRING: LEN, GROUP: SGROUP, MESSAGE: LEN, BYTES: LEN,
    UINT32: VARINT, ENUM: VARINT, SFIXED32: I32, SFIXED64: I64, SINT32: VARINT,
    SINT64: VARINT,
}  # fmt: skip
# Kinds whose repeated fields may be packed.
PACKABLE = frozenset(WIRE_TYPES) - {STRING, GROUP, MESSAGE, BYTES}

KIND_NAMES = {
    DOUBLE: "double", FLOAT: "float", INT64: "int64", UINT64: "uint64", INT32: "int32",
    FIXED64: "fixed64", FIXED32: "fixed32", BOOL: "bool", STRING: "string", GROUP: "group",
    MESSAGE: "message", BYTES: "bytes", UINT32: "uint32", ENUM: "enum",
    SFIXED32: "sfixed32", SFIXED64: "sfixed64", SINT32: "sint32", SINT64: "sint64",
}  # fmt: skip

# Integer kinds and the values they hold.
INT_RANGES = {
    INT32: (-(2**31), 2**31 - 1), SINT32: (-(2**31), 2**31 - 1), SFIXED32: (-(2**31), 2**31 - 1),
    ENUM: (-(2**31), 2**31 - 1),
    INT64: (-(2**63), 2**63 - 1), SINT64: (-(2**63), 2**63 - 1), SFIXED64: (-(2**63), 2**63 - 1),
    UINT32: (0, 2**32 - 1), FIXED32: (0, 2**32 - 1),
    UINT64: (0, 2**64 - 1), FIXED64: (0, 2**64 - 1),
}  # fmt: skip


class FieldSpec(NamedTuple):
    """One field of a message (or an extension, or a map's key or value).

    `name` is the Python attribute: the slot, or for a oneof member the tag in
    the oneof slot's tuple and the name of its descriptor. `oneof` is the oneof
    slot's name for oneof members, else None. `type` is the class for MESSAGE,
    GROUP and ENUM, `(key FieldSpec, value FieldSpec)` for MAP (numbers 1 and 2,
    label IMPLICIT; a missing MESSAGE value decodes as an empty message), else
    None. `default` is what an unset IMPLICIT field holds (its zero); for
    OPTIONAL and REQUIRED fields it is the proto2 `[default = ...]` value (or
    None), which the slot does not hold: it holds None until set.
    `json_name` and `proto_name` are the names ProtoJSON writes and accepts.
    """

    number: int
    name: str
    kind: int
    label: int
    type: Any = None
    default: Any = None
    oneof: str | None = None
    flags: int = 0
    json_name: str = ""
    proto_name: str = ""
