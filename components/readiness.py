"""The `EndpointReadiness` dynamic resource: `pulumi up` ends only when the endpoint serves, warm.

After its endpoint and permissions, every `ServingEndpoint` declares one of these. Creating or updating
it waits until the endpoint is ready as declared and warms every served entity (components.verification);
a failure fails the deployment with the endpoint, the served entity, the reason and the build-log tail.

Concurrency. Pulumi's Python provider host runs at most four provider calls at once, for all dynamic
resources of a stack, so a fifth endpoint's `create` would only start once one of the first four has
finished waiting. Verification therefore runs on threads of its own (components.jobs), and starts at
the earliest call the engine makes for the resource during `pulumi up`: `check`, which the engine sends
as soon as the program registers the resource (after its endpoint was created or updated) and which
returns at once. `create`/`update` then only wait for that verification's result. The program tells
`check` whether it runs for a preview (`phase`), so a preview never polls or sends a request.

Credentials: see components.provider_base.WorkspaceProvider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, ReadResult
from pulumi.output import Unknown

from components.config import INPUT_FORMATS, NAME_PATTERN, EndpointSpec
from components.provider_base import WorkspaceProvider, has_unknowns, log, phase, register
from components.verification import (
    DeclaredEntity,
    Expectation,
    Readiness,
    Verified,
    config_matches,
    routes_of,
)

# Inputs whose change means "verify again". Deadlines and `phase` are not among them.
VERIFIED_INPUTS = ("endpoint_name", "endpoint_id", "served_entities", "traffic", "warmup")
INPUT_KEYS = (*VERIFIED_INPUTS, "timeout_seconds", "phase")


def expectation_of(inputs: Mapping[str, Any]) -> Expectation:
    """The verification the resource's inputs ask for."""
    warmup = inputs.get("warmup") or {}
    return Expectation(
        endpoint=inputs["endpoint_name"],
        served_entities=tuple(
            DeclaredEntity(
                name=entity["name"],
                entity_name=entity["entity_name"],
                entity_version=str(entity["entity_version"]),
                scale_to_zero=bool(entity.get("scale_to_zero", False)),
            )
            for entity in inputs["served_entities"]
        ),
        traffic={name: int(share) for name, share in (inputs.get("traffic") or {}).items()},
        timeout_seconds=float(inputs["timeout_seconds"]),
        input_example=warmup.get("input_example"),
        warmup_timeout_seconds=float(warmup.get("timeout_seconds", 900)),
    )


def check_inputs(inputs: Mapping[str, Any]) -> list[CheckFailure]:
    """What is wrong with the inputs, skipping values not known yet (a preview of a new endpoint)."""
    failures: list[CheckFailure] = []
    name = inputs.get("endpoint_name")
    if not isinstance(name, Unknown) and not (isinstance(name, str) and NAME_PATTERN.match(name)):
        failures.append(CheckFailure("endpoint_name", f"{name!r} is not a serving endpoint name"))
    entities = inputs.get("served_entities")
    traffic = inputs.get("traffic")
    if not has_unknowns(entities):
        if not isinstance(entities, list) or not entities:
            failures.append(CheckFailure("served_entities", "at least one served entity is required"))
        elif not has_unknowns(traffic):
            names = {entity.get("name") for entity in entities}
            if not isinstance(traffic, dict) or sum(int(v) for v in traffic.values()) != 100:
                failures.append(CheckFailure("traffic", "routes must sum to 100"))
            elif set(traffic) != names:
                failures.append(
                    CheckFailure("traffic", f"routes {sorted(traffic)} must cover the served entities {sorted(names)}")
                )
    timeout = inputs.get("timeout_seconds")
    if not isinstance(timeout, Unknown) and not (isinstance(timeout, (int, float)) and timeout > 0):
        failures.append(CheckFailure("timeout_seconds", "must be a positive number of seconds"))
    example = (inputs.get("warmup") or {}).get("input_example")
    if isinstance(example, dict) and sum(1 for key in INPUT_FORMATS if key in example) != 1:
        failures.append(
            CheckFailure("warmup.input_example", f"needs exactly one of {', '.join(INPUT_FORMATS)}")
        )
    return failures


