"""Declared .proto definitions → IR: types resolved, values typed, rules checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pilota import ir
from pilota.diagnostics import Location
from pilota.proto import ast
from pilota.proto.loader import (
    _INT32,
    MAP_KEY_KINDS,
    MAX_FIELD_NUMBER,
    RESERVED_FIELD_NUMBERS,
    SCALARS,
    _Symbol,
    json_name,
)
from pilota.proto.options import TARGETS, OptionInterpreter, typed_value

if TYPE_CHECKING:
    from pilota.proto.loader import _File, _Loader


class _HasOptions(Protocol):
    options: dict[str, ir.Value]


@dataclass
class _Pending:
    """Options to type once every extension is known (an option may use any)."""

    file: _File
    written: list[ast.Option]
    kind: str  # the options message in descriptor.proto, e.g. "FieldOptions"
    scope: str  # where option names are looked up from
    target: _HasOptions


def _find(written: list[ast.Option], name: str) -> ast.Option | None:
    if not written:  # most declarations: answer without building a generator
        return None
    return next((o for o in written if o.text == name), None)


def _declarations(extension_range: ir.ExtensionRange) -> list[dict[str, ir.Value]]:
    """The range's declaration options, each as {field name: value}."""
    declared = extension_range.options.get("declaration")
    if not isinstance(declared, ir.ListValue):
        return []
    return [dict(d.fields) for d in declared.items if isinstance(d, ir.StructValue)]


def _verification(extension_range: ir.ExtensionRange) -> str | None:
    state = extension_range.options.get("verification")
    return state.member.name if isinstance(state, ir.EnumValue) else None


_FEATURES = ast.OptionPart("features", extension=False)
_TRUE = ast.Identifier("true")


def _own_features(written: list[ast.Option]) -> dict[str, tuple[str, Location]]:
    """The standard features that options set themselves, with where each is set:
    `features.x = V;` or `features = { x: V }`."""
    found: dict[str, tuple[str, Location]] = {}
    for option in written:
        parts, value = option.name, option.value
        if parts[0] != _FEATURES:
            continue
        if len(parts) == 2 and not parts[1].extension and isinstance(value, ast.Identifier):
            found[parts[1].name] = (value.name, option.loc)
        elif len(parts) == 1 and isinstance(value, ast.Aggregate):
            for entry in value.entries:
                if isinstance(entry.value, ast.Identifier) and not entry.extension:
                    found[entry.key] = (entry.value.name, entry.loc)
    return found


# Feature defaults: proto2 and proto3 are fixed feature sets; editions start from these.
_FEATURE_DEFAULTS = {
    ir.Syntax.PROTO2: {"field_presence": "EXPLICIT", "enum_type": "CLOSED",
                       "repeated_field_encoding": "EXPANDED", "utf8_validation": "NONE",
                       "message_encoding": "LENGTH_PREFIXED",
                       "json_format": "LEGACY_BEST_EFFORT"},
    ir.Syntax.PROTO3: {"field_presence": "IMPLICIT", "enum_type": "OPEN",
                       "repeated_field_encoding": "PACKED", "utf8_validation": "VERIFY",
                       "message_encoding": "LENGTH_PREFIXED", "json_format": "ALLOW"},
    ir.Syntax.EDITIONS: {"field_presence": "EXPLICIT", "enum_type": "OPEN",
                         "repeated_field_encoding": "PACKED", "utf8_validation": "VERIFY",
                         "message_encoding": "LENGTH_PREFIXED", "json_format": "ALLOW"},
}  # fmt: skip


