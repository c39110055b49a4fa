"""IR of .proto files → Python source: one module per file, one package per proto package.

As for Thrift, the IR first becomes a view model (what everything is called
in Python, how its type is spelled, its field spec), which the template
`templates/python/proto_module.py.jinja` renders; every naming and quoting
decision is made here.

Placement: a file of package `a.b` becomes `a/b/<file stem>.py` below the
output directory, which is the root package; a file without a package sits at
the root. Modules import each other relatively. The well-known types
(`google/protobuf/*.proto` as grpcio-tools ships them) are not generated:
modules import the copies in `pilota.runtime.protobuf.wkt`.

A message is a class (nested messages and enums are nested classes) whose
layout `pilota.runtime.protobuf.spec` documents; each module also carries
its file's serialized FileDescriptorProto as `FILE_DESCRIPTOR`. Extensions
are `Extension` objects (module attributes, or class attributes of the message
they are declared in); a service is a class of `Method` descriptions.

Names follow `pilota.codegen.names` (keywords get a trailing `_`, `__x`
becomes `x__x`, collisions get more `_`), and also:
- a class (message, enum, service) never takes a builtin's name (`bytes_`): it
  would hide the builtin from the annotations around it;
- an attribute that `__init__` assigns is never written in capitals (`ID` is
  `id`): type checkers read such a name as a constant;
- members never take the name of something their class's annotations use,
  nor of a `Message` member (`to_bytes_`);
- enum members never take an int's members' names (`real_`); they, rpcs and
  nested types, used from outside their class, never start with `_` (`x_a_`):
  type checkers take such names for private, and enum reserves `_sunder_` ones.
The wire and ProtoJSON keep the .proto names (`FieldSpec.proto_name`).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from pilota import __version__, ir
from pilota.codegen import names
from pilota.codegen.python import (
    _PACKAGE_INIT,
    GeneratedFile,
    _dotted,
    _environment,
    _identifiers,
    _isort_from_imports,
    _member_names,
    _names_in,
    _natural,
    _package_of,
    docstring,
    python_literal,
)
from pilota.proto.descriptor import file_descriptor

# The files whose modules ship in the runtime, and where.
WELL_KNOWN_PACKAGE = "pilota.runtime.protobuf.wkt"
WELL_KNOWN_FILES = frozenset(
    f"google/protobuf/{name}.proto"
    for name in (
        "any", "api", "compiler/plugin", "cpp_features", "descriptor", "duration", "empty",
        "field_mask", "go_features", "java_features", "source_context", "struct",
        "timestamp", "type", "wrappers",
    )
)  # fmt: skip


# The well-known types whose classes derive from a base with helpers (and, for some, a
# ProtoJSON form that is not an object): pilota.runtime.protobuf.well_known.
WELL_KNOWN_BASES = {
    "google.protobuf.Any": "AnyBase",
    "google.protobuf.Timestamp": "TimestampBase",
    "google.protobuf.Duration": "DurationBase",
    "google.protobuf.FieldMask": "FieldMaskBase",
    "google.protobuf.Struct": "StructBase",
    "google.protobuf.Value": "ValueBase",
    "google.protobuf.ListValue": "ListValueBase",
    "google.protobuf.DoubleValue": "WrapperBase[float]",
    "google.protobuf.FloatValue": "WrapperBase[float]",
    "google.protobuf.Int64Value": "WrapperBase[int]",
    "google.protobuf.UInt64Value": "WrapperBase[int]",
    "google.protobuf.Int32Value": "WrapperBase[int]",
    "google.protobuf.UInt32Value": "WrapperBase[int]",
    "google.protobuf.BoolValue": "WrapperBase[bool]",
    "google.protobuf.StringValue": "WrapperBase[str]",
    "google.protobuf.BytesValue": "WrapperBase[bytes]",
}


@dataclass(frozen=True)
class ProtoOptions:
    """Generation options. `bundled_well_known_types`: import the well-known types
    from the runtime rather than generating them (turned off to generate them)."""

    bundled_well_known_types: bool = True
    # as in the Thrift generator's Options
    snake_case: bool = False
    special_namings: frozenset[str] = frozenset()
    definitions: frozenset[ir.Definition] | None = None

    def generates(self, definition: ir.Definition) -> bool:
        return self.definitions is None or definition in self.definitions

    def cased(self, name: str) -> str:
        return names.cased(name, self.snake_case, self.special_namings)


# ---- view model ---------------------------------------------------------------------------


@dataclass
class PyField:
    name: str
    number: int
    annotation: str  # the class-level declaration's type
    param: str  # the __init__ parameter
    init: str  # what __init__ assigns
    spec: str  # the FieldSpec expression
    doc: str | None
    oneof: str | None = None  # the oneof's slot, for members
    member_type: str = ""  # a oneof member's value type


@dataclass
class PyOneof:
    name: str
    annotation: str
    members: list[PyField]
    doc: str | None


@dataclass
class PyDefault:
    """A read-only property giving a proto2 field's value or its `[default = ...]`."""

    name: str
    field: str
    annotation: str
    value: str


@dataclass
class PyEnumMember:
    name: str
    value: int
    doc: str | None


@dataclass
class PyEnum:
    name: str
    qualname: str
    full_name: str
    doc: str | None
    members: list[PyEnumMember]
    closed: bool
    renamed: str | None  # {Python name: .proto name} of members named otherwise, if any
    is_enum = True


@dataclass
class PyExtension:
    name: str  # the attribute (module-level or class-level)
    owner: str  # qualified class it belongs to, "" for module level
    annotation: str
    value: str
    doc: str | None


