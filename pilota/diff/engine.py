"""Comparing two checked versions of an IDL: matching, then every rule.

How definitions are matched, OLD to NEW:

1. Files are paired by their key (their path relative to the folder, the file's
   own folder, the repository root or an include directory: see `inputs`);
   files left over are paired by the definition names they share (a file
   renamed or moved: `file-renamed`).
2. Within a pair of files, definitions are matched by their name within the
   file's scope (`Outer.Inner` for a nested protobuf message; the package or
   the Thrift file name is not part of it, so a changed package or namespace
   is reported once, on the file, as `namespace-changed`).
3. Definitions still unmatched are matched by that name across files, when
   exactly one candidate of the same kind is left (a move: `definition-moved`),
4. then, within a pair of files, by shape (the same field numbers and
   encodings, the same enum numbers, the same method names) when exactly one
   candidate on each side has it (a rename: `definition-renamed`).

What is left in OLD was removed. Fields and enum values are matched by number,
as the wire matches them; methods by name. A field whose type names another
definition than the counterpart of the old one is compared by the shapes of
the two (memoized, so recursive types end), so a struct replaced by an equal
one of another name is a source-level change, not a wire break.

The work is linear in the size of both versions: every definition, field,
value and method is looked up by key, never searched for, and each pair of
types compared by shape is compared once. `Comparison.work` counts the pairs
compared, for tests to bound it.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from pilota import ir
from pilota.diagnostics import Location
from pilota.diff.rules import Level, Rule, rule

# ---- what a run produces ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    rule: Rule
    message: str
    location: Location | None
    old_side: bool = False  # the location is in OLD (something removed)


@dataclass(slots=True)
class Version:
    """One side of a comparison: its modules by key, the files asked for first."""

    modules: dict[str, ir.Module]
    roots: list[str] = field(default_factory=list)
    # the text of a module, for pointing at a namespace or package line
    text: Callable[[ir.Module], str | None] = lambda _module: None


Category = type[ir.Definition]
_CATEGORY_WORDS: dict[Category, str] = {
    ir.Struct: "type",
    ir.Enum: "enum",
    ir.Typedef: "typedef",
    ir.Const: "constant",
    ir.Service: "service",
}


def _category(d: ir.Definition) -> Category:
    for kind in _CATEGORY_WORDS:
        if isinstance(d, kind):
            return kind
    return type(d)


def _kind_word(d: ir.Definition) -> str:
    if isinstance(d, ir.Struct):
        return d.kind.value
    return _CATEGORY_WORDS.get(_category(d), "definition")


def _placement(module: ir.Module) -> str:
    """Where code generated from a file goes: a Thrift file by its Python namespace, else
    its name; a .proto file by its name (a module per file)."""
    if _is_proto(module):
        return module.name
    return module.namespace("py", "*") or module.name


def _is_proto(module: ir.Module) -> bool:
    return module.syntax is not ir.Syntax.THRIFT


def _local_name(d: ir.Definition) -> str:
    """The name within its file's scope: `Outer.Inner`, without package or file name."""
    if d.parent is not None:
        return f"{_local_name(d.parent)}.{d.name}"
    return d.name


def _definitions(module: ir.Module) -> Iterator[ir.Definition]:
    """Every definition of a module, nested protobuf types included (parents first)."""
    pending: list[ir.Definition] = list(module.definitions.values())
    while pending:
        d = pending.pop(0)
        yield d
        if isinstance(d, ir.Struct):
            pending[0:0] = d.nested


def _deprecated(options: dict[str, ir.Value], annotations: ir.Annotations) -> bool:
    return options.get("deprecated") is True or ir.annotation(annotations, "deprecated") is not None


# ---- values and types as words ---------------------------------------------------------

_PROTO_NAMES = {
    ir.BaseKind.I32: "int32",
    ir.BaseKind.I64: "int64",
    ir.BaseKind.BINARY: "bytes",
}


def type_name(t: ir.Type, proto: bool) -> str:
    t = ir.unalias(t)
    if isinstance(t, ir.BaseType):
        return _PROTO_NAMES.get(t.kind, t.kind.value) if proto else t.kind.value
    if isinstance(t, ir.NamedType):
        return t.definition.full_name
    if isinstance(t, ir.ListType):
        inner = type_name(t.element, proto)
        return f"repeated {inner}" if proto else f"list<{inner}>"
    if isinstance(t, ir.SetType):
        return f"set<{type_name(t.element, proto)}>"
    return f"map<{type_name(t.key, proto)}, {type_name(t.value, proto)}>"


def value_key(v: ir.Value) -> object:
    """A value as something comparable across versions (enum members by number)."""
    if isinstance(v, ir.EnumValue):
        return ("enum", v.member.value)
    if isinstance(v, ir.ListValue | ir.SetValue):
        items = [value_key(i) for i in v.items]
        return (type(v).__name__, tuple(items) if isinstance(v, ir.ListValue) else frozenset(items))
    if isinstance(v, ir.MapValue):
        return ("map", frozenset((value_key(k), value_key(x)) for k, x in v.items))
    if isinstance(v, ir.StructValue):
        return ("struct", tuple((n, value_key(x)) for n, x in v.fields))
    if isinstance(v, float) and v != v:  # NaN equals itself here
        return ("nan",)
    if isinstance(v, bool | int | float | str | bytes | uuid.UUID):
        return (type(v).__name__, v)
    return repr(v)


def value_text(v: ir.Value) -> str:
    if isinstance(v, ir.EnumValue):
        return f"{v.member.enum.name}.{v.member.name}"
    if isinstance(v, ir.ListValue | ir.SetValue):
        return "[" + ", ".join(value_text(i) for i in v.items) + "]"
    if isinstance(v, ir.MapValue):
        return "{" + ", ".join(f"{value_text(k)}: {value_text(x)}" for k, x in v.items) + "}"
    if isinstance(v, ir.StructValue):
        return "{" + ", ".join(f"{n}: {value_text(x)}" for n, x in v.fields) + "}"
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


# ---- encodings --------------------------------------------------------------------------

B = ir.BaseKind
# Thrift: what the wire carries (the TType); string and binary share one.
_THRIFT_WIRE = {B.BOOL: "bool", B.I8: "byte", B.I16: "i16", B.I32: "i32", B.I64: "i64",
                B.DOUBLE: "double", B.STRING: "string", B.BINARY: "string",
                B.UUID: "uuid"}  # fmt: skip
