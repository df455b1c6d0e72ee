"""`/api/2.0/serving-endpoints`: create, read, update config, tags, AI gateway, notifications, delete,
logs and metrics.

Permissions: any workspace principal may create (and so manages what it creates); reading needs
CAN_VIEW, changing needs CAN_MANAGE.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from emulator import render
from emulator.auth import Caller, CurrentWorkspace
from emulator.errors import does_not_exist
from emulator.metrics import CONTENT_TYPE, capacity_of
from emulator.schemas import (
    AiGatewayInput,
    CoreConfigInput,
    CreateEndpointInput,
    NotificationsInput,
    PatchTagsInput,
)
from emulator.settings import PrincipalSpec
from emulator.state import READY, Endpoint, ServedEntity, Workspace

router = APIRouter(prefix="/api/2.0/serving-endpoints")


def _detailed(endpoint: Endpoint, level: str | None, workspace: Workspace, request: Request) -> dict[str, Any]:
    data_plane_url = workspace.data_plane_url or str(request.base_url).rstrip("/")
    return render.endpoint_detailed(endpoint, level, workspace.settings, data_plane_url)


@router.post("")
async def create_endpoint(
    body: CreateEndpointInput, caller: Caller, workspace: CurrentWorkspace, request: Request
) -> dict[str, Any]:
    endpoint = workspace.create(body, caller)
    return _detailed(endpoint, "CAN_MANAGE", workspace, request)


@router.get("")
async def list_endpoints(caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    visible = [e for e in workspace.all() if e.acl.level_of(caller) is not None]
    return {"endpoints": [render.endpoint_summary(e) for e in visible]}


@router.get("/{name}")
async def get_endpoint(name: str, caller: Caller, workspace: CurrentWorkspace, request: Request) -> dict[str, Any]:
    workspace.counters.get_calls[name] += 1
    endpoint = workspace.get(name)
    endpoint.acl.require(caller, "CAN_VIEW", name)
    return _detailed(endpoint, endpoint.acl.level_of(caller), workspace, request)


@router.put("/{name}/config")
async def update_config(
    name: str, body: CoreConfigInput, caller: Caller, workspace: CurrentWorkspace, request: Request
) -> dict[str, Any]:
    """Changes served entities and traffic only (Databricks: PUT config replaces `served_entities`,
    `served_models`, `traffic_config`; the legacy `auto_capture_config` is refused). Anything else in the
    body (tags, description, route_optimized...) is ignored, as the real endpoint ignores it."""
    endpoint = _managed(workspace, name, caller)
    workspace.update_config(endpoint, body, caller)
    return _detailed(endpoint, endpoint.acl.level_of(caller), workspace, request)


@router.patch("/{name}/tags")
async def patch_tags(name: str, body: PatchTagsInput, caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    endpoint = _managed(workspace, name, caller)
    for tag in body.add_tags or []:
        endpoint.tags[tag.key] = tag.value
    for key in body.delete_tags or []:
        endpoint.tags.pop(key, None)
    return {"tags": render.tags(endpoint)}


@router.put("/{name}/ai-gateway")
async def put_ai_gateway(
    name: str, body: AiGatewayInput, caller: Caller, workspace: CurrentWorkspace
) -> dict[str, Any]:
    """Replaces the whole AI Gateway config (PutAiGatewayResponse is the config as stored)."""
    endpoint = _managed(workspace, name, caller)
    workspace.set_ai_gateway(endpoint, body.as_stored())
    return endpoint.ai_gateway or {}


@router.patch("/{name}/notifications")
async def update_notifications(
    name: str, body: NotificationsInput, caller: Caller, workspace: CurrentWorkspace
) -> dict[str, Any]:
    """Replaces the endpoint's email notifications (UpdateInferenceEndpointNotificationsResponse)."""
    endpoint = _managed(workspace, name, caller)
    endpoint.email_notifications = (
        body.email_notifications.model_dump(exclude_none=True) if body.email_notifications else None
    )
    notifications = render.email_notifications(endpoint)
    return {"name": name, **({"email_notifications": notifications} if notifications else {})}


@router.delete("/{name}")
async def delete_endpoint(name: str, caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    _managed(workspace, name, caller)
    workspace.delete(name)
    return {}


@router.get("/{name}/served-models/{served_name}/build-logs")
async def build_logs(name: str, served_name: str, caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    entity = _latest_entity(_viewed(workspace, name, caller), served_name)
    return {"logs": "\n".join(entity.build_logs) + "\n"}


@router.get("/{name}/served-models/{served_name}/logs")
async def server_logs(name: str, served_name: str, caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    entity = _latest_entity(_viewed(workspace, name, caller), served_name)
    if not entity.server_logs:
        return {"logs": f"No server logs: served entity '{served_name}' is {entity.deployment}.\n"}
    return {"logs": "\n".join(entity.server_logs) + "\n"}


@router.get("/{name}/metrics")
async def export_metrics(name: str, caller: Caller, workspace: CurrentWorkspace) -> PlainTextResponse:
    endpoint = _viewed(workspace, name, caller)
    now = time.monotonic()
    active = [
        capacity_of(
            e.name,
            e.spec.workload_size,
            e.spec.min_provisioned_concurrency,
            e.is_scaled_to_zero(now, workspace.settings) or e.deployment != READY,
        )
        for e in (endpoint.config.entities if endpoint.config else [])
    ]
    return PlainTextResponse(endpoint.metrics.exposition(name, active), media_type=CONTENT_TYPE)


def _viewed(workspace: Workspace, name: str, caller: PrincipalSpec) -> Endpoint:
    endpoint = workspace.get(name)
    endpoint.acl.require(caller, "CAN_VIEW", name)
    return endpoint


def _managed(workspace: Workspace, name: str, caller: PrincipalSpec) -> Endpoint:
    endpoint = workspace.get(name)
    endpoint.acl.require(caller, "CAN_MANAGE", name)
    return endpoint


def _latest_entity(endpoint: Endpoint, served_name: str) -> ServedEntity:
    """The pending config's entity if an update deploys it (that is where a failure shows), else the
    active one."""
    for config in (endpoint.pending.config if endpoint.pending else None, endpoint.config):
        entity = config.entity(served_name) if config else None
        if entity is not None:
            return entity
    raise does_not_exist(f"Served entity '{served_name}' does not exist in endpoint '{endpoint.name}'.")
