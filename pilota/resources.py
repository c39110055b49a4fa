"""Where the grammars and templates shipped with pilota live.

Installed, they are the packages `pilota.grammars` and `pilota.templates`
(mapped from the repository's top-level folders by setup.py); in a source
checkout that was never installed they are those folders themselves.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


@cache
def resource_dir(name: str) -> Path:
    spec = importlib.util.find_spec(f"pilota.{name}")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return _REPO_ROOT / name


def grammar_text(name: str) -> str:
    return (resource_dir("grammars") / name).read_text(encoding="utf-8")