@dataclass
class PyMessage:
    name: str
    qualname: str
    full_name: str
    doc: str | None
    slots: list[str]
    fields: list[PyField]  # in declaration order, oneof members included
    oneofs: list[PyOneof]
    nested: list[PyMessage | PyEnum]
    extensions: list[PyExtension]  # declared inside this message
    defaults: list[PyDefault]
    message_set: bool
    specs: list[str]  # in field-number order
    base: str = "_pb.Message"
    is_enum = False

    @property
    def plain_fields(self) -> list[PyField]:
        return [f for f in self.fields if f.oneof is None]

    @property
    def members(self) -> list[PyField]:
        return [f for f in self.fields if f.oneof is not None]

    def all_messages(self) -> list[PyMessage]:
        found = [self]
        for n in self.nested:
            if isinstance(n, PyMessage):
                found += n.all_messages()
        return found


@dataclass
class PyMethod:
    name: str
    annotation: str
    value: str
    doc: str | None
    path: str  # its path as a literal, `"/pkg.Service/Method"`
    request: str  # the request class, as this module names it
    response: str
    client_streaming: bool
    server_streaming: bool
    method_doc: str | None  # `doc`, indented for a method body

    @property
    def handler_def(self) -> str:
        """The handler's `def` line (see pilota.runtime.protobuf.service)."""
        param = (
            f"requests: _t.AsyncIterator[{self.request}]" if self.client_streaming
            else f"request: {self.request}"
        )  # fmt: skip
        if self.server_streaming:  # implemented as an async generator
            return f"def {self.name}(self, {param}) -> _t.AsyncIterator[{self.response}]:"
        return f"async def {self.name}(self, {param}) -> {self.response}:"

    @property
    def client_param(self) -> tuple[str, str]:
        """The client method's first parameter: its name and type."""
        if self.client_streaming:
            return "requests", f"_pb.Requests[{self.request}]"
        return "request", self.request

    @property
    def call_type(self) -> str:
        kind = "StreamCall" if self.server_streaming else "UnaryCall"
        return f"_pb.{kind}[{self.response}]"

    @property
    def caller_method(self) -> str:
        """The `Caller` method that makes the call."""
        return ("stream" if self.client_streaming else "unary") + "_" + (
            "stream" if self.server_streaming else "unary"
        )


@dataclass
class PyService:
    name: str
    full_name: str
    doc: str | None
    methods: list[PyMethod]
    handler: str  # the handler base's class name
    client: str  # the client's class name
    # `google.api.http` rules of its unary rpcs, each as the `_pb.HttpRule(...)` source
    http_rules: list[str] = field(default_factory=list)


@dataclass
class PyModule:
    path: PurePosixPath
    source: str
    doc: str | None
    imports: list[str] = field(default_factory=list)  # relative
    runtime_imports: list[str] = field(default_factory=list)  # the bundled well-known types
    enums: list[PyEnum] = field(default_factory=list)
    messages: list[PyMessage] = field(default_factory=list)
    extensions: list[PyExtension] = field(default_factory=list)
    services: list[PyService] = field(default_factory=list)
    descriptor: list[str] = field(default_factory=list)  # bytes literals, one a line
    hidden: list[tuple[str, str]] = field(default_factory=list)  # (alias, module-level name)

    @property
    def uses_enum(self) -> bool:
        return bool(self.enums) or any(
            isinstance(n, PyEnum) for m in self.all_messages() for n in m.nested
        )

    @property
    def uses_runtime(self) -> bool:
        """Whether anything generated refers to the runtime (as `_pb`): a top-level
        closed enum alone does not."""
        return bool(self.messages or self.services or self.extensions) or any(
            not e.closed for e in self.enums
        )

    def all_messages(self) -> list[PyMessage]:
        return [m for top in self.messages for m in top.all_messages()]

    @property
    def class_extensions(self) -> list[PyExtension]:
        return [e for m in self.all_messages() for e in m.extensions]


# ---- names ------------------------------------------------------------------------------

# Members every generated message has (from pilota.runtime.protobuf.Message), and
# what ProtoJSON will add; a field of one of these names gets a trailing `_`.
MESSAGE_MEMBERS = frozenset({
    "to_bytes", "from_bytes", "merge_from_bytes", "to_json", "from_json", "to_dict",
    "from_dict", "_unknown", "_extensions", "mro",
})  # fmt: skip
# Members of every generated client (from pilota.runtime.protobuf.Client): an rpc of
# one of these names gets a trailing `_`.
CLIENT_MEMBERS = frozenset({"close", "_caller"})
# Names generated modules bind for themselves.
MODULE_PRIVATE = frozenset({"_pb", "_t", "_enum", "annotations", "FILE_DESCRIPTOR"})
# A class named like a builtin would hide it from the annotations around it (`bytes`).
BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))

