"""Chooses the protobuf codec: the compiled one when it is there, else the pure-Python one.

`PILOTA_PURE_PYTHON=1` forces the pure-Python codec, as it does for Thrift.
The compiled codec is `pilota.runtime.protobuf._speedups` (Cython, built by
setup.py): the same `encode`, `decode` and `merge` as `_pure`, with the same
results and errors on every input.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from pilota.runtime.protobuf import _pure


def _load() -> ModuleType:
    if os.environ.get("PILOTA_PURE_PYTHON"):
        return _pure
    try:
        return importlib.import_module("pilota.runtime.protobuf._speedups")
    except ImportError:
        return _pure


implementation: ModuleType = _load()
IMPLEMENTATION = "python" if implementation is _pure else "cython"
