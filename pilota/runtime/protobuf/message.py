"""The base of generated protobuf messages, oneof members and extensions.

Generated message classes are plain `__slots__` classes with a keyword-only
typed `__init__` (see `spec` for their layout). `Message` adds what they all
share: `to_bytes`/`from_bytes`, ProtoJSON (`to_json`/`from_json`,
`to_dict`/`from_dict`, see `json_format`), equality, `repr`, pickling and
copying.
Fields are ordinary attributes, containers included; only oneof members are
descriptors (`OneofMember`), since setting one must clear the others: a oneof
is one slot holding `(member name, value)` or None, which reads well in a
`match` statement:

    match msg.payload:
        case ("text", str(text)): ...
        case ("blob", bytes(blob)): ...
        case None: ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, overload

from pilota.runtime.protobuf import _pure
from pilota.runtime.protobuf.codec import implementation
from pilota.runtime.protobuf.spec import (
    DOUBLE,
    FLOAT,
    IMPLICIT,
    MAP,
    PACKED,
    REPEATED,
    FieldSpec,
)

if TYPE_CHECKING:
    from pilota.runtime.protobuf.registry import TypeRegistry

_encode = implementation.encode
_decode = implementation.decode
_merge = implementation.merge

Buffer = bytes | bytearray | memoryview
DEFAULT_MAX_DEPTH = 100


class Message:
    """A protobuf message. Subclasses are generated; see `pilota.runtime.protobuf.spec`."""

    __slots__ = ("_extensions", "_unknown")
    __pb_name__: ClassVar[str] = ""
    __pb_fields__: ClassVar[tuple[FieldSpec, ...]] = ()
    __pb_oneofs__: ClassVar[tuple[str, ...]] = ()
    __pb_message_set__: ClassVar[bool] = False

    def to_bytes(self, *, deterministic: bool = False) -> bytes:
        """The binary encoding; `deterministic` sorts map entries by key (as Google's
        Python protobuf does: text keys ascending, integer and bool keys descending
        as unsigned numbers), so that equal messages encode to equal bytes.
        Raises `pilota.EncodeError` naming the field that cannot be encoded."""
        return _encode(self, deterministic)  # type: ignore[no-any-return]

    @classmethod
    def from_bytes(cls, data: Buffer, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Self:
        """Decodes `data` (all of it); raises `pilota.DecodeError` naming the field."""
        return _decode(cls, data, max_depth)  # type: ignore[no-any-return]

    def merge_from_bytes(self, data: Buffer, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        """Merges encoded fields into this message, as protobuf merges: repeated
        fields append, scalars are replaced, messages merge."""
        _merge(self, data, max_depth)

    def to_json(
        self,
        *,
        registry: TypeRegistry | None = None,
        proto_names: bool = False,
        emit_defaults: bool = False,
        enums_as_ints: bool = False,
        indent: int | None = None,
    ) -> str:
        """The ProtoJSON text: fields under their JSON names (`proto_names`: their
        .proto names), those without presence only when not zero (`emit_defaults`:
        always), enums by name (`enums_as_ints`: by number). `registry` finds the
        types of `Any`s and the extensions not read yet. Raises `pilota.EncodeError`
        naming the field that cannot be written."""
        from pilota.runtime.protobuf import json_format

        return json_format.to_json(
            self, registry=registry, proto_names=proto_names, emit_defaults=emit_defaults,
            enums_as_ints=enums_as_ints, indent=indent,
        )  # fmt: skip

    def to_dict(
        self,
        *,
        registry: TypeRegistry | None = None,
        proto_names: bool = False,
        emit_defaults: bool = False,
        enums_as_ints: bool = False,
    ) -> dict[str, Any]:
        """The ProtoJSON form as Python values, what `json.loads(self.to_json())` gives."""
        from pilota.runtime.protobuf import json_format

        return json_format.to_dict(  # type: ignore[no-any-return]
            self, registry=registry, proto_names=proto_names, emit_defaults=emit_defaults,
            enums_as_ints=enums_as_ints,
        )  # fmt: skip

    @classmethod
    def from_json(
        cls,
        text: str | bytes | bytearray,
        *,
        registry: TypeRegistry | None = None,
        ignore_unknown: bool = False,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> Self:
        """Reads ProtoJSON text (fields under either name). `ignore_unknown` skips
        fields and enum names this class does not know; `registry` finds the types
        of `Any`s and `[extension]` keys. Raises `pilota.DecodeError` with the path."""
        from pilota.runtime.protobuf import json_format

        return json_format.from_json(  # type: ignore[no-any-return]
            cls, text, registry=registry, ignore_unknown=ignore_unknown, max_depth=max_depth
        )

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        registry: TypeRegistry | None = None,
        ignore_unknown: bool = False,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> Self:
        """Reads the ProtoJSON form given as Python values (as `json.loads` makes them)."""
        from pilota.runtime.protobuf import json_format

        return json_format.from_dict(  # type: ignore[no-any-return]
            cls, data, registry=registry, ignore_unknown=ignore_unknown, max_depth=max_depth
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for name in type(self).__slots__:
            if getattr(self, name) != getattr(other, name):
                return False
        return _same_extras(self, other)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        shown: list[str] = []
        for spec in self.__pb_fields__:
            if spec.oneof is not None:
                case = getattr(self, spec.oneof)
                if case is not None and case[0] == spec.name:
                    shown.append(f"{spec.name}={case[1]!r}")
                continue
            value = getattr(self, spec.name)
            if not _is_unset(spec, value):
                shown.append(f"{spec.name}={value!r}")
        extensions = getattr(self, "_extensions", None)
        if extensions:
            shown += [f"({e.full_name})={v!r}" for _, (e, v) in sorted(extensions.items())]
        unknown = getattr(self, "_unknown", b"")
        if unknown:
            shown.append(f"<{len(unknown)} bytes of unknown fields>")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), _state(self)))


def _is_unset(spec: FieldSpec, value: Any) -> bool:
    label = spec.label
    if label == IMPLICIT:
        if spec.kind in (DOUBLE, FLOAT) and isinstance(value, float) and value == 0:
            return math.copysign(1.0, value) > 0
        return bool(value == spec.default)
    if label in (REPEATED, PACKED, MAP):
        return not value
    return value is None


def _same_extras(a: Message, b: Message) -> bool:
    """Equal extensions and unknown fields (an extension read on one side only is
    compared with the other side's unread one)."""
    ours: dict[int, Any] = getattr(a, "_extensions", None) or {}
    theirs: dict[int, Any] = getattr(b, "_extensions", None) or {}
    for number in sorted(set(ours) | set(theirs)):
        extension = (ours.get(number) or theirs[number])[0]
        if extension.get(a) != extension.get(b):
            return False
    return getattr(a, "_unknown", b"") == getattr(b, "_unknown", b"")


def _state(msg: Message) -> tuple[tuple[str, Any], ...]:
    state = [(name, getattr(msg, name)) for name in type(msg).__slots__]
    unknown: bytes = getattr(msg, "_unknown", b"")
    extensions = getattr(msg, "_extensions", None)
    if extensions:  # kept as their encoding: Extension objects belong to modules
        written = bytearray()
        for number in sorted(extensions):
            extension, value = extensions[number]
            _pure.write_extension(
                written, extension, value, msg.__pb_message_set__, False, _pure.MAX_DEPTH
            )
        unknown = bytes(written) + unknown
    if unknown:
        state.append(("_unknown", unknown))
    return tuple(state)


def _rebuild(cls: type[Message], state: tuple[tuple[str, Any], ...]) -> Message:
    obj = cls.__new__(cls)
    for name, value in state:
        object.__setattr__(obj, name, value)
    return obj


# ---- oneofs ----------------------------------------------------------------------------

T = TypeVar("T")
M = TypeVar("M", bound=Message)


class OneofMember(Generic[T]):
    """A member of a oneof: reads the oneof's slot, and setting it replaces what
    the oneof holds (None clears it if this member is the one set)."""

    __slots__ = ("name", "oneof")

    def __init__(self, oneof: str, name: str) -> None:
        self.oneof = oneof
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, obj: Message, owner: type[Any] | None = None) -> T | None: ...
    def __get__(self, obj: Message | None, owner: type[Any] | None = None) -> T | Self | None:
        if obj is None:
            return self
        case = getattr(obj, self.oneof)
        if case is not None and case[0] == self.name:
            return case[1]  # type: ignore[no-any-return]
        return None

    def __set__(self, obj: Message, value: T | None) -> None:
        if value is not None:
            setattr(obj, self.oneof, (self.name, value))
            return
        case = getattr(obj, self.oneof)
        if case is not None and case[0] == self.name:
            setattr(obj, self.oneof, None)


