"""`python -m review import` against a declared stack file: a round trip that keeps the file's comments and
says what it overwrote, the policy pack's verdicts on the result, the deployer's own CAN_MANAGE left alone,
and clear failures where nothing can be read or nothing matches."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from components.stack_file import read_stack_file
from emulator.testing import EmulatorHandle
from review.adopt import (
    Adopted,
    Finding,
    differences,
    file_indent,
    is_deployer,
    kept_as_declared,
    rewrite_stack_file,
)
from review.engine import PROJECT_DIR, run_program
from tests.support import (
    DEPLOYER_TOKEN,
    QUERY_PRINCIPAL,
    adopt,
    create_by_hand,
    deploy_by_config,
    drift,
    emulator_workspace,
    wait_until_not_updating,
)

DEPLOYER = "6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01"
"""The service principal DEPLOYER_TOKEN stands for in the emulator (its default tokens)."""
USER_TOKEN = "dapi-emulator-user"
USER = "analyst@example.com"
DECLARED = PROJECT_DIR / "Pulumi.prod.yaml"


@pytest.fixture
def workspace(monkeypatch) -> Iterator[EmulatorHandle]:
    yield from emulator_workspace(monkeypatch)


@pytest.fixture
def deployed_prod(workspace: EmulatorHandle) -> dict[str, str]:
    return deploy_by_config(workspace, run_program("prod"))


def changed_lines(written: Path) -> list[str]:
    """The lines of the written stack file that differ from the declared one (`-` declared, `+` written)."""
    diff = difflib.unified_diff(DECLARED.read_text().splitlines(), written.read_text().splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


# --- the round trip -------------------------------------------------------------------------------------


def test_a_stack_deployed_as_declared_is_written_back_byte_for_byte(deployed_prod, tmp_path):
    status, out, _ = adopt("--stack", "prod", "--output-dir", str(tmp_path))
    assert status == 0, out
    assert (tmp_path / "Pulumi.prod.yaml").read_text() == DECLARED.read_text()
    assert "  prod-risk-classifier (" in out
    assert out.count("as declared: the stack file's entry is kept as it is") == 2


def test_only_the_values_the_workspace_contradicts_are_rewritten_comments_and_all_else_kept(
    workspace, deployed_prod, tmp_path
):
    drift(workspace, deployed_prod)  # traffic 50/50, a user's CAN_QUERY, tag team risk-ops
    status, _, _ = adopt("--stack", "prod", "--output-dir", str(tmp_path))
    assert status == 1  # prod is strict: the user's grant, now declared, is a mandatory policy violation
    assert changed_lines(tmp_path / "Pulumi.prod.yaml") == [
        "-        risk_classifier-3: 90",
        "-        risk_classifier-4: 10",
        "+        risk_classifier-3: 50",
        "+        risk_classifier-4: 50",
        "+        grants:",
        "+          - {user: analyst@example.com, level: CAN_QUERY}",
        "-        team: credit-risk",
        "+        team: risk-ops",
    ]


def test_what_the_import_overwrote_is_reported_by_key_path_declared_to_live(workspace, deployed_prod, tmp_path):
    drift(workspace, deployed_prod)
    status, out, _ = adopt("--stack", "prod", "--output-dir", str(tmp_path))
    assert status == 1
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("  prod-risk-classifier (")))
    assert lines[start + 1 : start + 5] == [
        "    ~ endpoints.risk-classifier.traffic.risk_classifier-3: 90 -> 50",
        "    ~ endpoints.risk-classifier.traffic.risk_classifier-4: 10 -> 50",
        '    ~ endpoints.risk-classifier.access.grants: (absent) -> [{"user": "analyst@example.com", "level": '
        '"CAN_QUERY"}]',
        "    ~ endpoints.risk-classifier.tags.team: credit-risk -> risk-ops",
    ]


def test_the_json_report_lists_each_change_with_its_declared_and_live_value(workspace, deployed_prod, tmp_path):
    drift(workspace, deployed_prod)
    status, out, _ = adopt("--stack", "prod", "--output-dir", str(tmp_path), "--json")
    assert status == 1
    endpoints = {endpoint["key"]: endpoint for endpoint in json.loads(out)["endpoints"]}
    assert endpoints["risk-classifier"]["changes"] == [
        {"path": "endpoints.risk-classifier.traffic.risk_classifier-3", "declared": 90, "live": 50},
        {"path": "endpoints.risk-classifier.traffic.risk_classifier-4", "declared": 10, "live": 50},
        {
            "path": "endpoints.risk-classifier.access.grants",
            "live": [{"user": "analyst@example.com", "level": "CAN_QUERY"}],
        },
        {"path": "endpoints.risk-classifier.tags.team", "declared": "credit-risk", "live": "risk-ops"},
    ]
    assert endpoints["fraud-scorer"]["changes"] == [] and endpoints["fraud-scorer"]["new"] is False


def test_a_declared_setting_the_live_endpoint_lacks_is_removed_and_reported_as_absent(
    workspace, deployed_prod, tmp_path
):
    headers = workspace.headers(DEPLOYER_TOKEN)
    assert requests.patch(
        f"{workspace.url}/api/2.0/serving-endpoints/prod-risk-classifier/notifications",
        json={"email_notifications": {}},
        headers=headers,
        timeout=10,
    ).ok
    status, out, _ = adopt("--stack", "prod", "--output-dir", str(tmp_path), "--json")
    assert status == 0
    (risk,) = [endpoint for endpoint in json.loads(out)["endpoints"] if endpoint["key"] == "risk-classifier"]
    assert risk["changes"] == [
        {
            "path": "endpoints.risk-classifier.notifications",
            "declared": {"on_update_failure": ["ml-platform-oncall@example.com"]},
        }
    ]
    assert (
        '    ~ endpoints.risk-classifier.notifications: {"on_update_failure": ["ml-platform-oncall@example.com"]}'
        " -> (absent)"
    ) in adopt("--stack", "prod", "--output-dir", str(tmp_path))[1].splitlines()
    written = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())
    assert "notifications" not in written["config"]["databricks-serving:endpoints"]["risk-classifier"]


def test_a_declared_value_that_means_what_the_live_one_means_is_kept_as_written():
    defaults = {"name_prefix": "prod-", "tags": {"environment": "prod"}}
    declared = {
        "served_models": [
            {
                "model": "main.m.m",
                "version": 3,
                "workload_type": "CPU",
                "scale_to_zero": False,
                "workload_size": "Small",
            }
        ],
        "access": {"query_service_principal": QUERY_PRINCIPAL},
        "tags": {"environment": "prod"},
    }
    live = {
        "served_models": [{"model": "main.m.m", "version": 3, "workload_size": "Small", "scale_to_zero": False}],
        "access": {"query_service_principal": QUERY_PRINCIPAL},
    }
    assert kept_as_declared("prod", defaults, "m", declared, live) == declared


def test_a_declared_value_the_workspace_contradicts_is_not_kept():
    declared = {
        "served_models": [{"model": "main.m.m", "version": 3, "workload_size": "Small"}],
        "access": {"query_service_principal": QUERY_PRINCIPAL},
    }
    live = {
        "served_models": [{"model": "main.m.m", "version": 4, "workload_size": "Small"}],
        "access": {"query_service_principal": QUERY_PRINCIPAL},
    }
    entry = kept_as_declared("prod", {"name_prefix": "prod-"}, "m", declared, live)
    assert entry == live
    assert differences(declared, entry) == [(("served_models", 0, "version"), 3, 4)]


def test_an_environment_variable_change_is_reported_without_its_values(workspace, deployed_prod, tmp_path):
    headers = workspace.headers(DEPLOYER_TOKEN)
    endpoint = requests.get(
        f"{workspace.url}/api/2.0/serving-endpoints/prod-fraud-scorer", headers=headers, timeout=10
    ).json()
    (entity,) = endpoint["config"]["served_entities"]
    kept = ("name", "entity_name", "entity_version", "workload_size", "scale_to_zero_enabled", "environment_vars")
    changed = {key: entity[key] for key in kept}
    changed["environment_vars"] = {**entity["environment_vars"], "SCORE_THRESHOLD": "0.91"}
    assert requests.put(
        f"{workspace.url}/api/2.0/serving-endpoints/prod-fraud-scorer/config",
        json={"served_entities": [changed]},
        headers=headers,
        timeout=10,
    ).ok
    wait_until_not_updating(workspace, "prod-fraud-scorer")
    status, out, _ = adopt("--stack", "prod", "--output-dir", str(tmp_path))
    assert status == 0
    assert (
        "    ~ endpoints.fraud-scorer.served_models[0].environment_vars.SCORE_THRESHOLD: [value not shown] -> "
        "[value not shown]"
    ) in out.splitlines()
    assert "0.91" not in out


# --- the policy pack on what was written -------------------------------------------------------------


def test_the_policy_verdicts_of_the_written_stack_file_are_reported(deployed_prod, tmp_path):
    status, out, _ = adopt("--stack", "prod", "--output-dir", str(tmp_path), "--json")
    assert status == 0
    policy = json.loads(out)["policy"]
    assert policy["mandatory_violations"] == 0
    assert {"serving-endpoint-access", "prod-endpoint-capacity", "endpoint-has-readiness"} <= {
        rule["name"] for rule in policy["rules"] if rule["passed"]
    }


def test_a_mandatory_policy_violation_in_the_written_stack_file_exits_1(workspace, tmp_path):
    create_by_hand(
        workspace, "prod-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    config = tmp_path / "policy-config.json"
    config.write_text(
        json.dumps({"endpoint-required-tags": {"enforcementLevel": "mandatory", "required_tags": ["team"]}})
    )
    out_dir = tmp_path / "adopted"
    status, out, _ = adopt(
        "--stack", "prod", "prod-recommender", "--output-dir", str(out_dir), "--policy-config", str(config)
    )
    assert status == 1
    assert "  FAIL  endpoint-required-tags [mandatory]" in out.splitlines()
    assert (out_dir / "Pulumi.prod.yaml").is_file()


def test_an_invalid_written_stack_file_is_not_judged_by_the_policy_pack_and_exits_4(workspace, tmp_path):
    create_by_hand(workspace, "prod-recommender", [])  # no query principal: the entry needs an edit
    status, out, _ = adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path), "--json")
    assert status == 4
    assert json.loads(out)["policy"] is None


# --- the deployer's own CAN_MANAGE --------------------------------------------------------------------


def test_the_deployers_own_can_manage_is_neither_a_finding_nor_a_declared_grant(workspace, tmp_path):
    create_by_hand(
        workspace, "prod-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    status, out, _ = adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path), "--json")
    assert status == 0
    report = json.loads(out)
    assert report["deployer"] == DEPLOYER
    (endpoint,) = report["endpoints"]
    assert not [finding for finding in endpoint["findings"] if DEPLOYER in finding["message"]]
    written = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())
    assert written["config"]["databricks-serving:endpoints"]["recommender"]["access"] == {
        "query_service_principal": QUERY_PRINCIPAL
    }


def test_the_creators_can_manage_becomes_a_user_grant_when_another_identity_deploys(workspace, tmp_path):
    headers = workspace.headers(USER_TOKEN)
    body = {
        "name": "prod-recommender",
        "config": {
            "served_entities": [
                {
                    "entity_name": "main.recs.recommender",
                    "entity_version": "7",
                    "workload_size": "Small",
                    "scale_to_zero_enabled": False,
                }
            ]
        },
    }
    created = requests.post(f"{workspace.url}/api/2.0/serving-endpoints", json=body, headers=headers, timeout=10)
    assert created.ok, created.text
    grants = {
        "access_control_list": [
            {"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"},
            {"service_principal_name": DEPLOYER, "permission_level": "CAN_MANAGE"},
        ]
    }
    assert requests.patch(
        f"{workspace.url}/api/2.0/permissions/serving-endpoints/{created.json()['id']}",
        json=grants,
        headers=headers,
        timeout=10,
    ).ok
    wait_until_not_updating(workspace, "prod-recommender")
    status, out, _ = adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path), "--json")
    (endpoint,) = json.loads(out)["endpoints"]
    written = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())
    assert written["config"]["databricks-serving:endpoints"]["recommender"]["access"] == {
        "query_service_principal": QUERY_PRINCIPAL,
        "grants": [{"user": USER, "level": "CAN_MANAGE"}],
    }
    assert [finding["message"] for finding in endpoint["findings"] if finding["key"] == "access"] == [
        f"user {USER} created the endpoint and holds CAN_MANAGE, but the import runs as {DEPLOYER}: declared as a "
        "grant, since the Permissions resource keeps CAN_MANAGE only for the identity that runs pulumi up (deploy "
        "as a service principal: an endpoint runs as its creator)"
    ]
    assert not [finding for finding in endpoint["findings"] if finding["breaks_rules"]]
    assert status == 1  # prod is strict: a person's grant is a mandatory policy violation


def test_the_deployer_is_matched_without_regard_to_case_as_terraform_does():
    assert is_deployer("Deployer@Example.com", "deployer@example.com")
    assert not is_deployer("someone@example.com", "deployer@example.com")
    assert not is_deployer("someone@example.com", None)


# --- nothing to adopt, nothing readable -----------------------------------------------------------------


def test_nothing_matching_is_an_error_naming_the_prefix_and_the_principal_and_writes_nothing(workspace, tmp_path):
    create_by_hand(
        workspace, "dev-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    status, _, err = adopt("--stack", "prod", "--output-dir", str(tmp_path / "adopted"))
    assert status == 2
    assert err.startswith(
        f"import: no endpoint in {workspace.url} whose name starts with `prod-` is visible to {DEPLOYER}: none "
        f"exists, or {DEPLOYER} holds no permission on it"
    )
    assert f"{DEPLOYER} sees dev-recommender (name them, or give --match)" in err
    assert not (tmp_path / "adopted").exists()


def test_nothing_matching_in_json_is_an_error_of_its_own_kind(workspace, tmp_path):
    status, out, _ = adopt("--stack", "prod", "--output-dir", str(tmp_path / "adopted"), "--json")
    assert status == 2
    assert json.loads(out)["error"]["kind"] == "nothing_matching"


def test_a_principal_that_may_not_view_the_endpoint_is_told_what_to_grant(workspace, tmp_path, monkeypatch):
    create_by_hand(
        workspace, "prod-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    monkeypatch.setenv("DATABRICKS_TOKEN", USER_TOKEN)
    status, _, err = adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path / "adopted"))
    assert status == 2
    assert err.startswith(
        f"import: principal {USER} cannot view endpoint prod-recommender in {workspace.url}: "
        "grant it CAN_VIEW on the endpoint (HTTP 403 PERMISSION_DENIED:"
    )
    assert not (tmp_path / "adopted").exists()


def test_a_listing_the_principal_sees_nothing_of_says_so_rather_than_adopting_nothing(workspace, tmp_path, monkeypatch):
    create_by_hand(
        workspace, "prod-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    monkeypatch.setenv("DATABRICKS_TOKEN", USER_TOKEN)
    status, _, err = adopt("--stack", "prod", "--output-dir", str(tmp_path / "adopted"))
    assert status == 2
    assert f"is visible to {USER}: none exists, or {USER} holds no permission on it" in err
    assert "grant it CAN_VIEW" in err
    assert not (tmp_path / "adopted").exists()


def test_an_endpoint_outside_the_prefix_alone_writes_no_stack_file(workspace, tmp_path):
    create_by_hand(
        workspace, "dev-recommender", [{"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"}]
    )
    status, out, _ = adopt("--stack", "prod", "dev-recommender", "--output-dir", str(tmp_path / "adopted"))
    assert status == 4
    assert "Nothing written: no endpoint could be adopted into this stack." in out
    assert not (tmp_path / "adopted").exists()


# --- the rewrite itself -----------------------------------------------------------------------------------


def recommender(*findings: Finding) -> Adopted:
    entry = {
        "served_models": [
            {"model": "main.recs.recommender", "version": 7, "workload_size": "Small", "scale_to_zero": False}
        ],
        "access": {"query_service_principal": QUERY_PRINCIPAL},
    }
    return Adopted("prod-recommender", "recommender", "0123", entry, list(findings))


def test_importing_again_writes_the_same_file_rather_than_piling_up_adopt_comments(tmp_path):
    adopted = recommender(
        Finding("access", "every workspace user holds CAN_QUERY today (`users`)"),
        Finding("", "no readiness.warmup.input_example", breaks_rules=False),
    )
    first = rewrite_stack_file("prod", "https://example.invalid", read_stack_file(DECLARED), [adopted], "prod-")
    again = tmp_path / "Pulumi.prod.yaml"
    again.write_text(first.text)
    second = rewrite_stack_file("prod", "https://example.invalid", read_stack_file(again), [adopted], "prod-")
    assert second.text == first.text
    assert first.text.count("# ADOPT: ") == 2


def test_a_stack_without_a_stack_file_gets_one_with_its_host_prefix_and_entries():
    rewrite = rewrite_stack_file("staging", "https://example.invalid", None, [recommender()], "prod-")
    document = yaml.safe_load(rewrite.text)
    assert rewrite.text.startswith("# Stack staging: written by `python -m review import --stack staging`")
    assert document["config"]["databricks:host"] == "https://example.invalid"
    assert document["config"]["databricks-serving:defaults"] == {"name_prefix": "prod-"}
    assert list(document["config"]["databricks-serving:endpoints"]) == ["recommender"]
    assert rewrite.new == {"recommender"}


def test_the_indentation_of_the_declared_file_is_the_one_written():
    assert file_indent(DECLARED.read_text()) == (2, 4, 2)
    assert file_indent("config:\n    a:\n    - 1\n") == (4, 2, 0)
