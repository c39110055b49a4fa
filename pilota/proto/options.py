"""Options typed as protoc types them.

Each option name is resolved against the options message of what it annotates
(`google.protobuf.FieldOptions` for a field, ...) as descriptor.proto defines
it: a plain name is a field of that message, `(name)` an extension of it, and
each later part a field or extension of the message before. The value is then
checked against the field's type; a message takes a text-format aggregate.
Several options may fill one message: `(a).x = 1; (a).y = 2` build one `(a)`.
"""

from __future__ import annotations

import math
import struct as binary
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pilota import ir
from pilota.diagnostics import Diagnostics, Location
from pilota.proto import ast
from pilota.proto.loader import _INT32, OPTIONS_FILE, SCALAR_NAMES, WKT_INSTALL

if TYPE_CHECKING:
    from pilota.proto.loader import _File, _Loader

ANY = "google.protobuf.Any"
# Text format's spellings of booleans and special floats, inside aggregates.
_TEXT_BOOLS = {"true": True, "True": True, "t": True, "false": False, "False": False, "f": False}
_TEXT_FLOATS = {"inf": math.inf, "infinity": math.inf, "nan": math.nan}
# What each options message annotates: its FieldOptions.OptionTargetType, and a word.
TARGETS = {
    "FileOptions": ("TARGET_TYPE_FILE", "file"),
    "ExtensionRangeOptions": ("TARGET_TYPE_EXTENSION_RANGE", "extension range"),
    "MessageOptions": ("TARGET_TYPE_MESSAGE", "message"),
    "FieldOptions": ("TARGET_TYPE_FIELD", "field"),
    "OneofOptions": ("TARGET_TYPE_ONEOF", "oneof"),
    "EnumOptions": ("TARGET_TYPE_ENUM", "enum"),
    "EnumValueOptions": ("TARGET_TYPE_ENUM_ENTRY", "enum value"),
    "ServiceOptions": ("TARGET_TYPE_SERVICE", "service"),
    "MethodOptions": ("TARGET_TYPE_METHOD", "method"),
}


@dataclass
class _Use:
    """A field that an option sets, kept to check its `targets` once all are typed."""

    owner: ir.Struct
    field: ir.Field
    kind: str  # the options message it was set in, as in TARGETS
    loc: Location


@dataclass
class _Message:
    """A message value while options fill it: keys as in the IR (field names, or
    `(full.name)` for extensions, `[type/url]` for an expanded Any)."""

    struct: ir.Struct
    values: dict[str, Any] = field(default_factory=dict)

    def freeze(self) -> ir.StructValue:
        order = {f.name: i for i, f in enumerate(self.struct.fields)}
        items = sorted(self.values.items(), key=lambda item: order.get(item[0], len(order)))
        return ir.StructValue(self.struct, tuple((k, _freeze(v)) for k, v in items))


def _freeze(value: Any) -> ir.Value:
    if isinstance(value, _Message):
        return value.freeze()
    if isinstance(value, list):
        return ir.ListValue(tuple(_freeze(v) for v in value))
    if isinstance(value, dict):
        return ir.MapValue(tuple((k, _freeze(v)) for k, v in value.items()))
    result: ir.Value = value
    return result


def _as_float32(value: float) -> float:
    try:
        result: float = binary.unpack("<f", binary.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)
    return result


def _type_text(t: ir.Type) -> str:
    if isinstance(t, ir.BaseType):
        return SCALAR_NAMES[t.kind]
    if isinstance(t, ir.NamedType):
        kind = "message" if isinstance(t.definition, ir.Struct) else "enum"
        return f'{kind} "{t.definition.full_name}"'
    return "map"


