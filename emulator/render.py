"""Endpoints as JSON, in the shapes databricks-sdk parses (`ServingEndpointDetailed`,
`ServingEndpoint`, `EndpointCoreConfigOutput`, `EndpointPendingConfig`). Absent values are omitted,
as the real API omits them."""

from __future__ import annotations

import time
from typing import Any

from emulator.settings import EmulatorSettings
from emulator.state import Endpoint, EndpointConfig, ServedEntity


def endpoint_detailed(endpoint: Endpoint, permission_level: str | None, settings: EmulatorSettings) -> dict:
    body: dict[str, Any] = _common(endpoint)
    if endpoint.config is not None:
        body["config"] = _config(endpoint.config, settings)
    if endpoint.pending is not None:
        body["pending_config"] = {**_config(endpoint.pending.config, settings),
                                  "start_time": endpoint.pending.config.start_time}
    if permission_level is not None:
        body["permission_level"] = permission_level
    for key in ("description", "email_notifications", "ai_gateway", "route_optimized", "budget_policy_id"):
        value = getattr(endpoint, key)
        if value is not None:
            body[key] = value
    return body


def endpoint_summary(endpoint: Endpoint) -> dict:
    body = _common(endpoint)
    if endpoint.config is not None:
        body["config"] = {"served_entities": [
            {"name": e.name, "entity_name": e.spec.entity_name, "entity_version": e.spec.entity_version}
            for e in endpoint.config.entities
        ]}
    if endpoint.description is not None:
        body["description"] = endpoint.description
    return body


def tags(endpoint: Endpoint) -> list[dict]:
    return [{"key": k, "value": v} if v is not None else {"key": k} for k, v in endpoint.tags.items()]


def _common(endpoint: Endpoint) -> dict:
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
    return body


def _config(config: EndpointConfig, settings: EmulatorSettings) -> dict:
    body: dict[str, Any] = {
        "served_entities": [_entity(e, settings) for e in config.entities],
        "traffic_config": {"routes": [
            {"served_model_name": name, "served_entity_name": name, "traffic_percentage": pct}
            for name, pct in config.spec.routes
        ]},
        "config_version": config.config_version,
    }
    if config.spec.auto_capture_config is not None:
        body["auto_capture_config"] = config.spec.auto_capture_config
    return body


def _entity(entity: ServedEntity, settings: EmulatorSettings) -> dict:
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
    return body