# Protobuf: kinds with one encoding (the same wire type, read the same way).
_PROTO_WIRE = {B.I32: "varint", B.I64: "varint", B.UINT32: "varint", B.UINT64: "varint",
               B.BOOL: "varint", B.SINT32: "zigzag", B.SINT64: "zigzag",
               B.FIXED32: "fixed32", B.SFIXED32: "fixed32", B.FIXED64: "fixed64",
               B.SFIXED64: "fixed64", B.FLOAT: "float", B.DOUBLE: "double",
               B.STRING: "string", B.BINARY: "string"}  # fmt: skip
_TEXT = (B.STRING, B.BINARY)


@dataclass(frozen=True, slots=True)
class Change:
    """How two types differ: the rule that says so, and in what words."""

    rule_id: str
    detail: str

    @property
    def level(self) -> Level:
        return rule(self.rule_id).level


def _worst(changes: Iterable[Change | None]) -> Change | None:
    found = [c for c in changes if c is not None]
    return min(found, key=lambda c: c.level) if found else None


# ---- the comparison ---------------------------------------------------------------------


@dataclass(slots=True)
class _FieldSet:
    """Fields compared as a set by number: a struct's, a method's arguments."""

    owner: str  # how messages name the owner: "struct 'a.S'", "arguments of 'a.Svc.ping'"
    fields: list[ir.Field]
    proto: bool
    struct: ir.Struct | None = None  # for reserved numbers and oneofs
    union: bool = False
    noun: str = "field"


