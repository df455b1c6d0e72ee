"""Readiness and warmup against the local workspace emulator.

`pulumi up` must end only when every served model answers, warm, or fail with the reason. Each test
drives the real verification code (and the provider's own methods) over HTTP against the emulator.
"""

from __future__ import annotations

import time
import uuid

import pytest
from databricks.sdk.core import Config

from components.provider_base import APPLY, PREVIEW
from components.readiness import EndpointReadinessProvider, check_inputs
from components.verification import DeclaredEntity, Expectation, PollPolicy, Readiness, ReadinessError
from components.workspace import ServingClient
from tests.conftest import DEPLOYER_TOKEN, create_endpoint

FAST = PollPolicy(first_delay=0.05, max_delay=0.2, jitter=0.0, stale_config_grace=0.6, progress_every=60)
EXAMPLE = {"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1200.0, 42, 58000.0]]}}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def expectation(name: str, versions: dict[int, int], *, example=EXAMPLE, timeout=20.0, warmup_timeout=20.0,
                scale_to_zero: bool = False) -> Expectation:
    return Expectation(
        endpoint=name,
        served_entities=tuple(
            DeclaredEntity(f"risk_classifier-{v}", "main.risk.risk_classifier", str(v), scale_to_zero)
            for v in versions
        ),
        traffic={f"risk_classifier-{v}": share for v, share in versions.items()},
        timeout_seconds=timeout,
        input_example=example,
        warmup_timeout_seconds=warmup_timeout,
    )


@pytest.fixture(scope="module")
def client(workspace) -> ServingClient:
    return ServingClient(Config(**workspace.client_config(DEPLOYER_TOKEN)))


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
    started = time.monotonic()
    detail = sdk.serving_endpoints.wait_get_serving_endpoint_not_updating(name)
    assert detail.state.config_update.value == "NOT_UPDATING"
    assert detail.state.ready.value == "NOT_READY"
    lines: list[str] = []
    verify(client, expectation(name, {3: 100}, example=None), lines)
    assert time.monotonic() - started >= 1.2
    assert any("NOT_UPDATING, NOT_READY" in line for line in lines)


def test_respects_its_deadline_on_a_stuck_update(workspace, client):
    name = unique("stuck")
    workspace.stick_update(name)
    create_endpoint(workspace, name, {3: 100})
    started = time.monotonic()
    with pytest.raises(ReadinessError) as caught:
        verify(client, expectation(name, {3: 100}, timeout=1.0))
    elapsed = time.monotonic() - started
    assert 0.7 <= elapsed < 3.0
    assert f"endpoint {name} was not ready within" in str(caught.value)
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
            {"name": "risk_classifier-99", "entity_name": "main.risk.risk_classifier", "entity_version": "99",
             "workload_size": "Small", "scale_to_zero_enabled": False}
        ],
        "traffic_config": {"routes": [{"served_entity_name": "risk_classifier-99", "traffic_percentage": 100}]},
    }
    response = requests.put(f"{workspace.url}/api/2.0/serving-endpoints/{name}/config", json=body,
                            headers=workspace.headers(DEPLOYER_TOKEN), timeout=10)
    assert response.status_code == 200, response.text
    with pytest.raises(ReadinessError) as caught:
        verify(client, Expectation(name, (DeclaredEntity("risk_classifier-99", "main.risk.risk_classifier", "99"),),
                                   {"risk_classifier-99": 100}, timeout_seconds=10))
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
    warmed = verified.warmed["risk_classifier-4"]
    assert warmed.first_request_seconds >= 1.0  # the emulator's cold start
    assert warmed.warm_latency_ms < 500
    assert verified.route["served_model"] == "risk_classifier-4"
    first_user_request = client.invoke(name, EXAMPLE)
    assert first_user_request.ok and first_user_request.seconds < 0.5


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
    started = time.monotonic()
    with pytest.raises(ReadinessError) as caught:
        verify(client, expectation(name, {3: 100}, example=wrong))
    assert time.monotonic() - started < 3.0
    message = str(caught.value)
    assert message.startswith(
        f"endpoint {name}: served entity risk_classifier-3 rejected the warmup input example with HTTP 400: "
    )
    assert "income" in message  # the emulator names the missing column
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
    started = time.monotonic()
    with pytest.raises(ReadinessError) as caught:
        verify(client, expectation(name, {3: 100}, warmup_timeout=0.8))
    assert time.monotonic() - started < 3.0
    assert "did not answer the warmup input example within the warmup timeout" in str(caught.value)
    assert "last answer: HTTP 503" in str(caught.value)
    workspace.clear_faults(name)


# --- the provider's engine-facing methods --------------------------------------------------------------


def props(name: str, versions: dict[int, int], *, phase=APPLY, endpoint_id="id-1", example=EXAMPLE, timeout=20):
    return {
        "endpoint_name": name,
        "endpoint_id": endpoint_id,
        "served_entities": [
            {"name": f"risk_classifier-{v}", "entity_name": "main.risk.risk_classifier", "entity_version": str(v),
             "scale_to_zero": False}
            for v in versions
        ],
        "traffic": {f"risk_classifier-{v}": share for v, share in versions.items()},
        "timeout_seconds": timeout,
        "warmup": {"input_example": example, "timeout_seconds": 20},
        "phase": phase,
    }


