"""The read-only workspace objects a preflight looks up: seeded from the settings, changed by the admin API
only, answered in Databricks' shapes and codes, and never holding a secret value."""

from __future__ import annotations

import pytest
import requests

from tests.emulator.support import ANALYST, DEPLOYER, entity

UC = "/api/2.1/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"
RISK = "main.risk.risk_classifier"


def test_an_alias_names_a_version_and_moves_when_the_admin_api_moves_it(api, emu):
    assert api.request("GET", f"{UC}/models/{RISK}/aliases/champion").json()["version"] == 4
    emu.add_object("aliases", model=RISK, alias="champion", version="3")
    assert api.request("GET", f"{UC}/models/{RISK}/aliases/champion").json()["version"] == 3
    emu.remove_object("aliases", model=RISK, alias="champion")
    missing = api.request("GET", f"{UC}/models/{RISK}/aliases/champion")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_model_versions_are_ready_when_registered_and_take_the_status_they_are_given(api, emu):
    assert api.request("GET", f"{UC}/models/{RISK}/versions/3").json()["status"] == "READY"
    emu.add_object("model-versions", model=RISK, version="6", status="FAILED_REGISTRATION")
    assert api.request("GET", f"{UC}/models/{RISK}/versions/6").json()["status"] == "FAILED_REGISTRATION"
    assert api.request("GET", f"{UC}/models/{RISK}/versions/9").status_code == 404
    assert api.request("GET", f"{UC}/models/main.risk.nothing/versions/1").status_code == 404


def test_the_workspace_registry_answers_stages_with_their_latest_version(api, emu):
    emu.add_object("registry-versions", model="RiskClassifier", version="7", stage="Production")
    latest = api.request(
        "POST",
        "/api/2.0/mlflow/registered-models/get-latest-versions",
        json={"name": "RiskClassifier", "stages": ["Production"]},
    ).json()
    assert [(v["version"], v["current_stage"]) for v in latest["model_versions"]] == [("7", "Production")]
    got = api.request("GET", "/api/2.0/mlflow/model-versions/get", params={"name": "RiskClassifier", "version": "1"})
    assert got.json()["model_version"]["current_stage"] == "Archived"


def test_scim_filters_find_seeded_service_principals_and_groups_and_nothing_else(api, emu):
    found = api.request("GET", f"{SCIM}/ServicePrincipals", params={"filter": f'applicationId eq "{DEPLOYER}"'})
    assert [sp["applicationId"] for sp in found.json()["Resources"]] == [DEPLOYER]
    nobody = api.request(
        "GET", f"{SCIM}/ServicePrincipals", params={"filter": 'applicationId eq "00000000-0000-0000-0000-000000000000"'}
    ).json()
    assert nobody["totalResults"] == 0 and "Resources" not in nobody
    emu.remove_object("groups", name="fraud-analytics")
    groups = api.request("GET", f"{SCIM}/Groups", params={"filter": 'displayName eq "fraud-analytics"'}).json()
    assert groups["totalResults"] == 0
    assert api.request("GET", f"{SCIM}/Groups", params={"filter": "displayName co x"}).status_code == 400


def test_secrets_are_listed_by_name_only(api, emu):
    listed = api.request("GET", "/api/2.0/secrets/list", params={"scope": "fraud-scoring"}).json()
    assert listed == {"secrets": [{"key": "feature-store-token", "last_updated_timestamp": 1767225600000}]}
    missing = api.request("GET", "/api/2.0/secrets/list", params={"scope": "nope"})
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_a_missing_schema_and_a_missing_catalog_are_told_apart(api, emu):
    assert api.request("GET", f"{UC}/schemas/main.serving_logs").json()["full_name"] == "main.serving_logs"
    assert api.request("GET", f"{UC}/schemas/main.nope").json()["error_code"] == "SCHEMA_DOES_NOT_EXIST"
    assert api.request("GET", f"{UC}/schemas/nope.logs").json()["error_code"] == "CATALOG_DOES_NOT_EXIST"


def test_effective_permissions_on_a_model_include_what_its_catalog_grants(api, emu):
    path = f"{UC}/effective-permissions/function/{RISK}"
    deployer = api.request("GET", path, params={"principal": DEPLOYER}).json()
    assert {p["privilege"] for p in deployer["privilege_assignments"][0]["privileges"]} >= {"EXECUTE"}
    assert api.request("GET", path, params={"principal": ANALYST}).json() == {}
    emu.add_object("grants", securable=RISK, principal=ANALYST, privileges=["EXECUTE"])
    analyst = api.request("GET", path, params={"principal": ANALYST}).json()["privilege_assignments"][0]
    assert analyst["privileges"] == [{"privilege": "EXECUTE"}]


def test_a_registered_version_set_to_pending_fails_its_deployment(api, emu):
    emu.add_object("model-versions", model=RISK, version="2", status="PENDING_REGISTRATION")
    assert api.create("pending", [entity("2")]).status_code == 200
    failed = api.wait_for("pending", lambda body: body["state"]["config_update"] == "UPDATE_FAILED")
    assert "PENDING_REGISTRATION; only READY versions can be served" in str(failed)


def test_an_unknown_kind_of_object_is_refused(emu):
    with pytest.raises(requests.HTTPError) as error:
        emu.add_object("tables", full_name="main.x.y")
    assert error.value.response.status_code == 400
