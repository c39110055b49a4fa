"""`volo idl diff`: breaking changes between two versions of an IDL."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

LEVELS = ("wire", "json", "source", "warning")


def _list_rules(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from pilota.diff import list_rules

    click.echo(list_rules())
    ctx.exit()


def _fail(message: str) -> None:
    click.echo(f"volo: {message}", err=True)
    sys.exit(2)


@click.command("diff")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[OLD] NEW")
@click.option(
    "--against", metavar="REF",
    help="Compare NEW with the same paths at this git commit, branch or tag.",
)  # fmt: skip
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    default="wire",
    show_default=True,
    help="What to enforce: wire (binary peers), json (also JSON encodings), source (also "
    "generated code), warning (also what is not a break). Each includes the ones before.",
)
@click.option(
    "--ignore", "ignored", multiple=True, metavar="RULE",
    help="Switch a rule off by its id (repeatable, or comma-separated).",
)  # fmt: skip
@click.option(
    "--format", "output", type=click.Choice(("text", "json")), default="text", show_default=True,
    help="text: file:line:col: rule-id: message, with the line; json: for tools.",
)  # fmt: skip
@click.option(
    "--list-rules", is_flag=True, expose_value=False, is_eager=True, callback=_list_rules,
    help="List every rule with its id and level, and exit.",
)  # fmt: skip
def idl_diff(
    paths: tuple[Path, ...],
    against: str | None,
    level: str,
    ignored: tuple[str, ...],
    output: str,
    include_dirs: tuple[Path, ...] = (),
) -> None:
    """Report changes from OLD to NEW (files or folders) that break peers or users.

    `volo idl diff OLD NEW` compares two versions; `volo idl diff NEW --against
    REF` compares NEW with the same paths at a git ref. Thrift and protobuf.
    Exits 0 when nothing at the chosen level changed, 1 when something did,
    2 when an input is missing or does not compile.
    """
    from pilota.diff import RULES, InputError, Level, diff

    switched_off = {name.strip() for item in ignored for name in item.split(",") if name.strip()}
    for name in sorted(switched_off):
        if name not in RULES:
            close = difflib.get_close_matches(name, list(RULES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else " (see --list-rules)"
            _fail(f"there is no rule '{name}'{hint}")
    if against is not None and len(paths) != 1:
        _fail("with --against give NEW only: the old version is NEW at that ref")
    if against is None and len(paths) != 2:
        _fail("give OLD and NEW, or NEW with --against REF")
    old, new = (None, paths[:1]) if against is not None else (paths[:1], paths[1:])
    try:
        result = diff(old, new, include_dirs, against)
    except InputError as exc:
        _fail(str(exc))
        return
    if not result.compiled:
        for side in (result.old, result.new):
            for line in side.rendered_diagnostics():
                click.echo(line, err=True)
        broken = [s.label for s in (result.old, result.new) if s.version is None]
        errors = sum(len(s.errors()) for s in (result.old, result.new))
        _fail(
            f"{' and '.join(broken)} {'do' if len(broken) > 1 else 'does'} not compile "
            f"({errors} error{'s' if errors != 1 else ''}); nothing was compared"
        )
    chosen = Level[level.upper()]
    shown = result.at(chosen, switched_off)
    hidden = len(result.at(Level.WARNING, switched_off)) - len(shown)
    if output == "json":
        click.echo(result.json(shown, chosen, hidden))
    else:
        for finding in shown:
            click.echo(result.render(finding))
        more = f"; {hidden} more at looser levels (--level warning shows all)" if hidden else ""
        count = f"{len(shown)} finding{'s' if len(shown) != 1 else ''}" if shown else "no findings"
        click.echo(f"{count} at level {level}{more}")
    sys.exit(1 if shown else 0)
