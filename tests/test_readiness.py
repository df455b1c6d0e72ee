"""Readiness and warmup against the local workspace emulator.

`pulumi up` must end only when every served model answers, warm, or fail with the reason. Each test
drives the real verification code (and the provider's own methods) over HTTP against the emulator.
"""

from __future__ import annotations

import json
import time

import pytest

from provider.implementations import ReadinessKind
from provider.wire import UNKNOWN
from serving.verification import DeclaredEntity, Expectation, PollPolicy, Readiness, ReadinessError
from serving.workspace import ServingClient
from tests.support import DEPLOYER_TOKEN, EXAMPLE, create_endpoint, deployer_client, expectation, props, unique

FAST = PollPolicy(first_delay=0.05, max_delay=0.2, jitter=0.0, stale_config_grace=0.6, progress_every=60)


@pytest.fixture(scope="module")
def client(workspace) -> ServingClient:
    return deployer_client(workspace)


def verify(client, expected: Expectation, lines: list[str] | None = None):
    return Readiness(client, expected, FAST, log=(lines.append if lines is not None else print)).run()


# --- waiting -----------------------------------------------------------------------------------------


def test_waits_through_in_progress_until_the_endpoint_serves(workspace, client):
    name = unique("wait")
    create_endpoint(workspace, name, {3: 90, 4: 10})
    lines: list[str] = []
    verified = verify(client, expectation(name, {3: 90, 4: 10}), lines)
    assert verified.verified_versions == {"risk_classifier-3": "3", "risk_classifier-4": "4"}
    assert verified.verified_traffic == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    assert verified.polls > 1
    assert verified.waited_seconds >= 0.25
    assert any(f"{name}: IN_PROGRESS" in line and "of 2 served entities ready" in line for line in lines)


def test_not_ready_although_not_updating_is_not_success(workspace, client):
    """What the databricks-sdk waiter (and Terraform, and Asset Bundles) take for done is not done here."""
    name = unique("notready")
    workspace.not_ready_after_update(name, seconds=1.2)
    create_endpoint(workspace, name, {3: 100})
    sdk = workspace.workspace_client(DEPLOYER_TOKEN)
    detail = sdk.serving_endpoints.wait_get_serving_endpoint_not_updating(name)
    assert detail.state.config_update.value == "NOT_UPDATING"
    assert detail.state.ready.value == "NOT_READY"
    lines: list[str] = []
    verified = verify(client, expectation(name, {3: 100}, example=None), lines)
    assert any("NOT_UPDATING, NOT_READY" in line for line in lines)  # waited through it
    assert verified.verified_versions == {"risk_classifier-3": "3"}


def test_respects_its_deadline_on_a_stuck_update(workspace, client):
    name = unique("stuck")
    workspace.stick_update(name)
    create_endpoint(workspace, name, {3: 100})
    with pytest.raises(ReadinessError) as caught:
        verify(client, expectation(name, {3: 100}, timeout=1.0))
    assert f"endpoint {name} was not ready within 1s" in str(caught.value)
    assert "IN_PROGRESS" in str(caught.value)
    assert "Raise readiness.timeout_minutes" in str(caught.value)
    workspace.release_update(name)


def test_an_older_config_still_serving_is_not_success(workspace, client):
    name = unique("stale")
    create_endpoint(workspace, name, {3: 100})
    verify(client, expectation(name, {3: 100}, example=None))
    with pytest.raises(ReadinessError) as caught:
        verify(client, expectation(name, {3: 90, 4: 10}, example=None))
    assert str(caught.value) == (
        f"endpoint {name} cannot serve: the endpoint serves risk_classifier-3 v3 100%, the stack declares "
        "risk_classifier-3 v3 90%, risk_classifier-4 v4 10%; another change replaced the config, or the "
        "update never reached the endpoint"
    )


def test_an_endpoint_that_does_not_exist_fails_at_once(client):
    with pytest.raises(ReadinessError) as caught:
        verify(client, expectation("never-created", {3: 100}))
    assert str(caught.value) == "endpoint never-created does not exist in the workspace"


# --- failures ----------------------------------------------------------------------------------------


def test_a_failed_deployment_fails_with_entity_message_and_build_log_tail(workspace, client):
    name = unique("failed")
    workspace.fail_next_deployment(name, served_entity="risk_classifier-4", message="pip install failed: torch==9")
    create_endpoint(workspace, name, {3: 90, 4: 10})
    with pytest.raises(ReadinessError) as caught:
        verify(client, expectation(name, {3: 90, 4: 10}))
    message = str(caught.value)
    assert message.startswith(
        f"endpoint {name} cannot serve: served entity risk_classifier-4 (main.risk.risk_classifier v4) "
        "DEPLOYMENT_FAILED: "
    )
    assert "pip install failed: torch==9" in message
    assert "last build log lines of risk_classifier-4:" in message
    assert "  | " in message


