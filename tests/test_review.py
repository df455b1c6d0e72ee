"""The offline review (`python -m review <stack>`): tree, policy verdicts, diffs, exit status.

The review runs the real program under Pulumi's mock engine, so what it prints for the repo's stacks is
stated here from the stack files; changes are made to private copies of a stack file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc

from review.diff import ABSENT, Change, FieldChange, diff_summaries, render_diff
from review.engine import PROJECT_DIR, DeclaredResource, ProgramRun, run_program
from review.policy_check import check_run
from review.summary import render_tree, summarize_run
from tests.support import (
    ENDPOINT,
    ENDPOINTS_KEY,
    SECRET_OWNER,
    SECRET_TOKEN,
    STACKS,
    declared_endpoint,
    review,
    write_stack_file,
)

PERMISSIONS = "databricks:index/permissions:Permissions"
COMPONENT = "serving:index:ServingEndpoint"
READINESS = "servingops:index:EndpointReadiness"
NOTIFICATIONS = "servingops:index:EndpointNotifications"
DEFAULTS_KEY = "databricks-serving:defaults"


@pytest.fixture(scope="module")
def text_reviews() -> dict[str, tuple[int, str, str]]:
    return {stack: review(stack) for stack in STACKS}


@pytest.fixture(scope="module")
def json_reviews() -> dict[str, dict[str, Any]]:
    return {stack: json.loads(review(stack, "--json")[1]) for stack in STACKS}


# --- the repo's own stacks -----------------------------------------------------------------------------


def test_prod_review_prints_each_endpoint_as_a_component_over_its_resources(text_reviews, json_reviews):
    lines = text_reviews["prod"][1].splitlines()
    lines = lines[lines.index("# Pulumi.prod.yaml") :]  # after the summary lines (tests/test_review_summary.py)
    assert lines[:2] == ["# Pulumi.prod.yaml", f"Stack prod: {len(json_reviews['prod']['resources'])} resources"]
    component = lines.index(f"{COMPONENT}  risk-classifier")
    children = [line for line in lines[component + 1 :] if line.startswith("    ") and not line.startswith("        ")]
    assert children[:8] == [
        "    databricks:index/alertV2:AlertV2  risk-classifier-alert-error-rate",
        "    databricks:index/alertV2:AlertV2  risk-classifier-alert-latency",
        "    databricks:index/alertV2:AlertV2  risk-classifier-alert-volume-drop",
        "    servingops:index:EndpointDeployment  risk-classifier-deployment",
        "    databricks:index/qualityMonitor:QualityMonitor  risk-classifier-drift-monitor",
        f"    {ENDPOINT}  risk-classifier-endpoint",
        f"    {NOTIFICATIONS}  risk-classifier-notifications",
        f"    {PERMISSIONS}  risk-classifier-permissions",
    ]


def test_prod_review_shows_versions_sizes_scale_to_zero_routes_access_and_tags(text_reviews):
    fields = {line.strip() for line in text_reviews["prod"][1].splitlines()}
    assert {
        "served_entities.risk_classifier-3.version: 3",
        "served_entities.risk_classifier-4.version: 4",
        "served_entities.risk_classifier-4.workload_size: Medium",
        "served_entities.risk_classifier-4.scale_to_zero: false",
        "traffic.risk_classifier-3: 90",
        "traffic.risk_classifier-4: 10",
        "access.service_principal:8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c: CAN_QUERY",
        "access.group:ml-platform-oncall: CAN_MANAGE",
        "tags.cost-center: cc-5120",
        "serving_endpoint_id: id of risk-classifier-endpoint",
    } <= fields


def test_dev_review_shows_its_one_scale_to_zero_model_with_all_traffic(text_reviews):
    fields = {line.strip() for line in text_reviews["dev"][1].splitlines()}
    assert {
        "name: dev-risk-classifier",
        "served_entities.risk_classifier-4.workload_size: Small",
        "served_entities.risk_classifier-4.scale_to_zero: true",
        "traffic.risk_classifier-4: 100",
    } <= fields


def test_json_review_lists_each_resource_with_its_parent_by_name(json_reviews):
    placed = {(r["type"], r["name"], r["parent"]) for r in json_reviews["prod"]["resources"]}
    assert {
        (COMPONENT, "fraud-scorer", None),
        (ENDPOINT, "fraud-scorer-endpoint", "fraud-scorer"),
        (PERMISSIONS, "fraud-scorer-permissions", "fraud-scorer"),
        (READINESS, "fraud-scorer-readiness", "fraud-scorer"),
    } <= placed


@pytest.mark.parametrize("stack", STACKS)
def test_the_repo_stacks_pass_every_policy_rule_and_exit_0(stack, text_reviews, json_reviews):
    document = json_reviews[stack]
    assert [(rule["name"], rule["passed"]) for rule in document["policy"]["rules"]] == [
        ("serving-endpoint-access", True),
        ("serving-endpoint-access-advisory", True),
        ("prod-endpoint-capacity", True),
        ("traffic-routes-complete", True),
        ("endpoint-required-tags", True),
        ("endpoint-has-readiness", True),
        ("environment-secrets-as-references", True),
        ("prod-endpoint-rate-limit", True),
        ("prod-external-model-gateway", True),
        ("prod-endpoint-alerts", True),
        ("unity-catalog-models", True),
    ]
    assert (document["exit_code"], text_reviews[stack][0]) == (0, 0)
    assert "Policy (11 rules): 0 mandatory violations, 0 advisory" in text_reviews[stack][1]


@pytest.mark.parametrize("stack", STACKS)
def test_the_readiness_verdict_follows_from_a_readiness_resource_next_to_each_endpoint(stack, json_reviews):
    resources = json_reviews[stack]["resources"]
    endpoints = {(r["parent"], r["fields"]["name"]) for r in resources if r["type"] == ENDPOINT}
    checked = {(r["parent"], r["fields"]["endpoint_name"]) for r in resources if r["type"] == READINESS}
    (readiness,) = [rule for rule in json_reviews[stack]["policy"]["rules"] if rule["name"] == "endpoint-has-readiness"]
    assert readiness["passed"] is (endpoints <= checked)


# --- secrets -------------------------------------------------------------------------------------------


def test_secret_inputs_show_as_secret_in_the_tree():
    declared = declared_endpoint(rpc.wrap_rpc_secret(SECRET_TOKEN), rpc.wrap_rpc_secret(SECRET_OWNER))
    tree = render_tree("prod", summarize_run([declared]))
    assert "    served_entities.risk-3.environment_vars.UPSTREAM_TOKEN: [secret]" in tree.splitlines()
    assert "    tags.owner: [secret]" in tree.splitlines()
    assert SECRET_TOKEN not in tree and SECRET_OWNER not in tree


def test_a_value_that_became_secret_shows_as_secret_in_the_diff():
    before = summarize_run([declared_endpoint("{{secrets/risk/upstream}}", "ml-platform")])
    after = summarize_run([declared_endpoint(rpc.wrap_rpc_secret(SECRET_TOKEN), "ml-platform")])
    (change,) = diff_summaries(before, after)
    assert change.fields == (
        FieldChange("served_entities.risk-3.environment_vars.UPSTREAM_TOKEN", "{{secrets/risk/upstream}}", "[secret]"),
    )


def test_policy_messages_show_secrets_as_secret():
    declared = declared_endpoint(rpc.wrap_rpc_secret(SECRET_TOKEN), rpc.wrap_rpc_secret(SECRET_OWNER))
    run = ProgramRun(stack="prod", resources=[declared])
    messages = [finding.message for verdict in check_run(run) for finding in verdict.findings]
    assert any("environment variable UPSTREAM_TOKEN: holds a credential in plain text" in m for m in messages)
    assert not any(SECRET_TOKEN in message or SECRET_OWNER in message for message in messages)


def test_the_json_review_of_a_stack_with_credentials_holds_none_of_them(tmp_path, prod_document):
    ciphertext = "v1:Zm9vYmFyYmF6cXV4eHl6enl4d3Z1dHNycXBvbm1sa2ppaGdmZWRjYmE="
    prod_document["config"]["databricks:token"] = {"secure": ciphertext}
    status, out, _ = review("prod", "--json", "--stack-file", str(write_stack_file(prod_document, tmp_path)))
    assert status == 0
    assert ciphertext not in out


# --- invalid stack files and usage ---------------------------------------------------------------------


def test_an_invalid_stack_file_gives_the_validation_message_and_exit_2(tmp_path, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["risk-classifier"]["traffic"]["risk_classifier-4"] = 20
    status, out, err = review("prod", "--stack-file", str(write_stack_file(prod_document, tmp_path)))
    assert (status, out) == (2, "")
    assert err.splitlines() == [
        f"{tmp_path / 'Pulumi.candidate.yaml'} has 1 configuration problem; nothing was declared:",
        "  - endpoints.risk-classifier.traffic: routes must sum to 100, they sum to 110",
    ]


def test_an_invalid_stack_file_in_json_mode_is_a_json_error_with_each_problem(tmp_path, prod_document):
    del prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["access"]
    status, out, _ = review("prod", "--json", "--stack-file", str(write_stack_file(prod_document, tmp_path)))
    document = json.loads(out)
    assert (status, document["exit_code"], document["error"]["kind"]) == (2, 2, "invalid_stack_file")
    assert document["error"]["problems"] == ["endpoints.fraud-scorer.access: is required"]


def test_a_stack_file_that_is_not_yaml_exits_2(tmp_path):
    broken = tmp_path / "Pulumi.prod.yaml"
    broken.write_text("config:\n  databricks-serving:endpoints: [unclosed\n")
    status, _, err = review("prod", "--stack-file", str(broken))
    assert status == 2
    assert err.startswith(f"{broken} is not valid YAML:")


def test_an_unknown_stack_is_a_usage_error_exit_2():
    status, _, err = review("staging")
    assert status == 2
    assert "invalid choice: 'staging'" in err


# --- policy verdicts decide the exit status ------------------------------------------------------------


def test_scale_to_zero_on_prod_is_a_mandatory_violation_and_exit_1(tmp_path, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["served_models"][0]["scale_to_zero"] = True
    status, out, _ = review("prod", "--stack-file", str(write_stack_file(prod_document, tmp_path)))
    assert status == 1
    assert "Policy (11 rules): 1 mandatory violation, 0 advisory" in out
    assert (
        "  FAIL  prod-endpoint-capacity [mandatory]\n"
        "          endpoint `prod-fraud-scorer` (fraud-scorer-endpoint), served entity `fraud_scorer-2`: scales to "
        "zero on prod, so a request can meet a cold start of minutes; set "
        "`endpoints.fraud-scorer.served_models[0].scale_to_zero` to false"
    ) in out


def without_owner(document: dict[str, Any]) -> dict[str, Any]:
    del document["config"][DEFAULTS_KEY]["tags"]["owner"]
    return document


def test_advisory_violations_alone_exit_0(tmp_path, prod_document):
    status, out, _ = review("prod", "--stack-file", str(write_stack_file(without_owner(prod_document), tmp_path)))
    assert status == 0
    assert "Policy (11 rules): 0 mandatory violations, 2 advisory" in out
    assert "  warn  endpoint-required-tags [advisory]" in out


def test_a_policy_config_makes_the_tag_rule_mandatory_as_for_pulumi_preview(tmp_path, prod_document):
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"endpoint-required-tags": {"enforcementLevel": "mandatory"}}))
    stack = write_stack_file(without_owner(prod_document), tmp_path)
    status, out, _ = review("prod", "--stack-file", str(stack), "--policy-config", str(config))
    assert status == 1
    assert "  FAIL  endpoint-required-tags [mandatory]" in out


def test_an_invalid_policy_config_exits_2(tmp_path):
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"endpoint-tags": "mandatory"}))
    status, _, err = review("prod", "--policy-config", str(config))
    assert status == 2
    assert err.startswith("policy config: unknown rule endpoint-tags;")


# --- diffs ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod_summaries():
    return summarize_run(run_program("prod").resources)


def summaries_of(document: dict[str, Any]):
    return summarize_run(run_program("prod", document=document).resources)


def change_of(changes, type_: str, name: str):
    (change,) = [change for change in changes if (change.type, change.name) == (type_, name)]
    return change


def field_changes(changes) -> set[tuple[str, str, str]]:
    """Every `field: before -> after` of the changed resources, whichever resource carries the field."""
    assert {change.change for change in changes} <= {Change.CHANGED}
    return {(field.field, json.dumps(field.before), json.dumps(field.after)) for c in changes for field in c.fields}


def test_a_traffic_change_shows_each_route_before_and_after(prod_summaries, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["risk-classifier"]["traffic"] = {
        "risk_classifier-3": 50,
        "risk_classifier-4": 50,
    }
    changes = diff_summaries(prod_summaries, summaries_of(prod_document))
    assert {
        ("traffic.risk_classifier-3", "90", "50"),
        ("traffic.risk_classifier-4", "10", "50"),
    } <= field_changes(changes)
    # Only what derives from the risk classifier's routes changes: not its access, not the other endpoint.
    assert all(change.name.startswith("risk-classifier-") for change in changes)
    assert PERMISSIONS not in {change.type for change in changes}
    text = render_diff(changes, "HEAD", "the working tree").splitlines()
    assert "        traffic.risk_classifier-3: 90 -> 50" in text
    assert "        traffic.risk_classifier-4: 10 -> 50" in text


def test_an_access_change_shows_the_principals_granted_and_revoked(prod_summaries, prod_document):
    access = prod_document["config"][ENDPOINTS_KEY]["risk-classifier"]["access"]
    access["query_service_principal"] = "11111111-2222-4333-8444-555555555555"
    access["manager_groups"].append("credit-risk-oncall")
    changes = diff_summaries(prod_summaries, summaries_of(prod_document))
    assert change_of(changes, PERMISSIONS, "risk-classifier-permissions").fields == (
        FieldChange("access.service_principal:11111111-2222-4333-8444-555555555555", ABSENT, "CAN_QUERY"),
        FieldChange("access.group:credit-risk-oncall", ABSENT, "CAN_MANAGE"),
        FieldChange("access.service_principal:8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c", "CAN_QUERY", ABSENT),
    )
    text = render_diff(changes, "HEAD", "the working tree")
    assert "        access.group:credit-risk-oncall: (absent) -> CAN_MANAGE" in text.splitlines()


def test_no_change_prints_only_no_changes(prod_summaries, prod_document):
    changes = diff_summaries(prod_summaries, summaries_of(prod_document))
    assert changes == []
    assert render_diff(changes, "HEAD", "the working tree") == "Changes from HEAD to the working tree: no changes"


def test_against_another_stack_compares_resources_by_name():
    status, out, _ = review("prod", "--against-stack", "dev")
    diff = out[out.index("Changes from stack dev to stack prod:") :].splitlines()
    assert status == 0
    assert f"  + {COMPONENT}  fraud-scorer" in diff
    assert "        name: dev-risk-classifier -> prod-risk-classifier" in diff
    assert "        served_entities.risk_classifier-4.scale_to_zero: true -> false" in diff


def test_the_json_diff_omits_the_side_a_field_is_absent_from():
    document = json.loads(review("prod", "--against-stack", "dev", "--json")[1])
    assert document["diff"]["changed"] is True
    (added,) = [r for r in document["diff"]["resources"] if r["name"] == "fraud-scorer-permissions"]
    assert added["change"] == "added"
    assert added["fields"][:2] == [
        {"field": "parent", "after": "fraud-scorer"},
        {"field": "serving_endpoint_id", "after": "id of fraud-scorer-endpoint"},
    ]


# --- issue 9: AI Gateway, route optimization, what applies at creation only ------------------------------


def test_prod_review_shows_rate_limits_usage_tracking_and_the_ai_gateway_inference_table(text_reviews):
    fields = {line.strip() for line in text_reviews["prod"][1].splitlines()}
    assert {
        "ai_gateway.rate_limits.endpoint: 6000 calls/minute",
        "ai_gateway.rate_limits.service_principal:8a4d6c2e-1f3b-4e5a-b7c9-0d1e2f3a4b5c: 3000 calls/minute",
        "ai_gateway.usage_tracking: true",
        "ai_gateway.fallback: false",
        "inference_table: main.serving_logs.risk_classifier_gateway* (AI Gateway)",
        "ai_gateway.rate_limits.endpoint: 12000 calls/minute",
    } <= fields


def test_the_review_says_which_keys_apply_at_creation_only(text_reviews):
    fields = {line.strip() for line in text_reviews["prod"][1].splitlines()}
    assert {
        "route_optimized (a change recreates the endpoint): false",
        "description (applies at creation only): Card fraud scorer for the payments gateway.",
        "notifications (at creation).on_update_failure: ml-platform-oncall@example.com",
    } <= fields


def test_a_per_caller_limit_without_a_principal_reads_per_caller():
    from review.summary import summarize

    declared = declared_endpoint("{{secrets/risk/upstream}}", "ml-platform")
    inputs = {**declared.inputs, "aiGateway": {"rateLimits": [{"calls": 20, "key": "user", "renewalPeriod": "minute"}]}}
    fields = summarize(DeclaredResource(**{**declared.__dict__, "inputs": inputs}))
    assert fields["ai_gateway.rate_limits.user"] == "20 calls/minute per user"
    assert (fields["ai_gateway.usage_tracking"], fields["ai_gateway.fallback"]) == (False, False)


def test_a_route_optimization_change_says_it_recreates_the_endpoint(prod_summaries, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["route_optimized"] = True
    changes = diff_summaries(prod_summaries, summaries_of(prod_document))
    text = render_diff(changes, "HEAD", "the working tree").splitlines()
    assert "        route_optimized (a change recreates the endpoint): false -> true" in text


def test_a_description_change_says_it_applies_at_creation_only(prod_summaries, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["description"] = "Card fraud scorer, v2."
    changes = diff_summaries(prod_summaries, summaries_of(prod_document))
    assert change_of(changes, ENDPOINT, "fraud-scorer-endpoint").fields == (
        FieldChange(
            "description (applies at creation only)",
            "Card fraud scorer for the payments gateway.",
            "Card fraud scorer, v2.",
        ),
    )


def test_with_the_opt_in_a_description_change_says_it_recreates_the_endpoint(prod_document):
    prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["recreate_on_description_change"] = True
    fields = change_of(summaries_of(prod_document), ENDPOINT, "fraud-scorer-endpoint").fields
    assert fields["description (a change recreates the endpoint)"] == "Card fraud scorer for the payments gateway."


def test_a_notifications_change_shows_on_the_resource_that_applies_it(prod_summaries, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["risk-classifier"]["notifications"]["on_update_success"] = [
        "credit-risk@example.com"
    ]
    changes = diff_summaries(prod_summaries, summaries_of(prod_document))
    assert change_of(changes, NOTIFICATIONS, "risk-classifier-notifications").fields == (
        FieldChange("on_update_success", [], ["credit-risk@example.com"]),
    )


def test_a_legacy_inference_table_declared_by_another_program_is_shown_as_refused():
    from review.summary import summarize

    declared = declared_endpoint("{{secrets/risk/upstream}}", "ml-platform")
    capture = {"enabled": True, "catalogName": "main", "schemaName": "logs", "tableNamePrefix": "risk"}
    inputs = {**declared.inputs, "config": {**declared.inputs["config"], "autoCaptureConfig": capture}}
    fields = summarize(DeclaredResource(**{**declared.__dict__, "inputs": inputs}))
    assert fields["inference_table (legacy, refused by Databricks since 2026-02-20)"] == (
        "main.logs.risk* (config.auto_capture_config)"
    )


def test_a_workspace_model_registry_model_is_an_advisory_violation_and_exit_0(tmp_path, prod_document):
    served = prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["served_models"][0]
    served["model"] = "FraudScorer"
    status, out, _ = review("prod", "--stack-file", str(write_stack_file(prod_document, tmp_path)))
    assert status == 0
    assert "Policy (11 rules): 0 mandatory violations, 1 advisory" in out
    assert "  warn  unity-catalog-models [advisory]" in out
    assert "served_entities.FraudScorer-2.model: FraudScorer" in out


def test_a_prod_endpoint_without_an_endpoint_wide_limit_is_advised_one_and_exit_0(tmp_path, prod_document):
    del prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["ai_gateway"]
    del prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["monitoring"]  # its alerts read the usage tables
    status, out, _ = review("prod", "--stack-file", str(write_stack_file(prod_document, tmp_path)))
    assert status == 0
    assert "  warn  prod-endpoint-rate-limit [advisory]" in out
    assert "endpoint `prod-fraud-scorer` (fraud-scorer-endpoint): has no endpoint-wide rate limit on prod" in out


# --- against a git revision: that revision's own program and stack file --------------------------------

LEGACY_RESOURCE = """
import pulumi_databricks as legacy

