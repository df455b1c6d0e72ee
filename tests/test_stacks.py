"""The repo's own stack files, run through the real program under Pulumi's mock engine.

What each stack declares is stated here literally, so that a change to a stack file or to a component
shows up as a failing, readable assertion.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from review.engine import ProgramRun, unwrap
from tests.support import STACKS, stack_config

ENDPOINT = "databricks:index/modelServing:ModelServing"
PERMISSIONS = "databricks:index/permissions:Permissions"
COMPONENT = "serving:index:ServingEndpoint"
READINESS = "servingops:index:EndpointReadiness"
DEPLOYMENT = "servingops:index:EndpointDeployment"
ROLLOUT = "servingops:index:EndpointRollout"
NOTIFICATIONS = "servingops:index:EndpointNotifications"
HOST = "https://adb-4210987654321098.18.azuredatabricks.net"


def entity(run: ProgramRun, key: str) -> list[dict[str, Any]]:
    return unwrap(run.named(f"{key}-endpoint").inputs)["config"]["servedEntities"]


def routes(run: ProgramRun, key: str) -> dict[str, int]:
    config = unwrap(run.named(f"{key}-endpoint").inputs)["config"]
    return {route["servedEntityName"]: route["trafficPercentage"] for route in config["trafficConfig"]["routes"]}


def tags(run: ProgramRun, key: str) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in unwrap(run.named(f"{key}-endpoint").inputs)["tags"]}


def grants(run: ProgramRun, key: str) -> list[dict[str, Any]]:
    return unwrap(run.named(f"{key}-permissions").inputs)["accessControls"]


def test_the_repo_has_a_dev_and_a_prod_stack():
    assert {"dev", "prod"} <= set(STACKS)


# --- dev -------------------------------------------------------------------------------------------


def test_dev_serves_one_small_scale_to_zero_model(stack_runs):
    run = stack_runs["dev"]
    assert entity(run, "risk-classifier") == [
        {
            "name": "risk_classifier-4",
            "entityName": "main.risk.risk_classifier",
            "entityVersion": "4",
            "workloadSize": "Small",
            "workloadType": "CPU",
            "scaleToZeroEnabled": True,
        }
    ]
    assert routes(run, "risk-classifier") == {"risk_classifier-4": 100}


def test_dev_endpoint_name_carries_the_stack_prefix(stack_runs):
    assert unwrap(stack_runs["dev"].named("risk-classifier-endpoint").inputs)["name"] == "dev-risk-classifier"


def test_dev_grants_query_to_the_dev_service_principal_only(stack_runs):
    assert grants(stack_runs["dev"], "risk-classifier") == [
        {"servicePrincipalName": "3f6b2a1c-8d4e-4b7a-9c0d-2e5f7a8b9c10", "permissionLevel": "CAN_QUERY"}
    ]


def test_dev_tags_come_from_the_stack_defaults(stack_runs):
    assert tags(stack_runs["dev"], "risk-classifier") == {
        "cost-center": "cc-4711",
        "environment": "dev",
        "owner": "ml-platform",
    }


# --- prod ------------------------------------------------------------------------------------------


def test_prod_risk_classifier_rolls_version_4_out_to_10_percent_of_traffic(stack_runs):
    run = stack_runs["prod"]
    assert [(e["name"], e["entityVersion"]) for e in entity(run, "risk-classifier")] == [
        ("risk_classifier-3", "3"),
        ("risk_classifier-4", "4"),
    ]
    # Created with the candidate at 0%; the rollout moves it to the declared 10% through its gates.
    assert routes(run, "risk-classifier") == {"risk_classifier-3": 100, "risk_classifier-4": 0}
    rollout = unwrap(run.named("risk-classifier-rollout").inputs)
    assert rollout["target"] == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    assert (rollout["stable"], rollout["candidate"], rollout["steps"]) == (
        "risk_classifier-3",
        "risk_classifier-4",
        [10, 50, 100],
    )
    assert rollout["bake_seconds"] == 15 * 60
    assert rollout["health"] == {
        "max_error_rate": 0.01,
        "max_p95_latency_ms": 300,
        "min_requests": 50,
        "probe_interval_seconds": 5,
    }
    assert unwrap(run.named("risk-classifier-readiness").inputs)["traffic"] == {
        "risk_classifier-3": 90,
        "risk_classifier-4": 10,
    }
    assert unwrap(run.outputs["risk-classifier"])["traffic"] == {"risk_classifier-3": 90, "risk_classifier-4": 10}


def test_a_rollout_owns_served_entities_and_traffic_so_pulumi_never_undoes_it(stack_runs):
    run = stack_runs["prod"]
    rollout_owned = {"config.servedEntities", "config.trafficConfig"}
    assert set(run.named("risk-classifier-endpoint").ignore_changes) >= rollout_owned
    assert not set(run.named("fraud-scorer-endpoint").ignore_changes) & rollout_owned
    rollout = run.named("risk-classifier-rollout")
    assert set(rollout.dependencies) >= {
        run.named("risk-classifier-endpoint").urn,
        run.named("risk-classifier-permissions").urn,
    }
    assert rollout.urn in run.named("risk-classifier-readiness").dependencies


def test_preview_shows_the_planned_steps_and_gates(stack_runs):
    assert unwrap(stack_runs["prod"].named("risk-classifier-rollout").inputs)["plan"] == [
        "risk_classifier-4 to 10% of prod-risk-classifier; steps at or below its live share are skipped",
        "parity: 1 example(s) to risk_classifier-3 and risk_classifier-4, predictions agree within 1e-06",
        "10% to risk_classifier-4 for 900s; health: error rate <= 0.01, p95 <= 300ms, >= 50 requests",
        "a failed gate puts risk_classifier-4's share back on risk_classifier-3 in one config update",
    ]


def test_prod_serves_medium_and_large_cpu_without_scale_to_zero(stack_runs):
    run = stack_runs["prod"]
    served = entity(run, "risk-classifier") + entity(run, "fraud-scorer")
    assert [(e["workloadSize"], e["workloadType"], e["scaleToZeroEnabled"]) for e in served] == [
        ("Medium", "CPU", False),
        ("Medium", "CPU", False),
        ("Large", "CPU", False),
    ]


def test_prod_endpoint_tags_win_over_stack_defaults(stack_runs):
    assert tags(stack_runs["prod"], "risk-classifier") == {
        "cost-center": "cc-5120",
        "environment": "prod",
        "owner": "ml-platform",
        "team": "credit-risk",
    }


def test_prod_grants_query_to_one_principal_and_manage_to_named_groups(stack_runs):
    assert grants(stack_runs["prod"], "fraud-scorer") == [
        {"servicePrincipalName": "c2b7e9f1-5a3d-4c8e-a6b4-7d9e0f1a2b3c", "permissionLevel": "CAN_QUERY"},
        {"groupName": "ml-platform-oncall", "permissionLevel": "CAN_MANAGE"},
        {"groupName": "fraud-analytics", "permissionLevel": "CAN_MANAGE"},
    ]


def test_prod_captures_risk_classifier_requests_into_an_ai_gateway_inference_table(stack_runs):
    inputs = unwrap(stack_runs["prod"].named("risk-classifier-endpoint").inputs)
    assert inputs["aiGateway"]["inferenceTableConfig"] == {
        "enabled": True,
        "catalogName": "main",
        "schemaName": "serving_logs",
        "tableNamePrefix": "risk_classifier_gateway",
    }


@pytest.mark.parametrize("stack", STACKS)
def test_no_endpoint_sends_the_legacy_inference_table(stack, stack_runs):
    for endpoint in stack_runs[stack].of_type(ENDPOINT):
        assert "autoCaptureConfig" not in unwrap(endpoint.inputs)["config"]


def test_an_endpoint_created_with_a_legacy_table_keeps_its_recorded_one_instead_of_being_replaced(stack_runs):
    # Dropping the recorded auto-capture config would make pulumi-databricks replace the endpoint.
    for endpoint in stack_runs["prod"].of_type(ENDPOINT):
        assert "config.autoCaptureConfig" in endpoint.ignore_changes


def test_prod_limits_every_endpoint_and_the_loan_api_per_minute(stack_runs):
    run = stack_runs["prod"]
    risk = unwrap(run.named("risk-classifier-endpoint").inputs)["aiGateway"]
    assert risk["rateLimits"] == [
        {"calls": 6000, "key": "endpoint", "renewalPeriod": "minute"},
        {
            "calls": 3000,
            "key": "service_principal",
            "principal": "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c",
            "renewalPeriod": "minute",
        },
    ]
    assert risk["usageTrackingConfig"] == {"enabled": True}
    assert "fallbackConfig" not in risk  # off: a gateway PUT replaces the whole config, so off is left out
    fraud = unwrap(run.named("fraud-scorer-endpoint").inputs)["aiGateway"]
    assert fraud == {
        "rateLimits": [{"calls": 12000, "key": "endpoint", "renewalPeriod": "minute"}],
        "usageTrackingConfig": {"enabled": True},
    }


def test_dev_declares_no_ai_gateway(stack_runs):
    assert "aiGateway" not in unwrap(stack_runs["dev"].named("risk-classifier-endpoint").inputs)


def test_prod_secret_environment_variable_is_a_secret_reference(stack_runs):
    (served,) = entity(stack_runs["prod"], "fraud-scorer")
    assert served["environmentVars"] == {
        "FEATURE_STORE_TOKEN": "{{secrets/fraud-scoring/feature-store-token}}",
        "SCORE_THRESHOLD": "0.82",
    }


def test_prod_notifies_oncall_of_failed_updates_at_creation_and_on_every_change(stack_runs):
    run = stack_runs["prod"]
    endpoint = run.named("risk-classifier-endpoint")
    assert unwrap(endpoint.inputs)["emailNotifications"] == {"onUpdateFailures": ["ml-platform-oncall@example.com"]}
    # pulumi-databricks never sends them on update: the ModelServing ignores them, the notifications resource applies.
    assert "emailNotifications" in endpoint.ignore_changes
    notifications = run.named("risk-classifier-notifications")
    assert notifications.type == NOTIFICATIONS
    assert unwrap(notifications.inputs) == {
        "endpoint_name": "prod-risk-classifier",
        "on_update_success": [],
        "on_update_failure": ["ml-platform-oncall@example.com"],
    }


def test_the_notifications_resource_follows_its_endpoint_on_the_stacks_provider(stack_runs):
    run = stack_runs["prod"]
    notifications, endpoint = run.named("risk-classifier-notifications"), run.named("risk-classifier-endpoint")
    assert notifications.parent == run.named("risk-classifier").urn
    assert endpoint.urn in notifications.dependencies
    [workspace] = run.of_type("pulumi:providers:servingops")
    assert notifications.provider.split("::")[:-1] == workspace.urn.split("::")


def test_an_endpoint_without_a_notifications_block_has_no_notifications_resource(stack_runs):
    assert [r.name for r in stack_runs["prod"].of_type(NOTIFICATIONS)] == ["risk-classifier-notifications"]
    assert stack_runs["dev"].of_type(NOTIFICATIONS) == []


@pytest.mark.parametrize("stack", STACKS)
def test_a_description_applies_at_creation_only_without_a_perpetual_diff(stack, stack_runs):
    for endpoint in stack_runs[stack].of_type(ENDPOINT):
        assert "description" in endpoint.ignore_changes
        assert endpoint.replace_on_changes == ()


@pytest.mark.parametrize("stack", STACKS)
def test_a_replaced_endpoint_is_deleted_before_it_is_created_again_as_its_name_is_fixed(stack, stack_runs):
    assert all(endpoint.delete_before_replace for endpoint in stack_runs[stack].of_type(ENDPOINT))


@pytest.mark.parametrize("stack", STACKS)
def test_the_repo_endpoints_are_not_route_optimized(stack, stack_runs):
    for endpoint in stack_runs[stack].of_type(ENDPOINT):
        assert unwrap(endpoint.inputs)["routeOptimized"] is False
    for resource in stack_runs[stack].of_type(READINESS) + stack_runs[stack].of_type(ROLLOUT):
        assert unwrap(resource.inputs)["route_optimized"] is False


# --- what each endpoint key declares (a stack file changed by the test) --------------------------------


def run_with(prod_document: dict[str, Any], change) -> ProgramRun:
    """The prod stack with `change(endpoints)` applied to its endpoints, run under mocks."""
    from review.engine import run_program

    change(prod_document["config"]["databricks-serving:endpoints"])
    return run_program("prod", document=prod_document)


def test_a_route_optimized_endpoint_is_declared_so_and_queried_at_its_own_url(prod_document):
    run = run_with(prod_document, lambda endpoints: endpoints["fraud-scorer"].update(route_optimized=True))
    endpoint = run.named("fraud-scorer-endpoint")
    assert unwrap(endpoint.inputs)["routeOptimized"] is True
    url = unwrap(run.outputs["fraud-scorer"])["invocation_url"]
    # The mock answers as Databricks does: a data-plane host of the endpoint's own, not the workspace URL.
    assert url.endswith("/serving-endpoints/prod-fraud-scorer/invocations") and not url.startswith(HOST)
    assert unwrap(run.outputs["risk-classifier"])["invocation_url"] == (
        f"{HOST}/serving-endpoints/prod-risk-classifier/invocations"
    )


def test_readiness_and_rollout_probe_a_route_optimized_endpoint_as_one(prod_document):
    run = run_with(prod_document, lambda endpoints: endpoints["risk-classifier"].update(route_optimized=True))
    assert unwrap(run.named("risk-classifier-readiness").inputs)["route_optimized"] is True
    assert unwrap(run.named("risk-classifier-rollout").inputs)["route_optimized"] is True
    assert unwrap(run.named("fraud-scorer-readiness").inputs)["route_optimized"] is False


def test_an_opt_in_recreates_the_endpoint_when_its_description_changes(prod_document):
    run = run_with(
        prod_document, lambda endpoints: endpoints["fraud-scorer"].update(recreate_on_description_change=True)
    )
    endpoint = run.named("fraud-scorer-endpoint")
    assert endpoint.replace_on_changes == ("description",)
    assert "description" not in endpoint.ignore_changes
    assert "description" in run.named("risk-classifier-endpoint").ignore_changes


def test_ai_gateway_limits_per_user_group_and_service_principal_with_fallback(prod_document):
    gateway = {
        "rate_limits": [
            {"calls": 500},
            {"key": "user", "calls": 20},
            {"key": "user", "principal": "ana@example.com", "calls": 60},
            {"key": "user_group", "principal": "fraud-analytics", "calls": 120},
        ],
        "fallback": True,
    }
    # Without usage tracking, fraud-scorer's alerts would have no telemetry to read.
    del prod_document["config"]["databricks-serving:endpoints"]["fraud-scorer"]["monitoring"]
    run = run_with(prod_document, lambda endpoints: endpoints["fraud-scorer"].update(ai_gateway=gateway))
    assert unwrap(run.named("fraud-scorer-endpoint").inputs)["aiGateway"] == {
        "rateLimits": [
            {"calls": 500, "key": "endpoint", "renewalPeriod": "minute"},
            {"calls": 20, "key": "user", "renewalPeriod": "minute"},
            {"calls": 60, "key": "user", "principal": "ana@example.com", "renewalPeriod": "minute"},
            {"calls": 120, "key": "user_group", "principal": "fraud-analytics", "renewalPeriod": "minute"},
        ],
        "fallbackConfig": {"enabled": True},
    }


def test_an_inference_table_without_a_prefix_is_named_after_the_endpoint_and_may_be_disabled(prod_document):
    def change(endpoints):
        endpoints["fraud-scorer"]["inference_table"] = {"catalog": "main", "schema": "serving_logs", "enabled": False}

    gateway = unwrap(run_with(prod_document, change).named("fraud-scorer-endpoint").inputs)["aiGateway"]
    assert gateway["inferenceTableConfig"] == {
        "enabled": False,
        "catalogName": "main",
        "schemaName": "serving_logs",
        "tableNamePrefix": "prod-fraud-scorer",
    }


def test_a_workspace_model_registry_model_is_served_under_its_name_and_version(prod_document):
    def change(endpoints):
        endpoints["fraud-scorer"]["served_models"][0]["model"] = "FraudScorer"

    (served,) = entity(run_with(prod_document, change), "fraud-scorer")
    assert (served["name"], served["entityName"], served["entityVersion"]) == ("FraudScorer-2", "FraudScorer", "2")


@pytest.mark.parametrize(
    ("workload_type", "minutes"),
    [
        ("CPU_MEDIUM", 35),
        ("CPU_LARGE", 35),
        ("GPU_SMALL", 65),
        ("GPU_LARGE", 125),
        ("GPU_XLARGE", 125),
        ("GPU_XLARGE_8", 125),
        ("MULTIGPU_MEDIUM", 125),
    ],
)
def test_each_workload_type_is_declared_and_waited_for_as_long_as_databricks_waits(
    prod_document, workload_type, minutes
):
    def change(endpoints):
        endpoints["fraud-scorer"]["served_models"][0]["workload_type"] = workload_type
        del endpoints["fraud-scorer"]["readiness"]["timeout_minutes"]

    run = run_with(prod_document, change)
    assert entity(run, "fraud-scorer")[0]["workloadType"] == workload_type
    assert unwrap(run.named("fraud-scorer-readiness").inputs)["timeout_seconds"] == minutes * 60


# --- no key of an endpoint is silently ignored on update -------------------------------------------------

SP = "8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c"
EXAMPLE = {"dataframe_split": {"columns": ["amount"], "data": [[1200.0]]}}
OTHER_EXAMPLE = {"dataframe_records": [{"amount": 250.0}]}
FULL_ENDPOINT: dict[str, Any] = {
    "name": "full",
    "description": "An endpoint that sets every key.",
    "served_models": [
        {
            "name": "stable",
            "model": "main.risk.risk_classifier",
            "version": 3,
            "workload_size": "Small",
            "workload_type": "CPU",
            "scale_to_zero": False,
            "environment_vars": {"THRESHOLD": "0.5"},
            "instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/serving",
        },
        {
            "name": "candidate",
            "model": "main.risk.risk_classifier",
            "version": 4,
            "workload_type": "CPU",
            "scale_to_zero": False,
            "provisioned_concurrency": {"min": 4, "max": 8},
        },
    ],
    "traffic": {"stable": 90, "candidate": 10},
    "access": {
        "query_service_principal": SP,
        "manager_groups": ["ml-platform-oncall"],
        "grants": [
            {"service_principal": "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b", "level": "CAN_QUERY"},
            {"group": "risk-support", "level": "CAN_VIEW"},
            {"user": "ana@example.com", "level": "CAN_VIEW"},
        ],
    },
    "tags": {"team": "risk"},
    "inference_table": {"catalog": "main", "schema": "serving_logs", "table_prefix": "full", "enabled": True},
    "notifications": {"on_update_success": ["a@example.com"], "on_update_failure": ["b@example.com"]},
    "readiness": {"timeout_minutes": 40, "warmup": {"input_example": EXAMPLE, "timeout_minutes": 15}},
    "rollout": {
        "stable": "stable",
        "candidate": "candidate",
        "steps": [10, 50, 100],
        "bake_minutes": 10,
        "parity": {"examples": [EXAMPLE], "tolerance": 1e-6, "expected_predictions": [[0.1]]},
        "health": {"max_error_rate": 0.01, "max_p95_latency_ms": 300, "min_requests": 20, "probe_interval_seconds": 1},
    },
    "ai_gateway": {
        "rate_limits": [{"calls": 100, "key": "user"}],
        "usage_tracking": False,
        "fallback": False,
        "guardrails": {
            "input": {"safety": True, "pii": "BLOCK", "invalid_keywords": ["x"], "valid_topics": ["risk"]},
            "output": {"safety": False, "pii": "MASK", "invalid_keywords": ["y"], "valid_topics": ["risk"]},
        },
    },
    "budget_policy_id": "bp-risk",
    "route_optimized": False,
    "recreate_on_description_change": False,
    "monitoring": {
        "warehouse": "serving-monitoring",
        "schedule": {"quartz_cron": "0 0/5 * * * ?", "timezone": "UTC"},
        "window_minutes": 15,
        "min_requests": 25,
        "notify": ["ml-mail"],
        "alerts": {
            "latency": {"enabled": True, "percentile": 95, "max_ms": 400},
            "error_rate": {"enabled": True, "max": 0.02},
            "volume_drop": {"enabled": True, "max_drop": 0.5, "baseline": "previous_week"},
        },
        "drift": {
            "problem_type": "classification",
            "prediction_column": "prediction",
            "label_column": "label",
            "timestamp_column": "request_time",
            "model_id_column": "served_entity_id",
            "granularities": ["1 day"],
            "output_schema": "main.monitoring",
            "table": "main.ml.full_predictions",
            "assets_dir": "/Shared/monitoring/full",
            "schedule": {"quartz_cron": "0 0 3 * * ?", "timezone": "UTC"},
        },
    },
}
DESTINATIONS = {"ml-mail": {"email": ["ml@example.com"]}, "ml-mail-2": {"email": ["ml-2@example.com"]}}


def _rename_stable(endpoint: dict[str, Any]) -> None:
    endpoint["served_models"][0]["name"] = "stable-2"
    endpoint["traffic"] = {"stable-2": 90, "candidate": 10}
    endpoint["rollout"]["stable"] = "stable-2"


def _disable_inference_table(endpoint: dict[str, Any]) -> None:
    # The latency alert reads the table; the other alerts move to the system tables, which need usage tracking.
    endpoint["inference_table"]["enabled"] = False
    endpoint["monitoring"]["alerts"]["latency"]["enabled"] = False
    endpoint["ai_gateway"]["usage_tracking"] = True


def _warehouse_by_id(endpoint: dict[str, Any]) -> None:
    del endpoint["monitoring"]["warehouse"]
    endpoint["monitoring"]["warehouse_id"] = "a1b2c3d4e5f6a7b8"


def _swap_stable_and_candidate(endpoint: dict[str, Any]) -> None:
    rollout = endpoint["rollout"]
    rollout["stable"], rollout["candidate"] = rollout["candidate"], rollout["stable"]


def _set(path: str, value: Any):
    """A change that sets the key at dotted `path` (`[1]` picks the second of a list) to `value`."""

    def change(endpoint: dict[str, Any]) -> None:
        *parents, last = re.sub(r"\[(\d+)\]", r".\1", path).split(".")
        node: Any = endpoint
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value

    return change


# Every leaf key of an endpoint -> a valid change of it.
CHANGES = {
    "name": _set("name", "full-renamed"),
    "description": _set("description", "Another description."),
    "served_models[].model": _set("served_models[0].model", "main.risk.risk_classifier_v2"),
    "served_models[].version": _set("served_models[0].version", 5),
    "served_models[].name": _rename_stable,
    "served_models[].workload_size": _set("served_models[0].workload_size", "Medium"),
    "served_models[].workload_type": _set("served_models[0].workload_type", "CPU_MEDIUM"),
    "served_models[].scale_to_zero": _set("served_models[0].scale_to_zero", True),
    "served_models[].environment_vars": _set("served_models[0].environment_vars", {"THRESHOLD": "0.6"}),
    "served_models[].provisioned_concurrency.min": _set("served_models[1].provisioned_concurrency.min", 0),
    "served_models[].provisioned_concurrency.max": _set("served_models[1].provisioned_concurrency.max", 12),
    "traffic": _set("traffic", {"stable": 80, "candidate": 20}),
    "access.query_service_principal": _set("access.query_service_principal", "c2b7e9f1-5a3d-4c8e-a6b4-7d9e0f1a2b3c"),
    "access.manager_groups": _set("access.manager_groups", ["ml-platform-oncall", "risk-analysts"]),
    "access.grants[].service_principal": _set(
        "access.grants[0].service_principal", "2c3d4e5f-6071-4829-9bac-1d2e3f4a5b6c"
    ),
    "access.grants[].group": _set("access.grants[1].group", "risk-analysts"),
    "access.grants[].user": _set("access.grants[2].user", "bo@example.com"),
    "access.grants[].level": _set("access.grants[1].level", "CAN_QUERY"),
    "tags": _set("tags", {"team": "credit-risk"}),
    "inference_table.catalog": _set("inference_table.catalog", "analytics"),
    "inference_table.schema": _set("inference_table.schema", "logs"),
    "inference_table.table_prefix": _set("inference_table.table_prefix", "full_v2"),
    "inference_table.enabled": _disable_inference_table,
    "notifications.on_update_success": _set("notifications.on_update_success", ["c@example.com"]),
    "notifications.on_update_failure": _set("notifications.on_update_failure", []),
    "readiness.timeout_minutes": _set("readiness.timeout_minutes", 50),
    "readiness.warmup.input_example": _set("readiness.warmup.input_example", OTHER_EXAMPLE),
    "readiness.warmup.timeout_minutes": _set("readiness.warmup.timeout_minutes", 20),
    "rollout.stable": _swap_stable_and_candidate,
    "rollout.candidate": _swap_stable_and_candidate,
    "rollout.steps": _set("rollout.steps", [25, 100]),
    "rollout.bake_minutes": _set("rollout.bake_minutes", 20),
    "rollout.parity.examples": _set("rollout.parity.examples", [OTHER_EXAMPLE]),
    "rollout.parity.tolerance": _set("rollout.parity.tolerance", 0.001),
    "rollout.parity.expected_predictions": _set("rollout.parity.expected_predictions", [[0.2]]),
    "rollout.health.max_error_rate": _set("rollout.health.max_error_rate", 0.05),
    "rollout.health.max_p95_latency_ms": _set("rollout.health.max_p95_latency_ms", 500),
    "rollout.health.min_requests": _set("rollout.health.min_requests", 30),
    "rollout.health.probe_interval_seconds": _set("rollout.health.probe_interval_seconds", 2),
    "ai_gateway.rate_limits[].calls": _set("ai_gateway.rate_limits[0].calls", 200),
    "ai_gateway.rate_limits[].key": _set("ai_gateway.rate_limits[0].key", "service_principal"),
    "ai_gateway.rate_limits[].principal": _set("ai_gateway.rate_limits[0].principal", "ana@example.com"),
    "ai_gateway.usage_tracking": _set("ai_gateway.usage_tracking", True),
    "ai_gateway.fallback": _set("ai_gateway.fallback", True),
    "served_models[].instance_profile_arn": _set(
        "served_models[0].instance_profile_arn", "arn:aws:iam::123456789012:instance-profile/other"
    ),
    "budget_policy_id": _set("budget_policy_id", "bp-credit"),
    **{
        f"ai_gateway.guardrails.{side}.{key}": _set(f"ai_gateway.guardrails.{side}.{key}", value)
        for side in ("input", "output")
        for key, value in (
            ("safety", side == "output"),
            ("pii", "NONE"),
            ("invalid_keywords", ["z"]),
            ("valid_topics", []),
        )
    },
    "route_optimized": _set("route_optimized", True),
    "recreate_on_description_change": _set("recreate_on_description_change", True),
    "monitoring.warehouse": _set("monitoring.warehouse", "other-warehouse"),
    "monitoring.warehouse_id": _warehouse_by_id,
    "monitoring.schedule.quartz_cron": _set("monitoring.schedule.quartz_cron", "0 0/10 * * * ?"),
    "monitoring.schedule.timezone": _set("monitoring.schedule.timezone", "Europe/Berlin"),
    "monitoring.window_minutes": _set("monitoring.window_minutes", 30),
    "monitoring.min_requests": _set("monitoring.min_requests", 60),
    "monitoring.notify": _set("monitoring.notify", ["ml-mail-2"]),
    "monitoring.alerts.latency.enabled": _set("monitoring.alerts.latency.enabled", False),
    "monitoring.alerts.latency.percentile": _set("monitoring.alerts.latency.percentile", 99),
    "monitoring.alerts.latency.max_ms": _set("monitoring.alerts.latency.max_ms", 800),
    "monitoring.alerts.error_rate.enabled": _set("monitoring.alerts.error_rate.enabled", False),
    "monitoring.alerts.error_rate.max": _set("monitoring.alerts.error_rate.max", 0.05),
    "monitoring.alerts.volume_drop.enabled": _set("monitoring.alerts.volume_drop.enabled", False),
    "monitoring.alerts.volume_drop.max_drop": _set("monitoring.alerts.volume_drop.max_drop", 0.3),
    "monitoring.alerts.volume_drop.baseline": _set("monitoring.alerts.volume_drop.baseline", "previous_day"),
    "monitoring.drift.problem_type": _set("monitoring.drift.problem_type", "regression"),
    "monitoring.drift.prediction_column": _set("monitoring.drift.prediction_column", "score"),
    "monitoring.drift.label_column": _set("monitoring.drift.label_column", "outcome"),
    "monitoring.drift.timestamp_column": _set("monitoring.drift.timestamp_column", "scored_at"),
    "monitoring.drift.model_id_column": _set("monitoring.drift.model_id_column", "model_version"),
    "monitoring.drift.granularities": _set("monitoring.drift.granularities", ["1 hour", "1 day"]),
    "monitoring.drift.output_schema": _set("monitoring.drift.output_schema", "main.monitoring_v2"),
    "monitoring.drift.table": _set("monitoring.drift.table", "main.ml.full_predictions_v2"),
    "monitoring.drift.assets_dir": _set("monitoring.drift.assets_dir", "/Shared/monitoring/full-v2"),
    "monitoring.drift.schedule.quartz_cron": _set("monitoring.drift.schedule.quartz_cron", "0 0 4 * * ?"),
    "monitoring.drift.schedule.timezone": _set("monitoring.drift.schedule.timezone", "Europe/Berlin"),
}

# What pulumi-databricks does with a ModelServing property of an existing endpoint (resource_model_serving.go):
UPDATED_IN_PLACE = ("config", "tags", "aiGateway")
"""PUT config, PATCH tags, PUT ai-gateway."""
NEVER_UPDATED = ("name", "routeOptimized", "description", "budgetPolicyId")
"""A new endpoint (name, route_optimized force replacement) or nothing at all (description, budget policy)."""
FOLLOWS_THE_ENDPOINT = ("endpoint_name", "endpoint_id")
"""Plugin inputs that are the endpoint's own outputs: they change because the endpoint does."""
# Monitoring resources pulumi-databricks updates in place (alert_v2: PATCH with an update mask of every input
# the program sets; quality monitor: Update), or replaces (ignore_changes / replace_on_changes say which).
MONITORING = ("databricks:index/alertV2:AlertV2", "databricks:index/qualityMonitor:QualityMonitor")


