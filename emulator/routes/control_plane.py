"""`/api/2.0/serving-endpoints`: create, read, update config, tags, AI gateway, notifications, delete,
logs and metrics.

Permissions: any workspace principal may create (and so manages what it creates); reading needs
CAN_VIEW, changing needs CAN_MANAGE.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from emulator import render
from emulator.auth import Caller, CurrentWorkspace
from emulator.errors import does_not_exist
from emulator.metrics import CONTENT_TYPE
from emulator.schemas import (
    AiGatewayInput,
    CoreConfigInput,
    CreateEndpointInput,
    NotificationsInput,
    PatchTagsInput,
)
from emulator.state import Endpoint, ServedEntity

router = APIRouter(prefix="/api/2.0/serving-endpoints")


@router.post("")
async def create_endpoint(body: CreateEndpointInput, caller: Caller, workspace: CurrentWorkspace) -> dict:
    endpoint = workspace.create(body, caller)
    return render.endpoint_detailed(endpoint, "CAN_MANAGE", workspace.settings)


@router.get("")
async def list_endpoints(caller: Caller, workspace: CurrentWorkspace) -> dict:
    visible = [e for e in workspace.all() if e.acl.level_of(caller) is not None]
    return {"endpoints": [render.endpoint_summary(e) for e in visible]}


@router.get("/{name}")
async def get_endpoint(name: str, caller: Caller, workspace: CurrentWorkspace) -> dict:
    workspace.counters.get_calls[name] += 1
    endpoint = workspace.get(name)
    endpoint.acl.require(caller, "CAN_VIEW", name)
    return render.endpoint_detailed(endpoint, endpoint.acl.level_of(caller), workspace.settings)


@router.put("/{name}/config")
async def update_config(name: str, body: CoreConfigInput, caller: Caller, workspace: CurrentWorkspace) -> dict:
    endpoint = _managed(workspace, name, caller)
    workspace.update_config(endpoint, body, caller)
    return render.endpoint_detailed(endpoint, endpoint.acl.level_of(caller), workspace.settings)


@router.patch("/{name}/tags")
async def patch_tags(name: str, body: PatchTagsInput, caller: Caller, workspace: CurrentWorkspace) -> dict:
    endpoint = _managed(workspace, name, caller)
    for tag in body.add_tags or []:
        endpoint.tags[tag.key] = tag.value
    for key in body.delete_tags or []:
        endpoint.tags.pop(key, None)
    return {"tags": render.tags(endpoint)}


@router.put("/{name}/ai-gateway")
async def put_ai_gateway(name: str, body: AiGatewayInput, caller: Caller, workspace: CurrentWorkspace) -> dict:
    endpoint = _managed(workspace, name, caller)
    endpoint.ai_gateway = body.as_stored() or None
    return endpoint.ai_gateway or {}


@router.patch("/{name}/notifications")
async def update_notifications(name: str, body: NotificationsInput, caller: Caller,
                               workspace: CurrentWorkspace) -> dict:
    endpoint = _managed(workspace, name, caller)
    notifications = body.email_notifications.model_dump(exclude_none=True) if body.email_notifications else None
    endpoint.email_notifications = notifications or None
    return {"name": name, **({"email_notifications": notifications} if notifications else {})}


@router.delete("/{name}")
async def delete_endpoint(name: str, caller: Caller, workspace: CurrentWorkspace) -> dict:
    _managed(workspace, name, caller)
    workspace.delete(name)
    return {}


@router.get("/{name}/served-models/{served_name}/build-logs")
async def build_logs(name: str, served_name: str, caller: Caller, workspace: CurrentWorkspace) -> dict:
    entity = _latest_entity(_viewed(workspace, name, caller), served_name)
    return {"logs": "\n".join(entity.build_logs) + "\n"}


@router.get("/{name}/served-models/{served_name}/logs")
async def server_logs(name: str, served_name: str, caller: Caller, workspace: CurrentWorkspace) -> dict:
    entity = _latest_entity(_viewed(workspace, name, caller), served_name)
    if not entity.server_logs:
        return {"logs": f"No server logs: served entity '{served_name}' is {entity.deployment}.\n"}
    return {"logs": "\n".join(entity.server_logs) + "\n"}


@router.get("/{name}/metrics")
async def export_metrics(name: str, caller: Caller, workspace: CurrentWorkspace) -> PlainTextResponse:
    endpoint = _viewed(workspace, name, caller)
    active = [e.name for e in endpoint.config.entities] if endpoint.config else []
    return PlainTextResponse(endpoint.metrics.exposition(name, active), media_type=CONTENT_TYPE)


def _viewed(workspace, name: str, caller) -> Endpoint:
    endpoint = workspace.get(name)
    endpoint.acl.require(caller, "CAN_VIEW", name)
    return endpoint


def _managed(workspace, name: str, caller) -> Endpoint:
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

