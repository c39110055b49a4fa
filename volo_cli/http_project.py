"""`volo http`: HTTP projects on volo.http.

`volo http init NAME` writes a hello-world HTTP service: its routes
(NAME/app.py), `python -m NAME.server` (uvicorn) and tests. As `volo init`,
it never overwrites a file, adds what the project needs to an existing
pyproject.toml, and writes everything in one go or nothing.
"""

from __future__ import annotations

import keyword
from functools import cache
from pathlib import Path, PurePosixPath

import click
import jinja2

from pilota.codegen.python import GeneratedFile
from pilota.codegen.writer import write_tree
from pilota.resources import resource_dir
from volo_cli import project
from volo_cli.project import PYPROJECT, TESTS, ProjectError, Report


@click.group("http")
def http_group() -> None:
    """HTTP services on volo.http (ASGI)."""


@http_group.command("init")
@click.argument("name")
def http_init(name: str) -> None:
    """Create an HTTP project NAME here: routes in NAME/app.py, `python -m
    NAME.server` (uvicorn) and tests (tests/test_NAME.py).

    Refuses if NAME would hide a module; never overwrites a file; adds to an
    existing pyproject.toml what the project needs (or says what to add).
    """
    try:
        report = init(name, Path.cwd())
    except (ProjectError, OSError) as exc:
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
    click.echo(f"\nnext: python -m {name}.server, then curl http://127.0.0.1:8080/hello/volo")


def init(name: str, root: Path) -> Report:
    """`volo http init NAME`: the project's files, written in one go."""
    # The checks `volo init` makes (volo_cli.project), but for volo.yml: there is none.
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ProjectError(
            f"project name {name!r} must be a Python identifier (like hello or my_service)"
        )
    hidden = project._hidden_by(name, root)
    if hidden is not None:
        raise ProjectError(
            f"project name {name!r} would hide {hidden}: choose another name, like {name}_http"
        )
    files = {
        PYPROJECT: _render("pyproject.toml.jinja", package=name),
        f"{name}/__init__.py": f'"""The {name} HTTP service."""\n',
        f"{name}/app.py": _render("app.py.jinja", package=name),
        f"{name}/server.py": _render("server.py.jinja", package=name),
        f"{TESTS}/test_{name}.py": _render("test_app.py.jinja", package=name),
    }
    report = Report()
    writes = []
    for relative, text in files.items():
        path = root / relative
        if relative == PYPROJECT and path.exists():
            merged = project._merged_pyproject(path, name, report)
            if merged is not None:
                writes.append(GeneratedFile(PurePosixPath(relative), merged))
        elif path.exists():
            report.kept.append(relative)
        else:
            writes.append(GeneratedFile(PurePosixPath(relative), text))
            report.created.append(relative)
    write_tree(writes, root)
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
