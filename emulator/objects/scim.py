"""SCIM principals as a preflight reads them: service principals, groups, users and the caller (`Me`), in
databricks-sdk iam's camelCase shapes (`ListServicePrincipalResponse`, `ListGroupsResponse`, `User`)."""

from __future__ import annotations

import re
from typing import Any

from emulator.errors import invalid_parameter
from emulator.objects.ids import stable_id

SCIM_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class ScimDirectory:
    """Application id -> display name, group names, user names; changed through the admin API only."""

    def __init__(self, service_principals: dict[str, str], groups: set[str], users: set[str]):
        self.service_principals = service_principals
        self.groups = groups
        self.users = users

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
        body: dict[str, Any] = {
            "totalResults": len(resources),
            "startIndex": 1,
            "itemsPerPage": len(resources),
            "schemas": [SCIM_LIST],
        }
        if resources:
            body["Resources"] = resources
        return body

    def service_principals_list(self, filter_text: str | None) -> dict[str, Any]:
        wanted = self._filter(filter_text, "applicationId")
        return self._list(
            [
                {
                    "id": stable_id("sp", app_id)[:16],
                    "applicationId": app_id,
                    "displayName": name,
                    "active": True,
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"],
                }
                for app_id, name in sorted(self.service_principals.items())
                if wanted is None or app_id == wanted.lower()
            ]
        )

    def groups_list(self, filter_text: str | None) -> dict[str, Any]:
        wanted = self._filter(filter_text, "displayName")
        return self._list(
            [
                {
                    "id": stable_id("group", group)[:16],
                    "displayName": group,
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                }
                for group in sorted(self.groups)
                if wanted is None or group == wanted
            ]
        )

    def users_list(self, filter_text: str | None) -> dict[str, Any]:
        wanted = self._filter(filter_text, "userName")
        # SCIM's userName is not case-exact (RFC 7643 4.1.1): `eq` matches it whatever the case.
        return self._list(
            [
                {
                    "id": stable_id("user", user)[:16],
                    "userName": user,
                    "active": True,
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                }
                for user in sorted(self.users)
                if wanted is None or user.lower() == wanted.lower()
            ]
        )

    @staticmethod
    def me(principal: str, groups: tuple[str, ...]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": stable_id("me", principal)[:16],
            "userName": principal,
            "active": True,
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        }
        if groups:
            body["groups"] = [{"display": group, "value": stable_id("group", group)[:16]} for group in groups]
        return body

    # ---- admin API changes (emulator.workspace_objects.WorkspaceObjects.change) ----------------

    def _change_service_principals(self, remove: bool, application_id: str, display_name: str = "") -> None:
        if remove:
            self.service_principals.pop(application_id.lower(), None)
        else:
            self.service_principals[application_id.lower()] = display_name or application_id

    def _change_groups(self, remove: bool, name: str) -> None:
        (self.groups.discard if remove else self.groups.add)(name)