class Comparison:
    def __init__(self, old: Version, new: Version) -> None:
        self.old, self.new = old, new
        self.findings: list[Finding] = []
        self.counterpart: dict[ir.Definition, ir.Definition] = {}
        self.module_pair: dict[ir.Module, ir.Module] = {}
        self.work = 0  # pairs compared: definitions, fields, values, methods, shapes
        self._shapes: dict[tuple[ir.Struct, ir.Struct], Change | None] = {}
        self._comparing: set[tuple[ir.Struct, ir.Struct]] = set()
        self.renamed: set[ir.Definition] = set()  # services whose new name is reported
        self.old_keys = {module: key for key, module in old.modules.items()}
        self.new_keys = {module: key for key, module in new.modules.items()}

    # ---- reporting

    def report(
        self, rule_id: str, message: str, loc: Location | None, old_side: bool = False
    ) -> None:
        self.findings.append(Finding(rule(rule_id), message, loc, old_side))

    def run(self) -> list[Finding]:
        self.pair_modules()
        pairs = self.match_definitions()
        for old_module, new_module in self.module_pair.items():
            self.compare_modules(old_module, new_module)
        for old_def, new_def in pairs:
            self.compare_definitions(old_def, new_def)
        self.compare_extensions()
        return self.findings

    # ---- matching

    def pair_modules(self) -> None:
        old, new = self.old.modules, self.new.modules
        for key, module in old.items():
            if key in new:
                self.module_pair[module] = new[key]
        paired_new = set(self.module_pair.values())
        left_old = [m for m in old.values() if m not in self.module_pair]
        left_new = [m for m in new.values() if m not in paired_new]
        if not left_old or not left_new:
            return
        # by shared definition names: index the new files' names once
        holders: dict[str, list[ir.Module]] = defaultdict(list)
        for module in left_new:
            for d in _definitions(module):
                holders[_local_name(d)].append(module)
        taken: set[ir.Module] = set()
        for module in left_old:
            names = [_local_name(d) for d in _definitions(module)]
            votes: dict[ir.Module, int] = defaultdict(int)
            for name in names:
                for holder in holders.get(name, ()):
                    votes[holder] += 1
            ranked = sorted(votes.items(), key=lambda kv: -kv[1])
            if not ranked or ranked[0][0] in taken or 2 * ranked[0][1] < len(names):
                continue
            if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
                continue
            self.module_pair[module] = ranked[0][0]
            taken.add(ranked[0][0])
        # one file asked for on each side, still unpaired: the user paired them
        old_roots = [old[k] for k in self.old.roots if old[k] not in self.module_pair]
        new_roots = [
            new[k] for k in self.new.roots if new[k] not in taken and new[k] not in paired_new
        ]
        if len(self.old.roots) == len(self.new.roots) == 1 and old_roots and new_roots:
            self.module_pair[old_roots[0]] = new_roots[0]
        new_keys = self.new_keys
        for key, module in old.items():
            partner = self.module_pair.get(module)
            if (
                partner is not None
                and new_keys[partner] != key
                and _placement(module) != (_placement(partner))
            ):
                self.report(
                    "file-renamed",
                    f"file '{key}' was renamed to '{new_keys[partner]}'",
                    Location(partner.path, 1, 1),
                )

    def match_definitions(self) -> list[tuple[ir.Definition, ir.Definition]]:
        pairs: list[tuple[ir.Definition, ir.Definition]] = []
        unmatched_new: dict[ir.Definition, ir.Module] = {}
        for module in self.new.modules.values():
            for d in _definitions(module):
                unmatched_new[d] = module
        unmatched_old: dict[ir.Definition, ir.Module] = {}
        kind_changed: set[ir.Definition] = set()

        def match(o: ir.Definition, n: ir.Definition) -> None:
            self.counterpart[o] = n
            pairs.append((o, n))
            unmatched_new.pop(n, None)
            unmatched_old.pop(o, None)

        # 1. by name within paired files
        for old_module in self.old.modules.values():
            new_module = self.module_pair.get(old_module)
            by_name = {_local_name(d): d for d in _definitions(new_module)} if new_module else {}
            for d in _definitions(old_module):
                self.work += 1
                unmatched_old[d] = old_module
                n = by_name.get(_local_name(d))
                if n is None:
                    continue
                if _category(n) is _category(d):
                    match(d, n)
                else:
                    kind_changed.add(d)
                    self.report(
                        "definition-removed",
                        f"{_kind_word(d)} '{d.full_name}' is now a {_kind_word(n)}",
                        n.loc,
                    )
        # 2. moved: the same name in another file, one candidate only
        candidates: dict[tuple[Category, str], list[ir.Definition]] = defaultdict(list)
        for n in unmatched_new:
            candidates[(_category(n), _local_name(n))].append(n)
        for d in list(unmatched_old):
            if d in kind_changed:
                continue
            found = candidates.get((_category(d), _local_name(d)), [])
            free = [n for n in found if n in unmatched_new]
            if len(free) != 1:
                continue
            n = free[0]
            match(d, n)
            self.report_move(d, n)
        # 3. renamed: the same shape within paired files, one candidate on each side
        shapes_new: dict[tuple[ir.Module, Category, object], list[ir.Definition]] = defaultdict(
            list
        )
        for n, module in unmatched_new.items():
            shapes_new[(module, _category(n), self.shape(n))].append(n)
        shapes_old: dict[tuple[ir.Module, Category, object], list[ir.Definition]] = defaultdict(
            list
        )
        for d, module in unmatched_old.items():
            partner = self.module_pair.get(module)
            if partner is not None and d not in kind_changed:
                shapes_old[(partner, _category(d), self.shape(d))].append(d)
        for key, olds in shapes_old.items():
            news = shapes_new.get(key, [])
            if key[2] is None or len(olds) != 1 or len(news) != 1:
                continue
            d, n = olds[0], news[0]
            match(d, n)
            if isinstance(d, ir.Service):
                self.report_service_name(d, n)
            else:
                self.report(
                    "definition-renamed",
                    f"{_kind_word(d)} '{d.full_name}' was renamed to '{n.full_name}'",
                    n.loc,
                )
        # what is left was removed; a nested type goes with its removed parent
        for d in unmatched_old:
            if d in kind_changed or (d.parent is not None and d.parent in unmatched_old):
                continue
            self.report_removed(d)
        return pairs

    def shape(self, d: ir.Definition) -> object:
        """What a definition looks like apart from its name, for spotting renames."""
        if isinstance(d, ir.Struct):
            if not d.fields:
                return None  # every empty struct looks alike
            return (d.kind, tuple(sorted((f.id, self.coarse(f.type)) for f in d.fields)))
        if isinstance(d, ir.Enum):
            return tuple(sorted(m.value for m in d.members)) or None
        if isinstance(d, ir.Service):
            return tuple(sorted(m.name for m in d.methods)) or None
        return None  # typedefs and constants: renames are removals and additions

    def coarse(self, t: ir.Type) -> str:
        t = ir.unalias(t)
        if isinstance(t, ir.NamedType):
            return "enum" if isinstance(t.definition, ir.Enum) else "struct"
        if isinstance(t, ir.BaseType):
            return t.kind.value
        return type(t).__name__

    def report_move(self, d: ir.Definition, n: ir.Definition) -> None:
        if isinstance(d, ir.Service) and self.service_wire_name(d) != self.service_wire_name(n):
            self.report_service_name(d, n)
            return
        self.report(
            "definition-moved",
            f"{_kind_word(d)} '{d.full_name}' moved from '{self.old_keys.get(d.module)}' to "
            f"'{self.new_keys.get(n.module)}'"
            + (f" as '{n.full_name}'" if n.full_name != d.full_name else ""),
            n.loc,
        )

    @staticmethod
    def service_wire_name(s: ir.Definition) -> str:
        # gRPC calls /package.Service/Method; multiplexed Thrift calls Service:method
        return s.full_name if _is_proto(s.module) else s.name

    def report_service_name(self, d: ir.Definition, n: ir.Definition) -> None:
        self.renamed.add(d)
        old_name, new_name = self.service_wire_name(d), self.service_wire_name(n)
        if old_name == new_name:
            self.report(
                "definition-renamed",
                f"service '{d.full_name}' was renamed to '{n.full_name}'",
                n.loc,
            )
            return
        self.report(
            "service-name-changed",
            f"service '{old_name}' is now called '{new_name}': calls naming the old service fail",
            n.loc,
        )

    def report_removed(self, d: ir.Definition) -> None:
        if isinstance(d, ir.Service):
            self.report("service-removed", f"service '{d.full_name}' was removed", d.loc, True)
        elif isinstance(d, ir.Const):
            self.report("const-removed", f"constant '{d.full_name}' was removed", d.loc, True)
        else:
            self.report(
                "definition-removed", f"{_kind_word(d)} '{d.full_name}' was removed", d.loc, True
            )

    # ---- files

    NAMING_OPTIONS = (
        "java_package", "java_outer_classname", "java_multiple_files", "go_package",
        "csharp_namespace", "objc_class_prefix", "php_namespace", "php_class_prefix",
        "php_metadata_namespace", "ruby_package", "swift_prefix",
    )  # fmt: skip

    def compare_modules(self, old: ir.Module, new: ir.Module) -> None:
        self.work += 1
        before: dict[str, ir.Value]
        after: dict[str, ir.Value]
        if _is_proto(old) and _is_proto(new):
            if old.package != new.package:
                self.report(
                    "namespace-changed",
                    f"package '{old.package}' is now '{new.package}'",
                    self.line_of(new, self.new, r"package\b") or Location(new.path, 1, 1),
                )
            before = {k: old.options[k] for k in self.NAMING_OPTIONS if k in old.options}
            after = {k: new.options[k] for k in self.NAMING_OPTIONS if k in new.options}
            self.compare_namespaces(old, new, before, after, "option", r"option\s+")
            return
        before = {scope: ns.name for scope, ns in old.namespaces.items()}
        after = {scope: ns.name for scope, ns in new.namespaces.items()}
        python_before, python_after = old.namespace("py", "*"), new.namespace("py", "*")
        if python_before != python_after:
            # a Python namespace came or went: the generated code moves
            self.report(
                "namespace-changed",
                f"the Python namespace '{python_before or old.name}' is now "
                f"'{python_after or new.name}'",
                self.line_of(new, self.new, r"namespace\s+(py|\*)\s") or Location(new.path, 1, 1),
            )
            before = {k: v for k, v in before.items() if k not in ("py", "*")}
            after = {k: v for k, v in after.items() if k not in ("py", "*")}
        self.compare_namespaces(old, new, before, after, "namespace", r"namespace\s+")

    def compare_namespaces(
        self,
        old: ir.Module,
        new: ir.Module,
        before: dict[str, ir.Value],
        after: dict[str, ir.Value],
        word: str,
        pattern: str,
    ) -> None:
        for scope, value in before.items():
            self.work += 1
            if scope not in after:
                self.report(
                    "namespace-removed",
                    f"{word} {scope} '{value_text(value)}' was removed",
                    self.line_of(old, self.old, pattern + scope.replace("*", r"\*") + r"\b")
                    or Location(old.path, 1, 1),
                    True,
                )
            elif value_key(after[scope]) != value_key(value):
                self.report(
                    "namespace-changed",
                    f"{word} {scope} '{value_text(value)}' is now '{value_text(after[scope])}'",
                    self.line_of(new, self.new, pattern + scope.replace("*", r"\*") + r"(\b|\s)")
                    or Location(new.path, 1, 1),
                )

    @staticmethod
    def line_of(module: ir.Module, version: Version, pattern: str) -> Location | None:
        """Where a line of the file starts with `pattern` (namespaces and packages carry
        no location in the IR)."""
        text = version.text(module)
        if text is None:
            return None
        regex = re.compile(r"\s*(" + pattern + ")")
        for number, line in enumerate(text.splitlines(), 1):
            found = regex.match(line)
            if found:
                return Location(module.path, number, found.start(1) + 1, len(line.strip()))
        return None

    # ---- definitions

    def compare_definitions(self, old: ir.Definition, new: ir.Definition) -> None:
        self.work += 1
        if _deprecated(new.options, new.annotations) and not _deprecated(
            old.options, old.annotations
        ):
            self.report(
                "newly-deprecated", f"{_kind_word(new)} '{new.full_name}' is deprecated", new.loc
            )
        if isinstance(old, ir.Struct) and isinstance(new, ir.Struct):
            self.compare_structs(old, new)
        elif isinstance(old, ir.Enum) and isinstance(new, ir.Enum):
            self.compare_enums(old, new)
        elif isinstance(old, ir.Service) and isinstance(new, ir.Service):
            self.compare_services(old, new)
        elif isinstance(old, ir.Const) and isinstance(new, ir.Const):
            self.compare_consts(old, new)
        # typedefs: every field that uses one compares the type it stands for

    def compare_consts(self, old: ir.Const, new: ir.Const) -> None:
        proto = _is_proto(new.module)
        if self.type_change(old.type, new.type, proto) is not None:
            self.report(
                "const-changed",
                f"constant '{new.full_name}' changed type from {type_name(old.type, proto)} to "
                f"{type_name(new.type, proto)}",
                new.loc,
            )
        elif value_key(old.value) != value_key(new.value):
            self.report(
                "const-changed",
                f"constant '{new.full_name}' changed from {value_text(old.value)} to "
                f"{value_text(new.value)}",
                new.loc,
            )

    def compare_structs(self, old: ir.Struct, new: ir.Struct) -> None:
        name = new.full_name
        if old.is_union != new.is_union:
            was, now = ("union", new.kind.value) if old.is_union else (old.kind.value, "union")
            self.report("struct-union-changed", f"{was} '{name}' is now a {now}", new.loc)
        elif old.is_exception != new.is_exception:
            self.report(
                "struct-kind-changed", f"{old.kind.value} '{name}' is now an {new.kind.value}"
                if new.is_exception else f"exception '{name}' is now a {new.kind.value}", new.loc
            )  # fmt: skip
        proto = _is_proto(new.module)
        self.compare_fields(
            _FieldSet(f"{old.kind.value} '{old.full_name}'", old.fields, proto, old, old.is_union),
            _FieldSet(f"{new.kind.value} '{name}'", new.fields, proto, new, new.is_union),
        )
        if proto:
            self.compare_oneofs(old, new)
            self.compare_reserved(
                old.reserved_ids, new.reserved_ids, old.reserved_names, new.reserved_names,
                f"message '{name}'", new.loc, {f.id: f.name for f in new.fields},
            )  # fmt: skip

    def compare_reserved(
        self,
        old_ids: list[tuple[int, int]],
        new_ids: list[tuple[int, int]],
        old_names: list[str],
        new_names: list[str],
        owner: str,
        loc: Location | None,
        used: dict[int, str],
    ) -> None:
        for start, end in old_ids:
            self.work += 1
            for gap_start, gap_end in _uncovered(start, end, new_ids):
                numbers = str(gap_start) if gap_start == gap_end else f"{gap_start} to {gap_end}"
                users = [f"'{used[n]}' = {n}" for n in sorted(used) if gap_start <= n <= gap_end]
                now = f"; {', '.join(users[:3])} now uses it" if users else ""
                self.report(
                    "reserved-number-removed",
                    f"{owner} no longer reserves {numbers}{now}",
                    loc,
                )
        kept = set(new_names)
        for reserved_name in old_names:
            self.work += 1
            if reserved_name not in kept:
                self.report(
                    "reserved-name-removed", f"{owner} no longer reserves '{reserved_name}'", loc
                )

    def compare_oneofs(self, old: ir.Struct, new: ir.Struct) -> None:
        """Oneof membership of the fields both versions have, and oneof names."""
        new_by_id = {f.id: f for f in new.fields}
        image: dict[ir.Oneof, ir.Oneof] = {}  # each old oneof to the new one most of it went to
        claimed: set[ir.Oneof] = set()
        for oneof in old.oneofs:
            if oneof.synthetic:
                continue
            landed = [new_by_id[f.id].oneof for f in oneof.fields if f.id in new_by_id]
            targets = [o for o in landed if o is not None and not o.synthetic and o not in claimed]
            if targets:
                best = max(set(targets), key=targets.count)
                image[oneof] = best
                claimed.add(best)
                if best.name != oneof.name:
                    self.report(
                        "oneof-renamed",
                        f"oneof '{oneof.name}' of message '{new.full_name}' was renamed to "
                        f"'{best.name}'",
                        best.loc,
                    )
        for f in old.fields:
            n = new_by_id.get(f.id)
            if n is None:
                continue
            self.work += 1
            was = f.oneof if f.oneof is not None and not f.oneof.synthetic else None
            now = n.oneof if n.oneof is not None and not n.oneof.synthetic else None
            if was is None and now is None:
                continue
            if was is not None and now is not None and image.get(was) is now:
                continue
            if was is None:
                what = f"joined oneof '{now.name if now else ''}'"
            elif now is None:
                what = f"left oneof '{was.name}'"
            else:
                what = f"moved from oneof '{was.name}' to oneof '{now.name}'"
            self.report(
                "field-oneof-changed",
                f"field {n.id} '{n.name}' of message '{new.full_name}' {what}",
                n.loc,
            )

    def compare_fields(self, old: _FieldSet, new: _FieldSet) -> None:
        proto = new.proto
        old_by_id = {f.id: f for f in old.fields}
        new_by_id = {f.id: f for f in new.fields}
        new_by_name = {f.name: f for f in new.fields}
        old_by_name = {f.name: f for f in old.fields}
        reserved_new = new.struct.reserved_ids if new.struct is not None else []
        reserved_old = old.struct.reserved_ids if old.struct is not None else []
        names_new = set(new.struct.reserved_names) if new.struct is not None else set()
        for f in old.fields:
            self.work += 1
            n = new_by_id.get(f.id)
            moved = new_by_name.get(f.name)
            if moved is not None and moved.id != f.id:
                self.report(
                    "field-renumbered",
                    f"{new.noun} '{f.name}' of {new.owner} changed number from {f.id} to "
                    f"{moved.id}",
                    moved.loc,
                )
            if n is not None:
                # a name that moved here from another number is that field's renumbering
                renamed = n.name != f.name and n.name not in old_by_name
                self.compare_field(f, n, new, renamed)
                continue
            if moved is not None:
                continue
            self.report_removed_field(f, old, new, _reserved(f.id, reserved_new))
            if proto and f.name not in names_new:
                self.report(
                    "removed-name-not-reserved",
                    f"{new.noun} '{f.name}' was removed from {new.owner} without reserving "
                    "its name",
                    f.loc,
                    True,
                )
        highest = max((f.id for f in old.fields), default=0)
        for n in new.fields:
            was = old_by_name.get(n.name)
            if n.id in old_by_id or (was is not None and was.id != n.id):
                continue  # compared, or renumbered: reported above
            self.work += 1
            if n.required and not new.union:
                self.report(
                    "required-field-added",
                    f"required {new.noun} {n.id} '{n.name}' was added to {new.owner}",
                    n.loc,
                )
            elif 0 < n.id < highest and not (proto and _reserved(n.id, reserved_old)):
                self.report(
                    "field-id-gap-filled",
                    f"new {new.noun} '{n.name}' of {new.owner} takes number {n.id}, below the "
                    f"highest existing one ({highest})",
                    n.loc,
                )

    def report_removed_field(
        self, f: ir.Field, old: _FieldSet, new: _FieldSet, reserved: bool
    ) -> None:
        if f.required and not old.union:
            self.report(
                "field-removed",
                f"required {new.noun} {f.id} '{f.name}' was removed from {new.owner}: old "
                "readers fail without it",
                f.loc,
                True,
            )
        elif not (new.proto and reserved):
            why = (
                "without reserving its number"
                if new.proto
                else "(its id can come back with another type)"
            )
            self.report(
                "field-removed",
                f"{new.noun} {f.id} '{f.name}' was removed from {new.owner} {why}",
                f.loc,
                True,
            )

    def compare_field(self, old: ir.Field, new: ir.Field, where: _FieldSet, renamed: bool) -> None:
        proto = where.proto
        label = f"{where.noun} {new.id} '{new.name}' of {where.owner}"
        change: Change | None
        if proto:
            change = self.proto_field_change(old, new)
        else:
            change = self.type_change(old.type, new.type, proto=False)
        if change is not None:
            self.report(change.rule_id, f"{label}: {change.detail}", new.loc)
        if old.required != new.required and not where.union:
            now = "is now required" if new.required else "is no longer required"
            self.report("field-requiredness-changed", f"{label} {now}", new.loc)
        elif proto:
            # joining or leaving a oneof changes presence too: field-oneof-changed says so
            if (
                old.explicit_presence != new.explicit_presence
                and not isinstance(ir.unalias(new.type), ir.ListType | ir.MapType)
                and change is None
                and _in_oneof(old) == _in_oneof(new)
            ):
                has = "has" if new.explicit_presence else "no longer has"
                self.report("field-presence-changed", f"{label} {has} explicit presence", new.loc)
        elif (
            {old.requiredness, new.requiredness}
            == {ir.Requiredness.OPTIONAL, ir.Requiredness.DEFAULT}
            and (old.default is not None or new.default is not None)
            and not where.union
        ):
            self.report(
                "field-presence-changed",
                f"{label} changed from {old.requiredness.value} to {new.requiredness.value} "
                "requiredness: its default no longer applies the same way",
                new.loc,
            )
        # extensions are written in JSON by their full name, compared by the caller
        json_named = proto and where.noun != "extension"
        if renamed or (json_named and old.json_name != new.json_name):
            json = (
                f"JSON name '{old.json_name}' is now '{new.json_name}'"
                if json_named and old.json_name != new.json_name
                else ""
            )
            what = (
                f"{where.noun} {new.id} of {where.owner} was renamed from '{old.name}' to "
                f"'{new.name}'" + (f" ({json})" if json else "")
                if renamed
                else f"{label}: {json}"
            )
            self.report("field-json-name-changed" if proto else "field-renamed", what, new.loc)
        if change is None or change.level > Level.WIRE:
            old_default = None if old.default is None else value_key(old.default)
            new_default = None if new.default is None else value_key(new.default)
            if old_default != new_default:
                before = "none" if old.default is None else value_text(old.default)
                after = "none" if new.default is None else value_text(new.default)
                self.report("default-changed", f"{label}: default {before} is now {after}", new.loc)
        if _deprecated(new.options, new.annotations) and not _deprecated(
            old.options, old.annotations
        ):
            self.report("newly-deprecated", f"{label} is deprecated", new.loc)

    # ---- types

    def proto_field_change(self, old: ir.Field, new: ir.Field) -> Change | None:
        o, n = ir.unalias(old.type), ir.unalias(new.type)
        shapes = (_cardinality(o), _cardinality(n))
        if shapes[0] != shapes[1]:
            if set(shapes) == {"repeated", "map"}:
                entries = self.entries_change(o, n)
                if entries is None or entries.level > Level.WIRE:
                    return Change(
                        "field-json-type-changed",
                        f"changed from {type_name(o, True)} to {type_name(n, True)}: the same "
                        "bytes, but JSON writes a map as an object and repeated entries as a list",
                    )
                return entries
            packed = ""
            numeric = [t for t in (o, n) if isinstance(t, ir.ListType) and _packable(t.element)]
            side = old if numeric and numeric[0] is o else new
            if numeric and side.features.get("repeated_field_encoding", "PACKED") == "PACKED":
                packed = "; the repeated side packs its numbers, which singular readers skip"
            return Change(
                "field-cardinality-changed",
                f"changed from {shapes[0]} to {shapes[1]} ({type_name(o, True)} to "
                f"{type_name(n, True)}){packed}",
            )
        element_old = o.element if isinstance(o, ir.ListType) else o
        element_new = n.element if isinstance(n, ir.ListType) else n
        if _is_message(element_old) and _is_message(element_new) and old.delimited != new.delimited:
            how = "delimited (group)" if new.delimited else "length-prefixed"
            return Change("field-encoding-changed", f"its message is now encoded {how}")
        return self.type_change(o, n, proto=True)

    def entries_change(self, o: ir.Type, n: ir.Type) -> Change | None:
        """map<K, V> against repeated Entry {K key = 1; V value = 2}: the same bytes."""
        mapping, repeated = (o, n) if isinstance(o, ir.MapType) else (n, o)
        assert isinstance(mapping, ir.MapType) and isinstance(repeated, ir.ListType)
        entry = ir.unalias(repeated.element)
        fields = entry.definition.fields if isinstance(entry, ir.NamedType) and isinstance(
            entry.definition, ir.Struct) else None  # fmt: skip
        by_id = {f.id: f for f in fields or []}
        if fields is None or set(by_id) - {1, 2} or 1 not in by_id or 2 not in by_id:
            return Change(
                "field-wire-type-changed",
                f"changed from {type_name(o, True)} to {type_name(n, True)}, whose entries are "
                "not a key (1) and a value (2)",
            )
        pairs = ((mapping.key, by_id[1].type), (mapping.value, by_id[2].type))
        changes = [
            self.type_change(*(p if mapping is o else (p[1], p[0])), proto=True) for p in pairs
        ]
        worst = _worst(changes)
        if worst is not None and worst.level is Level.WIRE:
            return Change(worst.rule_id, f"map entries: {worst.detail}")
        return None

    def type_change(self, old: ir.Type, new: ir.Type, proto: bool) -> Change | None:
        """How a value of `old` reads as `new` and back: None when the same."""
        o, n = ir.unalias(old), ir.unalias(new)
        self.work += 1
        both = f"from {type_name(o, proto)} to {type_name(n, proto)}"
        if isinstance(o, ir.BaseType) and isinstance(n, ir.BaseType):
            return self.base_change(o.kind, n.kind, proto, both)
        od = o.definition if isinstance(o, ir.NamedType) else None
        nd = n.definition if isinstance(n, ir.NamedType) else None
        if isinstance(od, ir.Enum) or isinstance(nd, ir.Enum):
            return self.enum_type_change(o, n, proto, both)
        if isinstance(od, ir.Struct) and isinstance(nd, ir.Struct):
            if self.counterpart.get(od) is nd:
                return None
            return self.shape_change(od, nd, both)
        if (isinstance(o, ir.ListType) and isinstance(n, ir.ListType)) or (
            isinstance(o, ir.SetType) and isinstance(n, ir.SetType)
        ):
            inner = self.type_change(o.element, n.element, proto)
            return (
                None if inner is None else Change(inner.rule_id, f"changed {both}: {inner.detail}")
            )
        if isinstance(o, ir.MapType) and isinstance(n, ir.MapType):
            inner = _worst(
                [self.type_change(o.key, n.key, proto), self.type_change(o.value, n.value, proto)]
            )
            return (
                None if inner is None else Change(inner.rule_id, f"changed {both}: {inner.detail}")
            )
        if proto and (
            (isinstance(od, ir.Struct) and n == ir.BaseType(B.BINARY))
            or (isinstance(nd, ir.Struct) and o == ir.BaseType(B.BINARY))
        ):
            return Change("field-wire-type-changed", f"changed {both}: bytes that are not an "
                          "encoded message are unreadable as one")  # fmt: skip
        return Change("field-wire-type-changed", f"changed {both}")

    def base_change(self, o: ir.BaseKind, n: ir.BaseKind, proto: bool, both: str) -> Change | None:
        if o is n:
            return None
        if o in _TEXT and n in _TEXT:
            return Change(
                "field-string-bytes-changed",
                f"changed {both}: bytes that are not UTF-8 are refused as a string",
            )
        wire = _PROTO_WIRE if proto else _THRIFT_WIRE
        if wire.get(o) is not None and wire.get(o) == wire.get(n):
            return Change(
                "field-integer-range-changed",
                f"changed {both}: the same encoding, but values outside the common range change",
            )
        return Change("field-wire-type-changed", f"changed {both}")

    def enum_type_change(self, o: ir.Type, n: ir.Type, proto: bool, both: str) -> Change | None:
        od = o.definition if isinstance(o, ir.NamedType) else None
        nd = n.definition if isinstance(n, ir.NamedType) else None
        if isinstance(od, ir.Enum) and isinstance(nd, ir.Enum):
            if self.counterpart.get(od) is nd:
                return None
            self.work += len(od.members)
            numbers = {m.value for m in nd.members}
            lost = [m for m in od.members if m.value not in numbers]
            if lost or (proto and od.closed != nd.closed):
                why = f"'{lost[0].name}' = {lost[0].value} has no value there" if lost else (
                    "one is closed, the other open")  # fmt: skip
                return Change("field-wire-type-changed", f"changed {both}: {why}")
            names = {m.value: m.name for m in nd.members}
            if proto and any(names[m.value] != m.name for m in od.members):
                return Change(
                    "field-json-type-changed",
                    f"changed {both}: the same numbers under other names, which JSON writes",
                )
            return Change("field-type-changed", f"changed {both}")
        # an enum against a plain type: an enum is an i32 (Thrift) / int32 varint (protobuf)
        enum = od if isinstance(od, ir.Enum) else nd
        other = n if isinstance(od, ir.Enum) else o
        assert isinstance(enum, ir.Enum)
        if not isinstance(other, ir.BaseType):
            return Change("field-wire-type-changed", f"changed {both}")
        if proto:
            if _PROTO_WIRE.get(other.kind) != "varint":
                return Change("field-wire-type-changed", f"changed {both}")
            if enum.closed:
                return Change(
                    "field-wire-type-changed",
                    f"changed {both}: the closed enum drops numbers it does not know",
                )
            if other.kind is not B.I32:
                return Change(
                    "field-integer-range-changed",
                    f"changed {both}: enums are int32, values outside its range change",
                )
            return Change("field-json-type-changed", f"changed {both}: JSON writes enums by name")
        if other.kind is not B.I32:
            return Change("field-wire-type-changed", f"changed {both}: enums are i32 on the wire")
        return Change("field-type-changed", f"changed {both}")

    def shape_change(self, old: ir.Struct, new: ir.Struct, both: str) -> Change | None:
        """Two different struct types: does one read the other? Compared field by field,
        once per pair; a pair met again while being compared is taken as alike."""
        key = (old, new)
        if key in self._shapes:
            return self._shapes[key]
        if key in self._comparing:
            return None
        self._comparing.add(key)
        saved, self.findings = self.findings, []
        try:
            self.compare_structs(old, new)
            found = [f for f in self.findings if not f.rule.hazard and f.rule.level < Level.WARNING]
        finally:
            self.findings = saved
            self._comparing.discard(key)
        worst = min(found, key=lambda f: f.rule.level) if found else None
        if worst is None:
            result = Change("field-type-changed", f"changed {both} (of the same shape)")
        elif worst.rule.level is Level.WIRE:
            result = Change("field-wire-type-changed", f"changed {both}: {worst.message}")
        elif worst.rule.level is Level.JSON:
            result = Change("field-json-type-changed", f"changed {both}: {worst.message}")
        else:
            result = Change("field-type-changed", f"changed {both}")
        self._shapes[key] = result
        return result

    # ---- enums

    def compare_enums(self, old: ir.Enum, new: ir.Enum) -> None:
        proto = _is_proto(new.module)
        name = new.full_name
        if proto and old.closed != new.closed:
            now = "closed" if new.closed else "open"
            self.report("enum-closedness-changed", f"enum '{name}' is now {now}", new.loc)
        new_by_number: dict[int, list[ir.EnumMember]] = defaultdict(list)
        for m in new.members:
            new_by_number[m.value].append(m)
        new_by_name = {m.name: m for m in new.members}
        old_numbers = {m.value for m in old.members}
        old_names = {m.name for m in old.members}
        for m in old.members:
            self.work += 1
            same_number = new_by_number.get(m.value, [])
            moved = new_by_name.get(m.name)
            if moved is not None and moved.value != m.value:
                self.report(
                    "enum-value-renumbered",
                    f"value '{m.name}' of enum '{name}' changed from {m.value} to {moved.value}",
                    moved.loc,
                )
                continue
            if moved is not None:  # the same name and number
                if _deprecated(moved.options, moved.annotations) and not _deprecated(
                    m.options, m.annotations
                ):
                    self.report(
                        "newly-deprecated",
                        f"value '{m.name}' of enum '{name}' is deprecated",
                        moved.loc,
                    )
                continue
            if same_number:
                successor = same_number[0]
                if successor.name in old_names:
                    continue  # another value renumbered onto this one: reported with it
                self.report(
                    "enum-value-json-name-changed" if proto else "enum-value-renamed",
                    f"value {m.value} of enum '{name}' was renamed from '{m.name}' to "
                    f"'{successor.name}'",
                    successor.loc,
                )
                continue
            self.report_removed_value(m, old, new)
        if proto and new.closed:
            for m in new.members:
                if m.value not in old_numbers and m.name not in old_names:
                    self.work += 1
                    self.report(
                        "closed-enum-value-added",
                        f"value '{m.name}' = {m.value} was added to the closed enum '{name}'",
                        m.loc,
                    )
        if proto:
            self.compare_reserved(
                old.reserved_ids, new.reserved_ids, old.reserved_names, new.reserved_names,
                f"enum '{name}'", new.loc, {m.value: m.name for m in new.members},
            )  # fmt: skip

    def report_removed_value(self, m: ir.EnumMember, old: ir.Enum, new: ir.Enum) -> None:
        proto = _is_proto(new.module)
        name = new.full_name
        if not proto:
            why: str | None = (
                "(Thrift has no `reserved`, and Java readers drop a number they do not know)"
            )
        elif old.closed or new.closed:
            why = "from a closed enum, whose new readers drop the number"
        elif _reserved(m.value, new.reserved_ids):
            why = None
        else:
            why = "without reserving its number"
        if why is not None:
            self.report(
                "enum-value-removed",
                f"value '{m.name}' = {m.value} was removed from enum '{name}' {why}",
                m.loc,
                True,
            )
        if proto and m.name not in new.reserved_names:
            self.report(
                "removed-name-not-reserved",
                f"value '{m.name}' was removed from enum '{name}' without reserving its name",
                m.loc,
                True,
            )

    # ---- protobuf extensions

    def compare_extensions(self) -> None:
        """Extensions by the message they extend (its counterpart) and number, as the wire
        knows them. A removed extension leaves nothing to reserve: its generated
        attribute goes (`definition-removed`)."""
        new_by_key: dict[tuple[str, int], tuple[str, ir.Field]] = {}
        for full_name, f in _extensions(self.new.modules.values()):
            assert f.extendee is not None
            new_by_key[(f.extendee.full_name, f.id)] = (full_name, f)
        for full_name, f in _extensions(self.old.modules.values()):
            assert f.extendee is not None
            self.work += 1
            extendee = self.counterpart.get(f.extendee, f.extendee)
            found = new_by_key.get((extendee.full_name, f.id))
            if found is None:
                self.report(
                    "definition-removed",
                    f"extension '{full_name}' ({f.id}) of '{f.extendee.full_name}' was removed",
                    f.loc,
                    True,
                )
                continue
            new_name, n = found
            where = _FieldSet(f"'{extendee.full_name}'", [], True, noun="extension")
            self.compare_field(f, n, where, renamed=False)
            if full_name != new_name:
                self.report(
                    "field-json-name-changed",
                    f"extension {n.id} of '{extendee.full_name}' was renamed from '{full_name}' "
                    f"to '{new_name}', the name JSON writes",
                    n.loc,
                )

    # ---- services

    def compare_services(self, old: ir.Service, new: ir.Service) -> None:
        if old not in self.renamed and self.service_wire_name(old) != self.service_wire_name(new):
            # matched by name within its file: the package around it changed
            self.report_service_name(old, new)
        base_old, base_new = old.extends, new.extends
        if (base_old is None) != (base_new is None) or (
            base_old is not None and self.counterpart.get(base_old) is not base_new
        ):
            before = base_old.full_name if base_old else "no service"
            after = base_new.full_name if base_new else "no service"
            self.report(
                "service-extends-changed",
                f"service '{new.full_name}' extended {before}, now {after}",
                new.loc,
            )
        new_methods = {m.name: m for m in new.all_methods()}
        old_methods = {m.name: m for m in old.all_methods()}
        for m in old.all_methods():
            self.work += 1
            n = new_methods.get(m.name)
            if n is None:
                added = [x.name for x in new.all_methods() if x.name not in old_methods]
                hint = f" (renamed to '{added[0]}'?)" if len(added) == 1 else ""
                self.report(
                    "method-removed",
                    f"method '{m.name}' was removed from service '{new.full_name}'{hint}",
                    m.loc,
                    True,
                )
                continue
            if _is_proto(new.module):
                self.compare_rpcs(m, n, new)
            else:
                self.compare_thrift_methods(m, n, new)
            if _deprecated(n.options, n.annotations) and not _deprecated(m.options, m.annotations):
                self.report(
                    "newly-deprecated", f"method '{new.full_name}.{n.name}' is deprecated", n.loc
                )

    def compare_rpcs(self, old: ir.Method, new: ir.Method, service: ir.Service) -> None:
        label = f"method '{service.full_name}.{new.name}'"
        for rule_id, what, before, after in (
            ("method-request-changed", "request", old.args[0].type if old.args else None,
             new.args[0].type if new.args else None),
            ("method-response-changed", "response", old.result, new.result),
        ):  # fmt: skip
            if before is None or after is None:
                continue
            change = self.type_change(before, after, proto=True)
            if change is None:
                continue
            if change.level is Level.WIRE:
                self.report(rule_id, f"{label}: {what} {change.detail}", new.loc)
            else:
                self.report(change.rule_id, f"{label}: {what} {change.detail}", new.loc)
        for side, was, now in (
            ("client", old.client_streaming, new.client_streaming),
            ("server", old.server_streaming, new.server_streaming),
        ):
            if was != now:
                how = "now streams" if now else "no longer streams"
                self.report("method-streaming-changed", f"{label}: the {side} {how}", new.loc)

    def compare_thrift_methods(self, old: ir.Method, new: ir.Method, service: ir.Service) -> None:
        label = f"method '{service.full_name}.{new.name}'"
        if old.oneway != new.oneway:
            now = "is now oneway" if new.oneway else "is no longer oneway"
            self.report("method-oneway-changed", f"{label} {now}", new.loc)
        self.compare_fields(
            _FieldSet(f"'{service.full_name}.{old.name}'", old.args, False, noun="argument"),
            _FieldSet(f"'{service.full_name}.{new.name}'", new.args, False, noun="argument"),
        )
        if (old.result is None) != (new.result is None):
            before = "void" if old.result is None else type_name(old.result, False)
            after = "void" if new.result is None else type_name(new.result, False)
            self.report(
                "method-response-changed", f"{label} returned {before}, now {after}", new.loc
            )
        elif old.result is not None and new.result is not None:
            change = self.type_change(old.result, new.result, proto=False)
            if change is not None:
                rule_id = (
                    "method-response-changed" if change.level is Level.WIRE else change.rule_id
                )
                self.report(rule_id, f"{label}: result {change.detail}", new.loc)
        old_throws = {f.id: f for f in old.throws}
        new_throws = {f.id: f for f in new.throws}
        for f in old.throws:
            self.work += 1
            n = new_throws.get(f.id)
            if n is None:
                self.report(
                    "method-exceptions-changed",
                    f"{label} no longer throws {type_name(f.type, False)} '{f.name}' ({f.id})",
                    f.loc,
                    True,
                )
                continue
            change = self.type_change(f.type, n.type, proto=False)
            if change is not None:
                rule_id = (
                    "method-exceptions-changed" if change.level is Level.WIRE else change.rule_id
                )
                self.report(rule_id, f"{label}: exception {n.id} '{n.name}' {change.detail}", n.loc)
            if f.name != n.name:
                self.report(
                    "field-renamed",
                    f"exception {n.id} of {label} was renamed from '{f.name}' to '{n.name}'",
                    n.loc,
                )
        for n in new.throws:
            if n.id not in old_throws:
                self.report(
                    "method-exceptions-changed",
                    f"{label} now throws {type_name(n.type, False)} '{n.name}' ({n.id})",
                    n.loc,
                )


