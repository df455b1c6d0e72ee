"""What the serving endpoints API returns, typed: parsed once from the JSON body, as databricks-sdk-py does.

`ServingEndpoint.from_dict(body)` reads `GET /api/2.0/serving-endpoints/{name}` (the sdk's
`ServingEndpointDetailed`); past it, code reads attributes and enums, never raw dicts. Field names are the
API's (and the sdk's), so a reader can look each one up in databricks/sdk/service/serving.py.

Two things the raw body leaves to every reader are settled here, once:
- the legacy `served_models` form (`model_name`, `model_version`) is read as served entities when a config
  has no `served_entities`;
- a state the API adds later (a new `deployment` value) does not crash: it parses as an UNKNOWN member that
  keeps the raw text (`state.ready.value == "SOMETHING_NEW"`), and an absent state reads as UNKNOWN too,
  which is how the messages have always shown it.

The enums are `StrEnum`s: a member equals its text (`EndpointStateReady.READY == "READY"`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

UNKNOWN = "UNKNOWN"


class _ApiEnum(StrEnum):
    """A state the API reports. A value this code does not know becomes a pseudo-member named UNKNOWN that
    carries the raw text, so that a newer API's state is shown as it is and handled as "not the ones we know"."""

    @classmethod
    def _missing_(cls, value: object) -> Self:
        member = str.__new__(cls, str(value))
        member._name_ = UNKNOWN
        member._value_ = str(value)
        return member

    @classmethod
    def parse(cls, raw: Any) -> Self:
        """The member for `raw`; absent (None, '') reads as UNKNOWN."""
        return cls(str(raw) if raw else UNKNOWN)

    @property
    def is_unknown(self) -> bool:
        return self.name == UNKNOWN


class EndpointStateReady(_ApiEnum):
    """Whether the endpoint is queryable: READY once every served entity of its active config is."""

    NOT_READY = "NOT_READY"
    READY = "READY"


class EndpointStateConfigUpdate(_ApiEnum):
    """Where the last config update is: IN_PROGRESS (no other update may start), over, or failed."""

    IN_PROGRESS = "IN_PROGRESS"
    NOT_UPDATING = "NOT_UPDATING"
    UPDATE_CANCELED = "UPDATE_CANCELED"
    UPDATE_FAILED = "UPDATE_FAILED"

    @property
    def failed(self) -> bool:
        return self in (EndpointStateConfigUpdate.UPDATE_FAILED, EndpointStateConfigUpdate.UPDATE_CANCELED)


class ServedModelStateDeployment(_ApiEnum):
    """One served entity's deployment."""

    DEPLOYMENT_ABORTED = "DEPLOYMENT_ABORTED"
    DEPLOYMENT_CREATING = "DEPLOYMENT_CREATING"
    DEPLOYMENT_FAILED = "DEPLOYMENT_FAILED"
    DEPLOYMENT_READY = "DEPLOYMENT_READY"
    DEPLOYMENT_RECOVERING = "DEPLOYMENT_RECOVERING"


FAILED_DEPLOYMENTS = (ServedModelStateDeployment.DEPLOYMENT_FAILED, ServedModelStateDeployment.DEPLOYMENT_ABORTED)
"""In this order on purpose: a FAILED entity is the cause, the siblings Databricks ABORTED because of it are not."""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class ServedModelState:
    deployment: ServedModelStateDeployment
    deployment_state_message: str = ""

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> ServedModelState:
        deployment = ServedModelStateDeployment.parse(body.get("deployment"))
        return cls(deployment, str(body.get("deployment_state_message") or ""))

    @property
    def failed(self) -> bool:
        return self.deployment in FAILED_DEPLOYMENTS


@dataclass(frozen=True)
class ServedEntity:
    """One served entity of a config (the sdk's `ServedEntityOutput`, or a legacy `ServedModelOutput`)."""

    name: str
    entity_name: str | None = None
    entity_version: str | None = None
    workload_size: str | None = None
    workload_type: str | None = None
    scale_to_zero_enabled: bool = False
    min_provisioned_concurrency: int | None = None
    max_provisioned_concurrency: int | None = None
    environment_vars: Mapping[str, str] = field(default_factory=dict)
    state: ServedModelState = field(default_factory=lambda: ServedModelState(ServedModelStateDeployment.parse(None)))

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> ServedEntity:
        """A served entity, or a legacy served model (`model_name`, `model_version`), from the API's JSON."""
        entity_name = body.get("entity_name", body.get("model_name"))
        version = body.get("entity_version", body.get("model_version"))
        version = None if version is None else str(version)
        external = _mapping(body.get("external_model"))
        if external:  # served under the provider's model name, without a version
            entity_name, version = external.get("name"), ""
        name = body.get("name")
        if not name and entity_name and version:
            from components.config import default_served_entity_name  # imported here: pydantic is slow to load

            name = default_served_entity_name(str(entity_name), version)
        return cls(
            name=str(name or ""),
            entity_name=None if entity_name is None else str(entity_name),
            entity_version=version,
            workload_size=body.get("workload_size"),
            workload_type=body.get("workload_type"),
            scale_to_zero_enabled=bool(body.get("scale_to_zero_enabled")),
            min_provisioned_concurrency=_optional_int(body.get("min_provisioned_concurrency")),
            max_provisioned_concurrency=_optional_int(body.get("max_provisioned_concurrency")),
            environment_vars=dict(_mapping(body.get("environment_vars"))),
            state=ServedModelState.from_dict(_mapping(body.get("state"))),
        )

    @property
    def deployment(self) -> ServedModelStateDeployment:
        return self.state.deployment

    @property
    def ready(self) -> bool:
        return self.deployment == ServedModelStateDeployment.DEPLOYMENT_READY

    def config_key(self) -> tuple[Any, ...]:
        """The fields that make a config different (what a config update would change), comparable."""
        return (
            self.entity_name,
            self.entity_version,
            self.workload_size,
            self.workload_type,
            self.scale_to_zero_enabled,
            self.min_provisioned_concurrency,
            self.max_provisioned_concurrency,
            tuple(sorted(self.environment_vars.items())),
        )


