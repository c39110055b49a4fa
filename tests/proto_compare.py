"""Our IR and protoc's descriptors, lowered to one comparable form (for tests)."""

from __future__ import annotations

import math
import struct
from typing import Any

from google.protobuf import message_factory
from google.protobuf.unknown_fields import UnknownFieldSet

from pilota import ir
from pilota.diagnostics import Location
from pilota.proto.loader import json_name
from pilota.proto.parser import unescape

TYPES = {
    ir.BaseKind.DOUBLE: 1, ir.BaseKind.FLOAT: 2, ir.BaseKind.I64: 3, ir.BaseKind.UINT64: 4,
    ir.BaseKind.I32: 5, ir.BaseKind.FIXED64: 6, ir.BaseKind.FIXED32: 7, ir.BaseKind.BOOL: 8,
    ir.BaseKind.STRING: 9, ir.BaseKind.BINARY: 12, ir.BaseKind.UINT32: 13,
    ir.BaseKind.SFIXED32: 15, ir.BaseKind.SFIXED64: 16, ir.BaseKind.SINT32: 17,
    ir.BaseKind.SINT64: 18,
}
GROUP, MESSAGE, ENUM = 10, 11, 14
OPTIONAL, REQUIRED, REPEATED = 1, 2, 3


def map_entry_name(field: str) -> str:
    """protoc's name for a map field's entry message: the JSON name, capitalised."""
    name = json_name(field)
    return name[:1].upper() + name[1:] + "Entry"


def _norm_default(kind: int, value: Any) -> Any:
    if value is None:
        return None
    if kind in (1, 2):
        f = float(value)
        if math.isnan(f):
            return "nan"
        # a float field's default compares as the float32 it stands for
        return f if kind == 1 else struct.unpack("<f", struct.pack("<f", f))[0]
    return value


def _our_value(value: Any) -> Any:
    if isinstance(value, ir.StructValue):
        return our_options(dict(value.fields))
    if isinstance(value, ir.ListValue):
        return [_our_value(v) for v in value.items]
    if isinstance(value, ir.MapValue):
        return {k: _our_value(v) for k, v in value.items}
    if isinstance(value, ir.EnumValue):
        return value.member.name
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def our_options(options: dict[str, ir.Value]) -> dict[str, Any]:
    return {key: _our_value(value) for key, value in options.items()}


def ours(module: ir.Module) -> dict[str, Any]:
    messages: dict[str, Any] = {}
    enums: dict[str, Any] = {}
    extensions: dict[str, Any] = {}

    def field_form(f: ir.Field, owner: str) -> tuple[Any, ...]:
        t = f.type
        label = REQUIRED if f.required else OPTIONAL
        if isinstance(t, ir.ListType):
            label, t = REPEATED, t.element
        type_name = ""
        if isinstance(t, ir.MapType):
            label, kind = REPEATED, MESSAGE
            type_name = f"{owner}.{map_entry_name(f.name)}"
        elif isinstance(t, ir.NamedType):
            d = t.definition
            kind = ENUM if isinstance(d, ir.Enum) else (GROUP if f.delimited else MESSAGE)
            type_name = d.full_name
        else:
            assert isinstance(t, ir.BaseType)
            kind = TYPES[t.kind]
        default: Any = f.default
        if isinstance(default, ir.EnumValue):
            default = default.member.name
        elif isinstance(default, bool):
            default = "true" if default else "false"
        elif isinstance(default, int):
            default = str(default)
        oneof = f.oneof.name if f.oneof is not None else None
        proto3_optional = f.proto3_optional
        return (f.name, f.id, label, kind, type_name, oneof, f.json_name,
                _norm_default(kind, default), proto3_optional,
                f.extendee.full_name if f.extendee is not None else None,
                our_options(f.options))

    def walk_enum(e: ir.Enum) -> None:
        enums[e.full_name] = {
            "values": [(m.name, m.value, our_options(m.options)) for m in e.members],
            "options": our_options(e.options),
        }

    def walk(s: ir.Struct) -> None:
        full = s.full_name
        nested = sorted(n.full_name for n in s.nested)
        for f in s.fields:
            if isinstance(f.type, ir.MapType):
                entry = f"{full}.{map_entry_name(f.name)}"
                nested = sorted([*nested, entry])
                key = ir.Field(1, "key", f.type.key, json_name="key")
                value = ir.Field(2, "value", f.type.value, json_name="value",
                                 delimited=False)
                messages[entry] = {
                    "fields": [field_form(key, entry), field_form(value, entry)],
                    "oneofs": [], "nested": [], "extension_ranges": [],
                    "reserved_ranges": [], "reserved_names": [],
                    "options": {"map_entry": True},
                }
        messages[full] = {
            "fields": [field_form(f, full) for f in s.fields],
            "oneofs": [(o.name, our_options(o.options)) for o in s.oneofs],
            "nested": nested,
            "extension_ranges": sorted(
                (r.start, r.end, repr(our_options(r.options))) for r in s.extension_ranges
            ),
            "reserved_ranges": sorted(s.reserved_ids),
            "reserved_names": sorted(s.reserved_names),
            "options": our_options(s.options),
        }
        for ext in s.extensions:
            extensions[f"{full}.{ext.name}"] = field_form(ext, full)
        for n in s.nested:
            walk(n) if isinstance(n, ir.Struct) else walk_enum(n)

    for s in module.structs:
        walk(s)
    for e in module.enums:
        walk_enum(e)
    for ext in module.extensions:
        extensions[f"{module.package}.{ext.name}" if module.package else ext.name] = field_form(
            ext, module.package
        )
    services = {
        s.full_name: {
            "methods": [
                (m.name, m.args[0].type.definition.full_name if m.args else None,  # type: ignore[union-attr]
                 m.result.definition.full_name if m.result else None,  # type: ignore[union-attr]
                 m.client_streaming, m.server_streaming, our_options(m.options))
                for m in s.methods
            ],
            "options": our_options(s.options),
        }
        for s in module.services
    }
    return {
        "package": module.package,
        "options": our_options(module.options),
        "dependencies": [i.module.name for i in module.includes],
        "messages": messages, "enums": enums, "services": services, "extensions": extensions,
    }


