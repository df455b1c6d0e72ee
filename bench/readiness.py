"""Readiness and warmup on the emulator (a separate process), each measured side by side with a baseline.

1. First user request after a deploy: ours (readiness + warmup) against a deploy that only waits for
   NOT_UPDATING with databricks-sdk's waiter (what Terraform and Asset Bundles do). A scale-to-zero
   entity, a cold start of `--cold-start` seconds, a model that answers in 50 ms once warm.
   Goal: first-request latency at most 1.5x the warm latency.
2. Readiness time of 12 endpoints through the servingops plugin, driven in the engine's order (resources
   registered one after another, Check and Diff one at a time from one loop while earlier Creates run)
   against one endpoint the same way. Goal: at most 1.2x.
3. GET calls while an endpoint provisions for `--provisioning` seconds: ours against the sdk waiter,
   on two endpoints created at the same moment. Goal: no more.

    python -m bench readiness [--cold-start 3] [--provisioning 20]
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

from databricks.sdk.core import Config

from emulator.testing import EmulatorHandle, emulator_process
from serving.verification import DeclaredEntity, Expectation, Readiness
from serving.workspace import ServingClient
from tests.engine_driver import READINESS, Plugin, Step, urn
from tests.support import DEPLOYER_TOKEN, create_endpoint

EXAMPLE = {"dataframe_split": {"columns": ["amount", "age", "income"], "data": [[1200.0, 42, 58000.0]]}}
MODEL_LATENCY_SECONDS = 0.05


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _expectation(name: str, scale_to_zero: bool) -> Expectation:
    return Expectation(
        endpoint=name,
        served_entities=(DeclaredEntity("risk_classifier-4", "main.risk.risk_classifier", "4", scale_to_zero),),
        traffic={"risk_classifier-4": 100},
        timeout_seconds=600,
        input_example=EXAMPLE,
        warmup_timeout_seconds=600,
    )


def _first_and_warm(client: ServingClient, name: str) -> tuple[float, float]:
    """Latency of the first user request, and the median of the five after it."""
    first = client.invoke(name, EXAMPLE)
    warm = [client.invoke(name, EXAMPLE) for _ in range(5)]
    assert first.ok and all(answer.ok for answer in warm), (first, warm)
    return first.seconds, statistics.median(answer.seconds for answer in warm)


def first_request(workspace: EmulatorHandle, client: ServingClient) -> None:
    ours, baseline = _name("warmed"), _name("sdkwait")
    for name in (ours, baseline):
        create_endpoint(workspace, name, {4: 100}, scale_to_zero=True)
        workspace.set_latency(name, MODEL_LATENCY_SECONDS)
    sdk = workspace.workspace_client(DEPLOYER_TOKEN)
    started = time.monotonic()
    sdk.serving_endpoints.wait_get_serving_endpoint_not_updating(baseline, timeout=timedelta(minutes=10))
    baseline_deploy = time.monotonic() - started
    started = time.monotonic()
    Readiness(client, _expectation(ours, scale_to_zero=True)).run()
    ours_deploy = time.monotonic() - started
    print("\n1. First user request after deploy (scale-to-zero entity)")
    print(f"   {'deploy waits for':<34} {'deploy (s)':>10} {'first (ms)':>11} {'warm (ms)':>10} {'first/warm':>11}")
    for label, name, deploy in (
        ("NOT_UPDATING (sdk waiter)", baseline, baseline_deploy),
        ("readiness + warmup (ours)", ours, ours_deploy),
    ):
        first, warm = _first_and_warm(client, name)
        print(f"   {label:<34} {deploy:>10.2f} {first * 1000:>11.1f} {warm * 1000:>10.1f} {first / warm:>10.2f}x")


REGISTRATION_GAP_SECONDS = 0.05
"""Between two readiness registrations: the program registers each once its endpoint exists."""


def _readiness_props(name: str, endpoint_id: str) -> dict[str, Any]:
    return {
        "endpoint_name": name,
        "endpoint_id": endpoint_id,
        "served_entities": [
            {
                "name": "risk_classifier-4",
                "entity_name": "main.risk.risk_classifier",
                "entity_version": "4",
                "scale_to_zero": True,
            }
        ],
        "traffic": {"risk_classifier-4": 100},
        "timeout_seconds": 600,
        "warmup": {"input_example_json": json.dumps(EXAMPLE), "timeout_seconds": 600},
        "route_optimized": False,
    }


def _through_plugin(workspace: EmulatorHandle, count: int) -> float:
    """Seconds from the first registration to the last Create returning, for `count` new endpoints."""
    names = [_name(f"plugin{count}") for _ in range(count)]
    endpoints = {name: create_endpoint(workspace, name, {4: 100}, scale_to_zero=True) for name in names}
    with Plugin() as plugin:
        plugin.configure({"host": workspace.url, "token": DEPLOYER_TOKEN}, secret_keys={"token"})
        steps = [
            Step(urn(READINESS, f"{name}-readiness"), _readiness_props(name, endpoints[name]["id"])) for name in names
        ]
        registered: queue.Queue[Step | None] = queue.Queue()
        engine = threading.Thread(target=plugin.deploy, args=(steps,), kwargs={"registered": registered})
        started = time.monotonic()
        engine.start()
        for step in steps:
            registered.put(step)
            time.sleep(REGISTRATION_GAP_SECONDS)
        registered.put(None)
        engine.join()
        elapsed = time.monotonic() - started
    failed = [step.error.details() for step in steps if step.error is not None]
    assert not failed, failed
    return elapsed


def many_endpoints(workspace: EmulatorHandle) -> None:
    one = _through_plugin(workspace, 1)
    twelve = _through_plugin(workspace, 12)
    print(
        "\n2. Readiness through the servingops plugin in the engine's order, new scale-to-zero endpoints "
        f"(registered {REGISTRATION_GAP_SECONDS:g} s apart)"
    )
    print(f"   1 endpoint: {one:.2f} s   12 endpoints: {twelve:.2f} s   ratio {twelve / one:.2f}x")


def get_calls(workspace: EmulatorHandle, client: ServingClient) -> None:
    ours, baseline = _name("pollours"), _name("pollsdk")
    sdk = workspace.workspace_client(DEPLOYER_TOKEN)
    for name in (ours, baseline):
        create_endpoint(workspace, name, {4: 100})
    waiters = [
        threading.Thread(
            target=lambda: sdk.serving_endpoints.wait_get_serving_endpoint_not_updating(
                baseline, timeout=timedelta(minutes=10)
            )
        ),
        threading.Thread(
            target=lambda: Readiness(client, _expectation(ours, False)).wait_until_ready(time.monotonic() + 600)
        ),
    ]
    for waiter in waiters:
        waiter.start()
    for waiter in waiters:
        waiter.join()
    calls = workspace.counters()["get_calls"]
    print(f"\n3. GET calls while the endpoint provisions for {workspace.settings.update_seconds:.0f} s")
    print(f"   sdk waiter: {calls.get(baseline, 0)}   ours: {calls.get(ours, 0)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench readiness", description=__doc__.splitlines()[0])
    parser.add_argument("--cold-start", type=float, default=3.0, help="seconds a scale-to-zero entity takes to wake")
    parser.add_argument("--provisioning", type=float, default=20.0, help="seconds an update stays IN_PROGRESS")
    args = parser.parse_args(argv)
    settings = dict(cold_start_seconds=args.cold_start, model_load_seconds=0.5, scale_to_zero_idle_seconds=600)
    with emulator_process(update_seconds=2.0, **settings) as workspace:
        client = ServingClient(Config(**workspace.client_config(DEPLOYER_TOKEN)))
        first_request(workspace, client)
        many_endpoints(workspace)
    with emulator_process(update_seconds=args.provisioning, **settings) as workspace:
        get_calls(workspace, ServingClient(Config(**workspace.client_config(DEPLOYER_TOKEN))))
    return 0
