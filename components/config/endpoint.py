"""An endpoint (`endpoints.<key>`) and the whole stack (`StackConfig`), and what components receive.

Data flows one way: the stack file's values are parsed into these typed, validated models, and components
only ever see `EndpointSpec` values derived from them. The defaults written here are the only ones: the
program passes every value on explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from components.config.access import AccessConfig, PolicySettings
from components.config.external import ExternalModelConfig, entity_kind_problems, raw_external_served_name
from components.config.gateway import AiGatewayConfig, InferenceTableConfig, NotificationsConfig
from components.config.limits import (
    DEPLOYMENT_TIMEOUT_MINUTES,
    MAX_ENDPOINT_NAME_LENGTH,
    MAX_SERVED_ENTITIES,
    NAME_PATTERN,
    READINESS_MARGIN_MINUTES,
    RESERVED_ENDPOINT_PREFIX,
)
from components.config.monitoring import (
    MonitoringConfig,
    NotificationDestinationConfig,
    destination_rules,
    monitoring_rules,
)
from components.config.problems import RuleProblem, StrictModel, fail, section
from components.config.rollout import ReadinessConfig, RolloutConfig
from components.config.served import ServedModelConfig, Tags, raw_names, raw_served_names


class EndpointConfig(StrictModel):
    """One serving endpoint as written under `endpoints.<key>` in a stack file."""

    name: str | None = Field(
        default=None, description="Endpoint name without the stack prefix; default the endpoint key."
    )
    description: str | None = Field(default=None, max_length=1000, description="Shown in the workspace.")
    served_models: list[ServedModelConfig] = Field(
        default_factory=list, description="The served registered models (at most 15); or external_models."
    )
    external_models: list[ExternalModelConfig] = Field(
        default_factory=list, description="The served external models (at most 15), instead of served_models."
    )
    budget_policy_id: str | None = Field(
        default=None, min_length=1, description="The budget policy the endpoint's usage is attributed to."
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
    monitoring: MonitoringConfig | None = Field(
        default=None, description="Alerts on the endpoint's telemetry and a drift monitor, after the deploy."
    )

    @field_validator("served_models", "external_models")
    @classmethod
    def _served_entity_limit(cls, value: list[Any]) -> list[Any]:
        if len(value) > MAX_SERVED_ENTITIES:
            raise fail(
                "too_many_served_entities",
                "at most {limit} served entities per endpoint, found {count}",
                limit=MAX_SERVED_ENTITIES,
                count=len(value),
            )
        names = [model.served_name for model in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise fail(
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
                raise fail("percentage", "{served}: {share} is not a percentage 0-100", served=served, share=share)
        if sum(value.values()) != 100:
            raise fail("traffic_sum", "routes must sum to 100, they sum to {total}", total=sum(value.values()))
        return value

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        yield from entity_kind_problems(data)
        yield from monitoring_rules(data)
        served = raw_served_names(data) or _raw_external_names(data)
        yield from _traffic_rules(data, served)
        yield from _rollout_rules(data, served)

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
        names = self.served_names
        traffic = self.traffic or {names[0]: 100}
        return {name: traffic[name] for name in names}

    @property
    def served_names(self) -> list[str]:
        """The served entity names, in declaration order: the registered models', or the external models'."""
        return [model.served_name for model in self.served_models] + [
            external.served_name for external in self.external_models
        ]


def _raw_external_names(endpoint: Mapping[str, Any]) -> list[str] | None:
    """The external models' served names of an endpoint's raw values; None if any of them is unknown."""
    return raw_names(endpoint.get("external_models"), raw_external_served_name)


CREATION_ONLY: dict[str, str] = {
    "name": "a new name is a new endpoint: the old one is deleted, then the new one created (new id and URL; "
    "permissions, readiness and rollout follow it)",
    "route_optimized": "Databricks cannot change it on an existing endpoint: a change recreates the endpoint "
    "(deleted, then created again; it serves nothing in between)",
    "description": "Databricks has no API to update it: a change applies when the endpoint is next created; "
    "with `recreate_on_description_change: true` a change recreates the endpoint",
    "budget_policy_id": "pulumi-databricks sends it only when it creates the endpoint: a change applies when the "
    "endpoint is next created",
}
"""Endpoint keys that Databricks applies only when it creates the endpoint, and what a later change does.

Every other key of an endpoint reaches the workspace on update (tests/test_stacks.py walks them all); the
review and the README name these wherever they show them.
"""


class StackDefaults(StrictModel):
    """Values applied to every endpoint of the stack."""

    name_prefix: str = Field(
        default="", description="Prefix of every endpoint name, e.g. `dev-`, so stacks share a workspace."
    )
    tags: Tags = Field(default_factory=dict, description="Tags of every endpoint.")

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not NAME_PATTERN.match(value):
            raise fail("name_prefix", "may only hold letters, digits, `-` and `_`")
        return value


class StackConfig(StrictModel):
    """Everything a stack file says about its endpoints."""

    defaults: StackDefaults = Field(default_factory=StackDefaults)
    endpoints: dict[str, EndpointConfig] = Field(min_length=1)
    policy: PolicySettings = Field(
        default_factory=PolicySettings, description="How strictly the policy pack judges this stack."
    )
    notification_destinations: dict[str, NotificationDestinationConfig] = Field(
        default_factory=dict, description="Destination name -> where endpoints' alerts notify."
    )

    @classmethod
    def _rules(cls, data: Mapping[str, Any]) -> Iterable[RuleProblem]:
        yield from destination_rules(data)
        endpoints = data.get("endpoints")
        if not isinstance(endpoints, Mapping):
            return
        prefix = section(data, "defaults", "name_prefix")
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
            own = section(endpoint, "name")
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
            (DEPLOYMENT_TIMEOUT_MINUTES[model.workload_type] for model in self.endpoint.served_models),
            # An external model has nothing to deploy: the margin covers its probe.
            default=0,
        )


def _traffic_rules(data: Mapping[str, Any], served: list[str] | None) -> Iterable[RuleProblem]:
    """`traffic`: required with more than one served entity, and a route for each served entity, no other."""
    models = data.get("served_models") or data.get("external_models")
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


def _rollout_rules(data: Mapping[str, Any], served: list[str] | None) -> Iterable[RuleProblem]:
    """`rollout`: its stable and candidate are served entities, and its gates have a request to send."""
    rollout = data.get("rollout")
    if not isinstance(rollout, Mapping):
        return
    named = [str(rollout[role]) for role in ("stable", "candidate") if isinstance(rollout.get(role), str)]
    unknown_entities = [name for name in named if served is not None and name not in served]
    if unknown_entities:
        verb = "names" if len(unknown_entities) == 1 else "name"
        yield RuleProblem(
            ("rollout",),
            "rollout_entities",
            f"{', '.join(unknown_entities)} {verb} no served entity; served entities are {', '.join(served or [])}",
        )
    examples = section(rollout, "parity", "examples")
    if examples is None and section(data, "readiness", "warmup", "input_example") is None:
        yield RuleProblem(
            (),
            "rollout_examples",
            "the parity and health gates need a request to send: set rollout.parity.examples "
            "or readiness.warmup.input_example",
        )
    if section(rollout, "parity", "expected_predictions") is not None and examples is None:
        yield RuleProblem((), "rollout_examples", "expected_predictions need rollout.parity.examples")