_SCALARS: dict[ir.BaseKind, tuple[str, str, str]] = {
    # kind: (spec kind, Python type, zero)
    ir.BaseKind.DOUBLE: ("DOUBLE", "float", "0.0"),
    ir.BaseKind.FLOAT: ("FLOAT", "float", "0.0"),
    ir.BaseKind.I64: ("INT64", "int", "0"),
    ir.BaseKind.UINT64: ("UINT64", "int", "0"),
    ir.BaseKind.I32: ("INT32", "int", "0"),
    ir.BaseKind.FIXED64: ("FIXED64", "int", "0"),
    ir.BaseKind.FIXED32: ("FIXED32", "int", "0"),
    ir.BaseKind.BOOL: ("BOOL", "bool", "False"),
    ir.BaseKind.STRING: ("STRING", "str", '""'),
    ir.BaseKind.BINARY: ("BYTES", "bytes", 'b""'),
    ir.BaseKind.UINT32: ("UINT32", "int", "0"),
    ir.BaseKind.SFIXED32: ("SFIXED32", "int", "0"),
    ir.BaseKind.SFIXED64: ("SFIXED64", "int", "0"),
    ir.BaseKind.SINT32: ("SINT32", "int", "0"),
    ir.BaseKind.SINT64: ("SINT64", "int", "0"),
}
_PACKABLE = frozenset(_SCALARS) - {ir.BaseKind.STRING, ir.BaseKind.BINARY}


def _with_deprecation(doc: str | None, options: dict[str, ir.Value]) -> str | None:
    if options.get("deprecated") is not True:
        return doc
    note = "Deprecated: marked `deprecated` in the .proto file."
    return f"{doc.rstrip()}\n\n{note}" if doc else note


def _doc(doc: str | None, options: dict[str, ir.Value], indent: str) -> str | None:
    """A definition's comment (trimmed of its margin) as a docstring."""
    quoted = docstring(_with_deprecation(_trim(doc), options), indent)
    return re.sub(r"[ \t]+\n", "\n", quoted) if quoted is not None else None


def _trim(doc: str | None) -> str | None:
    if not doc:
        return None
    lines = [line.rstrip() for line in doc.strip("\n").splitlines()]
    margin = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    text = "\n".join(x[margin:] for x in lines).strip()
    return text or None


# ---- placement ---------------------------------------------------------------------------


def placement(modules: list[ir.Module], options: ProtoOptions) -> dict[ir.Module, str]:
    """Each module's place: a path relative to the output directory ("a/b/f.py"), or
    for a bundled well-known type the absolute module it is imported from."""
    places: dict[ir.Module, str] = {}
    taken: set[str] = set()
    local = [m for m in modules if not _bundled(m, options)]
    packages = {
        tuple(names.module_segment(p) for p in m.package.split(".")[:i])
        for m in local if m.package
        for i in range(1, len(m.package.split(".")) + 1)
    }  # fmt: skip
    for module in sorted(modules, key=lambda m: (m.name, m.path)):
        if _bundled(module, options):
            places[module] = WELL_KNOWN_PACKAGE + "." + ".".join(_module_parts(module))
            continue
        parts = _module_parts(module)
        stem = parts[-1]
        while (
            "/".join([*parts[:-1], stem]).lower() in taken
            or (*parts[:-1], stem) in packages
        ):
            stem += "_"
        path = "/".join([*parts[:-1], stem])
        taken.add(path.lower())
        places[module] = path + ".py"
    return places


def _module_parts(module: ir.Module) -> tuple[str, ...]:
    package = [names.module_segment(p) for p in module.package.split(".") if p]
    stem = PurePosixPath(module.name).stem
    return (*package, names.module_segment(stem))


def _bundled(module: ir.Module, options: ProtoOptions) -> bool:
    return options.bundled_well_known_types and module.name in WELL_KNOWN_FILES


# ---- the generator -----------------------------------------------------------------------


