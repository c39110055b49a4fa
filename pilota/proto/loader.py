"""Read .proto files and their imports, resolve names as protoc does, check, lower to IR.

Imports are found relative to the include roots, in order (protoc's `-I`);
with none given, a file's own directory is its root. The well-known types
(`google/protobuf/*.proto`) are found after the roots, in the copy that
ships with grpcio-tools when it is installed. A file is known by its path
relative to its root (its *import name*), as protoc knows it. An imported
file is parsed once per process while it stays unchanged. descriptor.proto is
loaded even when nothing imports it: options are typed by it, as in protoc.

Names resolve as in protoc: a leading dot means fully qualified; otherwise
the first component is looked up from the innermost scope outwards, and the
rest inside whatever it names. A type must be defined in the file itself or
in one it imports (directly, or through `import public`).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pilota import ir
from pilota.diagnostics import Diagnostics, Location
from pilota.proto import ast
from pilota.proto.parser import parse_proto
from pilota.sources import MAX_INCLUDE_DEPTH, is_file_like, read_source

OPTIONS_FILE = "google/protobuf/descriptor.proto"
WKT_INSTALL = "pip install 'volo-py[proto]'"
MAX_FIELD_NUMBER = 2**29 - 1
RESERVED_FIELD_NUMBERS = (19000, 19999)
SUPPORTED_EDITIONS = ("2023", "2024")

SCALARS: dict[str, ir.BaseKind] = {
    "double": ir.BaseKind.DOUBLE, "float": ir.BaseKind.FLOAT,
    "int32": ir.BaseKind.I32, "int64": ir.BaseKind.I64,
    "uint32": ir.BaseKind.UINT32, "uint64": ir.BaseKind.UINT64,
    "sint32": ir.BaseKind.SINT32, "sint64": ir.BaseKind.SINT64,
    "fixed32": ir.BaseKind.FIXED32, "fixed64": ir.BaseKind.FIXED64,
    "sfixed32": ir.BaseKind.SFIXED32, "sfixed64": ir.BaseKind.SFIXED64,
    "bool": ir.BaseKind.BOOL, "string": ir.BaseKind.STRING, "bytes": ir.BaseKind.BINARY,
}  # fmt: skip
SCALAR_NAMES = {kind: name for name, kind in SCALARS.items()}
MAP_KEY_KINDS = frozenset(SCALARS) - {"double", "float", "bytes"}
_INT32 = (-(2**31), 2**31 - 1)
# Imported files' syntax trees: ((path, mtime, size), shown) -> (text, tree).
# Lowering only reads trees, so one can serve many loads.
_PARSED: dict[tuple[tuple[str, int, int], str], tuple[str, ast.File]] = {}
_PARSED_MAX = 512
# descriptor.proto's symbols, lowered, for loads that use it without importing it.
_IMPLIED: dict[tuple[str, int, int], dict[str, _Symbol]] = {}


def well_known_root() -> Path | None:
    """Where the well-known .proto files are, if grpcio-tools is installed."""
    spec = importlib.util.find_spec("grpc_tools")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "_proto"
    return root if root.is_dir() else None


def json_name(name: str) -> str:
    """protoc's default JSON name: underscores dropped, the letter after each capitalised."""
    out: list[str] = []
    upper = False
    for ch in name:
        if ch == "_":
            upper = True
        elif upper:
            out.append(ch.upper())
            upper = False
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class _File:
    import_name: str  # as imports name it, e.g. "google/protobuf/any.proto"
    shown: str  # what diagnostics print
    tree: ast.File
    module: ir.Module
    imports: list[tuple[ast.Import, _File]] = field(default_factory=list)

    @property
    def syntax(self) -> ir.Syntax:
        return self.module.syntax


# A symbol: what a full name denotes, and the file that defines it.
@dataclass
class _Symbol:
    kind: str  # "message", "enum", "service", "package", "field", "enum value", "method", ...
    file: _File | None
    loc: Location | None
    definition: ir.Struct | ir.Enum | ir.Service | None = None
    extension: ir.Field | None = None  # kind "extension": the field, once lowered