@pytest.fixture
def provider(client) -> EndpointReadinessProvider:
    provider = EndpointReadinessProvider(FAST)
    provider._client = client  # what `configure` builds from the stack config in the provider host
    return provider


def test_diff_re_verifies_on_versions_traffic_warmup_or_a_new_endpoint_id_only(provider):
    old = props("risk", {3: 90, 4: 10})
    assert provider.diff("id", old, dict(old)).changes is False
    assert provider.diff("id", old, {**old, "timeout_seconds": 99, "phase": PREVIEW}).changes is False
    assert provider.diff("id", old, props("risk", {3: 50, 4: 50})).changes is True
    assert provider.diff("id", old, props("risk", {3: 90, 5: 10})).changes is True
    assert provider.diff("id", old, props("risk", {3: 90, 4: 10}, example=None)).changes is True
    assert provider.diff("id", old, props("risk", {3: 90, 4: 10}, endpoint_id="id-2")).changes is True
    assert provider.diff("id", old, props("risk", {3: 90, 4: 10})).replaces == []


def test_create_returns_the_verified_outputs_and_the_inputs(workspace, provider):
    name = unique("create")
    created = create_endpoint(workspace, name, {3: 90, 4: 10})
    inputs = props(name, {3: 90, 4: 10}, endpoint_id=created["id"])
    result = provider.create(inputs)
    assert result.id == f"{name}-readiness"
    assert result.outs["verified_versions"] == {"risk_classifier-3": "3", "risk_classifier-4": "4"}
    assert result.outs["verified_traffic"] == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    assert result.outs["endpoint_id"] == created["id"]
    assert result.outs["served_entities"] == inputs["served_entities"]
    assert set(result.outs["warmed"]) == {"risk_classifier-3", "risk_classifier-4"}
    assert len(result.outs["fingerprint"]) == 16


def test_check_during_up_starts_verification_and_during_preview_sends_nothing(workspace, provider):
    name = unique("check")
    created = create_endpoint(workspace, name, {3: 100})
    before = workspace.counters()["get_calls"].get(name, 0)
    provider.check({}, props(name, {3: 100}, phase=PREVIEW, endpoint_id=created["id"]))
    time.sleep(0.3)
    assert workspace.counters()["get_calls"].get(name, 0) == before
    provider.check({}, props(name, {3: 100}, phase=APPLY, endpoint_id=created["id"]))
    deadline = time.monotonic() + 5
    while workspace.counters()["get_calls"].get(name, 0) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workspace.counters()["get_calls"].get(name, 0) > before
    # create joins the verification check started instead of starting another
    outs = provider.create(props(name, {3: 100}, endpoint_id=created["id"])).outs
    assert outs["verified_versions"] == {"risk_classifier-3": "3"}


def test_check_reports_invalid_inputs_and_tolerates_unknown_ones():
    from pulumi.output import Unknown

    bad = props("bad name!", {3: 80})
    bad["warmup"]["input_example"] = {"instances": [], "inputs": []}
    reasons = {failure.property: failure.reason for failure in check_inputs(bad)}
    assert reasons == {
        "endpoint_name": "'bad name!' is not a serving endpoint name",
        "traffic": "routes must sum to 100",
        "warmup.input_example": "needs exactly one of dataframe_split, dataframe_records, instances, inputs",
    }
    preview_of_new = {**props("risk", {3: 100}), "endpoint_name": Unknown(), "endpoint_id": Unknown()}
    assert check_inputs(preview_of_new) == []


def test_read_reports_the_live_state(workspace, provider):
    name = unique("read")
    created = create_endpoint(workspace, name, {3: 100})
    outs = provider.create(props(name, {3: 100}, endpoint_id=created["id"])).outs
    read = provider.read(f"{name}-readiness", outs)
    assert read.id == f"{name}-readiness"
    assert read.outs["live_state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert read.outs["live_served_versions"] == {"risk_classifier-3": "3"}
    assert read.outs["live_traffic"] == {"risk_classifier-3": 100}
    assert read.inputs is None  # no drift


def test_read_after_drift_records_what_serves_so_the_next_up_verifies_again(workspace, provider):
    name = unique("drift")
    created = create_endpoint(workspace, name, {3: 100})
    outs = provider.create(props(name, {3: 100}, endpoint_id=created["id"])).outs
    drifted = {**outs, "traffic": {"risk_classifier-3": 50, "risk_classifier-4": 50},
               "served_entities": props(name, {3: 50, 4: 50})["served_entities"]}
    read = provider.read(f"{name}-readiness", drifted)
    assert read.inputs["traffic"] == {"risk_classifier-3": 100}
    assert provider.diff("id", read.inputs, drifted).changes is True


def test_read_after_an_out_of_band_delete_reads_as_gone(workspace, provider):
    name = unique("gone")
    created = create_endpoint(workspace, name, {3: 100})
    outs = provider.create(props(name, {3: 100}, endpoint_id=created["id"], example=None)).outs
    workspace.delete_out_of_band(name)
    read = provider.read(f"{name}-readiness", outs)
    assert read.id == ""
    assert read.outs == {}


def test_delete_leaves_the_endpoint_alone(workspace, provider):
    name = unique("delete")
    create_endpoint(workspace, name, {3: 100})
    provider.delete(f"{name}-readiness", props(name, {3: 100}))
    assert ServingClient(Config(**workspace.client_config(DEPLOYER_TOKEN))).get_endpoint(name) is not None