def _changed_paths(before: Any, after: Any, path: str = "") -> set[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        changed: set[str] = set()
        for key in before.keys() | after.keys():
            changed |= _changed_paths(before.get(key), after.get(key), f"{path}.{key}" if path else key)
        return changed
    return {path} if before != after else set()


def _under(path: str, prefixes) -> bool:
    return any(path == prefix or path.startswith(prefix + ".") for prefix in prefixes)


def how_a_change_applies(base: ProgramRun, changed: ProgramRun) -> dict[str, set[str]]:
    """Which declared changes reach the workspace on update, which only at creation, which never.

    `applied`: a property pulumi-databricks updates in place and that is not ignored, an input of a servingops
    resource, a Permissions grant, or a resource option (how a later change applies); `at_creation`: a ModelServing
    property that only a new endpoint takes; `ignored`: ignored after creation on purpose (ignore_changes);
    `lost`: sent, never applied, not ignored: what this test exists to forbid.
    """
    outcome: dict[str, set[str]] = {"applied": set(), "at_creation": set(), "ignored": set(), "lost": set()}
    before = {resource.urn: resource for resource in base.resources}
    # A resource the change adds or removes (an alert switched on or off) is applied by its create or delete.
    outcome["applied"] |= {
        f"{r.name} deleted" for r in base.resources if r.urn not in {c.urn for c in changed.resources}
    }
    for resource in changed.resources:
        old = before.get(resource.urn)
        if old is None:
            outcome["applied"].add(f"{resource.name} created")
            continue
        if (old.ignore_changes, old.replace_on_changes) != (resource.ignore_changes, resource.replace_on_changes):
            outcome["applied"].add(f"{resource.name} options")
        for path in _changed_paths(unwrap(old.inputs), unwrap(resource.inputs)):
            where = f"{resource.name}.{path}"
            if resource.type == ENDPOINT:
                if _under(path, NEVER_UPDATED):
                    outcome["at_creation"].add(where)
                elif _under(path, resource.ignore_changes):
                    outcome["ignored"].add(where)
                elif _under(path, UPDATED_IN_PLACE):
                    outcome["applied"].add(where)
                else:
                    outcome["lost"].add(where)
            elif resource.type.startswith("servingops:") and not _under(path, FOLLOWS_THE_ENDPOINT):
                outcome["applied"].add(where)
            elif resource.type == PERMISSIONS and _under(path, ("accessControls",)):
                outcome["applied"].add(where)
            elif resource.type in MONITORING:
                outcome["ignored" if _under(path, resource.ignore_changes) else "applied"].add(where)
            elif not (resource.type.startswith("servingops:") or resource.type == PERMISSIONS):
                outcome["lost"].add(where)
    return outcome


OTHER_ENTITY_KINDS = (
    "external_models",
    "served_models[].provisioned_throughput",
    "served_models[].provisioned_model_units",
    "served_models[].burst_scaling",
)
"""Keys of another kind of served entity than FULL_ENDPOINT's (external models, provisioned throughput), which
cannot be on one endpoint with it: tests/test_serving_entities.py shows each reaching the ModelServing."""


def _leaf_keys() -> list[str]:
    from components.config import EndpointConfig
    from tests.support import config_keys

    keys = [key for key in config_keys(EndpointConfig) if not key.startswith(OTHER_ENTITY_KINDS)]
    return [key for key in keys if not any(other.startswith((key + ".", key + "[].")) for other in keys)]


def full_document(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": {
            "databricks:host": HOST,
            "databricks-serving:endpoints": {"full": endpoint},
            "databricks-serving:notification_destinations": DESTINATIONS,
        }
    }


