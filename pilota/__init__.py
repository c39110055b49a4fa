"""pilota: the IDL compiler (Thrift, protobuf) and serialization runtime.

Importing `pilota` is cheap: the compiler (and its parser) loads on first use
of `check`, `load` or `generate`, so generated code that only needs the
runtime never pays for it; and the runtime (its codecs) loads on first use of
`DecodeError`, `EncodeError` or `Protocol`, so the compiler never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pilota.diagnostics import CompileError, Diagnostic, Diagnostics, Location, Severity

if TYPE_CHECKING:
    from pilota.compiler import check, generate, load
    from pilota.runtime.types import DecodeError, EncodeError, Protocol

__version__ = "0.1.0"

__all__ = [
    "CompileError",
    "DecodeError",
    "Diagnostic",
    "Diagnostics",
    "EncodeError",
    "Location",
    "Protocol",
    "Severity",
    "__version__",
    "check",
    "generate",
    "load",
]


def __getattr__(name: str) -> Any:
    if name in ("check", "load", "generate"):
        from pilota import compiler

        return getattr(compiler, name)
    if name in ("DecodeError", "EncodeError", "Protocol"):
        from pilota.runtime import types

        return getattr(types, name)
    raise AttributeError(f"module 'pilota' has no attribute {name!r}")
