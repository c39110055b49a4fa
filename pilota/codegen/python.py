"""IR → Python source.

The IR is first turned into a small view model (what each class, field and
constant is called in Python, how its type is spelled, what its spec is),
then the Jinja templates in `templates/python/` render it. All naming and
quoting decisions are made here, so the templates stay plain.
"""

from __future__ import annotations

import builtins
import io
import math
import re
import tokenize
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from pilota import __version__, ir
from pilota.codegen import names
from pilota.resources import resource_dir


@dataclass(frozen=True)
class Options:
    """Generation options. `keep_unknown_fields`: decoded structs keep fields
    they do not know and write them back when encoded (`keep_unknown_fields_in`:
    the structs of these modules, by resolved path, do). `snake_case`: methods and
    fields are named in snake_case in Python (the wire and JSON keep the IDL's
    names), but for the `special_namings`. `definitions`: generate only these
    top-level definitions (see `pilota.codegen.select`); None: all of them."""

    keep_unknown_fields: bool = False
    keep_unknown_fields_in: frozenset[str] = frozenset()
    snake_case: bool = False
    special_namings: frozenset[str] = frozenset()
    definitions: frozenset[ir.Definition] | None = None

    def keeps_unknown_fields(self, module: ir.Module) -> bool:
        return self.keep_unknown_fields or (
            bool(self.keep_unknown_fields_in)
            and str(Path(module.path).resolve()) in self.keep_unknown_fields_in
        )

    def generates(self, definition: ir.Definition) -> bool:
        return self.definitions is None or definition in self.definitions

    def cased(self, name: str) -> str:
        return names.cased(name, self.snake_case, self.special_namings)


@dataclass(frozen=True)
class GeneratedFile:
    path: PurePosixPath  # relative to the output directory
    text: str


# ---- view model ---------------------------------------------------------------------


@dataclass
class PyField:
    name: str
    id: int
    annotation: str  # the attribute's type
    param: str  # "name: type" or "name: type = default", for __init__
    init: str  # the statement in __init__ that sets the attribute
    spec: str  # the FieldSpec(...) expression
    doc: str | None


@dataclass
class PyStruct:
    name: str
    base: str
    doc: str | None
    fields: list[PyField]
    is_union: bool
    slots: list[str]
    keeps_unknown: bool  # fields a newer peer sent are kept in `_unknown_fields`


@dataclass
class PyEnumMember:
    name: str
    value: int
    doc: str | None


@dataclass
class PyEnum:
    name: str
    doc: str | None
    members: list[PyEnumMember]


@dataclass
class PyAlias:
    name: str
    target: str
    doc: str | None


HTTP_VERBS = ("get", "post", "put", "delete", "patch")
HTTP_SOURCES = ("path", "query", "header", "cookie", "form", "body")


def _http_source(annotations: ir.Annotations) -> tuple[str, str] | None:
    """(source, key) of a value's `api.<source> = "key"` annotation, if it has one."""
    for source in HTTP_SOURCES:
        key = ir.annotation(annotations, f"api.{source}")
        if key is not None:
            return source, key
    return None


def _request_struct_type(t: ir.Type) -> ir.Struct | None:
    target = ir.unalias(t)
    if isinstance(target, ir.NamedType) and isinstance(target.definition, ir.Struct):
        return target.definition
    return None


def _request_struct(method: ir.Method) -> ir.Struct | None:
    """The one struct argument whose fields say where they come from (Hertz's
    style), if that is how `method` takes its request."""
    if len(method.args) != 1 or _http_source(method.args[0].annotations) is not None:
        return None
    return _request_struct_type(method.args[0].type)


@dataclass
class PyConst:
    name: str
    annotation: str
    value: str
    doc: str | None


@dataclass
class PyMethod:
    name: str
    idl_name: str
    params: list[str]  # "name: type" or "name: type = default"
    arg_names: list[str]  # the args struct's fields, which are also the parameter names
    returns: str
    args_class: str
    result_class: str  # "None" for a oneway method
    oneway: bool
    void: bool
    doc: str | None


@dataclass
class PyService:
    name: str
    idl_name: str
    handler: str
    client: str
    handler_base: str
    client_base: str
    doc: str | None
    methods: list[PyMethod]
    # The methods routed over HTTP (`api.get` ...), each as the HttpRoute(...) source
    http_routes: list[str] = field(default_factory=list)


@dataclass
class PyModule:
    path: PurePosixPath
    source: str
    doc: str | None
    imports: list[str] = field(default_factory=list)
    enums: list[PyEnum] = field(default_factory=list)
    structs: list[PyStruct] = field(default_factory=list)
    typedefs: list[PyAlias] = field(default_factory=list)
    services: list[PyService] = field(default_factory=list)
    consts: list[PyConst] = field(default_factory=list)
    uses_uuid: bool = False
    uses_enum: bool = False

    @property
    def uses_typing(self) -> bool:
        """Whether anything generated refers to `typing` (as `_t`)."""
        returns_value = any(not m.void and not m.oneway for s in self.services for m in s.methods)
        return bool(self.typedefs or self.consts or returns_value)

    @property
    def uses_runtime(self) -> bool:
        """Whether anything generated refers to the runtime (as `_p`): every class
        does; typedefs and constants only through a `FrozenDict`."""
        texts = [t.target for t in self.typedefs]
        texts += [text for c in self.consts for text in (c.annotation, c.value)]
        return bool(self.enums or self.structs or self.services) or any(
            "_p." in text for text in texts
        )


