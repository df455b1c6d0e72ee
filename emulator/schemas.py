"""Request bodies of the control plane, and the rules Databricks applies to them.

Pydantic checks shapes and types (a wrong type becomes 400 INVALID_PARAMETER_VALUE through the app's
validation handler); `normalize_config` applies the serving rules (entity count, names, sizing,
routes) and fills the values the service fills (served entity name, workload_type, scale_to_zero,
a 100% route for a single entity). Unknown fields are ignored, so newer sdk versions still work.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from emulator.errors import invalid_parameter
from emulator.external import check_endpoint_kinds, check_external_model, check_throughput

MAX_SERVED_ENTITIES = 15
MAX_ENVIRONMENT_VARS = 30
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
RESERVED_PREFIX = "databricks-"
WORKLOAD_SIZES = ("Small", "Medium", "Large")
# As databricks-sdk 0.156 lists them in ServingModelWorkloadType.
WORKLOAD_TYPES = (
    "CPU",
    "CPU_MEDIUM",
    "CPU_LARGE",
    "GPU_SMALL",
    "GPU_MEDIUM",
    "GPU_LARGE",
    "GPU_XLARGE",
    "GPU_XLARGE_8",
    "MULTIGPU_MEDIUM",
)
PERMISSION_LEVELS = ("CAN_VIEW", "CAN_QUERY", "CAN_MANAGE")


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ServedEntityInput(_Input):
    name: str | None = None
    entity_name: str | None = None
    entity_version: str | int | None = None
    workload_size: str | None = None
    workload_type: str | None = None
    scale_to_zero_enabled: bool | None = None
    environment_vars: dict[str, str] | None = None
    min_provisioned_concurrency: int | None = None
    max_provisioned_concurrency: int | None = None
    instance_profile_arn: str | None = None
    external_model: dict[str, Any] | None = None
    min_provisioned_throughput: int | None = None
    max_provisioned_throughput: int | None = None
    provisioned_model_units: int | None = None
    burst_scaling_enabled: bool | None = None


class ServedModelInput(_Input):
    """The older `served_models` form; read as served entities."""

    name: str | None = None
    model_name: str
    model_version: str | int
    workload_size: str | None = None
    workload_type: str | None = None
    scale_to_zero_enabled: bool | None = None
    environment_vars: dict[str, str] | None = None
    min_provisioned_concurrency: int | None = None
    max_provisioned_concurrency: int | None = None

    def as_entity(self) -> ServedEntityInput:
        data = self.model_dump(exclude={"model_name", "model_version"})
        return ServedEntityInput(entity_name=self.model_name, entity_version=self.model_version, **data)


class RouteInput(_Input):
    served_entity_name: str | None = None
    served_model_name: str | None = None
    traffic_percentage: int


class TrafficConfigInput(_Input):
    routes: list[RouteInput] = Field(default_factory=list)


class AutoCaptureConfigInput(_Input):
    catalog_name: str | None = None
    schema_name: str | None = None
    table_name_prefix: str | None = None
    enabled: bool | None = None


class CoreConfigInput(_Input):
    """Body of PUT .../config, and `config` of a create."""

    served_entities: list[ServedEntityInput] | None = None
    served_models: list[ServedModelInput] | None = None
    traffic_config: TrafficConfigInput | None = None
    auto_capture_config: AutoCaptureConfigInput | None = None


class TagInput(_Input):
    key: str = Field(min_length=1)
    value: str | None = None


class EmailNotificationsInput(_Input):
    on_update_success: list[str] | None = None
    on_update_failure: list[str] | None = None


class NotificationsInput(_Input):
    """Body of PATCH .../notifications."""

    email_notifications: EmailNotificationsInput | None = None


class AiGatewayRateLimitInput(_Input):
    calls: int | None = None
    tokens: int | None = None
    key: Literal["user", "endpoint", "user_group", "service_principal"] | None = None
    principal: str | None = None
    renewal_period: Literal["minute"]


class InferenceTableInput(_Input):
    catalog_name: str | None = None
    schema_name: str | None = None
    table_name_prefix: str | None = None
    enabled: bool | None = None


class EnabledInput(_Input):
    enabled: bool | None = None


class FallbackInput(_Input):
    enabled: bool


class AiGatewayInput(_Input):
    """Body of PUT .../ai-gateway, and `ai_gateway` of a create. Guardrails (LLM endpoints) are kept as given."""

    fallback_config: FallbackInput | None = None
    guardrails: dict[str, Any] | None = None
    inference_table_config: InferenceTableInput | None = None
    rate_limits: list[AiGatewayRateLimitInput] | None = None
    usage_tracking_config: EnabledInput | None = None

    def as_stored(self) -> dict[str, Any]:
        """As GET shows it: absent values and empty lists left out (the sdk drops both), a rate limit's
        key filled with its default `endpoint`."""
        _check_rate_limits(self.rate_limits or [])
        _check_inference_table(self.inference_table_config)
        stored = self.model_dump(exclude_none=True)
        if not stored.get("rate_limits"):
            stored.pop("rate_limits", None)
        for limit in stored.get("rate_limits", []):
            limit.setdefault("key", "endpoint")
        return stored


def _check_rate_limits(limits: list[AiGatewayRateLimitInput]) -> None:
    seen = set()
    for i, limit in enumerate(limits):
        where = f"ai_gateway.rate_limits[{i}]"
        key = limit.key or "endpoint"
        if limit.calls is None and limit.tokens is None:
            raise invalid_parameter(f"{where}: set calls (or tokens) per renewal_period.")
        for name, value in (("calls", limit.calls), ("tokens", limit.tokens)):
            if value is not None and value <= 0:
                raise invalid_parameter(f"{where}: {name} must be a positive integer, got {value}.")
        if key == "endpoint" and limit.principal:
            raise invalid_parameter(f"{where}: an endpoint rate limit takes no principal.")
        if key == "user_group" and not limit.principal:
            raise invalid_parameter(f"{where}: a user_group rate limit needs the group's name as principal.")
        if (key, limit.principal) in seen:
            raise invalid_parameter(
                f"{where}: a rate limit for key '{key}'"
                f"{f' and principal {limit.principal!r}' if limit.principal else ''} "
                "is already set."
            )
        seen.add((key, limit.principal))


def _check_inference_table(table: InferenceTableInput | None) -> None:
    if table is not None and table.enabled and not (table.catalog_name and table.schema_name):
        raise invalid_parameter(
            "ai_gateway.inference_table_config: catalog_name and schema_name are required when enabling "
            "inference tables."
        )


class CreateEndpointInput(_Input):
    name: str
    config: CoreConfigInput | None = None
    tags: list[TagInput] | None = None
    description: str | None = None
    email_notifications: EmailNotificationsInput | None = None
    ai_gateway: AiGatewayInput | None = None
    route_optimized: bool | None = None
    budget_policy_id: str | None = None


class PatchTagsInput(_Input):
    add_tags: list[TagInput] | None = None
    delete_tags: list[str] | None = None


class AccessControlInput(_Input):
    user_name: str | None = None
    group_name: str | None = None
    service_principal_name: str | None = None
    permission_level: str


class PermissionsInput(_Input):
    access_control_list: list[AccessControlInput] = Field(default_factory=list)


# ---- the serving rules -------------------------------------------------------------------------


class EntitySpec(BaseModel):
    """A served entity as the service stores it, with server-filled defaults."""

    model_config = ConfigDict(frozen=True)

    name: str
    entity_name: str
    entity_version: str
    workload_size: str | None
    workload_type: str
    scale_to_zero_enabled: bool
    environment_vars: dict[str, str] | None
    min_provisioned_concurrency: int | None
    max_provisioned_concurrency: int | None
    # The newer kinds (emulator.external); defaults keep older persisted state loadable.
    external_model: dict[str, Any] | None = None
    """An external model: then entity_name and entity_version are empty, and nothing is deployed."""
    min_provisioned_throughput: int | None = None
    max_provisioned_throughput: int | None = None
    provisioned_model_units: int | None = None
    burst_scaling_enabled: bool | None = None
    instance_profile_arn: str | None = None


class ConfigSpec(BaseModel):
    """A validated endpoint config: entities and routes, in request order."""

    model_config = ConfigDict(frozen=True)

    entities: tuple[EntitySpec, ...]
    routes: tuple[tuple[str, int], ...]


def check_endpoint_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise invalid_parameter(f"Invalid endpoint name '{name}': use 1-63 letters, digits, '-' or '_'.")
    if name.lower().startswith(RESERVED_PREFIX):
        raise invalid_parameter(f"Invalid endpoint name '{name}': the prefix '{RESERVED_PREFIX}' is reserved.")


def normalize_config(config: CoreConfigInput | None) -> ConfigSpec:
    if config is None:
        raise invalid_parameter("The endpoint config is required and must contain at least one served entity.")
    _refuse_legacy_inference_table(config.auto_capture_config)
    inputs = list(config.served_entities or []) + [m.as_entity() for m in config.served_models or []]
    if not inputs:
        raise invalid_parameter("The endpoint config must contain at least one served entity.")
    if len(inputs) > MAX_SERVED_ENTITIES:
        raise invalid_parameter(
            f"An endpoint can serve at most {MAX_SERVED_ENTITIES} entities; the config has {len(inputs)}."
        )
    entities = tuple(_normalize_entity(e) for e in inputs)
    check_endpoint_kinds(
        [e.external_model is not None for e in entities],
        [str(e.external_model.get("task")) for e in entities if e.external_model is not None],
    )
    names = [e.name for e in entities]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise invalid_parameter(f"Served entity names must be unique; repeated: {duplicates}.")
    routes = _normalize_routes(config.traffic_config, names)
    return ConfigSpec(entities=entities, routes=routes)


# Choice: Databricks' exact error for this is not published; the text follows its documented rule ("Starting
# February 20, 2026, legacy inference tables can not be enabled on new or existing model serving endpoints",
# docs: enable-model-serving-inference-tables) and points at the replacement, with the code it uses for a
# refused parameter.
LEGACY_INFERENCE_TABLE_MESSAGE = (
    "Legacy inference tables can not be enabled on new or existing model serving endpoints "
    "(config.auto_capture_config, since February 20, 2026). Use AI Gateway inference tables instead: "
    "ai_gateway.inference_table_config {catalog_name, schema_name, table_name_prefix, enabled}."
)


def _refuse_legacy_inference_table(capture: AutoCaptureConfigInput | None) -> None:
    """Any `auto_capture_config` that could enable the legacy table is refused; `{"enabled": false}`
    (turning it off, the first step of Databricks' migration to AI Gateway tables) is accepted and changes
    nothing, since no endpoint here can have one."""
    if capture is not None and capture.enabled is not False:
        raise invalid_parameter(LEGACY_INFERENCE_TABLE_MESSAGE)


def _normalize_external(entity: ServedEntityInput, external: dict[str, Any]) -> EntitySpec:
    """An external model: named after its model (`.` and `:` as `-`) unless named; nothing to size."""
    name = entity.name or str(external.get("name") or "").replace(".", "-").replace(":", "-")
    if not NAME_PATTERN.match(name):
        raise invalid_parameter(f"Invalid served entity name '{name}': use 1-63 letters, digits, '-' or '_'.")
    check_external_model(name, external, entity.model_dump())
    return EntitySpec(
        name=name,
        entity_name="",
        entity_version="",
        workload_size=None,
        workload_type="",
        scale_to_zero_enabled=False,
        environment_vars=None,
        min_provisioned_concurrency=None,
        max_provisioned_concurrency=None,
        external_model=external,
    )


def _normalize_entity(entity: ServedEntityInput) -> EntitySpec:
    if entity.external_model is not None:
        return _normalize_external(entity, entity.external_model)
    if not entity.entity_name:
        raise invalid_parameter("Every served entity needs an entity_name (catalog.schema.model).")
    if entity.entity_version is None or str(entity.entity_version) == "":
        raise invalid_parameter(f"Served entity of '{entity.entity_name}' needs an entity_version.")
    version = str(entity.entity_version)
    name = entity.name or f"{entity.entity_name.split('.')[-1]}-{version}"
    if not NAME_PATTERN.match(name):
        raise invalid_parameter(f"Invalid served entity name '{name}': use 1-63 letters, digits, '-' or '_'.")
    has_size = entity.workload_size is not None
    has_concurrency = entity.min_provisioned_concurrency is not None or entity.max_provisioned_concurrency is not None
    throughput = (entity.min_provisioned_throughput, entity.max_provisioned_throughput, entity.provisioned_model_units)
    has_throughput = any(value is not None for value in throughput)
    if has_throughput:
        check_throughput(name, *throughput)
        if has_size or has_concurrency or entity.workload_type is not None:
            raise invalid_parameter(
                f"Served entity '{name}': provisioned throughput cannot be specified with workload_size, "
                "workload_type or provisioned concurrency."
            )
    elif has_size == has_concurrency:
        raise invalid_parameter(
            f"Served entity '{name}': set exactly one of workload_size or "
            "min_provisioned_concurrency/max_provisioned_concurrency."
        )
    if has_size and entity.workload_size not in WORKLOAD_SIZES:
        raise invalid_parameter(f"Served entity '{name}': workload_size must be one of {list(WORKLOAD_SIZES)}.")
    if has_concurrency:
        _check_concurrency(name, entity.min_provisioned_concurrency, entity.max_provisioned_concurrency)
    workload_type = entity.workload_type or "CPU"
    if workload_type not in WORKLOAD_TYPES:
        raise invalid_parameter(f"Served entity '{name}': workload_type must be one of {list(WORKLOAD_TYPES)}.")
    if entity.environment_vars and len(entity.environment_vars) > MAX_ENVIRONMENT_VARS:
        raise invalid_parameter(f"Served entity '{name}': at most {MAX_ENVIRONMENT_VARS} environment_vars.")
    return EntitySpec(
        name=name,
        entity_name=entity.entity_name,
        entity_version=version,
        workload_size=entity.workload_size,
        workload_type=workload_type,
        scale_to_zero_enabled=bool(entity.scale_to_zero_enabled),
        environment_vars=entity.environment_vars or None,
        min_provisioned_concurrency=entity.min_provisioned_concurrency,
        max_provisioned_concurrency=entity.max_provisioned_concurrency,
        min_provisioned_throughput=entity.min_provisioned_throughput,
        max_provisioned_throughput=entity.max_provisioned_throughput,
        provisioned_model_units=entity.provisioned_model_units,
        burst_scaling_enabled=entity.burst_scaling_enabled,
        instance_profile_arn=entity.instance_profile_arn,
    )


def _check_concurrency(name: str, low: int | None, high: int | None) -> None:
    if low is None or high is None:
        raise invalid_parameter(
            f"Served entity '{name}': set both min_provisioned_concurrency and max_provisioned_concurrency."
        )
    if low < 0 or high <= 0 or low > high or low % 4 or high % 4:
        raise invalid_parameter(
            f"Served entity '{name}': provisioned concurrency must be multiples of 4 with 0 <= min <= max, max > 0."
        )


def _normalize_routes(traffic: TrafficConfigInput | None, names: list[str]) -> tuple[tuple[str, int], ...]:
    if traffic is None or not traffic.routes:
        if len(names) == 1:
            return ((names[0], 100),)
        raise invalid_parameter("traffic_config is required when an endpoint serves more than one entity.")
    routes: list[tuple[str, int]] = []
    for route in traffic.routes:
        target = route.served_entity_name or route.served_model_name
        if not target:
            raise invalid_parameter("Every route must name a served entity (served_entity_name).")
        if route.served_entity_name and route.served_model_name and route.served_entity_name != route.served_model_name:
            raise invalid_parameter(
                f"Route names two entities: '{route.served_entity_name}' and '{route.served_model_name}'."
            )
        if target not in names:
            raise invalid_parameter(f"Route '{target}' does not name a served entity of the config ({names}).")
        if not 0 <= route.traffic_percentage <= 100:
            raise invalid_parameter(f"Route '{target}': traffic_percentage must be between 0 and 100.")
        routes.append((target, route.traffic_percentage))
    routed = [name for name, _ in routes]
    repeated = sorted({n for n in routed if routed.count(n) > 1})
    if repeated:
        raise invalid_parameter(f"Each served entity can have only one route; repeated: {repeated}.")
    missing = [n for n in names if n not in routed]
    if missing:
        raise invalid_parameter(f"Every served entity needs a route; missing: {missing}.")
    total = sum(pct for _, pct in routes)
    if total != 100:
        raise invalid_parameter(f"Traffic percentages must sum to 100; they sum to {total}.")
    return tuple(routes)
