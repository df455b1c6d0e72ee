"""Every rule of the stack config, one test each: the message names the key path, the value and the rule.

Every rule Databricks enforces is checked before anything is declared, and all problems of a stack file
are reported in one `StackConfigError`.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.config import CREDENTIAL_KEYS, PROVIDER_KEYS, StackConfigError, parse_stack_config
from review.engine import WorkspaceMocks, run_program
from tests.support import BASE, SP, problems_of, risk


def first_model(values: dict[str, Any]) -> dict[str, Any]:
    return risk(values)["served_models"][0]


def test_the_base_config_is_valid():
    config = parse_stack_config("prod", copy.deepcopy(BASE))
    assert config.endpoint_name("risk") == "prod-risk"


# --- versions and names ------------------------------------------------------------------------------


def test_version_given_as_number_or_text_is_normalised_to_text():
    config = parse_stack_config("prod", copy.deepcopy(BASE))
    assert [m.version for m in config.endpoints["risk"].served_models] == ["3", "4"]


@pytest.mark.parametrize("version", [0, -2, "v3", 2.5, True])
def test_version_must_be_a_positive_integer(version):
    problems = problems_of(lambda v: first_model(v).update(version=version))
    assert len(problems) == 1
    assert problems[0].startswith("endpoints.risk.served_models[0].version = ")
    assert problems[0].endswith('must be a positive integer, written as 3 or "3"')


def test_model_must_be_a_unity_catalog_full_name():
    assert problems_of(lambda v: first_model(v).update(model="risk.risk_classifier")) == [
        "endpoints.risk.served_models[0].model = 'risk.risk_classifier': "
        "must be a Unity Catalog full name `catalog.schema.model`, or a workspace Model Registry name "
        "without dots (`RiskClassifier`)"
    ]


def test_served_name_defaults_to_model_short_name_and_version():
    config = parse_stack_config("prod", copy.deepcopy(BASE))
    assert [m.served_name for m in config.endpoints["risk"].served_models] == [
        "risk_classifier-3",
        "risk_classifier-4",
    ]


def test_unknown_key_is_reported_not_ignored():
    assert problems_of(lambda v: first_model(v).update(workload_sise="Small")) == [
        "endpoints.risk.served_models[0].workload_sise: unknown key; "
        "did you mean `workload_size`? (see the config reference in README.md)"
    ]


def test_workload_size_must_be_small_medium_or_large():
    assert problems_of(lambda v: first_model(v).update(workload_size="Huge")) == [
        "endpoints.risk.served_models[0].workload_size = 'Huge': Input should be 'Small', 'Medium' or 'Large'"
    ]


def test_workload_type_must_be_a_databricks_compute_type():
    (problem,) = problems_of(lambda v: first_model(v).update(workload_type="TPU"))
    assert problem.startswith("endpoints.risk.served_models[0].workload_type = 'TPU': Input should be 'CPU'")
    assert "'MULTIGPU_MEDIUM'" in problem


# --- endpoint names ----------------------------------------------------------------------------------


def test_endpoint_name_may_only_hold_letters_digits_dash_underscore():
    assert problems_of(lambda v: risk(v).update(name="risk classifier")) == [
        "endpoints.risk: name `prod-risk classifier` must be 1-63 letters, digits, `-` or `_`, "
        "prefix included (20 characters)"
    ]


def test_endpoint_name_is_at_most_63_characters_prefix_included():
    assert problems_of(lambda v: risk(v).update(name="r" * 59)) == [
        f"endpoints.risk: name `prod-{'r' * 59}` must be 1-63 letters, digits, `-` or `_`, "
        "prefix included (64 characters)"
    ]


def test_endpoint_name_must_not_use_the_reserved_databricks_prefix():
    def change(values):
        values["defaults"]["name_prefix"] = ""
        risk(values)["name"] = "databricks-risk"

    assert problems_of(change) == ["endpoints.risk: name `databricks-risk` uses the reserved prefix `databricks-`"]


def test_endpoint_names_are_unique_in_the_stack():
    def change(values):
        values["endpoints"]["risk_copy"] = copy.deepcopy(risk(values)) | {"name": "risk"}

    assert problems_of(change) == ["endpoints.risk_copy: name `prod-risk` is already used by endpoints.risk"]


def test_name_prefix_may_only_hold_letters_digits_dash_underscore():
    assert problems_of(lambda v: v["defaults"].update(name_prefix="prod/")) == [
        "defaults.name_prefix = 'prod/': may only hold letters, digits, `-` and `_`"
    ]


# --- served entities ---------------------------------------------------------------------------------


def test_at_least_one_served_entity():
    (problem,) = problems_of(lambda v: risk(v).update(served_models=[], traffic=None))
    assert problem == "endpoints.risk.served_models = []: must have at least 1 entry, it has 0"


def test_at_most_15_served_entities():
    def change(values):
        template = first_model(values)
        risk(values)["served_models"] = [template | {"version": n} for n in range(1, 17)]
        risk(values)["traffic"] = {f"risk_classifier-{n}": 100 if n == 1 else 0 for n in range(1, 17)}

    assert problems_of(change) == ["endpoints.risk.served_models: at most 15 served entities per endpoint, found 16"]


def test_served_entity_names_are_unique():
    def change(values):
        risk(values)["served_models"][1]["version"] = 3
        risk(values)["traffic"] = {"risk_classifier-3": 100}

    assert problems_of(change) == [
        "endpoints.risk.served_models: served entity names must be unique; repeated: risk_classifier-3"
    ]


def test_workload_size_and_provisioned_concurrency_are_not_combined():
    assert problems_of(lambda v: first_model(v).update(provisioned_concurrency={"min": 0, "max": 8})) == [
        "endpoints.risk.served_models[0]: set either workload_size or provisioned_concurrency, not both"
    ]


def test_a_served_entity_needs_a_size_or_provisioned_concurrency():
    assert problems_of(lambda v: first_model(v).pop("workload_size")) == [
        "endpoints.risk.served_models[0]: set workload_size (Small, Medium or Large) "
        "or provisioned_concurrency (min, max)"
    ]


def test_provisioned_concurrency_is_an_ordered_range_in_steps_of_4():
    def unordered(values):
        first_model(values).pop("workload_size")
        first_model(values)["provisioned_concurrency"] = {"min": 8, "max": 4}

    def odd(values):
        first_model(values).pop("workload_size")
        first_model(values)["provisioned_concurrency"] = {"min": 0, "max": 6}

    assert problems_of(unordered) == [
        "endpoints.risk.served_models[0].provisioned_concurrency: min (8) must not exceed max (4)"
    ]
    assert problems_of(odd) == [
        "endpoints.risk.served_models[0].provisioned_concurrency: "
        "min and max must be multiples of 4 (Databricks scales in steps of 4)"
    ]


def test_at_most_30_environment_variables():
    assert problems_of(lambda v: first_model(v).update(environment_vars={f"V{i}": "1" for i in range(31)})) == [
        "endpoints.risk.served_models[0].environment_vars: at most 30 environment variables per served entity, found 31"
    ]


def test_a_credential_named_variable_must_be_a_secret_reference_and_its_value_is_not_echoed():
    (problem,) = problems_of(lambda v: first_model(v).update(environment_vars={"API_TOKEN": "s3cr3t-value"}))
    assert problem == (
        "endpoints.risk.served_models[0].environment_vars.API_TOKEN = [hidden]: holds a credential in plain text; "
        "write it as a reference `{{secrets/<scope>/<key>}}` to a Databricks secret"
    )
    assert "s3cr3t-value" not in problem


def test_a_databricks_token_value_is_refused_whatever_the_variable_name():
    token = "dapi" + "0123456789abcdef" * 2
    (problem,) = problems_of(lambda v: first_model(v).update(environment_vars={"UPSTREAM": token}))
    assert problem.startswith(
        "endpoints.risk.served_models[0].environment_vars.UPSTREAM = [hidden]: holds a credential in plain text"
    )
    assert token not in problem


def test_a_malformed_secret_reference_is_refused():
    assert problems_of(lambda v: first_model(v).update(environment_vars={"KEY": "{{secrets/scope-only}}"})) == [
        "endpoints.risk.served_models[0].environment_vars.KEY = '{{secrets/scope-only}}': "
        "is not a secret reference; write it as `{{secrets/<scope>/<key>}}`"
    ]


def test_a_well_formed_secret_reference_is_accepted():
    values = copy.deepcopy(BASE)
    first_model(values)["environment_vars"] = {"FEATURE_STORE_TOKEN": "{{secrets/fraud/feature-store}}"}
    config = parse_stack_config("prod", values)
    assert config.endpoints["risk"].served_models[0].environment_vars == {
        "FEATURE_STORE_TOKEN": "{{secrets/fraud/feature-store}}"
    }


# --- traffic -----------------------------------------------------------------------------------------


def test_routes_sum_to_100():
    assert problems_of(lambda v: risk(v).update(traffic={"risk_classifier-3": 80, "risk_classifier-4": 10})) == [
        "endpoints.risk.traffic: routes must sum to 100, they sum to 90"
    ]


def test_a_route_is_a_percentage_from_0_to_100():
    (problem,) = problems_of(lambda v: risk(v).update(traffic={"risk_classifier-3": 110, "risk_classifier-4": -10}))
    assert problem == "endpoints.risk.traffic: risk_classifier-3: 110 is not a percentage 0-100"


def test_routes_name_served_entities_that_exist_and_every_entity_has_one():
    assert problems_of(lambda v: risk(v).update(traffic={"risk_classifier-3": 90, "risk_classifier-5": 10})) == [
        'endpoints.risk.traffic = {"risk_classifier-3": 90, "risk_classifier-5": 10}: '
        "routes name no served entity: risk_classifier-5; "
        "served entities without a route (0 is allowed): risk_classifier-4; "
        "served entities are risk_classifier-3, risk_classifier-4"
    ]


def test_a_zero_percent_route_is_allowed():
    values = copy.deepcopy(BASE)
    risk(values)["traffic"] = {"risk_classifier-3": 100, "risk_classifier-4": 0}
    assert parse_stack_config("prod", values).endpoints["risk"].routes == {
        "risk_classifier-3": 100,
        "risk_classifier-4": 0,
    }


def test_traffic_may_be_omitted_for_one_model_and_then_routes_100_percent_to_it():
    values = copy.deepcopy(BASE)
    risk(values)["served_models"].pop()
    risk(values).pop("traffic")
    assert parse_stack_config("prod", values).endpoints["risk"].routes == {"risk_classifier-3": 100}


def test_traffic_is_required_when_several_models_are_served():
    assert problems_of(lambda v: risk(v).pop("traffic")) == [
        "endpoints.risk: traffic is required when more than one model is served; "
        "give every one of risk_classifier-3, risk_classifier-4 a percentage"
    ]


# --- access ------------------------------------------------------------------------------------------


def test_query_principal_is_an_application_id():
    assert problems_of(lambda v: risk(v)["access"].update(query_service_principal="loan-decision-api")) == [
        "endpoints.risk.access.query_service_principal = 'loan-decision-api': "
        "must be the service principal's application id (a UUID), not its display name"
    ]


def test_query_principal_is_required():
    assert problems_of(lambda v: risk(v)["access"].pop("query_service_principal")) == [
        "endpoints.risk.access.query_service_principal: is required"
    ]


@pytest.mark.parametrize("group", ["users", "account users", "Admins"])
def test_manager_groups_never_open_the_endpoint_to_everybody(group):
    assert problems_of(lambda v: risk(v)["access"].update(manager_groups=[group])) == [
        f'endpoints.risk.access.manager_groups = ["{group}"]: '
        f"`{group}` would hand the endpoint to everybody; name a dedicated group"
    ]


# --- issue 9: today's serving API ---------------------------------------------------------------------


def gateway(values: dict[str, Any], *limits: dict[str, Any], **features: Any) -> None:
    risk(values)["ai_gateway"] = {"rate_limits": list(limits), **features}


def limits_of(*limits: dict[str, Any]):
    values = copy.deepcopy(BASE)
    gateway(values, *limits)
    return parse_stack_config("prod", values).endpoints["risk"].ai_gateway.rate_limits


@pytest.mark.parametrize("model", ["RiskClassifier", "iris-classifier"])
def test_a_workspace_model_registry_name_is_accepted_and_named_after_itself(model):
    values = copy.deepcopy(BASE)
    first_model(values).update(model=model)
    risk(values)["traffic"] = {f"{model}-3": 90, "risk_classifier-4": 10}
    (served, _) = parse_stack_config("prod", values).endpoints["risk"].served_models
    assert (served.served_name, served.in_unity_catalog) == (f"{model}-3", False)


def test_a_unity_catalog_model_is_known_as_one():
    served = parse_stack_config("prod", copy.deepcopy(BASE)).endpoints["risk"].served_models
    assert [model.in_unity_catalog for model in served] == [True, True]


@pytest.mark.parametrize(
    "workload_type",
    [
        "CPU",
        "CPU_MEDIUM",
        "CPU_LARGE",
        "GPU_SMALL",
        "GPU_MEDIUM",
        "GPU_LARGE",
        "GPU_XLARGE",
        "GPU_XLARGE_8",
        "MULTIGPU_MEDIUM",
    ],
)
def test_every_current_databricks_workload_type_is_accepted(workload_type):
    values = copy.deepcopy(BASE)
    first_model(values).update(workload_type=workload_type)
    assert parse_stack_config("prod", values).endpoints["risk"].served_models[0].workload_type == workload_type


def test_the_workload_types_are_databricks_sdks_own():
    from databricks.sdk.service.serving import ServingModelWorkloadType

    from components.config import DEPLOYMENT_TIMEOUT_MINUTES, WorkloadType

    assert {t.value for t in WorkloadType} == {t.value for t in ServingModelWorkloadType}
    assert set(DEPLOYMENT_TIMEOUT_MINUTES) == set(WorkloadType)


def test_the_ai_gateway_defaults_to_no_limits_no_tracking_no_fallback():
    values = copy.deepcopy(BASE)
    risk(values)["ai_gateway"] = {}
    config = parse_stack_config("prod", values).endpoints["risk"].ai_gateway
    assert (config.rate_limits, config.usage_tracking, config.fallback) == ([], False, False)


def test_a_rate_limit_without_a_key_is_endpoint_wide():
    (limit,) = limits_of({"calls": 100})
    assert (limit.key, limit.principal, limit.calls) == ("endpoint", None, 100)


@pytest.mark.parametrize("calls", [0, -5])
def test_a_rate_limit_allows_a_positive_number_of_calls(calls):
    assert problems_of(lambda v: gateway(v, {"calls": calls})) == [
        f"endpoints.risk.ai_gateway.rate_limits[0].calls = {calls}: Input should be greater than 0"
    ]


def test_a_rate_limit_key_is_one_databricks_knows():
    (problem,) = problems_of(lambda v: gateway(v, {"calls": 10, "key": "ip_address"}))
    assert problem.startswith("endpoints.risk.ai_gateway.rate_limits[0].key = 'ip_address': Input should be")


def test_an_endpoint_wide_limit_names_no_principal():
    assert problems_of(lambda v: gateway(v, {"calls": 10, "principal": SP})) == [
        f"endpoints.risk.ai_gateway.rate_limits[0].principal = '{SP}': an `endpoint` limit counts every caller "
        "together and takes no principal; set key to service_principal, user or user_group to limit one caller"
    ]


def test_a_service_principal_limit_names_its_application_id():
    assert problems_of(lambda v: gateway(v, {"calls": 10, "key": "service_principal", "principal": "loan-api"})) == [
        "endpoints.risk.ai_gateway.rate_limits[0].principal = 'loan-api': "
        "must be the service principal's application id (a UUID), not its display name"
    ]
    (limit,) = limits_of({"calls": 10, "key": "service_principal", "principal": SP.upper()})
    assert limit.principal == SP


def test_a_user_limit_names_the_user_by_email():
    assert problems_of(lambda v: gateway(v, {"calls": 10, "key": "user", "principal": "ana"})) == [
        "endpoints.risk.ai_gateway.rate_limits[0].principal = 'ana': a `user` limit names the user by e-mail address"
    ]


def test_a_limit_per_user_or_per_service_principal_may_leave_the_principal_out():
    limits = limits_of({"calls": 10, "key": "user"}, {"calls": 20, "key": "service_principal"})
    assert [(limit.key, limit.principal) for limit in limits] == [("user", None), ("service_principal", None)]


def test_a_group_limit_names_its_group():
    assert problems_of(lambda v: gateway(v, {"calls": 10, "key": "user_group"})) == [
        "endpoints.risk.ai_gateway.rate_limits[0].principal = null: a `user_group` limit needs the group's name "
        "as principal"
    ]
    assert problems_of(lambda v: gateway(v, {"calls": 10, "key": "user_group", "principal": " "})) == [
        "endpoints.risk.ai_gateway.rate_limits[0].principal = ' ': group names must not be empty"
    ]


@pytest.mark.parametrize("group", ["users", "Account Users"])
def test_a_group_limit_is_not_on_the_group_of_every_user(group):
    assert problems_of(lambda v: gateway(v, {"calls": 10, "key": "user_group", "principal": group})) == [
        f"endpoints.risk.ai_gateway.rate_limits[0].principal = '{group}': `{group}` holds every user; limit them "
        "with key `endpoint` (all together) or `user` (each)"
    ]


def test_a_key_and_principal_have_one_limit_each():
    limits = [
        {"calls": 10},
        {"calls": 20, "key": "endpoint"},
        {"calls": 5, "key": "user", "principal": "ana@example.com"},
        {"calls": 6, "key": "user", "principal": "ana@example.com"},
        {"calls": 7, "key": "user", "principal": "bo@example.com"},
    ]
    assert problems_of(lambda v: gateway(v, *limits)) == [
        "endpoints.risk.ai_gateway.rate_limits: one limit per key and principal; repeated: endpoint, "
        "user ana@example.com"
    ]


def test_an_unknown_ai_gateway_key_is_reported_not_ignored():
    assert problems_of(lambda v: gateway(v, shadow_traffic={"safety": True})) == [
        "endpoints.risk.ai_gateway.shadow_traffic: unknown key; "
        "check its spelling against the config reference in README.md"
    ]


def test_route_optimization_and_description_recreation_are_off_by_default():
    endpoint = parse_stack_config("prod", copy.deepcopy(BASE)).endpoints["risk"]
    assert (endpoint.route_optimized, endpoint.recreate_on_description_change) == (False, False)


def test_route_optimized_is_a_boolean():
    (problem,) = problems_of(lambda v: risk(v).update(route_optimized="sometimes"))
    assert problem.startswith("endpoints.risk.route_optimized = 'sometimes': ")
    assert "bool" in problem or "true or false" in problem


def test_an_inference_table_is_enabled_unless_it_says_otherwise():
    values = copy.deepcopy(BASE)
    risk(values)["inference_table"] = {"catalog": "main", "schema": "serving_logs"}
    assert parse_stack_config("prod", values).endpoints["risk"].inference_table.enabled is True


def test_creation_only_keys_are_endpoint_keys():
    from components.config import CREATION_ONLY, EndpointConfig

    assert set(CREATION_ONLY) <= set(EndpointConfig.model_fields)


# --- everything else ---------------------------------------------------------------------------------


def test_notification_addresses_are_email_addresses():
    assert problems_of(lambda v: risk(v).update(notifications={"on_update_failure": ["oncall"]})) == [
        'endpoints.risk.notifications.on_update_failure = ["oncall"]: `oncall` is not an e-mail address'
    ]


def test_input_example_uses_exactly_one_databricks_input_format():
    example = {"instances": [[1, 2]], "inputs": [[1, 2]]}
    assert problems_of(lambda v: risk(v).update(readiness={"warmup": {"input_example": example}})) == [
        "endpoints.risk.readiness.warmup.input_example: "
        "needs exactly one of dataframe_split, dataframe_records, instances, inputs, found instances, inputs"
    ]


def test_readiness_timeout_is_at_most_240_minutes():
    assert problems_of(lambda v: risk(v).update(readiness={"timeout_minutes": 500})) == [
        "endpoints.risk.readiness.timeout_minutes = 500: Input should be less than or equal to 240"
    ]


def test_endpoints_are_required():
    assert problems_of(lambda v: v.pop("endpoints")) == ["endpoints: is required"]


def test_a_plaintext_databricks_token_in_the_stack_file_is_refused():
    assert problems_of(lambda v: None, plaintext_keys={"databricks:token": True}) == [
        "databricks:token: is stored in plain text in Pulumi.prod.yaml; store it encrypted with "
        "`pulumi config set --secret databricks:token <value>` or use the DATABRICKS_* environment variables"
    ]


def test_a_file_with_several_problems_reports_all_of_them_at_once():
    def change(values):
        risk(values)["traffic"] = {"risk_classifier-3": 80, "risk_classifier-4": 10}
        risk(values)["access"]["query_service_principal"] = "loan-decision-api"
        first_model(values)["workload_size"] = "Huge"

    problems = problems_of(change, plaintext_keys={"databricks:token": True})
    assert [problem.split(":")[0].split(" =")[0] for problem in problems] == [
        "databricks",
        "endpoints.risk.served_models[0].workload_size",
        "endpoints.risk.traffic",
        "endpoints.risk.access.query_service_principal",
    ]


# --- through the real program ------------------------------------------------------------------------


class CountingMocks(WorkspaceMocks):
    def __init__(self):
        super().__init__()
        self.registered: list[str] = []

    def new_resource(self, args):
        self.registered.append(args.name)
        return super().new_resource(args)


def test_an_invalid_stack_file_fails_the_program_before_any_resource_is_registered(prod_document):
    endpoints = prod_document["config"]["databricks-serving:endpoints"]
    endpoints["risk-classifier"]["traffic"]["risk_classifier-4"] = 20
    mocks = CountingMocks()
    with pytest.raises(StackConfigError) as caught:
        run_program("prod", document=prod_document, mocks=mocks)
    assert caught.value.problems == ["endpoints.risk-classifier.traffic: routes must sum to 100, they sum to 110"]
    assert mocks.registered == []


def test_a_plaintext_token_in_a_stack_file_fails_the_program(prod_document):
    prod_document["config"]["databricks:token"] = "dapi" + "ab" * 16
    with pytest.raises(StackConfigError) as caught:
        run_program("prod", document=prod_document)
    assert caught.value.problems[0].startswith("databricks:token: is stored in plain text in Pulumi.prod.yaml")
    assert "dapi" not in str(caught.value)


def test_a_secure_token_in_a_stack_file_is_accepted(prod_document):
    prod_document["config"]["databricks:token"] = {"secure": "v1:AAAAbase64ciphertext"}
    run = run_program("prod", document=prod_document)
    assert len(run.resources) > 0


# --- rollout -----------------------------------------------------------------------------------------

ROLLOUT = {"stable": "risk_classifier-3", "candidate": "risk_classifier-4", "steps": [10, 50, 100]}
EXAMPLE = {"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1.0, 2, 3.0]]}}


def with_rollout(values, **rollout):
    risk(values)["rollout"] = {**ROLLOUT, **rollout}
    risk(values)["readiness"] = {"warmup": {"input_example": EXAMPLE}}


def test_a_rollout_starts_its_candidate_at_0_percent_and_targets_the_declared_traffic():
    values = copy.deepcopy(BASE)
    with_rollout(values)
    endpoint = parse_stack_config("prod", values).endpoints["risk"]
    assert endpoint.start_routes == {"risk_classifier-3": 100, "risk_classifier-4": 0}
    assert endpoint.routes == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    assert endpoint.rollout_examples == [EXAMPLE]


def test_rollout_entities_must_be_served_entities():
    assert problems_of(lambda v: with_rollout(v, candidate="risk_classifier-5")) == [
        "endpoints.risk.rollout: risk_classifier-5 names no served entity; "
        "served entities are risk_classifier-3, risk_classifier-4"
    ]


def test_rollout_stable_and_candidate_differ():
    assert problems_of(lambda v: with_rollout(v, candidate="risk_classifier-3")) == [
        "endpoints.risk.rollout: stable and candidate must be different served entities"
    ]


@pytest.mark.parametrize(
    "steps, rule",
    [
        ([50, 10], "steps must increase, e.g. [10, 50, 100]"),
        ([0, 50], "each step is a candidate share from 1 to 100"),
        ([10, 101], "each step is a candidate share from 1 to 100"),
    ],
)
def test_rollout_steps_are_increasing_shares(steps, rule):
    assert problems_of(lambda v: with_rollout(v, steps=steps)) == [
        f"endpoints.risk.rollout.steps = {steps}: {rule}".replace("'", "")
    ]


def test_rollout_gates_need_a_request_to_send():
    def change(values):
        with_rollout(values)
        risk(values).pop("readiness")

    assert problems_of(change) == [
        "endpoints.risk: the parity and health gates need a request to send: set rollout.parity.examples "
        "or readiness.warmup.input_example"
    ]


def test_rollout_expected_predictions_come_one_per_example():
    parity = {"examples": [EXAMPLE, EXAMPLE], "expected_predictions": [[0.1]]}
    assert problems_of(lambda v: with_rollout(v, parity=parity)) == [
        "endpoints.risk.rollout.parity: give one entry per example (2 examples, 1 expected predictions)"
    ]


def test_rollout_health_thresholds_are_bounded():
    (problem,) = problems_of(lambda v: with_rollout(v, health={"max_error_rate": 1.5}))
    assert problem == "endpoints.risk.rollout.health.max_error_rate = 1.5: Input should be less than or equal to 1"


# --- every problem at once: rules across fields run whatever else fails --------------------------------


def test_routes_are_checked_when_another_field_of_the_endpoint_fails():
    def change(values):
        first_model(values)["workload_size"] = "Huge"
        risk(values)["traffic"] = {"risk_classifier-3": 90, "risk_classifier-5": 10}

    assert problems_of(change) == [
        "endpoints.risk.served_models[0].workload_size = 'Huge': Input should be 'Small', 'Medium' or 'Large'",
        'endpoints.risk.traffic = {"risk_classifier-3": 90, "risk_classifier-5": 10}: '
        "routes name no served entity: risk_classifier-5; "
        "served entities without a route (0 is allowed): risk_classifier-4; "
        "served entities are risk_classifier-3, risk_classifier-4",
    ]


def test_the_endpoint_name_with_its_prefix_is_checked_when_another_field_fails():
    def change(values):
        risk(values)["name"] = "r" * 60
        risk(values)["access"]["query_service_principal"] = "loan-decision-api"

    problems = problems_of(change)
    assert [problem.split(" ")[0].rstrip(":") for problem in problems] == [
        "endpoints.risk.access.query_service_principal",
        "endpoints.risk",
    ]
    assert problems[1] == (
        f"endpoints.risk: name `prod-{'r' * 60}` must be 1-63 letters, digits, `-` or `_`, "
        "prefix included (65 characters)"
    )


def test_rollout_entities_are_checked_when_another_field_fails():
    def change(values):
        with_rollout(values, candidate="risk_classifier-9")
        risk(values)["notifications"] = {"on_update_failure": ["oncall"]}

    assert problems_of(change) == [
        'endpoints.risk.notifications.on_update_failure = ["oncall"]: `oncall` is not an e-mail address',
        "endpoints.risk.rollout: risk_classifier-9 names no served entity; "
        "served entities are risk_classifier-3, risk_classifier-4",
    ]


def test_a_served_entity_capacity_rule_is_checked_when_its_version_fails():
    def change(values):
        first_model(values)["version"] = "v3"
        first_model(values)["provisioned_concurrency"] = {"min": 0, "max": 8}

    assert problems_of(change) == [
        "endpoints.risk.served_models[0].version = 'v3': must be a positive integer, written as 3 or \"3\"",
        "endpoints.risk.served_models[0]: set either workload_size or provisioned_concurrency, not both",
    ]


def test_a_plaintext_credential_is_reported_when_endpoints_cannot_be_parsed():
    problems = problems_of(lambda v: v.update(endpoints="risk"), plaintext_keys={"databricks:password": True})
    assert problems == [
        "databricks:password: is stored in plain text in Pulumi.prod.yaml; store it encrypted with "
        "`pulumi config set --secret databricks:password <value>` or use the DATABRICKS_* environment variables",
        "endpoints = 'risk': must be a map of keys to values, not text",
    ]


def test_every_bad_environment_variable_is_reported_when_one_value_is_not_text():
    variables = {"THRESHOLD": 0.82, "API_TOKEN": "s3cr3t-value"}
    assert problems_of(lambda v: first_model(v).update(environment_vars=variables)) == [
        "endpoints.risk.served_models[0].environment_vars.THRESHOLD = 0.82: must be text, not a number; "
        'YAML read it as a number: quote it ("0.82") if it is text',
        "endpoints.risk.served_models[0].environment_vars.API_TOKEN = [hidden]: holds a credential in plain text; "
        "write it as a reference `{{secrets/<scope>/<key>}}` to a Databricks secret",
    ]


# --- limits Databricks enforces that were accepted silently ------------------------------------------


@pytest.mark.parametrize("name", ["MY-VAR", "1ST", "HAS SPACE", ""])
def test_environment_variable_names_are_valid_names(name):
    shown_key = json.dumps(name) if " " in name or not name else name
    assert problems_of(lambda v: first_model(v).update(environment_vars={name: "1"})) == [
        f"endpoints.risk.served_models[0].environment_vars.{shown_key}: "
        "is not an environment variable name: letters, digits and `_`, not starting with a digit"
    ]


def test_tag_keys_and_values_are_within_databricks_limits():
    def change(values):
        values["defaults"]["tags"]["k" * 256] = "x"
        risk(values)["tags"] = {"team": "v" * 256, "": "empty"}

    assert problems_of(change) == [
        'defaults.tags."kkkkkkkkkkkkkkkkkkkk...(256 characters)": '
        "tag keys are at most 255 characters, this one has 256",
        f"endpoints.risk.tags.team = '{'v' * 116}...: tag values are at most 255 characters, this one has 256",
        'endpoints.risk.tags."": tag keys must not be empty',
    ]


def test_tag_keys_and_values_of_255_characters_are_accepted():
    values = copy.deepcopy(BASE)
    risk(values)["tags"] = {"k" * 255: "v" * 255}
    assert parse_stack_config("prod", values).endpoints["risk"].tags == {"k" * 255: "v" * 255}


@pytest.mark.parametrize(
    "field, name",
    [
        ("catalog", "main.prod"),
        ("schema", "serving logs"),
        ("table_prefix", "risk/v1"),
        ("table_prefix", "t" * 256),
        ("catalog", ""),
    ],
)
def test_inference_table_names_are_unity_catalog_names(field, name):
    table = {"catalog": "main", "schema": "serving_logs", "table_prefix": "risk"} | {field: name}
    (problem,) = problems_of(lambda v: risk(v).update(inference_table=table))
    assert problem.startswith(f"endpoints.risk.inference_table.{field} = ")
    assert problem.endswith(
        ": must be a Unity Catalog name: 1-255 characters, no period, space, `/` or control character"
    )


def test_an_endpoint_key_must_be_a_name():
    def change(values):
        values["endpoints"][""] = values["endpoints"].pop("risk") | {"name": "risk"}

    assert problems_of(change) == [
        'endpoints."": endpoint keys may only hold letters, digits, `-` and `_`: the key names the endpoint\'s '
        "resources and is its default name"
    ]


# --- messages a user can act on ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda v: risk(v).update(access=[SP]),
            f'endpoints.risk.access = ["{SP}"]: must be a map of keys to values, not a list',
        ),
        (
            lambda v: risk(v).update(readiness=5),
            "endpoints.risk.readiness = 5: must be a map of keys to values, not a number",
        ),
        (
            lambda v: risk(v).update(rollout="gradual"),
            "endpoints.risk.rollout = 'gradual': must be a map of keys to values, not text",
        ),
        (lambda v: v.update(defaults=None), "defaults = null: must be a map of keys to values, not empty"),
    ],
)
def test_messages_name_no_internal_class(change, expected):
    (problem,) = problems_of(change)
    assert problem == expected
    assert not re.search(r"[A-Z][a-z]+(Config|Gate|Defaults)", problem)


@pytest.mark.parametrize("value, kind", [(0.82, "a number"), (5, "a number"), (True, "a boolean")])
def test_a_value_yaml_read_as_a_number_or_boolean_is_shown_with_quote_it(value, kind):
    assert problems_of(lambda v: first_model(v).update(environment_vars={"THRESHOLD": value})) == [
        f"endpoints.risk.served_models[0].environment_vars.THRESHOLD = {json.dumps(value)}: "
        f"must be text, not {kind}; "
        f'YAML read it as {kind}: quote it ("{json.dumps(value)}") if it is text'
    ]


def test_a_value_is_hidden_only_when_it_may_be_a_credential():
    token = "dapi" + "0123456789abcdef" * 2

    def change(values):
        values["defaults"]["tags"]["deployed-by"] = token
        risk(values)["tags"] = {"threshold": 0.82}

    problems = problems_of(change)
    assert problems[0] == (
        "defaults.tags.deployed-by = [hidden]: holds a Databricks token; tags are plain text: remove it"
    )
    assert problems[1].startswith("endpoints.risk.tags.threshold = 0.82: must be text")
    assert token not in "\n".join(problems)


def test_readiness_timeout_must_be_more_than_0():
    assert problems_of(lambda v: risk(v).update(readiness={"timeout_minutes": 0})) == [
        "endpoints.risk.readiness.timeout_minutes = 0: Input should be greater than 0"
    ]


# --- the stack file's namespaces and credentials, through the real program ---------------------------


@pytest.mark.parametrize("key", CREDENTIAL_KEYS)
def test_every_credential_of_the_databricks_provider_in_plain_text_fails_the_program(key, prod_document):
    prod_document["config"][key] = "plain-credential-value"
    with pytest.raises(StackConfigError) as caught:
        run_program("prod", document=prod_document)
    assert caught.value.problems == [
        f"{key}: is stored in plain text in Pulumi.prod.yaml; store it encrypted with "
        f"`pulumi config set --secret {key} <value>` or use the DATABRICKS_* environment variables"
    ]
    assert "plain-credential-value" not in str(caught.value)


@pytest.mark.parametrize(
    "key, expected",
    [
        (
            "databricks-serving:default",
            "databricks-serving:default: unknown key, nothing reads it; did you mean `databricks-serving:defaults`?",
        ),
        (
            "databricks-servng:endpoints",
            "databricks-servng:endpoints: unknown namespace `databricks-servng`, nothing "
            "reads it; did you mean `databricks-serving:endpoints`?",
        ),
        (
            "databricks:clientsecret",
            "databricks:clientsecret: not a setting of the Databricks provider; "
            "did you mean `databricks:clientSecret`?",
        ),
    ],
)
def test_a_misspelt_key_or_namespace_is_refused_with_the_nearest_known_key(key, expected, prod_document):
    prod_document["config"][key] = {"name_prefix": "prod-"} if "serv" in key else "plain-value"
    with pytest.raises(StackConfigError) as caught:
        run_program("prod", document=prod_document)
    assert caught.value.problems == [expected]
    assert "plain-value" not in str(caught.value)


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda v: risk(v).update(traffic={"risk_classifier-3": "ninety", "risk_classifier-4": 10}),
            "endpoints.risk.traffic.risk_classifier-3 = 'ninety': must be a whole number, not text",
        ),
        (
            lambda v: risk(v).update(traffic={"risk_classifier-3": 89.5, "risk_classifier-4": 10.5}),
            "endpoints.risk.traffic.risk_classifier-3 = 89.5: must be a whole number, not a fraction",
        ),
        (lambda v: v.update(endpoints={}), "endpoints: must have at least 1 entry, it has 0"),
        (lambda v: with_rollout(v, steps="10"), "endpoints.risk.rollout.steps = '10': must be a list, not text"),
    ],
)
def test_type_errors_are_told_in_the_stack_files_terms(change, expected):
    assert problems_of(change)[0] == expected


def test_the_provider_keys_are_the_settings_pulumi_databricks_reads():
    import pulumi_databricks.config.vars as provider_settings

    source = Path(provider_settings.__file__).read_text()
    assert sorted(PROVIDER_KEYS) == sorted(set(re.findall(r"__config__\.get\w*\('(\w+)'\)", source)))
    assert {key.split(":")[1] for key in CREDENTIAL_KEYS} <= set(PROVIDER_KEYS)