def test_an_unknown_model_version_fails_and_says_what_still_serves(workspace, client):
    import requests

    name = unique("unknownversion")
    create_endpoint(workspace, name, {3: 100})
    verify(client, expectation(name, {3: 100}, example=None))
    body = {
        "served_entities": [
            {
                "name": "risk_classifier-99",
                "entity_name": "main.risk.risk_classifier",
                "entity_version": "99",
                "workload_size": "Small",
                "scale_to_zero_enabled": False,
            }
        ],
        "traffic_config": {"routes": [{"served_entity_name": "risk_classifier-99", "traffic_percentage": 100}]},
    }
    response = requests.put(
        f"{workspace.url}/api/2.0/serving-endpoints/{name}/config",
        json=body,
        headers=workspace.headers(DEPLOYER_TOKEN),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    with pytest.raises(ReadinessError) as caught:
        verify(
            client,
            Expectation(
                name,
                (DeclaredEntity("risk_classifier-99", "main.risk.risk_classifier", "99"),),
                {"risk_classifier-99": 100},
                timeout_seconds=10,
            ),
        )
    message = str(caught.value)
    assert message.startswith(f"endpoint {name} cannot serve: served entity risk_classifier-99")
    assert message.startswith(
        f"endpoint {name} cannot serve: served entity risk_classifier-99 (main.risk.risk_classifier v99) "
        "DEPLOYMENT_FAILED: Served entity deployment failed: Model version '99' of 'main.risk.risk_classifier' "
        "does not exist"
    )
    assert "; the endpoint still serves risk_classifier-3 v3 100%\n" in message
    assert "last build log lines of risk_classifier-99:" in message


# --- warmup ------------------------------------------------------------------------------------------


def test_warms_a_scale_to_zero_entity_through_its_cold_start(workspace, client):
    name = unique("cold")
    create_endpoint(workspace, name, {4: 100}, scale_to_zero=True)
    verified = verify(client, expectation(name, {4: 100}, scale_to_zero=True))
    assert set(verified.warmed) == {"risk_classifier-4"}
    assert verified.route["served_model"] == "risk_classifier-4"
    # The warmup met the entity's one cold start; the first real request meets none.
    assert workspace.counters()["warmups"][name] == {"risk_classifier-4": 1}
    first_user_request = client.invoke(name, EXAMPLE)
    assert first_user_request.ok
    assert workspace.counters()["warmups"][name] == {"risk_classifier-4": 1}


def test_warms_every_entity_directly_even_at_zero_percent(workspace, client):
    name = unique("zero")
    create_endpoint(workspace, name, {3: 100, 4: 0})
    verified = verify(client, expectation(name, {3: 100, 4: 0}))
    assert set(verified.warmed) == {"risk_classifier-3", "risk_classifier-4"}
    invocations = workspace.counters()["invocations"][name]
    assert invocations["risk_classifier-4"] >= 2  # the warmup request and the warm-latency request


def test_an_input_example_that_does_not_fit_fails_at_once_with_the_response(workspace, client):
    name = unique("badinput")
    create_endpoint(workspace, name, {3: 100})
    wrong = {"dataframe_split": {"columns": ["amount", "age"], "data": [[1.0, 2]]}}
    with pytest.raises(ReadinessError) as caught:
        verify(client, expectation(name, {3: 100}, example=wrong))
    message = str(caught.value)
    assert message.startswith(
        f"endpoint {name}: served entity risk_classifier-3 rejected the warmup input example with HTTP 400: "
    )
    assert "income" in message  # the emulator names the missing column
    assert 'Sent: {"dataframe_split": {"columns": ["amount", "age"], "data": [[1.0, 2]]}}. Fix' in message
    assert workspace.counters()["invocations"][name]["risk_classifier-3"] == 1


@pytest.mark.parametrize("status", [429, 503, 500])
def test_still_starting_answers_are_retried_until_answered(workspace, client, status):
    name = unique(f"burst{status}")
    create_endpoint(workspace, name, {3: 100})
    verify(client, expectation(name, {3: 100}, example=None))
    workspace.burst(name, count=3, status_code=status, served_entity="risk_classifier-3", retry_after_seconds=0)
    verified = verify(client, expectation(name, {3: 100}))
    assert verified.warmed["risk_classifier-3"].attempts == 4


def test_warmup_gives_up_at_its_deadline(workspace, client):
    name = unique("warmdeadline")
    create_endpoint(workspace, name, {3: 100})
    workspace.burst(name, count=1000, status_code=503, served_entity="risk_classifier-3", retry_after_seconds=0)
    with pytest.raises(ReadinessError) as caught:
        verify(client, expectation(name, {3: 100}, warmup_timeout=0.8))
    assert "did not answer the warmup input example within the warmup timeout" in str(caught.value)
    assert "last answer: HTTP 503" in str(caught.value)
    workspace.clear_faults(name)


# --- what the plugin's readiness resource does (provider.implementations) -------------------------------------
# Pure logic here; the same calls over gRPC, in the engine's order, are in tests/test_provider_engine.py.


READINESS = ReadinessKind()


def run(client, inputs) -> dict:
    return READINESS.work(inputs, client, FAST, print, time.sleep).run()


def test_diff_re_verifies_on_versions_traffic_warmup_or_a_new_endpoint_id_only():
    old = props("risk", {3: 90, 4: 10})
    assert READINESS.changed(old, dict(old)) == []
    assert READINESS.changed(old, {**old, "timeout_seconds": 99}) == []
    assert READINESS.changed(old, props("risk", {3: 50, 4: 50})) == ["traffic"]
    assert READINESS.changed(old, props("risk", {3: 90, 5: 10})) == ["served_entities", "traffic"]
    assert READINESS.changed(old, props("risk", {3: 90, 4: 10}, example=None)) == ["warmup"]
    assert READINESS.changed(old, props("risk", {3: 90, 4: 10}, endpoint_id="id-2")) == ["endpoint_id"]


def test_diff_takes_the_engines_floats_for_the_programs_integers():
    old = props("risk", {3: 90, 4: 10})
    from_engine = {**old, "traffic": {"risk_classifier-3": 90.0, "risk_classifier-4": 10.0}}
    assert READINESS.changed(from_engine, old) == []


def test_create_returns_the_verified_outputs_and_the_inputs(workspace, client):
    name = unique("create")
    created = create_endpoint(workspace, name, {3: 90, 4: 10})
    inputs = props(name, {3: 90, 4: 10}, endpoint_id=created["id"])
    outs = run(client, inputs)
    assert READINESS.resource_id(inputs) == f"{name}-readiness"
    assert outs["verified_versions"] == {"risk_classifier-3": "3", "risk_classifier-4": "4"}
    assert outs["verified_traffic"] == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    assert outs["endpoint_id"] == created["id"]
    assert outs["served_entities"] == inputs["served_entities"]
    assert set(outs["warmed"]) == {"risk_classifier-3", "risk_classifier-4"}
    assert len(outs["fingerprint"]) == 16
    assert set(READINESS.computed) <= set(outs)


def test_a_preview_has_the_inputs_and_every_computed_output_unknown():
    inputs = props("risk", {3: 100})
    outs = READINESS.preview_outputs(inputs)
    assert {key: outs[key] for key in inputs} == inputs
    assert {outs[key] for key in READINESS.computed} == {UNKNOWN}


def test_check_reports_invalid_inputs_and_tolerates_unknown_ones():
    bad = props("bad name!", {3: 80})
    bad["warmup"]["input_example_json"] = json.dumps({"instances": [], "inputs": []})
    reasons = {failure.property: failure.reason for failure in READINESS.failures(bad)}
    assert reasons == {
        "endpoint_name": "'bad name!' is not a serving endpoint name (1-63 letters, digits, - or _)",
        "traffic": "routes must sum to 100",
        "warmup.input_example_json": "needs exactly one of dataframe_split, dataframe_records, instances, inputs",
    }
    preview_of_new = {**props("risk", {3: 100}), "endpoint_name": UNKNOWN, "endpoint_id": UNKNOWN}
    assert READINESS.failures(preview_of_new) == []


def test_read_reports_the_live_state(workspace, client):
    name = unique("read")
    created = create_endpoint(workspace, name, {3: 100})
    outs = run(client, props(name, {3: 100}, endpoint_id=created["id"]))
    read = READINESS.read(outs, client)
    assert read["live_state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert read["live_served_versions"] == {"risk_classifier-3": "3"}
    assert read["live_traffic"] == {"risk_classifier-3": 100}
    assert READINESS.changed(read, props(name, {3: 100}, endpoint_id=created["id"])) == []  # no drift


def test_read_after_drift_puts_what_serves_in_the_outputs_so_the_next_diff_sees_it(workspace, client):
    name = unique("drift")
    created = create_endpoint(workspace, name, {3: 100})
    declared = props(name, {3: 100}, endpoint_id=created["id"])
    outs = run(client, declared)
    declared_later = props(name, {3: 50, 4: 50}, endpoint_id=created["id"])
    read = READINESS.read({**outs, **declared_later}, client)  # the state says 50/50; 100% serves
    assert read["traffic"] == {"risk_classifier-3": 100}
    assert READINESS.changed(read, declared_later) == ["served_entities", "traffic"]


def test_read_after_an_out_of_band_delete_reads_as_gone(workspace, client):
    name = unique("gone")
    created = create_endpoint(workspace, name, {3: 100})
    outs = run(client, props(name, {3: 100}, endpoint_id=created["id"], example=None))
    workspace.delete_out_of_band(name)
    assert READINESS.read(outs, client) is None
