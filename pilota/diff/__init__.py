"""Breaking-change detection between two versions of an IDL (`volo idl diff`).

    result = diff(["v1/api.thrift"], ["v2/api.thrift"])
    for finding in result.at(Level.WIRE):
        print(result.render(finding))

Thrift and protobuf alike: both front-ends produce one IR, and one set of
rules (`pilota.diff.rules`) reads it. See `engine` for how definitions are
matched between the versions, `inputs` for files, folders and git refs.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pilota.diff.engine import Finding, compare
from pilota.diff.inputs import (
    InputError,
    Side,
    anchor_of,
    at_ref,
    compile_side,
    known_files,
    repository_root,
)
from pilota.diff.report import as_json, render_text, sort_key
from pilota.diff.rules import RULES, Level, Rule, list_rules

__all__ = [
    "RULES", "DiffResult", "Finding", "InputError", "Level", "Rule", "Side", "compare_sides",
    "diff", "list_rules",
]  # fmt: skip

PathLike = str | os.PathLike[str]


@dataclass
class DiffResult:
    old: Side
    new: Side
    findings: list[Finding] = field(default_factory=list)  # every rule's, sorted by place
    work: int = 0  # pairs compared (see `engine.Comparison.work`)

    @property
    def compiled(self) -> bool:
        return self.old.version is not None and self.new.version is not None

    def at(self, level: Level, ignored: Collection[str] = ()) -> list[Finding]:
        """The findings of rules at `level` or stricter, less those switched off."""
        return [f for f in self.findings if f.rule.level <= level and f.rule.id not in ignored]

    def render(self, finding: Finding) -> str:
        return render_text(finding, self.old, self.new)

    def json(self, findings: Sequence[Finding], level: Level, hidden: int) -> str:
        return as_json(findings, self.old, self.new, level, hidden)


def diff(
    old: Sequence[PathLike] | None,
    new: Sequence[PathLike],
    include_dirs: Sequence[PathLike] = (),
    against: str | None = None,
) -> DiffResult:
    """Compare OLD with NEW (files or folders), or NEW with the same paths at the git
    ref `against`. Raises `InputError` for what cannot be compared; an input that does
    not compile gives a result whose `compiled` is False (its sides hold the
    compiler's diagnostics)."""
    new_paths = [Path(p) for p in new]
    dirs = [Path(d) for d in include_dirs]
    if not new_paths:
        raise InputError("nothing to compare: give OLD and NEW")
    if against is None:
        if not old:
            raise InputError("nothing to compare: give OLD and NEW, or NEW with --against REF")
        old_paths = [Path(p) for p in old]
        old_side = Side("OLD", old_paths, anchor_of(old_paths), dirs)
        new_side = Side("NEW", new_paths, anchor_of(new_paths), dirs)
        return compare_sides(old_side, new_side)
    with at_ref(against, new_paths, dirs) as old_side:
        top = repository_root(new_paths[0])
        new_side = Side("NEW", new_paths, top, dirs, known=known_files(top))
        return compare_sides(old_side, new_side)


def compare_sides(old: Side, new: Side) -> DiffResult:
    """Compile both sides and compare them (for sides made by the caller, such as
    two commits of a project's IDL repository)."""
    compile_side(old)
    compile_side(new)
    result = DiffResult(old, new)
    if old.version is None or new.version is None:
        return result
    comparison = compare(old.version, new.version)
    result.findings = sorted(comparison.findings, key=lambda f: sort_key(f, old, new))
    result.work = comparison.work
    return result
