"""Volo projects: `volo.yml`, generated code, and the files `volo init` writes.

A project is a folder with a `volo.yml`::

    package: echo            # the project's Python package
    generated: echo/gen      # where generated code goes (a package)
    idls:                    # what to generate from; paths relative to volo.yml
      - path: idl/echo.thrift
        includes: [idl]
    options:
      keep_unknown_fields: false

`volo gen` rewrites only the generated package. The files a person edits
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
import yaml

import pilota
from pilota import ir
from pilota.codegen.protobuf import ImportingProtoModule, ProtoOptions
from pilota.codegen.python import GeneratedFile, ImportingModule, Options, PyMethod
from pilota.codegen.writer import write_tree
from pilota.compiler import generate_sources
from pilota.diagnostics import Diagnostics
from pilota.resources import resource_dir
from pilota.sources import read_regular_file
from volo.settings import CONFIG as CONFIG  # volo.yml: the project's settings too
from volo.settings import KEYS
from volo.settings import find as find_settings

PYPROJECT = "pyproject.toml"
TESTS = "tests"  # the folder `volo init` writes the project's tests to

# Names the project templates bind (imports, functions, locals): no generated
# name the files import may take them.
TEMPLATE_NAMES = frozenset(
    {
        "annotations", "argparse", "asyncio", "logging", "os", "sys", "volo", "Handler",
        "Awaitable", "Callable", "TypeVar", "T", "call", "main", "scenario", "has_type",
        "address", "args", "client", "declared", "default_address", "exc", "host", "method",
        "parser", "port", "reply", "server", "timeout", "transport",
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


class ProjectError(Exception):
    """One sentence that names the file or key at fault."""


class IdlError(Exception):
    """The IDL has errors; they are in `diagnostics`."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        super().__init__("the IDL has errors")
        self.diagnostics = diagnostics


@dataclass
class IdlEntry:
    path: str
    includes: list[str] = field(default_factory=list)


@dataclass
class Config:
    package: str
    generated: str
    idls: list[IdlEntry]
    keep_unknown_fields: bool = False
    # The run-time sections (server, client: see volo.settings), kept as written.
    runtime: dict[str, Any] = field(default_factory=dict)

    def to_yaml(self) -> str:
        data = {
            "package": self.package,
            "generated": self.generated,
            "idls": [{"path": i.path, "includes": i.includes} for i in self.idls],
            "options": {"keep_unknown_fields": self.keep_unknown_fields},
            **self.runtime,
        }
        header = "# volo.yml: what `volo gen` generates from which IDL, and where.\n"
        header += "# Paths are relative to this file.\n"
        return header + yaml.safe_dump(data, sort_keys=False)


@dataclass
class Report:
    """What a command did, for the person who ran it (paths relative to the project)."""

    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)  # what the person still has to do
    generated: str = ""  # the generated package's folder
    generated_files: int = 0
    generated_written: int = 0


def find_root(start: Path) -> Path:
    """The folder of the nearest volo.yml: in `start` or the folders above it."""
    found = find_settings(start)
    if found is not None:
        return found.parent
    raise ProjectError(f"no {CONFIG} in {start} or any folder above it: run `volo init` first")


