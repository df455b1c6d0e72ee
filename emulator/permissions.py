"""Endpoint access control: who may view, query or manage an endpoint.

Grants are direct (user, group or service principal -> level). Members of `admins` hold CAN_MANAGE
on every endpoint, shown as inherited from `/serving-endpoints/` the way the permissions API shows
workspace-admin rights. Every workspace principal is implicitly in the `users` group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.errors import invalid_parameter, permission_denied
from emulator.schemas import PERMISSION_LEVELS, AccessControlInput
from emulator.settings import ADMINS_GROUP, PrincipalSpec

RANK = {level: i + 1 for i, level in enumerate(PERMISSION_LEVELS)}  # CAN_VIEW < CAN_QUERY < CAN_MANAGE
PRINCIPAL_FIELDS = ("user_name", "group_name", "service_principal_name")
ALL_USERS_GROUP = "users"
LEVEL_DESCRIPTIONS = {
    "CAN_VIEW": "Can view the endpoint and its configuration",
    "CAN_QUERY": "Can view and query the endpoint",
    "CAN_MANAGE": "Can view, query, edit, delete the endpoint and manage its permissions",
}

Grantee = tuple[str, str]  # (principal field, name), e.g. ("group_name", "data-scientists")


def grantee_of(principal: PrincipalSpec) -> Grantee:
    return ("service_principal_name" if principal.kind == "service_principal" else "user_name", principal.principal)


@dataclass
class AccessControlList:
    grants: dict[Grantee, str] = field(default_factory=dict)

    def level_of(self, principal: PrincipalSpec) -> str | None:
        if principal.is_admin:
            return "CAN_MANAGE"
        candidates = [self.grants.get(grantee_of(principal))]
        candidates += [self.grants.get(("group_name", g)) for g in (*principal.groups, ALL_USERS_GROUP)]
        held = [c for c in candidates if c is not None]
        return max(held, key=RANK.__getitem__) if held else None

    def require(self, principal: PrincipalSpec, level: str, endpoint_name: str) -> None:
        held = self.level_of(principal)
        if held is None or RANK[held] < RANK[level]:
            raise permission_denied(
                f"Principal '{principal.principal}' needs {level} on serving endpoint '{endpoint_name}'"
                f" (holds {held or 'no permission'})."
            )

    def replace(self, entries: list[AccessControlInput], caller: PrincipalSpec) -> None:
        """PUT: the request becomes the whole set of direct grants; the caller keeps CAN_MANAGE so that
        an authoritative update cannot lock its own deployer out (admins keep it through their group)."""
        grants = dict(_parse(entries))
        if not caller.is_admin:
            grants[grantee_of(caller)] = "CAN_MANAGE"
        self.grants = grants

    def merge(self, entries: list[AccessControlInput]) -> None:
        """PATCH: each given principal gets the given level; others keep theirs."""
        self.grants.update(_parse(entries))

    def as_json(self, object_id: str) -> dict[str, Any]:
        acl = [
            {grantee[0]: grantee[1], "all_permissions": [{"permission_level": level, "inherited": False}]}
            for grantee, level in self.grants.items()
        ]
        acl.append(
            {
                "group_name": ADMINS_GROUP,
                "all_permissions": [
                    {
                        "permission_level": "CAN_MANAGE",
                        "inherited": True,
                        "inherited_from_object": ["/serving-endpoints/"],
                    }
                ],
            }
        )
        return {
            "object_id": f"/serving-endpoints/{object_id}",
            "object_type": "serving-endpoint",
            "access_control_list": acl,
        }


def _parse(entries: list[AccessControlInput]) -> list[tuple[Grantee, str]]:
    parsed = []
    for entry in entries:
        named = [(f, getattr(entry, f)) for f in PRINCIPAL_FIELDS if getattr(entry, f)]
        if len(named) != 1:
            raise invalid_parameter(
                "Each access control entry needs exactly one of user_name, group_name, service_principal_name."
            )
        if entry.permission_level not in PERMISSION_LEVELS:
            raise invalid_parameter(
                f"Permission level '{entry.permission_level}' is not valid for serving endpoints; "
                f"use one of {list(PERMISSION_LEVELS)}."
            )
        if named[0] == ("group_name", ADMINS_GROUP):
            if entry.permission_level != "CAN_MANAGE":
                raise invalid_parameter("The admins group always has CAN_MANAGE; it cannot be lowered.")
            continue  # already held through the workspace; not a direct grant
        parsed.append((named[0], entry.permission_level))
    return parsed


def permission_levels_json() -> dict[str, Any]:
    return {
        "permission_levels": [
            {"permission_level": level, "description": LEVEL_DESCRIPTIONS[level]} for level in PERMISSION_LEVELS
        ]
    }
