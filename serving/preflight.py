"""Preflight: what an endpoint's deployment needs from the workspace, checked before anything changes.

The failures users meet most on Databricks surface only after a 10-30 minute deployment: a model version
that is not registered or not READY yet, a query service principal, a manager group or a granted principal
that this workspace does not have, a `{{secrets/scope/key}}` reference to a missing secret, an inference
table schema that does not exist, a deploying identity without EXECUTE on the model. `check` looks for all
of them with read-only calls (GETs) and returns every finding at once, each naming the stack key path to
edit and what would be right. Secret values are never read: the secrets API lists key names only.

Model aliases are resolved here too (`resolve_version`): `@champion` is a Unity Catalog alias; for a
workspace Model Registry model (a name without dots) `@Production` / `@Staging` mean the latest version in
that stage.

No Pulumi here: the `servingops` plugin runs it (provider.implementations.PreflightKind) in the preview and the
update, and for alias resolution (provider.functions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from serving.workspace import ServingClient

UNITY_CATALOG_MODEL = re.compile(r"^[^.\s]+\.[^.\s]+\.[^.\s]+$")
SECRET_REFERENCE = re.compile(r"^\{\{secrets/([^/{}]+)/([^/{}]+)\}\}$")
REGISTRY_STAGES = ("Production", "Staging")
"""The stages a workspace Model Registry alias may name (`@Production`): the ones a deployment serves from."""
EXECUTE_PRIVILEGES = frozenset({"EXECUTE", "ALL_PRIVILEGES", "ALL PRIVILEGES"})
MAX_NAMES_SHOWN = 8


def in_unity_catalog(model: str) -> bool:
    """`catalog.schema.model` is a Unity Catalog model; a name without dots is in the workspace Model Registry."""
    return bool(UNITY_CATALOG_MODEL.match(model))


@dataclass(frozen=True)
class Located:
    """A declared value and the stack key path it comes from."""

    value: str
    key_path: str


@dataclass(frozen=True)
class EntityToCheck:
    """A served entity's model version, as declared (an alias already resolved to its number)."""

    name: str
    entity_name: str
    entity_version: str
    key_path: str
    """Key path of the version (`endpoints.risk-classifier.served_models[1].version`)."""

    @property
    def model_key_path(self) -> str:
        return self.key_path.rsplit(".", 1)[0] + ".model"


@dataclass(frozen=True)
class GrantToCheck:
    """A principal `access.grants` names: a service principal's application id, a group's name or a user's
    e-mail (`kind`: `service_principal`, `group` or `user`, the stack file's keys)."""

    kind: str
    value: str
    key_path: str
    """Key path of the principal (`endpoints.risk-classifier.access.grants[0].group`)."""


# Built into every workspace (all its users, all the account's): a SCIM search need not find them to be there.
EVERYBODY_GROUPS = frozenset({"users", "account users"})


@dataclass(frozen=True)
class InferenceTableToCheck:
    catalog: str
    schema: str
    key_path: str
    """Key path of the inference table block (`endpoints.risk-classifier.inference_table`)."""


@dataclass(frozen=True)
class PreflightRequest:
    """Everything one endpoint's deployment needs to exist in the workspace."""

    endpoint: str
    served_entities: tuple[EntityToCheck, ...] = ()
    query_service_principal: Located | None = None
    manager_groups: tuple[Located, ...] = ()
    secret_references: tuple[Located, ...] = ()
    """Environment variable values that are secret references, `{{secrets/<scope>/<key>}}`."""
    inference_table: InferenceTableToCheck | None = None
    grants: tuple[GrantToCheck, ...] = ()
    """The principals of `access.grants`, in the stack file's order."""


@dataclass(frozen=True)
class Finding:
    """One thing the workspace lacks: where the stack file says it, what is wrong, what would be right."""

    key_path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.key_path}: {self.problem}; {self.fix}"