@pytest.fixture(scope="module")
def full_run() -> ProgramRun:
    from review.engine import run_program

    return run_program("walk", document=full_document(copy.deepcopy(FULL_ENDPOINT)))


def test_the_walk_covers_every_leaf_key_of_an_endpoint():
    assert sorted(set(_leaf_keys()) - set(CHANGES)) == []
    assert sorted(set(CHANGES) - set(_leaf_keys())) == []


@pytest.mark.parametrize("key", sorted(CHANGES))
def test_no_key_of_an_endpoint_is_silently_ignored_on_update(key, full_run):
    """Every key reaches the workspace on update, or is creation-only by Databricks and documented so."""
    from components.config import CREATION_ONLY
    from review.engine import run_program

    endpoint = copy.deepcopy(FULL_ENDPOINT)
    CHANGES[key](endpoint)
    outcome = how_a_change_applies(full_run, run_program("walk", document=full_document(endpoint)))
    assert outcome["lost"] == set()
    if key in CREATION_ONLY:
        assert outcome["at_creation"]
    else:
        assert outcome["applied"] and not outcome["at_creation"]


def test_the_readme_lists_every_creation_only_key_with_what_a_change_does():
    from pathlib import Path

    from components.config import CREATION_ONLY

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for key, consequence in CREATION_ONLY.items():
        assert f"| `{key}` | {consequence} |" in readme


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("https://adb-1.azuredatabricks.net/", "https://adb-1.azuredatabricks.net/serving-endpoints/risk/invocations"),
        ("adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net/serving-endpoints/risk/invocations"),
        (None, "/serving-endpoints/risk/invocations"),
    ],
)
def test_the_invocation_url_of_a_standard_endpoint_is_on_the_workspace_host(host, url):
    from components.serving_endpoint import invocations_url

    assert invocations_url(host, "risk") == url


