"""Generating an entry of volo.yml: its services' IDL (local, or from git at the
locked commit) compiled with the entry's options into its generated package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pilota
from pilota import ir
from pilota.codegen.protobuf import ProtoOptions
from pilota.codegen.python import GeneratedFile, Options
from pilota.codegen.select import used_definitions
from pilota.compiler import generate_sources
from pilota.diagnostics import Diagnostics
from volo_cli import gitsource
from volo_cli.config import CONFIG, Config, Entry, ProjectError, Service


class IdlError(Exception):
    """The IDL has errors; they are in `diagnostics`."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        super().__init__("the IDL has errors")
        self.diagnostics = diagnostics


@dataclass
class Generated:
    """One entry's generation: its schema and files (paths relative to the project)."""

    name: str
    entry: Entry
    schema: ir.Schema
    options: Options | ProtoOptions
    files: list[GeneratedFile]


def service_paths(entry: Entry, service: Service, root: Path) -> tuple[Path, list[Path]]:
    """The service's IDL file and include folders on disk (git ones from the cache)."""
    if service.idl.repo is None:
        base = root
    else:
        repo = entry.repos[service.idl.repo]
        base = gitsource.tree(repo.url, repo.lock)
    path = base / service.idl.path.lstrip("/")
    return path, [base / d for d in service.idl.includes]


def compile_entry(name: str, entry: Entry, root: Path) -> ir.Schema:
    paths: list[Path] = []
    includes: list[Path] = []
    for service in entry.services:
        path, dirs = service_paths(entry, service, root)
        if not path.is_file():
            where = f"repo '{service.idl.repo}'" if service.idl.repo else str(root)
            raise ProjectError(f"IDL file {service.idl.path} of entry '{name}' is not in {where}")
        paths.append(path)
        includes += dirs
    schema, diagnostics = pilota.check(paths, list(dict.fromkeys(includes)))
    if schema is None:
        raise IdlError(diagnostics)
    return schema


def entry_options(
    name: str, entry: Entry, root: Path, schema: ir.Schema
) -> Options | ProtoOptions:
    selected = None
    if not entry.touch_all:
        selected = used_definitions(schema, _touched(name, entry, root, schema))
    special = frozenset(entry.special_namings)
    snake = entry.name_case == "snake_case"
    if entry.protocol == "protobuf":
        return ProtoOptions(snake_case=snake, special_namings=special, definitions=selected)
    keeping: set[str] = set()
    for service in entry.services:
        if service.keep_unknown_fields:
            keeping |= _reached(_root_module(entry, service, root, schema))
    return Options(
        keep_unknown_fields_in=frozenset(keeping), snake_case=snake, special_namings=special,
        definitions=selected,
    )  # fmt: skip


def generate_entry(name: str, entry: Entry, root: Path) -> Generated:
    schema = compile_entry(name, entry, root)
    options = entry_options(name, entry, root, schema)
    folder = PurePosixPath(entry.generated)
    files = [GeneratedFile(folder / f.path, f.text) for f in generate_sources(schema, options)]
    return Generated(name, entry, schema, options, files)


def generate_all(config: Config, root: Path) -> list[Generated]:
    return [generate_entry(name, entry, root) for name, entry in config.entries.items()]


def stale_files(files: list[GeneratedFile], root: Path) -> list[str]:
    """The files whose content on disk differs from `files` (or that are missing)."""
    stale = []
    for f in files:
        target = root / f.path
        if not target.is_file() or target.read_bytes() != f.text.encode("utf-8"):
            stale.append(str(f.path))
    return stale


def _root_module(entry: Entry, service: Service, root: Path, schema: ir.Schema) -> ir.Module:
    path, _ = service_paths(entry, service, root)
    return schema.modules[str(path.resolve())]


def _reached(module: ir.Module) -> set[str]:
    """The resolved paths of `module` and every module it includes, transitively."""
    found: set[str] = set()
    pending = [module]
    while pending:
        current = pending.pop()
        key = str(Path(current.path).resolve())
        if key not in found:
            found.add(key)
            pending += [i.module for i in current.includes]
    return found


def _touched(name: str, entry: Entry, root: Path, schema: ir.Schema) -> list[ir.Definition]:
    """The definitions each service's `touch` names: a name of the service's own file,
    or a full name (`file.Name` in Thrift, `package.Name` in protobuf)."""
    by_full_name = {
        d.full_name: d for module in schema.modules.values() for d in module.definitions.values()
    }
    touched = []
    for number, service in enumerate(entry.services, 1):
        own = _root_module(entry, service, root, schema).definitions
        for item in service.touch:
            found = own.get(item) or by_full_name.get(item)
            if found is None:
                raise ProjectError(
                    f"{CONFIG}: 'touch' of service {number} of entry '{name}' names {item!r}, "
                    "which its IDL does not define"
                )
            touched.append(found)
    return touched
