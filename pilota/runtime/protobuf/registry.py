"""An explicit registry of message classes and extensions, for what ProtoJSON looks up by name.

ProtoJSON names types in two places: an `Any` carries the full name of the
message it holds (`"@type": "type.googleapis.com/pkg.Msg"`), and an extension
is written under its full name (`"[pkg.ext]": ...`). There is no global
registry that every imported module adds itself to (so that two unrelated
packages with a message of the same name never collide): you build a
`TypeRegistry` from the generated code you want found, and pass it along.

    from pilota.runtime.protobuf import TypeRegistry
    from myapi.shop.v1 import orders, users

    registry = TypeRegistry(orders, users)            # modules, classes, extensions
    registry = TypeRegistry.from_package("myapi")     # every module of a generated package
    text = order.to_json(registry=registry)
    order = orders.Order.from_json(text, registry=registry)
    held = registry.unpack(some_any)                  # an Any's message, of the right class

A module contributes its message classes (nested ones too) and its
extensions (declared at file level or inside a message); a class contributes
itself and its nested classes. Two different classes of the same full name
in one registry are an error. The well-known types
(`pilota.runtime.protobuf.wkt`) are always found, after the registry's own.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from pilota.runtime.protobuf.message import Extension, Message

WELL_KNOWN_PACKAGE = "pilota.runtime.protobuf.wkt"


class TypeRegistry:
    """Message classes by full name, and extensions by extendee and full name."""

    __slots__ = ("_extensions", "_messages")

    def __init__(self, *items: ModuleType | type[Message] | Extension[Any, Any] | TypeRegistry):
        self._messages: dict[str, type[Message]] = {}
        self._extensions: dict[type[Message], dict[str, Extension[Any, Any]]] = {}
        for item in items:
            self.add(item)

    @classmethod
    def from_package(cls, package: ModuleType | str) -> TypeRegistry:
        """A registry of every module in a generated package (its subpackages too),
        importing them."""
        if isinstance(package, str):
            package = importlib.import_module(package)
        registry = cls(package)
        paths = getattr(package, "__path__", None)
        if paths is not None:
            for info in pkgutil.walk_packages(paths, package.__name__ + "."):
                registry.add(importlib.import_module(info.name))
        return registry

    def add(
        self, item: ModuleType | type[Message] | Extension[Any, Any] | TypeRegistry
    ) -> None:
        """Adds a module's definitions, a class (with its nested classes), an
        extension, or everything another registry holds."""
        if isinstance(item, TypeRegistry):
            for message in item._messages.values():
                self._add_message(message)
            for extensions in item._extensions.values():
                for extension in extensions.values():
                    self._add_extension(extension)
        elif isinstance(item, Extension):
            self._add_extension(item)
        elif isinstance(item, type) and issubclass(item, Message):
            self._add_class(item)
        elif isinstance(item, ModuleType):
            for value in list(vars(item).values()):
                if isinstance(value, Extension):
                    self._add_extension(value)
                elif (
                    isinstance(value, type)
                    and issubclass(value, Message)
                    and value.__module__ == item.__name__
                ):
                    self._add_class(value)
        else:
            raise TypeError(
                f"a TypeRegistry holds modules, message classes and extensions, "
                f"not {type(item).__name__}"
            )

    def message(self, full_name: str) -> type[Message] | None:
        """The class of the message called `full_name` (`pkg.Outer.Inner`), if known."""
        found = self._messages.get(full_name)
        if found is None and self is not _WELL_KNOWN:
            found = well_known().message(full_name)
        return found

    def extension(self, extendee: type[Message], full_name: str) -> Extension[Any, Any] | None:
        """The extension of `extendee` called `full_name`, if known."""
        found = self._extensions.get(extendee)
        return found.get(full_name) if found is not None else None

    def extensions(self, extendee: type[Message]) -> Iterator[Extension[Any, Any]]:
        """The extensions of `extendee` that the registry knows."""
        found = self._extensions.get(extendee)
        return iter(found.values() if found is not None else ())

    def unpack(self, any_message: Any) -> Message:
        """The message a `google.protobuf.Any` holds, decoded with the class its type
        URL names; raises `KeyError` if the registry does not know it."""
        name = str(any_message.type_url).rpartition("/")[2]
        cls = self.message(name)
        if cls is None:
            raise KeyError(f"the type registry does not know {name!r}")
        return cls.from_bytes(any_message.value)

    def __contains__(self, full_name: object) -> bool:
        return isinstance(full_name, str) and self.message(full_name) is not None

    def __iter__(self) -> Iterator[type[Message]]:
        """The message classes added (the well-known types not among them)."""
        return iter(self._messages.values())

    def __len__(self) -> int:
        return len(self._messages)

    def __repr__(self) -> str:
        return f"TypeRegistry({len(self._messages)} messages)"

    # ---- adding -------------------------------------------------------------------------

    def _add_class(self, cls: type[Message]) -> None:
        self._add_message(cls)
        for value in list(vars(cls).values()):
            if isinstance(value, Extension):
                self._add_extension(value)
            elif (
                isinstance(value, type)
                and issubclass(value, Message)
                and value.__qualname__.startswith(cls.__qualname__ + ".")  # nested, not aliased
            ):
                self._add_class(value)

    def _add_message(self, cls: type[Message]) -> None:
        name = cls.__pb_name__
        if not name:
            return
        known = self._messages.get(name)
        if known is not None and known is not cls:
            raise ValueError(
                f"two classes are called {name}: {_where(known)} and {_where(cls)}"
            )
        self._messages[name] = cls

    def _add_extension(self, extension: Extension[Any, Any]) -> None:
        by_name = self._extensions.setdefault(extension.extendee, {})
        known = by_name.get(extension.full_name)
        if known is not None and known is not extension:
            raise ValueError(f"two extensions are called {extension.full_name}")
        by_name[extension.full_name] = extension


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


_WELL_KNOWN: TypeRegistry | None = None


def well_known() -> TypeRegistry:
    """The well-known types the runtime ships (imported on first use)."""
    global _WELL_KNOWN
    if _WELL_KNOWN is None:
        _WELL_KNOWN = TypeRegistry.from_package(WELL_KNOWN_PACKAGE)
    return _WELL_KNOWN
