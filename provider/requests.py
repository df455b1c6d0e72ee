"""The engine's requests, typed in one place: what each gRPC call carries and what each resource's inputs mean.

Two layers, each decoded once:
- `ResourceRequest` is one resource call (Check, Diff, Create, Update, Read, Delete) with its property maps
  (protobuf Structs) decoded by `provider.wire`: the servicer builds one per call and never reads protobuf
  again.
- One dataclass per resource type (`ReadinessInputs`, `RolloutInputs`, `DeploymentInputs`,
  `NotificationsInputs`, `PreflightEndpointInputs`) turns a property map into typed values: the engine's
  doubles back into counts, versions as text, the JSON-text bodies decoded. The implementations work on these.

Defaults live in the config model (components.config) alone: the program (components.plugin_resources)
sends every input, so an input missing here is a program bug and Check names it (`missing_inputs`) instead
of the plugin restating a default. State recorded by older plugins is read by `recorded_*` readers, which
take only what a refresh or an update needs from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provider import wire
from provider.wire import Values
from serving import payloads
from serving.preflight import EntityToCheck, GrantToCheck, InferenceTableToCheck, Located, PreflightRequest
from serving.traffic_shift import RolloutPlan
from serving.verification import DeclaredEntity, Expectation

PropertyMap = Mapping[str, Any]
"""A resource's properties as plain Python (`provider.wire.decode`), snake_case as the schema names them."""


class InputError(Exception):
    """A required input is missing where Check would have refused it: the message names it."""


@dataclass(frozen=True)
class Failure:
    """One input `check` refuses: the property and why."""

    property: str
    reason: str


# --------------------------------------------------------------------------------------------------
# One resource call


@dataclass(frozen=True)
class ResourceRequest:
    """One resource call of the engine, its property maps decoded."""

    urn: str
    news: Values = field(default_factory=lambda: Values({}))
    """Check/Update: the new inputs; Create: the inputs; Read/Delete: the state's outputs."""
    olds: Values = field(default_factory=lambda: Values({}))
    """Check: the state's inputs; Diff/Update: the state's outputs."""
    resource_id: str = ""
    preview: bool = False

    @property
    def name(self) -> str:
        """The resource's name, the URN's last part."""
        return self.urn.rsplit("::", 1)[-1]

    @property
    def type_token(self) -> str:
        """The resource's type token, without its parents' types."""
        return self.urn.split("::")[-2].rsplit("$", 1)[-1] if "::" in self.urn else ""


# The gRPC request messages are untyped (generated protobuf): each is read here, once, by its own fields.


def check_request(request: Any) -> ResourceRequest:
    return ResourceRequest(request.urn, news=wire.decode(request.news), olds=wire.decode(request.olds))


def diff_request(request: Any) -> ResourceRequest:
    return ResourceRequest(
        request.urn, news=wire.decode(request.news), olds=wire.decode(request.olds), resource_id=request.id
    )


def create_request(request: Any) -> ResourceRequest:
    return ResourceRequest(request.urn, news=wire.decode(request.properties), preview=request.preview)


def update_request(request: Any) -> ResourceRequest:
    return ResourceRequest(
        request.urn,
        news=wire.decode(request.news),
        olds=wire.decode(request.olds),
        resource_id=request.id,
        preview=request.preview,
    )


def recorded_request(request: Any) -> ResourceRequest:
    """Read and Delete: the state's outputs (`properties`)."""
    return ResourceRequest(request.urn, news=wire.decode(request.properties), resource_id=request.id)


# --------------------------------------------------------------------------------------------------
# Reading property maps


def missing_inputs(props: PropertyMap, required: tuple[str, ...], where: str = "") -> list[Failure]:
    """A failure for each required input that is absent (an unknown in a preview is not absent)."""
    return [
        Failure(f"{where}{key}", "is required: none was sent (components.plugin_resources always sends it)")
        for key in required
        if props.get(key) is None
    ]


def _required(props: PropertyMap, key: str, where: str = "") -> Any:
    value = props.get(key)
    if value is None:
        raise InputError(f"servingops: the input {where}{key} is required; got none")
    return value


def _mapping(props: PropertyMap, key: str, where: str = "") -> PropertyMap:
    value = _required(props, key, where)
    if not isinstance(value, Mapping):
        raise InputError(f"servingops: the input {where}{key} must be an object; got {value!r}")
    return value


