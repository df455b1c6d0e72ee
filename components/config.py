"""Stack configuration: the one place that knows every key, default and limit.

Data flows one way: the stack file's values are parsed here into typed, validated models
(`StackConfig`), and components only ever see `EndpointSpec` values derived from them. Every rule
Databricks enforces is checked here, before a single resource is declared, and every problem of a
stack file is reported at once in one `StackConfigError`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, PydanticKnownError

from components.stack_file import StackFile, UnreadableStackFileError, YamlProblem, read_stack_file

PROJECT = "databricks-serving"
"""The Pulumi project name, and so the namespace of this program's stack config keys."""

# Limits Databricks enforces (see ../shared/notes/databricks-serving.md and the serving API docs).
MAX_ENDPOINT_NAME_LENGTH = 63
MAX_SERVED_ENTITIES = 15
MAX_ENVIRONMENT_VARS = 30
MAX_REQUEST_BYTES = 16 * 1024 * 1024
RESERVED_ENDPOINT_PREFIX = "databricks-"
INPUT_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")

# Serving endpoint tags propagate to billing (usage) records. Neither the serving API reference nor the SDKs'
# `EndpointTag` state a length limit; 255 characters for a key and for a value (the Unity Catalog object-name
# limit) is an assumption, not checked against the API: revisit when Databricks documents its own limit.
MAX_TAG_KEY_LENGTH = 255
MAX_TAG_VALUE_LENGTH = 255
# Unity Catalog object names (catalog, schema, table): "Object names cannot exceed 255 characters", and no
# period, space, forward slash, ASCII control character or DELETE (Databricks SQL reference, "Names").
MAX_UNITY_CATALOG_NAME_LENGTH = 255
UNITY_CATALOG_FORBIDDEN = re.compile(r"[.\s/\x00-\x1f\x7f]")

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
# A POSIX shell environment variable name: the serving container's process environment takes no other.
ENVIRONMENT_VAR_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
# A legacy workspace Model Registry name (`RiskClassifier`, `iris-classifier`): one part, no dots. Databricks still
# serves such models; the `unity-catalog-models` policy rule recommends moving them to Unity Catalog.
REGISTRY_MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
UUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
SECRET_REFERENCE_PATTERN = re.compile(r"^\{\{secrets/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\}\}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Names that say "this value is a credential": such a variable may only hold a secret reference.
SECRET_NAME_PATTERN = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|PWD|CREDENTIAL|API_?KEY|PRIVATE_KEY)", re.I)
# A Databricks personal access token, wherever it appears, is never a configuration value.
TOKEN_VALUE_PATTERN = re.compile(r"dapi[0-9a-f]{32}")
# Principals that would open an endpoint to everybody.
BROAD_PRINCIPALS = frozenset({"users", "account users", "admins"})


class WorkloadSize(StrEnum):
    SMALL = "Small"
    MEDIUM = "Medium"
    LARGE = "Large"


class WorkloadType(StrEnum):
    """The compute types of databricks-sdk's `ServingModelWorkloadType` (service/serving.py)."""

    CPU = "CPU"
    CPU_MEDIUM = "CPU_MEDIUM"
    CPU_LARGE = "CPU_LARGE"
    GPU_SMALL = "GPU_SMALL"
    GPU_MEDIUM = "GPU_MEDIUM"
    GPU_LARGE = "GPU_LARGE"
    GPU_XLARGE = "GPU_XLARGE"
    GPU_XLARGE_8 = "GPU_XLARGE_8"
    MULTIGPU_MEDIUM = "MULTIGPU_MEDIUM"


# Databricks waits this long for a served entity to deploy before it gives up (its own timeouts);
# readiness waits a little longer so that Databricks' verdict, not ours, ends a slow deployment.
# Databricks docs, "Debug model serving timeouts": "up to 30 minutes for CPU workloads, 60 minutes for GPU
# small or medium workloads, and 120 minutes for GPU large workloads". The docs name no figure for the newer
# types: every CPU size is a CPU workload (30); GPU sizes above large and multi-GPU get the largest
# documented wait (120), never less than a smaller GPU gets.
DEPLOYMENT_TIMEOUT_MINUTES: dict[WorkloadType, int] = {
    WorkloadType.CPU: 30,
    WorkloadType.CPU_MEDIUM: 30,
    WorkloadType.CPU_LARGE: 30,
    WorkloadType.GPU_SMALL: 60,
    WorkloadType.GPU_MEDIUM: 60,
    WorkloadType.GPU_LARGE: 120,
    WorkloadType.GPU_XLARGE: 120,
    WorkloadType.GPU_XLARGE_8: 120,
    WorkloadType.MULTIGPU_MEDIUM: 120,
}
READINESS_MARGIN_MINUTES = 5