def test_without_a_host_in_the_stack_the_invocation_url_is_on_databricks_host(prod_document, monkeypatch):
    from review.engine import run_program

    monkeypatch.setenv("DATABRICKS_HOST", "https://adb-2.azuredatabricks.net")
    del prod_document["config"]["databricks:host"]
    run = run_program("prod", document=prod_document)
    assert unwrap(run.outputs["fraud-scorer"])["invocation_url"] == (
        "https://adb-2.azuredatabricks.net/serving-endpoints/prod-fraud-scorer/invocations"
    )


# --- every stack file --------------------------------------------------------------------------------


def declared_keys(stack: str, stack_documents) -> list[str]:
    return list(stack_config(stack_documents[stack]).endpoints)


@pytest.mark.parametrize("stack", STACKS)
def test_each_endpoint_is_one_component_with_an_endpoint_and_its_permissions(stack, stack_runs, stack_documents):
    run = stack_runs[stack]
    for key in declared_keys(stack, stack_documents):
        component = run.named(key)
        assert component.type == COMPONENT
        children = sorted((child.type, child.name) for child in run.children(component))
        declared = stack_config(stack_documents[stack]).endpoints[key]
        rollout = [(ROLLOUT, f"{key}-rollout")] if declared.rollout else []
        notifications = [(NOTIFICATIONS, f"{key}-notifications")] if declared.notifications else []
        monitoring = declared.monitoring
        alerts = [
            ("databricks:index/alertV2:AlertV2", f"{key}-alert-{alert}")
            for alert, config in (
                [
                    ("latency", monitoring.alerts.latency),
                    ("error-rate", monitoring.alerts.error_rate),
                    ("volume-drop", monitoring.alerts.volume_drop),
                ]
                if monitoring
                else []
            )
            if config.enabled
        ]
        drift = [("databricks:index/qualityMonitor:QualityMonitor", f"{key}-drift-monitor")]
        assert children == sorted(
            [
                (ENDPOINT, f"{key}-endpoint"),
                (DEPLOYMENT, f"{key}-deployment"),
                (PERMISSIONS, f"{key}-permissions"),
                (READINESS, f"{key}-readiness"),
                *rollout,
                *notifications,
                *alerts,
                *(drift if monitoring and monitoring.drift else []),
            ]
        )
    assert len(run.of_type(ENDPOINT)) == len(declared_keys(stack, stack_documents))
    assert len(run.of_type(PERMISSIONS)) == len(declared_keys(stack, stack_documents))
    assert len(run.of_type(READINESS)) == len(declared_keys(stack, stack_documents))


