"""Preflight (serving.preflight) against the local workspace: each kind of finding, all of them at once, with
the stack key path and what would be right, from read-only calls only."""

from __future__ import annotations

import pytest

from serving.preflight import (
    InferenceTableToCheck,
    Located,
    PreflightError,
    check,
    resolve_version,
)
from serving.workspace import ServingClient
from tests.support import KEY, NOBODY, RISK, deployer_client, entity_to_check, paths, request, seeded


@pytest.fixture
def objects(workspace):
    """The workspace as seeded: every test starts from the settings' objects."""
    return seeded(workspace)


@pytest.fixture
def client(objects) -> ServingClient:
    return deployer_client(objects)


def test_a_deployment_whose_needs_all_exist_has_no_finding(client):
    assert check(client, request()) == []


def test_a_version_that_is_not_registered_is_named_by_its_key_path(client):
    (finding,) = check(client, request(served_entities=(entity_to_check("3", 0), entity_to_check("9", 1))))
    assert finding.key_path == f"{KEY}.served_models[1].version"
    assert "version 9 of main.risk.risk_classifier does not exist in Unity Catalog" in finding.problem
    assert "declare a registered version" in finding.fix


def test_a_version_still_registering_or_failed_is_not_ready(client, objects):
    objects.add_object("model-versions", model=RISK, version="5", status="PENDING_REGISTRATION")
    objects.add_object("model-versions", model=RISK, version="6", status="FAILED_REGISTRATION")
    findings = check(client, request(served_entities=(entity_to_check("5", 0), entity_to_check("6", 1))))
    assert [f.problem for f in findings] == [
        "version 5 of main.risk.risk_classifier is PENDING_REGISTRATION, not READY",
        "version 6 of main.risk.risk_classifier is FAILED_REGISTRATION, not READY",
    ]


def test_a_workspace_registry_model_is_looked_up_in_the_model_registry(client, objects):
    assert check(client, request(served_entities=(entity_to_check("2", 0, "RiskClassifier"),))) == []
    objects.add_object("registry-versions", model="RiskClassifier", version="8", status="PENDING_REGISTRATION")
    (pending, missing) = check(
        client,
        request(served_entities=(entity_to_check("8", 0, "RiskClassifier"), entity_to_check("9", 1, "RiskClassifier"))),
    )
    assert pending.problem == "version 8 of RiskClassifier is PENDING_REGISTRATION, not READY"
    assert "does not exist in the workspace Model Registry" in missing.problem


def test_a_query_principal_or_group_the_workspace_lacks_is_a_finding(client):
    findings = check(
        client,
        request(
            query_service_principal=Located(NOBODY, f"{KEY}.access.query_service_principal"),
            manager_groups=(
                Located("ml-platform-oncall", f"{KEY}.access.manager_groups[0]"),
                Located("nobody-team", f"{KEY}.access.manager_groups[1]"),
            ),
        ),
    )
    assert paths(findings) == [f"{KEY}.access.query_service_principal", f"{KEY}.access.manager_groups[1]"]
    assert findings[0].problem == f"no service principal with application id {NOBODY} in this workspace"
    assert findings[1].problem == "no group nobody-team in this workspace"


def test_a_secret_reference_needs_its_scope_and_its_key(client):
    where = f"{KEY}.served_models[0].environment_vars"
    findings = check(
        client,
        request(
            secret_references=(
                Located("{{secrets/fraud-scoring/other-token}}", f"{where}.OTHER_TOKEN"),
                Located("{{secrets/nowhere/token}}", f"{where}.API_TOKEN"),
            )
        ),
    )
    assert paths(findings) == [f"{where}.OTHER_TOKEN", f"{where}.API_TOKEN"]
    assert findings[0].problem == "secret scope fraud-scoring has no key other-token (keys: feature-store-token)"
    assert findings[1].problem.startswith("secret scope nowhere does not exist in this workspace")
    assert "databricks secrets create-scope nowhere" in findings[1].fix


def test_an_inference_table_schema_or_catalog_that_does_not_exist_is_a_finding(client):
    (schema,) = check(client, request(inference_table=InferenceTableToCheck("main", "logs", f"{KEY}.inference_table")))
    assert (schema.key_path, schema.problem) == (f"{KEY}.inference_table.schema", "schema main.logs does not exist")
    (catalog,) = check(client, request(inference_table=InferenceTableToCheck("lake", "logs", f"{KEY}.inference_table")))
    assert catalog.key_path == f"{KEY}.inference_table.catalog" and "catalog lake does not exist" in catalog.problem


def test_a_deploying_identity_without_execute_on_the_model_is_a_finding(client, objects):
    objects.remove_object(
        "grants", securable="main", principal="6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01", privileges=["EXECUTE"]
    )
    (finding,) = check(client, request())
    assert finding.key_path == f"{KEY}.served_models[0].model"
    assert finding.problem.startswith("the deploying identity 6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01 has no EXECUTE")


def test_every_finding_comes_at_once_in_the_order_of_the_stack_file(client, objects):
    objects.remove_object("secrets", scope="fraud-scoring", key="feature-store-token")
    findings = check(
        client,
        request(
            served_entities=(entity_to_check("9", 0), entity_to_check("4", 1)),
            query_service_principal=Located(NOBODY, f"{KEY}.access.query_service_principal"),
            inference_table=InferenceTableToCheck("main", "logs", f"{KEY}.inference_table"),
        ),
    )
    assert paths(findings) == [
        f"{KEY}.served_models[0].version",
        f"{KEY}.access.query_service_principal",
        f"{KEY}.served_models[0].environment_vars.FEATURE_STORE_TOKEN",
        f"{KEY}.inference_table.schema",
    ]
    message = str(PreflightError("risk-classifier", findings))
    assert message.startswith("preflight of endpoint risk-classifier: 4 problems in the workspace")
    assert all(str(finding) in message for finding in findings)


def test_preflight_only_reads(client, objects):
    check(client, request(served_entities=(entity_to_check("9", 0),), manager_groups=(Located("x", "k"),)))
    calls = objects.counters()["api_calls"]
    assert calls and all(call.startswith("GET ") for call in calls)


def test_an_alias_resolves_to_the_version_it_points_at_now(client, objects):
    assert resolve_version(client, RISK, "@champion").version == "4"
    objects.add_object("aliases", model=RISK, alias="champion", version="3")
    assert resolve_version(client, RISK, "@champion").version == "3"
    missing = resolve_version(client, RISK, "@nobody")
    assert missing.version is None and "has no alias @nobody" in missing.problem


def test_a_registry_stage_resolves_to_its_latest_version_and_other_aliases_are_refused(client, objects):
    objects.add_object("registry-versions", model="RiskClassifier", version="5", stage="Production")
    assert resolve_version(client, "RiskClassifier", "@Production").version == "5"
    assert resolve_version(client, "RiskClassifier", "@staging").version == "3"
    refused = resolve_version(client, "RiskClassifier", "@champion")
    assert refused.version is None and "its aliases are its stages, @Production or @Staging" in refused.problem
