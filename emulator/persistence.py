"""The workspace's endpoints kept across emulator runs (`python -m emulator --state-file PATH`).

A real workspace outlives a deployment; the local one must too, or the second `pulumi up` of the README's
main job would find its endpoints gone. What is kept is what the control plane shows: each endpoint's id,
name, creator, timestamps, grants, tags, description, notifications, AI Gateway, route optimization, budget
policy, its active config (entities with their states, messages and logs) and an update that had not
finished; and the notification destinations, alerts and quality monitors (`emulator.monitoring`). Not
kept: the data plane's warmth (a restarted emulator starts every entity cold, as a restarted model server
would), metrics, rate-limit budgets, faults, OAuth tokens and admin-API changes to workspace objects (those
come from the settings again). An update under way when the emulator stopped is re-armed
to finish `update_seconds` after the next start.

The file is JSON with the pydantic specs dumped by the schemas' own models, written atomically.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from emulator.metrics import EndpointMetrics
from emulator.permissions import AccessControlList
from emulator.routing import make_router
from emulator.schemas import ConfigSpec, EntitySpec
from emulator.state import Endpoint, EndpointConfig, PendingUpdate, ServedEntity, Workspace

FORMAT = 1


def _entity(entity: ServedEntity) -> dict[str, Any]:
    return {
        "spec": entity.spec.model_dump(mode="json"),
        "creator": entity.creator,
        "creation_timestamp": entity.creation_timestamp,
        "deployment": entity.deployment,
        "message": entity.message,
        "build_logs": entity.build_logs,
        "server_logs": entity.server_logs,
    }


def _config(config: EndpointConfig) -> dict[str, Any]:
    return {
        "spec": config.spec.model_dump(mode="json"),
        "entities": [_entity(e) for e in config.entities],
        "config_version": config.config_version,
        "start_time": config.start_time,
    }


def _endpoint(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "name": endpoint.name,
        "creator": endpoint.creator,
        "creation_timestamp": endpoint.creation_timestamp,
        "last_updated_timestamp": endpoint.last_updated_timestamp,
        "grants": [[kind, name, level] for (kind, name), level in endpoint.acl.grants.items()],
        "tags": endpoint.tags,
        "description": endpoint.description,
        "email_notifications": endpoint.email_notifications,
        "ai_gateway": endpoint.ai_gateway,
        "route_optimized": endpoint.route_optimized,
        "budget_policy_id": endpoint.budget_policy_id,
        "config": _config(endpoint.config) if endpoint.config else None,
        "pending": {"config": _config(endpoint.pending.config), "failed": endpoint.pending.failed}
        if endpoint.pending
        else None,
        "config_update": endpoint.config_update,
        "next_config_version": endpoint.next_config_version,
    }


def save(workspace: Workspace, path: Path) -> None:
    endpoints = [_endpoint(e) for e in workspace.all()]
    temporary = path.with_suffix(path.suffix + ".tmp")
    data = {"format": FORMAT, "endpoints": endpoints, "monitoring": workspace.monitoring.as_json()}
    temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(temporary, path)


def _entity_from(data: dict[str, Any]) -> ServedEntity:
    return ServedEntity(
        spec=EntitySpec.model_validate(data["spec"]),
        creator=data["creator"],
        creation_timestamp=data["creation_timestamp"],
        deployment=data["deployment"],
        message=data["message"],
        build_logs=data["build_logs"],
        server_logs=data["server_logs"],
    )


def _config_from(data: dict[str, Any]) -> EndpointConfig:
    return EndpointConfig(
        spec=ConfigSpec.model_validate(data["spec"]),
        entities=[_entity_from(e) for e in data["entities"]],
        config_version=data["config_version"],
        start_time=data["start_time"],
    )


def load(workspace: Workspace, path: Path) -> int:
    """Restore the endpoints of `path` into `workspace`; returns how many. A missing file is an empty
    workspace; an unreadable one is said on stderr and the workspace starts empty (nothing is overwritten
    until the next save)."""
    if not path.exists():
        return 0
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        restored = [_restore(workspace, item) for item in data["endpoints"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"emulator: {path}: not restored ({error}); starting with no endpoints", file=sys.stderr)
        return 0
    for endpoint in restored:
        workspace.endpoints[endpoint.name] = endpoint
    # A file written before monitoring was kept has none: the workspace starts without destinations.
    workspace.monitoring.restore(data.get("monitoring") or {})
    return len(restored)


def _restore(workspace: Workspace, data: dict[str, Any]) -> Endpoint:
    settings = workspace.settings
    endpoint = Endpoint(
        id=data["id"],
        name=data["name"],
        creator=data["creator"],
        creation_timestamp=data["creation_timestamp"],
        last_updated_timestamp=data["last_updated_timestamp"],
        acl=AccessControlList({(kind, name): level for kind, name, level in data["grants"]}),
        tags=data["tags"],
        description=data["description"],
        email_notifications=data["email_notifications"],
        route_optimized=data["route_optimized"],
        budget_policy_id=data["budget_policy_id"],
        config=_config_from(data["config"]) if data["config"] else None,
        config_update=data["config_update"],
        next_config_version=data["next_config_version"],
        metrics=EndpointMetrics(settings.metrics_window_seconds),
    )
    workspace.set_ai_gateway(endpoint, data["ai_gateway"] or {})
    if data["pending"]:
        failed = data["pending"]["failed"]
        endpoint.pending = PendingUpdate(
            config=_config_from(data["pending"]["config"]),
            completes_at=time.monotonic() + settings.update_seconds,
            failed=failed,
        )
    if endpoint.config is not None:
        endpoint.router = make_router(
            settings.routing,
            endpoint.config.spec.routes,
            seed=f"{settings.routing_seed}:{endpoint.name}:{endpoint.config.config_version}",
        )
    return endpoint
