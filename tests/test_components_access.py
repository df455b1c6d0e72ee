"""The program declares the access a stack file asks for, and the review judges it by that stack's policy.

The real `__main__.py` runs under Pulumi's mock engine with a copy of a repo stack file given extra grants:
they reach the Permissions resource as pulumi-databricks access controls, and the offline review reports them
mandatory on prod (strict) and advisory on dev (lenient), as the stack files' `policy` sections say.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import StackConfigError
from review.engine import run_program, unwrap
from review.policy_check import check_run

ENDPOINTS_KEY = "databricks-serving:endpoints"
SECOND_APP = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"
GRANTS = [
    {"service_principal": SECOND_APP, "level": "CAN_QUERY"},
    {"group": "fraud-analysts", "level": "CAN_QUERY"},
    {"user": "support@example.com", "level": "CAN_VIEW"},
]


def with_grants(document: dict[str, Any], key: str, grants: list[dict[str, Any]]) -> dict[str, Any]:
    document = copy.deepcopy(document)
    document["config"][ENDPOINTS_KEY][key]["access"]["grants"] = grants
    return document


def findings(run, rule: str) -> list[str]:
    (verdict,) = [verdict for verdict in check_run(run) if verdict.rule.name == rule]
    return [finding.message for finding in verdict.findings]


def test_declared_grants_follow_the_default_form_in_the_permissions(prod_document):
    run = run_program("prod", document=with_grants(prod_document, "fraud-scorer", GRANTS))
    assert unwrap(run.named("fraud-scorer-permissions").inputs)["accessControls"] == [
        {"servicePrincipalName": "c2b7e9f1-5a3d-4c8e-a6b4-7d9e0f1a2b3c", "permissionLevel": "CAN_QUERY"},
        {"groupName": "ml-platform-oncall", "permissionLevel": "CAN_MANAGE"},
        {"groupName": "fraud-analytics", "permissionLevel": "CAN_MANAGE"},
        {"servicePrincipalName": SECOND_APP, "permissionLevel": "CAN_QUERY"},
        {"groupName": "fraud-analysts", "permissionLevel": "CAN_QUERY"},
        {"userName": "support@example.com", "permissionLevel": "CAN_VIEW"},
    ]


def test_prod_reports_each_declared_grant_as_a_mandatory_violation(prod_document):
    run = run_program("prod", document=with_grants(prod_document, "fraud-scorer", GRANTS))
    messages = findings(run, "serving-endpoint-access")
    subject = "Permissions fraud-scorer-permissions (serving endpoint)"
    assert [message.split(";")[0] for message in messages] == [
        f"{subject}: grants CAN_QUERY to service principal `{SECOND_APP}`",
        f"{subject}: grants CAN_QUERY to group `fraud-analysts`",
        f"{subject}: grants CAN_VIEW to user `support@example.com`",
    ]
    assert all("remove it from `endpoints.fraud-scorer.access.grants`" in message for message in messages)
    assert findings(run, "serving-endpoint-access-advisory") == []


def test_dev_reports_the_same_grants_as_advisory_but_users_as_mandatory(stack_documents):
    grants = [*GRANTS, {"group": "users", "level": "CAN_VIEW"}]
    run = run_program("dev", document=with_grants(stack_documents["dev"], "risk-classifier", grants))
    assert len(findings(run, "serving-endpoint-access-advisory")) == 3
    (mandatory,) = findings(run, "serving-endpoint-access")
    assert mandatory.startswith(
        "Permissions risk-classifier-permissions (serving endpoint): grants CAN_VIEW to `users`, a workspace-wide group"
    )


def test_the_repo_stacks_set_prod_strict_and_dev_lenient(stack_runs):
    policies = {stack: stack_runs[stack].config["databricks-serving:policy"] for stack in ("dev", "prod")}
    assert policies == {
        "dev": '{"grants_beyond_default": "advisory", "workspace_wide_grants": "mandatory"}',
        "prod": '{"grants_beyond_default": "mandatory", "workspace_wide_grants": "mandatory"}',
    }


def test_a_grant_to_the_deploying_service_principal_fails_the_program(prod_document):
    document = with_grants(prod_document, "fraud-scorer", [{"service_principal": SECOND_APP, "level": "CAN_VIEW"}])
    document["config"]["databricks:clientId"] = SECOND_APP
    with pytest.raises(StackConfigError) as caught:
        run_program("prod", document=document)
    assert [problem.split(":")[0] for problem in caught.value.problems] == [
        "endpoints.fraud-scorer.access.grants[0].service_principal = '1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b'"
    ]
