"""IR → a serialized `FileDescriptorProto`, byte for byte as protoc writes it.

What `protoc --descriptor_set_out` writes for a file (without source info):
every field with its `json_name`, map fields with their synthesized `XxxEntry`
messages, options typed against descriptor.proto and serialized in field-number
order with extensions among them, options whose retention is SOURCE stripped.
Generated modules embed it, so run-time tools (reflection, conversion to other
protobuf libraries) see the file as protoc does.

It is written directly in the wire format: descriptor.proto's field numbers are
facts of the format, and this stays free of any protobuf runtime.
"""

from __future__ import annotations

import math
import struct as binary

from pilota import ir
from pilota.diagnostics import Location
from pilota.proto.loader import json_name
from pilota.runtime.varint import encode_varint

# FieldDescriptorProto.Type and .Label
TYPE_NUMBERS = {
    ir.BaseKind.DOUBLE: 1, ir.BaseKind.FLOAT: 2, ir.BaseKind.I64: 3, ir.BaseKind.UINT64: 4,
    ir.BaseKind.I32: 5, ir.BaseKind.FIXED64: 6, ir.BaseKind.FIXED32: 7, ir.BaseKind.BOOL: 8,
    ir.BaseKind.STRING: 9, ir.BaseKind.BINARY: 12, ir.BaseKind.UINT32: 13,
    ir.BaseKind.SFIXED32: 15, ir.BaseKind.SFIXED64: 16, ir.BaseKind.SINT32: 17,
    ir.BaseKind.SINT64: 18,
}  # fmt: skip
TYPE_GROUP, TYPE_MESSAGE, TYPE_ENUM = 10, 11, 14
LABEL_OPTIONAL, LABEL_REQUIRED, LABEL_REPEATED = 1, 2, 3
EDITIONS = {"2023": 1000, "2024": 1001}
VISIBILITY = {"local": 1, "export": 2}  # SymbolVisibility

_FIXED32 = frozenset({ir.BaseKind.FIXED32, ir.BaseKind.SFIXED32})
_FIXED64 = frozenset({ir.BaseKind.FIXED64, ir.BaseKind.SFIXED64})
_ZIGZAG = frozenset({ir.BaseKind.SINT32, ir.BaseKind.SINT64})


def map_entry_name(field_name: str) -> str:
    """protoc's name for a map field's entry message: the JSON name, capitalised."""
    name = json_name(field_name)
    return name[:1].upper() + name[1:] + "Entry"


