"""The `volo` command line."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

import pilota
from pilota import ir
from pilota.diagnostics import Diagnostics
from volo_cli.config import CONFIG, DEFAULT_ENTRY, ProjectError
from volo_cli.diff import idl_diff
from volo_cli.entries import IdlError
from volo_cli.http_project import http_group

if TYPE_CHECKING:
    from volo_cli.project import GitChoice, Report

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


# Click 8.2 raises it for a group given no command (its help is the message).
_NoArgsIsHelp: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Volo(click.Group):
    """The `volo` command: a usage error (a missing argument, an unknown option)
    is one line, `volo: ...`, as every other refusal, where Click shows the usage
    block and an `Error:` line; it exits 2, as Click does (`volo idl diff`
    exits 1 for "the IDL differs")."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except _NoArgsIsHelp as exc:  # `volo` alone: the help, as Click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            message = exc.format_message().rstrip(".")
            message = message[:1].lower() + message[1:]
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"volo: {message}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("volo: aborted", err=True)
            sys.exit(1)
        # A command that ran to its end returns None; `ctx.exit(n)` returns n.
        sys.exit(code if isinstance(code, int) else 0)


@click.group("volo", cls=_Volo, context_settings={"help_option_names": ["-h", "--help"]})
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


# What a project command may fail with: each is reported in one sentence, exit 1.
PROJECT_ERRORS = (ProjectError, IdlError, OSError)


def _entry_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "-n",
        "--entry-name",
        "entry_name",
        default=DEFAULT_ENTRY,
        show_default=True,
        metavar="ENTRY",
        help=help_text,
    )


def _git_options(f: F) -> F:
    f = click.option(
        "-r", "--ref", metavar="REF",
        help="Branch, tag or commit of the git repository (default HEAD); volo.yml keeps "
        "the commit it names as the repo's lock.",
    )(f)  # fmt: skip
    return click.option(
        "-g", "--git", "url", metavar="URL",
        help="Take the IDL from this git repository; IDL and -I paths are then paths in it.",
    )(f)  # fmt: skip


@cli.command("init")
@click.argument("name")
@click.argument("idl", type=click.Path(path_type=Path))
@_include_option
@_git_options
def init_command(
    name: str, idl: Path, include_dirs: tuple[Path, ...], url: str | None, ref: str | None
) -> None:
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
        git = _git_choice(url, ref, None)
        report = project.init(name, idl, list(include_dirs), Path.cwd(), git)
    except PROJECT_ERRORS as exc:
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


def _git_choice(url: str | None, ref: str | None, repo: str | None) -> GitChoice | None:
    from volo_cli.project import GitChoice

    if url is None and repo is None:
        if ref is not None:
            raise ProjectError("-r/--ref names a ref of a git repository: give the URL with -g")
        return None
    return GitChoice(url, ref, repo)


@cli.command("gen")
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1, naming the files, if the generated code differs from "
    "what volo.yml and the IDL (at the locked commits) make. For CI and pre-commit hooks.",
)
def gen_command(check: bool) -> None:
    """Regenerate every entry's package from volo.yml (only generated files change).

    volo.yml is looked for here and in the folders above. Names the handler
    methods that the IDL has and NAME/handler.py lacks.
    """
    from volo_cli import project

    try:
        root = project.find_root(Path.cwd())
        if check:
            stale = project.check(root)
        else:
            report = project.generate(root)
    except PROJECT_ERRORS as exc:
        _project_error(exc)
    if check:
        if stale:
            names = ", ".join(_here(root / p) for p in stale)
            click.echo(
                f"volo: {_count(len(stale), 'generated file')} out of date (run `volo gen`): "
                f"{names}",
                err=True,
            )
            sys.exit(1)
        click.echo("generated code is up to date")
        return
    _generated(root, report)
    _todo(report)


def _generated(root: Path, report: Report) -> None:
    for folder, files, written in report.generated:
        where = _here(root / folder)
        click.echo(f"generated {where}: {_count(files, 'file')}, {written} rewritten")