legacy.Permissions(
    "legacy-permissions",
    serving_endpoint_id="legacy-endpoint-id",
    access_controls=[legacy.PermissionsAccessControlArgs(group_name="legacy-team", permission_level="CAN_MANAGE")],
)
"""


def git(checkout: Path, *args: str) -> None:
    identity = ["-c", "user.name=review-test", "-c", "user.email=review@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=checkout, check=True, capture_output=True)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A git copy of this project with two commits.

    HEAD~1: an extra resource in the program, 90/10 traffic, and no `review/` (so today's engine runs it);
    HEAD: today's program with its own `review/`, 50/50 traffic.
    """
    checkout = tmp_path_factory.mktemp("checkout")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, checkout / name)
    for package in ("components", "serving"):
        shutil.copytree(PROJECT_DIR / package, checkout / package, ignore=shutil.ignore_patterns("__pycache__"))
    program = (checkout / "__main__.py").read_text()
    (checkout / "__main__.py").write_text(program + LEGACY_RESOURCE)
    git(checkout, "init", "--quiet")
    git(checkout, "add", ".")
    git(checkout, "commit", "--quiet", "-m", "old program, 90/10, before the review existed")

    shutil.copytree(PROJECT_DIR / "review", checkout / "review", ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "__main__.py").write_text(program)
    stack = yaml.safe_load((checkout / "Pulumi.prod.yaml").read_text())
    stack["config"][ENDPOINTS_KEY]["risk-classifier"]["traffic"] = {"risk_classifier-3": 50, "risk_classifier-4": 50}
    (checkout / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack))
    git(checkout, "add", ".")
    git(checkout, "commit", "--quiet", "-m", "new program, 50/50, with the review")
    return checkout


