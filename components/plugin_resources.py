"""The program's side of the `servingops` plugin: its provider and its two resource types, typed.

The plugin (`provider/`, started by the engine from Pulumi.yaml's `plugins`) does the work; here the
program only declares it, without a generated SDK: `pulumi.CustomResource("servingops:index:...")` with
the inputs of the plugin's schema (`provider/schema.py`).

- `WorkspaceProvider`: how the plugin reaches the workspace. The engine hands a plugin only the stack keys
  of its own namespace, never `databricks:*`, so the program passes the workspace host and credentials on
  as the provider's inputs, secrets kept secret (stored encrypted, like the stack file's `secure:` values).
  Where the stack has none, the plugin uses databricks-sdk unified authentication (DATABRICKS_* variables,
  profiles) of the `pulumi up` process.
- `EndpointReadiness`: `pulumi up` ends only when the endpoint serves as declared, every entity warm.
- `EndpointDeployment`: beside the ModelServing, why its deployment failed (the served entity, its message,
  the build log), which pulumi-databricks does not say and deletes with a failed new endpoint.
- `EndpointRollout`: staged traffic shifting with gates and automatic rollback.
- `Preflight`: one per stack, before any endpoint: what every endpoint's deployment needs exists.
- `EndpointNotifications`: the endpoint's e-mail notifications, applied to an existing endpoint too
  (pulumi-databricks sends them at creation only).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pulumi

from components.config import SECRET_REFERENCE_PATTERN, EndpointSpec, ServedModelConfig
from serving import payloads

PACKAGE = "servingops"
READINESS_TYPE = f"{PACKAGE}:index:EndpointReadiness"
DEPLOYMENT_TYPE = f"{PACKAGE}:index:EndpointDeployment"
ROLLOUT_TYPE = f"{PACKAGE}:index:EndpointRollout"
NOTIFICATIONS_TYPE = f"{PACKAGE}:index:EndpointNotifications"
PREFLIGHT_TYPE = f"{PACKAGE}:index:Preflight"


class WorkspaceProvider(pulumi.ProviderResource):
    """The `servingops` provider: the workspace the plugin verifies and rolls out on.

    Args:
        host: workspace URL; None: unified authentication decides.
        token: personal access token (secret).
        client_id / client_secret: OAuth M2M credentials of the deploying service principal (secret).
        poll_seconds: longest pause between two polls (default 10 s); lower only against the emulator.
    """

    def __init__(
        self,
        name: str,
        *,
        host: pulumi.Input[str] | None = None,
        token: pulumi.Input[str] | None = None,
        client_id: pulumi.Input[str] | None = None,
        client_secret: pulumi.Input[str] | None = None,
        poll_seconds: float | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "host": host,
            "token": pulumi.Output.secret(token) if token is not None else None,
            "clientId": client_id,
            "clientSecret": pulumi.Output.secret(client_secret) if client_secret is not None else None,
            "pollSeconds": poll_seconds,
        }
        super().__init__(PACKAGE, name, {key: value for key, value in props.items() if value is not None}, opts)

    @classmethod
    def from_stack_config(cls, name: str = "workspace") -> WorkspaceProvider:
        """The provider for the workspace the stack's `databricks:*` keys name, with their credentials."""
        databricks = pulumi.Config("databricks")
        return cls(
            name,
            host=databricks.get("host"),
            token=databricks.get_secret("token"),
            client_id=databricks.get("clientId"),
            client_secret=databricks.get_secret("clientSecret"),
        )


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
        # JSON text, not a structure: the engine would turn every number into a double (serving.payloads).
        "warmup": {
            **(
                {"input_example_json": payloads.encode(warmup.input_example)}
                if warmup.input_example is not None
                else {}
            ),
            "timeout_seconds": warmup.timeout_minutes * 60,
        },
        # A route-optimized endpoint is probed at its own URL with an OAuth token, not at the workspace URL.
        "route_optimized": endpoint.route_optimized,
        # Only when there are some: the inputs (and so the diff) of other endpoints stay as they were.
        **(
            {
                "external_models": [
                    {"name": external.served_name, "model": external.model, "task": external.task.value}
                    for external in endpoint.external_models
                ]
            }
            if endpoint.external_models
            else {}
        ),
    }


