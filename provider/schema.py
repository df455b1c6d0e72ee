"""The `servingops` package schema: its resource types and the provider's configuration, every property
typed and described. `GetSchema` serves it; the program's typed classes (components.plugin_resources) send
exactly these inputs (tests/test_provider_schema.py holds the two to each other)."""

from __future__ import annotations

import json
from typing import Any

from provider.requests import (
    DECLARED_ENTITY_FIELDS,
    DeploymentInputs,
    HealthInputs,
    NotificationsInputs,
    PreflightEndpointInputs,
    ReadinessInputs,
    RolloutInputs,
)

PACKAGE = "servingops"
VERSION = "1.0.0"

_STRING = {"type": "string"}
_NUMBER = {"type": "number"}
_INTEGER_MAP = {"type": "object", "additionalProperties": {"type": "integer"}}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_ANY = {"$ref": "pulumi.json#/Any"}


def _p(shape: dict[str, Any], description: str, *, secret: bool = False) -> dict[str, Any]:
    prop = {**shape, "description": description}
    if secret:
        prop["secret"] = True
    return prop


_ENDPOINT = {
    "endpoint_name": _p(_STRING, "The serving endpoint's name in the workspace."),
    "endpoint_id": _p(_STRING, "The serving endpoint's id (changes when the endpoint is recreated)."),
}

READINESS_INPUTS = {
    **_ENDPOINT,
    "served_entities": _p(
        {"type": "array", "items": {"$ref": "#/types/servingops:index:DeclaredEntity"}},
        "The served entities the endpoint must serve, with their model versions.",
    ),
    "traffic": _p(_INTEGER_MAP, "Served entity name -> percentage of the endpoint's traffic (sums to 100)."),
    "timeout_seconds": _p(_NUMBER, "How long the endpoint may take to be ready; then the deployment fails."),
    "warmup": _p({"$ref": "#/types/servingops:index:Warmup"}, "What every served entity is sent before the end."),
    "route_optimized": _p(
        {"type": "boolean"}, "The endpoint is route-optimized: probes go to its own URL with an OAuth token."
    ),
    "external_models": _p(
        {"type": "array", "items": _ANY},
        "External models ({name, model, task}): ready once a probe request of their task is answered.",
    ),
}
READINESS_OUTPUTS = {
    **READINESS_INPUTS,
    "verified_versions": _p(_STRING_MAP, "Served entity -> model version, as verified serving."),
    "verified_traffic": _p(_INTEGER_MAP, "Served entity -> percentage, as verified."),
    "warmed": _p(
        {"type": "object", "additionalProperties": _ANY},
        "Per served entity: attempts, first-request seconds and warm latency.",
    ),
    "route": _p(
        {"type": "object", "additionalProperties": _ANY},
        "Who answered the request sent through the traffic split, and how fast.",
    ),
    "waited_seconds": _p(_NUMBER, "From the start of verification to the end of warmup."),
    "polls": _p({"type": "integer"}, "How many times the endpoint was read while waiting."),
    "config_version": _p({"type": "integer"}, "The endpoint config version that was verified."),
    "fingerprint": _p(_STRING, "Identifies the verified entities, versions, traffic and warmup input."),
    "live_state": _p(_STRING_MAP, "After a refresh: the endpoint's `ready` and `config_update` states."),
    "live_served_versions": _p(_STRING_MAP, "After a refresh: served entity -> version, as live."),
    "live_traffic": _p(_INTEGER_MAP, "After a refresh: the live traffic split."),
}

DEPLOYMENT_INPUTS = {
    "endpoint_name": _p(_STRING, "The serving endpoint's name in the workspace."),
    "endpoint_resource": _p(
        _STRING,
        "The name of the endpoint's ModelServing resource (same parent): its row shows why a deployment failed.",
    ),
    "served_entities": READINESS_INPUTS["served_entities"],
    "traffic": _p(_INTEGER_MAP, "Served entity name -> percentage, as the endpoint's ModelServing declares it."),
    "timeout_seconds": _p(_NUMBER, "How long the deployment is followed at most."),
    "external_models": READINESS_INPUTS["external_models"],
}
DEPLOYMENT_OUTPUTS = {
    **DEPLOYMENT_INPUTS,
    "outcome": _p(_STRING, "That the deployment is watched (the watch goes on in the plugin)."),
}