class _Loader:
    def __init__(self, include_dirs: Sequence[Path], diagnostics: Diagnostics) -> None:
        self.roots = list(include_dirs)
        wkt = well_known_root()
        self.fallback = [wkt] if wkt is not None else []
        self.diagnostics = diagnostics
        self.files: dict[str, _File | None] = {}  # by import name; None: broken
        self.loading: list[str] = []
        self.symbols: dict[str, _Symbol] = {}
        self.ast_of: dict[int, tuple[ast.Message, str]] = {}  # id(ir.Struct) -> its AST, name
        self.enum_ast: dict[int, ast.Enum] = {}
        self.visible: dict[str, set[str]] = {}

    # ---- reading -----------------------------------------------------------------

    def import_name_of(self, path: Path) -> str:
        real = path.resolve()
        for root in self.roots:
            try:
                return real.relative_to(root.resolve()).as_posix()
            except ValueError:
                continue
        return path.name

    def find(self, name: str) -> Path | None:
        for root in [*self.roots, *self.fallback]:
            candidate = root / name
            if is_file_like(candidate):
                return candidate
        return None

    def load(
        self, path: Path, import_name: str, shown: str, root: bool = False,
        named_at: Location | None = None,
    ) -> _File | None:  # fmt: skip
        if import_name in self.files:
            return self.files[import_name]
        self.files[import_name] = None
        tree = self.parse(path, shown, cache=not root, named_at=named_at)
        if tree is None:
            return None
        module = ir.Module(shown, import_name, package=tree.package)
        loaded = _File(import_name, shown, tree, module)
        self.set_syntax(loaded)
        self.files[import_name] = loaded
        self.loading.append(import_name)
        for imp in tree.imports:
            if imp.path in self.loading:
                cycle = " -> ".join([*self.loading[self.loading.index(imp.path) :], imp.path])
                self.diagnostics.error(f"import cycle: {cycle}", imp.loc)
                continue
            found = self.find(imp.path)
            if found is None:
                if imp.kind != "option" and imp.kind != "weak":
                    hint = "; give its directory with -I"
                    if imp.path.startswith("google/protobuf/") and not self.fallback:
                        hint = f"; the well-known types come with grpcio-tools: {WKT_INSTALL}"
                    self.diagnostics.error(f"import '{imp.path}' was not found{hint}", imp.loc)
                continue
            shown = os.path.normpath(found) if found.is_absolute() else imp.path
            if imp.path not in self.files and len(self.loading) >= MAX_INCLUDE_DEPTH:
                self.diagnostics.error(
                    f"imports nest too deeply: \"{imp.path}\" would be file "
                    f"{len(self.loading) + 1} of a chain of imports from \"{self.loading[0]}\"; "
                    f"at most {MAX_INCLUDE_DEPTH} files can import one another in a row "
                    "(Python could not import the generated modules)",
                    imp.loc,
                )
                continue
            target = self.load(found, imp.path, shown, named_at=imp.loc)
            if target is not None:
                loaded.imports.append((imp, target))
                if imp.kind == "option":  # for options only: not a dependency of the code
                    continue
                module.includes.append(
                    ir.Include(target.module, imp.loc, imp.kind == "public", imp.kind == "weak")
                )
        self.loading.pop()
        return loaded

    def parse(
        self, path: Path, shown: str, cache: bool, named_at: Location | None = None
    ) -> ast.File | None:
        """The file's syntax tree; with `cache` (for imports), parsed once per process
        while the file stays the same: many files import the same few."""
        file_key = _file_key(path) if cache else None
        key = (file_key, shown) if file_key is not None else None
        if key is not None:
            cached = _PARSED.get(key)
            if cached is not None:
                self.diagnostics.sources.add(shown, cached[0])
                return cached[1]
        text = read_source(path, shown, self.diagnostics, named_at)
        tree = parse_proto(text, shown, self.diagnostics) if text is not None else None
        if key is not None and text is not None and tree is not None:
            if len(_PARSED) >= _PARSED_MAX:
                del _PARSED[next(iter(_PARSED))]  # the oldest
            _PARSED[key] = (text, tree)
        return tree

    def set_syntax(self, f: _File) -> None:
        tree, module = f.tree, f.module
        if tree.edition is not None:
            module.syntax = ir.Syntax.EDITIONS
            module.edition = tree.edition
            if tree.edition not in SUPPORTED_EDITIONS:
                latest = SUPPORTED_EDITIONS[-1]
                later = tree.edition.isdigit() and tree.edition > latest
                message = (
                    f"edition {tree.edition} is later than the latest supported, {latest}"
                    if later
                    else f"unknown edition \"{tree.edition}\": expected one of "
                    + ", ".join(SUPPORTED_EDITIONS)
                )
                self.diagnostics.error(message, tree.header_loc)
        elif tree.syntax in (None, "proto2"):
            module.syntax = ir.Syntax.PROTO2
        elif tree.syntax == "proto3":
            module.syntax = ir.Syntax.PROTO3
        else:
            self.diagnostics.error(
                f"unknown syntax \"{tree.syntax}\": expected \"proto2\" or \"proto3\"",
                tree.header_loc,
            )
            module.syntax = ir.Syntax.PROTO2

    # ---- symbols -------------------------------------------------------------------

    def define(self, full: str, symbol: _Symbol) -> None:
        existing = self.symbols.get(full)
        if existing is None:
            self.symbols[full] = symbol
            return
        if existing.kind == "package" and symbol.kind == "package":
            return
        scope, _, name = full.rpartition(".")
        where = f"in \"{scope}\"" if scope else "at the top level"
        if existing.file is not symbol.file and existing.file is not None:
            where += f" (first in {existing.file.shown})"
        self.diagnostics.error(f"\"{name}\" is already defined {where}", symbol.loc)

    def declare_file(self, f: _File) -> None:
        package = f.tree.package
        if package:
            parts = package.split(".")
            for i in range(1, len(parts) + 1):
                self.define(".".join(parts[:i]), _Symbol("package", f, f.tree.package_loc))
        for message in f.tree.messages:
            struct = self.declare_message(f, message, package, None)
            f.module.definitions[message.name] = struct
        for enum in f.tree.enums:
            lowered = self.declare_enum(f, enum, package, None)
            f.module.definitions[enum.name] = lowered
        for service in f.tree.services:
            full = f"{package}.{service.name}" if package else service.name
            lowered_service = ir.Service(service.name, f.module, service.loc, doc=service.doc)
            self.define(full, _Symbol("service", f, service.loc, lowered_service))
            f.module.definitions[service.name] = lowered_service
            for method in service.methods:  # names in the service's scope (duplicates: lowering)
                self.symbols.setdefault(f"{full}.{method.name}", _Symbol("method", f, method.loc))

    def declare_message(
        self, f: _File, message: ast.Message, scope: str, parent: ir.Struct | None
    ) -> ir.Struct:
        full = f"{scope}.{message.name}" if scope else message.name
        struct = ir.Struct(
            message.name, f.module, message.loc, message.doc, kind=ir.StructKind.MESSAGE,
            parent=parent, is_group=message.is_group, visibility=message.visibility,
        )  # fmt: skip
        self.define(full, _Symbol("message", f, message.loc, struct))
        for nested in message.messages:
            struct.nested.append(self.declare_message(f, nested, full, struct))
        for enum in message.enums:
            struct.nested.append(self.declare_enum(f, enum, full, struct))
        for fld in message.fields:
            self.define(f"{full}.{fld.name}", _Symbol("field", f, fld.loc))
        for oneof in message.oneofs:
            self.define(f"{full}.{oneof.name}", _Symbol("oneof", f, oneof.loc))
        self.ast_of[id(struct)] = (message, full)
        return struct

    def declare_enum(
        self, f: _File, enum: ast.Enum, scope: str, parent: ir.Struct | None
    ) -> ir.Enum:
        full = f"{scope}.{enum.name}" if scope else enum.name
        lowered = ir.Enum(
            enum.name, f.module, enum.loc, enum.doc, parent=parent, visibility=enum.visibility
        )
        self.define(full, _Symbol("enum", f, enum.loc, lowered))
        for value in enum.values:
            # Enum values are siblings of their enum, as in C++.
            member = ir.EnumMember(value.name, value.number, lowered, value.loc, value.doc)
            lowered.members.append(member)
            self.define(
                f"{scope}.{value.name}" if scope else value.name,
                _Symbol("enum value", f, value.loc),
            )
        self.enum_ast[id(lowered)] = enum
        return lowered

    def visible_files(self, f: _File) -> set[str]:
        seen = {f.import_name}
        pending = [target for _, target in f.imports]
        while pending:
            nxt: list[_File] = []
            for target in pending:
                if target.import_name in seen:
                    continue
                seen.add(target.import_name)
                nxt += [t for imp, t in target.imports if imp.kind == "public"]
            pending = nxt
        return seen

    def lookup(
        self, f: _File, name: str, scope: str, loc: Location, types_only: bool = True,
        context: str = "",
    ) -> _Symbol | None:  # fmt: skip
        """What `name` denotes from `scope`, reported as an error when nothing
        (after `context`, if given)."""
        found = self._lookup(name, scope, types_only)
        problem: str | None = None
        if isinstance(found, str):
            problem = found
        elif found is None:
            problem = f"\"{name}\" is not defined" + self.diagnostics.suggestion(
                name, lambda: self.names_in_scope(f, scope, types_only)
            )
        elif found.file is not None and found.file.import_name not in self.visible[f.import_name]:
            problem = (
                f"\"{name}\" seems to be defined in \"{found.file.import_name}\", "
                f"which is not imported by \"{f.import_name}\""
            )
        if problem is None:
            return found if not isinstance(found, str) else None
        self.diagnostics.error(f"{context}: {problem}" if context else problem, loc)
        return None

    def names_in_scope(self, f: _File, scope: str, types_only: bool) -> list[str]:
        """The names `name` could have meant from `scope`: of the types (or, not
        `types_only`, anything) in it and the scopes around it that `f` can see,
        and of the scalar types."""
        parts = scope.split(".") if scope else []
        around = {".".join(parts[:i]) for i in range(len(parts) + 1)}
        visible = self.visible[f.import_name]
        names = list(SCALARS) if types_only else []
        for full, symbol in self.symbols.items():
            if types_only and symbol.kind not in ("message", "enum"):
                continue
            if symbol.file is not None and symbol.file.import_name not in visible:
                continue
            outer, _, short = full.rpartition(".")
            if outer in around:
                names.append(short)
        return names

    def _lookup(self, name: str, scope: str, types_only: bool) -> _Symbol | str | None:
        found = self._resolve(name, scope, types_only)
        if types_only and isinstance(found, _Symbol) and found.kind not in ("message", "enum"):
            # a dotted or absolute name reaches whatever it names: a field, a method...
            return f"\"{name}\" is not a type"
        return found

    def _resolve(self, name: str, scope: str, types_only: bool) -> _Symbol | str | None:
        if name.startswith("."):
            return self.symbols.get(name[1:])
        first, _, rest = name.partition(".")
        parts = scope.split(".") if scope else []
        while True:
            candidate = ".".join([*parts, first])
            symbol = self.symbols.get(candidate)
            if symbol is not None:
                if rest:
                    if symbol.kind in ("message", "package", "enum", "service"):
                        full = f"{candidate}.{rest}"
                        inner = self.symbols.get(full)
                        if inner is None:
                            return (
                                f"\"{name}\" is resolved to \"{full}\", which is not defined; "
                                f"the innermost scope is searched first: write \".{name}\" "
                                "to start from the outermost"
                            )
                        return inner
                elif not types_only or symbol.kind in ("message", "enum"):
                    return symbol
            if not parts:
                return None
            parts.pop()


