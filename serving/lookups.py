"""Read-only lookups of workspace objects the deployment depends on: model versions and aliases (Unity Catalog
and the workspace Model Registry), principals, secret scopes, schemas, grants. Preflight and alias resolution
call them, before anything is changed; each answers None for an object that does not exist.

Part of the one client (serving.workspace.ServingClient); GETs only, but for one read-only POST.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from serving.control_plane import ControlPlane, ServingApiError, error_of


class WorkspaceLookups(ControlPlane):
    """The workspace objects a deployment reads: what exists, and who may use it."""

    def uc_model_version(self, full_name: str, version: str) -> dict[str, Any] | None:
        """A Unity Catalog model version (`ModelVersionInfo`: `status`, ...), or None if it does not exist."""
        return self._lookup(
            f"/api/2.1/unity-catalog/models/{quote(full_name)}/versions/{quote(version)}",
            f"get model version {full_name} {version}",
        )

    def uc_model_alias(self, full_name: str, alias: str) -> dict[str, Any] | None:
        """The Unity Catalog model version an alias points at, or None if there is no such alias (or model)."""
        return self._lookup(
            f"/api/2.1/unity-catalog/models/{quote(full_name)}/aliases/{quote(alias)}",
            f"get alias {alias} of {full_name}",
        )

    def registry_model_version(self, name: str, version: str) -> dict[str, Any] | None:
        """A workspace Model Registry version (`ModelVersion`: `status`, `current_stage`), or None."""
        body = self._lookup(
            "/api/2.0/mlflow/model-versions/get",
            f"get model version {name} {version}",
            {"name": name, "version": version},
        )
        return None if body is None else body.get("model_version") or {}

    def registry_latest_versions(self, name: str, stages: list[str]) -> list[dict[str, Any]] | None:
        """The latest workspace Model Registry version in each of `stages`; None if the model does not exist.

        A POST that only reads (the registry's API has no GET for it).
        """
        operation = f"get latest versions of {name}"
        response = self._request(
            "POST", "/api/2.0/mlflow/registered-models/get-latest-versions", operation, {"name": name, "stages": stages}
        )
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise error_of(operation, response)
        return list((response.json() if response.content else {}).get("model_versions") or [])

    def service_principal(self, application_id: str) -> dict[str, Any] | None:
        """The workspace's service principal with this application id, or None."""
        body = (
            self._lookup(
                "/api/2.0/preview/scim/v2/ServicePrincipals",
                f"find service principal {application_id}",
                {"filter": f'applicationId eq "{application_id}"'},
            )
            or {}
        )
        found = body.get("Resources") or []
        return found[0] if found else None

    def group(self, display_name: str) -> dict[str, Any] | None:
        """The workspace group with this name, or None."""
        body = (
            self._lookup(
                "/api/2.0/preview/scim/v2/Groups",
                f"find group {display_name}",
                {"filter": f'displayName eq "{display_name}"'},
            )
            or {}
        )
        found = body.get("Resources") or []
        return found[0] if found else None

    def user(self, user_name: str) -> dict[str, Any] | None:
        """The workspace user with this user name (an e-mail address), or None."""
        body = (
            self._lookup(
                "/api/2.0/preview/scim/v2/Users", f"find user {user_name}", {"filter": f'userName eq "{user_name}"'}
            )
            or {}
        )
        found = body.get("Resources") or []
        return found[0] if found else None

    def current_principal(self) -> str | None:
        """Who this client deploys as: a user's name or a service principal's application id."""
        body = self._lookup("/api/2.0/preview/scim/v2/Me", "who am I") or {}
        return body.get("userName")

    def secret_scopes(self) -> list[str]:
        """The names of the workspace's secret scopes."""
        body = self._lookup("/api/2.0/secrets/scopes/list", "list secret scopes") or {}
        return [str(scope.get("name")) for scope in body.get("scopes") or []]

    def secret_keys(self, scope: str) -> list[str] | None:
        """The key names in a secret scope (never values: this API has none), or None if there is no scope."""
        body = self._lookup("/api/2.0/secrets/list", f"list secrets of {scope}", {"scope": scope})
        return None if body is None else [str(secret.get("key")) for secret in body.get("secrets") or []]

    def uc_schema(self, full_name: str) -> dict[str, Any] | None:
        """A Unity Catalog schema (`catalog.schema`), or None if it (or its catalog) does not exist."""
        return self._lookup(f"/api/2.1/unity-catalog/schemas/{quote(full_name)}", f"get schema {full_name}")

    def uc_catalog(self, name: str) -> dict[str, Any] | None:
        """A Unity Catalog catalog, or None."""
        return self._lookup(f"/api/2.1/unity-catalog/catalogs/{quote(name)}", f"get catalog {name}")

    def model_privileges(self, full_name: str, principal: str) -> set[str] | None:
        """The privileges `principal` holds on a Unity Catalog model, inherited ones included; None when the
        workspace does not tell (no such model, or the caller may not read its grants)."""
        # Registered models are FUNCTION securables in Unity Catalog's grants APIs.
        path = f"/api/2.1/unity-catalog/effective-permissions/function/{quote(full_name)}"
        try:
            body = self._lookup(path, f"effective permissions on {full_name}", {"principal": principal})
        except ServingApiError as error:
            if error.status in (400, 403):
                return None
            raise
        if body is None:
            return None
        return {
            privilege.get("privilege")
            for assignment in body.get("privilege_assignments") or []
            if assignment.get("principal") == principal
            for privilege in assignment.get("privileges") or []
        }
