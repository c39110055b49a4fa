"""What `volo idl diff` compares: files, folders, or the same paths at a git ref.

Each side is compiled on its own (`pilota.check`), Thrift and protobuf files
of a folder in separate runs. Modules get a key that is the same for the same
file in both versions: the path relative to the side's anchor (the folder
given, the file's own folder, or the repository root with `--against`), else
relative to an include directory (`-I0/...`), else the absolute path (a file
both sides include from one place).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pilota
from pilota import ir
from pilota.compiler import SUPPORTED_SUFFIXES
from pilota.diagnostics import Diagnostic, Diagnostics, Location
from pilota.diff.engine import Version


class InputError(Exception):
    """A problem with what was asked for, in one sentence (the CLI exits 2)."""


@dataclass
class Side:
    """One side compiled: the version to compare, and how to show its files."""

    label: str  # "OLD", "NEW"
    paths: list[Path]  # as given (or as materialized from git)
    anchor: Path
    include_dirs: list[Path]
    diagnostics: list[Diagnostics] = field(default_factory=list)
    version: Version | None = None
    # OLD read from git: the temporary tree, and the ref to show instead
    git_root: Path | None = None
    ref: str | None = None
    # NEW with --against: a folder holds only the files git knows (tracked, or new and
    # not ignored), as OLD holds only what was committed; None: every file there
    known: set[Path] | None = None

    def shown(self, path: str) -> str:
        """A file's path as the user knows it (`REF:path` for files read from git)."""
        if self.git_root is not None:
            try:
                relative = Path(path).resolve().relative_to(self.git_root.resolve())
            except ValueError:
                return path
            return f"{self.ref}:{relative.as_posix()}"
        return path

    def source_line(self, path: str, line: int) -> str | None:
        for diagnostics in self.diagnostics:
            text = diagnostics.sources.line(path, line)
            if text is not None:
                return text
        return None

    def errors(self) -> list[Diagnostic]:
        return [d for ds in self.diagnostics for d in ds.sorted() if d.is_error]

    def rendered_diagnostics(self) -> list[str]:
        """The compiler's own diagnostics, paths as the user knows them."""
        out: list[str] = []
        for diagnostics in self.diagnostics:
            for d in diagnostics.sorted():
                loc = d.location
                if loc is not None:
                    d = Diagnostic(
                        d.severity, d.message,
                        Location(self.shown(loc.path), loc.line, loc.col, loc.length),
                        d.source_line,
                    )  # fmt: skip
                out.append(d.render())
        return out


def idl_files(folder: Path) -> list[Path]:
    """The IDL files under a folder, hidden folders (.git, .venv) left out, in a stable order."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root, f) for f in sorted(files) if Path(f).suffix in SUPPORTED_SUFFIXES]
    return found


def compile_side(side: Side) -> None:
    """Compile a side's paths; on success `side.version` is set."""
    files: list[Path] = []
    folders: list[Path] = []
    for path in side.paths:
        if path.is_dir():
            found = idl_files(path)
            if side.known is not None:
                found = [f for f in found if f.resolve() in side.known]
            if not found:
                raise InputError(
                    f"{side.label} '{side.shown(str(path))}' holds no .thrift or .proto files"
                )
            files += found
            folders.append(path)
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{side.label} '{side.shown(str(path))}' does not exist")
    modules: dict[str, ir.Module] = {}
    roots: list[str] = []
    ok = True
    for suffix in SUPPORTED_SUFFIXES:
        group = [f for f in files if f.suffix == suffix]
        if not group:
            continue
        include_dirs = [*folders, *side.include_dirs]
        schema, diagnostics = pilota.check(group, include_dirs)
        side.diagnostics.append(diagnostics)
        if schema is None:
            ok = False
            continue
        root_paths = {str(Path(m.path).resolve()) for m in schema.roots}
        for resolved, module in schema.modules.items():
            key = module_key(Path(resolved), side.anchor, side.include_dirs)
            modules.setdefault(key, module)
            if resolved in root_paths:
                roots.append(key)
    if not ok:
        return
    side.version = Version(modules, roots, lambda module: _text(side, module))


def _text(side: Side, module: ir.Module) -> str | None:
    """A module's text as it was compiled (the compiler keeps every file it read)."""
    lines: list[str] = []
    while (line := side.source_line(module.path, len(lines) + 1)) is not None:
        lines.append(line)
    return "\n".join(lines) if lines else None