class _ModuleBuilder:
    def __init__(
        self, module: ir.Module, places: dict[ir.Module, str], options: ProtoOptions
    ) -> None:
        self.module = module
        self.options = options
        self.places = places
        self.path = PurePosixPath(places[module])
        source = module.name.encode("unicode_escape").decode("ascii")  # one inert line
        self.view = PyModule(self.path, source, _doc(module.doc, module.options, ""))
        self.taken: set[str] = set(MODULE_PRIVATE)
        self.aliases: dict[ir.Module, str] = {}
        # every definition's Python path from its module's top level, for all modules
        self.paths: dict[ir.Definition, tuple[str, ...]] = {}
        self.top_order: dict[ir.Definition, int] = {}  # top-level definitions' order
        self.field_names: dict[ir.Struct, dict[str, str]] = {}
        self.extension_names: dict[int, str] = {}  # id(ir.Field) -> attribute
        # the names each class body binds: nested types, then members
        self.member_taken: dict[ir.Struct, set[str]] = {}
        self.nested_names: dict[ir.Struct, frozenset[str]] = {}
        self.scope: ir.Struct | None = None  # the class whose body annotations are for
        self.hidden: dict[str, str] = {}  # module-level name -> its alias
        self.service_classes: dict[ir.Service, tuple[str, str]] = {}  # handler, client

    # ---- names ----------------------------------------------------------------------

    def declare(self) -> None:
        """Chooses the module-level names and every class's path and member names."""
        for i, definition in enumerate(self.module.definitions.values()):
            name = names.unique(names.public_name(definition.name, (), BUILTINS), self.taken)
            self.paths[definition] = (name,)
            self.top_order[definition] = i
            if isinstance(definition, ir.Struct):
                self.declare_nested(definition, (name,))
        for extension in self.module.extensions:
            self.extension_names[id(extension)] = names.unique(
                names.public_name(extension.name, (), BUILTINS), self.taken
            )
        # Each service's handler base and client, named after every definition has
        # its name: they take the next free names, and the others never change.
        for definition in self.module.definitions.values():
            if isinstance(definition, ir.Service):
                self.service_classes[definition] = (
                    names.unique(names.public_name(f"{definition.name}Handler", (), BUILTINS),
                                 self.taken),
                    names.unique(names.public_name(f"{definition.name}Client", (), BUILTINS),
                                 self.taken),
                )  # fmt: skip

    def declare_nested(self, struct: ir.Struct, path: tuple[str, ...]) -> None:
        taken: set[str] = set()
        for n in struct.nested:
            # used from outside the class: a name starting with `_` would be private
            name = names.unique(names.public_name(n.name, (), BUILTINS), taken)
            self.paths[n] = (*path, name)
            if isinstance(n, ir.Struct):
                self.declare_nested(n, (*path, name))
        self.nested_names[struct] = frozenset(taken)
        self.member_taken[struct] = taken  # choose_members adds the members

    def choose_members(self, struct: ir.Struct) -> None:
        """Python names of the fields, oneofs and extensions declared in `struct`."""
        taken = self.member_taken[struct]
        reserved = MESSAGE_MEMBERS | self.annotation_words(struct)
        chosen: dict[str, str] = {}
        for f in struct.fields:
            name = self.options.cased(f.name)
            name = name if f.oneof is not None and not f.oneof.synthetic else _slot_name(name)
            chosen[f.name] = names.unique(names.python_name(name, (), reserved), taken, reserved)
        for oneof in struct.oneofs:
            if not oneof.synthetic:
                chosen["/" + oneof.name] = names.unique(
                    names.python_name(_slot_name(oneof.name), (), reserved), taken, reserved
                )
        for extension in struct.extensions:
            self.extension_names[id(extension)] = names.unique(
                names.public_name(extension.name, (), reserved), taken, reserved
            )
        self.field_names[struct] = chosen

    def annotation_words(self, struct: ir.Struct) -> frozenset[str]:
        """Identifiers the class's annotations use: a member named so would shadow them."""
        texts = [self.annotation(f) for f in struct.fields]
        texts += [self.value_type(f) for f in struct.extensions]
        return _identifiers(texts) | {"_pb", "_t", "_enum"}

    def imports(self) -> None:
        """Imports of every module whose definitions this one names."""
        lines: list[str] = []
        for other in sorted(self.referenced(), key=lambda m: (m.name, m.path)):
            stem = PurePosixPath(other.name).stem
            alias = names.unique("_" + names.module_segment(stem).lstrip("_"), self.taken)
            self.aliases[other] = alias
            lines.append(self.import_line(other, alias))
        # as isort orders them: absolute ones (the runtime's) beside the runtime import,
        # then relative ones, the furthest first
        self.view.runtime_imports = sorted(line for line in lines if not line.startswith("from ."))
        self.view.imports = sorted(
            (line for line in lines if line.startswith("from .")),
            key=lambda line: (-len(line.split()[1]) + len(line.split()[1].lstrip(".")),
                              line.split()[1].lstrip("."), line.split()[3]),
        )  # fmt: skip

    def referenced(self) -> set[ir.Module]:
        found: set[ir.Module] = set()

        def named(t: ir.Type) -> None:
            if isinstance(t, ir.ListType):
                named(t.element)
            elif isinstance(t, ir.MapType):
                named(t.value)
            elif isinstance(t, ir.NamedType):
                found.add(t.definition.module)

        def struct(s: ir.Struct) -> None:
            for f in [*s.fields, *s.extensions]:
                named(f.type)
                if f.extendee is not None:
                    found.add(f.extendee.module)
            for n in s.nested:
                if isinstance(n, ir.Struct):
                    struct(n)

        for definition in self.generated():
            if isinstance(definition, ir.Struct):
                struct(definition)
            elif isinstance(definition, ir.Service):
                for method in definition.methods:
                    for t in [*(a.type for a in method.args), method.result]:
                        if t is not None:
                            named(t)
        for extension in self.module.extensions:
            named(extension.type)
            if extension.extendee is not None:
                found.add(extension.extendee.module)
        found.discard(self.module)
        return found

    def import_line(self, target: ir.Module, alias: str) -> str:
        place = self.places[target]
        if not place.endswith(".py"):  # bundled: an absolute module
            parent, _, name = place.rpartition(".")
            return f"from {parent} import {name} as {alias}"
        here = _package_of(self.path)
        there = _dotted(PurePosixPath(place))
        parent_parts, name = there[:-1], there[-1]
        common = 0
        while (
            common < min(len(here), len(parent_parts)) and here[common] == parent_parts[common]
        ):
            common += 1
        dots = "." * (len(here) - common + 1)
        return f"from {dots}{'.'.join(parent_parts[common:])} import {name} as {alias}"

    def ref(self, definition: ir.Definition) -> str:
        """How code at this module's top level (and in annotations) names `definition`."""
        path = ".".join(self.paths[definition])
        if definition.module is self.module:
            return path
        return f"{self.aliases[definition.module]}.{path}"

    # ---- types --------------------------------------------------------------------------

    def element_type(self, t: ir.Type) -> str:
        if isinstance(t, ir.BaseType):
            return _SCALARS[t.kind][1]
        assert isinstance(t, ir.NamedType)
        ref = self.ref(t.definition)
        first, dot, rest = ref.partition(".")
        if self.scope is not None and first in self.nested_names[self.scope]:
            # inside this class's body a nested class hides the module-level name
            alias = self.hidden.get(first)
            if alias is None:
                alias = self.hidden[first] = names.unique(f"_{first}", self.taken)
            return alias + dot + rest
        return ref

    def value_type(self, f: ir.Field) -> str:
        """A field's Python type, None excluded: `int`, `list[str]`, `dict[str, Msg]`."""
        t = f.type
        if isinstance(t, ir.ListType):
            return f"list[{self.element_type(t.element)}]"
        if isinstance(t, ir.MapType):
            return f"dict[{self.element_type(t.key)}, {self.element_type(t.value)}]"
        return self.element_type(t)

    def annotation(self, f: ir.Field) -> str:
        if f.oneof is not None and not f.oneof.synthetic:
            return self.value_type(f)
        if _label(f) in ("OPTIONAL", "REQUIRED"):
            return f"{self.value_type(f)} | None"
        return self.value_type(f)

    # ---- specs -------------------------------------------------------------------------

    def spec(self, f: ir.Field, name: str, oneof: str | None) -> str:
        """The FieldSpec expression of `f` (a field, an extension or a map's key/value)."""
        t = f.type
        label = _label(f)
        if isinstance(t, ir.ListType):
            t = t.element
        type_expr = "None"
        default = "None"
        if isinstance(t, ir.MapType):
            key = ir.Field(1, "key", t.key, json_name="key", features=f.features)
            value = ir.Field(2, "value", t.value, json_name="value", features=f.features)
            kind = "MESSAGE"
            type_expr = f"({self.spec(key, 'key', None)}, {self.spec(value, 'value', None)})"
        elif isinstance(t, ir.NamedType):
            d = t.definition
            type_expr = self.ref(d)
            if isinstance(d, ir.Enum):
                kind = "ENUM"
                if label == "IMPLICIT" and d.members:
                    default = self.member_ref(d.members[0])
            else:
                kind = "GROUP" if f.delimited else "MESSAGE"
        else:
            assert isinstance(t, ir.BaseType)
            kind = _SCALARS[t.kind][0]
            if label == "IMPLICIT":
                default = _SCALARS[t.kind][2]
        if f.default is not None:
            default = self.value(f.default, t)
        flags = []
        if isinstance(t, ir.BaseType) and t.kind is ir.BaseKind.STRING and (
            f.features.get("utf8_validation") == "VERIFY"
        ):
            flags.append("_pb.VALIDATE_UTF8")
        if isinstance(t, ir.NamedType) and isinstance(t.definition, ir.Enum) and (
            t.definition.closed
        ):
            flags.append("_pb.CLOSED_ENUM")
        args = [
            str(f.id), python_literal(name), f"_pb.{kind}", f"_pb.{label}", type_expr, default,
            python_literal(oneof) if oneof is not None else "None",
            " | ".join(flags) or "0",
            python_literal(f.json_name or f.name), python_literal(f.name),
        ]  # fmt: skip
        return f"_pb.FieldSpec({', '.join(args)})"

    def member_ref(self, member: ir.EnumMember) -> str:
        return f"{self.ref(member.enum)}.{_member_names(member.enum)[member.name]}"

    def value(self, v: ir.Value, t: ir.Type) -> str:
        """A default value as a Python expression."""
        if isinstance(v, ir.EnumValue):
            return self.member_ref(v.member)
        if isinstance(t, ir.BaseType):
            if t.kind in (ir.BaseKind.DOUBLE, ir.BaseKind.FLOAT) and isinstance(v, int | float):
                return python_literal(float(v))
            if t.kind is ir.BaseKind.STRING and isinstance(v, bytes):
                return python_literal(v.decode("utf-8", "surrogateescape"))
            if t.kind is ir.BaseKind.BINARY and isinstance(v, str):
                return python_literal(v.encode("utf-8"))
        return python_literal(v)

    # ---- definitions -------------------------------------------------------------------

    def enum(self, enum: ir.Enum) -> PyEnum:
        member_names = _member_names(enum)
        inner = "    "  # nested classes are indented as a whole by the template
        # ProtoJSON writes and reads the .proto names
        renamed = {member_names[m.name]: m.name for m in enum.members
                   if member_names[m.name] != m.name}  # fmt: skip
        return PyEnum(
            self.paths[enum][-1],
            ".".join(self.paths[enum]),
            python_literal(enum.full_name),
            _doc(enum.doc, enum.options, inner),
            [
                PyEnumMember(member_names[m.name], m.value, _doc(m.doc, m.options, inner))
                for m in enum.members
            ],
            enum.closed,
            "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in renamed.items())
            + "}" if renamed else None,
        )

    def message(self, struct: ir.Struct) -> PyMessage:
        outer, self.scope = self.scope, struct
        try:
            return self._message(struct)
        finally:
            self.scope = outer

    def _message(self, struct: ir.Struct) -> PyMessage:
        self.choose_members(struct)
        chosen = self.field_names[struct]
        inner = "    "  # nested classes are indented as a whole by the template
        nested: list[PyMessage | PyEnum] = []
        for n in struct.nested:
            if isinstance(n, ir.Enum):
                nested.append(self.enum(n))
        for n in struct.nested:
            if isinstance(n, ir.Struct):
                nested.append(self.message(n))
        fields: list[PyField] = []
        oneofs: dict[int, PyOneof] = {}
        for oneof in struct.oneofs:
            if not oneof.synthetic:
                oneofs[id(oneof)] = PyOneof(
                    chosen["/" + oneof.name], "", [], _doc(oneof.doc, oneof.options, inner)
                )
        defaults: list[PyDefault] = []
        for f in struct.fields:
            name = chosen[f.name]
            real_oneof = f.oneof if f.oneof is not None and not f.oneof.synthetic else None
            slot = oneofs[id(real_oneof)].name if real_oneof is not None else None
            py_field = self.field(f, name, slot, struct, inner)
            fields.append(py_field)
            if real_oneof is not None:
                oneofs[id(real_oneof)].members.append(py_field)
            if f.default is not None and f.oneof is None:
                defaults.append(self.default_property(f, name, struct))
        for view in oneofs.values():
            cases = [
                f"tuple[_t.Literal[{python_literal(m.name)}], {m.member_type}]"
                for m in view.members
            ]
            view.annotation = " | ".join([*cases, "None"])
        specs = [
            f.spec for f in sorted(fields, key=lambda f: f.number)
        ]
        slots = [f.name for f in fields if f.oneof is None] + [o.name for o in oneofs.values()]
        slots.sort(key=_natural)  # in the order linters expect
        qualname = ".".join(self.paths[struct])
        extensions = [self.extension(e, qualname, inner) for e in struct.extensions]
        base = WELL_KNOWN_BASES.get(struct.full_name) if (
            self.module.name in WELL_KNOWN_FILES
        ) else None  # fmt: skip
        return PyMessage(
            self.paths[struct][-1], qualname, struct.full_name,
            _doc(struct.doc, struct.options, inner), slots, fields, list(oneofs.values()),
            nested, extensions, defaults,
            struct.options.get("message_set_wire_format") is True, specs,
            f"_pb.well_known.{base}" if base else "_pb.Message",
        )  # fmt: skip

    def field(
        self, f: ir.Field, name: str, oneof: str | None, struct: ir.Struct, indent: str
    ) -> PyField:
        doc = _doc(f.doc, f.options, indent)
        spec = self.spec(f, name, oneof)
        value_type = self.value_type(f)
        if oneof is not None:
            return PyField(
                name, f.id, f"_pb.OneofMember[{value_type}]",
                f"{name}: {value_type} | None = None", name, spec, doc, oneof, value_type,
            )  # fmt: skip
        label = _label(f)
        annotation = self.annotation(f)
        if label in ("REPEATED", "PACKED", "MAP"):
            empty = "{}" if label == "MAP" else "[]"
            param = f"{name}: {annotation} | None = None"
            init = f"{empty} if {name} is None else {name}"
        elif label == "IMPLICIT":
            t = f.type
            if isinstance(t, ir.NamedType) and isinstance(t.definition, ir.Enum):
                zero = t.definition.members[0]
                early = self.defined_before(t.definition, struct)
                if early is not None:
                    member = _member_names(t.definition)[zero.name]
                    param = f"{name}: {annotation} = {early}.{member}"
                    init = name
                else:  # not defined yet where __init__ is: chosen when it runs
                    param = f"{name}: {annotation} | None = None"
                    init = f"{self.member_ref(zero)} if {name} is None else {name}"
            else:
                assert isinstance(t, ir.BaseType)
                param = f"{name}: {annotation} = {_SCALARS[t.kind][2]}"
                init = name
        else:
            param = f"{name}: {annotation} = None"
            init = name
        return PyField(name, f.id, annotation, param, init, spec, doc)

    def defined_before(self, enum: ir.Enum, struct: ir.Struct) -> str | None:
        """How `struct`'s __init__ defaults can name `enum` when the def runs (inside
        the class body), or None when it cannot: enums of this class by their own
        name; earlier top-level classes' and other modules' by their full path."""
        if enum.parent is struct:
            return self.paths[enum][-1]
        if enum.module is not self.module:
            return self.ref(enum)
        top: ir.Definition = enum
        while top.parent is not None:
            top = top.parent
        here: ir.Definition = struct
        while here.parent is not None:
            here = here.parent
        bound = self.member_taken[struct]
        first = self.paths[enum][0]
        if top is here or first in bound:
            return None
        if isinstance(top, ir.Enum) or self.top_order[top] < self.top_order[here]:
            return self.ref(enum)
        return None

    def default_property(self, f: ir.Field, name: str, struct: ir.Struct) -> PyDefault:
        taken = self.member_taken[struct]
        prop = names.unique(f"{name}_or_default", taken)
        assert f.default is not None
        t = f.type
        return PyDefault(prop, name, self.value_type(f), self.value(f.default, t))

    def extension(self, f: ir.Field, owner: str, indent: str) -> PyExtension:
        assert f.extendee is not None
        name = self.extension_names[id(f)]
        value_type = self.value_type(f)
        if _label(f) in ("OPTIONAL", "REQUIRED"):
            value_type += " | None"
        extendee = self.ref(f.extendee)
        scope = f.extension_scope.full_name if f.extension_scope is not None else (
            self.module.package
        )
        full = f"{scope}.{f.name}" if scope else f.name
        return PyExtension(
            name, owner, f"_pb.Extension[{extendee}, {value_type}]",
            f"_pb.Extension({extendee}, {python_literal(full)}, {self.spec(f, name, None)})",
            _doc(f.doc, f.options, indent),
        )  # fmt: skip

    def service(self, service: ir.Service) -> PyService:
        taken: set[str] = set()
        methods: list[PyMethod] = []
        types: list[tuple[str, str]] = []
        for method in service.methods:
            request = method.args[0].type if method.args else None
            assert isinstance(request, ir.NamedType) and isinstance(method.result, ir.NamedType)
            types.append((self.ref(request.definition), self.ref(method.result.definition)))
        # a method must not hide a name the class's annotations use
        used = _identifiers(name for pair in types for name in pair) | {"_pb", "_t"}
        used |= CLIENT_MEMBERS  # the client's methods take the same names
        for method, (request_ref, response_ref) in zip(service.methods, types, strict=True):
            path = python_literal(f"/{service.full_name}/{method.name}")
            py_method = PyMethod(
                names.unique(
                    names.public_name(self.options.cased(method.name), (), used), taken, used
                ),
                f"_pb.Method[{request_ref}, {response_ref}]",
                f"_pb.Method({python_literal(method.name)}, {path}, "
                f"{request_ref}, {response_ref}, {method.client_streaming}, "
                f"{method.server_streaming})",
                _doc(method.doc, method.options, "    "),
                path, request_ref, response_ref, method.client_streaming,
                method.server_streaming, _doc(method.doc, method.options, "        "),
            )  # fmt: skip
            methods.append(py_method)
        handler, client = self.service_classes[service]
        view = PyService(
            self.paths[service][0], service.full_name, _doc(service.doc, service.options, "    "),
            methods, handler, client,
        )  # fmt: skip
        for method, py_method in zip(service.methods, methods, strict=True):
            rule = method.options.get("(google.api.http)")
            if isinstance(rule, ir.StructValue) and not (
                method.client_streaming or method.server_streaming
            ):
                view.http_rules += _http_rules(rule, py_method.name)
        return view

    def generated(self) -> list[ir.Definition]:
        return [d for d in self.module.definitions.values() if self.options.generates(d)]

    def build(self) -> PyModule:
        view = self.view
        generated = self.generated()
        for definition in generated:
            if isinstance(definition, ir.Enum):
                view.enums.append(self.enum(definition))
        for definition in generated:
            if isinstance(definition, ir.Struct):
                view.messages.append(self.message(definition))
        view.extensions = [self.extension(e, "", "") for e in self.module.extensions]
        view.hidden = sorted((alias, name) for name, alias in self.hidden.items())
        for definition in generated:
            if isinstance(definition, ir.Service):
                view.services.append(self.service(definition))
        view.descriptor = _bytes_lines(file_descriptor(self.module))
        return view


