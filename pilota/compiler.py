"""The compiler's entry points: IDL files in, a checked `ir.Schema` out."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pilota import ir
from pilota.diagnostics import CompileError, Diagnostics
from pilota.thrift.loader import load_thrift

if TYPE_CHECKING:  # the generator (and Jinja) loads only when something is generated
    from pilota.codegen.protobuf import ProtoOptions
    from pilota.codegen.python import GeneratedFile, Options

PathLike = str | os.PathLike[str]

SUPPORTED_SUFFIXES = (".thrift", ".proto")


def check(
    paths: Sequence[PathLike],
    include_dirs: Sequence[PathLike] = (),
    diagnostics: Diagnostics | None = None,
) -> tuple[ir.Schema | None, Diagnostics]:
    """Parse, resolve and check IDL files; never raises for problems in the IDL.

    Returns the schema (None if there were errors) and every diagnostic,
    errors and warnings alike.
    """
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    files = [Path(p) for p in paths]
    dirs = [Path(d) for d in include_dirs]
    for d in dirs:
        if not d.is_dir():
            diagnostics.error(f"include directory '{d}' does not exist", None)
    unsupported = [f for f in files if f.suffix not in SUPPORTED_SUFFIXES]
    for f in unsupported:
        diagnostics.error(
            f"cannot compile '{f}': expected a file ending in "
            + " or ".join(SUPPORTED_SUFFIXES),
            None,
        )
    if diagnostics.has_errors:
        return None, diagnostics
    kinds = {f.suffix for f in files}
    if len(kinds) > 1:
        diagnostics.error("cannot compile .thrift and .proto files in one run", None)
        return None, diagnostics
    if kinds == {".proto"}:
        from pilota.proto.loader import load_proto

        roots = load_proto(files, dirs, diagnostics)
    else:
        roots = load_thrift(files, dirs, diagnostics)
    if roots is None:
        return None, diagnostics
    schema = ir.Schema(roots=roots)
    pending = list(roots)
    while pending:
        module = pending.pop()
        key = str(Path(module.path).resolve())
        if key in schema.modules:
            continue
        schema.modules[key] = module
        pending.extend(inc.module for inc in module.includes)
    return schema, diagnostics


def load(paths: Sequence[PathLike], include_dirs: Sequence[PathLike] = ()) -> ir.Schema:
    """Like `check`, but raises `CompileError` (holding the diagnostics) on errors."""
    schema, diagnostics = check(paths, include_dirs)
    if schema is None:
        raise CompileError(diagnostics)
    return schema


def generate(
    paths: Sequence[PathLike],
    out_dir: PathLike,
    include_dirs: Sequence[PathLike] = (),
    options: Options | ProtoOptions | None = None,
) -> list[Path]:
    """Compile IDL files to a typed Python package tree under `out_dir`.

    Thrift: one module per IDL file (included files too), placed by
    `namespace py`, else `namespace *`, else the file's stem. Protobuf: one
    Python package per proto package, a module per file; the well-known types
    come from the runtime. `out_dir` itself becomes the root package. Raises
    `CompileError` on IDL errors, before anything is written. Returns the
    files that were (re)written.
    """
    from pilota.codegen.writer import write_tree

    schema = load(paths, include_dirs)
    return write_tree(generate_sources(schema, options), Path(out_dir))


def generate_sources(
    schema: ir.Schema, options: Options | ProtoOptions | None = None
) -> list[GeneratedFile]:
    """The generated files of a checked schema, by its protocol: Thrift or protobuf.
    `options` are the generator's of that protocol (`Options`, `ProtoOptions`)."""
    from pilota.codegen.protobuf import ProtoOptions, generate_protobuf
    from pilota.codegen.python import Options, generate_python

    if any(module.syntax is not ir.Syntax.THRIFT for module in schema.roots):
        if options is not None and not isinstance(options, ProtoOptions):
            raise TypeError("options for .proto files are ProtoOptions, not Thrift's Options")
        return generate_protobuf(schema, options)
    if options is not None and not isinstance(options, Options):
        raise TypeError("options for .thrift files are Options, not ProtoOptions")
    return generate_python(schema, options)