@pytest.mark.parametrize("stack", STACKS)
def test_each_endpoint_deployment_is_watched_beside_its_endpoint_with_what_the_endpoint_sends(
    stack, stack_runs, stack_documents
):
    run = stack_runs[stack]
    for spec in stack_config(stack_documents[stack], stack).specs():
        deployment = run.named(f"{spec.key}-deployment")
        endpoint = run.named(f"{spec.key}-endpoint")
        # Beside the endpoint: after the preflight only, so it runs while pulumi-databricks deploys.
        assert endpoint.urn not in deployment.dependencies
        assert run.named("preflight").urn in deployment.dependencies
        inputs = unwrap(deployment.inputs)
        assert inputs["endpoint_name"] == spec.name
        assert inputs["traffic"] == spec.endpoint.start_routes
        assert [(e["name"], e["entity_version"]) for e in inputs["served_entities"]] == [
            (m.served_name, m.version) for m in spec.endpoint.served_models
        ]
        owned = ["served_entities", "traffic"] if spec.endpoint.rollout else []
        assert list(deployment.ignore_changes or []) == owned


@pytest.mark.parametrize("stack", STACKS)
def test_each_endpoint_has_one_readiness_resource_after_its_endpoint_and_permissions(
    stack, stack_runs, stack_documents
):
    run = stack_runs[stack]
    for spec in stack_config(stack_documents[stack], stack).specs():
        readiness = run.named(f"{spec.key}-readiness")
        endpoint = run.named(f"{spec.key}-endpoint")
        assert set(readiness.dependencies) >= {endpoint.urn, run.named(f"{spec.key}-permissions").urn}
        inputs = unwrap(readiness.inputs)
        assert inputs["endpoint_name"] == spec.name
        assert inputs["endpoint_id"] == run.outputs[spec.key]["id"]
        assert inputs["traffic"] == spec.endpoint.routes
        assert [(e["name"], e["entity_version"]) for e in inputs["served_entities"]] == [
            (m.served_name, m.version) for m in spec.endpoint.served_models
        ]
        assert inputs["timeout_seconds"] == spec.readiness_timeout_minutes * 60
        assert json.loads(inputs["warmup"]["input_example_json"]) == spec.endpoint.readiness.warmup.input_example


