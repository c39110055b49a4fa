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
from pilota.diagnostics import Diagnostics, Location
from pilota.sources import MAX_INCLUDE_DEPTH, is_file_like, read_source
from pilota.thrift import ast
from pilota.thrift.lower import cycle_text, lower_documents
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
        self.loading: list[Path] = []  # the chain of includes being followed
        self.on_chain: set[Path] = set()  # the same, to look up

    def load(self, path: Path, shown: str) -> None:
        """Read `path` and, depth first, every file it includes (without recursion:
        a chain of includes costs no stack)."""
        first = self.read(path, shown)
        if first is None:
            return
        frames = [(first, path, iter(first.document.includes))]
        self.enter(first)
        while frames:
            parsed, here, pending = frames[-1]
            include = next(pending, None)
            if include is None:
                frames.pop()
                self.on_chain.discard(self.loading.pop())
                continue
            found = self.find_include(include.path, here.parent, parsed.shown_path)
            if found is None:
                dirs = [os.path.dirname(parsed.shown_path) or ".", *map(str, self.include_dirs)]
                searched = ", ".join(dirs)
                self.diagnostics.error(
                    f"cannot find included file '{include.path}' (searched: {searched}); "
                    "give its directory with -I",
                    include.loc,
                )
                continue
            target, target_shown = found
            target_real = target.resolve()
            if target_real in self.on_chain:
                cycle = [*self.loading[self.loading.index(target_real) :], target_real]
                names = cycle_text([self.shown(p, target_shown) for p in cycle])
                self.diagnostics.error(f"include cycle: {names}", include.loc)
                continue
            if target_real not in self.files and len(frames) >= MAX_INCLUDE_DEPTH:
                self.diagnostics.error(
                    f"includes nest too deeply: '{include.path}' would be file "
                    f"{len(frames) + 1} of a chain of includes from "
                    f"'{frames[0][0].shown_path}'; at most {MAX_INCLUDE_DEPTH} files "
                    "can include one another in a row (Python could not import "
                    "the generated modules)",
                    include.loc,
                )
                continue
            parsed.includes.append((include, target_real))
            child = self.read(target, target_shown, include.loc)
            if child is not None:
                frames.append((child, target, iter(child.document.includes)))
                self.enter(child)

    def read(self, path: Path, shown: str, named_at: Location | None = None) -> ParsedFile | None:
        """The file parsed, if it is not loaded yet and has no syntax errors."""
        real = path.resolve()
        if real in self.files:
            return None
        text = read_source(path, shown, self.diagnostics, named_at)
        document = parse_thrift(text, shown, self.diagnostics) if text is not None else None
        parsed = ParsedFile(real, shown, document) if document is not None else None
        self.files[real] = parsed
        return parsed

    def enter(self, parsed: ParsedFile) -> None:
        self.loading.append(parsed.real_path)
        self.on_chain.add(parsed.real_path)

    def shown(self, real: Path, fallback: str) -> str:
        parsed = self.files.get(real)
        return parsed.shown_path if parsed is not None else fallback

    def find_include(
        self, name: str, including_dir: Path, including_shown: str
    ) -> tuple[Path, str] | None:
        candidate = including_dir / name
        if is_file_like(candidate):
            return candidate, os.path.normpath(os.path.join(os.path.dirname(including_shown), name))
        for directory in self.include_dirs:
            candidate = directory / name
            if is_file_like(candidate):
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
    """The files that parsed, found all their includes, and include only such files.

    The includes followed form no cycle (an include that closes one is not
    followed), so each file is decided after the files it includes."""
    state: dict[Path, bool] = {}
    for start in files:
        stack = [(start, False)]
        while stack:
            real, expanded = stack.pop()
            if real in state:
                continue
            parsed = files.get(real)
            if parsed is None or len(parsed.includes) != len(parsed.document.includes):
                state[real] = False
            elif not expanded:
                stack.append((real, True))
                stack += [(target, False) for _, target in parsed.includes if target not in state]
            else:
                state[real] = all(state.get(target, False) for _, target in parsed.includes)
    return [p for real, p in files.items() if p is not None and state[real]]
