"""Volo projects: `volo.yml` (see `volo_cli.config`), generated code, and the files
`volo init` writes.

`volo gen` rewrites only the generated packages. The files a person edits
(handler, server, client, tests) are written by `volo init` when absent, and
never touched again. Every command works out all it will write first and
writes it in one go (see `write_tree`): a command that fails leaves the
folder as it was.
"""

from __future__ import annotations

import ast
import importlib.util
import keyword
import os
import re
import sys
import sysconfig
import tomllib
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from pilota import ir
from pilota.codegen.protobuf import ImportingProtoModule, ProtoOptions
from pilota.codegen.python import GeneratedFile, ImportingModule, Options, PyMethod
from pilota.codegen.writer import write_tree
from pilota.resources import resource_dir
from volo.settings import find as find_settings
from volo_cli import gitsource
from volo_cli.config import (
    CONFIG,
    DEFAULT_ENTRY,
    Config,
    Entry,
    Idl,
    ProjectError,
    Protocol,
    Repo,
    Service,
    ascii_identifier,
    check_entry_name,
    check_generated_folders,
    protocol_of,
    read_config,
    read_project_file,
)
from volo_cli.entries import (
    Generated,
    generate_all,
    generate_entry,
    stale_files,
)

PYPROJECT = "pyproject.toml"
TESTS = "tests"  # the folder `volo init` writes the project's tests to

# Names the project templates bind (imports, functions, locals): no generated
# name the files import may take them.
TEMPLATE_NAMES = frozenset(
    {
        "annotations", "argparse", "asyncio", "logging", "sys", "volo", "Handler",
        "Awaitable", "Callable", "TypeVar", "T", "call", "main", "scenario", "has_type",
        "from_target", "settings", "address", "args", "client", "conf", "declared", "exc",
        "host", "method", "parser", "port", "reply", "server", "timeout", "transport",
    }
)  # fmt: skip
# And those of a gRPC project's templates (the parameters of a handler's methods too).
GRPC_TEMPLATE_NAMES = TEMPLATE_NAMES | {
    "AsyncIterable", "AsyncIterator", "FAILURES", "channel", "collect", "replies",
    "request", "requests",
}  # fmt: skip

# The runtime's own packages and the modules of its dependencies, extras and
# test runner, installed or not: a project named after one would hide it.
RUNTIME_MODULES = {
    "volo": "volo's own package volo",
    "pilota": "volo's own package pilota",
    "volo_cli": "volo's own package volo_cli",
    **{
        module: f"{module}, which volo depends on"
        for module in ("lark", "lark_cython", "jinja2", "markupsafe", "click", "yaml",
                       "uvloop", "grpc", "grpc_tools", "google", "pytest", "_pytest", "pluggy")
    },
}  # fmt: skip


@dataclass
class Report:
    """What a command did, for the person who ran it (paths relative to the project)."""

    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)  # what the person still has to do
    # each generated package: its folder, how many files it has, how many were written
    generated: list[tuple[str, int, int]] = field(default_factory=list)


def find_root(start: Path) -> Path:
    """The folder of the nearest volo.yml: in `start` or the folders above it."""
    found = find_settings(start)
    if found is not None:
        return found.parent
    raise ProjectError(f"no {CONFIG} in {start} or any folder above it: run `volo init` first")


def load_config(root: Path) -> Config:
    return read_config(root / CONFIG)


def _changeable(root: Path) -> Config:
    """volo.yml, for a command that rewrites it: the previous format is migrated first."""
    config = load_config(root)
    if config.legacy:
        raise ProjectError(
            f"{root / CONFIG} is in the previous format: run `volo migrate` first "
            "(it keeps a backup), then run this command again"
        )
    return config


def _written(outputs: list[Generated], root: Path, config: Config | None = None) -> Report:
    """Writes the outputs' files (and volo.yml when given) in one go; what it did."""
    files = [GeneratedFile(PurePosixPath(CONFIG), config.to_yaml())] if config else []
    for output in outputs:
        files += output.files
    replaceable = {PurePosixPath(CONFIG)} if config else set()
    written = {str(p.relative_to(root)) for p in write_tree(files, root, replaceable)}
    report = Report()
    for output in outputs:
        changed = sum(str(PurePosixPath(f.path)) in written for f in output.files)
        report.generated.append((output.entry.generated, len(output.files), changed))
    return report


def generate(root: Path) -> Report:
    """`volo gen`: regenerate every entry's package from volo.yml."""
    config = load_config(root)
    outputs = generate_all(config, root)
    report = _written(outputs, root)
    report.todo += _missing_in_handler(config, root, outputs)
    return report


def check(root: Path) -> list[str]:
    """`volo gen --check`: the generated files that differ from what `volo gen` would
    write (paths relative to the project); writes nothing."""
    config = load_config(root)
    return stale_files([f for o in generate_all(config, root) for f in o.files], root)


