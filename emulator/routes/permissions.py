"""`/api/2.0/permissions/serving-endpoints/{endpoint_id}`: keyed by the endpoint's id, not its name
(a name is answered 400 "... is not a valid Inference Endpoint ID", as Databricks does)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from emulator.auth import Caller, CurrentWorkspace
from emulator.permissions import permission_levels_json
from emulator.schemas import PermissionsInput

router = APIRouter(prefix="/api/2.0/permissions/serving-endpoints")


@router.get("/{endpoint_id}")
async def get_permissions(endpoint_id: str, caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    endpoint = workspace.get_by_id(endpoint_id)
    endpoint.acl.require(caller, "CAN_VIEW", endpoint.name)
    return endpoint.acl.as_json(endpoint.id)


@router.put("/{endpoint_id}")
async def set_permissions(
    endpoint_id: str, body: PermissionsInput, caller: Caller, workspace: CurrentWorkspace
) -> dict[str, Any]:
    endpoint = workspace.get_by_id(endpoint_id)
    endpoint.acl.require(caller, "CAN_MANAGE", endpoint.name)
    endpoint.acl.replace(body.access_control_list, caller)
    return endpoint.acl.as_json(endpoint.id)


@router.patch("/{endpoint_id}")
async def update_permissions(
    endpoint_id: str, body: PermissionsInput, caller: Caller, workspace: CurrentWorkspace
) -> dict[str, Any]:
    endpoint = workspace.get_by_id(endpoint_id)
    endpoint.acl.require(caller, "CAN_MANAGE", endpoint.name)
    endpoint.acl.merge(body.access_control_list)
    return endpoint.acl.as_json(endpoint.id)


@router.get("/{endpoint_id}/permissionLevels")
async def get_permission_levels(endpoint_id: str, caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    endpoint = workspace.get_by_id(endpoint_id)
    endpoint.acl.require(caller, "CAN_VIEW", endpoint.name)
    return permission_levels_json()
