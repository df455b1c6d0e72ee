"""The repo's own stack files, run through the real program under Pulumi's mock engine.

What each stack declares is stated here literally, so that a change to a stack file or to a component
shows up as a failing, readable assertion.
"""

from __future__ import annotations

from typing import Any

import pytest

from review.engine import ProgramRun, unwrap
from tests.conftest import STACKS, stack_config

ENDPOINT = "databricks:index/modelServing:ModelServing"
PERMISSIONS = "databricks:index/permissions:Permissions"
COMPONENT = "serving:index:ServingEndpoint"
READINESS = "servingops:index:EndpointReadiness"
ROLLOUT = "servingops:index:EndpointRollout"


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
    assert (rollout["stable"], rollout["candidate"], rollout["steps"]) == ("risk_classifier-3", "risk_classifier-4",
                                                                           [10, 50, 100])
    assert rollout["bake_seconds"] == 15 * 60
    assert rollout["health"] == {"max_error_rate": 0.01, "max_p95_latency_ms": 300, "min_requests": 50,
                                 "probe_interval_seconds": 5}
    assert unwrap(run.named("risk-classifier-readiness").inputs)["traffic"] == {
        "risk_classifier-3": 90, "risk_classifier-4": 10
    }
    assert unwrap(run.outputs["risk-classifier"])["traffic"] == {"risk_classifier-3": 90, "risk_classifier-4": 10}


def test_a_rollout_owns_served_entities_and_traffic_so_pulumi_never_undoes_it(stack_runs):
    run = stack_runs["prod"]
    assert run.named("risk-classifier-endpoint").ignore_changes == ("config.servedEntities", "config.trafficConfig")
    assert run.named("fraud-scorer-endpoint").ignore_changes == ()
    rollout = run.named("risk-classifier-rollout")
    assert set(rollout.dependencies) >= {run.named("risk-classifier-endpoint").urn,
                                         run.named("risk-classifier-permissions").urn}
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


def test_prod_captures_risk_classifier_requests_into_an_inference_table(stack_runs):
    config = unwrap(stack_runs["prod"].named("risk-classifier-endpoint").inputs)["config"]
    assert config["autoCaptureConfig"] == {
        "enabled": True,
        "catalogName": "main",
        "schemaName": "serving_logs",
        "tableNamePrefix": "risk_classifier",
    }


def test_prod_secret_environment_variable_is_a_secret_reference(stack_runs):
    (served,) = entity(stack_runs["prod"], "fraud-scorer")
    assert served["environmentVars"] == {
        "FEATURE_STORE_TOKEN": "{{secrets/fraud-scoring/feature-store-token}}",
        "SCORE_THRESHOLD": "0.82",
    }


def test_prod_notifies_oncall_of_failed_updates(stack_runs):
    inputs = unwrap(stack_runs["prod"].named("risk-classifier-endpoint").inputs)
    assert inputs["emailNotifications"] == {"onUpdateFailures": ["ml-platform-oncall@example.com"]}


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
        rollout = [(ROLLOUT, f"{key}-rollout")] if stack_config(stack_documents[stack]).endpoints[key].rollout else []
        assert children == sorted([
            (ENDPOINT, f"{key}-endpoint"),
            (PERMISSIONS, f"{key}-permissions"),
            ("servingops:index:EndpointPreflight", f"{key}-preflight"),
            (READINESS, f"{key}-readiness"),
            *rollout,
        ])
    assert len(run.of_type(ENDPOINT)) == len(declared_keys(stack, stack_documents))
    assert len(run.of_type(PERMISSIONS)) == len(declared_keys(stack, stack_documents))
    assert len(run.of_type(READINESS)) == len(declared_keys(stack, stack_documents))


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
        assert inputs["warmup"]["input_example"] == spec.endpoint.readiness.warmup.input_example


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
        assert exported["invocation_url"].endswith(f"/serving-endpoints/{spec.name}/invocations")
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