def add_idl(
    idl: Path,
    includes: list[Path],
    root: Path,
    entry_name: str = DEFAULT_ENTRY,
    git: GitChoice | None = None,
    generated: str | None = None,
) -> Report:
    """`volo idl add`: add a service's IDL to an entry (made if new), regenerate it,
    and write both in one go."""
    config = _changeable(root)
    check_entry_name(entry_name)
    protocol = protocol_of(idl)
    if protocol is None:
        raise ProjectError(f"cannot add {idl}: IDL files end in .thrift or .proto")
    entry = config.entries.get(entry_name)
    if entry is None:
        folder = generated or _default_generated(config.package, entry_name)
        entry = Entry(protocol, folder, [])
        config.entries[entry_name] = entry
        check_generated_folders(config, root / CONFIG)
    elif generated is not None and generated != entry.generated:
        raise ProjectError(
            f"entry '{entry_name}' generates into {entry.generated}, not {generated}: "
            "leave out --generated, or name another entry with -n"
        )
    elif entry.protocol != protocol:
        raise ProjectError(
            f"entry '{entry_name}' is a {entry.protocol} entry and {idl} is {protocol}: an "
            "entry generates one package with one protocol, so add it to another entry with -n"
        )
    if git is None:
        _check_idl_file(idl)
        service = Service(Idl(_relative(idl, root), [_relative(d, root) for d in includes]))
        known = {(root / s.idl.path).resolve() for s in entry.services if s.idl.repo is None}
        if (root / service.idl.path).resolve() in known:
            raise ProjectError(f"{idl} is already in entry '{entry_name}' of {root / CONFIG}")
    else:
        repo = choose_repo(entry_name, entry, git)
        service = Service(Idl(idl.as_posix().lstrip("/"), [d.as_posix() for d in includes], repo))
        if any(s.idl.repo == repo and s.idl.path == service.idl.path for s in entry.services):
            raise ProjectError(f"{idl} of repo '{repo}' is already in entry '{entry_name}'")
    entry.services.append(service)
    output = generate_entry(entry_name, entry, root)  # it must compile before volo.yml changes
    report = _written([output], root, config)
    report.todo += _missing_in_handler(config, root, [output])
    return report


@dataclass
class GitChoice:
    """`-g URL [-r REF] [--repo NAME]`: a repository of an entry, new or known."""

    url: str | None
    ref: str | None = None
    name: str | None = None


def choose_repo(entry_name: str, entry: Entry, git: GitChoice) -> str:
    """The entry's repo `git` names (added to the entry, locked, if it is new), with
    volo-cli's refusals: an unknown name, a known name with another URL or ref, a
    known URL under another name."""
    if git.url is None:
        if git.name is None or git.name not in entry.repos:
            known = ", ".join(repr(n) for n in entry.repos) or "none"
            raise ProjectError(
                f"entry '{entry_name}' has no repo {git.name!r} (its repos: {known}): "
                "give its URL with -g to add it"
            )
        if git.ref is not None and git.ref != entry.repos[git.name].ref:
            raise ProjectError(
                f"repo '{git.name}' of entry '{entry_name}' follows ref "
                f"{entry.repos[git.name].ref!r}, not {git.ref!r}"
            )
        return git.name
    name = git.name or gitsource.repo_name(git.url)
    ref = git.ref or "HEAD"
    existing = entry.repos.get(name)
    if existing is not None:
        if existing.url != git.url:
            raise ProjectError(
                f"repo '{name}' of entry '{entry_name}' already has the URL {existing.url}, "
                f"not {git.url}: choose another name with --repo"
            )
        if existing.ref != ref:
            raise ProjectError(
                f"repo '{name}' of entry '{entry_name}' already follows ref {existing.ref!r}, "
                f"not {ref!r}: `volo repo update` moves its lock, or choose another name "
                "with --repo"
            )
        return name
    same_url = next((n for n, r in entry.repos.items() if r.url == git.url), None)
    if same_url is not None:
        raise ProjectError(
            f"{git.url} is already repo '{same_url}' of entry '{entry_name}': use --repo "
            f"{same_url}"
        )
    entry.repos[name] = Repo(git.url, ref, gitsource.resolve(git.url, ref))
    return name


def add_repo(root: Path, entry_name: str, git: GitChoice) -> tuple[str, Repo]:
    """`volo repo add`: a repo for an entry, locked at the commit its ref names."""
    config = _changeable(root)
    entry = config.entry(entry_name)
    assert git.url is not None
    name = git.name or gitsource.repo_name(git.url)
    if name in entry.repos:
        existing = entry.repos[name]
        raise ProjectError(
            f"entry '{entry_name}' already has a repo '{name}' ({existing.url} at "
            f"{existing.ref!r}): choose another name with --repo"
        )
    choose_repo(entry_name, entry, git)
    config_file = PurePosixPath(CONFIG)
    write_tree([GeneratedFile(config_file, config.to_yaml())], root, replaceable={config_file})
    return name, entry.repos[name]