# ---- quoting ------------------------------------------------------------------------

# What pyright counts as a constant's name (its `isConstantName`).
_PYRIGHT_CONSTANT = re.compile(r"^(?!_+$)[A-Z0-9_]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def docstring(text: str | None, indent: str) -> str | None:
    """A triple-quoted literal of `text` that no input can break out of.

    No line ends in blanks, nor is a blank line indented: trailing whitespace
    is what linters flag (W291, W293) in the generated code."""
    text = "\n".join(line.rstrip(" \t") for line in (text or "").split("\n")).strip("\n")
    if not text:
        return None
    body = text.replace("\\", "\\\\")
    body = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", body)
    # No two unescaped quotes in a row, and none at the end: `"""` cannot appear.
    body = re.sub(r'"(?="|$)', lambda _: '\\"', body)
    lines = body.split("\n")
    if len(lines) == 1:
        return f'"""{body}"""'
    indented = [lines[0], *(indent + line if line else "" for line in lines[1:])]
    return '"""' + "\n".join(indented) + "\n" + indent + '"""'


def _one_line(text: str) -> str:
    """`text` for a comment: what is not printable (a newline in a file's name) escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def python_literal(value: Any) -> str:
    """A scalar as Python source (repr is always a safe literal for these)."""
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
    if isinstance(value, uuid.UUID):
        return f'_uuid.UUID("{value}")'
    if isinstance(value, str | bytes):
        return _double_quoted(value)
    return repr(value)


def _double_quoted(value: str | bytes) -> str:
    """repr(), but with double quotes whenever repr chose single ones."""
    text = repr(value)
    prefix = "b" if isinstance(value, bytes) else ""
    body = text[len(prefix) :]
    if body.startswith('"'):
        return text
    # repr escaped every ' inside single quotes and left " alone: swap that round.
    inner = body[1:-1].replace("\\'", "'").replace('"', '\\"')
    return f'{prefix}"{inner}"'


# ---- the generator ------------------------------------------------------------------


class _ModuleBuilder:
    def __init__(
        self,
        module: ir.Module,
        placement: dict[ir.Module, PurePosixPath],
        options: Options,
        unalias: ir.Unaliaser,
    ):
        self.module = module
        self.unalias = unalias  # shared by the builders of a schema
        self.placement = placement
        self.options = options
        self.path = placement[module]
        self.view = PyModule(self.path, _one_line(PurePosixPath(module.path).name), module.doc)
        # Module-level names: none may take an alias or a builtin the module uses.
        self.taken: set[str] = set(names.MODULE_PRIVATE | names.GENERATED_BUILTINS)
        self.aliases: dict[ir.Module, str] = {}
        self.named_modules: set[ir.Module] = set()  # included modules `ref` has named
        self.py_names: dict[ir.Definition, str] = {}
        self.own_field_names: dict[ir.Struct, dict[str, str]] = {}
        # names a struct's fields must not take, past the usual (an args struct's
        # fields are its method's parameters: the method's body looks names up)
        self.extra_reserved: dict[ir.Struct, frozenset[str]] = {}
        self.builders: dict[ir.Module, _ModuleBuilder] = {}
        self.service_views: dict[ir.Service, PyService] = {}

    # ---- names --------------------------------------------------------------------

    def build(self, all_names: dict[ir.Definition, str]) -> PyModule:
        if self.path.name == "__init__.py":
            # A package's __init__ shares its namespace with the package, where
            # importing a submodule binds the submodule's name: leave those free.
            here = self.path.parent.parts
            for other in self.placement.values():
                parts = other.parts
                if len(parts) > len(here) + 1 and parts[: len(here)] == here:
                    self.taken.add(parts[len(here)])
                elif len(parts) == len(here) + 1 and parts[: len(here)] == here:
                    self.taken.add(PurePosixPath(parts[-1]).stem)
        for include in self.module.includes:
            alias = names.unique(names.module_segment(include.module.name), self.taken)
            self.aliases[include.module] = alias
        for definition in self.module.definitions.values():
            self.py_names[definition] = names.unique(
                names.public_name(definition.name, definition.annotations), self.taken
            )
        all_names.update(self.py_names)
        self.all_names = all_names
        return self.view

    def include_imports(self) -> list[str]:
        """Imports of the included modules this one names (once its definitions are
        built): an unused import would be a linter's error, and `x as x`, which
        would silence it, is one too (a redundant alias)."""
        imports: dict[str, list[tuple[str, str]]] = {}  # module -> (name, alias) pairs
        for module, alias in self.aliases.items():
            if module in self.named_modules:
                parent, name = self.relative_import(module)
                imports.setdefault(parent, []).append((name, alias))
        return _isort_from_imports(imports)

    def relative_import(self, target: ir.Module) -> tuple[str, str]:
        """Where `target` is imported from, relatively (the output directory is the
        root package), and its name there: `from PARENT import NAME`."""
        here = _package_of(self.path)
        there = _dotted(self.placement[target])
        parent, name = there[:-1], there[-1]
        common = 0
        while common < min(len(here), len(parent)) and here[common] == parent[common]:
            common += 1
        dots = "." * (len(here) - common + 1)
        return dots + ".".join(parent[common:]), name

    def ref(self, definition: ir.Definition) -> str:
        name = self.all_names[definition]
        if definition.module is self.module:
            return name
        self.named_modules.add(definition.module)
        return f"{self.aliases[definition.module]}.{name}"

    # ---- types ----------------------------------------------------------------------

    def annotation(self, t: ir.Type, hashed: bool = False) -> str:
        """The Python type of `t`; `hashed` for set members and map keys, which
        decode to hashable containers."""
        if hashed and isinstance(self.unalias(t), ir.ListType | ir.SetType | ir.MapType):
            t = self.unalias(t)
        if isinstance(t, ir.BaseType):
            if t.kind is ir.BaseKind.UUID:
                self.view.uses_uuid = True
            return _SCALAR_ANNOTATIONS[t.kind]
        if isinstance(t, ir.ListType):
            element = self.annotation(t.element, hashed)
            return f"tuple[{element}, ...]" if hashed else f"list[{element}]"
        if isinstance(t, ir.SetType):
            element = self.annotation(t.element, True)
            return f"frozenset[{element}]" if hashed else f"set[{element}]"
        if isinstance(t, ir.MapType):
            key, value = self.annotation(t.key, True), self.annotation(t.value, hashed)
            return f"_p.FrozenDict[{key}, {value}]" if hashed else f"dict[{key}, {value}]"
        return self.ref(t.definition)

    def spec_type(self, t: ir.Type) -> str:
        t = self.unalias(t)
        if isinstance(t, ir.BaseType):
            return _SPEC_CODES[t.kind]
        if isinstance(t, ir.ListType):
            return f"(_p.LIST, {self.spec_type(t.element)})"
        if isinstance(t, ir.SetType):
            return f"(_p.SET, {self.spec_type(t.element)})"
        if isinstance(t, ir.MapType):
            return f"(_p.MAP, {self.spec_type(t.key)}, {self.spec_type(t.value)})"
        assert not isinstance(t.definition, ir.Typedef)
        code = "_p.ENUM" if isinstance(t.definition, ir.Enum) else "_p.STRUCT"
        return f"({code}, {self.ref(t.definition)})"

    # ---- values ---------------------------------------------------------------------

    def value(self, v: ir.Value, t: ir.Type, frozen: bool = False) -> str:
        """`v` as a Python expression of type `t`; `frozen` builds immutable
        containers (for constants and hashed positions)."""
        target = self.unalias(t)
        if isinstance(v, ir.EnumValue):
            enum = self.ref(v.member.enum)
            member = self.member_names(v.member.enum)[v.member.name]
            return f"{enum}.{member}"
        if isinstance(v, ir.StructValue):
            struct = v.struct
            field_names = self.field_names(struct)
            by_name = {f.name: f for f in struct.fields}
            args = ", ".join(
                f"{field_names[name]}={self.value(item, by_name[name].type)}"
                for name, item in v.fields
            )
            return f"{self.ref(struct)}({args})"
        if isinstance(v, ir.ListValue):
            element = target.element if isinstance(target, ir.ListType | ir.SetType) else t
            items = [self.value(item, element, frozen) for item in v.items]
            if frozen:
                return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            return "[" + ", ".join(items) + "]"
        if isinstance(v, ir.SetValue):
            element = target.element if isinstance(target, ir.ListType | ir.SetType) else t
            items = [self.value(item, element, True) for item in v.items]
            inner = ", ".join(items)
            if frozen:
                return f"frozenset({{{inner}}})" if items else "frozenset()"
            return f"{{{inner}}}" if items else "set()"
        if isinstance(v, ir.MapValue):
            assert isinstance(target, ir.MapType)
            pairs = ", ".join(
                f"{self.value(k, target.key, True)}: {self.value(item, target.value, frozen)}"
                for k, item in v.items
            )
            return f"_p.frozen_dict({{{pairs}}})" if frozen else f"{{{pairs}}}"
        if isinstance(v, uuid.UUID):
            self.view.uses_uuid = True
        if isinstance(target, ir.NamedType) and isinstance(target.definition, ir.Enum):
            assert isinstance(v, int)
            return f"{self.ref(target.definition)}({v})"  # a number no member names
        double = isinstance(target, ir.BaseType) and target.kind is ir.BaseKind.DOUBLE
        if double and isinstance(v, int) and not isinstance(v, bool):
            return python_literal(float(v))
        return python_literal(v)

    # ---- per-definition names ---------------------------------------------------------

    def member_names(self, enum: ir.Enum) -> dict[str, str]:
        return _member_names(enum)

    def field_names(self, struct: ir.Struct) -> dict[str, str]:
        """Python names of a struct's fields, decided by the module that defines it."""
        owner = self.builders.get(struct.module, self)
        found = owner.own_field_names.get(struct)
        if found is None:
            found = owner.own_field_names[struct] = owner.choose_field_names(struct)
        return found

    def choose_field_names(self, struct: ir.Struct) -> dict[str, str]:
        # A class attribute shadows, inside the class body, any module-level name
        # an annotation there uses (a type, an include alias, `int`, `_p`...), so
        # field names steer clear of every identifier in the class's annotations.
        # As parameters of `__init__`, they steer clear of what its body looks up:
        # the module's aliases, builtins, and the names in mutable defaults.
        members = {
            ir.StructKind.UNION: names.UNION_MEMBERS,
            ir.StructKind.EXCEPTION: names.EXCEPTION_MEMBERS,
        }.get(struct.kind, names.STRUCT_MEMBERS)
        used = _identifiers(self.annotation(f.type) for f in struct.fields)
        defaults = {
            name
            for f in struct.fields
            if isinstance(f.default, _MUTABLE_VALUES)
            for name in self.lookups(f.default, f.type)
        }
        reserved = (
            members | names.MODULE_PRIVATE | names.GENERATED_BUILTINS | used | defaults
            | self.extra_reserved.get(struct, frozenset())
        )  # fmt: skip
        taken: set[str] = set()
        return {
            f.name: names.unique(
                names.python_name(self.options.cased(f.name), f.annotations, reserved),
                taken,
                reserved,
            )
            for f in struct.fields
        }

    def lookups(self, value: ir.Value, t: ir.Type) -> set[str]:
        """The module-level names `self.value(value, t)` looks up (the first part of
        each dotted one), found without spelling it (which names struct fields)."""
        found: set[str] = set()
        pending = [(value, t)]
        while pending:
            v, t = pending.pop()
            target = self.unalias(t)
            if isinstance(v, ir.EnumValue):
                found.add(self.ref(v.member.enum).partition(".")[0])
            elif isinstance(v, ir.StructValue):
                found.add(self.ref(v.struct).partition(".")[0])
                by_name = {f.name: f for f in v.struct.fields}
                pending += [(item, by_name[name].type) for name, item in v.fields]
            elif isinstance(v, ir.ListValue | ir.SetValue):
                element = target.element if isinstance(target, ir.ListType | ir.SetType) else t
                pending += [(item, element) for item in v.items]
            elif isinstance(v, ir.MapValue) and isinstance(target, ir.MapType):
                pending += [(k, target.key) for k, _ in v.items]
                pending += [(item, target.value) for _, item in v.items]
            elif isinstance(target, ir.NamedType) and isinstance(target.definition, ir.Enum):
                found.add(self.ref(target.definition).partition(".")[0])  # `Enum(5)`
        return found

    # ---- definitions ------------------------------------------------------------------

    def enum(self, enum: ir.Enum) -> PyEnum:
        member_names = self.member_names(enum)
        self.view.uses_enum = True
        return PyEnum(
            self.py_names[enum],
            docstring(enum.doc, "    "),
            [
                PyEnumMember(member_names[m.name], m.value, docstring(m.doc, "    "))
                for m in enum.members
            ],
        )

    def struct(self, struct: ir.Struct, name: str | None = None) -> PyStruct:
        field_names = self.field_names(struct)
        base = {
            ir.StructKind.UNION: "_p.Union",
            ir.StructKind.EXCEPTION: "_p.ThriftException",
        }.get(struct.kind, "_p.Struct")
        fields = [
            self.field(f, field_names[f.name], struct.is_union) for f in _by_id(struct.fields)
        ]
        keeps_unknown = self.options.keeps_unknown_fields(self.module)
        slots = [f.name for f in fields] + (["_unknown_fields"] if keeps_unknown else [])
        slots.sort(key=_natural)  # in the order linters expect (ruff's RUF023)
        return PyStruct(
            name or self.py_names[struct],
            base,
            docstring(struct.doc, "    "),
            fields,
            struct.is_union,
            slots,
            keeps_unknown,
        )

    def field(self, f: ir.Field, name: str, in_union: bool) -> PyField:
        annotation = self.annotation(f.type)
        required = f.required and not in_union
        default = None if (f.optional or in_union) else f.default
        mutable = isinstance(default, _MUTABLE_VALUES)
        if required and default is None:
            param = f"{name}: {annotation}"
            attribute = annotation
        elif default is None:
            param = f"{name}: {annotation} | None = None"
            attribute = f"{annotation} | None"
        elif mutable:
            param = f"{name}: {annotation} | None = None"
            attribute = annotation
        else:
            param = f"{name}: {annotation} = {self.value(default, f.type)}"
            attribute = annotation
        value = name
        if mutable:
            assert default is not None
            value = f"{self.value(default, f.type)} if {name} is None else {name}"
        if _PYRIGHT_CONSTANT.match(name):
            # Pyright takes an all-capitals name for a constant, and `self.NAME = ...`
            # for redefining the one the class body declares; this sets it all the same.
            init = f'object.__setattr__(self, "{name}", {value})'
        else:
            init = f"self.{name} = {value}"
        requiredness = {
            ir.Requiredness.REQUIRED: "_p.REQUIRED",
            ir.Requiredness.OPTIONAL: "_p.OPTIONAL",
            ir.Requiredness.DEFAULT: "_p.DEFAULT",
        }[ir.Requiredness.OPTIONAL if in_union else f.requiredness]
        spec_args = [str(f.id), repr(name), self.spec_type(f.type), requiredness]
        if default is not None:
            if mutable:
                spec_args += ["None", self.factory(default, f.type)]
            else:
                spec_args.append(self.value(default, f.type))
        if name != f.name:
            while len(spec_args) < 6:
                spec_args.append("None")
            spec_args.append(repr(f.name))
        return PyField(
            name,
            f.id,
            attribute,
            param,
            init,
            f"_p.FieldSpec({', '.join(spec_args)})",
            docstring(f.doc, "    "),
        )

    def factory(self, value: ir.Value, t: ir.Type) -> str:
        """A function that makes a fresh `value` each call, for a mutable default."""
        if isinstance(value, ir.ListValue | ir.SetValue | ir.MapValue) and not value.items:
            # the type itself: a lambda returning `[]` has an element type pyright cannot know
            target = self.unalias(t)
            return {ir.ListType: "list", ir.SetType: "set", ir.MapType: "dict"}[type(target)]
        return f"lambda: {self.value(value, t)}"

    def typedef(self, typedef: ir.Typedef) -> PyAlias:
        target = self.annotation(typedef.type)
        return PyAlias(self.py_names[typedef], target, docstring(typedef.doc, ""))

    def const(self, const: ir.Const) -> PyConst:
        # Constants are immutable all the way down: the "hashed" spelling of their
        # type (tuple, frozenset, FrozenDict) is exactly what `frozen` values build.
        return PyConst(
            self.py_names[const],
            self.annotation(const.type, hashed=True),
            self.value(const.value, const.type, frozen=True),
            docstring(const.doc, ""),
        )

    def service(self, service: ir.Service) -> tuple[PyService, list[PyStruct]]:
        name = self.py_names[service]
        handler = names.unique(f"{name}Handler", self.taken)
        client = names.unique(f"{name}Client", self.taken)
        structs: list[PyStruct] = []
        methods: list[PyMethod] = []
        method_names: set[str] = set(names.SERVICE_MEMBERS)
        # Method names, too, must not shadow what the class's annotations use.
        used = _identifiers(
            self.annotation(t)
            for m in service.methods
            for t in [*(a.type for a in m.args), *([m.result] if m.result else [])]
        )
        for method in service.methods:
            # An argument that does not arrive decodes to its type's zero value, as in
            # Kitex: what the handler gets is always of the type it is annotated with.
            args = [_with_zero_default(f, self.unalias) for f in method.args]
            args_struct = ir.Struct(f"{method.name}_args", self.module, fields=args)
            args_name = names.unique(f"{name}_{method.name}_args", self.taken)
            result_name = "None"  # a oneway method gets no reply, so has no result struct
            if not method.oneway:
                result_name = names.unique(f"{name}_{method.name}_result", self.taken)
            returns = self.annotation(method.result) if method.result is not None else "None"
            # The arguments are the client's parameters: its body looks these up.
            self.extra_reserved[args_struct] = frozenset(
                {"result", args_name, result_name, *_identifiers([returns])}
            )
            structs.append(self.struct(args_struct, args_name))
            if not method.oneway:
                # Apache's result struct: `success` (id 0) unless void, then each exception.
                result_fields = [
                    replace(f, requiredness=ir.Requiredness.OPTIONAL) for f in method.throws
                ]
                if method.result is not None:
                    result_fields.insert(
                        0, ir.Field(0, "success", method.result, ir.Requiredness.OPTIONAL)
                    )
                result_struct = ir.Struct(
                    f"{method.name}_result", self.module, fields=result_fields
                )
                structs.append(self.struct(result_struct, result_name))
            methods.append(
                PyMethod(
                    names.unique(
                        names.public_name(
                            self.options.cased(method.name), method.annotations, used
                        ),
                        method_names,
                        used,
                    ),
                    method.name,
                    self.parameters(method.args, self.field_names(args_struct).values()),
                    list(self.field_names(args_struct).values()),
                    returns,
                    args_name,
                    result_name,
                    method.oneway,
                    method.result is None,
                    docstring(method.doc, "        "),
                )
            )
        base = service.extends
        handler_base = f"{self.ref(base)}Handler" if base else "_p.service.Handler"
        client_base = f"{self.ref(base)}Client" if base else "_p.service.Client"
        view = PyService(
            name, service.name, handler, client, handler_base, client_base,
            docstring(service.doc, "    "), methods,
        )  # fmt: skip
        for method, py in zip(service.methods, methods, strict=True):
            view.http_routes += self.http_routes(method, py.arg_names)
        return view, structs

    def http_routes(self, method: ir.Method, arg_names: list[str]) -> list[str]:
        """Hertz's HTTP annotations of `method`, as `_p.service.HttpRoute(...)` sources:
        `api.get|post|put|delete|patch = "/path/:param"` on the method; on its
        arguments, or on the fields of its one struct argument, `api.path`,
        `api.query`, `api.header`, `api.cookie`, `api.form`, `api.body` (a value
        without one: the body's for POST, PUT and PATCH, else the query's)."""
        routes = []
        for verb in HTTP_VERBS:
            path = ir.annotation(method.annotations, f"api.{verb}")
            if path is None:
                continue
            fallback = "body" if verb in ("post", "put", "patch") else "query"
            bindings: list[tuple[str, str | None, str, str]] = []
            request = _request_struct(method)
            if request is not None:
                names_of = self.field_names(request)
                for f in request.fields:
                    source, key = _http_source(f.annotations) or (fallback, "")
                    bindings.append((arg_names[0], names_of[f.name], source, key or f.name))
            else:
                for arg, py_name in zip(method.args, arg_names, strict=True):
                    found = _http_source(arg.annotations)
                    if found is None and _request_struct_type(arg.type) is not None:
                        # a struct argument without one, beside others: the whole body
                        bindings.append((py_name, None, "body", ""))
                        continue
                    source, key = found or (fallback, "")
                    bindings.append((py_name, None, source, key or arg.name))
            text = "".join(
                f"\n        _p.service.HttpBinding({a!r}, {f!r}, {s!r}, {k!r}),"
                for a, f, s, k in bindings
            )
            routes.append(
                f"_p.service.HttpRoute({verb.upper()!r}, {path!r}, {method.name!r}, "
                + (f"({text}\n    ))" if bindings else "())")
            )
        return routes

    def parameters(self, args: list[ir.Field], py_names: Iterable[str]) -> list[str]:
        """A method's parameters, for its handler and its client: in IDL order,
        typed as the handler receives them. An argument of a struct type may be
        absent (None); one of any other type arrives as its zero value if absent,
        so it is typed as declared. Once one has a default (given in the IDL), the
        ones after it get one too, so the signature stays valid."""
        params: list[str] = []
        defaulted = False
        for f, py_name in zip(args, py_names, strict=True):
            annotation = self.annotation(f.type)
            zero = None if f.required else _zero_value(f.type, self.unalias)
            if f.default is None and not defaulted:
                nullable = not f.required and zero is None
                params.append(f"{py_name}: {annotation}" + (" | None" if nullable else ""))
                continue
            defaulted = True
            value = f.default if f.default is not None else zero
            if value is None or isinstance(value, _MUTABLE_VALUES):
                params.append(f"{py_name}: {annotation} | None = None")
            else:
                params.append(f"{py_name}: {annotation} = {self.value(value, f.type)}")
        return params


def _with_zero_default(f: ir.Field, unalias: ir.Unaliaser) -> ir.Field:
    """An argument, with its type's zero value as default if it has none and may be absent."""
    zero = None if f.default is not None or f.required else _zero_value(f.type, unalias)
    return f if zero is None else replace(f, default=zero)


def _zero_value(t: ir.Type, unalias: ir.Unaliaser) -> ir.Value | None:
    """The zero value of a type (0, "", an empty list, enum value 0, ...); None for a
    struct, union or exception, which have none, nor has an enum without members
    (Python's enum cannot make one of those)."""
    t = unalias(t)
    if isinstance(t, ir.BaseType):
        return _ZERO_VALUES.get(t.kind, 0)
    if isinstance(t, ir.ListType):
        return ir.ListValue(())
    if isinstance(t, ir.SetType):
        return ir.SetValue(())
    if isinstance(t, ir.MapType):
        return ir.MapValue(())
    if isinstance(t.definition, ir.Enum) and t.definition.members:
        member = t.definition.by_value(0)
        # without a member for 0, the number itself: the open enum takes it as one
        return ir.EnumValue(member) if member is not None else 0
    return None


_ZERO_VALUES: dict[ir.BaseKind, ir.Value] = {
    ir.BaseKind.BOOL: False,
    ir.BaseKind.DOUBLE: 0.0,
    ir.BaseKind.FLOAT: 0.0,
    ir.BaseKind.STRING: "",
    ir.BaseKind.BINARY: b"",
    ir.BaseKind.UUID: uuid.UUID(int=0),
}  # every other kind is an integer
_MUTABLE_VALUES = (ir.ListValue, ir.SetValue, ir.MapValue, ir.StructValue)


@cache
def _member_names(enum: ir.Enum) -> dict[str, str]:
    taken: set[str] = set()
    return {
        m.name: names.unique(names.enum_member_name(m.name, m.annotations), taken)
        for m in enum.members
    }


def _identifiers(texts: Iterable[str]) -> frozenset[str]:
    return frozenset(word for text in texts for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def _natural(name: str) -> list[tuple[int, str]]:
    """Natural order: runs of digits compare as numbers."""
    return [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"(\d+)", name)]


def _by_id(fields: Iterable[ir.Field]) -> list[ir.Field]:
    return sorted(fields, key=lambda f: f.id)


_SCALAR_ANNOTATIONS = {
    ir.BaseKind.BOOL: "bool",
    ir.BaseKind.I8: "int",
    ir.BaseKind.I16: "int",
    ir.BaseKind.I32: "int",
    ir.BaseKind.I64: "int",
    ir.BaseKind.DOUBLE: "float",
    ir.BaseKind.STRING: "str",
    ir.BaseKind.BINARY: "bytes",
    ir.BaseKind.UUID: "_uuid.UUID",
}
_SPEC_CODES = {
    ir.BaseKind.BOOL: "_p.BOOL",
    ir.BaseKind.I8: "_p.BYTE",
    ir.BaseKind.I16: "_p.I16",
    ir.BaseKind.I32: "_p.I32",
    ir.BaseKind.I64: "_p.I64",
    ir.BaseKind.DOUBLE: "_p.DOUBLE",
    ir.BaseKind.STRING: "_p.STRING",
    ir.BaseKind.BINARY: "_p.BINARY",
    ir.BaseKind.UUID: "_p.UUID",
}


def _placement(modules: Iterable[ir.Module]) -> dict[ir.Module, PurePosixPath]:
    """Where each module's Python file goes: `namespace py`, else `namespace *`,
    else the file's stem. A module that other modules sit inside (`a` beside
    `a.b`) becomes `a/__init__.py`. Paths equal but for case get a suffix, since
    case-insensitive file systems would merge them."""
    dotted: dict[ir.Module, tuple[str, ...]] = {}
    seen: set[str] = set()
    for module in sorted(modules, key=lambda m: (m.path, m.name)):
        name = module.namespace("py", "*") or module.name
        parts = [names.module_segment(p) for p in name.split(".") if p]
        while ".".join(parts).lower() in seen:
            parts[-1] += "_"
        seen.add(".".join(parts).lower())
        dotted[module] = tuple(parts)
    packages = {parts[:i] for parts in dotted.values() for i in range(1, len(parts))}
    return {
        module: PurePosixPath(*parts, "__init__.py")
        if parts in packages
        else PurePosixPath(*parts[:-1], parts[-1] + ".py")
        for module, parts in dotted.items()
    }


def module_paths(schema: ir.Schema) -> dict[ir.Module, PurePosixPath]:
    """Where each module of `schema` is generated, relative to the output directory."""
    return _placement(schema.modules.values())


def _dotted(path: PurePosixPath) -> tuple[str, ...]:
    """A module's name below the root package, from its file's path."""
    if path.name == "__init__.py":
        return path.parent.parts
    return (*path.parent.parts, path.stem)


def _package_of(path: PurePosixPath) -> tuple[str, ...]:
    """The package a module's relative imports start from."""
    return path.parent.parts


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates") / "python")),
        autoescape=False,  # Python source, not HTML: this module quotes every value
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _built(schema: ir.Schema, options: Options) -> dict[ir.Module, _ModuleBuilder]:
    """A builder per module of `schema`, each with its view model filled in."""
    modules = list(schema.modules.values())
    placement = _placement(modules)
    unalias = ir.Unaliaser()
    builders = {m: _ModuleBuilder(m, placement, options, unalias) for m in modules}
    all_names: dict[ir.Definition, str] = {}
    for builder in builders.values():
        builder.build(all_names)
        builder.builders = builders
    for module, builder in builders.items():
        view = builder.view
        generated = [d for d in module.definitions.values() if options.generates(d)]
        for definition in generated:
            if isinstance(definition, ir.Enum):
                view.enums.append(builder.enum(definition))
            elif isinstance(definition, ir.Struct):
                view.structs.append(builder.struct(definition))
            elif isinstance(definition, ir.Typedef):
                view.typedefs.append(builder.typedef(definition))
            elif isinstance(definition, ir.Const):
                view.consts.append(builder.const(definition))
        for definition in generated:
            if isinstance(definition, ir.Service):
                service, structs = builder.service(definition)
                view.services.append(service)
                builder.service_views[definition] = service
                view.structs += structs
        view.typedefs = _typedefs_in_dependency_order(module, view.typedefs, builder)
        view.imports = builder.include_imports()
    return builders


def generate_python(schema: ir.Schema, options: Options | None = None) -> list[GeneratedFile]:
    """Python source for every module of `schema` (roots and their includes)."""
    template = _environment().get_template("module.py.jinja")
    files: list[GeneratedFile] = []
    packages: set[PurePosixPath] = set()
    for builder in _built(schema, options or Options()).values():
        view = builder.view
        text = template.render(module=view, version=__version__, docstring=docstring)
        files.append(GeneratedFile(view.path, text))
        for parent in view.path.parents:
            if parent != PurePosixPath("."):
                packages.add(parent)
    # The output directory is the root package; every folder below it is a package too.
    root = PurePosixPath()
    files.append(GeneratedFile(root / "py.typed", ""))
    taken = {f.path for f in files}
    for package in {root, *packages}:
        init = package / "__init__.py"
        if init not in taken:  # a module may already be this package's __init__
            files.append(GeneratedFile(init, _PACKAGE_INIT))
    return sorted(files, key=lambda f: str(f.path))


_PACKAGE_INIT = f"# Generated by pilota {__version__}. Do not edit.\n"


def _typedefs_in_dependency_order(
    module: ir.Module, aliases: list[PyAlias], builder: _ModuleBuilder
) -> list[PyAlias]:
    """Typedefs after the typedefs of this module they name (they are runtime values).

    Depth first without recursion: a chain of thousands of typedefs costs no stack."""
    by_name = {a.name: a for a in aliases}
    typedefs = {builder.py_names[t]: t for t in module.typedefs}
    ordered: list[PyAlias] = []
    done: set[str] = set()
    for alias in aliases:
        stack = [(alias.name, False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                ordered.append(by_name[name])
                continue
            if name in done:
                continue
            done.add(name)
            stack.append((name, True))
            named = [
                builder.py_names[other]
                for other in _named_in(typedefs[name].type)
                if isinstance(other, ir.Typedef) and other.module is module
            ]
            stack += [(other, False) for other in reversed(named) if other not in done]
    return ordered


def _named_in(t: ir.Type) -> list[ir.Definition]:
    if isinstance(t, ir.NamedType):
        return [t.definition]
    if isinstance(t, ir.ListType | ir.SetType):
        return _named_in(t.element)
    if isinstance(t, ir.MapType):
        return _named_in(t.key) + _named_in(t.value)
    return []


# ---- the generated code as a module outside it sees it --------------------------------


class ImportingModule:
    """How a module outside the generated package (a project's handler, client or
    tests) spells the generated names: those defined in `home`, one of the
    generated modules, bare; those of every other generated module through a
    module alias. Types, values and method signatures are spelled by the
    generator's own builders, so they match the generated code exactly.

    `package` is the generated package's dotted name; `reserved` are names the
    importing module binds itself, which no import may take (when one of them
    is also a name in `home`, `home` is imported as a module alias too)."""

    def __init__(
        self,
        schema: ir.Schema,
        package: str,
        home: ir.Module,
        reserved: Iterable[str] = (),
        options: Options | None = None,
    ):
        self.package = package
        self._built = _built(schema, options or Options())
        owner = self._built[home]
        self._views = {
            service: view
            for builder in self._built.values()
            for service, view in builder.service_views.items()
        }
        reserved = set(reserved)
        home_names = set(owner.py_names.values()) | {
            name for s in owner.view.services for name in (s.handler, s.client)
        }
        self._spelling = _ModuleBuilder(home, owner.placement, owner.options, owner.unalias)
        # A module of no definitions stands for `home` when its names must be qualified.
        bare = home if not home_names & reserved else ir.Module(home.path, home.name)
        self._spelling.module = bare
        self._spelling.all_names = owner.all_names
        self._spelling.builders = self._built
        taken = reserved | set(dir(builtins)) | (home_names if bare is home else set())
        for module in self._built:
            if module is not bare:
                alias = names.unique(names.module_segment(module.name), taken)
                self._spelling.aliases[module] = alias
        self._home_names = home_names if bare is home else set()
        self._home = home

    def type(self, t: ir.Type) -> str:
        """The annotation of `t`, as the generated code writes it."""
        return self._spelling.annotation(t)

    def value(self, v: ir.Value, t: ir.Type) -> str:
        """An expression of `v`, a value of type `t`."""
        return self._spelling.value(v, t)

    def service(self, service: ir.Service) -> PyService:
        """The service's generated handler and client classes (their names spelled
        here), with every method a handler implements, inherited ones first, each
        named and typed as in the generated handler."""
        view = self._views[service]
        methods: list[PyMethod] = []
        for owner in [*reversed(service.extends_chain()), service]:
            for method, generated in zip(owner.methods, self._views[owner].methods, strict=True):
                returns = self.type(method.result) if method.result is not None else "None"
                params = self._spelling.parameters(method.args, generated.arg_names)
                methods.append(replace(generated, params=params, returns=returns))
        prefix = self._spelling.ref(service).removesuffix(view.name)
        return replace(
            view, handler=prefix + view.handler, client=prefix + view.client, methods=methods
        )

    def import_lines(self, texts: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
        """The imports the names in `texts` need: the standard library's, the
        runtime's and the generated package's, each group in isort's order."""
        used = _names_in(texts)
        standard = ["import uuid as _uuid"] if "_uuid" in used else []
        runtime = ["import pilota.runtime as _p"] if "_p" in used else []
        imports: dict[str, list[tuple[str, str]]] = {}  # module -> (name, alias) pairs
        placement = self._spelling.placement
        home_module = ".".join([self.package, *_dotted(placement[self._home])])
        for name in self._home_names & used:
            imports.setdefault(home_module, []).append((name, name))
        for module, alias in self._spelling.aliases.items():
            if alias in used:
                *parent, name = [self.package, *_dotted(placement[module])]
                imports.setdefault(".".join(parent), []).append((name, alias))
        return standard, runtime, _isort_from_imports(imports)


def _isort_from_imports(imports: dict[str, list[tuple[str, str]]]) -> list[str]:
    """`from` lines as isort writes them: by module (relative ones after absolute
    ones, the furthest first); a module's plain names on one line (a name imported
    as itself is plain: `x as x` is a redundant alias to linters), each renaming
    import on a line of its own, ordered by their first name."""
    lines: list[tuple[tuple[bool, int, str], tuple[int, str], str]] = []  # module, name, line
    for module, pairs in imports.items():
        dots = len(module) - len(module.lstrip("."))
        key = (dots > 0, -dots, module[dots:].lower())
        plain = sorted((n for n, alias in pairs if n == alias), key=_isort_member)
        if plain:
            line = f"from {module} import {', '.join(plain)}"
            lines.append((key, _isort_member(plain[0]), line))
        for name, alias in pairs:
            if name != alias:
                line = f"from {module} import {name} as {alias}"
                lines.append((key, _isort_member(name), line))
    return [line for *_, line in sorted(lines)]


def _names_in(texts: Iterable[str]) -> set[str]:
    """The names Python source `texts` look up: not attributes, keyword arguments,
    names being annotated (`name: type`) or anything inside a string."""
    found: set[str] = set()
    for text in texts:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.string]
        for i, token in enumerate(tokens):
            before = tokens[i - 1].string if i else ""
            after = tokens[i + 1].string if i + 1 < len(tokens) else ""
            if token.type != tokenize.NAME or before == ".":
                continue
            keyword_argument = after == "=" and before in ("(", ",")
            if not keyword_argument and after != ":":
                found.add(token.string)
    return found


def _isort_member(name: str) -> tuple[int, str]:
    """isort's order of the names one `from` import brings: constants, classes, the rest."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[0].isupper() else 2
    return kind, name.lower()