def _their_value(fd: Any, value: Any, pool: Any) -> Any:
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        value_fd = fd.message_type.fields_by_name["value"]
        return {k: _their_single(value_fd, v, pool) for k, v in value.items()}
    if fd.is_repeated:
        return [_their_single(fd, v, pool) for v in value]
    return _their_single(fd, value, pool)


def _their_single(fd: Any, value: Any, pool: Any) -> Any:
    if fd.message_type is not None:
        if fd.message_type.full_name == "google.protobuf.Any" and value.type_url:
            held = pool.FindMessageTypeByName(value.type_url.rpartition("/")[2])
            inner = message_factory.GetMessageClass(held).FromString(value.value)
            return {f"[{value.type_url}]": their_options(inner, pool)}
        return their_options(value, pool)
    if fd.enum_type is not None:
        known = fd.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def their_options(message: Any, pool: Any) -> dict[str, Any]:
    """A message's set fields, extensions known to `pool` included."""
    assert not len(UnknownFieldSet(message)), f"undecoded options in {message}"
    return {
        f"({fd.full_name})" if fd.is_extension else fd.name: _their_value(fd, value, pool)
        for fd, value in message.ListFields()
    }


def theirs(file: Any, pool: Any) -> dict[str, Any]:
    """The same form from a FileDescriptorProto; `pool` (a DescriptorPool holding it
    and descriptor.proto) gives the types and labels after editions features are
    resolved, and the extensions that custom options use."""
    package = file.package

    def options(written: Any) -> dict[str, Any]:
        kind = type(written).DESCRIPTOR.full_name
        message_class = message_factory.GetMessageClass(pool.FindMessageTypeByName(kind))
        return their_options(message_class.FromString(written.SerializeToString()), pool)

    messages: dict[str, Any] = {}
    enums: dict[str, Any] = {}
    extensions: dict[str, Any] = {}
    editions = file.syntax == "editions"

    def field_form(f: Any, owner: str, oneof_names: list[str]) -> tuple[Any, ...]:
        default: Any = f.default_value if f.HasField("default_value") else None
        if default is not None and f.type == 12:
            default = unescape('"' + default + '"', Location("", 0, 0))
        label, kind = f.label, f.type
        if editions:
            full = f"{owner}.{f.name}" if owner else f.name
            resolved = (pool.FindExtensionByName(full) if f.extendee
                        else pool.FindFieldByName(full))
            kind = resolved.type
            label = REQUIRED if resolved.is_required else label
        return (f.name, f.number, label, kind, f.type_name.lstrip("."),
                oneof_names[f.oneof_index] if f.HasField("oneof_index") else None,
                f.json_name, _norm_default(f.type, default), f.proto3_optional,
                f.extendee.lstrip(".") if f.extendee else None, options(f.options))

    def walk_enum(e: Any, scope: str) -> None:
        enums[f"{scope}.{e.name}" if scope else e.name] = {
            "values": [(v.name, v.number, options(v.options)) for v in e.value],
            "options": options(e.options),
        }

    def walk(m: Any, scope: str) -> None:
        full = f"{scope}.{m.name}" if scope else m.name
        oneof_names = [o.name for o in m.oneof_decl]
        messages[full] = {
            "fields": [field_form(f, full, oneof_names) for f in m.field],
            "oneofs": [(o.name, options(o.options)) for o in m.oneof_decl],
            "nested": sorted([f"{full}.{n.name}" for n in m.nested_type]
                             + [f"{full}.{e.name}" for e in m.enum_type]),
            "extension_ranges": sorted(
                (r.start, r.end - 1, repr(options(r.options))) for r in m.extension_range
            ),
            "reserved_ranges": sorted((r.start, r.end - 1) for r in m.reserved_range),
            "reserved_names": sorted(m.reserved_name),
            "options": options(m.options),
        }
        for ext in m.extension:
            extensions[f"{full}.{ext.name}"] = field_form(ext, full, [])
        for n in m.nested_type:
            walk(n, full)
        for e in m.enum_type:
            walk_enum(e, full)

    for m in file.message_type:
        walk(m, package)
    for e in file.enum_type:
        walk_enum(e, package)
    for ext in file.extension:
        extensions[f"{package}.{ext.name}" if package else ext.name] = field_form(ext, package, [])
    services = {
        (f"{package}.{s.name}" if package else s.name): {
            "methods": [
                (m.name, m.input_type.lstrip("."), m.output_type.lstrip("."),
                 m.client_streaming, m.server_streaming, options(m.options))
                for m in s.method
            ],
            "options": options(s.options),
        }
        for s in file.service
    }
    return {
        "package": package,
        "options": options(file.options),
        "dependencies": list(file.dependency),
        "messages": messages, "enums": enums, "services": services, "extensions": extensions,
    }