def update_repos(
    root: Path, entry_name: str, names: list[str]
) -> tuple[dict[str, tuple[str, str]], Report]:
    """`volo repo update`: each named repo (all of the entry's when none is) locked at
    the commit its ref names now; the entry regenerated, in one write with volo.yml.
    Returns each repo's old and new lock."""
    config = _changeable(root)
    entry = config.entry(entry_name)
    if not entry.repos:
        raise ProjectError(f"entry '{entry_name}' has no repos to update")
    unknown = [n for n in names if n not in entry.repos]
    if unknown:
        known = ", ".join(repr(n) for n in entry.repos)
        raise ProjectError(
            f"entry '{entry_name}' has no repo {unknown[0]!r} (its repos: {known})"
        )
    moved = {}
    for name in names or list(entry.repos):
        repo = entry.repos[name]
        lock = gitsource.resolve(repo.url, repo.ref)
        moved[name] = (repo.lock, lock)
        repo.lock = lock
    output = generate_entry(entry_name, entry, root)
    report = _written([output], root, config)
    report.todo += _missing_in_handler(config, root, [output])
    return moved, report


def migrate(root: Path) -> str:
    """`volo migrate`: volo.yml from the previous format to this one. The original is
    kept beside it; if the new file does not generate exactly what the old one did,
    the original is put back. Returns the backup's name."""
    path = root / CONFIG
    config = load_config(root)
    if not config.legacy:
        raise ProjectError(f"{path} is already in the current format: nothing to migrate")
    backup = path.with_name(CONFIG + ".bak")
    if backup.exists():
        raise ProjectError(f"{backup} exists: move it away first, so no backup is lost")
    before = [f for o in generate_all(config, root) for f in o.files]
    original = path.read_bytes()
    backup.write_bytes(original)
    try:
        path.write_text(config.to_yaml(), encoding="utf-8")
        migrated = load_config(root)
        after = [f for o in generate_all(migrated, root) for f in o.files]
        if after != before:
            raise ProjectError(
                f"the migrated {CONFIG} would generate other code than the original, so the "
                "original was put back"
            )
    except BaseException:
        path.write_bytes(original)
        backup.unlink()
        raise
    return backup.name


def _default_generated(package: str | None, entry_name: str) -> str:
    stem = re.sub(r"\W", "_", entry_name)
    return f"{package}/{stem}_gen" if package else f"{stem}_gen"


def _missing_in_handler(config: Config, root: Path, outputs: list[Generated]) -> list[str]:
    """The handler methods missing for the entries' services."""
    if config.package is None:
        return []
    problems = []
    for output in outputs:
        problems += missing_methods(config.package, output, root)
    return problems


def _check_idl_file(idl: Path) -> None:
    if not idl.is_file():
        raise ProjectError(f"IDL file {idl} does not exist")


def _relative(path: Path, root: Path) -> str:
    return os.path.relpath(path.resolve(), root.resolve()).replace(os.sep, "/")


# ---- volo init --------------------------------------------------------------------------


def check_project_name(name: str, root: Path, example: str, suffix: str) -> None:
    """ProjectError (one sentence) if `name` cannot name a project's package in
    `root`; `example` is a good name, `name` + `_` + `suffix` one to suggest."""
    if keyword.iskeyword(name):
        raise ProjectError(
            f"project name {name!r} is a Python keyword: choose another name, like {name}_{suffix}"
        )
    if not ascii_identifier(name):
        normal = unicodedata.normalize("NFKC", name)
        reads = (
            f": Python would read it as {normal!r}, which is not the folder's name"
            if normal != name and normal.isidentifier()
            else ""
        )
        letters = " of ASCII letters, digits and _" if not name.isascii() else ""
        raise ProjectError(
            f"project name {name!r} must be a Python identifier{letters} "
            f"(like {example} or my_service){reads}"
        )
    hidden = _hidden_by(name, root)
    if hidden is not None:
        raise ProjectError(
            f"project name {name!r} would hide {hidden}: choose another name, like {name}_{suffix}"
        )