def load_proto(
    paths: Sequence[Path], include_dirs: Sequence[Path], diagnostics: Diagnostics
) -> list[ir.Module] | None:
    """Load, resolve and check .proto files; None when there were errors (all reported)."""
    from pilota.proto.lower import Lowering

    loader = _Loader(include_dirs, diagnostics)
    roots: list[_File] = []
    for path in paths:
        if not include_dirs:
            loader.roots = [path.parent]
        name = loader.import_name_of(path)
        loaded = loader.load(path, name, os.path.normpath(path), root=True)
        if loaded is not None:
            roots.append(loaded)
    if diagnostics.has_errors:
        return None
    # protoc knows descriptor.proto without an import: options are typed by it. When
    # nothing imports it, its lowered symbols serve every load (nothing else sees them).
    implied: _File | None = None
    implied_key = None
    if OPTIONS_FILE not in loader.files:
        found = loader.find(OPTIONS_FILE)
        implied_key = _file_key(found) if found is not None else None
        cached = _IMPLIED.get(implied_key) if implied_key is not None else None
        if cached is not None:
            loader.symbols.update(cached)
        elif found is not None:
            implied = loader.load(found, OPTIONS_FILE, str(found))
    if diagnostics.has_errors:
        return None
    Lowering(loader).run()
    if diagnostics.has_errors:
        return None
    if implied is not None and implied_key is not None:
        _IMPLIED[implied_key] = {
            name: symbol for name, symbol in loader.symbols.items() if symbol.file is implied
        }
    return [r.module for r in roots]


def _file_key(path: Path) -> tuple[str, int, int] | None:
    """What identifies a file's content for the caches: its path, mtime and size."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


__all__ = ["json_name", "load_proto", "well_known_root"]
