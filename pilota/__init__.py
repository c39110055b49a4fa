"""pilota: the IDL compiler (Thrift, protobuf) and serialization runtime."""

from pilota.compiler import check, load
from pilota.diagnostics import CompileError, Diagnostic, Diagnostics, Location, Severity

__version__ = "0.1.0"

__all__ = [
    "CompileError",
    "Diagnostic",
    "Diagnostics",
    "Location",
    "Severity",
    "__version__",
    "check",
    "load",
]
