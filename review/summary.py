"""What a reviewer needs to see of each declared resource, as flat `field: value` pairs.

One summary per resource, used both to print the resource tree and to diff two runs field by field
(`traffic.risk_classifier-4: 10 -> 50`). Secret values are shown as `[secret]`, never in clear.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from components.config import CREATION_ONLY
from review.engine import DeclaredResource, is_secret

SECRET = "[secret]"

RECREATES = "a change recreates the endpoint"
AT_CREATION = "applies at creation only"
CREATION_ONLY_FIELDS = {
    # endpoint key (components.config.CREATION_ONLY) -> the ModelServing property that carries it
    "route_optimized": "routeOptimized",
    "description": "description",
    "budget_policy_id": "budgetPolicyId",
}
"""The creation-only keys a summary shows under a name that says so (`name` is the endpoint's identity)."""
assert set(CREATION_ONLY_FIELDS) <= set(CREATION_ONLY)

MODEL_SERVING = "databricks:index/modelServing:ModelServing"
PERMISSIONS = "databricks:index/permissions:Permissions"
SERVING_ENDPOINT = "serving:index:ServingEndpoint"
ALERT_V2 = "databricks:index/alertV2:AlertV2"
NOTIFICATION_DESTINATION = "databricks:index/notificationDestination:NotificationDestination"
COMPARISONS = {"GREATER_THAN": ">", "GREATER_THAN_OR_EQUAL": ">=", "LESS_THAN": "<", "LESS_THAN_OR_EQUAL": "<="}


@dataclass(frozen=True)
class ResourceSummary:
    """One declared resource as a reviewer sees it: where it sits, and its reviewable fields."""

    type: str
    name: str
    urn: str
    parent: str
    """URN of the parent resource ('' for the stack itself)."""
    fields: dict[str, Any]
    """Reviewable fields, flat (`served_entities.risk_classifier-4.version`), secrets masked."""

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the resource across two runs (two revisions, or two stacks)."""
        return (self.type, self.name)


def _shown(value: Any) -> Any:
    """The value as a reviewer may see it: secrets masked at any depth, whole numbers as ints."""
    if is_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {key: _shown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shown(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def format_value(value: Any) -> str:
    """A field's value in one line, as in a stack file: `false`, `10`, `Medium`, `[a, b]` as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _label(value: Any) -> str:
    """A value that becomes part of a field's name or a composed value: a secret one as `[secret]`."""
    return SECRET if is_secret(value) else str(_shown(value))


def _principal(grant: dict[str, Any]) -> str:
    for kind in ("service_principal_name", "group_name", "user_name"):
        camel = "".join(part.title() if i else part for i, part in enumerate(kind.split("_")))
        if grant.get(camel) is not None:
            return f"{kind.removesuffix('_name')}:{_label(grant[camel])}"
    return "unknown principal"


def _open(value: Any, fields: dict[str, Any], field: str) -> Any:
    """`value` to look into; a secret structure instead becomes the one field `field`, shown as `[secret]`."""
    if is_secret(value):
        fields[field] = value
        return None
    return value


def _dict(value: Any, fields: dict[str, Any], field: str) -> dict[str, Any]:
    opened = _open(value, fields, field)
    return opened if isinstance(opened, dict) else {}


def _list(value: Any, fields: dict[str, Any], field: str) -> list[Any]:
    opened = _open(value, fields, field)
    return [item for item in opened if isinstance(item, dict)] if isinstance(opened, list) else []


def creation_only_field(key: str, recreated: bool) -> str:
    """`route_optimized (a change recreates the endpoint)`: a field name that says what a change does.

    `recreated`: the resource replaces itself when this property changes (replace_on_changes).
    """
    return f"{key} ({RECREATES if recreated or key == 'route_optimized' else AT_CREATION})"


def _rate_limit(limit: dict[str, Any]) -> tuple[str, Any]:
    key = _label(limit.get("key") or "endpoint")
    principal = limit.get("principal")
    field = f"ai_gateway.rate_limits.{key}" + (f":{_label(principal)}" if principal is not None else "")
    calls = limit.get("calls")
    per = f" per {key.replace('_', ' ')}" if principal is None and key != "endpoint" else ""
    return field, SECRET if is_secret(calls) else f"{_label(calls)} calls/{_label(limit.get('renewalPeriod'))}{per}"


def _inference_table(capture: dict[str, Any], kind: str) -> str:
    tables = ".".join(_label(capture.get(key)) for key in ("catalogName", "schemaName", "tableNamePrefix")) + "*"
    return f"{tables} ({kind}{', disabled' if capture.get('enabled') is False else ''})"


def _newer_kind(entity: dict[str, Any], prefix: str, fields: dict[str, Any]) -> bool:
    """One line for an external model (True: nothing else to show of it) or a throughput band; False otherwise."""
    external = entity.get("externalModel")
    if isinstance(external, dict):
        fields[f"{prefix}.external_model"] = (
            f"{_label(external.get('provider'))} {_label(external.get('name'))} ({_label(external.get('task'))})"
        )
        return True
    if entity.get("maxProvisionedThroughput") is not None:
        band = f"{_label(entity.get('minProvisionedThroughput'))}-{_label(entity.get('maxProvisionedThroughput'))}"
        fields[f"{prefix}.provisioned_throughput"] = f"{band} tokens/s"
    if entity.get("provisionedModelUnits") is not None:
        fields[f"{prefix}.provisioned_model_units"] = entity["provisionedModelUnits"]
    if entity.get("instanceProfileArn") is not None:
        fields[f"{prefix}.instance_profile_arn"] = entity["instanceProfileArn"]
    return False


def _guardrail(rails: dict[str, Any]) -> str:
    """`safety, pii BLOCK`: what one side's guardrails check."""
    checks = ["safety"] if rails.get("safety") is True else []
    pii = rails.get("pii")
    if isinstance(pii, dict) and pii.get("behavior") is not None:
        checks.append(f"pii {_label(pii['behavior'])}")
    return ", ".join(checks) or "none"


def _model_serving(inputs: dict[str, Any], replaced: tuple[str, ...] = ()) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": inputs.get("name")}
    for key, prop in CREATION_ONLY_FIELDS.items():
        if inputs.get(prop) is not None and inputs.get(prop) != "":
            fields[creation_only_field(key, prop in replaced)] = inputs[prop]
    config = _dict(inputs.get("config"), fields, "config")
    for entity in _list(config.get("servedEntities"), fields, "served_entities"):
        prefix = f"served_entities.{_label(entity.get('name'))}"
        if _newer_kind(entity, prefix, fields):
            continue
        fields[f"{prefix}.model"] = entity.get("entityName")
        fields[f"{prefix}.version"] = entity.get("entityVersion")
        if entity.get("workloadSize") is not None:
            fields[f"{prefix}.workload_size"] = entity["workloadSize"]
        elif entity.get("maxProvisionedThroughput") is not None or entity.get("provisionedModelUnits") is not None:
            pass  # provisioned throughput: shown by _newer_kind
        else:
            fields[f"{prefix}.provisioned_concurrency"] = (
                f"{_label(entity.get('minProvisionedConcurrency'))}-{_label(entity.get('maxProvisionedConcurrency'))}"
            )
        fields[f"{prefix}.workload_type"] = entity.get("workloadType")
        fields[f"{prefix}.scale_to_zero"] = entity.get("scaleToZeroEnabled")
        variables = _dict(entity.get("environmentVars"), fields, f"{prefix}.environment_vars")
        for key, value in sorted(variables.items()):
            fields[f"{prefix}.environment_vars.{key}"] = value
    traffic = _dict(config.get("trafficConfig"), fields, "traffic")
    for route in _list(traffic.get("routes"), fields, "traffic"):
        fields[f"traffic.{_label(route.get('servedEntityName'))}"] = route.get("trafficPercentage")
    gateway = _dict(inputs.get("aiGateway"), fields, "ai_gateway")
    capture = _dict(gateway.get("inferenceTableConfig"), fields, "inference_table")
    if capture:
        fields["inference_table"] = _inference_table(capture, "AI Gateway")
    legacy = _dict(config.get("autoCaptureConfig"), fields, "inference_table (legacy)")
    if legacy:
        # Declared by another program: Databricks refuses enabling legacy tables since 2026-02-20.
        fields["inference_table (legacy, refused by Databricks since 2026-02-20)"] = _inference_table(
            legacy, "config.auto_capture_config"
        )
    for limit in _list(gateway.get("rateLimits"), fields, "ai_gateway.rate_limits"):
        field, value = _rate_limit(limit)
        fields[field] = value
    for prop, field in (("usageTrackingConfig", "usage_tracking"), ("fallbackConfig", "fallback")):
        # A feature left out of a declared gateway is off (its PUT replaces the whole gateway config).
        if gateway:
            feature = _dict(gateway.get(prop), fields, f"ai_gateway.{field}")
            fields.setdefault(f"ai_gateway.{field}", feature.get("enabled") is True)
    guardrails = _dict(gateway.get("guardrails"), fields, "ai_gateway.guardrails")
    for side in ("input", "output"):
        rails = _dict(guardrails.get(side), fields, f"ai_gateway.guardrails.{side}")
        if rails:
            fields[f"ai_gateway.guardrails.{side}"] = _guardrail(rails)
    for tag in _list(inputs.get("tags"), fields, "tags"):
        fields[f"tags.{_label(tag.get('key'))}"] = tag.get("value")
    # Sent when the endpoint is created; afterwards the endpoint's EndpointNotifications applies them.
    notifications = _dict(inputs.get("emailNotifications"), fields, "notifications (at creation)")
    for key, field in (("onUpdateSuccesses", "on_update_success"), ("onUpdateFailures", "on_update_failure")):
        addresses = _open(notifications.get(key), fields, f"notifications (at creation).{field}")
        if isinstance(addresses, list) and addresses:
            fields[f"notifications (at creation).{field}"] = ", ".join(_label(address) for address in addresses)
    return fields


def _permissions(inputs: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"serving_endpoint_id": inputs.get("servingEndpointId")}
    for grant in _list(inputs.get("accessControls"), fields, "access"):
        fields[f"access.{_principal(grant)}"] = grant.get("permissionLevel")
    return fields


def _alert_v2(inputs: dict[str, Any]) -> dict[str, Any]:
    """An alert as its reader pages on it: `alert: p95_latency_ms > 300`, when, on which warehouse, whom."""
    fields: dict[str, Any] = {"display_name": inputs.get("displayName")}
    evaluation = _dict(inputs.get("evaluation"), fields, "alert")
    source = _dict(evaluation.get("source"), fields, "alert")
    threshold = _dict(_dict(evaluation.get("threshold"), fields, "alert").get("value"), fields, "alert")
    if source:
        operator = _label(evaluation.get("comparisonOperator"))
        value = next((threshold[key] for key in ("doubleValue", "stringValue", "boolValue") if key in threshold), None)
        fields["alert"] = f"{_label(source.get('name'))} {COMPARISONS.get(operator, operator)} {_label(value)}"
    fields["summary"] = inputs.get("customSummary")
    fields["description"] = inputs.get("customDescription")
    schedule = _dict(inputs.get("schedule"), fields, "schedule")
    if schedule:
        fields["schedule"] = f"{_label(schedule.get('quartzCronSchedule'))} ({_label(schedule.get('timezoneId'))})"
    fields["warehouse_id"] = inputs.get("warehouseId")
    notification = _dict(evaluation.get("notification"), fields, "notify")
    subscriptions = _list(notification.get("subscriptions"), fields, "notify")
    fields["notify"] = [_label(item.get("destinationId") or item.get("userEmail")) for item in subscriptions]
    fields["query"] = inputs.get("queryText")
    return fields


def _notification_destination(inputs: dict[str, Any]) -> dict[str, Any]:
    """A destination's kind and addresses; its webhook URL or integration key stays `[secret]`."""
    fields: dict[str, Any] = {"display_name": inputs.get("displayName")}
    config = _dict(inputs.get("config"), fields, "config")
    for kind, settings in sorted(config.items()):
        fields["kind"] = kind
        email = _dict(settings, fields, kind).get("addresses")
        if email is not None:
            fields["email"] = email
    return fields


def _named_items(value: Any) -> dict[str, Any] | None:
    """A list of objects each with a distinct `name` (served entities), keyed by that name; else None."""
    if not isinstance(value, list) or not value or is_secret(value):
        return None
    names = [item.get("name") if isinstance(item, dict) and not is_secret(item) else None for item in value]
    named = [name for name in names if isinstance(name, str)]
    if len(named) != len(names) or len(set(named)) != len(named):
        return None
    return {
        name: {key: item for key, item in entry.items() if key != "name"}
        for name, entry in zip(named, value, strict=True)
    }


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    # Nested inputs become dotted fields, so that a diff names the one value that changed.
    if prefix.endswith("_json") and isinstance(value, list) and all(isinstance(item, str) for item in value):
        # Request bodies as JSON text (serving.payloads): each shown as the text that is sent, one per field.
        for index, item in enumerate(value):
            into[f"{prefix}[{index}]"] = item
        return
    named = _named_items(value)
    if named is not None:
        value = named
    if isinstance(value, dict) and value and not is_secret(value):
        for key in sorted(value):
            _flatten(f"{prefix}.{key}", value[key], into)
    else:
        into[prefix] = value


def _generic(inputs: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in sorted(inputs):
        # `__provider` (a dynamic resource's pickled provider) and other engine internals are not reviewable.
        if not key.startswith("__"):
            _flatten(key, inputs[key], fields)
    return fields


SUMMARIES = {
    MODEL_SERVING: _model_serving,
    PERMISSIONS: _permissions,
    ALERT_V2: _alert_v2,
    NOTIFICATION_DESTINATION: _notification_destination,
}
ENDPOINT_ID_FIELDS = ("serving_endpoint_id", "endpoint_id")
"""Fields that hold an endpoint's id: the id is made up under the mock engine, the endpoint it names is not."""
"""Per resource type, the fields worth reviewing; other types show their inputs as they are."""


def summarize(
    resource: DeclaredResource, resources_by_urn: Mapping[str, DeclaredResource] | None = None
) -> dict[str, Any]:
    """The resource's reviewable fields, secrets masked.

    With the run's other resources (`resources_by_urn`), a field holding the id of an endpoint the resource
    depends on reads `id of <endpoint>`: the id is made up under the mock engine and means nothing to a reader.
    """
    if is_secret(resource.inputs):
        return {"inputs": SECRET}
    if not resource.custom:
        return {}
    # Secret values stay wrapped until the end: a summary places them, `_shown` masks them.
    if resource.type == MODEL_SERVING:
        fields = _model_serving(dict(resource.inputs), resource.replace_on_changes)
    else:
        fields = SUMMARIES.get(resource.type, _generic)(dict(resource.inputs))
    by_urn = resources_by_urn or {}
    endpoints = [
        by_urn[urn].name for urn in resource.dependencies if urn in by_urn and by_urn[urn].type == MODEL_SERVING
    ]
    if len(endpoints) == 1:
        for id_field in ENDPOINT_ID_FIELDS:
            if id_field in fields and not is_secret(fields[id_field]):
                fields[id_field] = f"id of {endpoints[0]}"
    if resource.type == ALERT_V2 and isinstance(fields.get("notify"), list):
        # Destination ids are made up under the mock engine too: the destinations it depends on are named.
        declared = sorted(
            by_urn[urn].name
            for urn in resource.dependencies
            if urn in by_urn and by_urn[urn].type == NOTIFICATION_DESTINATION
        )
        if len(declared) == len(fields["notify"]):
            fields["notify"] = ", ".join(declared)
    return {key: _shown(value) for key, value in fields.items() if value is not None}


def summarize_run(resources: Iterable[DeclaredResource]) -> list[ResourceSummary]:
    """Every declared resource's summary, ordered by name (registration order is asynchronous)."""
    declared = list(resources)
    by_urn = {resource.urn: resource for resource in declared}
    return [
        ResourceSummary(
            type=resource.type,
            name=resource.name,
            urn=resource.urn,
            parent=resource.parent,
            fields=summarize(resource, by_urn),
        )
        for resource in sorted(declared, key=lambda resource: (resource.name, resource.type))
    ]


def parent_names(summaries: Iterable[ResourceSummary]) -> dict[str, str]:
    """URN -> name, to show a resource's parent by name."""
    return {summary.urn: summary.name for summary in summaries}


def render_tree(stack: str, summaries: list[ResourceSummary]) -> str:
    """The declared resources as an indented tree: type and name, then each reviewable field."""
    urns = {summary.urn for summary in summaries}
    by_parent: dict[str, list[ResourceSummary]] = {}
    for summary in summaries:
        by_parent.setdefault(summary.parent if summary.parent in urns else "", []).append(summary)

    lines = [f"Stack {stack}: {len(summaries)} resources"]

    def walk(summary: ResourceSummary, depth: int) -> None:
        indent = "    " * depth
        lines.append(f"{indent}{summary.type}  {summary.name}")
        for key, value in summary.fields.items():
            lines.append(f"{indent}    {key}: {format_value(value)}")
        for child in by_parent.get(summary.urn, []):
            walk(child, depth + 1)

    for root in by_parent.get("", []):
        walk(root, 0)
    return "\n".join(lines)
