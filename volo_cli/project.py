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
never touched again.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import keyword
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

import jinja2
import yaml

import pilota
from pilota import ir
from pilota.codegen.python import Options, generate_python, module_paths
from pilota.codegen.writer import write_tree
from pilota.diagnostics import Diagnostics
from pilota.resources import resource_dir
from pilota.runtime import types as t
from pilota.runtime.base import Union
from pilota.runtime.service import Client, Handler

CONFIG = "volo.yml"


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

    def to_yaml(self) -> str:
        data = {
            "package": self.package,
            "generated": self.generated,
            "idls": [{"path": i.path, "includes": i.includes} for i in self.idls],
            "options": {"keep_unknown_fields": self.keep_unknown_fields},
        }
        header = "# volo.yml: what `volo gen` generates from which IDL, and where.\n"
        header += "# Paths are relative to this file.\n"
        return header + yaml.safe_dump(data, sort_keys=False)


def load_config(root: Path) -> Config:
    path = root / CONFIG
    if not path.is_file():
        raise ProjectError(f"no {CONFIG} in {root}: run `volo init` first")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ProjectError(f"{path} is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path} must be a mapping with keys package, generated and idls")
    package = _string(data, "package", path)
    if not package.isidentifier() or keyword.iskeyword(package):
        raise ProjectError(f"{path}: 'package' must be a Python identifier, not {package!r}")
    generated = _string(data, "generated", path)
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
    return Config(package, generated, entries, keep)


def _string(data: dict[str, Any], key: str, path: Path) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ProjectError(f"{path}: '{key}' must be set to a non-empty string")
    return value


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# ---- generation ---------------------------------------------------------------------


def compile_config(config: Config, root: Path) -> ir.Schema:
    paths = [root / i.path for i in config.idls]
    includes = list(dict.fromkeys(root / d for i in config.idls for d in i.includes))
    schema, diagnostics = pilota.check(paths, includes)
    if schema is None:
        raise IdlError(diagnostics)
    return schema


def generate(config: Config, root: Path, schema: ir.Schema | None = None) -> tuple[int, int]:
    """Regenerate the generated package (from `schema` when the caller has
    compiled it already); returns (files, files rewritten)."""
    schema = schema or compile_config(config, root)
    files = generate_python(schema, Options(keep_unknown_fields=config.keep_unknown_fields))
    written = write_tree(files, root / config.generated)
    return len(files), len(written)


# ---- volo init --------------------------------------------------------------------------


@dataclass
class Written:
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def init(name: str, idl: Path, includes: list[Path], root: Path) -> Written:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ProjectError(
            f"project name {name!r} must be a Python identifier (like echo or my_service)"
        )
    if (root / CONFIG).exists():
        raise ProjectError(f"{root / CONFIG} already exists: use `volo gen` to regenerate")
    if not idl.is_file():
        raise ProjectError(f"IDL file {idl} does not exist")
    config = Config(
        name,
        f"{name}/gen",
        [IdlEntry(_relative(idl, root), [_relative(d, root) for d in includes])],
    )
    schema = compile_config(config, root)  # before writing anything: the IDL must compile
    services = [d for d in schema.roots[0].definitions.values() if isinstance(d, ir.Service)]
    if not services:
        raise ProjectError(f"{idl} defines no service: a project needs one to serve")
    written = Written()
    write_atomically(root / CONFIG, config.to_yaml())
    written.created.append(root / CONFIG)
    generate(config, root, schema)
    gen_module = _generated_module_name(config, schema)
    stubs = _stubs(config, root, gen_module, services[0], idl.name)
    for relative, text in stubs.items():
        target = root / relative
        if target.exists():
            written.kept.append(target)
            continue
        write_atomically(target, text)
        written.created.append(target)
    return written


def add_idl(idl: Path, includes: list[Path], root: Path) -> tuple[Config, ir.Schema]:
    config = load_config(root)
    if not idl.is_file():
        raise ProjectError(f"IDL file {idl} does not exist")
    entry = IdlEntry(_relative(idl, root), [_relative(d, root) for d in includes])
    known = {Path(root / i.path).resolve() for i in config.idls}
    if (root / entry.path).resolve() in known:
        raise ProjectError(f"{idl} is already in {root / CONFIG}")
    config.idls.append(entry)
    schema = compile_config(config, root)  # the new IDL must compile before volo.yml changes
    write_atomically(root / CONFIG, config.to_yaml())
    return config, schema


def _relative(path: Path, root: Path) -> str:
    return os.path.relpath(path.resolve(), root.resolve()).replace(os.sep, "/")


def _generated_module_name(config: Config, schema: ir.Schema) -> str:
    path = module_paths(schema)[schema.roots[0]]
    parts = list(PurePosixPath(config.generated).parts)
    module = path.parent.parts if path.name == "__init__.py" else (*path.parent.parts, path.stem)
    return ".".join([*parts, *module])


