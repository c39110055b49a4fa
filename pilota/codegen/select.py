"""Which definitions to generate when not everything is (volo's `touch_all: false`):
those the root files' services use, directly or through other definitions,
plus those touched by name, and what they use in turn."""

from __future__ import annotations

from collections.abc import Iterable

from pilota import ir


def top_level(definition: ir.Definition) -> ir.Definition:
    """A nested protobuf type's outermost message (generated with it); else itself."""
    while definition.parent is not None:
        definition = definition.parent
    return definition


def used_definitions(schema: ir.Schema, touched: Iterable[ir.Definition] = ()) -> frozenset[
    ir.Definition
]:
    """The top-level definitions the root files' services need, and `touched` ones."""
    found: set[ir.Definition] = set()
    pending: list[ir.Definition] = [
        s for module in schema.roots for s in module.definitions.values()
        if isinstance(s, ir.Service)
    ]  # fmt: skip
    pending += touched
    while pending:
        definition = top_level(pending.pop())
        if definition in found:
            continue
        found.add(definition)
        pending += _uses(definition)
    return frozenset(found)


def _uses(definition: ir.Definition) -> list[ir.Definition]:
    types: list[ir.Type] = []
    values: list[ir.Value] = []
    named: list[ir.Definition] = []
    if isinstance(definition, ir.Service):
        if definition.extends is not None:
            named.append(definition.extends)
        for method in definition.methods:
            types += [f.type for f in [*method.args, *method.throws]]
            types += [method.result] if method.result is not None else []
    elif isinstance(definition, ir.Struct):
        structs = [definition]
        while structs:
            struct = structs.pop()
            for f in [*struct.fields, *struct.extensions]:
                types.append(f.type)
                values += [f.default] if f.default is not None else []
                named += [f.extendee] if f.extendee is not None else []
            structs += [n for n in struct.nested if isinstance(n, ir.Struct)]
    elif isinstance(definition, ir.Typedef):
        types.append(definition.type)
    elif isinstance(definition, ir.Const):
        types.append(definition.type)
        values.append(definition.value)
    for t in types:
        named += _named(t)
    for v in values:
        named += _in_value(v)
    return named


def _named(t: ir.Type) -> list[ir.Definition]:
    if isinstance(t, ir.NamedType):
        return [t.definition]
    if isinstance(t, ir.ListType | ir.SetType):
        return _named(t.element)
    if isinstance(t, ir.MapType):
        return _named(t.key) + _named(t.value)
    return []


def _in_value(v: ir.Value) -> list[ir.Definition]:
    if isinstance(v, ir.EnumValue):
        return [v.member.enum]
    if isinstance(v, ir.StructValue):
        return [v.struct, *(d for _, item in v.fields for d in _in_value(item))]
    if isinstance(v, ir.ListValue | ir.SetValue):
        return [d for item in v.items for d in _in_value(item)]
    if isinstance(v, ir.MapValue):
        return [d for pair in v.items for item in pair for d in _in_value(item)]
    return []
