"""`python -m review <stack> --live`: declared against what the workspace (the emulator) serves, read-only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulator.testing import EmulatorHandle
from review.engine import run_program
from tests.support import DEPLOYER_TOKEN, deploy_by_config, drift, emulator_workspace, review, wait_until_not_updating


@pytest.fixture
def workspace(monkeypatch) -> Iterator[EmulatorHandle]:
    yield from emulator_workspace(monkeypatch)


@pytest.fixture
def deployed_prod(workspace) -> dict[str, str]:
    return deploy_by_config(workspace, run_program("prod"))


def live_json(*extra: str) -> tuple[int, dict[str, Any]]:
    status, out, err = review("prod", "--live", "--json", *extra)
    assert out, err
    return status, json.loads(out)


def test_a_stack_deployed_as_declared_shows_no_drift_and_exits_0(deployed_prod):
    status, out, _ = review("prod", "--live")
    assert status == 0
    lines = out.splitlines()
    assert lines[1:3] == [
        "  fraud-scorer: as declared (READY, NOT_UPDATING)",
        "  risk-classifier: as declared (READY, NOT_UPDATING)",
    ]


def test_the_deploying_identity_is_shown_apart_not_as_an_extra_grant(deployed_prod):
    _, report = live_json()
    (risk,) = [endpoint for endpoint in report["live"]["endpoints"] if endpoint["key"] == "risk-classifier"]
    assert risk["deployer"] == "service_principal:6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01"
    assert risk["grants"] == {
        "service_principal:8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c": {"declared": "CAN_QUERY", "live": "CAN_QUERY"},
        "group:ml-platform-oncall": {"declared": "CAN_MANAGE", "live": "CAN_MANAGE"},
    }


def test_a_drifted_endpoint_shows_traffic_the_extra_grant_and_the_tag_and_exits_4(workspace, deployed_prod):
    drift(workspace, deployed_prod)
    status, out, _ = review("prod", "--live")
    assert status == 4
    lines = out.splitlines()
    assert lines[1] == "  fraud-scorer: as declared (READY, NOT_UPDATING)"
    assert lines[2] == (
        "  risk-classifier: drift: traffic declared 90/10, live 50/50; extra grant user:analyst@example.com "
        "CAN_QUERY; tag team declared credit-risk, live risk-ops (READY, NOT_UPDATING)"
    )
    assert "  ! traffic risk_classifier-4: declared 10, live 50" in lines
    assert "  ! grant user:analyst@example.com: declared (none), live CAN_QUERY" in lines
    assert "    served entity risk_classifier-4: declared v4, live v4 DEPLOYMENT_READY" in lines


def test_the_json_report_lists_each_drift_by_aspect(workspace, deployed_prod):
    drift(workspace, deployed_prod)
    status, report = live_json()
    assert status == 4 and report["exit_code"] == 4
    (risk,) = [endpoint for endpoint in report["live"]["endpoints"] if endpoint["key"] == "risk-classifier"]
    assert [item["aspect"] for item in risk["drift"]] == ["traffic", "grants", "tags"]
    assert risk["traffic"]["risk_classifier-3"] == {"declared": 90, "live": 50}
    assert risk["pending_config"] is None


def test_the_markdown_report_is_a_pr_comment_with_one_bullet_per_endpoint(workspace, deployed_prod):
    drift(workspace, deployed_prod)
    status, out, _ = review("prod", "--live", "--markdown")
    assert status == 4
    lines = out.splitlines()
    assert lines[0].startswith("### Stack prod: declared (Pulumi.prod.yaml) vs live (http://127.0.0.1:")
    assert lines[2] == "- **fraud-scorer**: as declared (READY, NOT\\_UPDATING)"
    assert lines[3].startswith("- **risk-classifier**: drift: traffic declared 90/10, live 50/50;")
    assert "<details><summary>Declared vs live, aspect by aspect</summary>" in lines


def test_an_update_in_progress_shows_its_pending_config(workspace, deployed_prod):
    workspace.stick_update("prod-fraud-scorer")
    headers = workspace.headers(DEPLOYER_TOKEN)
    body = {
        "served_entities": [
            {
                "name": "fraud_scorer-1",
                "entity_name": "main.fraud.fraud_scorer",
                "entity_version": "1",
                "workload_size": "Small",
                "scale_to_zero_enabled": False,
            }
        ]
    }
    assert requests.put(
        f"{workspace.url}/api/2.0/serving-endpoints/prod-fraud-scorer/config", json=body, headers=headers, timeout=10
    ).ok
    _, report = live_json()
    (fraud,) = [endpoint for endpoint in report["live"]["endpoints"] if endpoint["key"] == "fraud-scorer"]
    assert fraud["pending_config"] == {"entities": {"fraud_scorer-1": "1"}, "traffic": {"fraud_scorer-1": 100}}
    assert fraud["state"]["config_update"] == "IN_PROGRESS"
    workspace.release_update("prod-fraud-scorer")


def test_an_endpoint_missing_from_the_workspace_is_drift(workspace):
    status, out, _ = review("prod", "--live")
    assert status == 4
    assert "  fraud-scorer: drift: endpoint prod-fraud-scorer does not exist in the workspace" in out.splitlines()


def test_the_live_report_only_reads(workspace, deployed_prod):
    before = workspace.counters()["api_calls"]
    review("prod", "--live")
    calls = {call: count - before.get(call, 0) for call, count in workspace.counters()["api_calls"].items()}
    assert {call.split()[0] for call, count in calls.items() if count} == {"GET"}


def test_a_rejected_credential_is_an_error_exit_2_without_the_token(workspace, monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi0123456789abcdef0123456789abcdef")
    status, out, err = review("prod", "--live")
    assert status == 2
    assert "live report: cannot read prod-fraud-scorer" in err
    assert "dapi0123456789abcdef0123456789abcdef" not in out + err


def test_an_environment_variable_that_differs_shows_the_reference_never_the_live_value(workspace, deployed_prod):
    token = "dapi0123456789abcdef0123456789abcdef"
    headers = workspace.headers(DEPLOYER_TOKEN)
    body = {
        "served_entities": [
            {
                "name": "fraud_scorer-2",
                "entity_name": "main.fraud.fraud_scorer",
                "entity_version": "2",
                "workload_size": "Large",
                "scale_to_zero_enabled": False,
                "environment_vars": {"FEATURE_STORE_TOKEN": token, "SCORE_THRESHOLD": "0.82"},
            }
        ]
    }
    assert requests.put(
        f"{workspace.url}/api/2.0/serving-endpoints/prod-fraud-scorer/config", json=body, headers=headers, timeout=10
    ).ok
    wait_until_not_updating(workspace, "prod-fraud-scorer")
    outputs = {mode: review("prod", "--live", *mode) for mode in ((), ("--json",), ("--markdown",))}
    assert [status for status, _, _ in outputs.values()] == [4, 4, 4]
    assert all(token not in out + err for _, out, err in outputs.values())
    assert outputs[()][1].splitlines()[1] == (
        "  fraud-scorer: drift: fraud_scorer-2 environment_vars.FEATURE_STORE_TOKEN declared "
        "{{secrets/fraud-scoring/feature-store-token}}, live (a value, not shown) (READY, NOT_UPDATING)"
    )
    (fraud,) = json.loads(outputs[("--json",)][1])["live"]["endpoints"][:1]
    assert fraud["fields"]["served_entities.fraud_scorer-2.environment_vars.SCORE_THRESHOLD"] == {
        "declared": "0.82",
        "live": "0.82",
        "differs": False,
    }
