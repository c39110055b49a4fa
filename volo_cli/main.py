"""The `volo` command line."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

import pilota
from pilota import ir
from pilota.diagnostics import Diagnostics
from volo_cli.diff import idl_diff
from volo_cli.http_project import http_group

if TYPE_CHECKING:
    from volo_cli.project import Report

F = TypeVar("F", bound=Callable[..., Any])


def _report(diagnostics: Diagnostics) -> None:
    for diagnostic in diagnostics.sorted():
        click.echo(diagnostic.render(), err=True)


def _show_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from pilota.runtime import codec

    click.echo(f"volo, version {pilota.__version__} (codec: {codec.IMPLEMENTATION})")
    _warn_without_compiled_codec()
    ctx.exit()


def _warn_without_compiled_codec() -> None:
    """Says so when the compiled codec was not built (pip shows no build output)."""
    from pilota.runtime import codec

    if codec.IMPLEMENTATION != "cython" and not os.environ.get("PILOTA_PURE_PYTHON"):
        click.echo(NO_COMPILED_CODEC, err=True)


NO_COMPILED_CODEC = (
    "warning: the compiled codec is not built (no C compiler or Cython when volo-py was "
    "installed), so the pure-Python codec runs, several times slower; install a C compiler "
    "and Python's headers (Debian: apt install gcc python3-dev) and reinstall volo-py"
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and the codec in use (compiled or pure Python), and exit.",
)
def cli() -> None:
    """Volo for Python: compile Thrift and protobuf IDL into typed Python and serve
    it over RPC (Thrift, and gRPC on grpcio)."""


@cli.group()
def idl() -> None:
    """Work with IDL files."""


def _include_option(f: F) -> F:
    return click.option(
        "-I",
        "--include",
        "include_dirs",
        multiple=True,
        type=click.Path(path_type=Path),
        metavar="DIR",
        help="Directory to search for included files, after the including file's own "
        "directory. May be repeated; searched in order.",
    )(f)


# `volo idl diff` lives in its own module; it takes -I like the commands here.
idl.add_command(_include_option(idl_diff))


@idl.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_include_option
def idl_check(files: tuple[Path, ...], include_dirs: tuple[Path, ...]) -> None:
    """Parse, resolve and check IDL FILES; report every problem found.

    Exits 0 when there are no errors (warnings are allowed), 1 otherwise.
    """
    schema, diagnostics = pilota.check(files, include_dirs)
    _report(diagnostics)
    warnings = _count(len(diagnostics.warnings), "warning")
    if schema is None:
        click.echo(f"{_count(len(diagnostics.errors), 'error')}, {warnings}", err=True)
        sys.exit(1)
    definitions = sum(len(m.definitions) for m in schema.modules.values())
    included = len(schema.modules) - len(schema.roots)
    also = f" and {_count(included, 'included file')}" if included else ""
    click.echo(
        f"ok: {_count(len(schema.roots), 'file')}{also} checked, "
        f"{_count(definitions, 'definition')}, {warnings}"
    )


@idl.command("gen")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Output directory; it becomes the root package of the generated code.",
)
@_include_option
@click.option(
    "--keep-unknown-fields",
    is_flag=True,
    help="Thrift: decoded structs keep fields they do not know and write them back when "
    "encoded (protobuf messages always do).",
)
def idl_gen(
    files: tuple[Path, ...],
    out_dir: Path,
    include_dirs: tuple[Path, ...],
    keep_unknown_fields: bool,
) -> None:
    """Generate a typed Python package from IDL FILES (and the files they include).

    Thrift: one module per IDL file, placed by `namespace py`, else `namespace *`,
    else the file's name. Protobuf: a package per proto package, a module per
    file. Nothing is written unless the whole run succeeds.
    """
    from pilota.codegen.python import Options
    from pilota.codegen.writer import WriteRefused, write_tree
    from pilota.compiler import generate_sources

    schema, diagnostics = pilota.check(files, include_dirs)
    _report(diagnostics)
    if schema is None:
        click.echo(f"{_count(len(diagnostics.errors), 'error')}; nothing was written", err=True)
        sys.exit(1)
    thrift = all(module.syntax is ir.Syntax.THRIFT for module in schema.roots)
    options = Options(keep_unknown_fields=keep_unknown_fields) if thrift else None
    generated = generate_sources(schema, options)
    try:
        written = write_tree(generated, out_dir)
    except WriteRefused as exc:
        reason = f"{exc.strerror}; nothing was written"
        click.echo(f"volo: cannot write '{exc.filename}': {reason}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"volo: cannot write to '{out_dir}': {exc.strerror or exc}", err=True)
        sys.exit(1)
    unchanged = len(generated) - len(written)
    click.echo(
        f"generated {_count(len(generated), 'file')} in {out_dir} "
        f"({len(written)} written, {unchanged} unchanged)"
    )


def _project_error(exc: Exception) -> NoReturn:
    from volo_cli.project import IdlError

    if isinstance(exc, IdlError):
        _report(exc.diagnostics)
        click.echo(
            f"{_count(len(exc.diagnostics.errors), 'error')} in the IDL; nothing was changed",
            err=True,
        )
    elif isinstance(exc, OSError):
        where = f" '{exc.filename}'" if exc.filename else ""
        reason = exc.strerror or exc
        click.echo(f"volo: cannot write{where}: {reason}; nothing was changed", err=True)
    else:
        click.echo(f"volo: {exc}", err=True)
    sys.exit(1)


@cli.command("init")
@click.argument("name")
@click.argument("idl", type=click.Path(path_type=Path))
@_include_option
def init_command(name: str, idl: Path, include_dirs: tuple[Path, ...]) -> None:
    """Create a project NAME here that serves the first service in IDL
    (a .thrift file, or a .proto file for gRPC).

    Writes volo.yml, the generated package NAME/gen, a handler stub
    (NAME/handler.py), `python -m NAME.server`, `python -m NAME.client` and a
    test. Refuses if volo.yml exists, or if NAME would hide a module (the
    standard library's, volo's, an installed one); never overwrites a file you
    may have edited, and adds to an existing pyproject.toml what the project
    needs (or says what to add). A failure changes nothing.
    """
    from volo_cli import project

    try:
        report = project.init(name, idl, list(include_dirs), Path.cwd())
    except (project.ProjectError, project.IdlError, OSError) as exc:
        _project_error(exc)
    for path in report.created:
        click.echo(f"created {path}")
    for path in report.changed:
        click.echo(f"changed {path}")
    for path in report.kept:
        click.echo(f"kept    {path} (it already exists)")
    _todo(report)
    _warn_without_compiled_codec()
    click.echo(f"\nnext: python -m {name}.server, then python -m {name}.client")


@cli.command("gen")
def gen_command() -> None:
    """Regenerate the generated package from volo.yml (only generated files change).

    volo.yml is looked for here and in the folders above. Names the handler
    methods that the IDL has and NAME/handler.py lacks.
    """
    from volo_cli import project

    try:
        root = project.find_root(Path.cwd())
        report = project.generate(root)
    except (project.ProjectError, project.IdlError, OSError) as exc:
        _project_error(exc)
    click.echo(
        f"generated {_here(root / report.generated)}: "
        f"{_count(report.generated_files, 'file')}, {report.generated_written} rewritten"
    )
    _todo(report)


@idl.command("add")
@click.argument("idl_file", metavar="IDL", type=click.Path(path_type=Path))
@_include_option
def idl_add(idl_file: Path, include_dirs: tuple[Path, ...]) -> None:
    """Add IDL to the project's volo.yml (here or in a folder above) and regenerate."""
    from volo_cli import project

    try:
        root = project.find_root(Path.cwd())
        report = project.add_idl(idl_file, list(include_dirs), root)
    except (project.ProjectError, project.IdlError, OSError) as exc:
        _project_error(exc)
    click.echo(
        f"added {idl_file} to {_here(root / project.CONFIG)}; generated "
        f"{_here(root / report.generated)}: {report.generated_written} rewritten"
    )
    _todo(report)


# `volo http ...` lives in its own module.
cli.add_command(http_group)


def _here(path: Path) -> str:
    """`path` as seen from the working directory."""
    return os.path.relpath(path, Path.cwd())


def _todo(report: Report) -> None:
    for item in report.todo:
        click.echo(f"warning: {item}", err=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def main() -> None:
    """Console entry point: no traceback reaches the user unless VOLO_DEBUG is set."""
    try:
        cli(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("volo: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("VOLO_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"volo: internal error: {type(exc).__name__}: {exc} "
            "(set VOLO_DEBUG=1 for details, and please report it)",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
