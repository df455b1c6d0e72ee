"""A change in domain terms: one line per endpoint (`risk-classifier: traffic 90/10 -> 50/50; rollout to 50% in
1 step`, `fraud-scorer: version 2 -> 3`, `new endpoint ...`, `removed ...`, `no change`).

Read from the review's resource summaries (review/summary.py): each `ServingEndpoint` component with its
children is one endpoint. The declared traffic is the endpoint's target (its readiness resource holds it,
whether or not a rollout moves it there); served entities, tags and access come from the ModelServing and
Permissions children. The field-by-field diff (review/diff.py) stays the detail under these lines. A field
absent on one side and the API's default on the other is not a change (review/defaults.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from review.defaults import same_setting
from review.summary import ALERT_V2, MODEL_SERVING, PERMISSIONS, SERVING_ENDPOINT, ResourceSummary, format_value

READINESS = "servingops:index:EndpointReadiness"
ROLLOUT = "servingops:index:EndpointRollout"
PREFLIGHT = "servingops:index:EndpointPreflight"
"""Its inputs restate what the endpoint, its permissions and tables declare: a change there is said once."""
ENTITY_IDENTITY = ("model", "version")
MAX_OTHER_FIELDS_SHOWN = 3


@dataclass
class EndpointView:
    """What one endpoint declares (or, for the live report, serves), in the terms a reviewer speaks."""

    key: str
    name: str | None = None
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Served entity name -> {model, version, workload_size, workload_type, scale_to_zero, ...}, in order."""
    traffic: dict[str, int] = field(default_factory=dict)
    """Served entity name -> declared (target) share."""
    access: dict[str, str] = field(default_factory=dict)
    """`service_principal:<id>`, `group:<name>`, `user:<name>` -> permission level."""
    tags: dict[str, Any] = field(default_factory=dict)
    rollout: dict[str, Any] | None = None
    """`candidate`, `stable`, `steps` of a rollout block; None without one."""
    gateway: dict[str, Any] = field(default_factory=dict)
    """The ModelServing's `ai_gateway.*` fields as the review's tree shows them (`rate_limits.endpoint`, ...)."""
    fields: dict[tuple[str, str], Any] = field(default_factory=dict)
    """Every reviewable field of the endpoint's resources, by (child resource suffix, field)."""
    alerts: dict[str, Any] = field(default_factory=dict)
    """Alert resource suffix (`alert-latency`) -> what pages (`p95_latency_ms > 300`)."""


def _suffix(child: str, key: str) -> str:
    return child[len(key) + 1 :] if child.startswith(f"{key}-") else child


def _entity_fields(fields: Mapping[str, Any], prefix: str = "served_entities.") -> dict[str, dict[str, Any]]:
    entities: dict[str, dict[str, Any]] = {}
    for name, value in fields.items():
        if name.startswith(prefix):
            entity, _, attribute = name[len(prefix) :].partition(".")
            entities.setdefault(entity, {})[attribute] = value
    return entities


def _routes(fields: Mapping[str, Any], prefix: str) -> dict[str, int]:
    return {name[len(prefix) :]: value for name, value in fields.items() if name.startswith(prefix)}


def endpoint_views(summaries: Sequence[ResourceSummary]) -> dict[str, EndpointView]:
    """Each `ServingEndpoint` component of a run as an EndpointView, by endpoint key."""
    views = {summary.urn: EndpointView(summary.name) for summary in summaries if summary.type == SERVING_ENDPOINT}
    for summary in summaries:
        view = views.get(summary.parent)
        if view is None or summary.type == PREFLIGHT:
            continue
        suffix = _suffix(summary.name, view.key)
        for name, value in summary.fields.items():
            view.fields[(suffix, name)] = value
        if summary.type == MODEL_SERVING:
            view.name = summary.fields.get("name")
            view.entities = _entity_fields(summary.fields)
            view.tags = {
                name[len("tags.") :]: value for name, value in summary.fields.items() if name.startswith("tags.")
            }
            view.traffic = view.traffic or _routes(summary.fields, "traffic.")
            view.gateway = _routes(summary.fields, "ai_gateway.")
        elif summary.type == PERMISSIONS:
            view.access = {
                name[len("access.") :]: value for name, value in summary.fields.items() if name.startswith("access.")
            }
        elif summary.type == READINESS:
            # The declared split, also when a rollout moves the traffic there.
            view.traffic = _routes(summary.fields, "traffic.") or view.traffic
        elif summary.type == ALERT_V2:
            view.alerts[suffix] = summary.fields.get("alert")
        elif summary.type == ROLLOUT:
            view.rollout = {
                "candidate": summary.fields.get("candidate"),
                "stable": summary.fields.get("stable"),
                "steps": list(summary.fields.get("steps") or []),
            }
    return {view.key: view for view in views.values()}


