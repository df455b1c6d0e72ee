"""Each fault knob of the admin API, and the admin API's own rules."""

from __future__ import annotations

import time

import requests

from tests.emulator.support import FAST, entity, routes


def _status_codes(api, count: int, **kwargs) -> list[int]:
    return [api.invoke("ep", **kwargs).status_code for _ in range(count)]


def test_admin_api_refuses_a_workspace_token(emu):
    response = requests.get(f"{emu.url}/_emulator/counters", headers=emu.headers(), timeout=10)

    assert (response.status_code, response.json()["error_code"]) == (401, "UNAUTHENTICATED")


def test_fail_next_deployment_fails_the_update_with_the_message(api, emu):
    api.create_ready("ep", [entity("1")])
    emu.fail_next_deployment("ep", message="Injected: image build ran out of disk")

    api.update_config("ep", [entity("2")])
    body = api.wait_settled("ep")

    assert body["state"] == {"ready": "READY", "config_update": "UPDATE_FAILED"}
    state = body["pending_config"]["served_entities"][0]["state"]
    assert state["deployment"] == "DEPLOYMENT_FAILED"
    assert "Injected: image build ran out of disk" in state["deployment_state_message"]
    logs = api.request("GET", "/api/2.0/serving-endpoints/ep/served-models/risk_classifier-2/build-logs").json()
    assert "ERROR: Injected: image build ran out of disk" in logs["logs"]


def test_fail_next_deployment_is_used_once(api, emu):
    emu.fail_next_deployment("ep")
    api.create("ep", [entity("1")])
    assert api.wait_settled("ep")["state"]["config_update"] == "UPDATE_FAILED"

    api.update_config("ep", [entity("1")])

    assert api.wait_settled("ep")["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}


def test_fail_next_deployment_of_one_entity_fails_only_that_one(api, emu):
    emu.fail_next_deployment("ep", served_entity="canary")

    api.create("ep", [entity("1", name="stable"), entity("2", name="canary")], routes(stable=90, canary=10))
    body = api.wait_settled("ep")

    states = {e["name"]: e["state"]["deployment"] for e in body["pending_config"]["served_entities"]}
    assert states == {"stable": "DEPLOYMENT_ABORTED", "canary": "DEPLOYMENT_FAILED"}


def test_burst_of_429_carries_retry_after_then_service_resumes(api, emu):
    api.create_ready("ep", [entity("1")])
    emu.burst("ep", count=3, status_code=429, retry_after_seconds=2)

    responses = [api.invoke("ep") for _ in range(4)]

    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert responses[0].headers["Retry-After"] == "2"
    assert responses[0].json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_burst_of_5xx_on_one_entity_spares_the_other(api, emu):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="canary")], routes(stable=50, canary=50))
    emu.burst("ep", count=2, status_code=503, served_entity="canary")

    canary = [api.invoke("ep", served="canary").status_code for _ in range(3)]
    stable = [api.invoke("ep", served="stable").status_code for _ in range(3)]

    assert canary == [503, 503, 200]
    assert stable == [200, 200, 200]


def test_latency_slows_every_request_until_cleared(api, emu):
    api.create_ready("ep", [entity("1")])
    api.invoke("ep")  # model loaded
    emu.set_latency("ep", 0.3)

    started = time.monotonic()
    api.invoke("ep")
    api.invoke("ep")
    slowed = time.monotonic() - started
    emu.clear_faults("ep")

    assert slowed >= 0.6
    assert emu.faults()["latency"] == []  # cleared: no request is slowed any more


def test_error_rate_fails_a_deterministic_fraction_of_requests(api, emu):
    api.create_ready("ep", [entity("1")])
    emu.set_error_rate("ep", 0.25)

    codes = _status_codes(api, 12)

    assert codes == [200, 200, 200, 500] * 3


def test_error_rate_on_one_entity_only_affects_it(api, emu):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="canary")], routes(stable=50, canary=50))
    emu.set_error_rate("ep", 0.5, served_entity="canary")

    assert [api.invoke("ep", served="canary").status_code for _ in range(4)] == [200, 500, 200, 500]
    assert [api.invoke("ep", served="stable").status_code for _ in range(4)] == [200] * 4