ROLLOUT_INPUTS = {
    **_ENDPOINT,
    "served_entities": _p(
        {"type": "array", "items": _ANY},
        "The declared served entities as the serving API takes them (a config update's body).",
    ),
    "target": _p(_INTEGER_MAP, "The declared traffic: where the rollout ends."),
    "stable": _p(_STRING, "Served entity that takes traffic back when a gate fails."),
    "candidate": _p(_STRING, "Served entity whose share walks to its declared traffic."),
    "steps": _p({"type": "array", "items": {"type": "integer"}}, "Candidate shares to pass through."),
    "bake_seconds": _p(_NUMBER, "Time at each step before the health gate judges it."),
    "examples_json": _p(
        {"type": "array", "items": _STRING},
        "Request bodies the gates send, each as JSON text, sent as written (numbers keep their "
        "JSON type, which the engine's numbers, all doubles, would not).",
    ),
    "examples": _p(
        {"type": "array", "items": _ANY},
        "Read only, from state recorded before `examples_json`: the request bodies, numbers as doubles.",
    ),
    "tolerance": _p(_NUMBER, "Parity gate: largest absolute difference between predictions."),
    "expected_predictions_json": _p(
        {"type": "array", "items": _STRING},
        "Parity gate: per example, the predictions the candidate must give, as JSON text.",
    ),
    "expected_predictions": _p(
        {"type": "array", "items": _ANY}, "Read only, from state recorded before `expected_predictions_json`."
    ),
    "health": _p({"$ref": "#/types/servingops:index:HealthGate"}, "Health gate thresholds."),
    "update_timeout_seconds": _p(_NUMBER, "How long one config update may take to serve."),
    "route_optimized": _p(
        {"type": "boolean"}, "The endpoint is route-optimized: probes go to its own URL with an OAuth token."
    ),
    "plan": _p({"type": "array", "items": _STRING}, "The steps and gates in words, for `pulumi preview`."),
}
ROLLOUT_OUTPUTS = {
    **ROLLOUT_INPUTS,
    "report": _p(
        {"type": "object", "additionalProperties": _ANY},
        "Where the run started, each step with its verdict, the parity result, whether it rolled back.",
    ),
    "last_good_split": _p(_INTEGER_MAP, "The split the endpoint serves after the last passed step."),
    "live_split": _p(_INTEGER_MAP, "After a refresh: the live traffic split."),
    "live_serving": _p(_STRING, "After a refresh: what the endpoint serves, in words."),
}

NOTIFICATIONS_INPUTS = {
    "endpoint_name": _p(_STRING, "The serving endpoint's name in the workspace."),
    "on_update_success": _p({"type": "array", "items": _STRING}, "Addresses told when a config update succeeds."),
    "on_update_failure": _p({"type": "array", "items": _STRING}, "Addresses told when a config update fails."),
}
NOTIFICATIONS_OUTPUTS = {
    **NOTIFICATIONS_INPUTS,
    "live_email_notifications": _p(
        {"type": "object", "additionalProperties": _ANY}, "After a refresh: the endpoint's notifications as live."
    ),
}

_LOCATED = {"$ref": "#/types/servingops:index:LocatedValue"}
PREFLIGHT_INPUTS = {
    "endpoint_name": _p(_STRING, "The serving endpoint's name in the workspace."),
    "served_entities": _p(
        {"type": "array", "items": {"$ref": "#/types/servingops:index:PreflightEntity"}},
        "The declared served entities: each model version must exist and be READY.",
    ),
    "query_service_principal": _p(_LOCATED, "Application id of the query service principal: must exist."),
    "manager_groups": _p({"type": "array", "items": _LOCATED}, "Groups that get CAN_MANAGE: each must exist."),
    "secret_references": _p(
        {"type": "array", "items": _LOCATED},
        "`{{secrets/<scope>/<key>}}` environment values: each scope and key must exist.",
    ),
    "inference_table": _p(
        {"$ref": "#/types/servingops:index:PreflightTable"},
        "The inference table's catalog and schema: both must exist.",
    ),
    "grants": _p(
        {"type": "array", "items": {"$ref": "#/types/servingops:index:PreflightGrant"}},
        "The principals of `access.grants`: each must exist.",
    ),
}
TYPES_PREFLIGHT_ENDPOINT = {
    "type": "object",
    "description": "What the preflight checks for one endpoint, each value with its stack key path.",
    "properties": PREFLIGHT_INPUTS,
    "required": list(PreflightEndpointInputs.REQUIRED),
}
STACK_PREFLIGHT_INPUTS = {
    "endpoints": _p(
        {"type": "object", "additionalProperties": {"$ref": "#/types/servingops:index:PreflightEndpoint"}},
        "Endpoint key -> what its deployment needs.",
    ),
}
STACK_PREFLIGHT_OUTPUTS = {
    **STACK_PREFLIGHT_INPUTS,
    "outcome": _p(_STRING, "`passed`, or `skipped: no workspace credentials`."),
}

