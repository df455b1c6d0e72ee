"""What a change does, field by field: two runs' summaries compared.

The base is what the reviewer compares against (another git revision's program and stack file, or
another stack); the candidate is what is reviewed. Resources are matched by type and name: the names
derive from endpoint keys, so they are the same across revisions and stacks. Values are compared as the
summaries show them, secrets already masked: a secret shows as `[secret]` on both sides. A field absent on
one side and holding the API's default on the other (`route_optimized: absent -> false`) is no change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from review.defaults import ABSENT, same_setting
from review.summary import ResourceSummary, format_value, parent_names

__all__ = ["ABSENT", "Change", "FieldChange", "ResourceChange", "diff_json", "diff_summaries", "render_diff"]


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: `traffic.risk_classifier-4: 10 -> 50`."""

    field: str
    before: Any
    """The base's value, or ABSENT."""
    after: Any
    """The candidate's value, or ABSENT."""


@dataclass(frozen=True)
class ResourceChange:
    """A resource that only one side declares, or whose fields differ."""

    change: Change
    type: str
    name: str
    fields: tuple[FieldChange, ...]


def _fields(summary: ResourceSummary, parents: dict[str, str]) -> dict[str, Any]:
    # The parent is compared by name: moving a resource to another parent replaces it in Pulumi.
    parent = parents.get(summary.parent)
    return {"parent": parent, **summary.fields} if parent else dict(summary.fields)


def diff_summaries(base: Sequence[ResourceSummary], candidate: Sequence[ResourceSummary]) -> list[ResourceChange]:
    """The resources that differ between `base` and `candidate`, in name order; [] when nothing changed."""
    base_by_key = {summary.key: summary for summary in base}
    candidate_by_key = {summary.key: summary for summary in candidate}
    base_parents, candidate_parents = parent_names(base), parent_names(candidate)
    changes = []
    for key in sorted(base_by_key.keys() | candidate_by_key.keys(), key=lambda key: (key[1], key[0])):
        before = _fields(base_by_key[key], base_parents) if key in base_by_key else None
        after = _fields(candidate_by_key[key], candidate_parents) if key in candidate_by_key else None
        if before is None:
            assert after is not None
            change, fields = Change.ADDED, [FieldChange(name, ABSENT, value) for name, value in after.items()]
        elif after is None:
            change, fields = Change.REMOVED, [FieldChange(name, value, ABSENT) for name, value in before.items()]
        else:
            change = Change.CHANGED
            # Fields in the candidate's order, then those it dropped.
            names = list(after) + [name for name in before if name not in after]
            fields = [
                FieldChange(name, before.get(name, ABSENT), after.get(name, ABSENT))
                for name in names
                # Absent on one side and the API's default on the other: the same endpoint (review/defaults.py).
                if not same_setting(name, before.get(name, ABSENT), after.get(name, ABSENT))
            ]
            if not fields:
                continue
        changes.append(ResourceChange(change, key[0], key[1], tuple(fields)))
    return changes


_MARKS = {Change.ADDED: "+", Change.REMOVED: "-", Change.CHANGED: "~"}


def _shown(value: Any) -> str:
    return "(absent)" if value is ABSENT else format_value(value)


def render_diff(changes: Sequence[ResourceChange], base: str, candidate: str) -> str:
    """The changes as text: `+` added, `-` removed, `~` changed with `field: before -> after`."""
    if not changes:
        return f"Changes from {base} to {candidate}: no changes"
    counts = {kind: sum(1 for change in changes if change.change is kind) for kind in Change}
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    lines = [f"Changes from {base} to {candidate}: {summary}"]
    for change in changes:
        lines.append(f"  {_MARKS[change.change]} {change.type}  {change.name}")
        for field in change.fields:
            if change.change is Change.CHANGED:
                lines.append(f"        {field.field}: {_shown(field.before)} -> {_shown(field.after)}")
            else:
                value = field.after if change.change is Change.ADDED else field.before
                lines.append(f"        {field.field}: {_shown(value)}")
    return "\n".join(lines)


def diff_json(changes: Sequence[ResourceChange], base: str, candidate: str) -> dict[str, Any]:
    """The changes for machines; a side that lacks a field has no `before` / `after` key."""

    def field_json(field: FieldChange) -> dict[str, Any]:
        shown: dict[str, Any] = {"field": field.field}
        if field.before is not ABSENT:
            shown["before"] = field.before
        if field.after is not ABSENT:
            shown["after"] = field.after
        return shown

    return {
        "base": base,
        "candidate": candidate,
        "changed": bool(changes),
        "resources": [
            {
                "change": str(change.change),
                "type": change.type,
                "name": change.name,
                "fields": [field_json(field) for field in change.fields],
            }
            for change in changes
        ],
    }
