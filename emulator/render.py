"""Endpoints as JSON, in the shapes databricks-sdk parses (`ServingEndpointDetailed`,
`ServingEndpoint`, `EndpointCoreConfigOutput`, `EndpointPendingConfig`, `EndpointTags`).

Every body round-trips through its sdk dataclass (`Cls.from_dict(body).as_dict() == body`, checked by
tests/emulator/test_sdk_shapes.py): absent values and empty lists are omitted, as the real API omits
them and as the sdk's `as_dict` drops them, and no field is sent that the dataclass does not have.
"""

from __future__ import annotations

import time
from typing import Any

from emulator.oauth import authorization_details_for
from emulator.schemas import EntitySpec
from emulator.settings import EmulatorSettings
from emulator.state import Endpoint, EndpointConfig, ServedEntity


def endpoint_detailed(
    endpoint: Endpoint, permission_level: str | None, settings: EmulatorSettings, data_plane_url: str
) -> dict[str, Any]:
    """`data_plane_url`: the base URL where route-optimized endpoints are queried."""
    body: dict[str, Any] = _common(endpoint)
    if endpoint.config is not None:
        body["config"] = _config(endpoint.config, settings)
    if endpoint.pending is not None:
        body["pending_config"] = {
            **_config(endpoint.pending.config, settings),
            "start_time": endpoint.pending.config.start_time,
        }
    if permission_level is not None:
        body["permission_level"] = permission_level
    notifications = email_notifications(endpoint)
    if notifications:
        body["email_notifications"] = notifications
    for key in ("route_optimized", "budget_policy_id"):
        value = getattr(endpoint, key)
        if value is not None:
            body[key] = value
    if endpoint.route_optimized:
        # Databricks fills endpoint_url (and the data-plane details the sdk's data-plane client reads) for
        # route-optimized endpoints only.
        url = route_optimized_url(endpoint, settings, data_plane_url)
        body["endpoint_url"] = url
        body["data_plane_info"] = {
            "query_info": {
                "endpoint_url": url,
                "authorization_details": authorization_details_for(endpoint.id),
            }
        }
    return body


def route_optimized_url(endpoint: Endpoint, settings: EmulatorSettings, data_plane_url: str) -> str:
    """Databricks: https://<unique id>.<shard>.serving.azuredatabricks.net/<workspace id>/serving-endpoints/
    <name>/invocations. The path is the same here; the host is the emulator's one data-plane listener,
    since loopback cannot give each endpoint a host name of its own."""
    return f"{data_plane_url}/{settings.workspace_id}/serving-endpoints/{endpoint.name}/invocations"


def endpoint_summary(endpoint: Endpoint) -> dict[str, Any]:
    body = _common(endpoint)
    if endpoint.config is not None:
        body["config"] = {
            "served_entities": [
                {"name": e.name, "external_model": e.spec.external_model}
                if e.spec.external_model is not None
                else {"name": e.name, "entity_name": e.spec.entity_name, "entity_version": e.spec.entity_version}
                for e in endpoint.config.entities
            ]
        }
    if endpoint.budget_policy_id is not None:
        body["budget_policy_id"] = endpoint.budget_policy_id
    return body


def tags(endpoint: Endpoint) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} if v is not None else {"key": k} for k, v in endpoint.tags.items()]


def email_notifications(endpoint: Endpoint) -> dict[str, Any]:
    """Non-empty lists only: the sdk's EmailNotifications drops an empty list."""
    return {k: list(v) for k, v in (endpoint.email_notifications or {}).items() if v}


def _common(endpoint: Endpoint) -> dict[str, Any]:
    """Fields ServingEndpoint (list) and ServingEndpointDetailed (get) share."""
    body: dict[str, Any] = {
        "id": endpoint.id,
        "name": endpoint.name,
        "creator": endpoint.creator,
        "creation_timestamp": endpoint.creation_timestamp,
        "last_updated_timestamp": endpoint.last_updated_timestamp,
        "state": {"ready": endpoint.ready, "config_update": endpoint.config_update},
    }
    if endpoint.tags:
        body["tags"] = tags(endpoint)
    if endpoint.description is not None:
        body["description"] = endpoint.description
    if endpoint.ai_gateway:
        body["ai_gateway"] = endpoint.ai_gateway
    return body


def _config(config: EndpointConfig, settings: EmulatorSettings) -> dict[str, Any]:
    return {
        "served_entities": [_entity(e, settings) for e in config.entities],
        "traffic_config": {
            "routes": [
                {"served_model_name": name, "served_entity_name": name, "traffic_percentage": pct}
                for name, pct in config.spec.routes
            ]
        },
        "config_version": config.config_version,
    }


def _entity(entity: ServedEntity, settings: EmulatorSettings) -> dict[str, Any]:
    spec = entity.spec
    message = entity.message
    if entity.is_scaled_to_zero(time.monotonic(), settings):
        message = "Served entity is scaled to zero; the next request starts it."
    body: dict[str, Any] = {
        "name": spec.name,
        "entity_name": spec.entity_name,
        "entity_version": spec.entity_version,
        "workload_type": spec.workload_type,
        "scale_to_zero_enabled": spec.scale_to_zero_enabled,
        "state": {"deployment": entity.deployment, "deployment_state_message": message},
        "creator": entity.creator,
        "creation_timestamp": entity.creation_timestamp,
    }
    optional = {
        "workload_size": spec.workload_size,
        "environment_vars": spec.environment_vars,
        "min_provisioned_concurrency": spec.min_provisioned_concurrency,
        "max_provisioned_concurrency": spec.max_provisioned_concurrency,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return _newer_kinds(body, spec)


def _newer_kinds(body: dict[str, Any], spec: EntitySpec) -> dict[str, Any]:
    """An external model shows its `external_model` instead of a registered model and compute (SDK
    `ServedEntityOutput`); provisioned throughput and the instance profile as sent."""
    if spec.external_model is not None:
        for key in ("entity_name", "entity_version", "workload_type", "scale_to_zero_enabled"):
            body.pop(key, None)
        body["external_model"] = spec.external_model
    newer = {
        "min_provisioned_throughput": spec.min_provisioned_throughput,
        "max_provisioned_throughput": spec.max_provisioned_throughput,
        "provisioned_model_units": spec.provisioned_model_units,
        "burst_scaling_enabled": spec.burst_scaling_enabled,
        "instance_profile_arn": spec.instance_profile_arn,
    }
    body.update({k: v for k, v in newer.items() if v is not None})
    return body
