"""The plugin's inputs, typed once (provider.requests): the program sends every one, the plugin restates no
default, Check names each one missing, and state recorded by older plugins is still read."""

from __future__ import annotations

import copy
import json

import pytest

from provider.implementations import KINDS
from provider.requests import (
    DeploymentInputs,
    NotificationsInputs,
    PreflightEndpointInputs,
    ReadinessInputs,
    RecordedServing,
    ResourceRequest,
    RolloutInputs,
    recorded_last_good_split,
)
from provider.wire import UNKNOWN
from review.engine import unwrap
from tests.support import STACKS, endpoint_checks, preflight_props, readiness_props, rollout_props, stack_config

READINESS = "servingops:index:EndpointReadiness"
ROLLOUT = "servingops:index:EndpointRollout"
DEPLOYMENT = "servingops:index:EndpointDeployment"
NOTIFICATIONS = "servingops:index:EndpointNotifications"
PREFLIGHT = "servingops:index:Preflight"
REQUIRED_REASON = "is required: none was sent (components.plugin_resources always sends it)"


def deployment_props() -> dict:
    props = {**readiness_props("risk", "id-1", {3: 100}), "endpoint_resource": "risk-endpoint"}
    for key in ("endpoint_id", "warmup", "route_optimized"):
        props.pop(key)
    return props


def notifications_props() -> dict:
    return {"endpoint_name": "risk", "on_update_success": [], "on_update_failure": ["oncall@example.com"]}


FULL = {
    READINESS: lambda: readiness_props("risk", "id-1", {3: 90, 4: 10}),
    ROLLOUT: lambda: rollout_props("risk", "id-1", 10),
    DEPLOYMENT: deployment_props,
    NOTIFICATIONS: notifications_props,
    PREFLIGHT: preflight_props,
}
REQUIRED = {
    READINESS: ReadinessInputs.REQUIRED,
    ROLLOUT: RolloutInputs.REQUIRED,
    DEPLOYMENT: DeploymentInputs.REQUIRED,
    NOTIFICATIONS: NotificationsInputs.REQUIRED,
    PREFLIGHT: ("endpoints",),
}


def reasons(token: str, props: dict) -> dict[str, str]:
    return {failure.property: failure.reason for failure in KINDS[token].failures(props)}


@pytest.mark.parametrize("token", sorted(FULL))
def test_full_inputs_pass_check(token):
    assert reasons(token, FULL[token]()) == {}


def external_only(props: dict) -> dict:
    """`props` of an endpoint that serves only external models, as components.plugin_resources sends them."""
    return {
        **props,
        "served_entities": [],
        "external_models": [
            {"name": "gpt-4o", "model": "gpt-4o", "task": "llm/v1/chat"},
            {"name": "claude-sonnet-4", "model": "claude-sonnet-4", "task": "llm/v1/chat"},
        ],
        "traffic": {"gpt-4o": 90, "claude-sonnet-4": 10},
    }


@pytest.mark.parametrize("token", [READINESS, DEPLOYMENT])
def test_an_endpoint_of_external_models_only_passes_check_and_is_expected_serving_them(token):
    props = external_only(FULL[token]())
    assert reasons(token, props) == {}
    inputs = ReadinessInputs.of(props) if token == READINESS else DeploymentInputs.of(props)
    assert inputs.expectation().served_versions == {"gpt-4o": "", "claude-sonnet-4": ""}


@pytest.mark.parametrize("token", [READINESS, DEPLOYMENT])
def test_an_endpoint_serving_nothing_at_all_fails_check(token):
    props = {**external_only(FULL[token]()), "external_models": []}
    assert reasons(token, props)["served_entities"] == "at least one served entity is required"


@pytest.mark.parametrize(("token", "key"), [(token, key) for token in sorted(REQUIRED) for key in REQUIRED[token]])
def test_check_names_a_missing_required_input_once_instead_of_defaulting_it(token, key):
    props = FULL[token]()
    props.pop(key)
    assert reasons(token, props) == {key: REQUIRED_REASON}


@pytest.mark.parametrize(
    ("token", "path", "remove"),
    [
        (READINESS, "warmup.timeout_seconds", lambda p: p["warmup"].pop("timeout_seconds")),
        (READINESS, "served_entities[1].scale_to_zero", lambda p: p["served_entities"][1].pop("scale_to_zero")),
        (DEPLOYMENT, "served_entities[0].entity_version", lambda p: p["served_entities"][0].pop("entity_version")),
        (ROLLOUT, "health.min_requests", lambda p: p["health"].pop("min_requests")),
        (ROLLOUT, "health.probe_interval_seconds", lambda p: p["health"].pop("probe_interval_seconds")),
        (
            PREFLIGHT,
            "endpoints.risk-classifier.grants",
            lambda p: p["endpoints"]["risk-classifier"].pop("grants"),
        ),
        (
            PREFLIGHT,
            "endpoints.risk-classifier.query_service_principal",
            lambda p: p["endpoints"]["risk-classifier"].pop("query_service_principal"),
        ),
    ],
)
def test_check_names_a_missing_nested_input_by_its_path(token, path, remove):
    props = FULL[token]()
    remove(props)
    assert reasons(token, props) == {path: REQUIRED_REASON}


