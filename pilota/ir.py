"""The protocol-neutral intermediate representation.

One IR serves Thrift and protobuf. It is what the front-ends produce after
resolution and checking, and all that the generator reads: names are
resolved to the definitions they denote, constants and defaults are
evaluated and typed, typedef chains can be followed with `unalias`.

Conventions:
- Definitions (`Struct`, `Enum`, `Typedef`, `Const`, `Service`) are compared by
  identity; types and values are frozen and compare by content.
- Protobuf-only facts (labels, oneofs, nested types, options, streaming, JSON
  names, extensions) have a home here; Thrift leaves them at their defaults.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

from pilota.diagnostics import Location


class Syntax(enum.Enum):
    THRIFT = "thrift"
    PROTO2 = "proto2"
    PROTO3 = "proto3"
    EDITIONS = "editions"


class BaseKind(enum.Enum):
    """Scalar types. Thrift uses the first nine; protobuf maps onto all of them."""

    BOOL = "bool"
    I8 = "i8"
    I16 = "i16"
    I32 = "i32"
    I64 = "i64"
    DOUBLE = "double"
    STRING = "string"
    BINARY = "binary"
    UUID = "uuid"
    # protobuf encodings beyond Thrift's (int32, int64, double, bool, string and
    # bytes use I32, I64, DOUBLE, BOOL, STRING and BINARY)
    FLOAT = "float"
    UINT32 = "uint32"
    UINT64 = "uint64"
    SINT32 = "sint32"
    SINT64 = "sint64"
    FIXED32 = "fixed32"
    FIXED64 = "fixed64"
    SFIXED32 = "sfixed32"
    SFIXED64 = "sfixed64"

    @property
    def is_integer(self) -> bool:
        return self in INTEGER_RANGES

    @property
    def range(self) -> tuple[int, int]:
        return INTEGER_RANGES[self]


INTEGER_RANGES: dict[BaseKind, tuple[int, int]] = {
    BaseKind.I8: (-(2**7), 2**7 - 1),
    BaseKind.I16: (-(2**15), 2**15 - 1),
    BaseKind.I32: (-(2**31), 2**31 - 1),
    BaseKind.I64: (-(2**63), 2**63 - 1),
    BaseKind.SINT32: (-(2**31), 2**31 - 1),
    BaseKind.SFIXED32: (-(2**31), 2**31 - 1),
    BaseKind.SINT64: (-(2**63), 2**63 - 1),
    BaseKind.SFIXED64: (-(2**63), 2**63 - 1),
    BaseKind.UINT32: (0, 2**32 - 1),
    BaseKind.FIXED32: (0, 2**32 - 1),
    BaseKind.UINT64: (0, 2**64 - 1),
    BaseKind.FIXED64: (0, 2**64 - 1),
}


@dataclass(frozen=True, slots=True)
class Annotation:
    """A Thrift annotation `(name = "value")`; `value` is None when none is written."""

    name: str
    value: str | None


Annotations: TypeAlias = tuple[Annotation, ...]


def annotation(annotations: Annotations, name: str) -> str | None:
    """The value of the last annotation called `name` ("" for a value-less one), else None."""
    for ann in reversed(annotations):
        if ann.name == name:
            return ann.value if ann.value is not None else ""
    return None


# ---- types ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BaseType:
    kind: BaseKind
    annotations: Annotations = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class ListType:
    element: Type
    annotations: Annotations = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class SetType:
    element: Type
    annotations: Annotations = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class MapType:
    key: Type
    value: Type
    annotations: Annotations = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class NamedType:
    """A use of a struct, union, exception, message, enum or typedef."""

    definition: Struct | Enum | Typedef
    annotations: Annotations = field(default=(), compare=False)

    def __repr__(self) -> str:
        return f"NamedType({self.definition.full_name})"


Type: TypeAlias = BaseType | ListType | SetType | MapType | NamedType


def unalias(t: Type) -> Type:
    """Follow typedefs to the type they finally stand for."""
    while isinstance(t, NamedType) and isinstance(t.definition, Typedef):
        t = t.definition.type
    return t


class Unaliaser:
    """`unalias` that remembers where each typedef leads, so that a chain of
    thousands of typedefs is followed once, not once per use. For IR whose
    typedefs no longer change (past the checks of lowering)."""

    def __init__(self) -> None:
        self._final: dict[Typedef, Type] = {}

    def __call__(self, t: Type) -> Type:
        followed: list[Typedef] = []
        while isinstance(t, NamedType) and isinstance(typedef := t.definition, Typedef):
            known = self._final.get(typedef)
            if known is not None:
                t = known
                break
            followed.append(typedef)
            t = typedef.type
        for typedef in followed:
            self._final[typedef] = t
        return t


# ---- values -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListValue:
    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class SetValue:
    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class MapValue:
    items: tuple[tuple[Value, Value], ...]


@dataclass(frozen=True, slots=True)
class StructValue:
    """A struct constant: the fields that are set, in the struct's field order."""

    struct: Struct
    fields: tuple[tuple[str, Value], ...]

    def __repr__(self) -> str:
        return f"StructValue({self.struct.name}, {self.fields!r})"