class PreflightError(Exception):
    """The workspace lacks what the deployment needs; the message lists every finding (nothing was changed)."""

    def __init__(self, endpoint: str, findings: list[Finding]):
        self.endpoint = endpoint
        self.findings = findings
        count = f"{len(findings)} problem{'s' if len(findings) != 1 else ''}"
        lines = [f"preflight of endpoint {endpoint}: {count} in the workspace, found before anything changed:"]
        lines += [f"  - {finding}" for finding in findings]
        super().__init__("\n".join(lines))

    @classmethod
    def of_stack(cls, errors: list[PreflightError]) -> PreflightError:
        """The findings of several endpoints as one error: each endpoint's block, one after the other."""
        if len(errors) == 1:
            return errors[0]
        combined = cls(errors[0].endpoint, [finding for error in errors for finding in error.findings])
        combined.args = ("\n".join(str(error) for error in errors),)
        return combined


@dataclass(frozen=True)
class Resolution:
    """What an alias points at: a version number, or why there is none."""

    version: str | None
    problem: str | None = None


def _names(names: Iterable[str]) -> str:
    shown = sorted(names)
    text = ", ".join(shown[:MAX_NAMES_SHOWN]) + (", ..." if len(shown) > MAX_NAMES_SHOWN else "")
    return text or "none"


def resolve_version(client: ServingClient, model: str, alias: str) -> Resolution:
    """The version `@alias` of `model` points at now (read-only)."""
    alias = alias.removeprefix("@")
    if in_unity_catalog(model):
        found = client.uc_model_alias(model, alias)
        if found is None or found.get("version") is None:
            return Resolution(
                None,
                f"model {model} has no alias @{alias} in this workspace (or the model does not "
                "exist, or the deploying identity cannot see it)",
            )
        return Resolution(str(found["version"]))
    stage = next((stage for stage in REGISTRY_STAGES if stage.lower() == alias.lower()), None)
    if stage is None:
        return Resolution(
            None,
            f"{model} is a workspace Model Registry model: its aliases are its stages, "
            f"{' or '.join('@' + s for s in REGISTRY_STAGES)}, not @{alias}",
        )
    latest = client.registry_latest_versions(model, [stage])
    if latest is None:
        return Resolution(None, f"{model} is not a registered model in this workspace's Model Registry")
    versions = [str(version["version"]) for version in latest if version.get("version") is not None]
    if not versions:
        return Resolution(None, f"no version of {model} is in stage {stage}")
    return Resolution(max(versions, key=int))


class _Workspace:
    """Read-only lookups, each made once per preflight."""

    def __init__(self, client: ServingClient):
        self.client = client
        self._scopes: set[str] | None = None
        self._keys: dict[str, list[str] | None] = {}

    def scopes(self) -> set[str]:
        if self._scopes is None:
            self._scopes = set(self.client.secret_scopes())
        return self._scopes

    def keys(self, scope: str) -> list[str] | None:
        if scope not in self._keys:
            self._keys[scope] = self.client.secret_keys(scope)
        return self._keys[scope]


def _entity_findings(client: ServingClient, entity: EntityToCheck) -> list[Finding]:
    model, version = entity.entity_name, entity.entity_version
    if version.startswith("@"):
        resolved = resolve_version(client, model, version)
        if resolved.version is None:
            return [
                Finding(
                    entity.key_path,
                    f"alias {version} cannot be resolved: {resolved.problem}",
                    "declare a version number or an alias that exists",
                )
            ]
        version = resolved.version
    if in_unity_catalog(model):
        found = client.uc_model_version(model, version)
        registry = "Unity Catalog"
    else:
        found = client.registry_model_version(model, version)
        registry = "the workspace Model Registry"
    if found is None:
        return [
            Finding(
                entity.key_path,
                f"version {version} of {model} does not exist in {registry} (or the model "
                "does not, or the deploying identity cannot see it)",
                "declare a registered version, or register this one first",
            )
        ]
    status = found.get("status") or "READY"
    if status == "PENDING_REGISTRATION":
        return [
            Finding(
                entity.key_path,
                f"version {version} of {model} is PENDING_REGISTRATION, not READY",
                "wait until its registration finishes, then deploy (it would fail after the build now)",
            )
        ]
    if status != "READY":
        return [
            Finding(
                entity.key_path,
                f"version {version} of {model} is {status}, not READY",
                "register the model again and declare the new version",
            )
        ]
    return []