def init(
    name: str, idl: Path, includes: list[Path], root: Path, git: GitChoice | None = None
) -> Report:
    """`volo init`: a project serving the first service of `idl`, written in one go.
    With `git`, `idl` and `includes` are paths in that repository."""
    check_project_name(name, root, example="echo", suffix="service")
    if (root / CONFIG).exists():
        raise ProjectError(f"{root / CONFIG} already exists: use `volo gen` to regenerate")
    protocol = protocol_of(idl)
    if protocol is None:
        raise ProjectError(f"cannot make a project from {idl}: IDL files end in .thrift or .proto")
    entry = Entry(protocol, f"{name}/gen", [])
    if git is None:
        _check_idl_file(idl)
        idl_spec = Idl(_relative(idl, root), [_relative(d, root) for d in includes])
    else:
        repo = choose_repo(DEFAULT_ENTRY, entry, git)
        idl_spec = Idl(idl.as_posix().lstrip("/"), [d.as_posix() for d in includes], repo)
    entry.services.append(Service(idl_spec))
    config = Config(name, {DEFAULT_ENTRY: entry})
    # before writing anything: the IDL must compile
    output = generate_entry(DEFAULT_ENTRY, entry, root)
    schema = output.schema
    services = schema.roots[0].services
    if not services:
        raise ProjectError(f"{idl} defines no service: a project needs one to serve")
    if not services[0].all_methods():
        raise ProjectError(f"service {services[0].name} in {idl} has no methods to serve")
    report = Report()
    files = [GeneratedFile(PurePosixPath(CONFIG), config.to_yaml())]
    files += output.files
    project_files = _project_files(name, output, services[0], idl.name)
    write_project(files, project_files, root, name, _requirement_of(protocol), report)
    report.created.insert(0, CONFIG)
    return report


def write_project(
    files: list[GeneratedFile],
    project_files: dict[str, str],
    root: Path,
    name: str,
    requirement: str,
    report: Report,
) -> None:
    """Writes `files` and the project's own files in one go: a file of the user's is
    kept, except pyproject.toml, to which what the project needs is added (or
    `report.todo` says what to add)."""
    merged_into: set[PurePosixPath] = set()  # what is rewritten, though not generated
    for relative, text in project_files.items():
        path = root / relative
        if relative == PYPROJECT and path.exists():
            merged = _merged_pyproject(path, name, requirement, report)
            if merged is not None:
                files.append(GeneratedFile(PurePosixPath(relative), merged))
                merged_into.add(PurePosixPath(relative))
        elif path.exists():
            report.kept.append(relative)
        else:
            files.append(GeneratedFile(PurePosixPath(relative), text))
            report.created.append(relative)
    write_tree(files, root, replaceable=merged_into)


def _hidden_by(name: str, root: Path) -> str | None:
    """What a project package `name` would hide when run from `root`, if anything."""
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return f"the standard library's module {name}"
    if name in RUNTIME_MODULES:
        return RUNTIME_MODULES[name]
    if name == TESTS:
        return f"the {TESTS} folder `volo init` writes the project's tests to"
    with _path_without(root):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # a broken module is there all the same
            return f"the module {name} installed here"
    if spec is None:
        return None
    where = spec.origin or next(iter(spec.submodule_search_locations or []), "")
    if where and _in_standard_library(Path(where)):  # `test`, for one, is not in the names
        return f"the standard library's module {name}"
    return f"the module {name} installed here ({where})"


def _in_standard_library(path: Path) -> bool:
    paths = sysconfig.get_paths()
    resolved = path.resolve()
    installed = [Path(paths[key]).resolve() for key in ("purelib", "platlib")]
    return resolved.is_relative_to(Path(paths["stdlib"]).resolve()) and not any(
        resolved.is_relative_to(folder) for folder in installed
    )


@contextmanager
def _path_without(root: Path) -> Iterator[None]:
    """sys.path without the project's folder (where the new package will be)."""
    saved = sys.path[:]
    resolved = root.resolve()
    sys.path[:] = [p for p in saved if p and Path(p).resolve() != resolved]
    try:
        yield
    finally:
        sys.path[:] = saved


def _requirement_of(protocol: Protocol) -> str:
    """What the project's pyproject.toml depends on."""
    return "volo-py[grpc]" if protocol == "protobuf" else "volo-py"


def _project_files(
    package: str, output: Generated, service: ir.Service, idl_name: str
) -> dict[str, str]:
    """The files a person edits, rendered from the generator's own view of the service."""
    env = _environment()
    common = {"package": package, "service": service.name, "idl": idl_name}
    project = _project_view(output, service.module)
    if isinstance(project, GrpcProjectView):
        runtime, own = "grpc", _grpc_files(project, service, common)
    else:
        assert isinstance(project, ThriftProjectView)
        runtime, own = "thrift", _thrift_files(project, service, common)
    server_imports = project.import_block(
        [],
        standard=["import argparse", "import logging", "import sys"],
        runtime=[
            f"import volo.{runtime}",
            "from volo.discovery import Registration, registry_from_url",
            "from volo.settings import settings",
        ],
        project=[f"from {package}.handler import Handler"],
    )
    return {
        PYPROJECT: env.get_template("pyproject.toml.jinja").render(
            common,
            requirement=_requirement_of(output.entry.protocol),
            project_table=True,
            pytest_table=True,
        ),
        f"{package}/__init__.py": f'"""The {service.name} service."""\n',
        f"{package}/server.py": env.get_template("server.py.jinja").render(
            common, protocol=runtime, imports=server_imports
        ),
        **own,
    }