@dataclass(frozen=True, slots=True)
class EnumValue:
    """An enum member used as a value: the member itself keeps name and number."""

    member: EnumMember

    @property
    def value(self) -> int:
        return self.member.value

    def __repr__(self) -> str:
        return f"EnumValue({self.member.enum.name}.{self.member.name}={self.member.value})"


Value: TypeAlias = (
    bool | int | float | str | bytes | uuid.UUID
    | EnumValue | ListValue | SetValue | MapValue | StructValue
)  # fmt: skip


# ---- definitions ------------------------------------------------------------


class Requiredness(enum.Enum):
    """Thrift's requiredness; protobuf labels map onto it (see `Field`)."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    DEFAULT = "default"  # Thrift's "opt-in, req-out"; proto3's implicit presence


class StructKind(enum.Enum):
    STRUCT = "struct"
    UNION = "union"
    EXCEPTION = "exception"
    MESSAGE = "message"  # protobuf


@dataclass(eq=False, slots=True)
class Definition:
    name: str
    module: Module = field(repr=False)
    loc: Location | None = field(default=None, repr=False)
    doc: str | None = None
    annotations: Annotations = ()
    # protobuf options, typed against descriptor.proto: keys are field names
    # ("deprecated") or extensions' full names in parentheses ("(my.pkg.ext)"); a
    # message is a StructValue keyed the same way. Thrift leaves it empty.
    options: dict[str, Value] = field(default_factory=dict)
    # the enclosing message for protobuf nested types; None at file level
    parent: Struct | None = field(default=None, repr=False)
    # protobuf (edition 2024): "local" or "export" when written on a message or enum
    visibility: str | None = None

    @property
    def full_name(self) -> str:
        """`module.Name` for Thrift, `package.Outer.Inner` for protobuf."""
        scope = self.parent.full_name if self.parent is not None else self.module.scope_name
        return f"{scope}.{self.name}" if scope else self.name


@dataclass(eq=False, slots=True)
class Typedef(Definition):
    type: Type = field(default_factory=lambda: BaseType(BaseKind.STRING))


@dataclass(eq=False, slots=True)
class Const(Definition):
    type: Type = field(default_factory=lambda: BaseType(BaseKind.STRING))
    value: Value = ""


@dataclass(eq=False, slots=True)
class EnumMember:
    name: str
    value: int
    enum: Enum = field(repr=False)
    loc: Location | None = field(default=None, repr=False)
    doc: str | None = None
    annotations: Annotations = ()
    options: dict[str, Value] = field(default_factory=dict)
    implicit: bool = False  # the number was not written but assigned

    def __repr__(self) -> str:
        return f"EnumMember({self.name}={self.value})"


@dataclass(eq=False, slots=True)
class Enum(Definition):
    members: list[EnumMember] = field(default_factory=list)
    # protobuf: closed enums (proto2) reject unknown numbers; Thrift enums are open
    closed: bool = False
    # protobuf: reserved numbers (both ends included) and names
    reserved_ids: list[tuple[int, int]] = field(default_factory=list)
    reserved_names: list[str] = field(default_factory=list)

    def member(self, name: str) -> EnumMember | None:
        return next((m for m in self.members if m.name == name), None)

    def by_value(self, value: int) -> EnumMember | None:
        return next((m for m in self.members if m.value == value), None)


@dataclass(eq=False, slots=True)
class Field:
    id: int
    name: str
    type: Type
    requiredness: Requiredness = Requiredness.DEFAULT
    default: Value | None = None
    loc: Location | None = field(default=None, repr=False)
    doc: str | None = None
    annotations: Annotations = ()
    implicit_id: bool = False  # Thrift: no id written; a negative one was assigned
    reference: bool = False  # Thrift's `&` (cpp reference)
    # protobuf
    json_name: str | None = None
    oneof: Oneof | None = field(default=None, repr=False)
    options: dict[str, Value] = field(default_factory=dict)
    explicit_presence: bool | None = None  # None: decided by requiredness (Thrift)
    extendee: Struct | None = field(default=None, repr=False)  # for extensions
    proto3_optional: bool = False  # written `optional` in proto3: explicit presence
    delimited: bool = False  # protobuf groups (and DELIMITED in editions): group encoding
    extension_scope: Struct | None = field(default=None, repr=False)  # where declared
    # protobuf: every feature resolved for this field as protoc resolves it, by the
    # editions names (`field_presence`, `repeated_field_encoding`, `utf8_validation`,
    # ...); proto2 and proto3 map onto them (`[packed = true]` is PACKED). Thrift: {}.
    features: dict[str, str] = field(default_factory=dict)

    @property
    def optional(self) -> bool:
        return self.requiredness is Requiredness.OPTIONAL

    @property
    def required(self) -> bool:
        return self.requiredness is Requiredness.REQUIRED


@dataclass(eq=False, slots=True)
class Oneof:
    """A protobuf oneof: a named group of fields of which at most one is set."""

    name: str
    fields: list[Field] = field(default_factory=list)
    loc: Location | None = field(default=None, repr=False)
    doc: str | None = None
    options: dict[str, Value] = field(default_factory=dict)
    synthetic: bool = False  # proto3 `optional` wraps the field in a synthetic oneof


@dataclass(eq=False, slots=True)
class ExtensionRange:
    """Field numbers a protobuf message leaves to extensions, both ends included."""

    start: int
    end: int
    options: dict[str, Value] = field(default_factory=dict)

    def __contains__(self, number: int) -> bool:
        return self.start <= number <= self.end


@dataclass(eq=False, slots=True)
class Struct(Definition):
    kind: StructKind = StructKind.STRUCT
    fields: list[Field] = field(default_factory=list)
    # protobuf
    oneofs: list[Oneof] = field(default_factory=list)
    nested: list[Struct | Enum] = field(default_factory=list)
    extensions: list[Field] = field(default_factory=list)
    extension_ranges: list[ExtensionRange] = field(default_factory=list)
    reserved_ids: list[tuple[int, int]] = field(default_factory=list)
    reserved_names: list[str] = field(default_factory=list)
    is_group: bool = False  # the message of a protobuf group

    @property
    def is_union(self) -> bool:
        return self.kind is StructKind.UNION

    @property
    def is_exception(self) -> bool:
        return self.kind is StructKind.EXCEPTION

    def field_named(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(eq=False, slots=True)
class Method:
    name: str
    service: Service = field(repr=False)
    args: list[Field] = field(default_factory=list)
    result: Type | None = None  # None: void
    throws: list[Field] = field(default_factory=list)
    oneway: bool = False
    loc: Location | None = field(default=None, repr=False)
    doc: str | None = None
    annotations: Annotations = ()
    # protobuf: one message in, one message out, either side may stream
    client_streaming: bool = False
    server_streaming: bool = False
    options: dict[str, Value] = field(default_factory=dict)
    # protobuf: written with a `{ ... }` body, where protoc records options even if none
    body: bool = False


@dataclass(eq=False, slots=True)
class Service(Definition):
    extends: Service | None = None
    methods: list[Method] = field(default_factory=list)

    def all_methods(self) -> list[Method]:
        """Inherited methods first (base-most service first), then this service's own."""
        chain = [self, *self.extends_chain()]
        return [m for s in reversed(chain) for m in s.methods]

    def extends_chain(self) -> list[Service]:
        """The services this one extends, nearest first."""
        chain: list[Service] = []
        base = self.extends
        while base is not None and base is not self and base not in chain:
            chain.append(base)
            base = base.extends
        return chain