@pytest.mark.slow
def test_against_a_revision_runs_that_revisions_own_program_and_stack_file(checkout):
    """HEAD~1 predates `review/`: today's engine runs its program, with its own components and stack file."""
    status, out, err = review("prod", "--against", "HEAD~1", "--json", project_dir=checkout)
    assert status == 0, err
    resources = json.loads(out)["diff"]["resources"]
    assert [(r["change"], r["name"]) for r in resources if r["change"] != "changed"] == [
        ("removed", "legacy-permissions")
    ]
    changed_fields = [field for r in resources if r["change"] == "changed" for field in r["fields"]]
    assert {"field": "traffic.risk_classifier-3", "before": 90, "after": 50} in changed_fields
    assert {"field": "traffic.risk_classifier-4", "before": 10, "after": 50} in changed_fields


@pytest.mark.slow
def test_against_the_revision_the_tree_matches_there_are_no_changes(checkout):
    """HEAD has its own `review/`: its own engine runs its program."""
    status, out, _ = review("prod", "--against", "HEAD", project_dir=checkout)
    assert status == 0
    assert out.rstrip().splitlines()[-1].endswith("to the working tree: no changes")


def test_against_an_unknown_revision_exits_2(checkout):
    status, _, err = review("prod", "--against", "no-such-branch", project_dir=checkout)
    assert (status, err.strip()) == (2, "`no-such-branch` is not a revision of this repository")


