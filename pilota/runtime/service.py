"""Base classes of generated service handlers and clients.

A generated handler has one `async def` per method; a server (the volo
runtime) calls them. A generated client turns each method call into
`_call(name, args, result_class, oneway)`, which a transport provides (a
oneway method has no result class: no reply comes).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from typing import Any, ClassVar, NamedTuple, Protocol, Self

from pilota.runtime.base import Struct, ThriftException
from pilota.runtime.types import I32, OPTIONAL, STRING, FieldSpec


class Method(NamedTuple):
    """One method of a generated service, as a server or client needs it."""

    python_name: str  # the handler's method (the IDL name, mangled if need be)
    args: type[Struct]
    result: type[Struct] | None  # None for a oneway method
    oneway: bool


class Caller(Protocol):
    """What a generated client sends its calls through (a volo transport)."""

    def call(
        self,
        service: str,
        method: str,
        args: Struct,
        result_class: type[Struct] | None,
        oneway: bool,
    ) -> Awaitable[Struct | None]: ...

    async def close(self) -> None: ...


class ApplicationErrorType(enum.IntEnum):
    """TApplicationException's `type` field."""

    UNKNOWN = 0
    UNKNOWN_METHOD = 1
    INVALID_MESSAGE_TYPE = 2
    WRONG_METHOD_NAME = 3
    BAD_SEQUENCE_ID = 4
    MISSING_RESULT = 5
    INTERNAL_ERROR = 6
    PROTOCOL_ERROR = 7
    INVALID_TRANSFORM = 8
    INVALID_PROTOCOL = 9
    UNSUPPORTED_CLIENT_TYPE = 10


class ApplicationError(ThriftException):
    """Thrift's TApplicationException: the error a server sends when a call
    fails other than with a declared exception (unknown method, internal error)."""

    __slots__ = ("message", "type")

    message: str | None
    type: int | None

    def __init__(self, *, message: str | None = None, type: int | None = None) -> None:
        self.message = message
        self.type = type

    @property
    def kind(self) -> ApplicationErrorType:
        return ApplicationErrorType(self.type or 0)

    def __str__(self) -> str:
        # One line for people: the server's message and the kind of failure.
        known = ApplicationErrorType._value2member_map_.get(self.type or 0)
        kind = known.name if isinstance(known, ApplicationErrorType) else f"type {self.type}"
        return f"{self.message or 'the call failed'} ({kind})"


ApplicationError.__thrift_spec__ = (
    FieldSpec(1, "message", STRING, OPTIONAL),
    FieldSpec(2, "type", I32, OPTIONAL),
)


class HttpBinding(NamedTuple):
    """Where one value of an HTTP request goes in a method's arguments (Hertz's
    `api.path`, `api.query`, `api.header`, `api.cookie`, `api.form`, `api.body`)."""

    arg: str  # the argument (an attribute of the args struct)
    field: str | None  # the attribute of that argument's struct it fills; None: the argument
    source: str  # "path", "query", "header", "cookie", "form" or "body"
    key: str  # its name there; "" for the whole body


class HttpRoute(NamedTuple):
    """A method served over HTTP (Hertz's `api.get = "/items/:id"` ...)."""

    method: str  # "GET", "POST", ...
    path: str  # the route, `:name` for a path parameter
    name: str  # the IDL method's name, a key of `__thrift_methods__`
    bindings: tuple[HttpBinding, ...]


class Handler:
    """Base of generated handlers; subclass the generated one and implement its methods."""

    # IDL method name -> Method, inherited methods included; filled in by generated code
    __thrift_methods__: ClassVar[dict[str, Method]] = {}
    __thrift_service__: ClassVar[str] = ""
    # The methods the IDL routes over HTTP, inherited ones included (volo.http serves them)
    __http_routes__: ClassVar[tuple[HttpRoute, ...]] = ()


class Client:
    """Base of generated clients: every call goes through the `caller` given,
    usually a volo client transport (`volo.thrift.connect(...)`). Closing the client
    (`close()`, or the end of `async with`) closes that transport."""

    __thrift_methods__: ClassVar[dict[str, Method]] = {}
    __thrift_service__: ClassVar[str] = ""
    __http_routes__: ClassVar[tuple[HttpRoute, ...]] = ()  # as the handler's

    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    def _call(
        self, method: str, args: Struct, result_class: type[Struct] | None, oneway: bool
    ) -> Awaitable[Struct | None]:
        # Hands back the transport's awaitable: no coroutine frame of its own per call.
        return self._caller.call(
            self.__thrift_service__, method, args, result_class, oneway
        )

    async def close(self) -> None:
        await self._caller.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def unwrap(result: Struct | None, method: str) -> Any:
    """The value of a reply: `success`, or the declared exception raised."""
    if result is None:
        raise ApplicationError(
            message=f"{method}: no reply", type=ApplicationErrorType.MISSING_RESULT
        )
    for spec in result.__thrift_spec__:
        value = getattr(result, spec.name, None)
        if value is None:
            continue
        if spec.id == 0:
            return value
        raise value
    if not any(spec.id == 0 for spec in result.__thrift_spec__):
        return None  # a void method
    raise ApplicationError(
        message=f"{method}: the reply has no result", type=ApplicationErrorType.MISSING_RESULT
    )