@contextmanager
def _importable(root: Path, package: str) -> Iterator[None]:
    """`package` importable from `root` for a while, and forgotten after."""
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.split(".")[0] == package]:
            del sys.modules[name]


def _stubs(
    config: Config, root: Path, gen_module: str, service: ir.Service, idl_name: str
) -> dict[str, str]:
    """The files a person edits, rendered from the generated classes themselves."""
    with _importable(root, config.package):
        importlib.invalidate_caches()
        module = importlib.import_module(gen_module)
        handler_base = _generated_class(module, Handler, service.name)
        client_class = _generated_class(module, Client, service.name)
        methods = [
            _method_view(module, handler_base, idl, method)
            for idl, method in handler_base.__thrift_methods__.items()
        ]
    first = next((m for m in methods if not m["oneway"]), methods[0])
    private = sorted(
        {
            n
            for m in methods
            for n in re.findall(
                r"\b(_[a-z]+)\.",
                " ".join(m["params"]) + m["returns"] + (m["value"] or "") + m["arguments"],
            )
        }
    )
    context = {
        "package": config.package,
        "service": service.name,
        "idl": idl_name,
        "gen_module": gen_module,
        "handler_base": handler_base.__name__,
        "client_class": client_class.__name__,
        "methods": methods,
        "method": first,
        "private_names": private,
    }
    env = _environment()
    package = config.package
    return {
        "pyproject.toml": env.get_template("pyproject.toml.jinja").render(context),
        f"{package}/__init__.py": f'"""The {service.name} service."""\n',
        f"{package}/handler.py": env.get_template("handler.py.jinja").render(context),
        f"{package}/server.py": env.get_template("server.py.jinja").render(context),
        f"{package}/client.py": env.get_template("client.py.jinja").render(context),
        f"tests/test_{package}.py": env.get_template("test_service.py.jinja").render(context),
    }


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


def _generated_class(module: ModuleType, base: type, service: str) -> Any:
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, base)
            and value.__module__ == module.__name__
            and getattr(value, "__thrift_service__", None) == service
        ):
            return value
    raise ProjectError(
        f"the generated module {module.__name__} has no {base.__name__} for {service}"
    )


def _method_view(module: ModuleType, handler: type, idl_name: str, method: Any) -> dict[str, Any]:
    signature = inspect.signature(getattr(handler, method.python_name))
    params = []
    arguments = []
    specs = {f.name: f for f in method.args.__thrift_spec__}
    for name, parameter in list(signature.parameters.items())[1:]:
        text = f"{name}: {parameter.annotation}"
        if parameter.default is not inspect.Parameter.empty:
            text += f" = {_literal(parameter.default, module)}"
        elif name in specs:
            arguments.append(f"{name}={_default(specs[name].type, module)}")
        params.append(text)
    result_spec: tuple[Any, ...] = method.result.__thrift_spec__ if method.result else ()
    returns_value = bool(result_spec) and result_spec[0].id == 0
    return {
        "name": method.python_name,
        "idl_name": idl_name,
        "params": params,
        "returns": str(signature.return_annotation),
        "value": _default(result_spec[0].type, module) if returns_value else None,
        "arguments": ", ".join(arguments),
        "oneway": method.oneway,
    }


def _qualified(cls: type, module: ModuleType) -> str:
    """How code that star-imports `module` names `cls`."""
    if cls.__module__ == module.__name__:
        return cls.__name__
    owner = sys.modules[cls.__module__]
    alias = next(k for k, v in vars(module).items() if v is owner)
    return f"{alias}.{cls.__name__}"


def _literal(value: Any, module: ModuleType) -> str:
    if isinstance(value, enum.Enum):
        return f"{_qualified(type(value), module)}.{value.name}"
    return repr(value)


def _default(spec: t.TypeSpec, module: ModuleType, depth: int = 0) -> str:
    """A simple valid value of `spec`, as source, for stubs."""
    code = spec if isinstance(spec, int) else spec[0]
    simple = {t.BOOL: "False", t.DOUBLE: "0.0", t.STRING: '""', t.BINARY: 'b""',
              t.UUID: "_uuid.UUID(int=0)", t.LIST: "[]", t.SET: "set()", t.MAP: "{}"}  # fmt: skip
    if code in simple:
        return simple[code]
    if code in t.INT_RANGES and code != t.ENUM:
        return "0"
    assert not isinstance(spec, int)
    cls = spec[1]
    name = _qualified(cls, module)
    if code == t.ENUM:
        members = list(cls)
        return f"{name}.{members[0].name}" if members else f"{name}(0)"
    fields = cls.__thrift_spec__
    if issubclass(cls, Union):
        first = fields[0]
        return f"{name}({first.name}={_default(first.type, module, depth + 1)})"
    required = [f for f in fields if f.required == t.REQUIRED and depth < 4]
    return (
        f"{name}("
        + ", ".join(f"{f.name}={_default(f.type, module, depth + 1)}" for f in required)
        + ")"
    )
