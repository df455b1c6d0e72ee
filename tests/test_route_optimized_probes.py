"""Readiness, warmup and rollout probes of a route-optimized endpoint: at its own URL, with an OAuth token
that databricks-sdk's data-plane token source obtains, through its traffic split only."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from databricks.sdk.core import Config

from serving.traffic_shift import Rollout, RolloutPlan
from serving.verification import DeclaredEntity, Expectation, PollPolicy, Readiness
from serving.workspace import ServingApiError, ServingClient
from tests.support import DEPLOYER_TOKEN, EXAMPLE, entity

FAST = PollPolicy(first_delay=0.05, max_delay=0.2, jitter=0.0, stale_config_grace=2.0, progress_every=60)


def route_optimized_endpoint(workspace, shares: dict[int, int]) -> str:
    name = f"ro-{uuid.uuid4().hex[:8]}"
    body = {
        "name": name,
        "route_optimized": True,
        "config": {
            "served_entities": [entity(v) for v in shares],
            "traffic_config": {
                "routes": [
                    {"served_entity_name": f"risk_classifier-{v}", "traffic_percentage": p} for v, p in shares.items()
                ]
            },
        },
    }
    requests.post(
        f"{workspace.url}/api/2.0/serving-endpoints", json=body, headers=workspace.headers(DEPLOYER_TOKEN), timeout=10
    ).raise_for_status()
    return name


def expectation(name: str, shares: dict[int, int]) -> Expectation:
    return Expectation(
        endpoint=name,
        served_entities=tuple(
            DeclaredEntity(f"risk_classifier-{v}", "main.risk.risk_classifier", str(v)) for v in shares
        ),
        traffic={f"risk_classifier-{v}": p for v, p in shares.items()},
        timeout_seconds=20,
        input_example=EXAMPLE,
        warmup_timeout_seconds=20,
        route_optimized=True,
    )


@pytest.fixture(scope="module")
def oauth_client(workspace) -> ServingClient:
    return ServingClient(Config(**workspace.oauth_client_config()))


def test_readiness_warms_every_entity_with_a_share_through_the_route_optimized_url(workspace, oauth_client):
    name = route_optimized_endpoint(workspace, {3: 50, 4: 50, 2: 0})
    verified = Readiness(oauth_client, expectation(name, {3: 50, 4: 50, 2: 0}), FAST).run()
    assert set(verified.warmed) == {"risk_classifier-3", "risk_classifier-4"}
    assert verified.route["not_warmed"] == ["risk_classifier-2"]  # 0%: no request reaches it there
    invocations = workspace.counters()["invocations"][name]
    assert invocations["risk_classifier-3"] >= 1 and invocations["risk_classifier-4"] >= 1


def test_a_personal_access_token_cannot_probe_a_route_optimized_endpoint_and_says_why(workspace):
    name = route_optimized_endpoint(workspace, {3: 100})
    pat = ServingClient(Config(**workspace.client_config(DEPLOYER_TOKEN)))
    with pytest.raises(ServingApiError) as caught:
        Readiness(pat, expectation(name, {3: 100}), FAST).run()
    assert f"endpoint {name} is route-optimized and answers only OAuth tokens" in str(caught.value)
    assert DEPLOYER_TOKEN not in str(caught.value)


def test_a_rollout_on_a_route_optimized_endpoint_checks_parity_at_its_first_step(workspace, oauth_client):
    name = route_optimized_endpoint(workspace, {3: 100, 4: 0})
    deadline = time.monotonic() + 10
    while oauth_client.get_endpoint(name)["state"]["ready"] != "READY" and time.monotonic() < deadline:
        time.sleep(0.05)
    plan = RolloutPlan(
        endpoint=name,
        served_entities=(entity(3), entity(4)),
        target={"risk_classifier-3": 0, "risk_classifier-4": 100},
        stable="risk_classifier-3",
        candidate="risk_classifier-4",
        steps=(50, 100),
        bake_seconds=0.3,
        examples=(EXAMPLE,),
        min_requests=4,
        probe_interval_seconds=0.02,
        max_p95_latency_ms=2000,
        update_timeout_seconds=20,
        route_optimized=True,
    )
    lines: list[str] = []
    report = Rollout(oauth_client, plan, FAST, log=lines.append).run()
    assert report.parity["verdict"] == "passed"
    assert [(step.share, step.verdict) for step in report.steps] == [(50, "passed"), (100, "passed")]
    assert report.last_good_split == {"risk_classifier-3": 0, "risk_classifier-4": 100}
    assert lines.index(f"{name}: rollout: 50% to risk_classifier-4") < next(
        i for i, line in enumerate(lines) if "parity passed" in line
    )