def whole(value: Any) -> Any:
    """A number the API takes as an integer, as an int: the engine hands every number over as a double,
    and `8.0` is not what a client of the serving API sends for a count or a percentage."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def version_text(value: Any) -> str:
    """A model version as the API spells it: `4`, never `4.0` (a version the engine made a double)."""
    return str(whole(value))


def shares(value: Any) -> dict[str, int]:
    """Served entity -> percentage, the engine's doubles as ints ({} for none)."""
    return {str(name): int(share) for name, share in (value or {}).items()} if isinstance(value, Mapping) else {}


DECLARED_ENTITY_FIELDS = ("name", "entity_name", "entity_version", "scale_to_zero")
"""What the program sends of each served entity of a readiness or deployment resource."""


def declared_entity(entity: PropertyMap, where: str) -> DeclaredEntity:
    return DeclaredEntity(
        name=str(_required(entity, "name", where)),
        entity_name=str(_required(entity, "entity_name", where)),
        entity_version=version_text(_required(entity, "entity_version", where)),
        scale_to_zero=bool(_required(entity, "scale_to_zero", where)),
    )


def _declared_entities(props: PropertyMap) -> tuple[DeclaredEntity, ...]:
    entities = _required(props, "served_entities")
    return tuple(declared_entity(entity, f"served_entities[{index}].") for index, entity in enumerate(entities))


def external_entities(props: PropertyMap) -> tuple[DeclaredEntity, ...]:
    """The external models (`external_models`, sent only when there are some) as served entities: no version of
    ours, served under the provider's model name (serving.model)."""
    externals = props.get("external_models") or []
    return tuple(
        DeclaredEntity(
            name=str(_required(e, "name", f"external_models[{i}].")),
            entity_name=str(_required(e, "model", f"external_models[{i}].")),
            entity_version="",
        )
        for i, e in enumerate(externals)
    )


# --------------------------------------------------------------------------------------------------
# EndpointReadiness and EndpointDeployment


@dataclass(frozen=True)
class ReadinessInputs:
    """`servingops:index:EndpointReadiness`: what the endpoint must serve, and its warmup."""

    endpoint_name: str
    endpoint_id: str
    served_entities: tuple[DeclaredEntity, ...]
    traffic: dict[str, int]
    timeout_seconds: float
    input_example: Mapping[str, Any] | None
    """The warmup body (None: no warmup request), from the JSON text or an older plugin's structure."""
    warmup_timeout_seconds: float
    route_optimized: bool
    external_models: tuple[DeclaredEntity, ...] = ()
    """Served entities with no version of ours (the provider's model name instead): probed, not warmed up."""
    probes: Mapping[str, str] = field(default_factory=dict)
    """External models by served entity name -> task (serving.probes)."""

    REQUIRED = (
        "endpoint_name",
        "endpoint_id",
        "served_entities",
        "traffic",
        "timeout_seconds",
        "warmup",
        "route_optimized",
    )
    WARMUP_REQUIRED = ("timeout_seconds",)

    @classmethod
    def of(cls, props: PropertyMap) -> ReadinessInputs:
        warmup = _mapping(props, "warmup")
        externals = list(props.get("external_models") or [])
        return cls(
            endpoint_name=str(_required(props, "endpoint_name")),
            endpoint_id=str(_required(props, "endpoint_id")),
            served_entities=_declared_entities(props),
            traffic=shares(_required(props, "traffic")),
            timeout_seconds=float(_required(props, "timeout_seconds")),
            # The text as the stack file wrote it; a record of an older plugin holds a structure (all doubles).
            input_example=payloads.recorded(warmup, "input_example_json", "input_example"),
            warmup_timeout_seconds=float(_required(warmup, "timeout_seconds", "warmup.")),
            route_optimized=bool(_required(props, "route_optimized")),
            external_models=external_entities(props),
            probes={str(e["name"]): str(e["task"]) for e in externals},
        )

    def expectation(self) -> Expectation:
        return Expectation(
            endpoint=self.endpoint_name,
            # An external model has no version: it is served under its provider's model name (serving.model).
            served_entities=self.served_entities + self.external_models,
            probes=self.probes,
            traffic=self.traffic,
            timeout_seconds=self.timeout_seconds,
            input_example=self.input_example,
            warmup_timeout_seconds=self.warmup_timeout_seconds,
            route_optimized=self.route_optimized,
        )


