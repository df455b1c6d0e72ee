"""Safe rollout against the emulator: steps, gates, automatic rollback, resume, ownership of traffic."""

from __future__ import annotations

import time
import uuid

import pytest

from serving.traffic_shift import Rollout, RolloutError, RolloutPlan, RolloutReport, entity_metrics, histogram_quantile
from serving.verification import PollPolicy
from serving.workspace import ServingClient
from tests.support import (
    DEPLOYER_TOKEN,
    EXAMPLE,
    Callers,
    create_endpoint,
    deployer_client,
    entity,
    live_split,
    new_endpoint,
)

FAST = PollPolicy(first_delay=0.05, max_delay=0.2, jitter=0.0, stale_config_grace=2.0, progress_every=60)


def plan(
    name: str, target: int, *, stable: int = 3, candidate: int = 4, steps=(10, 50, 100), bake=0.3, **overrides
) -> RolloutPlan:
    # The latency gate is far above what a loaded machine adds; the slow-candidate test sets its own.
    settings = dict(
        max_error_rate=0.05,
        max_p95_latency_ms=2000,
        min_requests=6,
        probe_interval_seconds=0.02,
        update_timeout_seconds=20,
    )
    settings.update(overrides)
    return RolloutPlan(
        endpoint=name,
        served_entities=(entity(stable), entity(candidate)),
        target={f"risk_classifier-{stable}": 100 - target, f"risk_classifier-{candidate}": target},
        stable=f"risk_classifier-{stable}",
        candidate=f"risk_classifier-{candidate}",
        steps=tuple(steps),
        bake_seconds=bake,
        examples=(EXAMPLE,),
        **settings,
    )


def config_updates(workspace, name: str) -> int:
    return workspace.counters()["api_calls"].get("PUT /api/2.0/serving-endpoints/{name}/config", 0)


@pytest.fixture(scope="module")
def client(workspace) -> ServingClient:
    return deployer_client(workspace)


# --- the way up --------------------------------------------------------------------------------------


def test_happy_path_reaches_100_percent_with_every_step_recorded(workspace, client):
    name = new_endpoint(workspace, "happy")
    report = Rollout(client, plan(name, 100), FAST).run()
    assert [(step.share, step.verdict) for step in report.steps] == [(10, "passed"), (50, "passed"), (100, "passed")]
    assert all(step.requests >= 6 and step.error_rate == 0 for step in report.steps)
    assert report.parity["verdict"] == "passed" and report.parity["max_difference"] == 0
    assert report.last_good_split == {"risk_classifier-3": 0, "risk_classifier-4": 100}
    assert report.rolled_back is False and report.started_from == 0
    assert live_split(client, name) == {"risk_classifier-3": 0, "risk_classifier-4": 100}


def test_the_walk_stops_at_the_declared_share(workspace, client):
    name = new_endpoint(workspace, "partial")
    report = Rollout(client, plan(name, 50), FAST).run()
    assert [step.share for step in report.steps] == [10, 50]
    assert live_split(client, name) == {"risk_classifier-3": 50, "risk_classifier-4": 50}


def test_callers_see_no_failed_request_during_a_rollout(workspace, client):
    name = new_endpoint(workspace, "callers")
    with Callers(client, name) as callers:
        Rollout(client, plan(name, 100), FAST).run()
    assert set(callers.statuses) == {200}
    assert sum(callers.statuses.values()) > 20


# --- gates and rollback ------------------------------------------------------------------------------


