"""Stack configuration: the one place that knows every key, default and limit.

Data flows one way: the stack file's values are parsed here into typed, validated models
(`StackConfig`), and components only ever see `EndpointSpec` values derived from them. Every rule
Databricks enforces is checked here, before a single resource is declared, and every problem of a
stack file is reported at once in one `StackConfigError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

PROJECT = "databricks-serving"
"""The Pulumi project name, and so the namespace of this program's stack config keys."""

# Limits Databricks enforces (see ../shared/notes/databricks-serving.md and the serving API docs).
MAX_ENDPOINT_NAME_LENGTH = 63
MAX_SERVED_ENTITIES = 15
MAX_ENVIRONMENT_VARS = 30
MAX_REQUEST_BYTES = 16 * 1024 * 1024
RESERVED_ENDPOINT_PREFIX = "databricks-"
INPUT_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
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


ModelVersion = Annotated[str, BeforeValidator(_positive_version)]


class _Strict(BaseModel):
    # A typo in a stack file (`workload_sise`) must fail, not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class ProvisionedConcurrency(_Strict):
    """Provisioned concurrency range, used instead of a workload size."""

    min: int = Field(ge=0, description="Minimum provisioned concurrency.")
    max: int = Field(ge=1, description="Maximum provisioned concurrency.")

    @model_validator(mode="after")
    def _ordered(self) -> ProvisionedConcurrency:
        if self.min > self.max:
            raise _fail("range", "min ({min}) must not exceed max ({max})", min=self.min, max=self.max)
        if self.min % 4 or self.max % 4:
            raise _fail("multiple_of_4", "min and max must be multiples of 4 (Databricks scales in steps of 4)")
        return self