def module_key(resolved: Path, anchor: Path, include_dirs: Sequence[Path]) -> str:
    for prefix, base in [("", anchor), *((f"-I{i}/", d) for i, d in enumerate(include_dirs))]:
        try:
            return prefix + resolved.relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return resolved.as_posix()


def anchor_of(paths: Sequence[Path]) -> Path:
    """The folder keys are relative to: the folder given, else the file's own folder."""
    first = paths[0]
    return first if first.is_dir() else first.parent


# ---- git -------------------------------------------------------------------------------


def _git(args: list[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False
        )
    except FileNotFoundError:
        raise InputError("--against needs git, which is not installed") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _GitFailed(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


class _GitFailed(Exception):
    pass


@contextmanager
def at_ref(ref: str, paths: Sequence[Path], include_dirs: Sequence[Path]) -> Iterator[Side]:
    """OLD as the IDL files of the repository holding `paths` were at `ref`, written to a
    temporary folder for as long as the context lasts. Only .thrift and .proto files are
    read (with `git ls-tree` and one `git cat-file --batch`), whatever else the repository holds."""
    start = paths[0] if paths[0].is_dir() else paths[0].parent
    if not start.exists():
        raise InputError(f"NEW '{paths[0]}' does not exist")
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], start).decode().strip())
    except _GitFailed:
        raise InputError(
            f"'{paths[0]}' is not in a git repository, so --against has nothing to read"
        ) from None
    try:
        commit = (
            _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top).decode().strip()
        )
    except _GitFailed:
        raise InputError(
            f"'{ref}' is not a commit, branch or tag of the repository at '{top}'"
        ) from None
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", commit], top)
    wanted: list[tuple[str, str, str]] = []  # mode, blob, path
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, blob = meta.decode().split()
        relative = name.decode("utf-8", "surrogateescape")
        if kind == "blob" and Path(relative).suffix in SUPPORTED_SUFFIXES:
            wanted.append((mode, blob, relative))
    contents = _read_blobs([blob for _, blob, _ in wanted], top)
    temp = Path(tempfile.mkdtemp(prefix="volo-idl-diff-"))
    try:
        root = temp / "tree"
        root.mkdir()
        for (mode, _, relative), data in zip(wanted, contents, strict=True):
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if mode == "120000":  # a symbolic link: its target is the content
                target.symlink_to(data.decode("utf-8", "surrogateescape"))
            else:
                target.write_bytes(data)

        def there(path: Path) -> Path | None:
            try:
                return root / path.resolve().relative_to(top.resolve())
            except ValueError:
                return None

        old_paths: list[Path] = []
        for path in paths:
            mapped = there(path)
            if mapped is None:
                raise InputError(f"'{path}' is outside the repository at '{top}'")
            if not mapped.exists() and not (path.is_dir() and mapped == root):
                raise InputError(f"'{path}' does not exist at {ref}")
            old_paths.append(mapped if mapped.exists() else root)
        old_includes: list[Path] = []
        for d in include_dirs:
            mapped = there(d) if d.is_dir() else None
            if mapped is not None:
                mapped.mkdir(parents=True, exist_ok=True)  # a folder without IDL files then
                old_includes.append(mapped)
            else:
                old_includes.append(d)
        yield Side("OLD", old_paths, root, old_includes, git_root=root, ref=ref)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _read_blobs(blobs: list[str], cwd: Path) -> list[bytes]:
    if not blobs:
        return []
    out = _git(["cat-file", "--batch"], cwd, stdin="".join(b + "\n" for b in blobs).encode())
    contents: list[bytes] = []
    position = 0
    for _ in blobs:
        header_end = out.index(b"\n", position)
        size = int(out[position:header_end].split()[2])
        start = header_end + 1
        contents.append(out[start : start + size])
        position = start + size + 1
    return contents


def repository_root(path: Path) -> Path:
    start = path if path.is_dir() else path.parent
    return Path(_git(["rev-parse", "--show-toplevel"], start).decode().strip())


def known_files(top: Path) -> set[Path]:
    """The IDL files of a work tree that git knows: tracked, or new and not ignored."""
    listing = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], top)
    names = (n.decode("utf-8", "surrogateescape") for n in listing.split(b"\0") if n)
    return {(top / n).resolve() for n in names if Path(n).suffix in SUPPORTED_SUFFIXES}