def test_a_failing_candidate_is_rolled_back_to_0_percent_and_up_fails_with_the_report(workspace, client):
    name = new_endpoint(workspace, "failing")
    workspace.set_error_rate(name, 0.5, served_entity="risk_classifier-4")
    before = config_updates(workspace, name)
    with pytest.raises(RolloutError) as caught:
        Rollout(client, plan(name, 100), FAST).run()
    message = str(caught.value)
    assert message.startswith(
        f"endpoint {name}: rollout of risk_classifier-4 stopped at step 10%: health gate "
        "failed: error rate 50.00% > 5.00% over "
    )
    assert "last samples: " in message and "500/" in message
    assert (
        "All traffic is back on risk_classifier-3, serving risk_classifier-3 v3 100%, risk_classifier-4 v4 0%"
        in message
    )
    assert caught.value.report["rolled_back"] is True
    assert caught.value.report["steps"][0]["verdict"] == "failed"
    assert live_split(client, name) == {"risk_classifier-3": 100, "risk_classifier-4": 0}
    assert config_updates(workspace, name) - before == 2  # step 10%, then the rollback: one config update


def test_a_slow_candidate_is_rolled_back_and_callers_see_no_failed_request(workspace, client):
    name = new_endpoint(workspace, "slow")
    workspace.set_latency(name, 0.6, served_entity="risk_classifier-4")  # four times the gate's limit
    with Callers(client, name) as callers, pytest.raises(RolloutError) as caught:
        Rollout(client, plan(name, 100, max_p95_latency_ms=150), FAST).run()
    assert "stopped at step 10%: health gate failed: p95 latency " in str(caught.value)
    assert "ms > 150ms over " in str(caught.value)
    assert live_split(client, name) == {"risk_classifier-3": 100, "risk_classifier-4": 0}
    assert set(callers.statuses) == {200}


def test_a_parity_mismatch_blocks_before_any_traffic_moves(workspace, client):
    name = new_endpoint(workspace, "parity", stable=2, candidate=3)  # versions 2 and 3 predict differently
    before = config_updates(workspace, name)
    with pytest.raises(RolloutError) as caught:
        Rollout(client, plan(name, 100, stable=2, candidate=3), FAST).run()
    message = str(caught.value)
    assert message.startswith(
        f"endpoint {name}: parity gate failed before any traffic moved: on example 1, risk_classifier-3 predicts "
    )
    assert "(differ by up to " in message and "tolerance 1e-06" in message
    assert config_updates(workspace, name) == before
    assert live_split(client, name) == {"risk_classifier-2": 100, "risk_classifier-3": 0}


def test_a_schema_mismatch_fails_parity_at_once(workspace, client):
    import requests

    workspace.register_model_version("main.risk.risk_tenure", "1", columns=["amount", "age", "tenure"])
    name = f"schema-{uuid.uuid4().hex[:8]}"
    candidate = {**entity(1), "name": "risk_tenure-1", "entity_name": "main.risk.risk_tenure"}
    body = {
        "name": name,
        "config": {
            "served_entities": [entity(3), candidate],
            "traffic_config": {
                "routes": [
                    {"served_entity_name": "risk_classifier-3", "traffic_percentage": 100},
                    {"served_entity_name": "risk_tenure-1", "traffic_percentage": 0},
                ]
            },
        },
    }
    requests.post(
        f"{workspace.url}/api/2.0/serving-endpoints", json=body, headers=workspace.headers(DEPLOYER_TOKEN), timeout=10
    ).raise_for_status()
    mismatched = RolloutPlan(
        endpoint=name,
        served_entities=(entity(3), candidate),
        target={"risk_classifier-3": 0, "risk_tenure-1": 100},
        stable="risk_classifier-3",
        candidate="risk_tenure-1",
        steps=(10, 100),
        bake_seconds=0.3,
        examples=(EXAMPLE,),
        update_timeout_seconds=20,
    )
    before = config_updates(workspace, name)
    with pytest.raises(RolloutError) as caught:
        Rollout(client, mismatched, FAST).run()
    assert str(caught.value).startswith(
        f"endpoint {name}: parity gate failed before any traffic moved: endpoint {name}: served entity "
        "risk_tenure-1 rejected parity example 1 with HTTP 400: "
    )
    assert "tenure" in str(caught.value)
    assert config_updates(workspace, name) == before  # refused at once: no step was tried
    assert live_split(client, name)["risk_tenure-1"] == 0


