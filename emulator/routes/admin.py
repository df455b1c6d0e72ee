"""`/_emulator/...`: the emulator's own admin API, for tests and benchmarks (not a Databricks API).

Every route but `/health` needs `Authorization: Bearer <admin_token>`. A fault's `served_entity`
left out (null) means the whole endpoint.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from emulator.auth import CurrentWorkspace, require_admin
from emulator.errors import does_not_exist, invalid_parameter
from emulator.faults import Burst, ErrorRate, NotReadyAfterUpdate
from emulator.settings import ModelVersionSpec

public = APIRouter(prefix="/_emulator")
router = APIRouter(prefix="/_emulator", dependencies=[Depends(require_admin)])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaultTarget(_Body):
    endpoint: str
    served_entity: str | None = None


class FailNextDeployment(FaultTarget):
    message: str = "Injected fault: the container image build failed."


class BurstFault(FaultTarget):
    count: int = Field(gt=0)
    status_code: Literal[429, 500, 503, 504] = 429
    retry_after_seconds: int = Field(default=1, ge=0)


class LatencyFault(FaultTarget):
    seconds: float = Field(ge=0, description="0 removes the latency")


class ErrorRateFault(FaultTarget):
    rate: float = Field(ge=0, le=1, description="0 removes the error rate")
    status_code: Literal[500, 503, 504] = 500


class EndpointOnly(_Body):
    endpoint: str


class NotReadyFault(FaultTarget):
    seconds: float | None = Field(default=None, gt=0, description="null: until cleared")


class ModelVersionBody(_Body):
    version: str
    weights: dict[str, float] | None = None
    bias: float = 0.0
    same_as: str | None = None
    columns: list[str] | None = Field(default=None, description="needed only to register a new model")


@public.get("/health")
async def health(workspace: CurrentWorkspace) -> dict[str, Any]:
    return {"status": "ok", "data_plane_url": workspace.data_plane_url}


@router.post("/reset")
async def reset(workspace: CurrentWorkspace) -> dict[str, Any]:
    workspace.reset()
    return {}


@router.get("/counters")
async def counters(workspace: CurrentWorkspace) -> dict[str, Any]:
    return workspace.counters.as_json()


@router.get("/faults")
async def list_faults(workspace: CurrentWorkspace) -> dict[str, Any]:
    return workspace.faults.as_json()


@router.delete("/faults")
async def clear_faults(workspace: CurrentWorkspace, endpoint: str | None = None) -> dict[str, Any]:
    workspace.clear_faults(endpoint)
    return {}


@router.post("/faults/fail-next-deployment")
async def fail_next_deployment(body: FailNextDeployment, workspace: CurrentWorkspace) -> dict[str, Any]:
    workspace.faults.fail_next_deployment[(body.endpoint, body.served_entity)] = body.message
    return {}


@router.post("/faults/burst")
async def burst(body: BurstFault, workspace: CurrentWorkspace) -> dict[str, Any]:
    workspace.faults.bursts[(body.endpoint, body.served_entity)] = Burst(
        body.count, body.status_code, body.retry_after_seconds
    )
    return {}


@router.post("/faults/latency")
async def latency(body: LatencyFault, workspace: CurrentWorkspace) -> dict[str, Any]:
    target = (body.endpoint, body.served_entity)
    if body.seconds == 0:
        workspace.faults.latency.pop(target, None)
    else:
        workspace.faults.latency[target] = body.seconds
    return {}


@router.post("/faults/error-rate")
async def error_rate(body: ErrorRateFault, workspace: CurrentWorkspace) -> dict[str, Any]:
    target = (body.endpoint, body.served_entity)
    if body.rate == 0:
        workspace.faults.error_rates.pop(target, None)
    else:
        workspace.faults.error_rates[target] = ErrorRate(body.rate, body.status_code)
    return {}


@router.post("/faults/stuck-update")
async def stuck_update(body: EndpointOnly, workspace: CurrentWorkspace) -> dict[str, Any]:
    workspace.stick_update(body.endpoint)
    return {}


@router.post("/faults/release-update")
async def release_update(body: EndpointOnly, workspace: CurrentWorkspace) -> dict[str, Any]:
    workspace.release_update(body.endpoint)
    return {}


@router.post("/faults/not-ready-after-update")
async def not_ready_after_update(body: NotReadyFault, workspace: CurrentWorkspace) -> dict[str, Any]:
    workspace.faults.not_ready_after_update[body.endpoint] = NotReadyAfterUpdate(body.seconds, body.served_entity)
    return {}


@router.delete("/endpoints/{name}")
async def delete_out_of_band(name: str, workspace: CurrentWorkspace) -> dict[str, Any]:
    """Delete as someone else would, behind the deployment's back; no permission check."""
    if name not in workspace.endpoints:
        raise does_not_exist(f"Endpoint with name '{name}' does not exist.")
    workspace.delete(name)
    return {}


@router.post("/models/{model}/versions")
async def register_version(model: str, body: ModelVersionBody, workspace: CurrentWorkspace) -> dict[str, Any]:
    try:
        spec = ModelVersionSpec(weights=body.weights, bias=body.bias, same_as=body.same_as)
        workspace.registry.register_version(model, body.version, spec, tuple(body.columns or ()))
        workspace.objects.catalog.uc_models.setdefault(model, set()).add(body.version)  # READY in Unity Catalog too
    except ValueError as error:
        raise invalid_parameter(str(error)) from None
    return {}


@router.put("/objects/{kind}")
async def add_object(kind: str, body: dict[str, Any], workspace: CurrentWorkspace) -> dict[str, Any]:
    """Add a workspace object a preflight reads (emulator.workspace_objects: model-versions, aliases,
    registry-versions, service-principals, groups, secrets, schemas, grants)."""
    workspace.objects.change(kind, False, body)
    return {}


@router.delete("/objects/{kind}")
async def remove_object(kind: str, body: dict[str, Any], workspace: CurrentWorkspace) -> dict[str, Any]:
    workspace.objects.change(kind, True, body)
    return {}