@dataclass(frozen=True)
class DeploymentInputs:
    """`servingops:index:EndpointDeployment`: the deployment pulumi-databricks runs, as its ModelServing declares it."""

    endpoint_name: str
    endpoint_resource: str
    served_entities: tuple[DeclaredEntity, ...]
    """The registered models, then the external models (`external_entities`)."""
    traffic: dict[str, int]
    timeout_seconds: float

    REQUIRED = ("endpoint_name", "endpoint_resource", "served_entities", "traffic", "timeout_seconds")

    @classmethod
    def of(cls, props: PropertyMap) -> DeploymentInputs:
        return cls(
            endpoint_name=str(_required(props, "endpoint_name")),
            endpoint_resource=str(_required(props, "endpoint_resource")),
            served_entities=_declared_entities(props) + external_entities(props),
            traffic=shares(_required(props, "traffic")),
            timeout_seconds=float(_required(props, "timeout_seconds")),
        )

    def expectation(self) -> Expectation:
        """What the deployment must end serving (no warmup: readiness warms)."""
        return Expectation(
            endpoint=self.endpoint_name,
            served_entities=self.served_entities,
            traffic=self.traffic,
            timeout_seconds=self.timeout_seconds,
        )


@dataclass(frozen=True)
class RecordedServing:
    """What a refresh compares with the live endpoint, from the state a readiness resource recorded (any
    plugin version): the endpoint and what it was declared to serve."""

    endpoint_name: str
    endpoint_id: str | None
    served: dict[str, tuple[str, str]]
    """Served entity name -> (entity name, version)."""
    traffic: dict[str, int]

    def expectation(self) -> Expectation:
        """The recorded declaration as `serving.verification.config_matches` compares it (no deadlines)."""
        return Expectation(
            endpoint=self.endpoint_name,
            served_entities=tuple(
                DeclaredEntity(name=name, entity_name=entity_name, entity_version=version)
                for name, (entity_name, version) in self.served.items()
            ),
            traffic=self.traffic,
            timeout_seconds=0.0,
        )

    @classmethod
    def of(cls, props: PropertyMap) -> RecordedServing:
        return cls(
            endpoint_name=str(props.get("endpoint_name") or ""),
            endpoint_id=props.get("endpoint_id"),
            served={
                str(entity.get("name")): (str(entity.get("entity_name")), version_text(entity.get("entity_version")))
                for entity in props.get("served_entities") or []
            },
            traffic=shares(props.get("traffic")),
        )


# --------------------------------------------------------------------------------------------------
# EndpointRollout

INTEGER_ENTITY_FIELDS = ("min_provisioned_concurrency", "max_provisioned_concurrency")
ROLLOUT_ENTITY_FIELDS = (
    "name",
    "entity_name",
    "entity_version",
    "workload_size",
    "workload_type",
    "scale_to_zero_enabled",
    *INTEGER_ENTITY_FIELDS,
    "environment_vars",
)
"""What a rollout declares of a served entity (a live body carries more)."""


def served_entity_body(entity: PropertyMap) -> dict[str, Any]:
    """A declared served entity as a config update sends it: counts as integers, the version as text."""
    body = {key: whole(value) if key in INTEGER_ENTITY_FIELDS else value for key, value in entity.items()}
    if "entity_version" in body:
        body["entity_version"] = version_text(body["entity_version"])
    return body


def declared_entity_fields(entity: PropertyMap) -> dict[str, Any]:
    """A served entity body reduced to what the rollout declares, comparable with a live one."""
    return served_entity_body({key: entity[key] for key in ROLLOUT_ENTITY_FIELDS if entity.get(key) is not None})


@dataclass(frozen=True)
class HealthInputs:
    max_error_rate: float
    max_p95_latency_ms: float
    min_requests: int
    probe_interval_seconds: float

    REQUIRED = ("max_error_rate", "max_p95_latency_ms", "min_requests", "probe_interval_seconds")

    @classmethod
    def of(cls, health: PropertyMap) -> HealthInputs:
        return cls(
            max_error_rate=float(_required(health, "max_error_rate", "health.")),
            max_p95_latency_ms=float(_required(health, "max_p95_latency_ms", "health.")),
            min_requests=int(_required(health, "min_requests", "health.")),
            probe_interval_seconds=float(_required(health, "probe_interval_seconds", "health.")),
        )