class OptionInterpreter:
    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.diagnostics = loader.diagnostics
        self.extension_names = {
            id(symbol.extension): name
            for name, symbol in loader.symbols.items()
            if symbol.extension is not None
        }
        self.uses: list[_Use] = []
        # FeatureSet and the messages its extensions hold (`features.(pb.cpp)`)
        self.feature_sets = {
            id(symbol.extension.type.definition)
            for symbol in loader.symbols.values()
            if symbol.extension is not None
            and symbol.extension.extendee is not None
            and symbol.extension.extendee.full_name == "google.protobuf.FeatureSet"
            and isinstance(symbol.extension.type, ir.NamedType)
        }
        feature_set = loader.symbols.get("google.protobuf.FeatureSet")
        if feature_set is not None:
            self.feature_sets.add(id(feature_set.definition))
        self.kind = ""  # of the options being interpreted

    def key(self, fld: ir.Field) -> str:
        """The field's key in an options value: `(full.name)` for an extension."""
        return f"({self.extension_names[id(fld)]})" if fld.extendee is not None else fld.name

    def interpret(
        self, f: _File, written: list[ast.Option], kind: str, scope: str
    ) -> dict[str, ir.Value]:
        """The options `written` on something whose options message is
        `google.protobuf.<kind>`, names looked up from `scope`."""
        if not written:
            return {}
        symbol = self.loader.symbols.get(f"google.protobuf.{kind}")
        if symbol is None or not isinstance(symbol.definition, ir.Struct):
            self.diagnostics.error(
                f"options cannot be checked: {OPTIONS_FILE} was not found; give its "
                f"directory with -I, or install grpcio-tools, which ships it: {WKT_INSTALL}",
                written[0].loc,
            )
            return {}
        self.kind = kind
        root = _Message(symbol.definition)
        built: list[tuple[_Message, ast.Option]] = []  # messages that option paths create
        for option in written:
            self.assign(f, root, option, scope, built)
        for message, option in built:
            missing = [
                fld.name for fld in message.struct.fields
                if fld.required and self.key(fld) not in message.values
            ]  # fmt: skip
            if missing:
                self.diagnostics.error(
                    f'option "{option.text}" leaves required field "{missing[0]}" of '
                    f'"{message.struct.full_name}" unset',
                    option.loc,
                )
        return dict(root.freeze().fields)

    def check_targets(self) -> None:
        """Each option field that names its targets is set only on those."""
        for use in self.uses:
            targets = use.field.options.get("targets")
            if not isinstance(targets, ir.ListValue):
                continue
            allowed = {t.member.name for t in targets.items if isinstance(t, ir.EnumValue)}
            target, word = TARGETS[use.kind]
            if target not in allowed:
                name = self.extension_names.get(id(use.field)) or (
                    f"{use.owner.full_name}.{use.field.name}"
                )
                self.diagnostics.error(f'"{name}" cannot be set on a {word}', use.loc)

    def assign(
        self, f: _File, root: _Message, option: ast.Option, scope: str,
        built: list[tuple[_Message, ast.Option]],
    ) -> None:  # fmt: skip
        if option.text == "map_entry" and root.struct.name == "MessageOptions":
            self.diagnostics.error(
                "map_entry is not set by hand: declare the field as map<K, V>", option.loc
            )
            return
        target = root
        shown = f'option "{option.text}"'
        last = len(option.name) - 1
        for i, part in enumerate(option.name):
            if part.extension:
                found = self.extension(f, target.struct, part.name, scope, option.loc,
                                       f"unknown {shown}")  # fmt: skip
            else:
                found = target.struct.field_named(part.name)
                if found is None:
                    self.diagnostics.error(
                        f'unknown {shown}: "{target.struct.full_name}" has no field '
                        f'"{part.name}"',
                        option.loc,
                    )
            if found is None:
                return
            self.uses.append(_Use(target.struct, found, self.kind, option.loc))
            if i == last:
                self.set(f, target, found, option.value, option.value_loc, option.loc, scope,
                         shown, False)  # fmt: skip
                return
            t = found.type
            if not isinstance(t, ir.NamedType) or not isinstance(t.definition, ir.Struct):
                what = "repeated" if isinstance(t, ir.ListType | ir.MapType) else _type_text(t)
                self.diagnostics.error(
                    f'{shown}: "{part.name}" is {what}, so it has no field '
                    f'"{option.name[i + 1].name}"'
                    + ("; set it whole with an aggregate value" if what == "repeated" else ""),
                    option.loc,
                )
                return
            inner = target.values.get(self.key(found))
            if inner is None:
                if not self.may_set(target, found, shown, option.loc):
                    return
                inner = target.values[self.key(found)] = _Message(t.definition)
                built.append((inner, option))
            target = inner

    def extension(
        self, f: _File, extendee: ir.Struct, name: str, scope: str, loc: Location, context: str
    ) -> ir.Field | None:
        symbol = self.loader.lookup(f, name, scope, loc, types_only=False, context=context)
        if symbol is None:
            return None
        found = symbol.extension
        if found is None:
            self.diagnostics.error(f'"{name}" is not an extension', loc)
            return None
        if found.extendee is not extendee:
            assert found.extendee is not None
            self.diagnostics.error(
                f'"{name}" extends "{found.extendee.full_name}", not "{extendee.full_name}"', loc
            )
            return None
        return found

    def may_set(self, target: _Message, fld: ir.Field, shown: str, loc: Location) -> bool:
        """Whether a singular field may be set now: not set yet, nor a sibling in its oneof."""
        if self.key(fld) in target.values:
            self.diagnostics.error(f"{shown} is already set", loc)
            return False
        group = fld.oneof
        if group is not None and not group.synthetic:
            other = next((g for g in group.fields if self.key(g) in target.values), None)
            if other is not None:
                self.diagnostics.error(
                    f'{shown}: "{other.name}" is already set, and only one field of oneof '
                    f'"{group.name}" may be',
                    loc,
                )
                return False
        return True

    def set(
        self, f: _File, target: _Message, fld: ir.Field, value: ast.Constant, loc: Location,
        name_loc: Location, scope: str, shown: str, in_aggregate: bool,
    ) -> None:  # fmt: skip
        """Store `value` (at `loc`) in `fld` (named at `name_loc`) of `target`: appended
        when repeated (a list inside an aggregate appends each of its items), else set
        once."""
        t = fld.type
        key = self.key(fld)
        if isinstance(t, ir.ListType | ir.MapType):
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(t, ir.MapType):
                    entry = self.map_entry(f, t, item, loc, scope, shown)
                    if entry is not None:
                        target.values.setdefault(key, {}).update([entry])
                    continue
                converted = self.convert(f, t.element, item, loc, scope, shown, in_aggregate)
                if converted is not None:
                    target.values.setdefault(key, []).append(converted)
            return
        if isinstance(value, list):
            self.diagnostics.error(f"{shown} is not repeated: it takes one value, not a list", loc)
            return
        converted = self.convert(f, t, value, loc, scope, shown, in_aggregate)
        if (
            isinstance(converted, ir.EnumValue)
            and converted.value == 0
            and id(target.struct) in self.feature_sets
        ):
            self.diagnostics.error(
                f"feature {fld.name} must be set to a known value, not {converted.member.name}",
                loc,
            )
            return
        if converted is not None and self.may_set(target, fld, shown, name_loc):
            target.values[key] = converted

    def map_entry(
        self, f: _File, t: ir.MapType, value: ast.Constant, loc: Location, scope: str, shown: str
    ) -> tuple[Any, Any] | None:
        if not isinstance(value, ast.Aggregate):
            self.diagnostics.error(f"{shown} is a map: each entry is {{ key: ... value: ... }}",
                                   loc)  # fmt: skip
            return None
        parts: dict[str, Any] = {}
        for entry in value.entries:
            part_type = {"key": t.key, "value": t.value}.get(entry.key)
            if part_type is None or entry.extension or entry.key in parts:
                problem = "is set twice" if entry.key in parts else "is not key or value"
                self.diagnostics.error(f'{shown}: "{entry.key}" {problem}', entry.loc)
                return None
            converted = self.convert(
                f, part_type, entry.value, entry.loc, scope, f'{shown}, {entry.key}', True
            )
            if converted is None:
                return None
            parts[entry.key] = converted
        if "key" not in parts:
            parts["key"] = _zero(t.key)
        if "value" not in parts:
            parts["value"] = _zero(t.value)
        return parts["key"], parts["value"]

    def convert(
        self, f: _File, t: ir.Type, value: ast.Constant, loc: Location, scope: str,
        shown: str, in_aggregate: bool,
    ) -> Any:  # fmt: skip
        """`value` as a value of type `t`; None (reported) when it is not one."""
        if isinstance(t, ir.NamedType) and isinstance(t.definition, ir.Struct):
            if isinstance(value, ast.Aggregate):
                return self.aggregate(f, t.definition, value, scope)
            self.diagnostics.error(
                f'{shown} is message "{t.definition.full_name}": its value is an aggregate, '
                "{ ... }",
                loc,
            )
            return None
        return typed_value(self.diagnostics, t, value, loc, shown, in_aggregate)

    def aggregate(
        self, f: _File, struct: ir.Struct, value: ast.Aggregate, scope: str
    ) -> _Message | None:
        message = _Message(struct)
        for entry in value.entries:
            shown = f'field "{entry.key}"' if not entry.extension else f'"[{entry.key}]"'
            if entry.extension and "/" in entry.key:
                self.expanded_any(f, message, entry, scope)
                continue
            if entry.extension:
                found = self.extension(f, struct, entry.key, scope, entry.loc,
                                       f"unknown extension {shown}")  # fmt: skip
            else:
                found = struct.field_named(entry.key) or self.group_named(struct, entry.key)
                if found is None:
                    self.diagnostics.error(
                        f'"{struct.full_name}" has no field "{entry.key}"', entry.loc
                    )
            if found is not None:
                self.uses.append(_Use(struct, found, self.kind, entry.loc))
                self.set(f, message, found, entry.value, entry.loc, entry.loc, scope, shown,
                         True)  # fmt: skip
        missing = [fld.name for fld in struct.fields if fld.required and fld.name not in
                   message.values]  # fmt: skip
        if missing:
            self.diagnostics.error(
                f'the value of message "{struct.full_name}" lacks required field'
                + ("s " if len(missing) > 1 else " ")
                + ", ".join(f'"{name}"' for name in missing),
                value.loc,
            )
            return None
        return message

    @staticmethod
    def group_named(struct: ir.Struct, name: str) -> ir.Field | None:
        """Text format names a group field by its message's name."""
        for fld in struct.fields:
            t = fld.type.element if isinstance(fld.type, ir.ListType) else fld.type
            if fld.delimited and isinstance(t, ir.NamedType) and t.definition.name == name:
                return fld
        return None

    def expanded_any(
        self, f: _File, message: _Message, entry: ast.AggregateEntry, scope: str
    ) -> None:
        """`[type.googleapis.com/pkg.T] { ... }`: an Any holding a T, written out."""
        if message.struct.full_name != ANY:
            self.diagnostics.error(
                f'"[{entry.key}]" can only be written in a {ANY}, not in '
                f'"{message.struct.full_name}"',
                entry.loc,
            )
            return
        if message.values:
            self.diagnostics.error(f"{ANY} holds one value, and this is a second", entry.loc)
            return
        type_name = entry.key.rpartition("/")[2]
        symbol = self.loader.lookup(f, "." + type_name, scope, entry.loc)
        if symbol is None:
            return
        held = symbol.definition
        if not isinstance(held, ir.Struct) or not isinstance(entry.value, ast.Aggregate):
            self.diagnostics.error(f'"[{entry.key}]" takes a message value, {{ ... }}', entry.loc)
            return
        inner = self.aggregate(f, held, entry.value, scope)
        if inner is not None:
            message.values[f"[{entry.key}]"] = inner


