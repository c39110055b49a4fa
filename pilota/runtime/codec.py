"""Chooses the codec: the compiled one when it is there, else the pure-Python one.

`PILOTA_PURE_PYTHON=1` forces the pure-Python codec (both are tested).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from pilota.runtime import _pure
from pilota.runtime.types import Protocol


def _load() -> ModuleType:
    if os.environ.get("PILOTA_PURE_PYTHON"):
        return _pure
    try:
        from pilota.runtime import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return _pure
    return _speedups  # type: ignore[no-any-return]


implementation: ModuleType = _load()
IMPLEMENTATION = "cython" if implementation is not _pure else "python"


def encode(obj: Any, protocol: Protocol) -> bytes:
    if protocol is Protocol.BINARY:
        return implementation.encode_binary(obj)  # type: ignore[no-any-return]
    return implementation.encode_compact(obj)  # type: ignore[no-any-return]


def decode(cls: type[Any], data: Any, protocol: Protocol, max_depth: int) -> Any:
    if protocol is Protocol.BINARY:
        return implementation.decode_binary(cls, data, max_depth)
    return implementation.decode_compact(cls, data, max_depth)