class Lowering:
    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.diagnostics = loader.diagnostics
        self.files = [f for f in loader.files.values() if f is not None]
        self.by_module = {id(f.module): f for f in self.files}
        self.pending: list[_Pending] = []
        self.extension_ranges: list[tuple[ir.ExtensionRange, ast.Range]] = []
        self.extension_fields: list[tuple[ir.Field, ast.Field, str]] = []  # with full names

    def defer_options(
        self, f: _File, written: list[ast.Option], kind: str, scope: str, target: _HasOptions
    ) -> None:
        if not written:
            return
        self.pending.append(_Pending(f, written, kind, scope, target))
        if f.syntax is not ir.Syntax.EDITIONS:
            for option in written:
                if option.name[0] == _FEATURES:
                    self.diagnostics.error(
                        "features can only be set in editions files", option.loc
                    )

    def run(self) -> None:
        for f in self.files:
            self.loader.declare_file(f)
        for f in self.files:
            self.loader.visible[f.import_name] = self.loader.visible_files(f)
            self.defer_options(f, f.tree.options, "FileOptions", f.tree.package, f.module)
        # every message of every file, nested ones included, grouped by file
        structs: dict[int, list[tuple[ir.Struct, ast.Message, str]]] = {}
        for struct in self._all_structs():
            structs.setdefault(id(struct.module), []).append(
                (struct, *self.loader.ast_of[id(struct)])
            )
        every = [entry for entries in structs.values() for entry in entries]
        for struct, message, full in every:
            self.ranges(struct, message, full)
        enums = [e for f in self.files for e in f.module.enums]
        enums += [n for s, _, _ in every for n in s.nested if isinstance(n, ir.Enum)]
        for enum in enums:
            self.enum(enum, self.loader.enum_ast[id(enum)])
        for struct, message, full in every:
            self.message(self._file_of(struct), struct, message, full)
        for f in self.files:
            self.extends(f, f.tree.extends, f.tree.package, None)
            for struct, message, full in structs.get(id(f.module), []):
                self.extends(f, message.extends, full, struct)
            for service in f.tree.services:
                self.service(f, service)
        interpreter = OptionInterpreter(self.loader)
        for p in self.pending:
            p.target.options = interpreter.interpret(p.file, p.written, p.kind, p.scope)
        interpreter.check_targets()
        self.record_option_types()
        for extension_range, range_tree in self.extension_ranges:
            self.check_declarations(extension_range, range_tree)
        for extension, field_tree, full in self.extension_fields:
            self.check_declared(extension, field_tree, full)

    def record_option_types(self) -> None:
        """What options were typed against, for whoever serializes them (every module
        of the load shares one table), and each file's `import option`s."""
        types = ir.OptionTypes()
        for name, symbol in self.loader.symbols.items():
            if symbol.extension is not None:
                types.extensions[f"({name})"] = symbol.extension
        for kind in TARGETS:
            message = self.loader.symbols.get(f"google.protobuf.{kind}")
            if message is not None and isinstance(message.definition, ir.Struct):
                types.messages[kind] = message.definition
        for f in self.files:
            f.module.option_types = types
            f.module.option_imports = [
                target.import_name for imp, target in f.imports if imp.kind == "option"
            ]

    def features(
        self, f: _File, parent: ir.Struct | None, *own: list[ast.Option]
    ) -> dict[str, str]:
        """The resolved features: the syntax's defaults, overridden (editions only) by
        the file, each enclosing message outermost first, then `own` in order."""
        resolved = dict(_FEATURE_DEFAULTS[f.syntax])
        if f.syntax is not ir.Syntax.EDITIONS:
            return resolved
        chain: list[list[ast.Option]] = []
        while parent is not None:
            chain.append(self.loader.ast_of[id(parent)][0].options)
            parent = parent.parent
        for written in [f.tree.options, *reversed(chain), *own]:
            resolved.update((name, value) for name, (value, _) in _own_features(written).items())
        return resolved

    def _file_of(self, d: ir.Definition) -> _File:
        return self.by_module[id(d.module)]

    def _all_structs(self) -> list[ir.Struct]:
        found: list[ir.Struct] = []

        def walk(s: ir.Struct) -> None:
            found.append(s)
            for n in s.nested:
                if isinstance(n, ir.Struct):
                    walk(n)

        for f in self.files:
            for s in f.module.structs:
                walk(s)
        return found

    # ---- messages ------------------------------------------------------------------

    def ranges(self, struct: ir.Struct, message: ast.Message, full: str) -> None:
        message_set = any(
            o.text == "message_set_wire_format" and o.value == ast.Identifier("true")
            for o in message.options
        )
        f = self._file_of(struct)
        for r, written in message.extension_ranges:
            # A message set's extensions may use numbers up to int32's limit.
            top = _INT32[1] - 1 if message_set else MAX_FIELD_NUMBER
            end = top if r.end_is_max else r.end
            self.check_range(r, end, "extension range", top)
            extension_range = ir.ExtensionRange(r.start, end)
            struct.extension_ranges.append(extension_range)
            self.extension_ranges.append((extension_range, r))
            self.defer_options(f, written, "ExtensionRangeOptions", full, extension_range)
        for r in message.reserved_ranges:
            end = MAX_FIELD_NUMBER if r.end_is_max else r.end
            self.check_range(r, end, "reserved range", MAX_FIELD_NUMBER)
            struct.reserved_ids.append((r.start, end))
        struct.reserved_names = [name for name, _ in message.reserved_names]
        self.defer_options(f, message.options, "MessageOptions", full, struct)

    def check_range(self, r: ast.Range, end: int, what: str, top: int) -> None:
        if r.start < 1 or end > top:
            self.diagnostics.error(
                f"{what} {r.start} to {end} is outside the field numbers, 1 to {top}", r.loc
            )
        elif end < r.start:
            self.diagnostics.error(f"{what} {r.start} to {end}: the end is before the start", r.loc)

    def message(self, f: _File, struct: ir.Struct, message: ast.Message, full: str) -> None:
        oneofs: dict[int, ir.Oneof] = {}
        for oneof in message.oneofs:
            lowered = ir.Oneof(oneof.name, [], oneof.loc, oneof.doc)
            self.defer_options(f, oneof.options, "OneofOptions", full, lowered)
            oneofs[id(oneof)] = lowered
            struct.oneofs.append(lowered)
            if not oneof.fields:
                self.diagnostics.error(f"oneof \"{oneof.name}\" has no fields", oneof.loc)
        synthetic: list[ir.Oneof] = []
        numbers: dict[int, ast.Field] = {}
        json_names: dict[str, ast.Field] = {}
        json_format = self.features(f, struct.parent, message.options)["json_format"]
        for fld in message.fields:
            lowered_field = self.field(f, fld, full, struct, in_extend=False)
            if lowered_field is None:
                continue
            struct.fields.append(lowered_field)
            if fld.oneof is not None:
                group = oneofs[id(fld.oneof)]
                lowered_field.oneof = group
                group.fields.append(lowered_field)
            elif fld.label == "optional" and f.syntax is ir.Syntax.PROTO3:
                name = "_" + fld.name
                while any(o.name == name for o in [*struct.oneofs, *synthetic]) or any(
                    x.name == name for x in message.fields
                ):
                    name = "X" + name
                group = ir.Oneof(name, [lowered_field], fld.loc, synthetic=True)
                lowered_field.oneof = group
                synthetic.append(group)
            other = numbers.get(fld.number)
            if other is not None:
                self.diagnostics.error(
                    f"field number {fld.number} has already been used in \"{full}\" "
                    f"by field \"{other.name}\"",
                    fld.number_loc,
                )
            numbers.setdefault(fld.number, fld)
            for start, end in struct.reserved_ids:
                if start <= fld.number <= end:
                    self.diagnostics.error(
                        f"field \"{fld.name}\" uses reserved number {fld.number}", fld.number_loc
                    )
            for r in struct.extension_ranges:
                if fld.number in r:
                    self.diagnostics.error(
                        f"extension range {r.start} to {r.end} includes field \"{fld.name}\" "
                        f"({fld.number})",
                        fld.number_loc,
                    )
            if fld.name in struct.reserved_names:
                self.diagnostics.error(f"field name \"{fld.name}\" is reserved", fld.loc)
            json = lowered_field.json_name or fld.name
            clash = json_names.get(json)
            if clash is not None and clash.name != fld.name:
                kind = "custom" if _find(fld.options, "json_name") else "default"
                other_kind = "custom" if _find(clash.options, "json_name") else "default"
                problem = (
                    f"the {kind} JSON name of field \"{fld.name}\" (\"{json}\") conflicts "
                    f"with the {other_kind} JSON name of field \"{clash.name}\""
                )
                # only a warning where JSON mapping is best effort (proto2's default)
                if json_format == "ALLOW":
                    self.diagnostics.error(problem, fld.loc)
                else:
                    self.diagnostics.warning(problem, fld.loc)
            json_names.setdefault(json, fld)
        struct.oneofs += synthetic
        for i, (start, end) in enumerate(struct.reserved_ids):
            for start2, end2 in struct.reserved_ids[i + 1 :]:
                if start <= end2 and start2 <= end:
                    self.diagnostics.error(
                        f"reserved range {start} to {end} overlaps reserved range "
                        f"{start2} to {end2}",
                        message.reserved_ranges[i].loc,
                    )
        if message.is_group and f.syntax is ir.Syntax.PROTO3:
            self.diagnostics.error("groups are not allowed in proto3; use a message", message.loc)

    def field(
        self, f: _File, fld: ast.Field, scope: str, struct: ir.Struct | None, in_extend: bool
    ) -> ir.Field | None:
        syntax = f.syntax
        if not 1 <= fld.number <= MAX_FIELD_NUMBER:
            self.diagnostics.error(
                f"field number {fld.number} is out of range: field numbers go from 1 "
                f"to {MAX_FIELD_NUMBER}",
                fld.number_loc,
            )
        elif RESERVED_FIELD_NUMBERS[0] <= fld.number <= RESERVED_FIELD_NUMBERS[1]:
            self.diagnostics.error(
                "field numbers 19000 through 19999 are reserved for the protobuf implementation",
                fld.number_loc,
            )
        if fld.label == "required" and syntax is ir.Syntax.PROTO3:
            self.diagnostics.error("required fields are not allowed in proto3", fld.loc)
        if syntax is ir.Syntax.EDITIONS and fld.label in ("required", "optional"):
            self.diagnostics.error(
                f"label \"{fld.label}\" is not allowed in editions; use features.field_presence",
                fld.loc,
            )
        if (
            syntax is ir.Syntax.PROTO2
            and fld.label is None
            and fld.oneof is None
            and fld.map_key is None
        ):
            self.diagnostics.error(
                f"field \"{fld.name}\" needs a label in proto2: required, optional or repeated",
                fld.loc,
            )
        lowered_type = self.field_type(f, fld, scope)
        if lowered_type is None:
            return None
        value_type = lowered_type
        if fld.label == "repeated":
            lowered_type = ir.ListType(lowered_type)
        is_message = isinstance(value_type, ir.NamedType) and isinstance(
            value_type.definition, ir.Struct
        )
        features = self.features(
            f, struct, fld.oneof.options if fld.oneof is not None else [], fld.options
        )
        packed = _find(fld.options, "packed")
        if packed is not None and syntax is not ir.Syntax.EDITIONS:
            # proto2 and proto3 say it with an option; editions with the feature
            packing = "PACKED" if packed.value == _TRUE else "EXPANDED"
            features["repeated_field_encoding"] = packing
        presence_feature = features["field_presence"]
        if fld.label == "required" or presence_feature == "LEGACY_REQUIRED":
            requiredness = ir.Requiredness.REQUIRED
            presence = True
        elif fld.label == "repeated" or fld.map_key is not None:
            requiredness, presence = ir.Requiredness.DEFAULT, False
        elif syntax is ir.Syntax.PROTO3 and fld.label is None and fld.oneof is None:
            requiredness = ir.Requiredness.DEFAULT
            presence = is_message
        elif syntax is ir.Syntax.EDITIONS and fld.oneof is None:
            presence = presence_feature != "IMPLICIT" or is_message
            requiredness = ir.Requiredness.OPTIONAL if presence else ir.Requiredness.DEFAULT
        else:
            requiredness, presence = ir.Requiredness.OPTIONAL, True
        explicit_json = _find(fld.options, "json_name")
        json = json_name(fld.name)
        if explicit_json is not None:
            if isinstance(explicit_json.value, bytes):
                json = explicit_json.value.decode("utf-8", "replace")
            else:
                self.diagnostics.error("json_name takes a quoted string", explicit_json.value_loc)
        lowered = ir.Field(
            fld.number, fld.name, lowered_type, requiredness, loc=fld.loc, doc=fld.doc,
            json_name=json,
            explicit_presence=presence,
            proto3_optional=syntax is ir.Syntax.PROTO3 and fld.label == "optional",
            delimited=fld.group is not None or (
                is_message and fld.map_key is None
                and features["message_encoding"] == "DELIMITED"
            ),
            features=features,
        )  # fmt: skip
        if explicit_json is not None and in_extend:
            self.diagnostics.error("extensions cannot have a json_name option", explicit_json.loc)
        elif explicit_json is not None and json.startswith("[") and json.endswith("]"):
            self.diagnostics.error(
                f"the JSON name \"{json}\" of field \"{fld.name}\" is not allowed: JSON "
                "names may not start with '[' and end with ']'",
                fld.loc,
            )
        default = _find(fld.options, "default")
        if default is not None:
            lowered.default = self.default(f, fld, value_type, default)
        self.check_field_options(f, fld, value_type, features, in_extend)
        # `default` and `json_name` are fields of the field itself, not options
        written = [o for o in fld.options if o.text not in ("default", "json_name")]
        self.defer_options(f, written, "FieldOptions", scope, lowered)
        return lowered

    def check_field_options(
        self, f: _File, fld: ast.Field, value_type: ir.Type, features: dict[str, str],
        in_extend: bool,
    ) -> None:  # fmt: skip
        """The options and features that only some kinds of field may set."""
        repeated = fld.label == "repeated" or fld.map_key is not None
        definition = value_type.definition if isinstance(value_type, ir.NamedType) else None
        is_message = isinstance(definition, ir.Struct) and fld.map_key is None
        kind = value_type.kind if isinstance(value_type, ir.BaseType) else None
        packable = repeated and fld.map_key is None and (
            isinstance(definition, ir.Enum)
            or kind not in (None, ir.BaseKind.STRING, ir.BaseKind.BINARY)
        )
        problems: list[tuple[str, Location]] = []
        map_value = value_type.value if isinstance(value_type, ir.MapType) else None
        if isinstance(map_value, ir.NamedType) and isinstance(map_value.definition, ir.Enum):
            members = map_value.definition.members
            if members and members[0].value != 0:  # a missing value must decode to it
                problems.append((f"a map's enum values need 0 as the first value, and "
                                 f"\"{map_value.definition.full_name}\" starts with "
                                 f"{members[0].value}", fld.type_loc))  # fmt: skip
        packed = _find(fld.options, "packed")
        if packed is not None and f.syntax is ir.Syntax.EDITIONS:
            problems.append(("the packed option is not allowed in editions; use "
                             "features.repeated_field_encoding", fld.loc))  # fmt: skip
        elif packed is not None and packed.value == _TRUE and not packable:
            problems.append(("packed can only be set on repeated fields of numeric or enum "
                             "types", fld.type_loc))  # fmt: skip
        for name in ("lazy", "unverified_lazy"):
            lazy = _find(fld.options, name)
            if lazy is not None and lazy.value == _TRUE and not is_message:
                problems.append((f"{name} can only be set on message fields", fld.type_loc))
        ctype = _find(fld.options, "ctype")
        if ctype is not None and (f.module.edition or "") >= "2024":
            problems.append(("ctype is not allowed from edition 2024 on; use "
                             "features.(pb.cpp).string_type", fld.type_loc))  # fmt: skip
        own = _own_features(fld.options)
        presence = own.get("field_presence")
        if presence is not None:
            where = (
                "repeated fields" if repeated else "fields in a oneof" if fld.oneof
                else "extensions" if in_extend else None
            )  # fmt: skip
            if where is not None:
                problems.append((f"{where} cannot set features.field_presence", fld.loc))
            elif is_message and presence[0] == "IMPLICIT":
                problems.append(("message fields cannot have implicit presence", fld.loc))
        implicit = (
            features["field_presence"] == "IMPLICIT" and f.syntax is ir.Syntax.EDITIONS
            and not repeated and not is_message and fld.oneof is None and not in_extend
        )  # fmt: skip
        if implicit and _find(fld.options, "default") is not None:
            problems.append(("fields with implicit presence cannot have a default value",
                             fld.loc))  # fmt: skip
        if implicit and isinstance(definition, ir.Enum) and definition.closed:
            problems.append((f"fields with implicit presence need an open enum, and "
                             f"\"{definition.full_name}\" is closed", fld.loc))  # fmt: skip
        if "message_encoding" in own and not is_message:
            problems.append(("only message fields can set features.message_encoding",
                             fld.loc))  # fmt: skip
        encoding = own.get("repeated_field_encoding")
        if encoding is not None and not repeated:
            problems.append(("only repeated fields can set features.repeated_field_encoding",
                             fld.loc))  # fmt: skip
        elif encoding is not None and encoding[0] == "PACKED" and not packable:
            problems.append(("only repeated fields of numeric or enum types can be PACKED",
                             fld.loc))  # fmt: skip
        if "utf8_validation" in own and kind is not ir.BaseKind.STRING:
            problems.append(("only string fields can set features.utf8_validation", fld.loc))
        for message, loc in problems:
            self.diagnostics.error(message, loc)

    def field_type(self, f: _File, fld: ast.Field, scope: str) -> ir.Type | None:
        if fld.group is not None:
            group = f"{scope}.{fld.group.name}" if scope else fld.group.name
            symbol = self.loader.symbols.get(group)
            assert symbol is not None and isinstance(symbol.definition, ir.Struct)
            return ir.NamedType(symbol.definition)
        value = self.named_or_scalar(f, fld.type_name, scope, fld.type_loc)
        if value is None or fld.map_key is None:
            return value
        if fld.map_key not in MAP_KEY_KINDS:
            self.diagnostics.error(
                f"map key type must be an integer, bool or string type, not \"{fld.map_key}\"",
                fld.type_loc,
            )
            return None
        if fld.label is not None:
            self.diagnostics.error("map fields cannot have a label", fld.loc)
        return ir.MapType(ir.BaseType(SCALARS[fld.map_key]), value)

    def named_or_scalar(self, f: _File, name: str, scope: str, loc: Location) -> ir.Type | None:
        kind = SCALARS.get(name)
        if kind is not None:
            return ir.BaseType(kind)
        symbol = self.loader.lookup(f, name, scope, loc)
        if symbol is None:
            return None
        assert isinstance(symbol.definition, ir.Struct | ir.Enum)
        return ir.NamedType(symbol.definition)

    def default(
        self, f: _File, fld: ast.Field, value_type: ir.Type, option: ast.Option
    ) -> ir.Value | None:
        if f.syntax is ir.Syntax.PROTO3:
            self.diagnostics.error("explicit default values are not allowed in proto3", option.loc)
            return None
        if fld.label == "repeated":
            self.diagnostics.error("repeated fields cannot have default values", option.loc)
            return None
        if isinstance(value_type, ir.NamedType) and isinstance(value_type.definition, ir.Struct):
            self.diagnostics.error("message fields cannot have default values", option.loc)
            return None
        value: ir.Value | None = typed_value(
            self.diagnostics, value_type, option.value, option.value_loc, "the default value",
            in_aggregate=False,
        )  # fmt: skip
        return value

    def extends(
        self, f: _File, extends: list[ast.Extend], scope: str, parent: ir.Struct | None
    ) -> None:
        for extend in extends:
            symbol = self.loader.lookup(f, extend.extendee, scope, extend.loc)
            if symbol is None:
                continue
            extendee = symbol.definition
            if not isinstance(extendee, ir.Struct):
                self.diagnostics.error(f"\"{extend.extendee}\" is not a message", extend.loc)
                continue
            for fld in extend.fields:
                lowered = self.field(f, fld, scope, parent, in_extend=True)
                if lowered is None:
                    continue
                lowered.extendee = extendee
                lowered.extension_scope = parent
                if not any(fld.number in r for r in extendee.extension_ranges):
                    self.diagnostics.error(
                        f"\"{extendee.full_name}\" does not declare {fld.number} as an "
                        "extension number",
                        fld.number_loc,
                    )
                full = f"{scope}.{fld.name}" if scope else fld.name
                self.loader.define(full, _Symbol("extension", f, fld.loc, extension=lowered))
                self.extension_fields.append((lowered, fld, full))
                if parent is not None:
                    parent.extensions.append(lowered)
                else:
                    f.module.extensions.append(lowered)

    def check_declarations(self, extension_range: ir.ExtensionRange, tree: ast.Range) -> None:
        """An extension range's declarations are well-formed."""
        declarations = _declarations(extension_range)
        if declarations and _verification(extension_range) == "UNVERIFIED":
            self.diagnostics.error(
                "an extension range with declarations cannot be UNVERIFIED", tree.loc
            )
        numbers: set[int] = set()
        names: set[str] = set()
        for d in declarations:
            number, name = d.get("number"), d.get("full_name")
            problem = None
            if not isinstance(number, int) or number not in extension_range:
                problem = f"extension declaration number {number!s} is not in the range"
            elif number in numbers:
                problem = f"extension number {number} is declared more than once"
            elif d.get("reserved") is not True and ("full_name" not in d or "type" not in d):
                problem = (f"the declaration of extension number {number} needs a full_name "
                           "and a type")  # fmt: skip
            elif isinstance(name, str) and not name.startswith("."):
                problem = (f"declared extension name \"{name}\" needs a leading dot: it is "
                           "fully qualified")  # fmt: skip
            elif isinstance(name, str) and name in names:
                problem = f"extension name \"{name}\" is declared more than once"
            if problem is not None:
                self.diagnostics.error(problem, tree.loc)
            if isinstance(number, int):
                numbers.add(number)
            if isinstance(name, str):
                names.add(name)

    def check_declared(self, lowered: ir.Field, tree: ast.Field, full: str) -> None:
        """An extension matches its declaration, where its range declares them."""
        extendee = lowered.extendee
        assert extendee is not None
        extension_range = next((r for r in extendee.extension_ranges if tree.number in r), None)
        if extension_range is None:
            return
        declarations = _declarations(extension_range)
        if not declarations and _verification(extension_range) != "DECLARATION":
            return
        declared = next((d for d in declarations if d.get("number") == tree.number), None)
        where = f"\"{extendee.full_name}\""
        if declared is None:
            self.diagnostics.error(
                f"{where} declares its extensions, and none with number {tree.number}",
                tree.number_loc,
            )
            return
        if declared.get("reserved") is True:
            self.diagnostics.error(
                f"extension number {tree.number} of {where} is declared reserved",
                tree.number_loc,
            )
            return
        repeated = isinstance(lowered.type, ir.ListType)
        element = lowered.type.element if isinstance(lowered.type, ir.ListType) else lowered.type
        type_name = (
            "." + element.definition.full_name if isinstance(element, ir.NamedType)
            else tree.type_name
        )  # fmt: skip
        declared_name, declared_type = declared.get("full_name"), declared.get("type")
        if declared_name != "." + full:
            self.diagnostics.error(
                f"extension number {tree.number} of {where} is declared as "
                f"\"{declared_name!s}\", not \".{full}\"",
                tree.loc,
            )
        elif declared_type != type_name:
            self.diagnostics.error(
                f"extension \".{full}\" is declared with type \"{declared_type!s}\", "
                f"not \"{type_name}\"",
                tree.type_loc,
            )
        elif (declared.get("repeated") is True) != repeated:
            self.diagnostics.error(
                f"extension \".{full}\" is declared "
                + ("repeated" if declared.get("repeated") is True else "not repeated"),
                tree.loc,
            )

    # ---- enums ------------------------------------------------------------------------

    def enum(self, enum: ir.Enum, tree: ast.Enum) -> None:
        f = self._file_of(enum)
        self.defer_options(f, tree.options, "EnumOptions", enum.full_name, enum)
        enum.closed = self.features(f, enum.parent, tree.options)["enum_type"] == "CLOSED"
        enum.reserved_ids = [
            (r.start, _INT32[1] if r.end_is_max else r.end) for r in tree.reserved_ranges
        ]
        enum.reserved_names = [name for name, _ in tree.reserved_names]
        if not tree.values:
            self.diagnostics.error(f"enum \"{tree.name}\" must have at least one value", tree.loc)
            return
        if not enum.closed and tree.values[0].number != 0:
            self.diagnostics.error(
                "the first value of an open enum must be zero", tree.values[0].number_loc
            )
        alias_option = _find(tree.options, "allow_alias")
        allow_alias = alias_option is not None and alias_option.value == ast.Identifier("true")
        seen: dict[int, ast.EnumValue] = {}
        for value, member in zip(tree.values, enum.members, strict=True):
            self.defer_options(f, value.options, "EnumValueOptions", enum.full_name, member)
            if not _INT32[0] <= value.number <= _INT32[1]:
                self.diagnostics.error(
                    f"enum value {value.number} is out of range for int32", value.number_loc
                )
            first = seen.get(value.number)
            if first is not None and not allow_alias:
                self.diagnostics.error(
                    f"\"{value.name}\" uses the same number as \"{first.name}\" "
                    f"({value.number}); set option allow_alias = true to allow aliases",
                    value.number_loc,
                )
            seen.setdefault(value.number, value)
            for r in tree.reserved_ranges:
                end = _INT32[1] if r.end_is_max else r.end
                if r.start <= value.number <= end:
                    self.diagnostics.error(
                        f"enum value \"{value.name}\" uses reserved number {value.number}",
                        value.number_loc,
                    )
            if value.name in [n for n, _ in tree.reserved_names]:
                self.diagnostics.error(f"enum value name \"{value.name}\" is reserved", value.loc)
        if allow_alias and len(seen) == len(tree.values):
            self.diagnostics.error(
                f"enum \"{tree.name}\" sets allow_alias but has no aliases", tree.loc
            )

    # ---- services ---------------------------------------------------------------------

    def service(self, f: _File, tree: ast.Service) -> None:
        symbol = self.loader.symbols[
            f"{f.tree.package}.{tree.name}" if f.tree.package else tree.name
        ]
        service = symbol.definition
        if symbol.loc is not tree.loc or not isinstance(service, ir.Service):
            return  # its name is another definition's too: reported when declared
        self.defer_options(f, tree.options, "ServiceOptions", service.full_name, service)
        names: set[str] = set()
        for method in tree.methods:
            if method.name in names:
                self.diagnostics.error(
                    f"\"{method.name}\" is already defined in service \"{tree.name}\"", method.loc
                )
            names.add(method.name)
            lowered = ir.Method(
                method.name, service, loc=method.loc, doc=method.doc,
                client_streaming=method.client_streaming,
                server_streaming=method.server_streaming, body=method.body,
            )  # fmt: skip
            self.defer_options(f, method.options, "MethodOptions", service.full_name, lowered)
            for type_name, loc, is_input in (
                (method.input_type, method.input_loc, True),
                (method.output_type, method.output_loc, False),
            ):
                if type_name in SCALARS:  # as in protoc: a scalar's name is never a type name here
                    self.diagnostics.error(
                        f"expected a message type, found the scalar type \"{type_name}\"", loc
                    )
                    continue
                # As protoc: looked up from the method, any symbol (a method too) may answer.
                found = self.loader.lookup(f, type_name, service.full_name, loc, types_only=False)
                if found is None:
                    continue
                if not isinstance(found.definition, ir.Struct):
                    self.diagnostics.error(f"\"{type_name}\" is not a message type", loc)
                    continue
                named = ir.NamedType(found.definition)
                if is_input:
                    lowered.args = [ir.Field(1, "request", named)]
                else:
                    lowered.result = named
            service.methods.append(lowered)