class EndpointReadiness(pulumi.CustomResource):
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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare readiness for the endpoint of `spec`, known by name and id once it exists."""
        props = {
            "endpoint_name": endpoint_name,
            "endpoint_id": endpoint_id,
            **readiness_inputs(spec),
            # Outputs, declared so that they can be read as attributes.
            "verified_versions": None,
            "verified_traffic": None,
            "warmed": None,
            "route": None,
            "waited_seconds": None,
            "fingerprint": None,
        }
        super().__init__(READINESS_TYPE, name, props, opts)


class EndpointDeployment(pulumi.CustomResource):
    """Follows the endpoint while pulumi-databricks deploys it; when that fails, puts the served entity, its
    message and the build log's tail on the ModelServing's row (that provider says only UPDATE_FAILED).

    Declared beside the endpoint's ModelServing (depending on the preflight, not on the endpoint), with the
    same served entities and routes and the same `ignore_changes`, so it changes exactly when the
    ModelServing sends a config. Its Create/Update returns at once; the watch goes on in the plugin.
    """

    outcome: pulumi.Output[str]

    def __init__(
        self, name: str, *, spec: EndpointSpec, endpoint_resource: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """`endpoint_resource`: the name of the ModelServing (same parent) whose row shows a failure."""
        readiness = readiness_inputs(spec)
        props = {
            "endpoint_name": spec.name,
            "endpoint_resource": endpoint_resource,
            "served_entities": readiness["served_entities"],
            "traffic": dict(spec.endpoint.start_routes),
            "timeout_seconds": readiness["timeout_seconds"],
            **({"external_models": readiness["external_models"]} if "external_models" in readiness else {}),
            "outcome": None,
        }
        super().__init__(DEPLOYMENT_TYPE, name, props, opts)


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
        body.update(capacity_fields(model))
        if model.provisioned_throughput_entity:  # Databricks picks a foundation model's compute
            del body["workload_type"]
        if model.workload_size is not None:
            body["workload_size"] = model.workload_size.value
        if model.provisioned_concurrency is not None:
            body["min_provisioned_concurrency"] = model.provisioned_concurrency.min
            body["max_provisioned_concurrency"] = model.provisioned_concurrency.max
        if model.environment_vars:
            body["environment_vars"] = dict(model.environment_vars)
        bodies.append(body)
    return bodies


def capacity_fields(model: ServedModelConfig) -> dict[str, Any]:
    """A served entity's provisioned throughput and instance profile, as the serving API names them (only
    those set)."""
    throughput = model.provisioned_throughput
    fields: dict[str, Any] = {
        "min_provisioned_throughput": throughput.min if throughput else None,
        "max_provisioned_throughput": throughput.max if throughput else None,
        "provisioned_model_units": model.provisioned_model_units,
        "burst_scaling_enabled": model.burst_scaling,
        "instance_profile_arn": model.instance_profile_arn,
    }
    return {key: value for key, value in fields.items() if value is not None}


def rollout_inputs(spec: EndpointSpec) -> dict[str, Any]:
    """The rollout resource's inputs for an endpoint with a `rollout` block, except name and id (outputs)."""
    from serving.traffic_shift import RolloutPlan  # the plan's words for `pulumi preview`

    endpoint, rollout = spec.endpoint, spec.endpoint.rollout
    assert rollout is not None
    inputs: dict[str, Any] = {
        "served_entities": served_entity_body(spec),
        "target": dict(endpoint.routes),
        "stable": rollout.stable,
        "candidate": rollout.candidate,
        "steps": list(rollout.steps),
        "bake_seconds": rollout.bake_minutes * 60,
        # JSON texts, one per example, so that numbers keep their JSON type through the engine.
        "examples_json": payloads.encode_all(endpoint.rollout_examples),
        "tolerance": rollout.parity.tolerance,
        "expected_predictions_json": payloads.encode_all(rollout.parity.expected_predictions),
        "health": rollout.health.model_dump(),
        "update_timeout_seconds": spec.readiness_timeout_minutes * 60,
        "route_optimized": endpoint.route_optimized,
    }
    health = rollout.health
    plan = RolloutPlan(
        endpoint=spec.name,
        served_entities=(),
        target=inputs["target"],
        stable=rollout.stable,
        candidate=rollout.candidate,
        steps=tuple(rollout.steps),
        bake_seconds=inputs["bake_seconds"],
        examples=tuple(endpoint.rollout_examples),
        tolerance=rollout.parity.tolerance,
        expected_predictions=_tuple_or_none(rollout.parity.expected_predictions),
        max_error_rate=health.max_error_rate,
        max_p95_latency_ms=health.max_p95_latency_ms,
        min_requests=health.min_requests,
        probe_interval_seconds=health.probe_interval_seconds,
        update_timeout_seconds=inputs["update_timeout_seconds"],
        route_optimized=endpoint.route_optimized,
    )
    inputs["plan"] = plan.describe()
    return inputs


