"""Thrift AST → IR: resolve names across includes, evaluate constants, check.

Lowering runs in passes over all files at once, so definitions may be used
before they appear and across includes:

1. declare every definition (and enum members, whose values need no lookup);
2. link each module to the modules it includes, by program name (the file name
   without `.thrift`, dots kept, as in Apache);
3. resolve types: typedef targets, fields, method signatures, `extends`;
4. evaluate constants (lazily, following references, catching cycles), then
   field defaults, each checked against its declared type;
5. checks that need the whole picture (service inheritance).

Problems go to `Diagnostics`; lowering never stops at the first one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pilota import ir
from pilota.diagnostics import Diagnostics, Location, closest
from pilota.thrift import ast

if TYPE_CHECKING:
    from pilota.thrift.loader import ParsedFile

_INT64 = (-(2**63), 2**63 - 1)
_I32 = ir.INTEGER_RANGES[ir.BaseKind.I32]
_FIELD_ID_MAX = 2**15 - 1

_BASE_KINDS = {
    "bool": ir.BaseKind.BOOL,
    "byte": ir.BaseKind.I8,
    "i8": ir.BaseKind.I8,
    "i16": ir.BaseKind.I16,
    "i32": ir.BaseKind.I32,
    "i64": ir.BaseKind.I64,
    "double": ir.BaseKind.DOUBLE,
    "string": ir.BaseKind.STRING,
    "slist": ir.BaseKind.STRING,
    "binary": ir.BaseKind.BINARY,
    "uuid": ir.BaseKind.UUID,
}

# The base types as written today (`byte` and `slist` are deprecated spellings).
_BASE_TYPE_NAMES = [name for name in _BASE_KINDS if name not in ("byte", "slist")]

_Named = TypeVar("_Named", ir.Definition, ir.EnumMember, ir.Field, ir.Method)

# Stands in for a type that failed to resolve (already reported): values
# checked against it are skipped, so one mistake gives one error.
_UNRESOLVED = ir.BaseType(ir.BaseKind.STRING, (ir.Annotation("pilota.unresolved", None),))


@dataclass
class _Scope:
    """A module while it is being lowered: its AST and the modules it can name."""

    module: ir.Module
    document: ast.Document
    includes: dict[str, ir.Module] = field(default_factory=dict)  # by program name


@dataclass(frozen=True, eq=False)
class _UseSite:
    """Where a value is being evaluated: a constant, or a field with a default."""

    module: ir.Module
    loc: Location
    what: str  # "constant 'X'", "the default of field 'a' in struct 'S'"


@dataclass
class _Pending:
    """AST kept beside each IR definition until the later passes have used it."""

    typedefs: list[tuple[_Scope, ir.Typedef, ast.TypeRef]] = field(default_factory=list)
    consts: dict[ir.Const, tuple[_Scope, ast.Const]] = field(default_factory=dict)
    structs: list[tuple[_Scope, ir.Struct, ast.Struct]] = field(default_factory=list)
    services: list[tuple[_Scope, ir.Service, ast.Service]] = field(default_factory=list)
    defaults: list[tuple[_Scope, ir.Field, ast.ConstValue, str]] = field(default_factory=list)
    # fields given a default in the IDL (constants are evaluated before defaults are)
    with_default: set[ir.Field] = field(default_factory=set)


def lower_documents(files: Sequence[ParsedFile], diagnostics: Diagnostics) -> dict[Path, ir.Module]:
    """Lower every parsed file; the result maps each file's real path to its module."""
    return _Lowering(diagnostics).run(files)


def type_name(t: ir.Type) -> str:
    """A type as IDL would spell it, for messages."""
    if isinstance(t, ir.BaseType):
        return t.kind.value
    if isinstance(t, ir.ListType):
        return f"list<{type_name(t.element)}>"
    if isinstance(t, ir.SetType):
        return f"set<{type_name(t.element)}>"
    if isinstance(t, ir.MapType):
        return f"map<{type_name(t.key)}, {type_name(t.value)}>"
    definition = t.definition
    if isinstance(definition, ir.Typedef):
        return f"'{definition.name}' ({type_name(definition.type)})"
    kind = definition.kind.value if isinstance(definition, ir.Struct) else "enum"
    return f"{kind} '{definition.name}'"


def same_type(
    a: ir.Type, b: ir.Type, unalias: Callable[[ir.Type], ir.Type] = ir.unalias
) -> bool:
    a, b = unalias(a), unalias(b)
    if isinstance(a, ir.BaseType) and isinstance(b, ir.BaseType):
        return a.kind is b.kind
    if isinstance(a, ir.ListType) and isinstance(b, ir.ListType):
        return same_type(a.element, b.element, unalias)
    if isinstance(a, ir.SetType) and isinstance(b, ir.SetType):
        return same_type(a.element, b.element, unalias)
    if isinstance(a, ir.MapType) and isinstance(b, ir.MapType):
        return same_type(a.key, b.key, unalias) and same_type(a.value, b.value, unalias)
    if isinstance(a, ir.NamedType) and isinstance(b, ir.NamedType):
        return a.definition is b.definition
    return False