# What client_main.py.jinja, the part both protocols' clients share, imports.
CLIENT_STANDARD_IMPORTS = ["import argparse", "import asyncio", "import sys"]
CLIENT_RUNTIME_IMPORTS = [
    "from volo.discovery import from_target",
    "from volo.settings import settings",
]


def _thrift_files(
    project: ThriftProjectView, service: ir.Service, common: dict[str, str]
) -> dict[str, str]:
    """The handler, client and tests of a Thrift service."""
    package = common["package"]
    methods = project.methods(service)
    own = methods[len(methods) - len(service.methods) :] or methods
    # The client calls the first method with a reply, else the first that is not oneway.
    first = next((m for m in own if not m.py.void), None) or next(
        (m for m in own if not m.py.oneway), own[0]
    )
    handler_class, client_class = project.classes(service)
    handler_texts = [handler_class, *(t for m in methods for t in m.handler_texts())]
    client_texts = [client_class, first.arguments]
    test_texts = [client_class, *(t for m in own for t in m.test_texts())]
    context = {
        **common,
        "handler_base": handler_class,
        "client_class": client_class,
        "methods": methods,
        "tests": own,
        "method": first,
        "called": f"{service.name}.{first.py.idl_name}",
        "client_errors": "volo.TransportError, volo.CallTimeout, volo.thrift.ApplicationError,"
        " ValueError, ImportError",
    }
    env = _environment()

    def render(template: str, texts: list[str], **imports: list[str]) -> str:
        block = project.import_block(texts, **imports)
        return env.get_template(template).render(context, imports=block)

    return {
        f"{package}/handler.py": render("handler.py.jinja", handler_texts),
        f"{package}/client.py": render(
            "client.py.jinja",
            client_texts,
            standard=CLIENT_STANDARD_IMPORTS,
            runtime=["import volo.thrift", *CLIENT_RUNTIME_IMPORTS],
        ),
        f"{TESTS}/test_{package}.py": render(
            "test_service.py.jinja",
            test_texts,
            standard=[
                "import asyncio",
                "from collections.abc import Awaitable, Callable",
                "from typing import TypeVar",
            ]
            + (["import contextlib"] if any(m.py.void and m.throws for m in own) else []),
            runtime=["import volo.thrift"],
            project=[f"from {package}.handler import Handler"],
        ),
    }


def _grpc_files(
    project: GrpcProjectView, service: ir.Service, common: dict[str, str]
) -> dict[str, str]:
    """The handler, client and tests of a gRPC service: a stub and a test for
    every method, whatever its kind; the client calls the first unary method
    (else the first method)."""
    package = common["package"]
    methods = project.methods(service)
    first = next((m for m in methods if m.kind == "unary"), methods[0])
    handler_class, client_class = project.classes(service)
    messages = [t for m in methods for t in (m.request, m.response)]
    context = {
        **common,
        "handler_base": handler_class,
        "client_class": client_class,
        "methods": methods,
        "method": first,
        "called": f"{service.name}.{first.idl_name}",
        # a StatusError of UNAVAILABLE or DEADLINE_EXCEEDED is a TransportError or
        # CallTimeout too; TransportError alone: no instance found
        "client_errors": "volo.grpc.StatusError, volo.TransportError, ValueError, ImportError",
    }
    env = _environment()

    def render(template: str, texts: list[str], **imports: list[str]) -> str:
        block = project.import_block(texts, **imports)
        return env.get_template(template).render(context, imports=block)

    streams = any(m.client_streaming or m.server_streaming for m in methods)
    server_streams = any(m.server_streaming for m in methods)
    return {
        f"{package}/handler.py": render(
            "grpc_handler.py.jinja",
            [handler_class, *messages],
            standard=["from collections.abc import AsyncIterator"] if streams else [],
        ),
        f"{package}/client.py": render(
            "grpc_client.py.jinja",
            [client_class, first.request],
            standard=CLIENT_STANDARD_IMPORTS,
            runtime=["import volo.grpc", *CLIENT_RUNTIME_IMPORTS],
        ),
        f"{TESTS}/test_{package}.py": render(
            "grpc_test_service.py.jinja",
            [client_class, *messages],
            standard=[
                "import asyncio",
                "from collections.abc import "
                + ("AsyncIterable, " if server_streams else "")
                + "Awaitable, Callable",
                "from typing import TypeVar",
            ],
            runtime=["import volo.grpc"],
            project=[f"from {package}.handler import Handler"],
        ),
    }