def test_a_stack_file_that_cannot_be_read_is_a_json_error_in_json_mode(tmp_path):
    broken = tmp_path / "Pulumi.prod.yaml"
    broken.write_bytes(b"config:\n  databricks-serving:defaults: {name_prefix: \xff}\n")
    status, out, _ = review("prod", "--json", "--stack-file", str(broken))
    document = json.loads(out)
    assert (status, document["error"]["kind"]) == (2, "invalid_stack_file")
    assert document["error"]["message"] == f"{broken} is not UTF-8 text (byte 0xff on line 2); save it as UTF-8"


def test_a_yaml_problem_is_reported_with_the_models_problems_in_json_mode(tmp_path, prod_document):
    prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["served_models"][0]["version"] = "OCTAL"
    del prod_document["config"][ENDPOINTS_KEY]["fraud-scorer"]["access"]
    stack = tmp_path / "Pulumi.prod.yaml"
    text = yaml.safe_dump(prod_document).replace("version: OCTAL", "version: 010")
    stack.write_text(text)
    line = text.splitlines().index(next(row for row in text.splitlines() if "version: 010" in row)) + 1
    status, out, _ = review("prod", "--json", "--stack-file", str(stack))
    problems = json.loads(out)["error"]["problems"]
    assert status == 2
    assert problems == [
        "endpoints.fraud-scorer.served_models[0].version = 010: YAML reads 010 as the octal number 8; write 8, "
        f'or quote it ("010") if it is text (line {line})',
        "endpoints.fraud-scorer.access: is required",
    ]


def test_a_failure_of_the_review_itself_exits_3_never_1(monkeypatch):
    import review.__main__ as command

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(command, "review", broken)
    status, _, err = review("prod")
    assert status == 3
    assert "RuntimeError: a bug" in err
    assert err.rstrip().endswith("this is a bug, not a verdict on the stack")
