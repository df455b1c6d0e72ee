"""Authentication and endpoint permissions: CAN_VIEW to read, CAN_QUERY to invoke, CAN_MANAGE to change."""

from __future__ import annotations

import pytest
import requests

from tests.emulator.support import ANALYST, DEPLOYER, entity


@pytest.fixture
def deployer(api):
    """An endpoint created by a (non-admin) service principal, which therefore manages it."""
    deployer = api.as_principal(DEPLOYER)
    deployer.create_ready("ep", [entity("1")])
    return deployer


@pytest.fixture
def analyst(api):
    return api.as_principal(ANALYST)


def _id(api) -> str:
    return api.endpoint("ep")["id"]


def _direct(level: str) -> dict:
    return {"permission_level": level, "inherited": False}


def _grant(deployer, principal_field: str, name: str, level: str) -> None:
    response = deployer.permissions(_id(deployer), "PATCH", [{principal_field: name, "permission_level": level}])
    assert response.status_code == 200, response.text


def test_missing_token_is_401_unauthenticated(emu):
    response = requests.get(f"{emu.url}/api/2.0/serving-endpoints", timeout=10)

    assert (response.status_code, response.json()["error_code"]) == (401, "UNAUTHENTICATED")


def test_unknown_token_is_401_unauthenticated(emu):
    response = requests.get(
        f"{emu.url}/api/2.0/serving-endpoints", headers={"Authorization": "Bearer nope"}, timeout=10
    )

    assert response.status_code == 401
    assert response.json() == {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."}


def test_creator_holds_a_direct_can_manage_and_admins_an_inherited_one(deployer):
    acl = deployer.permissions(_id(deployer)).json()

    assert acl["object_id"] == f"/serving-endpoints/{_id(deployer)}"
    assert acl["object_type"] == "serving-endpoint"
    assert acl["access_control_list"] == [
        {"service_principal_name": DEPLOYER, "all_permissions": [_direct("CAN_MANAGE")]},
        {
            "group_name": "admins",
            "all_permissions": [
                {"permission_level": "CAN_MANAGE", "inherited": True, "inherited_from_object": ["/serving-endpoints/"]}
            ],
        },
    ]


def test_permissions_by_endpoint_name_is_400_not_a_valid_id(deployer):
    response = deployer.permissions("ep")

    assert response.status_code == 400
    assert response.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "'ep' is not a valid Inference Endpoint ID.",
    }


def test_permissions_of_an_unknown_id_is_404(deployer):
    assert deployer.permissions("0" * 32).status_code == 404


def test_principal_without_a_grant_cannot_read_the_endpoint(deployer, analyst):
    response = analyst.get("ep")

    assert (response.status_code, response.json()["error_code"]) == (403, "PERMISSION_DENIED")


def test_list_shows_only_endpoints_the_caller_can_view(deployer, analyst):
    assert analyst.request("GET", "/api/2.0/serving-endpoints").json()["endpoints"] == []


def test_can_view_allows_reading_but_not_querying(deployer, analyst):
    _grant(deployer, "user_name", ANALYST, "CAN_VIEW")

    assert analyst.endpoint("ep")["permission_level"] == "CAN_VIEW"
    assert analyst.invoke("ep").status_code == 403


def test_can_query_is_required_to_invoke(deployer, analyst):
    assert analyst.invoke("ep").status_code == 403

    _grant(deployer, "user_name", ANALYST, "CAN_QUERY")

    assert analyst.invoke("ep").status_code == 200


def test_can_query_on_a_group_applies_to_its_members(deployer, analyst):
    _grant(deployer, "group_name", "users", "CAN_QUERY")

    assert analyst.invoke("ep").status_code == 200


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("PUT", "/api/2.0/serving-endpoints/ep/config", {"served_entities": [entity("2")]}),
        ("PATCH", "/api/2.0/serving-endpoints/ep/tags", {"add_tags": [{"key": "k", "value": "v"}]}),
        ("PUT", "/api/2.0/serving-endpoints/ep/ai-gateway", {"usage_tracking_config": {"enabled": True}}),
        ("DELETE", "/api/2.0/serving-endpoints/ep", None),
    ],
    ids=["config", "tags", "ai-gateway", "delete"],
)
def test_can_manage_is_required_to_change_the_endpoint(deployer, analyst, method, path, body):
    _grant(deployer, "user_name", ANALYST, "CAN_QUERY")

    response = analyst.request(method, path, json=body)

    assert (response.status_code, response.json()["error_code"]) == (403, "PERMISSION_DENIED")


def test_can_manage_is_required_to_change_permissions(deployer, analyst):
    _grant(deployer, "user_name", ANALYST, "CAN_QUERY")

    response = analyst.permissions(_id(deployer), "PUT", [{"user_name": ANALYST, "permission_level": "CAN_MANAGE"}])

    assert response.status_code == 403


def test_admins_can_manage_any_endpoint(deployer, api):
    assert api.update_config("ep", [entity("2")]).status_code == 200


def test_put_replaces_direct_grants_but_keeps_the_callers_can_manage(deployer):
    _grant(deployer, "user_name", ANALYST, "CAN_QUERY")

    acl = deployer.permissions(_id(deployer), "PUT", [{"group_name": "scorers", "permission_level": "CAN_QUERY"}])

    direct = [e for e in acl.json()["access_control_list"] if not e["all_permissions"][0]["inherited"]]
    assert direct == [
        {"group_name": "scorers", "all_permissions": [_direct("CAN_QUERY")]},
        {"service_principal_name": DEPLOYER, "all_permissions": [_direct("CAN_MANAGE")]},
    ]


def test_patch_merges_grants(deployer):
    _grant(deployer, "user_name", ANALYST, "CAN_VIEW")
    _grant(deployer, "group_name", "scorers", "CAN_QUERY")
    _grant(deployer, "user_name", ANALYST, "CAN_QUERY")

    levels = {
        (e.get("user_name") or e.get("group_name") or e.get("service_principal_name")): e["all_permissions"][0][
            "permission_level"
        ]
        for e in deployer.permissions(_id(deployer)).json()["access_control_list"]
    }
    assert levels == {DEPLOYER: "CAN_MANAGE", ANALYST: "CAN_QUERY", "scorers": "CAN_QUERY", "admins": "CAN_MANAGE"}


def test_unknown_permission_level_is_400(deployer):
    response = deployer.permissions(_id(deployer), "PATCH", [{"user_name": ANALYST, "permission_level": "CAN_RUN"}])

    assert (response.status_code, response.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_entry_naming_two_principals_is_400(deployer):
    entry = {"user_name": ANALYST, "group_name": "g", "permission_level": "CAN_VIEW"}

    assert deployer.permissions(_id(deployer), "PATCH", [entry]).status_code == 400


def test_permission_levels_lists_the_three_levels(deployer):
    response = deployer.request("GET", f"/api/2.0/permissions/serving-endpoints/{_id(deployer)}/permissionLevels")

    assert [p["permission_level"] for p in response.json()["permission_levels"]] == [
        "CAN_VIEW",
        "CAN_QUERY",
        "CAN_MANAGE",
    ]
