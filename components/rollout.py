"""The `EndpointRollout` dynamic resource: staged traffic shifting inside `pulumi up`.

Declared only for endpoints with a `rollout` block. Traffic ownership: while the block is present, the
rollout owns the endpoint's served entities and traffic. The endpoint is created with the candidate at
0% (`EndpointConfig.start_routes`) and its ModelServing ignores later changes to those two properties,
so neither a later `pulumi up` nor a refresh puts traffic back where the rollout moved it from; the
rollout applies the declared served entities and walks the candidate to its declared share
(components.traffic_shift). Removing the block hands both back to the ModelServing, which then applies
the declared config as it is: that is how a rollback (or a promotion) by config takes one `pulumi up`.

Credentials as for every provider here (components.provider_base); work starts at `check` during
`pulumi up` (components.jobs), so rollouts of several endpoints run together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, ReadResult

from components.config import EndpointSpec
from components.provider_base import WorkspaceProvider, has_unknowns, log, phase, register
from components.traffic_shift import Rollout, RolloutPlan, RolloutReport
from components.verification import routes_of, serving_summary

# Inputs whose change means "run the rollout again". `plan` is derived from them; `phase` and the
# update timeout change nothing that was done.
ROLLOUT_INPUTS = (
    "endpoint_name", "endpoint_id", "served_entities", "target", "stable", "candidate", "steps",
    "bake_seconds", "examples", "tolerance", "expected_predictions", "health", "auto_capture",
)
INPUT_KEYS = (*ROLLOUT_INPUTS, "update_timeout_seconds", "plan", "phase")


def plan_of(inputs: Mapping[str, Any]) -> RolloutPlan:
    health = inputs.get("health") or {}
    expected = inputs.get("expected_predictions")
    return RolloutPlan(
        endpoint=inputs["endpoint_name"],
        served_entities=tuple(inputs["served_entities"]),
        target={name: int(share) for name, share in inputs["target"].items()},
        stable=inputs["stable"],
        candidate=inputs["candidate"],
        steps=tuple(int(step) for step in inputs["steps"]),
        bake_seconds=float(inputs["bake_seconds"]),
        examples=tuple(inputs["examples"]),
        tolerance=float(inputs.get("tolerance", 1e-6)),
        expected_predictions=tuple(expected) if expected is not None else None,
        max_error_rate=float(health.get("max_error_rate", 0.01)),
        max_p95_latency_ms=float(health.get("max_p95_latency_ms", 1000)),
        min_requests=int(health.get("min_requests", 20)),
        probe_interval_seconds=float(health.get("probe_interval_seconds", 1.0)),
        update_timeout_seconds=float(inputs.get("update_timeout_seconds", 2100)),
        auto_capture=inputs.get("auto_capture"),
    )


class EndpointRolloutProvider(WorkspaceProvider):
    """Moves an endpoint's traffic to its declared split through steps and gates."""

    watched_inputs = ROLLOUT_INPUTS
    kept_inputs = INPUT_KEYS
    id_suffix = "rollout"

    def failures(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        failures = []
        target, candidate, stable = news.get("target"), news.get("candidate"), news.get("stable")
        if not has_unknowns(target) and isinstance(target, dict):
            if candidate not in target or stable not in target:
                failures.append(CheckFailure("target", f"routes {sorted(target)} must name {stable} and {candidate}"))
            elif sum(int(share) for share in target.values()) != 100:
                failures.append(CheckFailure("target", "routes must sum to 100"))
        if not news.get("examples"):
            failures.append(CheckFailure("examples", "the gates need at least one request to send"))
        return failures

    def job(self, inputs: Mapping[str, Any]) -> tuple[str, Any]:
        plan = plan_of(inputs)
        fingerprint = hashlib.sha256(json.dumps(self.watched(inputs), sort_keys=True).encode()).hexdigest()[:16]
        key = f"rollout/{plan.endpoint}/{inputs.get('endpoint_id') or ''}/{fingerprint}"
        return key, Rollout(self.client, plan, self.policy, log=log).run

    def outputs(self, result: RolloutReport) -> dict[str, Any]:
        return {"report": result.outputs(), "last_good_split": result.last_good_split}

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the split the endpoint serves now. An endpoint deleted outside Pulumi reads as gone."""
        endpoint = self.live_endpoint(props)
        if endpoint is None:
            return ReadResult(id_="", outs={})
        live = routes_of(endpoint.get("config"))
        return ReadResult(id_=id_, outs={**props, "live_split": live,
                                         "live_serving": serving_summary(endpoint.get("config"))})


def served_entity_body(spec: EndpointSpec) -> list[dict[str, Any]]:
    """The declared served entities as the serving API takes them (what a config update sends)."""
    bodies = []
    for model in spec.endpoint.served_models:
        body: dict[str, Any] = {
            "name": model.served_name,
            "entity_name": model.model,
            "entity_version": model.version,
            "workload_type": model.workload_type.value,
            "scale_to_zero_enabled": model.scale_to_zero,
        }
        if model.workload_size is not None:
            body["workload_size"] = model.workload_size.value
        if model.provisioned_concurrency is not None:
            body["min_provisioned_concurrency"] = model.provisioned_concurrency.min
            body["max_provisioned_concurrency"] = model.provisioned_concurrency.max
        if model.environment_vars:
            body["environment_vars"] = dict(model.environment_vars)
        bodies.append(body)
    return bodies


def rollout_inputs(spec: EndpointSpec) -> dict[str, Any]:
    """The rollout resource's inputs for an endpoint with a `rollout` block, except name and id (outputs)."""
    endpoint, rollout = spec.endpoint, spec.endpoint.rollout
    assert rollout is not None
    capture = endpoint.inference_table
    inputs = {
        "served_entities": served_entity_body(spec),
        "target": dict(endpoint.routes),
        "stable": rollout.stable,
        "candidate": rollout.candidate,
        "steps": list(rollout.steps),
        "bake_seconds": rollout.bake_minutes * 60,
        "examples": endpoint.rollout_examples,
        "tolerance": rollout.parity.tolerance,
        "expected_predictions": rollout.parity.expected_predictions,
        "health": rollout.health.model_dump(),
        "auto_capture": {
            "enabled": True,
            "catalog_name": capture.catalog,
            "schema_name": capture.schema_,
            "table_name_prefix": capture.table_prefix or spec.name,
        }
        if capture
        else None,
        "update_timeout_seconds": spec.readiness_timeout_minutes * 60,
    }
    # What `pulumi preview` shows of the rollout: the steps and gates, from the declared start.
    inputs["plan"] = plan_of({**inputs, "endpoint_name": spec.name}).describe()
    return inputs


class EndpointRollout(pulumi.dynamic.Resource, module="serving", name="EndpointRollout"):
    """Staged traffic shifting for one endpoint, with parity and health gates and automatic rollback.

    Outputs, besides the inputs:
        report: where the run started, each step with its verdict, the parity result, whether it rolled back.
        last_good_split: the split the endpoint serves after the last passed step.
    """

    report: pulumi.Output[dict[str, Any]]
    last_good_split: pulumi.Output[dict[str, int]]

    def __init__(
        self,
        name: str,
        *,
        spec: EndpointSpec,
        endpoint_name: pulumi.Input[str],
        endpoint_id: pulumi.Input[str],
        provider: EndpointRolloutProvider | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the rollout of the endpoint of `spec` (which has a `rollout` block)."""
        props = {
            "endpoint_name": endpoint_name,
            "endpoint_id": endpoint_id,
            **rollout_inputs(spec),
            "phase": phase(),
            "report": None,
            "last_good_split": None,
        }
        register(self, provider or EndpointRolloutProvider(), name, props, opts)