PROVIDER_INPUTS = {
    "host": _p(_STRING, "Workspace URL; default: databricks-sdk unified authentication (DATABRICKS_HOST, profiles)."),
    "token": _p(_STRING, "Personal access token; default: unified authentication.", secret=True),
    "clientId": _p(_STRING, "OAuth M2M client id of the deploying service principal."),
    "clientSecret": _p(_STRING, "OAuth M2M client secret of the deploying service principal.", secret=True),
    "pollSeconds": _p(
        _NUMBER,
        "Longest pause between two polls of an endpoint (default 10, like databricks-sdk's "
        "waiter); lower only against the local emulator.",
    ),
}

TYPES = {
    "servingops:index:PreflightEndpoint": TYPES_PREFLIGHT_ENDPOINT,
    "servingops:index:DeclaredEntity": {
        "type": "object",
        "description": "A served entity the endpoint must serve.",
        "properties": {
            "name": _p(_STRING, "Served entity name."),
            "entity_name": _p(_STRING, "Registered model name."),
            "entity_version": _p(_STRING, "Model version."),
            "scale_to_zero": {"type": "boolean", "description": "Whether it scales to zero (starts cold)."},
        },
        "required": list(DECLARED_ENTITY_FIELDS),
    },
    "servingops:index:Warmup": {
        "type": "object",
        "description": "The warmup request and its deadline.",
        "properties": {
            "input_example_json": _p(
                _STRING,
                "A request body in a Databricks input format, as JSON text, sent as "
                "written (numbers keep their JSON type, which the engine's numbers, "
                "all doubles, would not); none: no warmup request.",
            ),
            "input_example": _p(
                _ANY,
                "Read only, from state recorded before `input_example_json`: the body as "
                "a structure, numbers as doubles.",
            ),
            "timeout_seconds": _p(_NUMBER, "Warmup deadline per served entity."),
        },
        "required": list(ReadinessInputs.WARMUP_REQUIRED),
    },
    "servingops:index:LocatedValue": {
        "type": "object",
        "description": "A declared value and the stack key path it comes from (named in every finding).",
        "properties": {
            "value": _p(_STRING, "The declared value."),
            "key_path": _p(_STRING, "Where the stack file declares it, e.g. `endpoints.x.access.manager_groups[0]`."),
        },
        "required": ["value", "key_path"],
    },
    "servingops:index:PreflightGrant": {
        "type": "object",
        "description": "A principal `access.grants` names, and the stack key path it comes from.",
        "properties": {
            "kind": _p(_STRING, "`service_principal`, `group` or `user`."),
            "value": _p(_STRING, "The application id, group name or user name (e-mail)."),
            "key_path": _p(_STRING, "Where the stack file declares it, e.g. `endpoints.x.access.grants[0].group`."),
        },
        "required": ["kind", "value", "key_path"],
    },
    "servingops:index:PreflightEntity": {
        "type": "object",
        "description": "A served entity's model version as the preflight checks it.",
        "properties": {
            "name": _p(_STRING, "Served entity name."),
            "entity_name": _p(_STRING, "Unity Catalog `catalog.schema.model`, or a workspace Model Registry name."),
            "entity_version": _p(_STRING, "Model version (an alias already resolved to its number)."),
            "alias": _p(_STRING, "The alias as declared and what it resolved to (`@champion -> 4`), if any."),
            "key_path": _p(_STRING, "Key path of the version, e.g. `endpoints.x.served_models[1].version`."),
        },
        "required": ["name", "entity_name", "entity_version", "key_path"],
    },
    "servingops:index:PreflightTable": {
        "type": "object",
        "description": "The inference table's catalog and schema.",
        "properties": {
            "catalog": _p(_STRING, "Unity Catalog catalog."),
            "schema": _p(_STRING, "Schema in that catalog."),
            "key_path": _p(_STRING, "Key path of the inference table block."),
        },
        "required": ["catalog", "schema", "key_path"],
    },
    "servingops:index:HealthGate": {
        "type": "object",
        "description": "Health gate thresholds of a rollout step.",
        "properties": {
            "max_error_rate": _p(_NUMBER, "Largest share of failed requests."),
            "max_p95_latency_ms": _p(_NUMBER, "Largest 95th percentile latency of the probes."),
            "min_requests": _p({"type": "integer"}, "Observations needed before a verdict."),
            "probe_interval_seconds": _p(_NUMBER, "Time between probe requests."),
        },
        "required": list(HealthInputs.REQUIRED),
    },
}