def rollout_walk(steps: Sequence[int], current: int, target: int) -> list[int]:
    """The candidate shares a rollout passes through from `current` to `target` (as `RolloutPlan.walk`)."""
    if target > current:
        return [step for step in steps if current < step < target] + [target]
    return [target] if target < current else []


def _served(entity: Mapping[str, Any]) -> str:
    """`risk_classifier v4`, or for an external model `openai gpt-4o (llm/v1/chat)`."""
    if entity.get("external_model") is not None:
        return str(entity["external_model"])
    return f"{_short(entity.get('model'))} v{entity.get('version')}"


def _short(model: Any) -> str:
    return str(model).rsplit(".", 1)[-1]


def format_split(traffic: Mapping[str, int], order: Sequence[str]) -> str:
    """Shares in `order` as `90/10`."""
    return "/".join(str(traffic.get(name, 0)) for name in order)


def _traffic_change(before: Mapping[str, int], after: Mapping[str, int]) -> str | None:
    if dict(before) == dict(after):
        return None
    if list(before) == list(after):
        return f"traffic {format_split(before, list(before))} -> {format_split(after, list(after))}"
    shown = [f"{name} {share}%" for name, share in after.items()]
    was = [f"{name} {share}%" for name, share in before.items()]
    return f"traffic {', '.join(was) or 'none'} -> {', '.join(shown)}"


def _version_changes(before: EndpointView, after: EndpointView) -> tuple[list[str], dict[str, str]]:
    """The version changes in words, and which old served entity each new one replaces (old -> new name)."""
    parts: list[str] = []
    replaced: dict[str, str] = {}
    removed = {name: entity for name, entity in before.entities.items() if name not in after.entities}
    added = {name: entity for name, entity in after.entities.items() if name not in before.entities}
    models = {entity.get("model") for entity in [*before.entities.values(), *after.entities.values()]}
    qualify = len(models) > 1
    for name, entity in after.entities.items():  # the same served name, another version
        old = before.entities.get(name)
        if old is not None and old.get("version") != entity.get("version"):
            label = f"{name} version" if qualify else "version"
            parts.append(f"{label} {old.get('version')} -> {entity.get('version')}")
    for name, entity in list(added.items()):  # a served entity replaced by one of the same model
        match = next((old for old, was in removed.items() if was.get("model") == entity.get("model")), None)
        if match is not None:
            label = f"{_short(entity.get('model'))} version" if qualify else "version"
            parts.append(f"{label} {removed.pop(match).get('version')} -> {entity.get('version')}")
            replaced[match] = name
            del added[name]
    parts += [
        f"serves {_short(entity.get('model'))} v{entity.get('version')} as {name}" for name, entity in added.items()
    ]
    parts += [
        f"stops serving {_short(entity.get('model'))} v{entity.get('version')} ({name})"
        for name, entity in removed.items()
    ]
    return parts, replaced


def _capacity_changes(before: EndpointView, after: EndpointView) -> list[str]:
    parts = []
    for name, entity in after.entities.items():
        old = before.entities.get(name)
        if old is None:
            continue
        for attribute in dict.fromkeys([*entity, *old]):
            if attribute in ENTITY_IDENTITY or same_setting(attribute, old.get(attribute), entity.get(attribute)):
                continue
            parts.append(f"{name} {attribute} {_value(old.get(attribute))} -> {_value(entity.get(attribute))}")
    return parts


def _value(value: Any) -> str:
    return "(none)" if value is None else format_value(value)