def _dotted(path: str) -> str:
    return ".".join(PurePosixPath(path).parts)


@dataclass
class MethodView:
    """One method as the project's files write it: the generated handler's
    signature, a value the stub returns, arguments a call can pass."""

    py: PyMethod
    value: str  # what the handler stub returns ("None" when void)
    arguments: str  # keyword arguments for a call, a simple value for each argument
    throws: str  # the declared exceptions, as an `except` clause names them ("" for none)
    declared: str  # the class a reply is an instance of ("" when void)

    @property
    def name(self) -> str:
        return self.py.name

    @property
    def signature(self) -> str:
        """The `def` line of the handler's method."""
        params = "".join(f", {p}" for p in self.py.params)
        return f"async def {self.py.name}(self{params}) -> {self.py.returns}:"

    def handler_texts(self) -> list[str]:
        """What a handler's method spells: for working out imports."""
        return [*(p.partition(":")[2] for p in self.py.params), self.py.returns, self.value]

    def test_texts(self) -> list[str]:
        """What a test of the method spells."""
        return [self.arguments, self.throws, self.declared]


@dataclass
class GrpcMethodView:
    """One rpc as the project's files write it."""

    name: str  # the handler's and the client's method
    idl_name: str  # as the .proto file names it
    request: str  # the request class, as the project's files name it
    response: str
    client_streaming: bool
    server_streaming: bool
    doc: str | None  # a docstring, indented for the method's body

    @property
    def kind(self) -> str:
        """unary, server_streaming, client_streaming or bidirectional."""
        if self.client_streaming:
            return "bidirectional" if self.server_streaming else "client_streaming"
        return "server_streaming" if self.server_streaming else "unary"

    @property
    def signature(self) -> str:
        """The `def` line of the handler's method (an async generator's when the
        server streams)."""
        param = (
            f"requests: AsyncIterator[{self.request}]" if self.client_streaming
            else f"request: {self.request}"
        )  # fmt: skip
        returns = f"AsyncIterator[{self.response}]" if self.server_streaming else self.response
        return f"async def {self.name}(self, {param}) -> {returns}:"


class ProjectView:
    """The generated code as the project's own modules name it: by the
    generator's own view of it (ImportingModule, ImportingProtoModule)."""

    names: ImportingModule | ImportingProtoModule

    def classes(self, service: ir.Service) -> tuple[str, str]:
        view = self.names.service(service)
        return view.handler, view.client

    def methods(self, service: ir.Service) -> list[MethodView] | list[GrpcMethodView]:
        """Every method the service's handler implements."""
        raise NotImplementedError

    def import_block(
        self,
        texts: Iterable[str],
        standard: Iterable[str] = (),
        runtime: Iterable[str] = (),
        project: Iterable[str] = (),
    ) -> str:
        """The imports of a project file, in isort's sections and order."""
        generated_standard, generated_runtime, generated = self.names.import_lines(texts)
        sections = [
            [*standard, *generated_standard],
            [*runtime, *generated_runtime],
            [*generated, *project],
        ]
        return "\n\n".join(
            "\n".join(_wrapped(line) for line in sorted(section, key=_isort_key))
            for section in sections
            if section
        )


def _project_view(output: Generated, home: ir.Module) -> ProjectView:
    """An entry's generated package as a module of the project beside it names it
    (`home`'s names bare), with the options it was generated with."""
    package = _dotted(output.entry.generated)
    if isinstance(output.options, ProtoOptions):
        return GrpcProjectView(output.schema, package, home, output.options)
    return ThriftProjectView(output.schema, package, home, output.options)


class GrpcProjectView(ProjectView):
    def __init__(
        self, schema: ir.Schema, generated_package: str, home: ir.Module, options: ProtoOptions
    ) -> None:
        self.proto = ImportingProtoModule(
            schema, generated_package, home, GRPC_TEMPLATE_NAMES, options
        )
        self.names = self.proto

    def methods(self, service: ir.Service) -> list[GrpcMethodView]:
        view = self.proto.service(service)
        pairs = zip(service.methods, view.methods, strict=True)
        return [
            GrpcMethodView(py.name, method.name, py.request, py.response,
                           py.client_streaming, py.server_streaming, py.method_doc)
            for method, py in pairs
        ]  # fmt: skip