def _resource(description: str, inputs: dict[str, Any], outputs: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "description": description,
        "inputProperties": inputs,
        "requiredInputs": required,
        "properties": outputs,
        "required": required,
    }


SCHEMA: dict[str, Any] = {
    "name": PACKAGE,
    "version": VERSION,
    "description": "Proof that Databricks serving endpoints serve: readiness, warmup and gated rollouts.",
    "config": {"variables": PROVIDER_INPUTS},
    "provider": {"description": "How the plugin reaches the workspace.", "inputProperties": PROVIDER_INPUTS},
    "types": TYPES,
    "resources": {
        "servingops:index:EndpointReadiness": _resource(
            "The endpoint serves as declared, every served entity warm; renewed on every relevant change.",
            READINESS_INPUTS,
            READINESS_OUTPUTS,
            list(ReadinessInputs.REQUIRED),
        ),
        "servingops:index:EndpointDeployment": _resource(
            "Follows the endpoint while pulumi-databricks creates or updates it; when the deployment fails, puts "
            "the served entity, its message and the build log's tail on the ModelServing's row (that provider says "
            "only UPDATE_FAILED, and deletes an endpoint whose creation failed).",
            DEPLOYMENT_INPUTS,
            DEPLOYMENT_OUTPUTS,
            list(DeploymentInputs.REQUIRED),
        ),
        "servingops:index:EndpointRollout": _resource(
            "Staged traffic shifting with parity and health gates and automatic rollback.",
            ROLLOUT_INPUTS,
            ROLLOUT_OUTPUTS,
            [*RolloutInputs.REQUIRED, "examples_json"],
        ),
        "servingops:index:EndpointNotifications": _resource(
            "The e-mail notifications of an existing endpoint, applied on every change (PATCH .../notifications).",
            NOTIFICATIONS_INPUTS,
            NOTIFICATIONS_OUTPUTS,
            list(NotificationsInputs.REQUIRED),
        ),
        "servingops:index:Preflight": _resource(
            "Read-only checks, in the preview and the update, that what every endpoint's deployment needs exists "
            "in the workspace; one per stack; fails with every finding at once, each naming its stack key path.",
            STACK_PREFLIGHT_INPUTS,
            STACK_PREFLIGHT_OUTPUTS,
            ["endpoints"],
        ),
    },
    "functions": {
        "servingops:index:resolveModelVersion": {
            "description": "The version a model alias points at now (`@champion`; `@Production`/`@Staging` for a "
            "workspace Model Registry model), read-only.",
            "inputs": {
                "properties": {
                    "model": _p(_STRING, "Unity Catalog `catalog.schema.model`, or a workspace Model Registry name."),
                    "alias": _p(_STRING, "The alias, `@<name>`."),
                },
                "required": ["model", "alias"],
            },
            "outputs": {
                "properties": {
                    "version": _p(_STRING, "The version number the alias points at."),
                    "unresolved": _p(_STRING, "Why there is no version (`no credentials`, no such alias)."),
                },
            },
        },
    },
}

SECRET_PROVIDER_INPUTS = frozenset(name for name, prop in PROVIDER_INPUTS.items() if prop.get("secret"))


def schema_json() -> str:
    return json.dumps(SCHEMA, sort_keys=True)