# ---- helpers -------------------------------------------------------------------------


def _extensions(modules: Iterable[ir.Module]) -> Iterator[tuple[str, ir.Field]]:
    """Every extension with its full name (what ProtoJSON writes, in brackets)."""
    for module in modules:
        for f in module.extensions:
            yield (f"{module.package}.{f.name}" if module.package else f.name), f
        for d in _definitions(module):
            if isinstance(d, ir.Struct):
                yield from ((f"{d.full_name}.{f.name}", f) for f in d.extensions)


def _in_oneof(f: ir.Field) -> bool:
    return f.oneof is not None and not f.oneof.synthetic


def _cardinality(t: ir.Type) -> str:
    if isinstance(t, ir.MapType):
        return "map"
    if isinstance(t, ir.ListType):
        return "repeated"
    return "singular"


def _is_message(t: ir.Type) -> bool:
    t = ir.unalias(t)
    return isinstance(t, ir.NamedType) and isinstance(t.definition, ir.Struct)


def _packable(t: ir.Type) -> bool:
    t = ir.unalias(t)
    if isinstance(t, ir.NamedType):
        return isinstance(t.definition, ir.Enum)
    return isinstance(t, ir.BaseType) and t.kind not in _TEXT


def _reserved(number: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= number <= end for start, end in ranges)


def _uncovered(start: int, end: int, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of start..end (both included) that no range covers."""
    gaps: list[tuple[int, int]] = []
    position = start
    for low, high in sorted(ranges):
        if high < position or low > end:
            continue
        if low > position:
            gaps.append((position, low - 1))
        position = max(position, high + 1)
        if position > end:
            break
    if position <= end:
        gaps.append((position, end))
    return gaps


def compare(old: Version, new: Version) -> Comparison:
    """Every finding between two versions (see `Comparison.findings`)."""
    comparison = Comparison(old, new)
    comparison.run()
    return comparison