@pytest.mark.parametrize("token", [READINESS, ROLLOUT, NOTIFICATIONS])
def test_an_unknown_input_in_a_preview_is_not_missing(token):
    props = {key: UNKNOWN for key in FULL[token]()}
    props["endpoint_name"] = "risk"
    assert [f.property for f in KINDS[token].failures(props) if f.reason == REQUIRED_REASON] == []


def test_typed_readiness_inputs_take_the_engines_doubles_back_and_decode_the_warmup_text():
    props = readiness_props("risk", "id-1", {3: 90, 4: 10})
    from_engine = {
        **props,
        "traffic": {"risk_classifier-3": 90.0, "risk_classifier-4": 10.0},
        "served_entities": [
            {**entity, "entity_version": float(entity["entity_version"])} for entity in props["served_entities"]
        ],
    }
    inputs = ReadinessInputs.of(from_engine)
    assert inputs.traffic == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    assert all(type(share) is int for share in inputs.traffic.values())
    assert [entity.entity_version for entity in inputs.served_entities] == ["3", "4"]
    assert inputs.input_example == json.loads(props["warmup"]["input_example_json"])
    assert (inputs.warmup_timeout_seconds, inputs.route_optimized) == (20.0, False)


def test_create_of_inputs_without_a_required_one_fails_naming_it():
    props = rollout_props("risk", "id-1", 10)
    props.pop("update_timeout_seconds")
    with pytest.raises(Exception, match="the input update_timeout_seconds is required"):
        RolloutInputs.of(props)


def test_state_recorded_by_an_older_plugin_is_read_without_the_inputs_it_lacked():
    old = readiness_props("risk", "id-1", {3: 100})
    for key in ("warmup", "route_optimized", "timeout_seconds"):
        old.pop(key)
    for entity in old["served_entities"]:
        entity.pop("scale_to_zero")
    recorded = RecordedServing.of(old)
    assert recorded.served == {"risk_classifier-3": ("main.risk.risk_classifier", "3")}
    assert (recorded.endpoint_id, recorded.traffic) == ("id-1", {"risk_classifier-3": 100})
    assert recorded_last_good_split({"last_good_split": {"a": 90.0, "b": 10.0}}) == {"a": 90, "b": 10}
    assert recorded_last_good_split({}) is None and recorded_last_good_split(None) is None


def test_a_resource_request_names_its_resource_and_type_from_the_urn():
    call = ResourceRequest(
        "urn:pulumi:dev::databricks-serving::serving:index:ServingEndpoint$servingops:index:EndpointRollout::risk-rollout"
    )
    assert (call.name, call.type_token) == ("risk-rollout", ROLLOUT)


@pytest.mark.parametrize("stack", STACKS)
def test_the_plugin_reads_the_programs_inputs_with_the_config_models_values(stack, stack_runs, stack_documents):
    """Defaults live once, in the config model: what the plugin works with is what the config resolved."""
    config = stack_config(copy.deepcopy(stack_documents[stack]), stack)
    seen = set()
    for resource in stack_runs[stack].resources:
        if resource.type not in KINDS:
            continue
        inputs = {key: value for key, value in unwrap(resource.inputs).items() if value is not None}
        inputs.setdefault("endpoint_name", "risk")  # outputs of the endpoint under mocks: known at `up`
        inputs.setdefault("endpoint_id", "id-1")
        assert [f.property for f in KINDS[resource.type].failures(inputs)] == [], resource.name
        seen.add(resource.type)
        if resource.type == ROLLOUT:
            plan = RolloutInputs.of(inputs).plan
            spec = config.spec(resource.name.removesuffix("-rollout"))
            rollout = spec.endpoint.rollout
            assert (plan.tolerance, plan.min_requests, plan.probe_interval_seconds) == (
                rollout.parity.tolerance,
                rollout.health.min_requests,
                rollout.health.probe_interval_seconds,
            )
            assert plan.update_timeout_seconds == spec.readiness_timeout_minutes * 60
        if resource.type == PREFLIGHT:
            for checks in inputs["endpoints"].values():
                assert PreflightEndpointInputs.of(checks).request.endpoint == checks["endpoint_name"]
    assert {READINESS, PREFLIGHT} <= seen


def test_a_preflight_endpoint_without_an_inference_table_has_none():
    checks = endpoint_checks()
    checks.pop("inference_table")
    assert PreflightEndpointInputs.of(checks).request.inference_table is None
    assert reasons(PREFLIGHT, {"endpoints": {"risk-classifier": checks}}) == {}