# ---- modules ----------------------------------------------------------------

_D = TypeVar("_D", bound=Definition)


@dataclass(frozen=True, slots=True)
class Namespace:
    scope: str  # "py", "java", "*", ...
    name: str
    annotations: Annotations = ()


@dataclass(eq=False, slots=True)
class Include:
    module: Module
    loc: Location | None = None
    public: bool = False  # protobuf `import public`
    weak: bool = False  # protobuf `import weak`


@dataclass(eq=False, slots=True)
class OptionTypes:
    """The messages and extensions protobuf options are typed against: what it
    takes to serialize an `options` dict (its keys are these messages' field
    names, or `(full.name)` of an extension)."""

    messages: dict[str, Struct] = field(default_factory=dict)  # "FieldOptions" -> its message
    extensions: dict[str, Field] = field(default_factory=dict)  # "(full.name)" -> extension


@dataclass(eq=False, slots=True)
class Module:
    """One IDL file."""

    path: str  # as given or found: what diagnostics show
    name: str  # Thrift: the file stem, which is how includers refer to it
    syntax: Syntax = Syntax.THRIFT
    package: str = ""  # protobuf package
    edition: str | None = None
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    includes: list[Include] = field(default_factory=list)
    cpp_includes: list[str] = field(default_factory=list)
    definitions: dict[str, Definition] = field(default_factory=dict)  # in IDL order
    doc: str | None = None
    options: dict[str, Value] = field(default_factory=dict)
    extensions: list[Field] = field(default_factory=list)  # protobuf: file-level `extend`
    # protobuf: what this file's options are typed against (shared by a load's modules)
    option_types: OptionTypes | None = field(default=None, repr=False)
    option_imports: list[str] = field(default_factory=list)  # protobuf `import option`

    @property
    def scope_name(self) -> str:
        return self.package if self.syntax is not Syntax.THRIFT else self.name

    def namespace(self, *scopes: str) -> str | None:
        """The first namespace found among `scopes`, e.g. `namespace("py", "*")`."""
        for scope in scopes:
            ns = self.namespaces.get(scope)
            if ns is not None:
                return ns.name
        return None

    def _of_type(self, kind: type[_D]) -> list[_D]:
        return [d for d in self.definitions.values() if isinstance(d, kind)]

    @property
    def typedefs(self) -> list[Typedef]:
        return self._of_type(Typedef)

    @property
    def consts(self) -> list[Const]:
        return self._of_type(Const)

    @property
    def enums(self) -> list[Enum]:
        return self._of_type(Enum)

    @property
    def structs(self) -> list[Struct]:
        return self._of_type(Struct)

    @property
    def services(self) -> list[Service]:
        return self._of_type(Service)

    def __getitem__(self, name: str) -> Definition:
        return self.definitions[name]


@dataclass(eq=False, slots=True)
class Schema:
    """The result of a compilation: the requested files and everything they include."""

    modules: dict[str, Module] = field(default_factory=dict)  # by resolved path
    roots: list[Module] = field(default_factory=list)  # the files asked for, in order

    def module(self, name: str) -> Module:
        """A module by its name (file stem), for tests and tools."""
        for module in self.modules.values():
            if module.name == name:
                return module
        raise KeyError(name)
