"""AI Gateway: rate limits per principal answered with 429, usage tracking and inference tables accepted,
fallback to another served entity on a 5xx."""

from __future__ import annotations

import time

import pytest

from emulator.testing import running_emulator
from tests.emulator.support import ADMIN, ANALYST, DEPLOYER, FAST, WorkspaceApi, entity, routes

GATEWAY = "/api/2.0/serving-endpoints/ep/ai-gateway"


def _limit(calls: int, key: str | None = None, principal: str | None = None) -> dict:
    limit = {"calls": calls, "renewal_period": "minute"}
    limit.update({k: v for k, v in (("key", key), ("principal", principal)) if v is not None})
    return limit


def _ready_with_limits(api: WorkspaceApi, *limits: dict) -> None:
    api.create_ready("ep", [entity("1")])
    api.request(
        "PUT",
        "/api/2.0/permissions/serving-endpoints/" + api.endpoint("ep")["id"],
        json={"access_control_list": [{"group_name": "users", "permission_level": "CAN_QUERY"}]},
    )
    response = api.request("PUT", GATEWAY, json={"rate_limits": list(limits)})
    assert response.status_code == 200, response.text


def _statuses(api: WorkspaceApi, count: int) -> list[int]:
    return [api.invoke("ep").status_code for _ in range(count)]


def test_an_endpoint_limit_is_shared_by_every_caller_and_answers_429(api):
    _ready_with_limits(api, _limit(3))

    statuses = _statuses(api, 2) + _statuses(api.as_principal(ANALYST), 2)

    assert statuses == [200, 200, 200, 429]


