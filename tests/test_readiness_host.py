"""The readiness provider inside Pulumi's own provider host, driven over gRPC as `pulumi up` drives it.

Configure with a stack config holding a secret token, then Check, Create, Diff, Update, Read, Delete
against the emulator; the token must appear nowhere: not in the serialized provider, the outputs, or
anything the host printed.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from components.provider_base import APPLY
from components.readiness import EndpointReadinessProvider
from components.verification import PollPolicy
from tests.conftest import DEPLOYER_TOKEN, create_endpoint
from tests.provider_host import ProviderHost, with_provider

pytestmark = pytest.mark.slow

FAST = PollPolicy(first_delay=0.05, max_delay=0.2, jitter=0.0, stale_config_grace=0.6, progress_every=60)
EXAMPLE = {"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1200.0, 42, 58000.0]]}}


def props(name: str, endpoint_id: str, versions: dict[int, int]) -> dict:
    return {
        "endpoint_name": name,
        "endpoint_id": endpoint_id,
        "served_entities": [
            {"name": f"risk_classifier-{v}", "entity_name": "main.risk.risk_classifier", "entity_version": str(v),
             "scale_to_zero": True}
            for v in versions
        ],
        "traffic": {f"risk_classifier-{v}": share for v, share in versions.items()},
        "timeout_seconds": 30,
        "warmup": {"input_example": EXAMPLE, "timeout_seconds": 30},
        "phase": APPLY,
    }


@pytest.fixture
def host(workspace):
    """A provider host configured with the emulator's host and the deployer's token as a secret."""
    host = ProviderHost()
    host.configure({"databricks:host": workspace.url, "databricks:token": DEPLOYER_TOKEN},
                   secret_keys=("databricks:token",))
    yield host
    host.close()


def test_the_full_lifecycle_through_the_provider_host_never_reveals_the_token(workspace, host):
    name = f"host-{uuid.uuid4().hex[:8]}"
    endpoint = create_endpoint(workspace, name, {3: 100}, scale_to_zero=True)
    provider = EndpointReadinessProvider(FAST)
    news = with_provider(props(name, endpoint["id"], {3: 100}), provider)

    inputs, failures = host.check("risk-readiness", {}, news)
    assert failures == []
    resource_id, outs = host.create("risk-readiness", inputs)
    assert resource_id == f"{name}-readiness"
    assert outs["verified_versions"] == {"risk_classifier-3": "3"}
    assert outs["verified_traffic"] == {"risk_classifier-3": 100}  # numbers come back as floats; 100.0 == 100
    assert outs["warmed"]["risk_classifier-3"]["attempts"] >= 1
    assert outs["warmed"]["risk_classifier-3"]["first_request_seconds"] >= 1.0  # a scale-to-zero cold start

    unchanged = host.diff("risk-readiness", resource_id, outs, news)
    assert unchanged.changes == unchanged.DIFF_NONE

    # Shift traffic: the endpoint is updated first (as pulumi-databricks would), then readiness re-verifies.
    import requests

    config = {
        "served_entities": [
            {"name": f"risk_classifier-{v}", "entity_name": "main.risk.risk_classifier", "entity_version": str(v),
             "workload_size": "Small", "scale_to_zero_enabled": True}
            for v in (3, 4)
        ],
        "traffic_config": {"routes": [{"served_entity_name": "risk_classifier-3", "traffic_percentage": 90},
                                      {"served_entity_name": "risk_classifier-4", "traffic_percentage": 10}]},
    }
    requests.put(f"{workspace.url}/api/2.0/serving-endpoints/{name}/config", json=config,
                 headers=workspace.headers(DEPLOYER_TOKEN), timeout=10).raise_for_status()
    shifted = with_provider(props(name, endpoint["id"], {3: 90, 4: 10}), provider)
    changed = host.diff("risk-readiness", resource_id, outs, shifted)
    assert changed.changes == changed.DIFF_SOME
    inputs, failures = host.check("risk-readiness", news, shifted)
    updated = host.update("risk-readiness", resource_id, outs, inputs)
    assert updated["verified_traffic"] == {"risk_classifier-3": 90, "risk_classifier-4": 10}
    assert set(updated["warmed"]) == {"risk_classifier-3", "risk_classifier-4"}

    read_id, live, _ = host.read("risk-readiness", resource_id, updated)
    assert read_id == resource_id
    assert live["live_state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}

    host.delete("risk-readiness", resource_id, updated)
    workspace.delete_out_of_band(name)
    gone_id, _, _ = host.read("risk-readiness", resource_id, updated)
    assert gone_id == ""

    printed = host.close()
    serialized = news["__provider"]
    assert DEPLOYER_TOKEN not in base64.b64decode(serialized).decode("latin-1")
    assert DEPLOYER_TOKEN not in json.dumps([outs, updated, live], default=str)
    assert DEPLOYER_TOKEN not in printed
    assert f"{name}: serving risk_classifier-3 v3 90%, risk_classifier-4 v4 10%, verified" in printed


def test_a_failed_deployment_fails_create_with_the_reason_and_no_token(workspace, host):
    name = f"hostfail-{uuid.uuid4().hex[:8]}"
    workspace.fail_next_deployment(name, message="conda env solve failed")
    endpoint = create_endpoint(workspace, name, {3: 100})
    inputs, _ = host.check("risk-readiness", {}, with_provider(props(name, endpoint["id"], {3: 100}),
                                                                EndpointReadinessProvider(FAST)))
    import grpc

    with pytest.raises(grpc.RpcError) as caught:
        host.create("risk-readiness", inputs)
    details = caught.value.details()
    assert f"endpoint {name} cannot serve: served entity risk_classifier-3" in details
    assert "conda env solve failed" in details
    assert DEPLOYER_TOKEN not in details
    assert DEPLOYER_TOKEN not in host.close()


def test_twelve_endpoints_are_verified_concurrently_despite_four_host_workers(workspace, host):
    """Check starts each verification; the host's four workers only join them (see components.readiness)."""
    names = [f"many-{i:02d}-{uuid.uuid4().hex[:6]}" for i in range(12)]
    endpoints = {name: create_endpoint(workspace, name, {3: 100}) for name in names}
    provider = EndpointReadinessProvider(FAST)
    for name in names:
        workspace.set_latency(name, 1.0)  # each warmup request takes a second
    started = time.monotonic()
    checked = {
        name: host.check(f"{name}-readiness", {}, with_provider(props(name, endpoints[name]["id"], {3: 100}),
                                                                 provider))[0]
        for name in names
    }
    with ThreadPoolExecutor(max_workers=12) as engine:
        results = list(engine.map(lambda name: host.create(f"{name}-readiness", checked[name]), names))
    elapsed = time.monotonic() - started
    assert [outs["verified_versions"] for _, outs in results] == [{"risk_classifier-3": "3"}] * 12
    # One endpoint alone takes >= 3 s (warmup, warm-latency and route requests at 1 s each); twelve in three
    # rounds of four would take >= 9 s.
    assert elapsed < 7.0