class EndpointReadinessProvider(WorkspaceProvider):
    """Verifies and warms a serving endpoint after every relevant change."""

    watched_inputs = VERIFIED_INPUTS
    kept_inputs = INPUT_KEYS
    id_suffix = "readiness"

    def failures(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        return check_inputs(news)

    def job(self, inputs: Mapping[str, Any]) -> tuple[str, Any]:
        expectation = expectation_of(inputs)
        key = f"readiness/{expectation.endpoint}/{inputs.get('endpoint_id') or ''}/{expectation.fingerprint()}"
        return key, Readiness(self.client, expectation, self.policy, log=log).run

    def outputs(self, result: Verified) -> dict[str, Any]:
        return result.outputs()

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: what the endpoint serves now. An endpoint deleted outside Pulumi reads as gone."""
        endpoint = self.live_endpoint(props)
        if endpoint is None:
            return ReadResult(id_="", outs={})
        active = endpoint.get("config") or {}
        live = {
            "served_entities": [
                {
                    "name": entity.get("name"),
                    "entity_name": entity.get("entity_name"),
                    "entity_version": str(entity.get("entity_version")),
                    "scale_to_zero": bool(entity.get("scale_to_zero_enabled", False)),
                }
                for entity in active.get("served_entities") or []
            ],
            "traffic": routes_of(active),
        }
        state = endpoint.get("state") or {}
        outs = {
            **props,
            "endpoint_id": endpoint.get("id"),
            "live_state": {"ready": state.get("ready"), "config_update": state.get("config_update")},
            "live_served_versions": {e["name"]: e["entity_version"] for e in live["served_entities"]},
            "live_traffic": live["traffic"],
        }
        inputs = None
        if "served_entities" in props and not config_matches(active, expectation_of(props)):
            # Drift: record what actually serves, so that the next `up` sees a change and verifies again.
            declared = {key: value for key, value in props.items() if key in INPUT_KEYS}
            inputs = {**declared, **live, "endpoint_id": endpoint.get("id")}
        return ReadResult(id_=id_, outs=outs, inputs=inputs)


def readiness_inputs(spec: EndpointSpec) -> dict[str, Any]:
    """The readiness resource's inputs for an endpoint, except the endpoint's name and id (outputs)."""
    endpoint = spec.endpoint
    warmup = endpoint.readiness.warmup
    return {
        "served_entities": [
            {
                "name": model.served_name,
                "entity_name": model.model,
                "entity_version": model.version,
                "scale_to_zero": model.scale_to_zero,
            }
            for model in endpoint.served_models
        ],
        "traffic": dict(endpoint.routes),
        "timeout_seconds": spec.readiness_timeout_minutes * 60,
        "warmup": {"input_example": warmup.input_example, "timeout_seconds": warmup.timeout_minutes * 60},
    }


class EndpointReadiness(pulumi.dynamic.Resource, module="serving", name="EndpointReadiness"):
    """Proof that an endpoint serves as declared, renewed on every relevant change.

    Outputs (no credential among them), besides the inputs:
        verified_versions: served entity -> model version, as verified on the endpoint.
        verified_traffic: served entity -> percentage, as verified.
        warmed: per served entity, attempts, first-request seconds and warm latency.
        route: who answered the request sent through the traffic split, and how fast.
        waited_seconds: time from the start of verification to the end of warmup.
        fingerprint: identifies the verified entities, versions, traffic and warmup input.
    """

    endpoint_name: pulumi.Output[str]
    verified_versions: pulumi.Output[dict[str, str]]
    verified_traffic: pulumi.Output[dict[str, int]]
    warmed: pulumi.Output[dict[str, Any]]
    route: pulumi.Output[dict[str, Any]]
    waited_seconds: pulumi.Output[float]
    fingerprint: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        spec: EndpointSpec,
        endpoint_name: pulumi.Input[str],
        endpoint_id: pulumi.Input[str],
        provider: EndpointReadinessProvider | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare readiness for the endpoint of `spec`, known by name and id once it exists."""
        props = {
            "endpoint_name": endpoint_name,
            "endpoint_id": endpoint_id,
            **readiness_inputs(spec),
            "phase": phase(),
            # Outputs, declared so that they can be read as attributes.
            "verified_versions": None,
            "verified_traffic": None,
            "warmed": None,
            "route": None,
            "waited_seconds": None,
            "fingerprint": None,
        }
        register(self, provider or EndpointReadinessProvider(), name, props, opts)