class ServedModelConfig(_Strict):
    """One served entity: a registered model version and the compute it runs on."""

    model: str = Field(
        description="Unity Catalog model full name `catalog.schema.model`, or a legacy workspace Model Registry "
        "name (no dots)."
    )
    version: ModelVersion = Field(description="Model version, a positive integer.")
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
    def _environment_vars(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_ENVIRONMENT_VARS:
            raise _fail(
                "too_many_environment_vars",
                "at most {limit} environment variables per served entity, found {count}",
                limit=MAX_ENVIRONMENT_VARS,
                count=len(value),
            )
        for key, text in value.items():
            looks_secret = SECRET_NAME_PATTERN.search(key) or TOKEN_VALUE_PATTERN.search(text)
            malformed_reference = "{{secrets/" in text and not SECRET_REFERENCE_PATTERN.match(text)
            if (looks_secret and not SECRET_REFERENCE_PATTERN.match(text)) or malformed_reference:
                # The value is deliberately left out of the message: it may be the credential itself.
                raise _fail(
                    "secret_in_plaintext",
                    "{key} holds a credential in plain text; write it as a reference "
                    "`{reference}` to a Databricks secret",
                    key=key,
                    reference="{{secrets/<scope>/<key>}}",
                )
        return value

    @model_validator(mode="after")
    def _capacity(self) -> ServedModelConfig:
        if self.provisioned_concurrency and self.workload_size:
            raise _fail(
                "capacity",
                "set either workload_size or provisioned_concurrency, not both",
            )
        if not self.provisioned_concurrency and not self.workload_size:
            raise _fail(
                "capacity",
                "set workload_size (Small, Medium or Large) or provisioned_concurrency (min, max)",
            )
        return self

    @property
    def served_name(self) -> str:
        """The served entity's name: as given, or `<model short name>-<version>` like Databricks.

        The short name of a Unity Catalog model is its last part; a Model Registry name is its own short name.
        """
        return self.name or f"{self.model.rsplit('.', 1)[-1]}-{self.version}"

    @property
    def in_unity_catalog(self) -> bool:
        """True for a Unity Catalog model; False for a legacy workspace Model Registry one."""
        return bool(MODEL_NAME_PATTERN.match(self.model))


class AccessConfig(_Strict):
    """Who may use the endpoint. Nobody else gets a direct grant."""

    query_service_principal: str = Field(
        description="Application id (UUID) of the one service principal that gets CAN_QUERY."
    )
    manager_groups: list[str] = Field(
        default_factory=list, description="Groups that get CAN_MANAGE."
    )

    @field_validator("query_service_principal")
    @classmethod
    def _application_id(cls, value: str) -> str:
        if not UUID_PATTERN.match(value):
            raise _fail(
                "application_id",
                "must be the service principal's application id (a UUID), not its display name",
            )
        return value.lower()

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

    catalog: str = Field(description="Catalog of the inference tables.")
    schema_: str = Field(alias="schema", description="Schema of the inference tables.")
    table_prefix: str | None = Field(default=None, description="Table name prefix; default the endpoint name.")


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

    @model_validator(mode="after")
    def _one_expectation_per_example(self) -> ParityGate:
        if self.expected_predictions is not None and self.examples is not None:
            if len(self.expected_predictions) != len(self.examples):
                raise _fail(
                    "expected_predictions",
                    "give one entry per example ({examples} examples, {expected} expected predictions)",
                    examples=len(self.examples),
                    expected=len(self.expected_predictions),
                )
        return self


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

    @model_validator(mode="after")
    def _two_entities(self) -> RolloutConfig:
        if self.stable == self.candidate:
            raise _fail("rollout_entities", "stable and candidate must be different served entities")
        return self


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
    tags: dict[str, str] = Field(default_factory=dict, description="Merged over the stack's default tags.")
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

    @field_validator("tags")
    @classmethod
    def _tag_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key.strip():
                raise _fail("tag_key", "tag keys must not be empty")
        return value

    @model_validator(mode="after")
    def _routes_match_served_entities(self) -> EndpointConfig:
        served = [model.served_name for model in self.served_models]
        if self.traffic is None:
            if len(served) > 1:
                raise _fail(
                    "traffic_required",
                    "traffic is required when more than one model is served; give every one of "
                    "{served} a percentage",
                    served=", ".join(served),
                )
            return self
        unknown = sorted(set(self.traffic) - set(served))
        missing = [name for name in served if name not in self.traffic]
        if unknown or missing:
            parts = []
            if unknown:
                parts.append(f"routes name no served entity: {', '.join(unknown)}")
            if missing:
                parts.append(f"served entities without a route (0 is allowed): {', '.join(missing)}")
            raise _fail(
                "routes",
                "{problems}; served entities are {served}",
                problems="; ".join(parts),
                served=", ".join(served),
                field="traffic",
            )
        return self

    @model_validator(mode="after")
    def _rollout_matches_served_entities(self) -> EndpointConfig:
        rollout = self.rollout
        if rollout is None:
            return self
        served = [model.served_name for model in self.served_models]
        unknown = [name for name in (rollout.stable, rollout.candidate) if name not in served]
        if unknown:
            raise _fail(
                "rollout_entities",
                "{names} {verb} no served entity; served entities are {served}",
                names=", ".join(unknown),
                verb="names" if len(unknown) == 1 else "name",
                served=", ".join(served),
                field="rollout",
            )
        if rollout.parity.examples is None and self.readiness.warmup.input_example is None:
            raise _fail(
                "rollout_examples",
                "the parity and health gates need a request to send: set rollout.parity.examples "
                "or readiness.warmup.input_example",
            )
        if rollout.parity.expected_predictions is not None and rollout.parity.examples is None:
            raise _fail("rollout_examples", "expected_predictions need rollout.parity.examples")
        return self

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
    tags: dict[str, str] = Field(default_factory=dict, description="Tags of every endpoint.")

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not NAME_PATTERN.match(value):
            raise _fail("name_prefix", "may only hold letters, digits, `-` and `_`")
        return value


class StackConfig(_Strict):
    """Everything a stack file says about its endpoints."""

    defaults: StackDefaults = Field(default_factory=StackDefaults)
    endpoints: dict[str, EndpointConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _endpoint_names(self) -> StackConfig:
        problems: list[str] = []
        seen: dict[str, str] = {}
        for key in self.endpoints:
            name = self.endpoint_name(key)
            if not NAME_PATTERN.match(name) or len(name) > MAX_ENDPOINT_NAME_LENGTH:
                problems.append(
                    f"endpoints.{key}: name `{name}` must be 1-{MAX_ENDPOINT_NAME_LENGTH} letters, "
                    f"digits, `-` or `_`, prefix included ({len(name)} characters)"
                )
            if name.lower().startswith(RESERVED_ENDPOINT_PREFIX):
                problems.append(f"endpoints.{key}: name `{name}` uses the reserved prefix `databricks-`")
            if name in seen:
                problems.append(f"endpoints.{key}: name `{name}` is already used by endpoints.{seen[name]}")
            seen.setdefault(name, key)
        if problems:
            raise _fail("endpoint_names", "{problems}", problems="\n".join(problems))
        return self

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


# Config keys of the databricks provider that hold credentials: only ever as `secure:` values.
CREDENTIAL_KEYS = ("databricks:token", "databricks:clientSecret", "databricks:password")


def _key_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


def _shown(value: Any, path: str) -> str:
    # Environment variable values may be credentials: never echo them back.
    if "environment_vars" in path:
        return "[hidden]"
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _is_structure(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(i, dict) for i in value))


def describe_errors(error: ValidationError) -> list[str]:
    """One line per problem: key path, the bad value, and the rule broken."""
    problems = []
    for item in error.errors(include_url=False):
        path = _key_path(item["loc"])
        context = item.get("ctx") or {}
        value = item.get("input")
        if item["type"] == "endpoint_names":
            problems.extend(context["problems"].split("\n"))
        elif item["type"] == "missing":
            problems.append(f"{path}: is required")
        elif item["type"] == "extra_forbidden":
            problems.append(
                f"{path}: unknown key; check its spelling against the config reference in README.md"
            )
        elif "field" in context:
            # A rule across fields, reported at the field a user would edit.
            field = context["field"]
            field_value = value.get(field) if isinstance(value, dict) else None
            if isinstance(field_value, dict) and any(isinstance(v, (dict, list)) for v in field_value.values()):
                # A nested object would bury the rule; a flat one (a traffic map) helps to see.
                problems.append(f"{path}.{field}: {item['msg']}")
            else:
                problems.append(f"{path}.{field} = {_shown(field_value, path)}: {item['msg']}")
        elif _is_structure(value) and item["type"] not in ("dict_type", "list_type"):
            # A rule about a whole object or list of objects: the key path says where; dumping it would not help.
            problems.append(f"{path}: {item['msg']}")
        else:
            problems.append(f"{path} = {_shown(value, path)}: {item['msg']}")
    return problems


def parse_stack_config(
    stack: str,
    values: Mapping[str, Any],
    plaintext_keys: Mapping[str, bool] | None = None,
) -> StackConfig:
    """Validate a stack's values; raise one `StackConfigError` listing every problem.

    `values` holds this project's keys without namespace (`defaults`, `endpoints`); `plaintext_keys`
    maps each credential key present in the stack (`databricks:token`, ...) to whether it is stored
    in plain text.
    """
    problems = [
        f"{key}: is stored in plain text in Pulumi.{stack}.yaml; store it encrypted with "
        f"`pulumi config set --secret {key} <value>` or use the DATABRICKS_* environment variables"
        for key, plain in (plaintext_keys or {}).items()
        if plain
    ]
    config: StackConfig | None = None
    try:
        config = StackConfig.model_validate(dict(values))
    except ValidationError as error:
        problems.extend(describe_errors(error))
    if problems:
        raise StackConfigError(stack, problems)
    assert config is not None
    return config


def load_stack_config() -> StackConfig:
    """Read and validate the running stack's config (inside a Pulumi program)."""
    import pulumi
    from pulumi.runtime.config import get_config, is_config_secret

    stack = pulumi.get_stack()
    project_config = pulumi.Config(PROJECT)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key in StackConfig.model_fields:
        try:
            value = project_config.get_object(key)
        except Exception:  # noqa: BLE001 - a non-JSON value is reported like any other problem
            problems.append(f"{key}: is not valid structured config (a YAML map is expected)")
            continue
        if value is not None:
            values[key] = value
    # get_config reads the raw value without Config.get's "this is a secret" warning.
    plaintext = {
        key: not is_config_secret(key) for key in CREDENTIAL_KEYS if get_config(key) is not None
    }
    if problems:
        raise StackConfigError(stack, problems)
    return parse_stack_config(stack, values, plaintext)