def test_the_429_says_request_limit_exceeded_with_retry_after(api):
    _ready_with_limits(api, _limit(1))
    api.invoke("ep")

    response = api.invoke("ep")

    assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert "1 calls per minute for the whole endpoint" in response.json()["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_a_per_user_limit_gives_each_user_its_own_budget(api):
    _ready_with_limits(api, _limit(2, key="user"))

    assert _statuses(api, 3) == [200, 200, 429]
    assert _statuses(api.as_principal(ANALYST), 3) == [200, 200, 429]


def test_a_limit_for_one_user_replaces_the_default_for_that_user_only(api):
    _ready_with_limits(api, _limit(3, key="user"), _limit(1, key="user", principal=ANALYST))

    assert _statuses(api.as_principal(ANALYST), 2) == [200, 429]
    assert _statuses(api, 4) == [200, 200, 200, 429]


def test_a_service_principal_limit_does_not_touch_users(api):
    _ready_with_limits(api, _limit(1, key="service_principal", principal=DEPLOYER))

    assert _statuses(api.as_principal(DEPLOYER), 2) == [200, 429]
    assert _statuses(api, 3) == [200, 200, 200]


def test_a_group_limit_is_shared_by_its_members(api):
    _ready_with_limits(api, _limit(2, key="user_group", principal="admins"))

    assert _statuses(api, 3) == [200, 200, 429]
    assert _statuses(api.as_principal(ANALYST), 2) == [200, 200]  # not in the group


def test_a_rate_limit_also_applies_to_one_served_entity(api):
    _ready_with_limits(api, _limit(1))
    api.invoke("ep")

    assert api.invoke("ep", served="risk_classifier-1").status_code == 429


def test_rate_limited_requests_never_reach_a_served_entity(api, emu):
    _ready_with_limits(api, _limit(1))
    _statuses(api, 3)

    assert emu.counters()["invocations"]["ep"] == {"risk_classifier-1": 1}


def test_the_budget_renews_after_the_period():
    with running_emulator(**FAST, rate_limit_period_seconds=0.3) as emu:
        api = WorkspaceApi(emu, ADMIN)
        _ready_with_limits(api, _limit(1))
        assert _statuses(api, 2) == [200, 429]
        deadline = time.monotonic() + 10
        while api.invoke("ep").status_code == 429:
            assert time.monotonic() < deadline, "the rate-limit window never renewed"
            time.sleep(0.05)


def test_a_new_ai_gateway_config_starts_the_budgets_afresh(api):
    _ready_with_limits(api, _limit(1))
    api.invoke("ep")

    api.request("PUT", GATEWAY, json={"rate_limits": [_limit(1)]})

    assert api.invoke("ep").status_code == 200


def test_rate_limits_given_on_create_apply(api):
    api.create_ready("ep", [entity("1")], ai_gateway={"rate_limits": [_limit(1)]})

    assert _statuses(api, 2) == [200, 429]


def test_a_rate_limit_key_defaults_to_endpoint(api):
    api.create("ep", [entity("1")], ai_gateway={"rate_limits": [_limit(5)]})

    assert api.endpoint("ep")["ai_gateway"]["rate_limits"] == [
        {"calls": 5, "renewal_period": "minute", "key": "endpoint"}
    ]


@pytest.mark.parametrize(
    ("limit", "problem"),
    [
        (_limit(0), "calls must be a positive integer"),
        ({"renewal_period": "minute"}, "set calls"),
        (_limit(5, principal=ANALYST), "an endpoint rate limit takes no principal"),
        (_limit(5, key="user_group"), "needs the group's name"),
        ({"calls": 5, "renewal_period": "hour"}, "renewal_period"),
    ],
    ids=["zero calls", "no calls", "endpoint with principal", "group without name", "hour"],
)
def test_invalid_rate_limits_are_400_invalid_parameter_value(api, limit, problem):
    api.create_ready("ep", [entity("1")])

    response = api.request("PUT", GATEWAY, json={"rate_limits": [limit]})

    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert problem in response.json()["message"]


def test_two_limits_for_the_same_key_and_principal_are_rejected(api):
    api.create_ready("ep", [entity("1")])
    twice = [_limit(5, "user", ANALYST), _limit(6, "user", ANALYST)]

    response = api.request("PUT", GATEWAY, json={"rate_limits": twice})

    assert response.status_code == 400
    assert "is already set" in response.json()["message"]


def test_usage_tracking_and_an_inference_table_are_accepted_and_shown(api):
    gateway = {
        "usage_tracking_config": {"enabled": True},
        "inference_table_config": {
            "catalog_name": "main",
            "schema_name": "serving",
            "table_name_prefix": "risk",
            "enabled": True,
        },
    }
    api.create_ready("ep", [entity("1")], ai_gateway=gateway)

    assert api.endpoint("ep")["ai_gateway"] == gateway


def test_an_enabled_inference_table_needs_catalog_and_schema(api):
    response = api.create("ep", [entity("1")], ai_gateway={"inference_table_config": {"enabled": True}})

    assert response.status_code == 400
    assert "catalog_name and schema_name are required" in response.json()["message"]


def test_fallback_answers_from_the_next_entity_when_the_routed_one_fails(api, emu):
    api.create_ready(
        "ep",
        [entity("1", name="stable"), entity("2", name="canary")],
        routes(stable=100, canary=0),
        ai_gateway={"fallback_config": {"enabled": True}},
    )
    emu.set_error_rate("ep", 1.0, served_entity="stable")

    response = api.invoke("ep")

    assert (response.status_code, response.headers["served-model-name"]) == (200, "canary")
    assert emu.counters()["invocations"]["ep"] == {"stable": 1, "canary": 1}


def test_fallback_returns_the_last_error_when_every_entity_fails(api, emu):
    api.create_ready(
        "ep",
        [entity("1", name="stable"), entity("2", name="canary")],
        routes(stable=100, canary=0),
        ai_gateway={"fallback_config": {"enabled": True}},
    )
    emu.set_error_rate("ep", 1.0, served_entity="stable")
    emu.set_error_rate("ep", 1.0, served_entity="canary", status_code=503)

    response = api.invoke("ep")

    assert response.status_code == 503


def test_without_fallback_the_routed_entity_error_is_returned(api, emu):
    api.create_ready("ep", [entity("1", name="stable"), entity("2", name="canary")], routes(stable=100, canary=0))
    emu.set_error_rate("ep", 1.0, served_entity="stable")

    assert api.invoke("ep").status_code == 500


def test_fallback_does_not_apply_to_a_request_for_one_served_entity(api, emu):
    api.create_ready(
        "ep",
        [entity("1", name="stable"), entity("2", name="canary")],
        routes(stable=100, canary=0),
        ai_gateway={"fallback_config": {"enabled": True}},
    )
    emu.set_error_rate("ep", 1.0, served_entity="stable")

    assert api.invoke("ep", served="stable").status_code == 500


def test_fallback_does_not_retry_a_4xx(api, emu):
    api.create_ready(
        "ep",
        [entity("1", name="stable"), entity("2", name="canary")],
        routes(stable=100, canary=0),
        ai_gateway={"fallback_config": {"enabled": True}},
    )

    response = api.invoke("ep", {"dataframe_records": [{"amount": 1}]})

    assert response.status_code == 400
    assert emu.counters()["invocations"]["ep"] == {"stable": 1}