def test_parity_against_expected_predictions(workspace, client):
    name = new_endpoint(workspace, "expected")
    reference = client.invoke(name, EXAMPLE, served_entity="risk_classifier-3").json()["predictions"]
    report = Rollout(client, plan(name, 10, expected_predictions=(reference,)), FAST).run()
    assert report.parity["verdict"] == "passed"
    with pytest.raises(RolloutError) as caught:
        Rollout(client, plan(name, 50, expected_predictions=([-1.0],)), FAST).run()
    assert "and the expected predictions [-1.0]" in str(caught.value)


# --- by config ---------------------------------------------------------------------------------------


def test_rolling_back_by_config_takes_one_config_update_and_no_gate(workspace, client):
    name = new_endpoint(workspace, "back", share=50)
    workspace.set_error_rate(name, 1.0, served_entity="risk_classifier-4")  # gates would fail: none runs
    before = config_updates(workspace, name)
    report = Rollout(client, plan(name, 0), FAST).run()
    assert config_updates(workspace, name) - before == 1
    assert report.steps == [] and report.started_from == 50
    assert live_split(client, name) == {"risk_classifier-3": 100, "risk_classifier-4": 0}


def test_nothing_moves_when_the_endpoint_already_serves_the_declared_split_the_state_records(workspace, client):
    name = new_endpoint(workspace, "steady", share=10)
    before = config_updates(workspace, name)
    recorded = {"risk_classifier-3": 90, "risk_classifier-4": 10}
    report = Rollout(client, plan(name, 10), FAST, verified_split=recorded).run()
    assert config_updates(workspace, name) == before
    assert report.steps == [] and report.last_good_split == recorded


def test_a_declared_split_no_gate_judged_is_judged_without_moving_traffic(workspace, client):
    # An earlier run was stopped while its update ran; the update landed later, at the declared 10%.
    name = new_endpoint(workspace, "landed", share=10)
    before = config_updates(workspace, name)
    report = Rollout(
        client, plan(name, 10), FAST, verified_split={"risk_classifier-3": 100, "risk_classifier-4": 0}
    ).run()
    assert config_updates(workspace, name) == before
    assert [(step.share, step.verdict) for step in report.steps] == [(10, "passed")]
    assert report.last_good_split == {"risk_classifier-3": 90, "risk_classifier-4": 10}


def test_a_declared_split_no_gate_judged_that_fails_its_gate_is_rolled_back(workspace, client):
    name = new_endpoint(workspace, "landed-bad", share=10)
    workspace.set_error_rate(name, 1.0, served_entity="risk_classifier-4")
    with pytest.raises(RolloutError) as caught:
        Rollout(client, plan(name, 10), FAST, verified_split=None).run()
    assert "stopped at step 10%: health gate failed" in str(caught.value)
    assert live_split(client, name) == {"risk_classifier-3": 100, "risk_classifier-4": 0}


def test_a_new_candidate_is_added_at_0_percent_first(workspace, client):
    name = f"add-{uuid.uuid4().hex[:8]}"
    create_endpoint(workspace, name, {3: 100})
    lines: list[str] = []
    Rollout(client, plan(name, 10), FAST, log=lines.append).run()
    assert f"{name}: rollout: applying the declared served entities with risk_classifier-4 at 0%" in lines
    assert live_split(client, name) == {"risk_classifier-3": 90, "risk_classifier-4": 10}


def test_a_histogram_quantile_interpolates_within_its_bucket_as_prometheus_does():
    buckets = {5.0: 0, 10.0: 50, 25.0: 100, float("inf"): 100}
    assert histogram_quantile(buckets, 0.95) == pytest.approx(23.5)
    assert histogram_quantile(buckets, 0.5) == pytest.approx(10.0)
    assert histogram_quantile({5.0: 0, float("inf"): 0}, 0.95) is None


