"""Read Thrift files and everything they include, then lower them to IR.

Includes are searched relative to the including file first, then in each
include directory in the order given. Every file is parsed once, however
many files include it; an include that leads back to a file still being
loaded is a cycle and is reported at the `include` that closes it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pilota import ir
from pilota.diagnostics import Diagnostics
from pilota.sources import read_source
from pilota.thrift import ast
from pilota.thrift.lower import lower_documents
from pilota.thrift.parser import parse_thrift


@dataclass
class ParsedFile:
    real_path: Path
    shown_path: str  # what diagnostics print
    document: ast.Document
    # each include that was found, with the file it names
    includes: list[tuple[ast.Include, Path]] = field(default_factory=list)


class _Loader:
    def __init__(self, include_dirs: Sequence[Path], diagnostics: Diagnostics) -> None:
        self.include_dirs = list(include_dirs)
        self.diagnostics = diagnostics
        self.files: dict[Path, ParsedFile | None] = {}  # None: unreadable or broken
        self.loading: list[Path] = []

    def load(self, path: Path, shown: str) -> None:
        real = path.resolve()
        if real in self.files:
            return
        text = read_source(path, shown, self.diagnostics)
        document = parse_thrift(text, shown, self.diagnostics) if text is not None else None
        if document is None:
            self.files[real] = None
            return
        parsed = ParsedFile(real, shown, document)
        self.files[real] = parsed
        self.loading.append(real)
        for include in document.includes:
            found = self.find_include(include.path, path.parent, shown)
            if found is None:
                dirs = [os.path.dirname(shown) or ".", *map(str, self.include_dirs)]
                searched = ", ".join(dirs)
                self.diagnostics.error(
                    f"cannot find included file '{include.path}' (searched: {searched}); "
                    "give its directory with -I",
                    include.loc,
                )
                continue
            target, target_shown = found
            target_real = target.resolve()
            if target_real in self.loading:
                cycle = [*self.loading[self.loading.index(target_real) :], target_real]
                names = " -> ".join(self.shown(p, target_shown) for p in cycle)
                self.diagnostics.error(f"include cycle: {names}", include.loc)
                continue
            parsed.includes.append((include, target_real))
            self.load(target, target_shown)
        self.loading.pop()

    def shown(self, real: Path, fallback: str) -> str:
        parsed = self.files.get(real)
        return parsed.shown_path if parsed is not None else fallback

    def find_include(
        self, name: str, including_dir: Path, including_shown: str
    ) -> tuple[Path, str] | None:
        candidate = including_dir / name
        if candidate.is_file():
            return candidate, os.path.normpath(os.path.join(os.path.dirname(including_shown), name))
        for directory in self.include_dirs:
            candidate = directory / name
            if candidate.is_file():
                return candidate, os.path.normpath(str(candidate))
        return None


def load_thrift(
    paths: Sequence[Path], include_dirs: Sequence[Path], diagnostics: Diagnostics
) -> list[ir.Module] | None:
    """Parse, resolve and check `paths` and their includes.

    Returns the IR modules of `paths`, in order (their includes are reachable
    through `Module.includes`), or None if there were errors — all of which are
    in `diagnostics`.
    """
    loader = _Loader(include_dirs, diagnostics)
    for path in paths:
        loader.load(path, os.path.normpath(path))
    # Lower every file whose includes all loaded, so that independent files
    # still get checked when another one is broken.
    healthy = _healthy_files(loader.files)
    modules = lower_documents(healthy, diagnostics)
    if diagnostics.has_errors:
        return None
    return [modules[Path(p).resolve()] for p in paths]


def _healthy_files(files: dict[Path, ParsedFile | None]) -> list[ParsedFile]:
    state: dict[Path, bool] = {}

    def healthy(real: Path) -> bool:
        if real not in state:
            parsed = files.get(real)
            state[real] = False  # provisional: a cycle back here is not healthy
            state[real] = (
                parsed is not None
                and len(parsed.includes) == len(parsed.document.includes)
                and all(healthy(target) for _, target in parsed.includes)
            )
        return state[real]

    return [p for real, p in files.items() if p is not None and healthy(real)]
