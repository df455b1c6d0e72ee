"""`review --live` compares every field the stack declares, shows each difference with both values, and resolves
aliases as the program does (review/live.py: `endpoint_fields`, `COMPARED`)."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from review.engine import run_program, unwrap
from review.live import COMPARED, NOTIFICATIONS, declared_fields, declared_views, is_compared
from review.summary import MODEL_SERVING, SERVING_ENDPOINT, summarize_run
from tests.support import (
    DEPLOYER_TOKEN,
    AnsweringMocks,
    by_alias,
    deploy_by_config,
    review,
    wait_until_not_updating,
    write_stack_file,
)

RISK = "prod-risk-classifier"
FRAUD = "prod-fraud-scorer"
RISK_MODEL = "main.risk.risk_classifier"
# Not compared as fields of the ModelServing: the name is what the report reads the endpoint by; the declared
# traffic is the readiness target (a rollout's ModelServing starts from the live split); the e-mail
# notifications are the EndpointNotifications' (the ModelServing sends them at creation only).
NOT_FIELDS_OF_MODEL_SERVING = ("name", "config.trafficConfig", "emailNotifications")


# --- every declared field is compared -------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_every_field_a_stack_declares_is_one_the_live_report_compares(stack_runs, stack):
    run = stack_runs[stack]
    declared = declared_views(summarize_run(run.resources), run.resources)
    assert declared
    for endpoint in declared:
        assert [name for name in endpoint.fields if not is_compared(name)] == [], (endpoint.view.key, COMPARED)


def _leaves(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(f"{path}.{key}" if path else key, item)
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for index, item in enumerate(value):
            yield from _leaves(f"{path}[{index}]", item)
    else:
        yield path, value


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, list):
        return [*value, "someone-else@example.com"]
    return f"{value}-changed"


def _set(document: Any, path: str, value: Any) -> None:
    parts = path.replace("[", ".[").split(".")
    for part in parts[:-1]:
        document = document[int(part[1:-1])] if part.startswith("[") else document[part]
    last = parts[-1]
    if last.startswith("["):
        document[int(last[1:-1])] = value
    else:
        document[last] = value


def test_a_change_of_any_declared_leaf_changes_a_compared_field(stack_runs):
    """Flattens each declared endpoint (ModelServing and EndpointNotifications inputs) leaf by leaf: changing
    any one of them changes what the live report compares, so no declared field is left out silently."""
    run = stack_runs["prod"]
    summaries = summarize_run(run.resources)
    views = {endpoint.view.key: endpoint for endpoint in declared_views(summaries, run.resources)}
    checked = 0
    for key, endpoint in views.items():
        (serving,) = [r for r in run.of_type(MODEL_SERVING) if r.name == f"{key}-endpoint"]
        notified = [r for r in run.of_type(NOTIFICATIONS) if r.name == f"{key}-notifications"]
        notifications = unwrap(notified[0].inputs) if notified else None
        inputs = unwrap(serving.inputs)
        for path, value in _leaves("", inputs):
            if path.startswith(NOT_FIELDS_OF_MODEL_SERVING):
                continue
            changed = copy.deepcopy(inputs)
            _set(changed, path, _changed(value))
            assert declared_fields(changed, endpoint.view, notifications) != endpoint.fields, f"{key}: {path}"
            checked += 1
        for path, value in _leaves("", notifications or {}):
            if path == "endpoint_name":
                continue
            changed = {**notifications, path: _changed(value)}
            assert declared_fields(inputs, endpoint.view, changed) != endpoint.fields, f"{key}: {path}"
            checked += 1
    assert checked >= 40


# --- drift made by hand, each class shown in the summary, the details and the JSON ----------------------


@pytest.fixture
def workspace(monkeypatch) -> Iterator[Any]:
    from tests.support import emulator_workspace

    yield from emulator_workspace(monkeypatch)


@pytest.fixture
def deployed_prod(workspace) -> dict[str, str]:
    return deploy_by_config(workspace, run_program("prod"))


def live(*argv: str) -> tuple[int, list[str], dict[str, dict[str, Any]]]:
    """Exit status, the text report's lines and the JSON report's endpoints by key."""
    status, out, err = review(*argv, "--live")
    json_status, json_out, _ = review(*argv, "--live", "--json")
    assert json_status == status, err
    endpoints = {endpoint["key"]: endpoint for endpoint in json.loads(json_out)["live"]["endpoints"]}
    return status, out.splitlines(), endpoints


def endpoint_of(workspace, name: str) -> dict[str, Any]:
    return requests.get(
        f"{workspace.url}/api/2.0/serving-endpoints/{name}", headers=workspace.headers(DEPLOYER_TOKEN), timeout=10
    ).json()


def put_config(workspace, name: str, entities: list[dict[str, Any]]) -> None:
    assert requests.put(
        f"{workspace.url}/api/2.0/serving-endpoints/{name}/config",
        json={"served_entities": entities},
        headers=workspace.headers(DEPLOYER_TOKEN),
        timeout=10,
    ).ok
    wait_until_not_updating(workspace, name)


def fraud_entity(**changes: Any) -> dict[str, Any]:
    return {
        "name": "fraud_scorer-2",
        "entity_name": "main.fraud.fraud_scorer",
        "entity_version": "2",
        "workload_size": "Large",
        "workload_type": "CPU",
        "scale_to_zero_enabled": False,
        "environment_vars": {
            "FEATURE_STORE_TOKEN": "{{secrets/fraud-scoring/feature-store-token}}",
            "SCORE_THRESHOLD": "0.82",
        },
        **changes,
    }


def test_notifications_changed_by_hand_are_drift_with_both_address_lists(workspace, deployed_prod):
    body = {
        "email_notifications": {"on_update_failure": ["someone@example.com"], "on_update_success": ["team@example.com"]}
    }
    assert requests.patch(
        f"{workspace.url}/api/2.0/serving-endpoints/{RISK}/notifications",
        json=body,
        headers=workspace.headers(DEPLOYER_TOKEN),
        timeout=10,
    ).ok
    status, lines, endpoints = live("prod")
    assert status == 4
    assert lines[2] == (
        "  risk-classifier: drift: notifications on_update_failure declared ml-platform-oncall@example.com, live "
        "someone@example.com; notifications on_update_success declared (none), live team@example.com "
        "(READY, NOT_UPDATING)"
    )
    assert (
        "  ! notifications on_update_failure: declared ml-platform-oncall@example.com, live someone@example.com"
        in lines
    )
    risk = endpoints["risk-classifier"]
    assert risk["notifications"] == {
        "on_update_failure": {"declared": ["ml-platform-oncall@example.com"], "live": ["someone@example.com"]},
        "on_update_success": {"declared": [], "live": ["team@example.com"]},
    }
    assert [item["aspect"] for item in risk["drift"]] == ["notifications", "notifications"]


def test_size_and_scale_to_zero_changes_are_in_the_summary_the_details_and_the_json(workspace, deployed_prod):
    put_config(workspace, FRAUD, [fraud_entity(workload_size="Small", scale_to_zero_enabled=True)])
    status, lines, endpoints = live("prod")
    assert status == 4
    assert lines[1] == (
        "  fraud-scorer: drift: fraud_scorer-2 scale_to_zero_enabled declared false, live true; fraud_scorer-2 "
        "workload_size declared Large, live Small (READY, NOT_UPDATING)"
    )
    assert "  ! served entity fraud_scorer-2 workload_size: declared Large, live Small" in lines
    assert "  ! served entity fraud_scorer-2 scale_to_zero_enabled: declared false, live true" in lines
    assert "    served entity fraud_scorer-2 workload_type: declared CPU, live CPU" in lines
    fields = endpoints["fraud-scorer"]["fields"]
    assert fields["served_entities.fraud_scorer-2.workload_size"] == {
        "declared": "Large",
        "live": "Small",
        "differs": True,
    }
    assert fields["served_entities.fraud_scorer-2.scale_to_zero_enabled"] == {
        "declared": False,
        "live": True,
        "differs": True,
    }
    (entity,) = endpoints["fraud-scorer"]["served_entities"]
    assert entity["fields"]["workload_size"] == {"declared": "Large", "live": "Small", "differs": True}


def test_a_workload_type_change_is_drift(workspace, deployed_prod):
    put_config(workspace, FRAUD, [fraud_entity(workload_type="GPU_SMALL")])
    status, lines, _ = live("prod")
    assert status == 4
    assert "  ! served entity fraud_scorer-2 workload_type: declared CPU, live GPU_SMALL" in lines


def test_an_environment_variable_pointed_at_another_secret_shows_both_references(workspace, deployed_prod):
    put_config(
        workspace,
        FRAUD,
        [
            fraud_entity(
                environment_vars={"FEATURE_STORE_TOKEN": "{{secrets/other-scope/token}}", "SCORE_THRESHOLD": "0.82"}
            )
        ],
    )
    status, lines, endpoints = live("prod")
    assert status == 4
    assert lines[1] == (
        "  fraud-scorer: drift: fraud_scorer-2 environment_vars.FEATURE_STORE_TOKEN declared "
        "{{secrets/fraud-scoring/feature-store-token}}, live {{secrets/other-scope/token}} (READY, NOT_UPDATING)"
    )
    assert endpoints["fraud-scorer"]["fields"][
        "served_entities.fraud_scorer-2.environment_vars.FEATURE_STORE_TOKEN"
    ] == {
        "declared": "{{secrets/fraud-scoring/feature-store-token}}",
        "live": "{{secrets/other-scope/token}}",
        "differs": True,
    }


def test_a_variable_added_by_hand_is_drift_and_its_plain_value_is_not_shown(workspace, deployed_prod):
    put_config(
        workspace,
        FRAUD,
        [
            fraud_entity(
                environment_vars={
                    "FEATURE_STORE_TOKEN": "{{secrets/fraud-scoring/feature-store-token}}",
                    "SCORE_THRESHOLD": "0.82",
                    "DEBUG_PASSWORD": "hunter2-hunter2",
                }
            )
        ],
    )
    status, lines, endpoints = live("prod")
    assert status == 4
    assert lines[1] == (
        "  fraud-scorer: drift: fraud_scorer-2 environment_vars.DEBUG_PASSWORD declared (none), "
        "live (a value, not shown) (READY, NOT_UPDATING)"
    )
    assert "hunter2" not in "\n".join(lines) + json.dumps(endpoints)


def test_an_ai_gateway_feature_changed_by_hand_is_drift_naming_the_setting(workspace, deployed_prod):
    gateway = {
        "usage_tracking_config": {"enabled": True},
        "rate_limits": [{"calls": 500, "key": "endpoint", "renewal_period": "minute"}],
    }
    assert requests.put(
        f"{workspace.url}/api/2.0/serving-endpoints/{FRAUD}/ai-gateway",
        json=gateway,
        headers=workspace.headers(DEPLOYER_TOKEN),
        timeout=10,
    ).ok
    status, lines, endpoints = live("prod")
    assert status == 4
    assert lines[1] == (
        "  fraud-scorer: drift: AI Gateway rate_limits[endpoint].calls declared 12000, live 500 (READY, NOT_UPDATING)"
    )
    assert endpoints["fraud-scorer"]["ai_gateway"]["rate_limits[endpoint].calls"] == {"declared": 12000, "live": 500}


def test_every_declared_field_is_in_the_json_with_both_values_when_as_declared(deployed_prod, stack_runs):
    status, _, endpoints = live("prod")
    assert status == 0
    run = stack_runs["prod"]
    for declared in declared_views(summarize_run(run.resources), run.resources):
        fields = endpoints[declared.view.key]["fields"]
        assert set(declared.fields) <= set(fields)
        assert [name for name, pair in fields.items() if pair["differs"]] == []
    assert endpoints["risk-classifier"]["endpoint"] == {
        "description": {
            "declared": "Credit risk classifier behind the loan decision API.",
            "live": "Credit risk classifier behind the loan decision API.",
        },
        "route_optimized": {"declared": False, "live": False},
    }


# --- aliases --------------------------------------------------------------------------------------------


@pytest.fixture
def alias_stack(workspace, prod_document, tmp_path) -> str:
    """The prod stack with the candidate declared `@champion`, deployed while the alias points at 4."""
    document = by_alias(prod_document)
    deploy_by_config(
        workspace,
        run_program(
            "prod",
            document=by_alias(copy.deepcopy(prod_document)),
            mocks=AnsweringMocks({(RISK_MODEL, "@champion"): "4"}),
        ),
    )
    return str(write_stack_file(document, tmp_path))


def test_an_entity_declared_by_alias_compares_equal_to_the_version_the_alias_points_at(alias_stack):
    status, lines, endpoints = live("prod", "--stack-file", alias_stack)
    assert status == 0
    assert lines[2] == "  risk-classifier: as declared (READY, NOT_UPDATING)"
    assert "    served entity risk_classifier-champion: declared @champion (= 4), live v4 DEPLOYMENT_READY" in lines
    assert endpoints["risk-classifier"]["fields"]["served_entities.risk_classifier-champion.entity_version"] == {
        "declared": "@champion (= 4)",
        "live": "4",
        "differs": False,
    }


def test_an_alias_moved_since_the_deployment_is_drift_saying_both_versions(workspace, alias_stack):
    workspace.add_object("aliases", model=RISK_MODEL, alias="champion", version="5")
    status, lines, endpoints = live("prod", "--stack-file", alias_stack)
    assert status == 4
    assert lines[2] == (
        "  risk-classifier: drift: risk_classifier-champion entity_version declared @champion (= 5), "
        "live 4 (READY, NOT_UPDATING)"
    )
    assert "  ! served entity risk_classifier-champion: declared @champion (= 5), live v4 DEPLOYMENT_READY" in lines
    assert endpoints["risk-classifier"]["served_entities"][1]["declared_version"] == "@champion (= 5)"


def test_an_alias_that_cannot_be_resolved_is_said_so_not_claimed_as_drift(workspace, alias_stack):
    workspace.remove_object("aliases", model=RISK_MODEL, alias="champion")
    status, lines, endpoints = live("prod", "--stack-file", alias_stack)
    assert status == 0
    note = (
        "risk_classifier-champion version @champion not compared: the alias cannot be resolved (model "
        "main.risk.risk_classifier has no alias @champion in this workspace (or the model does not exist, or the "
        "deploying identity cannot see it))"
    )
    assert lines[2] == f"  risk-classifier: as declared (READY, NOT_UPDATING); {note}"
    assert endpoints["risk-classifier"]["notes"] == [note]
    assert endpoints["risk-classifier"]["drift"] == []


# --- secrets ----------------------------------------------------------------------------------------------


def test_a_declared_secret_is_compared_by_its_content_and_shown_as_secret_on_both_sides():
    from pulumi.runtime import rpc

    from review.live import compare, render_report, report_json
    from tests.support import SECRET_OWNER, SECRET_TOKEN, declared_endpoint

    resource = declared_endpoint(rpc.wrap_rpc_secret(SECRET_TOKEN), rpc.wrap_rpc_secret(SECRET_OWNER))
    component = dataclasses.replace(
        resource, urn=resource.parent, type=SERVING_ENDPOINT, name="risk", parent="", custom=False, inputs={}
    )
    (declared,) = declared_views(summarize_run([component, resource]), [component, resource])
    live_endpoint = {
        "name": "prod-risk",
        "id": "1",
        "state": {"ready": "READY", "config_update": "NOT_UPDATING"},
        "tags": [{"key": "owner", "value": "someone-else@example.com"}],
        "config": {
            "served_entities": [
                {
                    "name": "risk-3",
                    "entity_name": "main.risk.risk",
                    "entity_version": "3",
                    "workload_size": "Small",
                    "scale_to_zero_enabled": False,
                    "environment_vars": {"UPSTREAM_TOKEN": SECRET_TOKEN},
                }
            ]
        },
    }
    report = compare(declared.view, declared.fields, live_endpoint, {})
    assert report.fields["served_entities.risk-3.environment_vars.UPSTREAM_TOKEN"] == {
        "declared": "[secret]",
        "live": "(a value, not shown)",
        "differs": False,
    }
    assert report.fields["tags.owner"] == {"declared": "[secret]", "live": "[secret]", "differs": True}
    shown = (
        render_report([report], "https://workspace.example.com")
        + json.dumps(report_json([report], "https://workspace.example.com"))
        + report.line()
    )
    assert SECRET_TOKEN not in shown and SECRET_OWNER not in shown and "someone-else" not in shown
