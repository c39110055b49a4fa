"""Base classes of generated service handlers and clients.

A generated handler has one `async def` per method; a server (the volo
runtime) calls them. A generated client turns each method call into
`_call(name, args, result_class, oneway)`, which a transport provides.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pilota.runtime.base import Struct


class ApplicationError(Exception):
    """A reply that carries neither a result nor a declared exception."""


class Handler:
    """Base of generated handlers; subclass the generated one and implement its methods."""

    # method IDL name -> (args class, result class, oneway), filled in by generated code
    __thrift_methods__: ClassVar[dict[str, tuple[type[Struct], type[Struct], bool]]] = {}
    __thrift_service__: ClassVar[str] = ""


class Client:
    """Base of generated clients. Calls go through `_call`, which a transport implements."""

    __thrift_methods__: ClassVar[dict[str, tuple[type[Struct], type[Struct], bool]]] = {}
    __thrift_service__: ClassVar[str] = ""

    async def _call(
        self, method: str, args: Struct, result_class: type[Struct], oneway: bool
    ) -> Struct | None:
        raise NotImplementedError(
            f"{type(self).__name__} has no transport; create it with a volo client"
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
