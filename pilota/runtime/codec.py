"""Chooses the codec: the compiled one when it is there, else the pure-Python one.

`PILOTA_PURE_PYTHON=1` forces the pure-Python codec (both are tested).
"""

from __future__ import annotations

import os
from types import ModuleType

from pilota.runtime import _pure


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