class ThriftProjectView(ProjectView):
    def __init__(
        self, schema: ir.Schema, generated_package: str, home: ir.Module, options: Options
    ) -> None:
        self.thrift = ImportingModule(schema, generated_package, home, TEMPLATE_NAMES, options)
        self.names = self.thrift

    def methods(self, service: ir.Service) -> list[MethodView]:
        """Every method the service's handler implements, inherited ones first."""
        views = self.thrift.service(service).methods
        result = []
        for method, py in zip(service.all_methods(), views, strict=True):
            arguments = [
                f"{name}={self.example(f.type)}"
                for f, name in zip(method.args, py.arg_names, strict=True)
                if f.default is None
            ]
            exceptions = [self.thrift.type(f.type) for f in method.throws]
            throws = exceptions[0] if len(exceptions) == 1 else f"({', '.join(exceptions)})"
            result.append(
                MethodView(
                    py,
                    "None" if method.result is None else self.example(method.result),
                    ", ".join(arguments),
                    throws if exceptions else "",
                    "" if method.result is None else self.runtime_class(method.result),
                )
            )
        return result

    def example(self, t: ir.Type) -> str:
        """A simple valid value of `t` as source (see `example`)."""
        target = ir.unalias(t)
        definition = target.definition if isinstance(target, ir.NamedType) else None
        if isinstance(definition, ir.Enum) and not definition.members:
            return f"{self.thrift.type(target)}(0)"  # an open enum: any number is one
        return self.thrift.value(example(t), t)

    def runtime_class(self, t: ir.Type) -> str:
        """The class of the values of `t` as they decode."""
        t = ir.unalias(t)
        containers = {ir.ListType: "list", ir.SetType: "set", ir.MapType: "dict"}
        return containers.get(type(t)) or self.thrift.type(t)


def _isort_key(line: str) -> tuple[bool, str]:
    """isort's order within a section: `import x` lines first, then by module."""
    return line.startswith("from "), line.split()[1].lower()


def _wrapped(line: str, width: int = 88) -> str:
    """An import over `width` characters (ruff's default) one name a line, as isort wraps it."""
    if len(line) <= width or not line.startswith("from "):
        return line
    module, _, names = line.partition(" import ")
    return f"{module} import (\n" + "".join(f"    {n},\n" for n in names.split(", ")) + ")"