class _Out:
    """One message being written: fields appended in the order protoc writes them."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = bytearray()

    def tag(self, number: int, wire_type: int) -> None:
        encode_varint(number << 3 | wire_type, self.data)

    def varint(self, number: int, value: int) -> None:
        self.tag(number, 0)
        encode_varint(value & 0xFFFFFFFFFFFFFFFF, self.data)

    def chunk(self, number: int, data: bytes | bytearray) -> None:
        self.tag(number, 2)
        encode_varint(len(data), self.data)
        self.data += data

    def string(self, number: int, text: str) -> None:
        self.chunk(number, text.encode("utf-8", "surrogateescape"))

    def message(self, number: int, inner: _Out) -> None:
        self.chunk(number, inner.data)


def file_descriptor(module: ir.Module) -> bytes:
    """The serialized FileDescriptorProto of `module` (a .proto file's IR)."""
    return bytes(_FileWriter(module).file().data)


class _FileWriter:
    def __init__(self, module: ir.Module) -> None:
        self.module = module
        self.types = module.option_types or ir.OptionTypes()
        self.editions = module.syntax is ir.Syntax.EDITIONS

    def file(self) -> _Out:
        m = self.module
        out = _Out()
        out.string(1, m.name)
        if m.package:
            out.string(2, m.package)
        for include in m.includes:
            out.string(3, include.module.name)
        for definition in m.definitions.values():
            if isinstance(definition, ir.Struct):
                out.message(4, self.message(definition))
        for definition in m.definitions.values():
            if isinstance(definition, ir.Enum):
                out.message(5, self.enum(definition))
        for definition in m.definitions.values():
            if isinstance(definition, ir.Service):
                out.message(6, self.service(definition))
        for extension in m.extensions:
            out.message(7, self.field(extension, m.package))
        self.options(out, 8, "FileOptions", m.options)
        for i, include in enumerate(m.includes):
            if include.public:
                out.varint(10, i)
        for i, include in enumerate(m.includes):
            if include.weak:
                out.varint(11, i)
        if m.syntax is ir.Syntax.PROTO3:
            out.string(12, "proto3")
        elif self.editions:
            out.string(12, "editions")
            out.varint(14, EDITIONS.get(m.edition or "", 0))
        for name in m.option_imports:
            out.string(15, name)
        return out

    # ---- messages ----------------------------------------------------------------

    def message(self, struct: ir.Struct) -> _Out:
        out = _Out()
        full = struct.full_name
        out.string(1, struct.name)
        for f in struct.fields:
            out.message(2, self.field(f, full, struct))
        # Nested messages in declaration order, each map field's entry where the field is.
        nested: list[tuple[tuple[int, int], _Out]] = []
        for n in struct.nested:
            if isinstance(n, ir.Struct):
                nested.append((_position(n.loc), self.message(n)))
        for f in struct.fields:
            if isinstance(f.type, ir.MapType):
                nested.append((_position(f.loc), self.map_entry(f, f.type, full)))
        for _, written in sorted(nested, key=lambda item: item[0]):
            out.message(3, written)
        for n in struct.nested:
            if isinstance(n, ir.Enum):
                out.message(4, self.enum(n))
        for r in struct.extension_ranges:
            inner = _Out()
            inner.varint(1, r.start)
            inner.varint(2, r.end + 1)
            self.options(inner, 3, "ExtensionRangeOptions", r.options)
            out.message(5, inner)
        for extension in struct.extensions:
            out.message(6, self.field(extension, full))
        self.options(out, 7, "MessageOptions", struct.options)
        for oneof in struct.oneofs:
            inner = _Out()
            inner.string(1, oneof.name)
            self.options(inner, 2, "OneofOptions", oneof.options)
            out.message(8, inner)
        for start, end in struct.reserved_ids:
            inner = _Out()
            inner.varint(1, start)
            inner.varint(2, end + 1)
            out.message(9, inner)
        for name in struct.reserved_names:
            out.string(10, name)
        if struct.visibility is not None:
            out.varint(11, VISIBILITY[struct.visibility])
        return out

    def map_entry(self, f: ir.Field, t: ir.MapType, owner: str) -> _Out:
        out = _Out()
        out.string(1, map_entry_name(f.name))
        key = ir.Field(1, "key", t.key, json_name="key")
        value = ir.Field(2, "value", t.value, json_name="value")
        out.message(2, self.field(key, ""))
        out.message(2, self.field(value, ""))
        options = _Out()
        options.varint(7, 1)  # map_entry = true
        out.message(7, options)
        return out

    def field(self, f: ir.Field, owner: str, struct: ir.Struct | None = None) -> _Out:
        out = _Out()
        out.string(1, f.name)
        if f.extendee is not None:
            out.string(2, "." + f.extendee.full_name)
        out.varint(3, f.id)
        t = f.type
        label = LABEL_REQUIRED if f.required and not self.editions else LABEL_OPTIONAL
        if isinstance(t, ir.ListType):
            label, t = LABEL_REPEATED, t.element
        if isinstance(t, ir.MapType):
            out.varint(4, LABEL_REPEATED)
            out.varint(5, TYPE_MESSAGE)
            out.string(6, f".{owner}.{map_entry_name(f.name)}")
        else:
            out.varint(4, label)
            if isinstance(t, ir.NamedType):
                d = t.definition
                if isinstance(d, ir.Enum):
                    kind = TYPE_ENUM
                else:  # a group is written so; editions' DELIMITED stays a message
                    kind = TYPE_GROUP if f.delimited and not self.editions else TYPE_MESSAGE
                out.varint(5, kind)
                out.string(6, "." + d.full_name)
            else:
                assert isinstance(t, ir.BaseType)
                out.varint(5, TYPE_NUMBERS[t.kind])
        if f.default is not None:
            out.string(7, default_text(f.default, t))
        self.options(out, 8, "FieldOptions", f.options)
        if f.oneof is not None and struct is not None:
            out.varint(9, struct.oneofs.index(f.oneof))
        if f.json_name is not None:
            out.string(10, f.json_name)
        if f.proto3_optional:
            out.varint(17, 1)
        return out

    # ---- enums and services --------------------------------------------------------

    def enum(self, enum: ir.Enum) -> _Out:
        out = _Out()
        out.string(1, enum.name)
        for member in enum.members:
            inner = _Out()
            inner.string(1, member.name)
            inner.varint(2, member.value)
            self.options(inner, 3, "EnumValueOptions", member.options)
            out.message(2, inner)
        self.options(out, 3, "EnumOptions", enum.options)
        for start, end in enum.reserved_ids:
            inner = _Out()
            inner.varint(1, start)
            inner.varint(2, end)  # an enum's reserved ranges include their end
            out.message(4, inner)
        for name in enum.reserved_names:
            out.string(5, name)
        if enum.visibility is not None:
            out.varint(6, VISIBILITY[enum.visibility])
        return out

    def service(self, service: ir.Service) -> _Out:
        out = _Out()
        out.string(1, service.name)
        for method in service.methods:
            inner = _Out()
            inner.string(1, method.name)
            request = method.args[0].type if method.args else None
            for number, t in ((2, request), (3, method.result)):
                if isinstance(t, ir.NamedType):
                    inner.string(number, "." + t.definition.full_name)
            if method.options or not method.body:
                self.options(inner, 4, "MethodOptions", method.options)
            else:  # `{}`: protoc records an empty options message
                inner.chunk(4, b"")
            if method.client_streaming:
                inner.varint(5, 1)
            if method.server_streaming:
                inner.varint(6, 1)
            out.message(2, inner)
        self.options(out, 3, "ServiceOptions", service.options)
        return out

    # ---- options -----------------------------------------------------------------------

    def options(self, out: _Out, number: int, kind: str, values: dict[str, ir.Value]) -> None:
        """Writes `values` (an options dict of the IR) as field `number` of `out`,
        unless none are left once source-retention ones are stripped (protoc then
        leaves the options out too)."""
        struct = self.types.messages.get(kind)
        if not values or struct is None:
            return
        written = self.option_message(struct, values)
        if written.data:
            out.message(number, written)

    def option_message(self, struct: ir.Struct, values: dict[str, ir.Value]) -> _Out:
        out = _Out()
        fields: list[tuple[ir.Field, ir.Value]] = []
        for key, value in values.items():
            f = self.types.extensions.get(key) if key.startswith("(") else None
            if f is None:
                f = struct.field_named(key)
            if f is None:
                if key.startswith("[") and struct.full_name == "google.protobuf.Any":
                    self.expanded_any(out, key, value)
                continue
            if not _source_retention(f):
                fields.append((f, value))
        message_set = struct.options.get("message_set_wire_format") is True
        for f, value in sorted(fields, key=lambda item: item[0].id):
            if message_set and f.extendee is not None and isinstance(value, ir.StructValue):
                # a MessageSet item: group 1 { type_id = 2; message = 3 }
                inner = self.option_message(value.struct, dict(value.fields))
                out.tag(1, 3)
                out.varint(2, f.id)
                out.message(3, inner)
                out.tag(1, 4)
            else:
                self.option_field(out, f, value)
        return out

    def expanded_any(self, out: _Out, key: str, value: ir.Value) -> None:
        """An Any written `[type.url/full.Name] { ... }`: its type URL and the message."""
        out.string(1, key[1:-1])
        if isinstance(value, ir.StructValue):
            out.chunk(2, self.option_message(value.struct, dict(value.fields)).data)

    def option_field(self, out: _Out, f: ir.Field, value: ir.Value) -> None:
        t = f.type
        if isinstance(t, ir.MapType):
            assert isinstance(value, ir.MapValue)
            for k, v in value.items:
                entry = _Out()
                self.single(entry, 1, t.key, k, delimited=False)
                self.single(entry, 2, t.value, v, delimited=False)
                out.message(f.id, entry)
            return
        if isinstance(t, ir.ListType):
            items = value.items if isinstance(value, ir.ListValue) else (value,)
            element = t.element
            packable = (
                isinstance(element, ir.BaseType)
                and element.kind not in (ir.BaseKind.STRING, ir.BaseKind.BINARY)
            ) or (isinstance(element, ir.NamedType) and isinstance(element.definition, ir.Enum))
            if packable and f.features.get("repeated_field_encoding") == "PACKED":
                packed = _Out()
                for item in items:
                    packed.data += _scalar_payload(element, item)
                out.chunk(f.id, packed.data)
                return
            for item in items:
                self.single(out, f.id, element, item, f.delimited)
            return
        self.single(out, f.id, t, value, f.delimited)

    def single(self, out: _Out, number: int, t: ir.Type, value: ir.Value, delimited: bool) -> None:
        if isinstance(t, ir.NamedType) and isinstance(t.definition, ir.Struct):
            assert isinstance(value, ir.StructValue)
            inner = self.option_message(value.struct, dict(value.fields))
            if delimited:
                out.tag(number, 3)
                out.data += inner.data
                out.tag(number, 4)
            else:
                out.message(number, inner)
            return
        if isinstance(t, ir.BaseType) and t.kind in (ir.BaseKind.STRING, ir.BaseKind.BINARY):
            data = value if isinstance(value, bytes) else str(value).encode("utf-8")
            out.chunk(number, data)
            return
        out.tag(number, _wire_type(t))
        out.data += _scalar_payload(t, value)


def _wire_type(t: ir.Type) -> int:
    if isinstance(t, ir.BaseType):
        if t.kind in _FIXED64 or t.kind is ir.BaseKind.DOUBLE:
            return 1
        if t.kind in _FIXED32 or t.kind is ir.BaseKind.FLOAT:
            return 5
    return 0


def _scalar_payload(t: ir.Type, value: ir.Value) -> bytes:
    """A number's (or enum's, or bool's) encoding, without a tag."""
    if isinstance(value, ir.EnumValue):
        value = value.value
    assert isinstance(value, int | float)
    kind = t.kind if isinstance(t, ir.BaseType) else ir.BaseKind.I32
    if kind in (ir.BaseKind.DOUBLE, ir.BaseKind.FLOAT) and math.isnan(value):
        value = math.nan  # protoc writes every NaN as the positive quiet NaN
    if kind is ir.BaseKind.DOUBLE:
        return binary.pack("<d", float(value))
    if kind is ir.BaseKind.FLOAT:
        return binary.pack("<f", _float32(float(value)))
    if kind in _FIXED64:
        return binary.pack("<Q", int(value) & 0xFFFFFFFFFFFFFFFF)
    if kind in _FIXED32:
        return binary.pack("<I", int(value) & 0xFFFFFFFF)
    n = int(value)
    if kind in _ZIGZAG:
        n = (n << 1) ^ (n >> 63)
    out = bytearray()
    encode_varint(n & 0xFFFFFFFFFFFFFFFF, out)
    return bytes(out)


def _float32(value: float) -> float:
    try:
        binary.pack("<f", value)
    except OverflowError:
        return math.copysign(math.inf, value)
    return value


def _source_retention(f: ir.Field) -> bool:
    retention = f.options.get("retention")
    return isinstance(retention, ir.EnumValue) and retention.member.name == "RETENTION_SOURCE"


def _position(loc: Location | None) -> tuple[int, int]:
    return (loc.line, loc.col) if loc is not None else (0, 0)


# ---- default values as text -----------------------------------------------------------


def default_text(value: ir.Value, t: ir.Type) -> str:
    """A default value as FieldDescriptorProto.default_value spells it."""
    if isinstance(value, ir.EnumValue):
        return value.member.name
    if isinstance(value, bool):
        return "true" if value else "false"
    kind = t.kind if isinstance(t, ir.BaseType) else None
    if kind is ir.BaseKind.BINARY:
        data = value if isinstance(value, bytes) else str(value).encode()
        return c_escape(data)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return value
    if kind in (ir.BaseKind.DOUBLE, ir.BaseKind.FLOAT) and isinstance(value, int | float):
        return float_text(float(value), kind is ir.BaseKind.FLOAT)
    return str(value)


def float_text(value: float, single: bool) -> str:
    """protoc's SimpleDtoa/SimpleFtoa: the shortest of %.15g/%.17g (%.6g/%.9g for a
    float) that reads back as the same value."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if single:
        value = _float32(value)
        short = f"{value:.6g}"
        same = binary.pack("<f", float(short)) == binary.pack("<f", value)
        return short if same else f"{value:.9g}"
    short = f"{value:.15g}"
    return short if float(short) == value else f"{value:.17g}"


_C_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"',
              ord("'"): "\\'", ord("\\"): "\\\\"}  # fmt: skip


def c_escape(data: bytes) -> str:
    """protoc's CEscape: the usual backslash escapes, other unprintables as octal."""
    out: list[str] = []
    for byte in data:
        escaped = _C_ESCAPES.get(byte)
        if escaped is not None:
            out.append(escaped)
        elif byte < 0x20 or byte >= 0x7F:
            out.append(f"\\{byte:03o}")
        else:
            out.append(chr(byte))
    return "".join(out)
