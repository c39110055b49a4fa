"""`volo idl diff`: breaking changes between two versions of an IDL."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from pilota.diff import DiffResult, Side

LEVELS = ("wire", "json", "source", "warning")


def _list_rules(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from pilota.diff import list_rules

    click.echo(list_rules())
    ctx.exit()


def _fail(message: str) -> NoReturn:
    click.echo(f"volo: {message}", err=True)
    sys.exit(2)


@click.command("diff")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[OLD] NEW")
@click.option(
    "--against", metavar="REF",
    help="Compare NEW with the same paths at this git commit, branch or tag.",
)  # fmt: skip
@click.option(
    "--locked", is_flag=True,
    help="In a project: compare the IDL an entry takes from git at its repo's lock (OLD) with "
    "the commit the repo's ref names now (NEW): what `volo repo update` would bring.",
)
@click.option(
    "--repo", "repo_name", metavar="NAME", help="With --locked: only this repo (default: all)."
)
@click.option(
    "-n", "--entry-name", "entry_name", default="default", show_default=True, metavar="ENTRY",
    help="With --locked: the entry of volo.yml whose repos to compare.",
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
    locked: bool,
    repo_name: str | None,
    entry_name: str,
    level: str,
    ignored: tuple[str, ...],
    output: str,
    include_dirs: tuple[Path, ...] = (),
) -> None:
    """Report changes from OLD to NEW (files or folders) that break peers or users.

    `volo idl diff OLD NEW` compares two versions; `volo idl diff NEW --against
    REF` compares NEW with the same paths at a git ref; `volo idl diff --locked`,
    in a project, compares the IDL it takes from git at the lock with what the
    repo's ref names now. Thrift and protobuf.
    Exits 0 when nothing at the chosen level changed, 1 when something did,
    2 when an input is missing or does not compile.
    """
    from pilota.diff import RULES, InputError, Level, compare_sides, diff

    switched_off = {name.strip() for item in ignored for name in item.split(",") if name.strip()}
    for name in sorted(switched_off):
        if name not in RULES:
            close = difflib.get_close_matches(name, list(RULES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else " (see --list-rules)"
            _fail(f"there is no rule '{name}'{hint}")
    if locked:
        if paths or against is not None:
            _fail("--locked compares the project's git IDL: give no paths and no --against")
        pairs = _locked_sides(entry_name, repo_name)
    else:
        if repo_name is not None:
            _fail("--repo goes with --locked")
        if against is not None and len(paths) != 1:
            _fail("with --against give NEW only: the old version is NEW at that ref")
        if against is None and len(paths) != 2:
            _fail("give OLD and NEW, or NEW with --against REF")
        pairs = None
    if pairs is not None and output == "json" and len(pairs) > 1:
        _fail("--format json compares one repo at a time: name it with --repo")
    results: list[DiffResult] = []
    try:
        if pairs is None:
            old, new = (None, paths[:1]) if against is not None else (paths[:1], paths[1:])
            results.append(diff(old, new, include_dirs, against))
        else:
            results += [compare_sides(old_side, new_side) for old_side, new_side in pairs]
    except InputError as exc:
        _fail(str(exc))
        return
    for result in results:
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
    shown = [r.at(chosen, switched_off) for r in results]
    hidden = sum(len(r.at(Level.WARNING, switched_off)) for r in results) - sum(map(len, shown))
    if output == "json":
        click.echo(results[0].json(shown[0], chosen, hidden))
    else:
        for result, findings in zip(results, shown, strict=True):
            for finding in findings:
                click.echo(result.render(finding))
        total = sum(map(len, shown))
        more = f"; {hidden} more at looser levels (--level warning shows all)" if hidden else ""
        count = f"{total} finding{'s' if total != 1 else ''}" if total else "no findings"
        click.echo(f"{count} at level {level}{more}")
    sys.exit(1 if any(shown) else 0)


def _locked_sides(entry_name: str, repo_name: str | None) -> list[tuple[Side, Side]]:
    """For each repo of the project's entry: its services' IDL at the lock (OLD) and
    at the commit the repo's ref names now (NEW)."""
    from pilota.diff import Side
    from volo_cli import gitsource
    from volo_cli.config import CONFIG, ProjectError, read_config
    from volo_cli.project import find_root

    try:
        entry = read_config(find_root(Path.cwd()) / CONFIG).entry(entry_name)
        if repo_name is not None and repo_name not in entry.repos:
            known = ", ".join(repr(n) for n in entry.repos) or "none"
            raise ProjectError(
                f"entry '{entry_name}' has no repo {repo_name!r} (its repos: {known})"
            )
        pairs = []
        for name, repo in entry.repos.items():
            services = [s for s in entry.services if s.idl.repo == name]
            if (repo_name is not None and name != repo_name) or not services:
                continue
            now = gitsource.resolve(repo.url, repo.ref)
            sides = []
            versions = [("OLD", repo.lock, f"{name}@{repo.lock[:12]}"),
                        ("NEW", now, f"{name}@{repo.ref}:{now[:12]}")]  # fmt: skip
            for label, commit, shown in versions:
                top = gitsource.tree(repo.url, commit)
                paths = [top / s.idl.path for s in services]
                includes = list(dict.fromkeys(top / i for s in services for i in s.idl.includes))
                sides.append(Side(label, paths, top, includes, git_root=top, ref=shown))
            pairs.append((sides[0], sides[1]))
    except ProjectError as exc:
        _fail(str(exc))
    if not pairs:
        _fail(
            f"entry '{entry_name}' takes no IDL from git: --locked compares a repo's lock "
            "with what its ref names now"
        )
    return pairs