def example(t: ir.Type, depth: int = 0) -> ir.Value:
    """A simple valid value of `t`: zero, empty, an enum's first member, a struct
    with just its required fields, a union's first member."""
    t = ir.unalias(t)
    if isinstance(t, ir.BaseType):
        simple: dict[ir.BaseKind, ir.Value] = {
            ir.BaseKind.BOOL: False, ir.BaseKind.DOUBLE: 0.0, ir.BaseKind.STRING: "",
            ir.BaseKind.BINARY: b"", ir.BaseKind.UUID: uuid.UUID(int=0),
        }  # fmt: skip
        return simple.get(t.kind, 0)
    if isinstance(t, ir.ListType):
        return ir.ListValue(())
    if isinstance(t, ir.SetType):
        return ir.SetValue(())
    if isinstance(t, ir.MapType):
        return ir.MapValue(())
    definition = t.definition
    if isinstance(definition, ir.Enum):
        return ir.EnumValue(definition.members[0]) if definition.members else 0
    assert isinstance(definition, ir.Struct)
    if definition.is_union and definition.fields:
        first = definition.fields[0]
        return ir.StructValue(definition, ((first.name, example(first.type, depth + 1)),))
    required = [f for f in definition.fields if f.required] if depth < 8 else []
    return ir.StructValue(
        definition, tuple((f.name, example(f.type, depth + 1)) for f in required)
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates") / "project")),
        autoescape=False,  # Python and TOML, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


# ---- pyproject.toml ---------------------------------------------------------------------


def _merged_pyproject(path: Path, package: str, requirement: str, report: Report) -> str | None:
    """An existing pyproject.toml with what the project needs added, or None when
    it has it all or it cannot be added safely (then `report.todo` says what to add)."""
    text = read_project_file(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(
            f"{PYPROJECT} is not valid TOML ({exc}): fix it, or move it away and run "
            "`volo init` again"
        ) from None
    env = _environment()
    tables: list[tuple[str, str]] = []  # (what is missing, the table that provides it)
    project = _table(data, "project")
    if project is None:
        table = env.get_template("pyproject.toml.jinja").render(
            package=package, requirement=requirement, project_table=True, pytest_table=False
        )
        tables.append(("[project]", table))
    elif not any(_provides(r, requirement) for r in project.get("dependencies", [])):
        report.todo.append(
            f'{PYPROJECT}: add "{requirement}" to `dependencies` in [project] '
            "(the project runs on it)"
        )
    pytest_options = _table(data, "tool", "pytest", "ini_options")
    if not isinstance(pytest_options, dict):
        table = env.get_template("pyproject.toml.jinja").render(
            project_table=False, pytest_table=True
        )
        tables.append(("[tool.pytest.ini_options]", table))
    elif "." not in _as_list(pytest_options.get("pythonpath", [])):
        report.todo.append(
            f'{PYPROJECT}: add "." to `pythonpath` in [tool.pytest.ini_options] '
            "(the tests import the project's package)"
        )
    if not tables:
        if not report.todo:
            report.kept.append(PYPROJECT)
        return None
    merged = text + ("" if text.endswith("\n") or not text else "\n")
    merged += "".join("\n" + table for _, table in tables)
    try:
        tomllib.loads(merged)
    except tomllib.TOMLDecodeError:  # e.g. the table is half-defined through dotted keys
        for what, table in tables:
            report.todo.append(f"{PYPROJECT}: add {what} as `volo init` writes it:\n{table}")
        return None
    report.changed.append(f"{PYPROJECT} (added {' and '.join(what for what, _ in tables)})")
    return merged


def _table(data: dict[str, Any], *keys: str) -> dict[str, Any] | None:
    """The table at `keys`, if each step is a table."""
    table: Any = data
    for key in keys:
        table = table.get(key) if isinstance(table, dict) else None
    return table if isinstance(table, dict) else None


def _provides(text: object, wanted: str) -> bool:
    """Whether requirement `text` asks for the project `wanted` names, with at
    least its extras (`volo-py[grpc]`)."""
    have, want = _requirement(text), _requirement(wanted)
    return have[0] == want[0] and have[1] >= want[1]


def _requirement(text: object) -> tuple[str, frozenset[str]]:
    """The normalised project name a requirement string names, and its extras."""
    pattern = r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?"
    match = re.match(pattern, text if isinstance(text, str) else "")
    if match is None:
        return "", frozenset()
    extras = (e.strip().lower() for e in (match.group(2) or "").split(","))
    return re.sub(r"[-_.]+", "-", match.group(1)).lower(), frozenset(e for e in extras if e)


def _as_list(value: object) -> list[object]:
    if isinstance(value, str):
        return list(value.split())
    return list(value) if isinstance(value, list) else []


# ---- volo gen: the handler against the IDL -----------------------------------------------


def missing_methods(package: str, output: Generated, root: Path) -> list[str]:
    """For each class in the project's handler.py based on a handler the entry
    generated, the service's methods it does not define, with the signatures to
    add, named as the entry's options name them. The file is parsed, never imported."""
    relative = f"{package}/handler.py"
    path = root / relative
    if not path.is_file():
        return []
    try:
        tree = ast.parse(read_project_file(path), filename=relative)
    except (SyntaxError, ValueError, ProjectError) as exc:
        return [f"{relative} cannot be parsed ({exc}), so its methods were not compared"]
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    schema = output.schema
    project = _project_view(output, schema.roots[0])
    services = {
        project.classes(service)[0].rpartition(".")[2]: service
        for module in schema.modules.values()
        for service in module.services
        if output.options.generates(service)
    }
    # Classes other classes of the file extend are partial: their subclasses are compared.
    extended = {base for cls in classes.values() for base in _base_names(cls)}
    problems = []
    for cls in classes.values():
        if cls.name in extended:
            continue
        service = next((services[b] for b in _generated_bases(cls, classes) if b in services), None)
        if service is None:
            continue
        defined = _defined_methods(cls, classes)
        missing = [m for m in project.methods(service) if m.name not in defined]
        if missing:
            signatures = "".join(f"\n    {m.signature} ..." for m in missing)
            names = ", ".join(m.name for m in missing)
            problems.append(
                f"{relative}: class {cls.name} lacks {service.name}'s "
                f"{'method' if len(missing) == 1 else 'methods'} {names}; add:{signatures}"
            )
    return problems


def _base_names(cls: ast.ClassDef) -> list[str]:
    """The last part of each base's name (`gen.EchoHandler` → `EchoHandler`)."""
    return [
        base.id if isinstance(base, ast.Name) else base.attr
        for base in cls.bases
        if isinstance(base, ast.Name | ast.Attribute)
    ]


def _generated_bases(
    cls: ast.ClassDef, classes: dict[str, ast.ClassDef], seen: frozenset[str] = frozenset()
) -> list[str]:
    """The bases of `cls` and of the classes of the same file it extends."""
    names = _base_names(cls)
    for base in names:
        if base in classes and base not in seen:
            names = names + _generated_bases(classes[base], classes, seen | {cls.name})
    return names


def _defined_methods(
    cls: ast.ClassDef, classes: dict[str, ast.ClassDef], seen: frozenset[str] = frozenset()
) -> set[str]:
    """Methods `cls` defines itself or inherits from classes of the same file."""
    defined = {
        node.name
        for node in cls.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    defined |= {
        target.id
        for node in cls.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for base in _base_names(cls):
        if base in classes and base not in seen:
            defined |= _defined_methods(classes[base], classes, seen | {cls.name})
    return defined
