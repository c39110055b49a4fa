"""`volo http`: HTTP projects on volo.http.

`volo http init NAME` writes a hello-world HTTP service: its routes
(NAME/app.py), `python -m NAME.server` (uvicorn) and tests. As `volo init`,
it never overwrites a file, adds what the project needs to an existing
pyproject.toml, and writes everything in one go or nothing.

`volo http init NAME IDL` writes the project `volo init NAME IDL` writes (the
generated package, the handler stubs, the RPC server and client, tests) and
its HTTP API: NAME/http_app.py serves the handler over the routes the IDL
annotates (Hertz's `api.get` ...), `python -m NAME.http_server`, and a test
per route.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path, PurePosixPath

import click
import jinja2

from pilota.codegen.python import GeneratedFile
from pilota.codegen.writer import write_tree
from pilota.resources import resource_dir
from volo_cli import project
from volo_cli.config import ProjectError
from volo_cli.entries import IdlError
from volo_cli.project import PYPROJECT, TESTS, Report


@click.group("http")
def http_group() -> None:
    """HTTP services on volo.http (ASGI)."""


@http_group.command("init")
@click.argument("name")
@click.argument("idl", required=False, type=click.Path(path_type=Path))
@click.option("-I", "--include", "include_dirs", multiple=True, type=click.Path(path_type=Path),
              metavar="DIR", help="Directory to search for included files (with IDL).")  # fmt: skip
def http_init(name: str, idl: Path | None, include_dirs: tuple[Path, ...]) -> None:
    """Create an HTTP project NAME here.

    Without IDL: routes in NAME/app.py, `python -m NAME.server` (uvicorn) and
    tests. With IDL (Thrift whose methods carry api.get, api.post... annotations):
    what `volo init NAME IDL` writes, plus NAME/http_app.py serving the handler
    over those routes, `python -m NAME.http_server` and tests.

    Refuses if NAME would hide a module; never overwrites a file; adds to an
    existing pyproject.toml what the project needs (or says what to add).
    """
    try:
        if idl is None:
            report = init(name, Path.cwd())
        else:
            report = init_from_idl(name, idl, list(include_dirs), Path.cwd())
    except (ProjectError, IdlError, OSError) as exc:
        from volo_cli.main import _project_error

        _project_error(exc)
    for path in report.created:
        click.echo(f"created {path}")
    for path in report.changed:
        click.echo(f"changed {path}")
    for path in report.kept:
        click.echo(f"kept    {path} (it already exists)")
    for item in report.todo:
        click.echo(f"warning: {item}", err=True)
    if idl is None:
        click.echo(f"\nnext: python -m {name}.server, then curl http://127.0.0.1:8080/hello/volo")
    else:
        click.echo(f"\nnext: python -m {name}.http_server (HTTP on 127.0.0.1:8000), "
                   f"python -m {name}.server (RPC)")  # fmt: skip


def init(name: str, root: Path) -> Report:
    """`volo http init NAME`: the project's files, written in one go."""
    # The checks `volo init` makes (volo_cli.project), but for volo.yml: there is none.
    project.check_project_name(name, root, example="hello", suffix="http")
    files = {
        PYPROJECT: _render("pyproject.toml.jinja", package=name),
        f"{name}/__init__.py": f'"""The {name} HTTP service."""\n',
        f"{name}/app.py": _render("app.py.jinja", package=name),
        f"{name}/server.py": _render("server.py.jinja", package=name),
        f"{TESTS}/test_{name}.py": _render("test_app.py.jinja", package=name),
    }
    report = Report()
    project.write_project([], files, root, name, "volo-py[http]", report)
    return report


def init_from_idl(name: str, idl: Path, includes: list[Path], root: Path) -> Report:
    """`volo http init NAME IDL`: `volo init`'s project and the HTTP API."""
    import pilota
    from pilota import ir
    from pilota.codegen.python import HTTP_VERBS

    service = ""
    if idl.is_file():  # else project.init says so
        schema, diagnostics = pilota.check([idl], includes)
        if schema is None:
            raise IdlError(diagnostics)
        services = schema.roots[0].services
        if services and not any(
            ir.annotation(m.annotations, f"api.{verb}") is not None
            for m in services[0].all_methods()
            for verb in HTTP_VERBS
        ):
            raise ProjectError(
                f"no method of service {services[0].name} in {idl} has an HTTP route: annotate "
                'one, as `Item Get(1: GetRequest req) (api.get = "/items/:id")`'
            )
        service = services[0].name if services else ""  # none: project.init says so
    report = project.init(name, idl, includes, root)  # checks the rest, writes in one go
    files = {
        f"{name}/http_app.py": _render("idl_app.py.jinja", package=name, service=service),
        f"{name}/http_server.py": _render("idl_server.py.jinja", package=name),
        f"{TESTS}/test_{name}_http.py": _render(
            "test_idl_app.py.jinja", package=name, service=service
        ),
    }
    writes = []
    for relative, text in files.items():
        if (root / relative).exists():
            report.kept.append(relative)
        else:
            writes.append(GeneratedFile(PurePosixPath(relative), text))
            report.created.append(relative)
    if PYPROJECT in report.created:  # the one `volo init` wrote: the http extra too
        text = (root / PYPROJECT).read_text(encoding="utf-8")
        text = text.replace('dependencies = ["volo-py"]', 'dependencies = ["volo-py[http]"]')
        writes.append(GeneratedFile(PurePosixPath(PYPROJECT), text))
    write_tree(writes, root, replaceable={PurePosixPath(PYPROJECT)})
    return report


def _render(template: str, **context: object) -> str:
    return _environment().get_template(template).render(context)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates") / "http_project")),
        autoescape=False,  # Python and TOML, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
