"""Create and config updates move through IN_PROGRESS to NOT_UPDATING (or UPDATE_FAILED) in real time."""

from __future__ import annotations

import re

import pytest

from tests.emulator.support import FAST, ROW, entity, routes


def test_create_answers_in_progress_with_a_pending_config_and_no_active_config(api):
    body = api.create("ep", [entity("1")]).json()

    assert body["state"] == {"ready": "NOT_READY", "config_update": "IN_PROGRESS"}
    assert "config" not in body
    pending = body["pending_config"]
    assert [e["state"]["deployment"] for e in pending["served_entities"]] == ["DEPLOYMENT_CREATING"]
    assert pending["config_version"] == 1
    assert isinstance(pending["start_time"], int)


def test_create_ends_not_updating_and_ready_with_the_config_active(api):
    api.create("ep", [entity("1")])

    body = api.wait_settled("ep")

    assert body["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert "pending_config" not in body
    served = body["config"]["served_entities"][0]
    assert (served["name"], served["entity_version"], served["state"]["deployment"]) == (
        "risk_classifier-1",
        "1",
        "DEPLOYMENT_READY",
    )


def test_update_lasts_update_seconds(api):
    api.create("ep", [entity("1")])

    assert api.endpoint("ep")["state"]["config_update"] == "IN_PROGRESS"
    body = api.wait_settled("ep")

    started = body["creation_timestamp"]
    assert body["last_updated_timestamp"] - started >= FAST["update_seconds"] * 1000 - 5


def test_endpoint_id_is_32_hex_characters_and_creator_is_the_caller(api):
    body = api.create("ep", [entity("1")]).json()

    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert body["creator"] == "admin@example.com"
    assert (
        body["config" if "config" in body else "pending_config"]["served_entities"][0]["creator"] == "admin@example.com"
    )


def test_routes_name_each_entity_under_both_route_keys(api):
    body = api.create_ready("ep", [entity("1", name="a"), entity("2", name="b")], routes(a=90, b=10))

    assert body["config"]["traffic_config"]["routes"] == [
        {"served_model_name": "a", "served_entity_name": "a", "traffic_percentage": 90},
        {"served_model_name": "b", "served_entity_name": "b", "traffic_percentage": 10},
    ]


def test_config_update_during_an_update_is_rejected_with_409_resource_conflict(api):
    api.create("ep", [entity("1")])

    response = api.update_config("ep", [entity("2")])

    assert response.status_code == 409
    assert response.json()["error_code"] == "RESOURCE_CONFLICT"
    assert "currently being updated" in response.json()["message"]


def test_update_shows_old_config_active_and_new_config_pending(api):
    api.create_ready("ep", [entity("1")])

    body = api.update_config("ep", [entity("2")]).json()

    assert body["state"] == {"ready": "READY", "config_update": "IN_PROGRESS"}
    assert body["config"]["served_entities"][0]["entity_version"] == "1"
    assert body["pending_config"]["served_entities"][0]["entity_version"] == "2"
    assert body["pending_config"]["config_version"] == 2


def test_invocations_during_an_update_go_to_the_active_config(api):
    api.create_ready("ep", [entity("1")])
    api.update_config("ep", [entity("2")])

    response = api.invoke("ep")

    assert response.status_code == 200
    assert response.headers["served-model-name"] == "risk_classifier-1"


def test_completed_update_serves_the_new_config(api):
    api.create_ready("ep", [entity("1")])
    api.update_config("ep", [entity("2")])

    body = api.wait_settled("ep")

    assert body["config"]["config_version"] == 2
    assert body["config"]["served_entities"][0]["entity_version"] == "2"
    assert api.invoke("ep").headers["served-model-name"] == "risk_classifier-2"


def test_unchanged_entity_stays_ready_in_the_pending_config(api):
    api.create_ready("ep", [entity("1", name="a"), entity("2", name="b")], routes(a=100, b=0))

    body = api.update_config("ep", [entity("1", name="a"), entity("2", name="b")], routes(a=50, b=50)).json()

    states = {e["name"]: e["state"]["deployment"] for e in body["pending_config"]["served_entities"]}
    assert states == {"a": "DEPLOYMENT_READY", "b": "DEPLOYMENT_READY"}


def test_unregistered_version_fails_the_update_and_the_old_config_keeps_serving(api):
    api.create_ready("ep", [entity("1")])
    api.update_config("ep", [entity("99")])

    body = api.wait_settled("ep")

    assert body["state"] == {"ready": "READY", "config_update": "UPDATE_FAILED"}
    assert body["config"]["served_entities"][0]["entity_version"] == "1"
    failed = body["pending_config"]["served_entities"][0]
    assert failed["state"]["deployment"] == "DEPLOYMENT_FAILED"
    assert "Model version '99'" in failed["state"]["deployment_state_message"]
    assert api.invoke("ep").headers["served-model-name"] == "risk_classifier-1"


def test_failed_deployment_build_logs_end_with_the_error(api):
    api.create_ready("ep", [entity("1")])
    api.update_config("ep", [entity("99")])
    api.wait_settled("ep")

    logs = api.request("GET", "/api/2.0/serving-endpoints/ep/served-models/risk_classifier-99/build-logs").json()

    last_lines = logs["logs"].strip().splitlines()[-2:]
    assert "ERROR: Model version '99' of 'main.risk.risk_classifier' does not exist" in last_lines[0]
    assert "Build failed" in last_lines[1]


def test_failed_first_create_is_not_ready_and_shows_the_failure_in_pending_config(api):
    api.create("ep", [entity("1", model="main.nowhere.model")])

    body = api.wait_settled("ep")

    assert body["state"] == {"ready": "NOT_READY", "config_update": "UPDATE_FAILED"}
    assert "config" not in body
    state = body["pending_config"]["served_entities"][0]["state"]
    assert state["deployment"] == "DEPLOYMENT_FAILED"
    assert "Registered model 'main.nowhere.model' does not exist" in state["deployment_state_message"]


def test_invoking_an_endpoint_without_an_active_config_is_400_invalid_state(api):
    api.create("ep", [entity("1")])

    response = api.invoke("ep")

    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_STATE"


def test_other_new_entities_of_a_failed_update_are_aborted(api):
    api.create("ep", [entity("1", name="good"), entity("99", name="bad")], routes(good=50, bad=50))

    body = api.wait_settled("ep")

    states = {e["name"]: e["state"]["deployment"] for e in body["pending_config"]["served_entities"]}
    assert states == {"good": "DEPLOYMENT_ABORTED", "bad": "DEPLOYMENT_FAILED"}


def test_a_new_update_is_accepted_after_a_failed_one(api):
    api.create_ready("ep", [entity("1")])
    api.update_config("ep", [entity("99")])
    api.wait_settled("ep")

    response = api.update_config("ep", [entity("3")])
    body = api.wait_settled("ep")

    assert response.status_code == 200
    assert body["state"]["config_update"] == "NOT_UPDATING"
    assert body["config"]["served_entities"][0]["entity_version"] == "3"
    assert body["config"]["config_version"] == 3


def test_delete_removes_the_endpoint(api):
    api.create_ready("ep", [entity("1")])

    deleted = api.request("DELETE", "/api/2.0/serving-endpoints/ep")

    assert deleted.status_code == 200
    assert api.get("ep").status_code == 404
    assert api.invoke("ep", {"dataframe_records": [ROW]}).status_code == 404


def test_list_shows_a_summary_of_each_endpoint(api):
    api.create_ready("ep", [entity("1")], tags=[{"key": "team", "value": "risk"}])

    endpoints = api.request("GET", "/api/2.0/serving-endpoints").json()["endpoints"]

    assert [(e["name"], e["state"]["ready"], e["tags"]) for e in endpoints] == [
        ("ep", "READY", [{"key": "team", "value": "risk"}])
    ]
    assert endpoints[0]["config"]["served_entities"] == [
        {"name": "risk_classifier-1", "entity_name": "main.risk.risk_classifier", "entity_version": "1"}
    ]


def test_tags_patch_adds_and_deletes_and_returns_the_tags(api):
    api.create("ep", [entity("1")], tags=[{"key": "team", "value": "risk"}, {"key": "old", "value": "x"}])

    response = api.request(
        "PATCH",
        "/api/2.0/serving-endpoints/ep/tags",
        json={"add_tags": [{"key": "env", "value": "dev"}], "delete_tags": ["old"]},
    )

    assert response.json() == {"tags": [{"key": "team", "value": "risk"}, {"key": "env", "value": "dev"}]}
    assert api.endpoint("ep")["tags"] == response.json()["tags"]


def test_ai_gateway_put_is_stored_and_shown(api):
    api.create("ep", [entity("1")])
    gateway = {
        "usage_tracking_config": {"enabled": True},
        "rate_limits": [{"calls": 100, "key": "user", "renewal_period": "minute"}],
    }

    response = api.request("PUT", "/api/2.0/serving-endpoints/ep/ai-gateway", json=gateway)

    assert response.json() == gateway
    assert api.endpoint("ep")["ai_gateway"] == gateway


# ---- what each update route changes, and nothing more -------------------------------------------------

EVERYTHING = {
    "tags": [{"key": "team", "value": "risk"}],
    "description": "Risk scoring",
    "email_notifications": {"on_update_failure": ["ops@example.com"]},
    "ai_gateway": {"usage_tracking_config": {"enabled": True}},
    "route_optimized": False,
    "budget_policy_id": "policy-1",
}


def _outside_config(body: dict) -> dict:
    return {k: v for k, v in body.items() if k in EVERYTHING}


def test_put_config_changes_served_entities_and_traffic_and_nothing_else(api):
    before = api.create_ready("ep", [entity("1")], **EVERYTHING)
    body = {
        "served_entities": [entity("2")],
        "tags": [{"key": "x", "value": "y"}],
        "description": "changed",
        "email_notifications": {"on_update_failure": ["other@example.com"]},
        "route_optimized": True,
        "ai_gateway": {"usage_tracking_config": {"enabled": False}},
        "budget_policy_id": "policy-2",
    }

    assert api.request("PUT", "/api/2.0/serving-endpoints/ep/config", json=body).status_code == 200
    after = api.wait_settled("ep")

    assert after["config"]["served_entities"][0]["entity_version"] == "2"
    assert _outside_config(after) == _outside_config(before) == EVERYTHING


def test_patch_notifications_replaces_the_email_notifications_only(api):
    before = api.create_ready("ep", [entity("1")], **EVERYTHING)

    response = api.request(
        "PATCH",
        "/api/2.0/serving-endpoints/ep/notifications",
        json={"email_notifications": {"on_update_success": ["team@example.com"]}},
    )

    assert response.json() == {"name": "ep", "email_notifications": {"on_update_success": ["team@example.com"]}}
    after = api.endpoint("ep")
    assert after["email_notifications"] == {"on_update_success": ["team@example.com"]}
    assert {k: v for k, v in _outside_config(after).items() if k != "email_notifications"} == {
        k: v for k, v in _outside_config(before).items() if k != "email_notifications"
    }
    assert after["config"]["config_version"] == before["config"]["config_version"]


def test_patch_notifications_without_any_clears_them(api):
    api.create_ready("ep", [entity("1")], **EVERYTHING)

    response = api.request("PATCH", "/api/2.0/serving-endpoints/ep/notifications", json={})

    assert response.json() == {"name": "ep"}
    assert "email_notifications" not in api.endpoint("ep")


def test_put_ai_gateway_and_patch_tags_leave_the_config_alone(api):
    before = api.create_ready("ep", [entity("1")])

    api.request("PUT", "/api/2.0/serving-endpoints/ep/ai-gateway", json={"usage_tracking_config": {"enabled": True}})
    api.request("PATCH", "/api/2.0/serving-endpoints/ep/tags", json={"add_tags": [{"key": "env", "value": "dev"}]})

    after = api.endpoint("ep")
    assert after["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert after["config"] == before["config"]


@pytest.mark.parametrize(
    "method,path",
    [
        ("PATCH", "/api/2.0/serving-endpoints/ep"),
        ("PUT", "/api/2.0/serving-endpoints/ep"),
        ("PATCH", "/api/2.0/serving-endpoints/ep/description"),
    ],
    ids=["patch endpoint", "put endpoint", "patch description"],
)
def test_there_is_no_route_that_updates_the_description(api, method, path):
    api.create_ready("ep", [entity("1")], description="Risk scoring")

    response = api.request(method, path, json={"description": "changed"})

    assert response.status_code in (404, 405)
    assert api.endpoint("ep")["description"] == "Risk scoring"
