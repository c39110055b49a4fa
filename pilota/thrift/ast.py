"""The Thrift syntax tree: what a file says, before any name is resolved.

Nodes keep IDL spelling (type names as written, literal values as parsed) and
a `Location` for every construct a diagnostic may point at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pilota.diagnostics import Location


@dataclass(slots=True)
class Annotation:
    name: str
    value: str | None
    loc: Location


# ---- types ------------------------------------------------------------------


@dataclass(slots=True)
class BaseTypeRef:
    name: str  # the keyword as written: "i32", "byte", "slist", ...
    annotations: list[Annotation]
    loc: Location


@dataclass(slots=True)
class NamedTypeRef:
    name: str  # possibly dotted: "base.Status"
    loc: Location
    annotations: list[Annotation] = field(default_factory=list)


@dataclass(slots=True)
class ListTypeRef:
    element: TypeRef
    annotations: list[Annotation]
    loc: Location
    cpp_type: str | None = None


@dataclass(slots=True)
class SetTypeRef:
    element: TypeRef
    annotations: list[Annotation]
    loc: Location
    cpp_type: str | None = None


@dataclass(slots=True)
class MapTypeRef:
    key: TypeRef
    value: TypeRef
    annotations: list[Annotation]
    loc: Location
    cpp_type: str | None = None


TypeRef = BaseTypeRef | NamedTypeRef | ListTypeRef | SetTypeRef | MapTypeRef


# ---- constant values --------------------------------------------------------


@dataclass(slots=True)
class IntLiteral:
    value: int
    text: str
    loc: Location


@dataclass(slots=True)
class DoubleLiteral:
    value: float
    text: str
    loc: Location


@dataclass(slots=True)
class StringLiteral:
    value: str
    loc: Location


@dataclass(slots=True)
class Identifier:
    """A reference to a constant or enum value (`MAX`, `Status.OK`, `base.Status.OK`)."""

    name: str
    loc: Location


@dataclass(slots=True)
class ListLiteral:
    items: list[ConstValue]
    loc: Location


@dataclass(slots=True)
class MapLiteral:
    items: list[tuple[ConstValue, ConstValue]]
    loc: Location


ConstValue = IntLiteral | DoubleLiteral | StringLiteral | Identifier | ListLiteral | MapLiteral


# ---- headers ----------------------------------------------------------------


@dataclass(slots=True)
class Include:
    path: str
    loc: Location  # the path literal
    keyword_loc: Location


@dataclass(slots=True)
class CppInclude:
    path: str
    loc: Location


@dataclass(slots=True)
class Namespace:
    scope: str
    name: str
    annotations: list[Annotation]
    loc: Location


# ---- definitions ------------------------------------------------------------


@dataclass(slots=True)
class Field:
    id: int | None  # None when the IDL gives none
    name: str
    type: TypeRef
    requiredness: str | None  # "required", "optional" or None
    default: ConstValue | None
    annotations: list[Annotation]
    doc: str | None
    loc: Location  # the field's name
    id_loc: Location | None = None
    reference: bool = False


@dataclass(slots=True)
class Typedef:
    name: str
    type: TypeRef
    annotations: list[Annotation]
    doc: str | None
    loc: Location


@dataclass(slots=True)
class Const:
    name: str
    type: TypeRef
    value: ConstValue
    annotations: list[Annotation]
    doc: str | None
    loc: Location


@dataclass(slots=True)
class EnumValue:
    name: str
    value: IntLiteral | None
    annotations: list[Annotation]
    doc: str | None
    loc: Location


@dataclass(slots=True)
class Enum:
    name: str
    values: list[EnumValue]
    annotations: list[Annotation]
    doc: str | None
    loc: Location


@dataclass(slots=True)
class Senum:
    """The deprecated string enum: kept so it can be reported and lowered to `string`."""

    name: str
    values: list[StringLiteral]
    annotations: list[Annotation]
    doc: str | None
    loc: Location
    keyword_loc: Location


@dataclass(slots=True)
class Struct:
    kind: str  # "struct", "union" or "exception"
    name: str
    fields: list[Field]
    annotations: list[Annotation]
    doc: str | None
    loc: Location


@dataclass(slots=True)
class Function:
    name: str
    return_type: TypeRef | None  # None for void
    args: list[Field]
    throws: list[Field]
    oneway: bool
    annotations: list[Annotation]
    doc: str | None
    loc: Location
    oneway_keyword: str | None = None  # "oneway", or the deprecated "async"
    oneway_loc: Location | None = None


@dataclass(slots=True)
class Service:
    name: str
    extends: NamedTypeRef | None
    functions: list[Function]
    annotations: list[Annotation]
    doc: str | None
    loc: Location


Definition = Typedef | Const | Enum | Senum | Struct | Service


@dataclass(slots=True)
class Document:
    path: str
    includes: list[Include] = field(default_factory=list)
    cpp_includes: list[CppInclude] = field(default_factory=list)
    namespaces: list[Namespace] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    doc: str | None = None
