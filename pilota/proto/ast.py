"""The syntax tree of one .proto file, as written: names are not resolved yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from pilota.diagnostics import Location


@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier used as a value: an enum value, `true`, `inf`, `-inf`."""

    name: str
    negative: bool = False


@dataclass(slots=True)
class Aggregate:
    """A text-format message value: `{ key: value ... }`.

    Keys are field names or `[extension.name]` / `[type.url/Type]` (with `extension`)."""

    entries: list[AggregateEntry]
    loc: Location


@dataclass(slots=True)
class AggregateEntry:
    key: str
    extension: bool
    value: Constant
    loc: Location


# A string literal's value is its bytes (escapes may make any byte); lists only
# occur inside aggregates.
Constant: TypeAlias = bytes | int | float | Identifier | Aggregate | list["Constant"]


@dataclass(frozen=True, slots=True)
class OptionPart:
    name: str
    extension: bool  # written `(name)`: an extension of the options message


@dataclass(slots=True)
class Option:
    name: tuple[OptionPart, ...]
    value: Constant
    loc: Location  # of the name
    value_loc: Location
    text: str = field(init=False)  # the name as written: `(a.b).c`

    def __post_init__(self) -> None:
        self.text = ".".join(f"({p.name})" if p.extension else p.name for p in self.name)


@dataclass(slots=True)
class Import:
    path: str
    kind: str | None  # "public", "weak", "option" or None
    loc: Location


@dataclass(slots=True)
class Field:
    label: str | None  # "optional", "repeated", "required" or None
    type_name: str  # as written, maybe with a leading dot
    name: str
    number: int
    options: list[Option]
    loc: Location  # of the name
    number_loc: Location
    type_loc: Location
    map_key: str | None = None  # map<K, V>: type_name is V
    group: Message | None = None  # a group: its message (type_name is its name)
    oneof: Oneof | None = field(default=None, repr=False)
    doc: str | None = None


@dataclass(slots=True)
class Oneof:
    name: str
    fields: list[Field]
    options: list[Option]
    loc: Location
    doc: str | None = None


@dataclass(slots=True)
class Range:
    start: int
    end: int  # inclusive; "max" is given as None until the kind of range is known
    loc: Location
    end_is_max: bool = False


@dataclass(slots=True)
class Extend:
    extendee: str
    fields: list[Field]
    loc: Location  # of the extendee name
    doc: str | None = None


@dataclass(slots=True)
class Message:
    name: str
    loc: Location
    fields: list[Field] = field(default_factory=list)  # in order, oneof members included
    oneofs: list[Oneof] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    enums: list[Enum] = field(default_factory=list)
    extends: list[Extend] = field(default_factory=list)
    extension_ranges: list[tuple[Range, list[Option]]] = field(default_factory=list)
    reserved_ranges: list[Range] = field(default_factory=list)
    reserved_names: list[tuple[str, Location]] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    visibility: str | None = None
    doc: str | None = None
    is_group: bool = False
    is_map_entry: bool = False


@dataclass(slots=True)
class EnumValue:
    name: str
    number: int
    options: list[Option]
    loc: Location
    number_loc: Location
    doc: str | None = None


@dataclass(slots=True)
class Enum:
    name: str
    loc: Location
    values: list[EnumValue] = field(default_factory=list)
    reserved_ranges: list[Range] = field(default_factory=list)
    reserved_names: list[tuple[str, Location]] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    visibility: str | None = None
    doc: str | None = None


@dataclass(slots=True)
class Method:
    name: str
    input_type: str
    output_type: str
    client_streaming: bool
    server_streaming: bool
    options: list[Option]
    loc: Location
    input_loc: Location
    output_loc: Location
    doc: str | None = None
    body: bool = False  # written with `{ ... }` rather than `;`


@dataclass(slots=True)
class Service:
    name: str
    loc: Location
    methods: list[Method] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    doc: str | None = None


@dataclass(slots=True)
class File:
    path: str
    syntax: str | None = None  # "proto2", "proto3"
    edition: str | None = None
    header_loc: Location | None = None  # of the syntax or edition value
    package: str = ""
    package_loc: Location | None = None
    imports: list[Import] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    enums: list[Enum] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    extends: list[Extend] = field(default_factory=list)