def test_readiness_deadline_defaults_to_databricks_own_deployment_timeout_plus_a_margin(stack_runs):
    run = stack_runs["prod"]
    assert unwrap(run.named("risk-classifier-readiness").inputs)["timeout_seconds"] == 35 * 60  # CPU: 30 + 5
    assert unwrap(run.named("fraud-scorer-readiness").inputs)["timeout_seconds"] == 40 * 60  # configured


@pytest.mark.parametrize("stack", STACKS)
def test_readiness_and_rollout_use_the_stacks_servingops_provider_and_no_pickled_provider(stack, stack_runs):
    run = stack_runs[stack]
    [workspace] = run.of_type("pulumi:providers:servingops")
    plugin_resources = run.of_type(READINESS) + run.of_type(ROLLOUT)
    assert plugin_resources
    for resource in plugin_resources:
        assert resource.provider.split("::")[:-1] == workspace.urn.split("::")
        assert "__provider" not in resource.inputs
    assert unwrap(workspace.inputs) == {"host": "https://adb-4210987654321098.18.azuredatabricks.net"}


def test_the_stacks_credentials_reach_the_servingops_provider_as_secrets_only():
    from review.engine import is_secret, run_program

    token, secret = "dapi" + "0" * 32, "oauth-secret-for-the-provider-test"
    run = run_program("prod", secret_values={"databricks:token": token, "databricks:clientSecret": secret})
    [workspace] = run.of_type("pulumi:providers:servingops")
    assert is_secret(workspace.inputs["token"]) and unwrap(workspace.inputs["token"]) == token
    assert is_secret(workspace.inputs["clientSecret"]) and unwrap(workspace.inputs["clientSecret"]) == secret
    for resource in run.resources:
        if resource is not workspace:
            assert token not in str(unwrap(resource.inputs)) and secret not in str(unwrap(resource.inputs))


