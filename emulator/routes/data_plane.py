"""Invocations.

On the workspace's host:
    POST /serving-endpoints/{name}/invocations                          routed by the traffic split
    POST /serving-endpoints/{name}/served-models/{served}/invocations    one entity, whatever its share
On the data-plane listener (a route-optimized endpoint's `endpoint_url`):
    POST /{workspace id}/serving-endpoints/{name}/invocations            OAuth token for the endpoint only

Every call needs CAN_QUERY; AI Gateway rate limits apply before routing (see emulator.gateway), fallback
after a 5xx of the routed entity. Each answer names its entity in the `served-model-name` header and is
counted in that entity's metrics.

A route-optimized endpoint is not queried through the workspace host (Databricks: "Starting September 22,
2025, all newly created route-optimized endpoints must be queried exclusively through the route-optimized
URL"); the 400 for trying is a choice, the status and wording are not documented.
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator import invocation
from emulator.auth import Caller, CurrentWorkspace, DataPlaneToken
from emulator.errors import ApiError, bad_request, permission_denied
from emulator.gateway import fallback_order
from emulator.settings import PrincipalSpec
from emulator.state import Endpoint, ServedEntity, Workspace

router = APIRouter(prefix="/serving-endpoints")
route_optimized = APIRouter()
ROUTE_OPTIMIZED_PATH = re.compile(r"^/[^/]+/serving-endpoints/[^/]+/invocations$")
"""Paths of the data-plane listener (`emulator.app.SeparateListeners` keeps the two apart)."""


@router.post("/{name}/invocations")
async def invoke_endpoint(name: str, request: Request, caller: Caller, workspace: CurrentWorkspace) -> JSONResponse:
    return await _invoke(workspace, _on_workspace_host(workspace, name, caller), None, request, caller)


@router.post("/{name}/served-models/{served_name}/invocations")
async def invoke_served_entity(
    name: str, served_name: str, request: Request, caller: Caller, workspace: CurrentWorkspace
) -> JSONResponse:
    return await _invoke(workspace, _on_workspace_host(workspace, name, caller), served_name, request, caller)


@route_optimized.post("/{workspace_id}/serving-endpoints/{name}/invocations")
async def invoke_route_optimized(
    workspace_id: str, name: str, request: Request, token: DataPlaneToken, workspace: CurrentWorkspace
) -> JSONResponse:
    endpoint = workspace.get(name)
    if workspace_id != workspace.settings.workspace_id or not endpoint.route_optimized:
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No route-optimized endpoint '{name}' at this URL.")
    if not token.allows_query(endpoint.id):
        raise permission_denied(
            f"The OAuth token is not authorized to query endpoint '{name}': request it with the endpoint's "
            "authorization_details (data_plane_info.query_info of GET /api/2.0/serving-endpoints/{name})."
        )
    return await _invoke(workspace, endpoint, None, request, token.principal)


def _on_workspace_host(workspace: Workspace, name: str, caller: PrincipalSpec) -> Endpoint:
    endpoint = workspace.get(name)
    endpoint.acl.require(caller, "CAN_QUERY", name)
    if endpoint.route_optimized:
        raise bad_request(
            f"Endpoint '{name}' is route-optimized: query it at its endpoint_url with an OAuth token, "
            "not through the workspace URL."
        )
    return endpoint


async def _invoke(
    workspace: Workspace, endpoint: Endpoint, served_name: str | None, request: Request, caller: PrincipalSpec
) -> JSONResponse:
    started = time.monotonic()
    endpoint.acl.require(caller, "CAN_QUERY", endpoint.name)
    if endpoint.rate_limiter is not None:
        endpoint.rate_limiter.admit(endpoint.name, caller)
    limit = workspace.settings.max_request_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise bad_request(f"Request payload of {declared} bytes exceeds the limit of {limit} bytes (16 MB).")
    external = endpoint.config is not None and any(e.spec.external_model for e in endpoint.config.entities)
    body = invocation.parse_body(await request.body(), limit, external)
    first = invocation.choose_entity(endpoint, served_name)
    candidates = [first]
    if served_name is None and (endpoint.ai_gateway or {}).get("fallback_config", {}).get("enabled"):
        assert endpoint.config is not None
        names = [e.name for e in endpoint.config.entities]
        candidates += [e for n in fallback_order(names, first.name) if (e := endpoint.config.entity(n)) is not None]
    for attempt, entity in enumerate(candidates):
        attempt_started = started if attempt == 0 else time.monotonic()
        try:
            result = await _attempt(workspace, endpoint, entity, body)
        except ApiError as error:
            endpoint.metrics.observe(entity.name, error.status, (time.monotonic() - attempt_started) * 1000)
            if error.status >= 500 and attempt + 1 < len(candidates):
                continue  # fallback: the next served entity in list order
            raise
        endpoint.metrics.observe(entity.name, 200, (time.monotonic() - attempt_started) * 1000)
        content = result.response if result.response is not None else {"predictions": result.predictions}
        return JSONResponse(content, headers={"served-model-name": result.served_entity})
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _attempt(
    workspace: Workspace, endpoint: Endpoint, entity: ServedEntity, body: dict[str, Any]
) -> invocation.Answer:
    workspace.counters.invocations[endpoint.name][entity.name] += 1
    return await invocation.answer(workspace, endpoint, entity, body)