@idl.command("add")
@click.argument("idl_file", metavar="IDL", type=click.Path(path_type=Path))
@_include_option
@_entry_option("The entry to add the IDL to; a new one is made if it does not exist.")
@_git_options
@click.option(
    "--repo", "repo", metavar="NAME",
    help="The entry's repo holding the IDL (with -g: the name for a new one; default: the "
    "last part of the URL).",
)  # fmt: skip
@click.option(
    "--generated", "generated", metavar="DIR",
    help="A new entry's generated package folder (default PACKAGE/ENTRY_gen).",
)  # fmt: skip
def idl_add(
    idl_file: Path,
    include_dirs: tuple[Path, ...],
    entry_name: str,
    url: str | None,
    ref: str | None,
    repo: str | None,
    generated: str | None,
) -> None:
    """Add IDL to an entry of the project's volo.yml (here or in a folder above) and
    regenerate that entry."""
    from volo_cli import project

    try:
        root = project.find_root(Path.cwd())
        git = _git_choice(url, ref, repo)
        report = project.add_idl(
            idl_file, list(include_dirs), root, entry_name, git, generated
        )
    except PROJECT_ERRORS as exc:
        _project_error(exc)
    click.echo(f"added {idl_file} to entry '{entry_name}' of {_here(root / CONFIG)}")
    _generated(root, report)
    _todo(report)


@idl.command("package")
@_entry_option("The entry whose generated code to package.")
@click.option("--name", metavar="NAME", help="The distribution's name (default PACKAGE_ENTRY_idl).")
@click.option("--version", "version", default="0.1.0", show_default=True, help="Its version.")
@click.option(
    "-o", "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
    help="The folder to write (default dist/NAME); one an earlier run wrote is replaced.",
)  # fmt: skip
def idl_package(entry_name: str, name: str | None, version: str, out_dir: Path | None) -> None:
    """Build an entry's generated code as an installable Python package: a folder with
    its own pyproject.toml (name, version, the runtime as dependency), for services
    to `pip install` instead of generating their own copy."""
    from volo_cli import project
    from volo_cli.package import build_package

    try:
        root = project.find_root(Path.cwd())
        folder, module = build_package(root, entry_name, name, version, out_dir)
    except PROJECT_ERRORS as exc:
        _project_error(exc)
    where = _here(folder)
    click.echo(f"wrote {where}: import {module}; install it with pip install {where}")


@cli.group()
def repo() -> None:
    """Git repositories that entries take IDL from, each locked at a commit."""


@repo.command("add")
@_entry_option("The entry to add the repository to.")
@_git_options
@click.option("--repo", "name", metavar="NAME", help="Its name (default: the URL's last part).")
def repo_add(entry_name: str, url: str | None, ref: str | None, name: str | None) -> None:
    """Add a git repository to an entry, locked at the commit its ref names now."""
    from volo_cli import project

    try:
        if url is None:
            raise ProjectError("`volo repo add` needs the repository's URL: -g URL")
        root = project.find_root(Path.cwd())
        added, locked = project.add_repo(root, entry_name, project.GitChoice(url, ref, name))
    except PROJECT_ERRORS as exc:
        _project_error(exc)
    click.echo(f"added repo '{added}' to entry '{entry_name}': {locked.ref} at {locked.lock}")


@repo.command("update")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@_entry_option("The entry whose repositories to update.")
def repo_update(names: tuple[str, ...], entry_name: str) -> None:
    """Lock repositories (all of the entry's if none is named) at the commit their ref
    names now, and regenerate the entry."""
    from volo_cli import project

    try:
        root = project.find_root(Path.cwd())
        moved, report = project.update_repos(root, entry_name, list(names))
    except PROJECT_ERRORS as exc:
        _project_error(exc)
    for name, (old, new) in moved.items():
        state = "unchanged" if old == new else f"{old[:12]} -> {new[:12]}"
        click.echo(f"repo '{name}': {state}")
    _generated(root, report)
    _todo(report)


@cli.command("migrate")
def migrate_command() -> None:
    """Rewrite a volo.yml of the previous format in the current one (entries).

    The original is kept as volo.yml.bak, and put back if the new file would not
    generate exactly the same code.
    """
    from volo_cli import project

    try:
        root = project.find_root(Path.cwd())
        backup = project.migrate(root)
    except PROJECT_ERRORS as exc:
        _project_error(exc)
    click.echo(f"migrated {_here(root / CONFIG)} (the original is in {backup})")


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