def oneof_conflict(obj: Message, oneof: str) -> None:
    """Called by generated constructors given two members of one oneof."""
    names = ", ".join(s.name for s in obj.__pb_fields__ if s.oneof == oneof)
    raise TypeError(f"{type(obj).__name__} takes at most one of {names} (oneof {oneof})")


# ---- extensions --------------------------------------------------------------------------


class Extension(Generic[M, T]):
    """A field of `extendee` declared elsewhere (proto2 `extend`).

    `T` is its value type: `X | None` for a singular extension (None when not
    set), `list[X]` for a repeated one. Extensions are read lazily: a decoded
    message keeps them among its unknown fields until `get` (or `has`) reads
    them, so no registry is needed to decode.
    """

    __slots__ = ("extendee", "full_name", "spec")

    def __init__(self, extendee: type[M], full_name: str, spec: FieldSpec) -> None:
        self.extendee = extendee
        self.full_name = full_name
        self.spec = spec

    @property
    def number(self) -> int:
        return self.spec.number

    @property
    def repeated(self) -> bool:
        return self.spec.label in (REPEATED, PACKED)

    def get(self, message: M) -> T:
        """The value: None (a singular extension) or a list (a repeated one, which
        the message keeps, so appending to it changes the message) when unset."""
        extensions = self._extensions(message)
        found = extensions.get(self.number)
        if found is not None:
            if found[0] is self or found[0].spec == self.spec:
                return found[1]  # type: ignore[no-any-return]
            # Another declaration of this number (from an unrelated package, say): what
            # it holds goes back to the wire form, to be read as this one reads it.
            written = bytearray()
            _pure.write_extension(
                written, found[0], found[1], message.__pb_message_set__, False, _pure.MAX_DEPTH
            )
            del extensions[self.number]
            object.__setattr__(message, "_unknown", bytes(written) + unknown_fields(message))
        value = _pure.take_extension(message, self, message.__pb_message_set__)
        if value is not None:
            extensions[self.number] = (self, value)
        return value  # type: ignore[no-any-return]

    def set(self, message: M, value: T) -> None:
        """Sets the value; None (or, for a repeated one, an empty list) clears it."""
        if value is None:
            self.clear(message)
            return
        self._extensions(message)[self.number] = (self, value)
        if getattr(message, "_unknown", b""):  # older records of it would merge in
            _pure.take_extension(message, self, message.__pb_message_set__)

    def has(self, message: M) -> bool:
        value = self.get(message)
        return bool(value) if self.repeated else value is not None

    def clear(self, message: M) -> None:
        self._extensions(message).pop(self.number, None)
        if getattr(message, "_unknown", b""):
            _pure.take_extension(message, self, message.__pb_message_set__)

    def _extensions(self, message: M) -> dict[int, tuple[Extension[Any, Any], Any]]:
        if not isinstance(message, self.extendee):
            raise TypeError(
                f"{self.full_name} extends {self.extendee.__name__}, "
                f"not {type(message).__name__}"
            )
        extensions: dict[int, tuple[Extension[Any, Any], Any]] | None = getattr(
            message, "_extensions", None
        )
        if extensions is None:
            extensions = {}
            object.__setattr__(message, "_extensions", extensions)
        return extensions

    def __repr__(self) -> str:
        return f"Extension({self.full_name}, {self.number})"


def unknown_fields(message: Message) -> bytes:
    """The fields `message` did not know when it was decoded, as they were encoded
    (extensions not read yet among them); they are written back on encode."""
    return getattr(message, "_unknown", b"")