def test_stuck_update_stays_in_progress_until_released(api, emu):
    api.create_ready("ep", [entity("1")])
    emu.stick_update("ep")
    api.update_config("ep", [entity("2")])

    time.sleep(FAST["update_seconds"] * 3)
    assert api.endpoint("ep")["state"]["config_update"] == "IN_PROGRESS"
    emu.release_update("ep")

    assert api.endpoint("ep")["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}


def test_stuck_update_also_holds_an_update_already_running(api, emu):
    api.create("ep", [entity("1")])
    emu.stick_update("ep")

    time.sleep(FAST["update_seconds"] * 3)

    assert api.endpoint("ep")["state"]["config_update"] == "IN_PROGRESS"


def test_clearing_faults_releases_a_stuck_update(api, emu):
    emu.stick_update("ep")
    api.create("ep", [entity("1")])

    emu.clear_faults()

    assert api.endpoint("ep")["state"]["config_update"] == "NOT_UPDATING"


def test_not_ready_after_update_fools_a_not_updating_wait_for_a_while(api, emu):
    api.create_ready("ep", [entity("1")])
    emu.not_ready_after_update("ep", seconds=0.5)
    api.update_config("ep", [entity("2")])

    body = api.wait_settled("ep")

    assert body["state"] == {"ready": "NOT_READY", "config_update": "NOT_UPDATING"}
    assert body["config"]["served_entities"][0]["state"]["deployment"] == "DEPLOYMENT_RECOVERING"
    assert api.invoke("ep").status_code == 503
    assert api.wait_for("ep", lambda b: b["state"]["ready"] == "READY", timeout=2)


def test_not_ready_without_seconds_lasts_until_cleared(api, emu):
    emu.not_ready_after_update("ep")
    api.create("ep", [entity("1")])
    api.wait_settled("ep")

    time.sleep(0.3)
    assert api.endpoint("ep")["state"]["ready"] == "NOT_READY"
    emu.clear_faults("ep")

    assert api.endpoint("ep")["state"]["ready"] == "READY"


def test_out_of_band_delete_removes_the_endpoint(api, emu):
    api.create_ready("ep", [entity("1")])

    emu.delete_out_of_band("ep")

    assert api.get("ep").status_code == 404


def test_recreated_endpoint_gets_a_new_id(api, emu):
    first = api.create_ready("ep", [entity("1")])["id"]
    emu.delete_out_of_band("ep")

    second = api.create_ready("ep", [entity("1")])["id"]

    assert second != first
    assert api.permissions(first).status_code == 404


def test_reset_forgets_endpoints_faults_and_counters(api, emu):
    api.create_ready("ep", [entity("1")])
    emu.set_latency("ep", 1.0)

    emu.reset()

    assert api.get("ep").status_code == 404
    assert emu.faults()["latency"] == []
    assert emu.counters()["get_calls"] == {"ep": 1}  # the GET just above


def test_counters_count_get_calls_per_endpoint_and_invocations_per_entity(api, emu):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="canary")], routes(stable=50, canary=50))
    before = emu.counters()["get_calls"]["ep"]
    for _ in range(3):
        api.get("ep")
    api.invoke("ep", served="canary")
    api.invoke("ep", served="canary")

    counters = emu.counters()

    assert counters["get_calls"]["ep"] == before + 3
    assert counters["invocations"]["ep"] == {"canary": 2}
    assert counters["api_calls"]["GET /api/2.0/serving-endpoints/{name}"] == before + 3


def test_faults_are_listed(emu):
    emu.burst("ep", count=2, status_code=504)
    emu.set_latency("ep", 0.5, served_entity="a")

    faults = emu.faults()

    assert faults["bursts"] == [
        {"endpoint": "ep", "served_entity": None, "remaining": 2, "status_code": 504, "retry_after_seconds": 1}
    ]
    assert faults["latency"] == [{"endpoint": "ep", "served_entity": "a", "seconds": 0.5}]


def test_registering_a_version_at_run_time_makes_it_deployable(api, emu):
    api.create_ready("ep", [entity("1")])
    emu.register_model_version("main.risk.risk_classifier", "5", same_as="1")

    api.update_config("ep", [entity("5")])

    assert api.wait_settled("ep")["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