def _comment(text: str | None) -> str | None:
    """A comment as lines trimmed of margins, blank lines at either end dropped."""
    lines = [line.strip() for line in (text or "").strip("\n").splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) or None


def our_docs(module: ir.Module) -> dict[str, str | None]:
    """Each documented thing's doc, keyed by full name (`Message/oneof` for oneofs)."""
    docs: dict[str, str | None] = {}

    def enum(e: ir.Enum) -> None:
        docs[e.full_name] = _comment(e.doc)
        docs.update((f"{e.full_name}.{m.name}", _comment(m.doc)) for m in e.members)

    def message(s: ir.Struct) -> None:
        docs[s.full_name] = _comment(s.doc)
        docs.update((f"{s.full_name}.{f.name}", _comment(f.doc)) for f in s.fields)
        docs.update((f"{s.full_name}/{o.name}", _comment(o.doc)) for o in s.oneofs)
        for n in s.nested:
            message(n) if isinstance(n, ir.Struct) else enum(n)

    for s in module.structs:
        message(s)
    for e in module.enums:
        enum(e)
    for service in module.services:
        docs[service.full_name] = _comment(service.doc)
        docs.update((f"{service.full_name}.{m.name}", _comment(m.doc)) for m in service.methods)
    return docs


def their_docs(file: Any) -> dict[str, str | None]:
    """The same from protoc's source info: leading comments, then trailing ones."""
    where = {tuple(loc.path): loc for loc in file.source_code_info.location}
    docs: dict[str, str | None] = {}

    def doc(path: list[int]) -> str | None:
        loc = where.get(tuple(path))
        if loc is None:
            return None
        parts = [_comment(loc.leading_comments), _comment(loc.trailing_comments)]
        return "\n".join(p for p in parts if p) or None

    # descriptor.proto's field numbers: message_type 4, enum_type 5, service 6; in a
    # message field 2, nested_type 3, enum_type 4, oneof_decl 8; enum value 2; method 2
    def enum(e: Any, path: list[int], scope: str) -> None:
        full = f"{scope}.{e.name}" if scope else e.name
        docs[full] = doc(path)
        docs.update((f"{full}.{v.name}", doc([*path, 2, i])) for i, v in enumerate(e.value))

    def message(m: Any, path: list[int], scope: str) -> None:
        full = f"{scope}.{m.name}" if scope else m.name
        docs[full] = doc(path)
        docs.update((f"{full}.{f.name}", doc([*path, 2, i])) for i, f in enumerate(m.field))
        docs.update((f"{full}/{o.name}", doc([*path, 8, i]))
                    for i, o in enumerate(m.oneof_decl))  # fmt: skip
        for i, n in enumerate(m.nested_type):
            if not n.options.map_entry:
                message(n, [*path, 3, i], full)
        for i, e in enumerate(m.enum_type):
            enum(e, [*path, 4, i], full)

    package = file.package
    for i, m in enumerate(file.message_type):
        message(m, [4, i], package)
    for i, e in enumerate(file.enum_type):
        enum(e, [5, i], package)
    for i, s in enumerate(file.service):
        full = f"{package}.{s.name}" if package else s.name
        docs[full] = doc([6, i])
        docs.update((f"{full}.{m.name}", doc([6, i, 2, j])) for j, m in enumerate(s.method))
    return docs
