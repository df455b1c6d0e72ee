"""Who may use an endpoint (`access`), and how strictly the policy pack judges the stack (`policy`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from components.config.limits import ADMINS_GROUP, BROAD_PRINCIPALS, EMAIL_PATTERN, UUID_PATTERN
from components.config.problems import RuleProblem, StrictModel, fail


class PermissionLevel(StrEnum):
    """A serving endpoint's permission levels (Terraform provider `permissions/permission_definitions.go`,
    `serving_endpoint_id`): CAN_MANAGE is the one management level."""

    CAN_VIEW = "CAN_VIEW"
    CAN_QUERY = "CAN_QUERY"
    CAN_MANAGE = "CAN_MANAGE"


class PrincipalKind(StrEnum):
    """Who a grant is for, as a stack file names it; each maps to one field of the permissions API."""

    SERVICE_PRINCIPAL = "service_principal"
    GROUP = "group"
    USER = "user"


PRINCIPAL_KINDS: tuple[str, ...] = tuple(kind.value for kind in PrincipalKind)


DEPLOYER_CONTEXT = "deployer"
"""Validation context key: the deploying service principal's application id (lower case), when known."""


def _deployer_of(info: ValidationInfo) -> str | None:
    context = info.context if isinstance(info.context, Mapping) else None
    deployer = context.get(DEPLOYER_CONTEXT) if context else None
    return deployer if isinstance(deployer, str) and deployer else None


def _application_id(value: str, info: ValidationInfo) -> str:
    if not value.strip():
        raise fail("empty_principal", "must not be empty: the service principal's application id (a UUID)")
    if not UUID_PATTERN.match(value):
        raise fail("application_id", "must be the service principal's application id (a UUID), not its display name")
    value = value.lower()
    if value == _deployer_of(info):
        raise fail(
            "deployer",
            "is the service principal that deploys this stack (databricks:clientId); it keeps CAN_MANAGE on every "
            "endpoint it deploys (the Permissions resource adds it, and refuses a lower level for it): remove "
            "this grant, or deploy with another service principal",
        )
    return value


def principal_identity(kind: str, name: str) -> str:
    """How Databricks tells principals apart: application ids and e-mails whatever their case, groups exactly."""
    return f"{kind}:{name if kind == PrincipalKind.GROUP else name.lower()}"


