"""Base classes of generated service handlers and clients.

A generated handler has one `async def` per method; a server (the volo
runtime) calls them. A generated client turns each method call into
`_call(name, args, result_class, oneway)`, which a transport provides.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple, Protocol

from pilota.runtime.base import Struct


class Method(NamedTuple):
    """One method of a generated service, as a server or client needs it."""

    python_name: str  # the handler's method (the IDL name, mangled if need be)
    args: type[Struct]
    result: type[Struct]
    oneway: bool


class Caller(Protocol):
    """What a generated client sends its calls through (a volo transport)."""

    async def call(
        self, service: str, method: str, args: Struct, result_class: type[Struct], oneway: bool
    ) -> Struct | None: ...


class ApplicationError(Exception):
    """A reply that carries neither a result nor a declared exception."""


class Handler:
    """Base of generated handlers; subclass the generated one and implement its methods."""

    # IDL method name -> Method, inherited methods included; filled in by generated code
    __thrift_methods__: ClassVar[dict[str, Method]] = {}
    __thrift_service__: ClassVar[str] = ""


class Client:
    """Base of generated clients: every call goes through the `caller` given,
    usually a volo client transport (`volo.connect(...)`)."""

    __thrift_methods__: ClassVar[dict[str, Method]] = {}
    __thrift_service__: ClassVar[str] = ""

    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    async def _call(
        self, method: str, args: Struct, result_class: type[Struct], oneway: bool
    ) -> Struct | None:
        return await self._caller.call(
            self.__thrift_service__, method, args, result_class, oneway
        )


def unwrap(result: Struct | None, method: str) -> Any:
    """The value of a reply: `success`, or the declared exception raised."""
    if result is None:
        raise ApplicationError(f"{method}: no reply")
    for spec in result.__thrift_spec__:
        value = getattr(result, spec.name, None)
        if value is None:
            continue
        if spec.id == 0:
            return value
        raise value
    if not any(spec.id == 0 for spec in result.__thrift_spec__):
        return None  # a void method
    raise ApplicationError(f"{method}: the reply has no result (MISSING_RESULT)")
