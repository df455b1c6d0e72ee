"""The read-only workspace objects a preflight looks up: Unity Catalog model versions, aliases, schemas and
grants; the workspace Model Registry; SCIM service principals, groups and users; secret scopes and keys.

Seeded from the settings (`EmulatorSettings.workspace_objects`, the spec here), changed at run time only
through the admin API (`/_emulator/objects/...`): no Databricks route here writes anything. Each API family
is its own class in `emulator/objects/` (bodies in the shapes of databricks-sdk's dataclasses);
`WorkspaceObjects` builds them from the spec and routes an admin change to the one that owns its kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from emulator.errors import invalid_parameter
from emulator.objects.grants import CatalogGrants
from emulator.objects.ids import EPOCH_MS, stable_id
from emulator.objects.model_registry import RegistryVersionSpec, Stage, WorkspaceModelRegistry
from emulator.objects.scim import SCIM_LIST, ScimDirectory
from emulator.objects.secret_scopes import SecretScopes
from emulator.objects.unity_catalog import UnityCatalog, VersionStatus

DEPLOYER = "6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01"
# Re-exported for code that imported them from here before the split.
__all__ = [
    "DEPLOYER",
    "EPOCH_MS",
    "SCIM_LIST",
    "RegistryVersionSpec",
    "Stage",
    "VersionStatus",
    "WorkspaceObjects",
    "WorkspaceObjectsSpec",
    "stable_id",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _default_registry() -> dict[str, dict[str, RegistryVersionSpec]]:
    return {
        "RiskClassifier": {
            "1": RegistryVersionSpec(stage="Archived"),
            "2": RegistryVersionSpec(stage="Production"),
            "3": RegistryVersionSpec(stage="Staging"),
        }
    }


def _default_secret_scopes() -> dict[str, tuple[str, ...]]:
    return {"fraud-scoring": ("feature-store-token",)}


def _default_grants() -> dict[str, dict[str, tuple[str, ...]]]:
    return {"main": {DEPLOYER: ("USE_CATALOG", "USE_SCHEMA", "EXECUTE")}}


class WorkspaceObjectsSpec(_Strict):
    """What exists in the workspace besides endpoints. Unity Catalog models and their READY versions are the
    emulator's `models`; here only what a preflight reads on top of them."""

    version_status: dict[str, dict[str, VersionStatus]] = Field(
        default_factory=dict,
        description="Unity Catalog model -> version -> status, for versions that are not (only) READY ones of "
        "`models`: a version named only here exists in that status and cannot be deployed",
    )
    aliases: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {"main.risk.risk_classifier": {"champion": "4", "challenger": "3"}},
        description="Unity Catalog model -> alias -> version",
    )
    registry_models: dict[str, dict[str, RegistryVersionSpec]] = Field(
        default_factory=_default_registry, description="workspace Model Registry: model -> version -> status, stage"
    )
    service_principals: dict[str, str] = Field(
        default_factory=lambda: {
            "3f6b2a1c-8d4e-4b7a-9c0d-2e5f7a8b9c10": "risk-api-dev",
            "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c": "risk-api",
            "c2b7e9f1-5a3d-4c8e-a6b4-7d9e0f1a2b3c": "fraud-api",
        },
        description="application id -> display name (besides the service principals of `tokens`/`oauth_clients`)",
    )
    groups: tuple[str, ...] = Field(
        default=("ml-platform-oncall", "fraud-analytics"), description="groups besides those of `tokens`"
    )
    users: tuple[str, ...] = Field(
        default=("support@example.com",), description="user names (e-mails) besides the users of `tokens`"
    )
    secret_scopes: dict[str, tuple[str, ...]] = Field(
        default_factory=_default_secret_scopes, description="scope -> secret keys"
    )
    schemas: tuple[str, ...] = Field(
        default=("main.serving_logs", "main.serving_monitoring"), description="`catalog.schema` full names"
    )
    grants: dict[str, dict[str, tuple[str, ...]]] = Field(
        default_factory=_default_grants,
        description="securable (catalog, catalog.schema or catalog.schema.model) -> principal -> privileges; "
        "a model inherits what its schema and catalog grant",
    )


class WorkspaceObjects:
    """The objects' state, one part per API family; mutable through the admin API only."""

    def __init__(
        self,
        spec: WorkspaceObjectsSpec,
        uc_models: Mapping[str, tuple[str, ...]],
        principals: Mapping[str, tuple[str, tuple[str, ...]]],
    ):
        """`uc_models`: model -> READY versions (the registry); `principals`: name -> (kind, groups)."""
        self.catalog = UnityCatalog(uc_models, spec.version_status, spec.aliases, spec.schemas)
        self.grants = CatalogGrants(
            spec.grants, {name: tuple(groups) for name, (_, groups) in principals.items()}, self.catalog
        )
        self.model_registry = WorkspaceModelRegistry(spec.registry_models)
        self.scim = ScimDirectory(
            service_principals={name: name for name, (kind, _) in principals.items() if kind == "service_principal"}
            | dict(spec.service_principals),
            groups=set(spec.groups) | {group for _, groups in principals.values() for group in groups},
            users=set(spec.users) | {name for name, (kind, _) in principals.items() if kind == "user"},
        )
        self.secrets = SecretScopes(spec.secret_scopes)

    def change(self, kind: str, remove: bool, body: dict[str, Any]) -> None:
        """Add (or, `remove`, take away) one object; `body` names it. Raises ApiError 400 on a bad body.
        Each part has a `_change_<kind>` for each kind it owns."""
        method = f"_change_{kind.replace('-', '_')}"
        try:
            owner = next(
                (
                    part
                    for part in (self.catalog, self.grants, self.model_registry, self.scim, self.secrets)
                    if hasattr(part, method)
                ),
                None,
            )
            if owner is None:  # the message the single class before the split gave
                raise AttributeError(f"'WorkspaceObjects' object has no attribute '{method}'")
            getattr(owner, method)(remove, **body)
        except (AttributeError, TypeError, KeyError, ValueError) as error:
            raise invalid_parameter(f"cannot change {kind} with {sorted(body)}: {error}") from None