PER_MINUTE_EXPORT = """\
# TYPE request_count_total gauge
request_count_total{endpoint_name="e",served_entity_name="risk_classifier-4"} 200
# TYPE request_5xx_count_total gauge
request_5xx_count_total{endpoint_name="e",served_entity_name="risk_classifier-4"} 30
request_count_total{endpoint_name="e",served_entity_name="risk_classifier-3"} 900
request_latency_ms_bucket{endpoint_name="e",served_entity_name="risk_classifier-4",le="50"} 100
request_latency_ms_bucket{endpoint_name="e",served_entity_name="risk_classifier-4",le="100"} 200
request_latency_ms_bucket{endpoint_name="e",served_entity_name="risk_classifier-4",le="+Inf"} 200
"""


def test_the_health_gate_reads_one_per_minute_scrape_as_it_is_and_says_which_source_tripped():
    rollout = Rollout(None, plan("e", 100), FAST)  # type: ignore[arg-type] - judging sends nothing
    metrics = entity_metrics(PER_MINUTE_EXPORT, "risk_classifier-4")
    assert metrics["gauges"] == {"request_count_total": 200.0, "request_5xx_count_total": 30.0}
    probes = [(200, 20.0)] * 10  # our own requests all fine
    step = rollout._judge(10, 0.0, probes, metrics)
    assert step.verdict == "failed" and step.tripped_by == "metrics"
    assert step.reason == "error rate 15.00% > 5.00% over 200 requests (metrics)"
    assert step.observed["probes"] == {"requests": 10, "errors": 0, "error_rate": 0.0, "p95_latency_ms": 20.0}
    assert step.observed["metrics"]["p50_latency_ms"] == 50.0
    assert step.observed["metrics"]["p99_latency_ms"] == 99.0  # rank 198 of 200: 50 + 50 * 98/100


def test_the_probes_decide_alone_while_the_export_holds_too_few_requests():
    rollout = Rollout(None, plan("e", 100, min_requests=6), FAST)  # type: ignore[arg-type]
    quiet = entity_metrics(PER_MINUTE_EXPORT.replace(" 200\n", " 3\n", 1), "risk_classifier-4")
    step = rollout._judge(10, 0.0, [(500, 20.0)] * 6, quiet)
    assert step.sources == ["probes"] and step.tripped_by == "probes"
    assert step.reason == "error rate 100.00% > 5.00% over 6 requests (probes)"


def test_a_bake_reports_the_exports_latencies_next_to_the_probes(workspace, client):
    name = new_endpoint(workspace, "observed")
    report = Rollout(client, plan(name, 10, min_requests=6), FAST).run()
    [step] = report.steps
    assert step.sources == ["probes", "metrics"]
    assert step.observed["metrics"]["requests"] >= 6
    assert {"p50_latency_ms", "p99_latency_ms", "p95_latency_ms"} <= set(step.observed["metrics"])


def test_a_restore_that_gives_up_on_a_running_update_says_where_that_update_will_put_traffic(workspace, client):
    # Cancel found the step's config update still running and its budget ran out before it finished.
    name = new_endpoint(workspace, "giveup")
    rollout = Rollout(client, plan(name, 50), FAST)
    rollout.report = RolloutReport(
        name,
        "risk_classifier-4",
        "risk_classifier-3",
        0,
        50,
        last_good_split={"risk_classifier-3": 100, "risk_classifier-4": 0},
    )
    workspace.stick_update(name)
    client.update_config(
        name,
        {
            "served_entities": [entity(3), entity(4)],
            "traffic_config": {
                "routes": [
                    {"served_entity_name": "risk_classifier-3", "traffic_percentage": 50},
                    {"served_entity_name": "risk_classifier-4", "traffic_percentage": 50},
                ]
            },
        },
    )
    try:
        outcome = rollout.restore(deadline=time.monotonic() + 0.5)
    finally:
        workspace.release_update(name)
    assert outcome.startswith("an update was still running when the restore had to give up; ")
    assert "That update lands later and puts traffic at {'risk_classifier-3': 50, 'risk_classifier-4': 50}" in outcome
    assert outcome.endswith("a split no gate has judged: the next `pulumi up` judges it before moving on")