def _fail(rule: str, message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError(rule, message, context)


def _positive_version(value: Any) -> str:
    """Model versions are positive integers; YAML gives `3` or `"3"`, Databricks wants `"3"`."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _fail("version", "must be a positive integer, written as 3 or \"3\"")
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise _fail("version", "must be a positive integer, written as 3 or \"3\"")
    return str(int(text))


# A model alias (MLflow's rule, mlflow/utils/validation.py): letters, digits, `_` and `-`, at most 255
# characters, neither `latest` nor `v<number>` (both reserved). A Unity Catalog alias, or for a workspace
# Model Registry model its stage (`@Production`, `@Staging`).
MODEL_ALIAS_PATTERN = re.compile(r"^@[A-Za-z0-9_-]{1,255}$")
RESERVED_ALIAS_PATTERN = re.compile(r"^@(latest|[vV]\d+)$", re.IGNORECASE)


def is_alias(version: str) -> bool:
    """Whether a declared version is an alias (`@champion`), resolved to a number when the program runs."""
    return version.startswith("@")


def _version_or_alias(value: Any) -> str:
    """A version number (`3`, `"3"`), or an alias `@champion` kept as written."""
    if isinstance(value, str) and value.strip().startswith("@"):
        text = value.strip()
        if not MODEL_ALIAS_PATTERN.match(text) or RESERVED_ALIAS_PATTERN.match(text):
            raise _fail(
                "version",
                "an alias is `@` and its name: letters, digits, `_` or `-` (not `latest` or `v<number>`), "
                "e.g. \"@champion\"",
            )
        return text
    return _positive_version(value)


def version_label(version: str) -> str:
    """The version as a served entity name takes it: `4`, or an alias without its `@` (`champion`).

    A served entity declared by alias keeps its name when the alias moves (`risk_classifier-champion`):
    the endpoint then updates that entity's version in place instead of replacing one entity by another.
    """
    return version[1:] if is_alias(version) else version


def default_served_entity_name(model: str, version: str) -> str:
    """The name Databricks gives a served entity declared without one: the model's last dotted part and its
    version (`main.credit.risk_classifier` v4 -> `risk_classifier-4`); an alias keeps its label (`-champion`)."""
    return f"{model.rsplit('.', 1)[-1]}-{version_label(str(version))}"


def is_plaintext_credential(name: str, value: str) -> bool:
    """Whether a value held under `name` (an environment variable, a tag) is a credential in plain text: a
    Databricks token, or anything under a secret-like name, unless it is a `{{secrets/<scope>/<key>}}` reference."""
    return bool(SECRET_NAME_PATTERN.search(name) or TOKEN_VALUE_PATTERN.search(value)) and not (
        SECRET_REFERENCE_PATTERN.match(value)
    )


ModelVersion = Annotated[str, BeforeValidator(_version_or_alias)]


def _tag_key(key: str) -> str:
    if not key.strip():
        raise _fail("tag_key", "tag keys must not be empty")
    if len(key) > MAX_TAG_KEY_LENGTH:
        raise _fail("tag_key", f"tag keys are at most {MAX_TAG_KEY_LENGTH} characters, this one has {len(key)}")
    return key


def _tag_value(value: str) -> str:
    if TOKEN_VALUE_PATTERN.search(value):
        raise _fail("tag_credential", "holds a Databricks token; tags are plain text: remove it")
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise _fail("tag_value", f"tag values are at most {MAX_TAG_VALUE_LENGTH} characters, this one has {len(value)}")
    return value


Tags = dict[Annotated[str, AfterValidator(_tag_key)], Annotated[str, AfterValidator(_tag_value)]]
"""Endpoint tags: key -> value, within Databricks' limits."""


def _unity_catalog_name(value: str) -> str:
    if not value or len(value) > MAX_UNITY_CATALOG_NAME_LENGTH or UNITY_CATALOG_FORBIDDEN.search(value):
        raise _fail(
            "unity_catalog_name",
            f"must be a Unity Catalog name: 1-{MAX_UNITY_CATALOG_NAME_LENGTH} characters, no period, space, "
            "`/` or control character",
        )
    return value


UnityCatalogName = Annotated[str, AfterValidator(_unity_catalog_name)]


@dataclass(frozen=True)
class RuleProblem:
    """A broken rule that looks at several fields, found on a model's raw values."""

    loc: tuple[str | int, ...]
    """Where, relative to the model: the field a user would edit, or () for the model itself."""
    rule: str
    message: str


def _line_errors(error: ValidationError) -> list[InitErrorDetails]:
    """The problems of `error`, ready to be raised again together with more."""
    details: list[InitErrorDetails] = []
    for item in error.errors(include_url=False):
        context = item.get("ctx")
        error_type: str | PydanticCustomError = item["type"]
        try:
            PydanticKnownError(item["type"], context)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            # One of ours: its message is final (formatting it again could eat a `{...}` it quotes).
            error_type, context = PydanticCustomError(item["type"], item["msg"]), None
        detail = InitErrorDetails(type=error_type, loc=item["loc"], input=item["input"])
        if context:
            detail["ctx"] = context
        details.append(detail)
    return details


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _parsed(type_: Any, value: Any) -> Any:
    """`value` read as `type_` the way the model reads it, or None when it is not one."""
    adapter = _ADAPTERS.get(type_)
    if adapter is None:
        adapter = _ADAPTERS[type_] = TypeAdapter(type_)
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _section(data: Any, *keys: str) -> Any:
    """`data[k1][k2]...` of raw values, or None where a level is missing or not a map."""
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


class _Strict(BaseModel):
    # A typo in a stack file (`workload_sise`) must fail, not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        """Rules across fields. They read the raw values, so they are reported even when a field they do
        not need is invalid (pydantic's own model validators would be skipped then)."""
        return ()

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            model, problems = handler(data), []
        except ValidationError as error:
            model, problems = None, _line_errors(error)
        if isinstance(data, Mapping):
            for problem in cls._rules(data):
                value: Any = data
                for part in problem.loc:
                    value = value[part] if isinstance(value, (Mapping, list)) else None
                problems.append(
                    InitErrorDetails(
                        type=PydanticCustomError(problem.rule, problem.message), loc=problem.loc, input=value
                    )
                )
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return model


def _served_name_of(entity: Any) -> str | None:
    """A served entity's name from its raw values (as `ServedModelConfig.served_name`), None if unknown."""
    if not isinstance(entity, Mapping):
        return None
    if entity.get("name") is not None:
        return entity["name"] if isinstance(entity["name"], str) else None
    model = entity.get("model")
    try:
        version = _version_or_alias(entity.get("version"))
    except PydanticCustomError:
        return None
    return default_served_entity_name(model, version) if isinstance(model, str) else None


def _served_names(endpoint: Mapping[str, Any]) -> list[str] | None:
    """The served entity names of an endpoint's raw values; None if any of them is unknown."""
    models = endpoint.get("served_models")
    if not isinstance(models, list) or not models:
        return None
    names = [_served_name_of(model) for model in models]
    return None if None in names else names  # type: ignore[return-value]


class ProvisionedConcurrency(_Strict):
    """Provisioned concurrency range, used instead of a workload size."""

    min: int = Field(ge=0, description="Minimum provisioned concurrency.")
    max: int = Field(ge=1, description="Maximum provisioned concurrency.")

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        low, high = _parsed(int, data.get("min")), _parsed(int, data.get("max"))
        if low is not None and high is not None and low > high:
            yield RuleProblem((), "range", f"min ({low}) must not exceed max ({high})")
        if any(bound is not None and bound % 4 for bound in (low, high)):
            yield RuleProblem(
                (), "multiple_of_4", "min and max must be multiples of 4 (Databricks scales in steps of 4)"
            )


class ServedModelConfig(_Strict):
    """One served entity: a registered model version and the compute it runs on."""

    model: str = Field(
        description="Unity Catalog model full name `catalog.schema.model`, or a legacy workspace Model Registry "
        "name (no dots)."
    )
    version: ModelVersion = Field(
        description="Model version, a positive integer; or an alias `@champion` (Unity Catalog; `@Production` / "
        "`@Staging` for a workspace Model Registry model), resolved to its number when the program runs."
    )
    name: str | None = Field(
        default=None,
        description="Served entity name; default `<model short name>-<version>`.",
    )
    workload_size: WorkloadSize | None = Field(
        default=None, description="Small (4 concurrent requests), Medium (8-16) or Large (16-64)."
    )
    workload_type: WorkloadType = Field(default=WorkloadType.CPU, description="Compute type.")
    scale_to_zero: bool = Field(
        default=False, description="Scale to zero when idle; the next request meets a cold start."
    )
    environment_vars: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables; credentials only as `{{secrets/<scope>/<key>}}`.",
    )
    provisioned_concurrency: ProvisionedConcurrency | None = Field(
        default=None, description="Provisioned concurrency range instead of a workload size."
    )

    @field_validator("model")
    @classmethod
    def _model_full_name(cls, value: str) -> str:
        if not (MODEL_NAME_PATTERN.match(value) or REGISTRY_MODEL_NAME_PATTERN.match(value)):
            raise _fail(
                "model_name",
                "must be a Unity Catalog full name `catalog.schema.model`, or a workspace Model Registry name "
                "without dots (`RiskClassifier`)",
            )
        return value

    @field_validator("name")
    @classmethod
    def _served_name(cls, value: str | None) -> str | None:
        if value is not None and not (NAME_PATTERN.match(value) and len(value) <= 63):
            raise _fail("served_name", "must be 1-63 letters, digits, `-` or `_`")
        return value

    @field_validator("environment_vars")
    @classmethod
    def _environment_var_count(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_ENVIRONMENT_VARS:
            raise _fail(
                "too_many_environment_vars",
                "at most {limit} environment variables per served entity, found {count}",
                limit=MAX_ENVIRONMENT_VARS,
                count=len(value),
            )
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        # Each variable on its own, so that one bad value does not hide a credential next to it.
        variables = data.get("environment_vars")
        for key, text in variables.items() if isinstance(variables, Mapping) else ():
            where = ("environment_vars", key)
            if not ENVIRONMENT_VAR_NAME_PATTERN.match(str(key)):
                yield RuleProblem(
                    where,
                    "environment_var_name",
                    "is not an environment variable name: letters, digits and `_`, not starting with a digit",
                )
            if not isinstance(text, str):
                continue
            if "{{secrets/" in text and not SECRET_REFERENCE_PATTERN.match(text):
                yield RuleProblem(
                    where, "secret_reference", "is not a secret reference; write it as `{{secrets/<scope>/<key>}}`"
                )
            elif is_plaintext_credential(str(key), text):
                yield RuleProblem(
                    where,
                    "secret_in_plaintext",
                    "holds a credential in plain text; write it as a reference `{{secrets/<scope>/<key>}}` "
                    "to a Databricks secret",
                )
        size, concurrency = data.get("workload_size"), data.get("provisioned_concurrency")
        if concurrency is not None and size is not None:
            yield RuleProblem((), "capacity", "set either workload_size or provisioned_concurrency, not both")
        if concurrency is None and size is None:
            yield RuleProblem(
                (), "capacity", "set workload_size (Small, Medium or Large) or provisioned_concurrency (min, max)"
            )

    @property
    def served_name(self) -> str:
        """The served entity's name: as given, or `<model short name>-<version>` like Databricks.

        The short name of a Unity Catalog model is its last part; a Model Registry name is its own short name.
        Declared by alias, `<model short name>-<alias>` (`risk_classifier-champion`): the name stays when the
        alias moves to another version.
        """
        return self.name or default_served_entity_name(self.model, self.version)

    @property
    def in_unity_catalog(self) -> bool:
        """True for a Unity Catalog model; False for a legacy workspace Model Registry one."""
        return bool(MODEL_NAME_PATTERN.match(self.model))


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
# The Terraform provider refuses any grant to `admins` on a serving endpoint ("it is not possible to modify
# admin permissions"); workspace admins manage every endpoint anyway.
ADMINS_GROUP = "admins"
DEPLOYER_CONTEXT = "deployer"
"""Validation context key: the deploying service principal's application id (lower case), when known."""


def _deployer_of(info: ValidationInfo) -> str | None:
    context = info.context if isinstance(info.context, Mapping) else None
    deployer = context.get(DEPLOYER_CONTEXT) if context else None
    return deployer if isinstance(deployer, str) and deployer else None


def _application_id(value: str, info: ValidationInfo) -> str:
    if not value.strip():
        raise _fail("empty_principal", "must not be empty: the service principal's application id (a UUID)")
    if not UUID_PATTERN.match(value):
        raise _fail("application_id", "must be the service principal's application id (a UUID), not its display name")
    value = value.lower()
    if value == _deployer_of(info):
        raise _fail(
            "deployer",
            "is the service principal that deploys this stack (databricks:clientId); it keeps CAN_MANAGE on every "
            "endpoint it deploys (the Permissions resource adds it, and refuses a lower level for it): remove "
            "this grant, or deploy with another service principal",
        )
    return value


def principal_identity(kind: str, name: str) -> str:
    """How Databricks tells principals apart: application ids and e-mails whatever their case, groups exactly."""
    return f"{kind}:{name if kind == PrincipalKind.GROUP else name.lower()}"


class GrantConfig(_Strict):
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
            raise _fail("empty_principal", "must not be empty: a group's name")
        if value.strip().lower() == ADMINS_GROUP:
            raise _fail(
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
            raise _fail("empty_principal", "must not be empty: a user's e-mail address")
        if not EMAIL_PATTERN.match(value):
            raise _fail("email", "must be the user's e-mail address (their workspace user name)")
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
        return getattr(self, self.kind.value)


class AccessConfig(_Strict):
    """Who may use the endpoint. Nobody else gets a direct grant.

    The default form (`query_service_principal`, `manager_groups`) is the secure default the policy pack
    accepts as it is; `grants` declares more (a second application, a query group, CAN_VIEW for support),
    each of which the policy pack flags at the level the stack's `policy` section gives.
    """

    query_service_principal: str = Field(
        description="Application id (UUID) of the one service principal that gets CAN_QUERY."
    )
    manager_groups: list[str] = Field(
        default_factory=list, description="Groups that get CAN_MANAGE."
    )
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
                raise _fail(
                    "broad_principal",
                    "`{group}` would hand the endpoint to everybody; name a dedicated group",
                    group=group,
                )
            if not group.strip():
                raise _fail("group_name", "group names must not be empty")
        if len(set(value)) != len(value):
            raise _fail("unique_groups", "each group may be named once")
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        # A principal at two levels gets the higher one in Databricks, whatever the stack says: declare it once.
        declared: dict[str, tuple[str, str]] = {}
        query = data.get("query_service_principal")
        if isinstance(query, str):
            declared[principal_identity(PrincipalKind.SERVICE_PRINCIPAL, query)] = (
                "CAN_QUERY", "access.query_service_principal"
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


class InferenceTableConfig(_Strict):
    """Capture of requests and responses into Unity Catalog tables, through the endpoint's AI Gateway.

    Sent as `ai_gateway.inference_table_config`, never as the legacy `config.auto_capture_config`, which
    Databricks refuses on new and existing endpoints since 2026-02-20.
    """

    enabled: bool = Field(
        default=True,
        description="False stops the capture and keeps the tables; Databricks changes catalog, schema or prefix "
        "only of a disabled table.",
    )

    catalog: UnityCatalogName = Field(description="Catalog of the inference tables.")
    schema_: UnityCatalogName = Field(alias="schema", description="Schema of the inference tables.")
    table_prefix: UnityCatalogName | None = Field(
        default=None, description="Table name prefix; default the endpoint name."
    )


class NotificationsConfig(_Strict):
    """E-mail notifications on config update outcomes."""

    on_update_success: list[str] = Field(default_factory=list, description="Addresses told on success.")
    on_update_failure: list[str] = Field(default_factory=list, description="Addresses told on failure.")

    @field_validator("on_update_success", "on_update_failure")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not EMAIL_PATTERN.match(address):
                raise _fail("email", "`{address}` is not an e-mail address", address=address)
        return value


class RateLimitKey(StrEnum):
    """Whom a rate limit counts: databricks-sdk `AiGatewayRateLimitKey`."""

    ENDPOINT = "endpoint"
    SERVICE_PRINCIPAL = "service_principal"
    USER = "user"
    USER_GROUP = "user_group"


# Groups that hold every user: a `user_group` limit on them is an endpoint-wide limit in disguise.
ALL_USERS_GROUPS = frozenset({"users", "account users"})
RATE_LIMIT_RENEWAL_PERIOD = "minute"
"""The only renewal period Databricks supports; every limit is in calls per minute."""


class RateLimitConfig(_Strict):
    """One AI Gateway rate limit, in calls per minute."""

    calls: int = Field(gt=0, description="Calls allowed per minute.")
    key: RateLimitKey = Field(
        default=RateLimitKey.ENDPOINT,
        description="`endpoint` (all callers together), `service_principal`, `user` or `user_group`.",
    )
    principal: str | None = Field(
        default=None,
        # Checked when left out too: a `user_group` limit needs one.
        validate_default=True,
        description="The one caller limited: application id (service_principal), e-mail (user), group name "
        "(user_group, required). None: every service principal / user on its own.",
    )

    @field_validator("principal")
    @classmethod
    def _principal_shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        key = info.data.get("key")
        if value is None and key is RateLimitKey.USER_GROUP:
            raise _fail("rate_limit_principal", "a `user_group` limit needs the group's name as principal")
        if value is None or key is None:
            return value
        if key is RateLimitKey.ENDPOINT:
            raise _fail(
                "rate_limit_principal",
                "an `endpoint` limit counts every caller together and takes no principal; set key to "
                "service_principal, user or user_group to limit one caller",
            )
        if key is RateLimitKey.SERVICE_PRINCIPAL:
            if not UUID_PATTERN.match(value):
                raise _fail(
                    "application_id",
                    "must be the service principal's application id (a UUID), not its display name",
                )
            return value.lower()
        if key is RateLimitKey.USER:
            if not EMAIL_PATTERN.match(value):
                raise _fail("email", "a `user` limit names the user by e-mail address")
            return value
        if not value.strip():
            raise _fail("group_name", "group names must not be empty")
        if value.strip().lower() in ALL_USERS_GROUPS:
            raise _fail(
                "broad_principal",
                "`{group}` holds every user; limit them with key `endpoint` (all together) or `user` (each)",
                group=value,
            )
        return value


class AiGatewayConfig(_Strict):
    """The endpoint's AI Gateway: rate limits, usage tracking and fallback (inference tables: `inference_table`)."""

    rate_limits: list[RateLimitConfig] = Field(
        default_factory=list, description="Calls per minute, endpoint-wide or per caller."
    )
    usage_tracking: bool = Field(default=False, description="Record usage in the `system.serving` tables.")
    fallback: bool = Field(
        default=False,
        description="On a 5xx of the routed served entity, try the other served entities in order.",
    )

    @field_validator("rate_limits")
    @classmethod
    def _one_limit_per_caller(cls, value: list[RateLimitConfig]) -> list[RateLimitConfig]:
        pairs = [(limit.key.value, limit.principal) for limit in value]
        repeated = sorted({pair for pair in pairs if pairs.count(pair) > 1}, key=str)
        if repeated:
            raise _fail(
                "unique_rate_limits",
                "one limit per key and principal; repeated: {pairs}",
                pairs=", ".join(f"{key} {principal}" if principal else key for key, principal in repeated),
            )
        return value


class WarmupConfig(_Strict):
    """What readiness sends to every served entity before `pulumi up` ends."""

    input_example: dict[str, Any] | None = Field(
        default=None,
        description="A request body in a Databricks input format; no warmup request without it.",
    )
    timeout_minutes: float = Field(default=15, gt=0, le=180, description="Warmup deadline per entity.")

    @field_validator("input_example")
    @classmethod
    def _input_format(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        formats = [key for key in INPUT_FORMATS if key in value]
        if len(formats) != 1:
            raise _fail(
                "input_format",
                "needs exactly one of {formats}, found {found}",
                formats=", ".join(INPUT_FORMATS),
                found=", ".join(formats) or "none",
            )
        unknown = set(value) - set(INPUT_FORMATS) - {"params"}
        if unknown:
            raise _fail("input_format", "unknown keys {keys}", keys=", ".join(sorted(unknown)))
        if len(json.dumps(value).encode()) > MAX_REQUEST_BYTES:
            raise _fail("request_size", "is larger than Databricks' 16 MB request limit")
        return value


class ReadinessConfig(_Strict):
    """How `pulumi up` proves the endpoint serves (issue: readiness and warmup)."""

    timeout_minutes: float | None = Field(
        default=None,
        gt=0,
        le=240,
        description="Deadline for the endpoint to be READY; default from the largest workload type.",
    )
    warmup: WarmupConfig = Field(default_factory=WarmupConfig, description="Warmup settings.")


class ParityGate(_Strict):
    """Before any traffic moves: candidate and stable answer the same examples alike."""

    examples: list[dict[str, Any]] | None = Field(
        default=None,
        description="Request bodies in a Databricks input format; default the warmup input example.",
    )
    tolerance: float = Field(default=1e-6, ge=0, description="Largest absolute difference between predictions.")
    expected_predictions: list[Any] | None = Field(
        default=None,
        description="Per example, the predictions the candidate must give (instead of the stable's).",
    )

    @field_validator("examples")
    @classmethod
    def _formats(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for example in value or []:
            WarmupConfig._input_format(example)
        if value is not None and not value:
            raise _fail("examples", "give at least one example, or leave examples out")
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        examples, expected = data.get("examples"), data.get("expected_predictions")
        if isinstance(examples, list) and isinstance(expected, list) and len(examples) != len(expected):
            yield RuleProblem(
                (),
                "expected_predictions",
                f"give one entry per example ({len(examples)} examples, {len(expected)} expected predictions)",
            )


class HealthGate(_Strict):
    """At every step: the candidate's errors and latency, from probes and the endpoint's metrics."""

    max_error_rate: float = Field(default=0.01, ge=0, le=1, description="Largest share of failed requests.")
    max_p95_latency_ms: float = Field(default=1000, gt=0, description="Largest 95th percentile latency.")
    min_requests: int = Field(default=20, ge=1, description="Observations needed before a verdict.")
    probe_interval_seconds: float = Field(
        default=1.0, gt=0, le=60, description="Time between probe requests to the candidate."
    )


class RolloutConfig(_Strict):
    """Staged traffic shifting from a stable to a candidate served entity, with gates and rollback."""

    stable: str = Field(description="Served entity that takes traffic back when a gate fails.")
    candidate: str = Field(description="Served entity whose share moves to its declared traffic.")
    steps: list[int] = Field(min_length=1, description="Candidate shares to pass through, e.g. 10, 50, 100.")
    bake_minutes: float = Field(default=10, ge=0, le=240, description="Time at each step before it is judged.")
    parity: ParityGate = Field(default_factory=ParityGate, description="The parity gate.")
    health: HealthGate = Field(default_factory=HealthGate, description="The health gate.")

    @field_validator("steps")
    @classmethod
    def _increasing_shares(cls, value: list[int]) -> list[int]:
        if any(not 1 <= step <= 100 for step in value):
            raise _fail("steps", "each step is a candidate share from 1 to 100")
        if any(later <= earlier for earlier, later in pairwise(value)):
            raise _fail("steps", "steps must increase, e.g. [10, 50, 100]")
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        stable, candidate = data.get("stable"), data.get("candidate")
        if isinstance(stable, str) and stable == candidate:
            yield RuleProblem((), "rollout_entities", "stable and candidate must be different served entities")


class EndpointConfig(_Strict):
    """One serving endpoint as written under `endpoints.<key>` in a stack file."""

    name: str | None = Field(
        default=None, description="Endpoint name without the stack prefix; default the endpoint key."
    )
    description: str | None = Field(default=None, max_length=1000, description="Shown in the workspace.")
    served_models: list[ServedModelConfig] = Field(
        min_length=1, description="The served entities (at most 15)."
    )
    traffic: dict[str, int] | None = Field(
        default=None,
        description="Served name -> percentage; may be omitted when one model is served.",
    )
    access: AccessConfig = Field(description="Query principal and manager groups.")
    tags: Tags = Field(default_factory=dict, description="Merged over the stack's default tags.")
    inference_table: InferenceTableConfig | None = Field(default=None, description="Auto-capture tables.")
    notifications: NotificationsConfig | None = Field(default=None, description="Update e-mails.")
    readiness: ReadinessConfig = Field(default_factory=ReadinessConfig, description="Readiness and warmup.")
    rollout: RolloutConfig | None = Field(
        default=None, description="Move traffic to the declared split in steps, with gates; none: in one step."
    )
    ai_gateway: AiGatewayConfig | None = Field(
        default=None, description="Rate limits, usage tracking and fallback of the endpoint's AI Gateway."
    )
    route_optimized: bool = Field(
        default=False,
        description="Route-optimized endpoint (past the workspace's default QPS; OAuth-only queries at its own "
        "URL). Creation only: a change recreates the endpoint.",
    )
    recreate_on_description_change: bool = Field(
        default=False,
        description="Recreate the endpoint when its description changes (Databricks cannot update it); "
        "default: a new description applies at the next creation.",
    )

    @field_validator("served_models")
    @classmethod
    def _served_entity_limit(cls, value: list[ServedModelConfig]) -> list[ServedModelConfig]:
        if len(value) > MAX_SERVED_ENTITIES:
            raise _fail(
                "too_many_served_entities",
                "at most {limit} served entities per endpoint, found {count}",
                limit=MAX_SERVED_ENTITIES,
                count=len(value),
            )
        names = [model.served_name for model in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise _fail(
                "unique_served_names",
                "served entity names must be unique; repeated: {names}",
                names=", ".join(duplicates),
            )
        return value

    @field_validator("traffic")
    @classmethod
    def _percentages(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return value
        for served, share in value.items():
            if not 0 <= share <= 100:
                raise _fail("percentage", "{served}: {share} is not a percentage 0-100", served=served, share=share)
        if sum(value.values()) != 100:
            raise _fail("traffic_sum", "routes must sum to 100, they sum to {total}", total=sum(value.values()))
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        served = _served_names(data)
        models = data.get("served_models")
        traffic = data.get("traffic")
        if traffic is None and isinstance(models, list) and len(models) > 1:
            yield RuleProblem(
                (),
                "traffic_required",
                "traffic is required when more than one model is served; give every one of "
                f"{', '.join(served) if served else 'the served entities'} a percentage",
            )
        if isinstance(traffic, Mapping) and served is not None:
            unknown = sorted(str(name) for name in set(traffic) - set(served))
            missing = [name for name in served if name not in traffic]
            parts = []
            if unknown:
                parts.append(f"routes name no served entity: {', '.join(unknown)}")
            if missing:
                parts.append(f"served entities without a route (0 is allowed): {', '.join(missing)}")
            if parts:
                problems = "; ".join(parts)
                yield RuleProblem(("traffic",), "routes", f"{problems}; served entities are {', '.join(served)}")
        rollout = data.get("rollout")
        if not isinstance(rollout, Mapping):
            return
        named = [rollout.get(role) for role in ("stable", "candidate") if isinstance(rollout.get(role), str)]
        unknown_entities = [name for name in named if served is not None and name not in served]
        if unknown_entities:
            verb = "names" if len(unknown_entities) == 1 else "name"
            yield RuleProblem(
                ("rollout",),
                "rollout_entities",
                f"{', '.join(unknown_entities)} {verb} no served entity; served entities are {', '.join(served or [])}",
            )
        examples = _section(rollout, "parity", "examples")
        if examples is None and _section(data, "readiness", "warmup", "input_example") is None:
            yield RuleProblem(
                (),
                "rollout_examples",
                "the parity and health gates need a request to send: set rollout.parity.examples "
                "or readiness.warmup.input_example",
            )
        if _section(rollout, "parity", "expected_predictions") is not None and examples is None:
            yield RuleProblem((), "rollout_examples", "expected_predictions need rollout.parity.examples")

    @property
    def rollout_examples(self) -> list[dict[str, Any]]:
        """What the gates send: the parity examples, or the warmup input example."""
        assert self.rollout is not None
        if self.rollout.parity.examples is not None:
            return list(self.rollout.parity.examples)
        assert self.readiness.warmup.input_example is not None
        return [self.readiness.warmup.input_example]

    @property
    def start_routes(self) -> dict[str, int]:
        """The split an endpoint is created with: under a rollout, the candidate starts at 0%.

        Its declared share goes to the stable entity until the rollout moves it, step by step.
        """
        routes = self.routes
        if self.rollout is None:
            return routes
        start = dict(routes)
        start[self.rollout.stable] += start[self.rollout.candidate]
        start[self.rollout.candidate] = 0
        return start

    @property
    def routes(self) -> dict[str, int]:
        """Traffic per served entity, in served-entity order; 100% to the only entity by default."""
        traffic = self.traffic or {self.served_models[0].served_name: 100}
        return {model.served_name: traffic[model.served_name] for model in self.served_models}


CREATION_ONLY: dict[str, str] = {
    "name": "a new name is a new endpoint: the old one is deleted, then the new one created (new id and URL; "
    "permissions, readiness and rollout follow it)",
    "route_optimized": "Databricks cannot change it on an existing endpoint: a change recreates the endpoint "
    "(deleted, then created again; it serves nothing in between)",
    "description": "Databricks has no API to update it: a change applies when the endpoint is next created; "
    "with `recreate_on_description_change: true` a change recreates the endpoint",
}
"""Endpoint keys that Databricks applies only when it creates the endpoint, and what a later change does.

Every other key of an endpoint reaches the workspace on update (tests/test_stacks.py walks them all); the
review and the README name these wherever they show them.
"""


class StackDefaults(_Strict):
    """Values applied to every endpoint of the stack."""

    name_prefix: str = Field(
        default="", description="Prefix of every endpoint name, e.g. `dev-`, so stacks share a workspace."
    )
    tags: Tags = Field(default_factory=dict, description="Tags of every endpoint.")

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not NAME_PATTERN.match(value):
            raise _fail("name_prefix", "may only hold letters, digits, `-` and `_`")
        return value


class FindingLevel(StrEnum):
    """How the policy pack reports a finding: `mandatory` fails the preview and the review, `advisory` shows it."""

    ADVISORY = "advisory"
    MANDATORY = "mandatory"


class PolicySettings(_Strict):
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


class StackConfig(_Strict):
    """Everything a stack file says about its endpoints."""

    defaults: StackDefaults = Field(default_factory=StackDefaults)
    endpoints: dict[str, EndpointConfig] = Field(min_length=1)
    policy: PolicySettings = Field(
        default_factory=PolicySettings, description="How strictly the policy pack judges this stack."
    )

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        endpoints = data.get("endpoints")
        if not isinstance(endpoints, Mapping):
            return
        prefix = _section(data, "defaults", "name_prefix")
        prefix = prefix if isinstance(prefix, str) else ""
        # An invalid prefix is reported once, at defaults.name_prefix, not again for every endpoint.
        prefix_is_valid = not prefix or bool(NAME_PATTERN.match(prefix))
        seen: dict[str, str] = {}
        for key, endpoint in endpoints.items():
            where = ("endpoints", key)
            if not NAME_PATTERN.match(str(key)):
                yield RuleProblem(
                    where,
                    "endpoint_key",
                    "endpoint keys may only hold letters, digits, `-` and `_`: the key names the endpoint's "
                    "resources and is its default name",
                )
                continue
            own = _section(endpoint, "name")
            if own is None:
                own = key
            if not isinstance(own, str):
                continue
            name = prefix + own
            pattern_ok = NAME_PATTERN.match(name if prefix_is_valid else own)
            if not pattern_ok or len(name) > MAX_ENDPOINT_NAME_LENGTH:
                yield RuleProblem(
                    where,
                    "endpoint_name",
                    f"name `{name}` must be 1-{MAX_ENDPOINT_NAME_LENGTH} letters, digits, `-` or `_`, prefix "
                    f"included ({len(name)} characters)",
                )
            if name.lower().startswith(RESERVED_ENDPOINT_PREFIX):
                yield RuleProblem(where, "endpoint_name", f"name `{name}` uses the reserved prefix `databricks-`")
            if name in seen:
                yield RuleProblem(where, "endpoint_name", f"name `{name}` is already used by endpoints.{seen[name]}")
            seen.setdefault(name, key)

    def endpoint_name(self, key: str) -> str:
        """The workspace name of endpoint `key`: stack prefix + (name or key)."""
        return self.defaults.name_prefix + (self.endpoints[key].name or key)

    def spec(self, key: str) -> EndpointSpec:
        """Everything a `ServingEndpoint` needs for endpoint `key`, defaults resolved."""
        endpoint = self.endpoints[key]
        return EndpointSpec(
            key=key,
            name=self.endpoint_name(key),
            endpoint=endpoint,
            tags={**self.defaults.tags, **endpoint.tags},
        )

    def specs(self) -> list[EndpointSpec]:
        return [self.spec(key) for key in self.endpoints]


@dataclass(frozen=True)
class EndpointSpec:
    """A validated endpoint with its stack-level defaults resolved: the components' input."""

    key: str
    """The endpoint's key in the stack file; names the Pulumi resources."""
    name: str
    """The endpoint's name in the workspace (prefix included)."""
    endpoint: EndpointConfig
    """The validated endpoint config."""
    tags: Mapping[str, str]
    """Stack default tags merged with the endpoint's own; the endpoint wins."""

    @property
    def readiness_timeout_minutes(self) -> float:
        """The configured deadline, or Databricks' own deployment timeout of the largest workload + margin."""
        configured = self.endpoint.readiness.timeout_minutes
        if configured is not None:
            return configured
        return READINESS_MARGIN_MINUTES + max(
            DEPLOYMENT_TIMEOUT_MINUTES[model.workload_type] for model in self.endpoint.served_models
        )


# --------------------------------------------------------------------------------------------------
# Loading and error reporting


class StackConfigError(Exception):
    """A stack file is invalid. The message lists every problem; no resource has been declared."""

    def __init__(self, stack: str, problems: list[str]):
        self.stack = stack
        self.problems = problems
        header = (
            f"Pulumi.{stack}.yaml has {len(problems)} configuration problem"
            f"{'s' if len(problems) != 1 else ''}; nothing was declared:"
        )
        super().__init__("\n".join([header, *(f"  - {problem}" for problem in problems)]))


# Settings of the Databricks provider (`pulumi_databricks/config/vars.py`, generated from its schema).
PROVIDER_KEYS = (
    "accountId", "actionsIdTokenRequestToken", "actionsIdTokenRequestUrl", "audience", "authType", "azureClientId",
    "azureClientSecret", "azureEnvironment", "azureLoginAppId", "azureTenantId", "azureUseMsi",
    "azureWorkspaceResourceId", "clientId", "clientSecret", "cloud", "clusterId", "configFile", "databricksCliPath",
    "databricksIdTokenFilepath", "debugHeaders", "debugTruncateBytes", "disableOauthRefreshToken", "discoveryUrl",
    "googleCredentials", "googleServiceAccount", "groupId", "host", "httpTimeoutSeconds", "metadataServiceUrl",
    "oauthCallbackPort", "oidcTokenEnv", "password", "profile", "rateLimit", "retryTimeoutSeconds", "scopes",
    "serverlessComputeId", "skipVerify", "token", "username", "warehouseId", "workspaceId",
)  # fmt: skip
PROVIDER_NAMESPACE = "databricks"
# The provider settings databricks-sdk marks `sensitive` (databricks/sdk/config.py), plus the GitHub Actions
# OIDC request token: only ever as `secure:` values.
CREDENTIAL_KEYS = tuple(
    f"{PROVIDER_NAMESPACE}:{key}"
    for key in (
        "token", "clientSecret", "password", "azureClientSecret", "googleCredentials", "metadataServiceUrl",
        "actionsIdTokenRequestToken",
    )
)  # fmt: skip
STACK_FILE_VARIABLE = "DATABRICKS_SERVING_STACK_FILE"
"""Names the stack file the program reads for the YAML checks when it is not `Pulumi.<stack>.yaml` in the
project directory (e.g. with `pulumi up --config-file`); empty: read none."""

_CONFIG_CLASS_NAMES = re.compile(r"\b[A-Z][A-Za-z]+(Config|Gate|Defaults|Concurrency)\b")
_TYPE_ERRORS = {"model_type", "model_attributes_type", "dict_type", "list_type", "string_type", "bool_type"}
# Rules whose (flat) value helps to see the problem; other rules about a whole object show only the key path.
_SHOWS_VALUE = {"routes"}
# Rules about a key's name: its value is beside the point.
_KEY_RULES = {"environment_var_name", "endpoint_key", "tag_key"}
_LONGEST_KEY_SHOWN = 60


def _key_part(part: str | int) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    if len(part) > _LONGEST_KEY_SHOWN:
        part = f"{part[:20]}...({len(part)} characters)"
    return part if part and not re.search(r"[.\s\[\]\"]", part) else json.dumps(part)


def _key_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself" in a dict
            continue
        text = _key_part(part)
        path += text if text.startswith("[") or not path else "." + text
    return path


def _looks_like_credential(value: Any, name: str | None = None) -> bool:
    """Whether `value` (held under `name`) may be a credential, which no message may show."""
    if isinstance(value, str):
        if TOKEN_VALUE_PATTERN.search(value):
            return True
        return bool(name and SECRET_NAME_PATTERN.search(name)) and not SECRET_REFERENCE_PATTERN.match(value)
    if isinstance(value, Mapping):
        return any(_looks_like_credential(item, str(key)) for key, item in value.items())
    if isinstance(value, list):
        return any(_looks_like_credential(item, name) for item in value)
    return bool(name and SECRET_NAME_PATTERN.search(name)) and value is not None


def _shown(value: Any, loc: tuple[Any, ...] = ()) -> str:
    names = [part for part in loc if isinstance(part, str) and part != "[key]"]
    if _looks_like_credential(value, names[-1] if names else None):
        return "[hidden]"
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "a map" if isinstance(value, Mapping) else type(value).__name__


def _is_structure(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(i, dict) for i in value))


def _annotation_at(loc: tuple[Any, ...], annotation: Any = None) -> Any:
    """The type the config model expects at `loc` (for a dict's key: `str`), or None if the path leaves it."""
    annotation = StackConfig if annotation is None else annotation
    for part in loc:
        while typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(options) == 1:
            annotation = options[0]
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {field.alias or name: field for name, field in annotation.model_fields.items()}
            if part not in fields:
                return None
            annotation = fields[part].annotation
        elif origin is dict:
            annotation = args[0] if part == "[key]" else args[1]
        elif origin is list and isinstance(part, int):
            annotation = args[0]
        else:
            return None
    return annotation


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    annotation = _annotation_at(loc)
    options = [arg for arg in typing.get_args(annotation) if arg is not type(None)] or [annotation]
    for option in options:
        if isinstance(option, type) and issubclass(option, BaseModel):
            return [field.alias or name for name, field in option.model_fields.items()]
    return []


def _did_you_mean(word: str, known: Iterable[str], qualify: Callable[[str], str] = str) -> str:
    matches = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"did you mean `{qualify(matches[0])}`?" if matches else ""


def _message(item: Mapping[str, Any]) -> str:
    """pydantic's message, in the stack file's terms (maps, lists, text), with no class name of ours."""
    error_type, value = item["type"], item.get("input")
    if error_type in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a map of keys to values, not {_kind(value)}"
    if error_type == "list_type":
        return f"must be a list, not {_kind(value)}"
    if error_type in ("string_type", "bool_type", "bool_parsing"):
        wanted = "text" if error_type == "string_type" else "true or false"
        message = f"must be {wanted}, not {_kind(value)}"
        if error_type == "string_type" and isinstance(value, (bool, int, float)):
            written = json.dumps(value)
            message += f"; YAML read it as {_kind(value)}: quote it (\"{written}\") if it is text"
        return message
    if error_type in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, not {_kind(value)}" if error_type != "int_from_float" else (
            "must be a whole number, not a fraction"
        )
    if error_type in ("float_type", "float_parsing"):
        return f"must be a number, not {_kind(value)}"
    if error_type == "too_short":
        context = item.get("ctx") or {}
        return f"must have at least {context.get('min_length', 1)} entry, it has {context.get('actual_length', 0)}"
    return _CONFIG_CLASS_NAMES.sub("a map", item["msg"])


def describe_errors(error: ValidationError) -> list[str]:
    """One line per problem: key path, the bad value, and the rule broken."""
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        path = _key_path(loc)
        value = item.get("input")
        if item["type"] == "missing":
            problems.append(f"{path}: is required")
        elif item["type"] == "extra_forbidden":
            hint = _did_you_mean(str(loc[-1]), _known_keys(loc[:-1]))
            problems.append(
                f"{path}: unknown key; "
                + (f"{hint} (see the config reference in README.md)" if hint else
                   "check its spelling against the config reference in README.md")
            )
        elif item["type"] in _KEY_RULES or (
            _is_structure(value) and item["type"] not in _TYPE_ERRORS and item["type"] not in _SHOWS_VALUE
        ):
            # A rule about a name, or a whole object or list of objects: the key path says where.
            problems.append(f"{path}: {_message(item)}")
        else:
            problems.append(f"{path} = {_shown(value, loc)}: {_message(item)}")
    return list(dict.fromkeys(problems))


def _config_loc(path: tuple[Any, ...], project: str) -> tuple[Any, ...]:
    """A stack file path (`config`, `<project>:endpoints`, ...) as a config key path (`endpoints`, ...)."""
    if path[:1] != ("config",) or len(path) < 2:
        return path
    key = str(path[1])
    if key.startswith(f"{project}:"):
        return (key[len(project) + 1 :], *path[2:])
    return path[1:]  # a bare key is the project's (as the CLI reads it); another namespace keeps its key


def _expects_bool(loc: tuple[Any, ...]) -> bool:
    annotation = _annotation_at(loc)
    return annotation is bool or (typing.get_args(annotation) and bool in typing.get_args(annotation))


def describe_yaml_problems(problems: Iterable[YamlProblem], project: str = PROJECT) -> list[str]:
    """One line per place where the stack file's YAML means something else than it seems to say."""
    lines = []
    for problem in problems:
        loc = _config_loc(problem.path, project)
        if problem.kind == "bool_word" and _expects_bool(loc):
            continue  # `scale_to_zero: yes` is true for every reader
        path = _key_path(loc) or "the file"
        if problem.kind == "duplicate_key":
            lines.append(f"{path}: {problem.rule}")
            continue
        if problem.kind in ("key_type", "tag"):
            lines.append(f"{path}: {problem.rule} (line {problem.line})")
            continue
        names = [part for part in loc if isinstance(part, str)]
        shown = "[hidden]" if _looks_like_credential(problem.text, names[-1] if names else None) else problem.text
        lines.append(f"{path} = {shown}: {problem.rule.format(value=shown)} (line {problem.line})")
    return lines


def describe_namespaces(keys: Iterable[str], project: str = PROJECT) -> list[str]:
    """Config keys that nothing reads: misspelt keys of this project or of the Databricks provider."""
    problems = []
    fields = list(StackConfig.model_fields)
    for key in keys:
        namespace, _, name = key.partition(":")
        if namespace == project:
            if name not in fields:
                hint = _did_you_mean(name, fields, lambda match: f"{project}:{match}")
                known = hint or "the keys are " + ", ".join(fields)
                problems.append(f"{key}: unknown key, nothing reads it; {known}")
        elif namespace == PROVIDER_NAMESPACE:
            if name not in PROVIDER_KEYS:
                hint = _did_you_mean(name, PROVIDER_KEYS, lambda match: f"{PROVIDER_NAMESPACE}:{match}")
                problems.append(
                    f"{key}: not a setting of the Databricks provider"
                    + (f"; {hint}" if hint else "; see the provider settings in README.md")
                )
        elif difflib.get_close_matches(namespace, [project, PROVIDER_NAMESPACE], n=1, cutoff=0.8):
            (match,) = difflib.get_close_matches(namespace, [project, PROVIDER_NAMESPACE], n=1, cutoff=0.8)
            problems.append(f"{key}: unknown namespace `{namespace}`, nothing reads it; did you mean `{match}:{name}`?")
    return problems


def parse_stack_config(
    stack: str,
    values: Mapping[str, Any],
    plaintext_keys: Mapping[str, bool] | None = None,
    *,
    stack_file_problems: Iterable[str] = (),
    deployer: str | None = None,
) -> StackConfig:
    """Validate a stack's values; raise one `StackConfigError` listing every problem.

    `values` holds this project's keys without namespace (`defaults`, `endpoints`); `plaintext_keys`
    maps each credential key present in the stack (`databricks:token`, ...) to whether it is stored
    in plain text; `stack_file_problems` are problems already found in the stack file itself (its YAML,
    its namespaces), reported first; `deployer` the application id of the service principal that deploys
    (`databricks:clientId`), which no grant may name.
    """
    problems = list(stack_file_problems)
    problems.extend(
        f"{key}: is stored in plain text in Pulumi.{stack}.yaml; store it encrypted with "
        f"`pulumi config set --secret {key} <value>` or use the DATABRICKS_* environment variables"
        for key, plain in (plaintext_keys or {}).items()
        if plain
    )
    # Where the file's YAML was refused, that message says it all: the value it gave is beside the point.
    refused = {problem.split(" = ", 1)[0].split(": ", 1)[0] for problem in problems}
    config: StackConfig | None = None
    try:
        context = {DEPLOYER_CONTEXT: deployer.strip().lower()} if deployer and deployer.strip() else None
        config = StackConfig.model_validate(dict(values), context=context)
    except ValidationError as error:
        problems.extend(
            problem
            for problem in describe_errors(error)
            if problem.split(" = ", 1)[0].split(": ", 1)[0] not in refused
        )
    if problems:
        raise StackConfigError(stack, list(dict.fromkeys(problems)))
    assert config is not None
    return config


def stack_file_problems(stack_file: StackFile | Path | None, project: str = PROJECT) -> list[str]:
    """What the YAML of a stack file says that its values do not: every ambiguity, or why it is unreadable."""
    if stack_file is None:
        return []
    try:
        read = stack_file if isinstance(stack_file, StackFile) else read_stack_file(stack_file)
    except UnreadableStackFileError as error:
        return [str(error)]
    return describe_yaml_problems(read.problems, project)


def _own_stack_file(stack: str) -> Path | None:
    """The stack file the program checks: `$DATABRICKS_SERVING_STACK_FILE`, else the project's own."""
    import pulumi

    named = os.environ.get(STACK_FILE_VARIABLE)
    if named is not None:
        return Path(named) if named else None
    root = Path(pulumi.get_root_directory() or os.getcwd())
    if not root.is_dir():  # the SDK's mock settings name no real directory
        root = Path.cwd()
    path = root / f"Pulumi.{stack}.yaml"
    return path if path.is_file() else None


def load_stack_config() -> StackConfig:
    """Read and validate the running stack's config (inside a Pulumi program).

    The values are the engine's (what the Pulumi CLI read from the stack file, secrets decrypted); the
    stack file itself is read too, for what only its text shows (duplicate keys, YAML 1.1 booleans and
    octal numbers), so that `pulumi up` and the offline review give the same message.
    """
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config, get_config_env, is_config_secret

    from components.written_numbers import with_written_number_types, written_config

    stack = pulumi.get_stack()
    keys = sorted({**get_config_env(), **CONFIG.get()})
    values: dict[str, Any] = {}
    for key in StackConfig.model_fields:
        raw = get_config(f"{PROJECT}:{key}")
        if raw is None:
            continue
        if raw == "":
            values[key] = None  # `endpoints:` with nothing under it: "must be a map ..., not empty"
            continue
        try:
            values[key] = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            values[key] = raw  # plain text where a map is expected: the model says so, with its key path
    plaintext = {key: not is_config_secret(key) for key in CREDENTIAL_KEYS if get_config(key)}
    own_file = _own_stack_file(stack)
    # The CLI's JSON writes a whole float as an int (`1200.0` -> 1200); the file says which were floats.
    values = with_written_number_types(values, written_config(own_file, PROJECT))
    file_problems = stack_file_problems(own_file) + describe_namespaces(keys)
    # The identity the Permissions resource keeps at CAN_MANAGE: the stack's OAuth client, else the environment's.
    deployer = get_config(f"{PROVIDER_NAMESPACE}:clientId") or os.environ.get("DATABRICKS_CLIENT_ID")
    return parse_stack_config(stack, values, plaintext, stack_file_problems=file_problems, deployer=deployer)