def _secret_findings(workspace: _Workspace, reference: Located) -> list[Finding]:
    match = SECRET_REFERENCE.match(reference.value)
    if match is None:
        return [Finding(reference.key_path, "is not a secret reference", "write it as {{secrets/<scope>/<key>}}")]
    scope, key = match.groups()
    if scope not in workspace.scopes():
        return [
            Finding(
                reference.key_path,
                f"secret scope {scope} does not exist in this workspace (scopes: {_names(workspace.scopes())})",
                f"create it (`databricks secrets create-scope {scope}`) and put the key {key} in it, or "
                "name an existing scope",
            )
        ]
    keys = workspace.keys(scope)
    if keys is None or key not in keys:
        return [
            Finding(
                reference.key_path,
                f"secret scope {scope} has no key {key} (keys: {_names(keys or [])})",
                f"put it there (`databricks secrets put-secret {scope} {key}`) or name an existing key",
            )
        ]
    return []


def _table_findings(client: ServingClient, table: InferenceTableToCheck) -> list[Finding]:
    full_name = f"{table.catalog}.{table.schema}"
    if client.uc_schema(full_name) is not None:
        return []
    if client.uc_catalog(table.catalog) is None:
        return [
            Finding(
                f"{table.key_path}.catalog",
                f"catalog {table.catalog} does not exist in this workspace's metastore",
                "name an existing catalog, or create it first",
            )
        ]
    return [
        Finding(
            f"{table.key_path}.schema",
            f"schema {full_name} does not exist",
            f"create it first (`CREATE SCHEMA {full_name}`) or name an existing schema",
        )
    ]


def _grant_findings(client: ServingClient, grant: GrantToCheck) -> list[Finding]:
    if grant.kind == "service_principal":
        if client.service_principal(grant.value) is not None:
            return []
        return [
            Finding(
                grant.key_path,
                f"no service principal with application id {grant.value} in this workspace",
                "add the service principal to the workspace, or name the application id of one that is "
                "(not its display name)",
            )
        ]
    if grant.kind == "group":
        if grant.value in EVERYBODY_GROUPS or client.group(grant.value) is not None:
            return []
        return [
            Finding(
                grant.key_path,
                f"no group {grant.value} in this workspace",
                "add the group to the workspace, or name an existing one",
            )
        ]
    if client.user(grant.value) is not None:
        return []
    return [
        Finding(
            grant.key_path,
            f"no user {grant.value} in this workspace",
            "add the user to the workspace, or name the e-mail address (user name) of one who is",
        )
    ]


def _permission_findings(client: ServingClient, entities: Iterable[EntityToCheck]) -> list[Finding]:
    """EXECUTE on each Unity Catalog model, where the workspace tells (else no finding)."""
    models: dict[str, EntityToCheck] = {}
    for entity in entities:
        if in_unity_catalog(entity.entity_name):
            models.setdefault(entity.entity_name, entity)
    if not models:
        return []
    deployer = client.current_principal()
    if not deployer:
        return []
    findings = []
    for model, entity in models.items():
        privileges = client.model_privileges(model, deployer)
        if privileges is not None and not privileges & EXECUTE_PRIVILEGES:
            findings.append(
                Finding(
                    entity.model_key_path,
                    f"the deploying identity {deployer} has no EXECUTE on model {model} (holds: {_names(privileges)})",
                    "grant it EXECUTE on the model (or on its schema or catalog)",
                )
            )
    return findings


def check(client: ServingClient, request: PreflightRequest) -> list[Finding]:
    """Every finding for one endpoint, in the order of the stack file; [] when the deployment can go ahead."""
    workspace = _Workspace(client)
    findings: list[Finding] = []
    for entity in request.served_entities:
        findings += _entity_findings(client, entity)
    principal = request.query_service_principal
    if principal is not None and client.service_principal(principal.value) is None:
        findings.append(
            Finding(
                principal.key_path,
                f"no service principal with application id {principal.value} in this workspace",
                "add the service principal to the workspace, or name the application id of one "
                "that is (not its display name)",
            )
        )
    for group in request.manager_groups:
        if client.group(group.value) is None:
            findings.append(
                Finding(
                    group.key_path,
                    f"no group {group.value} in this workspace",
                    "add the group to the workspace, or name an existing one",
                )
            )
    for grant in request.grants:
        findings += _grant_findings(client, grant)
    for reference in request.secret_references:
        findings += _secret_findings(workspace, reference)
    if request.inference_table is not None:
        findings += _table_findings(client, request.inference_table)
    findings += _permission_findings(client, request.served_entities)
    return findings
