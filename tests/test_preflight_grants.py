"""Preflight of `access.grants`: every granted principal must exist in the workspace, each finding named by
its key path `endpoints.<key>.access.grants[i].<kind>`, from the stack file to the plugin's check."""

from __future__ import annotations

import copy

import pytest

from components.config import parse_stack_config
from components.plugin_resources import preflight_inputs
from provider.implementations import preflight_request_of
from serving.preflight import GrantToCheck, Located, check
from serving.workspace import ServingClient
from tests.engine_driver import Plugin
from tests.support import (
    BASE,
    DEPLOYER_TOKEN,
    KEY,
    NOBODY,
    deployer_client,
    endpoint_checks,
    paths,
    preflight_step,
    request,
    risk,
    seeded,
)
from tests.support import KEY as PLUGIN_KEY

FRAUD_API = "c2b7e9f1-5a3d-4c8e-a6b4-7d9e0f1a2b3c"
"""A service principal the seeded workspace has."""
USER = "analyst@example.com"
"""A user the seeded workspace has (the one its user token stands for)."""


@pytest.fixture
def objects(workspace):
    return seeded(workspace)


@pytest.fixture
def client(objects) -> ServingClient:
    return deployer_client(objects)


def grant(index: int, kind: str, value: str) -> GrantToCheck:
    return GrantToCheck(kind, value, f"{KEY}.access.grants[{index}].{kind}")


def test_granted_principals_that_exist_have_no_finding(client):
    grants = (
        grant(0, "service_principal", FRAUD_API),
        grant(1, "group", "fraud-analytics"),
        grant(2, "user", USER),
        grant(3, "user", "support@example.com"),
    )
    assert check(client, request(grants=grants)) == []


def test_each_granted_principal_the_workspace_lacks_is_named_by_its_key_path(client):
    grants = (
        grant(0, "service_principal", NOBODY),
        grant(1, "group", "fraud-analytics"),
        grant(2, "group", "nobody-team"),
        grant(3, "user", "nobody@example.com"),
    )
    findings = check(client, request(grants=grants))
    assert [(finding.key_path, finding.problem) for finding in findings] == [
        (
            f"{KEY}.access.grants[0].service_principal",
            f"no service principal with application id {NOBODY} in this workspace",
        ),
        (f"{KEY}.access.grants[2].group", "no group nobody-team in this workspace"),
        (f"{KEY}.access.grants[3].user", "no user nobody@example.com in this workspace"),
    ]
    assert findings[2].fix == ("add the user to the workspace, or name the e-mail address (user name) of one who is")


def test_a_user_is_found_whatever_the_case_of_their_e_mail(client):
    assert check(client, request(grants=(grant(0, "user", USER.upper()),))) == []


def test_everybody_groups_are_built_in_and_not_looked_up(client, objects):
    before = objects.counters()["api_calls"].get("GET /api/2.0/preview/scim/v2/Groups", 0)
    grants = (grant(0, "group", "users"), grant(1, "group", "account users"))
    assert check(client, request(manager_groups=(), grants=grants)) == []
    assert objects.counters()["api_calls"].get("GET /api/2.0/preview/scim/v2/Groups", 0) == before


def test_grant_findings_follow_the_manager_groups_in_the_order_of_the_stack_file(client):
    findings = check(
        client,
        request(
            manager_groups=(Located("nobody-team", f"{KEY}.access.manager_groups[0]"),),
            grants=(grant(0, "user", "nobody@example.com"),),
        ),
    )
    assert paths(findings) == [f"{KEY}.access.manager_groups[0]", f"{KEY}.access.grants[0].user"]


def test_the_stack_files_grants_reach_the_preflight_with_their_key_paths():
    values = copy.deepcopy(BASE)
    risk(values)["access"]["grants"] = [
        {"service_principal": FRAUD_API.upper(), "level": "CAN_QUERY"},
        {"group": "support", "level": "CAN_VIEW"},
        {"user": USER, "level": "CAN_VIEW"},
    ]
    inputs = preflight_inputs(parse_stack_config("prod", values).spec("risk"))
    assert inputs["grants"] == [
        {
            "kind": "service_principal",
            "value": FRAUD_API,
            "key_path": "endpoints.risk.access.grants[0].service_principal",
        },
        {"kind": "group", "value": "support", "key_path": "endpoints.risk.access.grants[1].group"},
        {"kind": "user", "value": USER, "key_path": "endpoints.risk.access.grants[2].user"},
    ]
    assert preflight_request_of({"endpoint_name": "risk", **inputs}).grants == (
        GrantToCheck("service_principal", FRAUD_API, "endpoints.risk.access.grants[0].service_principal"),
        GrantToCheck("group", "support", "endpoints.risk.access.grants[1].group"),
        GrantToCheck("user", USER, "endpoints.risk.access.grants[2].user"),
    )


def test_a_preview_with_a_missing_granted_principal_fails_naming_its_key_path(objects):
    plugin = Plugin()
    plugin.configure({"host": objects.url, "token": DEPLOYER_TOKEN}, secret_keys={"token"})
    try:
        checks = {
            **endpoint_checks(),
            "grants": [
                {"kind": "user", "value": "nobody@example.com", "key_path": f"{PLUGIN_KEY}.access.grants[0].user"}
            ],
        }
        step = preflight_step({"endpoints": {"risk-classifier": checks}})
        plugin.deploy([step], preview=True)
    finally:
        plugin.close()
    assert f"{PLUGIN_KEY}.access.grants[0].user: no user nobody@example.com in this workspace" in step.error.details()