HTTP_PATTERNS = ("get", "put", "post", "delete", "patch")


def _http_rules(rule: ir.StructValue, rpc: str) -> list[str]:
    """A `google.api.http` option (an HttpRule) and its additional bindings, as
    `_pb.HttpRule(...)` sources."""
    fields = dict(rule.fields)
    method = path = ""
    for pattern in HTTP_PATTERNS:
        if isinstance(fields.get(pattern), str):
            method, path = pattern.upper(), str(fields[pattern])
    custom = fields.get("custom")
    if isinstance(custom, ir.StructValue):
        kind_path = dict(custom.fields)
        method, path = str(kind_path.get("kind", "")).upper(), str(kind_path.get("path", ""))
    rules = []
    if method:
        body, response_body = str(fields.get("body", "")), str(fields.get("response_body", ""))
        rules.append(
            f"_pb.HttpRule({python_literal(method)}, {python_literal(path)}, "
            f"{python_literal(rpc)}, {python_literal(body)}, {python_literal(response_body)})"
        )
    more = fields.get("additional_bindings")
    for binding in more.items if isinstance(more, ir.ListValue) else ():
        if isinstance(binding, ir.StructValue):
            rules += _http_rules(binding, rpc)
    return rules


def _label(f: ir.Field) -> str:
    """The FieldSpec label of a field (of a message, or an extension)."""
    t = f.type
    if isinstance(t, ir.MapType):
        return "MAP"
    if isinstance(t, ir.ListType):
        element = t.element
        packable = (isinstance(element, ir.BaseType) and element.kind in _PACKABLE) or (
            isinstance(element, ir.NamedType) and isinstance(element.definition, ir.Enum)
        )
        packed = packable and f.features.get("repeated_field_encoding") == "PACKED"
        return "PACKED" if packed else "REPEATED"
    if f.required:
        return "REQUIRED"
    if f.explicit_presence or f.extendee is not None:
        return "OPTIONAL"
    return "IMPLICIT"


