"""Read-only Databricks APIs a preflight calls (paths as databricks-sdk's `ModelVersionsAPI.get` /
`get_by_alias`, `SchemasAPI.get`, `CatalogsAPI.get`, `GrantsAPI.get_effective`, ml `ModelRegistryAPI
.get_model_version` / `get_latest_versions`, iam `ServicePrincipalsAPI.list` / `GroupsAPI.list` /
`CurrentUserAPI.me`, workspace `SecretsAPI.list_scopes` / `list_secrets`). Every caller with a workspace token
may read them; nothing here changes anything (get-latest-versions is a POST that only reads)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from emulator.auth import Caller, CurrentWorkspace

router = APIRouter()
UC = "/api/2.1/unity-catalog"


@router.get(UC + "/models/{full_name}/versions/{version}")
async def uc_model_version(
    full_name: str, version: str, caller: Caller, workspace: CurrentWorkspace, include_aliases: bool = False
) -> dict[str, Any]:
    return workspace.objects.catalog.uc_model_version(full_name, version, include_aliases)


@router.get(UC + "/models/{full_name}/aliases/{alias}")
async def uc_model_alias(
    full_name: str, alias: str, caller: Caller, workspace: CurrentWorkspace, include_aliases: bool = False
) -> dict[str, Any]:
    return workspace.objects.catalog.uc_alias(full_name, alias, include_aliases)


@router.get(UC + "/schemas/{full_name}")
async def schema(full_name: str, caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    return workspace.objects.catalog.schema(full_name)


@router.get(UC + "/catalogs/{name}")
async def catalog(name: str, caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    return workspace.objects.catalog.catalog(name)


@router.get(UC + "/effective-permissions/{securable_type}/{full_name}")
async def effective_permissions(
    securable_type: str, full_name: str, caller: Caller, workspace: CurrentWorkspace, principal: str | None = None
) -> dict[str, Any]:
    return workspace.objects.grants.effective_permissions(securable_type, full_name, principal)


@router.get("/api/2.0/mlflow/model-versions/get")
async def registry_model_version(
    name: str, version: str, caller: Caller, workspace: CurrentWorkspace
) -> dict[str, Any]:
    return workspace.objects.model_registry.registry_version(name, version)


class LatestVersionsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    stages: list[str] | None = None


@router.post("/api/2.0/mlflow/registered-models/get-latest-versions")
async def latest_versions(body: LatestVersionsInput, caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    return workspace.objects.model_registry.latest_versions(body.name, body.stages)


@router.get("/api/2.0/preview/scim/v2/ServicePrincipals")
async def service_principals(caller: Caller, workspace: CurrentWorkspace, filter: str | None = None) -> dict[str, Any]:
    return workspace.objects.scim.service_principals_list(filter)


@router.get("/api/2.0/preview/scim/v2/Groups")
async def groups(caller: Caller, workspace: CurrentWorkspace, filter: str | None = None) -> dict[str, Any]:
    return workspace.objects.scim.groups_list(filter)


@router.get("/api/2.0/preview/scim/v2/Users")
async def users(caller: Caller, workspace: CurrentWorkspace, filter: str | None = None) -> dict[str, Any]:
    return workspace.objects.scim.users_list(filter)


@router.get("/api/2.0/preview/scim/v2/Me")
async def me(caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    return workspace.objects.scim.me(caller.principal, caller.groups)


@router.get("/api/2.0/secrets/scopes/list")
async def secret_scopes(caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    return workspace.objects.secrets.scopes_list()


@router.get("/api/2.0/secrets/list")
async def secrets(scope: str, caller: Caller, workspace: CurrentWorkspace) -> dict[str, Any]:
    return workspace.objects.secrets.secrets_list(scope)
