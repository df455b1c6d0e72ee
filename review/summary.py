"""What a reviewer needs to see of each declared resource, as flat `field: value` pairs.

One summary per resource, used both to print the resource tree and to diff two runs field by field
(`traffic.risk_classifier-4: 10 -> 50`). Secret values are shown as `[secret]`, never in clear.
"""

from __future__ import annotations

from typing import Any

from review.engine import DeclaredResource, is_secret

SECRET = "[secret]"

MODEL_SERVING = "databricks:index/modelServing:ModelServing"
PERMISSIONS = "databricks:index/permissions:Permissions"
SERVING_ENDPOINT = "serving:index:ServingEndpoint"


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


def _principal(grant: dict[str, Any]) -> str:
    for kind in ("service_principal_name", "group_name", "user_name"):
        camel = "".join(part.title() if i else part for i, part in enumerate(kind.split("_")))
        if grant.get(camel) is not None:
            return f"{kind.removesuffix('_name')}:{grant[camel]}"
    return "unknown principal"


def _model_serving(inputs: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": inputs.get("name")}
    if inputs.get("description"):
        fields["description"] = inputs["description"]
    config = inputs.get("config") or {}
    for entity in config.get("servedEntities") or []:
        prefix = f"served_entities.{entity.get('name')}"
        fields[f"{prefix}.model"] = entity.get("entityName")
        fields[f"{prefix}.version"] = entity.get("entityVersion")
        if entity.get("workloadSize") is not None:
            fields[f"{prefix}.workload_size"] = entity["workloadSize"]
        else:
            fields[f"{prefix}.provisioned_concurrency"] = (
                f"{entity.get('minProvisionedConcurrency')}-{entity.get('maxProvisionedConcurrency')}"
            )
        fields[f"{prefix}.workload_type"] = entity.get("workloadType")
        fields[f"{prefix}.scale_to_zero"] = entity.get("scaleToZeroEnabled")
        for key, value in sorted((entity.get("environmentVars") or {}).items()):
            fields[f"{prefix}.environment_vars.{key}"] = value
    for route in (config.get("trafficConfig") or {}).get("routes") or []:
        fields[f"traffic.{route.get('servedEntityName')}"] = route.get("trafficPercentage")
    capture = config.get("autoCaptureConfig")
    if capture:
        fields["inference_table"] = (
            f"{capture.get('catalogName')}.{capture.get('schemaName')}.{capture.get('tableNamePrefix')}*"
        )
    for tag in inputs.get("tags") or []:
        fields[f"tags.{tag.get('key')}"] = tag.get("value")
    notifications = inputs.get("emailNotifications") or {}
    for key, field in (("onUpdateSuccesses", "on_update_success"), ("onUpdateFailures", "on_update_failure")):
        if notifications.get(key):
            fields[f"notifications.{field}"] = ", ".join(notifications[key])
    return fields


def _permissions(inputs: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"serving_endpoint_id": inputs.get("servingEndpointId")}
    for grant in inputs.get("accessControls") or []:
        fields[f"access.{_principal(grant)}"] = grant.get("permissionLevel")
    return fields


def _generic(inputs: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in inputs.items() if not key.startswith("__")}


SUMMARIES = {MODEL_SERVING: _model_serving, PERMISSIONS: _permissions}
"""Per resource type, the fields worth reviewing; other types show their inputs as they are."""


def summarize(resource: DeclaredResource) -> dict[str, Any]:
    """The resource's reviewable fields, secrets masked."""
    if is_secret(resource.inputs):
        return {"inputs": SECRET}
    if not resource.custom:
        return {}
    inputs = {key: value for key, value in resource.inputs.items()}
    masked = {key: (SECRET if is_secret(value) else value) for key, value in inputs.items()}
    fields = SUMMARIES.get(resource.type, _generic)(masked)
    return {key: _shown(value) for key, value in fields.items() if value is not None}
