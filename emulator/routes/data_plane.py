"""`/serving-endpoints/{name}/invocations` (routed by the traffic split) and
`/serving-endpoints/{name}/served-models/{served}/invocations` (one entity, whatever its share).
Both need CAN_QUERY; each answer names its entity in the `served-model-name` header and is counted
in the endpoint's metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator import invocation
from emulator.auth import Caller, CurrentWorkspace
from emulator.errors import ApiError, bad_request
from emulator.state import Workspace

router = APIRouter(prefix="/serving-endpoints")


@router.post("/{name}/invocations")
async def invoke_endpoint(name: str, request: Request, caller: Caller, workspace: CurrentWorkspace) -> JSONResponse:
    return await _invoke(workspace, name, None, request, caller)


@router.post("/{name}/served-models/{served_name}/invocations")
async def invoke_served_entity(name: str, served_name: str, request: Request, caller: Caller,
                               workspace: CurrentWorkspace) -> JSONResponse:
    return await _invoke(workspace, name, served_name, request, caller)


async def _invoke(workspace: Workspace, name: str, served_name: str | None, request: Request,
                  caller) -> JSONResponse:
    started = time.monotonic()
    endpoint = workspace.get(name)
    endpoint.acl.require(caller, "CAN_QUERY", name)
    entity_name = None
    try:
        limit = workspace.settings.max_request_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise bad_request(f"Request payload of {declared} bytes exceeds the limit of {limit} bytes (16 MB).")
        body = invocation.parse_body(await request.body(), limit)
        entity = invocation.choose_entity(endpoint, served_name)
        entity_name = entity.name
        workspace.counters.invocations[name][entity_name] += 1
        result = await invocation.answer(workspace, endpoint, entity, body)
    except ApiError as error:
        endpoint.metrics.observe(entity_name, error.status, (time.monotonic() - started) * 1000)
        raise
    endpoint.metrics.observe(entity_name, 200, (time.monotonic() - started) * 1000)
    return JSONResponse({"predictions": result.predictions}, headers={"served-model-name": result.served_entity})
