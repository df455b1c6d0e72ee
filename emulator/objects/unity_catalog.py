"""Unity Catalog as a preflight reads it: model versions and their status, aliases, catalogs and schemas
(the grants are `emulator.objects.grants`). Bodies are databricks-sdk `ModelVersionInfo`, `SchemaInfo`,
`CatalogInfo`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

from emulator.errors import ApiError, does_not_exist
from emulator.objects.ids import stable_id

VersionStatus = Literal["READY", "PENDING_REGISTRATION", "FAILED_REGISTRATION"]


class UnityCatalog:
    """Models, versions, aliases and schemas; changed through the admin API only."""

    def __init__(
        self,
        uc_models: Mapping[str, tuple[str, ...]],
        version_status: Mapping[str, Mapping[str, VersionStatus]],
        aliases: Mapping[str, Mapping[str, str]],
        schemas: tuple[str, ...],
    ):
        """`uc_models`: model -> READY versions (the registry)."""
        self.uc_models = {model: set(versions) for model, versions in uc_models.items()}
        self.version_status = {model: dict(versions) for model, versions in version_status.items()}
        self.aliases = {model: dict(by_alias) for model, by_alias in aliases.items()}
        self.schemas = set(schemas)

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
            "catalog_name": catalog,
            "schema_name": schema,
            "model_name": name,
            "version": int(version),
            "status": self._uc_status(model, version),
            "id": stable_id(model, version),
        }
        if include_aliases:
            aliases = [
                {
                    "alias_name": alias,
                    "catalog_name": catalog,
                    "schema_name": schema,
                    "model_name": name,
                    "version_num": int(version),
                }
                for alias, target in sorted(self.aliases.get(model, {}).items())
                if target == version
            ]
            if aliases:
                body["aliases"] = aliases
        return body

    def require_model(self, model: str) -> None:
        if model.count(".") != 2 or not self._uc_model_exists(model):
            raise does_not_exist(f"Routine or Model '{model}' does not exist.")

    def uc_model_version(self, model: str, version: str, include_aliases: bool = False) -> dict[str, Any]:
        self.require_model(model)
        if not version.isdigit() or self._uc_status(model, version) is None:
            raise does_not_exist(f"Model Version '{model}' version {version} does not exist.")
        return self._version_info(model, version, include_aliases)

    def uc_alias(self, model: str, alias: str, include_aliases: bool = False) -> dict[str, Any]:
        self.require_model(model)
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
        return {
            "name": name,
            "catalog_name": catalog,
            "full_name": full_name,
            "catalog_type": "MANAGED_CATALOG",
            "schema_id": stable_id("schema", full_name),
        }

    def catalog(self, name: str) -> dict[str, Any]:
        if name not in self.catalogs():
            raise ApiError(404, "CATALOG_DOES_NOT_EXIST", f"Catalog '{name}' does not exist.")
        return {"name": name, "full_name": name, "catalog_type": "MANAGED_CATALOG"}

    # ---- admin API changes (emulator.workspace_objects.WorkspaceObjects.change) ----------------

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

    def _change_schemas(self, remove: bool, full_name: str) -> None:
        if full_name.count(".") != 1:
            raise ValueError("a schema's full name is catalog.schema")
        (self.schemas.discard if remove else self.schemas.add)(full_name)