def load_config(root: Path) -> Config:
    path = root / CONFIG
    if not path.is_file():
        raise ProjectError(f"no {CONFIG} in {root}: run `volo init` first")
    try:
        data = yaml.safe_load(_read(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ProjectError(f"{path} is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path} must be a mapping with keys package, generated and idls")
    package = _string(data, "package", path)
    if not _ascii_identifier(package):
        raise ProjectError(f"{path}: 'package' must be a Python identifier, not {package!r}")
    generated = _string(data, "generated", path)
    generated_path = PurePosixPath(generated)
    parts = generated_path.parts
    if generated_path.is_absolute() or not parts or not all(map(_ascii_identifier, parts)):
        # Generated code goes inside the project, where its modules are imported from.
        raise ProjectError(
            f"{path}: 'generated' must be a folder inside the project, named as its "
            f"package is imported (like {package}/gen), not {generated!r}"
        )
    idls = data.get("idls")
    if not isinstance(idls, list) or not idls:
        raise ProjectError(f"{path}: 'idls' must be a non-empty list of entries with a 'path'")
    entries = []
    for number, entry in enumerate(idls, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ProjectError(f"{path}: entry {number} of 'idls' needs a 'path'")
        includes = entry.get("includes") or []
        if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
            raise ProjectError(
                f"{path}: 'includes' of entry {number} of 'idls' must be a list of paths"
            )
        entries.append(IdlEntry(entry["path"], list(includes)))
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise ProjectError(f"{path}: 'options' must be a mapping")
    keep = options.get("keep_unknown_fields", False)
    if not isinstance(keep, bool):
        raise ProjectError(f"{path}: 'options.keep_unknown_fields' must be true or false")
    runtime = {key: data[key] for key in KEYS if key in data}
    return Config(package, generated, entries, keep, runtime)


def _read(path: Path) -> str:
    """A project file's text; `ProjectError` if it is no regular file (a FIFO would
    hang the command), is too large, or is not UTF-8."""
    try:
        return read_regular_file(path, limit=MAX_PROJECT_FILE_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise ProjectError(f"{path} is not valid UTF-8") from None
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror or exc}") from None


MAX_PROJECT_FILE_BYTES = 1024 * 1024  # volo.yml, pyproject.toml, the handler


def _ascii_identifier(name: str) -> bool:
    """Whether `name` can name a package here: a Python identifier, and in ASCII,
    since Python reads identifiers in their NFKC form (fullwidth letters as the
    ASCII ones, which do not name the folder) and a project's name on PyPI is ASCII."""
    return name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


def _string(data: dict[str, Any], key: str, path: Path) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ProjectError(f"{path}: '{key}' must be set to a non-empty string")
    return value


# ---- generation ---------------------------------------------------------------------


def compile_config(config: Config, root: Path) -> ir.Schema:
    paths = [root / i.path for i in config.idls]
    if len({_is_proto(p) for p in paths}) > 1:
        raise ProjectError(
            f"{root / CONFIG} lists .thrift and .proto files: a project's IDL is one or the other"
        )
    includes = list(dict.fromkeys(root / d for i in config.idls for d in i.includes))
    schema, diagnostics = pilota.check(paths, includes)
    if schema is None:
        raise IdlError(diagnostics)
    return schema


def generated_files(config: Config, schema: ir.Schema) -> list[GeneratedFile]:
    """The generated package, its paths relative to the project's folder."""
    options: Options | ProtoOptions = (
        ProtoOptions() if is_grpc(schema)  # protobuf messages keep unknown fields anyway
        else Options(keep_unknown_fields=config.keep_unknown_fields)
    )  # fmt: skip
    files = generate_sources(schema, options)
    folder = PurePosixPath(config.generated)
    return [GeneratedFile(folder / f.path, f.text) for f in files]


def is_grpc(schema: ir.Schema) -> bool:
    """Whether the project's IDL is protobuf (its services gRPC's), not Thrift."""
    return schema.roots[0].syntax is not ir.Syntax.THRIFT


def _is_proto(path: Path) -> bool:
    return path.suffix == ".proto"


def generate(root: Path) -> Report:
    """`volo gen`: regenerate the generated package from volo.yml."""
    config = load_config(root)
    schema = compile_config(config, root)
    files = generated_files(config, schema)
    written = write_tree(files, root)
    report = Report(
        generated=config.generated, generated_files=len(files), generated_written=len(written)
    )
    report.todo += missing_methods(config, root, schema)
    return report


def add_idl(idl: Path, includes: list[Path], root: Path) -> Report:
    """`volo idl add`: add IDL to volo.yml and regenerate, in one write."""
    config = load_config(root)
    _check_idl_file(idl)
    if any(_is_proto(root / i.path) != _is_proto(idl) for i in config.idls):
        has = "Thrift" if _is_proto(idl) else "protobuf"
        raise ProjectError(
            f"cannot add {idl} to {root / CONFIG}, whose IDL is {has}: a project's IDL is "
            "all Thrift or all protobuf"
        )
    entry = IdlEntry(_relative(idl, root), [_relative(d, root) for d in includes])
    known = {Path(root / i.path).resolve() for i in config.idls}
    if (root / entry.path).resolve() in known:
        raise ProjectError(f"{idl} is already in {root / CONFIG}")
    config.idls.append(entry)
    schema = compile_config(config, root)  # the new IDL must compile before volo.yml changes
    files = [GeneratedFile(PurePosixPath(CONFIG), config.to_yaml())]
    files += generated_files(config, schema)
    written = write_tree(files, root, replaceable={PurePosixPath(CONFIG)})
    changed_config = 1  # volo.yml
    report = Report(
        generated=config.generated,
        generated_files=len(files) - changed_config,
        generated_written=len(written) - changed_config,
    )
    report.todo += missing_methods(config, root, schema)
    return report


def _check_idl_file(idl: Path) -> None:
    if not idl.is_file():
        raise ProjectError(f"IDL file {idl} does not exist")


def _relative(path: Path, root: Path) -> str:
    return os.path.relpath(path.resolve(), root.resolve()).replace(os.sep, "/")


# ---- volo init --------------------------------------------------------------------------


def init(name: str, idl: Path, includes: list[Path], root: Path) -> Report:
    """`volo init`: a project serving the first service of `idl`, written in one go."""
    if not _ascii_identifier(name):
        normal = unicodedata.normalize("NFKC", name)
        reads = (
            f": Python would read it as {normal!r}, which is not the folder's name"
            if normal != name and normal.isidentifier()
            else ""
        )
        letters = " of ASCII letters, digits and _" if not name.isascii() else ""
        raise ProjectError(
            f"project name {name!r} must be a Python identifier{letters} "
            f"(like echo or my_service){reads}"
        )
    hidden = _hidden_by(name, root)
    if hidden is not None:
        raise ProjectError(
            f"project name {name!r} would hide {hidden}: choose another name, like {name}_service"
        )
    if (root / CONFIG).exists():
        raise ProjectError(f"{root / CONFIG} already exists: use `volo gen` to regenerate")
    _check_idl_file(idl)
    config = Config(
        name,
        f"{name}/gen",
        [IdlEntry(_relative(idl, root), [_relative(d, root) for d in includes])],
    )
    schema = compile_config(config, root)  # before writing anything: the IDL must compile
    services = schema.roots[0].services
    if not services:
        raise ProjectError(f"{idl} defines no service: a project needs one to serve")
    if not services[0].all_methods():
        raise ProjectError(f"service {services[0].name} in {idl} has no methods to serve")
    report = Report()
    files = [GeneratedFile(PurePosixPath(CONFIG), config.to_yaml())]
    files += generated_files(config, schema)
    merged_into: set[PurePosixPath] = set()  # what is rewritten, though not generated
    for relative, text in _project_files(config, schema, services[0], idl.name).items():
        path = root / relative
        if relative == PYPROJECT and path.exists():
            merged = _merged_pyproject(path, name, _requirement_of(schema), report)
            if merged is not None:
                files.append(GeneratedFile(PurePosixPath(relative), merged))
                merged_into.add(PurePosixPath(relative))
        elif path.exists():
            report.kept.append(relative)
        else:
            files.append(GeneratedFile(PurePosixPath(relative), text))
            report.created.append(relative)
    write_tree(files, root, replaceable=merged_into)
    report.created.insert(0, CONFIG)
    return report


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


def _requirement_of(schema: ir.Schema) -> str:
    """What the project's pyproject.toml depends on."""
    return "volo-py[grpc]" if is_grpc(schema) else "volo-py"


def _project_files(
    config: Config, schema: ir.Schema, service: ir.Service, idl_name: str
) -> dict[str, str]:
    """The files a person edits, rendered from the generator's own view of the service."""
    package = config.package
    env = _environment()
    common = {"package": package, "service": service.name, "idl": idl_name}
    if is_grpc(schema):
        protocol, own = "grpc", _grpc_files(config, schema, service, common)
    else:
        protocol, own = "thrift", _thrift_files(config, schema, service, common)
    server_project = _project_view(schema, config, service.module)
    server_imports = server_project.import_block(
        [],
        standard=["import argparse", "import logging", "import sys"],
        runtime=[
            f"import volo.{protocol}",
            "from volo.discovery import Registration, registry_from_url",
            "from volo.settings import settings",
        ],
        project=[f"from {package}.handler import Handler"],
    )
    return {
        PYPROJECT: env.get_template("pyproject.toml.jinja").render(
            common, requirement=_requirement_of(schema), project_table=True, pytest_table=True
        ),
        f"{package}/__init__.py": f'"""The {service.name} service."""\n',
        f"{package}/server.py": env.get_template("server.py.jinja").render(
            common, protocol=protocol, imports=server_imports
        ),
        **own,
    }


def _thrift_files(
    config: Config, schema: ir.Schema, service: ir.Service, common: dict[str, str]
) -> dict[str, str]:
    """The handler, client and tests of a Thrift service."""
    package = config.package
    project = ThriftProjectView(schema, _dotted(config.generated), service.module)
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
            standard=["import argparse", "import asyncio", "import sys"],
            runtime=[
                "import volo.thrift",
                "from volo.discovery import from_target",
                "from volo.settings import settings",
            ],
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
    config: Config, schema: ir.Schema, service: ir.Service, common: dict[str, str]
) -> dict[str, str]:
    """The handler, client and tests of a gRPC service: a stub and a test for
    every method, whatever its kind; the client calls the first unary method
    (else the first method)."""
    package = config.package
    project = GrpcProjectView(schema, _dotted(config.generated), service.module)
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
            standard=["import argparse", "import asyncio", "import os", "import sys"],
            runtime=["import volo.grpc"],
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


def _project_view(schema: ir.Schema, config: Config, home: ir.Module) -> ProjectView:
    view = GrpcProjectView if is_grpc(schema) else ThriftProjectView
    return view(schema, _dotted(config.generated), home)


class GrpcProjectView(ProjectView):
    def __init__(self, schema: ir.Schema, generated_package: str, home: ir.Module) -> None:
        self.proto = ImportingProtoModule(schema, generated_package, home, GRPC_TEMPLATE_NAMES)
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
    def __init__(self, schema: ir.Schema, generated_package: str, home: ir.Module) -> None:
        self.thrift = ImportingModule(schema, generated_package, home, TEMPLATE_NAMES)
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
    text = _read(path)
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


def missing_methods(config: Config, root: Path, schema: ir.Schema) -> list[str]:
    """For each class in the project's handler.py based on a generated handler,
    the service's methods it does not define, with the signatures to add.
    The file is parsed, never imported."""
    relative = f"{config.package}/handler.py"
    path = root / relative
    if not path.is_file():
        return []
    try:
        tree = ast.parse(_read(path), filename=relative)
    except (SyntaxError, ValueError, ProjectError) as exc:
        return [f"{relative} cannot be parsed ({exc}), so its methods were not compared"]
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    project = _project_view(schema, config, schema.roots[0])
    services = {
        project.classes(service)[0].rpartition(".")[2]: service
        for module in schema.modules.values()
        for service in module.services
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