def typed_value(
    diagnostics: Diagnostics, t: ir.Type, value: ast.Constant, loc: Location, shown: str,
    in_aggregate: bool,
) -> Any:  # fmt: skip
    """`value` as a value of scalar or enum type `t`, for an option or a default
    (text format's looser spellings only `in_aggregate`); None (reported) when it
    is not one. `shown` names what is being set, for the messages."""
    if isinstance(t, ir.NamedType):
        assert isinstance(t.definition, ir.Enum), t
        return _enum_value(diagnostics, t.definition, value, loc, shown, in_aggregate)
    assert isinstance(t, ir.BaseType), t
    kind = t.kind
    if kind in (ir.BaseKind.STRING, ir.BaseKind.BINARY):
        if not isinstance(value, bytes):
            diagnostics.error(
                f"{shown} has type {SCALAR_NAMES[kind]}: expected a quoted string", loc
            )
            return None
        if kind is ir.BaseKind.BINARY:
            return value
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            diagnostics.error(f"{shown} has type string, and this value is not UTF-8", loc)
            return None
    if kind is ir.BaseKind.BOOL:
        if isinstance(value, ast.Identifier) and not value.negative:
            spelled = _TEXT_BOOLS.get(value.name)
            if spelled is not None and (in_aggregate or value.name in ("true", "false")):
                return spelled
        if in_aggregate and value in (0, 1) and not isinstance(value, float):
            return value == 1
        diagnostics.error(f"{shown} has type bool: expected true or false", loc)
        return None
    if kind in (ir.BaseKind.DOUBLE, ir.BaseKind.FLOAT):
        number: float | None = None
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, ast.Identifier):
            name = value.name.lower() if in_aggregate else value.name
            special = _TEXT_FLOATS.get(name)
            if special is not None and (in_aggregate or name != "infinity"):
                number = -special if value.negative else special
        if number is None:
            diagnostics.error(f"{shown} has type {SCALAR_NAMES[kind]}: expected a number", loc)
            return None
        return _as_float32(number) if kind is ir.BaseKind.FLOAT else number
    if not isinstance(value, int):
        diagnostics.error(f"{shown} has type {SCALAR_NAMES[kind]}: expected an integer", loc)
        return None
    low, high = kind.range
    if not low <= value <= high:
        diagnostics.error(f"{shown}: {value} is out of range for type {SCALAR_NAMES[kind]}", loc)
        return None
    return value