def _map_changes(label: str, prefix: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str | None:
    """`prefix`: the summary fields' (`tags.`), which says whether a key alone is a setting."""
    items = []
    for key in dict.fromkeys([*after, *before]):
        if same_setting(prefix + key, before.get(key), after.get(key)):
            continue  # absent on one side, the API's default on the other: nothing changes
        if key not in before:
            items.append(f"+ {key} {_value(after[key])}")
        elif key not in after:
            items.append(f"- {key}")
        elif before[key] != after[key]:
            items.append(f"{key} {_value(before[key])} -> {_value(after[key])}")
    return f"{label} " + ", ".join(items) if items else None


def _rollout_change(before: EndpointView, after: EndpointView) -> str | None:
    rollout = after.rollout
    if not rollout or rollout.get("candidate") not in after.traffic:
        return None
    candidate = rollout["candidate"]
    current, target = int(before.traffic.get(candidate, 0)), int(after.traffic[candidate])
    if current == target:
        return None
    if target < current:
        return f"{candidate} back to {target}% in one config update (not gated)"
    walk = rollout_walk(rollout.get("steps") or [], current, target)
    steps = f"{len(walk)} step" + ("s" if len(walk) != 1 else "")
    return f"rollout to {target}% in {steps}"


def _covered(suffix: str, name: str) -> bool:
    """Fields the domain parts of the line already speak of."""
    if suffix == "endpoint":
        return name.startswith(("served_entities.", "traffic.", "tags.", "ai_gateway.")) or name == "name"
    if suffix == "permissions":
        return name.startswith("access.") or name == "serving_endpoint_id"
    if suffix in ("readiness", "rollout"):
        return name.startswith(("served_entities.", "traffic.", "target.")) or name in ("plan", "endpoint_name")
    if suffix == "deployment":
        return True  # it repeats the endpoint's entities and routes, with a timeout: nothing of its own to say
    if suffix.startswith("alert-"):
        return name in ("alert", "summary", "description", "display_name")  # the alert's one line says them
    return False


def describe_endpoint_change(key: str, before: EndpointView | None, after: EndpointView | None) -> str:
    """The one line that says what the change does to endpoint `key`."""
    if before is None and after is None:
        raise ValueError(f"{key}: neither side declares it")
    if before is None:
        assert after is not None
        served = ", ".join(
            _served(entity) + (f" {after.traffic[name]}%" if len(after.entities) > 1 and name in after.traffic else "")
            for name, entity in after.entities.items()
        )
        return f"{key}: new endpoint {after.name or key} serving {served}"
    if after is None:
        return f"{key}: removed (endpoint {before.name or key} is deleted)"
    parts: list[str] = []
    if before.name != after.name:
        parts.append(f"renamed {before.name} -> {after.name} (a new endpoint)")
    versions, replaced = _version_changes(before, after)
    parts += versions
    # A route that follows its entity to the new version is part of the version change, not a traffic change.
    traffic = _traffic_change(
        {replaced.get(name, name): share for name, share in before.traffic.items()}, after.traffic
    )
    if traffic:
        parts.append(traffic)
    rollout = _rollout_change(before, after)
    if rollout:
        parts.append(rollout)
    parts += _capacity_changes(before, after)
    for label, prefix, old, new in (
        ("access", "access.", before.access, after.access),
        ("tags", "tags.", before.tags, after.tags),
        ("AI Gateway", "ai_gateway.", before.gateway, after.gateway),
        ("alerts", "alert.", before.alerts, after.alerts),
    ):
        change = _map_changes(label, prefix, old, new)
        if change:
            parts.append(change)
    others = [
        f"{suffix} {name}" if suffix != "endpoint" else name
        for suffix, name in dict.fromkeys([*after.fields, *before.fields])
        if not _covered(suffix, name)
        and not same_setting(name, before.fields.get((suffix, name)), after.fields.get((suffix, name)))
    ]
    if others:
        shown = ", ".join(others[:MAX_OTHER_FIELDS_SHOWN])
        more = f" and {len(others) - MAX_OTHER_FIELDS_SHOWN} more" if len(others) > MAX_OTHER_FIELDS_SHOWN else ""
        parts.append(f"also {shown}{more} (details below)")
    return f"{key}: " + ("; ".join(parts) if parts else "no change")


def change_lines(base: Sequence[ResourceSummary], candidate: Sequence[ResourceSummary]) -> list[str]:
    """One line per endpoint either side declares, in key order."""
    before, after = endpoint_views(base), endpoint_views(candidate)
    return [
        describe_endpoint_change(key, before.get(key), after.get(key)) for key in sorted(before.keys() | after.keys())
    ]


def declared_lines(summaries: Sequence[ResourceSummary]) -> list[str]:
    """Without a comparison: one line per endpoint saying what it declares."""
    lines = []
    for key, view in sorted(endpoint_views(summaries).items()):
        served = ", ".join(f"{_served(entity)} {view.traffic.get(name, 0)}%" for name, entity in view.entities.items())
        line = f"{key}: {view.name or key} serves {served}"
        if view.rollout and view.rollout.get("candidate") in view.traffic:
            line += f"; rollout of {view.rollout['candidate']} through {view.rollout['steps']}"
        if view.alerts:
            line += "; alerts " + ", ".join(str(view.alerts[suffix]) for suffix in sorted(view.alerts))
        lines.append(line)
    return lines