def _slot_name(name: str) -> str:
    """An attribute that __init__ assigns: type checkers take a name in capitals for a
    constant that must not be assigned, so such a name is written in lower case."""
    return name.lower() if name.isupper() else name


def _bytes_lines(data: bytes, width: int = 64) -> list[str]:
    return [python_literal(data[i : i + width]) for i in range(0, len(data), width)] or ['b""']


# ---- as other modules name it ----------------------------------------------------------


class ImportingProtoModule:
    """How a module outside the generated package (a project's handler, client or
    tests) spells the generated names: those defined in `home` bare, those of
    every other module (the runtime's well-known types too) through a module
    alias. Method names and class names are the generator's own.

    `package` is the generated package's dotted name; `reserved` are names the
    importing module binds itself, which no import may take (when one of them is
    also a name in `home`, `home` is imported as a module alias too); `options`
    are those the package was generated with (snake_case names its methods)."""

    def __init__(
        self,
        schema: ir.Schema,
        package: str,
        home: ir.Module,
        reserved: Iterable[str] = (),
        options: ProtoOptions | None = None,
    ) -> None:
        options = options or ProtoOptions()
        self.package = package
        self.home = home
        modules = list(schema.modules.values())
        self.places = placement(modules, options)
        self.builders = {
            # as generate_protobuf: the bundled modules' names are their own generation's
            m: _ModuleBuilder(m, self.places, options if place.endswith(".py") else ProtoOptions())
            for m, place in self.places.items()
        }
        paths: dict[ir.Definition, tuple[str, ...]] = {}
        for builder in self.builders.values():
            builder.declare()
            paths.update(builder.paths)
        for builder in self.builders.values():
            builder.paths = paths
        self.paths = paths
        self.imported: set[_ModuleBuilder] = set()
        owner = self.builders[home]
        home_names = {path[0] for d, path in paths.items() if d.module is home}
        home_names |= {name for pair in owner.service_classes.values() for name in pair}
        reserved = set(reserved)
        self.bare = not home_names & reserved
        taken = reserved | set(dir(builtins)) | (home_names if self.bare else set())
        self.home_names = home_names if self.bare else set()
        self.aliases: dict[ir.Module, str] = {}
        for module in sorted(modules, key=lambda m: (m.name, m.path)):
            if module is not home or not self.bare:
                stem = names.module_segment(PurePosixPath(module.name).stem)
                self.aliases[module] = names.unique(stem, taken)

    def ref(self, definition: ir.Definition) -> str:
        path = ".".join(self.paths[definition])
        alias = self.aliases.get(definition.module)
        return path if alias is None else f"{alias}.{path}"

    def service(self, service: ir.Service) -> PyService:
        """The service's handler base and client (spelled here), and its methods as
        the generated code names them, their message classes spelled here."""
        builder = self.builders[service.module]
        if builder not in self.imported:  # its own aliases, which its method names avoid
            builder.imports()
            self.imported.add(builder)
        generated = builder.service(service)
        methods = []
        for method, py in zip(service.methods, generated.methods, strict=True):
            request = method.args[0].type
            assert isinstance(request, ir.NamedType) and isinstance(method.result, ir.NamedType)
            methods.append(replace(
                py, request=self.ref(request.definition),
                response=self.ref(method.result.definition),
            ))  # fmt: skip
        handler, client = builder.service_classes[service]
        alias = self.aliases.get(service.module)
        prefix = "" if alias is None else alias + "."
        return replace(generated, handler=prefix + handler, client=prefix + client,
                       methods=methods)  # fmt: skip

    def import_lines(self, texts: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
        """The imports the names in `texts` need: the standard library's (none), the
        runtime's (well-known types) and the generated package's, each group in
        isort's order (as `ImportingModule.import_lines`)."""
        used = _names_in(texts)
        runtime: dict[str, list[tuple[str, str]]] = {}
        generated: dict[str, list[tuple[str, str]]] = {}
        home_module = ".".join([self.package, *_dotted(PurePosixPath(self.places[self.home]))])
        for name in sorted(self.home_names & used):
            generated.setdefault(home_module, []).append((name, name))
        for module, alias in self.aliases.items():
            if alias not in used:
                continue
            place = self.places[module]
            if place.endswith(".py"):
                *parent, name = [self.package, *_dotted(PurePosixPath(place))]
                generated.setdefault(".".join(parent), []).append((name, alias))
            else:  # bundled with the runtime: an absolute module
                parent_module, _, name = place.rpartition(".")
                runtime.setdefault(parent_module, []).append((name, alias))
        return [], _isort_from_imports(runtime), _isort_from_imports(generated)


# ---- entry point ----------------------------------------------------------------------


def generate_protobuf(
    schema: ir.Schema, options: ProtoOptions | None = None
) -> list[GeneratedFile]:
    """Python source for every .proto module of `schema` (the files asked for and
    everything they import), well-known types aside when the runtime bundles them."""
    options = options or ProtoOptions()
    modules = list(schema.modules.values())
    places = placement(modules, options)
    local = [m for m in modules if places[m].endswith(".py")]
    builders = {m: _ModuleBuilder(m, places, options) for m in local}
    paths: dict[ir.Definition, tuple[str, ...]] = {}
    bundled = [m for m in modules if m not in builders]
    for module in bundled:  # their names, as their own generation chose them
        other = _ModuleBuilder(module, places, ProtoOptions())
        other.declare()
        paths.update(other.paths)
    for builder in builders.values():
        builder.declare()
        paths.update(builder.paths)
    template = _environment().get_template("proto_module.py.jinja")
    files: list[GeneratedFile] = []
    packages: set[PurePosixPath] = set()
    for builder in builders.values():
        builder.paths = paths
        builder.imports()
        view = builder.build()
        text = template.render(module=view, version=__version__, docstring=docstring)
        # one blank line between the members of a class, nested classes included
        text = re.sub(r"\n\n\n+( +\S)", r"\n\n\1", text)
        files.append(GeneratedFile(view.path, text))
        packages.update(p for p in view.path.parents if p != PurePosixPath("."))
    root = PurePosixPath()
    files.append(GeneratedFile(root / "py.typed", ""))
    taken = {f.path for f in files}
    for package in {root, *packages}:
        init = package / "__init__.py"
        if init not in taken:
            files.append(GeneratedFile(init, _PACKAGE_INIT))
    return sorted(files, key=lambda f: str(f.path))


def well_known_types() -> list[GeneratedFile]:
    """The modules of the well-known types as `pilota.runtime.protobuf.wkt` ships them:
    generated from the .proto files grpcio-tools installs (`python -m
    pilota.codegen.protobuf` rewrites them in the source tree)."""
    from pilota.compiler import load
    from pilota.proto.loader import well_known_root

    root = well_known_root()
    if root is None:
        raise RuntimeError("the well-known types' .proto files come with grpcio-tools")
    schema = load([root / name for name in sorted(WELL_KNOWN_FILES)], [root])
    return generate_protobuf(schema, ProtoOptions(bundled_well_known_types=False))


def _main() -> None:
    from pathlib import Path

    import pilota.runtime.protobuf
    from pilota.codegen.writer import write_tree

    target = Path(pilota.runtime.protobuf.__file__).parent / "wkt"
    for path in write_tree(well_known_types(), target):
        print(path)


if __name__ == "__main__":
    _main()