@dataclass(frozen=True)
class Route:
    """One traffic route: which served entity takes what percentage."""

    served_entity_name: str
    traffic_percentage: int

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Route:
        name = body.get("served_entity_name") or body.get("served_model_name") or ""
        return cls(str(name), int(body.get("traffic_percentage", 0)))


@dataclass(frozen=True)
class EndpointConfig:
    """An endpoint's active config (`config`) or the one it is updating to (`pending_config`)."""

    served_entities: tuple[ServedEntity, ...] = ()
    routes: tuple[Route, ...] = ()
    config_version: int | None = None
    start_time: int | None = None
    """When the update to a pending config started (pending configs only)."""

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> EndpointConfig:
        # The only place that knows the legacy form: `served_models` when there are no `served_entities`.
        entities = body.get("served_entities") or body.get("served_models") or []
        routes = _mapping(body.get("traffic_config")).get("routes") or []
        return cls(
            served_entities=tuple(ServedEntity.from_dict(_mapping(entity)) for entity in entities),
            routes=tuple(Route.from_dict(_mapping(route)) for route in routes),
            config_version=_optional_int(body.get("config_version")),
            start_time=_optional_int(body.get("start_time")),
        )

    @classmethod
    def parse(cls, body: EndpointConfig | Mapping[str, Any] | None) -> EndpointConfig | None:
        """A config from either a model or a raw body; None for an absent or empty one (no config)."""
        if body is None or isinstance(body, EndpointConfig):
            return body
        return cls.from_dict(body) if body else None

    @property
    def traffic(self) -> dict[str, int]:
        """Served entity name -> traffic percentage."""
        return {route.served_entity_name: route.traffic_percentage for route in self.routes}

    @property
    def names(self) -> set[str]:
        return {entity.name for entity in self.served_entities}

    def summary(self) -> str:
        """`risk_classifier-3 v3 90%, risk_classifier-4 v4 10%`: what the config serves, for messages."""
        traffic = self.traffic
        return ", ".join(
            f"{entity.name} v{entity.entity_version} {traffic.get(entity.name, 0)}%" for entity in self.served_entities
        )


@dataclass(frozen=True)
class EndpointState:
    ready: EndpointStateReady
    config_update: EndpointStateConfigUpdate

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> EndpointState:
        ready, update = body.get("ready"), body.get("config_update")
        return cls(EndpointStateReady.parse(ready), EndpointStateConfigUpdate.parse(update))

    @property
    def updating(self) -> bool:
        return self.config_update == EndpointStateConfigUpdate.IN_PROGRESS


@dataclass(frozen=True)
class QueryInfo:
    """Where a route-optimized endpoint answers (`data_plane_info.query_info`)."""

    endpoint_url: str
    authorization_details: str = ""


@dataclass(frozen=True)
class ServingEndpoint:
    """One serving endpoint as `GET /api/2.0/serving-endpoints/{name}` returns it (`ServingEndpointDetailed`)."""

    name: str
    id: str
    state: EndpointState
    config: EndpointConfig | None = None
    """The config the endpoint serves now; None before its first one is live."""
    pending_config: EndpointConfig | None = None
    """The config it is updating to; None when no update is running."""
    route_optimized: bool = False
    query_info: QueryInfo | None = None
    email_notifications: Mapping[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> ServingEndpoint:
        query = _mapping(_mapping(body.get("data_plane_info")).get("query_info"))
        return cls(
            name=str(body.get("name") or ""),
            id=str(body.get("id") or ""),
            state=EndpointState.from_dict(_mapping(body.get("state"))),
            config=EndpointConfig.parse(_mapping(body.get("config"))),
            pending_config=EndpointConfig.parse(_mapping(body.get("pending_config"))),
            route_optimized=bool(body.get("route_optimized")),
            query_info=QueryInfo(str(query["endpoint_url"]), str(query.get("authorization_details") or ""))
            if query.get("endpoint_url")
            else None,
            email_notifications={key: list(value) for key, value in _mapping(body.get("email_notifications")).items()},
        )

    @property
    def traffic(self) -> dict[str, int]:
        """The active config's routes ({} without one)."""
        return self.config.traffic if self.config else {}

    def serving(self) -> str:
        """What the active config serves, in words (`nothing` without one)."""
        return self.config.summary() if self.config else "nothing"