def cycle_text(names: list[str], shown: int = 8) -> str:
    """`A -> B -> A`; a long cycle with the middle left out, so the sentence stays short."""
    if len(names) > shown:
        left_out = len(names) - shown
        names = [*names[: shown // 2], f"... ({left_out:,} more)", *names[-shown // 2 :]]
    return " -> ".join(names)


def _describe(node: ast.ConstValue) -> str:
    if isinstance(node, ast.IntLiteral):
        return f"integer {node.text}"
    if isinstance(node, ast.DoubleLiteral):
        return f"number {node.text}"
    if isinstance(node, ast.StringLiteral):
        return f"string {node.value!r}"
    if isinstance(node, ast.Identifier):
        return f"'{node.name}'"
    if isinstance(node, ast.ListLiteral):
        return "a list"
    return "a map"


def _annotations(nodes: Iterable[ast.Annotation]) -> ir.Annotations:
    return tuple(ir.Annotation(a.name, a.value) for a in nodes)


class _Lowering:
    def __init__(self, diagnostics: Diagnostics) -> None:
        self.diag = diagnostics
        self.pending = _Pending()
        self.const_state: dict[ir.Const, bool] = {}  # False: evaluating, True: done
        self.const_stack: list[ir.Const] = []
        self.const_failed: set[ir.Const] = set()
        self.use_site: _UseSite | None = None
        self.declared_later: set[tuple[_UseSite, ir.Definition]] = set()  # each reported once
        self.cut: set[int] = set()  # id() of each name of a constant that closes a cycle
        # Once typedef cycles are broken: where each typedef leads, and the latest
        # declaration on its way within its module (see `value`), each found once.
        self.unalias = ir.Unaliaser()
        self.latest_on_the_way: dict[ir.Definition, tuple[int, int]] = {}
        self.member_tables: dict[ir.Enum, dict[str, ir.EnumMember]] = {}

    def run(self, files: Sequence[ParsedFile]) -> dict[Path, ir.Module]:
        scopes = {f.real_path: self.declare(f) for f in files}
        for f in files:
            self.link(scopes[f.real_path], [(inc, scopes[target]) for inc, target in f.includes])
        pending = self.pending
        for scope, typedef, type_ref in pending.typedefs:
            typedef.type = self.resolve_type(scope, type_ref)
        self.check_typedef_cycles()
        for const, (scope, const_node) in pending.consts.items():
            const.type = self.resolve_type(scope, const_node.type)
        for scope, struct, struct_node in pending.structs:
            owner = f"{struct_node.kind} '{struct_node.name}'"
            struct.fields = self.fields(scope, struct_node.fields, owner, struct_node.kind)
        for scope, service, service_node in pending.services:
            self.service(scope, service, service_node)
        for const in self.const_order():
            self.const_value(const)
        for scope, fld, value_node, owner in pending.defaults:
            where = f"the default of field '{fld.name}' in {owner}"
            assert fld.loc is not None
            self.use_site = _UseSite(scope.module, fld.loc, where)
            default = self.value(scope, value_node, fld.type, where)
            if default is not None:
                fld.default = default
        self.use_site = None
        self.check_inheritance([service for _, service, _ in pending.services])
        return {path: scope.module for path, scope in scopes.items()}

    # ---- pass 1: declarations ---------------------------------------------------------

    def declare(self, parsed: ParsedFile) -> _Scope:
        doc = parsed.document
        module = ir.Module(path=parsed.shown_path, name=parsed.real_path.stem, doc=doc.doc)
        module.cpp_includes = [c.path for c in doc.cpp_includes]
        for ns in doc.namespaces:
            module.namespaces[ns.scope] = ir.Namespace(
                ns.scope, ns.name, _annotations(ns.annotations)
            )
        scope = _Scope(module, doc)
        for node in doc.definitions:
            definition = self.declare_one(scope, node)
            self.check_simple_name(node.name, node.loc)
            self.claim_name(module.definitions, definition, f"'{node.name}' is already defined")
        return scope

    def declare_one(self, scope: _Scope, node: ast.Definition) -> ir.Definition:
        module = scope.module
        if isinstance(node, ast.Typedef):
            typedef = ir.Typedef(
                node.name, module, node.loc, node.doc, _annotations(node.annotations)
            )
            self.pending.typedefs.append((scope, typedef, node.type))
            return typedef
        if isinstance(node, ast.Senum):
            self.diag.warning("'senum' is deprecated; use 'string' or an enum", node.keyword_loc)
            return ir.Typedef(
                node.name,
                module,
                node.loc,
                node.doc,
                _annotations(node.annotations),
                type=ir.BaseType(ir.BaseKind.STRING),
            )
        if isinstance(node, ast.Const):
            const = ir.Const(node.name, module, node.loc, node.doc, _annotations(node.annotations))
            self.pending.consts[const] = (scope, node)
            return const
        if isinstance(node, ast.Enum):
            enum = ir.Enum(node.name, module, node.loc, node.doc, _annotations(node.annotations))
            self.enum_members(enum, node)
            return enum
        if isinstance(node, ast.Struct):
            struct = ir.Struct(
                node.name,
                module,
                node.loc,
                node.doc,
                _annotations(node.annotations),
                kind=ir.StructKind(node.kind),
            )
            self.pending.structs.append((scope, struct, node))
            return struct
        service = ir.Service(node.name, module, node.loc, node.doc, _annotations(node.annotations))
        self.pending.services.append((scope, service, node))
        return service

    def enum_members(self, enum: ir.Enum, node: ast.Enum) -> None:
        # Two names may share a number (aliases), as Apache allows.
        names: dict[str, ir.EnumMember] = {}
        previous = -1
        for value_node in node.values:
            self.check_simple_name(value_node.name, value_node.loc)
            if value_node.value is None:
                number = previous + 1
                if number > _I32[1]:
                    self.diag.error(
                        f"implicit value of '{enum.name}.{value_node.name}' overflows i32",
                        value_node.loc,
                    )
            else:
                number = value_node.value.value
                if not _I32[0] <= number <= _I32[1]:
                    self.diag.error(
                        f"value {value_node.value.text} of '{enum.name}.{value_node.name}' is out "
                        f"of the i32 range ({_I32[0]} to {_I32[1]}); "
                        "enum values are i32 on the wire",
                        value_node.value.loc,
                    )
            previous = number
            member = ir.EnumMember(
                value_node.name,
                number,
                enum,
                loc=value_node.loc,
                doc=value_node.doc,
                annotations=_annotations(value_node.annotations),
                implicit=value_node.value is None,
            )
            duplicate = f"duplicate value name '{value_node.name}' in enum '{enum.name}'"
            if self.claim_name(names, member, duplicate):
                enum.members.append(member)

    def claim_name(self, taken: dict[str, _Named], item: _Named, duplicate: str) -> bool:
        """Record `item` under its name; if the name is taken, report `duplicate`."""
        first = taken.get(item.name)
        if first is not None:
            self.diag.error(f"{duplicate} (first at {first.loc})", item.loc)
            return False
        taken[item.name] = item
        return True

    def check_simple_name(self, name: str, loc: Location) -> None:
        if "." in name:
            self.diag.error(f"name '{name}' must not contain '.'", loc)

    # ---- pass 2: includes -----------------------------------------------------------

    def link(self, scope: _Scope, includes: list[tuple[ast.Include, _Scope]]) -> None:
        for node, target in includes:
            alias = target.module.name
            known = scope.includes.get(alias)
            if known is not None and known is not target.module:
                self.diag.error(
                    f"'{node.path}' and '{known.path}' are both included as '{alias}'; "
                    "included files must have distinct names",
                    node.loc,
                )
                continue
            if known is None:
                scope.includes[alias] = target.module
                scope.module.includes.append(ir.Include(target.module, node.loc))

    # ---- name lookup ------------------------------------------------------------------

    def lookup(self, scope: _Scope, name: str) -> ir.Definition | None:
        found = scope.module.definitions.get(name)
        if found is not None:
            return found
        # A program is named after its file, dots and all (`a.b.thrift` is `a.b`),
        # and definition names have none: the alias is all before the last dot.
        alias, dot, rest = name.rpartition(".")
        if dot:
            included = scope.includes.get(alias)
            if included is not None:
                return included.definitions.get(rest)
        return None

    def visible_names(self, scope: _Scope, kinds: tuple[type, ...]) -> list[str]:
        names = [n for n, d in scope.module.definitions.items() if isinstance(d, kinds)]
        for alias, module in scope.includes.items():
            names += [f"{alias}.{n}" for n, d in module.definitions.items() if isinstance(d, kinds)]
        return names

    # ---- pass 3: types --------------------------------------------------------------

    def resolve_type(self, scope: _Scope, node: ast.TypeRef) -> ir.Type:
        if isinstance(node, ast.BaseTypeRef):
            if node.name == "slist":
                self.diag.warning("'slist' is deprecated; use 'string'", node.loc)
            return ir.BaseType(_BASE_KINDS[node.name], _annotations(node.annotations))
        if isinstance(node, ast.ListTypeRef):
            return ir.ListType(
                self.resolve_type(scope, node.element), _annotations(node.annotations)
            )
        if isinstance(node, ast.SetTypeRef):
            return ir.SetType(
                self.resolve_type(scope, node.element), _annotations(node.annotations)
            )
        if isinstance(node, ast.MapTypeRef):
            return ir.MapType(
                self.resolve_type(scope, node.key),
                self.resolve_type(scope, node.value),
                _annotations(node.annotations),
            )
        found = self.lookup(scope, node.name)
        if isinstance(found, ir.Struct | ir.Enum | ir.Typedef):
            return ir.NamedType(found, _annotations(node.annotations))
        if found is not None:
            what = "a constant" if isinstance(found, ir.Const) else "a service"
            self.diag.error(f"'{node.name}' is {what}, not a type", node.loc)
        else:
            candidates = partial(self.visible_names, scope, (ir.Struct, ir.Enum, ir.Typedef))
            # a misspelt base type (`strin`) reads as the name of a type
            hint = self.diag.suggestion(node.name, lambda: [*candidates(), *_BASE_TYPE_NAMES])
            self.diag.error(f"unknown type '{node.name}'{hint}", node.loc)
        return _UNRESOLVED

    def check_typedef_cycles(self) -> None:
        """Report each cycle of typedefs once, at its first typedef (which is then
        unresolved, so that later passes end). Each typedef is walked once."""
        order = {typedef: i for i, (_, typedef, _) in enumerate(self.pending.typedefs)}
        done: set[ir.Typedef] = set()
        for _, typedef, _ in self.pending.typedefs:
            path: list[ir.Typedef] = []
            on_path: set[ir.Typedef] = set()
            current: ir.Typedef | None = typedef
            while current is not None and current not in done:
                if current in on_path:
                    cycle = path[path.index(current) :]
                    first = min(cycle, key=order.__getitem__)
                    at = cycle.index(first)
                    names = cycle_text([t.name for t in [*cycle[at:], *cycle[:at], first]])
                    self.diag.error(f"typedef cycle: {names}", first.loc)
                    first.type = _UNRESOLVED
                    break
                path.append(current)
                on_path.add(current)
                target = current.type
                named = target.definition if isinstance(target, ir.NamedType) else None
                current = named if isinstance(named, ir.Typedef) else None
            done.update(path)

    def fields(
        self, scope: _Scope, nodes: list[ast.Field], owner: str, kind: str
    ) -> list[ir.Field]:
        """Lower a field list: struct fields, method arguments or a throws clause."""
        result: list[ir.Field] = []
        by_id: dict[int, ir.Field] = {}
        by_name: dict[str, ir.Field] = {}
        next_implicit = -1
        for node in nodes:
            self.check_simple_name(node.name, node.loc)
            implicit = node.id is None or node.id <= 0
            if node.id is None:
                field_id = next_implicit
                self.diag.warning(
                    f"field '{node.name}' of {owner} has no id; assigned {field_id} "
                    "(implicit ids break compatibility when fields change)",
                    node.loc,
                )
            elif node.id <= 0:
                field_id = next_implicit
                self.diag.warning(
                    f"field id {node.id} of '{node.name}' is not positive; assigned {field_id}",
                    node.id_loc,
                )
            else:
                field_id = node.id
                if field_id > _FIELD_ID_MAX:
                    self.diag.error(
                        f"field id {field_id} of '{node.name}' is out of range: "
                        f"ids are 1 to {_FIELD_ID_MAX}",
                        node.id_loc,
                    )
            if implicit:
                next_implicit -= 1
            requiredness = self.requiredness(node, owner, kind)
            fld = ir.Field(
                id=field_id,
                name=node.name,
                type=self.resolve_type(scope, node.type),
                requiredness=requiredness,
                loc=node.loc,
                doc=node.doc,
                annotations=_annotations(node.annotations),
                implicit_id=implicit,
                reference=node.reference,
            )
            if node.default is not None:
                self.pending.defaults.append((scope, fld, node.default, owner))
                self.pending.with_default.add(fld)
            if field_id in by_id:
                self.diag.error(
                    f"duplicate field id {field_id} in {owner}: "
                    f"'{node.name}' and '{by_id[field_id].name}' both use it",
                    node.id_loc or node.loc,
                )
                continue
            if self.claim_name(by_name, fld, f"duplicate field name '{node.name}' in {owner}"):
                by_id[field_id] = fld
                result.append(fld)
        return result

    def requiredness(self, node: ast.Field, owner: str, kind: str) -> ir.Requiredness:
        if node.requiredness is None:
            return ir.Requiredness.DEFAULT
        if kind == "args" and node.requiredness == "optional":
            self.diag.warning("'optional' is ignored in argument lists", node.loc)
            return ir.Requiredness.DEFAULT
        if kind == "union" and node.requiredness == "required":
            self.diag.warning(
                f"field '{node.name}' of {owner} cannot be required; it is treated as optional",
                node.loc,
            )
            return ir.Requiredness.OPTIONAL
        return ir.Requiredness(node.requiredness)

    def service(self, scope: _Scope, service: ir.Service, node: ast.Service) -> None:
        if node.extends is not None:
            base = self.lookup(scope, node.extends.name)
            if isinstance(base, ir.Service):
                service.extends = base
            elif base is None:
                services = partial(self.visible_names, scope, (ir.Service,))
                hint = self.diag.suggestion(node.extends.name, services)
                self.diag.error(f"unknown service '{node.extends.name}'{hint}", node.extends.loc)
            else:
                kind = (
                    base.kind.value if isinstance(base, ir.Struct) else type(base).__name__.lower()
                )
                self.diag.error(
                    f"service '{service.name}' cannot extend '{node.extends.name}': "
                    f"it is a {kind}, not a service",
                    node.extends.loc,
                )
        names: dict[str, ir.Method] = {}
        for fn in node.functions:
            self.check_simple_name(fn.name, fn.loc)
            where = f"method '{service.name}.{fn.name}'"
            method = ir.Method(
                fn.name,
                service,
                args=self.fields(scope, fn.args, f"the arguments of {where}", "args"),
                result=self.resolve_type(scope, fn.return_type) if fn.return_type else None,
                throws=self.fields(scope, fn.throws, f"the throws clause of {where}", "throws"),
                oneway=fn.oneway,
                loc=fn.loc,
                doc=fn.doc,
                annotations=_annotations(fn.annotations),
            )
            self.check_throws(method, fn)
            if fn.oneway:
                if fn.oneway_keyword == "async":
                    self.diag.warning("'async' is deprecated; use 'oneway'", fn.oneway_loc)
                if method.result is not None:
                    self.diag.error(f"oneway method '{fn.name}' must return void", fn.loc)
                if method.throws:
                    self.diag.error(f"oneway method '{fn.name}' cannot throw exceptions", fn.loc)
            duplicate = f"duplicate method '{fn.name}' in service '{service.name}'"
            if self.claim_name(names, method, duplicate):
                service.methods.append(method)

    def check_throws(self, method: ir.Method, node: ast.Function) -> None:
        for fld, fld_node in zip(method.throws, node.throws, strict=False):
            target = self.unalias(fld.type)
            if target is _UNRESOLVED:
                continue
            if isinstance(target, ir.NamedType) and isinstance(target.definition, ir.Struct):
                if not target.definition.is_exception:
                    # Pilota accepts a struct here; Apache does not. Accept it, but warn.
                    self.diag.warning(
                        f"'{fld.name}' in the throws clause of method "
                        f"'{method.service.name}.{method.name}' is struct "
                        f"'{target.definition.name}', not an exception; Apache Thrift rejects this",
                        fld_node.type.loc,
                    )
                continue
            self.diag.error(
                f"'{fld.name}' in the throws clause of method "
                f"'{method.service.name}.{method.name}' has type {type_name(target)}; "
                "only exceptions can be thrown",
                fld_node.type.loc,
            )

    # ---- pass 4: values -------------------------------------------------------------

    def const_order(self) -> list[ir.Const]:
        """The constants in an order that evaluates each after the constants it
        names, so that evaluating one never nests into another (a chain of
        thousands costs no stack). References are followed as evaluation meets
        them; one that closes a cycle is reported, as evaluation would report it
        (at the constant it comes back to), and cut."""
        order: list[ir.Const] = []
        placed: set[ir.Const] = set()
        for start in self.pending.consts:
            if start in placed:
                continue
            at = {start: 0}  # the constants being followed, by depth
            stack = [(start, iter(self.const_references(start)))]
            while stack:
                const, references = stack[-1]
                reference = next(references, None)
                if reference is None:
                    stack.pop()
                    del at[const]
                    placed.add(const)
                    order.append(const)
                    continue
                name, target = reference
                if target in at:
                    path = [c.name for c, _ in stack[at[target] :]]
                    names = cycle_text([*path, target.name])
                    node = self.pending.consts[target][1]
                    self.diag.error(f"constant '{target.name}' refers to itself: {names}", node.loc)
                    self.cut.add(id(name))
                elif target not in placed:
                    at[target] = len(stack)
                    stack.append((target, iter(self.const_references(target))))
        return order

    def const_references(self, const: ir.Const) -> list[tuple[ast.Identifier, ir.Const]]:
        """The names in a constant's value that name constants, in evaluation order."""
        scope, node = self.pending.consts[const]
        found: list[tuple[ast.Identifier, ir.Const]] = []
        pending: list[ast.ConstValue] = [node.value]
        while pending:
            value = pending.pop()
            if isinstance(value, ast.Identifier):
                target = self.lookup(scope, value.name)
                if isinstance(target, ir.Const) and value.name not in ("true", "false"):
                    found.append((value, target))
            elif isinstance(value, ast.ListLiteral):
                pending += reversed(value.items)
            elif isinstance(value, ast.MapLiteral):
                for key, item in reversed(value.items):
                    pending += [item, key]
        return found

    def const_value(self, const: ir.Const) -> ir.Value | None:
        state = self.const_state.get(const)
        if state is True:
            return None if const in self.const_failed else const.value
        scope, node = self.pending.consts[const]
        if state is False:
            start = self.const_stack.index(const)
            names = " -> ".join(c.name for c in [*self.const_stack[start:], const])
            self.diag.error(f"constant '{const.name}' refers to itself: {names}", node.loc)
            self.const_failed.add(const)
            return None
        self.const_state[const] = False
        self.const_stack.append(const)
        where = f"constant '{const.name}'"
        outer, self.use_site = self.use_site, _UseSite(scope.module, node.loc, where)
        value = self.value(scope, node.value, const.type, where)
        self.use_site = outer
        self.const_stack.pop()
        self.const_state[const] = True
        if value is None:
            self.const_failed.add(const)
            return None
        const.value = value
        return value

    def value(
        self, scope: _Scope, node: ast.ConstValue, declared: ir.Type, where: str
    ) -> ir.Value | None:
        """Evaluate `node` as a value of type `declared`; None (reported) if it is not one."""
        t = self.unalias(declared)
        if t is _UNRESOLVED:
            return None
        named: ir.Type | None = declared if self.declared_later_on_the_way(declared) else None
        while isinstance(named, ir.NamedType):  # the type, and each typedef it goes through
            self.check_declared_before(named.definition)
            named = named.definition.type if isinstance(named.definition, ir.Typedef) else None
        if isinstance(node, ast.Identifier):
            return self.identifier_value(scope, node, declared, where)
        if isinstance(node, ast.IntLiteral) and not _INT64[0] <= node.value <= _INT64[1]:
            self.diag.error(
                f"integer {node.text} in {where} does not fit in 64 bits "
                f"({_INT64[0]} to {_INT64[1]})",
                node.loc,
            )
            return None
        if isinstance(t, ir.BaseType):
            return self.base_value(node, t.kind, declared, where)
        if isinstance(t, ir.ListType | ir.SetType) and isinstance(node, ast.ListLiteral):
            items: list[ir.Value] = []
            for item_node in node.items:
                item = self.value(scope, item_node, t.element, where)
                if item is not None:
                    items.append(item)
            if len(items) < len(node.items):
                return None
            if isinstance(t, ir.ListType):
                return ir.ListValue(tuple(items))
            return ir.SetValue(tuple(dict.fromkeys(items)))  # a set keeps each member once
        # Empty containers may be written either way: `{}` for a list or set, `[]` for a map.
        if (
            isinstance(t, ir.ListType | ir.SetType)
            and isinstance(node, ast.MapLiteral)
            and not node.items
        ):
            return ir.ListValue(()) if isinstance(t, ir.ListType) else ir.SetValue(())
        if isinstance(t, ir.MapType) and isinstance(node, ast.ListLiteral) and not node.items:
            return ir.MapValue(())
        if isinstance(t, ir.MapType) and isinstance(node, ast.MapLiteral):
            pairs: dict[ir.Value, ir.Value] = {}
            failed = False
            for key_node, value_node in node.items:
                key = self.value(scope, key_node, t.key, where)
                value = self.value(scope, value_node, t.value, where)
                if key is None or value is None:
                    failed = True
                    continue
                if key in pairs:
                    self.diag.warning(
                        f"duplicate key in {where}; the last value wins", key_node.loc
                    )
                pairs[key] = value
            return None if failed else ir.MapValue(tuple(pairs.items()))
        if isinstance(t, ir.NamedType):
            definition = t.definition
            if isinstance(definition, ir.Enum) and isinstance(node, ast.IntLiteral):
                member = definition.by_value(node.value)
                if member is None:
                    self.diag.error(
                        f"unknown enum value {node.text} for enum '{definition.name}' in {where}",
                        node.loc,
                    )
                    return None
                return ir.EnumValue(member)
            if isinstance(definition, ir.Struct) and isinstance(node, ast.MapLiteral):
                return self.struct_value(scope, node, definition, where)
        self.mismatch(node, declared, where)
        return None

    def declared_later_on_the_way(self, declared: ir.Type) -> bool:
        """Whether the type a value is evaluated as, or a typedef it goes through,
        is declared after the value in the same file: only then is the way walked
        (each value would otherwise walk a chain of typedefs anew)."""
        site = self.use_site
        if site is None or not isinstance(declared, ir.NamedType):
            return False
        first = declared.definition
        if first.module is not site.module:
            return False  # and neither are those it leads to: includes form no cycle
        way: list[ir.Definition] = []
        latest = (0, 0)
        current: ir.Definition | None = first
        while current is not None:
            known = self.latest_on_the_way.get(current)
            if known is not None:
                latest = known
                break
            way.append(current)
            target = current.type if isinstance(current, ir.Typedef) else None
            following = target.definition if isinstance(target, ir.NamedType) else None
            same_file = following is not None and following.module is first.module
            current = following if same_file else None
        for definition in reversed(way):
            here = (definition.loc.line, definition.loc.col) if definition.loc else (0, 0)
            latest = self.latest_on_the_way[definition] = max(latest, here)
        return self.latest_on_the_way[first] >= (site.loc.line, site.loc.col)

    def check_declared_before(self, definition: ir.Definition) -> None:
        """Warn when the value being evaluated uses a definition of its own file
        declared after it: Apache evaluates values as it parses, so it rejects that."""
        site = self.use_site
        if site is None or definition.module is not site.module or definition.loc is None:
            return
        if (definition.loc.line, definition.loc.col) < (site.loc.line, site.loc.col):
            return
        if (site, definition) in self.declared_later:
            return
        self.declared_later.add((site, definition))
        self.diag.warning(
            f"{site.what} uses '{definition.name}', which is declared after it "
            f"(line {definition.loc.line}); Apache's compiler rejects this: "
            f"declare '{definition.name}' first",
            site.loc,
        )

    def base_value(
        self, node: ast.ConstValue, kind: ir.BaseKind, declared: ir.Type, where: str
    ) -> ir.Value | None:
        """A literal as a scalar of `kind`; None (reported) when it is not one."""
        floating = kind in (ir.BaseKind.DOUBLE, ir.BaseKind.FLOAT)
        if isinstance(node, ast.IntLiteral):
            if kind is ir.BaseKind.BOOL:
                if node.value not in (0, 1):
                    # Apache and Pilota take any integer; say how it is read.
                    self.diag.warning(
                        f"{where} is a bool; {node.text} is read as {node.value != 0}".lower(),
                        node.loc,
                    )
                return node.value != 0
            if kind.is_integer:
                return self.in_range(node.value, kind, node.loc, where)
            if floating:
                return float(node.value)
        elif isinstance(node, ast.DoubleLiteral) and floating:
            return node.value
        elif isinstance(node, ast.StringLiteral):
            if kind is ir.BaseKind.STRING:
                return node.value
            if kind is ir.BaseKind.BINARY:
                return node.value.encode("utf-8")
            if kind is ir.BaseKind.UUID:
                try:
                    return uuid.UUID(node.value)
                except ValueError:
                    self.diag.error(f"invalid uuid {node.value!r} in {where}", node.loc)
                    return None
        self.mismatch(node, declared, where)
        return None

    def in_range(self, number: int, kind: ir.BaseKind, loc: Location, where: str) -> int | None:
        low, high = kind.range
        if low <= number <= high:
            return number
        self.diag.error(
            f"value {number} in {where} is out of range for {kind.value} ({low} to {high})", loc
        )
        return None

    def mismatch(self, node: ast.ConstValue, declared: ir.Type, where: str) -> None:
        self.diag.error(
            f"type mismatch in {where}: expected {type_name(declared)}, found {_describe(node)}",
            node.loc,
        )

    def struct_value(
        self, scope: _Scope, node: ast.MapLiteral, struct: ir.Struct, where: str
    ) -> ir.Value | None:
        values: dict[str, ir.Value] = {}
        given: set[str] = set()  # the fields named, whether their values are good or not
        failed = False
        for key, value_node in node.items:
            if not isinstance(key, ast.StringLiteral):
                self.diag.error(
                    f"{struct.kind.value} '{struct.name}' in {where} takes field names as keys, "
                    f"found {_describe(key)}",
                    key.loc,
                )
                failed = True
                continue
            fld = struct.field_named(key.value)
            if fld is None:
                hint = self.diag.suggestion(key.value, lambda: [f.name for f in struct.fields])
                self.diag.error(
                    f"{struct.kind.value} '{struct.name}' in {where} has no field "
                    f"'{key.value}'{hint}",
                    key.loc,
                )
                failed = True
                continue
            given.add(fld.name)
            value = self.value(scope, value_node, fld.type, f"field '{fld.name}' of {where}")
            if value is None:
                failed = True
                continue
            values[fld.name] = value
        if struct.is_union and len(values) > 1:
            self.diag.error(
                f"union '{struct.name}' in {where} sets {len(values)} fields; a union holds one",
                node.loc,
            )
            return None
        # A required field without a default has no value to take: the generated
        # class could not even be built (its constructor requires it).
        missing = [
            f.name
            for f in struct.fields
            if f.required and f not in self.pending.with_default and f.name not in given
        ]
        if missing:
            names = ", ".join(f"'{name}'" for name in missing)
            plural = "s" if len(missing) > 1 else ""
            self.diag.error(
                f"{struct.kind.value} '{struct.name}' in {where} is missing required "
                f"field{plural} {names}",
                node.loc,
            )
            return None
        if failed:
            return None
        ordered = tuple((f.name, values[f.name]) for f in struct.fields if f.name in values)
        return ir.StructValue(struct, ordered)

    def identifier_value(
        self, scope: _Scope, node: ast.Identifier, declared: ir.Type, where: str
    ) -> ir.Value | None:
        if node.name in ("true", "false"):
            # Apache reads true and false as the integers 1 and 0.
            literal = ast.IntLiteral(int(node.name == "true"), node.name, node.loc)
            t = self.unalias(declared)
            if isinstance(t, ir.BaseType) and t.kind is ir.BaseKind.BOOL:
                return node.name == "true"
            return self.value(scope, literal, declared, where)
        found = self.lookup(scope, node.name)
        if isinstance(found, ir.Const):
            self.check_declared_before(found)
            if id(node) in self.cut:
                return None  # it closes a cycle, reported already
            value = self.const_value(found)
            if value is None:
                return None
            if (
                isinstance(value, ir.StructValue)
                and isinstance(declared, ir.NamedType)
                and isinstance(declared.definition, ir.Struct)
            ):
                # Apache takes a constant's name for a struct value only through a typedef.
                self.diag.warning(
                    f"{where} uses struct constant '{node.name}' as a value; "
                    "Apache's compiler rejects this: write the value out",
                    node.loc,
                )
            return self.convert(value, found, declared, node, where)
        head, dot, member_name = node.name.rpartition(".")
        enum = self.lookup(scope, head) if dot else None
        t = self.unalias(declared)
        if (
            dot
            and found is None
            and isinstance(t, ir.NamedType)
            and isinstance(t.definition, ir.Enum)
            and enum is not t.definition
        ):
            member = self.member(t.definition, member_name)
            if member is not None:
                # Apache matches only the part after the last dot against the
                # expected enum; accept as it does, and point out the mismatch.
                self.diag.warning(
                    f"{where} is of enum '{t.definition.name}': "
                    f"'{node.name}' is read as '{t.definition.name}.{member_name}'",
                    node.loc,
                )
                return ir.EnumValue(member)
        if isinstance(enum, ir.Enum):
            self.check_declared_before(enum)
            member = self.member(enum, member_name)
            if member is None:
                hint = self.diag.suggestion(member_name, lambda: [m.name for m in enum.members])
                self.diag.error(f"enum '{enum.name}' has no value '{member_name}'{hint}", node.loc)
                return None
            return self.enum_member_value(member, declared, node, where)
        if found is not None:
            self.diag.error(f"'{node.name}' is a type, not a constant, in {where}", node.loc)
            return None
        self.diag.error(
            f"unknown constant '{node.name}' in {where}{self.constant_hint(scope, node.name)}",
            node.loc,
        )
        return None

    def constant_hint(self, scope: _Scope, name: str) -> str:
        if not self.diag.may_search():
            return ""
        # A bare enum value name is a common slip: point to the qualified name.
        bare = next((e for e in scope.module.enums if self.member(e, name) is not None), None)
        if bare is not None:
            return f"; did you mean '{bare.name}.{name}'?"
        candidates = self.visible_names(scope, (ir.Const,))
        candidates += [f"{e.name}.{m.name}" for e in scope.module.enums for m in e.members]
        return closest(name, candidates)

    def member(self, enum: ir.Enum, name: str) -> ir.EnumMember | None:
        """`enum.member(name)`, by a table made once per enum: a constant may name
        thousands of the members of an enum of thousands."""
        table = self.member_tables.get(enum)
        if table is None:
            table = self.member_tables[enum] = {}
            for m in enum.members:
                table.setdefault(m.name, m)
        return table.get(name)

    def enum_member_value(
        self, member: ir.EnumMember, declared: ir.Type, node: ast.Identifier, where: str
    ) -> ir.Value | None:
        t = self.unalias(declared)
        if isinstance(t, ir.NamedType) and isinstance(t.definition, ir.Enum):
            if member.enum is t.definition:
                return ir.EnumValue(member)
            self.diag.error(
                f"'{node.name}' is a value of enum '{member.enum.name}', "
                f"but {where} is of enum '{t.definition.name}'",
                node.loc,
            )
            return None
        if isinstance(t, ir.BaseType) and t.kind.is_integer:
            # As in Apache, enum values are also i32 constants.
            return self.in_range(member.value, t.kind, node.loc, where)
        self.mismatch(node, declared, where)
        return None

    def convert(
        self, value: ir.Value, const: ir.Const, declared: ir.Type, node: ast.Identifier, where: str
    ) -> ir.Value | None:
        """A constant's value used where `declared` is expected."""
        if same_type(const.type, declared, self.unalias):
            return value
        t = self.unalias(declared)
        if isinstance(value, ir.EnumValue):
            return self.enum_member_value(value.member, declared, node, where)
        if isinstance(t, ir.BaseType):
            if isinstance(value, bool):
                if t.kind is ir.BaseKind.BOOL:
                    return value
            elif isinstance(value, int):
                if t.kind.is_integer:
                    return self.in_range(value, t.kind, node.loc, where)
                if t.kind in (ir.BaseKind.DOUBLE, ir.BaseKind.FLOAT):
                    return float(value)
            elif (
                isinstance(value, float) and t.kind in (ir.BaseKind.DOUBLE, ir.BaseKind.FLOAT)
            ) or (isinstance(value, str) and t.kind is ir.BaseKind.STRING):
                return value
            elif isinstance(value, str) and t.kind is ir.BaseKind.BINARY:
                return value.encode("utf-8")
        if (
            isinstance(t, ir.NamedType)
            and isinstance(t.definition, ir.Enum)
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            member = t.definition.by_value(value)
            if member is not None:
                return ir.EnumValue(member)
        self.diag.error(
            f"type mismatch in {where}: constant '{node.name}' is {type_name(const.type)}, "
            f"expected {type_name(declared)}",
            node.loc,
        )
        return None

    # ---- pass 5: whole-program checks -----------------------------------------------

    def check_inheritance(self, services: list[ir.Service]) -> None:
        """Report each cycle of `extends` once, at its first service (which then
        extends nothing), then each method that a base service already defines.

        Linear in services and methods: each service is walked up once, and the
        methods are checked in one walk down the inheritance tree, keeping the
        methods of the services above the one being visited."""
        order = {service: i for i, service in enumerate(services)}
        done: set[ir.Service] = set()
        for service in services:
            path: list[ir.Service] = []
            on_path: set[ir.Service] = set()
            current: ir.Service | None = service
            while current is not None and current not in done:
                if current in on_path:
                    cycle = path[path.index(current) :]
                    first = min(cycle, key=order.__getitem__)
                    at = cycle.index(first)
                    names = cycle_text([s.name for s in [*cycle[at:], *cycle[:at], first]])
                    self.diag.error(f"service inheritance cycle: {names}", first.loc)
                    first.extends = None
                    break
                path.append(current)
                on_path.add(current)
                current = current.extends
            done.update(path)
        children: dict[ir.Service, list[ir.Service]] = {}
        for service in services:
            if service.extends is not None:
                children.setdefault(service.extends, []).append(service)
        above: dict[str, list[ir.Method]] = {}  # by name: the methods of the services above
        for root in services:
            if root.extends is not None:
                continue
            stack: list[tuple[ir.Service, bool]] = [(root, True)]
            while stack:
                service, entering = stack.pop()
                if not entering:
                    for method in service.methods:
                        above[method.name].pop()
                    continue
                for method in service.methods:
                    defined = above.setdefault(method.name, [])
                    if defined:
                        clash = defined[0]  # the base-most service that defines it
                        self.diag.error(
                            f"method '{method.name}' of service '{service.name}' is already "
                            f"defined in base service '{clash.service.name}' ({clash.loc})",
                            method.loc,
                        )
                    defined.append(method)
                stack.append((service, False))
                stack += [(child, True) for child in reversed(children.get(service, []))]