class GrantConfig(StrictModel):
    """One direct grant beyond the default form: a principal of one kind, at one permission level."""

    service_principal: str | None = Field(
        default=None, description="Application id (UUID) of a service principal (another calling application)."
    )
    group: str | None = Field(default=None, description="A workspace group's name; `users` is everybody.")
    user: str | None = Field(default=None, description="A user's e-mail address.")
    level: PermissionLevel = Field(description="CAN_VIEW, CAN_QUERY or CAN_MANAGE.")

    @field_validator("service_principal")
    @classmethod
    def _service_principal(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _application_id(value, info)

    @field_validator("group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise fail("empty_principal", "must not be empty: a group's name")
        if value.strip().lower() == ADMINS_GROUP:
            raise fail(
                "admins",
                "`{group}` cannot be granted on a serving endpoint (the permissions API refuses to change admins); "
                "workspace admins manage every endpoint already: remove this grant",
                group=value,
            )
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise fail("empty_principal", "must not be empty: a user's e-mail address")
        if not EMAIL_PATTERN.match(value):
            raise fail("email", "must be the user's e-mail address (their workspace user name)")
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        named = [kind for kind in PRINCIPAL_KINDS if data.get(kind) is not None]
        if len(named) != 1:
            found = f"found {', '.join(named)}" if named else "found none"
            yield RuleProblem(
                (), "principal", f"name exactly one principal: service_principal, group or user ({found})"
            )

    @property
    def kind(self) -> PrincipalKind:
        return next(PrincipalKind(kind) for kind in PRINCIPAL_KINDS if getattr(self, kind) is not None)

    @property
    def principal(self) -> str:
        """The service principal's application id, the group's name or the user's e-mail."""
        principal: str = getattr(self, self.kind.value)
        return principal


class AccessConfig(StrictModel):
    """Who may use the endpoint. Nobody else gets a direct grant.

    The default form (`query_service_principal`, `manager_groups`) is the secure default the policy pack
    accepts as it is; `grants` declares more (a second application, a query group, CAN_VIEW for support),
    each of which the policy pack flags at the level the stack's `policy` section gives.
    """

    query_service_principal: str = Field(
        description="Application id (UUID) of the one service principal that gets CAN_QUERY."
    )
    manager_groups: list[str] = Field(default_factory=list, description="Groups that get CAN_MANAGE.")
    grants: list[GrantConfig] = Field(
        default_factory=list,
        description="More grants: principals of each kind at each level; flagged by the policy pack.",
    )

    @field_validator("query_service_principal")
    @classmethod
    def _query_application_id(cls, value: str, info: ValidationInfo) -> str:
        return _application_id(value, info)

    @field_validator("manager_groups")
    @classmethod
    def _named_groups(cls, value: list[str]) -> list[str]:
        for group in value:
            if group.strip().lower() in BROAD_PRINCIPALS:
                raise fail(
                    "broad_principal",
                    "`{group}` would hand the endpoint to everybody; name a dedicated group",
                    group=group,
                )
            if not group.strip():
                raise fail("group_name", "group names must not be empty")
        if len(set(value)) != len(value):
            raise fail("unique_groups", "each group may be named once")
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        # A principal at two levels gets the higher one in Databricks, whatever the stack says: declare it once.
        declared: dict[str, tuple[str, str]] = {}
        query = data.get("query_service_principal")
        if isinstance(query, str):
            declared[principal_identity(PrincipalKind.SERVICE_PRINCIPAL, query)] = (
                "CAN_QUERY",
                "access.query_service_principal",
            )
        groups = data.get("manager_groups")
        for index, group in enumerate(groups if isinstance(groups, list) else []):
            if isinstance(group, str):
                declared.setdefault(
                    principal_identity(PrincipalKind.GROUP, group), ("CAN_MANAGE", f"access.manager_groups[{index}]")
                )
        grants = data.get("grants")
        for index, grant in enumerate(grants if isinstance(grants, list) else []):
            if not isinstance(grant, Mapping):
                continue
            named = [(kind, grant[kind]) for kind in PRINCIPAL_KINDS if isinstance(grant.get(kind), str)]
            if len(named) != 1:
                continue
            ((kind, name),) = named
            level = grant.get("level")
            identity = principal_identity(kind, name)
            if identity in declared:
                earlier_level, where = declared[identity]
                same = "again" if level == earlier_level else f"at {level}, and at {earlier_level}"
                yield RuleProblem(
                    ("grants", index),
                    "principal_declared_twice",
                    f"{kind.replace('_', ' ')} `{name}` is declared {same} by {where}; a principal holds one "
                    "level (Databricks keeps the highest): declare it once, at the level it needs",
                )
                continue
            declared[identity] = (str(level), f"access.grants[{index}]")


class FindingLevel(StrEnum):
    """How the policy pack reports a finding: `mandatory` fails the preview and the review, `advisory` shows it."""

    ADVISORY = "advisory"
    MANDATORY = "mandatory"


class PolicySettings(StrictModel):
    """How strictly the policy pack judges this stack (`databricks-serving:policy`).

    The defaults are the strict ones: every grant beyond the secure default access (one query service
    principal, manager groups) fails the preview. A stack that needs more declares it under
    `access.grants` and, if the team accepts it there, lowers the finding to advisory: it stays visible in
    every review.
    """

    grants_beyond_default: FindingLevel = Field(
        default=FindingLevel.MANDATORY,
        description="Grants broader than the secure default (another query principal, a group below CAN_MANAGE, "
        "a user, a service principal with CAN_MANAGE or CAN_VIEW), workspace-wide groups aside.",
    )
    workspace_wide_grants: FindingLevel = Field(
        default=FindingLevel.MANDATORY,
        description="Grants to `users` or `account users`, which open the endpoint to everybody.",
    )