@pytest.mark.parametrize("stack", STACKS)
def test_permissions_are_bound_to_the_endpoint_id_not_its_name(stack, stack_runs, stack_documents):
    run = stack_runs[stack]
    for key in declared_keys(stack, stack_documents):
        endpoint = run.named(f"{key}-endpoint")
        permissions = run.named(f"{key}-permissions")
        bound_to = unwrap(permissions.inputs)["servingEndpointId"]
        assert endpoint.urn in permissions.dependencies
        assert bound_to == run.outputs[key]["id"]
        assert bound_to != unwrap(endpoint.inputs)["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_query_access_goes_to_exactly_one_service_principal_and_nobody_broad(stack, stack_runs, stack_documents):
    run = stack_runs[stack]
    for key in declared_keys(stack, stack_documents):
        controls = grants(run, key)
        query = [grant for grant in controls if grant["permissionLevel"] == "CAN_QUERY"]
        assert len(query) == 1 and set(query[0]) == {"servicePrincipalName", "permissionLevel"}
        assert {grant["permissionLevel"] for grant in controls} <= {"CAN_QUERY", "CAN_MANAGE"}
        principals = {str(value).lower() for grant in controls for value in grant.values()}
        assert not principals & {"users", "account users"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_endpoint_exports_its_summary(stack, stack_runs, stack_documents):
    run = stack_runs[stack]
    config = stack_config(stack_documents[stack], stack)
    assert set(run.outputs) == set(config.endpoints)
    for spec in config.specs():
        exported = unwrap(run.outputs[spec.key])
        assert exported["name"] == spec.name
        # Not route-optimized: Databricks fills no endpoint_url; the URL is the workspace's.
        assert exported["invocation_url"] == f"{HOST}/serving-endpoints/{spec.name}/invocations"
        assert exported["served_versions"] == {m.served_name: m.version for m in spec.endpoint.served_models}
        assert exported["traffic"] == spec.endpoint.routes
        assert exported["query_service_principal"] == spec.endpoint.access.query_service_principal


@pytest.mark.parametrize("stack", STACKS)
def test_no_input_depends_on_whether_the_program_runs_for_a_preview(stack):
    """`pulumi up --strict` fails when an input differs between the preview and the update."""
    from review.engine import run_program

    preview, update = run_program(stack, preview=True), run_program(stack, preview=False)
    # Registration order is the SDK's (asynchronous); each resource's inputs are what must agree.
    assert {r.urn: unwrap(r.inputs) for r in preview.resources} == {r.urn: unwrap(r.inputs) for r in update.resources}
    assert len(preview.resources) == len(update.resources)
