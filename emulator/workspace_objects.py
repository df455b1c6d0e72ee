"""The read-only workspace objects a preflight looks up: Unity Catalog model versions, aliases, schemas and
grants; the workspace Model Registry; SCIM service principals, groups and users; secret scopes and keys.

Seeded from the settings (`EmulatorSettings.workspace_objects`), changed at run time only through the
admin API (`/_emulator/objects/...`): no Databricks route here writes anything. Bodies are in the shapes of
databricks-sdk's dataclasses (`ModelVersionInfo`, `SchemaInfo`, `CatalogInfo`, `EffectivePermissionsList`,
ml `GetModelVersionResponse` / `GetLatestVersionsResponse`, iam `ListServicePrincipalResponse` /
`ListGroupsResponse` / `User`, workspace `ListScopesResponse` / `ListSecretsResponse`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from emulator.errors import ApiError, does_not_exist, invalid_parameter

VersionStatus = Literal["READY", "PENDING_REGISTRATION", "FAILED_REGISTRATION"]
Stage = Literal["None", "Staging", "Production", "Archived"]
DEPLOYER = "6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01"
SCIM_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
# databricks-sdk's `ModelVersionInfo.created_at` etc. are left out: the emulator keeps no clock for them.
EPOCH_MS = 1_767_225_600_000  # 2026-01-01, a fixed time for `last_updated_timestamp`


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistryVersionSpec(_Strict):
    """A version of a legacy workspace Model Registry model."""

    status: VersionStatus = "READY"
    stage: Stage = "None"


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
    schemas: tuple[str, ...] = Field(default=("main.serving_logs",), description="`catalog.schema` full names")
    grants: dict[str, dict[str, tuple[str, ...]]] = Field(
        default_factory=_default_grants,
        description="securable (catalog, catalog.schema or catalog.schema.model) -> principal -> privileges; "
        "a model inherits what its schema and catalog grant",
    )


def _stable_id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]


class WorkspaceObjects:
    """The objects' state, mutable through the admin API only."""

    def __init__(self, spec: WorkspaceObjectsSpec, uc_models: dict[str, tuple[str, ...]],
                 principals: Mapping[str, tuple[str, tuple[str, ...]]]):
        """`uc_models`: model -> READY versions (the registry); `principals`: name -> (kind, groups)."""
        self.uc_models = {model: set(versions) for model, versions in uc_models.items()}
        self.version_status = {model: dict(versions) for model, versions in spec.version_status.items()}
        self.aliases = {model: dict(aliases) for model, aliases in spec.aliases.items()}
        self.registry = {model: {v: s.model_dump() for v, s in versions.items()}
                         for model, versions in spec.registry_models.items()}
        self.principals = {name: (kind, tuple(groups)) for name, (kind, groups) in principals.items()}
        self.service_principals = {
            name: name for name, (kind, _) in principals.items() if kind == "service_principal"
        } | dict(spec.service_principals)
        self.groups = set(spec.groups) | {group for _, groups in principals.values() for group in groups}
        self.users = set(spec.users) | {name for name, (kind, _) in principals.items() if kind == "user"}
        self.secret_scopes = {scope: set(keys) for scope, keys in spec.secret_scopes.items()}
        self.schemas = set(spec.schemas)
        self.grants = {securable: {p: set(privileges) for p, privileges in by_principal.items()}
                       for securable, by_principal in spec.grants.items()}

    # ---- Unity Catalog -----------------------------------------------------------------------

    def _uc_status(self, model: str, version: str) -> str | None:
        status = self.version_status.get(model, {}).get(version)
        if status is not None:
            return status
        return "READY" if version in self.uc_models.get(model, ()) else None

    def not_ready_reason(self, model: str, version: str) -> str | None:
        """Why a registered Unity Catalog version cannot be deployed although it exists: it is not READY."""
        status = self.version_status.get(model, {}).get(version)
        if status in (None, "READY"):
            return None
        return f"Model version '{version}' of '{model}' is {status}; only READY versions can be served."

    def _uc_model_exists(self, model: str) -> bool:
        return model in self.uc_models or model in self.version_status

    def catalogs(self) -> set[str]:
        names = {model.split(".")[0] for model in [*self.uc_models, *self.version_status]}
        return names | {schema.split(".")[0] for schema in self.schemas}

    def _version_info(self, model: str, version: str, include_aliases: bool) -> dict[str, Any]:
        catalog, schema, name = model.split(".")
        body: dict[str, Any] = {
            "catalog_name": catalog, "schema_name": schema, "model_name": name, "version": int(version),
            "status": self._uc_status(model, version), "id": _stable_id(model, version),
        }
        if include_aliases:
            aliases = [
                {"alias_name": alias, "catalog_name": catalog, "schema_name": schema, "model_name": name,
                 "version_num": int(version)}
                for alias, target in sorted(self.aliases.get(model, {}).items()) if target == version
            ]
            if aliases:
                body["aliases"] = aliases
        return body

    def _require_model(self, model: str) -> None:
        if model.count(".") != 2 or not self._uc_model_exists(model):
            raise does_not_exist(f"Routine or Model '{model}' does not exist.")

    def uc_model_version(self, model: str, version: str, include_aliases: bool = False) -> dict[str, Any]:
        self._require_model(model)
        if not version.isdigit() or self._uc_status(model, version) is None:
            raise does_not_exist(f"Model Version '{model}' version {version} does not exist.")
        return self._version_info(model, version, include_aliases)

    def uc_alias(self, model: str, alias: str, include_aliases: bool = False) -> dict[str, Any]:
        self._require_model(model)
        version = self.aliases.get(model, {}).get(alias)
        if version is None:
            raise does_not_exist(f"Alias '{alias}' does not exist on model '{model}'.")
        return self._version_info(model, version, include_aliases)

    def schema(self, full_name: str) -> dict[str, Any]:
        catalog, _, name = full_name.partition(".")
        if catalog not in self.catalogs():
            raise ApiError(404, "CATALOG_DOES_NOT_EXIST", f"Catalog '{catalog}' does not exist.")
        if full_name not in self.schemas or not name:
            raise ApiError(404, "SCHEMA_DOES_NOT_EXIST", f"Schema '{full_name}' does not exist.")
        return {"name": name, "catalog_name": catalog, "full_name": full_name, "catalog_type": "MANAGED_CATALOG",
                "schema_id": _stable_id("schema", full_name)}

    def catalog(self, name: str) -> dict[str, Any]:
        if name not in self.catalogs():
            raise ApiError(404, "CATALOG_DOES_NOT_EXIST", f"Catalog '{name}' does not exist.")
        return {"name": name, "full_name": name, "catalog_type": "MANAGED_CATALOG"}

    def effective_permissions(self, securable_type: str, full_name: str, principal: str | None) -> dict[str, Any]:
        # Registered models are FUNCTION securables in Unity Catalog's grants APIs.
        if securable_type.lower() != "function":
            raise invalid_parameter(f"Securable type '{securable_type}' is not supported by this emulator; "
                                    "registered models are 'function' securables.")
        self._require_model(full_name)
        catalog, schema, _ = full_name.split(".")
        chain = [(full_name, None), (f"{catalog}.{schema}", "SCHEMA"), (catalog, "CATALOG")]
        granted = {holder for securable, _ in chain for holder in self.grants.get(securable, {})}
        subjects = [principal] if principal is not None else sorted(granted)
        assignments = []
        for subject in subjects:
            members = {subject, *self.principals.get(subject, ("", ()))[1]}
            privileges = []
            for securable, kind in chain:
                for holder in sorted(members):
                    for privilege in sorted(self.grants.get(securable, {}).get(holder, ())):
                        entry: dict[str, Any] = {"privilege": privilege}
                        if kind is not None:
                            entry |= {"inherited_from_type": kind, "inherited_from_name": securable}
                        privileges.append(entry)
            if privileges:
                assignments.append({"principal": subject, "privileges": privileges})
        return {"privilege_assignments": assignments} if assignments else {}

    # ---- workspace Model Registry ------------------------------------------------------------

    def _registry_version(self, model: str, version: str) -> dict[str, Any]:
        spec = self.registry[model][version]
        return {"name": model, "version": version, "current_stage": spec["stage"], "status": spec["status"],
                "last_updated_timestamp": EPOCH_MS}

    def registry_version(self, model: str, version: str) -> dict[str, Any]:
        if model not in self.registry:
            raise does_not_exist(f"Registered Model with name={model} not found")
        if version not in self.registry[model]:
            raise does_not_exist(f"Model Version (name={model}, version={version}) not found")
        return {"model_version": self._registry_version(model, version)}

    def latest_versions(self, model: str, stages: list[str] | None) -> dict[str, Any]:
        if model not in self.registry:
            raise does_not_exist(f"Registered Model with name={model} not found")
        latest: dict[str, str] = {}
        for version, spec in self.registry[model].items():
            stage = spec["stage"]
            if stage not in latest or int(version) > int(latest[stage]):
                latest[stage] = version
        wanted = {stage.lower() for stage in stages} if stages else None
        found = [self._registry_version(model, version) for stage, version in sorted(latest.items())
                 if wanted is None or stage.lower() in wanted]
        return {"model_versions": found} if found else {}

    # ---- SCIM --------------------------------------------------------------------------------

    @staticmethod
    def _filter(text: str | None, attribute: str) -> str | None:
        if text is None:
            return None
        match = re.fullmatch(rf'\s*{attribute}\s+eq\s+"([^"]*)"\s*', text, flags=re.IGNORECASE)
        if match is None:
            raise invalid_parameter(f"Unsupported filter '{text}': this emulator takes `{attribute} eq \"<value>\"`.")
        return match.group(1)

    @staticmethod
    def _list(resources: list[dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {"totalResults": len(resources), "startIndex": 1, "itemsPerPage": len(resources),
                                "schemas": [SCIM_LIST]}
        if resources:
            body["Resources"] = resources
        return body

    def service_principals_list(self, filter_text: str | None) -> dict[str, Any]:
        wanted = self._filter(filter_text, "applicationId")
        return self._list([
            {"id": _stable_id("sp", app_id)[:16], "applicationId": app_id, "displayName": name, "active": True,
             "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"]}
            for app_id, name in sorted(self.service_principals.items()) if wanted is None or app_id == wanted.lower()
        ])

    def groups_list(self, filter_text: str | None) -> dict[str, Any]:
        wanted = self._filter(filter_text, "displayName")
        return self._list([
            {"id": _stable_id("group", group)[:16], "displayName": group,
             "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}
            for group in sorted(self.groups) if wanted is None or group == wanted
        ])

    def users_list(self, filter_text: str | None) -> dict[str, Any]:
        wanted = self._filter(filter_text, "userName")
        # SCIM's userName is not case-exact (RFC 7643 4.1.1): `eq` matches it whatever the case.
        return self._list([
            {"id": _stable_id("user", user)[:16], "userName": user, "active": True,
             "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}
            for user in sorted(self.users) if wanted is None or user.lower() == wanted.lower()
        ])

    def me(self, principal: str, groups: tuple[str, ...]) -> dict[str, Any]:
        body: dict[str, Any] = {"id": _stable_id("me", principal)[:16], "userName": principal, "active": True,
                                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}
        if groups:
            body["groups"] = [{"display": group, "value": _stable_id("group", group)[:16]} for group in groups]
        return body

    # ---- secrets (names only: the emulator holds no secret values at all) ---------------------

    def scopes_list(self) -> dict[str, Any]:
        scopes = [{"name": scope, "backend_type": "DATABRICKS"} for scope in sorted(self.secret_scopes)]
        return {"scopes": scopes} if scopes else {}

    def secrets_list(self, scope: str) -> dict[str, Any]:
        if scope not in self.secret_scopes:
            raise does_not_exist(f"Scope {scope} does not exist!")
        keys = [{"key": key, "last_updated_timestamp": EPOCH_MS} for key in sorted(self.secret_scopes[scope])]
        return {"secrets": keys} if keys else {}

    # ---- admin -------------------------------------------------------------------------------

    def change(self, kind: str, remove: bool, body: dict[str, Any]) -> None:
        """Add (or, `remove`, take away) one object; `body` names it. Raises ApiError 400 on a bad body."""
        try:
            getattr(self, f"_change_{kind.replace('-', '_')}")(remove, **body)
        except (AttributeError, TypeError, KeyError, ValueError) as error:
            raise invalid_parameter(f"cannot change {kind} with {sorted(body)}: {error}") from None

    def _change_model_versions(self, remove: bool, model: str, version: str, status: str = "READY") -> None:
        if remove:
            self.version_status.get(model, {}).pop(version, None)
            self.uc_models.get(model, set()).discard(version)
        else:
            if status not in ("READY", "PENDING_REGISTRATION", "FAILED_REGISTRATION"):
                raise ValueError(f"status {status!r}")
            self.version_status.setdefault(model, {})[version] = cast(VersionStatus, status)  # checked above

    def _change_aliases(self, remove: bool, model: str, alias: str, version: str | None = None) -> None:
        if remove:
            self.aliases.get(model, {}).pop(alias, None)
        else:
            self.aliases.setdefault(model, {})[alias] = str(version)

    def _change_registry_versions(self, remove: bool, model: str, version: str, status: str = "READY",
                                  stage: str = "None") -> None:
        if remove:
            self.registry.get(model, {}).pop(version, None)
        else:
            self.registry.setdefault(model, {})[version] = RegistryVersionSpec.model_validate(
                {"status": status, "stage": stage}).model_dump()

    def _change_service_principals(self, remove: bool, application_id: str, display_name: str = "") -> None:
        if remove:
            self.service_principals.pop(application_id.lower(), None)
        else:
            self.service_principals[application_id.lower()] = display_name or application_id

    def _change_groups(self, remove: bool, name: str) -> None:
        (self.groups.discard if remove else self.groups.add)(name)

    def _change_secrets(self, remove: bool, scope: str, key: str | None = None) -> None:
        if remove and key is None:
            self.secret_scopes.pop(scope, None)
        elif remove:
            self.secret_scopes.get(scope, set()).discard(key)
        else:
            keys = self.secret_scopes.setdefault(scope, set())
            if key is not None:
                keys.add(key)

    def _change_schemas(self, remove: bool, full_name: str) -> None:
        if full_name.count(".") != 1:
            raise ValueError("a schema's full name is catalog.schema")
        (self.schemas.discard if remove else self.schemas.add)(full_name)

    def _change_grants(self, remove: bool, securable: str, principal: str, privileges: list[str]) -> None:
        held = self.grants.setdefault(securable, {}).setdefault(principal, set())
        if remove:
            held.difference_update(privileges)
        else:
            held.update(privileges)