def _enum_value(
    diagnostics: Diagnostics, enum: ir.Enum, value: ast.Constant, loc: Location, shown: str,
    in_aggregate: bool,
) -> ir.EnumValue | int | None:  # fmt: skip
    if isinstance(value, ast.Identifier) and not value.negative:
        member = enum.member(value.name)
        if member is not None:
            return ir.EnumValue(member)
        diagnostics.error(
            f'{shown}: enum "{enum.full_name}" has no value named "{value.name}"', loc
        )
        return None
    if in_aggregate and isinstance(value, int):
        member = next((m for m in enum.members if m.value == value), None)
        if member is not None:
            return ir.EnumValue(member)
        if not enum.closed and _INT32[0] <= value <= _INT32[1]:
            return value
        diagnostics.error(
            f'{shown}: enum "{enum.full_name}" has no value numbered {value}', loc
        )
        return None
    diagnostics.error(
        f'{shown} is enum "{enum.full_name}": expected the name of one of its values', loc
    )
    return None


def _zero(t: ir.Type) -> Any:
    """A map entry's key or value when the entry leaves it out."""
    if isinstance(t, ir.NamedType):
        d = t.definition
        if isinstance(d, ir.Struct):
            return _Message(d)
        assert isinstance(d, ir.Enum)
        return ir.EnumValue(d.members[0])
    assert isinstance(t, ir.BaseType)
    return {
        ir.BaseKind.STRING: "", ir.BaseKind.BINARY: b"", ir.BaseKind.BOOL: False,
        ir.BaseKind.DOUBLE: 0.0, ir.BaseKind.FLOAT: 0.0,
    }.get(t.kind, 0)  # fmt: skip
