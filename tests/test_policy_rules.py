"""The guardrails (policy/rules.py), each with passing and violating resources, and the pack that serves them.

Rules are called directly with resources shaped as the engine declares them (camelCase properties); the
pack's wiring is called through pulumi_policy's own argument types, and once as a real pack process.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import subprocess
import sys
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, unknown_checking_proxy

from policy.pack import policies
from policy.rules import (
    RULES,
    UNKNOWN,
    Enforcement,
    Options,
    PolicyConfigError,
    Resource,
    check_endpoint_access,
    check_endpoint_readiness,
    check_environment_secrets,
    check_prod_capacity,
    check_prod_external_model_gateway,
    check_prod_rate_limit,
    check_required_tags,
    check_traffic_routes,
    check_unity_catalog_models,
    evaluate,
)
from review.engine import PROJECT_DIR
from tests.support import (
    RISK_QUERY_PRINCIPAL,
    TAGS,
    alert,
    endpoint,
    group,
    permissions,
    readiness,
    reported,
    served,
    service_principal,
    user,
    validation_args,
    verdict_of,
)

# --- resources as the engine declares them ------------------------------------------------------------


def with_environment(variables: dict[str, str]) -> Resource:
    return endpoint(entities=[served("risk-3", environmentVars=variables)])


def limited(resource: Resource, *limits: Any) -> Resource:
    """`resource` with an AI Gateway of these rate limits; by default one endpoint-wide limit."""
    rate_limits = list(limits) if limits else [{"calls": 1000, "key": "endpoint", "renewalPeriod": "minute"}]
    return dataclasses.replace(resource, props={**resource.props, "aiGateway": {"rateLimits": rate_limits}})


# --- query access --------------------------------------------------------------------------------------


def test_query_access_for_a_service_principal_and_manage_for_a_named_group_pass():
    grants = permissions(service_principal(), group("ml-platform-oncall"))
    assert check_endpoint_access(grants, Options()) == []


def test_query_access_for_a_group_is_a_violation_naming_the_group_and_the_fix():
    assert check_endpoint_access(permissions(group("risk-analysts", "CAN_QUERY")), Options()) == [
        "Permissions risk-permissions (serving endpoint): grants CAN_QUERY to group `risk-analysts`; the secure "
        "default gives groups CAN_MANAGE only and query access to one service principal; remove it from "
        "`endpoints.risk.access.grants`, or accept it on this stack with `policy.grants_beyond_default: advisory` "
        "in the stack file (it stays flagged in every review)"
    ]


def test_any_grant_to_an_individual_user_is_a_violation():
    messages = check_endpoint_access(
        permissions(user("ana@example.com", "CAN_QUERY"), user("bo@example.com", "CAN_MANAGE")), Options()
    )
    assert [message.split(";")[0] for message in messages] == [
        "Permissions risk-permissions (serving endpoint): grants CAN_QUERY to user `ana@example.com`",
        "Permissions risk-permissions (serving endpoint): grants CAN_MANAGE to user `bo@example.com`",
    ]


@pytest.mark.parametrize("broad", ["users", "account users", "Users "])
def test_a_workspace_wide_group_gets_no_grant_even_manage(broad):
    (message,) = check_endpoint_access(permissions(group(broad, "CAN_MANAGE")), Options())
    assert message.startswith(f"Permissions risk-permissions (serving endpoint): grants CAN_MANAGE to `{broad}`, ")
    assert message.endswith(
        "a workspace-wide group: everybody in the workspace; remove it from `endpoints.risk.access.grants`, or "
        "accept it on this stack with `policy.workspace_wide_grants: advisory` in the stack file (it stays "
        "flagged in every review)"
    )


def test_permissions_of_anything_but_a_serving_endpoint_are_not_judged():
    job_grants = permissions(group("users", "CAN_VIEW"), bound_to="jobId")
    assert check_endpoint_access(job_grants, Options()) == []


# --- prod capacity -------------------------------------------------------------------------------------


def test_a_prod_endpoint_with_a_workload_size_and_scale_to_zero_off_passes():
    assert check_prod_capacity(endpoint(), Options(stack="prod")) == []


def test_scale_to_zero_on_a_prod_stack_is_a_violation():
    resource = endpoint(entities=[served("risk-3", scale_to_zero=True)])
    assert check_prod_capacity(resource, Options(stack="prod")) == [
        "endpoint `prod-risk` (risk-endpoint), served entity `risk-3`: scales to zero on prod, so a request can "
        "meet a cold start of minutes; set `endpoints.risk.served_models[0].scale_to_zero` to false"
    ]


def test_scale_to_zero_left_unset_on_prod_is_a_violation():
    (message,) = check_prod_capacity(endpoint(entities=[served("risk-3", scale_to_zero=None)]), Options(stack="prod"))
    assert message.endswith(
        "leaves scale-to-zero unset on prod, so the workspace decides; "
        "set `endpoints.risk.served_models[0].scale_to_zero: false` explicitly"
    )


def test_a_prod_served_entity_without_a_workload_size_is_a_violation():
    (message,) = check_prod_capacity(endpoint(entities=[served("risk-3", size=None)]), Options(stack="prod"))
    assert message == (
        "endpoint `prod-risk` (risk-endpoint), served entity `risk-3`: has no explicit workload size on prod; "
        "set `endpoints.risk.served_models[0].workload_size` (Small, Medium or Large) or a range "
        "`endpoints.risk.served_models[0].provisioned_concurrency` (min and max)"
    )


def test_a_provisioned_concurrency_range_is_an_explicit_size_unless_it_starts_at_zero():
    ranged = served("risk-3", size=None, minProvisionedConcurrency=4.0, maxProvisionedConcurrency=8.0)
    from_zero = served("risk-4", size=None, minProvisionedConcurrency=0.0, maxProvisionedConcurrency=8.0)
    messages = check_prod_capacity(
        endpoint(entities=[ranged, from_zero], routes={"risk-3": 100, "risk-4": 0}), Options(stack="prod")
    )
    assert [message.split(":")[0] for message in messages] == [
        "endpoint `prod-risk` (risk-endpoint), served entity `risk-4`"
    ]
    assert messages[0].endswith(
        "provisioned concurrency starts at 0 on prod, which lets it scale to zero; raise "
        "`endpoints.risk.served_models[1].provisioned_concurrency.min` to at least 4"
    )


def test_scale_to_zero_outside_prod_passes():
    resource = endpoint(entities=[served("risk-3", scale_to_zero=True, size=None)], tags={**TAGS, "environment": "dev"})
    assert check_prod_capacity(resource, Options(stack="dev")) == []


def test_an_environment_tag_of_prod_makes_an_endpoint_prod_on_any_stack():
    resource = endpoint(entities=[served("risk-3", scale_to_zero=True)])  # tagged environment: prod
    assert len(check_prod_capacity(resource, Options(stack="sandbox"))) == 1


def test_prod_stacks_are_configurable_as_glob_patterns():
    resource = endpoint(entities=[served("risk-3", scale_to_zero=True)], tags={})
    options = Options(stack="live-eu", prod_stacks=("live-*",))
    assert len(check_prod_capacity(resource, options)) == 1
    assert check_prod_capacity(resource, Options(stack="live-eu")) == []


# --- traffic routes ------------------------------------------------------------------------------------


def test_a_90_10_split_over_both_served_entities_passes():
    resource = endpoint(entities=[served("risk-3"), served("risk-4")], routes={"risk-3": 90.0, "risk-4": 10.0})
    assert check_traffic_routes(resource, Options()) == []


def test_one_served_entity_needs_no_traffic_config():
    assert check_traffic_routes(endpoint(routes={}), Options()) == []


def test_routes_that_do_not_sum_to_100_are_a_violation_showing_the_split():
    resource = endpoint(entities=[served("risk-3"), served("risk-4")], routes={"risk-3": 90, "risk-4": 20})
    assert check_traffic_routes(resource, Options()) == [
        "endpoint `prod-risk` (risk-endpoint): traffic routes sum to 110%, not 100% (risk-3: 90, risk-4: 20); "
        "make `endpoints.risk.traffic` sum to 100"
    ]


def test_a_served_entity_without_a_route_is_a_violation():
    resource = endpoint(entities=[served("risk-3"), served("risk-4")], routes={"risk-3": 100})
    assert check_traffic_routes(resource, Options()) == [
        "endpoint `prod-risk` (risk-endpoint): served entities without a route: risk-4; give each a percentage "
        "in `endpoints.risk.traffic` (0 keeps an entity deployed but idle)"
    ]


def test_a_route_to_no_served_entity_is_a_violation():
    resource = endpoint(entities=[served("risk-3")], routes={"risk-3": 50, "risk-9": 50})
    assert check_traffic_routes(resource, Options()) == [
        "endpoint `prod-risk` (risk-endpoint): routes name no served entity: risk-9; served entities are risk-3: "
        "fix the names in `endpoints.risk.traffic`"
    ]


def test_several_served_entities_without_traffic_config_are_a_violation():
    resource = endpoint(entities=[served("risk-3"), served("risk-4")], routes={})
    assert check_traffic_routes(resource, Options()) == [
        "endpoint `prod-risk` (risk-endpoint): serves risk-3, risk-4 but declares no traffic routes; give each "
        "a percentage in `endpoints.risk.traffic`, summing to 100"
    ]


def test_a_percentage_that_is_not_a_whole_number_0_to_100_is_a_violation():
    resource = endpoint(entities=[served("risk-3"), served("risk-4")], routes={"risk-3": 120, "risk-4": -20})
    (message,) = check_traffic_routes(resource, Options())
    assert message.endswith(
        "traffic percentages must be whole numbers 0-100, found risk-3: 120, risk-4: -20; fix them in "
        "`endpoints.risk.traffic`"
    )


def test_an_unnamed_served_entity_is_routed_by_its_default_name():
    unnamed = {"entityName": "main.risk.risk_classifier", "entityVersion": "4", "workloadSize": "Small"}
    resource = endpoint(entities=[unnamed], routes={"risk_classifier-4": 100})
    assert check_traffic_routes(resource, Options()) == []


# --- required tags -------------------------------------------------------------------------------------


def test_an_endpoint_with_owner_cost_center_and_environment_passes():
    assert check_required_tags(endpoint(), Options()) == []


def test_missing_and_empty_required_tags_are_named_with_where_to_add_them():
    resource = endpoint(tags={"owner": "ml-platform", "environment": ""})
    assert check_required_tags(resource, Options()) == [
        "endpoint `prod-risk` (risk-endpoint): lacks the required tags cost-center, environment; add them to "
        "`defaults.tags` (every endpoint of the stack) or `endpoints.risk.tags`"
    ]


def test_required_tags_are_configurable():
    options = Options(required_tags=("team",))
    assert check_required_tags(endpoint(tags={"team": "credit-risk"}), options) == []
    assert len(check_required_tags(endpoint(), options)) == 1


def test_missing_tags_are_advisory_by_default():
    (rule,) = [rule for rule in RULES if rule.name == "endpoint-required-tags"]
    assert rule.enforcement is Enforcement.ADVISORY


# --- readiness -----------------------------------------------------------------------------------------


def test_an_endpoint_with_a_sibling_readiness_check_for_its_name_passes():
    assert check_endpoint_readiness([endpoint(), readiness()], Options()) == []


def test_an_endpoint_without_readiness_is_a_violation_at_the_endpoint():
    resource = endpoint()
    (finding,) = check_endpoint_readiness([resource, readiness(key="fraud", endpoint_name="prod-fraud")], Options())
    assert (finding.resource, finding.urn) == ("risk-endpoint", resource.urn)
    assert finding.message == (
        "endpoint `prod-risk` (risk-endpoint): has no readiness check, so `pulumi up` ends before the endpoint "
        "serves; declare the endpoint as an entry of `endpoints` (`endpoints.risk`, its settings under "
        "`endpoints.risk.readiness`), which comes with its check, or declare an EndpointReadiness for `prod-risk` "
        "next to it (same parent)"
    )


def test_a_readiness_check_under_another_parent_does_not_count():
    elsewhere = readiness(parent="urn:pulumi:prod::databricks-serving::serving:index:Other::x")
    assert len(check_endpoint_readiness([endpoint(), elsewhere], Options())) == 1


def test_a_sibling_readiness_check_for_another_endpoint_is_a_violation():
    (finding,) = check_endpoint_readiness([endpoint(), readiness(endpoint_name="prod-fraud")], Options())
    assert finding.message == (
        "endpoint `prod-risk` (risk-endpoint): no readiness check next to it checks this endpoint "
        "(risk-readiness checks `prod-fraud`); declare the endpoint as an entry of `endpoints` (`endpoints.risk`, "
        "its settings under `endpoints.risk.readiness`), which comes with its check, or point that check at "
        "`prod-risk`"
    )


def test_a_readiness_endpoint_name_unknown_during_preview_is_not_a_violation():
    assert check_endpoint_readiness([endpoint(), readiness(endpoint_name=UNKNOWN)], Options()) == []


# --- secrets in environment variables ------------------------------------------------------------------


def test_secret_references_and_plain_settings_pass():
    variables = {"FEATURE_STORE_TOKEN": "{{secrets/fraud-scoring/feature-store-token}}", "SCORE_THRESHOLD": "0.82"}
    assert check_environment_secrets(with_environment(variables), Options()) == []


def test_a_credential_named_variable_in_plain_text_is_a_violation_that_never_repeats_the_value():
    (message,) = check_environment_secrets(with_environment({"FEATURE_STORE_TOKEN": "hunter2-plain"}), Options())
    assert message == (
        "endpoint `prod-risk` (risk-endpoint), served entity `risk-3`, environment variable FEATURE_STORE_TOKEN: "
        "holds a credential in plain text; store it in a Databricks secret scope and write "
        "`endpoints.risk.served_models[0].environment_vars.FEATURE_STORE_TOKEN` as `{{secrets/<scope>/<key>}}` "
        "instead"
    )
    assert "hunter2" not in message


def test_a_databricks_token_under_an_innocent_name_is_a_violation():
    token = "dapi" + "0123456789abcdef" * 2
    (message,) = check_environment_secrets(with_environment({"UPSTREAM": token}), Options())
    assert "environment variable UPSTREAM: holds a credential in plain text" in message
    assert token not in message


def test_a_malformed_secret_reference_is_a_violation():
    (message,) = check_environment_secrets(with_environment({"DB_PASSWORD": "{{secrets/only-scope}}"}), Options())
    assert message.endswith(
        "environment variable DB_PASSWORD: is a malformed secret reference; write "
        "`endpoints.risk.served_models[0].environment_vars.DB_PASSWORD` as exactly `{{secrets/<scope>/<key>}}`"
    )


# --- running the set, with a policy config -------------------------------------------------------------


def test_every_rule_has_a_verdict_in_order():
    verdicts = evaluate([limited(endpoint()), permissions(service_principal()), readiness(), alert()], "prod")
    assert [(verdict.rule.name, verdict.passed) for verdict in verdicts] == [
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


def test_a_policy_config_overrides_a_rule_level_and_options():
    config = {"endpoint-required-tags": {"enforcementLevel": "mandatory", "required_tags": ["team"]}}
    verdict = verdict_of("endpoint-required-tags", evaluate([endpoint()], "prod", config))
    assert verdict.enforcement is Enforcement.MANDATORY
    assert [finding.message.split(";")[0] for finding in verdict.findings] == [
        "endpoint `prod-risk` (risk-endpoint): lacks the required tag team"
    ]


def test_a_disabled_rule_reports_nothing():
    verdicts = evaluate([endpoint()], "prod", {"endpoint-has-readiness": "disabled"})
    verdict = verdict_of("endpoint-has-readiness", verdicts)
    assert (verdict.enforcement, verdict.findings) == (Enforcement.DISABLED, ())


def test_a_policy_config_naming_an_unknown_rule_or_option_is_refused():
    with pytest.raises(PolicyConfigError, match="unknown rule endpoint-tags"):
        evaluate([], "prod", {"endpoint-tags": "advisory"})
    with pytest.raises(PolicyConfigError, match="prod-endpoint-capacity: unknown option `required_tags`"):
        evaluate([], "prod", {"prod-endpoint-capacity": {"required_tags": ["x"]}})


# --- the pack: the same rules through pulumi_policy ----------------------------------------------------


def stack_resource(resource: Resource) -> PolicyResource:
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], resource.parent)
    props = unknown_checking_proxy(copy.deepcopy(dict(resource.props)))
    return PolicyResource(resource.type, props, resource.urn, resource.name, options, None, None, [], {})


def pack_policy(name: str, stack: str = "prod"):
    (policy,) = [policy for policy in policies(lambda: stack) if policy.name == name]
    return policy


def test_the_pack_serves_every_rule_at_its_level():
    assert [(type(policy).__name__, policy.name, policy.enforcement_level.value) for policy in policies()] == [
        ("ResourceValidationPolicy", "serving-endpoint-access", "mandatory"),
        ("ResourceValidationPolicy", "serving-endpoint-access-advisory", "advisory"),
        ("ResourceValidationPolicy", "prod-endpoint-capacity", "mandatory"),
        ("ResourceValidationPolicy", "traffic-routes-complete", "mandatory"),
        ("ResourceValidationPolicy", "endpoint-required-tags", "advisory"),
        ("StackValidationPolicy", "endpoint-has-readiness", "mandatory"),
        ("ResourceValidationPolicy", "environment-secrets-as-references", "mandatory"),
        ("ResourceValidationPolicy", "prod-endpoint-rate-limit", "advisory"),
        ("ResourceValidationPolicy", "prod-external-model-gateway", "mandatory"),
        ("StackValidationPolicy", "prod-endpoint-alerts", "advisory"),
        ("ResourceValidationPolicy", "unity-catalog-models", "advisory"),
    ]


def test_a_pack_resource_policy_reports_the_rule_message():
    args = validation_args(permissions(group("users", "CAN_QUERY")))
    assert reported(pack_policy("serving-endpoint-access"), args) == [
        (check_endpoint_access(permissions(group("users", "CAN_QUERY")), Options())[0], None)
    ]


def test_the_pack_judges_prod_by_the_stack_the_cli_runs_it_for(monkeypatch):
    resource = endpoint(entities=[served("risk-3", scale_to_zero=True)], tags={})
    (policy,) = [policy for policy in policies() if policy.name == "prod-endpoint-capacity"]
    monkeypatch.setenv("PULUMI_STACK", "prod")
    assert len(reported(policy, validation_args(resource))) == 1
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert reported(policy, validation_args(resource)) == []


def test_the_pack_reads_rule_options_from_the_policy_pack_config():
    args = validation_args(endpoint(), config={"required_tags": ["owner", "team"]})
    ((message, _),) = reported(pack_policy("endpoint-required-tags"), args)
    assert message.startswith("endpoint `prod-risk` (risk-endpoint): lacks the required tag team;")


def test_a_value_unknown_during_preview_is_not_a_violation_of_the_pack():
    unknown_scale_to_zero = endpoint(entities=[served("risk-3", scale_to_zero=UNKNOWN_BOOLEAN_VALUE)])
    assert reported(pack_policy("prod-endpoint-capacity"), validation_args(unknown_scale_to_zero)) == []


def test_the_pack_stack_policy_reports_an_endpoint_without_readiness_at_its_urn():
    resource = endpoint()
    args = StackValidationArgs([stack_resource(resource), stack_resource(readiness(key="other"))])
    assert [urn for _, urn in reported(pack_policy("endpoint-has-readiness"), args)] == [resource.urn]


def test_the_pack_runs_in_the_runtime_virtualenv_with_pulumi_policy_pinned_in_the_runtime_requirements():
    project = yaml.safe_load((PROJECT_DIR / "policy" / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": "../venv"}}
    pins = {
        path: [line for line in (PROJECT_DIR / path).read_text().splitlines() if line.startswith("pulumi-policy==")]
        for path in ("policy/requirements.txt", "requirements.txt")
    }
    assert pins["policy/requirements.txt"] == pins["requirements.txt"] == ["pulumi-policy==1.21.0"]


@pytest.mark.slow
def test_the_pack_process_serves_the_rules_to_the_engine_over_grpc():
    """Started as the CLI starts it (`python -m pulumi.policy <engine> .` in policy/), asked as the engine asks."""
    import grpc
    from google.protobuf import empty_pb2, struct_pb2
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment.update(PULUMI_STACK="prod", PULUMI_PROJECT="databricks-serving", PULUMI_DRY_RUN="true")
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=PROJECT_DIR / "policy",
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert port.isdigit(), process.stderr.read()  # type: ignore[union-attr]
        analyzer = analyzer_pb2_grpc.AnalyzerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
        assert [policy.name for policy in info.policies] == [rule.name for rule in RULES]

        resource = limited(endpoint(entities=[served("risk-3", scale_to_zero=True)]))
        properties = struct_pb2.Struct()
        properties.update(dict(resource.props))
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=properties,
            options=analyzer_pb2.AnalyzerResourceOptions(parent=resource.parent),
        )
        diagnostics = analyzer.Analyze(request).diagnostics
        assert [(d.policyName, d.enforcementLevel, d.message.splitlines()[-1]) for d in diagnostics] == [
            ("prod-endpoint-capacity", analyzer_pb2.MANDATORY, check_prod_capacity(resource, Options("prod"))[0])
        ]
    finally:
        process.terminate()
        process.communicate(timeout=10)


# --- issue 9: rate limits on prod, Unity Catalog models ----------------------------------------------


def test_a_prod_endpoint_with_an_endpoint_wide_rate_limit_passes():
    assert check_prod_rate_limit(limited(endpoint()), Options(stack="prod")) == []


def test_a_limit_without_a_key_is_endpoint_wide_as_databricks_defaults_it():
    assert check_prod_rate_limit(limited(endpoint(), {"calls": 100, "renewalPeriod": "minute"}), Options("prod")) == []


def test_a_prod_endpoint_without_an_endpoint_wide_rate_limit_is_advised_one():
    expected = [
        "endpoint `prod-risk` (risk-endpoint): has no endpoint-wide rate limit on prod, so one caller can take all "
        "of its capacity; add an AI Gateway rate limit with key `endpoint`: "
        "`endpoints.risk.ai_gateway.rate_limits: [{calls: <calls per minute>}]`"
    ]
    assert check_prod_rate_limit(endpoint(), Options(stack="prod")) == expected
    per_caller = limited(endpoint(), {"calls": 10, "key": "service_principal", "principal": RISK_QUERY_PRINCIPAL})
    assert check_prod_rate_limit(per_caller, Options(stack="prod")) == expected


def test_a_rate_limit_is_not_asked_of_a_dev_endpoint():
    assert check_prod_rate_limit(endpoint(tags={**TAGS, "environment": "dev"}), Options(stack="dev")) == []


def test_a_prod_endpoint_tagged_prod_on_another_stack_is_advised_a_rate_limit():
    assert len(check_prod_rate_limit(endpoint(), Options(stack="eu-west"))) == 1


def test_a_rate_limit_unknown_during_preview_is_not_a_violation():
    unknown_gateway = dataclasses.replace(endpoint(), props={**endpoint().props, "aiGateway": UNKNOWN})
    assert check_prod_rate_limit(unknown_gateway, Options(stack="prod")) == []
    assert check_prod_rate_limit(limited(endpoint(), {"calls": 5, "key": UNKNOWN}), Options(stack="prod")) == []


def test_the_prod_rate_limit_rule_is_advisory():
    verdict = verdict_of("prod-endpoint-rate-limit", evaluate([endpoint(), readiness()], "prod"))
    assert (verdict.enforcement, len(verdict.findings)) == (Enforcement.ADVISORY, 1)


def test_unity_catalog_models_pass():
    assert check_unity_catalog_models(endpoint(), Options()) == []


def test_a_workspace_model_registry_model_is_advised_to_move_to_unity_catalog():
    registry = {
        "name": "RiskClassifier-3",
        "entityName": "RiskClassifier",
        "entityVersion": "3",
        "workloadSize": "Small",
        "scaleToZeroEnabled": False,
    }
    assert check_unity_catalog_models(endpoint(entities=[registry]), Options()) == [
        "endpoint `prod-risk` (risk-endpoint), served entity `RiskClassifier-3`: serves `RiskClassifier` from the "
        "legacy workspace Model Registry; register the model in Unity Catalog and set "
        "`endpoints.risk.served_models[0].model` to its `catalog.schema.model`"
    ]


def test_a_legacy_served_model_of_the_registry_is_advised_too():
    legacy = dataclasses.replace(
        endpoint(),
        props={**endpoint().props, "config": {"servedModels": [{"modelName": "iris-classifier", "modelVersion": "1"}]}},
    )
    (message,) = check_unity_catalog_models(legacy, Options())
    assert message.startswith("endpoint `prod-risk` (risk-endpoint), served entity `iris-classifier-1`: serves ")


def test_the_unity_catalog_rule_is_advisory():
    verdict = verdict_of("unity-catalog-models", evaluate([endpoint(), readiness()], "prod"))
    assert (verdict.enforcement, verdict.passed) == (Enforcement.ADVISORY, True)


# --- external models on prod ----------------------------------------------------------------------------


def external_endpoint(gateway: Any = None, tags: dict[str, str] | None = None) -> Resource:
    gpt = {"name": "gpt-4o", "externalModel": {"name": "gpt-4o", "provider": "openai", "task": "llm/v1/chat"}}
    resource = endpoint(entities=[gpt], tags=tags)
    if gateway is None:
        return resource
    return dataclasses.replace(resource, props={**resource.props, "aiGateway": gateway})


LIMIT = {"calls": 60, "key": "endpoint", "renewalPeriod": "minute"}


def test_a_prod_external_model_endpoint_with_a_limit_and_usage_tracking_passes():
    gateway = {"rateLimits": [LIMIT], "usageTrackingConfig": {"enabled": True}}
    assert check_prod_external_model_gateway(external_endpoint(gateway), Options(stack="prod")) == []


def test_a_prod_external_model_endpoint_is_asked_for_a_rate_limit_and_usage_tracking():
    assert check_prod_external_model_gateway(external_endpoint(), Options(stack="prod")) == [
        "endpoint `prod-risk` (risk-endpoint): serves external models on prod without a rate limit, so its "
        "callers' spend with the provider has no bound; add `endpoints.risk.ai_gateway.rate_limits: "
        "[{calls: <calls per minute>}]`",
        "endpoint `prod-risk` (risk-endpoint): serves external models on prod without usage tracking, so nobody "
        "sees who spends what; set `endpoints.risk.ai_gateway.usage_tracking: true`",
    ]


def test_usage_tracking_alone_still_needs_a_rate_limit():
    messages = check_prod_external_model_gateway(
        external_endpoint({"usageTrackingConfig": {"enabled": True}}), Options(stack="prod")
    )
    assert len(messages) == 1
    assert "serves external models on prod without a rate limit" in messages[0]


def test_the_external_model_rule_leaves_dev_and_registered_models_alone():
    dev = external_endpoint(tags={**TAGS, "environment": "dev"})
    assert check_prod_external_model_gateway(dev, Options(stack="dev")) == []
    assert check_prod_external_model_gateway(endpoint(), Options(stack="prod")) == []


def test_an_unknown_gateway_during_preview_is_not_a_violation():
    assert check_prod_external_model_gateway(external_endpoint(UNKNOWN), Options(stack="prod")) == []


def test_the_external_model_rule_is_mandatory():
    verdict = verdict_of("prod-external-model-gateway", evaluate([external_endpoint(), readiness()], "prod"))
    assert (verdict.enforcement, len(verdict.findings)) == (Enforcement.MANDATORY, 2)


def test_an_external_model_needs_no_workspace_capacity_on_prod():
    assert check_prod_capacity(external_endpoint(), Options(stack="prod")) == []


def test_a_provisioned_throughput_band_is_explicit_capacity_on_prod():
    band = served("llama-2", size=None, minProvisionedThroughput=950, maxProvisionedThroughput=1900)
    assert check_prod_capacity(endpoint(entities=[band]), Options(stack="prod")) == []
