"""Findings as text (`file:line:col: rule-id: message`, the line, a caret) or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pilota.diagnostics import Diagnostic, Location, Severity
from pilota.diff.engine import Finding
from pilota.diff.inputs import Side
from pilota.diff.rules import Level


def _placed(finding: Finding, old: Side, new: Side) -> tuple[Location | None, str | None]:
    """The finding's location as the user knows the path, and the source line there."""
    loc = finding.location
    if loc is None:
        return None, None
    side = old if finding.old_side else new
    shown = Location(side.shown(loc.path), loc.line, loc.col, loc.length)
    return shown, side.source_line(loc.path, loc.line)


def sort_key(finding: Finding, old: Side, new: Side) -> tuple[str, int, int, str]:
    loc, _ = _placed(finding, old, new)
    return (loc.path, loc.line, loc.col, finding.rule.id) if loc else ("", 0, 0, finding.rule.id)


def render_text(finding: Finding, old: Side, new: Side) -> str:
    """As the compiler renders a diagnostic, with the rule's id where the severity goes."""
    loc, source_line = _placed(finding, old, new)
    rendered = Diagnostic(Severity.WARNING, finding.message, loc, source_line).render()
    prefix = f"{loc}: " if loc else ""
    head = f"{prefix}{Severity.WARNING.value}: "
    return f"{prefix}{finding.rule.id}: " + rendered[len(head) :]


def as_json(findings: Sequence[Finding], old: Side, new: Side, level: Level, hidden: int) -> str:
    items = []
    for finding in findings:
        loc, _ = _placed(finding, old, new)
        items.append({
            "rule": finding.rule.id,
            "level": finding.rule.level.label,
            "message": finding.message,
            "path": loc.path if loc else None,
            "line": loc.line if loc else None,
            "column": loc.col if loc else None,
            "side": "old" if finding.old_side else "new",
        })  # fmt: skip
    return json.dumps(
        {"level": level.label, "findings": items, "not_shown": hidden}, indent=2, ensure_ascii=False
    )