@dataclass(frozen=True)
class RolloutInputs:
    """`servingops:index:EndpointRollout`: where traffic walks to, and the gates on the way."""

    plan: RolloutPlan
    endpoint_id: str

    REQUIRED = (
        "endpoint_name",
        "endpoint_id",
        "served_entities",
        "target",
        "stable",
        "candidate",
        "steps",
        "bake_seconds",
        "tolerance",
        "health",
        "update_timeout_seconds",
        "route_optimized",
    )
    """`examples_json` is required too, in either recorded shape: its own rule says so (the gates need it)."""

    @classmethod
    def of(cls, props: PropertyMap) -> RolloutInputs:
        health = HealthInputs.of(_mapping(props, "health"))
        expected = payloads.recorded(props, "expected_predictions_json", "expected_predictions")
        plan = RolloutPlan(
            endpoint=str(_required(props, "endpoint_name")),
            served_entities=tuple(served_entity_body(entity) for entity in _required(props, "served_entities")),
            target=shares(_required(props, "target")),
            stable=str(_required(props, "stable")),
            candidate=str(_required(props, "candidate")),
            steps=tuple(int(step) for step in _required(props, "steps")),
            bake_seconds=float(_required(props, "bake_seconds")),
            examples=tuple(payloads.recorded(props, "examples_json", "examples") or ()),
            tolerance=float(_required(props, "tolerance")),
            expected_predictions=tuple(expected) if expected is not None else None,
            max_error_rate=health.max_error_rate,
            max_p95_latency_ms=health.max_p95_latency_ms,
            min_requests=health.min_requests,
            probe_interval_seconds=health.probe_interval_seconds,
            update_timeout_seconds=float(_required(props, "update_timeout_seconds")),
            route_optimized=bool(_required(props, "route_optimized")),
        )
        return cls(plan=plan, endpoint_id=str(_required(props, "endpoint_id")))


def recorded_last_good_split(olds: PropertyMap | None) -> dict[str, int] | None:
    """The split an earlier run recorded as judged good (None: no record, or a plugin that kept none)."""
    verified = (olds or {}).get("last_good_split")
    return shares(verified) if isinstance(verified, Mapping) else None


# --------------------------------------------------------------------------------------------------
# EndpointNotifications

NOTIFICATION_KEYS = ("on_update_success", "on_update_failure")


@dataclass(frozen=True)
class NotificationsInputs:
    """`servingops:index:EndpointNotifications`: who is told of a config update's outcome."""

    endpoint_name: str
    on_update_success: tuple[str, ...]
    on_update_failure: tuple[str, ...]

    REQUIRED = ("endpoint_name", *NOTIFICATION_KEYS)

    @classmethod
    def of(cls, props: PropertyMap) -> NotificationsInputs:
        return cls(
            endpoint_name=str(_required(props, "endpoint_name")),
            on_update_success=tuple(_required(props, "on_update_success")),
            on_update_failure=tuple(_required(props, "on_update_failure")),
        )

    def body(self) -> dict[str, list[str]]:
        """`email_notifications` as the API takes it: only the lists that name someone."""
        lists = {"on_update_success": self.on_update_success, "on_update_failure": self.on_update_failure}
        return {key: list(addresses) for key, addresses in lists.items() if addresses}


def recorded_endpoint_name(props: PropertyMap) -> str | None:
    """The endpoint a recorded resource is about (None: a record without one)."""
    name = props.get("endpoint_name")
    return str(name) if name else None


# --------------------------------------------------------------------------------------------------
# Preflight


def _located(checks: PropertyMap, key: str) -> tuple[Located, ...]:
    return tuple(Located(item["value"], item["key_path"]) for item in _required(checks, key))


@dataclass(frozen=True)
class PreflightEndpointInputs:
    """One endpoint's part of `servingops:index:Preflight`: each value with the stack key path it comes from."""

    request: PreflightRequest

    REQUIRED = (
        "endpoint_name",
        "served_entities",
        "query_service_principal",
        "manager_groups",
        "secret_references",
        "grants",
    )
    """`inference_table` is absent for an endpoint without one."""

    @classmethod
    def of(cls, checks: PropertyMap) -> PreflightEndpointInputs:
        table = checks.get("inference_table")
        principal = _mapping(checks, "query_service_principal")
        request = PreflightRequest(
            endpoint=str(_required(checks, "endpoint_name")),
            served_entities=tuple(
                EntityToCheck(
                    name=entity["name"],
                    entity_name=entity["entity_name"],
                    entity_version=version_text(entity["entity_version"]),
                    key_path=entity["key_path"],
                )
                for entity in _required(checks, "served_entities")
            ),
            query_service_principal=Located(principal["value"], principal["key_path"]),
            manager_groups=_located(checks, "manager_groups"),
            secret_references=_located(checks, "secret_references"),
            inference_table=InferenceTableToCheck(table["catalog"], table["schema"], table["key_path"])
            if table
            else None,
            grants=tuple(GrantToCheck(g["kind"], g["value"], g["key_path"]) for g in _required(checks, "grants")),
        )
        return cls(request)


def preflight_endpoints(props: PropertyMap) -> dict[str, Any]:
    """Endpoint key -> what to check ({} for anything else: Check has refused it)."""
    endpoints = props.get("endpoints")
    return dict(endpoints) if isinstance(endpoints, Mapping) else {}