class EndpointRollout(pulumi.CustomResource):
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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the rollout of the endpoint of `spec` (which has a `rollout` block)."""
        props = {
            "endpoint_name": endpoint_name,
            "endpoint_id": endpoint_id,
            **rollout_inputs(spec),
            "report": None,
            "last_good_split": None,
        }
        super().__init__(ROLLOUT_TYPE, name, props, opts)


class EndpointNotifications(pulumi.CustomResource):
    """The e-mail notifications of an existing endpoint, kept as declared (PATCH .../notifications).

    pulumi-databricks (the Terraform provider behind it) sends `email_notifications` when it creates an
    endpoint and never on update (serving/resource_model_serving.go), so a later change would be planned on
    every preview and applied never. The endpoint's ModelServing ignores them after creation; this resource
    applies every change, and a refresh that finds them changed by hand makes the next `up` apply them again.
    """

    on_update_success: pulumi.Output[list[str]]
    on_update_failure: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        *,
        endpoint_name: pulumi.Input[str],
        on_update_success: list[str],
        on_update_failure: list[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "endpoint_name": endpoint_name,
            "on_update_success": list(on_update_success),
            "on_update_failure": list(on_update_failure),
        }
        super().__init__(NOTIFICATIONS_TYPE, name, props, opts)


def _text_values(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every text value of a nested mapping with its dotted key path (`api_key_auth.value`)."""
    for key, value in values.items():
        if isinstance(value, Mapping):
            yield from _text_values(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield f"{prefix}{key}", value


def preflight_inputs(spec: EndpointSpec, aliases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What the preflight checks for an endpoint, each value with the stack key path it comes from.

    `aliases`: served entity name -> how its alias resolved (`@champion -> 4`), shown with the entity.
    """
    endpoint, where = spec.endpoint, f"endpoints.{spec.key}"
    entities, secrets = [], []
    for index, model in enumerate(endpoint.served_models):
        entity = {
            "name": model.served_name,
            "entity_name": model.model,
            "entity_version": model.version,
            "key_path": f"{where}.served_models[{index}].version",
        }
        if aliases and model.served_name in aliases:
            entity["alias"] = aliases[model.served_name]
        entities.append(entity)
        secrets += [
            {"value": value, "key_path": f"{where}.served_models[{index}].environment_vars.{name}"}
            for name, value in model.environment_vars.items()
            if SECRET_REFERENCE_PATTERN.match(value)
        ]
    # An external model's credentials are secret references too: a missing secret fails the preview, not the create.
    secrets += [
        {"value": value, "key_path": f"{where}.external_models[{index}].config.{path}"}
        for index, external in enumerate(endpoint.external_models)
        for path, value in _text_values(external.config)
        if SECRET_REFERENCE_PATTERN.match(value)
    ]
    access = endpoint.access
    inputs: dict[str, Any] = {
        "served_entities": entities,
        "query_service_principal": {
            "value": access.query_service_principal,
            "key_path": f"{where}.access.query_service_principal",
        },
        "manager_groups": [
            {"value": group, "key_path": f"{where}.access.manager_groups[{index}]"}
            for index, group in enumerate(access.manager_groups)
        ],
        "secret_references": secrets,
        "grants": [
            {
                "kind": grant.kind.value,
                "value": grant.principal,
                "key_path": f"{where}.access.grants[{index}].{grant.kind.value}",
            }
            for index, grant in enumerate(access.grants)
        ],
    }
    if endpoint.inference_table is not None:
        inputs["inference_table"] = {
            "catalog": endpoint.inference_table.catalog,
            "schema": endpoint.inference_table.schema_,
            "key_path": f"{where}.inference_table",
        }
    return inputs


class Preflight(pulumi.CustomResource):
    """Read-only proof, before anything changes, that what every endpoint's deployment needs exists.

    One per stack, declared before the endpoints, each of which depends on it. Its Create/Update runs in
    `pulumi preview` as well as in `pulumi up` (the plugin only reads): a model version that is not READY, a
    principal, group, secret or schema that the workspace lacks fails the preview, with every finding of
    every endpoint and its key path. Without workspace credentials it is skipped, and the plugin says so once.

    Outputs, besides the inputs:
        outcome: `passed`, or `skipped: no workspace credentials`.
    """

    outcome: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        endpoints: Mapping[str, tuple[EndpointSpec, Mapping[str, str]]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`endpoints`: endpoint key -> its spec (aliases resolved) and how each alias resolved."""
        checks = {
            key: {"endpoint_name": spec.name, **preflight_inputs(spec, aliases)}
            for key, (spec, aliases) in endpoints.items()
        }
        super().__init__(PREFLIGHT_TYPE, name, {"endpoints": checks, "outcome": None}, opts)


def _tuple_or_none(values: list[Any] | None) -> tuple[Any, ...] | None:
    return None if values is None else tuple(values)
